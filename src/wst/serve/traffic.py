"""The traffic log of ``wst serve --traffic-log DIR``: each answered exchange and each user
rating of it (``POST /v1/feedback``), on disk, for a teacher to learn from later.

Storage: JSON Lines, one record a line, appended to ``DIR/traffic.jsonl``; chosen over SQLite
because the three promises are each a few lines here and readable with any tool:

* nothing lost under concurrent writes: one lock around every append (and around the check
  that an id is known and not yet rated, so of two concurrent ratings exactly one wins);
* rotation by size: before a line would take the file past ``max_bytes``, the file is renamed
  to ``traffic.N.jsonl`` (N one past the highest there: higher is newer, nothing is renamed
  twice, nothing deleted) and a new one started. SQLite has no size rotation of its own;
* a kill loses at most the line being written: each line is flushed to the OS as one write,
  so a killed process keeps all earlier lines (a power cut may lose what the OS had not yet
  written: there is no fsync per request). A cut line is skipped by the reader with a warning,
  and a restarted server first ends it with a newline so the next record stays whole.

The stdlib's ``logging.handlers.RotatingFileHandler`` was the other candidate: it renames every
backup at each rollover and deletes the oldest past ``backupCount`` (training data), and it
reports write errors to stderr instead of raising, which feedback must not hide.

Records, in the same files so that one order and one rotation serve both (``read_traffic``
joins them):

* ``kind: "exchange"``: ``id`` (the response's ``id``, which feedback names), ``time`` (UTC,
  ISO 8601), ``question`` (the last user message, whole), ``instruction`` (null when the
  teacher failed), ``instruction_status`` (``ok``, ``empty``, ``timeout``, ``error``,
  ``busy``), ``reply``, ``finish_reason``, ``latency_s`` (from arrival until the reply is
  ready; for a stream, until its last chunk went out), ``teacher_s``, ``student_s``,
  ``teacher`` (``teacher_version``), ``student`` (its identity);
* ``kind: "feedback"``: ``id``, ``time``, ``score`` (0 to 1) or ``thumbs`` (``up``,
  ``down``), the other null.

No header, token or key is ever written: records hold only the fields named here. ``redact``
regexes replace every match in the question, instruction and reply with ``[REDACTED]`` before
anything is written (``(?s).+`` leaves out all text).

One server per folder: the ids it accepts feedback for are read from the folder when it starts
and kept in memory (one short string per exchange).
"""

from __future__ import annotations

import json
import logging
import re
import threading
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from wst.serve.protocol import ApiError

log = logging.getLogger("wst.serve.traffic")

ACTIVE_NAME = "traffic.jsonl"
ROTATED = re.compile(r"traffic\.(\d+)\.jsonl")
REDACTED = "[REDACTED]"


class Feedback(BaseModel):
    """The body of ``POST /v1/feedback``: a request id and exactly one of ``score`` (0 to 1)
    or ``thumbs``. Strict and closed, so ``"0.5"``, ``true`` or a misspelt field is refused
    rather than guessed."""

    model_config = ConfigDict(strict=True, extra="forbid")

    id: str = Field(min_length=1, max_length=200)
    score: float | None = Field(default=None, ge=0, le=1, allow_inf_nan=False)
    thumbs: Literal["up", "down"] | None = None

    @model_validator(mode="after")
    def _one_rating(self) -> Feedback:
        if (self.score is None) == (self.thumbs is None):
            raise ValueError("give exactly one of 'score' (a number from 0 to 1) or "
                             "'thumbs' ('up' or 'down')")
        return self


def parse_feedback(body: bytes) -> Feedback:
    """The feedback in a request body; ApiError(400) says what is wrong."""
    try:
        return Feedback.model_validate_json(body)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(map(str, e['loc'])) or 'body'}: {e['msg']}" for e in exc.errors())
        raise ApiError(400, f"invalid feedback: {problems}") from None


