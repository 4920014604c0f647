"""Pilot: does any instruction source move the student's score on average?

Before training a teacher against a student, check that instructions can raise that student's
score at all: a writer model (run by llama.cpp, greedy) writes one instruction per training
question under each meta prompt of ``--prompts`` (``{"name": "prompt with {question}"}``), the
student answers each question alone and with each instruction (as evaluation runs it), and the
table gives each source's accuracy, its paired difference from no instruction, the exact
McNemar p and the share of instructions that leak the answer. Training questions only (the
first ``--questions`` of the training split), or with ``--split validation`` the validation
items (to choose a setting on), never test items.

With ``--starts`` (``{"name": "words"}``) the writer is the config's own teacher instead (PyTorch,
greedy, its meta prompt and token cap), once per entry with those words as
``teacher.instruction_start`` ("" = none): what the untrained teacher writes with each prefill.

    .venv/bin/python experiments/scripts/instruction_sources.py -c configs/hh_rlhf_1.5b.toml \
        --starts experiments/scripts/hh_instruction_starts.json --split validation \
        --set judge.max_reply_chars=600 --out experiments/pilots/p18-instruction-starts

    .venv/bin/python experiments/scripts/instruction_sources.py -c configs/gsm8k.toml \
        --prompts experiments/scripts/writer_prompts.json --questions 32 \
        --set student.model=embedded:qwen2.5-coder-1.5b \
        --out experiments/pilots/p12-instruction-sources-1.5b

OUT/rows.jsonl holds every question, instruction, answer and score; OUT/summary.md the table.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import replace
from pathlib import Path

from wst.stats import is_binary, mcnemar_exact, mean_interval, paired_difference
from wst.students import Sampling, Student, make_student
from wst.tasks import Example, Task, attach_judge, get_task, load_run_config
from wst.teacher import clean_instruction, load_teacher, teacher_messages, write_instructions


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("-c", "--config", type=Path, required=True)
    sources_arg = parser.add_mutually_exclusive_group(required=True)
    sources_arg.add_argument("--prompts", type=Path, help="writer meta prompts (JSON)")
    sources_arg.add_argument("--starts", type=Path, help="teacher instruction starts (JSON)")
    parser.add_argument("--split", choices=["train", "validation"], default="train")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--writer", default="embedded:qwen2.5-coder-1.5b")
    parser.add_argument("--writer-tokens", type=int, default=96)
    parser.add_argument("--questions", type=int, default=32)
    parser.add_argument("--set", action="append", default=[], help="config override")
    args = parser.parse_args()
    prompts: dict[str, str] = json.loads((args.prompts or args.starts).read_text())
    if "none" in prompts:
        parser.error('"none" names the no-instruction source; give the entry another name')
    config = load_run_config(args.config, args.set)
    task = attach_judge(get_task(config.task.name, config.task), config)
    pool = getattr(task.load(config.task), args.split)[: args.questions]
    args.out.mkdir(parents=True, exist_ok=True)

    student = make_student(config.student)
    if args.starts:
        sources = teacher_sources(config, prompts, pool)
    else:
        same_model = args.writer == config.student.model
        writer = (student if same_model
                  else make_student(replace(config.student, model=args.writer)))
        sources = {name: write(writer, prompt, pool, args.writer_tokens)
                   for name, prompt in prompts.items()}
        if not same_model:
            writer.close()
    sources = {"none": [None] * len(pool), **sources}
    scores = {name: answer_and_score(student, task, pool, instructions, config)
              for name, instructions in sources.items()}
    student.close()
    if task.judge is not None:
        task.judge.close()

    with (args.out / "rows.jsonl").open("w") as fh:
        for i, example in enumerate(pool):
            row = {"id": example.id, "reference": example.answer,
                   **{f"{name}_instruction": sources[name][i] for name in prompts},
                   **{f"{name}_score": scores[name][0][i] for name in sources},
                   **{f"{name}_answer": scores[name][1][i] for name in sources}}
            fh.write(json.dumps(row) + "\n")
    table = summary_table(sources, {k: v[0] for k, v in scores.items()}, task, pool)
    writer = (f"the teacher `{config.teacher.model}` (greedy, "
              f"{config.teacher.max_instruction_tokens}-token cap); starts `{args.starts}`"
              if args.starts else f"writer `{args.writer}` (greedy, {args.writer_tokens}-token "
              f"cap); prompts `{args.prompts}`")
    (args.out / "summary.md").write_text(
        f"{args.split.capitalize()} questions, n = {len(pool)}; student "
        f"`{config.student.model}` (greedy, {config.student.max_tokens}-token cap); "
        f"{writer}\n\n{table}\n")
    print(table)


def write(writer: Student, prompt: str, pool: list[Example], max_tokens: int) -> list[str]:
    """One greedy instruction per question from the writer under ``prompt``."""
    sampling = Sampling(max_tokens=max_tokens, temperature=0.0, seed=0)
    answers = writer.answer([teacher_messages(prompt, e.question) for e in pool], sampling)
    return [clean_instruction(a.text) for a in answers]


def teacher_sources(config, starts: dict[str, str],
                    pool: list[Example]) -> dict[str, list[str]]:
    """The config's teacher's greedy instructions, once per instruction start."""
    teacher = config.teacher
    model, tokenizer = load_teacher(teacher.model, teacher.adapter)
    questions = [e.question for e in pool]
    return {name: write_instructions(model, tokenizer, questions, teacher.meta_prompt,
                                     teacher.max_instruction_tokens, instruction_start=start)
            for name, start in starts.items()}


def answer_and_score(student: Student, task: Task, pool: list[Example],
                     instructions: list[str | None], config) -> tuple[list[float], list[str]]:
    """The student's scores and answers with these instructions, placed as evaluation does."""
    placement = config.student.instruction_placement
    answers = student.answer([task.student_messages(e, w, placement)
                              for e, w in zip(pool, instructions)], student.sampling)
    return task.score_answers(answers, pool), [a.text for a in answers]


def summary_table(sources: dict[str, list[str | None]], scores: dict[str, list[float]],
                  task: Task, pool: list[Example]) -> str:
    """Markdown: accuracy (or mean judge score) with its interval, paired difference from
    none, McNemar p (0/1 scores only), leaks."""
    lines = ["| source | right | accuracy [95% CI] | vs none [95% CI] | McNemar p | leaks "
             "| words |",
             "|---|---|---|---|---|---|---|"]
    base = scores["none"]
    for name, values in scores.items():
        acc = mean_interval(values)
        right = f"{sum(values):.0f}/{len(values)}" if is_binary(values) else "–"
        row = f"| {name} | {right} | {100 * acc.value:.1f} " \
              f"[{100 * acc.low:.1f}, {100 * acc.high:.1f}] |"
        if name == "none":
            lines.append(row + " | | | |")
            continue
        diff = paired_difference(values, base)
        leaks = sum(task.leaks(w, e) for w, e in zip(sources[name], pool))
        words = sum(len((w or "").split()) for w in sources[name]) / len(pool)
        lines.append(row + f" {100 * diff.value:+.1f} [{100 * diff.low:+.1f}, "
                     f"{100 * diff.high:+.1f}] | {_mcnemar(values, base)} | "
                     f"{leaks}/{len(pool)} | {words:.1f} |")
    return "\n".join(lines)


def _mcnemar(values: list[float], base: list[float]) -> str:
    return f"{mcnemar_exact(values, base):.2f}" if is_binary(values + base) else "–"


if __name__ == "__main__":
    main()
