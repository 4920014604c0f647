"""The `wst` command: help texts, config errors, and `instruct` on a tiny teacher."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from wst.cli import app

runner = CliRunner()


def test_every_command_has_help():
    for command in ("train", "eval", "instruct", "demo"):
        result = runner.invoke(app, [command, "--help"])
        assert result.exit_code == 0, result.output
        assert "--set" in result.output


def test_unknown_config_field_is_a_clear_usage_error(tmp_path):
    result = runner.invoke(app, ["train", "--output", str(tmp_path), "--set", "train.max_stpes=3"])
    assert result.exit_code != 0
    assert "max_stpes" in result.output


def test_instruct_prints_the_teacher_instruction(tiny_teacher):
    result = runner.invoke(app, ["instruct", "What is 3 + 4?", "--set",
                                 f"teacher.model={tiny_teacher}", "--set",
                                 "teacher.max_instruction_tokens=4"])
    assert result.exit_code == 0, result.output
    assert "instruction:" in result.output


def test_instruct_answer_with_a_missing_student_is_one_line(tiny_teacher, tmp_path):
    result = runner.invoke(app, ["instruct", "What is 3 + 4?", "--answer", "--student",
                                 str(tmp_path / "no.gguf"), "--set",
                                 f"teacher.model={tiny_teacher}", "--set",
                                 "teacher.max_instruction_tokens=4"])
    assert result.exit_code == 1
    assert "instruction:" in result.output and "no.gguf: no such file" in result.output
    assert "Traceback" not in result.output


def test_instruct_with_a_missing_hub_teacher_is_one_line(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    result = runner.invoke(app, ["instruct", "What is 3 + 4?", "--set",
                                 "teacher.model=nobody/no-such-teacher"])
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "teacher nobody/no-such-teacher:" in result.output


def test_demo_trains_only_when_it_evaluates_a_trained_teacher(monkeypatch, tmp_path):
    """`wst demo` shows the shipped teacher without training; a config that evaluates
    teacher_trained (configs/demo_train.toml) trains first; --steps without training is an
    error, not silently ignored."""
    import contextlib

    import wst.cli
    import wst.train

    calls: list[str] = []

    @contextlib.contextmanager
    def session(config, with_train=True):
        calls.append(f"session train={with_train}")
        yield None, None, None

    monkeypatch.setattr(wst.cli, "_session", session)
    monkeypatch.setattr(wst.train, "train_teacher", lambda *a: calls.append("train") or "adapter")
    monkeypatch.setattr(wst.cli, "_evaluate",
                        lambda cfg, adapter, *a: calls.append(f"eval {adapter}") or "report")
    out = ["--output", str(tmp_path / "run")]
    assert runner.invoke(app, ["demo", *out]).exit_code == 0
    assert calls == ["session train=False", "eval None"]
    calls.clear()
    train_config = str(Path(__file__).parents[1] / "configs" / "demo_train.toml")
    result = runner.invoke(app, ["demo", "-c", train_config, "--steps", "1", *out])
    assert result.exit_code == 0, result.output
    assert calls == ["session train=True", "train", "eval adapter"]
    calls.clear()
    result = runner.invoke(app, ["demo", "--steps", "2", *out])
    assert result.exit_code == 2 and "demo_train.toml" in result.output and calls == []
