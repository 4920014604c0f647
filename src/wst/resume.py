"""A run folder that an interruption cannot corrupt: fresh runs start clean, resumed runs
continue the same experiment from their last checkpoint and count no step twice.

``wst train`` can be killed at any moment (SIGKILL included). The checkpoint it resumes from
was saved after some step N, but ``metrics.jsonl`` and ``train_samples.jsonl`` may already hold
lines of the steps after N, which will be run again: those lines are dropped on resume.
"""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path
from typing import Any

from wst.config import ConfigError, RunConfig
from wst.fileio import atomic_write_text

log = logging.getLogger(__name__)

CHECKPOINTS = "checkpoints"
VALIDATION = "validation"
"""Teachers saved at validation checks (``wst.train.ValidationScore``)."""
LOGS = ("metrics.jsonl", "train_samples.jsonl")

RESUMABLE_CHANGES = {
    "train.max_steps", "train.save_steps", "train.validation_steps", "student.max_calls",
    "student.max_total_tokens", "student.max_cost", "student.prices", "student.parallel",
    "student.threads", "student.timeout_s", "student.max_retries", "student.cache",
    "student.base_url", "student.api_key_env",
}
"""Fields a resumed run may change: how long it runs and how it reaches the student, not
what it learns from."""

COMPARED_SECTIONS = ("task", "teacher", "student", "train")


def last_checkpoint_step(run_dir: Path) -> int | None:
    """Step of the newest ``checkpoint-N`` folder, or None."""
    folder = run_dir / CHECKPOINTS
    steps = [int(p.name.split("-")[1]) for p in folder.glob("checkpoint-*")
             if p.name.split("-")[1].isdigit()] if folder.is_dir() else []
    return max(steps) if steps else None


def config_changes(saved: dict[str, Any], config: RunConfig) -> list[str]:
    """Fields (``section.field``) whose value differs from the saved run's, other than
    ``RESUMABLE_CHANGES``. A field the saved run did not have yet (it was added to wst
    since) counts as its default, so a newer wst resumes an older run."""
    current, defaults = config.to_dict(), RunConfig().to_dict()
    changed = []
    for section in COMPARED_SECTIONS:
        was = {**defaults[section], **saved.get(section, {})}
        changed += [f"{section}.{name}" for name in sorted(set(was) | set(current[section]))
                    if f"{section}.{name}" not in RESUMABLE_CHANGES
                    and was.get(name) != current[section].get(name)]
    return changed


def prepare_run_dir(run_dir: Path, config: RunConfig, resume: bool) -> None:
    """Make ``run_dir`` ready for ``train_teacher``.

    Fresh run: remove an earlier run's checkpoints and step logs, so that a later
    ``--resume`` can never continue from them. Resume: refuse a config that changed what is
    learned; drop log lines of steps after the last checkpoint (they will run again).
    """
    saved_path = run_dir / "config.json"
    if resume and saved_path.exists():
        changed = config_changes(json.loads(saved_path.read_text()), config)
        if changed:
            raise ConfigError(f"--resume: {run_dir} was trained with a different config "
                              f"({', '.join(changed)} changed); resume with the same config, "
                              f"or start a fresh run in another --output folder")
    if not resume:
        _remove_earlier_run(run_dir)
    else:
        _truncate_logs(run_dir, last_checkpoint_step(run_dir) or 0)


def _remove_earlier_run(run_dir: Path) -> None:
    for folder in (CHECKPOINTS, VALIDATION):
        if (run_dir / folder).is_dir():
            log.warning("fresh run: removing the earlier run's %s in %s (use --resume to "
                        "continue it instead)", folder, run_dir / folder)
            shutil.rmtree(run_dir / folder)
    for name in LOGS:
        (run_dir / name).unlink(missing_ok=True)


def _truncate_logs(run_dir: Path, step: int) -> None:
    """Keep metrics of steps up to ``step`` and samples generated before it (a sample's
    ``step`` is the number of steps completed when it was generated)."""
    for name, keep in (("metrics.jsonl", lambda s: s <= step),
                       (f"{VALIDATION}/scores.jsonl", lambda s: s <= step),
                       ("train_samples.jsonl", lambda s: s is None or s < step)):
        path = run_dir / name
        if not path.exists():
            continue
        lines = path.read_text().splitlines()
        kept = [line for line in lines if line.strip() and keep(json.loads(line).get("step"))]
        if len(kept) < len(lines):
            log.info("resume from step %d: dropping %d lines of later steps from %s", step,
                     len(lines) - len(kept), name)
            atomic_write_text(path, "".join(line + "\n" for line in kept))
