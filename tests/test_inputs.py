"""Inputs a new user gets wrong, each a clear one-line error or handled (issue 10): a folder
with your own split, meta prompts with braces, encodings and byte-order marks, missing or
broken models, ids, an empty held-out set, exports onto their source, and atomic writes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from wst.assets import AssetError, check_gguf, check_model_source
from wst.cli import app
from wst.config import ConfigError, RunConfig, TaskConfig, save_config
from wst.tasks import DatasetError, get_task, load_run_config, load_task_file
from wst.export import ExportError, export_teacher
from wst.fileio import atomic_write_text
from wst.tasks.files import read_records
from wst.teacher import TEACHER_CARD, load_teacher, teacher_messages

runner = CliRunner()
FIELDS = ("question", "answer")


def write_jsonl(path: Path, records: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


def qa(n: int, start: int = 0) -> list[dict]:
    return [{"question": f"What is {i} + {i}?", "answer": str(2 * i)} for i in range(start, n)]


def file_config(source: Path, **fields) -> TaskConfig:
    return TaskConfig(name="file", source=str(source), **{"test_size": 0, **fields})


def task_toml(folder: Path, source: str) -> Path:
    path = folder / "task.toml"
    path.write_text(f'[task]\nname = "file"\nsource = "{source}"\ntest_size = 0\n')
    return path


# --- the file task reads a folder with your own split ------------------------------------------


def test_file_task_folder_keeps_its_own_split(tmp_path: Path) -> None:
    write_jsonl(tmp_path / "train.jsonl", qa(6))
    (tmp_path / "test.csv").write_text("id,question,answer\nt1,What is 9 + 9?,18\n"
                                       "t2,What is 8 + 8?,16\n")
    split = get_task("file").load(file_config(tmp_path))
    assert sorted(e.id for e in split.test) == ["t1", "t2"]
    assert sorted(e.id for e in split.train) == [f"train-{n}" for n in range(1, 7)]
    assert split.info["split_by"] == "the folder's train and test files"
    assert split.info["test_file"] == str(tmp_path / "test.csv")


def test_file_task_folder_without_train_file_evaluates_but_does_not_train(tmp_path: Path) -> None:
    write_jsonl(tmp_path / "test.jsonl", qa(3))
    assert len(get_task("file").load(file_config(tmp_path), with_train=False).test) == 3
    with pytest.raises(DatasetError, match=rf"^{tmp_path}: no train file .* training needs one"):
        get_task("file").load(file_config(tmp_path))


def test_file_task_folder_without_test_file_is_named(tmp_path: Path) -> None:
    write_jsonl(tmp_path / "train.jsonl", qa(3))
    with pytest.raises(DatasetError, match=rf"^{tmp_path}: no test file"):
        get_task("file").load(file_config(tmp_path))


def test_cli_evaluates_a_folder_task_up_to_the_student(tmp_path: Path, monkeypatch) -> None:
    import wst.students

    def no_student(*_: object) -> None:
        raise AssetError("stop here: the data loaded")

    monkeypatch.setattr(wst.students, "make_student", no_student)
    data = tmp_path / "mine"
    data.mkdir()
    write_jsonl(data / "test.jsonl", qa(2))
    result = runner.invoke(app, ["eval", "--task", str(task_toml(tmp_path, "mine")),
                                 "--output", str(tmp_path / "run")])
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "2 held-out" in result.output and "stop here" in result.output


# --- a meta prompt with other braces works ------------------------------------------------------


def test_meta_prompt_with_other_braces_works() -> None:
    prompt = r'End with \boxed{} or {"answer": 1}. Problem: {question} ({question})'
    config = load_run_config(None, [f"teacher.meta_prompt={prompt}"])
    content = teacher_messages(config.teacher.meta_prompt, "What is {x}?")[0]["content"]
    assert content == r'End with \boxed{} or {"answer": 1}. Problem: What is {x}? (What is {x}?)'


def test_meta_prompt_without_question_is_rejected_at_load() -> None:
    with pytest.raises(ConfigError, match=r"teacher.meta_prompt must contain \{question\}"):
        load_run_config(None, [r"teacher.meta_prompt=Answer in \boxed{}."])


# --- encodings: UTF-8 with or without a byte-order mark; anything else is named ------------------


@pytest.mark.parametrize("name, text", [
    ("qa.jsonl", '{"question": "Q1", "answer": "1"}\n'),
    ("qa.json", '[{"question": "Q1", "answer": "1"}]'),
    ("qa.csv", "question,answer\nQ1,1\n"),
])
def test_data_file_with_a_byte_order_mark_is_read(tmp_path: Path, name: str, text: str) -> None:
    path = tmp_path / name
    path.write_bytes(b"\xef\xbb\xbf" + text.encode())
    assert read_records(path, FIELDS) == [{"question": "Q1", "answer": "1", "id": "qa-1"}]


@pytest.mark.parametrize("name, text", [
    ("qa.jsonl", '{"question": "Q1", "answer": "1"}\n{"question": "Caf\xe9?", "answer": "2"}\n'),
    ("qa.json", '[{"question": "Q1", "answer": "1"},\n {"question": "Caf\xe9?", "answer": "2"}]'),
    ("qa.csv", "question,answer\nCaf\xe9?,2\n"),
])
def test_data_file_not_in_utf8_names_file_and_line(tmp_path: Path, name: str, text: str) -> None:
    path = tmp_path / name
    path.write_bytes(text.encode("latin-1"))
    with pytest.raises(DatasetError) as info:
        read_records(path, FIELDS)
    assert str(info.value) == f"{path}: line 2: not UTF-8 text (byte 0xe9); save the file as UTF-8"


def test_garbage_parquet_is_named(tmp_path: Path) -> None:
    path = tmp_path / "qa.parquet"
    path.write_bytes(b"not parquet at all")
    with pytest.raises(DatasetError, match=rf"^{path}: not a readable Parquet file"):
        read_records(path, FIELDS)


def test_toml_with_a_byte_order_mark_is_read(tmp_path: Path) -> None:
    config = tmp_path / "run.toml"
    config.write_bytes(b"\xef\xbb\xbf" + b"[train]\nmax_steps = 7\n")
    assert load_run_config(config).train.max_steps == 7
    task = tmp_path / "task.toml"
    task.write_bytes(b"\xef\xbb\xbf" + b'[task]\nname = "file"\n')
    assert load_task_file(task) == {"name": "file"}


def test_toml_not_in_utf8_is_a_usage_error_naming_the_file(tmp_path: Path) -> None:
    config = tmp_path / "run.toml"
    config.write_bytes('[eval]\nfixed_instruction = "R\xe9sum\xe9"\n'.encode("latin-1"))
    with pytest.raises(ConfigError, match=rf"^{config}: line 2: not UTF-8 text"):
        load_run_config(config)
    result = runner.invoke(app, ["eval", "--config", str(config)])
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert "not UTF-8 text" in result.output


# --- models: missing folders, unloadable folders and garbage GGUF files are one line -------------


def test_missing_local_model_folder_is_named_before_loading(tmp_path: Path) -> None:
    missing = str(tmp_path / "no-such-teacher")
    with pytest.raises(AssetError) as info:
        load_teacher(missing)
    assert str(info.value) == f"teacher {missing}: no such folder"
    check_model_source("someone/some-model", "teacher")  # a hub name is left to the hub


def test_folder_that_is_no_model_is_one_line_naming_it(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text("{}")
    with pytest.raises(AssetError) as info:
        load_teacher(str(tmp_path))
    message = str(info.value)
    assert message.startswith(f"teacher {tmp_path}: ") and "\n" not in message


def test_missing_hf_student_folder_is_named(tmp_path: Path) -> None:
    from wst.students.base import Sampling
    from wst.students.hf import HFStudent

    with pytest.raises(AssetError, match=rf"^student model {tmp_path / 'gone'}: no such folder"):
        HFStudent(str(tmp_path / "gone"), Sampling(max_tokens=4))


@pytest.mark.parametrize("content, message", [
    (None, "no such file"),
    (b"\x00\x01garbage", "not a GGUF file"),
])
def test_check_gguf(tmp_path: Path, content: bytes | None, message: str) -> None:
    path = tmp_path / "model.gguf"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(AssetError, match=rf"^GGUF model {path}: {message}"):
        check_gguf(path)


def test_cut_short_gguf_is_named_not_a_llama_cpp_traceback(tmp_path: Path) -> None:
    from wst.students.base import Sampling
    from wst.students.llamacpp import LlamaCppStudent

    path = tmp_path / "model.gguf"
    path.write_bytes(b"GGUF\x03\x00\x00\x00cut short")
    with pytest.raises(AssetError, match=rf"^GGUF model {path}: llama.cpp cannot load it"):
        LlamaCppStudent(str(path), Sampling(max_tokens=4), parallel=1, threads=1)


def test_cli_garbage_student_gguf_exits_1_naming_it(tmp_path: Path) -> None:
    write_jsonl(tmp_path / "qa.jsonl", qa(4))
    garbage = tmp_path / "student.gguf"
    garbage.write_bytes(b"<html>404</html>")
    result = runner.invoke(app, ["eval", "--task", str(task_toml(tmp_path, "qa.jsonl")),
                                 "--student", str(garbage), "--output", str(tmp_path / "run")])
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "not a GGUF file" in (tmp_path / "run" / "wst.log").read_text()


# --- ids and headers ----------------------------------------------------------------------------


@pytest.mark.parametrize("value, shown", [(None, "null"), ("", '""'), (True, "true"), (1.5, "1.5")])
def test_id_that_is_null_or_not_text_is_named(tmp_path: Path, value: object, shown: str) -> None:
    path = write_jsonl(tmp_path / "qa.jsonl", [qa(1)[0], {"id": value, **qa(2, 1)[0]}])
    with pytest.raises(DatasetError) as info:
        read_records(path, FIELDS)
    assert str(info.value) == (f"{path}: line 2: field 'id' must be non-empty text or a whole "
                               f"number, not {shown}")


def test_empty_id_cell_in_csv_is_named(tmp_path: Path) -> None:
    path = tmp_path / "qa.csv"
    path.write_text("id,question,answer\na,Q1,1\n,Q2,2\n")
    with pytest.raises(DatasetError, match=r"qa.csv: line 3: field 'id' must be non-empty"):
        read_records(path, FIELDS)


@pytest.mark.parametrize("first, second", [("qa-2", None), (None, "qa-1")])
def test_generated_id_colliding_with_a_given_one_is_an_error(
        tmp_path: Path, first: str | None, second: str | None) -> None:
    records = [{**r, "id": i} if i else r for r, i in zip(qa(2), (first, second))]
    path = write_jsonl(tmp_path / "qa.jsonl", records)
    with pytest.raises(DatasetError) as info:
        read_records(path, FIELDS)
    assert str(info.value).startswith(f"{path}: line 2: field 'id': duplicate id ")
    assert "a record without an id gets qa-N, so give every record an id or none" in str(info.value)


def test_ids_are_given_or_generated_as_text(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "qa.jsonl", [{"id": 7, **qa(1)[0]}, qa(2, 1)[0]])
    assert [r["id"] for r in read_records(path, FIELDS)] == ["7", "qa-2"]


def test_csv_with_a_repeated_header_column_is_named(tmp_path: Path) -> None:
    path = tmp_path / "qa.csv"
    path.write_text("question,answer,answer\nQ1,1,2\n")
    with pytest.raises(DatasetError) as info:
        read_records(path, FIELDS)
    assert str(info.value) == (f"{path}: line 1: column 'answer' appears more than once in "
                               f"the header")


# --- an empty held-out set is an error, never a NaN report --------------------------------------


def test_empty_held_out_set_is_an_error(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "qa.jsonl", qa(1))  # round(1 * 0.4) = 0 held out
    with pytest.raises(DatasetError, match=r"task 'file': source .* leaves 0 held-out items"):
        get_task("file").load(file_config(path, test_fraction=0.4))


def test_held_out_set_below_the_stated_minimum_is_an_error(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "qa.jsonl", qa(10))  # 4 held out
    assert len(get_task("file").load(file_config(path, min_test_items=4)).test) == 4
    with pytest.raises(DatasetError, match=r"leaves 4 held-out items, fewer than "
                                           r"task.min_test_items = 5"):
        get_task("file").load(file_config(path, min_test_items=5))


def test_cli_eval_of_an_empty_held_out_set_exits_1(tmp_path: Path) -> None:
    write_jsonl(tmp_path / "qa.jsonl", qa(1))
    result = runner.invoke(app, ["eval", "--task", str(task_toml(tmp_path, "qa.jsonl")),
                                 "--output", str(tmp_path / "run")])
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "leaves 0 held-out items" in (tmp_path / "run" / "wst.log").read_text()
    assert not (tmp_path / "run" / "eval").exists()


# --- `wst export --to` never deletes the teacher it exports --------------------------------------


def fake_adapter(folder: Path) -> Path:
    """An adapter folder as training leaves it (export refuses before loading it)."""
    folder.mkdir(parents=True)
    (folder / "adapter_config.json").write_text("{}")
    (folder / TEACHER_CARD).write_text(json.dumps({"base_model": "embedded:smollm2-135m",
                                                   "meta_prompt": "{question}"}))
    return folder


@pytest.mark.parametrize("target", [".", ".."])
def test_export_onto_its_adapter_or_a_folder_holding_it_is_refused(tmp_path: Path,
                                                                    target: str) -> None:
    adapter = fake_adapter(tmp_path / "export" / "teacher")
    (tmp_path / "export" / TEACHER_CARD).write_text("{}")  # the parent looks like an export
    out = (adapter / target).resolve()
    with pytest.raises(ExportError, match=rf"^{out} is or holds {adapter}, which this export"):
        export_teacher("embedded:smollm2-135m", adapter, out, "{question}")
    assert sorted(p.name for p in adapter.iterdir()) == ["adapter_config.json", TEACHER_CARD]


def test_export_onto_its_base_model_folder_is_refused(tmp_path: Path) -> None:
    base = tmp_path / "base"
    base.mkdir()
    (base / TEACHER_CARD).write_text("{}")
    with pytest.raises(ExportError, match="which this export reads from"):
        export_teacher(str(base), None, base, "{question}")


def test_cli_export_to_the_adapter_exits_1_and_keeps_it(tmp_path: Path) -> None:
    adapter = fake_adapter(tmp_path / "run" / "teacher")
    result = runner.invoke(app, ["export", "--output", str(tmp_path / "run"),
                                 "--to", str(adapter)])
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "which this export reads from" in " ".join(result.output.split())
    assert (adapter / "adapter_config.json").is_file()


# --- derived files are written atomically ------------------------------------------------------


def interrupt_replace(monkeypatch) -> None:
    def crash(*_: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr("wst.fileio.os.replace", crash)


def test_atomic_write_replaces_or_leaves_the_old_file(tmp_path: Path, monkeypatch) -> None:
    path = tmp_path / "report.md"
    atomic_write_text(path, "old\n")
    atomic_write_text(path, "new\n")
    assert path.read_text() == "new\n"
    interrupt_replace(monkeypatch)
    with pytest.raises(KeyboardInterrupt):
        atomic_write_text(path, "half")
    assert path.read_text() == "new\n" and [p.name for p in tmp_path.iterdir()] == ["report.md"]


def test_interrupted_config_save_leaves_no_file(tmp_path: Path, monkeypatch) -> None:
    interrupt_replace(monkeypatch)
    with pytest.raises(KeyboardInterrupt):
        save_config(RunConfig(), tmp_path / "config.json")
    assert list(tmp_path.iterdir()) == []


def test_interrupted_variant_pool_write_is_rebuilt_next_time(tmp_path: Path, monkeypatch) -> None:
    from wst.tasks import Example, gsm8k

    monkeypatch.setenv("WST_CACHE_DIR", str(tmp_path))
    pool = ([Example("gsm8k-t1-v0", "Q?", "1", template=1)], [2])
    with monkeypatch.context() as patch:
        interrupt_replace(patch)
        with pytest.raises(KeyboardInterrupt):
            gsm8k._cached("gsm8k-variants", ["key"], lambda: pool)
    assert list((tmp_path / "data").iterdir()) == []
    assert gsm8k._cached("gsm8k-variants", ["key"], lambda: pool) == pool
    assert gsm8k._cached("gsm8k-variants", ["key"], lambda: ([], [])) == pool  # read back
