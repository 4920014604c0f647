"""Several student endpoints (issue 12): least-outstanding balancing, failover, and a vLLM-style
server behind the recipe in the README."""

from __future__ import annotations

import sqlite3
import threading
import time
from collections import Counter
from pathlib import Path

import pytest

from wst.students import make_student
from wst.students.base import Sampling
from wst.students.cache import ResponseCache
from wst.students.endpoints import EndpointPool
from wst.students.openai_http import OpenAIStudent
from wst.tasks import load_run_config

from tests.test_students import FakeOpenAI, ask, server_factory  # noqa: F401 - the fixture


class Outage(Exception):
    """What ``is_outage`` calls an endpoint failure in the pool tests."""


def pool(*names: str, backoff_s: float = 60.0) -> EndpointPool[str]:
    return EndpointPool([(name, name) for name in names],
                        lambda error: isinstance(error, Outage), backoff_s)


# --- the pool alone: endpoints are plain names ----------------------------------------------


def test_a_call_goes_to_the_endpoint_with_fewest_in_flight() -> None:
    endpoints = pool("a", "b", "c")
    release = threading.Event()
    started = threading.Barrier(3, timeout=5)
    seen: list[str] = []

    def hold(name: str) -> str:
        seen.append(name)
        started.wait()
        release.wait(5)
        return name

    threads = [threading.Thread(target=endpoints.call, args=(hold,)) for _ in range(2)]
    for thread in threads:
        thread.start()
    started.wait()  # two calls in flight, on two different endpoints ...
    assert endpoints.call(lambda name: name) not in seen  # ... so the next goes to the third
    release.set()
    for thread in threads:
        thread.join()
    assert sorted(seen) in (["a", "b"], ["a", "c"], ["b", "c"])


def test_sequential_calls_take_turns() -> None:
    endpoints = pool("a", "b", "c")
    assert [endpoints.call(lambda name: name) for _ in range(6)] == ["a", "b", "c"] * 2


def test_an_outage_moves_the_call_and_takes_the_endpoint_out_of_rotation() -> None:
    endpoints = pool("a", "b", backoff_s=0.2)

    def a_is_down(name: str) -> str:
        if name == "a":
            raise Outage("connection refused")
        return name

    assert endpoints.call(a_is_down) == "b"
    assert [endpoints.call(lambda name: name) for _ in range(3)] == ["b"] * 3
    time.sleep(0.25)  # the back-off has passed: "a" is back in rotation
    assert endpoints.call(lambda name: name) == "a"


def test_an_error_of_the_request_itself_is_not_retried_elsewhere() -> None:
    endpoints = pool("a", "b")
    tried: list[str] = []

    def bad_request(name: str) -> str:
        tried.append(name)
        raise ValueError("400: bad request")

    with pytest.raises(ValueError):
        endpoints.call(bad_request)
    assert tried == ["a"]
    assert all(e.healthy(time.monotonic()) and e.outstanding == 0 for e in endpoints.endpoints)


def test_when_every_endpoint_fails_each_is_tried_once() -> None:
    endpoints = pool("a", "b", "c")
    tried: list[str] = []

    def down(name: str) -> str:
        tried.append(name)
        raise Outage(name)

    with pytest.raises(Outage):
        endpoints.call(down)
    assert sorted(tried) == ["a", "b", "c"]
    tried.clear()
    with pytest.raises(Outage):  # all out of rotation: still tried, soonest back first
        endpoints.call(down)
    assert tried == ["a", "b", "c"]


# --- the OpenAI student over three local servers ---------------------------------------------


def student_over(servers: list[FakeOpenAI], cache: ResponseCache | None = None,
                 parallel: int = 6) -> OpenAIStudent:
    return OpenAIStudent([s.base_url for s in servers], "tiny-model", Sampling(max_tokens=8),
                         parallel=parallel, timeout_s=5, max_retries=1, cache=cache,
                         backoff_s=60)


def cached_rows(path: Path) -> list[tuple[str, str]]:
    with sqlite3.connect(path) as db:
        return db.execute("SELECT key, student FROM answers").fetchall()


