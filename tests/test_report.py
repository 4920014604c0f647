"""The report: table formatting (missing and NaN values) and report.md with plots."""

from __future__ import annotations

import json
import math

from wst.report import (
    comparisons_table,
    mdd_sentence,
    results_table,
    subsets_table,
    write_report,
)


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


def _new_summary() -> dict:
    """A summary with the keys added for McNemar p, MDD, comparisons and subsets."""
    summary = _summary()
    summary["results"][0].update(mcnemar_p=None, mdd=None)
    summary["results"][1].update(mcnemar_p=0.03125, mdd=0.35)
    comparison = {"condition": "fixed", "baseline": "none", "n": 10, "diff": 0.3,
                  "diff_low": 0.0, "diff_high": 0.6, "mcnemar_p": 0.03125, "mdd": 0.35}
    summary["comparisons"] = [comparison]
    part = {"n": 5, "results": [
        {"condition": "none", "n": 5, "accuracy": 0.0, "ci_low": 0.0, "ci_high": 0.434},
        {"condition": "fixed", "n": 5, "accuracy": 0.4, "ci_low": 0.118, "ci_high": 0.769}],
        "comparisons": [{**comparison, "n": 5, "diff": 0.4, "mcnemar_p": 0.5, "mdd": None}]}
    summary["subsets"] = {"real": part, "variant": part}
    return summary


def test_table_shows_dashes_for_missing_values():
    # An eval.json written before McNemar p and MDD existed: dashes in those columns.
    table = results_table(_summary()).splitlines()
    assert table[2] == "| none | 10 | 0.0 [0.0, 27.8] | – | – | – | – | 0.0 | 0.0 | – |"
    assert table[3] == ("| fixed | 10 | 30.0 [10.8, 60.3] | 30.0 [0.0, 60.0] | – | – | – | 12.0 "
                        "| 0.0 | – |")


def test_table_shows_mcnemar_p_and_mdd():
    table = results_table(_new_summary()).splitlines()
    assert "McNemar p" in table[0] and "MDD, pp" in table[0]
    assert table[3] == ("| fixed | 10 | 30.0 [10.8, 60.3] | 30.0 [0.0, 60.0] | 0.031 | 35.0 | – "
                        "| 12.0 | 0.0 | – |")


def test_old_summary_has_no_comparisons_or_subsets_and_a_typical_mdd():
    assert comparisons_table(_summary()) == ""
    assert subsets_table(_summary()) == ""
    assert mdd_sentence(_summary()) == (
        "With n = 10 paired items, the minimum detectable difference (80% power, two-sided "
        "α = 0.05) is about 78.5 pp at a typical 20% share of discordant items.")


def test_comparisons_and_subsets_tables():
    summary = _new_summary()
    rows = comparisons_table(summary).splitlines()
    assert rows[2] == "| fixed vs none | all | 10 | 30.0 [0.0, 60.0] | 0.031 | 35.0 |"
    assert rows[3] == "| fixed vs none | real | 5 | 40.0 [0.0, 60.0] | 0.500 | – |"
    assert rows[4].startswith("| fixed vs none | variant | 5 |")
    subsets = subsets_table(summary).splitlines()
    assert subsets[0] == ("| condition | real (n = 5) accuracy % [95% CI] | variant (n = 5) "
                          "accuracy % [95% CI] |")
    assert subsets[3] == "| fixed | 40.0 [11.8, 76.9] | 40.0 [11.8, 76.9] |"
    assert "fixed vs none is 35.0 pp at its observed share" in mdd_sentence(summary)


def test_report_shows_comparisons_subsets_and_mdd(tmp_path):
    (tmp_path / "eval").mkdir()
    (tmp_path / "eval" / "eval.json").write_text(json.dumps(_new_summary()))
    report = write_report(tmp_path).read_text()
    assert "## Paired comparisons" in report and "## By subset of the test set" in report
    assert "of fixed vs none is 35.0 pp at its observed share" in report


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
    assert "| student | 20 | 0 | 0 | 0 | 100 | 50 | 0.0000 | 3 |" in report
    assert (tmp_path / "accuracy.png").stat().st_size > 0
    assert (tmp_path / "training.png").stat().st_size > 0


