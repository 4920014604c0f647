"""Interrupted training: a run killed with SIGKILL resumes from its last checkpoint, counts no
step twice, refuses a changed config, and a fresh run never inherits an old checkpoint."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.conftest import ScriptedStudent
from tests.test_train_plumbing import _config, _split
from wst.config import ConfigError
from wst.tasks import load_run_config
from wst.resume import last_checkpoint_step, prepare_run_dir
from wst.tasks.gsm8k import GSM8K
from wst.train import train_teacher

REPO = Path(__file__).resolve().parents[1]

KILLED_RUN = textwrap.dedent("""
    import os, signal, sys
    from tests.conftest import ScriptedStudent
    from tests.test_train_plumbing import _config, _split
    from wst.tasks.gsm8k import GSM8K
    from wst.train import train_teacher

    class DiesInStepFour(ScriptedStudent):
        # Steps 1-3 ask 2 x 4 = 8 requests each; the first request of step 4 kills the run
        # after step 3 was logged and step 2 checkpointed (save_steps = 2).
        def _answer_one(self, messages, sampling):
            if len(self.requests) == 3 * 8:
                os.kill(os.getpid(), signal.SIGKILL)
            return super()._answer_one(messages, sampling)

    config = _config(sys.argv[1], sys.argv[2], steps=5)
    config.train.save_steps = 2
    train_teacher(config, _split(), GSM8K(), DiesInStepFour(parallel=1))
""")


def _steps(path: Path) -> list:
    """The step of each line (of metrics.jsonl: each training step's, not the final summary)."""
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    return [r["step"] for r in rows if "reward" in r or "instruction" in r]


def test_a_killed_run_resumes_and_counts_each_step_once(tmp_path, tiny_teacher):
    run_dir = tmp_path / "run"
    killed = subprocess.run([sys.executable, "-c", KILLED_RUN, str(run_dir), str(tiny_teacher)],
                            cwd=REPO, capture_output=True, text=True, timeout=300)
    assert killed.returncode == -9, killed.stderr[-2000:]
    assert last_checkpoint_step(run_dir) == 2
    assert _steps(run_dir / "metrics.jsonl") == [1, 2, 3]  # step 3 logged, then lost

    config = _config(run_dir, tiny_teacher, steps=5)
    config.train.save_steps = 2
    student = ScriptedStudent()
    train_teacher(config, _split(), GSM8K(), student, resume=True)
    assert _steps(run_dir / "metrics.jsonl") == [1, 2, 3, 4, 5]
    samples = _steps(run_dir / "train_samples.jsonl")
    assert sorted(set(samples)) == [0, 1, 2, 3, 4]
    assert all(samples.count(s) == 8 for s in set(samples))  # 2 questions x 4, once each
    assert len(student.requests) == 3 * 8  # steps 3, 4 and 5 only


def test_resume_refuses_a_run_made_with_another_config(tmp_path):
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    saved = load_run_config(None, ["train.learning_rate=0.001"])
    (run_dir / "config.json").write_text(json.dumps(saved.to_dict()))
    longer = load_run_config(None, ["train.learning_rate=0.001", "train.max_steps=500",
                                "student.max_calls=10"])
    prepare_run_dir(run_dir, longer, resume=True)  # more steps or budget: the same run
    changed = load_run_config(None, ["train.learning_rate=0.002"])
    with pytest.raises(ConfigError, match=r"train\.learning_rate changed"):
        prepare_run_dir(run_dir, changed, resume=True)


def test_a_run_saved_before_a_field_existed_resumes_at_its_default(tmp_path):
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    older = load_run_config().to_dict()
    del older["train"]["gradient_checkpointing"]  # a field added to wst after this run
    (run_dir / "config.json").write_text(json.dumps(older))
    prepare_run_dir(run_dir, load_run_config(), resume=True)
    with pytest.raises(ConfigError, match=r"train\.gradient_checkpointing changed"):
        prepare_run_dir(run_dir, load_run_config(None, ["train.gradient_checkpointing=true"]),
                        resume=True)


def test_a_fresh_run_removes_an_earlier_runs_checkpoints_and_logs(tmp_path):
    run_dir = tmp_path / "run"
    (run_dir / "checkpoints" / "checkpoint-4").mkdir(parents=True)
    (run_dir / "metrics.jsonl").write_text('{"step": 1}\n')
    prepare_run_dir(run_dir, load_run_config(None), resume=False)
    assert last_checkpoint_step(run_dir) is None
    assert not (run_dir / "metrics.jsonl").exists()
