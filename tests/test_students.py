"""The Student interface (ordering, concurrency, cache, failures) and the OpenAI backend."""

from __future__ import annotations

import json
import math
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from wst.students import Answer, ResponseCache, Sampling, Student, StudentError
from wst.students.openai_http import OpenAIStudent


def ask(text: str) -> list[dict[str, str]]:
    return [{"role": "user", "content": text}]


class EchoStudent(Student):
    """Answers ``echo: <question>``; raises for questions containing ``fail``."""

    def __init__(self, cache: ResponseCache | None = None, parallel: int = 4,
                 barrier: threading.Barrier | None = None):
        super().__init__(Sampling(max_tokens=16), parallel, cache)
        self.calls = 0
        self.in_flight = 0
        self.max_in_flight = 0
        self.barrier = barrier
        self._lock = threading.Lock()

    @property
    def identity(self) -> str:
        return "echo:test"

    def _answer_one(self, messages, sampling) -> Answer:
        with self._lock:
            self.calls += 1
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            if self.barrier is not None:
                self.barrier.wait()  # every worker must be in flight at once to pass
            question = messages[-1]["content"]
            if "fail" in question:
                raise RuntimeError(f"backend refused {question!r}")
            time.sleep(0.001 * (hash(question) % 5))  # finish out of order
            return Answer(text=f"echo: {question}", completion_tokens=len(question))
        finally:
            with self._lock:
                self.in_flight -= 1


@pytest.fixture
def cache(tmp_path: Path):
    cache = ResponseCache(tmp_path / "cache.sqlite")
    yield cache
    cache.close()


def test_answers_come_back_in_order() -> None:
    student = EchoStudent(parallel=4)
    questions = [f"q{i}" for i in range(20)]
    answers = student.answer([ask(q) for q in questions])
    assert [a.text for a in answers] == [f"echo: {q}" for q in questions]
    assert all(a.ok and not a.cached for a in answers)
    assert student.usage.calls == 20
    assert student.usage.completion_tokens == sum(len(q) for q in questions)


def test_requests_run_concurrently() -> None:
    student = EchoStudent(parallel=4, barrier=threading.Barrier(4, timeout=5))
    answers = student.answer([ask(f"q{i}") for i in range(8)])
    assert all(a.ok for a in answers), [a.error for a in answers]
    assert student.max_in_flight == 4


def test_parallel_caps_requests_in_flight() -> None:
    student = EchoStudent(parallel=2)
    student.answer([ask(f"q{i}") for i in range(10)])
    assert student.max_in_flight <= 2


def test_empty_batch_gives_no_answers() -> None:
    student = EchoStudent()
    assert student.answer([]) == []
    assert student.calls == 0


def test_cache_serves_identical_deterministic_requests(cache) -> None:
    student = EchoStudent(cache=cache)
    batch = [ask("a"), ask("b")]
    first = student.answer(batch)
    second = student.answer(batch)
    assert student.calls == 2
    assert [a.text for a in second] == [a.text for a in first]
    assert all(a.cached for a in second) and not any(a.cached for a in first)
    assert student.usage.cache_hits == 2
    assert student.usage.completion_tokens == 2  # cached answers are not counted twice


def test_a_request_repeated_in_one_batch_is_answered_once_when_answers_repeat() -> None:
    """A teacher that samples the same instruction twice for a question sends the student the
    same request twice in one step; a greedy or seeded answer is computed once (even with no
    cache), an unseeded sample every time."""
    student = EchoStudent()
    answers = student.answer([ask("a"), ask("b"), ask("a"), ask("a")])
    assert student.calls == 2
    assert [a.text for a in answers] == ["echo: a", "echo: b", "echo: a", "echo: a"]
    assert [a.cached for a in answers] == [False, False, True, True]
    assert student.usage.calls == 2 and student.usage.cache_hits == 2
    hot = Sampling(max_tokens=16, temperature=0.7, seed=None)
    student.answer([ask("a"), ask("a")], hot)
    assert student.calls == 4


def test_cache_persists_across_students(tmp_path: Path) -> None:
    path = tmp_path / "cache.sqlite"
    EchoStudent(cache=ResponseCache(path)).answer([ask("a")])
    later = EchoStudent(cache=ResponseCache(path))
    assert later.answer([ask("a")])[0].cached
    assert later.calls == 0


def test_cache_key_includes_sampling(cache) -> None:
    student = EchoStudent(cache=cache)
    student.answer([ask("a")])
    student.answer([ask("a")], Sampling(max_tokens=99))
    assert student.calls == 2


def test_unseeded_samples_are_not_cached(cache) -> None:
    student = EchoStudent(cache=cache)
    hot = Sampling(max_tokens=16, temperature=0.7, seed=None)
    student.answer([ask("a")], hot)
    again = student.answer([ask("a")], hot)
    assert student.calls == 2
    assert not again[0].cached


