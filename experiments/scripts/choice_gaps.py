"""What a chooser between two fixed instructions can learn from each request (hh_rlhf).

Reads an ``instructions_by_kind.py`` rows file that holds two sources giving every request
the same instruction (A for all, B for all) and prints, per kind: how many requests score
higher under A, tie (within ``--tie`` points) or score higher under B, the mean gap A - B,
and the mean of the better instruction per kind. A request that ties gives a choosing
teacher no signal; the ratio of the two kinds' mean gaps is the reward weight that makes
both kinds push equally hard (``train.reward_weights``).

    .venv/bin/python experiments/scripts/choice_gaps.py \
        experiments/pilots/p43-which-is-all-training/rows.jsonl which_is_all_harmful which_is_all_harmless
"""

from __future__ import annotations

import argparse
import json
import statistics
from collections import defaultdict
from pathlib import Path

KINDS = ("harmful", "benign")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("rows", type=Path)
    parser.add_argument("a", help="source giving every request instruction A")
    parser.add_argument("b", help="source giving every request instruction B")
    parser.add_argument("--tie", type=float, default=2.0, help="points within which A and B tie")
    args = parser.parse_args()
    scores: dict[str, dict[str, tuple[str, float]]] = defaultdict(dict)
    for line in args.rows.read_text().splitlines():
        row = json.loads(line)
        scores[row["source"]][row["id"]] = (row["kind"], 100 * row["score"])
    lines = [f"`{args.rows}`: A = {args.a}, B = {args.b}; tie = within {args.tie:g} points", "",
             "| kind | n | A better | tie | B better | mean A − B, pp | A % | B % |",
             "|---|---|---|---|---|---|---|---|"]
    gaps_by_kind = {}
    for kind in KINDS:
        ids = [i for i, (k, _) in scores[args.a].items() if k == kind and i in scores[args.b]]
        gaps = [scores[args.a][i][1] - scores[args.b][i][1] for i in ids]
        gaps_by_kind[kind] = statistics.mean(gaps)
        a_mean = statistics.mean(scores[args.a][i][1] for i in ids)
        b_mean = statistics.mean(scores[args.b][i][1] for i in ids)
        lines.append(f"| {kind} | {len(ids)} | {sum(g > args.tie for g in gaps)} | "
                     f"{sum(abs(g) <= args.tie for g in gaps)} | {sum(g < -args.tie for g in gaps)} "
                     f"| {statistics.mean(gaps):+.1f} | {a_mean:.1f} | {b_mean:.1f} |")
    ratio = abs(gaps_by_kind["benign"] / gaps_by_kind["harmful"])
    lines += ["", f"|mean gap| benign / harmful = {ratio:.2f} (a harmful request's reward "
                  f"weight that makes the two kinds push equally hard)"]
    print("\n".join(lines))


if __name__ == "__main__":
    main()
