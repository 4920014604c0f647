"""`wst serve` driven by the official openai client over real HTTP (uvicorn on a free port),
and `wst export` (a merged LoRA teacher that writes the adapter's instructions)."""

from __future__ import annotations

import json
import queue
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from urllib.parse import unquote

import httpx
import openai
import pytest
from prometheus_client.parser import text_string_to_metric_families
from typer.testing import CliRunner

from tests.test_students import FakeOpenAI
from wst.config import ServeConfig
from wst.serve import (BackgroundServer, ServeError, TeacherBusy, TeacherQueue, create_app,
                       parse_metrics)
from wst.students.base import Answer, Sampling, Student

TOKEN = "serve-test-token-5678"
ANSWER = "Let us add them: 3 + 4 = 7. The answer is \\boxed{7}."


class FakeTeacher:
    """Writes ``text`` (``Mind the units.``); or raises, or sleeps past the server's timeout."""

    def __init__(self, fail: bool = False, sleep_s: float = 0.0, text: str = "Mind the units."):
        self.fail, self.sleep_s, self.text = fail, sleep_s, text
        self.questions: list[str] = []

    def instruct(self, question: str) -> str:
        self.questions.append(question)
        if self.sleep_s:
            time.sleep(self.sleep_s)
        if self.fail:
            raise RuntimeError("teacher exploded")
        return self.text


class RecordingStudent(Student):
    """Answers ANSWER and records each request with its sampling."""

    def __init__(self) -> None:
        super().__init__(Sampling(max_tokens=64, temperature=0.0, seed=0), parallel=4)
        self.seen: list[tuple[list[dict[str, str]], Sampling]] = []
        self._lock = threading.Lock()

    @property
    def identity(self) -> str:
        return "recording:test"

    def _answer_one(self, messages, sampling: Sampling) -> Answer:
        with self._lock:
            self.seen.append((messages, sampling))
        return Answer(text=ANSWER, completion_tokens=min(12, sampling.max_tokens),
                      prompt_tokens=20)


@pytest.fixture(autouse=True)
def no_proxy_no_token(monkeypatch):
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy",
                 "all_proxy", "WST_SERVE_TOKEN"):
        monkeypatch.delenv(name, raising=False)


@contextmanager
def serving(teacher=None, student=None, version: str = "", reload_teacher=None, **settings):
    """(base URL, student) of a server running on a free loopback port."""
    student = student or RecordingStudent()
    settings = {"placement": "prefix", "port": 0, **settings}
    app = create_app(teacher or FakeTeacher(), student, ServeConfig(**settings), version,
                     reload_teacher)
    with BackgroundServer(app) as url:
        yield url, student


def client(url: str, key: str = "none") -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{url}/v1", api_key=key, max_retries=0, timeout=30)


def ask(text: str = "What is 3 + 4?") -> list[dict[str, str]]:
    return [{"role": "user", "content": text}]


def instruction(api: openai.OpenAI, text: str = "What is 3 + 4?") -> str | None:
    """The instruction the server placed for one chat request (raises unless it answered)."""
    raw = api.chat.completions.with_raw_response.create(
        model="wst", messages=ask(text), extra_headers={"X-WST-Return-Instruction": "1"})
    return raw.parse().model_extra["wst_instruction"]


def reload(url: str, key: str | None = None) -> httpx.Response:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    return httpx.post(f"{url}/v1/teacher/reload", headers=headers, timeout=30)


def metrics(url: str, key: str | None = None) -> dict[str, float]:
    """The samples of ``/metrics`` (parsed by prometheus_client: a malformed page fails)."""
    return parse_metrics(metrics_page(url, key))


def metrics_page(url: str, key: str | None = None) -> str:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    response = httpx.get(f"{url}/metrics", headers=headers)
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/plain")
    return response.text


def chat_count(samples: dict[str, float], status: int) -> float:
    return samples.get(f'wst_requests_total{{route="/v1/chat/completions",status="{status}"}}', 0)


