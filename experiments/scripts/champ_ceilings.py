"""Pilot (issue 28): the ceiling of a per-query instruction on math500's offline stand-in.

CHAMP ships, per problem, the concepts and hints that solve it (``ch_list``: ``C_...`` concept
ids, ``H_...`` hint ids). Given to the student as its instruction they are the most a
per-query instruction could carry; a teacher that cannot see the solution can only do less.
Conditions on the first ``--n`` items of the *training* pool (never the test items):

- ``none``: the question alone;
- ``fixed``: the task's fixed instruction;
- ``concepts``: the problem's own concept texts ("These facts may help: ...");
- ``hints``: the problem's own hint texts (solution steps; ``leak %`` says how often they
  contain the answer);
- ``placebo``: "Here is the problem.", an instruction that carries nothing;
- ``oracle:X``: computed, not run: per item the best of ``none`` and ``X``, the ceiling of a
  chooser over that two-entry menu. Greedy answers move by chance when the prompt changes,
  and an oracle counts every lucky move: ``oracle:placebo`` measures that noise floor, so a
  menu is worth training for only where its oracle clears the placebo's.

    .venv/bin/python experiments/scripts/champ_ceilings.py -c configs/math500.toml --n 60 \
        --set student.max_tokens=512 --out experiments/pilots/p53-champ-ceilings-05b

Writes OUT/records.jsonl (every answer) and OUT/summary.md / summary.json (each condition's
accuracy with its Wilson interval, paired difference to ``none`` with McNemar p and MDD, the
share of answers cut at the token cap, minutes).
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import asdict
from pathlib import Path

from wst.evaluate import compare
from wst.stats import mean_interval
from wst.students import cut_share, make_student
from wst.tasks import Example, get_task, load_run_config
from wst.tasks.math500 import champ_path

RUN = ("none", "placebo", "concepts", "hints")
PLACEBO = "Here is the problem."


def champ_texts(path: Path) -> dict[str, dict[str, list[str]]]:
    """Per CHAMP problem id, its concept texts and hint texts, in ``ch_list`` order."""
    data = json.loads(path.read_text())
    out = {}
    for pid, problem in data["problems"].items():
        ids = problem.get("ch_list", [])
        out[pid] = {"concepts": [data["concepts"][c]["_text"] for c in ids if c.startswith("C_")],
                    "hints": [data["hints"][h]["_text"] for h in ids if h.startswith("H_")]}
    return out


def instruction(condition: str, example: Example, texts: dict, fixed: str) -> str | None:
    if condition == "none":
        return None
    if condition == "fixed":
        return fixed
    if condition == "placebo":
        return PLACEBO
    lines = texts[example.id][condition]
    if not lines:
        return None
    head = "These facts may help:" if condition == "concepts" else "Hints:"
    return head + "\n" + "\n".join(f"- {line}" for line in lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("-c", "--config", type=Path, required=True)
    parser.add_argument("--n", type=int, default=60, help="training items (the first n)")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--set", action="append", default=[], help="config override")
    parser.add_argument("--conditions", default=",".join(RUN))
    args = parser.parse_args()
    config = load_run_config(args.config, args.set)
    task = get_task(config.task.name, config.task)
    split = task.load(config.task, with_train=True)
    examples = split.train[: args.n]
    test_ids = {e.id for e in split.test}
    assert not test_ids & {e.id for e in examples}, "a test item in the pilot"
    texts = champ_texts(champ_path())
    student = make_student(config.student)
    placement = config.student.instruction_placement
    args.out.mkdir(parents=True, exist_ok=True)
    scores: dict[str, list[float]] = {}
    rows, started = [], time.perf_counter()
    with (args.out / "records.jsonl").open("w") as records:
        for condition in args.conditions.split(","):
            t0 = time.perf_counter()
            instructions = [instruction(condition, e, texts, config.eval.fixed_instruction)
                            for e in examples]
            answers = student.answer([task.student_messages(e, i, placement)
                                      for e, i in zip(examples, instructions)])
            scores[condition] = task.score_answers(answers, examples)
            leaked = [task.leaks(i, e) for i, e in zip(instructions, examples)]
            for e, i, a, s, k in zip(examples, instructions, answers, scores[condition], leaked):
                records.write(json.dumps({"condition": condition, "id": e.id, "reference": e.answer,
                                          "instruction": i, "answer": a.text, "score": s,
                                          "leaked": k}) + "\n")
            rows.append({"condition": condition,
                         "with_instruction": sum(i is not None for i in instructions),
                         "leak_share": sum(leaked) / len(leaked),
                         "cut_share": cut_share(answers, config.student.max_tokens),
                         "minutes": round((time.perf_counter() - t0) / 60, 1)})
            print(condition, mean_interval(scores[condition]), rows[-1], flush=True)
    for condition in [c for c in list(scores) if c != "none" and "none" in scores]:
        scores[f"oracle:{condition}"] = [max(a, b) for a, b in zip(scores["none"],
                                                                   scores[condition])]
        rows.append({"condition": f"oracle:{condition}", "with_instruction": None,
                     "leak_share": 0.0, "cut_share": None, "minutes": 0.0})
    student.close()
    for row in rows:
        iv = mean_interval(scores[row["condition"]])
        row.update(n=len(examples), accuracy=iv.value, ci_low=iv.low, ci_high=iv.high)
        if row["condition"] != "none" and "none" in scores:
            row["vs_none"] = asdict(compare(row["condition"], "none", scores))
    summary = {"config": str(args.config), "overrides": args.set, "n": len(examples),
               "student": student.identity, "max_tokens": config.student.max_tokens,
               "placement": placement, "items": [e.id for e in examples],
               "minutes": round((time.perf_counter() - started) / 60, 1), "rows": rows}
    (args.out / "summary.json").write_text(json.dumps(summary, indent=2))
    (args.out / "summary.md").write_text(table(summary))
    print(table(summary))


def table(summary: dict) -> str:
    lines = [f"CHAMP training items, n = {summary['n']}; student {summary['student']}, greedy, "
             f"at most {summary['max_tokens']} answer tokens, placement "
             f"{summary['placement']}; {summary['minutes']} min\n",
             "| condition | n | accuracy % [95% CI] | Δ vs none, pp [95% CI] | McNemar p | MDD, pp "
             "| items with an instruction | leak % | cut % | minutes |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for r in summary["rows"]:
        c = r.get("vs_none")
        delta = (f"{100 * c['diff']:+.1f} [{100 * c['diff_low']:+.1f}, {100 * c['diff_high']:+.1f}]"
                 if c else "–")
        p = f"{c['mcnemar_p']:.3f}" if c and c["mcnemar_p"] is not None else "–"
        mdd = f"{100 * c['mdd']:.1f}" if c else "–"
        cut = "–" if r["cut_share"] is None else f"{100 * r['cut_share']:.0f}"
        lines.append(f"| {r['condition']} | {r['n']} | {100 * r['accuracy']:.1f} "
                     f"[{100 * r['ci_low']:.1f}, {100 * r['ci_high']:.1f}] | {delta} | {p} | {mdd} "
                     f"| {r['with_instruction'] if r['with_instruction'] is not None else '–'} "
                     f"| {100 * r['leak_share']:.0f} | {cut} | {r['minutes']} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
