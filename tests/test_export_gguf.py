"""`wst export --gguf` and the llama.cpp teacher: the GGUF computes what the PyTorch teacher
computes (tiny random Llama and Qwen2, seconds), writes the same greedy instructions as the
embedded 135M teacher in PyTorch (slow), and the CLI refuses what it cannot convert."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from wst.cli import app
from wst.config import DEFAULT_META_PROMPT
from wst.export import export_teacher
from wst.teacher import TEACHER_CARD, TeacherInstructor, teacher_messages
from wst.gguf_writer import GGUF_NAME
from wst.teacher_gguf import LlamaCppTeacher, gguf_teacher_path, load_instructor

runner = CliRunner()

QUESTIONS = [
    "What is 3 + 4?",
    "Tom has 5 apples and eats 2. How many are left?",
    "A train travels 120 km in 2 hours. What is its average speed in km/h?",
    "Sara buys 3 notebooks at $2.50 each and a pen for $1.25. How much does she spend?",
    "If 15% of a number is 45, what is the number?",
    "A rectangle is 8 cm long and 3 cm wide. What is its area?",
    "John's age is twice Mary's. Mary is 14. How old is John?",
    "There are 24 students; 3/8 of them walk to school. How many walk?",
    "A baker makes 1,250 cookies and packs them in boxes of 25. How many boxes?",
    "The price of a €40 jacket drops by 20%. What is the new price?",
    "Lena reads 12 pages a day. How many days to read a 300-page book?",
    "A tank holds 500 liters and leaks 2.5 liters per hour. After 10 hours, how much is left?",
    "Solve for x: 2x + 7 = 19.",
    "Ali earns $18 per hour and works 37.5 hours. What is his weekly pay?",
    "What is the sum of the first 10 positive integers?",
    "A shop sells 12 apples in the morning and 9 in the afternoon. How many in all?",
    "Pens cost 3 for $4. How much do 18 pens cost?",
    "Kim didn't finish 7 of her 30 tasks. What fraction did she finish?",
    "A car uses 6 L of fuel per 100 km. How much fuel for 250 km?",
    "Mark has 3 boxes with 14 marbles each\nand gives away 9. How many remain?",
]
"""Digits, money, percent, a euro sign, apostrophes and a newline: what a tokeniser can split
differently."""


def _bpe_tokenizer(qwen_split: bool):
    """A small byte-level BPE with merges (trained on QUESTIONS in milliseconds), split as GPT-2
    or as Qwen2 does, with the tests' chat template."""
    from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast
    from transformers.models.qwen2.tokenization_qwen2 import PRETOKENIZE_REGEX

    from tests.conftest import CHAT_TEMPLATE

    specials = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
    core = Tokenizer(models.BPE())
    core.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(PRETOKENIZE_REGEX), "isolated"),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
    ]) if qwen_split else pre_tokenizers.ByteLevel(add_prefix_space=False)
    core.decoder = decoders.ByteLevel()
    # the bytes the questions use, no others: a random model's likeliest next token is then
    # rarely a lone byte of a longer character, which llama.cpp holds back with its probability
    trainer = trainers.BpeTrainer(vocab_size=400, special_tokens=specials, show_progress=False)
    core.train_from_iterator(QUESTIONS + [DEFAULT_META_PROMPT], trainer)
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=core, eos_token="<|im_end|>", pad_token="<|endoftext|>",
        bos_token="<|im_start|>", additional_special_tokens=specials)
    tokenizer.chat_template = CHAT_TEMPLATE
    return tokenizer


