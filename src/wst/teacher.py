"""The teacher: its prompt, loading (GGUF, local folder or hub; LoRA adapter), and sampling.

The embedded teacher ships as a GGUF file. transformers can read it (``gguf_file=``) but
de-quantises for ~40 s on every load and refuses ``save_pretrained``; so it is converted
once to an fp32 folder under the cache and loaded from there (about 1 s).
"""

from __future__ import annotations

import json
import logging
import shutil
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import torch

from wst.assets import EMBEDDED_PREFIX, cache_dir, check_model_source, embedded_gguf, model_errors
from wst.fileio import atomic_write_text

log = logging.getLogger(__name__)


def teacher_messages(meta_prompt: str, question: str,
                     instruction_start: str = "") -> list[dict[str, str]]:
    r"""The chat prompt that asks the teacher for an instruction about ``question``; with an
    ``instruction_start``, an assistant turn holding those words follows (the prefill that
    llama.cpp continues).

    Only ``{question}`` is replaced; other braces (``\boxed{}``, JSON) stay as written, so any
    prompt that passed ``load_run_config`` works here (``str.format`` would fail on them).

    >>> teacher_messages(r"End with \boxed{}. Problem: {question}", "1+1?")[0]["content"]
    'End with \\boxed{}. Problem: 1+1?'
    """
    if "{question}" not in meta_prompt:
        raise ValueError("the teacher's meta prompt must contain {question}; an empty "
                         "teacher.meta_prompt is filled with the task's own by load_run_config")
    messages = [{"role": "user", "content": meta_prompt.replace("{question}", question)}]
    if instruction_start:
        messages.append({"role": "assistant", "content": instruction_start})
    return messages


def teacher_prompt(tokenizer: Any, meta_prompt: str, question: str,
                   instruction_start: str = "") -> str:
    """The teacher's prompt as text: its chat template applied to ``teacher_messages``, then
    ``instruction_start`` (``teacher.instruction_start``) as the start of its reply, so the
    teacher writes on from those words (a prefill)."""
    chat = tokenizer.apply_chat_template(teacher_messages(meta_prompt, question),
                                         tokenize=False, add_generation_prompt=True)
    return chat + instruction_start


def clean_instruction(text: str) -> str:
    """The instruction as the student will see it: trimmed, with a leading label removed.

    >>> clean_instruction("  Instruction: Add the two amounts.  ")
    'Add the two amounts.'
    """
    text = text.strip()
    for label in ("Instruction:", "instruction:"):
        if text.startswith(label):
            text = text[len(label):].strip()
    return text


def resolve_teacher(spec: str) -> str:
    """A loadable model folder or hub name for ``spec`` (``embedded:NAME`` is converted); a
    local folder that does not exist is an AssetError naming it."""
    if not spec.startswith(EMBEDDED_PREFIX):
        check_model_source(spec, "teacher")
        return spec
    name = spec[len(EMBEDDED_PREFIX):]
    gguf = embedded_gguf(name)
    folder = cache_dir() / "teachers" / name
    if not (folder / "config.json").exists():
        _convert_gguf(gguf, folder)
    return str(folder)


def _convert_gguf(gguf: Path, folder: Path) -> None:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    log.info("converting %s to an fp32 model folder (once, ~40 s)", gguf.name)
    tokenizer = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    model = AutoModelForCausalLM.from_pretrained(
        str(gguf.parent), gguf_file=gguf.name, dtype=torch.float32
    )
    # transformers refuses to save a GGUF-loaded model; the weights are plain fp32 by now.
    model.hf_quantizer = None
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    partial = folder.with_name(folder.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    model.save_pretrained(partial)
    tokenizer.save_pretrained(partial)
    shutil.rmtree(folder, ignore_errors=True)
    partial.rename(folder)


def load_tokenizer(model_path: str):
    from transformers import AutoTokenizer

    with model_errors(model_path, "teacher tokenizer"):
        tokenizer = AutoTokenizer.from_pretrained(model_path)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    tokenizer.padding_side = "left"
    return tokenizer


def load_teacher(model_spec: str, adapter: str | None = None):
    """(model, tokenizer) in fp32 for generation; ``adapter`` is a LoRA or full-model folder.
    A folder or hub model that cannot be loaded is a one-line AssetError naming it."""
    from transformers import AutoModelForCausalLM

    path = resolve_teacher(model_spec)
    if adapter and not (Path(adapter) / "adapter_config.json").exists():
        path = adapter  # a full fine-tune saved as a whole model
        adapter = None
    with model_errors(path, "teacher"):
        model = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32)
    # An adapter saved without its tokenizer (results/ keeps adapters small) uses the base's.
    own_tokenizer = adapter and (Path(adapter) / "tokenizer_config.json").exists()
    tokenizer = load_tokenizer(adapter if own_tokenizer else path)
    if adapter:
        from peft import PeftModel

        with model_errors(adapter, "teacher adapter"):
            model = PeftModel.from_pretrained(model, adapter)
    model.eval()
    return model, tokenizer


