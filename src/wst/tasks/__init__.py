"""Task registry: ``get_task(name)`` returns the task a config names."""

from __future__ import annotations

from wst.tasks.base import DatasetError, Example, Split, Task
from wst.tasks.gsm8k import GSM8K

TASKS: dict[str, type[Task]] = {GSM8K.name: GSM8K}


def get_task(name: str) -> Task:
    if name not in TASKS:
        raise KeyError(f"unknown task {name!r}; registered tasks: {', '.join(TASKS)}")
    return TASKS[name]()


__all__ = ["DatasetError", "Example", "Split", "Task", "TASKS", "get_task"]
