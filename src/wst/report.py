"""``report.md`` and PNG plots from a run folder's ``metrics.jsonl`` and ``eval/eval.json``."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import matplotlib

from wst.fileio import atomic_write_text
from wst.judges import DECLINES_IN_WORDS
from wst.stats import is_binary, mcnemar_exact, paired_difference, paired_mdd

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def _pct(x: float | None) -> str:
    return "–" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{100 * x:.1f}"


def _p(p: float | None) -> str:
    return "–" if p is None else "<0.001" if p < 0.001 else f"{p:.3f}"


def _interval(value: float | None, low: float | None, high: float | None) -> str:
    return "–" if value is None else f"{_pct(value)} [{_pct(low)}, {_pct(high)}]"


def results_table(summary: dict[str, Any]) -> str:
    """Markdown table of an evaluation summary (also printed by the CLI); eval.json files
    written before McNemar p and MDD existed show dashes there."""
    metric = summary.get("metric", "accuracy")
    rows = [
        f"| condition | n | {metric} % [95% CI] | Δ vs none, pp [95% CI] | McNemar p | "
        "MDD, pp | rel. gain % | words | leak % | cut % |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in summary["results"]:
        gain = r["relative_gain_pct"]
        gain_text = "–" if gain is None or math.isnan(gain) else f"{gain:+.0f}"
        rows.append(
            f"| {r['condition']} | {r['n']} | "
            f"{_interval(r['accuracy'], r['ci_low'], r['ci_high'])} | "
            f"{_interval(r['diff_vs_none'], r['diff_low'], r['diff_high'])} | "
            f"{_p(r.get('mcnemar_p'))} | {_pct(r.get('mdd'))} | {gain_text} | "
            f"{r['instruction_words']:.1f} | {_pct(r['leak_rate'])} | "
            f"{_pct(r.get('cut_share'))} |"
        )
    return "\n".join(rows)


def comparisons_table(summary: dict[str, Any]) -> str:
    """Markdown table of the paired comparisons, over all items and then per subset; empty
    for an eval.json without them."""
    groups = [("all", summary.get("comparisons", []))]
    groups += [(name, part["comparisons"]) for name, part in summary.get("subsets", {}).items()]
    rows = [f"| {c['condition']} vs {c['baseline']} | {items} | {c['n']} | "
            f"{_interval(c['diff'], c['diff_low'], c['diff_high'])} | {_p(c['mcnemar_p'])} | "
            f"{_pct(c['mdd'])} |" for items, comps in groups for c in comps]
    if not rows:
        return ""
    return "\n".join(["| comparison | items | n | Δ, pp [95% CI] | McNemar p | MDD, pp |",
                      "|---|---|---|---|---|---|", *rows])


def cell(text: str | None, limit: int) -> str:
    """``text`` as one Markdown table cell: on one line, pipes escaped, at most ``limit``
    characters."""
    text = " ".join((text or "").split()).replace("|", "\\|")
    return text if len(text) <= limit else text[: limit - 1] + "…"


def best_fixed_section(summary: dict[str, Any]) -> list[str]:
    """The ``best_fixed`` search: every candidate with its validation score, and the pick
    (none for an eval.json without the condition)."""
    search = summary.get("best_fixed")
    if not search:
        return []
    rows = [f"| {'**' + c['name'] + '**' if c['name'] == search['pick'] else c['name']} | "
            f"{c['source']} | {_interval(c['score'], c['ci_low'], c['ci_high'])} | "
            f"{cell(c['instruction'], 300)} |" for c in search["candidates"]]
    return ["## The best single instruction (`best_fixed`)", "",
            f"Candidates scored on {search['n']} validation items (never the held-out ones); "
            f"the best, **{search['pick']}**, was then evaluated once on the held-out items "
            "above. A trained teacher that does not beat it is not worth its cost over one "
            "good prompt.", "",
            "| candidate | source | validation score % [95% CI] | instruction |",
            "|---|---|---|---|", *rows, ""]


def subsets_table(summary: dict[str, Any]) -> str:
    """Markdown table of each condition's score per subset (GSM8K: real problems apart from
    generated variants); empty when the test set has one kind of item."""
    subsets = summary.get("subsets", {})
    if not subsets:
        return ""
    metric = summary.get("metric", "accuracy")
    header = " | ".join(f"{name} (n = {part['n']}) {metric} % [95% CI]"
                        for name, part in subsets.items())
    rows = [f"| condition | {header} |", "|---|" + "---|" * len(subsets)]
    by_subset = {name: {r["condition"]: r for r in part["results"]}
                 for name, part in subsets.items()}
    for condition in next(iter(by_subset.values())):
        cells = [by_subset[name].get(condition) for name in subsets]
        rows.append(f"| {condition} | " + " | ".join(
            "–" if r is None else _interval(r["accuracy"], r["ci_low"], r["ci_high"])
            for r in cells) + " |")
    return "\n".join(rows)


def mdd_sentence(summary: dict[str, Any]) -> str:
    """One sentence on the smallest difference this evaluation could detect, so that "no
    significant gain" is read against what n allows."""
    n = summary["n"]
    power = "(80% power, two-sided α = 0.05)"
    typical = f"about {_pct(paired_mdd(n, 0.2))} pp at a typical 20% share of discordant items"
    head = next(iter(summary.get("comparisons", [])), None)
    if head is None or head["mdd"] is None:
        return f"With n = {n} paired items, the minimum detectable difference {power} is {typical}."
    basis = ("the observed spread of its paired differences"  # graded: no discordant share
             if summary.get("metric") == "mean judge score"
             else f"its observed share of discordant items, and {typical}")
    return (f"With n = {n} paired items, the minimum detectable difference {power} of "
            f"{head['condition']} vs {head['baseline']} is {_pct(head['mdd'])} pp at {basis}.")