def _tiny_model(folder: Path, architecture: str) -> Path:
    """A random 2-layer Llama or Qwen2 (grouped-query attention, Qwen2's q/k/v biases) with a
    BPE tokenizer; weights large enough that the next-token probabilities are far from flat."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM, Qwen2Config, Qwen2ForCausalLM

    torch.manual_seed(0)
    qwen = architecture == "qwen2"
    tokenizer = _bpe_tokenizer(qwen_split=qwen)
    sizes = dict(vocab_size=len(tokenizer), hidden_size=64, intermediate_size=128,
                 num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
                 max_position_embeddings=1024, initializer_range=0.2,
                 eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id,
                 bos_token_id=tokenizer.bos_token_id)
    model = (Qwen2ForCausalLM(Qwen2Config(**sizes)) if qwen
             else LlamaForCausalLM(LlamaConfig(**sizes)))
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


@pytest.mark.parametrize("architecture, weight_type, tolerance",
                         [("llama", "f16", 1e-2), ("qwen2", "f16", 1e-2), ("llama", "q8_0", 3e-2)])
def test_the_gguf_computes_what_the_pytorch_teacher_computes(tmp_path, architecture, weight_type,
                                                             tolerance):
    """Same prompt tokens (chat template and tokeniser) and the same next-token probability
    (weights, RoPE layout, hyper-parameters), up to f16 (or 8-bit) rounding, on every question."""
    import torch

    from wst.students import Sampling
    from wst.students.llamacpp import LlamaCppStudent

    base = _tiny_model(tmp_path / "base", architecture)
    out = export_teacher(str(base), None, tmp_path / "export", DEFAULT_META_PROMPT,
                         max_instruction_tokens=16, gguf=True, gguf_type=weight_type)
    card = json.loads((out / TEACHER_CARD).read_text())
    assert (card["gguf"], card["gguf_type"]) == (GGUF_NAME, weight_type)
    import gguf

    matrices = {t.tensor_type.name for t in gguf.GGUFReader(out / GGUF_NAME).tensors
                if len(t.shape) > 1}
    assert matrices == {weight_type.upper()}
    pytorch = TeacherInstructor(str(out))
    chats = [teacher_messages(DEFAULT_META_PROMPT, q) for q in QUESTIONS]
    llama = LlamaCppStudent(str(out / GGUF_NAME), Sampling(max_tokens=1, top_logprobs=3),
                            parallel=4, threads=1)
    try:
        answers = llama.answer(chats)
    finally:
        llama.close()
    for chat, answer in zip(chats, answers):
        prompt = pytorch.tokenizer.apply_chat_template(chat, tokenize=False,
                                                       add_generation_prompt=True)
        ids = pytorch.tokenizer(prompt, return_tensors="pt", add_special_tokens=False)
        with torch.no_grad():
            probs = torch.softmax(pytorch.model(**ids).logits[0, -1], dim=-1)
        assert answer.prompt_tokens == ids["input_ids"].shape[1]
        assert max(answer.first_token_probs.values()) == pytest.approx(probs.max().item(),
                                                                       abs=tolerance)


@pytest.mark.slow
def test_the_gguf_teacher_writes_the_pytorch_teachers_instructions(tmp_path):
    """The embedded 135M teacher exported, then run by PyTorch and by llama.cpp: greedy
    instructions for 20 questions. f16 weights round the fp32 ones, which moves the logits by
    about 1e-3; where two tokens are that close, greedy decoding can take the other one and the
    instructions part there (measured: 19 of 20 identical; 20 of 20 with an f32 GGUF). So at
    least 18 must be identical and every one must start as the PyTorch one does."""
    out = export_teacher("embedded:smollm2-135m", None, tmp_path / "export",
                         DEFAULT_META_PROMPT, max_instruction_tokens=48, gguf=True)
    started = time.perf_counter()
    expected = TeacherInstructor(str(out)).instruct_many(QUESTIONS)
    pytorch_s = time.perf_counter() - started
    teacher = LlamaCppTeacher(out / GGUF_NAME, parallel=4)
    try:
        assert (teacher.meta_prompt, teacher.max_instruction_tokens) == (DEFAULT_META_PROMPT, 48)
        started = time.perf_counter()
        written = teacher.instruct_many(QUESTIONS)
        llama_s = time.perf_counter() - started
        cut = teacher.instruct_many(QUESTIONS[:2], should_stop=lambda: True)
    finally:
        teacher.close()
    same = sum(w == e for w, e in zip(written, expected))
    print(f"GGUF teacher: {same}/20 instructions identical; PyTorch {pytorch_s:.1f} s, "
          f"llama.cpp {llama_s:.1f} s for 20")
    assert same >= 18
    assert all(w.split()[:3] == e.split()[:3] for w, e in zip(written, expected))
    assert cut == ["", ""]  # stopped at the first streamed chunk, before any text


def test_both_engines_prefill_the_instruction_start(tmp_path):
    """``teacher.instruction_start`` travels in the export's card, and llama.cpp continues it
    as PyTorch does: the same prompt tokens (the start in the open assistant turn, not a new
    turn), the same next-token probability, and every instruction begins with it."""
    import torch

    from wst.students import Sampling
    from wst.students.llamacpp import LlamaCppStudent
    from wst.teacher import teacher_prompt

    start = "Reply by"
    base = _tiny_model(tmp_path / "base", "qwen2")
    out = export_teacher(str(base), None, tmp_path / "export", DEFAULT_META_PROMPT,
                         max_instruction_tokens=6, gguf=True, instruction_start=start)
    assert json.loads((out / TEACHER_CARD).read_text())["instruction_start"] == start
    pytorch = TeacherInstructor(str(out))
    prompt = teacher_prompt(pytorch.tokenizer, DEFAULT_META_PROMPT, QUESTIONS[1], start)
    ids = pytorch.tokenizer(prompt, return_tensors="pt", add_special_tokens=False)
    with torch.no_grad():
        expected = torch.softmax(pytorch.model(**ids).logits[0, -1], dim=-1).max().item()
    llama = LlamaCppStudent(str(out / GGUF_NAME), Sampling(max_tokens=1, top_logprobs=3),
                            threads=1)
    try:
        [answer] = llama.answer([teacher_messages(DEFAULT_META_PROMPT, QUESTIONS[1], start)])
    finally:
        llama.close()
    assert answer.prompt_tokens == ids["input_ids"].shape[1]
    assert max(answer.first_token_probs.values()) == pytest.approx(expected, abs=1e-2)
    teacher = LlamaCppTeacher(out / GGUF_NAME, parallel=2)
    try:
        written = teacher.instruct_many(QUESTIONS[:2])
    finally:
        teacher.close()
    assert all(w.startswith(start) for w in written + pytorch.instruct_many(QUESTIONS[:2]))


def test_a_llamacpp_teacher_runs_on_the_threads_it_is_given(tmp_path, caplog):
    """``teacher.threads`` reaches llama.cpp, so ``wst serve`` can set a core aside for the
    teacher next to the student's (0 = all cores)."""
    import logging
    import os

    base = _tiny_model(tmp_path / "base", "qwen2")
    out = export_teacher(str(base), None, tmp_path / "export", DEFAULT_META_PROMPT,
                         max_instruction_tokens=4, gguf=True)
    with caplog.at_level(logging.INFO, logger="wst"):
        for threads, expected in ((1, 1), (0, os.cpu_count())):
            load_instructor(str(out), parallel=1, threads=threads).close()
            assert f"1 slots, {expected} threads" in caplog.records[-1].getMessage()


