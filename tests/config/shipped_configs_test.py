#!/usr/bin/python3
"""Every shipped config in configs/ passes `vlmscale plan`, and the grids are the ones the docs
promise (issues 4, 17): the quickstart is >= 4 LLM sizes pretrained once x V in {1, 4, 16, 64} x
{avgpool, quecc} with N spanning >= 30x; paper-scale uses G = 24 and the paper's token counts."""
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
        # Issue 17: >= 4 LLM sizes spanning >= 30x in N, V in {1, 4, 16, 64}, avgpool and quecc,
        # each size pretrained once (stage pretrain) and every finetune job starting from it.
        jobs = plan("configs/quickstart.ini")
        fine = [j for j in jobs if j["stage"] == "finetune"]
        pre = {j["job_id"]: j for j in jobs if j["stage"] == "pretrain"}
        llms = {j["llm"] for j in fine}
        tokens = {j["visual_tokens"] for j in fine}
        methods = {j["method"] for j in fine}
        n = [j["n_params"] for j in fine]
        self.assertGreaterEqual(len(llms), 4)
        self.assertEqual(sorted(tokens), [1, 4, 16, 64])
        self.assertEqual(methods, {"avgpool", "quecc"})
        self.assertGreaterEqual(max(n) / min(n), 30.0)
        self.assertEqual(len(fine), len(llms) * len(tokens) * len(methods))
        self.assertEqual(sorted(j["llm"] for j in pre.values()), sorted(llms))
        for j in fine:
            self.assertEqual(len(j["needs"]), 1)
            self.assertEqual(pre[j["needs"][0]]["llm"], j["llm"])

    def test_paper_scale_uses_the_paper_token_counts(self):
        jobs = plan("configs/paper-scale.ini")
        self.assertEqual(sorted({j["visual_tokens"] for j in jobs}), [1, 4, 16, 36, 64, 144, 576])
        with open("configs/paper-scale.ini") as f:
            self.assertIn("grid_size = 24", f.read())

    def test_an_override_without_set_points_to_set(self):
        # Issue 22: `plan CONFIG train.steps=50` said "too many positional options".
        for cmd in (["plan", "configs/quickstart.ini", "train.steps=50"],
                    ["plan", "configs/quickstart.ini", "--json", "train.steps=50"],
                    ["status", "configs/quickstart.ini", "train.steps=50"]):
            with self.subTest(cmd=cmd):
                p = subprocess.run([BIN] + cmd, capture_output=True, text=True)
                self.assertEqual(p.returncode, 2, p.stderr)
                self.assertIn("unexpected argument 'train.steps=50': to override a config key, "
                              "write --set train.steps=50", p.stderr)
                self.assertEqual(len(p.stderr.strip().splitlines()), 1, p.stderr)
        # A value of an option that takes one is not mistaken for it.
        p = subprocess.run([BIN, "plan", "configs/quickstart.ini", "--set", "train.steps=50",
                            "extra"], capture_output=True, text=True)
        self.assertEqual(p.returncode, 2, p.stderr)
        self.assertNotIn("write --set", p.stderr)

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
        self.assertIn("total: 770 jobs", out.stdout)

    def test_paper_grid_is_the_papers_pipeline(self):
        # align -> finetune -> eval (x 9 benchmarks) over the paper's 5 x 7 x 2 grid.
        jobs = plan("configs/paper-grid.ini")
        by_id = {j["job_id"]: j for j in jobs}
        self.assertEqual(len(by_id), len(jobs))
        stages = [j["stage"] for j in jobs]
        self.assertEqual(sorted(set(stages), key=stages.index), ["align", "finetune", "eval"])
        self.assertEqual({s: stages.count(s) for s in set(stages)},
                         {"align": 70, "finetune": 70, "eval": 630})
        self.assertTrue(all(j["job_type"] == "command" for j in jobs))
        self.assertEqual({j["n_params"] for j in jobs}, {0.5e9, 1.8e9, 4e9, 7e9, 14e9})
        self.assertEqual(sorted({j["visual_tokens"] for j in jobs}), [1, 4, 16, 36, 64, 144, 576])
        self.assertEqual({j["method"] for j in jobs}, {"tokenpacker", "quecc"})
        key = lambda j: (j["llm"], j["visual_tokens"], j["method"])  # noqa: E731
        expected_parent = {"align": None, "finetune": "align", "eval": "finetune"}
        benchmarks = {}
        for j in jobs:
            with self.subTest(job=j["job_id"]):
                parent_stage = expected_parent[j["stage"]]
                if parent_stage is None:
                    self.assertEqual(j["needs"], [])
                    self.assertEqual(j["axes"], {})
                    continue
                self.assertEqual(len(j["needs"]), 1)
                parent = by_id[j["needs"][0]]
                self.assertEqual(parent["stage"], parent_stage)
                self.assertEqual(key(parent), key(j))
                if j["stage"] == "eval":
                    benchmarks.setdefault(key(j), set()).add(j["axes"]["benchmark"])
        # Every finetune job is needed by one eval job per benchmark.
        self.assertEqual(len(benchmarks), 70)
        suite = {"gqa", "vqav2", "textvqa", "vizwiz", "sqa", "pope", "mme", "mmbench", "seed_bench"}
        self.assertTrue(all(b == suite for b in benchmarks.values()))
        finetunes = [j["job_id"] for j in jobs if j["stage"] == "finetune"]
        needed = [j["needs"][0] for j in jobs if j["stage"] == "eval"]
        self.assertEqual(sorted(set(needed)), sorted(finetunes))

    def test_ranks_per_job_follow_the_llm_size_and_the_stage(self):
        # Issue 18: 1 rank up to 2B, 2 up to 7B, 4 for 14B; evaluation on 1 rank;
        # run.ranks_per_job (the default) is the largest job's.
        want = {0.5e9: 1, 1.8e9: 1, 4e9: 2, 7e9: 2, 14e9: 4}
        jobs = plan("configs/paper-grid.ini")
        for j in jobs:
            with self.subTest(job=j["job_id"]):
                self.assertEqual(j["ranks"], 1 if j["stage"] == "eval" else want[j["n_params"]])
        with open("configs/paper-grid.ini") as f:
            self.assertIn("ranks_per_job = 4", f.read())
        for path in ("configs/paper-scale.ini", "configs/quickstart.ini", "configs/ocr.ini"):
            with self.subTest(path=path):
                self.assertEqual({j["ranks"] for j in plan(path)}, {1})
        # The table shows the column; --set changes a job's ranks but never its id.
        out = subprocess.run([BIN, "plan", "configs/paper-grid.ini", "--set",
                              "llm.Qwen1.5-14B-Chat.ranks=8"], capture_output=True, text=True)
        self.assertEqual(out.returncode, 0, out.stderr)
        header = next(l for l in out.stdout.splitlines() if l.startswith("job_id"))
        self.assertIn("infer_flops  ranks", header)
        col = header.split().index("ranks")
        big = [l.split() for l in out.stdout.splitlines() if " Qwen1.5-14B-Chat " in l]
        self.assertEqual(len(big), 14 + 14 + 126)
        self.assertEqual(sorted(row[col] for row in big), ["1"] * 126 + ["8"] * 28)
        moved = subprocess.run([BIN, "plan", "configs/paper-grid.ini", "--json", "--set",
                                "llm.Qwen1.5-14B-Chat.ranks=8"], capture_output=True, text=True)
        self.assertEqual([j["job_id"] for j in json.loads(moved.stdout)],
                         [j["job_id"] for j in jobs])

    def test_ocr_config_is_the_glyphs_task(self):
        self.assertEqual({j["task"] for j in plan("configs/ocr.ini") if j["stage"] == "finetune"},
                         {"glyphs"})


if __name__ == "__main__":
    unittest.main(argv=sys.argv[:1])
