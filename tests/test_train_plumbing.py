"""GRPO wiring on a tiny random teacher and a scripted student: rewards, metrics, resume."""

from __future__ import annotations

import json
from pathlib import Path

import torch

from wst.config import RunConfig
from wst.tasks import Example, Split, load_run_config
from wst.tasks.gsm8k import GSM8K
from wst.train import StepClock, make_reward_fn, train_teacher


def _config(run_dir: Path, teacher: Path, steps: int) -> RunConfig:
    config = load_run_config(None, [f"output_dir={run_dir}"])
    config.teacher.model = str(teacher)
    config.teacher.max_instruction_tokens = 8
    config.train.max_steps = steps
    config.train.questions_per_step = 2
    config.train.num_generations = 4
    config.train.save_steps = 1
    return config


def _split() -> Split:
    train = [Example(f"q{i}", f"What is {i} + {7 - i}?", "7", template=i) for i in range(8)]
    return Split(train=train, test=train[:2], info={"source": "test"})


def test_reward_fn_scores_with_the_student_and_penalises_leaks(tmp_path, scripted_student):
    config = load_run_config(None, [f"output_dir={tmp_path}"])
    logged: dict[str, float] = {}
    reward = make_reward_fn(scripted_student, GSM8K(), config, StepClock(), tmp_path / "s.jsonl")
    completions = [[{"role": "assistant", "content": text}] for text in ("ab", "abc", "it is 7!")]
    rewards = reward(completions, question=["What is 3 + 4?"] * 3, answer=["7"] * 3,
                     example_id=["q"] * 3, log_metric=logged.__setitem__)
    # "ab": even length -> right; "abc": odd -> wrong; "it is 7!" is right but leaks the answer.
    assert rewards == [1.0, 0.0, 0.0]
    assert logged["instruction/leak_rate"] == 1 / 3
    assert logged["student/accuracy"] == 2 / 3
    assert len(scripted_student.requests) == 3
    assert scripted_student.requests[0][0]["content"] == "ab\n\nWhat is 3 + 4?"
    assert len((tmp_path / "s.jsonl").read_text().splitlines()) == 3


def test_reward_weights_scale_the_rewards_of_one_class(tmp_path, scripted_student):
    """``train.reward_weights`` multiplies the rewards of examples by their reference answer;
    the samples file keeps the unweighted score next to the reward."""
    config = load_run_config(None, [f"output_dir={tmp_path}",
                                    'train.reward_weights={"7": 4.0}'])
    reward = make_reward_fn(scripted_student, GSM8K(), config, StepClock(), tmp_path / "s.jsonl")
    completions = [[{"role": "assistant", "content": "ab"}]] * 2
    rewards = reward(completions, question=["What is 3 + 4?", "What is 3 + 5?"],
                     answer=["7", "8"], example_id=["a", "b"])
    # Both instructions are right for the scripted student ("ab" has even length), but the
    # second example's reference is 8, so its answer \boxed{7} is wrong.
    assert rewards == [4.0, 0.0]
    rows = [json.loads(line) for line in (tmp_path / "s.jsonl").read_text().splitlines()]
    assert [(r["score"], r["reward"]) for r in rows] == [(1.0, 4.0), (0.0, 0.0)]


def test_reward_fn_times_the_scoring_apart_from_the_student(tmp_path, scripted_student):
    """A judge's calls are timed as scoring, so a step's cost shows judge next to student."""
    import time

    class SlowScorer(GSM8K):
        def score_answers(self, answers, examples):
            time.sleep(0.2)
            return super().score_answers(answers, examples)

    config = load_run_config(None, [f"output_dir={tmp_path}"])
    clock = StepClock()
    reward = make_reward_fn(scripted_student, SlowScorer(), config, clock, tmp_path / "s.jsonl")
    reward([[{"role": "assistant", "content": "ab"}]], question=["What is 3 + 4?"],
           answer=["7"], example_id=["q"])
    assert clock.scoring >= 0.2 > clock.student


def test_reward_fn_gives_the_student_the_conversation_so_far(tmp_path, scripted_student):
    from wst.train import train_dataset

    config = load_run_config(None, [f"output_dir={tmp_path}"])
    example = Example("c", "And now?", "7", history=(("user", "Hi"), ("assistant", "Hello")))
    row = train_dataset([example], config.teacher, tokenizer=None)[0]
    reward = make_reward_fn(scripted_student, GSM8K(), config, StepClock(), tmp_path / "s.jsonl")
    reward([[{"role": "assistant", "content": "ab"}]], question=[row["question"]],
           answer=[row["answer"]], example_id=[row["example_id"]], history=[row["history"]])
    assert [m["role"] for m in scripted_student.requests[0]] == ["user", "assistant", "user"]


