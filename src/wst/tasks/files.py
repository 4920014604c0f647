"""Reading question/answer records from local files or a dataset hub, with clear errors."""

from __future__ import annotations

import csv
import json
import random
from pathlib import Path
from typing import Any

from wst.tasks.base import DatasetError

DATA_SUFFIXES = (".jsonl", ".json", ".parquet", ".csv")


def read_records(path: Path, required: tuple[str, ...]) -> list[dict[str, Any]]:
    """Records of a ``.jsonl``, ``.json`` (a list), ``.parquet`` or ``.csv`` file, each checked
    for the ``required`` fields (numbers are turned into text) and for duplicate ``id`` values.

    Errors name the file, the 1-based line (or record) and the field.
    """
    return check_records(path, read_numbered(path), required)


def check_records(path: Path, numbered: list[tuple[str, Any]],
                  required: tuple[str, ...]) -> list[dict[str, Any]]:
    """The records of ``read_numbered(path)``, checked as ``read_records`` checks them."""
    for where, record in numbered:
        check_fields(record, required, f"{path}: {where}")
    _check_unique_ids(path, numbered)
    return [record for _, record in numbered]


def read_numbered(path: Path) -> list[tuple[str, Any]]:
    """(``"line N"`` or ``"record N"``, record) pairs of a data file, fields not yet checked."""
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
    elif path.suffix == ".csv":
        numbered = _read_csv(path)
    else:
        raise DatasetError(f"{path}: unsupported file type; use one of {', '.join(DATA_SUFFIXES)}")
    if not numbered:
        raise DatasetError(f"{path}: the file holds no records")
    return numbered


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


def _read_csv(path: Path) -> list[tuple[str, Any]]:
    """(``"line N"``, record) pairs under the header row; N is the physical line where the
    record starts (a quoted field may span lines); blank lines are skipped."""
    records = []
    with path.open(encoding="utf-8-sig", newline="") as fh:
        reader = csv.reader(fh, strict=True)
        start = 1
        try:
            header = [name.strip() for name in next(reader, [])]
            start = reader.line_num + 1
            for row in reader:
                if any(cell.strip() for cell in row):
                    if len(row) != len(header):
                        raise DatasetError(f"{path}: line {start}: expected {len(header)} "
                                           f"columns ({', '.join(header)}), found {len(row)}")
                    records.append((f"line {start}", dict(zip(header, row))))
                start = reader.line_num + 1
        except csv.Error as exc:
            raise DatasetError(f"{path}: line {start}: invalid CSV ({exc})") from exc
    return records


def check_fields(record: Any, required: tuple[str, ...], where: str) -> None:
    """Each required field must be non-empty text; a number is turned into text in place."""
    if not isinstance(record, dict):
        raise DatasetError(f"{where}: expected an object with fields {list(required)}")
    for name in required:
        value = record.get(name)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            value = record[name] = str(value)
        if not isinstance(value, str) or not value.strip():
            raise DatasetError(f"{where}: field {name!r} is missing or empty")


def _check_unique_ids(path: Path, numbered: list[tuple[str, Any]]) -> None:
    first: dict[str, str] = {}
    for where, record in numbered:
        if record.get("id") is None:
            continue
        key = str(record["id"])
        if key in first:
            raise DatasetError(f"{path}: {where}: field 'id': duplicate id {key!r} "
                               f"(first at {first[key]})")
        first[key] = where


def seeded_split(items: list, test_fraction: float, seed: int) -> tuple[list, list]:
    """(test, train): a seeded shuffle of ``items``, the first ``test_fraction`` held out."""
    order = items[:]
    random.Random(seed).shuffle(order)
    n_test = round(len(order) * test_fraction)
    return order[:n_test], order[n_test:]


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
        check_fields(record, required, f"{name}[{split}]: record {number}")
    return records
