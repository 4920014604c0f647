"""The ``best_fixed`` baseline (wst.best_fixed): a search on validation items that finds the
one instruction a scripted student rewards, and its place in eval.json and the report."""

from __future__ import annotations

import json

from wst import best_fixed
from wst.evaluate import comparisons, evaluate
from wst.report import write_report
from wst.students import Answer, Sampling, Student
from wst.tasks import Example, get_task, load_run_config

HAND = ['eval.best_fixed_candidates=["Be quick.", "Please CHECK each step.", "CHECK."]']


class CheckStudent(Student):
    """Right (``\\boxed{7}``) exactly when the instruction says CHECK; asked to write an
    instruction, it writes one without CHECK. So the best single instruction is known."""

    def __init__(self) -> None:
        super().__init__(Sampling(max_tokens=16), parallel=1)
        self.seen: list[str] = []
        self.writer_caps: list[int] = []

    @property
    def identity(self) -> str:
        return "scripted:check"

    def _answer_one(self, messages, sampling: Sampling) -> Answer:
        text = messages[-1]["content"]
        self.seen.append(text)
        if text.startswith("Here are example questions"):
            self.writer_caps.append(sampling.max_tokens)
            return Answer(text="Instruction: Write neatly.", completion_tokens=3)
        return Answer(text="\\boxed{7}" if "CHECK" in text else "\\boxed{0}", completion_tokens=3)


def _items(prefix: str, n: int) -> list[Example]:
    return [Example(f"{prefix}{i}", f"{prefix} question {i}?", "7") for i in range(n)]


def test_search_picks_the_instruction_the_student_rewards_from_validation_only() -> None:
    config = load_run_config(None, HAND)
    student, validation = CheckStudent(), _items("val", 4)
    found = best_fixed.search(config, get_task("gsm8k"), student, validation,
                              lambda meta, questions: ["Teacher says hello."] * len(questions))
    names = [c.name for c in found.candidates]
    assert names == ["fixed", "hand-1", "hand-2", "hand-3", "student-written", "teacher-written"]
    scores = {c.name: c.score for c in found.candidates}
    assert scores["hand-2"] == scores["hand-3"] == 1.0 and scores["fixed"] == 0.0
    assert found.pick == "hand-2"  # the first of two equal bests
    assert found.instruction == "Please CHECK each step."
    assert found.n == 4
    assert next(c for c in found.candidates if c.source == "student").instruction == "Write neatly."
    assert all("val" in text for text in student.seen)  # the writers saw validation questions


def test_writers_get_their_own_token_cap_not_the_choosers_label_length() -> None:
    """A choosing teacher's instruction cap is its labels' length (1 token for hh_rlhf's
    chooser); a writer held to twice that would write a fragment."""
    config = load_run_config(None, ["teacher.max_instruction_tokens=1",
                                    "eval.best_fixed_writer_tokens=48"])
    student = CheckStudent()
    best_fixed.search(config, get_task("gsm8k"), student, _items("val", 2),
                      lambda meta, questions: ["Hi."])
    assert student.writer_caps == [48]


def test_duplicate_candidates_are_tried_once_and_said(caplog) -> None:
    """A choosing teacher writes one of its menu entries; where that is already a candidate
    the log says why the teacher's candidate is missing."""
    config = load_run_config(None, ['eval.best_fixed_writers=["teacher"]'])
    config.eval.best_fixed_candidates = [config.eval.fixed_instruction, "CHECK."]
    found = best_fixed.search(config, get_task("gsm8k"), CheckStudent(), _items("val", 2),
                              lambda meta, questions: ["CHECK."])
    assert [c.name for c in found.candidates] == ["fixed", "hand-2"]
    assert "hand-1 is the same instruction as fixed" in caplog.text
    assert "teacher-written is the same instruction as hand-2" in caplog.text


def test_evaluate_runs_the_pick_on_held_out_items_and_reports_the_search(tmp_path) -> None:
    config = load_run_config(None, [*HAND, 'eval.conditions=["none", "fixed", "best_fixed"]',
                                    'eval.best_fixed_writers=["student"]'])
    student, test = CheckStudent(), _items("test", 5)
    run = tmp_path / "run"
    evaluate(config, get_task("gsm8k"), test, student, None, run / "eval",
             validation=_items("val", 3))
    summary = json.loads((run / "eval" / "eval.json").read_text())
    accuracy = {r["condition"]: r["accuracy"] for r in summary["results"]}
    assert accuracy == {"none": 0.0, "fixed": 0.0, "best_fixed": 1.0}
    assert summary["best_fixed"]["pick"] == "hand-2" and summary["best_fixed"]["n"] == 3
    records = [json.loads(line) for line in (run / "eval" / "records.jsonl").read_text().split("\n")
               if line]
    assert {r["instruction"] for r in records if r["condition"] == "best_fixed"} == {
        "Please CHECK each step."}
    searched = student.seen[: student.seen.index(test[0].question)]  # before the first test item
    assert not any("test" in text for text in searched)
    report = write_report(run).read_text()
    assert "## The best single instruction (`best_fixed`)" in report
    assert "| **hand-2** | hand-written | 100.0" in report


def test_best_fixed_without_validation_items_is_skipped(tmp_path, caplog) -> None:
    config = load_run_config(None, [*HAND, 'eval.conditions=["none", "best_fixed"]'])
    evaluate(config, get_task("gsm8k"), _items("test", 2), CheckStudent(), None, tmp_path)
    summary = json.loads((tmp_path / "eval.json").read_text())
    assert [r["condition"] for r in summary["results"]] == ["none"]
    assert "best_fixed condition is skipped" in caplog.text


def test_the_trained_teacher_is_compared_with_best_fixed() -> None:
    scores = {"none": [0, 0, 1, 0], "best_fixed": [1, 0, 1, 0], "teacher_base": [0, 0, 0, 0],
              "teacher_trained": [1, 1, 1, 0]}
    pairs = [(c.condition, c.baseline) for c in comparisons(scores)]
    assert pairs[:2] == [("teacher_trained", "teacher_base"), ("teacher_trained", "best_fixed")]
