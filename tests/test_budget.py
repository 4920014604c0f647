"""Budgets on student calls, tokens and money: checked before calling, and a clean stop in training."""

from __future__ import annotations

import json

import pytest

from wst.students import Budget, BudgetExceeded
from wst.students.base import Answer, Messages, Sampling, Student

from .test_train_plumbing import _config, _split


class PricedStudent(Student):
    """Test double: 10 prompt + 5 completion tokens per call."""

    def __init__(self, budget: Budget):
        super().__init__(Sampling(), parallel=2, budget=budget)
        self.calls = 0

    @property
    def identity(self) -> str:
        return "priced:test"

    def _answer_one(self, messages: Messages, sampling: Sampling) -> Answer:
        self.calls += 1
        return Answer(text="\\boxed{7}", completion_tokens=5, prompt_tokens=10)


def _batch(n: int) -> list[Messages]:
    return [[{"role": "user", "content": f"q{i}"}] for i in range(n)]


def test_call_budget_refuses_a_batch_before_calling():
    student = PricedStudent(Budget(max_calls=5))
    student.answer(_batch(4))
    with pytest.raises(BudgetExceeded, match="call budget"):
        student.answer(_batch(2))
    assert student.calls == 4


def test_tokens_and_cost_are_counted_at_the_configured_prices():
    student = PricedStudent(Budget(max_cost=0.0, price_input=1.0, price_output=2.0))
    student.answer(_batch(4))
    assert (student.usage.prompt_tokens, student.usage.completion_tokens) == (40, 20)
    assert student.usage.cost == pytest.approx((40 * 1.0 + 20 * 2.0) / 1e6)


def test_money_budget_stops_once_spent():
    student = PricedStudent(Budget(max_cost=50 / 1e6, price_input=1.0, price_output=2.0))
    student.answer(_batch(2))  # 40 spent
    student.answer(_batch(1))  # 60 spent: allowed, the limit was not reached before it
    with pytest.raises(BudgetExceeded, match="money budget"):
        student.answer(_batch(1))


def test_training_stops_cleanly_with_a_checkpoint_at_the_call_budget(tmp_path, tiny_teacher):
    student = PricedStudent(Budget(max_calls=20))  # one step costs 2 questions x 4 = 8 calls
    run_dir = tmp_path / "run"
    from wst.tasks.gsm8k import GSM8K
    from wst.train import train_teacher

    train_teacher(_config(run_dir, tiny_teacher, steps=5), _split(), GSM8K(), student)
    steps = [json.loads(x) for x in (run_dir / "metrics.jsonl").read_text().splitlines()]
    assert max(m["step"] for m in steps) == 2 and student.calls == 16
    assert (run_dir / "checkpoints" / "checkpoint-2").is_dir()
    assert (run_dir / "teacher" / "adapter_config.json").exists()


def test_training_stops_before_a_judge_budget_is_passed() -> None:
    """StopAtBudget watches every paying model, each at its costliest step so far."""
    from types import SimpleNamespace

    from wst.train import StopAtBudget

    student, judge = PricedStudent(Budget()), PricedStudent(Budget(max_calls=10))
    stop = StopAtBudget([student, judge], first_step_calls=4)
    control = SimpleNamespace(should_save=False, should_training_stop=False)
    state = SimpleNamespace(global_step=1)
    student.answer(_batch(4))
    judge.answer(_batch(3))  # 3 of 10 spent; a step costs 4 (the first guess): go on
    stop.on_step_end(None, state, control)
    assert not control.should_training_stop
    judge.answer(_batch(5))  # 8 spent, the costliest step made 5: a third would pass 10
    stop.on_step_end(None, state, control)
    assert control.should_training_stop and control.should_save
