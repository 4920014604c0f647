"""Bounded load test of `wst serve`: N chat requests at a fixed concurrency, openai client.

    .venv/bin/python benchmarks/serve_load.py URL [--requests 200] [--concurrency 8]
    .venv/bin/python benchmarks/serve_load.py --fake [--teacher DIR]   # in-process, no real models
    .venv/bin/python benchmarks/serve_load.py --fake --mix             # hostile traffic mixed in

Against a running ``wst serve`` at URL (e.g. http://127.0.0.1:8000; the token comes from
$WST_SERVE_TOKEN when set), or with ``--fake`` an in-process server: the teacher folder DIR
(default: a tiny random 2-layer Llama built here) and a fake student that answers after
``--fake-student-ms``; it requires a bearer token (``$WST_SERVE_TOKEN``, or a random one set
there). Every request asks a different question, so the student's answer cache does not
serve repeats. Prints throughput, client p50/p95 latency, errors, and the share of server
time spent waiting for the teacher and the student (from the ``/metrics`` sums, taken before
and after).

``--mix`` sends the N requests as an even, shuffled mix of valid chat requests, malformed
JSON, bodies over ``--max-body-bytes``, more than ``--max-messages`` messages, requests
without or with a wrong bearer token, and unknown paths, and prints one line: how many
crashed (a 5xx other than the student's documented 502/503, or a connection error), how many
got a status other than the expected one (200, 400, 413, 400, 401, 404), and whether every
valid request was answered (200 with content). Give the server's limits when they are not
the defaults.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import secrets
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from pathlib import Path

import httpx
import openai

from wst.config import ServeConfig
from wst.serve import parse_metrics

QUESTION = ("A baker makes {a} loaves in the morning and {b} in the afternoon, then sells {c}. "
            "How many loaves are left?")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("url", nargs="?", help="base URL of a running `wst serve`")
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--max-tokens", type=int, default=None,
                        help="student answer cap per request (default: the server's)")
    parser.add_argument("--fake", action="store_true",
                        help="serve in-process: tiny teacher + fake student")
    parser.add_argument("--teacher", help="teacher folder for --fake (default: tiny random)")
    parser.add_argument("--fake-student-ms", type=float, default=20.0)
    parser.add_argument("--teacher-batch", type=int, default=8,
                        help="serve.teacher_batch of the --fake server")
    parser.add_argument("--torch-threads", type=int, default=0,
                        help="torch threads of the --fake teacher (0 = torch's default; 1 is "
                             "far faster when another job keeps the cores busy)")
    parser.add_argument("--mix", action="store_true",
                        help="mix malformed, oversized, unauthenticated and unknown-path "
                             "requests with valid ones; report crashes")
    parser.add_argument("--max-body-bytes", type=int, default=ServeConfig().max_body_bytes,
                        help="the server's serve.max_body_bytes (--mix sends bodies over it)")
    parser.add_argument("--max-messages", type=int, default=ServeConfig().max_messages,
                        help="the server's serve.max_messages (--mix sends more messages)")
    args = parser.parse_args()
    if bool(args.url) == args.fake:
        parser.error("give a URL or --fake (not both)")

    with ExitStack() as stack:
        if args.fake:
            scratch = Path(stack.enter_context(tempfile.TemporaryDirectory()))
            url = stack.enter_context(_fake_server(args, scratch))
        else:
            url = args.url.rstrip("/")
        token = os.environ.get("WST_SERVE_TOKEN") or None
        (_mix if args.mix else _load)(url, token, args)


def _load(url: str, token: str | None, args: argparse.Namespace) -> None:
    """N valid chat requests through the openai client; throughput, latency, time shares."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    client = openai.OpenAI(base_url=f"{url}/v1", api_key=token or "none", max_retries=0,
                           timeout=600)
    model = client.models.list().data[0].id
    before = parse_metrics(httpx.get(f"{url}/metrics", headers=headers).text)

    def one(i: int) -> tuple[float, bool, int | None]:
        """Seconds, success and answer tokens (None when the server reports no usage) of one
        request."""
        question = QUESTION.format(a=12 + i, b=7 + i % 13, c=5 + i % 11)
        started = time.perf_counter()
        try:
            response = client.chat.completions.create(
                model=model, messages=[{"role": "user", "content": question}],
                **({"max_tokens": args.max_tokens} if args.max_tokens else {}))
            ok, tokens = True, response.usage.completion_tokens if response.usage else None
        except openai.OpenAIError as exc:
            print(f"request {i}: {type(exc).__name__}: {exc}", file=sys.stderr)
            ok, tokens = False, None
        return time.perf_counter() - started, ok, tokens

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=args.concurrency) as pool:
        results = list(pool.map(one, range(args.requests)))
    wall = time.perf_counter() - started
    after = parse_metrics(httpx.get(f"{url}/metrics", headers=headers).text)

    latencies = sorted(seconds for seconds, _, _ in results)
    errors = sum(not ok for _, ok, _ in results)
    answered = [tokens for _, _, tokens in results if tokens is not None]
    delta = {k: after.get(k, 0.0) - before.get(k, 0.0) for k in after}
    server_s = delta.get("wst_chat_request_seconds_sum", 0.0)
    failures = sum(v for k, v in delta.items() if k.startswith("wst_teacher_failures_total"))
    print(f"requests {args.requests}, concurrency {args.concurrency}, errors {errors}, "
          f"teacher failures {failures:.0f}")
    print(f"throughput {args.requests / wall:.2f} req/s  ({wall:.1f} s)")
    p50, p95 = _pct(latencies, 50) * 1000, _pct(latencies, 95) * 1000
    print(f"latency p50 {p50:.0f} ms  p95 {p95:.0f} ms  "
          f"mean {statistics.fmean(latencies) * 1000:.0f} ms")
    if answered:
        print(f"answer tokens mean {statistics.fmean(answered):.0f}"
              + (f" (cap {args.max_tokens})" if args.max_tokens else ""))
    if server_s > 0:
        for part in ("teacher", "student"):
            share = delta.get(f"wst_{part}_seconds_sum", 0.0) / server_s
            print(f"{part} share of server latency {share:.0%}")


