#!/usr/bin/python3
"""`vlmscale launch` under a real mpirun (issue 22): a stop of the whole launch (SIGTERM or SIGINT,
as a user's Ctrl-C or SLURM send them) ends with exit 75, the driver's summary, no Open MPI
boilerplate, `vlmscale status CONFIG` saying stopped with nothing running, and a rerun that
resumes without re-running acknowledged jobs or counting the stop as an attempt.

Environment: VLMSCALE_BIN (set by CTest). One test:
  VLMSCALE_BIN=build/vlmscale /usr/bin/python3 tests/driver/launch_e2e_test.py LaunchTest.test_x
"""
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from e2e_util import BIN, ENV, jobs_table  # noqa: E402

CONFIG = """
[sweep]
name = launch
output = {out}
[grid]
llm = nano, micro, mini
visual_tokens = 1, 4, 16
method = avgpool, quecc
[job]
type = sleep
[sleep]
seconds = 0.5
[run]
max_attempts = 1
grace_seconds = 5
"""


def status(config):
    p = subprocess.run([BIN, "status", config, "--json"], capture_output=True, text=True, env=ENV)
    assert p.returncode == 0, p.stderr
    import json
    return json.loads(p.stdout)


class LaunchTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory(prefix="vlmscale-launch-")
        self.out = os.path.join(self.tmp.name, "results", "r.h5")
        self.cfg = os.path.join(self.tmp.name, "launch.ini")
        with open(self.cfg, "w") as f:
            f.write(CONFIG.format(out=self.out))

    def tearDown(self):
        self.tmp.cleanup()

    def launch(self, *extra):
        return [BIN, "launch", "-np", "2", "--mpi-arg=--oversubscribe", self.cfg] + list(extra)

    def stop_mid_sweep(self, sig):
        """Starts a launch, waits until it printed 2 acknowledged jobs, sends `sig` to launch
        only (as a terminal's Ctrl-C or SLURM's scancel to the batch shell would)."""
        proc = subprocess.Popen(self.launch(), env=ENV, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, start_new_session=True)
        lines, two_done = [], threading.Event()

        def read():
            for line in proc.stdout:
                lines.append(line)
                if sum(bool(re.search(r"\] done ", l)) for l in lines) >= 2:
                    two_done.set()
        reader = threading.Thread(target=read)
        reader.start()
        self.assertTrue(two_done.wait(60), "no 2 jobs done within 60 s: " + "".join(lines))
        t0 = time.time()
        proc.send_signal(sig)
        err = proc.stderr.read()
        proc.wait(timeout=60)
        reader.join()
        proc.stdout.close()
        proc.stderr.close()
        return proc.returncode, "".join(lines), err, time.time() - t0

    def test_sigterm_and_sigint_stop_with_75_summary_and_resume(self):
        done_before = {}
        for sig in (signal.SIGTERM, signal.SIGINT):
            with self.subTest(sig=sig.name):
                rc, out, err, seconds = self.stop_mid_sweep(sig)
                print(f"{sig.name}: launch exited {rc} {seconds:.2f} s after the signal")
                self.assertEqual(rc, 75, out + err)
                self.assertIn("stopped; run the same command to resume", out)
                self.assertIn(f"vlmscale launch: {sig.name}: stopping the sweep", err)
                for boilerplate in ("Primary job", "mpirun detected", "Forwarding signal",
                                    "-----", "Epoll"):
                    self.assertNotIn(boilerplate, err)
                st = status(self.cfg)
                self.assertEqual(st["state"], "stopped", st["state_detail"])
                self.assertRegex(st["stop_reason"], r"SIGUSR1 on rank 0|a signal on rank 1")
                self.assertEqual((st["running"], st["interrupted"]), (0, 0), st)
                self.assertGreater(st["pending"], 0)
                self.assertIsNone(st["eta_seconds"])
                rows = jobs_table(self.out)
                self.assertNotIn("running", {r["status"] for r in rows})
                for r in rows:
                    if r["status"] == "done":
                        done_before.setdefault(r["job_id"], r["start_time"])
                    else:
                        self.assertEqual(r["attempts"], 0, "a stop counted as an attempt")
        p = subprocess.run(self.launch(), env=ENV, capture_output=True, text=True, timeout=120)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.assertIn(f"({len(done_before)} already done, {18 - len(done_before)} to run)",
                      p.stdout)
        rows = {r["job_id"]: r for r in jobs_table(self.out)}
        self.assertEqual(len(rows), 18)
        for r in rows.values():
            self.assertEqual(r["status"], "done")
            # max_attempts = 1: two stops did not use up the job's only attempt.
            self.assertEqual(r["attempts"], 1, r)
        for i, t in done_before.items():
            self.assertEqual(rows[i]["start_time"], t, "a finished job ran again")
        self.assertEqual(status(self.cfg)["state"], "complete")

    def test_usage_errors_exit_2_with_one_line(self):
        for args, needle in [([], "missing CONFIG"), (["-np", "x", self.cfg], "-np"),
                             (["--bogus", self.cfg], "unknown option '--bogus'"),
                             (["-np", "1", os.path.join(self.tmp.name, "none.ini")], "none.ini")]:
            with self.subTest(args=args):
                p = subprocess.run([BIN, "launch", "--mpi-arg=--oversubscribe"] + args, env=ENV,
                                   capture_output=True, text=True, timeout=60)
                self.assertEqual(p.returncode, 2, p.stderr)
                self.assertIn(needle, p.stderr)
                self.assertNotIn("-----", p.stderr)
                self.assertEqual(len(p.stderr.strip().splitlines()), 1, p.stderr)


if __name__ == "__main__":
    unittest.main()
