"""Task registry: ``get_task(name, config)`` returns the task a config names; a judge-scored
one gets its judge from ``attach_judge``."""

from __future__ import annotations

from wst.config import RunConfig, TaskConfig
from wst.tasks.base import DatasetError, Example, Split, Task
from wst.tasks.file import FileTask
from wst.tasks.gsm8k import GSM8K
from wst.tasks.hh_rlhf import HHRLHF
from wst.tasks.math500 import MATH500

TASKS: dict[str, type[Task]] = {t.name: t for t in (GSM8K, MATH500, HHRLHF, FileTask)}


def get_task(name: str, config: TaskConfig | None = None) -> Task:
    """The task ``name``, scoring as ``config`` says (``task.scorer``; default: its own), with
    no judge attached (``attach_judge`` attaches one)."""
    if name not in TASKS:
        raise KeyError(f"unknown task {name!r}; registered tasks: {', '.join(TASKS)}")
    return TASKS[name](config)


def attach_judge(task: Task, config: RunConfig) -> Task:
    """Give a judge-scored task the judge ``config.judge`` names (its model loads here;
    ``task.judge.close()`` releases it); other tasks are returned as they are."""
    if task.judged and task.judge is None:
        from wst.judges import make_judge

        task.judge = make_judge(config)
    return task


__all__ = ["DatasetError", "Example", "Split", "Task", "TASKS", "attach_judge", "get_task"]
