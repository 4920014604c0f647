"""The task interface: examples, how the student sees them, and how its answer is scored."""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from wst.config import TaskConfig
from wst.scoring import get_scorer


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


@dataclass
class Split:
    """Training pool and held-out test items, with what is needed to reproduce the split."""

    train: list[Example]
    test: list[Example]
    info: dict[str, Any] = field(default_factory=dict)

    def save(self, path: Path) -> None:
        data = {**self.info, "n_train": len(self.train), "test_ids": [e.id for e in self.test]}
        path.write_text(json.dumps(data, indent=2))


class Task(ABC):
    """A benchmark: load a split, build the student's messages, score an answer."""

    name: str
    description: str = ""
    """One line for ``wst tasks``."""
    default_scorer: str = "math"
    """Scorer (``wst.scoring.SCORERS``) used when ``task.scorer`` is empty."""

    def __init__(self, config: TaskConfig | None = None) -> None:
        config = config or TaskConfig(name=self.name)
        self.scorer = config.scorer or self.default_scorer
        self._score = get_scorer(self.scorer, config.answer_pattern)

    @abstractmethod
    def load(self, config: TaskConfig, with_train: bool = True) -> Split:
        """Return the train pool (empty unless ``with_train``) and test items for this config."""

    def score(self, output: str, example: Example) -> float:
        """Score of the student's output against the example, in [0, 1]."""
        return self._score(output, example.answer)

    def student_messages(
        self, example: Example, instruction: str | None, placement: str = "prefix"
    ) -> list[dict[str, str]]:
        """Chat messages for the student: the instruction (if any) and the question."""
        if not instruction:
            return [{"role": "user", "content": example.question}]
        if placement == "system":
            return [
                {"role": "system", "content": instruction},
                {"role": "user", "content": example.question},
            ]
        return [{"role": "user", "content": f"{instruction}\n\n{example.question}"}]

