"""The server's Prometheus metrics (``GET /metrics``), kept by ``prometheus_client``.

Every label takes its values from a fixed set (routes, HTTP status codes, failure reasons),
so no client can add series: a path is counted under its route, ``/v1/models/{id}`` for any
model id, or ``other``.
"""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client import (CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge,
                               Histogram, generate_latest)
from prometheus_client.parser import text_string_to_metric_families

ROUTES = ("/v1/chat/completions", "/v1/feedback", "/v1/teacher/reload", "/v1/models",
          "/health", "/metrics")
MODEL_ROUTE = "/v1/models/{id}"
TEACHER_FAILURES = ("error", "timeout", "busy")
RELOAD_RESULTS = ("ok", "error")
LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0)
"""Seconds; a CPU box answers in tens of seconds (README), a GPU in well under one."""


def route_label(path: str) -> str:
    """The ``route`` label of a request path.

    >>> [route_label(p) for p in ("/health", "/v1/models/wst", "/v1/models/a/b", "/x")]
    ['/health', '/v1/models/{id}', '/v1/models/{id}', 'other']
    """
    if path in ROUTES:
        return path
    return MODEL_ROUTE if path.startswith("/v1/models/") else "other"


class Metrics:
    """The counters and latency histograms of one app, in a registry of its own (several apps
    may live in one process, e.g. in tests)."""

    content_type = CONTENT_TYPE_LATEST

    def __init__(self, teacher_waiting: Callable[[], float]) -> None:
        """``teacher_waiting``: how many questions wait for the teacher, read at each scrape."""
        self.registry = CollectorRegistry()
        self.requests = Counter("wst_requests", "HTTP requests by route and status code.",
                                ["route", "status"], registry=self.registry)
        self.teacher_failures = Counter(
            "wst_teacher_failures", "Requests sent on without an instruction because the "
            "teacher failed, timed out or was busy (its queue full).", ["reason"],
            registry=self.registry)
        for reason in TEACHER_FAILURES:
            self.teacher_failures.labels(reason)  # exported as 0 before the first failure
        self.teacher_reloads = Counter(
            "wst_teacher_reloads", "Teacher reloads (POST /v1/teacher/reload) by result; on "
            "an error the previous teacher kept serving.", ["result"], registry=self.registry)
        for result in RELOAD_RESULTS:
            self.teacher_reloads.labels(result)
        self.student_failures = Counter("wst_student_failures",
                                        "Chat requests the student failed.",
                                        registry=self.registry)
        self.teacher_seconds = self._histogram(
            "wst_teacher_seconds", "Time waiting for instructions (queue + generation).")
        self.student_seconds = self._histogram("wst_student_seconds",
                                               "Time waiting for student answers.")
        self.chat_seconds = self._histogram("wst_chat_request_seconds",
                                            "Time to answer a chat completion request.")
        Gauge("wst_teacher_waiting", "Questions waiting for the teacher (not yet generating).",
              registry=self.registry).set_function(teacher_waiting)

    def _histogram(self, name: str, documentation: str) -> Histogram:
        return Histogram(name, documentation, buckets=LATENCY_BUCKETS, registry=self.registry)

    def render(self) -> bytes:
        return generate_latest(self.registry)


def parse_metrics(text: str) -> dict[str, float]:
    """Samples of a Prometheus text page by name and labels, for tests and the load benchmark
    (``prometheus_client``'s parser; it raises ValueError on a malformed page).

    >>> parse_metrics('# TYPE x counter\\nx_total{a="1"} 2\\ny_sum 0.5\\n')
    {'x_total{a="1"}': 2.0, 'y_sum': 0.5}
    """
    samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            labels = ",".join(f'{key}="{value}"' for key, value in sample.labels.items())
            samples[f"{sample.name}{{{labels}}}" if labels else sample.name] = float(sample.value)
    return samples
