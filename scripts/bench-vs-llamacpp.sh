#!/usr/bin/env bash
# Decode and prefill of qforge and llama.cpp on the same GGUF files, side by side: for each round, for each
# type, `qforge bench` then `llama-bench` right after it, so each pair shares the machine's state (its memory
# bandwidth switches between levels within minutes). Used for docs/BENCHMARKS.md.
#
#   LLAMA_BENCH=/path/to/llama-bench scripts/bench-vs-llamacpp.sh /tmp/llama-1b-{F32,Q8_0,Q4_0,Q4_K_M}.gguf
#
# Environment: LLAMA_BENCH (required), ROUNDS (default 3), PROMPT (128), GEN (64), REPS (3), THREADS (both
# programs' threads; default all cores), QFORGE (the qforge command; default this checkout's launcher, which
# builds the jar when the sources are newer; on a machine that cannot build, `java ... -Dqforge.threads=N -jar
# qforge.jar`, whose threads the launcher's QFORGE_THREADS does not reach).
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
: "${LLAMA_BENCH:?set LLAMA_BENCH to the llama-bench binary of a llama.cpp build}"
rounds="${ROUNDS:-3}" prompt="${PROMPT:-128}" gen="${GEN:-64}" reps="${REPS:-3}"
threads="${THREADS:-$(nproc)}"
read -r -a qforge <<< "${QFORGE:-$here/qforge}"
[ "$#" -gt 0 ] || { echo "usage: LLAMA_BENCH=... $0 MODEL.gguf ..." >&2; exit 2; }
for round in $(seq 1 "$rounds"); do
  for model in "$@"; do
    echo "=== round $round $(basename "$model" .gguf) qforge $(date +%T)"
    QFORGE_THREADS="$threads" "${qforge[@]}" bench -m "$model" -r "$reps" -p "$prompt" -n "$gen" 2>&1 | grep -v WARNING | tail -4
    echo "=== round $round $(basename "$model" .gguf) llama.cpp $(date +%T)"
    "$LLAMA_BENCH" -m "$model" -t "$threads" -p "$prompt" -n "$gen" -r "$reps" 2>&1 | grep -E "pp$prompt|tg$gen"
  done
done
