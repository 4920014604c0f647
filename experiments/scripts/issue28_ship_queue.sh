#!/usr/bin/env bash
# Issue 28's shipped runs as they ran (session of 2026-12-07, night), one heavy job at a time,
# in the background: WAIT_PID=<pid of a job already running> nohup experiments/scripts/issue28_ship_queue.sh &
#  1. best_fixed for the two shipped hh results, run alone and joined to their committed
#     records by item id (paired_records.py): the search on the 32 validation prompts, then
#     the pick on the same 120 held-out prompts;
#  2. the GSM8K chooser over {none, prose} (configs/gsm8k_menu.toml): trained (the student's
#     answers to the 256 training questions come from P57's cache), the checkpoint with the
#     best validation score chosen (ties: the later step), evaluated once on the 210 held-out
#     items next to none and the untrained teacher, shipped to results/gsm8k-menu, then
#     best_fixed alone on the same items, joined as in 1.
set -u
cd "$(dirname "$0")/../.."
py=.venv/bin/python wst=.venv/bin/wst
while [ -n "${WAIT_PID:-}" ] && kill -0 "$WAIT_PID" 2>/dev/null; do sleep 20; done

best_fixed() {  # best_fixed CONFIG RESULTS: best_fixed alone, compared with RESULTS/eval
  local out=$2/best-fixed
  [ -f "$out/eval/records.jsonl" ] || $wst eval -c "$1" --output "$out" \
    --set 'eval.conditions=["best_fixed"]' --set eval.judge_check_items=0 > "$out.log" 2>&1
  $py experiments/scripts/paired_records.py "$2/eval/records.jsonl" "$out/eval/records.jsonl" \
    > "$out/comparisons.md"
}
best_fixed configs/hh_rlhf_choice_05b.toml results/hh-rlhf-choice
best_fixed configs/hh_rlhf_1.5b.toml results/hh-rlhf-1.5b

run=runs/gsm8k_menu; mkdir -p runs
resume=; [ -d "$run/checkpoints" ] && resume=--resume
[ -d "$run/teacher" ] || $wst train -c configs/gsm8k_menu.toml $resume >> runs/gsm8k_menu.train.log 2>&1
chosen=$($py - "$run" <<'EOF'
import json, sys
rows = [json.loads(l) for l in open(f"{sys.argv[1]}/validation/scores.jsonl")]
acc = {r["step"]: sum(r["scores"]) / len(r["scores"]) for r in rows if r["step"] > 0}
print(max(acc, key=lambda s: (acc[s], s)))
EOF
)
echo "checkpoint chosen on validation: step $chosen" >> runs/gsm8k_menu.train.log
# The teachers and none first (the comparisons the issue's bar is about), then best_fixed alone
# as for the hh results: in one run best_fixed came first and would have ended past the session
[ -s "$run/eval/records.jsonl" ] || \
  $wst eval -c configs/gsm8k_menu.toml --adapter "$run/validation/step-$chosen" \
    --set 'eval.conditions=["none","teacher_base","teacher_trained"]' > runs/gsm8k_menu.eval.log 2>&1
scripts/ship_run.sh "$run" results/gsm8k-menu "$run/validation/step-$chosen"
best_fixed configs/gsm8k_menu.toml results/gsm8k-menu
