#!/usr/bin/env bash
# Copy what is worth keeping from a run folder into results/NAME (committed): the trained
# adapter (a few MB), the resolved config, metrics, screen, split, report and plots, and the
# evaluation summary and records, the training samples. Checkpoints and caches stay in runs/.
#   scripts/ship_run.sh runs/gsm8k results/gsm8k-qwen0.5b
set -euo pipefail
[ $# -eq 2 ] || { echo "usage: scripts/ship_run.sh RUN_DIR RESULTS_DIR" >&2; exit 2; }
run=$1 out=$2
[ -f "$run/teacher/wst_teacher.json" ] || { echo "$run/teacher holds no trained teacher" >&2; exit 1; }
mkdir -p "$out/teacher"
cp "$run"/teacher/{adapter_config.json,adapter_model.safetensors,wst_teacher.json} "$out/teacher/"
cp "$run"/teacher/{tokenizer.json,tokenizer_config.json} "$out/teacher/" 2>/dev/null || true
for f in config.json metrics.jsonl train_samples.jsonl screen.jsonl split.json report.md training.png accuracy.png; do
  [ -f "$run/$f" ] && cp "$run/$f" "$out/"
done
if [ -d "$run/eval" ]; then mkdir -p "$out/eval" && cp "$run"/eval/{eval.json,split.json,records.jsonl} "$out/eval/" 2>/dev/null || true; fi
du -sh "$out/teacher"
