"""Shared fixtures: a tiny random teacher (built here, no download) and a scripted student."""

from __future__ import annotations

from pathlib import Path

import pytest

from wst.students.base import Answer, Messages, Sampling, Student

CHAT_TEMPLATE = (
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n"
    "{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


def _byte_level_tokenizer():
    """A 259-token byte-level tokenizer with a chat template: enough to run GRPO for real."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    specials = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
    alphabet = sorted(pre_tokenizers.ByteLevel.alphabet())
    vocab = {tok: i for i, tok in enumerate(specials + alphabet)}
    core = Tokenizer(models.BPE(vocab=vocab, merges=[]))
    core.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    core.decoder = decoders.ByteLevel()
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=core, eos_token="<|im_end|>", pad_token="<|endoftext|>",
        bos_token="<|im_start|>", additional_special_tokens=specials,
    )
    tokenizer.chat_template = CHAT_TEMPLATE
    return tokenizer


@pytest.fixture(scope="session")
def tiny_teacher(tmp_path_factory) -> Path:
    """Folder of a 2-layer random Llama with the tokenizer above (seconds to build)."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    tokenizer = _byte_level_tokenizer()
    config = LlamaConfig(
        vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
        num_attention_heads=2, num_key_value_heads=1, max_position_embeddings=1024,
        eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id,
        bos_token_id=tokenizer.bos_token_id,
    )
    folder = tmp_path_factory.mktemp("tiny_teacher")
    LlamaForCausalLM(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


class ScriptedStudent(Student):
    """Test double: right (``\\boxed{7}``) when the instruction has an even number of
    characters, wrong otherwise, so groups of instructions get different rewards."""

    def __init__(self, parallel: int = 2):
        super().__init__(Sampling(max_tokens=16), parallel=parallel)
        self.requests: list[Messages] = []

    @property
    def identity(self) -> str:
        return "scripted:test"

    def _answer_one(self, messages: Messages, sampling: Sampling) -> Answer:
        self.requests.append(messages)
        instruction = messages[-1]["content"].split("\n\n")[0]
        text = "\\boxed{7}" if len(instruction) % 2 == 0 else "\\boxed{0}"
        return Answer(text=text, completion_tokens=3)


@pytest.fixture
def scripted_student() -> ScriptedStudent:
    return ScriptedStudent()
