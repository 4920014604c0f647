"""Continue a deployed teacher on its own traffic: ``wst train --from-traffic DIR``.

``wst serve --traffic-log DIR`` logs each exchange (question, the teacher's instruction, the
student's reply) and the users' ratings of them (``POST /v1/feedback``). Each logged
instruction is labelled *good* or *bad*: by its rating where there is one (thumbs up = 1, down
= 0, or the score, against ``train.traffic_good_at``), else by the task's judge reading the
logged reply (``train.traffic_judge_unrated``). A task scored against reference answers
(GSM8K) cannot label an unrated exchange (traffic has no reference): those are skipped and
counted.

Why KTO and not GRPO: a rating belongs to the one instruction the deployed teacher wrote;
GRPO would need ratings of new instructions that no user has seen. TRL's ``KTOTrainer``
learns from exactly this, single completions marked desirable or undesirable, and keeps the
teacher near the deployed one (``train.kto_beta``). ``train.traffic_validation`` of the
logged questions are held back; KTO's reward margin on them (good minus bad instructions'
log-probability gain over the deployed teacher) is measured after training (before, the
teacher is the deployed one, so the margin is 0 by definition and is not computed) and
written to ``RUN/traffic.json``, with the counts of what was used and skipped.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import torch

from wst.assets import model_errors
from wst.config import ConfigError, RunConfig, TeacherConfig, save_config
from wst.fileio import atomic_write_text
from wst.serve.traffic import read_traffic
from wst.tasks import Example, Task
from wst.teacher import (load_tokenizer, menu_instruction, read_teacher_card, resolve_teacher,
                         teacher_messages, teacher_prompt, teacher_settings)

log = logging.getLogger("wst.from_traffic")


@dataclass(frozen=True)
class Labelled:
    """One logged instruction, as the teacher wrote it, and whether it turned out good."""

    question: str
    completion: str
    """The teacher's text after ``teacher.instruction_start`` (a chooser: its choice)."""
    good: bool
    source: str
    """``feedback`` or ``judge``."""


def rating(feedback: dict[str, Any]) -> float:
    """A feedback record as a number in [0, 1]: thumbs up 1, down 0, else its score."""
    if feedback.get("thumbs") is not None:
        return 1.0 if feedback["thumbs"] == "up" else 0.0
    return float(feedback["score"])


def written_text(instruction: str, teacher: TeacherConfig) -> str:
    """What the teacher generated to make the logged ``instruction``: for a chooser the choice
    it is (ValueError when it is none of them), else the instruction after the start.

    Generated text loses its edge spaces in ``clean_instruction``; a space after an
    instruction start that ends in a word puts back the usual first token.
    """
    start = teacher.instruction_start
    if teacher.choices:
        shown = [menu_instruction(start, teacher.choices, teacher.choice_instructions, index)
                 for index in range(len(teacher.choices))]
        if instruction not in shown:
            raise ValueError(f"{instruction!r} is none of the menu's instructions")
        return teacher.choices[shown.index(instruction)]
    return f" {instruction}" if start and not start[-1].isspace() else instruction


def label_traffic(records: list[dict[str, Any]], task: Task, teacher: TeacherConfig,
                  good_at: float, judge: bool = True) -> tuple[list[Labelled], dict[str, int]]:
    """The labelled instructions of ``read_traffic`` records and the counts of what was used
    and skipped (``no_instruction``: the teacher failed, so it wrote nothing to learn from;
    ``not_on_menu``: a chooser's instruction no entry makes, e.g. logged under another menu;
    ``unrated``: no feedback, and a task with no judge or ``judge`` off)."""
    counts = {"exchanges": len(records), "feedback": 0, "judge": 0, "no_instruction": 0,
              "not_on_menu": 0, "unrated": 0}
    rated, to_judge = [], []
    for record in records:
        if record["instruction"] is None or record["instruction_status"] not in ("ok", "empty"):
            counts["no_instruction"] += 1
            continue
        try:
            text = written_text(record["instruction"], teacher)
        except ValueError:
            counts["not_on_menu"] += 1
            continue
        if record["feedback"] is not None:
            good = rating(record["feedback"]) >= good_at
            rated.append(Labelled(record["question"], text, good, "feedback"))
        elif task.judged and judge:
            to_judge.append((record, text))
        else:
            counts["unrated"] += 1
    judged = []
    if to_judge:
        examples = [Example(r["id"], r["question"], "") for r, _ in to_judge]
        scores = task.score_many([r["reply"] for r, _ in to_judge], examples)
        judged = [Labelled(r["question"], text, score >= good_at, "judge")
                  for (r, text), score in zip(to_judge, scores)]
    counts["feedback"], counts["judge"] = len(rated), len(judged)
    return rated + judged, counts


