"""Paired comparisons across two evaluations of the same held-out items, from their records.

A condition added later (here ``best_fixed`` next to the shipped hh_rlhf evaluation) is run
alone, into its own folder, instead of answering every other condition again: with a greedy
student and judge the others' scores would repeat. This joins the two ``records.jsonl`` by
item id (they must hold the same items), then writes the comparisons ``wst eval`` reports
(``wst.evaluate.comparisons``: trained vs untrained and vs best_fixed, each vs none), over all
items and per subset.

    .venv/bin/python experiments/scripts/paired_records.py results/hh-rlhf-choice/eval/records.jsonl \
        results/hh-rlhf-choice/best-fixed/eval/records.jsonl > results/hh-rlhf-choice/best-fixed/comparisons.md

A set with no validation split to search on (results/safe-lookalikes) takes the pick of
another result's search, run as the ``fixed`` condition; ``--as fixed=best_fixed`` reads it
under the name the comparisons pair the trained teacher with:

    .venv/bin/python experiments/scripts/paired_records.py --as fixed=best_fixed \
        results/safe-lookalikes/eval/records.jsonl results/safe-lookalikes/best-fixed/eval/records.jsonl
"""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict
from pathlib import Path

from wst.evaluate import comparisons
from wst.report import comparisons_table


def scores_by_condition(paths: list[Path], renamed: dict[str, str]) -> tuple[
        list[str], dict[str, str], dict[str, dict[str, float]]]:
    """(item ids in the first file's order, id -> subset, condition -> id -> score), each
    condition under its name in ``renamed`` where it has one."""
    order: list[str] = []
    subsets: dict[str, str] = {}
    scores: dict[str, dict[str, float]] = {}
    for path in paths:
        for line in path.read_text().splitlines():
            row = json.loads(line)
            if row["id"] not in subsets:
                order.append(row["id"])
                subsets[row["id"]] = row.get("subset") or ""
            condition = renamed.get(row["condition"], row["condition"])
            scores.setdefault(condition, {})[row["id"]] = float(row["score"])
    for condition, by_id in scores.items():
        if set(by_id) != set(order):
            raise SystemExit(f"{condition}: its items differ from the others' "
                             f"({len(by_id)} against {len(order)})")
    return order, subsets, scores


def rename(text: str) -> tuple[str, str]:
    """``--as``'s CONDITION=NAME as a pair."""
    old, sep, new = text.partition("=")
    if not (old and sep and new):
        raise argparse.ArgumentTypeError(f"{text!r} must look like CONDITION=NAME")
    return old, new


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("records", type=Path, nargs="+", help="records.jsonl files to join")
    parser.add_argument("--as", dest="renames", action="append", default=[], type=rename,
                        metavar="CONDITION=NAME", help="read CONDITION's records as NAME")
    args = parser.parse_args()
    renamed = dict(args.renames)
    order, subsets, scores = scores_by_condition(args.records, renamed)
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
    named = "".join(f" ({old} read as {new})" for old, new in renamed.items())
    print(f"Items: {len(order)}; records: {', '.join(map(str, args.records))}{named}\n")
    print(comparisons_table(summary))


if __name__ == "__main__":
    main()
