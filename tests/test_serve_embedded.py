"""`wst serve` with the real embedded teacher (SmolLM2-135M) and student (Qwen2.5-Coder-0.5B),
driven by the official openai client: plain and streaming answers, the instruction returned on
request, and 401 / 413 / 400 answers after which the server keeps serving. About a minute."""

from __future__ import annotations

from urllib.parse import unquote

import httpx
import openai
import pytest

from wst.config import ServeConfig, StudentConfig
from wst.serve import BackgroundServer, create_app, parse_metrics
from wst.students import make_student
from wst.teacher import TeacherInstructor

pytestmark = pytest.mark.slow

TOKEN = "embedded-serve-token-1234"
QUESTION = "A shop sells 12 apples in the morning and 9 in the afternoon. How many in all?"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """(URL, student) of a token-protected server on the embedded models."""
    import os

    os.environ["WST_SERVE_TOKEN"] = TOKEN
    teacher = TeacherInstructor("embedded:smollm2-135m", max_instruction_tokens=24)
    student = make_student(StudentConfig(max_tokens=48, cache=False))
    app = create_app(teacher, student, ServeConfig(port=0, placement="prefix",
                                                  max_body_bytes=20_000, max_messages=4))
    try:
        with BackgroundServer(app) as url:
            yield url, student
    finally:
        del os.environ["WST_SERVE_TOKEN"]
        student.close()


def _client(url: str, key: str = TOKEN) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{url}/v1", api_key=key, max_retries=0, timeout=120)


def test_plain_and_streaming_answers_from_the_embedded_student(server):
    url, student = server
    api = _client(url)
    raw = api.chat.completions.with_raw_response.create(
        model="wst", messages=[{"role": "user", "content": QUESTION}],
        extra_headers={"X-WST-Return-Instruction": "1"})
    completion = raw.parse()
    text = completion.choices[0].message.content
    assert text.strip() and completion.usage.completion_tokens > 0
    instruction = unquote(raw.headers["X-WST-Instruction"])
    assert raw.headers["X-WST-Instruction-Status"] == "ok" and instruction.strip()
    assert completion.model_extra["wst_instruction"] == instruction

    pieces = [chunk.choices[0].delta.content or ""
              for chunk in api.chat.completions.create(
                  model="wst", stream=True, messages=[{"role": "user", "content": QUESTION}])
              if chunk.choices]
    assert "".join(pieces) == text  # greedy and seeded: the same answer, streamed
    assert student.usage.calls == 2 and student.usage.failures == 0


def test_bad_requests_are_refused_and_the_server_keeps_serving(server):
    url, _ = server
    with pytest.raises(openai.AuthenticationError):
        _client(url, key="wrong").chat.completions.create(
            model="wst", messages=[{"role": "user", "content": QUESTION}])
    with pytest.raises(openai.APIStatusError) as too_large:
        _client(url).chat.completions.create(
            model="wst", messages=[{"role": "user", "content": "x" * 30_000}])
    assert too_large.value.status_code == 413
    with pytest.raises(openai.BadRequestError):
        _client(url).chat.completions.create(
            model="wst", messages=[{"role": "user", "content": "hi"}] * 5)
    malformed = httpx.post(f"{url}/v1/chat/completions", content=b"{not json",
                           headers={"Authorization": f"Bearer {TOKEN}"})
    assert malformed.status_code == 400 and "JSON" in malformed.json()["error"]["message"]

    answer = _client(url).chat.completions.create(
        model="wst", messages=[{"role": "user", "content": "What is 2 + 2?"}], max_tokens=16)
    assert answer.choices[0].message.content.strip()
    samples = parse_metrics(httpx.get(f"{url}/metrics",
                                      headers={"Authorization": f"Bearer {TOKEN}"}).text)
    for status in (401, 413, 400):
        assert samples[f'wst_requests_total{{route="/v1/chat/completions",status="{status}"}}'] >= 1
