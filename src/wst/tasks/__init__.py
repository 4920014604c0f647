"""Task registry: ``get_task(name, config)`` returns the task a config names."""

from __future__ import annotations

from wst.config import TaskConfig
from wst.tasks.base import DatasetError, Example, Split, Task
from wst.tasks.file import FileTask
from wst.tasks.gsm8k import GSM8K
from wst.tasks.math500 import MATH500

TASKS: dict[str, type[Task]] = {t.name: t for t in (GSM8K, MATH500, FileTask)}


def get_task(name: str, config: TaskConfig | None = None) -> Task:
    """The task ``name``, scoring as ``config`` says (``task.scorer``; default: its own)."""
    if name not in TASKS:
        raise KeyError(f"unknown task {name!r}; registered tasks: {', '.join(TASKS)}")
    return TASKS[name](config)


__all__ = ["DatasetError", "Example", "Split", "Task", "TASKS", "get_task"]
