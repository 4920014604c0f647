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
