"""Helpers shared by the end-to-end test scripts: run the real binary under mpirun and read the
results the way users do (h5py on the snapshot, `vlmscale export`/`status` with journal replay).
Environment: VLMSCALE_BIN (set by CTest)."""
import json
import os
import re
import signal
import subprocess
import time

import h5py

BIN = os.environ.get("VLMSCALE_BIN", os.path.join(os.path.dirname(__file__), "../build/vlmscale"))
ENV = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1",
           OMPI_MCA_rmaps_base_oversubscribe="1")


def mpirun(np_, args, timeout=120):
    cmd = ["mpirun", "--oversubscribe", "-np", str(np_), BIN] + args
    return subprocess.run(cmd, env=ENV, capture_output=True, text=True, timeout=timeout)


def jobs_table(path):
    """Rows of the snapshot's /jobs as dicts (strings decoded)."""
    with h5py.File(path, "r") as f:
        data = f["jobs"][()]
        return [{n: (r[n].decode() if isinstance(r[n], bytes) else r[n])
                 for n in data.dtype.names} for r in data]


def export_jobs(path):
    """Jobs as `vlmscale export` sees them: the HDF5 snapshot plus the journal replayed."""
    p = subprocess.run([BIN, "export", path, "--format", "json"], capture_output=True, text=True,
                       env=ENV)
    assert p.returncode == 0, p.stderr
    return json.loads(p.stdout)["jobs"]


def status_json(path):
    p = subprocess.run([BIN, "status", path, "--json"], capture_output=True, text=True, env=ENV)
    assert p.returncode == 0, p.stderr
    return json.loads(p.stdout)


def planned_ids(config, *sets):
    args = [BIN, "plan", config, "--json"]
    for s in sets:
        args += ["--set", s]
    p = subprocess.run(args, capture_output=True, text=True, env=ENV, check=True)
    return [j["job_id"] for j in json.loads(p.stdout)]


def run_and_kill(config, np_, rng, trial, delay, wait_for=None, one_rank_on_odd_trials=True):
    """Starts `vlmscale run CONFIG` on np_ ranks in its own session, sleeps rng.uniform(*delay)
    seconds and, if it still runs, SIGKILLs it: the whole session on even trials (on every trial
    when not one_rank_on_odd_trials), one random rank (mpirun then takes the job down; the rest is
    killed a second later) on odd ones. Then waits
    until no process of the session named `wait_for` (any process when None) is left, so the next
    run finds the journal lock released. Returns (killed, stdout, stderr)."""
    proc = subprocess.Popen(["mpirun", "--oversubscribe", "-np", str(np_), BIN, "run", config],
                            env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    time.sleep(rng.uniform(*delay))
    killed = proc.poll() is None
    if killed:
        if trial % 2 == 0 or not one_rank_on_odd_trials:
            os.killpg(proc.pid, signal.SIGKILL)
        else:
            ranks = subprocess.run(["pgrep", "-s", str(proc.pid), "-x", "vlmscale"],
                                   capture_output=True, text=True).stdout.split()
            if ranks:
                os.kill(int(rng.choice(ranks)), signal.SIGKILL)
            time.sleep(1.0)
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
    out_text, err_text = proc.communicate(timeout=60)
    pgrep = ["pgrep", "-s", str(proc.pid)] + (["-x", wait_for] if wait_for else [])
    while subprocess.run(pgrep, capture_output=True).stdout:
        time.sleep(0.05)
    return killed, out_text, err_text


def acknowledged_ids(stdout):
    """Job ids the coordinator printed as done, in order."""
    return re.findall(r"\] done +([0-9a-f]{16}) ", stdout)


def check_acknowledged_survive(test, out, acknowledged, trial):
    """The invariant after a kill, on the store as every reader and the next run see it (snapshot
    plus journal): each job appears once, and every acknowledged job is done with the start time it
    had when first seen, so it never re-ran. `acknowledged` maps id -> start time (None when not
    yet seen) and is updated. Returns the done rows by id."""
    rows = export_jobs(out)
    file_ids = [r["job_id"] for r in rows]
    test.assertEqual(len(file_ids), len(set(file_ids)), "a job appears twice")
    done = {r["job_id"]: r for r in rows if r["status"] == "done"}
    for a in acknowledged:
        test.assertIn(a, done, f"acknowledged job {a} lost after kill {trial}")
        if acknowledged[a] is None:
            acknowledged[a] = done[a]["start_time"]
        test.assertEqual(done[a]["start_time"], acknowledged[a], "acknowledged job re-ran")
    return done
