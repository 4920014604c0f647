"""Pilot (issue 30): the learning loop as a user runs it, on the embedded models, with the
product commands only: ``wst export``, ``wst serve --traffic-log`` through a link to the
export, ``POST /v1/feedback``, ``wst train --from-traffic``, ``wst export`` of the new teacher,
the link moved to it, ``POST /v1/teacher/reload``.

The deployed teacher is the shipped hh_rlhf chooser (``results/hh-rlhf-choice/teacher``), which
flags a request as "could be harmful" or "harmless". A scripted user asks the hh_rlhf training
prompts (not the validation ones) and rates each answer thumbs up when the flag matches the
request's known kind, down otherwise: feedback about the teacher's flag, which is what this
chooser decides. The validation prompts, never rated and never trained on, are asked before
and after the reload; the flag's agreement with their kind is the measure. While the server
reloads, 16 concurrent requests are in flight: none may fail.

    .venv/bin/python experiments/scripts/traffic_loop.py --out experiments/pilots/p58-traffic-loop

P58's run (experiments/pilots/p58-traffic-loop) compared the flag with a text ending in a
period, which the served instruction lacks, so its user rated by kind alone; fixed since, and
``traffic_loop_flags.py`` reads the real flags back from its traffic log.

OUT/ gets the traffic log, the training run (traffic.json), picks.jsonl and summary.md.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

from wst.stats import mcnemar_exact, mean_interval, paired_difference
from wst.tasks import Example, get_task, load_run_config

CONFIG = "configs/hh_rlhf_choice_05b.toml"
SHIPPED = "results/hh-rlhf-choice/teacher"


def wst(*args: str) -> None:
    """Run one ``wst`` command (the product CLI), failing loudly."""
    subprocess.run([sys.executable, "-m", "wst.cli", *args], check=True)


def point(link: Path, target: Path) -> None:
    """Make ``link`` name ``target`` in one step (``ln -sfn``, atomically)."""
    new = link.with_name(link.name + ".new")
    new.unlink(missing_ok=True)
    new.symlink_to(target, target_is_directory=True)
    new.replace(link)


def ask(url: str, example: Example) -> dict:
    """The proxy's answer to one prompt (with its earlier turns) and the instruction used."""
    messages = [{"role": r, "content": c} for r, c in example.history]
    messages.append({"role": "user", "content": example.question})
    response = httpx.post(f"{url}/v1/chat/completions", timeout=600,
                          headers={"X-WST-Return-Instruction": "1"},
                          json={"model": "wst", "messages": messages})
    response.raise_for_status()
    return response.json()


def flags_right(url: str, examples: list[Example], rate: bool) -> list[float]:
    """Per prompt, 1 when the teacher flagged it as its kind; ``rate``: the user says so."""
    right = []
    for example in examples:
        body = ask(url, example)
        flagged = (body["wst_instruction"] or "").endswith("harmful")  # menu text, no period
        right.append(float(flagged == (example.answer == "harmful")))
        if rate:
            httpx.post(f"{url}/v1/feedback", timeout=60, json={
                "id": body["id"], "thumbs": "up" if right[-1] else "down"}).raise_for_status()
    return right


def reload_under_load(url: str, examples: list[Example]) -> dict:
    """POST /v1/teacher/reload while 16 requests are in flight: its seconds and their fates."""
    with ThreadPoolExecutor(16) as pool:
        futures = [pool.submit(ask, url, example) for example in examples[:16]]
        time.sleep(1.0)
        started = time.perf_counter()
        reload = httpx.post(f"{url}/v1/teacher/reload", timeout=600)
        seconds = time.perf_counter() - started
        failed = sum(future.exception() is not None for future in futures)
    return {"status": reload.status_code, "seconds": round(seconds, 1), "body": reload.json(),
            "in_flight": len(futures), "failed": failed}


