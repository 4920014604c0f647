"""Deploy a trained teacher: an OpenAI-compatible proxy in front of the student (``wst serve``).

For each ``POST /v1/chat/completions`` the teacher writes an instruction for the last user
message, the instruction is placed into the chat (``serve.placement``: ``system`` or
``prefix``, as in training) and the student answers; the client gets the student's answer as
an OpenAI ``chat.completion`` (or ``chat.completion.chunk`` events with ``stream: true``).

* The teacher runs on one worker thread (one ``generate`` at a time; questions that arrive
  while it runs are answered together by the next, batched call, up to
  ``serve.teacher_batch``), with a token cap (the teacher's ``max_instruction_tokens``) and
  a timeout (``serve.teacher_timeout_s``, counting the wait in its queue). When it fails or
  times out, the request goes to the student without an instruction; that is logged and
  counted in ``/metrics``, never dropped. A generation that timed out is not killed (a thread
  cannot be): it finishes within its token cap and its result is discarded; a request still
  queued when its time is up is taken out of the queue.
* Student calls run on threads, at most ``student.parallel`` at a time (llama.cpp slots).
* The instruction is returned only when the client sends ``X-WST-Return-Instruction: 1`` (and
  ``serve.return_instruction`` is on): in the response header ``X-WST-Instruction``,
  URL-encoded UTF-8 (``urllib.parse.unquote`` reads it; chosen over base64 because it stays
  readable), plus ``X-WST-Instruction-Status`` (``ok``, ``empty``, ``timeout``, ``error``),
  and as ``wst_instruction`` in the JSON body (in the first chunk when streaming; null when
  the teacher failed).
* Safety: a bearer token from ``$WST_SERVE_TOKEN`` (``serve.token_env``) is required to
  bind anything but loopback and checked on every route but ``/health`` whenever it is set;
  bodies over ``serve.max_body_bytes`` get 413, more than ``serve.max_messages`` messages
  400, malformed JSON or a missing ``messages`` list 400, all with OpenAI-style error bodies.
* Observability: one log line per request (status, teacher ms, student ms, total ms, whether
  an instruction was placed; never the content) and Prometheus counters on ``/metrics``.

Supported request fields: ``messages`` (system, developer, user and assistant messages;
string content or a list of text parts), ``max_tokens`` / ``max_completion_tokens``,
``temperature``, ``seed``, ``stream``, ``stream_options.include_usage`` and ``n = 1``; others
(``top_p``, tools, ...) are ignored. The teacher sees only the last user message.
"""

from __future__ import annotations

import asyncio
import hmac
import ipaddress
import json
import logging
import math
import os
import queue
import re
import threading
import time
import uuid
from concurrent.futures import Future
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response, StreamingResponse
from starlette.concurrency import run_in_threadpool

from wst.config import ServeConfig
from wst.students.base import BudgetExceeded, Messages, Sampling, Student

log = logging.getLogger("wst.serve")

CHAT_ROUTE = "/v1/chat/completions"
ROUTES = (CHAT_ROUTE, "/v1/models", "/health", "/metrics")
RETURN_HEADER = "X-WST-Return-Instruction"
INSTRUCTION_HEADER = "X-WST-Instruction"
INSTRUCTION_STATUS_HEADER = "X-WST-Instruction-Status"
ROLES = {"system": "system", "developer": "system", "user": "user", "assistant": "assistant"}
"""Accepted message roles and the role the student sees (``developer`` is a system message)."""


class Instructor(Protocol):
    """What the server needs of a teacher (``wst.teacher.TeacherInstructor``, or a test fake).
    A teacher that also has ``instruct_many(questions) -> list[str]`` gets waiting requests
    in batches."""

    def instruct(self, question: str) -> str: ...


