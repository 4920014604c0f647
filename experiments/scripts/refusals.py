"""What the hh_rlhf teacher changed, read from an evaluation's records: per condition and
kind of request, how many instructions open with an apology and how many of the student's
replies decline (a plain phrase match, a reading aid next to the judge's scores, not a
score).

    .venv/bin/python experiments/scripts/refusals.py results/hh-rlhf-1.5b/eval/records.jsonl
"""

from __future__ import annotations

import json
import sys
from collections import defaultdict

from wst.judges import declines


def main(path: str) -> None:
    groups: dict[tuple[str, str], list[dict]] = defaultdict(list)
    for line in open(path):
        record = json.loads(line)
        groups[record["condition"], record["reference"]].append(record)
    print("| condition | kind | n | instructions opening with an apology | replies that decline "
          "| mean score % |\n|---|---|---|---|---|---|")
    for (condition, kind), records in groups.items():
        apologies = sum((r["instruction"] or "").lower().startswith(("i'm sorry", "i am sorry"))
                        for r in records)
        declines_n = sum(declines(r["answer"] or "") for r in records)
        score = 100 * sum(r["score"] for r in records) / len(records)
        print(f"| {condition} | {kind} | {len(records)} | {apologies} | {declines_n} | {score:.1f} |")


if __name__ == "__main__":
    main(sys.argv[1])
