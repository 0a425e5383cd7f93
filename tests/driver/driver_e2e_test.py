#!/usr/bin/python3
"""End-to-end tests of `vlmscale run` under a real mpirun, with `sleep` jobs.

Each test writes a config into a temporary directory, runs the driver with mpirun
(--oversubscribe, 2-4 ranks), and checks the HDF5 results file with h5py and `vlmscale status`.
Environment: VLMSCALE_BIN (the binary; set by CTest). Run one test with
  VLMSCALE_BIN=build/vlmscale /usr/bin/python3 tests/driver/driver_e2e_test.py DriverTest.test_x
"""
import json
import os
import random
import re
import signal
import subprocess
import sys
import tempfile
import time
import unittest

import h5py
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from e2e_util import (BIN, ENV, acknowledged_ids, check_acknowledged_survive,  # noqa: E402
                      jobs_table, mpirun, planned_ids, run_and_kill, status_json)



BASE = """
[sweep]
name = {name}
output = {out}
[grid]
llm = nano, micro, mini
visual_tokens = 1, 4, 16
method = avgpool, quecc
seed = {seeds}
[job]
type = sleep
[sleep]
seconds = {seconds}
{extra_sleep}
[run]
max_attempts = {attempts}
grace_seconds = 5
{extra_run}
"""


