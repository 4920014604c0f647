"""A faulty OpenAI-compatible endpoint: 429, 500, slow and garbage answers for a share of requests.

The real ``openai`` client talks to a local server; every answer must come back right or be
reported as failed, the retries counted must equal the faults injected, and nothing may hang.
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from wst.students.base import Sampling
from wst.students.openai_http import OpenAIStudent

TIMEOUT_S = 1.0


def plan(i: int) -> str:
    """The fault for request ``q{i}``: transient ones happen on the first attempt only."""
    return ["rate-limit", "server-error", "slow", "garbage", "ok"][i % 5]


class FaultyHandler(BaseHTTPRequestHandler):
    seen: dict[str, int] = {}
    lock = threading.Lock()

    def log_message(self, *args):  # keep test output clean
        pass

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        prompt = body["messages"][-1]["content"]
        with self.lock:
            attempt = self.seen[prompt] = self.seen.get(prompt, 0) + 1
        fault = plan(int(prompt[1:]))
        if fault == "rate-limit" and attempt == 1:
            return self._send(429, b'{"error": "slow down"}', {"Retry-After": "0",
                                                               "retry-after-ms": "10"})
        if fault == "server-error" and attempt == 1:
            return self._send(500, b'{"error": "boom"}', {"retry-after-ms": "10"})
        if fault == "slow" and attempt == 1:
            time.sleep(TIMEOUT_S * 3)
        if fault == "garbage":
            return self._send(200, b"<html>not json", {})
        reply = {"id": "x", "object": "chat.completion", "created": 0, "model": "m",
                 "choices": [{"index": 0, "finish_reason": "stop",
                              "message": {"role": "assistant", "content": "a" + prompt[1:]}}],
                 "usage": {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5}}
        self._send(200, json.dumps(reply).encode(), {})

    def _send(self, status: int, body: bytes, headers: dict[str, str]) -> None:
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            for key, value in headers.items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):  # the client gave up (timeout)
            pass


class Server(ThreadingHTTPServer):
    request_queue_size = 64  # the default listen backlog (5) can drop connections under load
    daemon_threads = True


@pytest.fixture
def faulty_url():
    FaultyHandler.seen = {}
    server = Server(("127.0.0.1", 0), FaultyHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    server.shutdown()


def test_forty_requests_through_faults(faulty_url):
    student = OpenAIStudent(faulty_url, "m", Sampling(max_tokens=8), parallel=8,
                            timeout_s=TIMEOUT_S, max_retries=3)
    started = time.perf_counter()
    answers = student.answer([[{"role": "user", "content": f"q{i}"}] for i in range(40)])
    assert time.perf_counter() - started < 30
    for i, answer in enumerate(answers):
        if plan(i) == "garbage":
            assert not answer.ok and answer.error
        else:
            assert answer.ok and answer.text == f"a{i}", (i, answer)
    injected = sum(plan(i) in {"rate-limit", "server-error", "slow"} for i in range(40))
    extra_attempts_seen_by_server = sum(FaultyHandler.seen.values()) - 40
    assert student.usage.retries == extra_attempts_seen_by_server
    # Every injected fault cost one retry; a loaded machine may add a rare timeout retry.
    assert injected == 24 <= student.usage.retries <= 26
    assert student.usage.failures == 8 and student.usage.calls == 40
