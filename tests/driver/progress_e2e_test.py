#!/usr/bin/python3
"""Live progress of built-in jobs under a real mpirun (issue 22, items 1 and 2).

A small finetune_eval sweep (real libtorch) on 2 ranks. While it runs, `vlmscale status --json`
is polled and `vlmscale status --watch` follows it: the running jobs show their phase, step of
total and last loss, the running job's curves grow in the results file (the journal, read by
`export`) before the job ends, and --watch exits 0 by itself when the sweep is complete. After
the sweep every attempt directory holds a train.log with the settings, the one-time encoder
pretraining, the logged steps, the evaluation and the timing.
Environment: VLMSCALE_BIN (set by CTest). One test:
  VLMSCALE_BIN=build/vlmscale /usr/bin/python3 tests/driver/progress_e2e_test.py \
      ProgressTest.test_status_shows_step_and_loss_and_curves_grow_while_jobs_run
"""
import glob
import math
import os
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from e2e_util import BIN, ENV, export_jobs, status_json  # noqa: E402

CONFIG = """[sweep]
name = progress
output = {out}
[run]
snapshot_seconds = 0.5
[grid]
llm = micro
visual_tokens = 4, 16
method = avgpool
[model]
image_size = 48
grid_size = 8
encoder_pretrain_steps = 40
[train]
steps = {steps}
warmup_steps = 5
log_every = 10
[eval]
examples = 128
"""


class ProgressTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory(prefix="vlmscale-progress-",
                                               ignore_cleanup_errors=True)
        self.dir = self.tmp.name
        self.out = os.path.join(self.dir, "r.h5")

    def tearDown(self):
        self.tmp.cleanup()

    def test_status_shows_step_and_loss_and_curves_grow_while_jobs_run(self):
        steps = 400
        cfg = os.path.join(self.dir, "s.ini")
        with open(cfg, "w") as f:
            f.write(CONFIG.format(out=self.out, steps=steps))
        run = subprocess.Popen(["mpirun", "--oversubscribe", "-np", "2", BIN, "run", cfg],
                               env=ENV, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               text=True)
        watch = None
        seen_train = []        # (job id, step, loss) of running jobs in phase "train".
        seen_encoder = False   # The one-time encoder pretraining announced as a phase.
        grown = {}             # Job id -> most curve points seen while it was running.
        deadline = time.time() + 600
        try:
            while run.poll() is None and time.time() < deadline:
                if os.path.exists(self.out):
                    if watch is None:
                        watch = subprocess.Popen([BIN, "status", self.out, "--watch", "0.5"],
                                                 env=ENV, stdout=subprocess.PIPE,
                                                 stderr=subprocess.PIPE, text=True)
                    st = status_json(self.out)
                    running_ids = set()
                    for job in st["running_jobs"]:
                        running_ids.add(job["job_id"])
                        phase = job.get("phase")
                        seen_encoder = seen_encoder or (phase or "").startswith("vision encoder")
                        if phase == "train":
                            self.assertEqual(job["total"], steps)
                            self.assertTrue(0 < job["step"] <= steps, job)
                            seen_train.append((job["job_id"], job["step"], job.get("loss")))
                    if running_ids:
                        for row in export_jobs(self.out):
                            if row["job_id"] in running_ids and row["status"] == "running":
                                n = len(row.get("curves", {}).get("train_loss", []))
                                grown[row["job_id"]] = max(grown.get(row["job_id"], 0), n)
                time.sleep(0.3)
            output, _ = run.communicate(timeout=60)
        finally:
            if run.poll() is None:
                run.kill()
        self.assertEqual(run.returncode, 0, output[-3000:])
        self.assertIsNotNone(watch, "the results file never appeared")
        watch_out, watch_err = watch.communicate(timeout=60)

        # status: step of total and a finite loss for a job mid-training, more than once.
        mid = [s for s in seen_train if 0 < s[1] < steps]
        self.assertGreaterEqual(len(mid), 2, seen_train)
        self.assertTrue(all(s[2] is not None and math.isfinite(s[2]) for s in mid), mid)
        steps_of = {}
        for job_id, step, _ in seen_train:
            steps_of.setdefault(job_id, []).append(step)
        self.assertTrue(any(len(set(v)) >= 2 for v in steps_of.values()),
                        f"no job was seen at two different steps: {steps_of}")
        self.assertTrue(seen_encoder, "the encoder pretraining was never shown as a phase")
        # The running job's curve was in the file before it ended (live curves, every 5 s).
        self.assertTrue(any(n >= 1 for n in grown.values()),
                        f"no running job had a curve in the file: {grown}")

        # --watch: redrew the table with progress and ended by itself when the sweep did.
        self.assertEqual(watch.returncode, 0, watch_err)
        self.assertIn("state: complete", watch_out)
        self.assertRegex(watch_out, r"progress")
        self.assertRegex(watch_out, r"train \d+/%d" % steps)

        # train.log of every attempt: settings, logged steps, evaluation, timing.
        logs = sorted(glob.glob(os.path.join(self.dir, "r.runs", "*", "attempt-1", "train.log")))
        self.assertEqual(len(logs), 2, logs)
        texts = [open(p).read() for p in logs]
        for text in texts:
            self.assertRegex(text, r"finetune_eval job [0-9a-f]{16}, attempt 1: llm micro")
            self.assertRegex(text, r"train: steps %d" % steps)
            self.assertEqual(len([ln for ln in text.splitlines() if "] step " in ln]),
                             steps // 10 + 1, text)
            self.assertRegex(text, r"eval: error [0-9.]+ \(accuracy [0-9.]+, eval loss [0-9.]+\); "
                                   r"question-only error [0-9.]+, majority error [0-9.]+")
            self.assertRegex(text, r"timing: train [0-9.]+ s")
        # The encoder was pretrained once (by the first job on it) and loaded by the other.
        joined = "\n".join(texts)
        self.assertEqual(joined.count("vision encoder pretrained and cached"), 1, joined)
        self.assertIn("vision encoder pretraining: step 40/40", joined)
        self.assertEqual(joined.count("vision encoder loaded from the cache"), 1, joined)


if __name__ == "__main__":
    unittest.main()
