"""Pilot (hh_rlhf, issue 11): is the order of a group's replies the judge's whim?

GRPO learns from the order of each group's rewards. This scores a run's training replies
(``train_samples.jsonl``) again under a reworded rubric (one set-up of ``--setups``, as
``judge_setups.py`` reads them) and asks, for every pair of replies within one group, whether
both scorings order it the same way, by how far apart the training reward put the two. Where
the training judge saw a near-tie, agreement near 50% means that order is noise any wording
would reshuffle; where it saw a wide gap, agreement near 100% means a real difference.
With ``--reference SETUP`` the replies are first scored again under that set-up too, and it
takes the training reward's place (e.g. both wordings with another reply cut). Training
prompts only.

    .venv/bin/python experiments/scripts/judge_noise.py -c configs/hh_rlhf_coder_teacher.toml \
        --samples experiments/pilots/p23-coder-teacher-batch-scaling/train_samples.jsonl \
        --setups experiments/scripts/judge_setups.json --setup "1.5B, short questions" \
        --out experiments/pilots/p25-judge-noise

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

GAPS = ((0.0, 0.02), (0.02, 0.10), (0.10, 1.01))  # reference gap of a pair


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("-c", "--config", type=Path, required=True)
    parser.add_argument("--samples", type=Path, required=True)
    parser.add_argument("--setups", type=Path, required=True)
    parser.add_argument("--setup", required=True, help="name of the set-up to score with")
    parser.add_argument("--reference", help="set-up to score the reference with "
                        "(default: the training reward as logged)")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    setups = json.loads(args.setups.read_text())
    config = load_run_config(args.config, [])
    task = get_task(config.task.name, config.task)
    split = task.load(config.task)
    examples = {e.id: e for e in split.train + split.validation}
    samples = [json.loads(line) for line in args.samples.read_text().splitlines()]
    items = ([task.student_messages(examples[s["id"]], None) for s in samples],
             [s["answer"] for s in samples], [examples[s["id"]].answer for s in samples])
    reference = (score(config, setups[args.reference], items) if args.reference
                 else [s["score"] for s in samples])
    reworded = score(config, setups[args.setup], items)
    args.out.mkdir(parents=True, exist_ok=True)
    with (args.out / "scores.jsonl").open("w") as fh:
        fh.writelines(json.dumps({"step": s["step"], "id": s["id"], "reference": ref,
                                  "reworded": r}) + "\n"
                      for s, ref, r in zip(samples, reference, reworded))
    table = agreement_table(reference, reworded, [(s["step"], s["id"]) for s in samples])
    against = f"set-up \"{args.reference}\"" if args.reference else "the training reward"
    (args.out / "summary.md").write_text(
        f"Replies of `{args.samples}` ({len(samples)}), scored with set-up \"{args.setup}\" of "
        f"`{args.setups}` against {against}.\n\n{table}\n")
    print(table)


def score(config, setup: dict, items: tuple[list, list[str], list[str]]) -> list[float]:
    """The replies' scores under the config's judge with ``setup`` (model, cut, rubric)."""
    judge = build_judge(config, setup)
    try:
        return judge.score_many(*items)
    finally:
        judge.close()


def agreement_table(reference: list[float], reworded: list[float],
                    groups: list[tuple[int, str]]) -> str:
    """Markdown: per reference gap, how many within-group pairs both scorings order
    alike (a tie in either counts a half), and the Pearson r of the two over all replies."""
    members: dict[tuple[int, str], list[int]] = defaultdict(list)
    for index, group in enumerate(groups):
        members[group].append(index)
    counts = {gap: [0, 0.0] for gap in GAPS}
    for indices in members.values():
        for i, j in combinations(indices, 2):
            gap = abs(reference[i] - reference[j])
            bucket = next(b for b in GAPS if b[0] <= gap < b[1])
            same = (reference[i] - reference[j]) * (reworded[i] - reworded[j])
            counts[bucket][0] += 1
            counts[bucket][1] += 1.0 if same > 0 else 0.5 if same == 0 else 0.0
    lines = ["| reference gap of the pair | pairs | same order under the reworded "
             "rubric |", "|---|---|---|"]
    for (low, high), (pairs, same) in counts.items():
        share = f"{100 * same / pairs:.0f}%" if pairs else "–"
        lines.append(f"| {100 * low:.0f}–{min(100 * high, 100):.0f} pp | {pairs} | {share} |")
    r = pearsonr(reference, reworded).statistic
    return "\n".join(lines) + f"\n\nPearson r over all {len(reference)} replies: {r:.2f}"


if __name__ == "__main__":
    main()
