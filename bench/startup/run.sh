#!/usr/bin/env bash
# Start-up time of the read-only commands against their 0.1 s target, beside
# `python3 -c 'import h5py'` and (with a second argument) an older binary, in one run.
#   bench/startup/run.sh [BUILD_DIR] [BEFORE_BINARY] [RUNS]   (default build/, none, 7)
set -euo pipefail
cd "$(dirname "$0")/../.."
build=${1:-build}
before=${2:-}
/usr/bin/python3 bench/startup/bench_startup.py --bin "$build/vlmscale" --runs "${3:-7}" \
  ${before:+--before "$before"}