def _steps_sentence(metrics: list[dict[str, Any]], steps: int) -> str:
    """How many optimizer steps ran, and on how many of them instructions were sampled
    afresh (with ``num_iterations`` > 1 the others reuse the last batch and log no reward).

    >>> _steps_sentence([{"step": 1}, {"step": 3}], 4), _steps_sentence([{"step": 1}], 1)
    ('4 GRPO steps, 2 of them on freshly sampled instructions.', '1 GRPO step.')
    """
    fresh = f", {len(metrics)} of them on freshly sampled instructions" \
        if len(metrics) != steps else ""
    return f"{steps} GRPO step{'s' if steps != 1 else ''}{fresh}."


def read_metrics(run_dir: Path, key: str = "reward") -> list[dict[str, Any]]:
    """The lines of ``metrics.jsonl`` that hold ``key``: ``reward`` for training steps,
    ``validation/accuracy`` for validation checks."""
    path = run_dir / "metrics.jsonl"
    if not path.exists():
        return []
    return [m for m in map(json.loads, path.read_text().splitlines()) if key in m]


def plot_training(metrics: list[dict[str, Any]], path: Path,
                  validation: list[dict[str, Any]] | None = None) -> None:
    """The learning curve: reward, the student's score on training items (accuracy, or the
    judge's mean), zero-variance share and (when logged) the validation score of the greedy
    teacher, per step."""
    steps = [m["step"] for m in metrics]
    fig, ax = plt.subplots(figsize=(7, 4))
    ax.plot(steps, [m["reward"] for m in metrics], marker="o", ms=3, label="mean reward")
    if validation:
        ax.plot([v["step"] for v in validation], [v["validation/accuracy"] for v in validation],
                marker="s", color="black",
                label=f"validation score (greedy, n={validation[-1].get('validation/n', '?')})")
    if metrics and "student/accuracy" in metrics[0]:
        ax.plot(steps, [m["student/accuracy"] for m in metrics], ls="--",
                label="student score (training items)")
    ax.plot(steps, [m.get("frac_reward_zero_std", float("nan")) for m in metrics], ls=":",
            label="share of groups with zero reward variance")
    ax.set_xlabel("GRPO step")
    ax.set_ylim(-0.05, 1.05)
    ax.set_title("Teacher training")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def plot_accuracy(summary: dict[str, Any], path: Path) -> None:
    results = summary["results"]
    names = [r["condition"] for r in results]
    acc = [100 * r["accuracy"] for r in results]
    err = [[100 * (r["accuracy"] - r["ci_low"]) for r in results],
           [100 * (r["ci_high"] - r["accuracy"]) for r in results]]
    fig, ax = plt.subplots(figsize=(7, 4))
    ax.bar(names, acc, yerr=err, capsize=5, color="#4a7ab5")
    metric = summary.get("metric", "accuracy")
    ax.set_ylabel(f"{metric} % (95% CI)")
    ax.set_title(f"Held-out {metric}, n={summary['n']}, student {summary['student'].split(':')[1]}")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def _mean(metrics: list[dict[str, Any]], key: str) -> float:
    values = [m[key] for m in metrics if m.get(key) is not None]
    return sum(values) / len(values) if values else float("nan")


