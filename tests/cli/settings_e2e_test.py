#!/usr/bin/python3
"""Issue 21: a results file is one study. Runs of different settings into one file are refused
(exit 2 naming the keys) or, with --allow-mixed, kept apart in status, export and fit; a file
written before records kept their settings still resumes.

Real mpirun, real HDF5 files, `sleep` jobs (their error is a fixed law of N and V, so the fits
converge). Environment: VLMSCALE_BIN (set by CTest). One test:
  VLMSCALE_BIN=build/vlmscale /usr/bin/python3 tests/cli/settings_e2e_test.py \\
      SettingsTest.test_allow_mixed_keeps_the_settings_apart
"""
import csv
import io
import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from e2e_util import BIN, ENV, export_jobs, mpirun, status_json  # noqa: E402

DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "data")
REPO = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")

CONFIG = """
[sweep]
name = mix
output = {out}
[grid]
llm = nano, micro, mini
visual_tokens = 1, 4, 16
method = avgpool, quecc
seed = 0
[job]
type = sleep
[sleep]
seconds = 0
"""


def vlmscale(*args):
    return subprocess.run([BIN] + list(args), env=ENV, capture_output=True, text=True, timeout=120)


def report_page(test, results, out_dir):
    """Runs analysis/report.py on `results` into `out_dir` (asserting it succeeds) and returns
    its index.html."""
    env = dict(ENV, VLMSCALE_BIN=BIN)
    rp = subprocess.run(["/usr/bin/python3", os.path.join(REPO, "analysis", "report.py"),
                         results, "-o", out_dir, "--bootstrap", "0", "--holdout-largest", "0"],
                        env=env, capture_output=True, text=True, timeout=300)
    test.assertEqual(rp.returncode, 0, rp.stdout + rp.stderr)
    with open(os.path.join(out_dir, "index.html")) as fh:
        return fh.read()


def status_json_history(path):
    p = vlmscale("status", path, "--history", "--json")
    assert p.returncode == 0, p.stderr
    return json.loads(p.stdout)["runs"]


class SettingsTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory(prefix="vlmscale-settings-")
        self.out = os.path.join(self.tmp.name, "r.h5")
        self.cfg = os.path.join(self.tmp.name, "tiny.ini")
        with open(self.cfg, "w") as f:
            f.write(CONFIG.format(out=self.out))

    def tearDown(self):
        self.tmp.cleanup()

    def run_ok(self, *args):
        p = mpirun(2, ["run", self.cfg, "--quiet"] + list(args))
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        return p

    def test_a_run_with_other_settings_into_the_same_file_is_refused_naming_the_key(self):
        self.run_ok()
        p = mpirun(2, ["run", self.cfg, "--set", "sleep.seconds=0.001"])
        self.assertEqual(p.returncode, 2, p.stdout + p.stderr)
        self.assertIn("sleep.seconds: 0 in 18 jobs of the file, 0.001 in this config", p.stderr)
        self.assertIn("--allow-mixed", p.stderr)
        s = status_json(self.out)
        self.assertEqual((s["total"], s["done"]), (18, 18), "the refused run added nothing")
        self.assertEqual(s["varied_settings"], [])
        # The same config again is a resume, not a mix.
        self.run_ok()

    def test_allow_mixed_keeps_the_settings_apart(self):
        self.run_ok()
        p = self.run_ok("--set", "sleep.seconds=0.001", "--allow-mixed")
        self.assertIn("--allow-mixed", p.stdout)
        s = status_json(self.out)
        self.assertEqual(s["total"], 36)
        self.assertEqual(s["varied_settings"], ["sleep.seconds"])
        groups = {g["settings"]["sleep.seconds"]: (g["total"], g["done"]) for g in s["settings"]}
        self.assertEqual(groups, {"0": (18, 18), "0.001": (18, 18)})
        text = vlmscale("status", self.out)
        self.assertIn("sleep.seconds=0.001: 18 jobs: 18 done", text.stdout)

        # The file keeps a record of each run: status --history lists them.
        h = vlmscale("status", self.out, "--history", "--json")
        self.assertEqual(h.returncode, 0, h.stderr)
        runs = json.loads(h.stdout)["runs"]
        self.assertEqual(len(runs), 2)
        self.assertEqual(runs[0]["overrides"], [])
        self.assertEqual(runs[1]["overrides"], ["sleep.seconds=0.001"])
        self.assertEqual([r["allow_mixed"] for r in runs], [False, True])
        self.assertEqual([r["new_jobs"] for r in runs], [18, 18])
        self.assertIn("seconds = 0.001", runs[1]["config_text"])
        self.assertLessEqual(runs[0]["time"], runs[1]["time"])
        h = vlmscale("status", self.out, "--history")
        self.assertIn("history: 2 runs", h.stdout)
        self.assertIn("--set sleep.seconds=0.001 --allow-mixed: 18 jobs, 18 new", h.stdout)

        e = vlmscale("export", self.out, "--format", "csv")
        self.assertEqual(e.returncode, 0, e.stderr)
        rows = list(csv.DictReader(io.StringIO(e.stdout)))
        self.assertEqual(len(rows), 36)
        self.assertIn("settings_hash", rows[0])
        self.assertIn("sleep.seconds", rows[0])
        points = {}
        for r in rows:
            key = (r["llm"], r["visual_tokens"], r["method"], r["seed"])
            points.setdefault(key, set()).add((r["sleep.seconds"], r["settings_hash"]))
        self.assertEqual(len(points), 18)
        for key, settings in points.items():
            self.assertEqual(len(settings), 2, f"{key}: rows must differ in their settings")
            self.assertEqual({s[0] for s in settings}, {"0", "0.001"})

        # fit: no choice of group -> exit 2 listing the groups.
        f = vlmscale("fit", self.out, "--brief")
        self.assertEqual(f.returncode, 2, f.stdout + f.stderr)
        self.assertIn("sleep.seconds=0 (18 jobs)", f.stderr)
        self.assertIn("sleep.seconds=0.001 (18 jobs)", f.stderr)
        self.assertIn("--group-by sleep.seconds", f.stderr)

        # --group-by: one fit per (method, sleep.seconds), 9 jobs each, never pooled.
        fit_json = os.path.join(self.tmp.name, "fit.json")
        f = vlmscale("fit", self.out, "--group-by", "sleep.seconds", "--json", fit_json, "--brief")
        self.assertEqual(f.returncode, 0, f.stdout + f.stderr)
        with open(fit_json) as fh:
            doc = json.load(fh)
        got = sorted((fit["group"]["method"], fit["group"]["settings"]["sleep.seconds"],
                      len(fit["jobs"])) for fit in doc["fits"])
        self.assertEqual(got, [("avgpool", "0", 9), ("avgpool", "0.001", 9),
                               ("quecc", "0", 9), ("quecc", "0.001", 9)])
        self.assertIn("avgpool/sleep.seconds=0.001", f.stdout)

        # --filter with a setting and a list.
        f = vlmscale("fit", self.out, "--filter", "sleep.seconds=0.001", "--filter",
                     "llm=nano,micro", "--json", fit_json, "--brief")
        self.assertEqual(f.returncode, 0, f.stdout + f.stderr)
        with open(fit_json) as fh:
            doc = json.load(fh)
        self.assertEqual(sorted(len(fit["jobs"]) for fit in doc["fits"]), [6, 6])
        self.assertTrue(all(fit["group"]["settings"] == {} for fit in doc["fits"]))


