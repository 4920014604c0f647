"""Pilot: a reward-filtered warm start of the teacher, measured on the validation split.

A stronger writer (default: the embedded Qwen2.5-Coder-1.5B, in PyTorch) writes ``--samples``
sampled instructions for each of the first ``--questions`` training questions; the student
answers each (and each question with no instruction) as evaluation runs it. Instructions that
got a right answer where the question alone or a sibling instruction did not are kept, and the
teacher (``teacher.model``, LoRA as configured) is fine-tuned on them with TRL's SFTTrainer.
Then ``none``, ``teacher_base`` and the fine-tuned teacher (``teacher_trained``) are evaluated
on the validation split (held-back training templates, never the test items).

    .venv/bin/python experiments/scripts/warm_start.py -c configs/gsm8k.toml \
        --out experiments/pilots/p10-warm-start

OUT/writes.jsonl holds every written instruction with its score; OUT/teacher the adapter;
OUT/validation the evaluation (eval.json, records.jsonl); OUT/summary.md the table.
"""

from __future__ import annotations

import argparse
import gc
import json
from pathlib import Path

from wst.config import RunConfig
from wst.evaluate import evaluate
from wst.report import results_table
from wst.students import Student, make_student
from wst.tasks import Example, Task, get_task, load_run_config
from wst.teacher import load_teacher, save_teacher_card, teacher_messages, write_instructions
from wst.train import reward_sampling


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("-c", "--config", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--writer", default="embedded:qwen2.5-coder-1.5b")
    parser.add_argument("--questions", type=int, default=96)
    parser.add_argument("--samples", type=int, default=2)
    parser.add_argument("--temperature", type=float, default=0.7)
    parser.add_argument("--epochs", type=float, default=3.0)
    parser.add_argument("--learning-rate", type=float, default=2e-4)
    parser.add_argument("--set", action="append", default=[], help="config override")
    args = parser.parse_args()
    config = load_run_config(args.config, args.set)
    task = get_task(config.task.name, config.task)
    split = task.load(config.task)
    pool = split.train[: args.questions]
    args.out.mkdir(parents=True, exist_ok=True)

    writes = write_with(args.writer, pool, config, args.samples, args.temperature)
    student = make_student(config.student)
    rows = score_writes(writes, pool, task, student, config)
    with (args.out / "writes.jsonl").open("w") as fh:
        fh.writelines(json.dumps(row) + "\n" for row in rows)
    kept = [row for row in rows if row["kept"]]
    print(f"{len(kept)} of {len(rows)} written instructions kept "
          f"({sum(r['score'] for r in rows):.0f} right; question alone right on "
          f"{sum(r['none_score'] for r in rows) / args.samples:.0f} of {len(pool)})", flush=True)

    questions = {e.id: e.question for e in pool}
    pairs = [(questions[row["id"]], row["instruction"]) for row in kept]
    adapter = fine_tune(config, pairs, args.out / "teacher", args.epochs, args.learning_rate)
    config.eval.conditions = ["none", "teacher_base", "teacher_trained"]
    evaluate(config, task, split.validation, student, str(adapter), args.out / "validation")
    student.close()
    summary = json.loads((args.out / "validation" / "eval.json").read_text())
    table = results_table(summary)
    (args.out / "summary.md").write_text(
        f"Validation split, n = {len(split.validation)}; writer {args.writer}, "
        f"{len(pool)} questions x {args.samples} samples at T = {args.temperature}; "
        f"{len(kept)} kept\n\n{table}\n")
    print(table)


def write_with(writer: str, pool: list[Example], config: RunConfig, samples: int,
               temperature: float) -> list[str]:
    """``samples`` instructions per question (question-major), by the writer model."""
    import torch

    torch.manual_seed(config.train.seed)
    model, tokenizer = load_teacher(writer)
    writes = write_instructions(model, tokenizer, [e.question for e in pool],
                                config.teacher.meta_prompt, config.teacher.max_instruction_tokens,
                                batch_size=8, samples=samples, temperature=temperature)
    del model
    gc.collect()
    return writes


def score_writes(writes: list[str], pool: list[Example], task: Task, student: Student,
                 config: RunConfig) -> list[dict]:
    """Each instruction's score, the question's score alone, and whether it is kept: right
    where the question alone or a sibling instruction was wrong."""
    samples = len(writes) // len(pool)
    placement = config.student.instruction_placement
    sampling = reward_sampling(student, config)
    asked = [e for e in pool for _ in range(samples)]
    answers = student.answer([task.student_messages(e, w, placement)
                              for e, w in zip(asked, writes)], sampling)
    scores = task.score_answers(answers, asked)
    alone = task.score_answers(student.answer(
        [task.student_messages(e, None, placement) for e in pool], sampling), pool)
    rows = []
    for i, (example, instruction, score) in enumerate(zip(asked, writes, scores)):
        group = scores[i - i % samples: i - i % samples + samples]
        none_score = alone[i // samples]
        rows.append({"id": example.id, "instruction": instruction, "score": score,
                     "none_score": none_score,
                     "kept": score == 1.0 and (none_score == 0.0 or min(group) == 0.0)})
    return rows


def fine_tune(config: RunConfig, pairs: list[tuple[str, str]], out: Path, epochs: float,
              learning_rate: float) -> Path:
    """LoRA SFT of ``teacher.model`` on (question, instruction) pairs; the adapter and its
    card go to ``out``."""
    from datasets import Dataset
    from peft import LoraConfig
    from trl import SFTConfig, SFTTrainer

    from wst.teacher import resolve_teacher

    data = Dataset.from_list([
        {"prompt": teacher_messages(config.teacher.meta_prompt, question),
         "completion": [{"role": "assistant", "content": instruction}]}
        for question, instruction in pairs])
    teacher = config.teacher
    trainer = SFTTrainer(
        model=resolve_teacher(teacher.model),
        train_dataset=data,
        args=SFTConfig(output_dir=str(out.parent / "sft-checkpoints"), use_cpu=True,
                       num_train_epochs=epochs, learning_rate=learning_rate,
                       per_device_train_batch_size=8, save_strategy="no", report_to="none",
                       logging_steps=5, gradient_checkpointing=False, seed=config.train.seed),
        peft_config=LoraConfig(r=teacher.lora_r, lora_alpha=teacher.lora_alpha,
                               lora_dropout=teacher.lora_dropout,
                               target_modules=teacher.lora_target_modules,
                               task_type="CAUSAL_LM"),
    )
    trainer.train()
    trainer.save_model(str(out))
    trainer.processing_class.save_pretrained(str(out))
    save_teacher_card(out, teacher.meta_prompt, teacher.model,
                      extra={"max_instruction_tokens": teacher.max_instruction_tokens})
    return out


if __name__ == "__main__":
    main()
