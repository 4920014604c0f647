#!/usr/bin/env bash
# One check of a GPU box, under 10 minutes: install, train the teacher for 4 GRPO steps of the
# demo config on CUDA in bfloat16 (student: the embedded 0.5B in llama.cpp on the CPU cores),
# then print where each step's time went and the peak GPU memory.
#   benchmarks/gpu_check.sh            (RUN=runs/gpu-check STEPS=4 to change)
#   DEVICE=cpu benchmarks/gpu_check.sh a dry run on a CPU box: the same training in bfloat16
#                                      and the same table, with no GPU memory line
set -euo pipefail
cd "$(dirname "$0")/.."
run=${RUN:-runs/gpu-check}
steps=${STEPS:-4}
device=${DEVICE:-cuda}
[ "$device" = cuda ] || [ "$device" = cpu ] || { echo "gpu_check: DEVICE is cuda or cpu, not '$device'" >&2; exit 2; }
scripts/install.sh
memory_log=/dev/null
if [ "$device" = cuda ]; then
    memory_log=$(mktemp)
    command -v nvidia-smi >/dev/null || { echo "gpu_check: no nvidia-smi, is this a GPU box? (DEVICE=cpu for a dry run)" >&2; exit 2; }
    .venv/bin/python -c "import torch; assert torch.cuda.is_available(), 'torch sees no GPU'; print('torch', torch.__version__, torch.cuda.get_device_name(0))"
    nvidia-smi --query-gpu=memory.used --format=csv,noheader,nounits -lms 500 > "$memory_log" &
    sampler=$!
    trap 'kill $sampler 2>/dev/null || true' EXIT
fi
started=$(date +%s)
.venv/bin/wst train -c configs/demo_train.toml --output "$run" --steps "$steps" \
    --set train.device="$device" --set train.bf16=true --set train.screen=false \
    --set train.validation_steps=0
echo "training took $(( $(date +%s) - started )) s"
.venv/bin/python - "$run/metrics.jsonl" "$memory_log" "$device" <<'PY'
import json, sys
rows = [json.loads(line) for line in open(sys.argv[1]) if '"reward"' in line]
print("step  teacher_s  student_s  update_s  reward")
for r in rows:
    print(f"{r['step']:>4}  {r['time/teacher_generation_s']:>9.1f}  {r['time/student_s']:>9.1f}"
          f"  {r['time/update_s']:>8.1f}  {r['reward']:.3f}")
if sys.argv[3] == "cuda":
    used = [int(x) for x in open(sys.argv[2]).read().split() if x.strip().isdigit()]
    print(f"peak GPU memory used: {max(used, default=0)} MiB (nvidia-smi, every 0.5 s)")
PY
