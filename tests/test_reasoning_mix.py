"""The reasoning_mix task: reasoning-gym families, split by generator seed, scored per kind."""

from __future__ import annotations

import pytest

from wst.config import TaskConfig
from wst.tasks import DatasetError, get_task
from wst.tasks.reasoning_mix import FORMAT_LINE


def mix(source: str = "letter_counting,spell_backward", **fields) -> TaskConfig:
    return TaskConfig(name="reasoning_mix", source=source, **fields)


def test_parts_are_disjoint_and_the_families_take_turns() -> None:
    config = mix(train_size=20, test_size=10, validation_items=6)
    split = get_task("reasoning_mix", config).load(config)
    assert (len(split.train), len(split.validation), len(split.test)) == (20, 6, 10)
    assert [e.subset for e in split.test[:4]] == ["letter_counting", "spell_backward"] * 2
    questions = [{e.question for e in part} for part in (split.train, split.validation,
                                                         split.test)]
    assert not (questions[0] & questions[2] or questions[1] & questions[2]
                or questions[0] & questions[1])
    assert all(e.question.endswith(FORMAT_LINE) for e in split.test)
    assert split.info["families"] == ["letter_counting", "spell_backward"]


def test_the_split_is_reproducible_and_moves_with_the_seed() -> None:
    task = get_task("reasoning_mix", mix())
    first = task.load(mix(test_size=6), with_train=False).test
    again = task.load(mix(test_size=6), with_train=False).test
    other = task.load(mix(test_size=6, split_seed=1), with_train=False).test
    assert first == again and first != other


def test_numbers_score_as_numbers_and_words_exactly() -> None:
    config = mix(test_size=4)
    task = get_task("reasoning_mix", config)
    test = task.load(config, with_train=False).test
    right = [f"so the answer is \\boxed{{{e.answer}}}." for e in test]
    wrong = ["\\boxed{nothing}" for _ in test]
    assert task.score_many(right, test) == [1.0] * 4
    assert task.score_many(wrong, test) == [0.0] * 4
    counting = next(e for e in test if e.subset == "letter_counting")
    assert task.score_many([f"\\boxed{{{counting.answer}.0}}"], [counting]) == [1.0]


def test_an_unknown_family_is_named() -> None:
    config = mix("letter_counting,no_such_family", test_size=2)
    with pytest.raises(DatasetError, match="no_such_family"):
        get_task("reasoning_mix", config).load(config)


def test_the_embedded_mix_loads_for_evaluation_alone() -> None:
    """No training pool and no validation items: every family still gives its test items."""
    config = TaskConfig(name="reasoning_mix", source="embedded", test_size=0)
    split = get_task("reasoning_mix", config).load(config, with_train=False)
    assert split.train == [] and split.validation == []
    assert len(split.test) == 40 * len(split.info["families"])


def test_formatted_answers_are_not_read_as_their_leading_number() -> None:
    config = mix("time_intervals", test_size=8)
    task = get_task("reasoning_mix", config)
    test = task.load(config, with_train=False).test
    formatted = next(e for e in test if not e.answer.replace(":", "").isdigit())
    leading = formatted.answer.split()[0].split(":")[0]
    assert task.score_many([f"\\boxed{{{leading}}}"], [formatted]) == [0.0]
    assert task.score_many([f"\\boxed{{{formatted.answer}}}"], [formatted]) == [1.0]
