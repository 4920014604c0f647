"""Local transformers student: a causal LM (folder or hub name) answering in padded batches.

Calling ``generate`` on one model from many threads is slow, so this backend overrides
``Student._answer_many``: the uncached requests of a batch go through one left-padded
``model.generate`` call per chunk of ``parallel`` requests.

Sampling (temperature > 0) draws every token from ``softmax(logits / temperature)`` with a
``torch.Generator`` per request, seeded with ``sampling.seed``. ``generate`` has no generator
argument (it samples from torch's global RNG), so the draw happens in a logits processor
that leaves only the drawn token open and ``generate`` then picks it greedily. The global
RNG is never touched, and a request's answer does not depend on which other requests share
its chunk. It is plain temperature sampling: the model's default top-k/top-p do not apply.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path

from wst.assets import model_errors, weights_sha256
from wst.students.base import Answer, Budget, Request, Sampling, Student
from wst.students.cache import ResponseCache

log = logging.getLogger(__name__)


class HFStudent(Student):
    def __init__(
        self,
        model: str,
        sampling: Sampling,
        parallel: int = 4,
        cache: ResponseCache | None = None,
        budget: Budget | None = None,
    ):
        super().__init__(sampling, parallel, cache, budget)
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        self.model_name = model
        cuda = torch.cuda.is_available()
        self.device = torch.device("cuda" if cuda else "cpu")
        with model_errors(model, "student model"):
            self.tokenizer = AutoTokenizer.from_pretrained(model)
            self.model = AutoModelForCausalLM.from_pretrained(
                model, dtype=torch.bfloat16 if cuda else torch.float32
            ).to(self.device)
        self.tokenizer.padding_side = "left"
        if self.tokenizer.pad_token is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        self.model.eval()
        eos = self.model.generation_config.eos_token_id
        if eos is None:
            eos = self.tokenizer.eos_token_id
        self._eos_ids = set(eos if isinstance(eos, list) else [eos])
        self._lock = threading.Lock()  # one generate at a time on this model
        self._identity = f"hf:{model}:{_weights_version(model, self.model)}"
        log.info("student %s loaded on %s, batches of %d", model, self.device, self.parallel)

    @property
    def identity(self) -> str:
        return self._identity

    def _answer_one(self, messages: Request, sampling: Sampling) -> Answer:
        return self._generate([messages], sampling)[0]

    def _answer_many(self, batch: list[Request], sampling: Sampling) -> list[Answer]:
        """One padded ``generate`` call per chunk of ``parallel`` requests; a chunk that
        raises becomes failed answers (logged), like ``_safe_answer`` does for one request."""
        answers: list[Answer] = []
        for start in range(0, len(batch), self.parallel):
            chunk = batch[start : start + self.parallel]
            try:
                answers.extend(self._generate(chunk, sampling))
            except Exception as exc:  # any backend failure becomes scored failures, logged
                log.warning("%s: batch of %d failed: %s", self.identity, len(chunk), exc)
                error = f"{type(exc).__name__}: {exc}"
                answers.extend(Answer(text="", ok=False, error=error) for _ in chunk)
        return answers

    def _generate(self, chunk: list[Request], sampling: Sampling) -> list[Answer]:
        import torch
        from transformers import LogitsProcessorList

        if self.tokenizer.chat_template is None and any(not isinstance(m, str) for m in chunk):
            raise ValueError(f"student model {self.model_name} has no chat template; "
                             "send plain-text prompts")
        prompts = [
            m if isinstance(m, str)
            else self.tokenizer.apply_chat_template(m, add_generation_prompt=True, tokenize=False)
            for m in chunk
        ]
        inputs = self.tokenizer(
            prompts, return_tensors="pt", padding=True, add_special_tokens=False
        ).to(self.device)
        processors = LogitsProcessorList()
        if not sampling.deterministic:
            processors.append(_SeededSampler(sampling.temperature, sampling.seed, len(chunk),
                                             self.device))
        with self._lock, torch.inference_mode():
            output = self.model.generate(
                **inputs,
                max_new_tokens=sampling.max_tokens,
                do_sample=False,  # sampling, when asked, happens in _SeededSampler
                logits_processor=processors,
                pad_token_id=self.tokenizer.pad_token_id,
                eos_token_id=sorted(self._eos_ids),
            )
        generated = output[:, inputs["input_ids"].shape[1] :].tolist()
        prompt_tokens = inputs["attention_mask"].sum(dim=1).tolist()  # padding excluded
        answers = []
        for row, prompt in zip(generated, prompt_tokens):
            end = next((i for i, t in enumerate(row) if t in self._eos_ids), None)
            tokens = len(row) if end is None else end + 1  # up to and including EOS
            text = self.tokenizer.decode(row[: tokens if end is None else end],
                                         skip_special_tokens=True)
            answers.append(Answer(text=text, completion_tokens=tokens, prompt_tokens=prompt))
        return answers

    def close(self) -> None:
        import torch

        del self.model
        if torch.cuda.is_available():
            torch.cuda.empty_cache()


class _SeededSampler:
    """Logits processor: draws each row's next token from ``softmax(scores / temperature)``
    with that row's own seeded ``torch.Generator`` and masks every other token to -inf."""

    def __init__(self, temperature: float, seed: int | None, rows: int, device):
        import torch

        self.temperature = temperature
        self.generators = [torch.Generator(device=device) for _ in range(rows)]
        for generator in self.generators:
            if seed is None:
                generator.seed()
            else:
                generator.manual_seed(seed)

    def __call__(self, input_ids, scores):
        import torch

        probs = torch.softmax(scores.float() / self.temperature, dim=-1)
        picks = torch.cat([torch.multinomial(probs[i], 1, generator=g)
                           for i, g in enumerate(self.generators)])
        masked = torch.full_like(scores, float("-inf"))
        return masked.scatter_(1, picks[:, None], 0.0)


def _weights_version(spec: str, model: object) -> str:
    """What the weights behind ``spec`` are: a local folder by its weight files' hashes, a
    hub model by the revision it was loaded at (so the cache never mixes two fine-tunes)."""
    folder = Path(spec).expanduser()
    digest = weights_sha256(folder) if folder.is_dir() else None
    if digest:
        return digest[:16]
    revision = getattr(getattr(model, "config", None), "_commit_hash", None)
    return f"rev-{revision[:16]}" if revision else "unversioned"