def wait_until_up(url: str, server: subprocess.Popen) -> None:
    deadline = time.monotonic() + 600
    while True:
        try:
            httpx.get(f"{url}/health", timeout=2).raise_for_status()
            return
        except httpx.HTTPError:
            if server.poll() is not None or time.monotonic() > deadline:
                raise SystemExit("wst serve did not start")
            time.sleep(1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--steps", type=int, default=20)
    args = parser.parse_args()
    out = args.out.resolve()
    deployed, traffic, run = out / "deployed", out / "traffic", out / "run"
    config = load_run_config(Path(CONFIG), [])
    task = get_task(config.task.name, config.task)
    split = task.load(config.task)
    minutes = {}
    clock = time.perf_counter()
    wst("export", "-c", CONFIG, "--adapter", SHIPPED, "--to", str(exports / "v0"))
    point(deployed, exports / "v0")
    minutes["export"] = (time.perf_counter() - clock) / 60
    serve = [sys.executable, "-m", "wst.cli", "serve", "-c", CONFIG, "--teacher", str(deployed),
             "--student", "embedded:qwen2.5-coder-0.5b", "--set", "student.max_tokens=16",
             "--traffic-log", str(traffic), "--return-instruction-header",
             "--port", str(args.port)]
    url = f"http://127.0.0.1:{args.port}"
    server = subprocess.Popen(serve, env={**os.environ, "WST_SERVE_TOKEN": ""})
    try:
        wait_until_up(url, server)
        clock = time.perf_counter()
        rated = flags_right(url, split.train, rate=True)
        minutes["traffic"] = (time.perf_counter() - clock) / 60
        before = flags_right(url, split.validation, rate=False)
        clock = time.perf_counter()
        wst("train", "-c", CONFIG, "--from-traffic", str(traffic), "--output", str(run),
            "--steps", str(args.steps), "--set", f"teacher.model={deployed}",
            "--set", "train.questions_per_step=8",
            "--set", "train.learning_rate=1e-4", "--set", "train.traffic_judge_unrated=false")
        minutes["train"] = (time.perf_counter() - clock) / 60
        clock = time.perf_counter()
        wst("export", "--output", str(run), "--to", str(exports / "v1"))
        point(deployed, exports / "v1")
        minutes["export_again"] = (time.perf_counter() - clock) / 60
        reload = reload_under_load(url, split.validation)
        after = flags_right(url, split.validation, rate=False)
    finally:
        server.terminate()
        server.wait()
    write_summary(out, rated, before, after, reload, minutes, split.validation)


def write_summary(out: Path, rated: list[float], before: list[float], after: list[float],
                  reload: dict, minutes: dict, validation: list[Example]) -> None:
    kinds = [e.answer for e in validation]
    with (out / "picks.jsonl").open("w") as fh:
        for example, b, a in zip(validation, before, after):
            fh.write(json.dumps({"id": example.id, "kind": example.answer, "right_before": b,
                                 "right_after": a}) + "\n")

    def cell(values: list[float]) -> str:
        iv = mean_interval(values)
        by_kind = {k: 100 * sum(v for v, kk in zip(values, kinds) if kk == k)
                   / max(1, kinds.count(k)) for k in ("harmful", "benign")}
        return (f"{100 * iv.value:.1f} [{100 * iv.low:.1f}, {100 * iv.high:.1f}] | "
                f"{by_kind['harmful']:.0f} | {by_kind['benign']:.0f}")

    diff = paired_difference(after, before)
    report = json.loads((out / "run" / "traffic.json").read_text())
    lines = [
        f"Rated traffic: {len(rated)} training prompts, flag right on "
        f"{100 * sum(rated) / len(rated):.1f}% (the thumbs up share). Training: "
        f"{report['train']} labelled, {report['validation']} held back; validation reward "
        f"margin {report['validation_before']} before, {report['validation_after']} after.",
        "",
        f"Validation prompts (n = {len(validation)}, never rated or trained on): the flag "
        f"matches the kind",
        "",
        "| teacher | right % [95% CI] | harmful % | benign % |", "|---|---|---|---|",
        f"| deployed (shipped) | {cell(before)} |", f"| after the loop | {cell(after)} |",
        "",
        f"After − before: {100 * diff.value:+.1f} [{100 * diff.low:+.1f}, "
        f"{100 * diff.high:+.1f}] pp, McNemar p = {mcnemar_exact(after, before):.3f}.",
        "",
        f"Reload: HTTP {reload['status']} in {reload['seconds']} s with "
        f"{reload['in_flight']} requests in flight, {reload['failed']} failed; "
        f"{reload['body']}.",
        "",
        "Minutes: " + ", ".join(f"{k} {v:.1f}" for k, v in minutes.items()) + " (2 CPU cores).",
    ]
    (out / "summary.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
