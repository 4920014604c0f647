"""The FastAPI app of ``wst serve`` (the package docstring describes its behaviour)."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import asynccontextmanager
from functools import partial
from typing import Any
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse
from starlette.concurrency import run_in_threadpool

from wst.config import ServeConfig
from wst.serve.metrics import Metrics, route_label
from wst.serve.protocol import (ApiError, error_response, model_card, parse_chat,
                                place_instruction, stream_events)
from wst.serve.security import authorized, read_body, server_token
from wst.serve.teacher_queue import Instructor, TeacherBusy, TeacherQueue
from wst.serve.traffic import TrafficLog, parse_feedback
from wst.students.base import BudgetExceeded, Student

log = logging.getLogger("wst.serve")

CHAT_ROUTE = "/v1/chat/completions"
FEEDBACK_ROUTE = "/v1/feedback"
RELOAD_ROUTE = "/v1/teacher/reload"
RETURN_HEADER = "X-WST-Return-Instruction"
INSTRUCTION_HEADER = "X-WST-Instruction"
INSTRUCTION_STATUS_HEADER = "X-WST-Instruction-Status"


def create_app(teacher: Instructor, student: Student, settings: ServeConfig,
               teacher_version: str = "",
               reload_teacher: Callable[[], tuple[Instructor, str]] | None = None) -> FastAPI:
    """The proxy app. ``settings.placement`` must be resolved (``prefix`` or ``system``);
    ``settings.max_tokens`` 0 means the student's own cap (``student.sampling.max_tokens``).
    ``teacher_version`` names the teacher in traffic log records (``traffic.teacher_version``).
    ``reload_teacher`` loads the teacher again from where the server was started and returns
    it with its version, for ``POST /v1/teacher/reload`` (without it that route is 404).

    Raises ServeError for a non-loopback ``settings.host`` without a token (see
    ``server_token``); the token is read from the environment here, once.
    """
    if settings.placement not in ("prefix", "system"):
        raise ValueError(f"placement must be prefix or system, not {settings.placement!r}")
    token = server_token(settings)
    max_tokens = settings.max_tokens or student.sampling.max_tokens
    teacher_queue = TeacherQueue(teacher, settings.teacher_batch, settings.teacher_queue,
                                 teacher_version)
    metrics = Metrics(lambda: teacher_queue.waiting)
    student_slots = asyncio.Semaphore(student.parallel)
    started_at = int(time.time())
    traffic = TrafficLog(settings.traffic_log, settings.traffic_max_bytes,
                         settings.traffic_redact, student=student.identity
                         ) if settings.traffic_log else None  # teacher: named per exchange
    reloading = threading.Lock()

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        yield
        teacher_queue.close()
        if traffic is not None:
            traffic.close()

    app = FastAPI(title="wst serve", lifespan=lifespan, docs_url=None, redoc_url=None,
                  openapi_url=None)
    app.state.metrics = metrics

    @app.middleware("http")
    async def guard(request: Request, call_next) -> Response:
        """Auth, then the route; counts and logs every request."""
        started = time.perf_counter()
        path = request.url.path
        route = route_label(path)
        request.state.info = {}
        request.state.started = started
        if token is not None and route != "/health" and not authorized(request, token):
            response: Response = error_response(401, "missing or wrong bearer token",
                                                "authentication_error", code="invalid_api_key")
            response.headers["WWW-Authenticate"] = "Bearer"
        else:
            try:
                response = await call_next(request)
            except Exception:
                log.exception("%s %s failed", request.method, path)
                response = error_response(500, "internal server error", "server_error")
        metrics.requests.labels(route, str(response.status_code)).inc()
        total_ms = (time.perf_counter() - started) * 1000
        info = request.state.info
        quiet = route != CHAT_ROUTE and response.status_code < 400  # probes, scrapes
        level = logging.DEBUG if quiet else logging.INFO
        log.log(level, "%s %s status=%d teacher_ms=%.0f student_ms=%.0f total_ms=%.0f "
                "instruction=%s stream=%s id=%s", request.method, path, response.status_code,
                info.get("teacher_ms", 0), info.get("student_ms", 0), total_ms,
                info.get("instruction", "-"), info.get("stream", "-"), info.get("id", "-"))
        if route == CHAT_ROUTE and response.status_code == 200:
            metrics.chat_seconds.observe(total_ms / 1000)
        return response

    async def instruction_for(question: str, info: dict[str, Any]) -> str | None:
        """The teacher's instruction for the start of ``question`` (``max_question_chars``),
        or None when the teacher failed, ran out of time or was busy."""
        started = time.perf_counter()
        try:
            return await wait_for_teacher(question[:settings.max_question_chars], info)
        finally:
            seconds = time.perf_counter() - started
            info["teacher_ms"] = seconds * 1000
            metrics.teacher_seconds.observe(seconds)

    async def wait_for_teacher(question: str, info: dict[str, Any]) -> str | None:
        """Queue the question and wait; a request that stops waiting abandons its job."""
        try:
            job = teacher_queue.submit(question)
        except TeacherBusy as exc:
            return teacher_failed("busy", info, exc)
        try:
            instruction = await asyncio.wait_for(asyncio.wrap_future(job.future),
                                                 settings.teacher_timeout_s)
            if not isinstance(instruction, str):
                raise TypeError(f"the teacher returned {type(instruction).__name__}, not str")
            info["instruction"] = "ok" if instruction.strip() else "empty"
            info["teacher"] = job.teacher
            return instruction.strip()
        except asyncio.TimeoutError:
            return teacher_failed("timeout", info,
                                  f"no instruction after {settings.teacher_timeout_s:g} s")
        except Exception as exc:
            return teacher_failed("error", info, f"{type(exc).__name__}: {exc}")
        finally:
            job.abandon()  # no-op once answered; else the teacher stops working on it

    def teacher_failed(reason: str, info: dict[str, Any], why: object) -> None:
        """Count and log a request that goes to the student without an instruction (None)."""
        metrics.teacher_failures.labels(reason).inc()
        info["instruction"] = reason
        log.warning("teacher %s (%s); answering without an instruction", reason, why)

    @app.post(CHAT_ROUTE)
    async def chat_completions(request: Request) -> Response:
        info = request.state.info
        try:
            chat = parse_chat(await read_body(request, settings.max_body_bytes),
                              settings.max_messages)
        except ApiError as exc:
            return exc.response()
        completion_id = f"chatcmpl-{uuid.uuid4().hex}"
        info.update(id=completion_id, stream=chat.stream)
        want_instruction = settings.return_instruction and request.headers.get(
            RETURN_HEADER, "").strip().lower() in {"1", "true", "yes"}

        instruction = await instruction_for(chat.question, info)
        messages = place_instruction(chat.messages, instruction, settings.placement)
        sampling = chat.sampling(student.sampling, max_tokens)
        started = time.perf_counter()
        try:
            async with student_slots:
                [answer] = await run_in_threadpool(student.answer, [messages], sampling)
        except BudgetExceeded as exc:
            metrics.student_failures.inc()
            log.error("student budget spent: %s", exc)
            return error_response(503, "the student's budget is spent", "server_error",
                                  code="student_budget_exceeded")
        except Exception as exc:
            metrics.student_failures.inc()
            log.error("student failed: %s: %s", type(exc).__name__, exc)
            return error_response(502, "the student model failed to answer", "server_error",
                                  code="student_error")
        finally:
            seconds = time.perf_counter() - started
            info["student_ms"] = seconds * 1000
            metrics.student_seconds.observe(seconds)

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

        def record_exchange(log_to: TrafficLog) -> None:
            """Add the answered request to the traffic log; a disk error is logged, the
            client still gets its answer."""
            try:
                log_to.exchange(
                    completion_id, question=chat.question, instruction=instruction,
                    instruction_status=info["instruction"], reply=answer.text,
                    finish_reason=finish, latency_s=time.perf_counter() - request.state.started,
                    teacher_s=info["teacher_ms"] / 1000, student_s=info["student_ms"] / 1000,
                    teacher=info.get("teacher", teacher_queue.version))
            except OSError as exc:
                log.error("traffic log: cannot record %s: %s", completion_id, exc)

        if not chat.stream:
            if traffic is not None:
                await run_in_threadpool(record_exchange, traffic)
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
        sent = iter(events) if traffic is None else logged_after(events,
                                                                 partial(record_exchange, traffic))
        return StreamingResponse(sent, media_type="text/event-stream",
                                 headers={**headers, "Cache-Control": "no-cache"})

    @app.post(FEEDBACK_ROUTE)
    async def feedback(request: Request) -> Response:
        """A user's rating of one answered request (``traffic.Feedback``)."""
        if traffic is None:
            return error_response(404, "feedback needs the traffic log: start wst serve with "
                                       "--traffic-log DIR (serve.traffic_log)",
                                  code="traffic_log_off")
        try:
            given = parse_feedback(await read_body(request, settings.max_body_bytes))
            request.state.info["id"] = given.id
            record = await run_in_threadpool(traffic.feedback, given.id, given.score,
                                             given.thumbs)
        except ApiError as exc:
            return exc.response()
        return JSONResponse({"object": "feedback", "id": given.id, "score": record["score"],
                             "thumbs": record["thumbs"]})

    @app.post(RELOAD_ROUTE)
    async def reload() -> Response:
        """Load the teacher again from where the server started (``reload_teacher``; never a
        path from the request: loading files named over HTTP would be a risk) and serve it."""
        if reload_teacher is None:
            return error_response(404, "this server cannot reload its teacher: it was started "
                                       "without a teacher loader (wst serve gives it one)",
                                  code="teacher_reload_unavailable")
        if not reloading.acquire(blocking=False):
            return error_response(409, "a teacher reload is already running; wait for its "
                                       "answer", code="teacher_reload_running")
        return await run_in_threadpool(reload_now, reload_teacher)

    def reload_now(load: Callable[[], tuple[Instructor, str]]) -> Response:
        """Load and swap with ``reloading`` held, on a thread: chat requests go on meanwhile,
        and a reload whose client hangs up still finishes (and only then lets another in)."""
        try:
            new_teacher, version = load()
            previous = teacher_queue.swap(new_teacher, version)
        except Exception as exc:
            metrics.teacher_reloads.labels("error").inc()
            log.error("teacher reload failed, the previous teacher keeps serving: %s: %s",
                      type(exc).__name__, exc)
            return error_response(500, f"loading the teacher failed ({type(exc).__name__}: "
                                       f"{exc}); the previous teacher keeps serving",
                                  "server_error", code="teacher_reload_failed")
        finally:
            reloading.release()
        metrics.teacher_reloads.labels("ok").inc()
        log.info("teacher reloaded: %s (was %s)", version or "-", previous or "-")
        return JSONResponse({"object": "teacher", "teacher": version or None,
                             "previous": previous or None})

    @app.get("/v1/models")
    async def models() -> dict[str, Any]:
        return {"object": "list", "data": [model_card(settings.model_name, started_at)]}

    @app.get("/v1/models/{model_id}")
    async def model(model_id: str) -> Response:
        if model_id != settings.model_name:
            return error_response(404, f"model {model_id!r} not found", code="model_not_found")
        return JSONResponse(model_card(settings.model_name, started_at))

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok", "model": settings.model_name}

    @app.get("/metrics")
    async def metrics_page() -> Response:
        return Response(metrics.render(), media_type=metrics.content_type)

    return app


def logged_after(events: list[str], record: Callable[[], None]) -> Iterator[str]:
    """``events``, calling ``record`` once all but the closing ``[DONE]`` are sent: a stream
    is logged when its whole reply went out, and before the client can ask to rate it."""
    yield from events[:-1]
    record()
    yield events[-1]


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
