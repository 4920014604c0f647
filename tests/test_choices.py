"""A teacher that picks one of ``teacher.choices``: scoring, greedy and sampled picks, config
checks, GRPO that gives every question each choice once (tiny teacher, scripted student), and
``teacher.choice_instructions``, what the student sees for each choice ("" = no instruction)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from tests.conftest import ScriptedStudent
from wst.config import ConfigError
from wst.evaluate import evaluate
from wst.tasks import Example, Split, get_task, load_run_config
from wst.tasks.gsm8k import GSM8K
from wst.teacher import (
    TeacherInstructor, choice_logprobs, choice_token_ids, load_teacher, teacher_prompt,
    teacher_settings, write_instructions,
)
from wst.export import export_teacher
from wst.train import train_teacher

CHOICES = ["ab", "c"]  # the scripted student is right after an even number of characters
QUESTIONS = ["What is 3 + 4?", "What is 1 + 6? Show your work."]  # even: right alone
SHOWN = ["", "Add up."]  # what the student sees for each choice: "ab" nothing, "c" 7 characters


def _margins(model, tokenizer, start: str = "") -> torch.Tensor:
    prompts = [teacher_prompt(tokenizer, "Help with: {question}", q, start) for q in QUESTIONS]
    logps = choice_logprobs(model, tokenizer, prompts, CHOICES)
    return logps[:, 0] - logps[:, 1]


@pytest.mark.parametrize("choices, one_token", [(["a", "c"], True),
                                                 ([" a", " in French, please"], False)])
def test_choice_logprobs_sum_each_choices_tokens_after_its_prompt(tiny_teacher, choices,
                                                                  one_token):
    """Each pair's score equals a forward pass over that prompt and choice alone, so the
    padding of a batch of prompts of different lengths changes nothing, whether the menu
    is read off one pass over the prompts (one-token choices) or each pair is scored."""
    model, tokenizer = load_teacher(str(tiny_teacher))
    assert all(len(ids) == 1 for ids in choice_token_ids(tokenizer, choices)) == one_token
    prompts = [teacher_prompt(tokenizer, "Help with: {question}", q) for q in QUESTIONS]
    batched = choice_logprobs(model, tokenizer, prompts, choices)
    for row, prompt in enumerate(prompts):
        prompt_ids = tokenizer(prompt, add_special_tokens=False)["input_ids"]
        for column, choice in enumerate(choices):
            choice_ids = tokenizer(choice, add_special_tokens=False)["input_ids"]
            ids = torch.tensor([prompt_ids + choice_ids])
            with torch.no_grad():
                logps = torch.log_softmax(model(input_ids=ids).logits[0].float(), dim=-1)
            alone = sum(logps[len(prompt_ids) + i - 1, token] for i, token in enumerate(choice_ids))
            assert batched[row, column].item() == pytest.approx(float(alone), abs=1e-4)


def test_write_instructions_picks_the_likeliest_choice_or_samples_them(tiny_teacher):
    model, tokenizer = load_teacher(str(tiny_teacher))
    greedy = write_instructions(model, tokenizer, QUESTIONS, "Help with: {question}", 8,
                                instruction_start="Say", choices=[" ab", " abc"])
    prompts = [teacher_prompt(tokenizer, "Help with: {question}", q, "Say") for q in QUESTIONS]
    best = choice_logprobs(model, tokenizer, prompts, [" ab", " abc"]).argmax(dim=-1)
    assert greedy == [["Say ab", "Say abc"][i] for i in best.tolist()]
    torch.manual_seed(0)
    sampled = write_instructions(model, tokenizer, QUESTIONS, "Help with: {question}", 8,
                                 samples=50, temperature=5.0, instruction_start="Say",
                                 choices=[" ab", " abc"])
    assert len(sampled) == 100 and set(sampled) == {"Say ab", "Say abc"}  # both drawn


def test_with_choice_instructions_the_student_gets_the_picks_instruction_or_none(tiny_teacher):
    model, tokenizer = load_teacher(str(tiny_teacher))
    shown = ["", "Add the two numbers."]
    greedy = write_instructions(model, tokenizer, QUESTIONS, "Help with: {question}", 8,
                                instruction_start="Say", choices=[" ab", " abc"],
                                choice_instructions=shown)
    prompts = [teacher_prompt(tokenizer, "Help with: {question}", q, "Say") for q in QUESTIONS]
    best = choice_logprobs(model, tokenizer, prompts, [" ab", " abc"]).argmax(dim=-1)
    assert greedy == [shown[i] for i in best.tolist()]
    torch.manual_seed(0)
    sampled = write_instructions(model, tokenizer, QUESTIONS, "Help with: {question}", 8,
                                 samples=50, temperature=5.0, instruction_start="Say",
                                 choices=[" ab", " abc"], choice_instructions=shown)
    assert set(sampled) == set(shown)  # "" is an instruction of its own: none


def test_a_cards_choice_instructions_go_with_its_choices():
    """Given settings win over the card's, as for ``choices``; choices given without their
    instructions show themselves (the card's map belongs to the card's menu)."""
    card = {"choices": ["a", "b"], "choice_instructions": ["", "Be brief."]}
    assert teacher_settings(card).choice_instructions == ("", "Be brief.")
    given = teacher_settings(card, choice_instructions=["x", "y"])
    assert given.choices == ("a", "b") and given.choice_instructions == ("x", "y")
    assert teacher_settings(card, choices=["c", "d"]).choice_instructions == ()
    with pytest.raises(ValueError, match="one per choice"):
        teacher_settings(card, choices=["a", "b", "c"], choice_instructions=["", "B"])


@pytest.mark.parametrize("override, problem", [
    (["teacher.choices=[\"a\"]"], "at least two distinct"),
    (["teacher.choices=[\"a\", \"a\"]"], "at least two distinct"),
    (["teacher.choices=[\"a\", \"b\"]", "train.num_generations=2", "teacher.engine=llamacpp"],
     "pytorch engine only"),
    (['teacher.choice_instructions=["", "Be brief."]'],
     "teacher.choice_instructions .*teacher.choices"),
    (['teacher.choices=["a", "b"]', 'teacher.choice_instructions=[""]'],
     "teacher.choice_instructions needs one .*teacher.choices.*got 1 for 2"),
])
def test_choices_that_cannot_run_are_refused_before_any_model_loads(override, problem):
    with pytest.raises(ConfigError, match=problem):
        load_run_config(None, override)


def test_only_training_needs_one_generation_per_choice(tmp_path):
    run_dir = tmp_path / "run"
    config = load_run_config(None, ["teacher.choices=[\"a\", \"b\"]", "train.num_generations=4",
                                    f"output_dir={run_dir}"])  # evaluating such a chooser is fine
    with pytest.raises(ConfigError, match="num_generations must be 2"):
        train_teacher(config, Split(train=[], test=[]), GSM8K(), student=None)
    assert not run_dir.exists()  # refused before the run folder or any model


def test_training_refuses_mapped_choices_that_make_the_same_instruction(tmp_path):
    """The reward maps a completion to its choice by the instruction it makes: " a" and "a"
    make one, so their ``choice_instructions`` could not be told apart."""
    run_dir = tmp_path / "run"
    config = load_run_config(None, ['teacher.choices=["a", " a"]', "train.num_generations=2",
                                    'teacher.choice_instructions=["", "Be brief."]',
                                    f"output_dir={run_dir}"])
    with pytest.raises(ConfigError, match="make the same instruction twice"):
        train_teacher(config, Split(train=[], test=[]), GSM8K(), student=None)
    assert not run_dir.exists()


def test_a_llamacpp_teacher_refuses_choices_before_exporting(tiny_teacher):
    from wst.teacher_gguf import load_instructor

    with pytest.raises(ValueError, match="pytorch engine only"):
        load_instructor(str(tiny_teacher), engine="llamacpp", choices=["ab", "c"])


def test_grpo_gives_every_question_each_choice_and_learns_the_better_one(
        tmp_path, tiny_teacher, scripted_student):
    """Every question of a step reaches the student once with each choice; the choice the
    student answers right after ("ab") gains log-probability over the other; the trained
    teacher's card carries the choices, so loading it picks from them."""
    run_dir = tmp_path / "run"
    config = load_run_config(None, [
        f"output_dir={run_dir}", f"teacher.model={tiny_teacher}", "teacher.max_instruction_tokens=4",
        "teacher.meta_prompt=Help with: {question}", 'teacher.choices=["ab", "c"]',
        "train.num_generations=2", "train.questions_per_step=2", "train.max_steps=4",
        "train.learning_rate=1e-2", "train.save_steps=10", "train.validation_steps=0"])
    train = [Example(f"q{i}", q, "7", template=i) for i, q in enumerate(QUESTIONS)]
    base_model, tokenizer = load_teacher(str(tiny_teacher))
    before = _margins(base_model, tokenizer)

    out = train_teacher(config, Split(train=train, test=train, info={"source": "test"}),
                        GSM8K(), scripted_student)

    asked = [(m[0]["content"].split("\n\n")[0], m[0]["content"].split("\n\n")[1])
             for m in scripted_student.requests]
    assert len(asked) == 4 * 2 * 2  # steps x questions x choices
    for step in range(4):
        block = asked[step * 4:(step + 1) * 4]
        assert sorted(block) == sorted((c, q) for q in QUESTIONS for c in CHOICES)
    trained, _ = load_teacher(str(tiny_teacher), str(out))
    after = _margins(trained, tokenizer)
    assert (after > before + 0.5).all(), (before, after)
    assert json.loads((Path(out) / "wst_teacher.json").read_text())["choices"] == CHOICES
    assert set(TeacherInstructor(str(out)).instruct_many(QUESTIONS)) <= set(CHOICES)
    exported = export_teacher(str(tiny_teacher), out, tmp_path / "export", "Help with: {question}")
    assert TeacherInstructor(str(exported)).choices == tuple(CHOICES)  # still a chooser


