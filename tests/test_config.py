"""Loading, overriding and validating run configs (wst.config)."""

from __future__ import annotations

import ast
import typing
from pathlib import Path

import pytest

from wst.config import DEFAULT_META_PROMPT, ConfigError, RunConfig, validate
from wst.tasks import load_run_config, resolve_config

TOML = """
output_dir = "runs/test"

[task]
train_size = 64
test_size = 10

[student]
backend = "openai"
base_url = "http://127.0.0.1:8000/v1"
model = "qwen"
temperature = 0

[train]
max_steps = 20
learning_rate = 2e-5

[eval]
conditions = ["none", "fixed", "teacher_trained"]
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "run.toml"
    path.write_text(text)
    return path


def test_defaults_are_valid() -> None:
    config = load_run_config()
    expected = RunConfig()
    resolve_config(expected)
    assert config == expected
    assert config.teacher.meta_prompt == DEFAULT_META_PROMPT


def test_load_from_toml(tmp_path: Path) -> None:
    config = load_run_config(write(tmp_path, TOML))
    assert config.output_dir == "runs/test"
    assert (config.task.train_size, config.task.test_size) == (64, 10)
    assert config.student.backend == "openai"
    assert config.student.base_url == "http://127.0.0.1:8000/v1"
    assert config.student.temperature == 0.0 and isinstance(config.student.temperature, float)
    assert config.train.max_steps == 20
    assert config.train.learning_rate == pytest.approx(2e-5)
    assert config.eval.conditions == ["none", "fixed", "teacher_trained"]
    assert config.teacher.lora_r == 16  # untouched fields keep their defaults


def test_overrides_apply_after_the_file(tmp_path: Path) -> None:
    config = load_run_config(
        write(tmp_path, TOML),
        [
            "train.max_steps=5",
            "student.temperature=0.7",
            'eval.conditions=["none","fixed"]',
            "teacher.adapter=none",
            "output_dir=runs/other",
        ],
    )
    assert config.train.max_steps == 5
    assert config.student.temperature == pytest.approx(0.7)
    assert config.eval.conditions == ["none", "fixed"]
    assert config.teacher.adapter is None
    assert config.output_dir == "runs/other"


@pytest.mark.parametrize(
    "override, value",
    [
        ("teacher.adapter=runs/a/adapter", "runs/a/adapter"),
        ("student.temperature=1", 1.0),  # an int where a float is declared is fine
        ("teacher.lora=false", False),
        ("teacher.lora=yes", True),
        ('teacher.lora_target_modules=["q_proj"]', ["q_proj"]),
        # issue 12: one endpoint or a list of them
        ("student.base_url=http://a/v1", "http://a/v1"),
        ('student.base_url=["http://a/v1","http://b/v1"]', ["http://a/v1", "http://b/v1"]),
        ('judge.base_url=["http://a/v1"]', ["http://a/v1"]),
    ],
)
def test_override_coercion(override: str, value: object) -> None:
    dotted = override.partition("=")[0]
    section, name = dotted.split(".")
    config = load_run_config(None, [override])
    assert getattr(getattr(config, section), name) == value


@pytest.mark.parametrize(
    "override, named",
    [
        ("trian.max_steps=5", "trian"),
        ("train.max_stepz=5", "train.max_stepz"),
        ("student.api_key=abc", "student.api_key"),
    ],
)
def test_unknown_override_names_the_field(override: str, named: str) -> None:
    with pytest.raises(ConfigError, match=named):
        load_run_config(None, [override])


def test_unknown_field_in_file_names_file_and_field(tmp_path: Path) -> None:
    path = write(tmp_path, "[train]\nmax_stepz = 5\n")
    with pytest.raises(ConfigError, match="train.max_stepz") as info:
        load_run_config(path)
    assert str(path) in str(info.value)


def test_unknown_section_in_file_raises(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="trian"):
        load_run_config(write(tmp_path, "[trian]\nmax_steps = 5\n"))


def test_override_without_equals_raises() -> None:
    with pytest.raises(ConfigError, match="section.field=value"):
        load_run_config(None, ["train.max_steps"])


@pytest.mark.parametrize(
    "override",
    [
        "train.max_steps=abc",
        "train.max_steps=1.5",
        'student.temperature="hot"',
        "eval.conditions=none",
    ],
)
def test_wrong_type_override_raises(override: str) -> None:
    with pytest.raises(ConfigError, match=override.partition("=")[0]):
        load_run_config(None, [override])


def test_wrong_type_in_file_raises(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="task.name"):
        load_run_config(write(tmp_path, "[task]\nname = 5\n"))


def test_unreadable_toml_raises(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read config"):
        load_run_config(write(tmp_path, "[train\nmax_steps = 5\n"))


def test_bool_for_int_field_raises() -> None:
    with pytest.raises(ConfigError):
        load_run_config(None, ["train.max_steps=true"])


def test_non_boolean_text_for_bool_field_raises() -> None:
    with pytest.raises(ConfigError):
        load_run_config(None, ["teacher.lora=maybe"])


def test_path_through_a_plain_field_raises_config_error() -> None:
    with pytest.raises(ConfigError):
        load_run_config(None, ["train.max_steps.x=5"])


@pytest.mark.parametrize(
    "overrides, message",
    [
        (["train.num_generations=1"], "num_generations"),
        (['eval.conditions=["none","oracle"]'], "oracle"),
        (["student.backend=openai"], "base_url"),
        (["teacher.meta_prompt=Write an instruction."], r"\{question\}"),
        (["student.backend=vllm"], "backend"),
        (["student.instruction_placement=middle"], "instruction_placement"),
        (["task.test_fraction=1.0"], "test_fraction"),
        (["task.test_fraction=0"], "test_fraction"),
        (["task.test_variants=-1"], "test_variants"),
        (["task.validation_templates=-2"], "validation_templates"),
        # issue 10: out-of-range values fail before anything loads, naming the field
        (["train.max_steps=-3"], r"train.max_steps: Input should be greater than or equal to 1"),
        (["train.max_steps=0"], "train.max_steps"),
        (["train.questions_per_step=0"], "train.questions_per_step"),
        (["task.test_size=-3"], "task.test_size"),
        (["task.train_size=-1"], "task.train_size"),
        (["student.max_calls=-1"], "student.max_calls"),
        (["student.max_cost=-0.5"], "student.max_cost"),
        (["student.max_total_tokens=-10"], "student.max_total_tokens"),
        (["train.leak_penalty=-1"], "train.leak_penalty"),
        (["eval.conditions=[]"], "eval.conditions: List should have at least 1 item"),
        (["student.prices=5"], "student.prices: Input should be a valid dictionary"),
        (['student.prices={"m": [1]}'], r"student.prices: m: List should have at least 2"),
        (['student.prices={"m": [1, -2]}'], r"student.prices: m.1: Input should be greater"),
        (["train.loss_type=ppo"], "train.loss_type"),
        (["serve.port=70000"], "serve.port"),
        (["judge.kind=oracle"], "judge.kind"),
        (["student.backend=openai", "student.base_url=[]"], "student.base_url is required"),
        (["judge.backend=openai", "judge.base_url=[]"], "judge.base_url is required"),
        (["student.backend=openai", 'student.base_url=["http://a/v1", ""]'], "empty URL"),
        (["student.base_url=[http://a/v1]"], "student.base_url: cannot read"),
        (["student.base_url=[1, 2]"], "student.base_url"),
    ],
)
def test_validate_rejects(overrides: list[str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_run_config(None, overrides)


def test_out_of_range_value_in_a_file_names_file_and_field(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"run.toml: train.max_steps: "
                                          r"Input should be greater than or equal to 1"):
        load_run_config(write(tmp_path, "[train]\nmax_steps = -3\n"))


def test_cli_negative_steps_exits_2_naming_the_flag(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from wst.cli import app

    result = CliRunner().invoke(app, ["train", "--steps", "-3", "--output", str(tmp_path)])
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert "train.max_steps" in result.output and not (tmp_path / "checkpoints").exists()


def test_conditions_known_to_config_are_the_ones_evaluate_runs() -> None:
    from wst.config import Condition
    from wst.evaluate import CONDITIONS

    assert set(typing.get_args(Condition)) == set(CONDITIONS)


def test_config_imports_no_upper_layer() -> None:
    """config is the lowest layer: it must not import tasks, students, evaluation or CLI."""
    source = (Path(__file__).parents[1] / "src" / "wst" / "config.py").read_text()
    imported = {node.module for node in ast.walk(ast.parse(source))
                if isinstance(node, ast.ImportFrom) and node.module}
    assert {m for m in imported if m.startswith("wst")} <= {"wst.fileio"}


def test_validate_accepts_openai_with_base_url() -> None:
    config = load_run_config()
    config.student.backend = "openai"
    config.student.base_url = "http://127.0.0.1:8000/v1"
    validate(config)


@pytest.mark.parametrize("path", sorted((Path(__file__).parents[1] / "configs").glob("*.toml")),
                         ids=lambda p: p.name)
def test_every_shipped_config_loads(path) -> None:
    config = load_run_config(path)
    assert "{question}" in config.teacher.meta_prompt and config.eval.fixed_instruction


def test_a_list_of_endpoints_loads_from_toml(tmp_path: Path) -> None:
    """issue 12: ``base_url`` may list several endpoints serving the same model."""
    text = TOML.replace('base_url = "http://127.0.0.1:8000/v1"',
                        'base_url = ["http://a/v1", "http://b/v1"]')
    config = load_run_config(write(tmp_path, text))
    assert config.student.base_url == ["http://a/v1", "http://b/v1"]


def test_a_config_extends_its_base_field_by_field(tmp_path: Path) -> None:
    """An experiment's file names only what differs from the file it ``extends`` (a path
    relative to itself); a table in it overrides the base's fields one by one."""
    (tmp_path / "base").mkdir()
    write(tmp_path / "base", TOML)
    child = tmp_path / "child.toml"
    child.write_text('extends = "base/run.toml"\noutput_dir = "runs/child"\n\n'
                     '[train]\nmax_steps = 5\n')
    config = load_run_config(child, ["train.learning_rate=1e-4"])
    assert (config.output_dir, config.train.max_steps) == ("runs/child", 5)
    assert config.train.learning_rate == 1e-4  # --set still comes last
    assert (config.task.train_size, config.student.model) == (64, "qwen")  # from the base


def test_an_extends_chain_that_loops_or_names_no_file_is_a_clear_error(tmp_path: Path) -> None:
    a, b = tmp_path / "a.toml", tmp_path / "b.toml"
    a.write_text('extends = "b.toml"\n')
    b.write_text('extends = "a.toml"\n')
    with pytest.raises(ConfigError, match=r"extends 'a\.toml' makes a loop"):
        load_run_config(a)
    a.write_text('extends = "missing.toml"\n')
    with pytest.raises(ConfigError, match=r"missing\.toml"):
        load_run_config(a)
    a.write_text("extends = 3\n")
    with pytest.raises(ConfigError, match="extends"):
        load_run_config(a)


def test_an_error_in_a_base_names_the_base(tmp_path: Path) -> None:
    (tmp_path / "base.toml").write_text("[train]\nmax_steps = -1\n")
    child = write(tmp_path, 'extends = "base.toml"\n')
    with pytest.raises(ConfigError, match=r"base\.toml: train\.max_steps"):
        load_run_config(child)
