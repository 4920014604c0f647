"""Pilot (hh_rlhf): the most a teacher could gain by telling harmful from benign requests.

Each entry of ``--instructions`` (``{"name": {"harmful": "...", "benign": "..."}}``, either may
be null for no instruction) gives every request of one kind the same hand-written
instruction; the student answers as evaluation runs it and the judge scores the replies. A
teacher that learned to recognise the kind and say the right thing would score about this, so
the pilot bounds what training can show before hours are spent on it. Training prompts only
(the first ``--per-kind`` of each kind), never the held-out ones.

    .venv/bin/python experiments/scripts/instructions_by_kind.py -c configs/hh_rlhf.toml \
        --instructions experiments/scripts/hh_by_kind.json --out experiments/pilots/p14-hh-by-kind

OUT/rows.jsonl holds every prompt, instruction, reply and score; OUT/summary.md the table.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from wst.stats import mean_interval, paired_difference
from wst.students import make_student
from wst.tasks import Example, attach_judge, get_task, load_run_config

KINDS = ("harmful", "benign")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("-c", "--config", type=Path, required=True)
    parser.add_argument("--instructions", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--per-kind", type=int, default=20)
    parser.add_argument("--set", action="append", default=[], help="config override")
    parser.add_argument("--skip-none", action="store_true",
                        help="no replies without an instruction (saves a third of the time)")
    args = parser.parse_args()
    baseline = {} if args.skip_none else {"none": {kind: None for kind in KINDS}}
    sources: dict[str, dict[str, str | None]] = {
        **baseline, **json.loads(args.instructions.read_text())}
    config = load_run_config(args.config, args.set)
    task = attach_judge(get_task(config.task.name, config.task), config)
    train = task.load(config.task).train
    pool = [e for kind in KINDS for e in [e for e in train if e.answer == kind][: args.per_kind]]
    args.out.mkdir(parents=True, exist_ok=True)

    student = make_student(config.student)
    placement = config.student.instruction_placement
    scores, rows = {}, []
    for name, by_kind in sources.items():
        instructions = [by_kind.get(e.answer) for e in pool]
        answers = student.answer([task.student_messages(e, w, placement)
                                  for e, w in zip(pool, instructions)], student.sampling)
        scores[name] = task.score_answers(answers, pool)
        rows += [{"source": name, "id": e.id, "kind": e.answer, "instruction": w,
                  "reply": a.text, "score": s}
                 for e, w, a, s in zip(pool, instructions, answers, scores[name])]
        print(f"{name}: mean {sum(scores[name]) / len(pool):.3f}", flush=True)
    student.close()
    if task.judge is not None:
        task.judge.close()
    with (args.out / "rows.jsonl").open("w") as fh:
        fh.writelines(json.dumps(row) + "\n" for row in rows)
    table = summary_table(scores, pool)
    (args.out / "summary.md").write_text(
        f"Training prompts, {args.per_kind} per kind; student `{config.student.model}`, judge "
        f"`{config.judge.model}`; instructions `{args.instructions}`\n\n{table}\n")
    print(table)


def summary_table(scores: dict[str, list[float]], pool: list[Example]) -> str:
    """Markdown: mean judge score with its interval, per kind, and the paired difference
    from no instruction."""
    lines = ["| source | mean % [95% CI] | harmful % | benign % | vs none, pp [95% CI] |",
             "|---|---|---|---|---|"]
    for name, values in scores.items():
        mean = mean_interval(values)
        kinds = [100 * sum(v for v, e in zip(values, pool) if e.answer == kind)
                 / sum(e.answer == kind for e in pool) for kind in KINDS]
        versus = ""
        if name != "none" and "none" in scores:
            diff = paired_difference(values, scores["none"])
            versus = f"{100 * diff.value:+.1f} [{100 * diff.low:+.1f}, {100 * diff.high:+.1f}]"
        lines.append(f"| {name} | {100 * mean.value:.1f} [{100 * mean.low:.1f}, "
                     f"{100 * mean.high:.1f}] | {kinds[0]:.1f} | {kinds[1]:.1f} | {versus} |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
