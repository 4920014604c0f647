"""A bare LoRA forward and forward + backward of the embedded 135M teacher, outside TRL, on
the shape of one training step (16 sequences x 210 tokens): what the update phase of
``benchmarks/step_profile.py`` costs without TRL around it.

    .venv/bin/python benchmarks/lora_step.py [--sequences 16] [--tokens 210]
"""

from __future__ import annotations

import argparse
import time

import torch
from peft import LoraConfig, get_peft_model

from wst.teacher import load_teacher


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sequences", type=int, default=16)
    parser.add_argument("--tokens", type=int, default=210)
    args = parser.parse_args()
    model, _ = load_teacher("embedded:smollm2-135m")
    model = get_peft_model(model, LoraConfig(r=16, lora_alpha=32, task_type="CAUSAL_LM",
                                             target_modules=["q_proj", "k_proj", "v_proj", "o_proj"]))
    ids = torch.randint(0, 40000, (args.sequences, args.tokens))
    started = time.perf_counter()
    with torch.no_grad():
        model(input_ids=ids)
    print(f"forward {time.perf_counter() - started:.1f} s")
    for _ in range(2):  # the first pass warms up the allocator
        started = time.perf_counter()
        logits = model(input_ids=ids).logits
        logits[:, -40:].logsumexp(-1).sum().backward()
        print(f"forward + backward {time.perf_counter() - started:.1f} s")


if __name__ == "__main__":
    main()
