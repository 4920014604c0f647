"""The teacher as one GGUF file, run in-process by llama.cpp (xllamacpp).

``LlamaCppTeacher`` runs a file that ``wst.gguf_writer`` wrote (or any GGUF teacher), as the
llama.cpp student does, and writes the greedy instructions the PyTorch ``TeacherInstructor``
writes, up to f16 rounding (tests/test_export_gguf.py measures it), faster on a CPU (README,
"Deploying a trained teacher").
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from wst.gguf_writer import GGUF_NAME
from wst.students.base import Answer, Request, Sampling
from wst.students.llamacpp import LlamaCppStudent
from wst.teacher import (
    TeacherInstructor, clean_instruction, read_teacher_card, split_adapter, teacher_messages,
    teacher_settings,
)


def gguf_teacher_path(spec: str | Path) -> Path | None:
    """The GGUF file ``spec`` names: itself when it ends in ``.gguf``, an export folder's
    ``teacher.gguf``, else None (a model for ``TeacherInstructor``)."""
    path = Path(spec)
    if path.suffix == ".gguf":
        return path
    return path / GGUF_NAME if (path / GGUF_NAME).is_file() else None


class _StoppableLlamaCpp(LlamaCppStudent):
    """The llama.cpp student's engine (loading, slots, threads, one thread per request) with
    each chat streamed, so a generation ends at the first token after ``should_stop()``."""

    should_stop: Callable[[], bool] = staticmethod(lambda: False)

    def _answer_one(self, messages: Request, sampling: Sampling) -> Answer:
        pieces: list[str] = []
        errors: list[str] = []

        def on_chunk(chunk: dict[str, Any]) -> bool:
            if "error" in chunk or "choices" not in chunk:
                errors.append(str(chunk.get("error") or chunk))
                return True
            pieces.extend(choice["delta"].get("content") or "" for choice in chunk["choices"])
            return self.should_stop()

        request = {"messages": messages, "max_tokens": sampling.max_tokens,
                   "temperature": sampling.temperature, "stream": True}
        self._server.handle_chat_completions(request, on_chunk)
        if errors:
            raise RuntimeError(f"llama.cpp error: {errors[0]}")
        return Answer(text="".join(pieces))


class LlamaCppTeacher:
    """A GGUF teacher run by llama.cpp: ``instruct(q)`` and ``instruct_many(qs, should_stop)``,
    as ``TeacherInstructor`` (the ``Instructor`` that ``wst serve`` needs).

    Greedy, at most ``max_instruction_tokens`` tokens, the text through ``clean_instruction``.
    One difference from PyTorch: llama.cpp also ends a generation at ``<|endoftext|>`` and
    other end-of-turn tokens, where ``generate`` ends only at the model's EOS.
    ``meta_prompt``, ``max_instruction_tokens`` and ``instruction_start`` left as None come
    from the ``wst_teacher.json`` beside the file (an export folder's card), else the math defaults.
    ``parallel`` questions are decoded together in llama.cpp's slots (continuous batching);
    ``context_per_slot`` tokens hold one prompt and its instruction (the server cuts questions
    to ``serve.max_question_chars``). One batch runs at a time (a lock).
    """

    def __init__(self, path: str | Path, meta_prompt: str | None = None,
                 max_instruction_tokens: int | None = None, parallel: int = 8, threads: int = 0,
                 context_per_slot: int = 2048, instruction_start: str | None = None,
                 choices: Sequence[str] | None = None):
        self.path = Path(path)
        card = read_teacher_card(self.path.parent)
        settings = teacher_settings(card, meta_prompt, max_instruction_tokens, instruction_start,
                                    choices)
        refuse_choices(settings.choices)
        self.meta_prompt, self.max_instruction_tokens, self.instruction_start = settings[:3]
        self._engine = _StoppableLlamaCpp(
            str(self.path), Sampling(max_tokens=self.max_instruction_tokens, temperature=0.0),
            parallel=parallel, threads=threads, context_per_slot=context_per_slot)
        self._lock = threading.Lock()

    def instruct(self, question: str) -> str:
        """The teacher's instruction for ``question`` (greedy, at most the token cap)."""
        return self.instruct_many([question])[0]

    def instruct_many(self, questions: list[str],
                      should_stop: Callable[[], bool] | None = None) -> list[str]:
        """Instructions for several questions, decoded together; once ``should_stop()`` is
        true every generation ends at its next token and the cut instructions are returned.
        A question llama.cpp fails on raises (the server then goes on without instruction)."""
        start = self.instruction_start  # llama.cpp continues a final assistant turn
        requests: list[Request] = [teacher_messages(self.meta_prompt, q, start)
                                   for q in questions]
        with self._lock:
            self._engine.should_stop = should_stop or (lambda: False)
            answers = self._engine.answer(requests)
        failed = next((answer for answer in answers if not answer.ok), None)
        if failed is not None:
            raise RuntimeError(f"GGUF teacher {self.path.name}: {failed.error}")
        return [clean_instruction(start + answer.text) for answer in answers]

    def close(self) -> None:
        """Free llama.cpp's model and slots."""
        self._engine.close()


def refuse_choices(choices: tuple[str, ...]) -> None:
    """A teacher that picks from ``teacher.choices`` scores each choice, which llama.cpp's
    generation here does not do: say so rather than let it write freely."""
    if choices:
        raise ValueError(f"this teacher picks one of teacher.choices {list(choices)!r}, which "
                         f"runs on the pytorch engine only; set teacher.engine = \"pytorch\"")


def load_instructor(
    model_spec: str, adapter: str | None = None, meta_prompt: str | None = None,
    max_instruction_tokens: int | None = None, engine: str = "pytorch", parallel: int = 8,
    gguf_type: str = "f16", instruction_start: str | None = None, threads: int = 0,
    choices: Sequence[str] | None = None, choice_instructions: Sequence[str] | None = None,
) -> TeacherInstructor | LlamaCppTeacher:
    """The teacher that ``wst eval`` and ``wst serve`` run (``teacher.engine``).

    A GGUF file, or an export folder holding ``teacher.gguf``, always runs in llama.cpp. With
    ``engine="llamacpp"`` any other teacher (a model, or a base model and a LoRA adapter) is
    exported to a ``gguf_type`` GGUF once (``wst.export.cached_gguf``) and runs there too;
    otherwise it runs in PyTorch. ``meta_prompt``, ``max_instruction_tokens``,
    ``instruction_start``, ``choices`` and ``choice_instructions`` left as None come from the
    teacher's card, as ``TeacherInstructor`` reads it. ``threads``: llama.cpp's CPU threads
    (0 = all cores).
    """
    gguf = None if adapter else gguf_teacher_path(model_spec)
    if gguf is None and engine == "llamacpp":
        from wst.export import cached_gguf

        model_spec, adapter = split_adapter(model_spec, adapter)
        card = read_teacher_card(adapter) or read_teacher_card(model_spec)
        settings = teacher_settings(card, meta_prompt, max_instruction_tokens, instruction_start,
                                    choices, choice_instructions)
        refuse_choices(settings.choices)  # before an export that could not be used
        meta_prompt, max_instruction_tokens, instruction_start = settings[:3]
        gguf = cached_gguf(model_spec, adapter, meta_prompt, max_instruction_tokens, gguf_type,
                           instruction_start)
    if gguf is not None:
        return LlamaCppTeacher(gguf, meta_prompt, max_instruction_tokens, parallel=parallel,
                               threads=threads, instruction_start=instruction_start,
                               choices=choices)
    return TeacherInstructor(model_spec, adapter, meta_prompt, max_instruction_tokens,
                             instruction_start, choices, choice_instructions)
