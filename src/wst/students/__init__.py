"""Student backends behind one interface; ``make_student(config)`` picks one."""

from __future__ import annotations

import os

from wst.assets import cache_dir, resolve_model_path
from wst.config import StudentConfig
from wst.students.base import (
    Answer, Budget, BudgetExceeded, Messages, Request, Sampling, Student, StudentError, cut_share,
)
from wst.students.cache import ResponseCache


def default_cache() -> ResponseCache:
    """The shared on-disk answer cache under the wst cache folder."""
    return ResponseCache(cache_dir() / "student-cache.sqlite")


def auto_parallel(backend: str, cores: int | None = None) -> int:
    """Requests in flight when ``student.parallel`` is 0.

    llama.cpp on CPU: 4 slots measured best on 2 cores (1.3-1.6x the tokens/s of one), more
    slots on more cores; an HTTP API: 8 (``make_student`` gives a ``student.base_url`` list
    8 per endpoint); one in-process transformers model: 4 per batch.

    >>> auto_parallel("llamacpp", cores=2), auto_parallel("llamacpp", cores=16), auto_parallel("openai")
    (4, 8, 8)
    """
    cores = cores or os.cpu_count() or 1
    if backend == "llamacpp":
        return min(16, max(4, cores // 2))
    return 8 if backend == "openai" else 4


def make_student(config: StudentConfig) -> Student:
    """Build the student a config describes (loads the model for in-process backends)."""
    student = _backend(config)
    student.cache_sampled = config.cache_sampled
    return student


def _backend(config: StudentConfig) -> Student:
    sampling = Sampling(config.max_tokens, config.temperature, config.seed)
    endpoints = len(config.base_url) if isinstance(config.base_url, list) else 1
    parallel = config.parallel or auto_parallel(config.backend) * endpoints
    cache = default_cache() if config.cache else None
    price_input, price_output = config.prices.get(config.model, (0.0, 0.0))
    budget = Budget(config.max_calls, config.max_total_tokens, config.max_cost,
                    price_input, price_output)
    if config.backend == "llamacpp":
        from wst.students.llamacpp import LlamaCppStudent

        return LlamaCppStudent(
            resolve_model_path(config.model), sampling, parallel, config.threads,
            config.context_per_slot, cache, budget,
        )
    if config.backend == "openai":
        from wst.students.openai_http import OpenAIStudent

        assert config.base_url, "validated in config.validate"
        return OpenAIStudent(
            config.base_url, config.model, sampling, config.api_key_env, parallel,
            config.timeout_s, config.max_retries, cache, budget,
        )
    if config.backend == "hf":
        from wst.students.hf import HFStudent

        return HFStudent(config.model, sampling, parallel, cache, budget)
    raise ValueError(f"unknown student backend {config.backend!r}")


__all__ = [
    "Answer", "Budget", "BudgetExceeded", "Messages", "Request", "ResponseCache", "Sampling", "Student",
    "StudentError", "auto_parallel", "cut_share", "default_cache", "make_student",
]
