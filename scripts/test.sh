#!/usr/bin/env bash
# The README's test command: installs what is missing, builds into build/ and runs the whole
# CTest suite (unit, mpi, e2e, slow, ... labels). Exits non-zero on any failure.
#   scripts/test.sh                 everything
#   scripts/test.sh -L unit         only a label (arguments go to ctest)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

scripts/setup.sh

export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
jobs=$(nproc)
# ccache with paths relative to the repository: the CPU-only variant reuses the objects of the
# main build wherever the preprocessed source is the same.
export CCACHE_BASEDIR="$root" CCACHE_NOHASHDIR=1 CCACHE_DIR="${CCACHE_DIR:-$root/.ccache}"
launcher=(-DCMAKE_C_COMPILER_LAUNCHER=ccache -DCMAKE_CXX_COMPILER_LAUNCHER=ccache)

echo "== configure and build (build/, NCCL backend: AUTO)"
cmake -S "$root" -B "$root/build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DVLMSCALE_WITH_NCCL=AUTO \
  "${launcher[@]}"
cmake --build "$root/build" -j"$jobs"

echo "== configure and build the CPU-only variant (build-nonccl/, VLMSCALE_WITH_NCCL=OFF)"
cmake -S "$root" -B "$root/build-nonccl" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DVLMSCALE_WITH_NCCL=OFF -DVLMSCALE_BUILD_TESTS=OFF -DVLMSCALE_BUILD_BENCH=OFF "${launcher[@]}"
cmake --build "$root/build-nonccl" -j"$jobs" --target vlmscale

echo "== tests"
cd "$root/build"
ctest --output-on-failure --timeout 900 "$@"