def test_chat_completion_plain_and_streaming():
    with serving() as (url, student):
        api = client(url)
        completion = api.chat.completions.create(model="anything", messages=ask())
        assert completion.object == "chat.completion" and completion.id.startswith("chatcmpl-")
        assert completion.model == "wst"
        assert completion.choices[0].message.content == ANSWER
        assert completion.choices[0].message.role == "assistant"
        assert completion.choices[0].finish_reason == "stop"
        assert (completion.usage.prompt_tokens, completion.usage.completion_tokens,
                completion.usage.total_tokens) == (20, 12, 32)
        assert "wst_instruction" not in (completion.model_extra or {})
        messages, sampling = student.seen[-1]
        assert messages == [{"role": "user", "content": "Mind the units.\n\nWhat is 3 + 4?"}]
        assert sampling == student.sampling  # no sampling in the request: the student's own

        chunks = list(api.chat.completions.create(
            model="wst", messages=ask(), stream=True, stream_options={"include_usage": True}))
    assert all(c.object == "chat.completion.chunk" for c in chunks)
    assert len({c.id for c in chunks}) == 1
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == ANSWER
    assert len([c for c in chunks if c.choices and c.choices[0].delta.content]) > 1
    finals = [c.choices[0].finish_reason for c in chunks if c.choices]
    assert finals[-1] == "stop" and set(finals[:-1]) == {None}
    assert chunks[-1].usage.completion_tokens == 12 and not chunks[-1].choices


def test_stream_ends_with_done_line():
    with serving() as (url, _):
        with httpx.stream("POST", f"{url}/v1/chat/completions",
                          json={"messages": ask(), "stream": True}) as response:
            assert response.headers["content-type"].startswith("text/event-stream")
            lines = [line for line in response.iter_lines() if line]
    assert all(line.startswith("data: ") for line in lines)
    assert lines[-1] == "data: [DONE]"
    assert json.loads(lines[0][6:])["choices"][0]["delta"]["role"] == "assistant"


def test_instruction_is_returned_only_when_asked():
    with serving() as (url, _):
        api = client(url)
        plain = api.chat.completions.with_raw_response.create(model="wst", messages=ask())
        assert "x-wst-instruction" not in plain.headers
        raw = api.chat.completions.with_raw_response.create(
            model="wst", messages=ask(), extra_headers={"X-WST-Return-Instruction": "1"})
        assert unquote(raw.headers["x-wst-instruction"]) == "Mind the units."
        assert raw.headers["x-wst-instruction-status"] == "ok"
        assert raw.parse().model_extra["wst_instruction"] == "Mind the units."
        first = next(iter(api.chat.completions.create(
            model="wst", messages=ask(), stream=True,
            extra_headers={"X-WST-Return-Instruction": "1"})))
        assert first.model_extra["wst_instruction"] == "Mind the units."
    with serving(return_instruction=False) as (url, _):
        raw = client(url).chat.completions.with_raw_response.create(
            model="wst", messages=ask(), extra_headers={"X-WST-Return-Instruction": "1"})
        assert "x-wst-instruction" not in raw.headers
        assert "wst_instruction" not in (raw.parse().model_extra or {})


def test_system_placement_and_request_sampling_reach_the_student():
    teacher = FakeTeacher()
    with serving(teacher, placement="system") as (url, student):
        api = client(url)
        api.chat.completions.create(model="wst", messages=ask("first"))
        api.chat.completions.create(
            model="wst", max_tokens=7, temperature=0.5, seed=11,
            messages=[{"role": "system", "content": "Be brief."},
                      {"role": "user", "content": "earlier"},
                      {"role": "assistant", "content": "ok"},
                      {"role": "user", "content": [{"type": "text", "text": "last one"}]}])
    assert student.seen[0][0] == [{"role": "system", "content": "Mind the units."},
                                  {"role": "user", "content": "first"}]
    messages, sampling = student.seen[1]
    assert messages[0] == {"role": "system", "content": "Be brief.\n\nMind the units."}
    assert messages[1:] == [{"role": "user", "content": "earlier"},
                            {"role": "assistant", "content": "ok"},
                            {"role": "user", "content": "last one"}]
    assert sampling == Sampling(max_tokens=7, temperature=0.5, seed=11)
    assert teacher.questions == ["first", "last one"]  # the last user message only


def test_max_tokens_is_capped_and_finish_reason_says_so():
    with serving(max_tokens=10) as (url, student):
        api = client(url)
        capped = api.chat.completions.create(model="wst", messages=ask(), max_tokens=500)
        small = api.chat.completions.create(model="wst", messages=ask(),
                                            max_completion_tokens=5)
        default = api.chat.completions.create(model="wst", messages=ask())
    assert [sampling.max_tokens for _, sampling in student.seen] == [10, 5, 10]
    assert [c.choices[0].finish_reason for c in (capped, small, default)] == ["length"] * 3
    assert capped.usage.completion_tokens == 10
    with serving() as (url, student):  # serve.max_tokens = 0: the student's own cap (64)
        roomy = client(url).chat.completions.create(model="wst", messages=ask(), max_tokens=500)
    assert student.seen[0][1].max_tokens == 64
    assert roomy.choices[0].finish_reason == "stop"  # 12 tokens, under the cap


