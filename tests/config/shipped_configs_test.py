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

    def test_ocr_config_is_the_glyphs_task(self):
        self.assertEqual({j["task"] for j in plan("configs/ocr.ini")}, {"glyphs"})


if __name__ == "__main__":
    unittest.main(argv=sys.argv[:1])
