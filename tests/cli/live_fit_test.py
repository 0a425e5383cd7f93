#!/usr/bin/python3
"""`vlmscale status --fit` (cli/live_fit.h) on real sweeps of tests/command/fake_trainer.py run
under mpirun: its trainer writes a known law plus small seeded noise (FAKE_NOISE), so the live
fit's bootstrap intervals must cover the truth; the rounds are fits of the jobs done by then;
every fit lists exactly the done jobs it used; too few points and no done job are said, exit 0.
Environment: VLMSCALE_BIN (set by CTest). One test:
  VLMSCALE_BIN=build/vlmscale /usr/bin/python3 tests/cli/live_fit_test.py LiveFitTest.test_x
"""
import json
import os
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, ".."))
sys.path.insert(0, os.path.join(HERE, "..", "command"))
from e2e_util import BIN, ENV, export_jobs, mpirun  # noqa: E402
from command_e2e_test import ALPHA, BETA, write_config  # noqa: E402

FULL = ["grid.llm=q05,q18,q4,q7,q14", "grid.visual_tokens=1,4,16,36,64,144,576"]


def sets(values):
    return [x for s in values for x in ("--set", s)]


def status(path, *args):
    return subprocess.run([BIN, "status", path] + list(args), capture_output=True, text=True,
                          env=ENV, timeout=300)


class LiveFitTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory(prefix="vlmscale-livefit-")
        self.dir = self.tmp.name
        self.out = os.path.join(self.dir, "r.h5")

    def tearDown(self):
        self.tmp.cleanup()

    def run_sweep(self, grid, env="FAKE_NOISE=0.002", attempts=2):
        cfg = write_config(os.path.join(self.dir, "c.ini"), self.out, seconds=0.01, env=env,
                           attempts=attempts)
        p = mpirun(3, ["run", cfg] + sets(grid), timeout=300)
        return cfg, p

    def live_fit(self, *args):
        p = status(self.out, "--fit", "--json", *args)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        return json.loads(p.stdout)["fit"]

    def test_full_sweep_intervals_cover_the_law_and_rounds_use_the_jobs_done_by_then(self):
        cfg, p = self.run_sweep(FULL)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        jobs = export_jobs(self.out)
        done = {j["job_id"]: j for j in jobs if j["status"] == "done"}
        self.assertEqual(len(done), 35)
        fit = self.live_fit()
        self.assertIsNone(fit["error"])
        self.assertEqual(len(fit["groups"]), 1)
        group = fit["groups"][0]
        self.assertEqual(group["group"], "shapes/tokenpacker")
        self.assertEqual(group["text_tokens"], 50)
        self.assertEqual(len(group["budgets"]), 3)
        rounds = group["rounds"]
        self.assertEqual([r["label"] for r in rounds], ["25%", "50%", "75%", "now"])
        counts = [r["n_jobs"] for r in rounds]
        self.assertEqual(counts, sorted(set(counts)), "rounds must grow")
        self.assertEqual(counts[-1], 35)
        self.assertGreaterEqual(counts[0], 9)
        for r in rounds:
            used = {j["job_id"] for j in r["jobs"]}
            # Exactly the done jobs that had ended by the round's end.
            cut = r["ended_by"] if r["ended_by"] is not None else float("inf")
            self.assertEqual(used, {i for i, j in done.items() if j["end_time"] <= cut}, r["label"])
            self.assertEqual(len(r["jobs"]), r["n_jobs"])
            self.assertTrue(all(len(j["result_hash"]) == 16 for j in r["jobs"]))
        now = rounds[-1]
        self.assertEqual(now["status"], "ok", now)
        lo, hi = now["alpha_ci95"]
        self.assertTrue(lo <= ALPHA <= hi, (lo, now["alpha"], hi))
        lo, hi = now["beta_ci95"]
        self.assertTrue(lo <= BETA <= hi, (lo, now["beta"], hi))
        self.assertLess(hi - lo, 0.1, "intervals of 35 points with noise 0.002 are narrow")
        self.assertAlmostEqual(now["beta_over_alpha"], now["beta"] / now["alpha"], places=9)
        self.assertEqual([t["budget"] for t in now["t_star"]], group["budgets"])
        for t in now["t_star"]:
            self.assertTrue(t["feasible"])
            self.assertTrue(1 <= t["t"] <= 576, t)
            self.assertEqual(len(t["t_ci95"]), 2)
        # Every round of the group has its T* at the same budgets.
        for r in rounds:
            if r["status"] == "ok":
                self.assertEqual([t["budget"] for t in r["t_star"]], group["budgets"])
        # The current fit is `vlmscale fit`'s, number for number (same bootstrap and seed).
        fit_json = os.path.join(self.dir, "fit.json")
        f = subprocess.run([BIN, "fit", self.out, "--bootstrap", "100", "--json", fit_json],
                           capture_output=True, text=True, env=ENV)
        self.assertEqual(f.returncode, 0, f.stdout + f.stderr)
        with open(fit_json) as fh:
            ref = json.load(fh)["fits"][0]
        self.assertAlmostEqual(now["alpha"], ref["params"]["alpha"], places=12)
        self.assertEqual(now["alpha_ci95"], ref["ci95"]["alpha"])
        self.assertEqual([j["job_id"] for j in now["jobs"]], [j["job_id"] for j in ref["jobs"]])
        self.assertEqual([j["result_hash"] for j in now["jobs"]],
                         [j["result_hash"] for j in ref["jobs"]])
        # --round M: the last R rounds of M jobs each.
        fit = self.live_fit("--round", "5", "--rounds", "3", "--bootstrap", "0")
        rounds = fit["groups"][0]["rounds"]
        self.assertEqual([r["label"] for r in rounds], ["round -2", "round -1", "now"])
        self.assertEqual([r["n_jobs"] for r in rounds], [25, 30, 35])
        self.assertIsNone(rounds[-1]["alpha_ci95"])
        # Text: a line per round, with the intervals; plain status has no fit.
        p = status(self.out, "--fit", "--budget", "1e12")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("== shapes/tokenpacker ==  (Q = 50)", p.stdout)
        self.assertIn("T*@1e+12", p.stdout)
        for label in ("25%", "50%", "75%", "now"):
            self.assertRegex(p.stdout, r"\n  %s +\S" % label)
        self.assertNotIn("alpha", status(self.out).stdout)
        self.assertNotIn("fit", json.loads(status(self.out, "--json").stdout))

    def test_partially_done_sweep_fits_only_the_done_jobs(self):
        # The q14 jobs fail (their trainer exits 3): 28 of 35 done.
        cfg, p = self.run_sweep(FULL, env="FAKE_NOISE=0.002 FAKE_FAIL=llm=q14 FAKE_HOW=exit",
                                attempts=1)
        self.assertNotEqual(p.returncode, 0)
        jobs = export_jobs(self.out)
        done = {j["job_id"] for j in jobs if j["status"] == "done"}
        self.assertEqual(len(done), 28)
        fit = self.live_fit()
        now = fit["groups"][0]["rounds"][-1]
        self.assertEqual({j["job_id"] for j in now["jobs"]}, done)
        self.assertEqual(now["n_points"], 28)
        self.assertEqual(now["status"], "ok")

    def test_too_few_points_and_no_done_job_are_said_exit_0(self):
        cfg, p = self.run_sweep(["grid.llm=q05", "grid.visual_tokens=1,4,16"])
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        fit = self.live_fit()
        rounds = fit["groups"][0]["rounds"]
        self.assertEqual(rounds[-1]["status"], "too_few_points")
        self.assertEqual(rounds[-1]["message"], "3 points, need >= 5")
        p = status(self.out, "--fit")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("3 points, need >= 5", p.stdout)
        # Every job failed: no fit yet, said, exit 0.
        self.out = os.path.join(self.dir, "r2.h5")
        cfg, p = self.run_sweep(["grid.llm=q05", "grid.visual_tokens=1,4"], env="FAKE_HOW=exit",
                                attempts=1)
        self.assertNotEqual(p.returncode, 0)
        fit = self.live_fit()
        self.assertEqual(fit["groups"], [])
        self.assertIn("no done", fit["error"])
        p = status(self.out, "--fit")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("fit: none yet:", p.stdout)

    def test_bad_fit_options_are_one_error_exit_2(self):
        cfg, p = self.run_sweep(["grid.llm=q05", "grid.visual_tokens=1"])
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        for args, words in [(["--fit", "--filter", "colour=red"], "unknown filter key 'colour'"),
                            (["--fit", "--bootstrap", "5"], "bootstrap"),
                            (["--fit", "--rounds", "0"], "--rounds"),
                            (["--fit", "--budget", "-1"], "--budget"),
                            (["--budget", "1e12"], "needs --fit")]:
            p = status(self.out, *args)
            self.assertEqual(p.returncode, 2, (args, p.stdout, p.stderr))
            self.assertIn(words, p.stderr, args)


if __name__ == "__main__":
    unittest.main(verbosity=2)