def test_teacher_sees_the_start_of_a_long_question():
    teacher = FakeTeacher()
    question = "How many? " + "x" * 500
    with serving(teacher, max_question_chars=10) as (url, student):
        client(url).chat.completions.create(model="wst", messages=ask(question))
    assert teacher.questions == ["How many? "]
    assert student.seen[0][0] == ask(f"Mind the units.\n\n{question}")  # the student: all of it


def test_models_health_and_metrics_move():
    with serving(model_name="wst-gsm8k") as (url, _):
        api = client(url)
        assert [m.id for m in api.models.list()] == ["wst-gsm8k"]
        assert httpx.get(f"{url}/health").json()["status"] == "ok"
        before = metrics(url)
        api.chat.completions.create(model="wst-gsm8k", messages=ask())
        api.chat.completions.create(model="wst-gsm8k", messages=ask())
        after = metrics(url)
    assert chat_count(after, 200) - chat_count(before, 200) == 2
    for name in ("teacher", "student", "chat_request"):
        assert after[f"wst_{name}_seconds_count"] - before[f"wst_{name}_seconds_count"] == 2
        assert after[f"wst_{name}_seconds_sum"] > before[f"wst_{name}_seconds_sum"]
    assert after['wst_requests_total{route="/v1/models",status="200"}'] == 1
    assert after['wst_teacher_failures_total{reason="timeout"}'] == 0


def test_bearer_token_is_checked_when_set(monkeypatch):
    monkeypatch.setenv("WST_SERVE_TOKEN", TOKEN)
    with serving() as (url, _):
        with pytest.raises(openai.AuthenticationError) as info:
            client(url, key="wrong").chat.completions.create(model="wst", messages=ask())
        assert info.value.status_code == 401
        assert info.value.body["type"] == "authentication_error"
        assert httpx.get(f"{url}/metrics").status_code == 401
        assert httpx.get(f"{url}/v1/models").status_code == 401
        assert httpx.get(f"{url}/health").status_code == 200  # probes need no token
        good = client(url, key=TOKEN).chat.completions.create(model="wst", messages=ask())
        assert good.choices[0].message.content == ANSWER
        assert chat_count(metrics(url, TOKEN), 401) == 1


