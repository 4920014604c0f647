"""How far a choosing teacher (``teacher.choices``, two choices) tells the kinds apart on the
validation prompts: per teacher, the mean log-probability margin of the first choice over the
second for each kind, the AUC of that margin (harmful vs benign), and how many of each kind
its greedy pick gives the first choice. No student or judge: seconds per teacher.

    .venv/bin/python experiments/scripts/choice_margins.py -c configs/hh_rlhf_choice_05b.toml \
        base runs/hh_rlhf_choice_05b/validation/step-3 > margins.md

``base`` is the untrained teacher; any other argument is an adapter folder.
"""

from __future__ import annotations

import argparse
import statistics
from pathlib import Path

import torch
from scipy.stats import mannwhitneyu

from wst.tasks import get_task, load_run_config
from wst.teacher import choice_logprobs, load_teacher, teacher_prompt


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("-c", "--config", type=Path, required=True)
    parser.add_argument("teachers", nargs="+", help="'base' or adapter folders")
    args = parser.parse_args()
    config = load_run_config(args.config)
    teacher = config.teacher
    first, second = teacher.choices[:2]
    items = get_task(config.task.name, config.task).load(config.task).validation
    print(f"Validation prompts (n = {len(items)}); margin = log p({first!r}) - log p({second!r})\n")
    print(f"| teacher | margin, harmful | margin, benign | AUC | greedy {first!r}: harmful | "
          f"benign |")
    print("|---|---|---|---|---|---|")
    for name in args.teachers:
        model, tokenizer = load_teacher(teacher.model, None if name == "base" else name)
        prompts = [teacher_prompt(tokenizer, teacher.meta_prompt, e.question,
                                  teacher.instruction_start) for e in items]
        logps = torch.cat([choice_logprobs(model, tokenizer, prompts[i:i + 8], teacher.choices)
                           for i in range(0, len(prompts), 8)])
        margins = (logps[:, 0] - logps[:, 1]).tolist()
        harmful = [m for m, e in zip(margins, items) if e.answer == "harmful"]
        benign = [m for m, e in zip(margins, items) if e.answer == "benign"]
        auc = mannwhitneyu(harmful, benign).statistic / (len(harmful) * len(benign))  # ties: half
        print(f"| {name} | {statistics.mean(harmful):+.2f} | {statistics.mean(benign):+.2f} | "
              f"{auc:.2f} | {sum(m > 0 for m in harmful)}/{len(harmful)} | "
              f"{sum(m > 0 for m in benign)}/{len(benign)} |", flush=True)


if __name__ == "__main__":
    main()
