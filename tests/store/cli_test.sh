#!/bin/bash
# vlmscale status / export through the binary. Usage: cli_test.sh STORE_MAKE_RESULTS
# Needs VLMSCALE_BIN (set by CTest) and /usr/bin/python3.
set -u
MAKER="$1"
BIN="${VLMSCALE_BIN:?VLMSCALE_BIN must point at build/vlmscale}"
PY=/usr/bin/python3
TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
# expect_rc WANT CMD...: runs CMD, keeps stdout/stderr in $TMP/out and $TMP/err.
expect_rc() {
  local want="$1"; shift
  "$@" >"$TMP/out" 2>"$TMP/err"
  local rc=$?
  [ "$rc" -eq "$want" ] || fail "'$*' exited $rc, expected $want; stderr: $(cat "$TMP/err")"
}

R="$TMP/r.h5"
"$MAKER" "$R" --done 4 --failed 2 --running 1 --pending 3 \
  --run-info '{"ranks":4,"slurm_job_id":"4242","requeue_count":2,"stalled_ranks":[3]}' >/dev/null \
  || fail "store_make_results"

# ---- status, text -------------------------------------------------------------------------------
expect_rc 0 "$BIN" status "$R"
grep -q "10 total: 4 done, 2 failed, 1 running, 3 pending" "$TMP/out" || fail "status counts: $(cat "$TMP/out")"
grep -q "slurm job 4242, requeued 2 times" "$TMP/out" || fail "status slurm line"
grep -q "stalled ranks: \[3\]" "$TMP/out" || fail "status stalled ranks"
grep -q "job 5 failed" "$TMP/out" || fail "status shows failure messages"
grep -q "rank 2 on node0" "$TMP/out" || fail "status shows running rank/host: $(cat "$TMP/out")"
grep -q "eta: " "$TMP/out" || fail "status eta line"

# ---- status --json ------------------------------------------------------------------------------
expect_rc 0 "$BIN" status "$R" --json
$PY - "$TMP/out" <<'EOF' || fail "status --json content"
import json, sys
s = json.load(open(sys.argv[1]))
for k in ("total", "done", "failed", "running", "pending", "failures", "eta_seconds",
          "slurm_job_id", "requeues", "stalled_ranks", "running_jobs"):
    assert k in s, k
assert (s["total"], s["done"], s["failed"], s["running"], s["pending"]) == (10, 4, 2, 1, 3), s
assert s["slurm_job_id"] == "4242" and s["requeues"] == 2 and s["stalled_ranks"] == [3], s
assert [f["message"] for f in s["failures"]] == ["job 4 failed", "job 5 failed"], s["failures"]
# No driver ETA: estimated from finished jobs (10 s each), 4 remaining jobs over 1 running.
assert s["eta_source"] == "estimate" and abs(s["eta_seconds"] - 40.0) < 1e-6, s["eta_seconds"]
r = s["running_jobs"][0]
assert r["rank"] == 6 % 4 and r["host"] == "node0" and 25 < r["elapsed_seconds"] < 600, r
EOF

# A driver-provided ETA wins; a file without run info has null slurm id and requeues.
R2="$TMP/eta.h5"
"$MAKER" "$R2" --done 1 --running 1 --run-info '{"eta_seconds":123}' >/dev/null || fail "maker eta"
expect_rc 0 "$BIN" status "$R2" --json
$PY -c "import json,sys; s=json.load(open(sys.argv[1])); assert s['eta_seconds']==123 and s['eta_source']=='driver' and s['slurm_job_id'] is None and s['requeues'] is None, s" "$TMP/out" || fail "driver eta"

# ---- errors ---------------------------------------------------------------------------------------
expect_rc 2 "$BIN" status "$TMP/missing.h5"
grep -q "missing.h5" "$TMP/err" || fail "missing file message names the file"
echo "not results" > "$TMP/notes.h5"
expect_rc 2 "$BIN" status "$TMP/notes.h5"
grep -q "not a vlmscale results file" "$TMP/err" || fail "non-vlmscale file message"
grep -qi "HDF5-DIAG" "$TMP/err" && fail "HDF5 error stack leaked to stderr"
expect_rc 2 "$BIN" export "$TMP/missing.h5"
expect_rc 2 "$BIN" export "$R" --format xml
expect_rc 2 "$BIN" status
expect_rc 0 "$BIN" status --help

# ---- export -------------------------------------------------------------------------------------
expect_rc 0 "$BIN" export "$R" --format csv
head -1 "$TMP/out" | grep -q "^job_id,status,attempts,llm,n_params,visual_tokens,method,task,seed,error,accuracy," \
  || fail "csv header: $(head -1 "$TMP/out")"
[ "$(wc -l < "$TMP/out")" -eq 11 ] || fail "csv has a header and 10 rows"
$PY - "$TMP/out" <<'EOF' || fail "csv content"
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1], newline="")))
assert len(rows) == 10
assert rows[0]["status"] == "done" and float(rows[0]["accuracy"]) == 0.5, rows[0]
assert rows[4]["status"] == "failed" and rows[4]["accuracy"] == "" and rows[4]["error"] == "", rows[4]
assert rows[4]["message"] == "job 4 failed"
EOF
expect_rc 0 "$BIN" export "$R" --format json -o "$TMP/out.json"
$PY -c "import json,sys; d=json.load(open(sys.argv[1])); j=d['jobs']; assert len(j)==10 and j[4]['accuracy'] is None and j[0]['status']=='done', j[4]" "$TMP/out.json" \
  || fail "json export"
ls "$TMP" | grep -q "out.json.tmp" && fail "export left a temp file"

# ---- live: status and export while a writer is committing ---------------------------------------
LIVE="$TMP/live.h5"
# (Each vlmscale start costs ~1 s of library loading, so the loop is short.)
"$MAKER" "$LIVE" --done 1 --live 4 >/dev/null &
writer=$!
sleep 0.3
last=0
for i in 1 2 3; do
  "$BIN" status "$LIVE" --json >"$TMP/live.json" 2>"$TMP/err" || { fail "live status: $(cat "$TMP/err")"; break; }
  done_now=$($PY -c "import json,sys; print(json.load(open(sys.argv[1]))['done'])" "$TMP/live.json")
  [ "$done_now" -ge "$last" ] || fail "done count went back from $last to $done_now"
  last=$done_now
done
"$BIN" export "$LIVE" >"$TMP/live.csv" 2>"$TMP/err" || fail "live export: $(cat "$TMP/err")"
[ "$(wc -l < "$TMP/live.csv")" -gt "$last" ] || fail "live export lags status"
wait "$writer" || fail "live writer failed"
[ "$last" -gt 1 ] || fail "status never saw the live writer's progress (last=$last)"

if [ "$failures" -ne 0 ]; then
  echo "$failures check(s) failed"
  exit 1
fi
echo "cli status/export tests passed"