def test_grpo_shows_each_choices_instruction_and_the_trained_teacher_keeps_the_map(
        tmp_path, tiny_teacher, scripted_student):
    """With ``choice_instructions`` the student gets the question alone for "ab" and "Add
    up." for "c", in training and validation; the samples log what it saw; the choice it
    answers right after ("ab": nothing) gains; the card and its export carry the map."""
    run_dir = tmp_path / "run"
    config = load_run_config(None, [
        f"output_dir={run_dir}", f"teacher.model={tiny_teacher}",
        "teacher.max_instruction_tokens=4", "teacher.meta_prompt=Help with: {question}",
        'teacher.choices=["ab", "c"]', 'teacher.choice_instructions=["", "Add up."]',
        "train.num_generations=2", "train.questions_per_step=2", "train.max_steps=4",
        "train.learning_rate=1e-2", "train.save_steps=10", "train.validation_steps=4"])
    train = [Example(f"q{i}", q, "7", template=i) for i, q in enumerate(QUESTIONS)]
    validation = [Example("v1", "What is 2 + 5?", "7")]
    base_model, tokenizer = load_teacher(str(tiny_teacher))
    before = _margins(base_model, tokenizer)

    out = train_teacher(config, Split(train=train, test=train, validation=validation,
                                      info={"source": "test"}), GSM8K(), scripted_student)

    asked = [m[-1]["content"] for m in scripted_student.requests]
    assert len(asked) == 1 + 4 * 2 * 2 + 1  # validation, steps x questions x choices, validation
    for step in range(4):
        block = asked[1 + step * 4:1 + (step + 1) * 4]
        assert sorted(block) == sorted(QUESTIONS + [f"Add up.\n\n{q}" for q in QUESTIONS])
    assert {asked[0], asked[-1]} <= {"What is 2 + 5?", "Add up.\n\nWhat is 2 + 5?"}
    samples = [json.loads(line)
               for line in (run_dir / "train_samples.jsonl").read_text().splitlines()]
    assert {(row["choice"], row["instruction"]) for row in samples} == {("ab", ""),
                                                                        ("c", "Add up.")}
    assert all(row["score"] == float(row["choice"] == "ab") for row in samples)
    trained, _ = load_teacher(str(tiny_teacher), str(out))
    after = _margins(trained, tokenizer)
    assert (after > before + 0.5).all(), (before, after)
    card = json.loads((Path(out) / "wst_teacher.json").read_text())
    assert (card["choices"], card["choice_instructions"]) == (CHOICES, SHOWN)
    teacher = TeacherInstructor(str(out))
    assert teacher.choice_instructions == tuple(SHOWN)
    assert set(teacher.instruct_many(QUESTIONS)) <= set(SHOWN)
    exported = export_teacher(str(tiny_teacher), out, tmp_path / "export", "Help with: {question}")
    assert TeacherInstructor(str(exported)).choice_instructions == tuple(SHOWN)