def test_grpo_steps_log_metrics_checkpoint_and_resume(tmp_path, tiny_teacher, scripted_student):
    run_dir = tmp_path / "run"
    out = train_teacher(_config(run_dir, tiny_teacher, steps=2), _split(), GSM8K(), scripted_student)
    assert (out / "adapter_config.json").exists() and (out / "wst_teacher.json").exists()
    metrics = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    steps = [m for m in metrics if "reward" in m]
    assert [m["step"] for m in steps] == [1, 2]
    for key in ("reward", "frac_reward_zero_std", "student/accuracy", "instruction/leak_rate",
                "instruction/words", "time/teacher_generation_s", "time/student_s",
                "time/scoring_s", "time/update_s"):
        assert key in steps[0], key
    assert steps[0]["time/student_s"] > 0 and steps[0]["time/teacher_generation_s"] > 0
    assert len(scripted_student.requests) == 2 * 2 * 4  # steps x questions x generations
    assert json.loads((run_dir / "split.json").read_text())["n_train"] == 8

    resumed = _config(run_dir, tiny_teacher, steps=3)
    train_teacher(resumed, _split(), GSM8K(), scripted_student, resume=True)
    metrics = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    assert [m["step"] for m in metrics if "reward" in m] == [1, 2, 3]
    assert len(scripted_student.requests) == 3 * 2 * 4  # only the one new step asked again


def test_an_instruction_start_is_prefilled_in_training_validation_and_use(
        tmp_path, tiny_teacher, scripted_student):
    """Every instruction the student sees starts with ``teacher.instruction_start``: in the
    rewards, in validation, and from the trained teacher, which carries it in its card."""
    from wst.teacher import TeacherInstructor

    start = "Reply by"
    config = _config(tmp_path / "run", tiny_teacher, steps=1)
    config.teacher.instruction_start = start
    config.train.validation_steps = 1
    split = _split()
    split.validation = [Example("v1", "What is 2 + 5?", "7")]
    out = train_teacher(config, split, GSM8K(), scripted_student)
    # 2 x 4 training requests, then validation before and after the step
    assert len(scripted_student.requests) == 2 * 4 + 2
    assert all(r[-1]["content"].startswith(start) for r in scripted_student.requests)
    samples = [json.loads(line) for line in
               (tmp_path / "run" / "train_samples.jsonl").read_text().splitlines()]
    assert all(row["instruction"].startswith(start) for row in samples)
    assert json.loads((out / "wst_teacher.json").read_text())["instruction_start"] == start
    assert TeacherInstructor(str(out)).instruct("What is 3 + 4?").startswith(start)


def test_training_can_start_from_a_trained_adapter(tmp_path, tiny_teacher, scripted_student):
    """``train.init_adapter``: the first validation check asks with the given adapter's
    instructions, and the trained teacher keeps its rank; a folder that is no adapter is a
    ConfigError before any step."""
    import pytest
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    from wst.config import ConfigError
    from wst.teacher import TeacherInstructor

    start = tmp_path / "start"
    get_peft_model(AutoModelForCausalLM.from_pretrained(tiny_teacher),
                   LoraConfig(r=2, target_modules=["q_proj", "v_proj"],
                              init_lora_weights=False)).save_pretrained(start)
    config = _config(tmp_path / "run", tiny_teacher, steps=1)
    config.train.init_adapter, config.train.validation_steps = str(start), 1
    split = _split()
    split.validation = [Example("v1", "What is 2 + 5?", "7")]
    out = train_teacher(config, split, GSM8K(), scripted_student)
    expected = TeacherInstructor(str(tiny_teacher), str(start), config.teacher.meta_prompt,
                                 config.teacher.max_instruction_tokens).instruct("What is 2 + 5?")
    base = TeacherInstructor(str(tiny_teacher), None, config.teacher.meta_prompt,
                             config.teacher.max_instruction_tokens).instruct("What is 2 + 5?")
    assert expected != base  # so the check below tells the adapter from a fresh start
    first_check = scripted_student.requests[0][-1]["content"]
    assert first_check == f"{expected}\n\nWhat is 2 + 5?"
    assert json.loads((out / "adapter_config.json").read_text())["r"] == 2

    config.train.init_adapter, config.output_dir = str(tiny_teacher), str(tmp_path / "other")
    with pytest.raises(ConfigError, match="not a LoRA adapter"):
        train_teacher(config, split, GSM8K(), scripted_student)


