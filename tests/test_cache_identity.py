"""The student cache never mixes answers of different weights behind one name (issue 10):
a GGUF by its full sha256, an hf folder by its weights' hashes, an API model by what the
server reports about it."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from wst.assets import sha256_of, weights_sha256
from wst.students.base import Sampling
from wst.students.openai_http import OpenAIStudent

from tests.test_students import server_factory  # noqa: F401 - the fixture


@pytest.fixture(autouse=True)
def own_cache_dir(tmp_path: Path, monkeypatch) -> Path:
    folder = tmp_path / "wst-cache"
    monkeypatch.setenv("WST_CACHE_DIR", str(folder))
    return folder


def test_files_that_differ_only_past_their_first_mib_hash_differently(tmp_path: Path) -> None:
    head = b"GGUF" + bytes(1 << 20)
    base, tuned = tmp_path / "base.gguf", tmp_path / "tuned.gguf"
    base.write_bytes(head + b"weights-a")
    tuned.write_bytes(head + b"weights-b")  # same size, same first MiB: a fine-tune
    assert sha256_of(base) != sha256_of(tuned)


def test_the_hash_is_memoised_by_path_size_and_mtime(tmp_path: Path, own_cache_dir: Path) -> None:
    path = tmp_path / "model.gguf"
    path.write_bytes(b"one")
    first = sha256_of(path)
    memo = json.loads((own_cache_dir / "sha256.json").read_text())
    assert memo[str(path.resolve())]["sha256"] == first
    memo[str(path.resolve())]["sha256"] = "remembered"  # a second call must not re-read
    (own_cache_dir / "sha256.json").write_text(json.dumps(memo))
    assert sha256_of(path) == "remembered"
    path.write_bytes(b"two")
    os.utime(path, ns=(1, 1))  # a new version of the file: hashed again
    assert sha256_of(path) not in {"remembered", first}


def test_two_fine_tunes_of_one_hf_base_get_different_identities(tiny_teacher: Path,
                                                                 tmp_path: Path) -> None:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from wst.students.hf import HFStudent

    tuned = tmp_path / "tuned"
    model = AutoModelForCausalLM.from_pretrained(tiny_teacher)
    with torch.no_grad():
        model.lm_head.weight.add_(0.01)
    model.save_pretrained(tuned)
    AutoTokenizer.from_pretrained(tiny_teacher).save_pretrained(tuned)
    assert weights_sha256(tiny_teacher) != weights_sha256(tuned)
    sampling = Sampling(max_tokens=4)
    students = [HFStudent(str(folder), sampling) for folder in (tiny_teacher, tiny_teacher, tuned)]
    try:
        same, again, other = (s.identity for s in students)
        assert same == again and same != other
    finally:
        for student in students:
            student.close()


def test_api_identity_follows_what_the_server_reports(server_factory) -> None:  # noqa: F811
    def identity(models: list[dict] | None) -> str:
        server = server_factory()
        server.models = models
        student = OpenAIStudent(server.base_url, "m", Sampling(max_tokens=4), max_retries=0)
        student.close()
        return student.identity.replace(server.base_url, "URL")

    assert identity(None) == "openai:URL:m"  # no /models: the name alone
    entry = {"id": "m", "object": "model", "owned_by": "vllm", "root": "/w/base"}
    base = identity([{**entry, "created": 1}])
    assert base.startswith("openai:URL:m:")
    assert identity([{**entry, "created": 2}]) == base  # vLLM's "created" is the request time
    assert identity([{**entry, "root": "/w/fine-tune"}]) != base
