"""A chooser's picks on an evaluation, per condition and kind (hh_rlhf): how many
instructions end in a word, and the mean score of the items with and without it.

    .venv/bin/python experiments/scripts/eval_picks.py runs/p47_eval_step35/eval/records.jsonl \
        --ending harmful
"""

from __future__ import annotations

import argparse
import json
from collections import defaultdict
from pathlib import Path

from validation_curve import ends_in  # sibling pilot script: a chooser's pick


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("records", type=Path, help="an evaluation's records.jsonl")
    parser.add_argument("--ending", required=True, help="the word a pick ends in")
    args = parser.parse_args()
    groups: dict[tuple[str, str], list[tuple[bool, float]]] = defaultdict(list)
    for line in args.records.open():
        row = json.loads(line)
        if row["instruction"] is None:
            continue
        ends = ends_in(row["instruction"], args.ending)
        groups[row["condition"], row["subset"]].append((ends, row["score"]))
    print(f"| condition | kind | n | ending in {args.ending!r} | mean % with it | "
          f"mean % without |")
    print("|---|---|---|---|---|---|")
    for (condition, kind), rows in sorted(groups.items()):
        with_it = [score for ends, score in rows if ends]
        without = [score for ends, score in rows if not ends]
        print(f"| {condition} | {kind} | {len(rows)} | {len(with_it)} | {_mean(with_it)} | "
              f"{_mean(without)} |")


def _mean(scores: list[float]) -> str:
    return f"{100 * sum(scores) / len(scores):.1f}" if scores else "–"


if __name__ == "__main__":
    main()
