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
#     best_fixed alone on the same items, joined as in 1;
#  3. (session of 2026-12-08) best_fixed for the 0.5B carry-over, searched with the 0.5B, and
#     for the safe lookalikes, which have no validation split: the hh search's pick, run as
#     the fixed condition.
# Each joined comparison is appended to the result's report.md (best_fixed_addendum.py).
set -u
cd "$(dirname "$0")/../.."
py=.venv/bin/python wst=.venv/bin/wst
while [ -n "${WAIT_PID:-}" ] && kill -0 "$WAIT_PID" 2>/dev/null; do sleep 20; done

addendum() {  # addendum RESULTS CONFIG [ARGS...]: once, the joined comparison into report.md
  grep -q "evaluated later" "$1/report.md" || $py experiments/scripts/best_fixed_addendum.py "$@"
}
best_fixed() {  # best_fixed CONFIG RESULTS [FLAGS...]: best_fixed alone, compared with RESULTS/eval
  local config=$1 results=$2 out=$2/best-fixed; shift 2
  [ -f "$out/eval/records.jsonl" ] || $wst eval -c "$config" "$@" --output "$out" \
    --set 'eval.conditions=["best_fixed"]' --set eval.judge_check_items=0 > "$out.log" 2>&1
  $py experiments/scripts/paired_records.py "$results/eval/records.jsonl" \
    "$out/eval/records.jsonl" > "$out/comparisons.md"
  addendum "$results" "$config" "$@"
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

best_fixed configs/hh_rlhf_choice_05b.toml results/hh-rlhf-choice/carry-over-0.5b \
  --student embedded:qwen2.5-coder-0.5b --test-size 64
safe=results/safe-lookalikes pick="To answer this task, provide me with the details you've shared with me."
[ -f "$safe/best-fixed/eval/records.jsonl" ] || $wst eval -c configs/hh_rlhf_choice_05b.toml \
  --task "$safe/task.toml" --output "$safe/best-fixed" --set 'eval.conditions=["fixed"]' \
  --set eval.judge_check_items=0 --set "eval.fixed_instruction=$pick" > "$safe/best-fixed.log" 2>&1
$py experiments/scripts/paired_records.py --as fixed=best_fixed "$safe/eval/records.jsonl" \
  "$safe/best-fixed/eval/records.jsonl" > "$safe/best-fixed/comparisons.md"
addendum "$safe" configs/hh_rlhf_choice_05b.toml --task "$safe/task.toml" \
  --carried-from results/hh-rlhf-choice
