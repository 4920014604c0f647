"""The math500 and file tasks, CSV files, scorers chosen by config, and task TOML files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from wst.cli import app
from wst.config import ConfigError, TaskConfig
from wst.tasks import (TASKS, DatasetError, Example, get_task, load_run_config, load_task_file,
                       math500)
from wst.scoring import SCORERS, get_scorer
from wst.tasks.files import read_records

runner = CliRunner()


def write_jsonl(path: Path, records: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


def qa(n: int, question: str = "question", answer: str = "answer") -> list[dict]:
    return [{question: f"What is {i} + {i}?", answer: str(2 * i)} for i in range(n)]


def file_config(path: Path, **fields) -> TaskConfig:
    defaults = {"test_fraction": 0.5, "train_size": 100, "test_size": 0}
    return TaskConfig(name="file", source=str(path), **{**defaults, **fields})


# --- CSV files ------------------------------------------------------------------------------


def test_csv_records_are_read(tmp_path: Path) -> None:
    path = tmp_path / "qa.csv"
    path.write_text('question,answer\n"Capital of France, please?",Paris\nTwo plus two?,4\n')
    assert read_records(path, ("question", "answer")) == [
        {"question": "Capital of France, please?", "answer": "Paris", "id": "qa-1"},
        {"question": "Two plus two?", "answer": "4", "id": "qa-2"},
    ]


def test_csv_error_names_the_physical_line_after_a_multiline_field(tmp_path: Path) -> None:
    path = tmp_path / "qa.csv"
    path.write_text('question,answer\n"first line\nsecond line",1\n\nQ3,\n')
    with pytest.raises(DatasetError) as info:
        read_records(path, ("question", "answer"))
    assert str(info.value) == f"{path}: line 5: field 'answer' is missing or empty"


def test_csv_row_with_wrong_column_count_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "qa.csv"
    path.write_text("question,answer\nQ1,1\nQ2,2,extra\n")
    with pytest.raises(DatasetError, match=r"qa.csv: line 3: expected 2 columns"):
        read_records(path, ("question", "answer"))


def test_csv_unterminated_quote_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "qa.csv"
    path.write_text('question,answer\nQ1,1\n"Q2,2\n')
    with pytest.raises(DatasetError, match=r"qa.csv: line 3: invalid CSV"):
        read_records(path, ("question", "answer"))


def test_csv_with_only_a_header_holds_no_records(tmp_path: Path) -> None:
    path = tmp_path / "qa.csv"
    path.write_text("question,answer\n")
    with pytest.raises(DatasetError, match="holds no records"):
        read_records(path, ("question", "answer"))


def test_numeric_answers_are_read_as_text(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "qa.jsonl", [{"question": "Q", "answer": 18},
                                               {"question": "R", "answer": 0.5}])
    assert [r["answer"] for r in read_records(path, ("question", "answer"))] == ["18", "0.5"]


# --- the file task --------------------------------------------------------------------------


def test_file_task_reads_configured_fields_and_splits_by_seed(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "qa.jsonl", qa(10, "prompt", "label"))
    config = file_config(path, question_field="prompt", answer_field="label")
    split = get_task("file").load(config)
    assert len(split.train) == len(split.test) == 5
    assert not {e.id for e in split.train} & {e.id for e in split.test}
    assert {e.question for e in split.train + split.test} == {r["prompt"] for r in qa(10, "prompt")}
    assert all(e.answer == str(2 * int(e.question.split()[2])) for e in split.test)
    again = get_task("file").load(config)
    assert (again.train, again.test) == (split.train, split.test)
    config.split_seed = 1
    assert {e.id for e in get_task("file").load(config).test} != {e.id for e in split.test}
    assert split.info["split_seed"] == 0 and split.info["n_items"] == 10


def test_file_task_reads_csv_and_keeps_ids(tmp_path: Path) -> None:
    path = tmp_path / "qa.csv"
    path.write_text("id,question,answer\nq1,Q1,1\nq2,Q2,2\nq3,Q3,3\nq4,Q4,4\n")
    split = get_task("file").load(file_config(path))
    assert sorted(e.id for e in split.train + split.test) == ["q1", "q2", "q3", "q4"]


def test_file_task_caps_sizes_and_can_skip_train(tmp_path: Path) -> None:
    config = file_config(write_jsonl(tmp_path / "qa.jsonl", qa(20)), train_size=3, test_size=4)
    split = get_task("file").load(config)
    assert (len(split.train), len(split.test)) == (3, 4)
    assert get_task("file").load(config, with_train=False).train == []


def test_file_task_needs_a_data_file(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="file task reads task.source"):
        get_task("file").load(TaskConfig(name="file"))  # source = "embedded"


# --- validation errors: file, line and field (or scorer), before any model loads -------------


def test_malformed_line_is_named(tmp_path: Path) -> None:
    path = tmp_path / "qa.jsonl"
    path.write_text(json.dumps(qa(1)[0]) + "\n{'question': 'Q'}\n")
    with pytest.raises(DatasetError, match=rf"^{path}: line 2: invalid JSON"):
        get_task("file").load(file_config(path))


def test_missing_field_is_named(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "qa.jsonl", qa(3, answer="label"))
    with pytest.raises(DatasetError) as info:
        get_task("file").load(file_config(path))
    assert str(info.value) == f"{path}: line 1: field 'answer' is missing or empty"


def test_missing_configured_field_is_named(tmp_path: Path) -> None:
    path = tmp_path / "qa.csv"
    path.write_text("prompt,label\nQ1,1\nQ2,\n")
    with pytest.raises(DatasetError) as info:
        get_task("file").load(file_config(path, question_field="prompt", answer_field="label"))
    assert str(info.value) == f"{path}: line 3: field 'label' is missing or empty"


def test_empty_file_is_named(tmp_path: Path) -> None:
    path = tmp_path / "qa.jsonl"
    path.write_text("")
    with pytest.raises(DatasetError, match=rf"^{path}: the file holds no records"):
        get_task("file").load(file_config(path))


def test_duplicate_id_names_file_line_and_id(tmp_path: Path) -> None:
    records = [{"id": i % 3, **r} for i, r in enumerate(qa(5))]  # ids 0 1 2 0 1
    path = write_jsonl(tmp_path / "qa.jsonl", records)
    with pytest.raises(DatasetError) as info:
        get_task("file").load(file_config(path))
    assert str(info.value) == (f"{path}: line 4: field 'id': duplicate id '0' "
                               f"(first at line 1)")


def test_duplicate_id_in_csv_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "qa.csv"
    path.write_text("id,question,answer\na,Q1,1\nb,Q2,2\n\na,Q3,3\n")
    with pytest.raises(DatasetError, match=r"qa.csv: line 5: field 'id': duplicate id 'a'"):
        get_task("file").load(file_config(path))


def test_unknown_scorer_is_rejected_by_validate_with_the_known_ones() -> None:
    with pytest.raises(ConfigError) as info:
        load_run_config(None, ["task.name=file", "task.scorer=fuzzy"])
    message = str(info.value)
    assert "'fuzzy'" in message
    assert f"known scorers: {', '.join(SCORERS)}" in message


@pytest.mark.parametrize(
    "overrides, message",
    [
        (["task.scorer=regex"], "needs task.answer_pattern"),
        (["task.scorer=regex", "task.answer_pattern=(a)(b)"], "exactly one group"),
        (["task.scorer=regex", "task.answer_pattern=(a"], "not a valid regex"),
        (["task.answer_pattern=(a)"], "regex scorer only"),
        (["task.name=gsm9k"], "registered tasks: gsm8k, math500, hh_rlhf, reasoning_mix, file"),
    ],
)
def test_validate_rejects_task_settings(overrides: list[str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_run_config(None, overrides)


def test_cli_reports_a_bad_file_before_any_model_loads(tmp_path: Path, monkeypatch) -> None:
    import wst.students

    def no_model(*_: object) -> None:
        raise AssertionError("a model was loaded before the data was checked")

    monkeypatch.setattr(wst.students, "make_student", no_model)
    records = [{"id": "same", **r} for r in qa(2)]
    write_jsonl(tmp_path / "qa.jsonl", records)
    (tmp_path / "task.toml").write_text('[task]\nname = "file"\nsource = "qa.jsonl"\n')
    result = runner.invoke(app, ["eval", "--task", str(tmp_path / "task.toml"),
                                 "--output", str(tmp_path / "run")])
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "duplicate id 'same'" in " ".join(result.output.split())
    assert "line 2: field 'id': duplicate id 'same'" in (tmp_path / "run" / "wst.log").read_text()


def test_cli_unknown_scorer_is_a_usage_error(tmp_path: Path) -> None:
    (tmp_path / "task.toml").write_text('[task]\nname = "file"\nscorer = "fuzzy"\n')
    result = runner.invoke(app, ["train", "--task", str(tmp_path / "task.toml"),
                                 "--output", str(tmp_path / "run")])
    assert result.exit_code == 2
    assert "fuzzy" in result.output and "regex" in result.output


# --- scorers chosen by config -----------------------------------------------------------------


@pytest.mark.parametrize(
    "name, output, reference, expected",
    [
        ("exact", "  PARIS \n", "Paris", 1.0),
        ("exact", r"so it is \boxed{Lyon}.", "lyon", 1.0),
        ("exact", "Paris, France", "Paris", 0.0),
        ("numeric", "It costs $1,250.", "1250", 1.0),
        ("numeric", r"\boxed{\sqrt{4}}", "2", 0.0),  # not a plain number
        ("math", r"\boxed{\sqrt{4}}", "2", 1.0),
    ],
)
def test_scorers(name: str, output: str, reference: str, expected: float) -> None:
    assert get_scorer(name)(output, reference) == expected


def test_task_scores_with_the_configured_scorer() -> None:
    example = Example("1", "Sentiment of 'great film'?", "positive")
    regex = get_task("file", TaskConfig(name="file", scorer="regex",
                                        answer_pattern=r"(?i)label:\s*(\w+)"))
    outputs = ["Thinking... LABEL: Positive", "label: negative, then label: positive", "positive"]
    assert regex.score_many(outputs, [example] * 3) == [1.0, 1.0, 0.0]  # last match; no match
    exact = get_task("file", TaskConfig(name="file", scorer="exact"))
    assert exact.score_many(["Positive."], [example]) == [1.0]
    assert get_task("file").scorer == get_task("math500").scorer == "math"
    numeric = get_task("gsm8k", TaskConfig(scorer="numeric"))
    assert numeric.score_many([r"\boxed{\frac{1}{2}}"], [Example("2", "Q", "0.5")]) == [0.0]


def test_unknown_scorer_in_get_task_lists_the_known_ones() -> None:
    with pytest.raises(ValueError, match="known scorers: math, numeric, exact, mixed, regex"):
        get_task("file", TaskConfig(name="file", scorer="fuzzy"))


# --- task TOML files and --task --------------------------------------------------------------


def test_task_file_sets_fields_and_resolves_source_beside_it(tmp_path: Path) -> None:
    folder = tmp_path / "data"
    folder.mkdir()
    write_jsonl(folder / "qa.jsonl", qa(6))
    (folder / "task.toml").write_text(
        '[task]\nname = "file"\nsource = "qa.jsonl"\nscorer = "exact"\ntest_size = 2\n')
    config = load_run_config(None, ["task.test_fraction=0.5"], task=str(folder / "task.toml"))
    assert config.task.source == str((folder / "qa.jsonl").resolve())
    assert (config.task.name, config.task.scorer, config.task.test_size) == ("file", "exact", 2)
    assert config.task.test_fraction == 0.5  # --set comes after --task
    split = get_task("file", config.task).load(config.task)
    assert (len(split.train), len(split.test)) == (3, 2)


def test_task_file_leaves_hub_names_and_embedded_alone(tmp_path: Path) -> None:
    path = tmp_path / "task.toml"
    path.write_text('[task]\nname = "math500"\nsource = "HuggingFaceH4/MATH-500"\n')
    assert load_task_file(path)["source"] == "HuggingFaceH4/MATH-500"
    path.write_text('[task]\nname = "math500"\n')
    assert "source" not in load_task_file(path)


def test_task_file_with_other_tables_or_unknown_fields_is_rejected(tmp_path: Path) -> None:
    path = tmp_path / "task.toml"
    path.write_text('[task]\nname = "file"\n[train]\nmax_steps = 3\n')
    with pytest.raises(ConfigError, match="one \\[task\\] table"):
        load_run_config(None, task=str(path))
    path.write_text('[task]\nname = "file"\nquestion_feild = "q"\n')
    with pytest.raises(ConfigError, match="task.question_feild"):
        load_run_config(None, task=str(path))
    with pytest.raises(ConfigError, match="cannot read task file"):
        load_run_config(None, task=str(tmp_path / "missing.toml"))


def test_task_option_takes_a_registered_name() -> None:
    assert load_run_config(None, task="math500").task.name == "math500"


def test_cli_trains_from_a_task_file_without_code(tmp_path: Path, monkeypatch) -> None:
    import wst.students

    class Loaded(Exception):
        pass

    def stop_at_student(*_: object) -> None:
        raise Loaded

    monkeypatch.setattr(wst.students, "make_student", stop_at_student)
    path = tmp_path / "qa.csv"
    path.write_text("question,answer\n" + "".join(f"Q{i},{i}\n" for i in range(10)))
    (tmp_path / "task.toml").write_text('[task]\nname = "file"\nsource = "qa.csv"\n')
    result = runner.invoke(app, ["train", "--task", str(tmp_path / "task.toml"),
                                 "--output", str(tmp_path / "run")])
    assert isinstance(result.exception, Loaded), result.output
    assert "6 training examples, 4 held-out" in result.output


def test_cli_task_option_and_tasks_command() -> None:
    for command in ("train", "eval", "demo"):
        result = runner.invoke(app, [command, "--help"])
        assert "--task" in result.output
    result = runner.invoke(app, ["tasks"])
    assert result.exit_code == 0, result.output
    for name in list(TASKS) + list(SCORERS):
        assert f"  {name} " in result.output
    assert all(task.description for task in TASKS.values())


# --- math500: CHAMP offline, local files, the hub --------------------------------------------


def champ_file(path: Path, n: int, text_answers: int = 0) -> Path:
    problems = {f"P_Fake_{i}": {"identifier": f"P_Fake_{i}", "_text": f"Find {i} squared.",
                                "_answer": f"{i * i} is the only possible value"}
                for i in range(n)}
    for i in range(text_answers):
        problems[f"P_Text_{i}"] = {"_text": "Does it exist?", "_answer": "It is not possible"}
    path.write_text(json.dumps({"problems": problems, "concepts": {}, "hints": {}}))
    return path


@pytest.mark.parametrize(
    "answer, expected",
    [
        ("239", "239"),
        ("The limit exists and is equal to (a+3b)/2", "(a+3b)/2"),
        ("0 is the only possible value", "0"),
        ("5/14, or approximately 35.7%", "5/14"),
        ("sum_(i=1)^n i^3, or equivalently (n(n+1)/2)^2", "(n(n+1)/2)^2"),
        ("At most 0 integer-valued zeros (i.e., no integer zeros)", "0"),
        ("2 inequalities", "2"),
        ("Exactly one sequence", "1"),
        ("x=±1", r"x=\pm 1"),
        ("2^floor(n/2)*floor(n/2)!", r"2^{\lfloor n/2 \rfloor}*{\lfloor n/2 \rfloor}!"),
        ("Yes", "Yes"),
        ("The sequence does not exist", None),
        ("x(x-1)(x-2)...(x-2022)", None),
        ("a(1±sqrt(2)), a(1±sqrt(5))/2", None),
    ],
)
def test_champ_answer(answer: str, expected: str | None) -> None:
    assert math500.champ_answer(answer) == expected


def test_champ_split_is_seeded_and_drops_text_answers(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(math500, "champ_path", lambda: champ_file(tmp_path / "v0.json", 20, 3))
    config = TaskConfig(name="math500", test_fraction=0.25, train_size=100, test_size=0)
    split = get_task("math500").load(config)
    assert (len(split.train), len(split.test)) == (15, 5)
    assert split.info["left_out_text_answers"] == ["P_Text_0", "P_Text_1", "P_Text_2"]
    assert split.info["test_ids"] == sorted(e.id for e in split.test)
    assert {e.answer for e in split.test} <= {str(i * i) for i in range(20)}
    again = get_task("math500").load(config)
    assert (again.train, again.test) == (split.train, split.test)
    config.split_seed = 3
    assert get_task("math500").load(config).info["test_ids"] != split.info["test_ids"]


def test_math500_validation_items_come_from_the_training_pool(tmp_path: Path,
                                                             monkeypatch) -> None:
    monkeypatch.setattr(math500, "champ_path", lambda: champ_file(tmp_path / "v0.json", 20))
    config = TaskConfig(name="math500", test_fraction=0.25, train_size=100, test_size=0)
    whole = get_task("math500").load(config)
    config.validation_items = 4
    split = get_task("math500").load(config)
    assert split.validation == whole.train[:4] and split.train == whole.train[4:]
    assert split.test == whole.test


def test_champ_file_of_another_shape_is_a_dataset_error(tmp_path: Path, monkeypatch) -> None:
    path = tmp_path / "v0.json"
    path.write_text(json.dumps({"problems": {"P_1": {"_text": "no answer field"}}}))
    monkeypatch.setattr(math500, "champ_path", lambda: path)
    with pytest.raises(DatasetError, match="not CHAMP's problem file"):
        get_task("math500").load(TaskConfig(name="math500"))


def test_missing_champ_package_says_what_to_install(monkeypatch) -> None:
    monkeypatch.setattr(math500.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(DatasetError, match="champ-dataset==1.0.0"):
        get_task("math500").load(TaskConfig(name="math500"))


def test_real_champ_data() -> None:
    from math_verify import parse

    config = TaskConfig(name="math500", train_size=1000, test_size=0)
    split = get_task("math500").load(config)
    assert len(split.train) + len(split.test) > 200
    assert not {e.id for e in split.train} & {e.id for e in split.test}
    again = get_task("math500").load(config)
    assert (again.train, again.test) == (split.train, split.test)
    assert all(e.question and e.answer for e in split.train + split.test)
    for example in split.train + split.test:  # every kept answer is one math-verify can read
        assert len(parse(f"${example.answer}$")) == 2, example


def test_math500_local_file_with_problem_or_question_fields(tmp_path: Path) -> None:
    rows = [{"problem": f"Compute {i}^2.", "answer": f"{i * i}", "unique_id": f"test/{i}.json"}
            for i in range(10)]
    config = TaskConfig(name="math500", source=str(write_jsonl(tmp_path / "m.jsonl", rows)),
                        test_fraction=0.3, test_size=0)
    split = get_task("math500").load(config)
    assert (len(split.train), len(split.test)) == (7, 3)
    assert {e.id for e in split.test} < {r["unique_id"] for r in rows}
    config.source = str(write_jsonl(tmp_path / "q.jsonl", qa(4)))
    assert len(get_task("math500").load(config).train) == 3


def test_math500_local_file_missing_answer_is_named(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "m.jsonl", [{"problem": "P1", "answer": "1"}, {"problem": "P2"}])
    with pytest.raises(DatasetError, match=r"m.jsonl: line 2: field 'answer'"):
        get_task("math500").load(TaskConfig(name="math500", source=str(path)))


def test_math500_folder_with_test_file_only_is_split_by_seed(tmp_path: Path) -> None:
    write_jsonl(tmp_path / "test.jsonl", [{"problem": f"P{i}", "answer": str(i)}
                                          for i in range(10)])
    split = get_task("math500").load(TaskConfig(name="math500", source=str(tmp_path),
                                                test_fraction=0.5, test_size=0))
    assert (len(split.train), len(split.test)) == (5, 5)


def test_math500_hub_test_split_is_split_by_seed(monkeypatch) -> None:
    calls = []

    def fake_hub(name, split, required, subset):
        calls.append((name, split, required, subset))
        return [{"problem": f"P{i}", "answer": rf"\frac{{{i}}}{{2}}", "unique_id": f"u{i}"}
                for i in range(20)]

    monkeypatch.setattr(math500, "load_hub", fake_hub)
    config = TaskConfig(name="math500", source="HuggingFaceH4/MATH-500", test_fraction=0.4,
                        test_size=0)
    split = get_task("math500").load(config)
    assert calls == [("HuggingFaceH4/MATH-500", "test", ("problem", "answer"), None)]
    assert (len(split.train), len(split.test)) == (12, 8)
    assert not {e.id for e in split.train} & {e.id for e in split.test}
    assert split.test == get_task("math500").load(config).test
