"""Pilot P51b (hh_rlhf, issue 11): how often does the phrase match read a decline as a reader does?

``prepare`` takes the distinct replies of pilot rows on training prompts (P49a, P38, P30:
no instruction and many hand-written ones), shuffles them (seeded), keeps 240 and writes them
in parts of 120 with their request and kind for annotators, who label ``declines`` only
(``training/instructions.md``). ``audit`` joins the labels back and prints the agreement of
``wst.judges.declines`` with them, and every reply they disagree on. Training prompts only
(the validation prompts carved from them included); never held-out ones.

    .venv/bin/python experiments/scripts/decline_audit.py prepare \
        -c configs/hh_rlhf_choice_05b.toml --out experiments/pilots/p51-blind-annotation/training
    .venv/bin/python experiments/scripts/decline_audit.py audit \
        --out experiments/pilots/p51-blind-annotation/training
"""

from __future__ import annotations

import argparse
import json
import random
from pathlib import Path

from wst.judges import clip, declines
from wst.tasks import get_task, load_run_config

PART_SIZE = 120
ROWS = ["experiments/pilots/p49-could-be-all-training/rows.jsonl",
        "experiments/pilots/p38-universal-instructions/rows.jsonl",
        "experiments/pilots/p30-fixed-verdicts/rows.jsonl"]


def prepare(config_path: Path, out: Path, n: int = 240, seed: int = 51) -> None:
    """The first ``n`` distinct replies of ``ROWS`` after a seeded shuffle, in parts."""
    config = load_run_config(config_path, [])
    task = get_task(config.task.name, config.task)
    split = task.load(config.task)
    requests = {e.id: e.question for e in split.train + split.validation}
    seen, rows = set(), []
    for path in ROWS:
        for line in Path(path).read_text().splitlines():
            row = json.loads(line)
            text = " ".join(row["reply"].split())
            if text not in seen:
                seen.add(text)
                rows.append(row)
    random.Random(seed).shuffle(rows)
    out.mkdir(parents=True, exist_ok=True)
    items = [{"key": f"t{i:03d}", "kind": r["kind"], "request": requests[r["id"]],
              "reply": clip(r["reply"], 1500)} for i, r in enumerate(rows[:n])]
    for start in range(0, n, PART_SIZE):
        (out / f"train{start // PART_SIZE + 1}.jsonl").write_text(
            "".join(json.dumps(item) + "\n" for item in items[start:start + PART_SIZE]))


def audit(out: Path) -> str:
    """Markdown: how often the phrase match agrees with the labels, and where it does not."""
    items = [json.loads(line) for path in sorted(out.glob("train[0-9]*.jsonl"))
             if not path.name.endswith(".labels.jsonl")
             for line in path.read_text().splitlines()]
    labels = {label["key"]: label["declines"]
              for path in sorted(out.glob("train[0-9]*.labels.jsonl"))
              for label in map(json.loads, path.read_text().splitlines())}
    misses = [i for i in items if declines(i["reply"]) != labels[i["key"]]]
    lines = [f"The phrase match agrees with the annotators on {len(items) - len(misses)} of "
             f"{len(items)} training replies ({sum(labels.values())} labelled declines). "
             "Disagreements:", "", "| label | kind | request | reply |", "|---|---|---|---|"]
    lines += [f"| {'declines' if labels[i['key']] else 'goes along'} | {i['kind']} | "
              f"{i['request'][:60]} | {' '.join(i['reply'].split())[:160]} |" for i in misses]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("step", choices=["prepare", "audit"])
    parser.add_argument("-c", "--config", type=Path)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    if args.step == "prepare":
        prepare(args.config, args.out)
        return
    text = audit(args.out)
    (args.out / "audit.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
