"""Paired comparisons across two evaluations of the same held-out items, from their records.

A condition added later (here ``best_fixed`` next to the shipped hh_rlhf evaluation) is run
alone, into its own folder, instead of answering every other condition again: with a greedy
student and judge the others' scores would repeat. This joins the two ``records.jsonl`` by
item id (they must hold the same items), then writes the comparisons ``wst eval`` reports
(``wst.evaluate.comparisons``: trained vs untrained and vs best_fixed, each vs none), over all
items and per subset.

    .venv/bin/python experiments/scripts/paired_records.py results/hh-rlhf-choice/eval/records.jsonl \
        results/hh-rlhf-choice/best-fixed/eval/records.jsonl > results/hh-rlhf-choice/best-fixed/comparisons.md
"""

from __future__ import annotations

import json
import sys
from dataclasses import asdict
from pathlib import Path

from wst.evaluate import comparisons
from wst.report import comparisons_table


def scores_by_condition(paths: list[Path]) -> tuple[list[str], dict[str, str],
                                                    dict[str, dict[str, float]]]:
    """(item ids in the first file's order, id -> subset, condition -> id -> score)."""
    order: list[str] = []
    subsets: dict[str, str] = {}
    scores: dict[str, dict[str, float]] = {}
    for path in paths:
        for line in path.read_text().splitlines():
            row = json.loads(line)
            if row["id"] not in subsets:
                order.append(row["id"])
                subsets[row["id"]] = row.get("subset") or ""
            scores.setdefault(row["condition"], {})[row["id"]] = float(row["score"])
    for condition, by_id in scores.items():
        if set(by_id) != set(order):
            raise SystemExit(f"{condition}: its items differ from the others' "
                             f"({len(by_id)} against {len(order)})")
    return order, subsets, scores


def main() -> None:
    order, subsets, scores = scores_by_condition([Path(p) for p in sys.argv[1:]])
    groups = {"all": order} | {name: [i for i in order if subsets[i] == name]
                               for name in sorted(set(subsets.values())) if name}
    summary = {"comparisons": [], "subsets": {}}
    for name, ids in groups.items():
        found = [asdict(c) for c in comparisons(
            {condition: [by_id[i] for i in ids] for condition, by_id in scores.items()})]
        if name == "all":
            summary["comparisons"] = found
        else:
            summary["subsets"][name] = {"comparisons": found}
    print(f"Items: {len(order)}; records: {', '.join(sys.argv[1:])}\n")
    print(comparisons_table(summary))


if __name__ == "__main__":
    main()