@torch.no_grad()
def write_instructions(
    model,
    tokenizer,
    questions: list[str],
    meta_prompt: str,
    max_new_tokens: int,
    batch_size: int = 16,
    samples: int = 0,
    temperature: float = 1.0,
    should_stop: Callable[[], bool] | None = None,
    instruction_start: str = "",
    choices: Sequence[str] = (),
    choice_instructions: Sequence[str] = (),
) -> list[str]:
    """Greedy instructions for each question, generated in left-padded batches; or, with
    ``samples`` > 0, that many sampled at ``temperature`` per question (question-major order:
    all of the first question's, then the second's; seed with ``torch.manual_seed``).
    ``should_stop`` is asked after every token; once true, generation ends there and the
    instructions are returned as far as they got. Each starts with ``instruction_start``.
    With ``choices`` (``teacher.choices``) the teacher picks one of them, the most likely or
    sampled from their renormalised probabilities, and the instruction is the start and the
    pick, or the pick's entry of ``choice_instructions`` ("" = none; ``menu_instruction``)."""
    if choices:
        return _pick_choices(model, tokenizer, questions, meta_prompt, instruction_start,
                             list(choices), list(choice_instructions), batch_size, samples,
                             temperature)
    out: list[str] = []
    sampling = ({"do_sample": True, "temperature": temperature, "top_k": 0,
                 "num_return_sequences": samples} if samples else {"do_sample": False})
    if should_stop is not None:
        from transformers import StoppingCriteriaList

        sampling["stopping_criteria"] = StoppingCriteriaList([_AskToStop(should_stop)])
    for start in range(0, len(questions), batch_size):
        chunk = questions[start:start + batch_size]
        prompts = [teacher_prompt(tokenizer, meta_prompt, q, instruction_start) for q in chunk]
        batch = tokenizer(prompts, return_tensors="pt", padding=True, add_special_tokens=False)
        generated = model.generate(
            **batch, max_new_tokens=max_new_tokens, pad_token_id=tokenizer.pad_token_id,
            **sampling,
        )
        new_tokens = generated[:, batch["input_ids"].shape[1]:]
        texts = tokenizer.batch_decode(new_tokens, skip_special_tokens=True)
        out += [clean_instruction(instruction_start + t) for t in texts]
    return out


def menu_instruction(start: str, choices: Sequence[str], shown: Sequence[str],
                     index: int) -> str:
    """What the student sees when the teacher picks ``choices[index]``: that entry of
    ``shown`` (``teacher.choice_instructions``, trimmed as ``wst serve`` trims; "" = no
    instruction), or without them the start and the choice as one instruction. The one place
    a pick becomes an instruction, for evaluation, ``wst serve`` and training's rewards alike.

    >>> menu_instruction("Method:", [" none", " prose"], ["", " Reason in sentences. "], 1)
    'Reason in sentences.'
    >>> menu_instruction("Method:", [" none", " prose"], [], 1)
    'Method: prose'
    """
    return shown[index].strip() if shown else clean_instruction(start + choices[index])