def held_back(question: str, share: float) -> bool:
    """Whether a question is a validation one: a stable hash of its text, so a question asked
    many times always falls on the same side."""
    digest = hashlib.sha256(question.encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2 ** 64 < share


def kto_rows(items: list[Labelled], teacher: TeacherConfig, tokenizer: Any) -> list[dict]:
    """TRL's unpaired preference rows: the prompt the teacher saw (with the instruction start
    as text, as in GRPO training), what it wrote, and the label."""
    rows = []
    for item in items:
        if teacher.instruction_start:
            prompt: Any = teacher_prompt(tokenizer, teacher.meta_prompt, item.question,
                                         teacher.instruction_start)
            completion: Any = item.completion
        else:
            prompt = teacher_messages(teacher.meta_prompt, item.question)
            completion = [{"role": "assistant", "content": item.completion}]
        rows.append({"prompt": prompt, "completion": completion, "label": item.good})
    return rows


def check_labels(items: list[Labelled], counts: dict[str, int], batch: int) -> None:
    """Refuse too little data, saying what the log holds; warn when every label is the same
    (KTO then only moves the teacher towards or away from what it wrote)."""
    if len(items) < batch:
        raise ConfigError(f"train.from_traffic: {len(items)} labelled instructions for "
                          f"training, fewer than one step's train.questions_per_step = {batch} "
                          f"(the log: {counts}); collect more feedback or lower it")
    if len({item.good for item in items}) < 2:
        log.warning("every labelled instruction is %s", "good" if items[0].good else "bad")


def kto_args(config: RunConfig, run_dir: Path, batch: int):
    """TRL's KTOConfig for this run: CPU or GPU as GRPO's (``train.device``), fp32."""
    from trl import KTOConfig

    from wst.train import on_cuda

    t = config.train
    return KTOConfig(output_dir=str(run_dir / "checkpoints"), use_cpu=not on_cuda(config),
                     bf16=False, gradient_checkpointing=False, beta=t.kto_beta,
                     learning_rate=t.learning_rate, max_steps=t.max_steps,
                     per_device_train_batch_size=batch, per_device_eval_batch_size=batch,
                     logging_steps=1, save_strategy="no", report_to="none", seed=t.seed,
                     data_seed=t.seed, disable_dropout=True, dataloader_num_workers=0)


def load_models(config: RunConfig):
    """(policy, reference, tokenizer): the teacher to train and the deployed one it stays near.
    From ``train.init_adapter`` the adapter trains on and a merged copy is the reference; from
    the base model a fresh LoRA trains and the reference is the base (reference None: TRL
    turns the adapter off)."""
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    from wst.train import start_adapter

    path = resolve_teacher(config.teacher.model)
    with model_errors(path, "teacher"):
        model = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32)
        tokenizer = load_tokenizer(path)
    adapter = config.train.init_adapter
    if not adapter:
        return model, None, tokenizer
    reference = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32)
    reference = PeftModel.from_pretrained(reference, adapter).merge_and_unload()
    return start_adapter(model, adapter), reference, tokenizer


