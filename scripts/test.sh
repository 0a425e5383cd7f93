#!/usr/bin/env bash
# The README's test command: installs what is missing, builds into build/ and runs the whole
# CTest suite (unit, mpi, e2e, slow, ... labels), then the sanitizer and fuzz stages
# (docs/RELIABILITY.md, docs/FUZZING.md):
#   build-asan/  clang, ASan + UBSan + libFuzzer coverage, no libtorch: the unit tests (label
#                sanitize) and a short run of every fuzz target (label fuzz);
#   build-tsan/  clang, ThreadSanitizer: the tests that run vlmscale threads (driver_threads_test:
#                coordinator thread, worker loop, liveness thread; command_job_test) (label
#                sanitize).
# Exits non-zero on any failure.
#   scripts/test.sh                 everything
#   scripts/test.sh -L unit         only a label (arguments go to ctest; a stage runs only when
#                                   they select its label, e.g. -L sanitize or -L fuzz)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

scripts/setup.sh

export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
jobs=$(nproc)
# ccache with paths relative to the repository: the CPU-only variant reuses the objects of the
# main build wherever the preprocessed source is the same.
# The sloppiness lets ccache cache files compiled with the precompiled <torch/torch.h>
# (VLMSCALE_TORCH_PCH; ccache's manual, "Precompiled headers").
export CCACHE_BASEDIR="$root" CCACHE_NOHASHDIR=1 CCACHE_DIR="${CCACHE_DIR:-$root/.ccache}"
export CCACHE_SLOPPINESS=pch_defines,time_macros,include_file_mtime,include_file_ctime
launcher=(-DCMAKE_C_COMPILER_LAUNCHER=ccache -DCMAKE_CXX_COMPILER_LAUNCHER=ccache)

echo "== configure and build (build/, NCCL backend: AUTO)"
cmake -S "$root" -B "$root/build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DVLMSCALE_WITH_NCCL=AUTO \
  "${launcher[@]}"
cmake --build "$root/build" -j"$jobs"

echo "== configure and build the CPU-only variant (build-nonccl/, VLMSCALE_WITH_NCCL=OFF)"
cmake -S "$root" -B "$root/build-nonccl" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DVLMSCALE_WITH_NCCL=OFF -DVLMSCALE_BUILD_TESTS=OFF -DVLMSCALE_BUILD_BENCH=OFF "${launcher[@]}"
cmake --build "$root/build-nonccl" -j"$jobs" --target vlmscale

# True when the ctest arguments (-L / -LE label regexes) let tests labelled $1 run.
selected() {
  local label=$1
  shift
  while [ $# -gt 0 ]; do
    case "$1" in
      -L | --label-regex) [[ $label =~ $2 ]] || return 1; shift ;;
      -LE | --label-exclude) [[ $label =~ $2 ]] && return 1; shift ;;
    esac
    shift
  done
  return 0
}
# The sanitizer builds leave out libtorch (VLMSCALE_WITH_TORCH=OFF), the vlmscale binary and the
# benchmarks (docs/RELIABILITY.md says what they cover), and compile with -O1 and line tables
# only (enough for symbolised reports; full -O2 -g costs CI minutes).
sanitizer_build() {  # DIR "CMAKE OPTIONS" [";more;skipped;components"]
  local dir=$1 options=$2 skip="cli${3:-}" flags="-O1 -gline-tables-only -DNDEBUG"
  # shellcheck disable=SC2086  # $options is a list of words.
  CC=clang CXX=clang++ cmake -S "$root" -B "$root/$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    "-DCMAKE_C_FLAGS_RELWITHDEBINFO=$flags" "-DCMAKE_CXX_FLAGS_RELWITHDEBINFO=$flags" \
    -DVLMSCALE_WITH_NCCL=OFF -DVLMSCALE_BUILD_BENCH=OFF -DVLMSCALE_WITH_TORCH=OFF \
    "-DVLMSCALE_SKIP_COMPONENTS=$skip" \
    $options "${launcher[@]}"
  cmake --build "$root/$dir" -j"$jobs"
}

echo "== tests"
(cd "$root/build" && ctest -j"$jobs" --output-on-failure --timeout 900 "$@")

if selected sanitize "$@" || selected fuzz "$@"; then
  echo "== sanitizer + fuzz build (build-asan/: ASan, UBSan, libFuzzer; no libtorch)"
  sanitizer_build build-asan "-DVLMSCALE_SANITIZE=address -DVLMSCALE_FUZZ=ON"
fi
if selected sanitize "$@"; then
  echo "== tests under ASan + UBSan (build-asan/, label sanitize)"
  (cd "$root/build-asan" && ctest -j"$jobs" --output-on-failure --timeout 900 -L sanitize "$@")
fi
if selected fuzz "$@"; then
  echo "== short fuzz runs (build-asan/, label fuzz)"
  (cd "$root/build-asan" && ctest -j"$jobs" --output-on-failure --timeout 900 -L fuzz "$@")
fi
if selected sanitize "$@"; then
  echo "== driver threads under ThreadSanitizer (build-tsan/, label sanitize)"
  sanitizer_build build-tsan "-DVLMSCALE_SANITIZE=thread"
  (cd "$root/build-tsan" && ctest --output-on-failure --timeout 900 -L sanitize "$@")
fi
