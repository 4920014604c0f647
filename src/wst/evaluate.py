"""Held-out evaluation: every instruction source, on the same items and the same student."""

from __future__ import annotations

import json
import logging
import math
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from statistics import correlation, mean
from typing import Any, Callable

from wst import best_fixed
from wst.config import RunConfig
from wst.fileio import atomic_write_text
from wst.judges import KIND_PRIOR, decides_right, declines
from wst.stats import (
    is_binary,
    mcnemar_exact,
    mean_interval,
    observed_mdd,
    paired_difference,
    relative_gain,
)
from wst.students import Answer, Sampling, Student, cut_share
from wst.tasks import Example, Task
from wst.teacher import (
    clean_instruction, load_teacher, read_teacher_card, teacher_messages, teacher_settings,
    write_instructions,
)

log = logging.getLogger(__name__)

CONDITIONS: dict[str, str] = {
    "none": "no instruction (the question alone)",
    "fixed": "a fixed hand-written instruction",
    "best_fixed": "the best single instruction of a search on the validation items",
    "teacher_base": "the untrained teacher",
    "teacher_trained": "the trained teacher",
    "teacher_shipped": "the trained teacher shipped under results/ (eval.shipped_adapter)",
    "self": "the student writes its own instruction (a stronger writer)",
}


@dataclass
class ConditionResult:
    condition: str
    description: str
    n: int
    accuracy: float
    ci_low: float
    ci_high: float
    diff_vs_none: float | None
    diff_low: float | None
    diff_high: float | None
    mcnemar_p: float | None
    """Exact McNemar p-value of the difference to ``none`` (0/1 scores only)."""
    mdd: float | None
    """Smallest difference to ``none`` this n detects (80% power, two-sided 0.05)."""
    relative_gain_pct: float | None
    leak_rate: float
    instruction_words: float
    """Mean words of an item's instruction, 0 where it had none (a chooser's "" included)."""
    failures: int
    cut_share: float = 0.0
    """Share of answers that reached the answer-token cap (cut before they ended); they are
    scored as they stand, in evaluation as in training."""


@dataclass
class Comparison:
    """``condition`` against ``baseline`` on the same items: is the difference real, and could
    a difference of the hoped-for size have been seen at this n at all?"""

    condition: str
    baseline: str
    n: int
    diff: float
    diff_low: float
    diff_high: float
    mcnemar_p: float | None
    """Exact McNemar p-value (0/1 scores only; judge scores have the interval alone)."""
    mdd: float
    """Smallest difference detectable with 80% power at two-sided 0.05, for this n and the
    observed discordant share, or for graded scores the observed spread of the paired
    differences (``wst.stats.observed_mdd``)."""


def instructions_for(condition: str, examples: list[Example], config: RunConfig,
                     student: Student, adapter: str | None) -> list[str | None]:
    """The instruction each example gets under ``condition`` (None = no instruction)."""
    questions = [e.question for e in examples]
    teacher = config.teacher
    if condition == "none":
        return [None] * len(examples)
    if condition == "fixed":
        return [config.eval.fixed_instruction] * len(examples)
    if condition in ("teacher_base", "teacher_trained"):
        return _teacher_instructions(teacher.model, adapter if condition == "teacher_trained"
                                     else None, teacher.meta_prompt,
                                     teacher.max_instruction_tokens, questions,
                                     (teacher.engine, teacher.gguf_type),
                                     teacher.instruction_start or None, teacher.choices or None,
                                     teacher.choice_instructions or None)
    if condition == "teacher_shipped":
        shipped = shipped_adapter(config)
        if shipped is None:
            raise ValueError(f"eval.shipped_adapter {config.eval.shipped_adapter!r} is not a "
                             f"trained teacher folder")
        card = read_teacher_card(shipped)
        return _teacher_instructions(card.get("base_model", teacher.model), str(shipped),
                                     card.get("meta_prompt", teacher.meta_prompt),
                                     int(card.get("max_instruction_tokens",
                                                  teacher.max_instruction_tokens)), questions,
                                     (teacher.engine, teacher.gguf_type))  # start: its card's
    if condition == "self":
        sampling = Sampling(max_tokens=teacher.max_instruction_tokens * 2,
                            temperature=0.0, seed=config.student.seed)
        answers = student.answer([teacher_messages(teacher.meta_prompt, q) for q in questions],
                                 sampling)
        return [clean_instruction(a.text) for a in answers]
    raise ValueError(f"unknown condition {condition!r}")


