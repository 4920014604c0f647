"""`wst serve --traffic-log`: every answered exchange on disk, feedback joined to it by request
id, rotation, redaction, concurrent writers and a kill mid-line (real HTTP, as test_serve)."""

from __future__ import annotations

import json
import logging
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from tests.test_serve import (
    ANSWER,
    TOKEN,
    FakeTeacher,
    HeldTeacher,
    RecordingStudent,
    ask,
    client,
    no_proxy_no_token,
    reload,
)
from wst.config import ConfigError, ServeConfig
from wst.serve import BackgroundServer, ServeError, create_app
from wst.serve.traffic import TrafficLog, log_files, read_traffic, teacher_version

assert no_proxy_no_token  # an autouse fixture: importing it applies it here too

EXCHANGE_FIELDS = {"kind", "id", "time", "question", "instruction", "instruction_status",
                   "reply", "finish_reason", "latency_s", "teacher_s", "student_s", "teacher",
                   "student"}


@contextmanager
def logging_server(folder: Path | str, teacher=None, reload_teacher=None, **settings):
    """Base URL of a server on a free loopback port that logs its traffic into ``folder``."""
    config = ServeConfig(placement="prefix", port=0, traffic_log=str(folder), **settings)
    app = create_app(teacher or FakeTeacher(), RecordingStudent(), config,
                     teacher_version="tiny-teacher@0123456789ab", reload_teacher=reload_teacher)
    with BackgroundServer(app) as url:
        yield url


def chat(url: str, text: str = "What is 3 + 4?", key: str = "none") -> str:
    """The id of a completed chat request."""
    return client(url, key).chat.completions.create(model="wst", messages=ask(text)).id


def feedback(url: str, body: object, key: str | None = None) -> httpx.Response:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    return httpx.post(f"{url}/v1/feedback", json=body, headers=headers, timeout=30)


def lines(folder: Path) -> list[str]:
    return [line for path in log_files(folder) for line in path.read_text().splitlines()]


def test_an_exchange_is_logged_with_every_field_and_no_secret(tmp_path, monkeypatch):
    monkeypatch.setenv("WST_SERVE_TOKEN", TOKEN)
    with logging_server(tmp_path) as url:
        plain = client(url, TOKEN).chat.completions.create(
            model="wst", messages=ask(), extra_headers={"X-Api-Key": "sk-other-secret"})
        chunks = list(client(url, TOKEN).chat.completions.create(
            model="wst", messages=ask("What is 5 + 6?"), stream=True))
    records = [json.loads(line) for line in lines(tmp_path)]
    assert [r["id"] for r in records] == [plain.id, chunks[0].id]
    first, streamed = records
    assert set(first) == EXCHANGE_FIELDS
    assert first["kind"] == "exchange"
    assert datetime.fromisoformat(first["time"]).tzinfo is not None
    assert (first["question"], first["instruction"], first["instruction_status"],
            first["reply"], first["finish_reason"]) == (
        "What is 3 + 4?", "Mind the units.", "ok", ANSWER, "stop")
    assert first["teacher"] == "tiny-teacher@0123456789ab"
    assert first["student"] == "recording:test"
    assert first["latency_s"] >= first["student_s"] >= 0 and first["teacher_s"] >= 0
    assert streamed["question"] == "What is 5 + 6?" and streamed["reply"] == ANSWER
    text = "".join(path.read_text() for path in tmp_path.iterdir())
    for secret in (TOKEN, "sk-other-secret", "Bearer", "authorization"):
        assert secret.lower() not in text.lower()


def test_a_failed_teacher_is_logged_as_no_instruction(tmp_path):
    with logging_server(tmp_path, teacher=FakeTeacher(fail=True)) as url:
        chat(url)
    [exchange] = read_traffic(tmp_path)
    assert exchange["instruction"] is None and exchange["instruction_status"] == "error"
    assert exchange["teacher"] == "tiny-teacher@0123456789ab"


