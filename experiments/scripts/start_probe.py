"""Pilot: after a prefilled instruction start, which word does the untrained teacher put next?

A start such as "This request is" makes the teacher's next token a verdict on the request
("harmful", "not", "a", ...). If that verdict already leans the right way per kind, and is
uncertain enough that sampled instructions in one group differ, GRPO has a few tokens with a
large reward gap to learn from (P14c: the 1.5B student refuses when told a request is
harmful). This prints, per start and per kind of request (training prompts only), the
teacher's most likely next words with their mean probability, and a few sampled instructions.

    .venv/bin/python experiments/scripts/start_probe.py -c configs/hh_rlhf_1.5b.toml \
        --starts experiments/scripts/hh_verdict_starts.json --out experiments/pilots/p27-verdict-starts/probe.md
"""

from __future__ import annotations

import argparse
import json
from collections import defaultdict
from pathlib import Path

import torch
from scipy.stats import mannwhitneyu

from wst.tasks import get_task, load_run_config
from wst.teacher import load_teacher, teacher_prompt, write_instructions


def next_word_probs(model, tokenizer, prompts: list[str]) -> list[dict[str, float]]:
    """For each prompt, the probability of each next token, keyed by its stripped text."""
    out = []
    for prompt in prompts:
        ids = tokenizer(prompt, return_tensors="pt", add_special_tokens=False)
        with torch.no_grad():
            logits = model(**ids).logits[0, -1]
        probs = torch.softmax(logits, dim=-1)
        top = torch.topk(probs, 50)
        words: dict[str, float] = defaultdict(float)
        for p, i in zip(top.values.tolist(), top.indices.tolist()):
            words[tokenizer.decode([i]).strip().lower()] += p
        out.append(words)
    return out


def kind_table(probs: list[dict[str, float]], kinds: list[str]) -> str:
    """Markdown: the 8 next words with the highest mean probability, per kind."""
    rows = []
    for kind in sorted(set(kinds)):
        mine = [p for p, k in zip(probs, kinds) if k == kind]
        mean: dict[str, float] = defaultdict(float)
        for p in mine:
            for word, value in p.items():
                mean[word] += value / len(mine)
        best = sorted(mean.items(), key=lambda kv: -kv[1])[:8]
        rows.append(f"| {kind} | {len(mine)} | "
                    + ", ".join(f"`{w}` {v:.2f}" for w, v in best) + " |")
    return "| kind | n | next word: mean probability |\n|---|---|---|\n" + "\n".join(rows)


def separation(probs: list[dict[str, float]], kinds: list[str], yes: str = "harmful",
               no: str = "harmless") -> str:
    """How well the share yes/(yes+no) of the next word ranks harmful above benign requests:
    the area under the ROC curve (0.5 = no better than chance), from scipy's Mann-Whitney U.

    >>> separation([{"harmful": 0.9, "harmless": 0.1}, {"harmful": 0.3, "harmless": 0.7}],
    ...            ["harmful", "benign"])
    'Share `harmful` / (`harmful` + `harmless`): harmful 0.90, benign 0.30; AUC harmful vs benign 1.00'
    """
    share = [p.get(yes, 0.0) / max(p.get(yes, 0.0) + p.get(no, 0.0), 1e-9) for p in probs]
    harmful = [s for s, k in zip(share, kinds) if k == "harmful"]
    benign = [s for s, k in zip(share, kinds) if k != "harmful"]
    auc = mannwhitneyu(harmful, benign).statistic / (len(harmful) * len(benign))
    return (f"Share `{yes}` / (`{yes}` + `{no}`): harmful {sum(harmful) / len(harmful):.2f}, "
            f"benign {sum(benign) / len(benign):.2f}; AUC harmful vs benign {auc:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("-c", "--config", type=Path, required=True)
    parser.add_argument("--starts", type=Path, required=True,
                        help='{"name": "words"} or {"name": {"start": ..., "meta_prompt": ...}}')
    parser.add_argument("--questions", type=int, default=64, help="training prompts probed")
    parser.add_argument("--samples", type=int, default=4, help="sampled per shown prompt")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    config = load_run_config(args.config, [])
    task = get_task(config.task.name, config.task)
    pool = task.load(config.task).train[: args.questions]
    kinds = [e.answer for e in pool]
    model, tokenizer = load_teacher(config.teacher.model, config.teacher.adapter)
    teacher = config.teacher
    parts = [f"Teacher `{teacher.model}`, the first {len(pool)} training prompts of "
             f"`{args.config}`; sampled at temperature {config.train.temperature}."]
    for name, entry in json.loads(args.starts.read_text()).items():
        start = entry if isinstance(entry, str) else entry["start"]
        meta_prompt = teacher.meta_prompt if isinstance(entry, str) else entry["meta_prompt"]
        prompts = [teacher_prompt(tokenizer, meta_prompt, e.question, start) for e in pool]
        prompt_note = "" if isinstance(entry, str) else f"Meta prompt: {meta_prompt!r}\n\n"
        probs = next_word_probs(model, tokenizer, prompts)
        parts.append(f"## {name}: \"{start}\"\n\n{prompt_note}" + kind_table(probs, kinds)
                     + "\n\n" + separation(probs, kinds))
        shown = [pool[kinds.index(k)] for k in sorted(set(kinds))]
        torch.manual_seed(0)
        texts = write_instructions(model, tokenizer, [e.question for e in shown],
                                   meta_prompt, 24, samples=args.samples,
                                   temperature=config.train.temperature, instruction_start=start)
        for i, e in enumerate(shown):
            parts.append(f"{e.answer}: *{e.question}*\n\n" + "\n".join(
                f"- {t}" for t in texts[i * args.samples:(i + 1) * args.samples]))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n\n".join(parts) + "\n")
    print(args.out.read_text())


if __name__ == "__main__":
    main()