class TeacherQueue:
    """The teacher on one worker thread: one ``generate`` at a time, and the questions that
    arrive while it runs are answered together by the next call (up to ``batch``, when the
    teacher has ``instruct_many``). ``submit`` returns a Future; cancelling it before its
    batch starts takes the question out of the queue."""

    def __init__(self, teacher: Instructor, batch: int = 8):
        self.teacher = teacher
        self.batch = batch if hasattr(teacher, "instruct_many") else 1
        self._queue: queue.SimpleQueue[tuple[str, Future] | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._work, daemon=True, name="wst-teacher")
        self._thread.start()

    def submit(self, question: str) -> Future:
        future: Future = Future()
        self._queue.put((question, future))
        return future

    def close(self) -> None:
        self._queue.put(None)

    def _work(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            items = [item]
            while len(items) < self.batch:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is None:
                    self._queue.put(None)  # stop after this batch
                    break
                items.append(item)
            live = [(q, f) for q, f in items if f.set_running_or_notify_cancel()]
            if not live:
                continue
            try:
                if len(live) == 1:
                    results = [self.teacher.instruct(live[0][0])]
                else:
                    many = self.teacher.instruct_many  # type: ignore[attr-defined]
                    results = list(many([q for q, _ in live]))
                if len(results) != len(live):
                    raise RuntimeError(f"the teacher gave {len(results)} instructions for "
                                       f"{len(live)} questions")
            except Exception as exc:  # every waiting request goes on without instruction
                for _, future in live:
                    future.set_exception(exc)
            else:
                for (_, future), result in zip(live, results):
                    future.set_result(result)


class ServeError(RuntimeError):
    """The server must not start as configured (e.g. a public address without a token)."""


class ApiError(Exception):
    """A request the server answers with an OpenAI-style error body."""

    def __init__(self, status: int, message: str, type_: str = "invalid_request_error",
                 param: str | None = None, code: str | None = None):
        super().__init__(message)
        self.status, self.message, self.type, self.param, self.code = (
            status, message, type_, param, code)

    def response(self) -> JSONResponse:
        return error_response(self.status, self.message, self.type, self.param, self.code)


def error_response(status: int, message: str, type_: str = "invalid_request_error",
                   param: str | None = None, code: str | None = None) -> JSONResponse:
    body = {"error": {"message": message, "type": type_, "param": param, "code": code}}
    return JSONResponse(body, status_code=status)


def is_loopback(host: str) -> bool:
    """True when ``host`` is reachable from this machine only.

    >>> [is_loopback(h) for h in ("127.0.0.1", "::1", "localhost", "0.0.0.0", "10.0.0.5")]
    [True, True, True, False, False]
    """
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a host name other than localhost may resolve to anything


def server_token(settings: ServeConfig) -> str | None:
    """The bearer token clients must send (None: no check); ServeError when the host is not
    loopback and no token is set."""
    token = os.environ.get(settings.token_env) or None
    if token is None and not is_loopback(settings.host):
        raise ServeError(
            f"refusing to serve on {settings.host}: an address other than loopback requires a "
            f"bearer token. Set ${settings.token_env} (clients then send 'Authorization: "
            f"Bearer <token>') or bind 127.0.0.1."
        )
    return token


# --- requests ------------------------------------------------------------------------------


@dataclass
class ChatRequest:
    """The parts of a chat completion request that the server uses."""

    messages: Messages
    max_tokens: int | None = None
    temperature: float | None = None
    seed: int | None = None
    stream: bool = False
    include_usage: bool = False

    @property
    def question(self) -> str:
        """The last user message: what the teacher writes an instruction for."""
        return self.messages[last_user_index(self.messages)]["content"]

    def sampling(self, default: Sampling) -> Sampling:
        """The request's sampling where it sets it, the student's defaults elsewhere."""
        return Sampling(
            max_tokens=default.max_tokens if self.max_tokens is None else self.max_tokens,
            temperature=default.temperature if self.temperature is None else self.temperature,
            seed=default.seed if self.seed is None else self.seed,
        )


def parse_chat(body: bytes, max_messages: int) -> ChatRequest:
    """Validate a chat completion request body; ApiError(400) says what is wrong."""
    try:
        data = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ApiError(400, f"the request body is not valid JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise ApiError(400, "the request body must be a JSON object")
    raw = data.get("messages")
    if not isinstance(raw, list) or not raw:
        raise ApiError(400, "'messages' is required: a non-empty list of messages",
                       param="messages")
    if len(raw) > max_messages:
        raise ApiError(400, f"too many messages: {len(raw)} (at most {max_messages})",
                       param="messages", code="too_many_messages")
    messages = [_message(m, i) for i, m in enumerate(raw)]
    if not any(m["role"] == "user" for m in messages):
        raise ApiError(400, "'messages' must contain a user message", param="messages")
    if data.get("n", 1) not in (1, None):
        raise ApiError(400, "only n = 1 is supported", param="n")
    stream = data.get("stream") or False
    options = data.get("stream_options") or {}
    if not isinstance(stream, bool) or not isinstance(options, dict):
        raise ApiError(400, "'stream' must be a boolean and 'stream_options' an object",
                       param="stream")
    max_tokens = data.get("max_completion_tokens")
    if max_tokens is None:
        max_tokens = data.get("max_tokens")
    return ChatRequest(
        messages=messages,
        max_tokens=_number(max_tokens, "max_tokens", int, 1, 1_000_000),
        temperature=_number(data.get("temperature"), "temperature", float, 0.0, 2.0),
        seed=_number(data.get("seed"), "seed", int, -(2**63), 2**63 - 1),
        stream=stream,
        include_usage=bool(options.get("include_usage", False)),
    )


def _message(message: Any, index: int) -> dict[str, str]:
    where = f"messages[{index}]"
    if not isinstance(message, dict) or message.get("role") not in ROLES:
        raise ApiError(400, f"{where} must be an object with a role in "
                            f"{sorted(ROLES)}", param=where)
    content = message.get("content")
    if content is None and message["role"] == "assistant":
        content = ""
    if isinstance(content, list):
        texts = [part.get("text") for part in content if isinstance(part, dict)]
        if len(texts) != len(content) or not all(
                isinstance(t, str) and p.get("type") == "text" for t, p in zip(texts, content)):
            raise ApiError(400, f"{where}.content: only text parts are supported", param=where)
        content = "\n".join(texts)  # type: ignore[arg-type]
    if not isinstance(content, str):
        raise ApiError(400, f"{where}.content must be a string or a list of text parts",
                       param=where)
    return {"role": ROLES[message["role"]], "content": content}


def _number(value: Any, name: str, kind: type, low: float, high: float) -> Any:
    if value is None:
        return None
    ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    if kind is int and ok and not float(value).is_integer():
        ok = False
    if not ok or not low <= value <= high:
        raise ApiError(400, f"'{name}' must be {'an integer' if kind is int else 'a number'} "
                            f"between {low:g} and {high:g}", param=name)
    return kind(value)


def last_user_index(messages: Messages) -> int:
    return max(i for i, m in enumerate(messages) if m["role"] == "user")


def place_instruction(messages: Messages, instruction: str | None, placement: str) -> Messages:
    """A copy of ``messages`` with the instruction placed (unchanged when there is none).

    >>> chat = [{"role": "user", "content": "2+2?"}]
    >>> place_instruction(chat, "Add.", "prefix")
    [{'role': 'user', 'content': 'Add.\\n\\n2+2?'}]
    >>> place_instruction(chat, "Add.", "system")
    [{'role': 'system', 'content': 'Add.'}, {'role': 'user', 'content': '2+2?'}]
    >>> place_instruction([{"role": "system", "content": "Be brief."}] + chat, "Add.", "system")[0]
    {'role': 'system', 'content': 'Be brief.\\n\\nAdd.'}
    """
    messages = [dict(m) for m in messages]
    if not instruction:
        return messages
    if placement == "system":
        if messages[0]["role"] == "system":
            own = messages[0]["content"]
            messages[0]["content"] = f"{own}\n\n{instruction}" if own else instruction
        else:
            messages.insert(0, {"role": "system", "content": instruction})
    else:
        index = last_user_index(messages)
        messages[index]["content"] = f"{instruction}\n\n{messages[index]['content']}"
    return messages


def split_text(text: str, parts: int = 4) -> list[str]:
    """``text`` in at most ``parts`` pieces cut at word boundaries (they join back to it).

    >>> split_text("one two three four five", 2)
    ['one two three ', 'four five']
    >>> split_text("")
    []
    """
    words = [w for w in re.split(r"(?<=\s)(?=\S)", text) if w]
    size = max(1, math.ceil(len(words) / parts))
    return ["".join(words[i:i + size]) for i in range(0, len(words), size)]


# --- metrics -------------------------------------------------------------------------------


class Metrics:
    """Counters and latency sums, rendered in the Prometheus text format."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.requests: dict[tuple[str, int], int] = {}
        self.teacher_failures = {"error": 0, "timeout": 0}
        self.student_failures = 0
        self.seconds = {"teacher": [0.0, 0], "student": [0.0, 0], "chat_request": [0.0, 0]}

    def count_request(self, route: str, status: int) -> None:
        with self._lock:
            self.requests[(route, status)] = self.requests.get((route, status), 0) + 1

    def teacher_failed(self, reason: str) -> None:
        with self._lock:
            self.teacher_failures[reason] += 1

    def student_failed(self) -> None:
        with self._lock:
            self.student_failures += 1

    def observe(self, name: str, seconds: float) -> None:
        with self._lock:
            self.seconds[name][0] += seconds
            self.seconds[name][1] += 1

    def render(self) -> str:
        with self._lock:
            lines = ["# HELP wst_requests_total HTTP requests by route and status code.",
                     "# TYPE wst_requests_total counter"]
            for (route, status), count in sorted(self.requests.items()):
                lines.append(f'wst_requests_total{{route="{route}",status="{status}"}} {count}')
            lines += ["# HELP wst_teacher_failures_total Requests sent on without an "
                      "instruction because the teacher failed or timed out.",
                      "# TYPE wst_teacher_failures_total counter"]
            for reason, count in sorted(self.teacher_failures.items()):
                lines.append(f'wst_teacher_failures_total{{reason="{reason}"}} {count}')
            lines += ["# HELP wst_student_failures_total Chat requests the student failed.",
                      "# TYPE wst_student_failures_total counter",
                      f"wst_student_failures_total {self.student_failures}"]
            helps = {"teacher": "Time waiting for instructions (queue + generation).",
                     "student": "Time waiting for student answers.",
                     "chat_request": "Time to answer a chat completion request."}
            for name, (total, count) in self.seconds.items():
                lines += [f"# HELP wst_{name}_seconds {helps[name]}",
                          f"# TYPE wst_{name}_seconds summary",
                          f"wst_{name}_seconds_sum {total:.6f}",
                          f"wst_{name}_seconds_count {count}"]
        return "\n".join(lines) + "\n"


def parse_metrics(text: str) -> dict[str, float]:
    """Samples of a Prometheus text page by their full name (labels included), for tests and
    the load benchmark.

    >>> parse_metrics('# TYPE x counter\\nx{a="1"} 2\\ny_sum 0.5\\n')
    {'x{a="1"}': 2.0, 'y_sum': 0.5}
    """
    samples = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            samples[name] = float(value)
    return samples


# --- the app -------------------------------------------------------------------------------


def create_app(teacher: Instructor, student: Student, settings: ServeConfig) -> FastAPI:
    """The proxy app. ``settings.placement`` must be resolved (``prefix`` or ``system``).

    Raises ServeError for a non-loopback ``settings.host`` without a token (see
    ``server_token``); the token is read from the environment here, once.
    """
    if settings.placement not in ("prefix", "system"):
        raise ValueError(f"placement must be prefix or system, not {settings.placement!r}")
    token = server_token(settings)
    metrics = Metrics()
    teacher_queue = TeacherQueue(teacher, settings.teacher_batch)
    student_slots = asyncio.Semaphore(student.parallel)
    started_at = int(time.time())

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        yield
        teacher_queue.close()

    app = FastAPI(title="wst serve", lifespan=lifespan, docs_url=None, redoc_url=None,
                  openapi_url=None)
    app.state.metrics = metrics

    @app.middleware("http")
    async def guard(request: Request, call_next) -> Response:
        """Auth, then the route; counts and logs every request."""
        started = time.perf_counter()
        path = request.url.path
        route = path if path in ROUTES or path.startswith("/v1/models/") else "other"
        request.state.info = {}
        if token is not None and route != "/health" and not _authorized(request, token):
            response: Response = error_response(401, "missing or wrong bearer token",
                                                "authentication_error", code="invalid_api_key")
            response.headers["WWW-Authenticate"] = "Bearer"
        else:
            try:
                response = await call_next(request)
            except Exception:
                log.exception("%s %s failed", request.method, path)
                response = error_response(500, "internal server error", "server_error")
        metrics.count_request(route, response.status_code)
        total_ms = (time.perf_counter() - started) * 1000
        info = request.state.info
        quiet = route != CHAT_ROUTE and response.status_code < 400  # probes, scrapes
        level = logging.DEBUG if quiet else logging.INFO
        log.log(level, "%s %s status=%d teacher_ms=%.0f student_ms=%.0f total_ms=%.0f "
                "instruction=%s stream=%s id=%s", request.method, path, response.status_code,
                info.get("teacher_ms", 0), info.get("student_ms", 0), total_ms,
                info.get("instruction", "-"), info.get("stream", "-"), info.get("id", "-"))
        if route == CHAT_ROUTE and response.status_code == 200:
            metrics.observe("chat_request", total_ms / 1000)
        return response

    async def instruction_for(question: str, info: dict[str, Any]) -> str | None:
        """The teacher's instruction, or None when it failed or ran out of time."""
        started = time.perf_counter()
        future = teacher_queue.submit(question)
        try:
            instruction = await asyncio.wait_for(asyncio.wrap_future(future),
                                                 settings.teacher_timeout_s)
            if not isinstance(instruction, str):
                raise TypeError(f"the teacher returned {type(instruction).__name__}, not str")
            info["instruction"] = "ok" if instruction.strip() else "empty"
            return instruction.strip()
        except asyncio.TimeoutError:
            future.cancel()  # leaves the queue if it has not started; else its result is dropped
            metrics.teacher_failed("timeout")
            info["instruction"] = "timeout"
            log.warning("teacher timed out after %.1f s; answering without an instruction",
                        settings.teacher_timeout_s)
        except Exception as exc:
            metrics.teacher_failed("error")
            info["instruction"] = "error"
            log.warning("teacher failed (%s: %s); answering without an instruction",
                        type(exc).__name__, exc)
        finally:
            seconds = time.perf_counter() - started
            info["teacher_ms"] = seconds * 1000
            metrics.observe("teacher", seconds)
        return None

    @app.post(CHAT_ROUTE)
    async def chat_completions(request: Request) -> Response:
        info = request.state.info
        try:
            chat = parse_chat(await _read_body(request, settings.max_body_bytes),
                              settings.max_messages)
        except ApiError as exc:
            return exc.response()
        completion_id = f"chatcmpl-{uuid.uuid4().hex}"
        info.update(id=completion_id, stream=chat.stream)
        want_instruction = settings.return_instruction and request.headers.get(
            RETURN_HEADER, "").strip().lower() in {"1", "true", "yes"}

        instruction = await instruction_for(chat.question, info)
        messages = place_instruction(chat.messages, instruction, settings.placement)
        sampling = chat.sampling(student.sampling)
        started = time.perf_counter()
        try:
            async with student_slots:
                [answer] = await run_in_threadpool(student.answer, [messages], sampling)
        except BudgetExceeded as exc:
            metrics.student_failed()
            log.error("student budget spent: %s", exc)
            return error_response(503, "the student's budget is spent", "server_error",
                                  code="student_budget_exceeded")
        except Exception as exc:
            metrics.student_failed()
            log.error("student failed: %s: %s", type(exc).__name__, exc)
            return error_response(502, "the student model failed to answer", "server_error",
                                  code="student_error")
        finally:
            seconds = time.perf_counter() - started
            info["student_ms"] = seconds * 1000
            metrics.observe("student", seconds)

        created = int(time.time())
        finish = "length" if answer.completion_tokens >= sampling.max_tokens else "stop"
        usage = {"prompt_tokens": answer.prompt_tokens,
                 "completion_tokens": answer.completion_tokens,
                 "total_tokens": answer.prompt_tokens + answer.completion_tokens}
        headers = {}
        extra: dict[str, Any] = {}
        if want_instruction:
            headers[INSTRUCTION_HEADER] = quote(instruction or "", safe="")
            headers[INSTRUCTION_STATUS_HEADER] = info["instruction"]
            extra["wst_instruction"] = instruction
        if not chat.stream:
            body = {
                "id": completion_id, "object": "chat.completion", "created": created,
                "model": settings.model_name,
                "choices": [{"index": 0, "logprobs": None, "finish_reason": finish,
                             "message": {"role": "assistant", "content": answer.text}}],
                "usage": usage, **extra,
            }
            return JSONResponse(body, headers=headers)
        events = stream_events(completion_id, created, settings.model_name, answer.text, finish,
                               usage if chat.include_usage else None, extra)
        return StreamingResponse(iter(events), media_type="text/event-stream",
                                 headers={**headers, "Cache-Control": "no-cache"})

    @app.get("/v1/models")
    async def models() -> dict[str, Any]:
        return {"object": "list", "data": [_model_card(settings.model_name, started_at)]}

    @app.get("/v1/models/{model_id}")
    async def model(model_id: str) -> Response:
        if model_id != settings.model_name:
            return error_response(404, f"model {model_id!r} not found", code="model_not_found")
        return JSONResponse(_model_card(settings.model_name, started_at))

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok", "model": settings.model_name}

    @app.get("/metrics")
    async def metrics_page() -> Response:
        return PlainTextResponse(metrics.render(), media_type="text/plain; version=0.0.4")

    return app


def stream_events(completion_id: str, created: int, model: str, text: str, finish: str,
                  usage: dict[str, int] | None, extra: dict[str, Any]) -> list[str]:
    """Server-sent events of a finished answer: a role chunk (carrying ``extra``), the text in
    a few chunks, a chunk with the finish reason, a usage chunk when asked, ``[DONE]``.

    The whole answer is known before the first event (the Student interface returns whole
    answers), so streaming here keeps clients that expect it working; it does not bring the
    first token sooner.
    """
    base = {"id": completion_id, "object": "chat.completion.chunk", "created": created,
            "model": model}

    def chunk(delta: dict[str, str], finish_reason: str | None = None, **more: Any) -> dict:
        return {**base, "choices": [{"index": 0, "delta": delta, "logprobs": None,
                                     "finish_reason": finish_reason}], **more}

    events = [chunk({"role": "assistant", "content": ""}, **extra)]
    events += [chunk({"content": piece}) for piece in split_text(text)]
    events.append(chunk({}, finish))
    if usage is not None:
        events.append({**base, "choices": [], "usage": usage})
    return [f"data: {json.dumps(event)}\n\n" for event in events] + ["data: [DONE]\n\n"]


def _model_card(name: str, created: int) -> dict[str, Any]:
    return {"id": name, "object": "model", "created": created, "owned_by": "wst"}


def _authorized(request: Request, token: str) -> bool:
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(),
                                                              token.encode())


async def _read_body(request: Request, limit: int) -> bytes:
    """The body, or ApiError(413) as soon as it is known to pass ``limit`` bytes."""
    too_large = ApiError(413, f"the request body is larger than {limit} bytes",
                         code="request_too_large")
    length = request.headers.get("content-length")
    if length is not None:
        if not length.isdigit():
            raise ApiError(400, "invalid Content-Length")
        if int(length) > limit:
            raise too_large
    body = bytearray()
    async for piece in request.stream():
        body += piece
        if len(body) > limit:
            raise too_large
    return bytes(body)


# --- running -------------------------------------------------------------------------------


def run_server(app: FastAPI, settings: ServeConfig) -> None:
    """Serve ``app`` in the foreground until interrupted (the logging set up by the caller is
    kept; uvicorn's access log is off, the app logs one line per request itself)."""
    import uvicorn

    uvicorn.run(app, host=settings.host, port=settings.port, log_config=None,
                access_log=False, server_header=False, timeout_graceful_shutdown=5)


class BackgroundServer:
    """Run an app with uvicorn on a daemon thread (tests, benchmarks)::

        with BackgroundServer(app) as url:   # http://127.0.0.1:PORT
            ...
    """

    def __init__(self, app: FastAPI, host: str = "127.0.0.1", port: int = 0):
        import uvicorn

        config = uvicorn.Config(app, host=host, port=port, log_config=None, access_log=False,
                                lifespan="on", timeout_graceful_shutdown=2)
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True,
                                       name="wst-serve")
        self.url = ""

    def __enter__(self) -> str:
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the server did not start")
            time.sleep(0.01)
        host, port = self.server.servers[0].sockets[0].getsockname()[:2]
        self.url = f"http://{host}:{port}"
        return self.url

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