@pytest.mark.parametrize("death", ["drop", "500", "close"])
def test_a_server_that_dies_mid_batch_loses_no_request(server_factory, tmp_path: Path,
                                                       death: str) -> None:
    servers = [server_factory(delay_s=0.01), server_factory(delay_s=0.01, die_after=3,
                                                           death=death),
               server_factory(delay_s=0.01)]
    cache = ResponseCache(tmp_path / "cache.sqlite")
    student = student_over(servers, cache)
    questions = [f"q{i}" for i in range(30)]
    try:
        answers = student.answer([ask(q) for q in questions])
        dead_requests = len(servers[1].requests)
        more = student.answer([ask(f"later {i}") for i in range(9)])
    finally:
        student.close()
        cache.close()
    assert all(a.ok for a in answers + more), [a.error for a in answers + more if not a.ok]
    assert [a.text for a in answers] == [f"The answer is 18. ({q})" for q in questions]
    answered = Counter(q for server in servers for q in server.answered)
    assert answered == Counter(questions + [f"later {i}" for i in range(9)])  # each once
    rows = cached_rows(tmp_path / "cache.sqlite")
    assert len(rows) == len({key for key, _ in rows}) == 39
    assert {who for _, who in rows} == {student.identity}
    # the dead server saw the requests in flight when it died (and their one retry), no more
    assert dead_requests <= 3 + 2 * 6
    assert len(servers[1].requests) == dead_requests  # out of rotation for the second batch
    assert not student.pool.endpoints[1].healthy(time.monotonic())
    assert student.usage.failures == 0 and student.usage.retries >= 1


def test_slow_servers_share_the_load(server_factory) -> None:
    servers = [server_factory(delay_s=0.05) for _ in range(3)]
    student = student_over(servers, parallel=6)
    try:
        answers = student.answer([ask(f"q{i}") for i in range(24)])
    finally:
        student.close()
    assert all(a.ok for a in answers)
    assert min(len(s.requests) for s in servers) >= 5  # 8 each when timing is even


def test_identity_is_the_same_whichever_endpoint_is_up(server_factory) -> None:
    """The cache key names the first URL configured and what the first reachable endpoint
    reports, never the endpoint that answers."""
    servers = [server_factory() for _ in range(2)]
    for server in servers:
        server.models = vllm_models("tiny-model")
    urls = [s.base_url for s in servers]
    both = OpenAIStudent(urls, "tiny-model", Sampling(max_tokens=4), max_retries=0)
    both.close()
    servers[0].close()
    second_only = OpenAIStudent(urls, "tiny-model", Sampling(max_tokens=4), max_retries=0)
    second_only.close()
    assert both.identity == second_only.identity
    assert both.identity.startswith(f"openai:{urls[0]}:tiny-model:")


# --- the vLLM recipe of the README, against a server speaking vLLM's API ---------------------


def vllm_models(model: str) -> list[dict]:
    """What ``vllm serve MODEL`` lists at ``GET /v1/models``."""
    return [{"id": model, "object": "model", "created": int(time.time()), "owned_by": "vllm",
             "root": model, "parent": None, "max_model_len": 32768,
             "permission": [{"id": "modelperm-1", "object": "model_permission",
                             "allow_sampling": True, "allow_logprobs": True}]}]


MODEL = "Qwen/Qwen2.5-7B-Instruct"


@pytest.mark.parametrize("several", [False, True])
def test_the_vllm_recipe(server_factory, tmp_path: Path, monkeypatch, several: bool) -> None:
    """``wst train --backend openai --base-url URL --student MODEL`` (or a list of URLs)
    builds a student that answers through the vLLM servers."""
    monkeypatch.setenv("WST_CACHE_DIR", str(tmp_path))
    servers = [server_factory() for _ in range(2 if several else 1)]
    for server in servers:
        server.models = vllm_models(MODEL)
    urls = [s.base_url for s in servers]
    base_url = '["' + '","'.join(urls) + '"]' if several else urls[0]
    config = load_run_config(None, ["student.backend=openai", f"student.base_url={base_url}",
                                    f"student.model={MODEL}"])
    assert config.student.base_url == (urls if several else urls[0])
    student = make_student(config.student)
    try:
        answers = student.answer([ask(f"q{i}") for i in range(8)])
    finally:
        student.close()
        student.cache.close()
    assert all(a.ok and a.completion_tokens == 7 for a in answers)
    assert student.identity.startswith(f"openai:{urls[0]}:{MODEL}:")  # vLLM's root is hashed
    assert student.parallel == 8 * len(urls)
    for server in servers:
        assert server.requests and {r["model"] for r in server.requests} == {MODEL}
        assert {r["path"] for r in server.requests} == {"/v1/chat/completions"}
