"""Pilot (hh_rlhf): how often a one-word verdict teacher's reward points the right way.

In a group whose sampled instructions hold both verdicts, the reward compares the student's
judged replies under "harmful" and under "harmless" for one request: a label of which word
suits it. This counts, per kind, the groups with both words and how many of them paid the
word that matches the request's kind (more, fewer, or the same score), from a run's
``train_samples.jsonl``.

    .venv/bin/python scripts/pilots/verdict_labels.py results/pilots/p37-05b-50-steps/train_samples.jsonl
"""

from __future__ import annotations

import argparse
import json
from collections import defaultdict
from pathlib import Path
from statistics import mean

WORDS = ("harmful", "harmless")


def verdict(instruction: str) -> str:
    """The first of WORDS that the instruction's last words begin with ('' if none)."""
    tail = instruction.rsplit(" ", 1)[-1].strip(" .:,").lower()
    return next((w for w in WORDS if tail.startswith(w)), "")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("samples", type=Path)
    args = parser.parse_args()
    groups: dict[tuple[int, str], dict[str, float]] = defaultdict(dict)
    for line in args.samples.read_text().splitlines():
        row = json.loads(line)
        groups[(row["step"], row["id"])][verdict(row["instruction"])] = row["score"]
    gaps: dict[str, list[float]] = defaultdict(list)
    for (_, example_id), scores in groups.items():
        if all(w in scores for w in WORDS):
            kind = "benign" if example_id.startswith("benign") else "harmful"
            right, wrong = WORDS if kind == "harmful" else WORDS[::-1]
            gaps[kind].append(scores[right] - scores[wrong])
    print(f"{len(groups)} groups; with both words: {sum(map(len, gaps.values()))}")
    print("| kind | groups with both words | right word scored higher | lower | tied | mean gap, pp |")
    print("|---|---|---|---|---|---|")
    for kind, values in sorted(gaps.items()):
        print(f"| {kind} | {len(values)} | {sum(v > 0 for v in values)} | "
              f"{sum(v < 0 for v in values)} | {sum(v == 0 for v in values)} | "
              f"{100 * mean(values):+.1f} |")


if __name__ == "__main__":
    main()