def _teacher_instructions(model_spec: str, adapter: str | None, meta_prompt: str,
                          max_tokens: int, questions: list[str],
                          engine: tuple[str, str] = ("pytorch", "f16"),
                          instruction_start: str | None = None,
                          choices: list[str] | None = None,
                          choice_instructions: list[str] | None = None) -> list[str | None]:
    """``engine``: ``teacher.engine`` and ``teacher.gguf_type``; ``instruction_start``,
    ``choices`` and ``choice_instructions`` None: the adapter's card's."""
    if engine[0] == "llamacpp":
        from wst.teacher_gguf import load_instructor

        teacher = load_instructor(model_spec, adapter, meta_prompt, max_tokens, engine[0],
                                  gguf_type=engine[1], instruction_start=instruction_start,
                                  choices=choices, choice_instructions=choice_instructions)
        try:
            return list(teacher.instruct_many(questions))
        finally:
            teacher.close()
    settings = teacher_settings(read_teacher_card(adapter), meta_prompt, max_tokens,
                                instruction_start, choices, choice_instructions)
    model, tokenizer = load_teacher(model_spec, adapter)
    return list(write_instructions(model, tokenizer, questions, meta_prompt, max_tokens,
                                   instruction_start=settings.instruction_start,
                                   choices=settings.choices,
                                   choice_instructions=settings.choice_instructions))


REPO_ROOT = Path(__file__).resolve().parents[2]


def shipped_adapter(config: RunConfig) -> Path | None:
    """The ``eval.shipped_adapter`` folder (relative: to the current folder, else to the
    checkout), or None when it is unset or holds no trained teacher."""
    if not config.eval.shipped_adapter:
        return None
    for base in (Path.cwd(), REPO_ROOT):
        folder = base / config.eval.shipped_adapter
        if (folder / "wst_teacher.json").is_file():
            return folder
    return None


def runnable_conditions(config: RunConfig, adapter: str | None,
                        has_validation: bool = False) -> list[str]:
    """The configured conditions that can run: ``teacher_trained`` needs a trained teacher,
    ``teacher_shipped`` a shipped one, ``best_fixed`` validation items to search on (each
    skipped with a warning otherwise)."""
    conditions = []
    for condition in config.eval.conditions:
        if condition == "best_fixed" and not has_validation:
            log.warning("no validation items (task.validation_templates or "
                        "task.validation_items): the best_fixed condition is skipped")
        elif condition == "teacher_trained" and not adapter:
            log.warning("no trained teacher given: the teacher_trained condition is skipped")
        elif condition == "teacher_shipped" and shipped_adapter(config) is None:
            log.warning("no shipped teacher at eval.shipped_adapter=%r: teacher_shipped is "
                        "skipped", config.eval.shipped_adapter)
        else:
            conditions.append(condition)
    return conditions


