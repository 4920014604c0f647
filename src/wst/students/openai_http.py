"""Any OpenAI-compatible chat endpoint (vLLM, llama.cpp server, Ollama, OpenAI).

Retries, exponential backoff with jitter and ``Retry-After`` handling on timeouts, 429 and 5xx
come from the official ``openai`` client (``max_retries``); the key is read from an
environment variable and never stored in config, cache keys or logs.
"""

from __future__ import annotations

import os

from wst.students.base import Answer, Messages, Sampling, Student
from wst.students.cache import ResponseCache


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
    ):
        super().__init__(sampling, parallel, cache)
        from openai import OpenAI

        self.base_url = base_url
        self.model = model
        self._client = OpenAI(
            base_url=base_url,
            api_key=os.environ.get(api_key_env) or "not-needed",
            timeout=timeout_s,
            max_retries=max_retries,
        )

    @property
    def identity(self) -> str:
        return f"openai:{self.base_url}:{self.model}"

    def _answer_one(self, messages: Messages, sampling: Sampling) -> Answer:
        response = self._client.chat.completions.create(
            model=self.model,
            messages=messages,  # type: ignore[arg-type]
            max_tokens=sampling.max_tokens,
            temperature=sampling.temperature,
            seed=sampling.seed,
        )
        choice = response.choices[0]
        tokens = response.usage.completion_tokens if response.usage else 0
        return Answer(text=choice.message.content or "", completion_tokens=tokens)

    def close(self) -> None:
        self._client.close()
