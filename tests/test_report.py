"""The report: table formatting (missing and NaN values) and report.md with plots."""

from __future__ import annotations

import json
import math

from wst.report import results_table, write_report


def _summary() -> dict:
    row = {"condition": "none", "description": "", "n": 10, "accuracy": 0.0, "ci_low": 0.0,
           "ci_high": 0.278, "diff_vs_none": None, "diff_low": None, "diff_high": None,
           "relative_gain_pct": None, "leak_rate": 0.0, "instruction_words": 0.0, "failures": 0}
    fixed = {**row, "condition": "fixed", "accuracy": 0.3, "ci_low": 0.108, "ci_high": 0.603,
             "diff_vs_none": 0.3, "diff_low": 0.0, "diff_high": 0.6,
             "relative_gain_pct": math.nan, "instruction_words": 12.0}
    usage = {"calls": 20, "cache_hits": 0, "failures": 0, "retries": 0, "prompt_tokens": 100,
             "completion_tokens": 50, "cost": 0.0, "seconds": 3.0}
    return {"task": "gsm8k", "n": 10, "student": "llamacpp:m.gguf:abc", "student_max_tokens": 64,
            "student_temperature": 0.0, "instruction_placement": "prefix", "teacher": "t",
            "max_instruction_tokens": 8, "student_usage": usage, "results": [row, fixed]}


def test_table_shows_dashes_for_missing_values():
    table = results_table(_summary()).splitlines()
    assert table[2] == "| none | 10 | 0.0 [0.0, 27.8] | – | – | 0.0 | 0.0 |"
    assert table[3] == "| fixed | 10 | 30.0 [10.8, 60.3] | 30.0 [0.0, 60.0] | – | 12.0 | 0.0 |"


def test_report_with_training_metrics_and_plots(tmp_path):
    (tmp_path / "eval").mkdir()
    (tmp_path / "eval" / "eval.json").write_text(json.dumps(_summary()))
    metrics = [{"step": s, "reward": 0.1 * s, "student/accuracy": 0.1 * s,
                "frac_reward_zero_std": 0.5} for s in (1, 2)]
    (tmp_path / "metrics.jsonl").write_text("\n".join(map(json.dumps, metrics)) + "\n")
    samples = [{"answer": "so \\boxed{7}"}, {"answer": "cut off mid-"}]
    (tmp_path / "train_samples.jsonl").write_text("\n".join(map(json.dumps, samples)) + "\n")
    report = write_report(tmp_path).read_text()
    assert "n = 10 held-out items" in report and "2 GRPO steps" in report
    assert "mean reward 0.150" in report and "50% of the student's training answers" in report
    assert "20 calls" in report
    assert (tmp_path / "accuracy.png").stat().st_size > 0
    assert (tmp_path / "training.png").stat().st_size > 0