def choice_index(start: str, choices: Sequence[str], text: str) -> int:
    """Which of ``choices`` the teacher wrote as ``text`` after ``start``: the one that makes
    the same instruction (so spaces at the edges, which decoding may change, do not count).

    >>> choice_index("Method:", [" none", " prose"], " prose")
    1
    """
    written = clean_instruction(start + text)
    for index, choice in enumerate(choices):
        if clean_instruction(start + choice) == written:
            return index
    raise ValueError(f"the teacher wrote {text!r}, none of teacher.choices {list(choices)!r}")


def choice_token_ids(tokenizer: Any, choices: Sequence[str]) -> list[list[int]]:
    """The tokens of each of ``teacher.choices`` as the teacher would write them after its
    prompt (no special tokens)."""
    ids = [tokenizer(choice, add_special_tokens=False)["input_ids"] for choice in choices]
    if not all(ids):
        raise ValueError(f"teacher.choices: each choice needs at least one token ({choices!r})")
    return ids


def choice_logprobs(model: Any, tokenizer: Any, prompts: list[str],
                    choices: Sequence[str]) -> torch.Tensor:
    """Log-probability of each choice after each prompt (the sum over its tokens), shape
    (prompts, choices), without gradients."""
    rows = [tokenizer(prompt, add_special_tokens=False)["input_ids"] for prompt in prompts]
    width = max(map(len, rows))
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    input_ids = torch.tensor([[pad] * (width - len(row)) + row for row in rows])
    attention = torch.tensor([[0] * (width - len(row)) + [1] * len(row) for row in rows])
    device = next(model.parameters()).device
    with torch.no_grad():
        logps = menu_logprobs(model, input_ids.to(device), attention.to(device),
                              choice_token_ids(tokenizer, choices))
    return logps.cpu()


def menu_logprobs(model: Any, prompt_ids: torch.Tensor, prompt_mask: torch.Tensor,
                  menu: list[list[int]], temperature: float = 1.0) -> torch.Tensor:
    """Log-probability of each choice of ``menu`` (token ids) after each left-padded prompt,
    shape (prompts, choices), with gradients if enabled (training's ``choice_loss`` uses it).
    A menu of one-token choices takes one forward pass over the prompts, reading the menu's
    tokens off the last position (half the work of scoring each prompt-choice pair for two
    choices); longer choices are appended to every prompt, left-padded so that every choice
    ends at the last position. Either way only the last few positions' logits are computed
    (the whole vocabulary at every position would take gigabytes)."""
    if all(len(ids) == 1 for ids in menu):
        logits = _last_logits(model, prompt_ids, prompt_mask, keep=1)[:, -1]
        logps = torch.log_softmax(logits / temperature, dim=-1)
        return logps[:, [ids[0] for ids in menu]]
    count, width = len(menu), max(map(len, menu))
    pad = torch.zeros(width, dtype=prompt_ids.dtype, device=prompt_ids.device)
    rows, masks = [], []
    for prompt, mask in zip(prompt_ids, prompt_mask):
        for ids in menu:
            shift = width - len(ids)  # move the prompt right so that the choice ends last
            choice = torch.tensor(ids, dtype=prompt_ids.dtype, device=prompt_ids.device)
            rows.append(torch.cat([pad[:shift], prompt, choice]))
            masks.append(torch.cat([pad[:shift], mask.to(pad.dtype), torch.ones_like(choice)]))
    input_ids, attention = torch.stack(rows), torch.stack(masks)
    logits = _last_logits(model, input_ids, attention, keep=width + 1)[:, :-1]
    logps = torch.log_softmax(logits / temperature, dim=-1)
    picked = logps.gather(2, input_ids[:, -width:].unsqueeze(2)).squeeze(2)
    lengths = torch.tensor([len(ids) for ids in menu] * len(prompt_ids), device=picked.device)
    counted = torch.arange(width, device=picked.device) >= width - lengths.unsqueeze(1)
    return (picked * counted).sum(dim=1).reshape(len(prompt_ids), count)


