#!/usr/bin/env bash
# The long fuzz run (docs/FUZZING.md): each target of tests/fuzz for SECONDS (default 600), niced,
# from the repository corpus plus everything earlier runs kept (build-asan/fuzz/<name>/corpus).
# Prints one line per target: executions, exec/s, coverage (libFuzzer's cov = edges, ft =
# features), corpus size and peak RSS. A crash, leak or timeout input is saved as
# build-asan/fuzz/<name>/{crash,leak,timeout,oom}-<sha1>; the script then exits 1.
#   bench/fuzz/run.sh [SECONDS] [NAME...]    NAME: config set_override csv metrics_json journal
#                                            results_file
# Needs build-asan/ configured by `scripts/test.sh -L fuzz` (or -L sanitize).
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$(pwd)
seconds=${1:-600}
shift || true
names=("$@")
[ ${#names[@]} -gt 0 ] || names=(config set_override csv metrics_json journal results_file)
build=$root/build-asan
if [ ! -f "$build/CMakeCache.txt" ]; then
  echo "bench/fuzz/run.sh: $build is not configured; run scripts/test.sh -L fuzz first" >&2
  exit 2
fi
targets=()
for n in "${names[@]}"; do targets+=("fuzz_$n"); done
nice -n 15 cmake --build "$build" -j2 --target "${targets[@]}" >/dev/null

status=0
printf '%-14s %8s %12s %8s %8s %8s %10s %8s\n' target seconds execs exec/s cov ft corpus rss_mb
for n in "${names[@]}"; do
  work=$build/fuzz/$n
  mkdir -p "$work/corpus"
  dict=$root/tests/fuzz/$n.dict
  [ -f "$dict" ] || dict=$root/tests/fuzz/config.dict
  dict_args=(-dict="$dict")
  [ "$n" != results_file ] || dict_args=()  # Its input drives a generator: no tokens.
  log=$work/long_run.log
  rc=0
  ASAN_OPTIONS=halt_on_error=1:detect_leaks=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
    nice -n 15 "$build/tests/fuzz/fuzz_$n" -max_total_time="$seconds" -timeout=25 \
    -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$work/" "${dict_args[@]}" \
    "$work/corpus" "$root/tests/fuzz/corpus/$n" >"$log" 2>&1 || rc=$?
  done_line=$(grep -aE '^#[0-9]+[[:space:]]+DONE' "$log" | tail -1 || true)
  cov=$(sed -nE 's/.* cov: ([0-9]+).*/\1/p' <<<"$done_line")
  ft=$(sed -nE 's/.* ft: ([0-9]+).*/\1/p' <<<"$done_line")
  corp=$(sed -nE 's/.* corp: ([0-9]+\/[0-9]+[a-zA-Z]*).*/\1/p' <<<"$done_line")
  execs=$(sed -nE 's/^stat::number_of_executed_units: ([0-9]+)/\1/p' "$log")
  eps=$(sed -nE 's/^stat::average_exec_per_sec: +([0-9]+)/\1/p' "$log")
  rss=$(sed -nE 's/^stat::peak_rss_mb: +([0-9]+)/\1/p' "$log")
  printf '%-14s %8s %12s %8s %8s %8s %10s %8s\n' "$n" "$seconds" "${execs:--}" "${eps:--}" \
    "${cov:--}" "${ft:--}" "${corp:--}" "${rss:--}"
  if [ $rc -ne 0 ]; then
    echo "  $n: libFuzzer exited $rc; see $log and $work/" >&2
    grep -E '^(==[0-9]+==ERROR|SUMMARY|.*runtime error|.*CHECK failed|artifact_prefix)' "$log" \
      | head -5 >&2 || true
    status=1
  fi
done
exit $status
