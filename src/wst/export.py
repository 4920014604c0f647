"""Export a trained teacher as one self-contained model folder (``wst export``).

A LoRA adapter is merged into its base model (peft ``merge_and_unload``); a fully fine-tuned
teacher is loaded and saved again. The folder holds the fp32 weights, the tokenizer (with its
chat template) and ``wst_teacher.json``: the meta prompt the teacher was trained with, its
instruction token cap and where it came from. ``training_config.json`` and ``report.md`` of
the run are copied beside them when present. ``load_teacher(folder)`` and
``TeacherInstructor(folder)`` load it with nothing else: no base model, no run folder. With
``gguf=True`` the folder also holds ``teacher.gguf`` (f16, chat template and tokenizer inside),
which llama.cpp and ``LlamaCppTeacher`` load (see ``wst.gguf_writer``).
"""

from __future__ import annotations

import json
import logging
import shutil
import time
from pathlib import Path
from typing import Any

from wst.gguf_writer import GGUF_NAME, check_convertible, write_gguf
from wst.teacher import (
    TEACHER_CARD, is_adapter, load_teacher, load_tokenizer, read_teacher_card, resolve_teacher,
    save_teacher_card,
)

log = logging.getLogger(__name__)


class ExportError(ValueError):
    """The export cannot be made (no teacher, or a target folder that is not an export)."""


def export_teacher(base_model_spec: str, adapter_dir: str | Path | None, out_dir: str | Path,
                   meta_prompt: str, run_dir: str | Path | None = None,
                   max_instruction_tokens: int | None = None, gguf: bool = False,
                   gguf_type: str = "f16", instruction_start: str | None = None) -> Path:
    """Write the merged (or copied) teacher to ``out_dir``; return it.

    ``adapter_dir``: a LoRA adapter (merged into ``base_model_spec``), a fully fine-tuned
    model folder (saved as it is), or None (the base model itself). ``max_instruction_tokens``
    and ``instruction_start`` None: the adapter's card, else the run's ``teacher`` settings
    (from ``run_dir/config.json``), else 48 and "". ``gguf``: also write ``teacher.gguf``
    (weights in ``gguf_type``: ``f16`` or ``q8_0``); a teacher it cannot convert
    (architecture, RoPE scaling, tokenizer) is refused with UnsupportedTeacher before anything
    is written.
    An existing ``out_dir`` is replaced only when it is an earlier export (it has a
    ``wst_teacher.json``) or empty, and never when it is or holds the adapter or base model
    exported from. The folder is written beside ``out_dir`` first and renamed at the end, so an
    interrupted export leaves no half folder behind.
    """
    out = Path(out_dir)
    if out.exists() and any(out.iterdir()) and not (out / TEACHER_CARD).is_file():
        raise ExportError(f"{out} exists and is not a wst export; choose another folder")
    if adapter_dir is not None and not Path(adapter_dir).is_dir():
        raise ExportError(f"no trained teacher at {adapter_dir}")
    _check_not_a_source(out, [adapter_dir, base_model_spec])
    run = Path(run_dir) if run_dir is not None else None
    training_config = _read_json(run / "config.json") if run is not None else None
    teacher_cfg = {**(training_config or {}).get("teacher", {}), **read_teacher_card(adapter_dir)}
    if max_instruction_tokens is None:
        max_instruction_tokens = int(teacher_cfg.get("max_instruction_tokens") or 48)
    if instruction_start is None:
        instruction_start = str(teacher_cfg.get("instruction_start", ""))

    merged = adapter_dir is not None and is_adapter(adapter_dir)
    started = time.perf_counter()
    model, tokenizer = load_teacher(base_model_spec, str(adapter_dir) if adapter_dir else None)
    if merged:
        model = model.merge_and_unload()
    if adapter_dir is None:
        tokenizer = load_tokenizer(resolve_teacher(base_model_spec))
    if gguf:
        check_convertible(model.config, tokenizer)

    partial = out.with_name(out.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    model.save_pretrained(partial)
    tokenizer.save_pretrained(partial)
    del model  # the GGUF is written from the saved folder; do not hold two copies
    card: dict[str, Any] = {
        "max_instruction_tokens": max_instruction_tokens,
        "instruction_start": instruction_start,
        "choices": list(teacher_cfg.get("choices") or []),  # a chooser stays one when exported
        "choice_instructions": list(teacher_cfg.get("choice_instructions") or []),
        "source": {"adapter": str(adapter_dir) if adapter_dir else None,
                   "merged_lora": merged, "run_dir": str(run) if run else None},
        "exported_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    if run is not None:
        for name, target in (("config.json", "training_config.json"), ("report.md", "report.md")):
            if (run / name).is_file():
                shutil.copy2(run / name, partial / target)
                card.setdefault("files", []).append(target)
    if gguf:
        card["gguf"] = _write_gguf(partial, gguf_type).name
        card["gguf_type"] = gguf_type
    save_teacher_card(partial, meta_prompt, base_model_spec, extra=card)
    shutil.rmtree(out, ignore_errors=True)
    partial.rename(out)
    log.info("exported teacher to %s in %.1f s (%s)", out, time.perf_counter() - started,
             "LoRA merged" if merged else "whole model")
    return out


def cached_gguf(base_model_spec: str, adapter_dir: str | Path | None, meta_prompt: str,
                max_instruction_tokens: int, gguf_type: str = "f16",
                instruction_start: str = "") -> Path:
    """The ``gguf_type`` GGUF of this teacher (the adapter merged into its base), exported on first use
    into the wst cache folder and reused after: keyed by the base model and the adapter's
    weight hashes and the weight type, so a retrained adapter in the same folder gets a new
    export."""
    import hashlib

    from wst.assets import cache_dir, weights_sha256

    base = Path(base_model_spec)
    identity = [gguf_type, weights_sha256(base) if base.is_dir() else base_model_spec]
    if adapter_dir is not None:
        identity.append(weights_sha256(Path(adapter_dir)) or str(Path(adapter_dir).resolve()))
    key = hashlib.sha256("\n".join(map(str, identity)).encode()).hexdigest()[:16]
    folder = cache_dir() / "gguf-teachers" / key
    if not (folder / GGUF_NAME).is_file():
        log.info("exporting the teacher to GGUF for llama.cpp (once): %s", folder)
        export_teacher(base_model_spec, adapter_dir, folder, meta_prompt,
                       max_instruction_tokens=max_instruction_tokens, gguf=True,
                       gguf_type=gguf_type, instruction_start=instruction_start)
    return folder / GGUF_NAME


def _write_gguf(folder: Path, gguf_type: str) -> Path:
    started = time.perf_counter()
    path = write_gguf(folder, folder / GGUF_NAME, gguf_type)
    log.info("wrote %s (%.0f MB) in %.1f s", path.name, path.stat().st_size / 1e6,
             time.perf_counter() - started)
    return path


def _check_not_a_source(out: Path, sources: list[str | Path | None]) -> None:
    """Refuse a target folder that is, or holds, a local folder the export reads from: an
    adapter folder has a ``wst_teacher.json`` too, so it would pass for an earlier export and be
    deleted when the new one takes its place."""
    target = out.resolve()
    for source in sources:
        if source is None or not Path(source).exists():
            continue  # a hub name or an embedded: model is not a folder that could be replaced
        folder = Path(source).resolve()
        if folder == target or target in folder.parents:
            raise ExportError(f"{out} is or holds {source}, which this export reads from; "
                              f"replacing it would delete it: choose another folder")


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return None
    return data if isinstance(data, dict) else None
