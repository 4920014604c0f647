"""The real embedded stack end to end: one GRPO step, one evaluation, through the CLI.

Runs the real SmolLM2 teacher and Qwen2.5-Coder-0.5B student (about 2-3 minutes on 2 cores,
more on a first run that assembles and converts the models into WST_CACHE_DIR).
"""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from wst.cli import app

pytestmark = pytest.mark.slow

SMALL = [
    "task.train_size=4", "task.test_size=2",
    "train.questions_per_step=1", "train.num_generations=2", "train.save_steps=1",
    "teacher.max_instruction_tokens=24", "student.max_tokens=96", "student.cache=false",
]


def _run(*args: str) -> None:
    result = CliRunner().invoke(app, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output


def test_real_grpo_step_and_evaluation(tmp_path):
    run_dir = tmp_path / "run"
    sets = [x for s in SMALL for x in ("--set", s)]
    _run("train", "--output", str(run_dir), "--steps", "1", *sets)
    steps = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    first = next(m for m in steps if "reward" in m)
    assert first["time/student_s"] > 0 and 0 <= first["student/accuracy"] <= 1
    assert (run_dir / "teacher" / "adapter_config.json").exists()

    # two held-back training templates give best_fixed its validation items
    _run("eval", "--output", str(run_dir), *sets, "--set", "task.validation_templates=2",
         "--set", "task.validation_size=2")
    summary = json.loads((run_dir / "eval" / "eval.json").read_text())
    conditions = [r["condition"] for r in summary["results"]]
    assert conditions == ["none", "fixed", "best_fixed", "teacher_base", "teacher_trained",
                          "self"]
    assert all(r["n"] == 2 and 0 <= r["ci_low"] <= r["accuracy"] <= r["ci_high"] <= 1
               for r in summary["results"])
    search = summary["best_fixed"]
    assert search["n"] == 2 and {"fixed", "student"} <= {c["source"] for c in search["candidates"]}
    records = (run_dir / "eval" / "records.jsonl").read_text().splitlines()
    assert len(records) == 6 * 2
    report = (run_dir / "report.md").read_text()
    assert "teacher_trained" in report and (run_dir / "accuracy.png").exists()
    assert "## The best single instruction (`best_fixed`)" in report
    assert (run_dir / "training.png").exists()
    split = json.loads((run_dir / "split.json").read_text())
    assert set(split["train_templates"]).isdisjoint(split["test_templates"])
