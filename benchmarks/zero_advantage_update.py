"""Update time with and without the rows of zero advantage, side by side in one run.

    .venv/bin/python benchmarks/zero_advantage_update.py [--steps 3] [-c CONFIG] [--set k=v]

Trains the same ``--steps`` real GRPO steps twice from the same seed, once with
``train.skip_zero_advantage`` and once without, on the given config (default: the embedded
GSM8K stack, whose greedy student leaves many groups without reward variance). The student's
cache is on, so the second run gets the first run's answers and both see the same rewards;
since skipping is exact, both update the same weights and sample the same instructions. It
prints each step's update seconds and the share of rows skipped, and the ratio of the two
runs' update time: the number to read (absolute seconds on a shared 2-core box are noise).
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

from wst.students import make_student
from wst.tasks import attach_judge, get_task, load_run_config
from wst.train import train_teacher


def run(config_path: Path | None, overrides: list[str], skip: bool, run_dir: Path) -> list[dict]:
    """Train once; the metrics of each step."""
    config = load_run_config(config_path, [
        f"output_dir={run_dir}", "train.save_steps=1000", "train.validation_steps=0",
        f"train.skip_zero_advantage={str(skip).lower()}", *overrides])
    task = attach_judge(get_task(config.task.name, config.task), config)
    student = make_student(config.student)
    try:
        train_teacher(config, task.load(config.task), task, student)
    finally:
        student.close()
        if task.judge is not None:
            task.judge.close()
    metrics = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    return [m for m in metrics if "reward" in m]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-c", "--config", type=Path, default=None)
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--set", action="append", default=[], help="config override")
    args = parser.parse_args()
    overrides = [f"train.max_steps={args.steps}", *args.set]
    with tempfile.TemporaryDirectory() as tmp:
        steps = {skip: run(args.config, overrides, skip, Path(tmp) / f"skip-{skip}")
                 for skip in (True, False)}
    print(f"{'step':>4} {'zero-std groups':>15} {'rows skipped':>12} "
          f"{'update s, skip':>14} {'update s, all rows':>18}")
    for on, off in zip(steps[True], steps[False]):
        print(f"{on['step']:4d} {on['frac_reward_zero_std']:15.2f} "
              f"{on.get('update/skipped_share', 0.0):12.2f} {on['time/update_s']:14.1f} "
              f"{off['time/update_s']:18.1f}")
    total = {skip: sum(m["time/update_s"] for m in runs) for skip, runs in steps.items()}
    print(f"update time, skip / all rows: {total[True]:.1f} / {total[False]:.1f} s = "
          f"{total[True] / total[False]:.2f}")


if __name__ == "__main__":
    main()
