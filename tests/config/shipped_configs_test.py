#!/usr/bin/python3
"""Every shipped config in configs/ passes `vlmscale plan`, and the grids are the ones the docs
promise (issue 4): the quickstart is >= 4 LLM sizes x >= 5 token counts x >= 2 methods including
quecc with N spanning >= 30x; paper-scale uses G = 24 and the paper's token counts."""
import glob
import json
import os
import subprocess
import sys
import unittest

BIN = os.environ.get("VLMSCALE_BIN", "build/vlmscale")


def plan(path):
    out = subprocess.run([BIN, "plan", path, "--json"], capture_output=True, text=True)
    if out.returncode != 0:
        raise AssertionError(f"plan {path} exited {out.returncode}: {out.stderr}")
    return json.loads(out.stdout)


class ShippedConfigsTest(unittest.TestCase):
    def test_every_config_plans(self):
        configs = sorted(glob.glob("configs/*.ini"))
        self.assertGreaterEqual(len(configs), 4)
        for path in configs:
            with self.subTest(path=path):
                self.assertGreater(len(plan(path)), 0)

    def test_quickstart_grid(self):
        jobs = plan("configs/quickstart.ini")
        llms = {j["llm"] for j in jobs}
        tokens = {j["visual_tokens"] for j in jobs}
        methods = {j["method"] for j in jobs}
        n = [j["n_params"] for j in jobs]
        self.assertGreaterEqual(len(llms), 4)
        self.assertGreaterEqual(len(tokens), 5)
        self.assertIn("quecc", methods)
        self.assertGreaterEqual(len(methods), 2)
        self.assertGreaterEqual(max(n) / min(n), 30.0)
        self.assertEqual(len(jobs), len(llms) * len(tokens) * len(methods))

    def test_paper_scale_uses_the_paper_token_counts(self):
        jobs = plan("configs/paper-scale.ini")
        self.assertEqual(sorted({j["visual_tokens"] for j in jobs}), [1, 4, 16, 36, 64, 144, 576])
        with open("configs/paper-scale.ini") as f:
            self.assertIn("grid_size = 24", f.read())

    def test_plan_rejects_what_a_job_would_reject(self):
        # Each of these made every job of the quickstart fail when it started (issue 15): plan
        # must refuse them, exit 2, with one line naming the key and where its value came from.
        for override, key in (("model.image_size=8", "model.image_size"),
                              ("train.warmup_steps=5000", "train.warmup_steps"),
                              ("model.vision_width=3", "model.vision_width"),
                              ("model.image_size=50", "model.image_size"),
                              ("train.batch_size=2", "train.batch_size")):
            with self.subTest(override=override):
                extra = ["--set", "run.ranks_per_job=4"] if "batch_size" in override else []
                out = subprocess.run([BIN, "plan", "configs/quickstart.ini", "--set", override]
                                     + extra, capture_output=True, text=True)
                self.assertEqual(out.returncode, 2, out.stdout[-300:] + out.stderr)
                self.assertEqual(out.stdout, "")
                lines = out.stderr.strip().splitlines()
                self.assertEqual(len(lines), 1, out.stderr)
                self.assertIn(f"--set {key}: key '{key}': ", lines[0])

    def test_command_sweeps_need_no_builtin_model_settings(self):
        # An external trainer has its own encoder: the paper's token counts with tokenpacker
        # plan without [model] grid_size = 24 (which the built-in model would need).
        with open("configs/paper-grid.ini") as f:
            self.assertNotIn("grid_size", f.read())
        out = subprocess.run([BIN, "plan", "configs/paper-grid.ini", "--set", "model.grid_size=8"],
                             capture_output=True, text=True)
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertIn("total: 70 jobs", out.stdout)

    def test_ocr_config_is_the_glyphs_task(self):
        self.assertEqual({j["task"] for j in plan("configs/ocr.ini")}, {"glyphs"})


if __name__ == "__main__":
    unittest.main(argv=sys.argv[:1])