def test_random_paths_add_no_metric_series(monkeypatch):
    monkeypatch.setenv("WST_SERVE_TOKEN", TOKEN)
    paths = [f"/{uuid.uuid4().hex}", f"/v1/models/{uuid.uuid4().hex}", f"/v1/x/{uuid.uuid4()}",
             '/%22%7D%0Awst_requests_total%7B', "/m\u00e9trics", "/v1/chat/completions/x"]
    with serving() as (url, _), httpx.Client(base_url=url) as http:
        for path in paths[:2]:  # the 401 series of "other" and "/v1/models/{id}" now exist
            assert http.get(path).status_code == 401
        assert http.get("/v1/models/anything",
                        headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 404
        metrics_page(url, TOKEN)
        before = series(metrics_page(url, TOKEN))
        for i in range(200):
            path = paths[i % len(paths)] + str(i)
            method = ("GET", "POST", "DELETE")[i % 3]
            headers = {"Authorization": "Bearer wrong"} if i % 2 else {}
            assert http.request(method, path, headers=headers).status_code == 401
        page = metrics_page(url, TOKEN)
    assert series(page) == before
    samples = parse_metrics(page)
    models = sum(i % len(paths) == 1 for i in range(200))  # under "/v1/models/{id}"
    assert samples['wst_requests_total{route="/v1/models/{id}",status="401"}'] == 1 + models
    assert samples['wst_requests_total{route="other",status="401"}'] == 1 + 200 - models
    assert samples['wst_requests_total{route="/v1/models/{id}",status="404"}'] == 1


def series(page: str) -> set[str]:
    """Names and labels of every sample of a Prometheus text page."""
    return {f"{sample.name}{sorted(sample.labels.items())}"
            for family in text_string_to_metric_families(page) for sample in family.samples}


def test_bad_requests_get_openai_errors_and_the_server_keeps_serving():
    with serving(max_body_bytes=4096, max_messages=3) as (url, student):
        api = client(url)
        with pytest.raises(openai.APIStatusError) as info:
            api.chat.completions.create(model="wst", messages=ask("x" * 10_000))
        assert info.value.status_code == 413
        assert info.value.body["code"] == "request_too_large"
        assert api.chat.completions.create(model="wst", messages=ask()).choices

        with pytest.raises(openai.BadRequestError) as info:
            api.chat.completions.create(model="wst", messages=ask() * 4)
        assert info.value.body["code"] == "too_many_messages"
        assert api.chat.completions.create(model="wst", messages=ask()).choices

        endpoint = f"{url}/v1/chat/completions"
        for body in (b'{"messages": [', b'{"model": "wst"}', b'[1, 2]',
                     b'{"messages": [{"role": "user", "content": 3}]}',
                     b'{"messages": [{"role": "user", "content": "q"}], "max_tokens": -1}'):
            response = httpx.post(endpoint, content=body,
                                  headers={"Content-Type": "application/json"})
            assert response.status_code == 400, body
            error = response.json()["error"]
            assert error["type"] == "invalid_request_error" and error["message"]
        assert api.chat.completions.create(model="wst", messages=ask()).choices
        samples = metrics(url)
    assert chat_count(samples, 413) == 1 and chat_count(samples, 400) == 6
    assert chat_count(samples, 200) == 3
    assert len(student.seen) == 3  # no bad request reached the student


@pytest.mark.parametrize("teacher, reason", [(FakeTeacher(fail=True), "error"),
                                             (FakeTeacher(sleep_s=1.0), "timeout")])
def test_teacher_failure_still_answers_without_instruction(teacher, reason):
    with serving(teacher, teacher_timeout_s=0.2) as (url, student):
        started = time.perf_counter()
        raw = client(url).chat.completions.with_raw_response.create(
            model="wst", messages=ask(), extra_headers={"X-WST-Return-Instruction": "1"})
        elapsed = time.perf_counter() - started
        samples = metrics(url)
    assert raw.parse().choices[0].message.content == ANSWER
    assert raw.headers["x-wst-instruction-status"] == reason
    assert raw.parse().model_extra["wst_instruction"] is None
    assert student.seen[0][0] == ask()  # the request went on unchanged
    assert samples[f'wst_teacher_failures_total{{reason="{reason}"}}'] == 1
    assert chat_count(samples, 200) == 1
    if reason == "timeout":
        assert elapsed < 0.9  # did not wait for the slow teacher


class BrokenStudent(RecordingStudent):
    def _answer_one(self, messages, sampling: Sampling) -> Answer:
        raise ConnectionError("upstream down")


def test_student_failure_is_a_502_and_counted():
    with serving(student=BrokenStudent()) as (url, _):
        with pytest.raises(openai.APIStatusError) as info:
            client(url).chat.completions.create(model="wst", messages=ask())
        assert info.value.status_code == 502
        assert info.value.body["code"] == "student_error"
        assert "upstream down" not in str(info.value.body)  # details go to the log only
        samples = metrics(url)
    assert samples["wst_student_failures_total"] == 1 and chat_count(samples, 502) == 1


class BatchTeacher:
    """Answers ``about <question>``; records the size of each call (the first one is slow,
    so the requests sent meanwhile queue up and arrive together)."""

    def __init__(self) -> None:
        self.batches: list[int] = []

    def instruct(self, question: str) -> str:
        return self.instruct_many([question])[0]

    def instruct_many(self, questions: list[str]) -> list[str]:
        if not self.batches:
            time.sleep(0.5)
        self.batches.append(len(questions))
        return [f"about {q}" for q in questions]


def test_waiting_requests_share_one_teacher_call():
    teacher = BatchTeacher()
    with serving(teacher, teacher_batch=4) as (url, student):
        api = client(url)

        def one(i: int) -> str:
            raw = api.chat.completions.with_raw_response.create(
                model="wst", messages=ask(f"q{i}"), extra_headers={"X-WST-Return-Instruction": "1"})
            return raw.parse().model_extra["wst_instruction"]

        with ThreadPoolExecutor(max_workers=6) as pool:
            first = pool.submit(one, 0)
            time.sleep(0.2)  # the first call is generating; the next five wait together
            rest = list(pool.map(one, range(1, 6)))
    assert [first.result(), *rest] == [f"about q{i}" for i in range(6)]
    assert sum(teacher.batches) == 6 and 1 < max(teacher.batches) <= 4
    placed = sorted(m[0]["content"] for m, _ in student.seen)
    assert placed == sorted(f"about q{i}\n\nq{i}" for i in range(6))


class HeldTeacher:
    """Generates until ``release`` is set or ``should_stop()`` (polled like a transformers
    stopping criterion); hands each call's questions and ``should_stop`` to ``calls``."""

    def __init__(self) -> None:
        self.calls: queue.SimpleQueue = queue.SimpleQueue()
        self.release = threading.Event()
        self.stopped: list[list[str]] = []
        self.closed = False

    def instruct(self, question: str) -> str:
        return self.instruct_many([question])[0]

    def instruct_many(self, questions: list[str], should_stop=lambda: False) -> list[str]:
        self.calls.put((questions, should_stop))
        while not self.release.wait(0.01):
            if should_stop():
                self.stopped.append(questions)
                break
        return [f"about {q}" for q in questions]

    def close(self) -> None:
        self.closed = True


def test_queue_is_bounded_and_a_batch_stops_when_all_its_requests_gave_up():
    teacher = HeldTeacher()
    teacher_queue = TeacherQueue(teacher, batch=4, limit=2)
    try:
        first = teacher_queue.submit("q0")
        assert teacher.calls.get(timeout=5)[0] == ["q0"]  # generating
        a, b = teacher_queue.submit("a"), teacher_queue.submit("b")
        with pytest.raises(TeacherBusy):
            teacher_queue.submit("c")
        first.abandon()  # the running generation stops; a and b go in the next batch
        questions, should_stop = teacher.calls.get(timeout=5)
        assert questions == ["a", "b"] and teacher.stopped == [["q0"]]
        late = teacher_queue.submit("late")
        assert teacher_queue.waiting == 1
        late.abandon()  # a queued job just leaves the queue
        assert teacher_queue.waiting == 0 and late.future.cancelled()
        a.abandon()
        assert not should_stop()  # b still waits for its instruction
        b.abandon()
        assert should_stop()
    finally:
        teacher.release.set()
        teacher_queue.close()


def test_a_swap_lets_the_running_batch_finish_on_the_old_teacher():
    old = HeldTeacher()
    teacher_queue = TeacherQueue(old, batch=4, version="v1")
    try:
        running = teacher_queue.submit("q0")
        assert old.calls.get(timeout=5)[0] == ["q0"]  # generating
        queued = [teacher_queue.submit("a"), teacher_queue.submit("b")]
        new = FakeTeacher(text="New.")
        assert teacher_queue.swap(new, "v2") == "v1"
        assert (teacher_queue.version, teacher_queue.batch) == ("v2", 1)  # no instruct_many
        assert not old.closed  # its batch still runs
        old.release.set()
        assert (running.future.result(timeout=5), running.teacher) == ("about q0", "v1")
        assert [(job.future.result(timeout=5), job.teacher) for job in queued] == [
            ("New.", "v2"), ("New.", "v2")]
        assert new.questions == ["a", "b"] and old.closed  # closed before the next batch

        idle = HeldTeacher()
        teacher_queue.swap(idle, "v3")
        teacher_queue.swap(FakeTeacher(), "v4")  # while idle: closed without a next batch
        deadline = time.monotonic() + 5
        while not idle.closed and time.monotonic() < deadline:
            time.sleep(0.01)
        assert idle.closed and idle.calls.empty()
    finally:
        old.release.set()
        teacher_queue.close()


def test_a_timed_out_generation_is_stopped():
    teacher = HeldTeacher()
    with serving(teacher, teacher_timeout_s=0.2) as (url, _):
        raw = client(url).chat.completions.with_raw_response.create(
            model="wst", messages=ask(), extra_headers={"X-WST-Return-Instruction": "1"})
        assert raw.headers["x-wst-instruction-status"] == "timeout"
        teacher.calls.get(timeout=5)
        deadline = time.monotonic() + 5
        while not teacher.stopped and time.monotonic() < deadline:
            time.sleep(0.01)
        assert teacher.stopped == [["What is 3 + 4?"]]  # stopped, not released
        teacher.release.set()


def test_tiny_teacher_stops_generating_when_asked(tiny_teacher):
    from wst.teacher import TeacherInstructor

    teacher = TeacherInstructor(str(tiny_teacher), meta_prompt="Hint for: {question}",
                                max_instruction_tokens=24)
    asked: list[int] = []
    full = teacher.instruct_many(["What is 3 + 4?"], should_stop=lambda: bool(asked.append(1)))
    assert full == [teacher.instruct("What is 3 + 4?")]  # never true: the usual instruction
    assert len(asked) > 3  # asked after every token (the random model writes several)
    asked.clear()
    cut = teacher.instruct_many(["What is 3 + 4?", "2 + 2?"],
                                should_stop=lambda: asked.append(1) or len(asked) >= 3)
    assert len(asked) == 3 and len(cut) == 2  # stopped at the 3rd of up to 24 tokens


def test_full_teacher_queue_answers_busy_without_waiting():
    class GatedTeacher:
        """Holds every instruction until ``gate`` is set."""

        def __init__(self) -> None:
            self.gate, self.started = threading.Event(), threading.Event()

        def instruct(self, question: str) -> str:
            self.started.set()
            self.gate.wait(10)
            return "Mind the units."

    teacher = GatedTeacher()
    header = {"X-WST-Return-Instruction": "1"}
    with serving(teacher, teacher_queue=1, teacher_timeout_s=20) as (url, student):
        api = client(url)

        def status() -> str:
            raw = api.chat.completions.with_raw_response.create(
                model="wst", messages=ask(), extra_headers=header)
            return raw.headers["x-wst-instruction-status"]

        with ThreadPoolExecutor(max_workers=2) as pool:
            generating = pool.submit(status)
            assert teacher.started.wait(5)
            waiting = pool.submit(status)
            deadline = time.monotonic() + 5
            while metrics(url)["wst_teacher_waiting"] < 1 and time.monotonic() < deadline:
                time.sleep(0.01)
            busy = api.chat.completions.with_raw_response.create(
                model="wst", messages=ask(), extra_headers=header)
            assert not teacher.gate.is_set()  # answered while the teacher was still busy
            teacher.gate.set()
            assert [generating.result(), waiting.result()] == ["ok", "ok"]
        samples = metrics(url)
    assert busy.headers["x-wst-instruction-status"] == "busy"
    assert busy.parse().choices[0].message.content == ANSWER
    assert busy.parse().model_extra["wst_instruction"] is None
    assert samples['wst_teacher_failures_total{reason="busy"}'] == 1
    assert samples["wst_teacher_waiting"] == 0
    assert ask() in [messages for messages, _ in student.seen]  # busy: sent on unchanged


def test_public_address_needs_a_token(monkeypatch):
    with pytest.raises(ServeError, match="WST_SERVE_TOKEN"):
        create_app(FakeTeacher(), RecordingStudent(), ServeConfig(host="0.0.0.0",
                                                                   placement="prefix"))
    monkeypatch.setenv("MY_TOKEN", TOKEN)
    create_app(FakeTeacher(), RecordingStudent(),
               ServeConfig(host="0.0.0.0", placement="prefix", token_env="MY_TOKEN"))

    from wst.cli import app

    result = CliRunner().invoke(app, ["serve", "--teacher", "/nonexistent/teacher",
                                      "--host", "0.0.0.0"])
    assert result.exit_code == 1  # refused before any model loads
    assert "WST_SERVE_TOKEN" in result.output


def test_tiny_teacher_in_front_of_an_openai_student(tiny_teacher, monkeypatch):
    from wst.students.openai_http import OpenAIStudent
    from wst.teacher import TeacherInstructor

    upstream = FakeOpenAI()
    teacher = TeacherInstructor(str(tiny_teacher), meta_prompt="Hint for: {question}",
                                max_instruction_tokens=4)
    expected = teacher.instruct("What is 3 + 4?")
    student = OpenAIStudent(upstream.base_url, "upstream-model", Sampling(max_tokens=32, seed=3),
                            api_key_env="WST_TEST_UNSET_KEY", parallel=2, max_retries=0)
    try:
        with serving(teacher, student) as (url, _):
            raw = client(url).chat.completions.with_raw_response.create(
                model="wst", messages=ask(), max_tokens=16,
                extra_headers={"X-WST-Return-Instruction": "1"})
    finally:
        student.close()
        upstream.close()
    completion = raw.parse()
    assert completion.model_extra["wst_instruction"] == expected.strip()
    sent = upstream.requests[0]
    assert sent["model"] == "upstream-model" and sent["max_tokens"] == 16 and sent["seed"] == 3
    placed = f"{expected.strip()}\n\nWhat is 3 + 4?" if expected.strip() else "What is 3 + 4?"
    assert sent["messages"] == [{"role": "user", "content": placed}]
    assert completion.choices[0].message.content == f"The answer is 18. ({placed})"
    assert completion.usage.completion_tokens == 7


def test_exported_teacher_writes_what_the_adapter_writes(tmp_path, tiny_teacher):
    import torch

    from tests.test_train_plumbing import _config, _split
    from tests.conftest import ScriptedStudent
    from wst.cli import app
    from wst.tasks.gsm8k import GSM8K
    from wst.teacher import TeacherInstructor
    from wst.train import train_teacher

    run_dir = tmp_path / "run"
    config = _config(run_dir, tiny_teacher, steps=1)
    config.train.learning_rate = 5e-2  # a visible change, so the merge has something to carry
    adapter = train_teacher(config, _split(), GSM8K(), ScriptedStudent())
    (run_dir / "report.md").write_text("# report\n")

    result = CliRunner().invoke(app, ["export", "--output", str(run_dir)])
    assert result.exit_code == 0, result.output
    out = run_dir / "export"
    card = json.loads((out / "wst_teacher.json").read_text())
    assert card["max_instruction_tokens"] == 8 and card["source"]["merged_lora"]
    assert card["meta_prompt"] == config.teacher.meta_prompt
    assert card["base_model"] == str(tiny_teacher)
    assert (out / "training_config.json").exists() and (out / "report.md").exists()
    assert not (out / "adapter_config.json").exists() and (out / "config.json").exists()

    exported = TeacherInstructor(str(out))  # prompt and token cap from its card
    assert exported.adapter is None
    assert exported.meta_prompt == config.teacher.meta_prompt
    assert exported.max_instruction_tokens == 8
    with_adapter = TeacherInstructor(str(tiny_teacher), str(adapter))
    from_adapter_folder = TeacherInstructor(str(adapter))  # base model read from its card
    assert from_adapter_folder.model_spec == str(tiny_teacher)
    assert with_adapter.max_instruction_tokens == 8  # the training card records the cap

    base = TeacherInstructor(str(tiny_teacher))
    name = "model.layers.0.self_attn.q_proj.weight"
    merged_weight = dict(exported.model.named_parameters())[name]
    assert not torch.equal(merged_weight, dict(base.model.named_parameters())[name])

    batch = exported.tokenizer(["What is 3 + 4?"], return_tensors="pt")
    with torch.no_grad():
        merged_logits = exported.model(**batch).logits
        adapter_logits = with_adapter.model(**batch).logits
    assert torch.allclose(merged_logits, adapter_logits, atol=1e-5)
    for question in ("What is 3 + 4?", "Tom has 5 apples and eats 2. How many are left?"):
        assert exported.instruct(question) == with_adapter.instruct(question)
        assert exported.instruct(question) == from_adapter_folder.instruct(question)

    # exporting again replaces the earlier export; a foreign folder is refused
    assert CliRunner().invoke(app, ["export", "--output", str(run_dir)]).exit_code == 0
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "keep.txt").write_text("mine")
    result = CliRunner().invoke(app, ["export", "--output", str(run_dir), "--to", str(foreign)])
    assert result.exit_code == 1 and (foreign / "keep.txt").exists()


