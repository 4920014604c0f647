"""The ``best_fixed`` baseline: the best single instruction a user could find by searching.

A per-query teacher is only worth its cost if it beats one good prompt. This searches a set of
candidate instructions (the task's fixed one, hand-written variants, and one task-level
instruction written by each configured writer: the student and the untrained teacher) on the
*validation* items, keeps the one with the best mean score, and hands it to the evaluation,
which runs it once on the held-out items like any other condition. The search never sees a
held-out item. The writers are shown a few of the validation questions they are then scored
on, a small in-sample edge for their candidates in the search (the held-out score of the pick
is unaffected); a weak writer may also restate a shown question instead of writing a
task-level instruction (the GSM8K search's student did), which the report's candidate table
shows.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Callable

from wst.config import RunConfig
from wst.stats import mean_interval
from wst.students import Sampling, Student
from wst.tasks import Example, Task
from wst.teacher import clean_instruction, teacher_messages

log = logging.getLogger(__name__)

WRITER_PROMPT = (
    "Here are example questions of one task:\n\n{question}\n\n"
    "Write one short instruction (one or two sentences) that, put in front of any question of "
    "this task, helps an assistant answer it well. Reply with the instruction only."
)
"""What a writer is asked; ``{question}`` becomes a numbered list of validation questions."""


@dataclass(frozen=True)
class Candidate:
    """One instruction tried by the search, with its mean validation score."""

    name: str
    source: str
    """``fixed`` (the task's), ``hand-written`` (``eval.best_fixed_candidates`` or the task's
    variants), ``student`` or ``teacher`` (written by that model)."""
    instruction: str
    score: float = float("nan")
    ci_low: float = float("nan")
    ci_high: float = float("nan")


@dataclass(frozen=True)
class Search:
    """The candidates in the order tried, their validation n, and the pick."""

    n: int
    candidates: list[Candidate]
    pick: str
    """Name of the best candidate (the first of the best where several tie)."""

    @property
    def instruction(self) -> str:
        return next(c.instruction for c in self.candidates if c.name == self.pick)


TeacherWriter = Callable[[str, list[str]], list[str | None]]
"""(meta prompt, questions) -> the untrained teacher's instruction for each question."""


def writer_block(examples: list[Example]) -> str:
    """The validation questions a writer is shown, numbered."""
    return "\n".join(f"{k}. {e.question}" for k, e in enumerate(examples, 1))


def candidates(config: RunConfig, task: Task, student: Student, shown: list[Example],
               teacher_writer: TeacherWriter) -> list[Candidate]:
    """Every candidate instruction, without scores: fixed first, then hand-written, then one
    from each writer of ``eval.best_fixed_writers`` (a writer that returns nothing usable is
    left out with a warning). A duplicate of an earlier candidate is dropped with a warning
    (a choosing teacher writes one of its menu entries; a teacher on the student's own base
    model, greedy, writes what the student wrote)."""
    found = [Candidate("fixed", "fixed", config.eval.fixed_instruction)]
    hand = config.eval.best_fixed_candidates or list(task.fixed_variants)
    found += [Candidate(f"hand-{k}", "hand-written", text) for k, text in enumerate(hand, 1)]
    block = writer_block(shown)
    for writer in config.eval.best_fixed_writers:
        if writer == "student":
            sampling = Sampling(max_tokens=config.eval.best_fixed_writer_tokens,
                                temperature=0.0, seed=config.student.seed)
            reply = student.answer([teacher_messages(WRITER_PROMPT, block)], sampling)[0]
            text = clean_instruction(reply.text) if reply.ok else ""
        else:
            text = clean_instruction(teacher_writer(WRITER_PROMPT, [block])[0] or "")
        if text:
            found.append(Candidate(f"{writer}-written", writer, text))
        else:
            log.warning("best_fixed: the %s wrote no instruction; it is not a candidate", writer)
    unique: dict[str, Candidate] = {}
    for c in found:
        first = unique.setdefault(c.instruction.strip(), c)
        if first is not c:
            log.warning("best_fixed: %s is the same instruction as %s; it is tried once, as %s",
                        c.name, first.name, first.name)
    return list(unique.values())


def search(config: RunConfig, task: Task, student: Student, validation: list[Example],
           teacher_writer: TeacherWriter) -> Search:
    """Score every candidate on ``validation`` with ``student`` (as evaluation asks it) and
    pick the best mean score."""
    if not validation:
        raise ValueError("best_fixed needs validation items: set task.validation_templates "
                         "(GSM8K) or task.validation_items")
    shown = validation[: config.eval.best_fixed_examples]
    placement = config.student.instruction_placement
    scored = []
    for c in candidates(config, task, student, shown, teacher_writer):
        answers = student.answer([task.student_messages(e, c.instruction, placement)
                                  for e in validation])
        iv = mean_interval(task.score_answers(answers, validation))
        scored.append(Candidate(c.name, c.source, c.instruction, iv.value, iv.low, iv.high))
        log.info("best_fixed: %s scores %.3f on %d validation items", c.name, iv.value,
                 len(validation))
    best = max(scored, key=lambda c: c.score)  # max keeps the first of equal scores
    return Search(n=len(validation), candidates=scored, pick=best.name)
