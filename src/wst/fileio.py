"""Reading and writing the text files wst reads (data, TOML) and derives (caches, configs,
reports): UTF-8 in, errors naming the file and line, and writes that are never half done."""

from __future__ import annotations

import os
import secrets
from pathlib import Path


def read_text(path: Path, error: type[Exception] = ValueError) -> str:
    """The UTF-8 text of ``path``, a leading byte-order mark dropped (editors on Windows write
    one). Not UTF-8 raises ``error`` naming the file, line and byte, instead of a
    UnicodeDecodeError that names neither."""
    data = path.read_bytes()
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise error(f"{path}: line {line}: not UTF-8 text (byte 0x{data[exc.start]:02x}); "
                    f"save the file as UTF-8") from exc


def atomic_write_text(path: Path, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` through a temporary file in the same folder and a
    rename, so an interrupted run leaves the old file or the new one, never a truncated file
    that a later run would read as a smaller set or a broken report."""
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    # os.open rather than mkstemp: the file gets the usual permissions (0666 less umask).
    handle = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
