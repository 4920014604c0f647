"""On-disk cache of deterministic student answers (SQLite in WAL mode).

A GRPO run asks the same student the same question many times (the "no instruction"
baseline in every evaluation, repeated instructions during training); with temperature 0
the answer is a function of the request, so it is stored once and reused across runs.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
import time
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # any dataclass of sampling parameters (wst.students.Sampling); the cache
    # is the students' lower layer and does not import them
    from _typeshed import DataclassInstance as Sampling


SET_UP_TIMEOUT_S = 30.0
"""How long opening a cache waits for another process setting up the same file."""


class ResponseCache:
    """Thread-safe map from (student identity, messages, sampling) to (text, tokens)."""

    def __init__(self, path: Path):
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, check_same_thread=False, timeout=30)
        # Two processes creating the file at once: SQLite's busy timeout does not cover the
        # switch to WAL, which then fails at once with "database is locked"; retry, bounded.
        deadline = time.monotonic() + SET_UP_TIMEOUT_S
        while True:
            try:
                return self._set_up()
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or time.monotonic() > deadline:
                    raise
                time.sleep(0.1)

    def _set_up(self) -> None:
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS answers "
            "(key TEXT PRIMARY KEY, text TEXT, tokens INTEGER, student TEXT, probs TEXT)"
        )
        columns = {row[1] for row in self._db.execute("PRAGMA table_info(answers)")}
        if "probs" not in columns:  # a cache written before first-token probabilities
            self._db.execute("ALTER TABLE answers ADD COLUMN probs TEXT")
        self._db.commit()

    @staticmethod
    def key(identity: str, messages: Any, sampling: Sampling) -> str:
        payload = json.dumps([identity, messages, asdict(sampling)], sort_keys=True)
        return hashlib.sha256(payload.encode()).hexdigest()

    def get(self, identity: str, messages: Any,
            sampling: Sampling) -> tuple[str, int, dict[str, float] | None] | None:
        """(text, completion tokens, first-token probabilities) or None."""
        with self._lock:
            row = self._db.execute(
                "SELECT text, tokens, probs FROM answers WHERE key = ?",
                (self.key(identity, messages, sampling),),
            ).fetchone()
        return None if row is None else (row[0], row[1], row[2] and json.loads(row[2]))

    def put(self, identity: str, messages: Any, sampling: Sampling, text: str, tokens: int,
            probs: dict[str, float] | None = None) -> None:
        with self._lock:
            self._db.execute(
                "INSERT OR REPLACE INTO answers (key, text, tokens, student, probs) "
                "VALUES (?, ?, ?, ?, ?)",
                (self.key(identity, messages, sampling), text, tokens, identity,
                 None if probs is None else json.dumps(probs)),
            )
            self._db.commit()

    def stats(self) -> dict[str, int]:
        """Entries per student identity."""
        with self._lock:
            rows = self._db.execute(
                "SELECT student, COUNT(*) FROM answers GROUP BY student ORDER BY student"
            ).fetchall()
        return {student: count for student, count in rows}

    def clear(self) -> int:
        """Delete every entry; return how many there were."""
        with self._lock:
            count = self._db.execute("DELETE FROM answers").rowcount
            self._db.commit()
            self._db.execute("VACUUM")
        return count

    def close(self) -> None:
        with self._lock:
            self._db.close()
