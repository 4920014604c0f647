"""Reading question/answer records from local files or a dataset hub, with clear errors."""

from __future__ import annotations

import csv
import io
import json
import random
from pathlib import Path
from typing import Any

from wst.fileio import read_text
from wst.tasks.base import DatasetError

DATA_SUFFIXES = (".jsonl", ".json", ".parquet", ".csv")


def read_records(path: Path, required: tuple[str, ...]) -> list[dict[str, Any]]:
    """Records of a ``.jsonl``, ``.json`` (a list), ``.parquet`` or ``.csv`` file, each checked
    for the ``required`` fields (numbers are turned into text) and given an ``id`` (see
    ``assign_ids``).

    Errors name the file, the 1-based line (or record) and the field.
    """
    return check_records(path, read_numbered(path), required)


def check_records(path: Path, numbered: list[tuple[str, Any]],
                  required: tuple[str, ...]) -> list[dict[str, Any]]:
    """The records of ``read_numbered(path)``, checked as ``read_records`` checks them."""
    for where, record in numbered:
        check_fields(record, required, f"{path}: {where}")
    assign_ids(path, numbered)
    return [record for _, record in numbered]


def read_numbered(path: Path) -> list[tuple[str, Any]]:
    """(``"line N"`` or ``"record N"``, record) pairs of a data file, fields not yet checked.
    Text files are read as UTF-8 (a byte-order mark is dropped)."""
    if not path.is_file():
        raise DatasetError(f"{path}: no such file")
    if path.suffix == ".parquet":
        numbered = [(f"record {i}", r) for i, r in enumerate(_read_parquet(path), 1)]
    elif path.suffix == ".json":
        try:
            records = json.loads(read_text(path, DatasetError))
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


def _read_parquet(path: Path) -> list[Any]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        return pq.read_table(path).to_pylist()
    except pa.ArrowException as exc:
        raise DatasetError(f"{path}: not a readable Parquet file ({exc})") from exc


def _read_jsonl(path: Path) -> list[tuple[str, Any]]:
    """(``"line N"``, record) pairs; N counts blank lines too, as an editor does."""
    records = []
    for number, line in enumerate(read_text(path, DatasetError).split("\n"), start=1):
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
    reader = csv.reader(io.StringIO(read_text(path, DatasetError), newline=""), strict=True)
    start = 1
    try:
        header = _csv_header(path, next(reader, []))
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


def _csv_header(path: Path, row: list[str]) -> list[str]:
    """Column names of the header row; a name used twice is an error (the later column would
    silently replace the earlier one)."""
    header = [name.strip() for name in row]
    for name in header:
        if header.count(name) > 1:
            raise DatasetError(f"{path}: line 1: column {name!r} appears more than once in the "
                               f"header")
    return header


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


def assign_ids(path: Path, numbered: list[tuple[str, dict[str, Any]]]) -> None:
    """Set every record's ``id`` to text: its own, else ``{file stem}-{n}`` for the n-th record.

    Outputs tell items apart by id, so an id that is null or empty, or used twice, is an error
    naming the file, line and field; so is a given id equal to a generated one (``qa-2`` given
    to one record of ``qa.jsonl`` while its second record has none)."""
    first: dict[str, str] = {}
    generated: set[str] = set()
    for number, (where, record) in enumerate(numbered, start=1):
        value = record.get("id", f"{path.stem}-{number}")
        if isinstance(value, bool) or not isinstance(value, (str, int)) or not str(value).strip():
            raise DatasetError(f"{path}: {where}: field 'id' must be non-empty text or a whole "
                               f"number, not {json.dumps(value)}")
        key = str(value)
        if "id" not in record:
            generated.add(key)
        if key in first:
            hint = (f"; a record without an id gets {path.stem}-N, so give every record an id "
                    f"or none") if key in generated else ""
            raise DatasetError(f"{path}: {where}: field 'id': duplicate id {key!r} "
                               f"(first at {first[key]}){hint}")
        first[key] = where
        record["id"] = key


def seeded_split(items: list, test_fraction: float, seed: int) -> tuple[list, list]:
    """(test, train): a seeded shuffle of ``items``, the first ``test_fraction`` held out."""
    order = items[:]
    random.Random(seed).shuffle(order)
    n_test = round(len(order) * test_fraction)
    return order[:n_test], order[n_test:]


def split_files(folder: Path) -> tuple[Path, Path | None]:
    """(test, train) data files of a folder that holds its own split; the train file is
    optional, the test file is not."""
    test = find_split_file(folder, "test")
    if test is None:
        raise DatasetError(f"{folder}: no test file ({'/'.join(DATA_SUFFIXES)}) found")
    return test, find_split_file(folder, "train")


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
