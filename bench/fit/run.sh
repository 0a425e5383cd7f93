#!/bin/bash
# Benchmarks of the scaling-law fitter, printed as one table: vlmscale's figures, their targets,
# and the same 4,500-start Huber fit done with scipy L-BFGS-B.
# Usage: bench/fit/run.sh [BUILD_DIR] [THREADS]   (default: build, 2 threads / scipy processes)
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
build="${1:-$root/build}"
threads="${2:-2}"
bench="$build/bench/fit/fit_bench"
if [[ ! -x "$bench" ]]; then
  echo "bench/fit/run.sh: $bench not found; build it first: cmake --build $build --target fit_bench" >&2
  exit 2
fi
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
"$bench" "$out" --threads "$threads" > /dev/null
/usr/bin/python3 "$root/bench/fit/scipy_bench.py" "$out" --procs "$threads"
