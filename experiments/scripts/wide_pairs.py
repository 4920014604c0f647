"""The clear gaps of ``judge_noise.py``'s scorings, looked into: for each run (its training
samples and the ``scores.jsonl`` judge_noise wrote for them), the within-group pairs whose
reference scores lie 10 pp or more apart, how many keep their order under the reworded
rubric, how many are a reply that declines against one that does not (``refusals.py``'s
phrase match), and Fisher's exact p of each run's kept share against the first run's.

    .venv/bin/python experiments/scripts/wide_pairs.py \
        results/hh-rlhf-1.5b/train_samples.jsonl experiments/pilots/p25b-judge-noise-135m-run/scores.jsonl \
        experiments/pilots/p23-coder-teacher-batch-scaling/train_samples.jsonl experiments/pilots/p25-judge-noise/scores.jsonl
"""

from __future__ import annotations

import json
import sys
from collections import defaultdict
from itertools import combinations

from refusals import DECLINES  # the sibling pilot's phrase match
from scipy.stats import fisher_exact

WIDE = 0.10


def wide_pairs(samples_path: str, scores_path: str) -> tuple[int, int, int]:
    """(pairs, kept in order, decline against no decline) of one run's clear gaps."""
    samples = [json.loads(line) for line in open(samples_path)]
    scores = [json.loads(line) for line in open(scores_path)]
    groups: dict[tuple[int, str], list[tuple[dict, dict]]] = defaultdict(list)
    for sample, score in zip(samples, scores, strict=True):
        assert (sample["step"], sample["id"]) == (score["step"], score["id"])
        groups[sample["step"], sample["id"]].append((sample, score))
    pairs = kept = split = 0
    for members in groups.values():
        for (sa, a), (sb, b) in combinations(members, 2):
            if abs(a["reference"] - b["reference"]) < WIDE:
                continue
            pairs += 1
            kept += (a["reference"] - b["reference"]) * (a["reworded"] - b["reworded"]) > 0
            split += bool(DECLINES.search(sa["answer"] or "")) != bool(
                DECLINES.search(sb["answer"] or ""))
    return pairs, kept, split


def main(paths: list[str]) -> None:
    runs = [(paths[i + 1], wide_pairs(paths[i], paths[i + 1])) for i in range(0, len(paths), 2)]
    first = runs[0][1]
    print("| scores | pairs 10 pp or more apart | kept in order | decline vs no decline "
          "| Fisher p vs the first |\n|---|---|---|---|---|")
    for path, (pairs, kept, split) in runs:
        p = fisher_exact([[kept, pairs - kept], [first[1], first[0] - first[1]]]).pvalue
        print(f"| {path} | {pairs} | {kept} | {split} | {p:.3f} |")


if __name__ == "__main__":
    main(sys.argv[1:])
