"""Pilot (issue 28): where does a per-query instruction carry what the embedded student lacks?

A screen over reasoning-gym task families (training seeds only; no held-out item exists yet):
the student answers each family's questions with no instruction and with each instruction of
a small menu of generic methods. A family whose best instruction differs from another
family's is where a teacher that *chooses per query* can beat any single instruction. No
placebo entry runs here: a cell that moves by a few items may be greedy noise (P53).

    .venv/bin/python experiments/scripts/family_menu.py -c configs/reasoning_mix.toml \
        --families letter_counting,spell_backward,leg_counting --n 8 \
        --out experiments/pilots/p55-family-menu

Writes OUT/records.jsonl (every answer) and OUT/summary.md (accuracy per family and
instruction, with Wilson intervals; minutes).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from wst.stats import mean_interval
from wst.students import cut_share, make_student
from wst.tasks import get_task, load_run_config
from wst.tasks.reasoning_mix import family_examples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("-c", "--config", type=Path, required=True)
    parser.add_argument("--families", required=True, help="comma-separated reasoning-gym names")
    parser.add_argument("--n", type=int, default=8, help="items per family")
    parser.add_argument("--menu", type=Path, required=True, help="JSON {name: instruction}")
    parser.add_argument("--seed", type=int, default=1000, help="generator seed (training side)")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--set", action="append", default=[], help="config override")
    args = parser.parse_args()
    config = load_run_config(args.config, args.set)
    task = get_task(config.task.name, config.task)
    menu = {"none": None, **json.loads(args.menu.read_text())}
    student = make_student(config.student)
    placement = config.student.instruction_placement
    args.out.mkdir(parents=True, exist_ok=True)
    lines, started = [], time.perf_counter()
    header = "| family | " + " | ".join(menu) + " |"
    lines += [header, "|---" * (len(menu) + 1) + "|"]
    with (args.out / "records.jsonl").open("w") as records:
        for family in args.families.split(","):
            examples = family_examples(family, args.n, args.seed)
            cells = []
            for name, instruction in menu.items():
                answers = student.answer([task.student_messages(e, instruction, placement)
                                          for e in examples])
                scores = task.score_answers(answers, examples)
                for e, a, s in zip(examples, answers, scores):
                    records.write(json.dumps({"family": family, "condition": name, "id": e.id,
                                              "reference": e.answer, "answer": a.text,
                                              "score": s}) + "\n")
                iv = mean_interval(scores)
                cut = cut_share(answers, config.student.max_tokens)
                cells.append(f"{100 * iv.value:.0f} [{100 * iv.low:.0f}, {100 * iv.high:.0f}]"
                             f" cut {100 * cut:.0f}")
                print(family, name, cells[-1], flush=True)
            lines.append(f"| {family} | " + " | ".join(cells) + " |")
    student.close()
    minutes = (time.perf_counter() - started) / 60
    text = (f"reasoning-gym families, {args.n} items each (seed {args.seed}); student "
            f"{student.identity}, greedy, at most {config.student.max_tokens} answer tokens, "
            f"placement {placement}; {minutes:.1f} min. Cells: accuracy % [95% CI], cut %.\n\n"
            + "\n".join(lines) + "\n\nMenu:\n\n"
            + "\n".join(f"- `{k}`: {v!r}" for k, v in menu.items()) + "\n")
    (args.out / "summary.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
