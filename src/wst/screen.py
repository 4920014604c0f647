"""Screening: find the training questions on which instructions make a difference.

GRPO learns only from groups whose rewards differ. A question the student always solves, or
never solves, whatever the instruction, gives every instruction of its group the same reward,
so the student calls spent on it teach nothing (70% of groups in the first GSM8K runs). Before
training, each screened question is asked with no instruction and with a few instructions
sampled from the untrained teacher, with the same student settings the reward uses; only
questions with mixed outcomes are trained on. Greedy answers land in the student cache, so a
training rollout that repeats a screened (instruction, question) pair costs nothing.

The screen is written to ``RUN/screen.jsonl`` (one line per question: outcomes, instructions,
kept or why not) and read back on ``--resume`` instead of being redone.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import torch

from wst.fileio import atomic_write_text
from wst.students import Sampling, Student
from wst.tasks import Example, Task
from wst.teacher import write_instructions

log = logging.getLogger(__name__)

SCREEN_FILE = "screen.jsonl"


@dataclass(frozen=True)
class ScreenedQuestion:
    """One question's outcomes under no instruction and the sampled instructions."""

    id: str
    instructions: list[str | None]
    scores: list[float]

    @property
    def verdict(self) -> str:
        """``kept`` (outcomes differ), ``all_right`` or ``all_wrong``."""
        if len(set(self.scores)) > 1:
            return "kept"
        return "all_right" if self.scores[0] >= 1.0 else "all_wrong"


def screen(examples: list[Example], task: Task, student: Student, sampling: Sampling,
           write: Callable[[list[str]], list[str]], placement: str) -> list[ScreenedQuestion]:
    """Outcomes of each example with no instruction and with the instructions ``write``
    returns for its question (``write`` maps questions to a flat, question-major list)."""
    written = write([e.question for e in examples])
    per_question = len(written) // max(1, len(examples))
    rows: list[tuple[Example, str | None]] = []
    for k, example in enumerate(examples):
        own = written[k * per_question:(k + 1) * per_question]
        rows += [(example, None)] + [(example, ins) for ins in own]
    answers = student.answer([task.student_messages(e, i, placement) for e, i in rows], sampling)
    scores = task.score_answers(answers, [e for e, _ in rows])
    size = per_question + 1
    return [
        ScreenedQuestion(example.id, [i for _, i in rows[k * size:(k + 1) * size]],
                         scores[k * size:(k + 1) * size])
        for k, example in enumerate(examples)
    ]


def summary(screened: list[ScreenedQuestion]) -> dict[str, int]:
    """How many questions were screened, kept, and left out for each reason."""
    verdicts = [q.verdict for q in screened]
    return {"screened": len(screened), **{v: verdicts.count(v)
                                          for v in ("kept", "all_right", "all_wrong")}}


def save(screened: list[ScreenedQuestion], path: Path) -> None:
    lines = [json.dumps({"id": q.id, "verdict": q.verdict, "scores": q.scores,
                         "instructions": q.instructions}) for q in screened]
    atomic_write_text(path, "\n".join(lines) + "\n")


def load(path: Path) -> list[ScreenedQuestion]:
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return [ScreenedQuestion(r["id"], r["instructions"], r["scores"]) for r in rows]


def screened_pool(pool: list[Example], task: Task, student: Student, sampling: Sampling,
                  teacher: tuple[Any, Any], settings: Any, prompting: Any, placement: str,
                  run_dir: Path, resume: bool) -> list[Example]:
    """The training questions to train on: the screened ones with mixed outcomes.

    ``settings`` is the TrainConfig (``screen_questions``, ``screen_instructions``,
    ``temperature``, ``seed``), ``prompting`` the TeacherConfig (``meta_prompt``,
    ``max_instruction_tokens``, ``instruction_start``, ``choices``, ``choice_instructions``).
    Falls back to the whole pool, with a warning, when fewer questions survive than one step
    needs.
    """
    path = run_dir / SCREEN_FILE
    candidates = pool[:settings.screen_questions] if settings.screen_questions else pool
    if resume and path.exists():
        screened = load(path)
        log.info("screen: reusing %s", path)
    else:
        model, tokenizer = teacher
        torch.manual_seed(settings.seed)

        def write(questions: list[str]) -> list[str]:
            return write_instructions(model, tokenizer, questions, prompting.meta_prompt,
                                      prompting.max_instruction_tokens, batch_size=8,
                                      samples=settings.screen_instructions,
                                      temperature=settings.temperature,
                                      instruction_start=prompting.instruction_start,
                                      choices=prompting.choices,
                                      choice_instructions=prompting.choice_instructions)

        log.info("screen: %d questions x (no instruction + %d sampled instruction(s)) -> %d "
                 "student calls", len(candidates), settings.screen_instructions,
                 len(candidates) * (1 + settings.screen_instructions))
        screened = screen(candidates, task, student, sampling, write, placement)
        save(screened, path)
    counts = summary(screened)
    log.info("screen: %(kept)d of %(screened)d questions kept (%(all_right)d always right, "
             "%(all_wrong)d always wrong)", counts)
    kept_ids = {q.id for q in screened if q.verdict == "kept"}
    kept = [e for e in pool if e.id in kept_ids]
    if len(kept) < settings.questions_per_step:
        log.warning("screen kept %d questions, fewer than one step needs (%d): training on the "
                    "whole pool", len(kept), settings.questions_per_step)
        return pool
    return kept