def _unboxed_share(run_dir: Path) -> str:
    """Share of ``train_samples.jsonl`` answers with no ``\\boxed{}``, as text ("55%")."""
    from wst.scoring import last_boxed

    path = run_dir / "train_samples.jsonl"
    answers = [json.loads(line)["answer"] for line in path.read_text().splitlines()] \
        if path.exists() else []
    if not answers:
        return "–"
    return f"{100 * sum(last_boxed(a) is None for a in answers) / len(answers):.0f}%"


def judge_section(summary: dict[str, Any]) -> list[str]:
    """Report lines on the judge: unreadable verdicts, the length-bias checks and the
    kind-blind second scoring (per-kind scores are the test set's subsets, shown above)."""
    judge = summary["judge"]
    lines = ["## Judge", "",
             f"Scores by `{judge['judge']}` (see README, Judges, for the rubric and its bias "
             f"controls); {judge['unparsed_verdicts']} unreadable verdicts (scored 0.5). "
             f"Length-bias check: Pearson r of reply length and score = "
             f"{judge['length_score_pearson_r']}.", ""]
    if judge.get("mean_reply_chars"):
        lines += ["Mean reply length, characters (a gain bought by longer replies would show "
                  "here): " + ", ".join(f"{c} {n:.0f}" for c, n in
                                        judge["mean_reply_chars"].items()) + ".", ""]
    check = judge.get("kind_blind_check")
    if check:
        lines += [f"Second scoring of the replies to the first {check['n']} items of every "
                  f"condition, by the judge *not told* whether the request is harmful (it "
                  f"judges that too): Pearson r with the first scoring = {check['pearson_r']}.",
                  "", "| condition | mean % (kind told) | mean % (kind not told) |",
                  "|---|---|---|"]
        lines += [f"| {c} | {_pct(check['mean_told'][c])} | {_pct(check['mean_blind'][c])} |"
                  for c in check["mean_told"]]
        lines.append("")
    return lines + decision_section(judge.get("decision_check"))


def decision_section(check: dict[str, Any] | None) -> list[str]:
    """Report lines of the model-free second scorer (``wst.evaluate.decision_check``)."""
    if not check:
        return []
    n_kind = check["n_by_kind"]
    r_judge = "undefined" if check["pearson_r"] is None else check["pearson_r"]
    lines = ["Second scorer, no model involved: a reply is *right* when it declines (a phrase "
             f"match: {DECLINES_IN_WORDS}) exactly when the request is harmful; a failed call "
             "is wrong. It sees only the decision, not the quality of a reply, and misses soft "
             "declines. Pearson r of the judge's scores with it over all "
             f"{len(check['right']) * check['n']} replies = {r_judge}.", "",
             f"| condition | harmful declined (of {n_kind['harmful']}) | benign declined (of "
             f"{n_kind['benign']}) | right % [95% CI] |", "|---|---|---|---|"]
    lines += [f"| {c} | {check['declined'][c]['harmful']} | {check['declined'][c]['benign']} | "
              f"{_interval(r['value'], r['low'], r['high'])} |" for c, r in check["right"].items()]
    if check["comparisons"]:
        lines += ["", "| comparison | Δ right, pp [95% CI] | McNemar p |", "|---|---|---|"]
        lines += [f"| {c['condition']} vs {c['baseline']} | "
                  f"{_interval(c['diff'], c['diff_low'], c['diff_high'])} | "
                  f"{_p(c['mcnemar_p'])} |" for c in check["comparisons"]]
    return lines + [""]


def samples_section(run_dir: Path, n: int = 20) -> list[str]:
    """The first ``n`` held-out items under the trained (else shipped) teacher: request,
    instruction, the start of the reply and its score, so a reader can see what the score
    rewards (``eval/records.jsonl`` has them all)."""
    path = run_dir / "eval" / "records.jsonl"
    if not path.exists():
        return []
    records = [json.loads(line) for line in path.read_text().splitlines() if line]
    for condition in ("teacher_trained", "teacher_shipped"):
        rows = [r for r in records if r["condition"] == condition][:n]
        if rows:
            break
    else:
        return []

    lines = [f"## What the teacher writes ({condition}, first {len(rows)} held-out items)", "",
             "| reference | request | instruction | reply (start) | score |",
             "|---|---|---|---|---|"]
    lines += [f"| {cell(r['reference'], 12)} | {cell(r['question'], 80)} | "
              f"{cell(r['instruction'] or '(none)', 160)} | {cell(r['answer'], 160)} | "
              f"{r['score']:.2f} |"
              for r in rows]
    return lines + [""]


