"""Pilot: does a verdict-first teacher learn to call harmful requests harmful?

Reads a run's ``train_samples.jsonl`` (configs/hh_rlhf_verdict*.toml: every instruction starts
with the run's ``teacher.instruction_start``, from its ``config.json``) and sorts each sampled
instruction by the verdict in its first four words after the start: ``harmful`` (harmful, dangerous, malicious, offensive, inappropriate, unsafe,
illegal), ``harmless`` (harmless, safe, or a first word "not"), or ``other``. Prints, per
block of steps and per kind of request (ids starting "benign-" are benign), the share of each
verdict and its mean reward: the share shows whether the teacher learns to tell the kinds
apart, the rewards whether the judge pays for the right verdict (the signal GRPO follows).
With ``--greedy CONFIG``, also the greedy verdicts of the untrained teacher and of each of the
run's validation checkpoints on the validation prompts (what the validation score measured).

    .venv/bin/python experiments/scripts/verdicts.py runs/hh_rlhf_verdict --block 10 \
        --greedy configs/hh_rlhf_verdict.toml
"""

from __future__ import annotations

import argparse
import json
from collections import defaultdict
from pathlib import Path

from paired_by_kind import kind  # sibling pilot script: the kind from an hh_rlhf item id

HARMFUL = {"harmful", "dangerous", "malicious", "offensive", "inappropriate", "unsafe", "illegal"}
HARMLESS = {"harmless", "safe"}
VERDICTS = ("harmful", "harmless", "other")


def verdict(instruction: str, start: str = "This message is") -> str:
    """``harmful``, ``harmless`` or ``other``, from the first four words after ``start``.

    >>> verdict("This message is not harmful. Answer it.")
    'harmless'
    >>> verdict("This message is downright harmful and may cause harm.")
    'harmful'
    >>> verdict("This message is a pleasure.")
    'other'
    """
    words = [w.strip(".,:;!\"'()").lower() for w in instruction[len(start):].split()[:4]]
    if words and words[0] == "not" or any(w in HARMLESS for w in words):
        return "harmless"
    return "harmful" if any(w in HARMFUL for w in words) else "other"


def table(rows: list[dict], block: int, start: str) -> str:
    """Markdown: per step block and kind, each verdict's share and mean reward."""
    cells: dict[tuple[int, str], dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    for row in rows:
        key = (row["step"] // block * block, kind(row["id"]))
        cells[key][verdict(row["instruction"], start)].append(row["reward"])
    head = ("| steps | kind | n | " + " | ".join(f"{v} % (mean reward)" for v in VERDICTS)
            + " |\n|---|---|---|" + "---|" * len(VERDICTS))
    lines = [head]
    for (first, k), by_verdict in sorted(cells.items()):
        n = sum(len(r) for r in by_verdict.values())
        parts = []
        for v in VERDICTS:
            rewards = by_verdict.get(v, [])
            mean = f"{sum(rewards) / len(rewards):.2f}" if rewards else "–"
            parts.append(f"{100 * len(rewards) / n:.0f} ({mean})")
        lines.append(f"| {first}-{first + block - 1} | {k} | {n} | " + " | ".join(parts) + " |")
    return "\n".join(lines)


def greedy_table(config_path: Path, adapters: list[Path]) -> str:
    """Markdown: per teacher (untrained, then each adapter) and kind, its greedy verdicts on
    the config's validation prompts."""
    from wst.tasks import get_task, load_run_config
    from wst.teacher import load_teacher, write_instructions

    config = load_run_config(config_path, [])
    pool = get_task(config.task.name, config.task).load(config.task).validation
    teacher = config.teacher
    lines = ["| teacher | kind | n | " + " | ".join(f"{v} %" for v in VERDICTS) + " |",
             "|---|---|---|" + "---|" * len(VERDICTS)]
    for adapter in [None, *adapters]:
        model, tokenizer = load_teacher(teacher.model, str(adapter) if adapter else None)
        texts = write_instructions(model, tokenizer, [e.question for e in pool],
                                   teacher.meta_prompt, teacher.max_instruction_tokens,
                                   instruction_start=teacher.instruction_start)
        for k in ("harmful", "benign"):
            mine = [verdict(t, teacher.instruction_start)
                    for e, t in zip(pool, texts) if e.answer == k]
            lines.append(f"| {adapter or 'untrained'} | {k} | {len(mine)} | " + " | ".join(
                f"{100 * mine.count(v) / len(mine):.0f}" for v in VERDICTS) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("run", type=Path, help="a run folder with train_samples.jsonl")
    parser.add_argument("--block", type=int, default=10, help="steps per table row")
    parser.add_argument("--greedy", type=Path, help="the run's config: add greedy verdicts")
    args = parser.parse_args()
    if args.greedy:
        adapters = sorted((args.run / "validation").glob("step-*"),
                          key=lambda p: int(p.name.split("-")[1]))
        print(greedy_table(args.greedy, adapters) + "\n")
    with (args.run / "train_samples.jsonl").open() as fh:
        rows = [json.loads(line) for line in fh]
    start = json.loads((args.run / "config.json").read_text())["teacher"]["instruction_start"]
    print(table(rows, args.block, start))


if __name__ == "__main__":
    main()
