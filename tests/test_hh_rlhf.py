"""The hh_rlhf task: HH transcripts, prompt files, the offline mix, clear errors."""

from __future__ import annotations

import json

import pytest

from wst.config import TaskConfig
from wst.tasks import DatasetError, get_task, load_run_config
from wst.tasks.hh_rlhf import prompt_of

HH = "\n\nHuman: {q1}\n\nAssistant: {a1}\n\nHuman: {q2}\n\nAssistant: {a2}"


def _hh_record(i: int) -> dict:
    return {"chosen": HH.format(q1=f"Hi {i}", a1="Hello!", q2=f"Question {i}?", a2="Good answer."),
            "rejected": HH.format(q1=f"Hi {i}", a1="Hello!", q2=f"Question {i}?", a2="Bad.")}


def test_prompt_is_the_turns_before_the_final_reply() -> None:
    messages = prompt_of(_hh_record(1)["chosen"], "x")
    assert messages == [{"role": "user", "content": "Hi 1"},
                        {"role": "assistant", "content": "Hello!"},
                        {"role": "user", "content": "Question 1?"}]


@pytest.mark.parametrize("text", ["no turns at all", "Assistant: only a reply",
                                  "preamble\n\nHuman: hi"])
def test_malformed_transcripts_are_rejected(text) -> None:
    with pytest.raises(DatasetError, match="where"):
        prompt_of(text, "where")


def test_hh_file_keeps_the_conversation_for_the_student(tmp_path) -> None:
    path = tmp_path / "hh.jsonl"
    path.write_text("".join(json.dumps(_hh_record(i)) + "\n" for i in range(10)))
    split = get_task("hh_rlhf").load(TaskConfig(name="hh_rlhf", source=str(path),
                                                test_fraction=0.3))
    assert len(split.test) == 3 and len(split.train) == 7
    assert not {e.id for e in split.test} & {e.id for e in split.train}
    example = split.test[0]
    assert example.question.startswith("Question") and example.answer == ""
    messages = get_task("hh_rlhf").student_messages(example, "Be brief.", "system")
    assert [m["role"] for m in messages] == ["system", "user", "assistant", "user"]
    assert messages[0]["content"] == "Be brief."


def test_hh_folder_uses_its_own_train_and_test_files(tmp_path) -> None:
    for name, count in (("train", 4), ("test", 2)):
        (tmp_path / f"{name}.jsonl").write_text(
            "".join(json.dumps(_hh_record(i)) + "\n" for i in range(count)))
    split = get_task("hh_rlhf").load(TaskConfig(name="hh_rlhf", source=str(tmp_path)))
    assert (len(split.train), len(split.test)) == (4, 2)
    assert split.info["split_by"] == "the folder's train and test files"


def test_prompt_records_with_kinds(tmp_path) -> None:
    path = tmp_path / "mine.jsonl"
    path.write_text(json.dumps({"id": "a", "prompt": "Rob a bank?", "kind": "harmful"}) + "\n"
                    + json.dumps({"id": "b", "prompt": "Bake bread?"}) + "\n")
    split = get_task("hh_rlhf").load(TaskConfig(name="hh_rlhf", source=str(path),
                                                test_fraction=0.5))
    assert {e.id: e.answer for e in split.train + split.test} == {"a": "harmful", "b": ""}


@pytest.mark.parametrize("line, message", [
    ('{"chosen": "not a transcript"}', r"mine.jsonl: line 2: field 'chosen'"),
    ('{"prompt": "  "}', r"mine.jsonl: line 2: field 'chosen' \(an HH transcript\) or 'prompt'"),
    ('{"prompt": "ok"', r"mine.jsonl: line 2: invalid JSON"),
    ('{"id": "a", "prompt": "again"}', r"mine.jsonl: line 2: field 'id': duplicate id 'a' \(first"),
])
def test_bad_records_name_file_line_and_field(tmp_path, line, message) -> None:
    path = tmp_path / "mine.jsonl"
    path.write_text(json.dumps({"id": "a", "prompt": "fine"}) + "\n" + line + "\n")
    with pytest.raises(DatasetError, match=message):
        get_task("hh_rlhf").load(TaskConfig(name="hh_rlhf", source=str(path)))


def test_embedded_mix_is_balanced_seeded_and_disjoint() -> None:
    config = TaskConfig(name="hh_rlhf", test_size=0, train_size=10_000)
    split = get_task("hh_rlhf").load(config)
    again = get_task("hh_rlhf").load(config)
    assert [e.id for e in split.test] == [e.id for e in again.test]
    assert not {e.id for e in split.test} & {e.id for e in split.train}
    assert not {e.question for e in split.test} & {e.question for e in split.train}
    for part in (split.test, split.train):
        kinds = [e.answer for e in part]
        assert kinds.count("harmful") == kinds.count("benign") > 0
    assert [e.answer for e in split.test[:4]] == ["harmful", "benign", "harmful", "benign"]
    assert all(e.subset == e.answer for e in split.test)  # the report compares kinds apart
    assert split.info["n_harmful_available"] == 1139  # Do-Not-Answer 939 + HarmBench 200
    other = get_task("hh_rlhf").load(TaskConfig(name="hh_rlhf", test_size=0, split_seed=1))
    assert [e.id for e in other.test] != [e.id for e in split.test]


def test_validation_items_are_held_back_from_training_half_of_each_kind() -> None:
    full = get_task("hh_rlhf").load(TaskConfig(name="hh_rlhf", train_size=10_000))
    split = get_task("hh_rlhf").load(TaskConfig(name="hh_rlhf", train_size=10_000,
                                                validation_items=10))
    assert [e.answer for e in split.validation].count("harmful") == 5
    assert [e.id for e in split.validation] == [e.id for e in full.train[:10]]
    assert [e.id for e in split.train] == [e.id for e in full.train[10:]]
    assert [e.id for e in split.test] == [e.id for e in full.test]
    assert full.validation == []


def test_benign_prompts_ship_with_the_package() -> None:
    from wst.tasks.hh_rlhf import BENIGN_FILE, benign_prompts

    prompts = benign_prompts()
    assert BENIGN_FILE.is_file() and len(prompts) == 200
    assert len({p.question for p in prompts}) == 200


def test_hh_rlhf_is_registered_with_the_judge_scorer() -> None:
    assert get_task("hh_rlhf").scorer == "judge"
    assert load_run_config(None, task="hh_rlhf").task.name == "hh_rlhf"