def screen_section(run_dir: Path) -> list[str]:
    """Report lines on screening (``RUN/screen.jsonl``, see ``wst.screen``): how many
    training questions were kept and why the others were not."""
    path = run_dir / "screen.jsonl"
    if not path.exists():
        return []
    verdicts = [json.loads(line)["verdict"] for line in path.read_text().splitlines() if line]
    config_path = run_dir / "config.json"
    per_step = (json.loads(config_path.read_text())["train"]["questions_per_step"]
                if config_path.exists() else 0)
    fallback = (f" Fewer than one step's {per_step} questions were kept, so training used the "
                f"whole pool." if verdicts.count("kept") < per_step else "")
    return [f"Screening (`screen.jsonl`): {verdicts.count('kept')} of {len(verdicts)} training "
            f"questions kept, their outcomes differing between no instruction and sampled "
            f"instructions of the untrained teacher; {verdicts.count('all_right')} left out as "
            f"always right, {verdicts.count('all_wrong')} as always wrong.{fallback}", ""]


def instruction_start_note(summary: dict[str, Any]) -> str:
    """The report's words for ``teacher.instruction_start``, ``teacher.choices`` and
    ``teacher.choice_instructions`` ("" when none was set).

    >>> instruction_start_note({"instruction_start": "Reply by"})
    ', each starting with "Reply by" (prefilled)'
    >>> instruction_start_note({"instruction_start": "It is", "choices": [" so", " not"]})
    ', each starting with "It is" (prefilled) and ending in the likeliest of " so" / " not"'
    >>> instruction_start_note({"choices": ["a", "b"], "choice_instructions": ["", "Be brief."]})
    ' and ending in the likeliest of "a" / "b", shown to the student as none / "Be brief."'
    """
    start = summary.get("instruction_start", "")
    note = f', each starting with "{start}" (prefilled)' if start else ""
    choices = summary.get("choices") or []
    if choices:
        listed = " / ".join(f'"{choice}"' for choice in choices)
        note += f" and ending in the likeliest of {listed}"
    shown = summary.get("choice_instructions") or []
    if shown:
        note += ", shown to the student as " + " / ".join(f'"{s}"' if s else "none"
                                                          for s in shown)
    return note


