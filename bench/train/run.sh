#!/usr/bin/env bash
# Training benchmark: the C++ finetune_eval training loop vs the same model, batch and thread count
# in Python PyTorch (torch_train_bench.py), per LLM preset, plus MFU against the measured sgemm
# rate, the effect of the malloc tuning, peak RSS and (FULL=1) whole-job seconds at defaults.
# Prints one table: figure, target, comparison, ratio. Not a test: never gates CI.
#
# Usage: bench/train/run.sh [BUILD_DIR]   (env: PRESETS="nano base", THREADS=1, STEPS=40,
#                                           REPEATS=2, FULL=0)
set -euo pipefail
cd "$(dirname "$0")/../.."
BUILD=${1:-${VLMSCALE_BUILD_DIR:-build}}
BENCH="$BUILD/bench/train/train_bench"
[ -x "$BENCH" ] || { echo "run.sh: $BENCH not built (cmake --build $BUILD --target train_bench)" >&2; exit 1; }
PRESETS=${PRESETS:-"nano micro mini small base"}
THREADS=${THREADS:-1}
STEPS=${STEPS:-40}
REPEATS=${REPEATS:-2}
FULL=${FULL:-0}
PY=/usr/bin/python3
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT

get() { awk -v k="$1" '$1 == k { print $2 }' "$2" | tail -1; }
best() { sort -g | tail -1; }  # Largest of the numbers on stdin.

echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)  threads=$THREADS steps=$STEPS repeats=$REPEATS" >&2
for p in $PRESETS; do
  for r in $(seq "$REPEATS"); do
    # Interleaved so background load hits all three alike.
    "$BENCH" --preset "$p" --threads "$THREADS" --steps "$STEPS" --tune_malloc 1 \
      --sgemm "$([ "$r" = 1 ] && echo 1 || echo 0)" > "$OUT/$p.cc.$r"
    "$BENCH" --preset "$p" --threads "$THREADS" --steps "$STEPS" --tune_malloc 0 --sgemm 0 \
      > "$OUT/$p.untuned.$r"
    # One BLAS thread on both sides, as the C++ trainer sets it (src/train/blas_threads.h).
    OPENBLAS_NUM_THREADS=1 "$PY" bench/train/torch_train_bench.py --preset "$p" --threads "$THREADS" --steps "$STEPS" \
      --vocab "$(get vocab_size "$OUT/$p.cc.$r")" --answers "$(get num_answers "$OUT/$p.cc.$r")" \
      --question_tokens "$(get question_tokens "$OUT/$p.cc.$r")" > "$OUT/$p.py.$r"
  done
  if [ "$FULL" = 1 ]; then
    "$BENCH" --preset "$p" --threads "$THREADS" --steps 300 --full_job 1 --sgemm 0 > "$OUT/$p.full"
  fi
  echo "  $p done" >&2
done
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)" >&2

first=$(echo $PRESETS | awk '{print $1}')
last=$(echo $PRESETS | awk '{print $NF}')
SGEMM=$(get sgemm_gflops "$OUT/$first.cc.1")
# A row of the table; also a JSON line in $VLMSCALE_BENCH_JSONL when set (bench/figures.py), with
# the comparison cell (the figure "vs" its comparison) as the value.
row() {
  printf '%-44s %-12s %-30s %s\n' "$1" "$2" "$3" "$4"
  if [ -n "${VLMSCALE_BENCH_JSONL:-}" ]; then
    "$PY" -c 'import json, sys; f, t, v, r = sys.argv[1:]
print(json.dumps({"bench": "train", "figure": f, "value": v, "target": t, "comparison": "-",
                  "ratio": r}))' "$1" "$2" "$3" "$4" >> "$VLMSCALE_BENCH_JSONL"
  fi
}
printf '%-44s %-12s %-30s %s\n' "figure" "target" "comparison" "ratio"
row "sgemm 2048^3 torch::mm (GFLOP/s)" "-" "$SGEMM" "-"
for p in $PRESETS; do
  cc=$(for r in $(seq "$REPEATS"); do get trainer_steps_per_s "$OUT/$p.cc.$r"; done | best)
  un=$(for r in $(seq "$REPEATS"); do get trainer_steps_per_s "$OUT/$p.untuned.$r"; done | best)
  py=$(for r in $(seq "$REPEATS"); do get python_steps_per_s "$OUT/$p.py.$r"; done | best)
  flops=$(get model_flops_per_step "$OUT/$p.cc.1")
  target="-"
  [ "$p" = "$first" ] && target=">= 1.3x"
  [ "$p" = "$last" ] && target=">= 1.0x"
  row "$p: C++ steps/s vs Python steps/s" "$target" \
    "$cc vs $py" "$(awk -v a="$cc" -v b="$py" 'BEGIN{printf "%.2fx", a/b}')"
  row "$p: malloc tuned vs untuned steps/s" ">= 1.0x" \
    "$cc vs $un" "$(awk -v a="$cc" -v b="$un" 'BEGIN{printf "%.2fx", a/b}')"
  row "$p: MFU (train GFLOP/s / sgemm)" "-" \
    "$(awk -v f="$flops" -v s="$cc" 'BEGIN{printf "%.1f", f*s/1e9}') / $SGEMM" \
    "$(awk -v f="$flops" -v s="$cc" -v g="$SGEMM" 'BEGIN{printf "%.1f%%", 100*f*s/1e9/g}')"
  row "$p: phases C++ ms (data/enc/fwd/bwd/opt)" "-" \
    "$(for k in data encoder forward backward optimizer; do printf '%.1f/' "$(get phase_${k}_ms "$OUT/$p.cc.1")"; done | sed 's:/$::')" "-"
  row "$p: phases Python ms (data/enc/fwd/bwd/opt)" "-" \
    "$(for k in data encoder forward backward optimizer; do printf '%.1f/' "$(get python_phase_${k}_ms "$OUT/$p.py.1")"; done | sed 's:/$::')" "-"
  row "$p: peak RSS MiB (C++ vs Python)" "< 2048" \
    "$(get peak_rss_mb "$OUT/$p.cc.1") vs $(get python_peak_rss_mb "$OUT/$p.py.1")" "-"
  if [ "$FULL" = 1 ]; then
    row "$p: job seconds (300 steps, batch 32, eval 512)" "10-20 s" \
      "$(get job_seconds "$OUT/$p.full") (eval $(get eval_seconds "$OUT/$p.full") s)" "-"
  fi
done
