"""The task interface: examples, how the student sees them, and how its answer is scored."""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from wst.config import DEFAULT_FIXED_INSTRUCTION, DEFAULT_META_PROMPT, TaskConfig
from wst.fileio import atomic_write_text
from wst.scoring import JUDGE, get_scorer, leaks_answer

if TYPE_CHECKING:
    from wst.judges import Judge
    from wst.students import Answer


class DatasetError(ValueError):
    """A dataset file is malformed; the message names the file, line and field."""


@dataclass(frozen=True)
class Example:
    """One question with its reference answer."""

    id: str
    question: str
    answer: str
    """The final reference answer (e.g. ``"18"``), not the worked solution."""
    template: int | None = None
    """Template the example comes from, where the source has templates."""
    history: tuple[tuple[str, str], ...] = ()
    """Earlier (role, content) turns of a conversation; ``question`` is its last user turn."""
    subset: str = ""
    """Part of the test set the item belongs to where parts differ in kind (GSM8K: ``real``
    problems or generated ``variant``s); the evaluation reports each part apart."""


@dataclass
class Split:
    """Training pool, validation and held-out test items, with what is needed to reproduce
    the split."""

    train: list[Example]
    test: list[Example]
    info: dict[str, Any] = field(default_factory=dict)
    validation: list[Example] = field(default_factory=list)
    """Items for choosing settings and checkpoints, from templates never trained on, so the
    test set is looked at once; empty where the task has no validation split."""

    def save(self, path: Path) -> None:
        data = {**self.info, "n_train": len(self.train), "n_validation": len(self.validation),
                "validation_ids": [e.id for e in self.validation],
                "test_ids": [e.id for e in self.test]}
        atomic_write_text(path, json.dumps(data, indent=2))


class Task(ABC):
    """A benchmark: load a split, build the student's messages, score answers."""

    name: str
    description: str = ""
    """One line for ``wst tasks``."""
    default_scorer: str = "math"
    """Scorer (``wst.scoring.SCORERS``, or ``judge``) used when ``task.scorer`` is empty."""
    meta_prompt: str = DEFAULT_META_PROMPT
    """The teacher's prompt when ``teacher.meta_prompt`` is empty."""
    fixed_instruction: str = DEFAULT_FIXED_INSTRUCTION
    """The ``fixed`` condition's instruction when ``eval.fixed_instruction`` is empty."""
    fixed_variants: tuple[str, ...] = (
        "Think step by step, then give the final answer in \\boxed{}.",
        "Be brief: write only the key calculations, then the final answer in \\boxed{}.",
        "Reason in plain sentences, not code, and end with the final answer in \\boxed{}.",
    )
    """Hand-written alternatives to the fixed instruction that the ``best_fixed`` search tries
    when ``eval.best_fixed_candidates`` is empty."""

    def __init__(self, config: TaskConfig | None = None) -> None:
        config = config or TaskConfig(name=self.name)
        self.scorer = config.scorer or self.default_scorer
        self.judge: Judge | None = None
        """Scores replies when ``judged`` (``wst.tasks.attach_judge`` sets it)."""
        if not self.judged:
            self._score = get_scorer(self.scorer, config.answer_pattern)

    @property
    def judged(self) -> bool:
        """Replies are scored by a judge model, not against a reference answer."""
        return self.scorer == JUDGE

    def load(self, config: TaskConfig, with_train: bool = True) -> Split:
        """The train pool (empty unless ``with_train``) and test items for this config.

        A held-out set that ends up empty, or smaller than ``task.min_test_items``, is an
        error here, for every task: evaluating nothing would report NaN accuracies and still
        succeed."""
        split = self._load(config, with_train)
        if len(split.test) < config.min_test_items:
            raise DatasetError(f"task {self.name!r}: source {config.source!r} leaves "
                               f"{len(split.test)} held-out items, fewer than "
                               f"task.min_test_items = {config.min_test_items} "
                               f"(task.test_fraction = {config.test_fraction}, task.test_size = "
                               f"{config.test_size}); add items or raise task.test_fraction")
        return split

    @abstractmethod
    def _load(self, config: TaskConfig, with_train: bool) -> Split:
        """The split ``load`` returns, before its checks."""

    def score_many(self, outputs: list[str], examples: list[Example]) -> list[float]:
        """Scores in [0, 1] of the student's outputs; a judge scores a whole batch at once."""
        if not self.judged:
            return [self._score(o, e.answer) for o, e in zip(outputs, examples, strict=True)]
        if self.judge is None:
            raise ValueError(f"task {self.name!r} scores with a judge: attach one with "
                             f"wst.tasks.attach_judge(task, config)")
        conversations = [self.student_messages(e, None) for e in examples]
        return self.judge.score_many(conversations, outputs, [e.answer for e in examples])

    def score_answers(self, answers: list[Answer], examples: list[Example]) -> list[float]:
        """Scores of student answers; a failed call scores 0 (and is never judged)."""
        ok = [i for i, a in enumerate(answers) if a.ok]
        scored = self.score_many([answers[i].text for i in ok], [examples[i] for i in ok])
        scores = [0.0] * len(answers)
        for i, score in zip(ok, scored):
            scores[i] = score
        return scores

    def leaks(self, instruction: str | None, example: Example) -> bool:
        """Whether an instruction gives away the reference answer (judged tasks have none)."""
        if not instruction or self.judged:
            return False
        return leaks_answer(instruction, example.answer, example.question)

    def student_messages(
        self, example: Example, instruction: str | None, placement: str = "prefix"
    ) -> list[dict[str, str]]:
        """Chat messages for the student: earlier turns, then the instruction (if any) and
        the question."""
        history = [{"role": role, "content": content} for role, content in example.history]
        if not instruction:
            return history + [{"role": "user", "content": example.question}]
        if placement == "system":
            return [{"role": "system", "content": instruction}, *history,
                    {"role": "user", "content": example.question}]
        return history + [{"role": "user", "content": f"{instruction}\n\n{example.question}"}]

