"""Load and at once close an ``xllamacpp.Server`` many times, a fresh process
per round of ``--cycles``, with (``wait``) and without (``nowait``) waiting for its task loop
first, as ``wst.students.llamacpp.LlamaCppStudent`` now does. Prints, per round, how many
cycles closed; a round with no close for ``--hang-s`` seconds ends in a hung close (its
process is then killed).

    .venv/bin/python benchmarks/llamacpp_close_race.py MODEL.gguf --rounds 5 --cycles 80

Why: ``xllamacpp.Server()`` returns before its thread enters llama.cpp's task loop, which
sets ``running = true`` on entry, so a stop sent in that gap is overwritten. The ``wait`` mode
does what ``LlamaCppStudent._wait_for_task_loop`` does, on the bare server (no file hash per load).
"""

from __future__ import annotations

import argparse
import os
import select
import subprocess
import sys

CYCLES = """
import sys, xllamacpp
path, cycles, wait = sys.argv[1], int(sys.argv[2]), sys.argv[3] == "wait"
for _ in range(cycles):
    p = xllamacpp.CommonParams()
    p.model.path = path
    p.n_parallel, p.n_ctx, p.verbosity, p.warmup = 1, 512, -1, False
    p.cpuparams.n_threads = p.cpuparams_batch.n_threads = 1
    p.endpoint_metrics = True
    server = xllamacpp.Server(p)
    if wait:
        server.handle_metrics()
    del server
    print("closed", flush=True)
"""


def one_round(model: str, cycles: int, mode: str, hang_s: float) -> tuple[int, bool]:
    """(cycles closed, whether the round ended in a hang: no close for ``hang_s`` seconds)."""
    proc = subprocess.Popen([sys.executable, "-c", CYCLES, model, str(cycles), mode],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    fd, closed = proc.stdout.fileno(), 0
    while closed < cycles and select.select([fd], [], [], hang_s)[0]:
        chunk = os.read(fd, 4096)  # unbuffered: a line read is a close done
        if not chunk:
            break  # the process ended (an error, not a hang)
        closed += chunk.count(b"\n")
    hung = closed < cycles and proc.poll() is None
    proc.kill()
    proc.wait()
    return closed, hung


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("model", help="a GGUF file (a small one: the cycles load it each time)")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--cycles", type=int, default=80)
    parser.add_argument("--hang-s", type=float, default=20.0)
    args = parser.parse_args()
    for mode in ("nowait", "wait"):
        total, hangs = 0, 0
        for r in range(args.rounds):
            closed, hung = one_round(args.model, args.cycles, mode, args.hang_s)
            total, hangs = total + closed + hung, hangs + hung
            print(f"{mode} round {r + 1}: {closed} closed" + (", then a close hung" if hung else ""),
                  flush=True)
        print(f"{mode}: {hangs} hangs in {total} load-and-close cycles", flush=True)


if __name__ == "__main__":
    main()