MIX = {"valid": 200, "malformed": 400, "oversized": 413, "too_many_messages": 400,
       "unauthenticated": 401, "unknown_path": 404}
"""The kinds of request ``--mix`` sends, with the status each should get."""
STUDENT_ERRORS = (502, 503)
"""Documented answers when the student fails or its budget is spent: not crashes."""
MALFORMED = (b'{"messages": [{"role": "user", "content": "2+2?"', b"\xff\xfe{}", b"{'a': 1}",
             b"", b"[1, 2]", b'{"messages": "hi"}')


def _mix(url: str, token: str | None, args: argparse.Namespace) -> None:
    """N requests, an even shuffled mix of MIX's kinds; one line: crashes, unexpected
    statuses, whether every valid request got an answer."""
    kinds = [list(MIX)[i % len(MIX)] for i in range(args.requests)]
    random.Random(0).shuffle(kinds)
    expected = dict(MIX, unauthenticated=401 if token else 200)
    if not token:
        print("no $WST_SERVE_TOKEN: the server checks none, so unauthenticated requests are "
              "ordinary ones", file=sys.stderr)
    with httpx.Client(base_url=url, timeout=600) as http, \
            ThreadPoolExecutor(max_workers=args.concurrency) as pool:
        outcomes = list(pool.map(lambda job: _send(http, *job, token, args), enumerate(kinds)))
    crashes = sum(status is None or (status >= 500 and status not in STUDENT_ERRORS)
                  for _, status, _ in outcomes)
    unexpected = sum(status != expected[kind] for kind, status, _ in outcomes)
    answered = [ok for kind, _, ok in outcomes if kind == "valid"]
    print(f"mix {len(outcomes)} requests ({len(answered)} valid), concurrency "
          f"{args.concurrency}: crashes {crashes}, unexpected statuses {unexpected}, every "
          f"valid request answered: {'yes' if all(answered) else 'NO'} "
          f"({sum(answered)}/{len(answered)})")


