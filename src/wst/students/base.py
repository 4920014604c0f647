"""The Student interface: answer many chat requests at once, concurrently and cached."""

from __future__ import annotations

import logging
import math
import time
from abc import ABC, abstractmethod
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, fields, replace

from wst.students.cache import ResponseCache

log = logging.getLogger(__name__)

Messages = list[dict[str, str]]
Request = Messages | str
"""A chat (list of messages, the model's chat template applies) or a plain-completion prompt."""


class StudentError(RuntimeError):
    """The student backend cannot answer at all (every request of a batch failed)."""


class BudgetExceeded(StudentError):
    """A batch would go past the configured limit on student calls, tokens or money."""


@dataclass(frozen=True)
class Budget:
    """Limits on a student's work (0 = no limit) and its price, per million tokens."""

    max_calls: int = 0
    max_tokens: int = 0
    max_cost: float = 0.0
    price_input: float = 0.0
    price_output: float = 0.0

    def cost(self, prompt_tokens: int, completion_tokens: int) -> float:
        return (prompt_tokens * self.price_input + completion_tokens * self.price_output) / 1e6

    def share(self, parts: int) -> Budget:
        """One of ``parts`` equal shares of every limit (a set limit stays at least 1 call or
        token): each of N training processes counts only its own calls, so each gets 1/N and
        together they never pass the limit.

        >>> Budget(max_calls=10, max_tokens=0, max_cost=1.0).share(4)
        Budget(max_calls=2, max_tokens=0, max_cost=0.25, price_input=0.0, price_output=0.0)
        """
        def part(limit: int) -> int:
            return max(1, limit // parts) if limit else 0

        return replace(self, max_calls=part(self.max_calls), max_tokens=part(self.max_tokens),
                       max_cost=self.max_cost / parts)

    def check(self, usage: Usage, new_calls: int, who: str = "student") -> None:
        """Raise BudgetExceeded if ``new_calls`` more calls would pass a limit."""
        if self.max_calls and usage.calls + new_calls > self.max_calls:
            raise BudgetExceeded(f"{who} call budget: {usage.calls} made, {new_calls} more "
                                 f"would pass the limit of {self.max_calls}")
        tokens = usage.prompt_tokens + usage.completion_tokens
        if self.max_tokens and tokens >= self.max_tokens:
            raise BudgetExceeded(f"{who} token budget spent: {tokens} >= {self.max_tokens}")
        if self.max_cost and usage.cost >= self.max_cost:
            raise BudgetExceeded(f"{who} money budget spent: {usage.cost:.4f} >= "
                                 f"{self.max_cost}")


@dataclass(frozen=True)
class Sampling:
    """Sampling parameters sent with every request; part of the cache key."""

    max_tokens: int = 320
    temperature: float = 0.0
    seed: int | None = 0
    """None: a fresh random seed per request (independent samples; never cached)."""
    top_logprobs: int = 0
    """Return this many alternatives of the first answer token with their probabilities
    (``Answer.first_token_probs``; 0 = none). Judges read a verdict's probability from them;
    backends that cannot (``hf``, plain prompts) return None."""

    @property
    def deterministic(self) -> bool:
        """Greedy decoding (the answer is a function of the request)."""
        return self.temperature == 0.0

    def cacheable(self, cache_sampled: bool = False) -> bool:
        """Greedy or seeded answers repeat, so they may be cached; an unseeded sample is one
        draw of a distribution, and replaying it would hide the variance the caller asked for
        (unless ``cache_sampled``)."""
        return self.deterministic or self.seed is not None or cache_sampled


@dataclass(frozen=True)
class Answer:
    """One student answer; ``ok`` is False when the call failed (the text is then empty)."""

    text: str
    completion_tokens: int = 0
    prompt_tokens: int = 0
    ok: bool = True
    error: str | None = None
    cached: bool = False
    first_token_probs: dict[str, float] | None = None
    """Probability of each of the ``Sampling.top_logprobs`` likeliest first tokens."""


def cut_share(answers: list[Answer], max_tokens: int) -> float:
    """Share of answers that used the whole answer-token cap, so were most likely cut before
    their final answer.

    >>> cut_share([Answer("a", completion_tokens=8), Answer("b", completion_tokens=3)], 8)
    0.5
    """
    return sum(a.completion_tokens >= max_tokens for a in answers) / len(answers) if answers else 0.0


def token_probs(top_logprobs: list[dict]) -> dict[str, float]:
    """``{token: probability}`` from OpenAI-style ``[{"token": ..., "logprob": ...}]``.

    >>> token_probs([{"token": "Yes", "logprob": 0.0}, {"token": "No", "logprob": math.log(0.25)}])
    {'Yes': 1.0, 'No': 0.25}
    """
    probs: dict[str, float] = {}
    for alternative in top_logprobs:
        token = alternative["token"]
        probs[token] = probs.get(token, 0.0) + math.exp(alternative["logprob"])
    return probs


@dataclass
class Usage:
    """Running totals of a student's work, shown in logs and reports."""

    calls: int = 0
    """Requests sent to the backend (cache hits excluded)."""
    cache_hits: int = 0
    failures: int = 0
    """Requests that failed after the backend's retries."""
    retries: int = 0
    """Extra attempts the backend made (timeouts, 429, 5xx)."""
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost: float = 0.0
    """Money spent at the configured prices (0 for local students)."""
    seconds: float = 0.0

    def since(self, earlier: Usage) -> Usage:
        """The work done after ``earlier`` (a copy taken with ``dataclasses.replace``)."""
        return Usage(*(getattr(self, f.name) - getattr(earlier, f.name) for f in fields(self)))


class Student(ABC):
    """A frozen model behind one small interface.

    Backends implement ``_answer_one``; this class adds concurrency (``parallel`` requests in
    flight, which keeps llama.cpp slots or an API's concurrency full), the response cache,
    failure accounting and usage totals.
    """

    def __init__(self, sampling: Sampling, parallel: int = 4, cache: ResponseCache | None = None,
                 budget: Budget | None = None, cache_sampled: bool = False):
        self.sampling = sampling
        self.parallel = max(1, parallel)
        self.cache = cache
        self.cache_sampled = cache_sampled
        self.budget = budget or Budget()
        self.usage = Usage()

    @property
    @abstractmethod
    def identity(self) -> str:
        """Backend and model identity (for cache keys and reports); never holds secrets."""

    @abstractmethod
    def _answer_one(self, messages: Request, sampling: Sampling) -> Answer:
        """Answer one request; raise on failure (the caller records it)."""

    def answer(self, batch: list[Request], sampling: Sampling | None = None) -> list[Answer]:
        """Answers for a batch of requests (chats or plain prompts), in order.

        A request that fails is returned as ``Answer(ok=False)`` and logged, so one bad call
        never crashes a run; a batch in which every request fails raises StudentError.
        """
        sampling = sampling or self.sampling
        started = time.perf_counter()
        results: list[Answer | None] = [None] * len(batch)
        todo: list[int] = []
        first_asked: dict[str, int] = {}
        repeats: list[tuple[int, int]] = []  # (index, index of the same request asked first)
        for index, messages in enumerate(batch):
            hit = self._cache_get(messages, sampling)
            if hit is not None:
                results[index] = hit
                continue
            # A repeatable (greedy or seeded) request asked twice in one batch, as when a
            # teacher samples the same instruction twice for a question, is answered once.
            key = (ResponseCache.key(self.identity, messages, sampling)
                   if sampling.cacheable(self.cache_sampled) else None)
            if key in first_asked:
                repeats.append((index, first_asked[key]))
                continue
            if key is not None:
                first_asked[key] = index
            todo.append(index)
        self.budget.check(self.usage, len(todo), self.identity)
        fresh = self._answer_many([batch[i] for i in todo], sampling)
        for index, result in zip(todo, fresh):
            results[index] = result
            if result.ok:
                self._cache_put(batch[index], sampling, result)
        for index, first in repeats:
            results[index] = replace(results[first], cached=results[first].ok)
        self._account(results, len(todo), time.perf_counter() - started)
        if todo and not any(r.ok for r in results if r is not None):
            raise StudentError(f"{self.identity}: all {len(todo)} requests failed; first error: "
                               f"{fresh[0].error}")
        return results  # type: ignore[return-value]

    def _answer_many(self, batch: list[Request], sampling: Sampling) -> list[Answer]:
        """Answers for the uncached requests of a batch, in order, failures as ``ok=False``.

        The default runs ``_answer_one`` for up to ``parallel`` requests at a time on threads;
        a backend that batches natively (one padded ``generate`` call) overrides this.
        """
        with ThreadPoolExecutor(max_workers=self.parallel) as pool:
            return list(pool.map(lambda messages: self._safe_answer(messages, sampling), batch))

    def close(self) -> None:
        """Release the backend's resources."""

    def _safe_answer(self, messages: Request, sampling: Sampling) -> Answer:
        try:
            return self._answer_one(messages, sampling)
        except Exception as exc:  # any backend failure becomes a scored failure, logged
            log.warning("%s: request failed: %s", self.identity, exc)
            return Answer(text="", ok=False, error=f"{type(exc).__name__}: {exc}")

    def _cache_get(self, messages: Request, sampling: Sampling) -> Answer | None:
        if self.cache is None or not sampling.cacheable(self.cache_sampled):
            return None
        hit = self.cache.get(self.identity, messages, sampling)
        if hit is None:
            return None
        text, tokens, probs = hit
        return Answer(text=text, completion_tokens=tokens, cached=True, first_token_probs=probs)

    def _cache_put(self, messages: Request, sampling: Sampling, answer: Answer) -> None:
        if self.cache is not None and sampling.cacheable(self.cache_sampled):
            self.cache.put(self.identity, messages, sampling, answer.text, answer.completion_tokens,
                           answer.first_token_probs)

    def _account(self, results: list[Answer | None], calls: int, seconds: float) -> None:
        self.usage.calls += calls
        self.usage.seconds += seconds
        for result in results:
            assert result is not None
            self.usage.cache_hits += result.cached
            self.usage.failures += not result.ok
            if not result.cached:
                self.usage.prompt_tokens += result.prompt_tokens
                self.usage.completion_tokens += result.completion_tokens
                self.usage.cost += self.budget.cost(result.prompt_tokens, result.completion_tokens)
