"""The teacher behind the server: one worker thread, waiting questions batched."""

from __future__ import annotations

import queue
import threading
from concurrent.futures import Future
from typing import Protocol


class Instructor(Protocol):
    """What the server needs of a teacher (``wst.teacher.TeacherInstructor``, or a test fake).
    A teacher that also has ``instruct_many(questions) -> list[str]`` gets waiting requests
    in batches."""

    def instruct(self, question: str) -> str: ...


class TeacherQueue:
    """The teacher on one worker thread: one ``generate`` at a time, and the questions that
    arrive while it runs are answered together by the next call (up to ``batch``, when the
    teacher has ``instruct_many``). ``submit`` returns a Future; cancelling it before its
    batch starts takes the question out of the queue."""

    def __init__(self, teacher: Instructor, batch: int = 8):
        self.teacher = teacher
        self.batch = batch if hasattr(teacher, "instruct_many") else 1
        self._queue: queue.SimpleQueue[tuple[str, Future] | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._work, daemon=True, name="wst-teacher")
        self._thread.start()

    def submit(self, question: str) -> Future:
        future: Future = Future()
        self._queue.put((question, future))
        return future

    def close(self) -> None:
        self._queue.put(None)

    def _work(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            items = [item]
            while len(items) < self.batch:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is None:
                    self._queue.put(None)  # stop after this batch
                    break
                items.append(item)
            live = [(q, f) for q, f in items if f.set_running_or_notify_cancel()]
            if not live:
                continue
            try:
                if len(live) == 1:
                    results = [self.teacher.instruct(live[0][0])]
                else:
                    many = self.teacher.instruct_many  # type: ignore[attr-defined]
                    results = list(many([q for q, _ in live]))
                if len(results) != len(live):
                    raise RuntimeError(f"the teacher gave {len(results)} instructions for "
                                       f"{len(live)} questions")
            except Exception as exc:  # every waiting request goes on without instruction
                for _, future in live:
                    future.set_exception(exc)
            else:
                for (_, future), result in zip(live, results):
                    future.set_result(result)