def _last_logits(model: Any, input_ids: torch.Tensor, attention: torch.Tensor,
                 keep: int) -> torch.Tensor:
    """The logits (float32) of the last ``keep`` positions of left-padded rows, with positions
    counted from each row's first real token."""
    positions = (attention.cumsum(dim=1) - 1).clamp(min=0)
    logits = model(input_ids=input_ids, attention_mask=attention, position_ids=positions,
                   logits_to_keep=keep).logits
    return logits[:, -keep:].float()


def _pick_choices(model: Any, tokenizer: Any, questions: list[str], meta_prompt: str,
                  instruction_start: str, choices: list[str], shown: list[str],
                  batch_size: int, samples: int, temperature: float) -> list[str]:
    """``write_instructions`` for a teacher that picks one of ``choices`` (``shown``: their
    ``choice_instructions``)."""
    picked: list[int] = []
    for first in range(0, len(questions), batch_size):
        prompts = [teacher_prompt(tokenizer, meta_prompt, q, instruction_start)
                   for q in questions[first:first + batch_size]]
        logps = choice_logprobs(model, tokenizer, prompts, choices)
        if samples:
            weights = torch.softmax(logps / temperature, dim=-1)
            picked += torch.multinomial(weights, samples, replacement=True).flatten().tolist()
        else:
            picked += logps.argmax(dim=-1).tolist()
    return [menu_instruction(instruction_start, choices, shown, i) for i in picked]


TEACHER_CARD = "wst_teacher.json"


def save_teacher_card(folder: Path, meta_prompt: str, base_model: str,
                      extra: dict[str, Any] | None = None) -> None:
    """Record what a saved adapter needs to be used: its base model and its prompt
    (``extra``: more fields, e.g. an exported teacher's ``max_instruction_tokens``)."""
    card = {"base_model": base_model, "meta_prompt": meta_prompt, **(extra or {})}
    atomic_write_text(folder / TEACHER_CARD, json.dumps(card, indent=2))


def read_teacher_card(folder: str | Path | None) -> dict[str, Any]:
    """The ``wst_teacher.json`` of a local folder; {} for hub names, ``embedded:`` specs and
    folders without one (an unreadable card is logged and ignored)."""
    if not folder:
        return {}
    path = Path(folder) / TEACHER_CARD
    if not path.is_file():
        return {}
    try:
        card = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        log.warning("ignoring unreadable %s: %s", path, exc)
        return {}
    return card if isinstance(card, dict) else {}


def is_adapter(folder: str | Path | None) -> bool:
    """True for a LoRA adapter folder (as opposed to a whole model)."""
    if not folder:
        return False
    return (Path(folder) / "adapter_config.json").is_file()


class TeacherSettings(NamedTuple):
    """How a deployed teacher is prompted (``TeacherConfig``'s fields of the same names)."""

    meta_prompt: str
    max_instruction_tokens: int
    instruction_start: str
    choices: tuple[str, ...] = ()
    choice_instructions: tuple[str, ...] = ()


def teacher_settings(card: dict[str, Any], meta_prompt: str | None = None,
                     max_instruction_tokens: int | None = None,
                     instruction_start: str | None = None,
                     choices: Sequence[str] | None = None,
                     choice_instructions: Sequence[str] | None = None) -> TeacherSettings:
    """The settings of a deployed teacher: the ones given, else its card's (an exported
    teacher carries the prompt it was trained with), else the math tasks' defaults. Shared
    by the PyTorch and the llama.cpp teacher, so both read a card alike. The card's
    ``choice_instructions`` belong to its own ``choices``: choices given without
    instructions show themselves."""
    from wst.config import DEFAULT_META_PROMPT, TeacherConfig

    prompt = meta_prompt or card.get("meta_prompt") or DEFAULT_META_PROMPT
    if "{question}" not in prompt:
        raise ValueError("the teacher's meta prompt must contain {question}")
    cap = int(max_instruction_tokens or card.get("max_instruction_tokens")
              or TeacherConfig().max_instruction_tokens)
    start = card.get("instruction_start", "") if instruction_start is None else instruction_start
    menu = (card.get("choices") or ()) if choices is None else choices
    shown = (card.get("choice_instructions") or ()) if choices is None else ()
    shown = shown if choice_instructions is None else choice_instructions
    if shown and len(shown) != len(menu):
        raise ValueError(f"teacher.choice_instructions {list(shown)!r} needs one per choice of "
                         f"teacher.choices {list(menu)!r}")
    return TeacherSettings(prompt, cap, str(start), tuple(map(str, menu)),
                           tuple(map(str, shown)))


