"""Any OpenAI-compatible chat endpoint (vLLM, llama.cpp server, Ollama, OpenAI).

Retries, exponential backoff with jitter and ``Retry-After`` handling on timeouts, 429 and 5xx
come from the official ``openai`` client (``max_retries``); the key is read from an
environment variable and never stored in config, cache keys or logs.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import threading

import httpx

from wst.students.base import Answer, Budget, Request, Sampling, Student, token_probs
from wst.students.cache import ResponseCache

log = logging.getLogger(__name__)

VERSION_FIELDS = ("id", "root", "parent", "version", "meta", "owned_by")
"""Fields of a ``/models`` entry that say which weights serve a name (``created`` is left
out: vLLM reports the time of the request there)."""


class OpenAIStudent(Student):
    def __init__(
        self,
        base_url: str,
        model: str,
        sampling: Sampling,
        api_key_env: str = "OPENAI_API_KEY",
        parallel: int = 8,
        timeout_s: float = 120.0,
        max_retries: int = 5,
        cache: ResponseCache | None = None,
        budget: Budget | None = None,
    ):
        super().__init__(sampling, parallel, cache, budget)
        from openai import OpenAI

        self.base_url = base_url
        self.model = model
        # httpx runs a sync client's hooks in the calling thread, so a thread-local counter
        # sees exactly the HTTP attempts of the request this thread is making.
        self._attempts = threading.local()
        self._lock = threading.Lock()
        http = httpx.Client(event_hooks={"request": [self._count_attempt]})
        self._client = OpenAI(
            base_url=base_url,
            api_key=os.environ.get(api_key_env) or "not-needed",
            timeout=timeout_s,
            max_retries=max_retries,
            http_client=http,
        )

        self._identity = f"openai:{base_url}:{model}"
        version = self._server_version()
        if version:
            self._identity += f":{version}"

    @property
    def identity(self) -> str:
        return self._identity

    def _server_version(self) -> str | None:
        """A short hash of what the server reports about ``model`` in ``/models`` besides its
        name (vLLM's ``root``/``parent``, llama.cpp's ``meta``, a ``version``), so that a
        different model served under the same name gets its own cache entries; None when the
        server reports nothing (one quick try, no retries: many servers have no ``/models``)."""
        try:
            listed = self._client.with_options(max_retries=0, timeout=5).models.list().data
        except Exception as exc:  # noqa: BLE001 - any failure just means "no version known"
            log.info("%s: no model list from the server (%s); the cache keys on the model "
                     "name alone", self.base_url, type(exc).__name__)
            return None
        entry = next((m for m in listed if m.id == self.model), None)
        if entry is None and len(listed) == 1:  # llama.cpp names its one model by file path
            entry = listed[0]
        details = {k: v for k, v in (entry.model_dump() if entry else {}).items()
                   if k in VERSION_FIELDS and v}
        if not details:
            return None
        return hashlib.sha256(json.dumps(details, sort_keys=True, default=str).encode()
                              ).hexdigest()[:12]

    def _count_attempt(self, request: httpx.Request) -> None:
        self._attempts.count = getattr(self._attempts, "count", 0) + 1

    def _answer_one(self, messages: Request, sampling: Sampling) -> Answer:
        self._attempts.count = 0
        try:
            params = {"model": self.model, "max_tokens": sampling.max_tokens,
                      "temperature": sampling.temperature}
            if sampling.seed is not None:
                params["seed"] = sampling.seed
            if isinstance(messages, str):
                response = self._client.completions.create(prompt=messages, **params)
            else:
                if sampling.top_logprobs:
                    params.update(logprobs=True, top_logprobs=sampling.top_logprobs)
                response = self._client.chat.completions.create(messages=messages, **params)
        except Exception as exc:
            raise RuntimeError(f"{self.identity}: {type(exc).__name__}: {exc}") from exc
        finally:
            with self._lock:
                self.usage.retries += max(0, self._attempts.count - 1)
        if not response.choices:
            raise ValueError(f"{self.identity}: response has no choices")
        usage = response.usage
        choice = response.choices[0]
        text = choice.text if isinstance(messages, str) else choice.message.content
        return Answer(
            text=text or "",
            completion_tokens=usage.completion_tokens if usage else 0,
            prompt_tokens=usage.prompt_tokens if usage else 0,
            first_token_probs=_first_token_probs(choice),
        )

    def close(self) -> None:
        self._client.close()


def _first_token_probs(choice: object) -> dict[str, float] | None:
    """First-token alternatives of a chat choice that carries ``logprobs``, else None."""
    content = getattr(getattr(choice, "logprobs", None), "content", None)
    if not content or not content[0].top_logprobs:
        return None
    return token_probs([{"token": t.token, "logprob": t.logprob} for t in content[0].top_logprobs])
