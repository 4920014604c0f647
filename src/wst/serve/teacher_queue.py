"""The teacher behind the server: one worker thread, a bounded queue, waiting questions batched."""

from __future__ import annotations

import inspect
import logging
import threading
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import NamedTuple, Protocol

log = logging.getLogger("wst.serve")


class Instructor(Protocol):
    """What the server needs of a teacher (``wst.teacher.TeacherInstructor``, or a test fake).

    A teacher that also has ``instruct_many(questions) -> list[str]`` gets waiting requests in
    batches; when that method also takes ``should_stop`` (a callable), it should end its
    generation early once ``should_stop()`` is true: every request of the batch gave up. One
    with ``close()`` is closed once ``TeacherQueue.swap`` replaced it."""

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
    teacher: str | None = None
    """The version of the teacher that took the job (set when its batch starts), so that a
    request answered across a ``TeacherQueue.swap`` is logged under the teacher that wrote
    its instruction."""

    def abandon(self) -> None:
        """Give up on the instruction: a queued job leaves the queue, and a running
        generation stops once every job in it is abandoned. Harmless once answered."""
        self.abandoned = True
        self.future.cancel()


@dataclass(frozen=True)
class _Served:
    """A teacher, its version and how the worker calls it, read together under the lock for
    each batch: a swap never mixes two teachers in one call."""

    teacher: Instructor
    version: str
    many: Callable[..., list[str]] | None
    stoppable: bool

    @classmethod
    def of(cls, teacher: Instructor, version: str) -> _Served:
        many = getattr(teacher, "instruct_many", None)
        stoppable = many is not None and "should_stop" in inspect.signature(many).parameters
        return cls(teacher, version, many, stoppable)


class _Work(NamedTuple):
    """The worker's next step: close ``retired`` (teachers swapped out: none of their batches
    runs any more), then answer ``jobs`` (maybe none) with ``served``."""

    served: _Served
    jobs: list[Job]
    retired: list[Instructor]


class TeacherQueue:
    """The teacher on one worker thread: one ``generate`` at a time, and the questions that
    arrive while it runs are answered together by the next call (up to ``batch``, when the
    teacher has ``instruct_many``). At most ``limit`` questions wait (``submit`` raises
    TeacherBusy beyond), so a burst cannot pile up work the timeout would discard anyway.
    ``version`` names the teacher (``traffic.teacher_version``); ``swap`` replaces it."""

    def __init__(self, teacher: Instructor, batch: int = 8, limit: int = 32, version: str = ""):
        self.limit = limit
        self._max_batch = batch
        self._served = _Served.of(teacher, version)
        self._retired: list[Instructor] = []
        self._waiting: deque[Job] = deque()
        self._changed = threading.Condition()
        self._closed = False
        self._thread = threading.Thread(target=self._work, daemon=True, name="wst-teacher")
        self._thread.start()

    @property
    def teacher(self) -> Instructor:
        """The teacher that answers the next batch."""
        return self._served.teacher

    @property
    def version(self) -> str:
        """Its version, as given to ``__init__`` or ``swap``."""
        return self._served.version

    @property
    def batch(self) -> int:
        """Questions per teacher call: 1 for a teacher without ``instruct_many``."""
        return self._max_batch if self._served.many is not None else 1

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

    def swap(self, teacher: Instructor, version: str = "") -> str:
        """Serve ``teacher`` from the next batch on and return the previous version.

        A batch already generating finishes on the old teacher and the queued questions go to
        the new one, so no request is lost or failed by the swap. The old teacher is closed
        (when it has ``close``) once that batch is done: its memory is freed at once rather
        than whenever the garbage collector gets to it."""
        served = _Served.of(teacher, version)
        with self._changed:
            previous, self._served = self._served, served
            if previous.teacher is not teacher:
                self._retired.append(previous.teacher)
            self._changed.notify()
        return previous.version

    def close(self) -> None:
        """Stop the worker once the questions already queued are answered."""
        with self._changed:
            self._closed = True
            self._changed.notify()

    def _drop_abandoned(self) -> None:
        if any(job.abandoned for job in self._waiting):
            self._waiting = deque(job for job in self._waiting if not job.abandoned)

    def _next_work(self) -> _Work | None:
        """Up to ``batch`` queued jobs and the teacher to answer them, plus the teachers
        swapped out meanwhile, waiting for either; None once closed and empty."""
        with self._changed:
            while True:
                self._drop_abandoned()
                if self._waiting or self._retired:
                    count = min(self.batch, len(self._waiting))
                    jobs = [self._waiting.popleft() for _ in range(count)]
                    retired, self._retired = self._retired, []
                    return _Work(self._served, jobs, retired)
                if self._closed:
                    return None
                self._changed.wait()

    def _work(self) -> None:
        while (work := self._next_work()) is not None:
            for teacher in work.retired:
                _close(teacher)
            live = [job for job in work.jobs if job.future.set_running_or_notify_cancel()]
            for job in live:
                job.teacher = work.served.version
            if live:
                self._answer(work.served, live)

    def _answer(self, served: _Served, jobs: list[Job]) -> None:
        try:
            results = _instructions(served, jobs)
            if len(results) != len(jobs):
                raise RuntimeError(f"the teacher gave {len(results)} instructions for "
                                   f"{len(jobs)} questions")
        except Exception as exc:  # every waiting request goes on without instruction
            for job in jobs:
                job.future.set_exception(exc)
        else:
            for job, result in zip(jobs, results):
                job.future.set_result(result)


def _instructions(served: _Served, jobs: list[Job]) -> list[str]:
    questions = [job.question for job in jobs]
    if served.many is None:
        return [served.teacher.instruct(questions[0])]
    if served.stoppable:
        return list(served.many(questions,
                                should_stop=lambda: all(job.abandoned for job in jobs)))
    return list(served.many(questions))


def _close(teacher: Instructor) -> None:
    """Close a swapped-out teacher; a failure is logged, the worker goes on serving."""
    close = getattr(teacher, "close", None)
    if close is None:
        return
    try:
        close()
    except Exception as exc:
        log.warning("closing the replaced teacher failed: %s: %s", type(exc).__name__, exc)
