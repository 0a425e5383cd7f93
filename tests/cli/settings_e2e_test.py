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


class OlderFileTest(unittest.TestCase):
    """tests/data/settings_v1_results.h5: written by the binary of commit 0614fc2, without the
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
        self.assertTrue(all(j["settings_hash"] == "" for j in before))
        p = mpirun(1, ["run", self.cfg])
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        after = {j["job_id"]: j for j in export_jobs(self.out)}
        self.assertEqual(set(after), {j["job_id"] for j in before}, "no job was added or renamed")
        for j in before:
            a = after[j["job_id"]]
            self.assertEqual(a["status"], "done")
            self.assertEqual(a["end_time"], j["end_time"], "a finished job ran again")
        hashes = {a["settings_hash"] for a in after.values()}
        self.assertEqual(len(hashes), 1)
        self.assertEqual(len(hashes.pop()), 16)

    def test_another_setting_is_refused_using_the_files_stored_config(self):
        p = mpirun(1, ["run", self.cfg, "--set", "sleep.seconds=0.5"])
        self.assertEqual(p.returncode, 2, p.stdout + p.stderr)
        self.assertIn("sleep.seconds: 0 in 6 jobs of the file, 0.5 in this config", p.stderr)
        self.assertEqual(status_json(self.out)["total"], 6)


if __name__ == "__main__":
    unittest.main()
