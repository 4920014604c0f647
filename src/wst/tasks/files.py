"""Reading question/answer records from local files or a dataset hub, with clear errors."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from wst.tasks.base import DatasetError

DATA_SUFFIXES = (".jsonl", ".json", ".parquet")


def read_records(path: Path, required: tuple[str, ...]) -> list[dict[str, Any]]:
    """Records of a ``.jsonl``, ``.json`` (a list) or ``.parquet`` file, each checked for fields.

    Errors name the file, the 1-based line (or record) and the field.
    """
    if not path.exists():
        raise DatasetError(f"{path}: no such file")
    if path.suffix == ".parquet":
        import pyarrow.parquet as pq

        numbered = [(f"record {i}", r) for i, r in enumerate(pq.read_table(path).to_pylist(), 1)]
    elif path.suffix == ".json":
        try:
            records = json.loads(path.read_text())
        except json.JSONDecodeError as exc:
            raise DatasetError(f"{path}: line {exc.lineno}: invalid JSON ({exc.msg})") from exc
        if not isinstance(records, list):
            raise DatasetError(f"{path}: expected a JSON list of records")
        numbered = [(f"record {i}", r) for i, r in enumerate(records, 1)]
    elif path.suffix == ".jsonl":
        numbered = _read_jsonl(path)
    else:
        raise DatasetError(f"{path}: unsupported file type; use one of {', '.join(DATA_SUFFIXES)}")
    if not numbered:
        raise DatasetError(f"{path}: the file holds no records")
    for where, record in numbered:
        _check_fields(record, required, f"{path}: {where}")
    return [record for _, record in numbered]


def _read_jsonl(path: Path) -> list[tuple[str, Any]]:
    """(``"line N"``, record) pairs; N counts blank lines too, as an editor does."""
    records = []
    with path.open(encoding="utf-8") as fh:
        for number, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                records.append((f"line {number}", json.loads(line)))
            except json.JSONDecodeError as exc:
                raise DatasetError(f"{path}: line {number}: invalid JSON ({exc.msg})") from exc
    return records


def _check_fields(record: Any, required: tuple[str, ...], where: str) -> None:
    if not isinstance(record, dict):
        raise DatasetError(f"{where}: expected an object with fields {list(required)}")
    for name in required:
        value = record.get(name)
        if not isinstance(value, str) or not value.strip():
            raise DatasetError(f"{where}: field {name!r} is missing or empty")


def find_split_file(folder: Path, split: str) -> Path | None:
    """``train.jsonl``/``test.parquet``/... or a hub-style ``main/test-00000-of-00001.parquet``."""
    for candidate in sorted(folder.rglob(f"{split}*")):
        if candidate.suffix in DATA_SUFFIXES:
            return candidate
    return None


def load_hub(name: str, split: str, required: tuple[str, ...], subset: str | None) -> list[dict]:
    """Records of a hub dataset split (needs network access or a local hub cache)."""
    import datasets

    try:
        dataset = datasets.load_dataset(name, subset, split=split)
    except Exception as exc:  # datasets raises many types; all mean "cannot get it"
        raise DatasetError(
            f"cannot load dataset {name!r} (split {split}) from the hub or its cache: {exc}. "
            f"Offline, pass a local file or folder as task.source."
        ) from exc
    records = list(dataset)
    for number, record in enumerate(records, start=1):
        _check_fields(record, required, f"{name}[{split}]: record {number}")
    return records