class SweptSettingTest(unittest.TestCase):
    """[grid] SECTION.KEY: a setting as a grid axis, end to end (plan, run, status, export, fit
    per value, report)."""

    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory(prefix="vlmscale-swept-")
        self.out = os.path.join(self.tmp.name, "r.h5")
        self.cfg = os.path.join(self.tmp.name, "swept.ini")
        with open(self.cfg, "w") as f:
            f.write(CONFIG.format(out=self.out).replace(
                "seed = 0\n", "seed = 0\nsleep.seconds = 0, 0.01\n"))

    def tearDown(self):
        self.tmp.cleanup()

    def test_a_swept_setting_is_planned_run_and_fitted_per_value(self):
        p = vlmscale("plan", self.cfg)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("sleep.seconds", p.stdout.splitlines()[2])  # The table's header.
        p = vlmscale("plan", self.cfg, "--json")
        jobs = json.loads(p.stdout)
        self.assertEqual(len(jobs), 36)
        self.assertEqual(sorted({j["settings"]["sleep.seconds"] for j in jobs}), ["0", "0.01"])

        r = mpirun(2, ["run", self.cfg, "--quiet"])
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        s = status_json(self.out)
        self.assertEqual((s["total"], s["done"]), (36, 36))
        self.assertEqual(s["varied_settings"], ["sleep.seconds"])
        exported = export_jobs(self.out)
        self.assertEqual(sorted({j["sleep.seconds"] for j in exported}), ["0", "0.01"])
        self.assertTrue(all(j["swept"] == "sleep.seconds" for j in exported))

        # Swept by the grid: fitted per value without being asked.
        fit_json = os.path.join(self.tmp.name, "fit.json")
        f = vlmscale("fit", self.out, "--json", fit_json, "--brief")
        self.assertEqual(f.returncode, 0, f.stdout + f.stderr)
        with open(fit_json) as fh:
            doc = json.load(fh)
        self.assertEqual(sorted((fit["group"]["method"], fit["group"]["settings"]["sleep.seconds"])
                                for fit in doc["fits"]),
                         [("avgpool", "0"), ("avgpool", "0.01"), ("quecc", "0"), ("quecc", "0.01")])
        checklist = {c["item"]: c["answer"] for c in doc["manifest"]["checklist"]}
        self.assertIn("groups by task, method, sleep.seconds", checklist["grouping"])

        # The same config again resumes, and more values grow the study; a config that does not
        # sweep the key, with another value, would mix studies.
        r = mpirun(2, ["run", self.cfg, "--quiet"])
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        plain = os.path.join(self.tmp.name, "plain.ini")
        with open(plain, "w") as fh:
            fh.write(CONFIG.format(out=self.out).replace("seconds = 0\n", "seconds = 0.5\n"))
        r = mpirun(2, ["run", plain])
        self.assertEqual(r.returncode, 2, r.stdout + r.stderr)
        self.assertIn("sleep.seconds: 0, 0.01 in 36 jobs of the file, 0.5 in this config", r.stderr)
        r = mpirun(2, ["run", self.cfg, "--quiet", "--set", "grid.sleep.seconds=0, 0.01, 0.02"])
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertEqual(status_json(self.out)["total"], 54)

        page = report_page(self, self.out, os.path.join(self.tmp.name, "report"))
        self.assertIn("Best sleep.seconds per N", page)
        self.assertIn("avgpool/sleep.seconds=0.01", page)


LR_CONFIG = """
[sweep]
name = lr
output = {out}
[grid]
llm = nano, micro, mini
visual_tokens = 1, 4, 16
method = avgpool
task = shapes
train.lr = 0.001, 0.003
[model]
image_size = 48
grid_size = 8
encoder_pretrain_steps = 20
[train]
steps = 30
warmup_steps = 3
[eval]
examples = 64
"""


