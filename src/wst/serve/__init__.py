"""Deploy a trained teacher: an OpenAI-compatible proxy in front of the student (``wst serve``).

For each ``POST /v1/chat/completions`` the teacher writes an instruction for the last user
message, the instruction is placed into the chat (``serve.placement``: ``system`` or
``prefix``, as in training) and the student answers; the client gets the student's answer as
an OpenAI ``chat.completion`` (or ``chat.completion.chunk`` events with ``stream: true``).

* The teacher runs on one worker thread (one ``generate`` at a time; questions that arrive
  while it runs are answered together by the next, batched call, up to
  ``serve.teacher_batch``), with a token cap (the teacher's ``max_instruction_tokens``), a
  timeout (``serve.teacher_timeout_s``, counting the wait in its queue) and a bounded queue
  (``serve.teacher_queue`` waiting questions). It sees the first ``serve.max_question_chars``
  characters of the last user message (the student gets all of it). When it fails, times
  out or its queue is full, the request goes to the student without an instruction; that is
  logged and counted in ``/metrics``, never dropped. A request that times out leaves the
  queue if still waiting; a generation whose requests have all timed out is stopped at its
  next token (``TeacherInstructor.instruct_many(..., should_stop=...)``), so it does not keep
  the teacher busy up to its token cap.
* Student calls run on threads, at most ``student.parallel`` at a time (llama.cpp slots).
* The instruction is returned only when the client sends ``X-WST-Return-Instruction: 1`` (and
  ``serve.return_instruction`` is on): in the response header ``X-WST-Instruction``,
  URL-encoded UTF-8 (``urllib.parse.unquote`` reads it; chosen over base64 because it stays
  readable), plus ``X-WST-Instruction-Status`` (``ok``, ``empty``, ``timeout``, ``error``,
  ``busy``), and as ``wst_instruction`` in the JSON body (in the first chunk when streaming;
  null when the teacher failed).
* Safety: a bearer token from ``$WST_SERVE_TOKEN`` (``serve.token_env``) is required to
  bind anything but loopback and checked on every route but ``/health`` whenever it is set;
  bodies over ``serve.max_body_bytes`` get 413, more than ``serve.max_messages`` messages
  400, malformed JSON or a missing ``messages`` list 400, all with OpenAI-style error bodies.
* Observability: one log line per request (status, teacher ms, student ms, total ms, whether
  an instruction was placed; never the content) and ``prometheus_client`` metrics on
  ``/metrics`` (``wst.serve.metrics``: request counts by route and status, teacher failures by
  reason, student failures, latency histograms, questions waiting); every label comes from a
  fixed set, so clients cannot add series.
* Traffic log (``serve.traffic_log``, off by default; ``wst.serve.traffic``): each answered
  request as one JSON line (its response ``id``, question, instruction, reply, latency,
  teacher version, student), and ``POST /v1/feedback`` (``{"id": ..., "score": 0.7}`` or
  ``{"id": ..., "thumbs": "up"}``, authenticated like every route) records one rating per id:
  400 for a bad value, 404 for an unknown id (or with the log off), 409 for a second rating.
  A stream is logged once its whole reply is sent, before its ``[DONE]``.
* Hot swap: ``POST /v1/teacher/reload`` (authenticated like every route) loads the teacher
  again from where the server was started, never from a path in the request (``wst export``
  into the same folder, then reload), on a thread while requests go on, and swaps it in
  (``TeacherQueue.swap``): a batch already generating finishes on the old teacher, the queued
  questions go to the new one, none is dropped; the old one is closed after its last batch
  (both are in memory meanwhile). It answers ``{"object": "teacher", "teacher": <version>,
  "previous": <version or null>}``; 409 while another reload runs, 500 naming the error when
  the load fails (the old teacher keeps serving), 404 for an app made without
  ``reload_teacher``. Traffic records name the teacher that wrote their instruction.

Supported request fields: ``messages`` (system, developer, user and assistant messages;
string content or a list of text parts), ``max_tokens`` / ``max_completion_tokens``
(capped at ``serve.max_tokens``, by default ``student.max_tokens``: a larger ask is not an
error, and ``finish_reason`` is ``length`` when the answer reaches the cap),
``temperature``, ``seed``, ``stream``, ``stream_options.include_usage`` and ``n = 1``; others
(``top_p``, tools, ...) are ignored. The teacher sees only the last user message.
"""

from wst.serve.app import BackgroundServer, create_app, run_server
from wst.serve.metrics import Metrics, parse_metrics, route_label
from wst.serve.protocol import ApiError, ChatRequest, parse_chat, place_instruction
from wst.serve.security import ServeError, is_loopback, server_token
from wst.serve.teacher_queue import Instructor, Job, TeacherBusy, TeacherQueue
from wst.serve.traffic import TrafficLog, read_traffic, teacher_version

__all__ = [
    "ApiError", "BackgroundServer", "ChatRequest", "Instructor", "Job", "Metrics", "ServeError",
    "TeacherBusy", "TeacherQueue", "TrafficLog", "create_app", "is_loopback", "parse_chat",
    "parse_metrics", "place_instruction", "read_traffic", "route_label", "run_server",
    "server_token", "teacher_version",
]
