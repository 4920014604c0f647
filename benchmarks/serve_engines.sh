#!/usr/bin/env bash
# The teacher's share of `wst serve` latency with the teacher in PyTorch and in llama.cpp
# (teacher.engine; f16 and q8_0 GGUF, teacher.gguf_type), measured side by side in one run
# on the embedded stack (SmolLM2-135M teacher, 0.5B llama.cpp student, answers capped at 64
# tokens unless CAPS says otherwise, cache off): for each setting a server is started, `benchmarks/serve_load.py` sends
# REQUESTS different questions at concurrency 8, and the server is stopped. The last setting
# splits the cores: the llama.cpp teacher and the student get one thread each
# (teacher.threads, student.threads), where the others let both use every core.
# Target (issue 12): teacher share <= 10%.
#
#     benchmarks/serve_engines.sh [REQUESTS]   # default 48; about 2 minutes a setting on 2 cores
#
# CAPS="64 320" (space-separated answer-token caps, default 64) measures each setting's server
# at each cap, one after the other: with a short cap the student's part of a request is
# short and the teacher's share looks larger than with whole answers.
#
# SETTINGS="llamacpp:f16:0" (ENGINE:WEIGHTS:THREADS, space-separated) runs only those; with a
# second checkout of an older commit (its .venv a link to this one's, PYTHONPATH=src) the same
# settings measure a change before and after, one after the other.
set -euo pipefail
cd "$(dirname "$0")/.."
requests=${1:-48}
port=${WST_BENCH_PORT:-8011}
logs=$(mktemp -d)
for setting in ${SETTINGS:-pytorch:f16:0 llamacpp:f16:0 llamacpp:q8_0:0 llamacpp:f16:1}; do
  IFS=: read -r engine weights threads <<<"$setting"
  .venv/bin/wst serve -c configs/gsm8k.toml --teacher-engine "$engine" --port "$port" \
      --set teacher.gguf_type="$weights" --set student.cache=false \
      --set teacher.threads="$threads" --set student.threads="$threads" \
      --set serve.teacher_timeout_s=120 >"$logs/$setting.log" 2>&1 &
  server=$!
  trap 'kill $server 2>/dev/null || true' EXIT
  for _ in $(seq 600); do
    curl -sf "http://127.0.0.1:$port/v1/models" >/dev/null && break
    kill -0 "$server" 2>/dev/null || { cat "$logs/$setting.log"; exit 1; }
    sleep 1
  done
  echo "== teacher engine: $engine ($weights weights where llamacpp)," \
       "threads: teacher and student $([ "$threads" = 0 ] && echo "all cores" || echo "$threads each")"
  for cap in ${CAPS:-64}; do
    echo "-- answers capped at $cap tokens"
    .venv/bin/python benchmarks/serve_load.py "http://127.0.0.1:$port" --requests "$requests" \
        --concurrency 8 --max-tokens "$cap"
  done
  kill "$server"; wait "$server" 2>/dev/null || true
done