def test_evaluation_shows_the_mapped_instruction_and_counts_none_as_no_words(tmp_path,
                                                                               tiny_teacher):
    """The untrained chooser's greedy pick (" ab" on this random teacher) shows the student
    nothing: the record's instruction is "" and the condition scores as ``none`` does."""
    config = load_run_config(None, [
        f"teacher.model={tiny_teacher}", "teacher.meta_prompt=Help with: {question}",
        "teacher.instruction_start=Say", 'teacher.choices=[" ab", " abc"]',
        'teacher.choice_instructions=["", "Add the two numbers."]',
        'eval.conditions=["none", "teacher_base"]'])
    examples = [Example(f"q{i}", q, "7") for i, q in enumerate(QUESTIONS + ["odd"])]
    evaluate(config, get_task("gsm8k"), examples, ScriptedStudent(), None, tmp_path)
    summary = json.loads((tmp_path / "eval.json").read_text())
    records = [json.loads(line) for line in (tmp_path / "records.jsonl").read_text().splitlines()]
    assert [r["instruction"] for r in records if r["condition"] == "teacher_base"] == [""] * 3
    none, chooser = summary["results"]
    assert chooser["accuracy"] == none["accuracy"] and chooser["instruction_words"] == 0.0
    assert summary["choice_instructions"] == ["", "Add the two numbers."]


def test_an_empty_instruction_counts_as_none_in_the_words(tmp_path, monkeypatch):
    """The mean instruction length is over every item: one without an instruction adds 0."""
    monkeypatch.setattr("wst.evaluate._teacher_instructions",
                        lambda *args, **kwargs: ["", "Add the two numbers."])
    config = load_run_config(None, ['eval.conditions=["teacher_base"]'])
    examples = [Example(f"q{i}", "odd", "7") for i in range(2)]
    [result] = evaluate(config, get_task("gsm8k"), examples, ScriptedStudent(), None, tmp_path)
    assert result.instruction_words == 2.0
