#!/usr/bin/python3
"""End-to-end tests of multi-stage studies (docs/STAGES.md) under a real mpirun, real HDF5.

A three-stage DAG: `pre` (command jobs over llm), `fine` (command jobs over llm, visual_tokens,
needing pre) and `eval` (sleep jobs with their own axis `benchmark`, needing fine). The command
jobs run stage.py (written by the test): it logs every start, leaves an artifact in {job_dir},
fails while a flag file names its job, and writes metrics.json. Checked: every job runs once and
after its parents; SIGKILL at random moments, then resume, neither loses nor re-runs an
acknowledged job; a failed parent blocks its descendants and the next run completes them; a
parent whose artifacts were deleted runs again before its child; a changed pretraining setting
renames exactly the jobs downstream.
Environment: VLMSCALE_BIN (set by CTest). One test:
  VLMSCALE_BIN=build/vlmscale /usr/bin/python3 tests/driver/stages_e2e_test.py StagesTest.test_x
"""
import collections
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from e2e_util import (BIN, ENV, acknowledged_ids, check_acknowledged_survive,  # noqa: E402
                      export_jobs, mpirun, run_and_kill, status_json)

STAGE_PY = r'''
import json, os, sys, time
stage, job_id, job_dir, run_dir, seconds = sys.argv[1:6]
log = os.environ["STAGE_LOG"]
with open(log, "a") as f:
    f.write(f"{job_id} {stage} start {time.time():.6f}\n")
# A parent's artifact must be there when a child starts (the driver checked its result.json).
for parent_dir in sys.argv[6:]:
    if not os.path.exists(os.path.join(parent_dir, "artifact.txt")):
        sys.exit(f"parent artifact missing in {parent_dir}")
if os.path.exists(os.path.join(os.path.dirname(log), "fail-" + job_id)):
    sys.exit(f"told to fail: {job_id}")
time.sleep(float(seconds))
with open(os.path.join(job_dir, "artifact.txt"), "w") as f:
    f.write(job_id)
with open(os.path.join(run_dir, "metrics.json.tmp"), "w") as f:
    json.dump({"error": 0.25, "stage_" + stage: 1}, f)
os.rename(os.path.join(run_dir, "metrics.json.tmp"), os.path.join(run_dir, "metrics.json"))
'''

CONFIG = """
[sweep]
name = stages
output = {out}
[grid]
llm = {llms}
visual_tokens = {tokens}
[command]
env = STAGE_LOG={log}
[stage.pre]
type = command
over = llm
command.argv = /usr/bin/python3 {script} pre {{job_id}} {{job_dir}} {{run_dir}} {seconds}
[stage.fine]
type = command
over = llm, visual_tokens
needs = pre
command.argv = /usr/bin/python3 {script} fine {{job_id}} {{job_dir}} {{run_dir}} {seconds}
[stage.eval]
type = sleep
over = llm, visual_tokens
needs = fine
axis.benchmark = {benchmarks}
sleep.seconds = {seconds}
[run]
max_attempts = 1
grace_seconds = 5
snapshot_seconds = 0.2
"""


