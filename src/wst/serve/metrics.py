"""Prometheus-style counters and latency sums of the server (``GET /metrics``)."""

from __future__ import annotations

import threading


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
