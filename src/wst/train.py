"""GRPO training of the teacher with TRL, rewarded by the student's score.

One step: TRL samples ``num_generations`` instructions per question from the teacher; the
reward function sends every (instruction, question) pair to the student in one concurrent
batch, scores the answers, and returns one reward per instruction; TRL computes
group-relative advantages and updates the teacher (LoRA by default).
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass, replace
from pathlib import Path
from statistics import mean
from typing import Any, Callable

import torch

from accelerate import PartialState
from accelerate.utils import gather_object
from transformers import TrainerCallback
from transformers.trainer_callback import ProgressCallback
from trl import GRPOConfig, GRPOTrainer

from wst.assets import model_errors
from wst.config import ConfigError, RunConfig, TeacherConfig, save_config, validate_training
from wst.resume import VALIDATION, last_checkpoint_step, prepare_run_dir
from wst.students import BudgetExceeded, Sampling, Student, cut_share
from wst.tasks import Example, Split, Task
from wst.teacher import (
    choice_index, choice_token_ids, clean_instruction, is_adapter, menu_instruction,
    menu_logprobs, resolve_teacher, save_teacher_card, teacher_messages, teacher_prompt,
    write_instructions,
)

log = logging.getLogger(__name__)


def instruction_rewards(scores: list[float], leaked: list[bool], leak_penalty: float,
                        weights: list[float] | None = None) -> list[float]:
    """Reward of each instruction: the student's score, minus a penalty if it leaks the answer,
    times its example's weight (``train.reward_weights``; default 1).

    >>> instruction_rewards([1.0, 0.0, 1.0], [False, False, True], leak_penalty=1.0)
    [1.0, 0.0, 0.0]
    >>> instruction_rewards([0.5, 0.5], [False, False], 1.0, weights=[4.0, 1.0])
    [2.0, 0.5]
    """
    weights = weights or [1.0] * len(scores)
    return [w * (s - leak_penalty * float(k))
            for s, k, w in zip(scores, leaked, weights, strict=True)]


@dataclass
class StepClock:
    """Seconds spent in each phase of the current step, shared by trainer and reward."""

    generation: float = 0.0
    student: float = 0.0
    scoring: float = 0.0
    """Scoring the answers: the judge model's calls on a judged task (hh_rlhf)."""


def reward_sampling(student: Student, config: RunConfig) -> Sampling:
    """How the student answers while training: its own settings, or ``student_temperature``
    (above 0: a fresh random seed per answer, so each is an independent, uncached sample)."""
    sampling = student.sampling
    temperature = config.train.student_temperature
    if temperature is not None:
        sampling = replace(sampling, temperature=temperature,
                           seed=None if temperature > 0 else sampling.seed)
    return sampling


def make_reward_fn(
    student: Student, task: Task, config: RunConfig, clock: StepClock, samples_path: Path
) -> Callable[..., list[float]]:
    """The TRL reward function: ask the student with each instruction, score its answers."""
    placement = config.student.instruction_placement
    sampling = reward_sampling(student, config)

    def student_reward(completions: list, question: list[str], answer: list[str],
                       example_id: list[str], history: list[str] | None = None,
                       log_metric: Callable | None = None, trainer_state: Any = None,
                       **_: Any) -> list[float]:
        texts = [_text(c) for c in completions]
        instructions = [shown_instruction(text, config.teacher) for text in texts]
        turns = [_turns(h) for h in history] if history else [()] * len(question)
        examples = [Example(i, q, a, history=h)
                    for i, q, a, h in zip(example_id, question, answer, turns, strict=True)]
        started = time.perf_counter()
        answers = student.answer(
            [task.student_messages(e, ins, placement) for e, ins in zip(examples, instructions)],
            sampling,
        )
        clock.student = time.perf_counter() - started
        started = time.perf_counter()
        scores = task.score_answers(answers, examples)
        clock.scoring = time.perf_counter() - started
        leaked = [task.leaks(i, e) for i, e in zip(instructions, examples)]
        weights = [config.train.reward_weights.get(a, 1.0) for a in answer]
        rewards = instruction_rewards(scores, leaked, config.train.leak_penalty, weights)
        if log_metric is not None:
            log_metric("student/accuracy", mean(scores))
            log_metric("student/failures", float(sum(not a.ok for a in answers)))
            log_metric("student/cut_share", cut_share(answers, sampling.max_tokens))
            log_metric("student/cache_hits", float(sum(a.cached for a in answers)))
            log_metric("student/calls_total", float(student.usage.calls))
            log_metric("student/tokens_total",
                       float(student.usage.prompt_tokens + student.usage.completion_tokens))
            log_metric("student/cost_total", student.usage.cost)
            log_metric("instruction/leak_rate", mean(map(float, leaked)))
            log_metric("instruction/words", mean(len(i.split()) for i in instructions))
        step = trainer_state.global_step if trainer_state is not None else None
        rows = [{"step": step, "id": e.id, "instruction": ins, "answer": a.text, "score": s,
                 "reward": r}
                for e, ins, a, s, r in zip(examples, instructions, answers, scores, rewards)]
        if config.teacher.choice_instructions:  # the teacher's pick beside what was shown
            rows = [{**row, "choice": text} for row, text in zip(rows, texts)]
        rows = on_all_processes(rows)
        if PartialState().is_main_process:
            with samples_path.open("a") as fh:
                fh.writelines(json.dumps(row) + "\n" for row in rows)
        return rewards

    return student_reward