def test_reload_swaps_in_the_teacher_the_loader_gives():
    loads: list[int] = []

    def load() -> tuple[FakeTeacher, str]:
        loads.append(1)
        return FakeTeacher(text=f"Teacher {len(loads) + 1}."), f"v{len(loads) + 1}"

    with serving(FakeTeacher(text="Teacher 1."), version="v1", reload_teacher=load) as (url, _):
        api = client(url)
        assert instruction(api) == "Teacher 1."
        answer = reload(url)
        assert answer.status_code == 200
        assert answer.json() == {"object": "teacher", "teacher": "v2", "previous": "v1"}
        assert instruction(api) == "Teacher 2."
        assert reload(url).json()["previous"] == "v2"
        assert instruction(api) == "Teacher 3."
        samples = metrics(url)
    assert samples['wst_teacher_reloads_total{result="ok"}'] == 2
    assert samples['wst_teacher_reloads_total{result="error"}'] == 0
    assert samples['wst_requests_total{route="/v1/teacher/reload",status="200"}'] == 2


def test_a_reload_in_the_middle_of_traffic_drops_no_request():
    old = FakeTeacher(sleep_s=0.05, text="Old.")
    new = FakeTeacher(sleep_s=0.05, text="New.")
    with serving(old, reload_teacher=lambda: (new, "v2")) as (url, _):
        api = client(url)
        with ThreadPoolExecutor(max_workers=20) as pool:
            pending = [pool.submit(instruction, api, f"q{i}") for i in range(20)]
            deadline = time.monotonic() + 10
            while len(old.questions) < 5 and time.monotonic() < deadline:
                time.sleep(0.01)
            assert reload(url).status_code == 200  # while most questions still wait
            instructions = [answer.result() for answer in pending]  # each one a 200
        samples = metrics(url)
    assert set(instructions) == {"Old.", "New."}
    assert instructions.count("Old.") == len(old.questions)
    assert len(old.questions) + len(new.questions) == 20
    assert chat_count(samples, 200) == 20
    assert sum(samples[f'wst_teacher_failures_total{{reason="{reason}"}}']
               for reason in ("error", "timeout", "busy")) == 0


