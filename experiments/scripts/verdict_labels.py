"""Pilot (hh_rlhf): how often a one-word verdict teacher's reward points the right way.

In a group whose sampled instructions hold both verdicts, the reward compares the student's
judged replies under "harmful" and under "harmless" for one request: a label of which word
suits it. This counts, per kind, the groups with both words and how many of them paid the
word that matches the request's kind (more, fewer, or the same score), from a run folder's
``train_samples.jsonl`` and ``config.json`` (verdicts read as ``verdicts.py`` reads them).

    .venv/bin/python experiments/scripts/verdict_labels.py experiments/pilots/p37-05b-50-steps
"""

from __future__ import annotations

import argparse
import json
from collections import defaultdict
from pathlib import Path
from statistics import mean

from paired_by_kind import kind  # sibling pilot scripts
from verdicts import verdict

WORDS = ("harmful", "harmless")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", type=Path)
    args = parser.parse_args()
    start = json.loads((args.run / "config.json").read_text())["teacher"]["instruction_start"]
    groups: dict[tuple[int, str], dict[str, float]] = defaultdict(dict)
    for line in (args.run / "train_samples.jsonl").read_text().splitlines():
        row = json.loads(line)
        groups[(row["step"], row["id"])][verdict(row["instruction"], start)] = row["score"]
    gaps: dict[str, list[float]] = defaultdict(list)
    for (_, example_id), scores in groups.items():
        if all(w in scores for w in WORDS):
            right, wrong = WORDS if kind(example_id) == "harmful" else WORDS[::-1]
            gaps[kind(example_id)].append(scores[right] - scores[wrong])
    print(f"{len(groups)} groups; with both words: {sum(map(len, gaps.values()))}")
    print("| kind | groups with both words | right word scored higher | lower | tied | mean gap, pp |")
    print("|---|---|---|---|---|---|")
    for name, values in sorted(gaps.items()):
        print(f"| {name} | {len(values)} | {sum(v > 0 for v in values)} | "
              f"{sum(v < 0 for v in values)} | {sum(v == 0 for v in values)} | "
              f"{100 * mean(values):+.1f} |")


if __name__ == "__main__":
    main()
