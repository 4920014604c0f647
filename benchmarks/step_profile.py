"""Where one GRPO step's time goes on the embedded stack, next to what the hardware allows.

    .venv/bin/python benchmarks/step_profile.py [--steps 2] [--questions 2] [--generations 8]

Runs ``--steps`` real steps of ``wst.train.train_teacher`` (SmolLM2-135M teacher, LoRA;
0.5B llama.cpp student, greedy, cache off so every answer is computed) and prints, per phase,
the measured seconds of the last step next to a floor measured in the same run:

* teacher generation and update: FLOPs of the work (2 x params x tokens for generation,
  about 4 x params x tokens for a LoRA forward + backward) over the fp32 matmul rate of this
  machine, measured here with torch;
* student: the step's answer tokens over the engine's own aggregate tokens/s, measured here
  on the same requests right after the step (as ``benchmarks/student_throughput.py`` does).

The ratios are what to read: absolute seconds on a shared 2-core machine are noise.
Targets (issue 9) for 2 questions x 8 instructions: teacher generation + update under 40 s;
student within 15% of the engine (ratio <= 1.15).
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import torch

from wst.students import make_student
from wst.tasks import get_task, load_run_config
from wst.train import reward_sampling, train_teacher


def matmul_gflops(size: int = 1024, repeats: int = 8) -> float:
    """fp32 matmul throughput of this machine with torch's threads (the roofline we compare to)."""
    a, b = torch.randn(size, size), torch.randn(size, size)
    a @ b  # warm-up
    started = time.perf_counter()
    for _ in range(repeats):
        a @ b
    return 2 * size ** 3 * repeats / (time.perf_counter() - started) / 1e9


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=2)
    parser.add_argument("--questions", type=int, default=2)
    parser.add_argument("--generations", type=int, default=8)
    parser.add_argument("--set", action="append", default=[], help="config override")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        run_dir = Path(tmp) / "run"
        config = load_run_config(None, [
            f"output_dir={run_dir}", f"train.max_steps={args.steps}",
            f"train.questions_per_step={args.questions}",
            f"train.num_generations={args.generations}", "train.save_steps=1000",
            "student.cache=false", "task.train_size=64", *args.set])
        task = get_task(config.task.name, config.task)
        split = task.load(config.task)
        student = make_student(config.student)
        train_teacher(config, split, task, student)
        metrics = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
        samples = [json.loads(line) for line in
                   (run_dir / "train_samples.jsonl").read_text().splitlines()]
        last = [m for m in metrics if "reward" in m][-1]
        last_samples = [s for s in samples if s["step"] == samples[-1]["step"]]
        # The engine's own rate on the same requests, measured now (cache is off).
        by_id = {e.id: e for e in split.train}
        requests = [task.student_messages(by_id[s["id"]], s["instruction"],
                                          config.student.instruction_placement)
                    for s in last_samples]
        started = time.perf_counter()
        answers = student.answer(requests, reward_sampling(student, config))
        engine_s = time.perf_counter() - started
        student.close()
    engine_tokens = sum(a.completion_tokens for a in answers)
    gflops = matmul_gflops()
    params = 134.5e6
    generated = last["completions/mean_length"] * len(last_samples)
    teacher_floor = 2 * params * generated / (gflops * 1e9)
    # Prompt + completion tokens the update runs forward and backward through.
    prompt_tokens = last.get("num_tokens", 0) / max(1, last["step"])
    update_floor = 4 * params * prompt_tokens / (gflops * 1e9)
    student_floor = engine_s
    rows = [
        ("teacher generation", last["time/teacher_generation_s"], teacher_floor),
        ("student", last["time/student_s"], student_floor),
        ("update", last["time/update_s"], update_floor),
    ]
    print(f"step {last['step']}: {args.questions} questions x {args.generations} instructions; "
          f"fp32 matmul {gflops:.0f} GFLOP/s; {generated:.0f} instruction tokens; "
          f"{engine_tokens} student answer tokens")
    print(f"{'phase':20} {'measured s':>10} {'floor s':>8} {'ratio':>6}")
    for name, measured, floor in rows:
        print(f"{name:20} {measured:10.1f} {floor:8.1f} {measured / floor:6.2f}")
    teacher_total = last["time/teacher_generation_s"] + last["time/update_s"]
    print(f"teacher generation + update: {teacher_total:.1f} s (target < 40 s); "
          f"student / engine: {last['time/student_s'] / engine_s:.2f} (target <= 1.15)")


if __name__ == "__main__":
    main()