def shown_instruction(text: str, teacher: TeacherConfig) -> str:
    """The instruction the student sees for a completion ``text``: the instruction start and
    the text, or with ``teacher.choice_instructions`` the one of the choice it is."""
    start = teacher.instruction_start
    if not teacher.choice_instructions:
        return clean_instruction(start + text)
    index = choice_index(start, teacher.choices, text)
    return menu_instruction(start, teacher.choices, teacher.choice_instructions, index)


def on_all_processes(items: list[Any]) -> list[Any]:
    """``items`` of every training process, in rank order (one process: ``items``): under
    ``accelerate launch`` each process rewards its own share of a step's groups."""
    return gather_object(items) if PartialState().num_processes > 1 else items


def _turns(history: str) -> tuple[tuple[str, str], ...]:
    """``Example.history`` from its JSON text in the training dataset."""
    return tuple((role, content) for role, content in json.loads(history))


def _text(completion: Any) -> str:
    """TRL passes conversational completions as ``[{"role": "assistant", "content": ...}]``."""
    if isinstance(completion, list):
        return completion[-1]["content"]
    return str(completion)


def rows_that_move_the_loss(inputs: dict[str, Any]) -> dict[str, Any]:
    """The rows of a GRPO loss batch whose advantage is not zero (at least one row).

    With no KL term, a row of zero advantage (a group whose instructions all scored the same)
    adds exactly zero to the clipped surrogate loss and to its gradient, yet costs a full
    forward and backward pass through its prompt. Under ``dapo`` the loss is divided by
    ``num_items_in_batch``, counted over the whole generation batch and kept here, so dropping
    those rows leaves loss and gradient unchanged. (Written here: TRL has no such option.)"""
    advantages = inputs["advantages"]
    rows = len(advantages)
    moving = (advantages != 0).reshape(rows, -1).any(dim=1)
    if moving.all():
        return inputs
    if not moving.any():
        moving[0] = True  # one row keeps the step's backward pass whole
    keep = moving.nonzero().squeeze(1)

    def take(value: Any) -> Any:
        if isinstance(value, torch.Tensor) and value.ndim > 0 and len(value) == rows:
            return value[keep]
        if isinstance(value, list) and len(value) == rows:
            return [value[i] for i in keep.tolist()]
        return value
    return {key: take(value) for key, value in inputs.items()}


def choice_loss(menu_logps: torch.Tensor, picked: torch.Tensor,
                advantages: torch.Tensor) -> torch.Tensor:
    """Per-row loss of a teacher that picks from ``teacher.choices``: ``-A * log q`` for a
    row whose choice beat its group's mean (advantage A > 0), 0 for the others, where q is
    the choice's probability among the menu's (a softmax over ``menu_logps``, each row's
    log-probability of every choice on its question; ``picked``: the row's choice).

    Why not GRPO's surrogate ``-A * log p``: every question gets every choice, so with two
    choices it pushes the log-ratio of the better to the worse up by the same amount at every
    step, however certain the pick already is, and the shared lean of all questions drifts
    with each batch's balance of gaps (P44, pilot log). This is a cost-weighted
    cross-entropy over the menu: it fades once the better choice is near certain, so the
    greedy pick settles where the gaps of the questions balance. Rows of one question may sit
    in different passes of a step: each row needs only its own question's menu.

    >>> menu = torch.log(torch.tensor([[0.9, 0.1], [0.5, 0.5], [0.5, 0.5]]))
    >>> choice_loss(menu, torch.tensor([0, 1, 0]), torch.tensor([1.0, 1.0, -1.0])).round(decimals=3)
    tensor([0.1050, 0.6930, 0.0000])
    """
    log_q = torch.log_softmax(menu_logps, dim=-1).gather(1, picked.unsqueeze(1)).squeeze(1)
    return -advantages.clamp(min=0) * log_q


