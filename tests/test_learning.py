"""The training loop learns: wst's own GRPO path moves the teacher toward what the student
rewards, and evaluation reads the trained adapter.

A scripted student answers right only when the instruction starts with a letter or digit
(about a quarter of a random teacher's first characters). After a short run of
``train_teacher`` (TRL GRPO, LoRA, saved adapter), the trained teacher's greedy instructions,
written through the evaluation code's ``instructions_for("teacher_trained")``, must show that
property far more often than the untrained teacher's. Flipping the reward's sign, pairing
rewards with the wrong instructions, skipping the update or evaluating the base weights each
makes this test fail.
"""

from __future__ import annotations

from pathlib import Path

from wst.tasks import Example, Split, load_run_config
from wst.evaluate import instructions_for
from wst.students.base import Answer, Messages, Sampling, Student
from wst.tasks.gsm8k import GSM8K

META_PROMPT = "{question}"


class PrefersAlphanumericStart(Student):
    """Right (``\\boxed{7}``) iff the instruction's first character is a letter or a digit."""

    def __init__(self) -> None:
        super().__init__(Sampling(max_tokens=8), parallel=1)

    @property
    def identity(self) -> str:
        return "scripted:alnum-start"

    def _answer_one(self, messages: Messages, sampling: Sampling) -> Answer:
        content = messages[-1]["content"]
        instruction = content.split("\n\n")[0] if "\n\n" in content else ""
        return Answer(text="\\boxed{7}" if has_property(instruction) else "\\boxed{0}")


def has_property(instruction: str | None) -> bool:
    return bool(instruction) and instruction[0].isascii() and instruction[0].isalnum()


def _examples(n: int, offset: int = 0) -> list[Example]:
    return [Example(f"q{i}", f"What is {i} + {7 - i}?", "7") for i in range(offset, offset + n)]


def test_trained_teacher_learns_what_the_student_rewards(tmp_path: Path, tiny_teacher: Path):
    config = load_run_config(None, [
        f"output_dir={tmp_path / 'run'}", f"teacher.model={tiny_teacher}",
        "teacher.max_instruction_tokens=3", f"teacher.meta_prompt={META_PROMPT}",
        "train.max_steps=30", "train.questions_per_step=4", "train.num_generations=8",
        "train.learning_rate=0.02", "train.save_steps=100", "train.screen=false",
        "teacher.lora_target_modules=[\"q_proj\",\"v_proj\",\"up_proj\",\"down_proj\",\"gate_proj\",\"o_proj\",\"k_proj\"]",
    ])
    split = Split(train=_examples(16), test=_examples(24, offset=100), info={})
    student = PrefersAlphanumericStart()
    from wst.train import train_teacher

    adapter = train_teacher(config, split, GSM8K(), student)

    def share(condition: str) -> float:
        written = instructions_for(condition, split.test, config, student, str(adapter))
        return sum(map(has_property, written)) / len(written)

    untrained, trained = share("teacher_base"), share("teacher_trained")
    assert untrained <= 0.25, untrained
    assert trained >= 0.75, (untrained, trained)
