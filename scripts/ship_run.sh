#!/usr/bin/env bash
# Copy what is worth keeping from a run folder into results/NAME (committed): the trained
# adapter (its weights and card, a few MB; the base model's tokenizer is not copied, loading
# falls back to it), the resolved config, metrics, screen, split, validation scores, report
# and plots, the evaluation summary and records, the training samples. Checkpoints and
# caches stay in runs/. TEACHER is the teacher to keep: RUN/teacher (default), or the one
# chosen on validation, RUN/validation/step-N.
#   scripts/ship_run.sh runs/gsm8k results/gsm8k-qwen0.5b [runs/gsm8k/validation/step-20]
set -euo pipefail
[ $# -ge 2 ] && [ $# -le 3 ] || { echo "usage: scripts/ship_run.sh RUN_DIR RESULTS_DIR [TEACHER]" >&2; exit 2; }
run=$1 out=$2 teacher=${3:-$1/teacher}
[ -f "$teacher/wst_teacher.json" ] || { echo "$teacher holds no trained teacher" >&2; exit 1; }
mkdir -p "$out/teacher"
if ! [ "$teacher" -ef "$out/teacher" ]; then  # re-shipping a run whose teacher is already there
  cp "$teacher"/{adapter_config.json,adapter_model.safetensors,wst_teacher.json} "$out/teacher/"
fi
for f in config.json metrics.jsonl train_samples.jsonl screen.jsonl split.json report.md training.png accuracy.png; do
  [ -f "$run/$f" ] && cp "$run/$f" "$out/"
done
if [ -f "$run/validation/scores.jsonl" ]; then mkdir -p "$out/validation" && cp "$run/validation/scores.jsonl" "$out/validation/"; fi
if [ -d "$run/eval" ]; then mkdir -p "$out/eval" && cp "$run"/eval/{eval.json,split.json,records.jsonl} "$out/eval/" 2>/dev/null || true; fi
du -sh "$out/teacher"
