"""A teacher that picks one of ``teacher.choices``: scoring, greedy and sampled picks, config
checks, and GRPO that gives every question each choice once (tiny teacher, scripted student)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from wst.config import ConfigError
from wst.tasks import Example, Split, load_run_config
from wst.tasks.gsm8k import GSM8K
from wst.teacher import (
    TeacherInstructor, choice_logprobs, choice_token_ids, load_teacher, teacher_prompt,
    write_instructions,
)
from wst.export import export_teacher
from wst.train import train_teacher

CHOICES = ["ab", "c"]  # the scripted student is right after an even number of characters
QUESTIONS = ["What is 3 + 4?", "What is 1 + 6? Show your work."]


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


@pytest.mark.parametrize("override, problem", [
    (["teacher.choices=[\"a\"]"], "at least two distinct"),
    (["teacher.choices=[\"a\", \"a\"]"], "at least two distinct"),
    (["teacher.choices=[\"a\", \"b\"]", "train.num_generations=2", "teacher.engine=llamacpp"],
     "pytorch engine only"),
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