class StagesTestBase(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory(prefix="vlmscale-stages-",
                                               ignore_cleanup_errors=True)
        self.dir = self.tmp.name
        self.out = os.path.join(self.dir, "r.h5")
        self.log = os.path.join(self.dir, "starts.log")
        self.script = os.path.join(self.dir, "stage.py")
        with open(self.script, "w") as f:
            f.write(STAGE_PY)

    def tearDown(self):
        self.tmp.cleanup()

    def config(self, llms="nano, micro", tokens="1, 4, 16", benchmarks="gqa, textvqa",
               seconds=0.2):
        path = os.path.join(self.dir, "s.ini")
        with open(path, "w") as f:
            f.write(CONFIG.format(out=self.out, llms=llms, tokens=tokens, log=self.log,
                                  script=self.script, seconds=seconds, benchmarks=benchmarks))
        return path

    def starts(self):
        """Command-job starts per job id (from stage.py's log)."""
        if not os.path.exists(self.log):
            return collections.Counter()
        with open(self.log) as f:
            return collections.Counter(line.split()[0] for line in f if line.strip())

    def start_times(self):
        """Unix times of every command-job start, per job id (from stage.py's log)."""
        times = collections.defaultdict(list)
        if os.path.exists(self.log):
            with open(self.log) as f:
                for line in f:
                    parts = line.split()
                    if len(parts) == 4:
                        times[parts[0]].append(float(parts[3]))
        return times

    def rows(self):
        return {r["job_id"]: r for r in export_jobs(self.out)}

    def assert_parents_first(self, rows, only=None):
        for r in rows.values():
            if r["status"] != "done" or (only is not None and r["job_id"] not in only):
                continue
            for p in filter(None, r["needs"].split(",")):
                self.assertEqual(rows[p]["status"], "done", f"{r['job_id']} done before {p}")
                self.assertGreaterEqual(r["start_time"], rows[p]["end_time"] - 1e-3,
                                        f"{r['job_id']} started before its parent {p} ended")


class StagesTest(StagesTestBase):
    def test_every_job_runs_once_after_its_parents(self):
        cfg = self.config()
        p = mpirun(4, ["run", cfg])
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        rows = self.rows()
        by_stage = collections.Counter(r["stage"] for r in rows.values())
        self.assertEqual(by_stage, {"pre": 2, "fine": 6, "eval": 12})
        self.assertTrue(all(r["status"] == "done" and r["attempts"] == 1 for r in rows.values()))
        self.assert_parents_first(rows)
        starts = self.starts()
        command_jobs = [i for i, r in rows.items() if r["stage"] in ("pre", "fine")]
        self.assertEqual(sorted(starts), sorted(command_jobs))
        self.assertEqual(set(starts.values()), {1})
        # Each eval job names its fine job and carries its own axis value.
        for r in rows.values():
            if r["stage"] == "eval":
                parent = rows[r["needs"]]
                self.assertEqual(parent["stage"], "fine")
                self.assertEqual((parent["llm"], parent["visual_tokens"]),
                                 (r["llm"], r["visual_tokens"]))
                self.assertIn(r["axes"], ("benchmark=gqa", "benchmark=textvqa"))
        s = status_json(self.out)
        self.assertEqual([(x["stage"], x["done"]) for x in s["stages"]],
                         [("pre", 2), ("fine", 6), ("eval", 12)])
        # A second run finds everything done and runs nothing.
        p = mpirun(4, ["run", cfg])
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.assertEqual(set(self.starts().values()), {1})

    def test_a_failed_parent_blocks_its_descendants_until_a_later_run(self):
        cfg = self.config()
        plan = subprocess.run([BIN, "plan", cfg, "--json"], capture_output=True, text=True,
                              env=ENV, check=True)
        jobs = json.loads(plan.stdout)
        micro_pre = next(j["job_id"] for j in jobs if j["stage"] == "pre" and j["llm"] == "micro")
        flag = os.path.join(self.dir, "fail-" + micro_pre)
        open(flag, "w").close()
        p = mpirun(4, ["run", cfg])
        self.assertEqual(p.returncode, 1, p.stdout + p.stderr)
        self.assertIn("9 job(s) that need it are blocked", p.stdout + p.stderr)
        rows = self.rows()
        blocked = {i for i, r in rows.items() if r["status"] == "blocked"}
        expected = {j["job_id"] for j in jobs if j["llm"] == "micro" and j["stage"] != "pre"}
        self.assertEqual(blocked, expected)
        self.assertEqual(rows[micro_pre]["status"], "failed")
        for i in blocked:
            self.assertEqual(rows[i]["attempts"], 0)
            self.assertIn("blocked: needs job", rows[i]["message"])
        self.assertTrue(all(r["status"] == "done" for r in rows.values() if r["llm"] == "nano"))
        s = status_json(self.out)
        self.assertEqual(s["blocked"], 9)
        self.assertEqual(s["failed"], 1)
        # Fixed: the next run retries the parent, then runs what it blocked, and nothing else.
        before = self.starts()
        os.unlink(flag)
        p = mpirun(4, ["run", cfg])
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        rows = self.rows()
        self.assertTrue(all(r["status"] == "done" for r in rows.values()))
        self.assert_parents_first(rows)
        after = self.starts()
        rerun = {i for i in after if after[i] > before.get(i, 0)}
        self.assertEqual(rerun, {micro_pre} | {i for i in expected if rows[i]["stage"] == "fine"})

    def test_a_parent_whose_artifacts_are_gone_runs_again_before_its_child(self):
        cfg = self.config(benchmarks="gqa")
        p = mpirun(4, ["run", cfg])
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        rows = self.rows()
        fine = sorted(i for i, r in rows.items() if r["stage"] == "fine")
        victim = fine[0]
        shutil.rmtree(os.path.join(self.dir, "r.runs", victim))  # A purged scratch directory.
        before = self.starts()
        # A new benchmark: new eval jobs need every fine job, the victim included.
        p = mpirun(4, ["run", self.config(benchmarks="gqa, mmbench")])
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.assertIn("are missing; running them again first", p.stdout + p.stderr)
        after = self.starts()
        rerun = {i for i in after if after[i] > before.get(i, 0)}
        self.assertEqual(rerun, {victim})  # The victim only: its own parent's artifact is intact.
        self.assertTrue(os.path.exists(os.path.join(self.dir, "r.runs", victim, "result.json")))
        rows = self.rows()
        self.assertTrue(all(r["status"] == "done" for r in rows.values()))
        new_eval = [r for r in rows.values() if r["axes"] == "benchmark=mmbench"]
        self.assert_parents_first(rows, only={r["job_id"] for r in new_eval})
        self.assertEqual(len(new_eval), 6)
        waited = [r for r in new_eval if r["needs"] == victim]
        self.assertEqual(len(waited), 1)
        self.assertEqual(waited[0]["attempts"], 1)  # Waiting spent no attempt.

    def test_a_changed_pretraining_setting_renames_only_jobs_downstream(self):
        cfg = self.config()

        def ids(*sets):
            args = [BIN, "plan", cfg, "--json"]
            for s in sets:
                args += ["--set", s]
            out = subprocess.run(args, capture_output=True, text=True, env=ENV, check=True)
            return {(j["stage"], j["llm"], j["visual_tokens"], str(j["axes"])): j["job_id"]
                    for j in json.loads(out.stdout)}

        base = ids()
        pre = ids("stage.pre.command.timeout_seconds=7200")
        fine = ids("stage.fine.command.timeout_seconds=7200")
        self.assertEqual(base.keys(), pre.keys())
        for k in base:  # Every stage is downstream of pre.
            self.assertNotEqual(base[k], pre[k], k)
        for k in base:
            self.assertEqual(base[k] == fine[k], k[0] == "pre", k)


    def test_finetune_eval_starts_from_the_pretrain_llm_checkpoint(self):
        # Real libtorch on both stages: pretrain_llm per LLM, finetune_eval loading its llm.pt
        # through the driver (result.json, JobInput::parents), on 2 ranks.
        cfg = os.path.join(self.dir, "torch.ini")
        with open(cfg, "w") as f:
            f.write(f"""[sweep]
name = torch-stages
output = {self.out}
[grid]
llm = nano
visual_tokens = 4, 16
method = avgpool
[model]
image_size = 48
grid_size = 8
encoder_pretrain_steps = 20
[pretrain_llm]
steps = 30
eval_examples = 64
[train]
steps = 20
warmup_steps = 2
[eval]
examples = 64
[stage.pretrain]
type = pretrain_llm
over = llm
[stage.finetune]
type = finetune_eval
needs = pretrain
""")
        p = mpirun(2, ["run", cfg], timeout=600)
        self.assertEqual(p.returncode, 0, p.stdout[-3000:] + p.stderr[-3000:])
        rows = self.rows()
        pre = [r for r in rows.values() if r["stage"] == "pretrain"]
        fine = [r for r in rows.values() if r["stage"] == "finetune"]
        self.assertEqual((len(pre), len(fine)), (1, 2))
        llm_pt = os.path.join(self.dir, "r.runs", pre[0]["job_id"], "llm.pt")
        self.assertTrue(os.path.exists(llm_pt))
        for r in fine:
            self.assertEqual(r["needs"], pre[0]["job_id"])
            self.assertEqual(r["extra_metrics"].get("pretrained"), 1.0, r)
            self.assertGreaterEqual(r["start_time"], pre[0]["end_time"] - 1e-3)


class StagesSigkillTest(StagesTestBase):
    def test_random_sigkills_then_resume_lose_and_repeat_nothing(self):
        # 3 + 12 + 36 jobs of 1.5 s on 4 ranks: at least 51 * 1.5 / 4 = 19 s of work, more than
        # the six trials' windows together (at most 6 * 3 s, less each mpirun's start-up), so no
        # trial can finish the sweep and every trial ends in a kill, however fast the machine.
        # (With 0.3-s jobs an idle machine finished the sweep in the fourth trial.)
        cfg = self.config(llms="nano, micro, mini", tokens="1, 4, 16, 36",
                          benchmarks="gqa, textvqa, pope", seconds=1.5)
        rng = random.Random(20261203)
        acknowledged = {}
        kills = 0
        for trial in range(6):
            killed, out_text, _ = run_and_kill(cfg, 4, rng, trial, (0.5, 3.0),
                                               one_rank_on_odd_trials=False)
            kills += killed
            for a in acknowledged_ids(out_text):
                acknowledged.setdefault(a, None)
            if not os.path.exists(self.out):
                self.assertEqual(acknowledged, {}, f"results file gone after trial {trial}")
                continue
            check_acknowledged_survive(self, self.out, acknowledged, trial)
            rows = self.rows()
            self.assert_parents_first(rows)
        self.assertGreaterEqual(kills, 5)
        p = mpirun(4, ["run", cfg], timeout=300)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        rows = self.rows()
        self.assertEqual(len(rows), 3 + 12 + 36)
        self.assertTrue(all(r["status"] == "done" for r in rows.values()))
        self.assert_parents_first(rows)
        for a, t in acknowledged.items():
            self.assertEqual(rows[a]["start_time"], t, f"acknowledged {a} re-ran")
        # An acknowledged command job started exactly once from its recorded attempt on (an
        # earlier attempt may have been killed before it finished, and then was not acknowledged).
        times = self.start_times()
        for a in acknowledged:
            if rows[a]["stage"] != "eval":
                later = [t for t in times[a] if t >= rows[a]["start_time"] - 1e-3]
                self.assertEqual(len(later), 1, f"acknowledged {a} started {len(later)} times")


if __name__ == "__main__":
    unittest.main(verbosity=2)