def test_a_llamacpp_model_closed_right_after_loading_does_not_hang(tmp_path):
    """llama.cpp's server thread enters its task loop a moment after ``xllamacpp.Server()``
    returns; a close in that gap used to be lost and the close then waited forever (it hung a
    CI run in the test above). Loading now waits for the loop, so every close returns. A race:
    before the fix 3 in 510 cycles hung (benchmarks/llamacpp_close_race.py), so 40 cycles catch a regression only
    sometimes; the run's timeout turns a hang into a failure."""
    from wst.students import Sampling
    from wst.students.llamacpp import LlamaCppStudent

    base = _tiny_model(tmp_path / "base", "qwen2")
    out = export_teacher(str(base), None, tmp_path / "export", DEFAULT_META_PROMPT,
                         max_instruction_tokens=4, gguf=True)
    for _ in range(40):
        LlamaCppStudent(str(out / GGUF_NAME), Sampling(max_tokens=1), parallel=1,
                        threads=1).close()


def test_export_gguf_refuses_a_teacher_it_cannot_convert_before_writing(tmp_path, tiny_teacher):
    """A GPT-2 has no mapping here, the tests' tiny Llama has no BPE merges: one line each,
    exit 1, and no export folder (not even a partial one)."""
    from transformers import GPT2Config, GPT2LMHeadModel

    from tests.conftest import _byte_level_tokenizer

    gpt2 = tmp_path / "gpt2"
    GPT2LMHeadModel(GPT2Config(n_layer=1, n_embd=8, n_head=2, vocab_size=300)).save_pretrained(gpt2)
    _byte_level_tokenizer().save_pretrained(gpt2)
    for model, message in ((gpt2, "this one is GPT2LMHeadModel"),
                           (tiny_teacher, "tokenizer has no BPE merges")):
        run = tmp_path / f"run-{model.name}"
        result = runner.invoke(app, ["export", "--output", str(run), "--adapter", str(model),
                                     "--set", f"teacher.model={model}", "--gguf"])
        assert result.exit_code == 1 and "Traceback" not in result.output
        assert message in " ".join(result.output.split())
        assert not (run / "export").exists() and not (run / "export.partial").exists()


