"""Any OpenAI-compatible chat endpoint (vLLM, llama.cpp server, Ollama, OpenAI), or several
serving the same model.

Retries, exponential backoff with jitter and ``Retry-After`` handling on timeouts, 429 and 5xx
come from the official ``openai`` client (``max_retries``, one client per endpoint); with
several endpoints, ``wst.students.endpoints`` spreads requests over them and moves a request
off an endpoint that is down. The key is read from an environment variable and never stored
in config, cache keys or logs.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING

import httpx

from wst.students.base import Answer, Budget, Request, Sampling, Student, token_probs
from wst.students.cache import ResponseCache
from wst.students.endpoints import EndpointPool

if TYPE_CHECKING:
    from openai import OpenAI
    from openai.types import Completion
    from openai.types.chat import ChatCompletion

log = logging.getLogger(__name__)

VERSION_FIELDS = ("id", "root", "parent", "version", "meta", "owned_by")
"""Fields of a ``/models`` entry that say which weights serve a name (``created`` is left
out: vLLM reports the time of the request there)."""


class OpenAIStudent(Student):
    """A model behind ``base_url``: one endpoint, or a list of endpoints serving the same
    model (requests go to the least loaded; see ``EndpointPool``)."""

    def __init__(
        self,
        base_url: str | Sequence[str],
        model: str,
        sampling: Sampling,
        api_key_env: str = "OPENAI_API_KEY",
        parallel: int = 8,
        timeout_s: float = 120.0,
        max_retries: int = 5,
        cache: ResponseCache | None = None,
        budget: Budget | None = None,
        backoff_s: float = 30.0,
    ):
        super().__init__(sampling, parallel, cache, budget)
        urls = [base_url] if isinstance(base_url, str) else list(base_url)
        self.model = model
        # httpx runs a sync client's hooks in the calling thread, so a thread-local counter
        # sees exactly the HTTP attempts of the request this thread is making.
        self._attempts = threading.local()
        self._lock = threading.Lock()
        key = os.environ.get(api_key_env) or "not-needed"
        clients = [(url, self._client(url, key, timeout_s, max_retries)) for url in urls]
        self.pool: EndpointPool[OpenAI] = EndpointPool(clients, _is_outage, backoff_s)
        # Every endpoint serves the same model, so the key names the first one configured,
        # never the one that answered: an answer is cached once, whichever endpoint gave it.
        self._identity = f"openai:{urls[0]}:{model}"
        version = self._server_version()
        if version:
            self._identity += f":{version}"

    def _client(self, url: str, key: str, timeout_s: float, max_retries: int) -> OpenAI:
        from openai import OpenAI

        http = httpx.Client(event_hooks={"request": [self._count_attempt]})
        return OpenAI(base_url=url, api_key=key, timeout=timeout_s, max_retries=max_retries,
                      http_client=http)

    @property
    def identity(self) -> str:
        return self._identity

    def _server_version(self) -> str | None:
        """A short hash of what the first reachable endpoint reports about ``model`` in
        ``/models`` besides its name (vLLM's ``root``/``parent``, llama.cpp's ``meta``, a
        ``version``), so that a different model served under the same name gets its own cache
        entries; None when the server reports nothing (one quick try per endpoint, no retries:
        many servers have no ``/models``)."""
        from openai import APIConnectionError

        for endpoint in self.pool.endpoints:
            try:
                listed = endpoint.client.with_options(max_retries=0, timeout=5).models.list().data
            except APIConnectionError:
                log.info("%s: unreachable, no model list from it", endpoint.name)
                continue
            except Exception as exc:  # noqa: BLE001 - any failure just means "no version known"
                log.info("%s: no model list from the server (%s); the cache keys on the model "
                         "name alone", endpoint.name, type(exc).__name__)
                return None
            return _version_hash(listed, self.model)
        return None

    def _count_attempt(self, request: httpx.Request) -> None:
        self._attempts.count = getattr(self._attempts, "count", 0) + 1

    def _answer_one(self, messages: Request, sampling: Sampling) -> Answer:
        self._attempts.count = 0
        try:
            response = self.pool.call(lambda client: self._request(client, messages, sampling))
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

    def _request(self, client: OpenAI, messages: Request,
                 sampling: Sampling) -> Completion | ChatCompletion:
        """One completion from one endpoint's client (a chat, or a plain prompt)."""
        params = {"model": self.model, "max_tokens": sampling.max_tokens,
                  "temperature": sampling.temperature}
        if sampling.seed is not None:
            params["seed"] = sampling.seed
        if isinstance(messages, str):
            return client.completions.create(prompt=messages, **params)
        if sampling.top_logprobs:
            params.update(logprobs=True, top_logprobs=sampling.top_logprobs)
        return client.chat.completions.create(messages=messages, **params)

    def close(self) -> None:
        for endpoint in self.pool.endpoints:
            endpoint.client.close()


def _is_outage(error: Exception) -> bool:
    """The endpoint, not the request, is at fault: unreachable, timed out or a 5xx (after
    the client's retries), so the request may succeed on another endpoint."""
    from openai import APIConnectionError, InternalServerError

    return isinstance(error, (APIConnectionError, InternalServerError))


def _version_hash(listed: list, model: str) -> str | None:
    """A short hash of the ``/models`` entry of ``model`` (of the only entry, as llama.cpp
    names its one model by file path), None when it reports nothing beyond the name."""
    entry = next((m for m in listed if m.id == model), None)
    if entry is None and len(listed) == 1:
        entry = listed[0]
    details = {k: v for k, v in (entry.model_dump() if entry else {}).items()
               if k in VERSION_FIELDS and v}
    if not details:
        return None
    return hashlib.sha256(json.dumps(details, sort_keys=True, default=str).encode()
                          ).hexdigest()[:12]


def _first_token_probs(choice: object) -> dict[str, float] | None:
    """First-token alternatives of a chat choice that carries ``logprobs``, else None."""
    content = getattr(getattr(choice, "logprobs", None), "content", None)
    if not content or not content[0].top_logprobs:
        return None
    return token_probs([{"token": t.token, "logprob": t.logprob} for t in content[0].top_logprobs])