class WSTTrainer(GRPOTrainer):
    """GRPOTrainer that logs where each step's time goes, skips rows that cannot move the
    loss (``train.skip_zero_advantage``) and, for a teacher with ``teacher.choices``, gives
    each question every choice instead of sampling (``choice_ids``: their tokens)."""

    def __init__(self, *args: Any, clock: StepClock, skip_zero_advantage: bool = False,
                 choice_ids: list[list[int]] | None = None, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.clock = clock
        self.choice_ids = choice_ids
        self.step_seconds: dict[str, float] = {}
        # One process only: ranks would keep different numbers of rows, and TRL gathers
        # per-row metrics across ranks, which needs equal shapes.
        self.skip_zero_advantage = (skip_zero_advantage and self.beta == 0.0
                                    and self.loss_type == "dapo"
                                    and self.top_entropy_quantile == 1.0
                                    and self.accelerator.num_processes == 1)

    def _compute_loss(self, model, inputs):
        if self.skip_zero_advantage and self.model.training:
            kept = rows_that_move_the_loss(inputs)
            self._metrics["train"]["update/skipped_share"].append(
                1 - len(kept["advantages"]) / len(inputs["advantages"]))
            inputs = kept
        if self.choice_ids:
            return self._choice_loss(model, inputs)
        return super()._compute_loss(model, inputs)

    def _choice_loss(self, model, inputs):
        """``choice_loss`` over this pass's rows of positive advantage (the others add 0):
        every choice is scored on each such row's question (``menu_logprobs``), and the sum
        is normalised as TRL's ``dapo`` loss is (by the generation batch's completion tokens,
        so passes and processes add up to one step)."""
        rows = (inputs["advantages"] > 0).nonzero().squeeze(1)
        if len(rows) == 0:
            rows = torch.tensor([0], device=inputs["advantages"].device)  # a whole backward
        menu_logps = menu_logprobs(model, inputs["prompt_ids"][rows], inputs["prompt_mask"][rows],
                                   self.choice_ids, self.temperature)
        losses = choice_loss(menu_logps, self._picked(inputs["completion_ids"][rows]),
                             inputs["advantages"][rows])
        normalizer = inputs["num_items_in_batch"].clamp(min=1.0) / self.accelerator.num_processes
        normalizer = (normalizer * self.current_gradient_accumulation_steps
                      / self.args.steps_per_generation)
        return losses.sum() / normalizer

    def _picked(self, completion_ids: torch.Tensor) -> torch.Tensor:
        """Which of ``choice_ids`` each (right-padded) completion is."""
        picked = []
        for row in completion_ids.tolist():
            index = next(i for i, ids in enumerate(self.choice_ids) if row[:len(ids)] == ids
                         and all(t == self.processing_class.pad_token_id for t in row[len(ids):]))
            picked.append(index)
        return torch.tensor(picked, device=completion_ids.device)

    def _generate(self, prompts: list):
        started = time.perf_counter()
        result = super()._generate(prompts)
        self.clock.generation = time.perf_counter() - started
        return result

    def _generate_single_turn(self, prompt_ids, images, multimodal_fields, num_generations,
                              has_tool_images=False):
        """With ``choice_ids``, the k-th copy of a question gets choice k: TRL's sampler
        puts a question's ``num_generations`` (= number of choices) copies next to each
        other, and splits the generation batch across processes in equal, ordered parts, so
        a row's place in the whole batch fixes its choice. Nothing is sampled, so there are
        no sampling log-probabilities (None, as TRL's own PyTorch generation returns)."""
        if not self.choice_ids:
            return super()._generate_single_turn(prompt_ids, images, multimodal_fields,
                                                 num_generations, has_tool_images)
        first = self.accelerator.process_index * len(prompt_ids)
        count = len(self.choice_ids)
        return [list(self.choice_ids[(first + row) % count])
                for row in range(len(prompt_ids))], None

    def training_step(self, model, inputs, num_items_in_batch=None):
        """One forward and backward pass (of ``train.micro_batches`` per step); the first of a
        step also generates and rewards. Each phase's seconds are summed over the step."""
        self.clock.generation = self.clock.student = self.clock.scoring = 0.0
        started = time.perf_counter()
        loss = super().training_step(model, inputs, num_items_in_batch)
        phases = {"teacher_generation_s": self.clock.generation,
                  "student_s": self.clock.student, "scoring_s": self.clock.scoring}
        phases["update_s"] = time.perf_counter() - started - sum(phases.values())
        for phase, seconds in phases.items():
            self.step_seconds[phase] = self.step_seconds.get(phase, 0.0) + seconds
        if self._step % self.current_gradient_accumulation_steps == 0:  # the step's last pass
            # Straight into this step's metrics: ``_log_metric`` would defer them to the next.
            for phase, seconds in self.step_seconds.items():
                self._metrics["train"][f"time/{phase}"].append(seconds)
            self.step_seconds = {}
        return loss


class QuietProgress(ProgressCallback):
    """The progress bar without the raw metrics dict per step (MetricsFile logs a summary)."""

    def on_log(self, args, state, control, logs=None, **kwargs):
        return None


def paying_models(student: Student, task: Task) -> list[Student]:
    """The student, and the judge's model where a task is judged by one."""
    judge_model = getattr(task.judge, "model", None)
    return [student] + ([judge_model] if isinstance(judge_model, Student) else [])


class StopAtBudget(TrainerCallback):
    """Save a checkpoint and stop when a model's budget (the student's, a judge's) cannot pay
    for another step as costly as the costliest so far (``first_step_calls`` before any)."""

    def __init__(self, models: list[Student], first_step_calls: int):
        self.models = models
        self.calls_before = [model.usage.calls for model in models]
        self.step_calls = [first_step_calls] * len(models)

    def on_step_end(self, args, state, control, **kwargs):
        for i, model in enumerate(self.models):
            made = model.usage.calls - self.calls_before[i]
            self.calls_before[i] = model.usage.calls
            self.step_calls[i] = max(self.step_calls[i], made)
            try:
                model.budget.check(model.usage, self.step_calls[i], model.identity)
            except BudgetExceeded as exc:
                log.warning("stopping after step %d: %s (resume with a larger budget)",
                            state.global_step, exc)
                control.should_save = control.should_training_stop = True
        if any(on_all_processes([control.should_training_stop])):  # every process stops
            control.should_save = control.should_training_stop = True
        return control


class ValidationScore(TrainerCallback):
    """Score the current teacher on the validation split every ``every`` steps (and before
    the first): greedy instructions, the student as evaluation runs it, one line per check
    in ``metrics.jsonl`` (``validation/accuracy``) and its per-item scores in
    ``RUN/validation/scores.jsonl`` (for paired comparisons). A LoRA teacher checked after
    step N is also saved to ``RUN/validation/step-N`` (a few MB, with its ``wst_teacher.json``), so the
    teacher to evaluate can be chosen on validation after training (``wst eval --adapter``);
    ``checkpoints/`` keeps only the last two."""

    def __init__(self, examples: list[Example], task: Task, student: Student, config: RunConfig,
                 tokenizer: Any, run_dir: Path, every: int):
        self.examples, self.task, self.student, self.config = examples, task, student, config
        self.tokenizer, self.run_dir, self.every = tokenizer, run_dir, every

    def score(self, model: Any) -> tuple[list[str], list[float]]:
        """The current teacher's greedy instruction for each validation item, and its score."""
        teacher = self.config.teacher
        was_training = model.training
        model.eval()
        instructions = write_instructions(model, self.tokenizer,
                                          [e.question for e in self.examples],
                                          teacher.meta_prompt, teacher.max_instruction_tokens,
                                          instruction_start=teacher.instruction_start,
                                          choices=teacher.choices,
                                          choice_instructions=teacher.choice_instructions)
        model.train(was_training)
        placement = self.config.student.instruction_placement
        answers = self.student.answer([self.task.student_messages(e, i, placement)
                                       for e, i in zip(self.examples, instructions)])
        return instructions, self.task.score_answers(answers, self.examples)

    def _log(self, step: int, model: Any) -> None:
        instructions, scores = self.score(model)
        accuracy = mean(scores)
        log.info("step %d  validation accuracy %.3f (n=%d)", step, accuracy, len(self.examples))
        with (self.run_dir / "metrics.jsonl").open("a") as fh:
            fh.write(json.dumps({"step": step, "validation/accuracy": accuracy,
                                 "validation/n": len(self.examples)}) + "\n")
        (self.run_dir / VALIDATION).mkdir(exist_ok=True)
        with (self.run_dir / VALIDATION / "scores.jsonl").open("a") as fh:  # for paired tests
            fh.write(json.dumps({"step": step, "ids": [e.id for e in self.examples],
                                 "scores": scores, "instructions": instructions}) + "\n")
        if step > 0 and hasattr(model, "peft_config"):  # an adapter: small enough to keep
            folder = self.run_dir / VALIDATION / f"step-{step}"
            model.save_pretrained(str(folder))
            self.tokenizer.save_pretrained(str(folder))
            save_card(folder, self.config.teacher, step=step, validation_accuracy=accuracy)

    def on_train_begin(self, args, state, control, model=None, **kwargs):
        if state.global_step == 0:
            self._check(0, model)

    def on_step_end(self, args, state, control, model=None, **kwargs):
        if state.global_step % self.every == 0 or state.global_step == state.max_steps:
            self._check(state.global_step, model)

    def _check(self, step: int, model: Any) -> None:
        """On the main process (the others wait): validation is not split across processes."""
        processes = PartialState()
        if processes.is_main_process:
            self._log(step, model)
        processes.wait_for_everyone()


class MetricsFile(TrainerCallback):
    """Append every logged metrics dict to ``metrics.jsonl`` (read by the report)."""

    def __init__(self, path: Path):
        self.path = path

    def on_log(self, args, state, control, logs=None, **kwargs):
        if not logs or not state.is_world_process_zero:
            return
        with self.path.open("a") as fh:
            fh.write(json.dumps({"step": state.global_step, **logs}) + "\n")
        if "reward" in logs:
            log.info(
                "step %d/%d  reward %.3f  student acc %.3f  zero-variance groups %.2f  leak %.2f"
                "  |  seconds: teacher %.1f, student %.1f, scoring %.1f, update %.1f",
                state.global_step, state.max_steps, logs["reward"],
                logs.get("student/accuracy", float("nan")), logs.get("frac_reward_zero_std", 0),
                logs.get("instruction/leak_rate", 0), logs.get("time/teacher_generation_s", 0),
                logs.get("time/student_s", 0), logs.get("time/scoring_s", 0),
                logs.get("time/update_s", 0),
            )


def on_cuda(config: RunConfig) -> bool:
    """The teacher trains on a GPU (``train.device``)."""
    device = config.train.device
    return device == "cuda" or (device == "auto" and torch.cuda.is_available())


def training_processes(config: RunConfig) -> PartialState:
    """The processes ``accelerate launch`` (or torchrun) started, one when run plainly. The
    first ``PartialState`` of a process fixes its backend, so it is made here, for the device
    the teacher trains on (gloo on CPUs), before anything else asks."""
    return PartialState(cpu=not on_cuda(config))


def per_process_batch(config: RunConfig, processes: int) -> int:
    """Instructions each training process generates per step: the step's
    ``questions_per_step x num_generations``, split evenly."""
    total = config.train.questions_per_step * config.train.num_generations
    if total % processes:
        raise ConfigError(f"train.questions_per_step x train.num_generations = {total} "
                          f"instructions per step cannot be split over {processes} processes; "
                          f"make it a multiple of {processes}")
    return total // processes


def micro_batch(config: RunConfig, processes: int) -> int:
    """Instructions in each forward and backward pass of a process: its share of the step
    split into ``train.micro_batches`` passes (TRL accumulates them into one update)."""
    batch = per_process_batch(config, processes)
    if batch % config.train.micro_batches:
        raise ConfigError(f"{batch} instructions per step and process cannot be split into "
                          f"train.micro_batches = {config.train.micro_batches} equal passes; "
                          f"make micro_batches divide {batch}")
    return batch // config.train.micro_batches


def grpo_args(config: RunConfig, run_dir: Path) -> GRPOConfig:
    """TRL's GRPOConfig for this run: CPU or GPU as ``train.device`` says (``accelerate
    launch`` decides how many processes), vLLM generation where ``train.use_vllm``."""
    t = config.train
    cuda = on_cuda(config)
    bf16 = t.bf16 if t.bf16 is not None else cuda and torch.cuda.is_bf16_supported()
    return GRPOConfig(
        output_dir=str(run_dir / "checkpoints"),
        use_cpu=not cuda,
        bf16=bf16,
        gradient_checkpointing=t.gradient_checkpointing,
        use_vllm=t.use_vllm,
        vllm_mode=t.vllm_mode,
        vllm_server_base_url=t.vllm_server_base_url,
        vllm_gpu_memory_utilization=t.vllm_gpu_memory_utilization,
        per_device_train_batch_size=micro_batch(config, PartialState().num_processes),
        gradient_accumulation_steps=t.micro_batches,
        num_generations=t.num_generations,
        max_completion_length=config.teacher.max_instruction_tokens,
        temperature=t.temperature,
        learning_rate=t.learning_rate,
        adam_beta1=t.adam_beta1,
        beta=t.beta,
        max_steps=t.max_steps,
        logging_steps=1,
        save_steps=t.save_steps,
        save_total_limit=2,
        seed=t.seed,
        data_seed=t.seed,
        report_to="none",
        disable_dropout=True,
        dataloader_num_workers=0,
        num_iterations=t.num_iterations,
        epsilon=t.epsilon,
        epsilon_high=t.epsilon_high,
        loss_type=t.loss_type,
        scale_rewards=t.scale_rewards,
        mask_truncated_completions=t.mask_truncated_completions,
    )


def start_adapter(model: Any, folder: str) -> Any:
    """``model`` with the trained LoRA adapter in ``folder`` loaded for further training."""
    from peft import PeftModel

    if not is_adapter(folder):
        raise ConfigError(f"train.init_adapter {folder!r} is not a LoRA adapter folder (no "
                          f"adapter_config.json): training can start only from an adapter")
    with model_errors(folder, "train.init_adapter"):
        return PeftModel.from_pretrained(model, folder, is_trainable=True)


def fresh_lora(config: RunConfig) -> Any:
    """The new LoRA adapter a run trains (PEFT ``LoraConfig``), or None when it trains all
    weights (``teacher.lora`` off) or goes on with ``train.init_adapter``."""
    from peft import LoraConfig

    teacher = config.teacher
    if not teacher.lora or config.train.init_adapter:
        return None
    return LoraConfig(r=teacher.lora_r, lora_alpha=teacher.lora_alpha,
                      lora_dropout=teacher.lora_dropout,
                      target_modules=teacher.lora_target_modules, task_type="CAUSAL_LM")


def save_card(folder: Path, teacher: TeacherConfig, **extra: Any) -> None:
    """The ``wst_teacher.json`` of a trained teacher: what using it needs (``extra``: more)."""
    save_teacher_card(folder, teacher.meta_prompt, teacher.model,
                      extra={"max_instruction_tokens": teacher.max_instruction_tokens,
                             "instruction_start": teacher.instruction_start,
                             "choices": teacher.choices,
                             "choice_instructions": teacher.choice_instructions, **extra})


def check_choice_texts(teacher: TeacherConfig) -> None:
    """The reward tells which choice the teacher wrote by the instruction it makes after
    ``instruction_start`` (``choice_index``), so with ``teacher.choice_instructions`` no two
    choices may make the same one (``"a"`` and ``" a"`` do)."""
    if not teacher.choice_instructions:
        return
    written = [clean_instruction(teacher.instruction_start + c) for c in teacher.choices]
    if len(set(written)) != len(written):
        raise ConfigError(f"teacher.choices {teacher.choices!r} make the same instruction twice "
                          f"after teacher.instruction_start ({written!r}), so training cannot "
                          f"tell which teacher.choice_instructions entry to show")


def menu_token_ids(tokenizer: Any, teacher: TeacherConfig) -> list[list[int]] | None:
    """The tokens of ``teacher.choices`` (None without), each within the instruction cap."""
    if not teacher.choices:
        return None
    ids = choice_token_ids(tokenizer, teacher.choices)
    longest = max(map(len, ids))
    if longest > teacher.max_instruction_tokens:
        raise ConfigError(f"teacher.choices: the longest choice has {longest} tokens, more "
                          f"than teacher.max_instruction_tokens = "
                          f"{teacher.max_instruction_tokens}; raise the cap")
    return ids


def train_dataset(train: list[Example], teacher: TeacherConfig, tokenizer: Any):
    """TRL's prompts: chat messages, or with ``teacher.instruction_start`` the templated
    text with those words after it (TRL always opens a new turn after chat messages, so a
    prefill has to be given as text; its completions are then the text after the start)."""
    from datasets import Dataset

    def prompt(question: str) -> Any:
        if teacher.instruction_start:
            return teacher_prompt(tokenizer, teacher.meta_prompt, question,
                                  teacher.instruction_start)
        return teacher_messages(teacher.meta_prompt, question)

    return Dataset.from_list([
        {"prompt": prompt(e.question), "question": e.question,
         "answer": e.answer, "example_id": e.id, "history": json.dumps(e.history)}
        for e in train
    ])


def train_teacher(config: RunConfig, split: Split, task: Task, student: Student,
                  resume: bool = False) -> Path:
    """Run GRPO; return the folder of the trained teacher (adapter or full model)."""
    from transformers import AutoModelForCausalLM

    from wst.teacher import load_tokenizer

    validate_training(config)
    check_choice_texts(config.teacher)
    run_dir = Path(config.output_dir)
    processes = training_processes(config)
    if processes.is_main_process:
        run_dir.mkdir(parents=True, exist_ok=True)
        prepare_run_dir(run_dir, config, resume)
        save_config(config, run_dir / "config.json")
        split.save(run_dir / "split.json")
    processes.wait_for_everyone()
    for paying in paying_models(student, task):  # N processes together keep to each limit
        paying.budget = paying.budget.share(processes.num_processes)
    model_path = resolve_teacher(config.teacher.model)
    with model_errors(model_path, "teacher"):
        model = AutoModelForCausalLM.from_pretrained(model_path, dtype="float32")
        tokenizer = load_tokenizer(model_path)
    if config.train.init_adapter:
        model = start_adapter(model, config.train.init_adapter)
    pool = split.train
    if config.train.screen:
        from wst.screen import screened_pool

        model.eval()
        with processes.main_process_first():  # the others then read the main one's screen
            pool = screened_pool(pool, task, student, reward_sampling(student, config),
                                 (model, tokenizer), config.train, config.teacher,
                                 config.student.instruction_placement, run_dir,
                                 resume or not processes.is_main_process)
    peft_config = fresh_lora(config)
    clock = StepClock()
    choice_ids = menu_token_ids(tokenizer, config.teacher)
    reward = make_reward_fn(student, task, config, clock, run_dir / "train_samples.jsonl")
    trainer = WSTTrainer(
        model=model,
        reward_funcs=reward,
        args=grpo_args(config, run_dir),
        train_dataset=train_dataset(pool, config.teacher, tokenizer),
        processing_class=tokenizer,
        peft_config=peft_config,
        skip_zero_advantage=config.train.skip_zero_advantage,
        choice_ids=choice_ids,
        callbacks=[
            MetricsFile(run_dir / "metrics.jsonl"),
            StopAtBudget(paying_models(student, task),
                         per_process_batch(config, processes.num_processes)),
        ],
        clock=clock,
    )
    if config.train.validation_steps and split.validation:
        trainer.add_callback(ValidationScore(split.validation, task, student, config, tokenizer,
                                             run_dir, config.train.validation_steps))
    trainer.remove_callback(ProgressCallback)
    trainer.add_callback(QuietProgress())
    checkpoint = resume and last_checkpoint_step(run_dir) is not None
    if resume and not checkpoint:
        log.warning("--resume: no checkpoint in %s, starting from scratch", run_dir / "checkpoints")
    trainer.train(resume_from_checkpoint=True if checkpoint else None)
    out = run_dir / "teacher"
    trainer.save_model(str(out))  # on the main process
    if processes.is_main_process:
        tokenizer.save_pretrained(str(out))
        save_card(out, config.teacher)
    processes.wait_for_everyone()
    return out
