"""eval.json's paired comparisons, McNemar p, MDD and per-subset results (wst.evaluate)."""

from __future__ import annotations

import json

import pytest

from tests.conftest import ScriptedStudent
from wst.tasks import Example, get_task, load_run_config
from wst.evaluate import comparisons, evaluate, json_safe
from wst.stats import mcnemar_exact, observed_mdd


def _reject_nan(token: str) -> None:
    raise AssertionError(f"eval.json holds a bare {token}")


def test_eval_json_has_comparisons_subsets_and_no_nan(tmp_path) -> None:
    # The scripted student answers 7 (right) when the text before the question has even
    # length: the odd-length questions alone are wrong, with the 2-character instruction right.
    config = load_run_config(None, ['eval.conditions=["none", "fixed"]',
                                'eval.fixed_instruction="ab"'])
    examples = [Example(f"q{i}", "odd", "7", subset="real" if i < 2 else "variant")
                for i in range(6)]
    evaluate(config, get_task("gsm8k"), examples, ScriptedStudent(), None, tmp_path)
    summary = json.loads((tmp_path / "eval.json").read_text(), parse_constant=_reject_nan)
    none, fixed = summary["results"]
    assert none["mcnemar_p"] is None and none["mdd"] is None
    assert (none["accuracy"], fixed["accuracy"]) == (0.0, 1.0)
    assert fixed["relative_gain_pct"] is None  # NaN over a zero baseline, written as null
    assert fixed["mcnemar_p"] == pytest.approx(2 * 0.5 ** 6)
    assert fixed["mdd"] == pytest.approx(observed_mdd([1] * 6, [0] * 6))
    assert summary["comparisons"] == [{
        "condition": "fixed", "baseline": "none", "n": 6, "diff": 1.0, "diff_low": 1.0,
        "diff_high": 1.0, "mcnemar_p": fixed["mcnemar_p"], "mdd": fixed["mdd"]}]
    real, variant = summary["subsets"]["real"], summary["subsets"]["variant"]
    assert (real["n"], variant["n"]) == (2, 4)
    assert [r["accuracy"] for r in variant["results"]] == [0.0, 1.0]
    assert variant["comparisons"][0]["mcnemar_p"] == pytest.approx(2 * 0.5 ** 4)
    records = [json.loads(line) for line in (tmp_path / "records.jsonl").read_text().splitlines()]
    assert [r["subset"] for r in records[:3]] == ["real", "real", "variant"]


def test_eval_json_without_subsets_has_no_subset_section(tmp_path) -> None:
    config = load_run_config(None, ['eval.conditions=["none"]'])
    examples = [Example(f"q{i}", "odd", "7") for i in range(3)]
    evaluate(config, get_task("gsm8k"), examples, ScriptedStudent(), None, tmp_path)
    summary = json.loads((tmp_path / "eval.json").read_text())
    assert "subsets" not in summary and summary["comparisons"] == []


def test_comparisons_put_trained_vs_base_first_then_each_against_none() -> None:
    scores = {"none": [0, 0, 1, 0], "teacher_base": [1, 0, 1, 0], "teacher_trained": [1, 1, 1, 0]}
    found = comparisons(scores)
    assert [(c.condition, c.baseline) for c in found] == [
        ("teacher_trained", "teacher_base"), ("teacher_base", "none"),
        ("teacher_trained", "none")]
    head = found[0]
    assert (head.n, head.diff) == (4, 0.25)
    assert head.mcnemar_p == mcnemar_exact(scores["teacher_trained"], scores["teacher_base"])


def test_comparisons_of_judge_scores_have_no_mcnemar_p() -> None:
    [found] = comparisons({"none": [0.5, 0.25], "fixed": [0.75, 0.5]})
    assert found.mcnemar_p is None and found.diff == pytest.approx(0.25)


def test_json_safe_replaces_nan_and_infinity_everywhere() -> None:
    value = {"a": float("nan"), "b": [1.0, float("inf"), {"c": -float("inf")}], "d": "x"}
    assert json_safe(value) == {"a": None, "b": [1.0, None, {"c": None}], "d": "x"}


def test_shipped_teacher_is_evaluated_with_its_own_card(tmp_path, tiny_teacher, monkeypatch):
    from wst.teacher import save_teacher_card

    shipped = tmp_path / "shipped"
    shipped.mkdir()
    save_teacher_card(shipped, "Say: {question}", str(tiny_teacher),
                      extra={"max_instruction_tokens": 2})
    seen: dict = {}

    def fake_instructions(model_spec, adapter, meta_prompt, max_tokens, questions,
                          engine=("pytorch", "f16")):
        seen.update(model=model_spec, adapter=adapter, prompt=meta_prompt, cap=max_tokens)
        return ["ab"] * len(questions)

    monkeypatch.setattr("wst.evaluate._teacher_instructions", fake_instructions)
    monkeypatch.chdir(tmp_path)
    config = load_run_config(None, ['eval.conditions=["none", "teacher_shipped"]',
                                "eval.shipped_adapter=shipped"])
    examples = [Example(f"q{i}", "odd", "7") for i in range(3)]
    evaluate(config, get_task("gsm8k"), examples, ScriptedStudent(), None, tmp_path / "eval")
    summary = json.loads((tmp_path / "eval" / "eval.json").read_text())
    assert [r["condition"] for r in summary["results"]] == ["none", "teacher_shipped"]
    assert seen == {"model": str(tiny_teacher), "adapter": str(tmp_path / "shipped"),
                    "prompt": "Say: {question}", "cap": 2}

    config.eval.shipped_adapter = "missing"
    evaluate(config, get_task("gsm8k"), examples, ScriptedStudent(), None, tmp_path / "eval2")
    summary = json.loads((tmp_path / "eval2" / "eval.json").read_text())
    assert [r["condition"] for r in summary["results"]] == ["none"]