class LrSweepTest(unittest.TestCase):
    """The issue's 'done when': a train.lr x llm sweep of real finetune_eval jobs runs end to end
    (plan, run, status, export, fit per lr, report's best lr per N)."""

    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory(prefix="vlmscale-lr-")
        self.out = os.path.join(self.tmp.name, "lr.h5")
        self.cfg = os.path.join(self.tmp.name, "lr.ini")
        with open(self.cfg, "w") as f:
            f.write(LR_CONFIG.format(out=self.out))

    def tearDown(self):
        self.tmp.cleanup()

    def test_a_train_lr_by_llm_finetune_sweep_runs_end_to_end(self):
        p = vlmscale("plan", self.cfg)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("train.lr", p.stdout)
        r = mpirun(2, ["run", self.cfg, "--quiet"], timeout=900)
        self.assertEqual(r.returncode, 0, r.stdout[-3000:] + r.stderr[-3000:])
        s = status_json(self.out)
        self.assertEqual((s["total"], s["done"]), (18, 18))
        self.assertEqual(s["varied_settings"], ["train.lr"])
        exported = export_jobs(self.out)
        self.assertEqual(sorted({j["train.lr"] for j in exported}), ["0.001", "0.003"])
        self.assertEqual(len({j["settings_hash"] for j in exported}), 2)  # One per rate.
        # The same (llm, V) point at two rates trained differently: not the same error.
        by_point = {}
        for j in exported:
            by_point.setdefault((j["llm"], j["visual_tokens"]), {})[j["train.lr"]] = j["error"]
        self.assertTrue(any(v["0.001"] != v["0.003"] for v in by_point.values()), by_point)

        # Fitted per rate without being asked: one group per value, never pooled.
        fit_json = os.path.join(self.tmp.name, "fit.json")
        f = vlmscale("fit", self.out, "--json", fit_json, "--brief")
        self.assertIn(f.returncode, (0, 1), f.stdout + f.stderr)  # 1: a fit failed numerically.
        with open(fit_json) as fh:
            doc = json.load(fh)
        self.assertEqual(sorted(fit["group"]["settings"]["train.lr"] for fit in doc["fits"]),
                         ["0.001", "0.003"])
        self.assertEqual([len(fit["jobs"]) for fit in doc["fits"]], [9, 9])

        page = report_page(self, self.out, os.path.join(self.tmp.name, "report"))
        self.assertIn("Best train.lr per N", page)


class OlderFileTest(unittest.TestCase):
    """tests/data/settings_v1_results.h5: written by main's binary (224e187), without the
    settings columns (tests/data/README.md)."""

    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory(prefix="vlmscale-settings-v1-")
        self.out = os.path.join(self.tmp.name, "settings_v1_results.h5")
        shutil.copy(os.path.join(DATA, "settings_v1_results.h5"), self.out)
        self.cfg = os.path.join(self.tmp.name, "settings_v1.ini")
        with open(os.path.join(DATA, "settings_v1.ini")) as f:
            text = f.read().replace("output = settings_v1_results.h5", "output = " + self.out)
        with open(self.cfg, "w") as f:
            f.write(text)

    def tearDown(self):
        self.tmp.cleanup()

    def test_resume_keeps_the_jobs_and_records_their_settings(self):
        before = export_jobs(self.out)
        self.assertEqual(len(before), 6)
        self.assertIn("no run records", vlmscale("status", self.out, "--history").stdout)
        self.assertTrue(all(j["settings_hash"] == "" for j in before))
        p = mpirun(1, ["run", self.cfg])
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        after = {j["job_id"]: j for j in export_jobs(self.out)}
        self.assertEqual(set(after), {j["job_id"] for j in before}, "no job was added or renamed")
        for j in before:
            a = after[j["job_id"]]
            self.assertEqual(a["status"], "done")
            self.assertEqual(a["end_time"], j["end_time"], "a finished job ran again")
        self.assertEqual(len(status_json_history(self.out)), 1)
        hashes = {a["settings_hash"] for a in after.values()}
        self.assertEqual(len(hashes), 1)
        self.assertEqual(len(hashes.pop()), 16)

    def test_another_setting_is_refused_using_the_files_stored_config(self):
        p = mpirun(1, ["run", self.cfg, "--set", "sleep.seconds=0.5"])
        self.assertEqual(p.returncode, 2, p.stdout + p.stderr)
        # The file's stored config was resolved by a binary that knows train.projector_init
        # (main at 224e187). A vlmscale that knows it plans that config and names the key that
        # differs; one that does not says its settings are unknown, and why.
        if "unknown key 'projector_init'" in p.stderr:
            self.assertIn("did not record their settings", p.stderr)
            self.assertIn("cannot plan", p.stderr)
        else:
            self.assertIn("sleep.seconds: 0 in 6 jobs of the file, 0.5 in this config", p.stderr)
        self.assertEqual(status_json(self.out)["total"], 6)
        # --allow-mixed adds the jobs anyway.
        p = mpirun(1, ["run", self.cfg, "--set", "sleep.seconds=0.5", "--allow-mixed"])
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.assertEqual(status_json(self.out)["total"], 12)


if __name__ == "__main__":
    unittest.main()