def test_serve_with_a_file_that_is_not_gguf_is_one_line(tmp_path):
    fake = tmp_path / "teacher.gguf"
    fake.write_text("not a model")
    result = runner.invoke(app, ["serve", "--teacher", str(fake), "--port", "0"])
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "not a GGUF file" in " ".join(result.output.split())


def test_a_gguf_file_or_an_export_folder_holding_one_selects_llamacpp(tmp_path):
    assert gguf_teacher_path(tmp_path / "mine.gguf") == tmp_path / "mine.gguf"
    assert gguf_teacher_path(tmp_path) is None  # a model folder: the PyTorch teacher
    (tmp_path / GGUF_NAME).write_bytes(b"GGUF")
    assert gguf_teacher_path(tmp_path) == tmp_path / GGUF_NAME
    assert gguf_teacher_path("embedded:smollm2-135m") is None


def _random_adapter(base: Path, folder: Path, seed: int) -> Path:
    """A LoRA adapter on ``base`` with random (non-zero) weights, saved as training saves one:
    with the tokenizer and the card."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from wst.teacher import save_teacher_card

    torch.manual_seed(seed)
    model = get_peft_model(AutoModelForCausalLM.from_pretrained(base), LoraConfig(
        r=4, lora_alpha=32, target_modules=["q_proj", "v_proj"], init_lora_weights=False))
    model.save_pretrained(folder)
    AutoTokenizer.from_pretrained(base).save_pretrained(folder)
    save_teacher_card(folder, DEFAULT_META_PROMPT, str(base))
    return folder


def _first_token_max_prob(model_spec: str, adapter: str | None, chat: list) -> float:
    import torch

    teacher = TeacherInstructor(model_spec, adapter)
    prompt = teacher.tokenizer.apply_chat_template(chat, tokenize=False, add_generation_prompt=True)
    ids = teacher.tokenizer(prompt, return_tensors="pt", add_special_tokens=False)
    with torch.no_grad():
        return torch.softmax(teacher.model(**ids).logits[0, -1], dim=-1).max().item()


def test_eval_runs_a_trained_adapter_through_llamacpp_from_a_cached_export(tmp_path, monkeypatch):
    """``teacher.engine = "llamacpp"``: evaluation exports base + adapter to GGUF once (cached
    by the adapter's weights: a retrained adapter gets its own export), runs it in llama.cpp,
    never loads the PyTorch teacher, and the GGUF computes what base + adapter computes (not
    what the base alone does)."""
    import wst.evaluate as evaluate_module
    from wst.config import RunConfig
    from wst.export import cached_gguf
    from wst.students import Sampling
    from wst.students.llamacpp import LlamaCppStudent
    from wst.tasks import Example

    monkeypatch.setenv("WST_CACHE_DIR", str(tmp_path / "cache"))
    base = _tiny_model(tmp_path / "base", "qwen2")
    adapter = _random_adapter(base, tmp_path / "adapter", seed=1)
    gguf = cached_gguf(str(base), str(adapter), DEFAULT_META_PROMPT, 8)
    written_at = gguf.stat().st_mtime_ns
    assert cached_gguf(str(base), str(adapter), DEFAULT_META_PROMPT, 8) == gguf
    assert gguf.stat().st_mtime_ns == written_at  # reused, not exported again
    other = _random_adapter(base, tmp_path / "retrained", seed=2)
    assert cached_gguf(str(base), str(other), DEFAULT_META_PROMPT, 8) != gguf

    chat = teacher_messages(DEFAULT_META_PROMPT, QUESTIONS[1])
    llama = LlamaCppStudent(str(gguf), Sampling(max_tokens=1, top_logprobs=3), threads=1)
    try:
        merged = max(llama.answer([chat])[0].first_token_probs.values())
    finally:
        llama.close()
    assert merged == pytest.approx(_first_token_max_prob(str(base), str(adapter), chat), abs=1e-2)
    assert merged != pytest.approx(_first_token_max_prob(str(base), None, chat), abs=1e-2)

    def no_pytorch(*args, **kwargs):
        raise AssertionError("the llama.cpp engine loaded the PyTorch teacher")

    monkeypatch.setattr(evaluate_module, "load_teacher", no_pytorch)
    config = RunConfig()
    config.teacher.model, config.teacher.engine = str(base), "llamacpp"
    config.teacher.max_instruction_tokens = 8
    examples = [Example(f"q{i}", q, "0") for i, q in enumerate(QUESTIONS[:4])]
    written = evaluate_module.instructions_for("teacher_trained", examples, config, None,
                                               str(adapter))
    assert len(written) == 4 and all(isinstance(w, str) for w in written)
