"""The `wst` command: help texts, config errors, and `instruct` on a tiny teacher."""

from __future__ import annotations

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
