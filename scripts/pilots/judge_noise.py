"""Pilot (hh_rlhf, issue 11): is the order of a group's replies the judge's whim?

GRPO learns from the order of each group's rewards. This scores a run's training replies
(``train_samples.jsonl``) again under a reworded rubric (one set-up of ``--setups``, as
``judge_setups.py`` reads them) and asks, for every pair of replies within one group, whether
both scorings order it the same way, by how far apart the training reward put the two. Where
the training judge saw a near-tie, agreement near 50% means that order is noise any wording
would reshuffle; where it saw a wide gap, agreement near 100% means a real difference.
Training prompts only.

    .venv/bin/python scripts/pilots/judge_noise.py -c configs/hh_rlhf_coder_teacher.toml \
        --samples results/pilots/p23-coder-teacher-batch-scaling/train_samples.jsonl \
        --setups scripts/pilots/judge_setups.json --setup "1.5B, short questions" \
        --out results/pilots/p25-judge-noise

OUT/scores.jsonl holds both scores of every reply; OUT/summary.md the table.
"""

from __future__ import annotations

import argparse
import json
from collections import defaultdict
from itertools import combinations
from pathlib import Path

from judge_setups import build_judge  # the sibling pilot: the config's judge with a set-up
from scipy.stats import pearsonr

from wst.tasks import get_task, load_run_config

GAPS = ((0.0, 0.02), (0.02, 0.10), (0.10, 1.01))  # training-reward gap of a pair


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("-c", "--config", type=Path, required=True)
    parser.add_argument("--samples", type=Path, required=True)
    parser.add_argument("--setups", type=Path, required=True)
    parser.add_argument("--setup", required=True, help="name of the set-up to score with")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    setup = json.loads(args.setups.read_text())[args.setup]
    config = load_run_config(args.config, [])
    task = get_task(config.task.name, config.task)
    split = task.load(config.task)
    examples = {e.id: e for e in split.train + split.validation}
    samples = [json.loads(line) for line in args.samples.read_text().splitlines()]
    judge = build_judge(config, setup)
    reworded = judge.score_many([task.student_messages(examples[s["id"]], None) for s in samples],
                                [s["answer"] for s in samples],
                                [examples[s["id"]].answer for s in samples])
    judge.close()
    args.out.mkdir(parents=True, exist_ok=True)
    with (args.out / "scores.jsonl").open("w") as fh:
        fh.writelines(json.dumps({"step": s["step"], "id": s["id"], "training": s["score"],
                                  "reworded": r}) + "\n" for s, r in zip(samples, reworded))
    table = agreement_table([s["score"] for s in samples], reworded,
                            [(s["step"], s["id"]) for s in samples])
    (args.out / "summary.md").write_text(
        f"Replies of `{args.samples}` ({len(samples)}), scored again with set-up "
        f"\"{args.setup}\" of `{args.setups}`.\n\n{table}\n")
    print(table)


def agreement_table(training: list[float], reworded: list[float],
                    groups: list[tuple[int, str]]) -> str:
    """Markdown: per training-reward gap, how many within-group pairs both scorings order
    alike (a tie in either counts a half), and the Pearson r of the two over all replies."""
    members: dict[tuple[int, str], list[int]] = defaultdict(list)
    for index, group in enumerate(groups):
        members[group].append(index)
    counts = {gap: [0, 0.0] for gap in GAPS}
    for indices in members.values():
        for i, j in combinations(indices, 2):
            gap = abs(training[i] - training[j])
            bucket = next(b for b in GAPS if b[0] <= gap < b[1])
            same = (training[i] - training[j]) * (reworded[i] - reworded[j])
            counts[bucket][0] += 1
            counts[bucket][1] += 1.0 if same > 0 else 0.5 if same == 0 else 0.0
    lines = ["| training-reward gap of the pair | pairs | same order under the reworded "
             "rubric |", "|---|---|---|"]
    for (low, high), (pairs, same) in counts.items():
        share = f"{100 * same / pairs:.0f}%" if pairs else "–"
        lines.append(f"| {100 * low:.0f}–{min(100 * high, 100):.0f} pp | {pairs} | {share} |")
    r = pearsonr(training, reworded).statistic
    return "\n".join(lines) + f"\n\nPearson r over all {len(training)} replies: {r:.2f}"


if __name__ == "__main__":
    main()