def test_full_finetune_saves_a_whole_model_that_loads(tmp_path, tiny_teacher, scripted_student):
    from wst.teacher import load_teacher, write_instructions

    config = _config(tmp_path / "full", tiny_teacher, steps=1)
    config.teacher.lora = False
    out = train_teacher(config, _split(), GSM8K(), scripted_student)
    assert (out / "config.json").exists() and not (out / "adapter_config.json").exists()
    model, tokenizer = load_teacher(str(tiny_teacher), adapter=str(out))
    [instruction] = write_instructions(model, tokenizer, ["What is 3 + 4?"], "{question}", 4)
    assert isinstance(instruction, str)


def test_screen_keeps_questions_whose_outcomes_differ(tmp_path, scripted_student):
    from wst.screen import screen, summary

    # The scripted student is right when the text before "\n\n" has even length; with no
    # instruction that text is the question itself (odd: 15 characters, even: 16).
    examples = [Example("odd", "What is 3 + 4?.", "7"), Example("even", "What is 13 + 4?.", "7")]
    sampling = scripted_student.sampling

    def write(pairs: list[str]) -> list[str]:  # two instructions per question, both even
        return ["ab", "abcd"] * len(pairs)

    screened = screen(examples, GSM8K(), scripted_student, sampling, write, "prefix")
    assert [q.scores for q in screened] == [[0.0, 1.0, 1.0], [1.0, 1.0, 1.0]]
    assert [q.verdict for q in screened] == ["kept", "all_right"]
    assert screened[0].instructions == [None, "ab", "abcd"]
    assert summary(screened) == {"screened": 2, "kept": 1, "all_right": 1, "all_wrong": 0}


def test_training_on_a_screened_pool_with_validation_checks(tmp_path, tiny_teacher,
                                                             scripted_student):
    from wst.report import screen_section

    run_dir = tmp_path / "run"
    config = _config(run_dir, tiny_teacher, steps=2)
    config.train.screen, config.train.screen_instructions = True, 2
    config.train.validation_steps = 1
    split = _split()
    split.validation = [Example("v1", "What is 2 + 5?", "7"), Example("v2", "What is 1 + 6?", "7")]
    train_teacher(config, split, GSM8K(), scripted_student)
    rows = [json.loads(line) for line in (run_dir / "screen.jsonl").read_text().splitlines()]
    assert [r["id"] for r in rows] == [e.id for e in split.train]
    assert all(len(r["scores"]) == 3 and r["instructions"][0] is None for r in rows)
    assert "training questions kept" in screen_section(run_dir)[0]
    metrics = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    checks = [m for m in metrics if "validation/accuracy" in m]
    assert [m["step"] for m in checks] == [0, 1, 2] and all(m["validation/n"] == 2 for m in checks)
    kept = sorted(p.name for p in (run_dir / "validation").iterdir() if p.is_dir())
    assert kept == ["step-1", "step-2"]  # the teacher of every check, to choose on validation
    card = json.loads((run_dir / "validation" / "step-2" / "wst_teacher.json").read_text())
    assert card["step"] == 2 and card["validation_accuracy"] == checks[-1]["validation/accuracy"]
    assert (run_dir / "validation" / "step-2" / "adapter_model.safetensors").is_file()
    per_item = [json.loads(line) for line in
                (run_dir / "validation" / "scores.jsonl").read_text().splitlines()]
    assert [row["step"] for row in per_item] == [0, 1, 2]
    assert all(row["ids"] == ["v1", "v2"] and len(row["scores"]) == 2 for row in per_item)
    assert all(len(row["instructions"]) == 2 and all(isinstance(i, str) for i in row["instructions"])
               for row in per_item)  # what the teacher wrote for each item, beside its score

    asked = len(scripted_student.requests)
    resumed = _config(run_dir, tiny_teacher, steps=3)
    resumed.train.screen, resumed.train.screen_instructions = True, 2
    train_teacher(resumed, split, GSM8K(), scripted_student, resume=True)
    # The screen is read back, not redone: only the one new step's 2 x 4 requests go out.
    assert len(scripted_student.requests) - asked == 2 * 4


def test_grpo_args_follow_the_hardware_fields(tmp_path):
    from wst.train import grpo_args

    config = load_run_config(None, ["train.gradient_checkpointing=true", "train.vllm_mode=server",
                                    "train.vllm_server_base_url=http://h:8000"])
    args = grpo_args(config, tmp_path)
    assert args.use_cpu and not args.bf16  # this CPU box: device auto
    assert args.gradient_checkpointing and not args.use_vllm
    assert (args.vllm_mode, args.vllm_server_base_url) == ("server", "http://h:8000")
    assert not grpo_args(load_run_config(), tmp_path).gradient_checkpointing


