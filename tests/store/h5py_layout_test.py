#!/usr/bin/python3
"""Reads a results file with h5py (no vlmscale code) and checks the layout of docs/RESULTS.md.

Usage: h5py_layout_test.py STORE_MAKE_RESULTS [H5DUMP]
"""
import json
import math
import os
import subprocess
import sys
import tempfile

import h5py
import numpy as np

# The /jobs columns of format version 1, in order (docs/RESULTS.md, "The /jobs table").
JOB_COLUMNS = [
    "job_id", "llm", "n_params", "visual_tokens", "method", "task", "seed", "status", "attempts",
    "failure_class", "message", "error", "accuracy", "eval_loss", "inference_flops",
    "compressor_flops", "latency_ms", "extra_metrics", "est_cost", "train_seconds",
    "eval_seconds", "rank", "host", "start_time", "end_time",
]
EVENT_COLUMNS = ["job_id", "state", "attempt", "time", "failure_class"]
CURVE_COLUMNS = ["job_id", "name", "step", "value"]
ROOT_ATTRS = ["format", "format_version", "sweep_name", "config_text", "vlmscale_version",
              "git_commit", "run_info", "snapshot_time", "journal_seq", "job_count"]


def check(cond, what):
    if not cond:
        print("FAIL:", what)
        sys.exit(1)


def fnv1a64_hex(text):
    h = 14695981039346656037
    for b in text.encode():
        h ^= b
        h = (h * 1099511628211) % (1 << 64)
    return "%016x" % h


def main():
    maker = sys.argv[1]
    docs = open(os.path.join(os.path.dirname(__file__), "..", "..", "docs", "RESULTS.md")).read()
    for name in JOB_COLUMNS + EVENT_COLUMNS + CURVE_COLUMNS + ROOT_ATTRS + ["/curve_points"]:
        check("`%s`" % name in docs, "docs/RESULTS.md documents `%s`" % name)

    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "r.h5")
        run_info = {"ranks": 4, "slurm_job_id": "777", "requeue_count": 1}
        subprocess.run([maker, path, "--done", "3", "--failed", "1", "--running", "1",
                        "--curves", "--run-info", json.dumps(run_info)], check=True)
        with h5py.File(path, "r") as f:
            for attr in ROOT_ATTRS:
                check(attr in f.attrs, "root attribute %s" % attr)
            check(f.attrs["format"] == "vlmscale-results", "format attribute")
            check(int(f.attrs["format_version"]) == 2, "format_version")
            check(f.attrs["sweep_name"] == "demo-sweep", "sweep_name")
            check("demo-sweep" in f.attrs["config_text"], "config_text")
            check(json.loads(f.attrs["run_info"]) == run_info, "run_info JSON")
            check(int(f.attrs["job_count"]) == 5, "job_count")

            jobs = f["jobs"][()]
            check(isinstance(jobs, np.ndarray) and jobs.dtype.names is not None,
                  "/jobs reads as a structured array")
            # Version 1 columns first, in order; columns added later are appended after them.
            check(list(jobs.dtype.names)[:len(JOB_COLUMNS)] == JOB_COLUMNS,
                  "/jobs columns %s" % (jobs.dtype.names,))
            check(f["jobs"].chunks is not None and f["jobs"].maxshape == (None,),
                  "/jobs is chunked and extendable")
            check(len(jobs) == 5, "5 rows")
            for col in ("job_id", "llm", "method", "task", "status", "host", "message"):
                check(jobs.dtype[col].kind == "S", "%s is a fixed-length string" % col)
            states = [s.decode() for s in jobs["status"]]
            check(states == ["done"] * 3 + ["failed", "running"], "status column %s" % states)
            for i, row in enumerate(jobs):
                # Mirrors tests/store/store_test_util.h MakeRecord(i).
                check(row["job_id"].decode() == fnv1a64_hex("job-%d" % i), "job_id of row %d" % i)
                check(row["n_params"] == 5e8 + i, "n_params of row %d" % i)
                check(row["visual_tokens"] == 1 + i % 576, "visual_tokens")
                check(row["seed"] == i % 5, "seed")
                check(row["rank"] == i % 4, "rank")
                check(row["host"].decode() == "node%d" % (i % 3), "host")
                check(row["compressor_flops"] == 1e6 * i, "compressor_flops")
            done = jobs[0]
            check(abs(done["accuracy"] - 0.5) < 1e-12 and abs(done["error"] - 0.5) < 1e-12,
                  "accuracy/error of job 0")
            check(json.loads(done["extra_metrics"].decode()) == {"f1": 0.0}, "extra_metrics")
            failed = jobs[3]
            check(math.isnan(failed["accuracy"]), "NaN accuracy of the failed job")
            check(failed["failure_class"].decode() == "error", "failure_class")
            check(failed["message"].decode() == "job 3 failed", "message")

            events = f["events"][()]
            check(list(events.dtype.names) == EVENT_COLUMNS, "/events columns")
            check(len(events) == 5, "one event per job")

            job0 = done["job_id"].decode()
            # Format version 2: every job's curves in one table, no group per job.
            check("curves" not in f, "no /curves groups")
            points = f["curve_points"][()]
            check(list(points.dtype.names) == CURVE_COLUMNS, "/curve_points columns")
            mine = points[points["job_id"] == done["job_id"]]
            loss = mine[mine["name"] == b"train_loss"]
            check(loss["step"].tolist() == [1, 2] and loss["value"].tolist() == [2.0, 1.5],
                  "train_loss curve")
            check(len(mine[mine["name"] == b"eval/acc"]) > 0, "a curve name with a slash")
            names = [n.decode() for n in mine["name"]]
            check(names == sorted(names, key=names.index), "a job's points grouped by name")

        if len(sys.argv) > 2:
            out = subprocess.run([sys.argv[2], "-A", path], capture_output=True, text=True)
            check(out.returncode == 0 and "vlmscale-results" in out.stdout, "h5dump -A reads it")
    print("h5py layout test passed")


if __name__ == "__main__":
    main()