def test_seeded_samples_are_cached(cache) -> None:
    student = EchoStudent(cache=cache)
    seeded = Sampling(max_tokens=16, temperature=0.7, seed=5)
    student.answer([ask("a")], seeded)
    assert student.answer([ask("a")], seeded)[0].cached and student.calls == 1


def test_unseeded_samples_are_cached_when_asked(cache) -> None:
    student = EchoStudent(cache=cache)
    student.cache_sampled = True
    hot = Sampling(max_tokens=16, temperature=0.7, seed=None)
    student.answer([ask("a")], hot)
    assert student.answer([ask("a")], hot)[0].cached and student.calls == 1


def test_failed_requests_become_failed_answers(cache) -> None:
    student = EchoStudent(cache=cache)
    answers = student.answer([ask("a"), ask("please fail"), ask("b"), ask("fail too")])
    assert [a.ok for a in answers] == [True, False, True, False]
    assert answers[1].text == "" and "backend refused 'please fail'" in answers[1].error
    assert "RuntimeError" in answers[3].error
    assert student.usage.failures == 2
    student.answer([ask("please fail"), ask("c")])  # failures are not cached
    assert student.calls == 6


def test_one_failure_beside_cached_answers_is_a_failed_answer(cache) -> None:
    student = EchoStudent(cache=cache)
    student.answer([ask("a")])
    answers = student.answer([ask("a"), ask("please fail")])
    assert answers[0].cached and not answers[1].ok


def test_batch_where_everything_fails_raises_with_identity() -> None:
    student = EchoStudent()
    with pytest.raises(StudentError, match="echo:test") as info:
        student.answer([ask("fail 1"), ask("fail 2")])
    assert "all 2 requests failed" in str(info.value)


# --- the OpenAI backend against a local HTTP server ------------------------------------------


class FakeOpenAI:
    """A tiny OpenAI-compatible server: ``statuses`` are answered in turn, then 200s;
    a question containing ``always_500`` always gets a 500. Each answer takes ``delay_s``.
    After ``die_after`` requests it dies as ``death`` says: ``drop`` closes each connection
    without an answer (a crashed process), ``500`` answers every request with a 500, ``close``
    shuts the server down (connections are refused)."""

    def __init__(self, statuses: list[int] | None = None, always_500: str | None = None,
                 delay_s: float = 0.0, die_after: int | None = None, death: str = "drop"):
        self.statuses = list(statuses or [])
        self.always_500 = always_500
        self.delay_s = delay_s
        self.die_after = die_after
        self.death = death
        self.requests: list[dict] = []
        self.answered: list[str] = []  # the questions answered with a 200
        self.auth: list[str | None] = []
        self.models: list[dict] | None = None  # what GET /v1/models lists; None: 404
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                found = self.path == "/v1/models" and server.models is not None
                data = json.dumps({"object": "list", "data": server.models} if found
                                  else {"error": {"message": "not found"}}).encode()
                self.send_response(200 if found else 404)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                chat = "messages" in body
                question = body["messages"][-1]["content"] if chat else body["prompt"]
                with server._lock:
                    server.requests.append({"path": self.path, **body})
                    server.auth.append(self.headers.get("Authorization"))
                    status = server.statuses.pop(0) if server.statuses else 200
                    dead = server.die_after is not None and len(server.requests) > server.die_after
                time.sleep(server.delay_s)
                if server.always_500 and server.always_500 in question:
                    status = 500
                if dead and server.death == "close":
                    threading.Thread(target=server.close).start()
                if dead and server.death != "500":
                    self.close_connection = True  # no answer at all
                    return
                if dead:
                    status = 500
                if status == 200:
                    with server._lock:
                        server.answered.append(question)
                    text = f"The answer is 18. ({question})"
                    choice = ({"message": {"role": "assistant", "content": text}} if chat
                              else {"text": text})
                    if body.get("logprobs") and chat:  # OpenAI's shape, first token only
                        top = [{"token": t, "logprob": lp, "bytes": None}
                               for t, lp in (("The", -0.1), (" A", -2.5))]
                        choice["logprobs"] = {"content": [
                            {"token": "The", "logprob": -0.1, "bytes": None,
                             "top_logprobs": top[: body["top_logprobs"]]}]}
                    payload = {
                        "id": "cmpl-test", "object": "chat.completion" if chat else "text_completion",
                        "created": 1_700_000_000, "model": body["model"],
                        "choices": [{"index": 0, "finish_reason": "stop", **choice}],
                        "usage": {"prompt_tokens": 5, "completion_tokens": 7, "total_tokens": 12},
                    }
                else:
                    payload = {"error": {"message": f"status {status}", "type": "test"}}
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                if status != 200:
                    self.send_header("Retry-After", "0")
                    self.send_header("retry-after-ms", "5")  # keeps the client's backoff short
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever,
                                       kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()
        self.base_url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server_factory(monkeypatch):
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy",
                 "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    servers: list[FakeOpenAI] = []

    def make(statuses: list[int] | None = None, always_500: str | None = None,
             **options) -> FakeOpenAI:
        servers.append(FakeOpenAI(statuses, always_500, **options))
        return servers[-1]

    yield make
    for server in servers:
        server.close()


