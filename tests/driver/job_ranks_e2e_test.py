#!/usr/bin/python3
"""Jobs' rank counts under a real mpirun (issue 18): `run` refuses, with exit 2, one error line
naming the job and the key that gave its ranks and nothing written, a job needing more ranks than
the world has or more than a node has with run.node_local_groups (the node of each rank replaced
by the test-only VLMSCALE_TEST_NODE_OF_RANK); a job needing more than run.ranks_per_job (only the
default) runs; a sweep whose jobs fit runs to the end. tests/driver/packing_e2e_test.py checks
which ranks run which job.
Environment: VLMSCALE_BIN (set by CTest). One test:
  VLMSCALE_BIN=build/vlmscale /usr/bin/python3 tests/driver/job_ranks_e2e_test.py \
      JobRanksTest.test_x
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from e2e_util import BIN, ENV, jobs_table  # noqa: E402

# `train` over llm (big needs [llm.big] ranks), `eval` with 1 rank per job.
CONFIG = """[sweep]
name = ranks
output = {out}
[grid]
llm = nano, big
visual_tokens = 4, 16
[llm.big]
n_params = 7e9
ranks = {big_ranks}
[stage.train]
type = sleep
over = llm
sleep.seconds = 0.05
[stage.eval]
type = sleep
over = llm, visual_tokens
needs = train
ranks = 1
sleep.seconds = 0.05
[run]
ranks_per_job = {ranks_per_job}
node_local_groups = {node_local}
grace_seconds = 3
snapshot_seconds = 0.2
"""


class JobRanksTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="vlmscale-ranks-")
        self.out = os.path.join(self.dir, "r.h5")

    def tearDown(self):
        shutil.rmtree(self.dir, ignore_errors=True)

    def config(self, big_ranks=2, ranks_per_job=2, node_local="false"):
        path = os.path.join(self.dir, "ranks.ini")
        with open(path, "w") as f:
            f.write(CONFIG.format(out=self.out, big_ranks=big_ranks, ranks_per_job=ranks_per_job,
                                  node_local=node_local))
        return path

    def run_ranks(self, np_, cfg, nodes=None):
        env = dict(ENV)
        cmd = ["mpirun", "--oversubscribe", "-np", str(np_)]
        if nodes is not None:
            env["VLMSCALE_TEST_NODE_OF_RANK"] = nodes
            cmd += ["-x", "VLMSCALE_TEST_NODE_OF_RANK"]
        return subprocess.run(cmd + [BIN, "run", cfg], env=env, capture_output=True, text=True,
                              timeout=120)

    def big_train_id(self, cfg):
        p = subprocess.run([BIN, "plan", cfg, "--json"], capture_output=True, text=True, env=ENV)
        self.assertEqual(p.returncode, 0, p.stderr)
        jobs = json.loads(p.stdout)
        # The plan shows every job's ranks.
        self.assertEqual([(j["stage"], j["llm"], j["ranks"]) for j in jobs][:2],
                         [("train", "nano", int(self.ranks_per_job)),
                          ("train", "big", int(self.big_ranks))])
        self.assertTrue(all(j["ranks"] == 1 for j in jobs if j["stage"] == "eval"))
        return jobs[1]["job_id"]

    def assert_refused(self, p, needle):
        self.assertEqual(p.returncode, 2, p.stdout + p.stderr)
        lines = [l for l in p.stderr.splitlines() if "vlmscale run: error:" in l]
        self.assertEqual(len(lines), 1, p.stderr)
        self.assertIn(needle, lines[0])
        self.assertFalse(os.path.exists(self.out), "a refused run wrote the results file")
        return lines[0]

    def test_limits_and_node_local_placement(self):
        # Cases in one test: each mpirun costs ~1 s.
        self.big_ranks, self.ranks_per_job = 3, 1
        cfg = self.config(big_ranks=3, ranks_per_job=1)
        big = self.big_train_id(cfg)
        # More ranks than the world: named with the key's file and line.
        line = self.assert_refused(self.run_ranks(2, cfg), "needs 3 ranks, but the run has 2 ranks")
        self.assertIn(f"ranks.ini:9: key 'llm.big.ranks': job {big} (stage train, llm big)",
                      line)
        # Node-local: 2 nodes of 2 ranks cannot hold a 3-rank job.
        cfg = self.config(big_ranks=3, ranks_per_job=1, node_local="true")
        self.assert_refused(self.run_ranks(4, cfg, nodes="0,0,1,1"),
                            "the largest node has 2")
        cfg = self.config(big_ranks=2, ranks_per_job=2, node_local="true")
        # A malformed override is refused, naming the variable.
        self.assert_refused(self.run_ranks(4, cfg, nodes="0,0"),
                            "VLMSCALE_TEST_NODE_OF_RANK (test only): expected one node id")
        # Nodes interleaved over the ranks: the 2-rank jobs get ranks of one node each and the
        # sweep runs to the end.
        p = self.run_ranks(4, cfg, nodes="5,9,5,9")
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        rows = jobs_table(self.out)
        self.assertEqual(len(rows), 6)
        self.assertTrue(all(r["status"] == "done" for r in rows), rows)
        # A job needing more than run.ranks_per_job (3 > 1) runs when the world holds it.
        os.remove(self.out)
        cfg = self.config(big_ranks=3, ranks_per_job=1)
        p = self.run_ranks(4, cfg)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.assertIn("jobs of 1-3 ranks", p.stdout)
        self.assertTrue(all(r["status"] == "done" for r in jobs_table(self.out)))

    def test_each_job_runs_on_exactly_its_ranks(self):
        # 4 ranks: `train` jobs of nano take the run's 2, of big its
        # [llm.big] ranks = 1; `eval` jobs 1. Every rank of a job logs RANK and WORLD_SIZE.
        log = os.path.join(self.dir, "ranks.log")
        script = os.path.join(self.dir, "job.py")
        with open(script, "w") as f:
            f.write(JOB_PY)
        cfg = os.path.join(self.dir, "cmd.ini")
        with open(cfg, "w") as f:
            f.write(COMMAND_CONFIG.format(out=self.out, script=script, log=log))
        p = subprocess.run([BIN, "plan", cfg, "--json"], capture_output=True, text=True, env=ENV)
        self.assertEqual(p.returncode, 0, p.stderr)
        want = {j["job_id"]: j["ranks"] for j in json.loads(p.stdout)}
        self.assertEqual(sorted(want.values()), [1, 1, 1, 1, 1, 2])
        p = subprocess.run(["mpirun", "--oversubscribe", "-np", "4", BIN, "run", cfg], env=ENV,
                           capture_output=True, text=True, timeout=120)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        seen = {}
        with open(log) as f:
            for line in f:
                job, rank, size = line.split()
                seen.setdefault(job, []).append((int(rank), int(size)))
        self.assertEqual(set(seen), set(want))
        for job, ranks in want.items():
            with self.subTest(job=job, ranks=ranks):
                self.assertEqual(sorted(seen[job]), [(r, ranks) for r in range(ranks)])
        self.assertTrue(all(r["status"] == "done" for r in jobs_table(self.out)))


# Logs "JOB_ID RANK WORLD_SIZE" (a 1-rank job gets no torchrun variables) and leaves metrics.
JOB_PY = r'''
import json, os, sys
job_id, run_dir, log = sys.argv[1:4]
with open(log, "a") as f:
    f.write(f"{job_id} {os.environ.get('RANK', '0')} {os.environ.get('WORLD_SIZE', '1')}\n")
tmp = os.path.join(run_dir, f"metrics.json.{os.getpid()}")
with open(tmp, "w") as f:
    json.dump({"error": 0.5}, f)
os.rename(tmp, os.path.join(run_dir, "metrics.json"))
'''

COMMAND_CONFIG = """[sweep]
name = cmdranks
output = {out}
[grid]
llm = nano, big
visual_tokens = 4, 16
[llm.big]
n_params = 7e9
ranks = 1
[command]
argv = /usr/bin/python3 {script} {{job_id}} {{run_dir}} {log}
[stage.train]
type = command
over = llm
[stage.eval]
type = command
over = llm, visual_tokens
needs = train
ranks = 1
[run]
ranks_per_job = 2
grace_seconds = 3
snapshot_seconds = 0.2
"""


if __name__ == "__main__":
    unittest.main()
