#!/usr/bin/python3
"""End-to-end test of configs/paper-grid.ini's pipeline (align -> finetune -> eval), shrunk with
--set overrides to 2 LLMs x 2 token counts x 1 compressor and 2 benchmarks (4 + 4 + 8 jobs), with
tests/command/fake_llava.py in place of the LLaVA scripts, under a real mpirun.

PipelinePlanTest checks that the shrunk pipeline plans (the overrides are valid and every job
has the parent it should). PipelineRunTest runs it: every job done once, each started after its
parent ended (start/end times of `vlmscale export`), each child handed its parent's directory
(fake_llava exits non-zero otherwise) and the parent's exact metric
({needs.finetune.metric.eval_loss}), and the recorded errors are fake_llava's.
PipelineRunTest needs the driver to run staged sweeps; until then its ctest is DISABLED.
Environment: VLMSCALE_BIN (set by CTest). Run one test with
  VLMSCALE_BIN=build/vlmscale /usr/bin/python3 tests/command/pipeline_e2e_test.py PipelineRunTest
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, ".."))
sys.path.insert(0, HERE)
from e2e_util import BIN, ENV, export_jobs  # noqa: E402
from fake_llava import error_of, eval_loss_of  # noqa: E402

CONFIG = os.path.abspath(os.path.join(HERE, "..", "..", "configs", "paper-grid.ini"))
FAKE = os.path.join(HERE, "fake_llava.py")
LLMS = {"Qwen1.5-0.5B-Chat": 0.5e9, "Qwen1.5-4B-Chat": 4e9}
TOKENS = [1, 16]
BENCHMARKS = ["gqa", "pope"]
# The arguments configs/paper-grid.ini gives the LLaVA scripts, plus --n-params (fake_llava's
# stand-in for reading the model), --seconds and the parent's metric for eval.
COMMON = "--compressor {method} --num-visual-tokens {visual_tokens}"
ARGV = {
    "align": f"/usr/bin/python3 {FAKE} align --model-path Qwen/{{llm}} {COMMON} --data lcs-558k "
             "--output-dir {job_dir} --run-dir {run_dir} --n-params {n_params} --seconds 0.2",
    "finetune": f"/usr/bin/python3 {FAKE} finetune --model-path Qwen/{{llm}} {COMMON} "
                "--init-from {needs.align.run_dir} --data llava-665k --output-dir {job_dir} "
                "--run-dir {run_dir} --seconds 0.2",
    "eval": f"/usr/bin/python3 {FAKE} eval --checkpoint {{needs.finetune.run_dir}} {COMMON} "
            "--benchmark {benchmark} --output-dir {run_dir} "
            "--finetune-loss {needs.finetune.metric.eval_loss} --seconds 0.1",
}


def overrides(out):
    sets = {
        "sweep.output": out,
        "grid.llm": ", ".join(LLMS),
        "grid.visual_tokens": ", ".join(map(str, TOKENS)),
        "grid.method": "tokenpacker",
        "stage.eval.axis.benchmark": ", ".join(BENCHMARKS),
        "run.ranks_per_job": "1",
        # The shipped config gives the 4B preset 2 ranks; here every job has 1 (few ranks, cheap).
        "llm.Qwen1.5-4B-Chat.ranks": "1",
        "run.threads_per_rank": "1",
        "run.grace_seconds": "3",
        "run.max_attempts": "1",
    }
    for stage, argv in ARGV.items():
        sets[f"stage.{stage}.command.argv"] = argv
    args = []
    for k, v in sets.items():
        args += ["--set", f"{k}={v}"]
    return args


def plan(out):
    p = subprocess.run([BIN, "plan", CONFIG, "--json"] + overrides(out), capture_output=True,
                       text=True, env=ENV)
    assert p.returncode == 0, p.stderr
    return json.loads(p.stdout)


class PipelineTestBase(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="vlmscale-pipeline-")
        self.out = os.path.join(self.dir, "r.h5")

    def tearDown(self):
        shutil.rmtree(self.dir, ignore_errors=True)

    def key(self, j):
        return (j["llm"], j["visual_tokens"], j["method"])


class PipelinePlanTest(PipelineTestBase):
    def test_the_shrunk_pipeline_plans_with_the_parents_it_needs(self):
        jobs = plan(self.out)
        stages = [j["stage"] for j in jobs]
        self.assertEqual({s: stages.count(s) for s in set(stages)},
                         {"align": 4, "finetune": 4, "eval": 8})
        by_id = {j["job_id"]: j for j in jobs}
        for j in jobs:
            want = {"align": None, "finetune": "align", "eval": "finetune"}[j["stage"]]
            self.assertEqual(len(j["needs"]), 0 if want is None else 1)
            for n in j["needs"]:
                self.assertEqual(by_id[n]["stage"], want)
                self.assertEqual(self.key(by_id[n]), self.key(j))
        self.assertEqual(sorted({j["axes"]["benchmark"] for j in jobs if j["stage"] == "eval"}),
                         sorted(BENCHMARKS))


class PipelineRunTest(PipelineTestBase):
    def test_every_stage_runs_after_its_parent_with_its_outputs(self):
        planned = {j["job_id"]: j for j in plan(self.out)}
        # As e2e_util.mpirun, in the test's directory (the programs' working directory).
        p = subprocess.run(["mpirun", "--oversubscribe", "-np", "3", os.path.abspath(BIN), "run", CONFIG]
                           + overrides(self.out), cwd=self.dir, env=ENV, capture_output=True,
                           text=True, timeout=300)
        self.assertEqual(p.returncode, 0, p.stdout[-3000:] + p.stderr[-3000:])
        rows = {r["job_id"]: r for r in export_jobs(self.out)}
        self.assertEqual(sorted(rows), sorted(planned))
        for i, r in rows.items():
            with self.subTest(job=i, stage=planned[i]["stage"]):
                self.assertEqual(r["status"], "done", r["message"])
                self.assertEqual(r["attempts"], 1)
                self.assertGreater(r["end_time"], r["start_time"])
                for parent in planned[i]["needs"]:
                    self.assertGreaterEqual(r["start_time"], rows[parent]["end_time"],
                                            "a job started before its parent ended")
                n, v = LLMS[r["llm"]], r["visual_tokens"]
                self.assertEqual(r["n_params"], n)
                stage = planned[i]["stage"]
                if stage == "align":  # command.metric = train_loss
                    self.assertAlmostEqual(r["error"], 3.0 + 10.0 * n ** -0.1, places=12)
                elif stage == "finetune":  # command.metric = eval_loss
                    self.assertAlmostEqual(r["error"], eval_loss_of(n, v), places=12)
                    self.assertAlmostEqual(r["eval_loss"], eval_loss_of(n, v), places=12)
                else:  # command.metric = accuracy: error = 1 - accuracy
                    b = planned[i]["axes"]["benchmark"]
                    self.assertAlmostEqual(r["error"], error_of(n, v, b), places=12)
                    self.assertAlmostEqual(r["accuracy"], 1.0 - error_of(n, v, b), places=12)
                    self.assertAlmostEqual(r["extra_metrics"][b], 1.0 - error_of(n, v, b),
                                           places=12)
        # The parents' checkpoints are in their job directories (<results>.runs/<job id>).
        runs = os.path.join(self.dir, "r.runs")
        for i, j in planned.items():
            name = {"align": "projector.json", "finetune": "checkpoint.json"}.get(j["stage"])
            if name:
                self.assertTrue(os.path.exists(os.path.join(runs, i, name)), (j["stage"], i))


if __name__ == "__main__":
    unittest.main()