SECRET = "sk-test-secret-value-1234"


def openai_student(server: FakeOpenAI, monkeypatch, **kwargs) -> OpenAIStudent:
    monkeypatch.setenv("WST_TEST_API_KEY", SECRET)
    options = {"api_key_env": "WST_TEST_API_KEY", "parallel": 2, "timeout_s": 10,
               "max_retries": 0, **kwargs}
    return OpenAIStudent(server.base_url, "tiny-model", Sampling(max_tokens=32, seed=3),
                         **options)


def test_openai_answer_arrives(server_factory, monkeypatch) -> None:
    server = server_factory()
    student = openai_student(server, monkeypatch)
    try:
        answers = student.answer([ask("two plus two?"), ask("three?")])
    finally:
        student.close()
    assert [a.text for a in answers] == ["The answer is 18. (two plus two?)",
                                         "The answer is 18. (three?)"]
    assert all(a.ok and a.completion_tokens == 7 for a in answers)
    request = server.requests[0]
    assert request["path"] == "/v1/chat/completions"
    assert request["model"] == "tiny-model"
    assert (request["max_tokens"], request["temperature"], request["seed"]) == (32, 0.0, 3)
    assert server.auth[0] == f"Bearer {SECRET}"  # the key is sent ...


def test_openai_plain_prompt_uses_the_completions_endpoint(server_factory, monkeypatch) -> None:
    server = server_factory()
    student = openai_student(server, monkeypatch)
    try:
        [answer] = student.answer(["Q: two plus two?\nA:"])
    finally:
        student.close()
    assert answer.ok and answer.text == "The answer is 18. (Q: two plus two?\nA:)"
    assert server.requests[0]["path"] == "/v1/completions"
    assert answer.prompt_tokens == 5


def test_openai_first_token_probabilities_when_asked(server_factory, monkeypatch) -> None:
    server = server_factory()
    student = openai_student(server, monkeypatch)
    try:
        [plain] = student.answer([ask("q?")])
        [judged] = student.answer([ask("q?")], Sampling(max_tokens=2, top_logprobs=2))
    finally:
        student.close()
    assert plain.first_token_probs is None and "logprobs" not in server.requests[0]
    assert (server.requests[1]["logprobs"], server.requests[1]["top_logprobs"]) == (True, 2)
    assert judged.first_token_probs == pytest.approx({"The": math.exp(-0.1), " A": math.exp(-2.5)})


def test_openai_identity_never_holds_the_key(server_factory, monkeypatch) -> None:
    server = server_factory()
    student = openai_student(server, monkeypatch)
    student.close()
    assert SECRET not in student.identity  # ... but never part of the identity (cache keys)
    assert student.identity == f"openai:{server.base_url}:tiny-model"


def test_openai_retries_429_then_succeeds(server_factory, monkeypatch) -> None:
    server = server_factory([429, 429])
    student = openai_student(server, monkeypatch, max_retries=3)
    try:
        answers = student.answer([ask("q")])
    finally:
        student.close()
    assert answers[0].ok and answers[0].text.startswith("The answer is 18.")
    assert len(server.requests) == 3


def test_openai_server_error_gives_failed_answer(server_factory, monkeypatch) -> None:
    server = server_factory(always_500="broken")
    student = openai_student(server, monkeypatch, max_retries=1)
    try:
        answers = student.answer([ask("fine"), ask("broken question")])
    finally:
        student.close()
    assert answers[0].ok
    assert not answers[1].ok and answers[1].text == "" and "500" in answers[1].error
    assert student.usage.failures == 1
    broken = [r for r in server.requests if "broken" in r["messages"][-1]["content"]]
    assert len(broken) == 2  # the first try and one retry


def test_openai_always_500_one_request_raises(server_factory, monkeypatch) -> None:
    server = server_factory(always_500="q")
    student = openai_student(server, monkeypatch, max_retries=1)
    try:
        with pytest.raises(StudentError) as info:
            student.answer([ask("q")])
    finally:
        student.close()
    assert "openai:" in str(info.value)
    assert SECRET not in str(info.value)
    assert len(server.requests) == 2  # the first try and one retry