def _send(http: httpx.Client, i: int, kind: str, token: str | None,
          args: argparse.Namespace) -> tuple[str, int | None, bool]:
    """(kind, status or None on a connection error, answered: 200 with content)."""
    method, path, body, headers = _mixed_request(i, kind, token, args)
    try:
        response = http.request(method, path, content=body, headers=headers)
    except httpx.TransportError as exc:
        print(f"request {i} ({kind}): {type(exc).__name__}: {exc}", file=sys.stderr)
        return kind, None, False
    if response.status_code >= 500:
        print(f"request {i} ({kind}): {response.status_code} {response.text[:200]}",
              file=sys.stderr)
    return kind, response.status_code, _has_content(response)


def _mixed_request(i: int, kind: str, token: str | None,
                   args: argparse.Namespace) -> tuple[str, str, bytes, dict[str, str]]:
    """(method, path, body, headers) of the ``i``-th request, of kind ``kind``."""
    question = QUESTION.format(a=12 + i, b=7 + i % 13, c=5 + i % 11)
    chat: dict = {"model": "wst", "messages": [{"role": "user", "content": question}]}
    if args.max_tokens:
        chat["max_tokens"] = args.max_tokens
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    if kind == "oversized":
        chat["messages"][0]["content"] += " " + "x" * args.max_body_bytes
    elif kind == "too_many_messages":
        chat["messages"] *= args.max_messages + 1
    elif kind == "unauthenticated" and i % 2:
        headers.pop("Authorization", None)
    elif kind == "unauthenticated":
        headers["Authorization"] = f"Bearer wrong-{secrets.token_hex(4)}"
    elif kind == "malformed":
        return "POST", "/v1/chat/completions", MALFORMED[i % len(MALFORMED)], headers
    elif kind == "unknown_path":
        method, path = [("GET", "/"), ("POST", "/v1/"), ("GET", "/v1/models/")][i % 3]
        return method, path + secrets.token_hex(8), b"", headers
    return "POST", "/v1/chat/completions", json.dumps(chat).encode(), headers


def _has_content(response: httpx.Response) -> bool:
    try:
        return response.status_code == 200 and bool(
            response.json()["choices"][0]["message"]["content"])
    except (ValueError, KeyError, IndexError, TypeError):
        return False


def _pct(sorted_values: list[float], pct: float) -> float:
    index = min(len(sorted_values) - 1, max(0, round(pct / 100 * len(sorted_values)) - 1))
    return sorted_values[index]


def _fake_server(args: argparse.Namespace, scratch: Path):
    """An in-process `wst serve` (a context manager yielding its URL) that requires the bearer
    token in $WST_SERVE_TOKEN (set to a random one when empty)."""
    from wst.serve import BackgroundServer, create_app
    from wst.students.base import Answer, Sampling, Student
    from wst.teacher import TeacherInstructor

    class FakeStudent(Student):
        identity = "fake:bench"

        def _answer_one(self, messages, sampling):
            time.sleep(args.fake_student_ms / 1000)
            return Answer(text="The answer is \\boxed{7}.", completion_tokens=8, prompt_tokens=40)

    if args.torch_threads:
        import torch

        torch.set_num_threads(args.torch_threads)
    folder = args.teacher or _tiny_teacher(scratch)
    teacher = TeacherInstructor(str(folder), max_instruction_tokens=16)
    student = FakeStudent(Sampling(max_tokens=64), parallel=args.concurrency)
    if not os.environ.get("WST_SERVE_TOKEN"):
        os.environ["WST_SERVE_TOKEN"] = secrets.token_urlsafe(16)
    settings = ServeConfig(port=0, placement="prefix", teacher_batch=args.teacher_batch,
                           max_body_bytes=args.max_body_bytes, max_messages=args.max_messages)
    app = create_app(teacher, student, settings)
    return BackgroundServer(app)


def _tiny_teacher(folder: Path) -> Path:
    """A 2-layer random Llama with a byte-level chat tokenizer (the tests' tiny teacher)."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from tests.conftest import _byte_level_tokenizer

    torch.manual_seed(0)
    tokenizer = _byte_level_tokenizer()
    config = LlamaConfig(vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64,
                         num_hidden_layers=2, num_attention_heads=2, num_key_value_heads=1,
                         eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id,
                         bos_token_id=tokenizer.bos_token_id)
    LlamaForCausalLM(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


if __name__ == "__main__":
    main()