def test_a_failed_reload_says_why_and_the_old_teacher_keeps_serving():
    calls: list[int] = []

    def load() -> tuple[FakeTeacher, str]:
        calls.append(1)
        if len(calls) == 1:
            raise FileNotFoundError("runs/x/export: no model.safetensors")
        return FakeTeacher(text="New."), "v2"

    with serving(version="v1", reload_teacher=load) as (url, _):
        api = client(url)
        failed = reload(url)
        assert failed.status_code == 500
        error = failed.json()["error"]
        assert error["code"] == "teacher_reload_failed"
        assert "FileNotFoundError: runs/x/export: no model.safetensors" in error["message"]
        assert "previous teacher keeps serving" in error["message"]
        assert instruction(api) == "Mind the units."
        assert reload(url).json()["previous"] == "v1"  # the failure left no lock behind
        assert instruction(api) == "New."
        samples = metrics(url)
    assert samples['wst_teacher_reloads_total{result="error"}'] == 1
    assert samples['wst_teacher_reloads_total{result="ok"}'] == 1


def test_a_second_reload_while_one_loads_is_409():
    loading, release = threading.Event(), threading.Event()

    def slow_load() -> tuple[FakeTeacher, str]:
        loading.set()
        assert release.wait(10)
        return FakeTeacher(text="New."), "v2"

    with serving(reload_teacher=slow_load) as (url, _):
        api = client(url)
        with ThreadPoolExecutor(max_workers=1) as pool:
            first = pool.submit(reload, url)
            assert loading.wait(5)
            second = reload(url)
            during = instruction(api)  # the server answers while the teacher loads
            release.set()
            assert first.result().status_code == 200
        assert instruction(api) == "New."
    assert second.status_code == 409
    assert second.json()["error"]["code"] == "teacher_reload_running"
    assert during == "Mind the units."


