"""GSM8K loading (wst.tasks): local files, their errors, and the embedded template split."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from wst.config import TaskConfig
from wst.tasks import DatasetError, Example, Split, get_task

GSM8K = get_task("gsm8k")


def rows(n: int, start: int = 0) -> list[dict]:
    return [
        {"question": f"Question {i}: how much is {i} * 1,000 + 250?",
         "answer": f"{i} * 1000 + 250 = {i * 1000 + 250}\n#### {i * 1000 + 250:,}"}
        for i in range(start, start + n)
    ]


def write_jsonl(path: Path, records: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


def load_file(path: Path, **overrides) -> Split:
    config = TaskConfig(source=str(path), test_fraction=0.5, train_size=100, test_size=0)
    for key, value in overrides.items():
        setattr(config, key, value)
    return GSM8K.load(config)


# --- local files ----------------------------------------------------------------------------


def test_local_jsonl_answers_are_normalised(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "gsm.jsonl", [{"question": "Q?", "answer": "so\n#### 1,250"}] * 2)
    split = load_file(path)
    assert [e.answer for e in split.train + split.test] == ["1250", "1250"]


def test_local_jsonl_split_is_disjoint_and_complete(tmp_path: Path) -> None:
    split = load_file(write_jsonl(tmp_path / "gsm.jsonl", rows(10)))
    assert len(split.train) == 5 and len(split.test) == 5
    train_q = {e.question for e in split.train}
    test_q = {e.question for e in split.test}
    assert not train_q & test_q
    assert train_q | test_q == {r["question"] for r in rows(10)}
    assert all(isinstance(e, Example) and "," not in e.answer for e in split.train + split.test)


def test_local_jsonl_split_is_seeded(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "gsm.jsonl", rows(20))
    first, again = load_file(path), load_file(path)
    assert first.train == again.train and first.test == again.test
    other = load_file(path, split_seed=1)
    assert {e.question for e in other.test} != {e.question for e in first.test}


def test_local_sizes_are_capped(tmp_path: Path) -> None:
    split = load_file(write_jsonl(tmp_path / "gsm.jsonl", rows(20)), train_size=3, test_size=4)
    assert (len(split.train), len(split.test)) == (3, 4)


def test_folder_with_train_and_test_files_uses_them(tmp_path: Path) -> None:
    write_jsonl(tmp_path / "train.jsonl", rows(6))
    write_jsonl(tmp_path / "test.jsonl", rows(3, start=100))
    split = load_file(tmp_path)
    assert {e.question for e in split.train} == {r["question"] for r in rows(6)}
    assert [e.question for e in split.test] == [r["question"] for r in rows(3, start=100)]
    assert split.test[0].answer == "100250"


def test_folder_without_test_file_raises(tmp_path: Path) -> None:
    write_jsonl(tmp_path / "train.jsonl", rows(3))
    with pytest.raises(DatasetError, match="no test file"):
        load_file(tmp_path)


# --- errors name the file, line and field ---------------------------------------------------


def test_malformed_json_line_names_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    good = [json.dumps(r) for r in rows(4)]
    path.write_text("\n".join(good[:2] + ['{"question": "Q", "answer": '] + good[2:]) + "\n")
    with pytest.raises(DatasetError) as info:
        load_file(path)
    assert str(path) in str(info.value)
    assert "line 3" in str(info.value)


def test_missing_field_names_field_and_line(tmp_path: Path) -> None:
    records = rows(4)
    del records[1]["answer"]
    path = write_jsonl(tmp_path / "gsm.jsonl", records)
    with pytest.raises(DatasetError) as info:
        load_file(path)
    message = str(info.value)
    assert str(path) in message and "line 2" in message and "'answer'" in message


def test_empty_field_is_rejected(tmp_path: Path) -> None:
    records = rows(2)
    records[0]["question"] = "  "
    with pytest.raises(DatasetError, match="line 1: field 'question'"):
        load_file(write_jsonl(tmp_path / "gsm.jsonl", records))


def test_missing_field_after_blank_line_names_the_file_line(tmp_path: Path) -> None:
    path = tmp_path / "gsm.jsonl"
    lines = [json.dumps(r) for r in rows(2)] + ["", json.dumps({"question": "Q"})]
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(DatasetError, match="line 4"):
        load_file(path)


def test_empty_file_says_it_holds_no_records(tmp_path: Path) -> None:
    path = tmp_path / "empty.jsonl"
    path.write_text("\n")
    with pytest.raises(DatasetError, match="holds no records"):
        load_file(path)


def test_json_list_file_is_read(tmp_path: Path) -> None:
    path = tmp_path / "gsm.json"
    path.write_text(json.dumps(rows(4)))
    split = load_file(path)
    assert len(split.train) + len(split.test) == 4


def test_json_file_that_is_not_a_list_is_rejected(tmp_path: Path) -> None:
    path = tmp_path / "gsm.json"
    path.write_text(json.dumps({"question": "Q", "answer": "1"}))
    with pytest.raises(DatasetError, match="JSON list"):
        load_file(path)


def test_unsupported_file_type_is_rejected(tmp_path: Path) -> None:
    path = tmp_path / "gsm.txt"
    path.write_text("question,answer\nQ,1\n")
    with pytest.raises(DatasetError, match="unsupported file type") as info:
        load_file(path)
    assert ".jsonl" in str(info.value)


def test_missing_jsonl_file_is_named(tmp_path: Path) -> None:
    path = tmp_path / "nope.jsonl"
    with pytest.raises(DatasetError, match="no such file"):
        load_file(path)


def test_unknown_task_raises() -> None:
    with pytest.raises(KeyError, match="gsm8k"):
        get_task("gsm9k")


# --- the embedded source: split by template (~20 s on first load) --------------------------


@pytest.fixture(scope="module")
def embedded(tmp_path_factory: pytest.TempPathFactory):
    cache = tmp_path_factory.mktemp("wst-cache")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("WST_CACHE_DIR", str(cache))
        yield GSM8K.load(TaskConfig(train_size=12, test_size=0)), cache


def test_embedded_sizes(embedded) -> None:
    split, _ = embedded
    assert len(split.train) == 12
    assert len(split.test) == 40  # test_fraction 0.4 of 100 templates


def test_embedded_train_and_test_templates_are_disjoint(embedded) -> None:
    split, _ = embedded
    train_templates = {e.template for e in split.train}
    test_templates = {e.template for e in split.test}
    assert None not in train_templates | test_templates
    assert not train_templates & test_templates
    assert sorted(test_templates) == split.info["test_templates"]
    assert sorted(train_templates) == split.info["train_templates"]


def test_embedded_answers_are_plain_numbers(embedded) -> None:
    split, _ = embedded
    for example in split.train + split.test:
        float(example.answer)  # no "####", no thousands commas
        assert example.question


def test_embedded_reload_with_same_seed_is_identical(embedded, monkeypatch) -> None:
    split, cache = embedded
    monkeypatch.setenv("WST_CACHE_DIR", str(cache))
    again = GSM8K.load(TaskConfig(train_size=12, test_size=0))
    assert again.train == split.train
    assert again.test == split.test
    assert again.info == split.info


def test_embedded_other_split_seed_gives_other_test_templates(embedded, monkeypatch,
                                                              tmp_path) -> None:
    # The template split is decided before the (slow) variant generation, which is stubbed
    # here to keep the test quick; the real generation is covered by the fixture above.
    import wst.tasks.gsm8k as gsm8k

    monkeypatch.setenv("WST_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(gsm8k, "_variant_pool", lambda by_id, train_ids, size, seed: ([], []))
    split, _ = embedded
    same = GSM8K.load(TaskConfig(train_size=12, test_size=0))
    other = GSM8K.load(TaskConfig(train_size=12, test_size=0, split_seed=1))
    assert same.info["test_templates"] == split.info["test_templates"]
    assert [e.id for e in same.test] == [e.id for e in split.test]
    assert other.info["test_templates"] != split.info["test_templates"]
    assert len(other.test) == 40


def test_embedded_test_size_truncates(embedded, monkeypatch, tmp_path) -> None:
    import wst.tasks.gsm8k as gsm8k

    monkeypatch.setenv("WST_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(gsm8k, "_variant_pool", lambda by_id, train_ids, size, seed: ([], []))
    split, _ = embedded
    small = GSM8K.load(TaskConfig(train_size=12, test_size=5))
    assert [e.id for e in small.test] == [e.id for e in split.test[:5]]
