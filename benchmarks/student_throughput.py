"""Student engine throughput on the embedded 0.5B student, measured side by side in one run.

    .venv/bin/python benchmarks/student_throughput.py [--n 32] [--max-tokens 96] [--parallel 4]

(a) one request at a time, (b) the engine (concurrent requests over llama.cpp slots), (c) the
same prompts again, served by the on-disk cache. Prints aggregate tokens/s and the ratios;
targets on 2 cores: (b)/(a) >= 1.5, (c) >= 50x faster than (a).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from wst.assets import resolve_model_path
from wst.config import TaskConfig
from wst.students import ResponseCache, Sampling
from wst.students.llamacpp import LlamaCppStudent
from wst.tasks import get_task


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=32, help="prompts (GSM8K questions)")
    parser.add_argument("--max-tokens", type=int, default=96, help="answer tokens per prompt")
    parser.add_argument("--parallel", type=int, default=4, help="llama.cpp slots for (b)")
    args = parser.parse_args()

    task = get_task("gsm8k")
    questions = [e.question for e in task.load(TaskConfig(test_size=0, train_size=args.n)).train]
    batch = [[{"role": "user", "content": q}] for q in questions[: args.n]]
    sampling = Sampling(max_tokens=args.max_tokens, temperature=0.0, seed=0)
    with tempfile.TemporaryDirectory() as tmp:
        cache = ResponseCache(Path(tmp) / "bench.sqlite")
        student = LlamaCppStudent(resolve_model_path("embedded:qwen2.5-coder-0.5b"), sampling,
                                  parallel=args.parallel, cache=cache)
        student.answer(batch[:1])  # warm-up (and the only prompt cached before (b))

        started = time.perf_counter()
        sequential = [student._answer_one(m, sampling) for m in batch]
        seq_s = time.perf_counter() - started
        seq_tokens = sum(a.completion_tokens for a in sequential)

        cache.clear()
        started = time.perf_counter()
        engine = student.answer(batch)
        eng_s = time.perf_counter() - started
        eng_tokens = sum(a.completion_tokens for a in engine)

        started = time.perf_counter()
        cached = student.answer(batch)
        cache_s = time.perf_counter() - started
        student.close()

    assert all(a.cached for a in cached), "the second pass must come from the cache"
    same = sum(a.text == b.text for a, b in zip(sequential, engine))
    print(f"prompts {len(batch)}, max tokens {args.max_tokens}, slots {args.parallel}")
    print(f"(a) sequential : {seq_tokens:6d} tokens in {seq_s:7.1f} s = {seq_tokens / seq_s:6.1f} tok/s")
    print(f"(b) engine     : {eng_tokens:6d} tokens in {eng_s:7.1f} s = {eng_tokens / eng_s:6.1f} tok/s")
    print(f"(c) cached     : {len(cached):6d} answers in {cache_s:7.3f} s")
    print(f"ratio (b)/(a) tokens/s: {(eng_tokens / eng_s) / (seq_tokens / seq_s):.2f}x")
    print(f"cached pass vs (a) time: {seq_s / cache_s:.0f}x faster")
    print(f"identical answers (a) vs (b): {same}/{len(batch)}")


if __name__ == "__main__":
    main()
