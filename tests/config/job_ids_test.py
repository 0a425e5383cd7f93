#!/usr/bin/python3
"""Job ids are stable: every shipped config (configs/*.ini) and every config of
tests/config/id_pins/ plans to exactly the job ids (and grid order, grid points and text tokens)
recorded in tests/config/id_pins/job_ids.json. A job id names a result in every results file
ever written, so a change here silently re-runs whole studies.

The pins were recorded with the binary of commit a97038e (before the issue-15 refactor). Only a
deliberate change of job identity may re-record them:
    tests/config/job_ids_test.py --record      (then say why in the commit)
"""
import glob
import json
import os
import subprocess
import sys
import unittest

BIN = os.environ.get("VLMSCALE_BIN", "build/vlmscale")
PINS = "tests/config/id_pins/job_ids.json"
FIELDS = ("job_id", "llm", "n_params", "visual_tokens", "method", "task", "seed", "text_tokens")


def configs():
    return sorted(glob.glob("configs/*.ini")) + sorted(glob.glob("tests/config/id_pins/*.ini"))


def plan(path):
    out = subprocess.run([BIN, "plan", path, "--json"], capture_output=True, text=True)
    if out.returncode != 0:
        raise AssertionError(f"plan {path} exited {out.returncode}: {out.stderr}")
    return [{k: j[k] for k in FIELDS} for j in json.loads(out.stdout)]


class JobIdsTest(unittest.TestCase):
    def test_every_pinned_config_keeps_its_job_ids(self):
        with open(PINS) as f:
            pins = json.load(f)
        self.assertEqual(sorted(pins), configs(), "a config was added or removed: record its pins")
        total = 0
        for path in configs():
            with self.subTest(path=path):
                jobs = plan(path)
                self.assertEqual([j["job_id"] for j in jobs], [j["job_id"] for j in pins[path]])
                self.assertEqual(jobs, pins[path])
                total += len(jobs)
        self.assertGreater(total, 300)


if __name__ == "__main__":
    if "--record" in sys.argv:
        with open(PINS, "w") as f:
            json.dump({p: plan(p) for p in configs()}, f, indent=1, sort_keys=True)
            f.write("\n")
        print("recorded", PINS)
    else:
        unittest.main()
