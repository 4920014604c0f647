"""Task registry: ``get_task(name, config)`` returns the task a config names; a judge-scored
one gets its judge from ``attach_judge``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from wst.config import ConfigError, RunConfig, TaskConfig, load_config, read_toml
from wst.scoring import scorer_problem
from wst.tasks.base import DatasetError, Example, Split, Task
from wst.tasks.file import FileTask
from wst.tasks.files import DATA_SUFFIXES
from wst.tasks.gsm8k import GSM8K
from wst.tasks.hh_rlhf import HHRLHF
from wst.tasks.math500 import MATH500
from wst.tasks.reasoning_mix import ReasoningMix

TASKS: dict[str, type[Task]] = {t.name: t for t in (GSM8K, MATH500, HHRLHF, ReasoningMix, FileTask)}


def get_task(name: str, config: TaskConfig | None = None) -> Task:
    """The task ``name``, scoring as ``config`` says (``task.scorer``; default: its own), with
    no judge attached (``attach_judge`` attaches one)."""
    if name not in TASKS:
        raise KeyError(f"unknown task {name!r}; registered tasks: {', '.join(TASKS)}")
    return TASKS[name](config)


def resolve_config(config: RunConfig) -> RunConfig:
    """Check ``config`` against the task it names and fill what it left to the task: an
    empty ``teacher.meta_prompt`` and ``eval.fixed_instruction`` get the task's own."""
    task = TASKS.get(config.task.name)
    if task is None:
        raise ConfigError(f"task.name: unknown task {config.task.name!r}; "
                          f"registered tasks: {', '.join(TASKS)}")
    config.teacher.meta_prompt = config.teacher.meta_prompt or task.meta_prompt
    config.eval.fixed_instruction = config.eval.fixed_instruction or task.fixed_instruction
    if config.task.scorer or config.task.answer_pattern:
        problem = scorer_problem(config.task.scorer or task.default_scorer,
                                 config.task.answer_pattern)
        if problem:
            raise ConfigError(problem)
    return config


def load_run_config(path: str | Path | None = None, overrides: list[str] | None = None,
                    task: str | None = None) -> RunConfig:
    """A config ready to run: defaults, then the TOML file at ``path``, then ``task`` (a
    registered task name or a task file, see ``load_task_file``), then ``section.field=value``
    overrides (``wst.config.load_config``); then ``resolve_config``."""
    if task is None:
        table = None
    elif task.endswith(".toml") or Path(task).is_file():
        table = load_task_file(task)
    else:
        table = {"name": task}
    return resolve_config(load_config(path, overrides, table, task_where=task or ""))


def load_task_file(path: str | Path) -> dict[str, Any]:
    """The ``[task]`` table of a TOML task file: TaskConfig fields, so that a new data set
    needs no code. A relative ``source`` that names a file or folder beside the TOML (or a
    data file name) is resolved against the TOML's folder; hub names are left as they are.

    ``examples.toml``::

        [task]
        name = "file"
        source = "examples.csv"   # fields question, answer (see question_field, answer_field)
        scorer = "exact"
    """
    path = Path(path)
    data = read_toml(path, "task file")
    if set(data) != {"task"} or not isinstance(data["task"], dict):
        raise ConfigError(f"{path}: a task file holds one [task] table and nothing else "
                          f"(found {sorted(data)}); a whole run config goes to --config")
    table = dict(data["task"])
    source = table.get("source")
    if isinstance(source, str) and source != "embedded" and not Path(source).is_absolute():
        beside = path.resolve().parent / source
        if beside.exists() or Path(source).suffix in DATA_SUFFIXES:
            table["source"] = str(beside)
    return table


def attach_judge(task: Task, config: RunConfig) -> Task:
    """Give a judge-scored task the judge ``config.judge`` names (its model loads here;
    ``task.judge.close()`` releases it); other tasks are returned as they are."""
    if task.judged and task.judge is None:
        from wst.judges import make_judge

        task.judge = make_judge(config)
    return task


__all__ = ["DatasetError", "Example", "Split", "Task", "TASKS", "attach_judge", "get_task",
           "load_run_config", "load_task_file", "resolve_config"]