def test_screen_section_says_when_training_fell_back_to_the_whole_pool(tmp_path):
    from wst.report import screen_section

    rows = [{"verdict": v} for v in ("kept", "all_wrong", "all_right")]
    (tmp_path / "screen.jsonl").write_text("\n".join(map(json.dumps, rows)) + "\n")
    (tmp_path / "config.json").write_text(json.dumps({"train": {"questions_per_step": 2}}))
    [line, _] = screen_section(tmp_path)
    assert line.startswith("Screening (`screen.jsonl`): 1 of 3 training questions kept")
    assert "training used the whole pool" in line
    (tmp_path / "config.json").write_text(json.dumps({"train": {"questions_per_step": 1}}))
    assert "whole pool" not in screen_section(tmp_path)[0]
    assert screen_section(tmp_path / "missing") == []


def test_report_names_the_best_validated_teacher_and_tests_it_against_the_start(tmp_path):
    lines = [{"step": 1, "reward": 0.5}, {"step": 0, "validation/accuracy": 0.2, "validation/n": 10},
             {"step": 10, "validation/accuracy": 0.8, "validation/n": 10}]
    (tmp_path / "validation" / "step-10").mkdir(parents=True)
    ids = [f"v{i}" for i in range(10)]
    _validated_run(tmp_path, lines, [{"step": 0, "ids": ids, "scores": [1.0] * 2 + [0.0] * 8},
                                     {"step": 10, "ids": ids, "scores": [1.0] * 8 + [0.0] * 2}])
    report = write_report(tmp_path).read_text()
    assert ("best 80.0% at step 10 (that teacher: `validation/step-10`); against step 0 on the "
            "same items, McNemar p = 0.03.") in report  # 6 discordant items, all one way


def test_a_graded_validation_score_is_compared_with_a_paired_interval(tmp_path):
    """Judge scores are not 0/1, so McNemar does not apply: the paired difference does."""
    lines = [{"step": 1, "reward": 0.5}, {"step": 0, "validation/accuracy": 0.5, "validation/n": 4},
             {"step": 5, "validation/accuracy": 0.6, "validation/n": 4}]
    ids = [f"v{i}" for i in range(4)]
    _validated_run(tmp_path, lines, [{"step": 0, "ids": ids, "scores": [0.5, 0.4, 0.6, 0.5]},
                                     {"step": 5, "ids": ids, "scores": [0.6, 0.5, 0.7, 0.6]}])
    report = write_report(tmp_path).read_text()
    assert "best 60.0% at step 5; against step 0 on the same items, 10.0 pp [10.0, 10.0]." in report


def test_report_shows_what_the_trained_teacher_wrote(tmp_path):
    (tmp_path / "eval").mkdir()
    (tmp_path / "eval" / "eval.json").write_text(json.dumps(_summary()))
    records = [{"condition": c, "id": f"q{i}", "question": f"How do I | do thing {i}?",
                "reference": "harmful", "instruction": f"Refuse {c}", "answer": "No.\nSorry.",
                "score": 0.8} for c in ("none", "teacher_trained") for i in range(25)]
    (tmp_path / "eval" / "records.jsonl").write_text(
        "\n".join(map(json.dumps, records)) + "\n")
    report = write_report(tmp_path).read_text()
    assert "## What the teacher writes (teacher_trained, first 20 held-out items)" in report
    assert report.count("| Refuse teacher_trained | No. Sorry. | 0.80 |") == 20
    assert "Refuse none" not in report and "How do I \\| do thing 0?" in report


def _validated_run(tmp_path, metrics: list[dict], checks: list[dict]):
    """A run folder with an evaluation, these metrics lines and validation checks."""
    (tmp_path / "eval").mkdir()
    (tmp_path / "eval" / "eval.json").write_text(json.dumps(_summary()))
    (tmp_path / "metrics.jsonl").write_text("\n".join(map(json.dumps, metrics)) + "\n")
    (tmp_path / "validation").mkdir(exist_ok=True)
    (tmp_path / "validation" / "scores.jsonl").write_text(
        "\n".join(map(json.dumps, checks)) + "\n")
