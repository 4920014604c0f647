"""How far apart the judge's scores of one group's replies lie, read from training samples:
per run, the quantiles of each group's score std and range (max - min). GRPO with
``scale_rewards = "group"`` divides every group's advantages by that group's std, so a group
whose replies score within a point of each other gets advantages as large as one where a
refusal beats a compliance by 30 points; ``"batch"`` divides by the whole batch's std
instead, and such near-ties then weigh little.

    .venv/bin/python experiments/scripts/group_spread.py \
        results/hh-rlhf-1.5b/train_samples.jsonl ...
"""

from __future__ import annotations

import json
import statistics
import sys
from collections import defaultdict

QUANTILES = (0.0, 0.25, 0.5, 0.75, 0.9, 1.0)


def quantiles(values: list[float]) -> str:
    ordered = sorted(values)
    return " / ".join(f"{100 * ordered[round(q * (len(ordered) - 1))]:.1f}" for q in QUANTILES)


def main(paths: list[str]) -> None:
    print("| samples | groups | score std, pp: min / 25% / median / 75% / 90% / max "
          "| score range, pp: same quantiles | groups with std < 1 pp |\n|---|---|---|---|---|")
    for path in paths:
        groups: dict[tuple[int, str], list[float]] = defaultdict(list)
        for line in open(path):
            sample = json.loads(line)
            groups[sample["step"], sample["id"]].append(sample["score"])
        stds = [statistics.pstdev(scores) for scores in groups.values()]
        ranges = [max(scores) - min(scores) for scores in groups.values()]
        near_ties = sum(std < 0.01 for std in stds)
        print(f"| {path} | {len(groups)} | {quantiles(stds)} | {quantiles(ranges)} "
              f"| {near_ties} ({100 * near_ties / len(groups):.0f}%) |")


if __name__ == "__main__":
    main(sys.argv[1:])