def split_adapter(model_spec: str, adapter: str | None) -> tuple[str, str | None]:
    """(base model, adapter): a trained adapter folder given as the model names its base in
    its card."""
    if adapter is None and is_adapter(model_spec):
        base = read_teacher_card(model_spec).get("base_model")
        if not base:
            raise ValueError(f"{model_spec} is a LoRA adapter without a base_model in its "
                             f"{TEACHER_CARD}; pass the base model and the adapter")
        return base, model_spec
    return model_spec, adapter


class TeacherInstructor:
    """A loaded teacher that writes one greedy instruction per question: ``instruct(q)``.

    ``model_spec`` is anything ``load_teacher`` takes (``embedded:NAME``, a model folder such
    as a ``wst export`` folder, a hub name) or a trained adapter folder, whose base model is
    read from its ``wst_teacher.json``. ``meta_prompt``, ``max_instruction_tokens``,
    ``instruction_start``, ``choices`` and ``choice_instructions`` left as None come from the
    card of the adapter or model folder when it has one (an exported teacher carries the
    prompt it was trained with), else from the math tasks' defaults (``teacher_settings``).
    One ``generate`` runs at a time (a lock), so one instance can serve many threads.
    """

    def __init__(self, model_spec: str, adapter: str | None = None,
                 meta_prompt: str | None = None, max_instruction_tokens: int | None = None,
                 instruction_start: str | None = None, choices: Sequence[str] | None = None,
                 choice_instructions: Sequence[str] | None = None):
        model_spec, adapter = split_adapter(model_spec, adapter)
        card = read_teacher_card(adapter) or read_teacher_card(model_spec)
        (self.meta_prompt, self.max_instruction_tokens, self.instruction_start, self.choices,
         self.choice_instructions) = teacher_settings(card, meta_prompt, max_instruction_tokens,
                                                      instruction_start, choices,
                                                      choice_instructions)
        self.model_spec, self.adapter = model_spec, adapter
        self.model, self.tokenizer = load_teacher(model_spec, adapter)
        self._lock = threading.Lock()

    def instruct(self, question: str) -> str:
        """The teacher's instruction for ``question`` (greedy, at most the token cap)."""
        return self.instruct_many([question])[0]

    def instruct_many(self, questions: list[str],
                      should_stop: Callable[[], bool] | None = None) -> list[str]:
        """Instructions for several questions in one left-padded ``generate`` (as in eval).

        ``should_stop`` is asked after every generated token; once it is true the generation
        ends there and the cut instructions are returned. ``wst serve`` passes one that turns
        true when every request waiting for these instructions has timed out, so a generation
        nobody will read frees the teacher instead of running to the token cap.
        """
        with self._lock:
            return write_instructions(self.model, self.tokenizer, questions, self.meta_prompt,
                                      self.max_instruction_tokens,
                                      batch_size=max(1, len(questions)), should_stop=should_stop,
                                      instruction_start=self.instruction_start,
                                      choices=self.choices,
                                      choice_instructions=self.choice_instructions)


    def close(self) -> None:
        """Drop the model (as ``LlamaCppTeacher.close`` frees llama.cpp's)."""
        self.model = None


class _AskToStop:
    """A transformers stopping criterion that ends every sequence once ``should_stop()``
    (called as a ``StoppingCriteria`` is; not a subclass, so that importing this module does
    not import transformers)."""

    def __init__(self, should_stop: Callable[[], bool]):
        self.should_stop = should_stop

    def __call__(self, input_ids: torch.LongTensor, scores: Any, **kwargs: Any) -> torch.BoolTensor:
        return torch.full((input_ids.shape[0],), bool(self.should_stop()), dtype=torch.bool,
                          device=input_ids.device)