def test_records_name_the_teacher_that_wrote_their_instruction_across_a_reload(tmp_path):
    old, new = HeldTeacher(), FakeTeacher(text="New.")
    retrained = "runs/x/export@456789abcdef"
    with logging_server(tmp_path, old, reload_teacher=lambda: (new, retrained)) as url:
        with ThreadPoolExecutor(max_workers=1) as pool:
            during = pool.submit(chat, url, "Asked before the reload")
            old.calls.get(timeout=5)  # the old teacher is writing its instruction
            assert reload(url).status_code == 200
            old.release.set()
            during.result()  # logged after the swap
        chat(url, "Asked after the reload")
        new.fail = True
        chat(url, "Asked of a failing teacher")
    records = read_traffic(tmp_path)
    assert [(r["question"], r["instruction"], r["teacher"]) for r in records] == [
        ("Asked before the reload", "about Asked before the reload",
         "tiny-teacher@0123456789ab"),
        ("Asked after the reload", "New.", retrained),
        ("Asked of a failing teacher", None, retrained)]  # named as the one serving


def test_rotation_at_the_size_limit_and_the_reader_reads_every_file(tmp_path):
    limit = 1200
    with logging_server(tmp_path, traffic_max_bytes=limit) as url:
        ids = [chat(url, f"Question {i}?") for i in range(10)]
        assert feedback(url, {"id": ids[0], "score": 0.25}).status_code == 200
    files = log_files(tmp_path)
    assert [p.name for p in files][:2] == ["traffic.1.jsonl", "traffic.2.jsonl"]
    assert files[-1].name == "traffic.jsonl" and len(files) >= 4
    assert all(0 < p.stat().st_size <= limit for p in files)
    exchanges = read_traffic(tmp_path)
    assert [e["id"] for e in exchanges] == ids
    assert [e["question"] for e in exchanges] == [f"Question {i}?" for i in range(10)]
    assert exchanges[0]["feedback"]["score"] == 0.25  # joined across files
    assert all(e["feedback"] is None for e in exchanges[1:])


def test_feedback_score_and_thumbs_are_joined_to_their_exchange(tmp_path):
    with logging_server(tmp_path) as url:
        scored, liked, disliked, silent = (chat(url) for _ in range(4))
        answer = feedback(url, {"id": scored, "score": 0.7})
        assert answer.status_code == 200
        assert answer.json() == {"object": "feedback", "id": scored, "score": 0.7,
                                 "thumbs": None}
        assert feedback(url, {"id": liked, "thumbs": "up"}).status_code == 200
        assert feedback(url, {"id": disliked, "thumbs": "down"}).status_code == 200
        assert feedback(url, {"id": scored, "score": 1}).status_code == 409  # repeat
    joined = {e["id"]: e["feedback"] for e in read_traffic(tmp_path)}
    assert joined[scored]["score"] == 0.7 and joined[scored]["thumbs"] is None
    assert joined[liked]["thumbs"] == "up" and joined[disliked]["thumbs"] == "down"
    assert joined[silent] is None
    assert datetime.fromisoformat(joined[liked]["time"]).tzinfo is not None


def test_feedback_for_an_unknown_id_is_404_and_a_repeat_409(tmp_path):
    with logging_server(tmp_path) as url:
        known = chat(url)
        unknown = feedback(url, {"id": "chatcmpl-nope", "score": 0.5})
        assert unknown.status_code == 404
        assert unknown.json()["error"]["code"] == "unknown_request_id"
        assert feedback(url, {"id": known, "thumbs": "up"}).status_code == 200
        repeat = feedback(url, {"id": known, "thumbs": "down"})
        assert repeat.status_code == 409 and repeat.json()["error"]["code"] == "feedback_exists"
    [exchange] = read_traffic(tmp_path)
    assert exchange["feedback"]["thumbs"] == "up"  # the first one stays