def test_grpo_args_pass_the_optimizer_momentum(tmp_path):
    from wst.train import grpo_args

    assert grpo_args(load_run_config(), tmp_path).adam_beta1 == 0.9  # AdamW's usual momentum
    assert grpo_args(load_run_config(None, ["train.adam_beta1=0"]), tmp_path).adam_beta1 == 0.0


def test_an_adapter_kept_without_its_tokenizer_loads_with_the_bases(tmp_path, tiny_teacher):
    """results/ keeps adapters small: the weights and card, not a copy of the base tokenizer."""
    import shutil

    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from wst.teacher import load_teacher, write_instructions

    full, slim = tmp_path / "full", tmp_path / "slim"
    model = get_peft_model(AutoModelForCausalLM.from_pretrained(tiny_teacher),
                           LoraConfig(r=2, target_modules=["q_proj"], init_lora_weights=False))
    model.save_pretrained(full)
    AutoTokenizer.from_pretrained(tiny_teacher).save_pretrained(full)
    slim.mkdir()
    for name in ("adapter_config.json", "adapter_model.safetensors"):
        shutil.copy(full / name, slim / name)
    written = [write_instructions(*load_teacher(str(tiny_teacher), str(folder)),
                                  ["What is 3 + 4?"], "Q: {question}", 6) for folder in (full, slim)]
    assert written[0] == written[1]


def test_rows_of_zero_advantage_leave_the_update_and_change_nothing(tmp_path, tiny_teacher):
    """Groups whose instructions all score the same have zero advantage; skipping their rows
    in the update (``train.skip_zero_advantage``) gives the same adapter as computing them."""
    from safetensors.torch import load_file

    from tests.conftest import ScriptedStudent
    from wst.students.base import Answer

    class HalfFlatStudent(ScriptedStudent):
        """Right whatever the instruction for even questions: their groups never vary."""

        def _answer_one(self, messages, sampling):
            question = messages[-1]["content"].rsplit("What is ", 1)[1]
            if int(question.split()[0]) % 2 == 0:
                return Answer(text="\\boxed{7}", completion_tokens=3)
            return super()._answer_one(messages, sampling)

    adapters = {}
    for skip in (True, False):
        config = _config(tmp_path / f"skip-{skip}", tiny_teacher, steps=2)
        config.train.skip_zero_advantage = skip
        out = train_teacher(config, _split(), GSM8K(), HalfFlatStudent())
        adapters[skip] = load_file(out / "adapter_model.safetensors")
        metrics = [json.loads(line) for line in
                   (Path(config.output_dir) / "metrics.jsonl").read_text().splitlines()]
        skipped = [m.get("update/skipped_share", 0.0) for m in metrics if "reward" in m]
        assert (max(skipped) > 0) == skip
    assert adapters[True].keys() == adapters[False].keys()
    for name, weight in adapters[True].items():
        assert torch.allclose(weight, adapters[False][name], atol=1e-6), name
    assert any(not torch.equal(w, torch.zeros_like(w)) for w in adapters[True].values())


def test_micro_batches_make_the_same_update_from_the_same_requests(tmp_path, tiny_teacher):
    """``train.micro_batches`` splits a step's forward and backward pass (less memory) but
    neither asks the student again nor changes the update; step times are summed per step."""
    from safetensors.torch import load_file

    from tests.conftest import ScriptedStudent

    adapters, students = {}, {}
    for micro in (1, 2):
        config = _config(tmp_path / f"micro-{micro}", tiny_teacher, steps=2)
        config.train.micro_batches = micro
        students[micro] = ScriptedStudent()
        out = train_teacher(config, _split(), GSM8K(), students[micro])
        adapters[micro] = load_file(out / "adapter_model.safetensors")
        metrics = [json.loads(line) for line in
                   (Path(config.output_dir) / "metrics.jsonl").read_text().splitlines()]
        steps = [m for m in metrics if "reward" in m]
        assert [m["step"] for m in steps] == [1, 2]
        assert all(m["time/student_s"] > 0 for m in steps)
    assert [r for r in students[1].requests] == [r for r in students[2].requests]
    assert len(students[2].requests) == 2 * 2 * 4
    for name, weight in adapters[1].items():
        assert torch.allclose(weight, adapters[2][name], atol=1e-6), name
