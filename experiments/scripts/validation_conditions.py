"""Pilot: instruction sources on the validation split (held-back training templates), or with
``--split train`` on the training pool, before any training: no instruction, the fixed instruction, and the untrained teacher under each meta
prompt in ``--prompts`` (a JSON file ``{"name": "prompt with {question}", ...}``), or, with
``--fixed``, each hand-written instruction of such a file (``{"name": "instruction"}``) as the
``fixed`` condition.

Never touches the test items. Each prompt's evaluation goes to OUT/NAME/ (eval.json,
records.jsonl); the summary table is printed and written to OUT/summary.md.

    .venv/bin/python experiments/scripts/validation_conditions.py -c configs/gsm8k.toml \
        --prompts experiments/scripts/meta_prompts.json --out experiments/pilots/p4-validation
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from wst.evaluate import evaluate
from wst.report import results_table
from wst.students import make_student
from wst.tasks import attach_judge, get_task, load_run_config


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("-c", "--config", type=Path, required=True)
    parser.add_argument("--prompts", type=Path, required=True)
    parser.add_argument("--fixed", action="store_true",
                        help="--prompts holds fixed instructions, not meta prompts")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--set", action="append", default=[], help="config override")
    parser.add_argument("--split", choices=("validation", "train"), default="validation",
                        help="train: the training pool (e.g. to measure a menu before a "
                        "chooser trains on it; the answers land in the shared cache)")
    parser.add_argument("--limit", type=int, help="only the first LIMIT items of the split")
    parser.add_argument("--conditions", help="comma-separated conditions run for every prompt "
                        "(default: none, fixed and teacher_base, then none and teacher_base)")
    args = parser.parse_args()
    prompts: dict[str, str] = json.loads(args.prompts.read_text())
    config = load_run_config(args.config, args.set)
    task = attach_judge(get_task(config.task.name, config.task), config)
    splits = task.load(config.task, with_train=args.split == "train")
    examples = (splits.train if args.split == "train" else splits.validation)[: args.limit]
    if not examples:
        raise SystemExit(f"no {args.split} items: set task.validation_templates (or "
                         "task.validation_items)")
    student = make_student(config.student)
    tables = []
    for k, (name, prompt) in enumerate(prompts.items()):
        if args.fixed:
            config.eval.fixed_instruction = prompt
            config.eval.conditions = ["none", "fixed"]
        else:
            config.teacher.meta_prompt = prompt
            config.eval.conditions = ["none", "fixed", "teacher_base"] if k == 0 else [
                "none", "teacher_base"]
        if args.conditions:
            config.eval.conditions = args.conditions.split(",")
        evaluate(config, task, examples, student, None, args.out / name)
        summary = json.loads((args.out / name / "eval.json").read_text())
        kind = "fixed instruction" if args.fixed else "meta prompt"
        tables.append(f"### {kind} `{name}`: {prompt!r}\n\n{results_table(summary)}\n")
        print(tables[-1], flush=True)
    student.close()
    (args.out / "summary.md").write_text(
        f"{args.split.capitalize()} split, n = {len(examples)}; prompts: `{args.prompts}`\n\n" + "\n".join(tables))


if __name__ == "__main__":
    main()
