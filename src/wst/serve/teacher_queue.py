"""The teacher behind the server: one worker thread, a bounded queue, waiting questions batched."""

from __future__ import annotations

import inspect
import threading
from collections import deque
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Protocol


class Instructor(Protocol):
    """What the server needs of a teacher (``wst.teacher.TeacherInstructor``, or a test fake).

    A teacher that also has ``instruct_many(questions) -> list[str]`` gets waiting requests in
    batches; when that method also takes ``should_stop`` (a callable), it should end its
    generation early once ``should_stop()`` is true: every request of the batch gave up."""

    def instruct(self, question: str) -> str: ...


class TeacherBusy(RuntimeError):
    """The teacher's queue is full; the request goes on without an instruction."""


@dataclass(eq=False)
class Job:
    """One question for the teacher and the Future of its instruction."""

    question: str
    future: Future = field(default_factory=Future)
    abandoned: bool = False
    """Its request stopped waiting (timed out or went away)."""

    def abandon(self) -> None:
        """Give up on the instruction: a queued job leaves the queue, and a running
        generation stops once every job in it is abandoned. Harmless once answered."""
        self.abandoned = True
        self.future.cancel()


class TeacherQueue:
    """The teacher on one worker thread: one ``generate`` at a time, and the questions that
    arrive while it runs are answered together by the next call (up to ``batch``, when the
    teacher has ``instruct_many``). At most ``limit`` questions wait (``submit`` raises
    TeacherBusy beyond), so a burst cannot pile up work the timeout would discard anyway."""

    def __init__(self, teacher: Instructor, batch: int = 8, limit: int = 32):
        self.teacher = teacher
        self._many = getattr(teacher, "instruct_many", None)
        self.batch = batch if self._many is not None else 1
        self.limit = limit
        self._stoppable = self._many is not None and (
            "should_stop" in inspect.signature(self._many).parameters)
        self._waiting: deque[Job] = deque()
        self._changed = threading.Condition()
        self._closed = False
        self._thread = threading.Thread(target=self._work, daemon=True, name="wst-teacher")
        self._thread.start()

    @property
    def waiting(self) -> int:
        """Questions in the queue (not yet in a ``generate``)."""
        with self._changed:
            self._drop_abandoned()
            return len(self._waiting)

    def submit(self, question: str) -> Job:
        """Queue ``question``; TeacherBusy when ``limit`` questions already wait."""
        job = Job(question)
        with self._changed:
            self._drop_abandoned()
            if len(self._waiting) >= self.limit:
                raise TeacherBusy(f"{self.limit} questions already wait for the teacher")
            self._waiting.append(job)
            self._changed.notify()
        return job

    def close(self) -> None:
        """Stop the worker once the questions already queued are answered."""
        with self._changed:
            self._closed = True
            self._changed.notify()

    def _drop_abandoned(self) -> None:
        if any(job.abandoned for job in self._waiting):
            self._waiting = deque(job for job in self._waiting if not job.abandoned)

    def _next_batch(self) -> list[Job] | None:
        """Up to ``batch`` queued jobs, waiting for the first; None once closed and empty."""
        with self._changed:
            while True:
                self._drop_abandoned()
                if self._waiting:
                    count = min(self.batch, len(self._waiting))
                    return [self._waiting.popleft() for _ in range(count)]
                if self._closed:
                    return None
                self._changed.wait()

    def _work(self) -> None:
        while (jobs := self._next_batch()) is not None:
            live = [job for job in jobs if job.future.set_running_or_notify_cancel()]
            if live:
                self._answer(live)

    def _answer(self, jobs: list[Job]) -> None:
        try:
            results = self._instructions(jobs)
            if len(results) != len(jobs):
                raise RuntimeError(f"the teacher gave {len(results)} instructions for "
                                   f"{len(jobs)} questions")
        except Exception as exc:  # every waiting request goes on without instruction
            for job in jobs:
                job.future.set_exception(exc)
        else:
            for job, result in zip(jobs, results):
                job.future.set_result(result)

    def _instructions(self, jobs: list[Job]) -> list[str]:
        questions = [job.question for job in jobs]
        if self._many is None:
            return [self.teacher.instruct(questions[0])]
        if self._stoppable:
            return list(self._many(questions,
                                   should_stop=lambda: all(job.abandoned for job in jobs)))
        return list(self._many(questions))