def test_reload_without_a_loader_is_404():
    with serving() as (url, _):
        answer = reload(url)
        assert instruction(client(url)) == "Mind the units."
    assert answer.status_code == 404
    assert answer.json()["error"]["code"] == "teacher_reload_unavailable"


def test_reload_needs_the_bearer_token_when_set(monkeypatch):
    monkeypatch.setenv("WST_SERVE_TOKEN", TOKEN)
    loads: list[int] = []

    def load() -> tuple[FakeTeacher, str]:
        loads.append(1)
        return FakeTeacher(text="New."), "v2"

    with serving(reload_teacher=load) as (url, _):
        assert reload(url).status_code == 401
        assert reload(url, key="wrong").status_code == 401
        assert loads == []
        assert reload(url, key=TOKEN).status_code == 200
        samples = metrics(url, TOKEN)
    assert loads == [1]
    assert samples['wst_requests_total{route="/v1/teacher/reload",status="401"}'] == 2


def test_wst_serve_reloads_the_teacher_from_where_it_started(monkeypatch):
    import wst.cli
    import wst.serve
    import wst.students
    import wst.teacher_gguf

    loads: list[tuple] = []
    seen: dict[str, object] = {}

    def load_instructor(*args, **kwargs) -> FakeTeacher:
        loads.append((args, kwargs))
        return FakeTeacher(text=f"Teacher {len(loads)}.")

    def run_server(app, settings) -> None:
        with BackgroundServer(app) as url:
            seen["before"] = instruction(client(url))
            seen["reload"] = reload(url).json()
            seen["after"] = instruction(client(url))

    monkeypatch.setattr(wst.teacher_gguf, "load_instructor", load_instructor)
    monkeypatch.setattr(wst.students, "make_student", lambda config: RecordingStudent())
    monkeypatch.setattr(wst.serve, "run_server", run_server)
    # its logging set-up, bound to this CliRunner's streams, would outlive the test
    monkeypatch.setattr(wst.cli, "_setup_logging", lambda: None)
    result = CliRunner().invoke(wst.cli.app, ["serve", "--teacher", "/srv/teacher"])
    assert result.exit_code == 0, (result.output, result.exception)
    assert seen == {"before": "Teacher 1.", "after": "Teacher 2.",
                    "reload": {"object": "teacher", "teacher": "/srv/teacher",
                               "previous": None}}  # not hashed at start without a log
    assert len(loads) == 2 and loads[0] == loads[1] and loads[0][0][0] == "/srv/teacher"
