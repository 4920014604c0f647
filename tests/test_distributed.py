"""Training with 2 CPU processes (gloo, as ``accelerate launch`` starts them on GPUs): each process rewards its
own share of the groups, the student sees each of a step's instructions once, only the main
process writes the run folder, and both processes end with the same teacher (issue 12)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

WORKER = Path(__file__).with_name("distributed_worker.py")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_two_processes_share_the_work_and_end_with_one_teacher(tmp_path, tiny_teacher):
    run_dir = tmp_path / "run"
    # torchrun starts the processes as `accelerate launch --multi_gpu` does on GPUs (it is
    # what accelerate runs underneath); on CPUs accelerate itself wants MPI.
    torchrun = Path(sys.executable).with_name("torchrun")
    env = {**os.environ, "OMP_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false",
           "PYTHONPATH": str(WORKER.parents[1])}  # the worker imports tests.conftest
    done = subprocess.run(
        [str(torchrun), "--nproc_per_node", "2", "--master_port", str(_free_port()),
         str(WORKER), str(tiny_teacher), str(run_dir)],
        capture_output=True, text=True, timeout=600, env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    ranks = [json.loads((run_dir / f"rank{r}.json").read_text()) for r in (0, 1)]
    # 2 steps x 2 questions x 4 instructions, split evenly: no instruction rewarded twice
    assert [len(r["requests"]) for r in ranks] == [8, 8]
    assert ranks[0]["weights"] and ranks[0]["weights"] == ranks[1]["weights"]
    # a budget of 20 student calls is split 10 + 10, so together they keep to it
    assert [r["max_calls"] for r in ranks] == [10, 10]
    samples = (run_dir / "train_samples.jsonl").read_text().splitlines()
    assert len(samples) == 16  # every process's samples, written once, by the main process
    steps = [json.loads(line)["step"] for line in (run_dir / "metrics.jsonl").read_text()
             .splitlines() if "reward" in line]
    assert steps == [1, 2]
    assert (run_dir / "checkpoints" / "checkpoint-2").is_dir()
