#!/usr/bin/env bash
# The README's main command: installs what is missing, builds build/vlmscale, runs the embedded
# default sweep (configs/quickstart.ini) with mpirun on the local cores, fits the scaling law,
# draws the plots, writes the report, and prints where everything is.
#   scripts/quickstart.sh [--set section.key=value]...
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

scripts/setup.sh
cmake -S "$root" -B "$root/build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$root/build" -j"$(nproc)" --target vlmscale

export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
config=configs/quickstart.ini
ranks=$(nproc)
bin="$root/build/vlmscale"

echo "== plan"
"$bin" plan "$config" "$@" | tail -n 1

echo "== run ($ranks ranks)"
# Exit 1 means some jobs finally failed: the rest is still worth fitting and drawing.
run_rc=0
mpirun --oversubscribe -np "$ranks" "$bin" run "$config" "$@" || run_rc=$?
if [ "$run_rc" -ne 0 ] && [ "$run_rc" -ne 1 ]; then
  echo "quickstart: vlmscale run exited $run_rc (2: config error, 75: stopped; run again to resume)" >&2
  exit "$run_rc"
fi

results=$("$bin" plan "$config" "$@" --json >/dev/null && \
  grep -E '^output *=' "$config" | sed 's/^output *= *//')
results="$root/$results"
echo "== results: $results"
"$bin" status "$results"

out="$root/results/quickstart"
mkdir -p "$out"
echo "== fit"
"$bin" fit "$results" --bootstrap 200 --holdout-largest 1 --json "$out/fit.json" || \
  "$bin" fit "$results" --json "$out/fit.json"
echo "== plots and report"
VLMSCALE_BIN="$bin" /usr/bin/python3 analysis/report.py "$results" --fit "$out/fit.json" \
  --text-tokens 8 -o "$out"
echo "== done"
echo "results: $results"
echo "fit:     $out/fit.json"
echo "report:  $out/index.html"
