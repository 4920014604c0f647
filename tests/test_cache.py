"""The on-disk answer cache: two processes writing at once lose nothing; stats and clear."""

from __future__ import annotations

import multiprocessing
from pathlib import Path

from typer.testing import CliRunner

from wst.cli import app
from wst.students import ResponseCache, Sampling

ENTRIES = 150


def _write(path: str, writer: int) -> None:
    cache = ResponseCache(Path(path))
    for i in range(ENTRIES):
        cache.put(f"student-{writer}", [{"role": "user", "content": f"q{i}"}], Sampling(), f"a{i}", i)
    cache.close()


def test_two_processes_writing_the_same_cache_lose_no_entries(tmp_path):
    path = str(tmp_path / "cache.sqlite")
    context = multiprocessing.get_context("spawn")
    writers = [context.Process(target=_write, args=(path, w)) for w in (0, 1)]
    for process in writers:
        process.start()
    for process in writers:
        process.join(timeout=120)
        assert process.exitcode == 0
    cache = ResponseCache(Path(path))
    assert cache.stats() == {"student-0": ENTRIES, "student-1": ENTRIES}
    hit = cache.get("student-1", [{"role": "user", "content": "q7"}], Sampling())
    assert hit == ("a7", 7, None)


def test_cache_commands_show_and_clear_entries(tmp_path, monkeypatch):
    monkeypatch.setenv("WST_CACHE_DIR", str(tmp_path))
    _write(str(tmp_path / "student-cache.sqlite"), 0)
    runner = CliRunner()
    stats = runner.invoke(app, ["cache", "stats"])
    assert stats.exit_code == 0 and f"{ENTRIES}  student-0" in stats.output
    cleared = runner.invoke(app, ["cache", "clear"])
    assert cleared.exit_code == 0 and f"deleted {ENTRIES}" in cleared.output
    assert ResponseCache(tmp_path / "student-cache.sqlite").stats() == {}


def test_a_cache_written_before_first_token_probabilities_still_opens(tmp_path) -> None:
    import sqlite3

    path = tmp_path / "old.sqlite"
    old = sqlite3.connect(path)
    old.execute("CREATE TABLE answers (key TEXT PRIMARY KEY, text TEXT, tokens INTEGER, "
                "student TEXT)")
    old.commit()
    old.close()
    cache = ResponseCache(path)
    chat = [{"role": "user", "content": "q"}]
    cache.put("s", chat, Sampling(top_logprobs=2), "A", 1, {"A": 0.9, "B": 0.1})
    assert cache.get("s", chat, Sampling(top_logprobs=2)) == ("A", 1, {"A": 0.9, "B": 0.1})
    assert cache.get("s", chat, Sampling()) is None  # asking for probabilities is another key