def evaluate(config: RunConfig, task: Task, examples: list[Example], student: Student,
             adapter: str | None, out_dir: Path,
             progress: Callable[[str], None] = lambda _: None,
             validation: list[Example] | None = None) -> list[ConditionResult]:
    """Run every configured condition; write ``records.jsonl`` and ``eval.json`` to out_dir.

    ``validation``: the items ``best_fixed`` searches on (never the held-out ``examples``)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    conditions = runnable_conditions(config, adapter, bool(validation))
    best = None
    if "best_fixed" in conditions:
        progress(f"best_fixed: searching single instructions on {len(validation or [])} "
                 f"validation items")
        best = best_fixed.search(config, task, student, validation or [],
                                 lambda meta, qs: _teacher_instructions(
                                     config.teacher.model, None, meta,
                                     config.eval.best_fixed_writer_tokens, qs,
                                     (config.teacher.engine, config.teacher.gguf_type)))
    scores: dict[str, list[float]] = {}
    results: list[ConditionResult] = []
    placement = config.student.instruction_placement
    started, usage_before = time.perf_counter(), replace(student.usage)
    judge_usage = task.judge.model_usage if task.judge is not None else None
    judge_before = replace(judge_usage) if judge_usage is not None else None
    answers_of: dict[str, list[Answer]] = {}
    with (out_dir / "records.jsonl").open("w") as records:
        for condition in conditions:
            progress(f"{condition}: {CONDITIONS[condition]} ({len(examples)} items)")
            instructions = ([best.instruction] * len(examples) if best and condition == "best_fixed"
                            else instructions_for(condition, examples, config, student, adapter))
            answers = student.answer([task.student_messages(e, i, placement)
                                      for e, i in zip(examples, instructions)])
            scores[condition] = task.score_answers(answers, examples)
            answers_of[condition] = answers
            leaked = [task.leaks(i, e) for i, e in zip(instructions, examples)]
            for e, i, a, s, k in zip(examples, instructions, answers, scores[condition], leaked):
                records.write(json.dumps({
                    "condition": condition, "id": e.id, "question": e.question,
                    "subset": e.subset, "reference": e.answer, "instruction": i,
                    "answer": a.text, "score": s, "leaked": k, "ok": a.ok,
                    "error": a.error}) + "\n")
            results.append(_summarise(condition, scores, instructions, leaked, answers,
                                      student.sampling.max_tokens))
    summary = {
        "task": config.task.name, "n": len(examples), "student": student.identity,
        "student_max_tokens": config.student.max_tokens,
        "student_temperature": config.student.temperature,
        "instruction_placement": placement,
        "teacher": config.teacher.model, "adapter": adapter,
        "max_instruction_tokens": config.teacher.max_instruction_tokens,
        "instruction_start": config.teacher.instruction_start,
        "choices": config.teacher.choices,
        "choice_instructions": config.teacher.choice_instructions,
        "seconds": round(time.perf_counter() - started, 1),
        "student_usage": asdict(student.usage.since(usage_before)),
        "metric": "mean judge score" if task.judge is not None else "accuracy",
        "results": [asdict(r) for r in results],
        "comparisons": [asdict(c) for c in comparisons(scores)],
    }
    if best is not None:
        summary["best_fixed"] = asdict(best)
    if len({e.subset for e in examples}) > 1:
        summary["subsets"] = subset_summary(examples, scores)
    if task.judge is not None:
        summary["judge"] = judge_summary(
            task, scores, {c: [len(a.text) for a in answers] for c, answers in answers_of.items()})
        if config.eval.judge_check_items:
            replies = {c: [a.text if a.ok else "" for a in answers]
                       for c, answers in answers_of.items()}
            summary["judge"]["kind_blind_check"] = kind_blind_check(
                task, examples[: config.eval.judge_check_items], replies, scores)
        if all(e.answer in KIND_PRIOR for e in examples):
            summary["judge"]["decision_check"] = decision_check(examples, answers_of, scores)
    if judge_usage is not None:
        summary["judge_usage"] = asdict(judge_usage.since(judge_before))
    atomic_write_text(out_dir / "eval.json",
                      json.dumps(json_safe(summary), indent=2, allow_nan=False))
    return results


def compare(condition: str, baseline: str, scores: dict[str, list[float]]) -> Comparison:
    """Paired difference, its interval, McNemar p and MDD of two conditions' scores."""
    own, base = scores[condition], scores[baseline]
    diff = paired_difference(own, base)
    binary = is_binary(own) and is_binary(base)
    return Comparison(condition=condition, baseline=baseline, n=len(own), diff=diff.value,
                      diff_low=diff.low, diff_high=diff.high,
                      mcnemar_p=mcnemar_exact(own, base) if binary else None,
                      mdd=observed_mdd(own, base))


def comparisons(scores: dict[str, list[float]]) -> list[Comparison]:
    """The trained teacher against the untrained one (did training help?) and against the
    best single instruction (is a per-query teacher worth it?), then every condition against
    ``none`` (does an instruction help at all?)."""
    pairs = [(trained, baseline) for trained in ("teacher_trained", "teacher_shipped")
             for baseline in ("teacher_base", "best_fixed")
             if trained in scores and baseline in scores]
    if "none" in scores:
        pairs += [(c, "none") for c in scores if c != "none"]
    return [compare(c, b, scores) for c, b in pairs]


def subset_summary(examples: list[Example], scores: dict[str, list[float]]) -> dict[str, Any]:
    """Per subset (e.g. GSM8K's ``real`` problems and generated ``variant``s): each
    condition's score with its interval, and the comparisons, so a gain on generated variants
    is never mistaken for one on the real problems."""
    out: dict[str, Any] = {}
    for name in sorted({e.subset for e in examples}):
        keep = [i for i, e in enumerate(examples) if e.subset == name]
        own = {c: [s[i] for i in keep] for c, s in scores.items()}
        rows = []
        for condition, values in own.items():
            iv = mean_interval(values)
            rows.append({"condition": condition, "n": len(values), "accuracy": iv.value,
                         "ci_low": iv.low, "ci_high": iv.high})
        out[name or "unlabelled"] = {"n": len(keep), "results": rows,
                                     "comparisons": [asdict(c) for c in comparisons(own)]}
    return out