@pytest.mark.parametrize("body", [
    {"score": 1.5}, {"score": -0.1}, {"score": "0.5"}, {"score": True}, {"score": None},
    {"thumbs": "sideways"}, {"thumbs": 1}, {}, {"score": 0.5, "thumbs": "up"},
    {"score": 0.5, "comment": "typo'd field"}, "not an object",
])
def test_bad_feedback_values_are_400(tmp_path, body):
    with logging_server(tmp_path) as url:
        known = chat(url)
        sent = {"id": known, **body} if isinstance(body, dict) else body
        answer = feedback(url, sent)
        assert answer.status_code == 400, answer.text
        assert answer.json()["error"]["type"] == "invalid_request_error"
        missing_id = feedback(url, {"score": 0.5})
        assert missing_id.status_code == 400 and "id" in missing_id.json()["error"]["message"]
        not_json = httpx.post(f"{url}/v1/feedback", content=b"{score", timeout=30)
        assert not_json.status_code == 400
        assert feedback(url, {"id": known, "score": 0.0}).status_code == 200  # still open
    assert read_traffic(tmp_path)[0]["feedback"]["score"] == 0.0


def test_feedback_needs_the_bearer_token_when_set(tmp_path, monkeypatch):
    monkeypatch.setenv("WST_SERVE_TOKEN", TOKEN)
    with logging_server(tmp_path) as url:
        known = chat(url, key=TOKEN)
        assert feedback(url, {"id": known, "score": 0.5}).status_code == 401
        assert feedback(url, {"id": known, "score": 0.5}, key="wrong").status_code == 401
        assert feedback(url, {"id": known, "score": 0.5}, key=TOKEN).status_code == 200


def test_a_restarted_server_takes_feedback_for_earlier_requests(tmp_path):
    with logging_server(tmp_path) as url:
        rated, unrated = chat(url), chat(url)
        assert feedback(url, {"id": rated, "score": 0.1}).status_code == 200
    with logging_server(tmp_path) as url:
        assert feedback(url, {"id": unrated, "score": 0.9}).status_code == 200
        assert feedback(url, {"id": rated, "score": 0.9}).status_code == 409
    assert [e["feedback"]["score"] for e in read_traffic(tmp_path)] == [0.1, 0.9]


def test_concurrent_requests_and_feedback_lose_nothing(tmp_path):
    def exchange_and_rate(i: int) -> str:
        request_id = chat(url, f"Question {i}?")
        assert feedback(url, {"id": request_id, "score": i / 49}).status_code == 200
        return request_id

    with logging_server(tmp_path, traffic_max_bytes=4000) as url, ThreadPoolExecutor(50) as pool:
        ids = list(pool.map(exchange_and_rate, range(50)))
        repeats = list(pool.map(lambda _: feedback(url, {"id": ids[0], "thumbs": "up"}),
                                range(20)))
    assert {r.status_code for r in repeats} == {409}  # already scored above
    records = [json.loads(line) for line in lines(tmp_path)]  # every line is valid JSON
    assert len(records) == 100 and len(log_files(tmp_path)) > 2
    exchanges = read_traffic(tmp_path)
    assert sorted(e["id"] for e in exchanges) == sorted(ids)
    assert sorted(e["feedback"]["score"] for e in exchanges) == [i / 49 for i in range(50)]


def test_only_one_of_many_concurrent_ratings_of_an_id_wins(tmp_path):
    with logging_server(tmp_path) as url:
        known = chat(url)
        with ThreadPoolExecutor(20) as pool:
            answers = list(pool.map(lambda i: feedback(url, {"id": known, "score": i / 19}),
                                    range(20)))
    codes = sorted(a.status_code for a in answers)
    assert codes == [200] + [409] * 19
    assert sum(json.loads(line)["kind"] == "feedback" for line in lines(tmp_path)) == 1


def test_a_line_cut_by_a_kill_is_skipped_and_the_log_goes_on(tmp_path, caplog):
    log = TrafficLog(tmp_path, max_bytes=10_000, teacher="t", student="s")
    log.exchange("chatcmpl-1", question="q1", instruction="i1", instruction_status="ok",
                 reply="r1", finish_reason="stop", latency_s=1.0, teacher_s=0.5, student_s=0.5)
    log.close()
    with (tmp_path / "traffic.jsonl").open("a") as fh:
        fh.write('{"kind": "exchange", "id": "chatcmpl-2", "question": "q2", "rep')  # killed
    with caplog.at_level(logging.WARNING, logger="wst.serve.traffic"):
        assert [e["id"] for e in read_traffic(tmp_path)] == ["chatcmpl-1"]
    assert "traffic.jsonl:2" in caplog.text

    log = TrafficLog(tmp_path, max_bytes=10_000, teacher="t", student="s")  # the restart
    log.exchange("chatcmpl-3", question="q3", instruction=None, instruction_status="busy",
                 reply="r3", finish_reason="length", latency_s=1.0, teacher_s=0.0,
                 student_s=1.0)
    log.feedback("chatcmpl-1", score=None, thumbs="down")
    log.close()
    exchanges = read_traffic(tmp_path)
    assert [e["id"] for e in exchanges] == ["chatcmpl-1", "chatcmpl-3"]
    assert exchanges[0]["feedback"]["thumbs"] == "down"