class TrafficLog:
    """Appends exchanges and feedback to ``folder`` (created if missing); thread-safe."""

    def __init__(self, folder: str | Path, max_bytes: int, redact: Sequence[str] = (),
                 teacher: str = "", student: str = ""):
        """``teacher``, ``student``: what every exchange record names as the teacher's
        version (``teacher_version``) and the student model."""
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.max_bytes = max_bytes
        self.patterns = [re.compile(pattern) for pattern in redact]
        self.teacher, self.student = teacher, student
        self._lock = threading.Lock()
        self._file: BinaryIO | None = None
        self._known: set[str] = set()
        self._rated: set[str] = set()
        for record in iter_records(self.folder):
            if record.get("kind") == "exchange":
                self._known.add(record["id"])
            elif record.get("kind") == "feedback":
                self._rated.add(record["id"])
        self._open()  # a log it cannot write fails here, at start, not on every request

    def exchange(self, request_id: str, *, question: str, instruction: str | None,
                 instruction_status: str, reply: str, finish_reason: str, latency_s: float,
                 teacher_s: float, student_s: float, teacher: str | None = None) -> None:
        """Record one answered request; feedback for ``request_id`` is accepted from now on.
        ``teacher``: the version of the teacher that wrote the instruction (None:
        ``self.teacher``); a server that swaps teachers names it per request."""
        record = {"kind": "exchange", "id": request_id, "time": _now(),
                  "question": self._redact(question), "instruction": self._redact(instruction),
                  "instruction_status": instruction_status, "reply": self._redact(reply),
                  "finish_reason": finish_reason, "latency_s": round(latency_s, 3),
                  "teacher_s": round(teacher_s, 3), "student_s": round(student_s, 3),
                  "teacher": self.teacher if teacher is None else teacher,
                  "student": self.student}
        with self._lock:
            self._append(record)
            self._known.add(request_id)

    def feedback(self, request_id: str, score: float | None = None,
                 thumbs: Literal["up", "down"] | None = None) -> dict[str, Any]:
        """Record the one rating of an exchange and return it; ApiError 404 for an id never
        logged here, 409 for an id already rated."""
        record = {"kind": "feedback", "id": request_id, "time": _now(), "score": score,
                  "thumbs": thumbs}
        with self._lock:
            if request_id not in self._known:
                raise ApiError(404, f"no exchange {request_id!r} in the traffic log",
                               param="id", code="unknown_request_id")
            if request_id in self._rated:
                raise ApiError(409, f"exchange {request_id!r} already has feedback",
                               param="id", code="feedback_exists")
            self._append(record)
            self._rated.add(request_id)
        return record

    def close(self) -> None:
        with self._lock:
            self._close_file()

    def _redact(self, text: str | None) -> str | None:
        if text is None:
            return None
        for pattern in self.patterns:
            text = pattern.sub(REDACTED, text)
        return text

    def _append(self, record: dict[str, Any]) -> None:
        """Write one line (the lock held): rotate first when it would pass ``max_bytes``."""
        line = (json.dumps(record) + "\n").encode()
        handle = self._open()
        if handle.tell() and handle.tell() + len(line) > self.max_bytes:
            self._rotate()
            handle = self._open()
        try:
            handle.write(line)
            handle.flush()
        except OSError:
            self._close_file()  # reopened next time, and a cut line then ended
            raise

    def _open(self) -> BinaryIO:
        """The active file, opened for appending; a line cut by a kill is ended first."""
        if self._file is None:
            self._file = (self.folder / ACTIVE_NAME).open("ab")
            if self._file.tell() and not _ends_with_newline(self.folder / ACTIVE_NAME):
                self._file.write(b"\n")
                self._file.flush()
        return self._file

    def _close_file(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None

    def _rotate(self) -> None:
        self._close_file()
        numbers = [_number(path) for path in self.folder.glob("traffic.*.jsonl")]
        target = self.folder / f"traffic.{max(numbers, default=0) + 1}.jsonl"
        (self.folder / ACTIVE_NAME).rename(target)
        log.info("traffic log rotated: %s", target)


def log_files(folder: str | Path) -> list[Path]:
    """The log's files, oldest first: ``traffic.1.jsonl``, ``traffic.2.jsonl``, ...,
    ``traffic.jsonl`` (the one being written)."""
    folder = Path(folder)
    rotated = sorted((path for path in folder.glob("traffic.*.jsonl")
                      if ROTATED.fullmatch(path.name)), key=_number)
    active = folder / ACTIVE_NAME
    return rotated + ([active] if active.is_file() else [])


def iter_records(folder: str | Path) -> Iterator[dict[str, Any]]:
    """Every record in the order written; a line that is not a JSON object (cut by a kill) is
    skipped with a warning naming file and line."""
    for path in log_files(folder):
        with path.open("rb") as fh:
            for number, line in enumerate(fh, 1):
                if not line.strip():
                    continue
                try:
                    record = json.loads(line)
                except ValueError:
                    record = None
                if isinstance(record, dict) and isinstance(record.get("id"), str):
                    yield record
                else:
                    log.warning("skipping a damaged line in the traffic log: %s:%d",
                                path, number)


def read_traffic(folder: str | Path) -> list[dict[str, Any]]:
    """The logged exchanges, oldest first, each with ``feedback``: its feedback record (``time``,
    ``score``, ``thumbs``; one of the two set) or None: what a training run on the logged
    traffic reads."""
    exchanges: list[dict[str, Any]] = []
    ratings: dict[str, dict[str, Any]] = {}
    for record in iter_records(folder):
        if record.get("kind") == "feedback":
            ratings.setdefault(record["id"], record)
        elif record.get("kind") == "exchange":
            exchanges.append(record)
    return [{**exchange, "feedback": ratings.get(exchange["id"])} for exchange in exchanges]


def teacher_version(model: str, adapter: str | None) -> str:
    """What exchange records name as the teacher: ``model[+adapter]@<first 12 hex of the
    weights' sha256>`` for a local folder or file (the adapter's when there is one), so a
    retrained teacher in the same folder reads differently; the bare name for a hub model or
    an ``embedded:`` one (both pinned by name). Hashing is memoised per file version
    (``wst.assets.sha256_of``), so only the first start after training pays seconds."""
    from wst.assets import sha256_of, weights_sha256

    name = f"{model}+{adapter}" if adapter else model
    weights = Path(adapter or model)
    if weights.is_dir():
        digest = weights_sha256(weights)
    else:
        digest = sha256_of(weights) if weights.is_file() else None
    return f"{name}@{digest[:12]}" if digest else name


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def _number(path: Path) -> int:
    match = ROTATED.fullmatch(path.name)
    return int(match.group(1)) if match else 0


def _ends_with_newline(path: Path) -> bool:
    with path.open("rb") as fh:
        fh.seek(-1, 2)
        return fh.read(1) == b"\n"