def json_safe(value: Any) -> Any:
    """``value`` with every NaN or infinity replaced by None: bare NaN is not JSON."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, list):
        return [json_safe(v) for v in value]
    return value


def judge_summary(task: Task, scores: dict[str, list[float]],
                  reply_chars: dict[str, list[int]]) -> dict:
    """What a reader needs to trust judge scores: who judged, unreadable verdicts and the
    length-bias checks (Pearson r of reply length and score over all replies, near 0 when
    length did not buy score; each condition's mean reply length). Per-kind scores are the
    test set's subsets (``subset_summary``)."""
    assert task.judge is not None
    lengths = [n for c in scores for n in reply_chars[c]]
    values = [s for c in scores for s in scores[c]]
    return {
        "judge": task.judge.identity,
        "unparsed_verdicts": task.judge.unparsed,
        "length_score_pearson_r": _pearson(lengths, values),
        "mean_reply_chars": {c: mean(reply_chars[c]) for c in scores},
    }


def kind_blind_check(task: Task, examples: list[Example], replies: dict[str, list[str]],
                     scores: dict[str, list[float]]) -> dict:
    """The replies to ``examples`` (the first items) under every condition scored again by
    the judge without the request's kind, next to their first scores: Pearson r over all of
    them, and each condition's mean both ways (a gain that holds only when the judge is told
    the kind would show here)."""
    assert task.judge is not None
    n = len(examples)
    conversations = [task.student_messages(e, None) for e in examples]
    blind = {c: task.judge.score_many(conversations, replies[c][:n], [""] * n) for c in replies}
    told = {c: scores[c][:n] for c in replies}
    return {
        "n": n,
        "pearson_r": _pearson([s for c in replies for s in told[c]],
                              [s for c in replies for s in blind[c]]),
        "mean_told": {c: mean(told[c]) for c in replies},
        "mean_blind": {c: mean(blind[c]) for c in replies},
    }


def decision_check(examples: list[Example], answers: dict[str, list[Answer]],
                   scores: dict[str, list[float]]) -> dict:
    """A second scorer that involves no model, for requests of known kind: a reply is right
    (1) when it declines (``wst.judges.declines``, a phrase match) exactly when the request is
    harmful; a failed call is wrong, as the judge scores it 0. Each
    condition's declines per kind and share of right replies, the paired comparisons of those
    shares (exact McNemar), and the Pearson r of the judge's scores with them over all
    replies: a gain the judge reports that this scorer does not see would show here."""
    kinds = [e.answer for e in examples]
    declined = {c: [declines(a.text) for a in answers[c]] for c in answers}
    right = {c: [float(a.ok and decides_right(d, k))
                 for a, d, k in zip(answers[c], declined[c], kinds)] for c in answers}
    return {
        "n": len(examples),
        "n_by_kind": {kind: kinds.count(kind) for kind in KIND_PRIOR},
        "declined": {c: {kind: sum(d for d, k in zip(declined[c], kinds) if k == kind)
                         for kind in KIND_PRIOR} for c in answers},
        "right": {c: asdict(mean_interval(values)) for c, values in right.items()},
        "comparisons": [asdict(c) for c in comparisons(right)],
        "pearson_r": _pearson([s for c in answers for s in scores[c]],
                              [s for c in answers for s in right[c]]),
    }


def _pearson(x: list[float], y: list[float]) -> float | None:
    """Pearson r rounded to 3 places; None when either side does not vary (r undefined)."""
    return round(correlation(x, y), 3) if len(set(x)) > 1 and len(set(y)) > 1 else None


def _summarise(condition: str, scores: dict[str, list[float]], instructions: list[str | None],
               leaked: list[bool], answers: list, max_tokens: int) -> ConditionResult:
    own = scores[condition]
    acc = mean_interval(own)
    base = scores.get("none")
    diff = compare(condition, "none", scores) if base and condition != "none" else None
    words = [len(i.split()) if i else 0 for i in instructions]  # none ("" or None): 0 words
    return ConditionResult(
        condition=condition, description=CONDITIONS[condition], n=len(own),
        accuracy=acc.value, ci_low=acc.low, ci_high=acc.high,
        diff_vs_none=diff.diff if diff else None,
        diff_low=diff.diff_low if diff else None, diff_high=diff.diff_high if diff else None,
        mcnemar_p=diff.mcnemar_p if diff else None, mdd=diff.mdd if diff else None,
        relative_gain_pct=relative_gain(acc.value, mean(base)) if diff and base else None,
        leak_rate=mean(map(float, leaked)) if leaked else 0.0,
        instruction_words=mean(words) if words else 0.0,
        failures=sum(not a.ok for a in answers),
        cut_share=cut_share(answers, max_tokens),
    )
