#!/usr/bin/env bash
# Runs every benchmark (driver, store, fitter, training), each printing its own table (figure and
# comparison side by side), then ONE combined Markdown table of all their figures: bench, figure,
# value, target, comparison (peer or bound), ratio. The benchmarks write their figures as JSON lines
# (bench/figures.py); the combined table is built from those, never from their text. Benchmarks
# never gate CI; docs/BENCHMARKS.md holds the latest combined table.
#   bench/run_all.sh [--quick] [BUILD_DIR]   (default build/; builds the bench targets first)
#     --quick   smaller driver and store runs, training for the nano preset only (minutes less;
#               the full run is what docs/BENCHMARKS.md records)
set -euo pipefail
cd "$(dirname "$0")/.."
quick=0
if [ "${1:-}" = "--quick" ]; then
  quick=1
  shift
fi
build=${1:-build}
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
cmake --build "$build" -j"$(nproc)" --target vlmscale fit_bench adaptive_bench pack_bench store_bench \
  train_bench >/dev/null

figures=$(mktemp)
trap 'rm -f "$figures"' EXIT
export VLMSCALE_BENCH_JSONL=$figures
machine="$(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
started=$(date -u +%Y-%m-%dT%H:%MZ)
t0=$SECONDS
echo "# machine: $machine, load $load_before"
echo
echo "## driver (issue 3)"
/usr/bin/python3 bench/driver/bench_driver.py --bin "$build/vlmscale" \
  ${SLURM_JSON:+--slurm-json "$SLURM_JSON"} $([ $quick = 1 ] && echo --quick)
echo
echo "## packing jobs of different rank counts, simulated (issue 18)"
"$build/bench/driver/pack_bench"
echo
echo "## store"
"$build/bench/store/store_bench" $([ $quick = 1 ] && echo --jobs 10000)
echo
echo "## fitter (issue 5)"
bench/fit/run.sh "$build" 2
echo
echo "## adaptive design (issue 20)"
"$build/bench/fit/adaptive_bench" --runs $([ $quick = 1 ] && echo 5 || echo 20)
echo
echo "## start-up (issue 22)"
bench/startup/run.sh "$build"
echo
echo "## training (issue 4)"
if [ $quick = 1 ]; then
  PRESETS=${PRESETS:-nano} REPEATS=${REPEATS:-1} bench/train/run.sh "$build"
else
  bench/train/run.sh "$build"
fi
echo
echo "## all figures"
/usr/bin/python3 bench/figures.py table "$figures" \
  "Run $started ($([ $quick = 1 ] && echo "--quick" || echo "full"), $(( (SECONDS - t0) / 60 )) min) on $machine;" \
  "load average (1, 5, 15 min) $load_before at the start, $(cut -d' ' -f1-3 /proc/loadavg) at the end." ""