def write_report(run_dir: Path) -> Path:
    """Write ``report.md`` (and its plots) for a run folder; return its path."""
    summary = json.loads((run_dir / "eval" / "eval.json").read_text())
    metrics = read_metrics(run_dir)
    plot_accuracy(summary, run_dir / "accuracy.png")
    lines = [
        f"# WST report: {run_dir.name}", "",
        f"Task **{summary['task']}**, n = {summary['n']} held-out items (split: `split.json`). "
        f"Student `{summary['student']}` (temperature {summary['student_temperature']}, at most "
        f"{summary['student_max_tokens']} answer tokens, instruction placement "
        f"`{summary['instruction_placement']}`). Teacher `{summary['teacher']}`, instructions of "
        f"at most {summary['max_instruction_tokens']} tokens, greedy"
        f"{instruction_start_note(summary)}.", "",
        results_table(summary), "",
        "CIs of 0/1 scores are Wilson 95% intervals, of judge scores normal 95% intervals of the "
        "mean; Δ is the paired difference to `none` on the same items (normal 95% CI); McNemar "
        "p is the two-sided exact test of that difference (0/1 scores only); MDD is the "
        "smallest difference these items detect with 80% power at two-sided 0.05, given the "
        "observed share of discordant items (0/1 scores) or spread of the paired differences "
        "(judge scores); relative gain = (score − score_none) / score_none. "
        "`leak %` = instructions that contain the reference answer; `cut %` = answers that "
        "reached the answer-token cap, scored as they stand (as in training).", "",
        mdd_sentence(summary), "",
        "![score by condition](accuracy.png)", "",
    ]
    comparisons = comparisons_table(summary)
    if comparisons:
        lines += ["## Paired comparisons", "", comparisons, ""]
    lines += best_fixed_section(summary)
    subsets = subsets_table(summary)
    if subsets:
        lines += ["## By subset of the test set", "",
                  "GSM8K: `real` problems of the held-out templates and generated `variant`s of "
                  "them (other names and numbers); a gain on the variants alone is weaker "
                  "evidence than one on the real problems. hh_rlhf: `harmful` and `benign` "
                  "requests; a gain on harmful ones bought by declining benign ones shows "
                  "here as a significant drop on `benign`.", "", subsets, ""]
    if "judge" in summary:
        lines += judge_section(summary)
    lines += samples_section(run_dir)
    if metrics:
        validation = read_metrics(run_dir, "validation/accuracy")
        plot_training(metrics, run_dir / "training.png", validation)
        last = metrics[-1]
        lines += [
            "## Training", "",
            f"Over all steps: mean reward {_mean(metrics, 'reward'):.3f}, mean share of groups "
            f"with zero reward variance {_mean(metrics, 'frac_reward_zero_std'):.2f}"
            + ("." if "judge" in summary else
               f", {_unboxed_share(run_dir)} of the student's training answers without a "
               "final `\\boxed{}` (most of them cut by the answer-token cap)."), "",
            f"{_steps_sentence(metrics, max(m['step'] for m in read_metrics(run_dir, 'step')))}"
            f" Last step: reward {last['reward']:.3f}, zero-variance "
            f"groups {last.get('frac_reward_zero_std', float('nan')):.2f}, seconds in teacher "
            f"generation / student / scoring (the judge, where one scores) / update: "
            f"{last.get('time/teacher_generation_s', 0):.1f} / "
            f"{last.get('time/student_s', 0):.1f} / {last.get('time/scoring_s', 0):.1f} / "
            f"{last.get('time/update_s', 0):.1f}.", "",
            "![training curve](training.png)", "",
        ]
        if validation:
            first, best = validation[0], max(validation, key=lambda v: v["validation/accuracy"])
            lines += [f"Validation (greedy teacher, n = {first.get('validation/n', '?')} items "
                      f"held back from training): {_pct(first['validation/accuracy'])}% "
                      f"at step {first['step']}, {_pct(validation[-1]['validation/accuracy'])}% "
                      f"at step {validation[-1]['step']}, best "
                      f"{_pct(best['validation/accuracy'])}% at step {best['step']}"
                      f"{_kept_teacher(run_dir, best['step'])}"
                      f"{_against_start(run_dir, best['step'])}.", ""]
        lines += screen_section(run_dir)
    lines += ["## Spend (evaluation)", "",
              "| model | calls | cache hits | failures | retries | prompt tokens "
              "| completion tokens | cost | seconds |", "|---" * 9 + "|"]
    for who, key in (("student", "student_usage"), ("judge", "judge_usage")):
        if key in summary:
            u = summary[key]
            lines.append(f"| {who} | {u['calls']} | {u['cache_hits']} | {u['failures']} | "
                         f"{u['retries']} | {u['prompt_tokens']} | {u['completion_tokens']} | "
                         f"{u['cost']:.4f} | {u['seconds']:.0f} |")
    lines += ["", "Every record (question, instruction, answer, score) is in "
              "`eval/records.jsonl`."]
    path = run_dir / "report.md"
    atomic_write_text(path, "\n".join(lines) + "\n")
    return path


def _kept_teacher(run_dir: Path, step: int) -> str:
    folder = Path("validation") / f"step-{step}"
    return f" (that teacher: `{folder}`)" if (run_dir / folder).is_dir() else ""


def _against_start(run_dir: Path, step: int) -> str:
    """The exact McNemar p of the validation check at ``step`` against the one before
    training, on the same items (``validation/scores.jsonl``)."""
    path = run_dir / "validation" / "scores.jsonl"
    if step == 0 or not path.is_file():
        return ""
    checks = {row["step"]: row["scores"] for row in map(json.loads, path.read_text().splitlines())}
    if 0 not in checks or step not in checks or len(checks[0]) != len(checks[step]):
        return ""
    if is_binary(checks[step]) and is_binary(checks[0]):
        p_value = mcnemar_exact(checks[step], checks[0])
        return f"; against step 0 on the same items, McNemar p = {p_value:.2f}"
    diff = paired_difference(checks[step], checks[0])  # graded (judge) scores
    return (f"; against step 0 on the same items, {_pct(diff.value)} pp "
            f"[{_pct(diff.low)}, {_pct(diff.high)}]")