def deployed_teacher(config: RunConfig) -> TeacherConfig:
    """``config.teacher`` as deployed: a local ``teacher.model`` by its real path (a link that
    ``wst serve`` reads is resolved, so the trained adapter names the export it was trained
    on, not whatever the link points to later), and the prompt, cap, start and menu from the
    deployed teacher's card (``wst_teacher.json`` of ``train.init_adapter``, else of
    ``teacher.model``) when it has one: the log was written under those, so training reads
    it under them too."""
    model = config.teacher.model
    if Path(model).exists():
        model = str(Path(model).resolve())
    card = read_teacher_card(config.train.init_adapter) or read_teacher_card(model)
    if not card:
        return replace(config.teacher, model=model)
    settings = teacher_settings(card)
    log.info("the deployed teacher's card gives its prompt and menu: %s", settings)
    return replace(config.teacher, model=model, meta_prompt=settings.meta_prompt,
                   max_instruction_tokens=settings.max_instruction_tokens,
                   instruction_start=settings.instruction_start,
                   choices=list(settings.choices),
                   choice_instructions=list(settings.choice_instructions))


def labelled_split(config: RunConfig, task: Task) -> tuple[list[Labelled], list[Labelled],
                                                          dict[str, int]]:
    """(train, validation, counts) of the logged traffic, checked to be enough for a step."""
    t = config.train
    if not Path(t.from_traffic).is_dir():
        raise ConfigError(f"train.from_traffic: no folder {t.from_traffic!r}; give the folder "
                          f"that `wst serve --traffic-log` wrote")
    items, counts = label_traffic(read_traffic(t.from_traffic), task, config.teacher,
                                  t.traffic_good_at, t.traffic_judge_unrated)
    validation = [i for i in items if held_back(i.question, t.traffic_validation)]
    train = [i for i in items if not held_back(i.question, t.traffic_validation)]
    check_labels(train, counts, t.questions_per_step)
    log.info("traffic %s: %s; %d to train on (%d good), %d held back", t.from_traffic, counts,
             len(train), sum(i.good for i in train), len(validation))
    return train, validation, counts


def train_from_traffic(config: RunConfig, task: Task) -> Path:
    """Label the logged traffic, train with KTO (``train.questions_per_step`` logged
    instructions a step, ``train.max_steps`` steps), and save the teacher to ``RUN/teacher``
    (as GRPO does, so ``wst export`` and ``wst serve`` take it); returns that folder."""
    from datasets import Dataset
    from trl import KTOTrainer

    from wst.train import check_choice_texts, fresh_lora, save_card

    config = replace(config, teacher=deployed_teacher(config))
    check_choice_texts(config.teacher)
    run_dir = Path(config.output_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    save_config(config, run_dir / "config.json")
    train, validation, counts = labelled_split(config, task)
    model, reference, tokenizer = load_models(config)
    validate = len({i.good for i in validation}) == 2  # a margin needs good and bad ones
    trainer = KTOTrainer(
        model=model, ref_model=reference,
        args=kto_args(config, run_dir, config.train.questions_per_step),
        train_dataset=Dataset.from_list(kto_rows(train, config.teacher, tokenizer)),
        eval_dataset=(Dataset.from_list(kto_rows(validation, config.teacher, tokenizer))
                      if validate else None),
        processing_class=tokenizer, peft_config=fresh_lora(config))
    trainer.train()
    after = trainer.evaluate() if validate else {}
    out = run_dir / "teacher"
    trainer.save_model(str(out))
    tokenizer.save_pretrained(str(out))
    save_card(out, config.teacher, trained_on="traffic", traffic=config.train.from_traffic)
    summary = {"traffic": config.train.from_traffic, "counts": counts, "train": len(train),
               "train_good": sum(i.good for i in train), "validation": len(validation),
               "validation_good": sum(i.good for i in validation),
               "validation_before": 0.0 if validate else None,  # the deployed teacher itself
               "validation_after": _margin(after),
               "examples": [asdict(i) for i in train[:5]]}
    atomic_write_text(run_dir / "traffic.json", json.dumps(summary, indent=2))
    log.info("validation reward margin (good minus bad instructions' gain over the deployed "
             "teacher): %s before, %s after", summary["validation_before"],
             summary["validation_after"])
    return out


def _margin(metrics: dict[str, float]) -> float | None:
    """KTO's validation reward margin, or None when nothing was validated."""
    value = metrics.get("eval_rewards/margins")
    return None if value is None else round(float(value), 4)
