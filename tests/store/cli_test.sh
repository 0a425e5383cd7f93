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
grep -Eq " 2 +node0 " "$TMP/out" || fail "status shows running rank/host: $(cat "$TMP/out")"
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

# ---- the sweep's state (issue 22): from the run info's state and heartbeat age ---------------------
NOW=$($PY -c "import time; print(time.time())")
OLD=$($PY -c "import time; print(time.time() - 100)")
AGO5=$($PY -c "import time; print(time.time() - 5)")
state_of() {  # state_of FILE RUN_INFO -> prints "state running interrupted eta_seconds"
  "$MAKER" "$1" --done 2 --running 1 --pending 3 --run-info "$2" >/dev/null || fail "maker $1"
  "$BIN" status "$1" --json >"$TMP/st.json" 2>"$TMP/err" || fail "status $1: $(cat "$TMP/err")"
  $PY -c "import json,sys; s=json.load(open(sys.argv[1])); print(s['state'], s['running'], s['interrupted'], s['eta_seconds'])" "$TMP/st.json"
}
# A driver that says running but has not updated its run info for 100 s is dead; its running job
# is interrupted (pending), with no ETA.
got=$(state_of "$TMP/dead.h5" "{\"state\":\"running\",\"updated\":$OLD,\"eta_seconds\":50}")
[ "$got" = "dead 0 1 None" ] || fail "dead driver: $got"
"$BIN" status "$TMP/dead.h5" >"$TMP/out" 2>&1
grep -q "state: dead (no driver heartbeat for 1m 4[0-9]s" "$TMP/out" || fail "dead text: $(cat "$TMP/out")"
grep -q "the driver is gone; run the same command to resume" "$TMP/out" || fail "dead advice"
grep -q "eta:" "$TMP/out" && fail "a dead sweep shows an eta: $(cat "$TMP/out")"
# ... but alive with a fresh heartbeat (and alive with a longer --dead-after).
got=$(state_of "$TMP/alive.h5" "{\"state\":\"running\",\"updated\":$NOW,\"eta_seconds\":50}")
[ "$got" = "running 1 0 50" ] || fail "live driver: $got"
"$BIN" status "$TMP/dead.h5" --dead-after 1000 --json >"$TMP/out" || fail "--dead-after"
grep -q '"state": "running"' "$TMP/out" || fail "--dead-after 1000 keeps it running"
expect_rc 2 "$BIN" status "$TMP/dead.h5" --dead-after -1
# An uncalibrated or absurd driver ETA is not shown (the 2452307d of issue 22).
got=$(state_of "$TMP/uncal.h5" "{\"state\":\"running\",\"updated\":$NOW,\"eta_seconds\":1.18e13,\"eta_calibrated\":false}")
[ "$got" = "running 1 0 40.0" ] || fail "uncalibrated eta falls back to the estimate: $got"
got=$(state_of "$TMP/absurd.h5" "{\"state\":\"running\",\"updated\":$NOW,\"eta_seconds\":1.18e13}")
[ "$got" = "running 1 0 40.0" ] || fail "absurd eta: $got"
"$MAKER" "$TMP/cold.h5" --running 1 --pending 3 --run-info "{\"state\":\"running\",\"updated\":$NOW,\"eta_seconds\":1.18e13,\"eta_calibrated\":false}" >/dev/null
"$BIN" status "$TMP/cold.h5" >"$TMP/out" 2>&1
grep -q "eta: unknown (no job duration measured yet)" "$TMP/out" || fail "cold eta: $(cat "$TMP/out")"
# Stopped: which signal and when, resume advice, nothing running, no ETA.
got=$(state_of "$TMP/stopped.h5" "{\"state\":\"stopped\",\"updated\":$NOW,\"stop_reason\":\"stop requested by SIGTERM on rank 0\",\"stop_requested_at\":$AGO5}")
[ "$got" = "stopped 0 1 None" ] || fail "stopped: $got"
"$BIN" status "$TMP/stopped.h5" >"$TMP/out" 2>&1
grep -q "state: stopped (stop requested by SIGTERM on rank 0 at .* UTC, [0-9]*s ago; run the same command to resume)" "$TMP/out" \
  || fail "stopped text: $(cat "$TMP/out")"
grep -q "0 running, 4 pending (1 of them interrupted" "$TMP/out" || fail "stopped counts: $(cat "$TMP/out")"
# Finished: complete, or failed.
"$MAKER" "$TMP/complete.h5" --done 3 --run-info '{"state":"finished","eta_seconds":0}' >/dev/null
"$BIN" status "$TMP/complete.h5" >"$TMP/out" 2>&1
grep -q "^state: complete" "$TMP/out" || fail "complete: $(cat "$TMP/out")"
# status CONFIG: the results file that `run` would write (sweep.output, with --set overrides).
printf '[sweep]\nname = cfg\noutput = %s\n[grid]\nllm = nano\nvisual_tokens = 1\nmethod = avgpool\n[job]\ntype = sleep\n' "$TMP/other.h5" >"$TMP/sweep.ini"
expect_rc 0 "$BIN" status "$TMP/sweep.ini" --set "sweep.output=$TMP/stopped.h5"
grep -q "^state: stopped" "$TMP/out" || fail "status CONFIG --set: $(cat "$TMP/out")"
expect_rc 2 "$BIN" status "$TMP/sweep.ini"
grep -q "other.h5" "$TMP/err" || fail "status CONFIG names the results file it looked for: $(cat "$TMP/err")"
printf '[sweep]\nname = cfg\n[grid]\nllm = nano\n' >"$TMP/bad.ini"
expect_rc 2 "$BIN" status "$TMP/bad.ini"
[ "$(wc -l < "$TMP/err")" -eq 1 ] || fail "a bad config is one error line: $(cat "$TMP/err")"

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
