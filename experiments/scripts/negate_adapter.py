"""A LoRA adapter's update turned around: a copy of ADAPTER whose ``lora_B`` weights are
negated, so the merged weights move from the base by exactly the opposite of what training
moved them (the same size of change, the other direction). Scoring both on validation tells
whether what training learned is worse than its opposite, or whether any change of that
size loses (P24).

    .venv/bin/python experiments/scripts/negate_adapter.py runs/X/validation/step-12 runs/X-negated
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

from safetensors.torch import load_file, save_file

WEIGHTS = "adapter_model.safetensors"


def main(source: str, target: str) -> None:
    shutil.copytree(source, target)
    weights = load_file(Path(target) / WEIGHTS)
    negated = {name: -w if "lora_B" in name else w for name, w in weights.items()}
    save_file(negated, Path(target) / WEIGHTS, metadata={"format": "pt"})
    print(f"{target}: {sum('lora_B' in n for n in weights)} lora_B tensors negated")


if __name__ == "__main__":
    main(*sys.argv[1:])