class DriverTestBase(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory(prefix="vlmscale-driver-")
        self.dir = self.tmp.name
        self.out = os.path.join(self.dir, "results", "r.h5")

    def tearDown(self):
        self.tmp.cleanup()

    def config(self, name="t", seeds="0", seconds=0.0, attempts=2, extra_sleep="", extra_run=""):
        path = os.path.join(self.dir, name + ".ini")
        with open(path, "w") as f:
            f.write(BASE.format(name="drv", out=self.out, seeds=seeds, seconds=seconds,
                                attempts=attempts, extra_sleep=extra_sleep, extra_run=extra_run))
        return path

    def assert_all_done_once(self, config, *sets):
        ids = planned_ids(config, *sets)
        rows = jobs_table(self.out)
        file_ids = [r["job_id"] for r in rows]
        self.assertEqual(len(file_ids), len(set(file_ids)), "a job appears twice in /jobs")
        by_id = {r["job_id"]: r for r in rows}
        for i in ids:
            self.assertIn(i, by_id)
            self.assertEqual(by_id[i]["status"], "done", by_id[i])
        return by_id


class DriverTest(DriverTestBase):
    def test_every_job_runs_exactly_once_on_three_ranks(self):
        # 0.25 s jobs (9 s of work): with 0 s jobs, handed out in ~10 ms batches, two ranks could
        # drain the grid before a third, started late under ctest -j load, asked for work.
        cfg = self.config(seeds="0, 1", seconds=0.25)
        p = mpirun(3, ["run", cfg])
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        by_id = self.assert_all_done_once(cfg)
        self.assertEqual(len(by_id), 36)
        for r in by_id.values():
            self.assertEqual(r["attempts"], 1)
            self.assertGreater(r["error"], 0.0)
        # Every rank executed jobs: the coordinator does not cost a rank.
        self.assertEqual({int(r["rank"]) for r in by_id.values()}, {0, 1, 2})
        self.assertEqual(len(re.findall(r"\] done ", p.stdout)), 36)
        self.assertIn("status          complete", p.stdout)
        st = status_json(self.out)
        self.assertEqual((st["total"], st["done"], st["failed"], st["pending"]), (36, 36, 0, 0))

    def test_resume_skips_done_jobs_and_grows_the_grid(self):
        cfg = self.config(seeds="0, 1")
        p = mpirun(2, ["run", cfg, "--set", "grid.seed=0"])
        self.assertEqual(p.returncode, 0, p.stderr)
        first = {r["job_id"]: r for r in jobs_table(self.out)}
        self.assertEqual(len(first), 18)
        p = mpirun(2, ["run", cfg])
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("36 jobs (18 already done, 18 to run)", p.stdout)
        by_id = self.assert_all_done_once(cfg)
        for i, r in first.items():
            self.assertEqual(by_id[i]["start_time"], r["start_time"], "a finished job ran again")
            self.assertEqual(by_id[i]["attempts"], 1)
        # A third run has nothing to do.
        p = mpirun(2, ["run", cfg])
        self.assertIn("(36 already done, 0 to run)", p.stdout)

    def test_another_sweeps_file_is_refused_unless_fresh(self):
        cfg = self.config()
        self.assertEqual(mpirun(2, ["run", cfg]).returncode, 0)
        p = mpirun(2, ["run", cfg, "--set", "sweep.name=other"])
        self.assertEqual(p.returncode, 2)
        self.assertIn("drv", p.stderr)
        self.assertIn("other", p.stderr)
        p = mpirun(2, ["run", cfg, "--set", "sweep.name=other", "--fresh"])
        self.assertEqual(p.returncode, 0, p.stderr)
        moved = [f for f in os.listdir(os.path.dirname(self.out)) if ".old-" in f]
        self.assertTrue(moved, "the old file was not kept")

    def test_stop_by_signal_exits_75_and_resume_completes(self):
        # SIGUSR1 to mpirun (OpenMPI forwards it to every rank); SIGTERM and SIGINT to the ranks
        # themselves, as SLURM's scancel does. (mpirun itself answers SIGTERM by exiting 1
        # after forwarding it; the ranks still stop cleanly.)
        cases = [("mpirun", signal.SIGUSR1), ("ranks", signal.SIGTERM), ("ranks", signal.SIGINT)]
        for n, (target, sig) in enumerate(cases):
            with self.subTest(target=target, sig=sig):
                self.out = os.path.join(self.dir, f"stop{n}", "r.h5")
                cfg = self.config(seconds=0.5)
                proc = subprocess.Popen(["mpirun", "--oversubscribe", "-np", "2", BIN, "run", cfg],
                                        env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                        text=True, start_new_session=True)
                deadline = time.time() + 60
                while time.time() < deadline:  # Wait until some jobs are done.
                    if os.path.exists(self.out) and status_json(self.out)["done"] >= 2:
                        break
                    time.sleep(0.3)
                if target == "mpirun":
                    proc.send_signal(sig)
                else:
                    ranks = subprocess.run(["pgrep", "-s", str(proc.pid), "-x", "vlmscale"],
                                           capture_output=True, text=True).stdout.split()
                    self.assertEqual(len(ranks), 2)
                    for r in ranks:
                        os.kill(int(r), sig)
                out, err = proc.communicate(timeout=60)
                self.assertEqual(proc.returncode, 75, out + err)
                self.assertIn("stopping", out)
                self.assertIn("stopped; run the same command to resume", out)
                st = status_json(self.out)
                self.assertGreaterEqual(st["done"], 2)
                self.assertGreater(st["pending"], 0)
                self.assertEqual(st["running"], 0)
                done_before = {r["job_id"]: r["start_time"] for r in jobs_table(self.out)
                               if r["status"] == "done"}
                p = mpirun(2, ["run", cfg], timeout=120)
                self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
                by_id = self.assert_all_done_once(cfg)
                for i, t in done_before.items():
                    self.assertEqual(by_id[i]["start_time"], t, "a finished job ran again")

    def test_two_rank_jobs_use_a_group_communicator(self):
        cfg = self.config(extra_run="ranks_per_job = 2")
        p = mpirun(4, ["run", cfg])
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.assertIn("jobs of 2 ranks", p.stdout)
        export = subprocess.run([BIN, "export", self.out, "--format", "json"], capture_output=True,
                                text=True, check=True)
        jobs = json.loads(export.stdout)["jobs"]
        self.assertEqual(len(jobs), 18)
        for j in jobs:
            self.assertEqual(j["extra_metrics"]["group_ranks"], 2.0)
            self.assertEqual(j["extra_metrics"]["group_rank_sum"], 1.0)
            self.assertIn(j["rank"], range(3))  # The job's lowest rank leads it.
        # Groups are formed per job: 3 ranks hold 2-rank jobs; 1 rank does not (exit 2).
        p = mpirun(3, ["run", cfg, "--fresh"])
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        p = mpirun(1, ["run", cfg, "--fresh"])
        self.assertEqual(p.returncode, 2)
        self.assertIn("run.ranks_per_job", p.stderr)

    def test_live_status_while_running(self):
        cfg = self.config(seconds=0.5, extra_run="snapshot_seconds = 0.2")
        proc = subprocess.Popen(["mpirun", "--oversubscribe", "-np", "2", BIN, "run", cfg],
                                env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        seen_running = False
        seen_h5py = False
        while proc.poll() is None:
            if os.path.exists(self.out):
                st = status_json(self.out)
                self.assertEqual(st["total"], 18)
                self.assertEqual(st["done"] + st["failed"] + st["running"] + st["pending"], 18)
                seen_running = seen_running or st["running"] > 0
                try:
                    with h5py.File(self.out, "r") as f:
                        seen_h5py = seen_h5py or len(f["jobs"]) == 18
                except OSError:
                    pass  # Replaced by a snapshot between open calls; retried.
            time.sleep(0.2)
        self.assertEqual(proc.returncode, 0)
        self.assertTrue(seen_running, "status never showed a running job")
        self.assertTrue(seen_h5py, "h5py never read the file while the sweep ran")


class JobFaultTest(DriverTestBase):
    """Failing and hanging sleep jobs (registered in tests/fault/ as fault_job_failures_test)."""

    def test_failures_are_retried_classified_and_reported(self):
        cfg = self.config(attempts=3, extra_sleep="fail = llm=micro,visual_tokens=4,method=quecc\n"
                          "fail_attempts = 2")
        p = mpirun(2, ["run", cfg])
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        rows = {r["job_id"]: r for r in jobs_table(self.out)}
        retried = [r for r in rows.values() if r["llm"] == "micro" and r["visual_tokens"] == 4
                   and r["method"] == "quecc"]
        self.assertEqual(len(retried), 1)
        self.assertEqual(retried[0]["status"], "done")
        self.assertEqual(retried[0]["attempts"], 3)
        self.assertEqual(len(re.findall(r"failed .*\(will retry\)", p.stdout)), 2)

    def test_final_failures_exit_1_with_class_and_message(self):
        for fail_class, expected in [("error", "error"), ("diverged", "diverged"), ("oom", "oom")]:
            with self.subTest(fail_class=fail_class):
                cfg = self.config(extra_sleep="fail = llm=nano,visual_tokens=1\n"
                                  f"fail_class = {fail_class}")
                p = mpirun(2, ["run", cfg, "--fresh"])
                self.assertEqual(p.returncode, 1, p.stdout + p.stderr)
                rows = jobs_table(self.out)
                failed = [r for r in rows if r["status"] == "failed"]
                self.assertEqual(len(failed), 2)  # nano, V=1, both methods.
                for r in failed:
                    self.assertEqual(r["failure_class"], expected)
                    self.assertEqual(r["attempts"], 2)
                    self.assertNotEqual(r["message"], "")
                self.assertEqual(sum(r["status"] == "done" for r in rows), 16)
                self.assertIn(f"failed [{expected}]", p.stdout)
                self.assertIn("finished with failures (exit 1)", p.stdout)

    def test_stalled_worker_is_named(self):
        cfg = self.config(extra_sleep="hang = llm=mini,visual_tokens=16,method=quecc\n"
                          "hang_seconds = 6",
                          extra_run="stall_seconds = 1")
        p = mpirun(2, ["run", cfg], timeout=60)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.assertRegex(p.stdout, r"warning: rank \d+ on \S+ has not reported progress")
        self.assertRegex(p.stdout, r"reports again")


class SigkillTest(unittest.TestCase):
    """Kills the sweep with SIGKILL at random moments: the file must always open, every job the
    coordinator acknowledged (printed as done) must be in it exactly once, and resume must finish
    the rest without re-running acknowledged jobs."""

    def test_random_sigkills_never_lose_acknowledged_results(self):
        tmp = tempfile.TemporaryDirectory(prefix="vlmscale-kill-", ignore_cleanup_errors=True)
        out = os.path.join(tmp.name, "k.h5")
        cfg = os.path.join(tmp.name, "k.ini")
        with open(cfg, "w") as f:
            # 540 jobs of 0.1 s: ~18 s of work on 3 ranks, more than the 12 runs get to do.
            f.write(BASE.format(name="kill", out=out, seeds=", ".join(map(str, range(30))),
                                seconds=0.1, attempts=2, extra_sleep="mode = constant",
                                extra_run="snapshot_seconds = 0.1"))
        rng = random.Random(20261124)
        ids = planned_ids(cfg)
        acknowledged = {}
        kills = 0
        for i in range(12):
            killed, out_text, err_text = run_and_kill(cfg, 3, rng, i, (0.3, 2.5))
            kills += killed
            self.assertNotIn("another process is writing", err_text)
            for a in acknowledged_ids(out_text):
                acknowledged.setdefault(a, None)
            # The invariant after every kill: the HDF5 snapshot opens, and the store holds each
            # acknowledged job exactly once, done, and never re-run. A kill during start-up (a
            # loaded machine takes seconds to start 3 ranks) may come before the file exists:
            # then nothing can have been acknowledged yet.
            if not os.path.exists(out):
                self.assertEqual(acknowledged, {}, f"results file gone after kill {i}")
                continue
            with h5py.File(out, "r") as f:
                self.assertIn("jobs", f)
            check_acknowledged_survive(self, out, acknowledged, i)
            status_json(out)  # Opens cleanly.
        self.assertGreaterEqual(kills, 10)
        p = mpirun(3, ["run", cfg], timeout=120)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        rows = {r["job_id"]: r for r in jobs_table(out)}  # After a clean end the .h5 has it all.
        self.assertEqual(len(rows), len(ids))
        for i in ids:
            self.assertEqual(rows[i]["status"], "done")
        for a, t in acknowledged.items():
            self.assertEqual(rows[a]["start_time"], t)
        tmp.cleanup()


if __name__ == "__main__":
    unittest.main(verbosity=2)
