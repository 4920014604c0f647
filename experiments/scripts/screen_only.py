"""Pilot: the screen alone (``wst.screen``), without training, for a run config.

Writes OUT/screen.jsonl exactly as ``wst train`` would (same pool, teacher, sampling and
seed), so copying it into the run folder lets ``wst train --resume`` reuse it; prints how many
questions were kept and why the others were not.

    .venv/bin/python experiments/scripts/screen_only.py -c configs/gsm8k.toml --out runs/gsm8k
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from wst.screen import SCREEN_FILE, load, screened_pool, summary
from wst.students import make_student
from wst.tasks import get_task, load_run_config
from wst.teacher import load_teacher
from wst.train import reward_sampling


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("-c", "--config", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--set", action="append", default=[], help="config override")
    args = parser.parse_args()
    config = load_run_config(args.config, args.set)
    task = get_task(config.task.name, config.task)
    split = task.load(config.task)
    student = make_student(config.student)
    args.out.mkdir(parents=True, exist_ok=True)
    screened_pool(split.train, task, student, reward_sampling(student, config),
                  load_teacher(config.teacher.model), config.train, config.teacher.meta_prompt,
                  config.teacher.max_instruction_tokens, config.student.instruction_placement,
                  args.out, resume=False)
    student.close()
    print(json.dumps(summary(load(args.out / SCREEN_FILE))))


if __name__ == "__main__":
    main()
