"""Two sets of per-item validation scores on the same prompts, compared pair by pair: each
side's mean, the paired difference (B - A) with its 95% interval and minimum detectable
difference, over all items and per kind, and how far single items moved. Each side is
``FILE@STEP`` (a run's ``validation/scores.jsonl`` at that step) or ``FILE#SOURCE`` (a
``rows.jsonl`` of ``instruction_sources.py``, that source's scores). Used for P24 (an update
against its negation) and for re-measuring one teacher on two days (pilot log).

    .venv/bin/python experiments/scripts/paired_by_kind.py \
        experiments/pilots/p23-coder-teacher-batch-scaling/validation_scores.jsonl@0 \
        experiments/pilots/p24-negated-update/negated/rows.jsonl#teacher
"""

from __future__ import annotations

import json
import statistics
import sys

from wst.stats import observed_mdd, paired_difference


def read(side: str) -> dict[str, float]:
    """Item id -> score for one side (``FILE@STEP`` or ``FILE#SOURCE``)."""
    if "#" in side:
        path, source = side.rsplit("#", 1)
        rows = [json.loads(line) for line in open(path)]
        return {row["id"]: row[f"{source}_score"] for row in rows}
    path, step = side.rsplit("@", 1)
    for line in open(path):
        check = json.loads(line)
        if check["step"] == int(step):
            return dict(zip(check["ids"], check["scores"]))
    raise SystemExit(f"{path}: no validation check at step {step}")


def kind(item_id: str) -> str:
    return "benign" if item_id.startswith("benign") else "harmful"


def main(a_side: str, b_side: str) -> None:
    a, b = read(a_side), read(b_side)
    ids = [i for i in a if i in b]
    print(f"A = {a_side}\nB = {b_side}\n")
    print("| items | n | A mean % | B mean % | B − A, pp [95% CI] | MDD, pp |\n|---|---|---|---|---|---|")
    for name, chosen in (("all", ids), ("harmful", [i for i in ids if kind(i) == "harmful"]),
                         ("benign", [i for i in ids if kind(i) == "benign"])):
        xa, xb = [a[i] for i in chosen], [b[i] for i in chosen]
        d = paired_difference(xb, xa)
        print(f"| {name} | {len(chosen)} | {100 * statistics.mean(xa):.1f} | "
              f"{100 * statistics.mean(xb):.1f} | {100 * d.value:+.1f} [{100 * d.low:+.1f}, "
              f"{100 * d.high:+.1f}] | {100 * observed_mdd(xb, xa):.1f} |")
    moved = [abs(a[i] - b[i]) for i in ids]
    print(f"\nitems that differ: {sum(m > 1e-6 for m in moved)} of {len(ids)}; median |B − A| "
          f"{100 * statistics.median(moved):.1f} pp; under 2 pp {sum(m < 0.02 for m in moved)}, "
          f"over 10 pp {sum(m > 0.10 for m in moved)}")


if __name__ == "__main__":
    main(*sys.argv[1:])
