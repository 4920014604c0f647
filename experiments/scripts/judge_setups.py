"""Pilot (hh_rlhf, issue 11): is a cheaper judge set-up as good as the default one?

Each set-up of ``--setups`` (``{"name": {"model": ..., "max_reply_chars": ..., "rubric":
{"declines": ..., "helpful": ...}}}``, every key optional; the first set-up is the reference)
scores the same replies, side by side in one process with the answer cache off, so the
seconds compare:

- the replies of a pilot's ``rows.jsonl`` (default P14c: 32 training prompts answered by the
  1.5B student with no instruction and with the per-kind instruction), and
- the 30 hand-written pairs of ``tests/data/judge_pairs.jsonl`` (kind told), a pair counting
  when its good reply scores higher.

A set-up counts as equivalent to the reference when, decided before the run: it ranks at
least as many pairs right, its item scores correlate with the reference's at Pearson r >= 0.9,
and the pilot's effect (second source minus first, paired) keeps its sign with an interval
above zero. Training prompts only, never held-out ones.

    .venv/bin/python experiments/scripts/judge_setups.py -c configs/hh_rlhf_1.5b.toml \
        --setups experiments/scripts/judge_setups.json --out experiments/pilots/p16-judge-setups

OUT/scores.jsonl holds every set-up's scores; OUT/summary.md the table.
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import replace
from pathlib import Path

from scipy.stats import pearsonr

from wst.judges import LLMJudge, make_judge
from wst.stats import paired_difference
from wst.tasks import get_task, load_run_config

PAIRS = Path(__file__).parents[2] / "tests" / "data" / "judge_pairs.jsonl"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("-c", "--config", type=Path, required=True)
    parser.add_argument("--setups", type=Path, required=True)
    parser.add_argument("--rows", type=Path,
                        default=Path("experiments/pilots/p14c-hh-by-kind-1.5b/rows.jsonl"))
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    setups: dict[str, dict] = json.loads(args.setups.read_text())
    config = load_run_config(args.config, ["student.cache=false"])
    task = get_task(config.task.name, config.task)
    split = task.load(config.task)
    conversations = {e.id: task.student_messages(e, None) for e in split.train + split.validation}
    rows = [json.loads(line) for line in args.rows.read_text().splitlines()]
    pairs = [json.loads(line) for line in PAIRS.read_text().splitlines()]
    items = ([conversations[r["id"]] for r in rows], [r["reply"] for r in rows],
             [r["kind"] for r in rows])
    pair_items = ([[{"role": "user", "content": p["prompt"]}] for p in pairs for _ in "gb"],
                  [p[which] for p in pairs for which in ("good", "bad")],
                  [p["kind"] for p in pairs for _ in "gb"])

    args.out.mkdir(parents=True, exist_ok=True)
    results = {}
    for name, setup in setups.items():
        judge = build_judge(config, setup)
        started = time.perf_counter()
        scores = judge.score_many(*items)
        seconds = time.perf_counter() - started
        pair_scores = judge.score_many(*pair_items)
        judge.close()
        won = sum(pair_scores[2 * i] > pair_scores[2 * i + 1] for i in range(len(pairs)))
        results[name] = {"seconds": seconds, "scores": scores, "pairs_won": won,
                         "unparsed": judge.unparsed}
        print(f"{name}: {seconds:.1f} s, pairs {won}/{len(pairs)}", flush=True)
    with (args.out / "scores.jsonl").open("w") as fh:
        fh.writelines(json.dumps({"setup": name, **result}) + "\n"
                      for name, result in results.items())
    table = summary_table(results, rows, len(pairs))
    (args.out / "summary.md").write_text(
        f"Replies of `{args.rows}` ({len(rows)}), judged by each set-up of `{args.setups}` "
        f"with the cache off; pairs: `tests/data/judge_pairs.jsonl`, kind told.\n\n{table}\n")
    print(table)


def build_judge(config, setup: dict) -> LLMJudge:
    """The judge ``config`` describes with the set-up's model, reply cut and rubric."""
    judge_config = replace(config.judge, **{key: setup[key] for key in ("model", "max_reply_chars")
                                           if key in setup})
    judge = make_judge(replace(config, judge=judge_config))
    judge.rubric = replace(judge.rubric, **setup.get("rubric", {}))
    return judge


def summary_table(results: dict[str, dict], rows: list[dict], n_pairs: int) -> str:
    """Markdown: seconds and their ratio to the reference, pairs ranked right, correlation
    with the reference, and the pilot's effect as each set-up measures it."""
    sources = list(dict.fromkeys(r["source"] for r in rows))
    first, second = ([i for i, r in enumerate(rows) if r["source"] == s] for s in sources[:2])
    reference = next(iter(results.values()))
    lines = [f"| set-up | seconds | ratio | pairs right | r vs reference | "
             f"{sources[1]} − {sources[0]}, pp [95% CI] |", "|---|---|---|---|---|---|"]
    for name, result in results.items():
        scores = result["scores"]
        effect = paired_difference([scores[i] for i in second], [scores[i] for i in first])
        r = pearsonr(scores, reference["scores"]).statistic
        lines.append(
            f"| {name} | {result['seconds']:.0f} | {result['seconds'] / reference['seconds']:.2f} "
            f"| {result['pairs_won']}/{n_pairs} | {r:.3f} | {100 * effect.value:+.1f} "
            f"[{100 * effect.low:+.1f}, {100 * effect.high:+.1f}] |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
