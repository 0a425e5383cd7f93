#!/usr/bin/env bash
# Runs every benchmark and prints their tables (figure, target/comparison, ratio), one section per
# component. Benchmarks never gate CI; docs/BENCHMARKS.md holds the latest tables.
#   bench/run_all.sh [BUILD_DIR]     (default build/; builds the bench targets first)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
cmake --build "$build" -j"$(nproc)" --target vlmscale fit_bench store_bench train_bench >/dev/null

echo "# machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo)," \
     "$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), load $(cut -d' ' -f1-3 /proc/loadavg)"
echo
echo "## driver (issue 3)"
/usr/bin/python3 bench/driver/bench_driver.py --bin "$build/vlmscale" ${SLURM_JSON:+--slurm-json "$SLURM_JSON"}
echo
echo "## store"
"$build/bench/store/store_bench"
echo
echo "## fitter (issue 5)"
bench/fit/run.sh "$build" 2
echo
echo "## training (issue 4)"
bench/train/run.sh "$build"
