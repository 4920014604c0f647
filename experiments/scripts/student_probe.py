"""Pilot: how strong is the student that training rewards, next to the one evaluation measures?

No instruction, on training-template variants only (never the test items). One greedy answer
and ``--samples`` sampled answers (temperature ``--temperature``) per question, each at a large
cap (``--cap``); a greedy answer of k tokens is the same at any cap >= k, so the accuracy at
each smaller cap is read off the same answers (an answer longer than the cap counts as cut).

    .venv/bin/python experiments/scripts/student_probe.py --n 48 \
        --out experiments/pilots/student_probe.json
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from wst.students import Sampling, make_student
from wst.tasks import get_task, load_run_config

CAPS = (192, 256, 320, 384, 512)


def summarise(rows: list[dict], cap_limit: int) -> dict[str, dict[str, float]]:
    """Accuracy and cut share at each cap, from answers generated at ``cap_limit``."""
    out = {}
    for cap in (c for c in CAPS if c <= cap_limit):
        right = [r["score"] == 1.0 and r["tokens"] < cap for r in rows]
        cut = [r["tokens"] >= cap for r in rows]
        out[str(cap)] = {"accuracy": sum(right) / len(rows), "cut": sum(cut) / len(rows)}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=48, help="training variants to ask")
    parser.add_argument("--samples", type=int, default=2, help="sampled answers per question")
    parser.add_argument("--temperature", type=float, default=0.7)
    parser.add_argument("--cap", type=int, default=512)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    config = load_run_config(None, [f"task.train_size={max(args.n, 64)}"])
    task = get_task("gsm8k", config.task)
    examples = task.load(config.task).train[: args.n]
    student = make_student(config.student)
    messages = [task.student_messages(e, None) for e in examples]
    result: dict = {"n": len(examples), "cap": args.cap, "student": student.identity}
    started = time.perf_counter()
    settings = [("greedy", Sampling(args.cap, 0.0, 0))]
    settings += [(f"T{args.temperature}-s{k}", Sampling(args.cap, args.temperature, 1000 + k))
                 for k in range(args.samples)]
    for name, sampling in settings:
        answers = student.answer(messages, sampling)
        scores = task.score_answers(answers, examples)
        rows = [{"id": e.id, "score": s, "tokens": a.completion_tokens}
                for e, a, s in zip(examples, answers, scores)]
        result[name] = {"by_cap": summarise(rows, args.cap), "rows": rows}
        result["seconds"] = round(time.perf_counter() - started, 1)
        print(name, json.dumps(result[name]["by_cap"]), flush=True)
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, indent=1))  # after each setting: kill-safe
    student.close()


if __name__ == "__main__":
    main()
