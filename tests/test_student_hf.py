"""The local transformers student on the tiny random Llama of conftest (seconds on CPU)."""

from __future__ import annotations

from pathlib import Path

import pytest

from wst.config import StudentConfig
from wst.students import BudgetExceeded, ResponseCache, Sampling, make_student
from wst.students.hf import HFStudent

MAX_TOKENS = 6


def ask(text: str) -> list[dict[str, str]]:
    return [{"role": "user", "content": text}]


QUESTIONS = [ask(q) for q in ["hi", "what is 2+2?", "a much longer question than the others", "x",
                              "name a colour"]]


@pytest.fixture(scope="module")
def student(tiny_teacher: Path):
    student = HFStudent(str(tiny_teacher), Sampling(max_tokens=MAX_TOKENS), parallel=2)
    yield student
    student.close()


def test_batch_answers_in_order_one_generate_per_chunk(student: HFStudent, monkeypatch) -> None:
    chunks: list[int] = []
    real_generate = student.model.generate

    def counting_generate(**kwargs):
        chunks.append(kwargs["input_ids"].shape[0])
        return real_generate(**kwargs)

    monkeypatch.setattr(student.model, "generate", counting_generate)
    answers = student.answer(QUESTIONS)
    assert chunks == [2, 2, 1]  # padded batches of `parallel`, not one call per request
    assert len(answers) == 5
    assert all(a.ok and not a.cached for a in answers), [a.error for a in answers]
    assert all(1 <= a.completion_tokens <= MAX_TOKENS for a in answers)
    assert all(a.prompt_tokens > 0 for a in answers)
    assert student.usage.prompt_tokens == sum(a.prompt_tokens for a in answers)
    # in order: each answer equals the same request answered alone (no padding mix-ups)
    for messages, answer in zip(QUESTIONS, answers):
        assert student.answer([messages])[0].text == answer.text
    assert student.identity.startswith("hf:")


def test_plain_prompts_skip_the_chat_template(student: HFStudent) -> None:
    plain, chat = student.answer(["Q: 2+2?\nA:", ask("Q: 2+2?\nA:")])
    assert plain.ok and chat.ok
    assert plain.prompt_tokens < chat.prompt_tokens  # no template tokens around the text


def test_greedy_is_deterministic(student: HFStudent) -> None:
    assert student.cache is None
    first = student.answer(QUESTIONS)
    second = student.answer(QUESTIONS)
    assert [a.text for a in first] == [a.text for a in second]
    assert [a.completion_tokens for a in first] == [a.completion_tokens for a in second]


def test_sampling_is_seeded(student: HFStudent) -> None:
    hot = Sampling(max_tokens=MAX_TOKENS, temperature=1.5, seed=3)
    first = student.answer(QUESTIONS, hot)
    assert all(a.ok and 1 <= a.completion_tokens <= MAX_TOKENS for a in first)
    assert [a.text for a in student.answer(QUESTIONS, hot)] == [a.text for a in first]
    # a request's draw does not depend on the other requests of its chunk
    assert student.answer(QUESTIONS[1:2], hot)[0].text == first[1].text


def test_second_call_served_from_cache(tiny_teacher: Path, tmp_path: Path) -> None:
    cache = ResponseCache(tmp_path / "c.sqlite")
    student = HFStudent(str(tiny_teacher), Sampling(max_tokens=MAX_TOKENS), parallel=2,
                        cache=cache)
    try:
        first = student.answer(QUESTIONS)
        second = student.answer(QUESTIONS)
        assert not any(a.cached for a in first)
        assert all(a.cached for a in second)
        assert [a.text for a in second] == [a.text for a in first]
        assert [a.completion_tokens for a in second] == [a.completion_tokens for a in first]
        assert student.usage.calls == 5 and student.usage.cache_hits == 5
    finally:
        student.close()
        cache.close()


def test_make_student_builds_hf(tiny_teacher: Path) -> None:
    student = make_student(StudentConfig(backend="hf", model=str(tiny_teacher), cache=False,
                                         parallel=3, max_calls=1))
    try:
        assert isinstance(student, HFStudent)
        assert student.parallel == 3 and student.cache is None
        assert student.identity.startswith(f"hf:{tiny_teacher}:")
        with pytest.raises(BudgetExceeded):  # the config's budget reaches the hf student
            student.answer(QUESTIONS[:2])
    finally:
        student.close()