def test_a_log_it_cannot_write_fails_at_start(tmp_path):
    """Not on every request later: a folder whose active file cannot be opened for
    appending (here a directory in its place; a read-only folder for a non-root user) is an
    OSError when the log is made, which `wst serve` turns into one error line."""
    (tmp_path / "traffic.jsonl").mkdir()
    with pytest.raises(OSError):
        TrafficLog(tmp_path, max_bytes=1000)


def test_redaction_replaces_matches_in_question_instruction_and_reply(tmp_path):
    class EchoTeacher:
        def instruct(self, question: str) -> str:
            return f"Careful with {question}"

    patterns = [r"\b\d{3}-\d{4}\b", r"(?i)\bsk-\w+"]
    with logging_server(tmp_path, teacher=EchoTeacher(), traffic_redact=patterns) as url:
        request_id = chat(url, "Call 555-1234 with key SK-abc123 about 3 + 4.")
    [exchange] = read_traffic(tmp_path)
    assert exchange["id"] == request_id
    assert exchange["question"] == "Call [REDACTED] with key [REDACTED] about 3 + 4."
    assert exchange["instruction"] == "Careful with " + exchange["question"]
    assert exchange["reply"] == ANSWER  # nothing to redact there
    text = (tmp_path / "traffic.jsonl").read_text()
    assert "555-1234" not in text and "abc123" not in text


def test_redacting_everything_leaves_out_all_text(tmp_path):
    log = TrafficLog(tmp_path, max_bytes=10_000, redact=[r"(?s).+"], teacher="t", student="s")
    log.exchange("chatcmpl-1", question="secret\nquestion", instruction="an instruction",
                 instruction_status="ok", reply="7", finish_reason="stop", latency_s=1.0,
                 teacher_s=0.5, student_s=0.5)
    log.close()
    [exchange] = read_traffic(tmp_path)
    assert (exchange["question"], exchange["instruction"], exchange["reply"]) == (
        "[REDACTED]", "[REDACTED]", "[REDACTED]")


@pytest.mark.parametrize("overrides, message", [
    (['serve.traffic_redact=["(unclosed"]'], "serve.traffic_redact: 0: .*not a valid regular"),
    (['serve.traffic_redact=["\\\\d*"]'], "matches the empty string"),
    (["serve.traffic_max_bytes=0"], "serve.traffic_max_bytes"),
])
def test_config_rejects_bad_traffic_settings(overrides, message):
    from wst.config import load_config

    with pytest.raises(ConfigError, match=message):
        load_config(None, overrides)


