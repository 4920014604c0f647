"""The OpenAI chat-completions wire format: parsing requests, placing the instruction,
error bodies and streamed events."""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from typing import Any

from fastapi.responses import JSONResponse

from wst.students.base import Messages, Sampling

ROLES = {"system": "system", "developer": "system", "user": "user", "assistant": "assistant"}
"""Accepted message roles and the role the student sees (``developer`` is a system message)."""


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

    def sampling(self, default: Sampling, max_tokens: int) -> Sampling:
        """The request's sampling where it sets it, the student's defaults elsewhere; answers
        capped at ``max_tokens`` (``serve.max_tokens``), whatever the request asks.

        >>> ChatRequest([], max_tokens=5000).sampling(Sampling(max_tokens=320), 1024).max_tokens
        1024
        """
        asked = default.max_tokens if self.max_tokens is None else self.max_tokens
        return Sampling(
            max_tokens=min(asked, max_tokens),
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


def model_card(name: str, created: int) -> dict[str, Any]:
    return {"id": name, "object": "model", "created": created, "owned_by": "wst"}
