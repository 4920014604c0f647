#!/usr/bin/env bash
# Issue 28's ceiling pilots as they ran (session of 2026-12-05), one heavy job at a time, in
# the background: nohup experiments/scripts/issue28_queue.sh &  Training/validation items only.
# Each pilot's log goes next to its files.
set -u
cd "$(dirname "$0")/../.."
py=.venv/bin/python
run() {  # run NAME OUT_DIR COMMAND...: the command's output in OUT_DIR/NAME.log
  local name=$1 out=$2; shift 2
  mkdir -p "$out"; "$@" > "$out/$name.log" 2>&1
}
while [ -n "${WAIT_PID:-}" ] && kill -0 "$WAIT_PID" 2>/dev/null; do sleep 20; done  # a pilot already running
# P53: CHAMP concepts and hints as the 0.5B student's instruction (60 training problems)
run p53 experiments/pilots/p53-champ-ceilings-05b $py experiments/scripts/champ_ceilings.py \
  -c configs/math500.toml --n 60 --conditions none,placebo,concepts,hints \
  --set student.max_tokens=512 --out experiments/pilots/p53-champ-ceilings-05b
# P54: GSM8K instructions that keep the student in prose, as a prefix and as a system message
for placement in prefix system; do
  run p54-$placement experiments/pilots/p54-gsm8k-levers/$placement \
    $py experiments/scripts/validation_conditions.py -c configs/gsm8k.toml --fixed \
    --prompts experiments/scripts/gsm8k_prose.json --set student.instruction_placement=$placement \
    --out experiments/pilots/p54-gsm8k-levers/$placement
done
# P53b: the ceilings for the 1.5B student (30 training problems; concepts left out for time)
run p53b experiments/pilots/p53b-champ-ceilings-1.5b $py experiments/scripts/champ_ceilings.py \
  -c configs/math500.toml --n 30 --conditions none,placebo,hints \
  --set student.max_tokens=512 --set student.model=embedded:qwen2.5-coder-1.5b \
  --out experiments/pilots/p53b-champ-ceilings-1.5b