def test_with_the_log_off_nothing_is_written_and_feedback_says_so(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    app = create_app(FakeTeacher(), RecordingStudent(), ServeConfig(placement="prefix", port=0))
    with BackgroundServer(app) as url:
        known = chat(url)
        answer = feedback(url, {"id": known, "score": 0.5})
    assert answer.status_code == 404
    assert answer.json()["error"]["code"] == "traffic_log_off"
    assert "--traffic-log" in answer.json()["error"]["message"]
    assert list(tmp_path.iterdir()) == []


def test_teacher_version_names_the_weights_it_hashed(tmp_path, monkeypatch):
    monkeypatch.setenv("WST_CACHE_DIR", str(tmp_path / "cache"))
    adapter = tmp_path / "teacher"
    adapter.mkdir()
    (adapter / "adapter_model.safetensors").write_bytes(b"weights v1")
    first = teacher_version("HuggingFaceTB/SmolLM2-135M-Instruct", str(adapter))
    assert first.startswith(f"HuggingFaceTB/SmolLM2-135M-Instruct+{adapter}@")
    assert len(first.rsplit("@", 1)[1]) == 12
    (adapter / "adapter_model.safetensors").write_bytes(b"weights v2, retrained")
    assert teacher_version("HuggingFaceTB/SmolLM2-135M-Instruct", str(adapter)) != first
    gguf = tmp_path / "teacher.gguf"
    gguf.write_bytes(b"GGUF")
    assert teacher_version(str(gguf), None).startswith(f"{gguf}@")
    assert teacher_version("embedded:teacher", None) == "embedded:teacher"


def test_the_traffic_log_flag_sets_serve_traffic_log(tmp_path, monkeypatch):
    import wst.cli
    import wst.serve

    seen = []

    def refuse(settings):  # stops the command before any model loads
        seen.append(settings)
        raise ServeError("stop here")

    monkeypatch.setattr(wst.serve, "server_token", refuse)
    # its logging set-up, bound to this CliRunner's streams, would outlive the test
    monkeypatch.setattr(wst.cli, "_setup_logging", lambda: None)
    result = CliRunner().invoke(wst.cli.app, ["serve", "--teacher", "/nonexistent/teacher",
                                              "--traffic-log", str(tmp_path / "traffic")])
    assert result.exit_code == 1
    assert seen[0].traffic_log == str(tmp_path / "traffic")


KILLED_SERVER = """
import sys
from tests.test_serve import FakeTeacher, RecordingStudent
from wst.config import ServeConfig
from wst.serve import create_app, run_server

config = ServeConfig(placement="prefix", port=int(sys.argv[2]), traffic_log=sys.argv[1])
run_server(create_app(FakeTeacher(), RecordingStudent(), config, teacher_version="t"), config)
"""


def test_a_server_killed_under_load_loses_only_requests_in_flight(tmp_path):
    """A real ``wst serve`` process, SIGKILLed while many clients are being answered: every
    request that got its answer is in the log (an exchange is written before its reply is
    sent), at most one line is cut, and a restarted server logs on after it."""
    import os
    import signal
    import socket
    import subprocess
    import sys
    import threading
    import time

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    root = Path(__file__).resolve().parents[1]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(root), str(root / "src")])}
    server = subprocess.Popen([sys.executable, "-c", KILLED_SERVER, str(tmp_path), str(port)],
                              cwd=root, env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            httpx.get(f"{url}/health", timeout=1).raise_for_status()
            break
        except httpx.HTTPError:
            assert server.poll() is None and time.monotonic() < deadline, "no server"
            time.sleep(0.2)
    answered: list[str] = []
    stop = threading.Event()

    def keep_asking() -> None:
        with httpx.Client(timeout=10) as http:
            while not stop.is_set():
                try:
                    reply = http.post(f"{url}/v1/chat/completions", json={
                        "model": "wst", "messages": ask("What is 3 + 4?")})
                except httpx.HTTPError:
                    return  # the server is gone
                answered.append(reply.json()["id"])

    clients = [threading.Thread(target=keep_asking) for _ in range(8)]
    for thread in clients:
        thread.start()
    while len(answered) < 100:
        time.sleep(0.01)
    server.send_signal(signal.SIGKILL)
    server.wait()
    stop.set()
    for thread in clients:
        thread.join()

    raw = lines(tmp_path)
    damaged = [line for line in raw if not line.startswith("{") or not line.endswith("}")]
    assert len(damaged) <= 1
    logged = {record["id"] for record in read_traffic(tmp_path)}
    assert set(answered) <= logged
    assert len(logged) - len(answered) <= len(clients)  # logged, killed before the reply
    restarted = TrafficLog(tmp_path, max_bytes=10_000_000, teacher="t", student="s")
    restarted.exchange("after", question="q", instruction="i", instruction_status="ok",
                       reply="r", finish_reason="stop", latency_s=1.0, teacher_s=0.5,
                       student_s=0.5)
    restarted.close()
    assert read_traffic(tmp_path)[-1]["id"] == "after"
