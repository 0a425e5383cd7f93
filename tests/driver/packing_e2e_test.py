#!/usr/bin/python3
"""Per-job rank groups under a real mpirun (issue 18): jobs of 1, 2 and 3 ranks mixed on 5 ranks.
The coordinator picks each job's ranks when it starts. Checked: every command job runs on exactly
its ranks (each rank's trainer sees the job's size, its rank in it and its world rank), no rank
runs two jobs at once (the trainers log when they start and end on which world rank), node-local
groups stay on one node (the node of each rank replaced by the test-only
VLMSCALE_TEST_NODE_OF_RANK), a stop (SIGUSR1) and SIGKILLs at random moments lose nothing
acknowledged and re-run nothing done, and status shows the idle rank-seconds.
Environment: VLMSCALE_BIN (set by CTest). One test:
  VLMSCALE_BIN=build/vlmscale /usr/bin/python3 tests/driver/packing_e2e_test.py \
      PackingTest.test_x
"""
import collections
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from e2e_util import (BIN, ENV, acknowledged_ids, check_acknowledged_survive, export_jobs,  # noqa: E402
                      planned_ids, run_and_kill, status_json)

# The trainer: every rank of a command job appends one line
#   JOB_ID WORLD_RANK JOB_RANKS RANK WORLD_SIZE START END
# (RANK and WORLD_SIZE are torchrun's, absent for 1-rank jobs) and leaves metrics.
TRAINER = r'''
import json, os, sys, time
job_id, run_dir, log, seconds = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4])
start = time.time()
time.sleep(seconds)
end = time.time()
line = " ".join([job_id, os.environ["VLMSCALE_WORLD_RANK"], os.environ["VLMSCALE_JOB_RANKS"],
                 os.environ.get("RANK", "0"), os.environ.get("WORLD_SIZE", "1"),
                 repr(start), repr(end)])
with open(log, "a") as f:
    f.write(line + "\n")
if os.environ.get("RANK", "0") == "0":
    tmp = os.path.join(run_dir, f"metrics.json.{os.getpid()}")
    with open(tmp, "w") as f:
        json.dump({"error": 0.5}, f)
    os.rename(tmp, os.path.join(run_dir, "metrics.json"))
'''

# `train`: command jobs over llm and visual_tokens (nano 1 rank, mid 2, big 3); `nap`: sleep jobs
# of the same sizes (their comm size is in their metrics).
CONFIG = """[sweep]
name = packing
output = {out}
[grid]
llm = nano, mid, big
visual_tokens = 4, 16, 64
seed = {seeds}
[llm.mid]
n_params = 1e9
ranks = 2
[llm.big]
n_params = 7e9
ranks = 3
[command]
argv = /usr/bin/python3 {trainer} {{job_id}} {{run_dir}} {log} {seconds}
[stage.train]
type = command
over = llm, visual_tokens
[stage.nap]
type = sleep
over = llm, seed
sleep.seconds = {nap}
sleep.mode = constant
[run]
ranks_per_job = 1
node_local_groups = {node_local}
grace_seconds = 5
snapshot_seconds = 0.2
"""

RANKS = {"nano": 1, "mid": 2, "big": 3}


class PackingBase(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory(prefix="vlmscale-pack-",
                                               ignore_cleanup_errors=True)
        self.dir = self.tmp.name
        self.out = os.path.join(self.dir, "p.h5")
        self.log = os.path.join(self.dir, "ranks.log")
        self.trainer = os.path.join(self.dir, "trainer.py")
        with open(self.trainer, "w") as f:
            f.write(TRAINER)

    def tearDown(self):
        self.tmp.cleanup()

    def config(self, seeds="0", seconds=0.3, nap=0.3, node_local="false"):
        path = os.path.join(self.dir, "p.ini")
        with open(path, "w") as f:
            f.write(CONFIG.format(out=self.out, trainer=self.trainer, log=self.log,
                                  seconds=seconds, seeds=seeds, nap=nap, node_local=node_local))
        return path

    def mpirun(self, np_, cfg, nodes=None, timeout=120):
        env = dict(ENV)
        cmd = ["mpirun", "--oversubscribe", "-np", str(np_)]
        if nodes is not None:
            env["VLMSCALE_TEST_NODE_OF_RANK"] = nodes
            cmd += ["-x", "VLMSCALE_TEST_NODE_OF_RANK"]
        return subprocess.run(cmd + [BIN, "run", cfg], env=env, capture_output=True, text=True,
                              timeout=timeout)

    def trainer_lines(self):
        """Per command job: [(world_rank, job_ranks, rank, size, start, end)] of its attempts."""
        lines = collections.defaultdict(list)
        if not os.path.exists(self.log):
            return lines
        with open(self.log) as f:
            for line in f:
                job, world, ranks, rank, size, start, end = line.split()
                lines[job].append((int(world), tuple(int(r) for r in ranks.split(",")),
                                   int(rank), int(size), float(start), float(end)))
        return lines

    def assert_no_rank_runs_two_jobs(self, intervals):
        """`intervals`: world rank -> [(start, end, job)]; no two jobs overlap on one rank."""
        for rank, spans in intervals.items():
            spans = sorted(spans)
            for (s0, e0, j0), (s1, e1, j1) in zip(spans, spans[1:]):
                self.assertLessEqual(e0, s1, f"rank {rank} ran {j0} and {j1} at once")


class PackingTest(PackingBase):
    def test_each_job_gets_exactly_its_ranks_and_no_rank_runs_two_jobs(self):
        cfg = self.config(seeds="0, 1")
        plan = subprocess.run([BIN, "plan", cfg, "--json"], capture_output=True, text=True,
                              env=ENV, check=True)
        want = {j["job_id"]: j["ranks"] for j in json.loads(plan.stdout)}
        self.assertEqual(sorted(collections.Counter(want.values()).items()),
                         [(1, 5), (2, 5), (3, 5)])
        p = self.mpirun(5, cfg)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.assertIn("on 5 ranks, jobs of 1-3 ranks", p.stdout)
        rows = {r["job_id"]: r for r in export_jobs(self.out)}
        self.assertEqual(set(rows), set(want))
        self.assertTrue(all(r["status"] == "done" for r in rows.values()))
        lines = self.trainer_lines()
        intervals = collections.defaultdict(list)
        for job, row in rows.items():
            k = want[job]
            with self.subTest(job=job, stage=row["stage"], ranks=k):
                if row["stage"] == "nap":
                    # A sleep job's communicator has exactly its ranks; its record's rank (the
                    # job's lowest, which leads it) ran it from start to end.
                    self.assertEqual(row["extra_metrics"]["group_ranks"], float(k))
                    intervals[row["rank"]].append((row["start_time"], row["end_time"], job))
                    continue
                seen = lines[job]
                self.assertEqual(len(seen), k, seen)  # One trainer per rank, one attempt.
                ranks = seen[0][1]
                self.assertEqual(len(ranks), k)
                self.assertEqual(sorted(w for w, *_ in seen), list(ranks))
                self.assertTrue(all(s[1] == ranks for s in seen))
                self.assertEqual(sorted(s[2] for s in seen), list(range(k)))
                self.assertTrue(all(s[3] == k for s in seen))
                # The job's rank in the store is the lowest of its ranks, and rank i of the job
                # is its i-th world rank.
                self.assertEqual(row["rank"], ranks[0])
                for world, _, rank, _, start, end in seen:
                    self.assertEqual(ranks[rank], world)
                    intervals[world].append((start, end, job))
        self.assert_no_rank_runs_two_jobs(intervals)
        # The ranks were shared: some jobs ran side by side.
        spans = sorted((s, e) for v in intervals.values() for s, e, _ in v)
        self.assertTrue(any(s1 < e0 for (s0, e0), (s1, e1) in zip(spans, spans[1:])),
                        "no two jobs ever ran at once")
        # Status: the run's idle rank-seconds, in JSON and text.
        st = status_json(self.out)
        self.assertGreaterEqual(st["idle_rank_seconds"], 0.0)
        text = subprocess.run([BIN, "status", self.out], capture_output=True, text=True,
                              env=ENV, check=True).stdout
        self.assertRegex(text, r"idle rank-seconds: \d")

    def test_node_local_groups_stay_on_one_node(self):
        # Test nodes interleaved over the ranks: 0 and 2 on node 0, 1 and 3 on node 1. Jobs of 3
        # ranks do not fit a node: only nano (1) and mid (2) jobs here.
        cfg = self.config(node_local="true")
        with open(cfg) as f:
            text = f.read().replace("llm = nano, mid, big", "llm = nano, mid")
        with open(cfg, "w") as f:
            f.write(text)
        p = self.mpirun(4, cfg, nodes="0,1,0,1")
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        lines = self.trainer_lines()
        two = [v[0][1] for v in lines.values() if v[0][3] == 2]
        self.assertEqual(len(two), 3)
        for ranks in two:
            self.assertIn(ranks, ((0, 2), (1, 3)), "a node-local job spans nodes")

    def test_stop_by_signal_then_resume_with_every_group_size(self):
        # Long jobs of 2 and 3 ranks are running when the stop arrives: exit 75, nothing running in
        # the file, and the next run finishes without re-running a done job.
        # Training jobs of 3 s: on a loaded machine (ctest -j2) windows of 1 s, with a status
        # poll that itself takes a while, were missed and the sweep ended before the stop.
        cfg = self.config(seeds="0, 1, 2", seconds=3.0, nap=1.0)
        ids = planned_ids(cfg)
        proc = subprocess.Popen(["mpirun", "--oversubscribe", "-np", "5", BIN, "run", cfg],
                                env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True, start_new_session=True)
        try:
            deadline = time.time() + 60
            while time.time() < deadline:
                time.sleep(0.2)
                if proc.poll() is not None:
                    self.fail("the sweep ended before a 2-rank and a 3-rank job were seen "
                              "running together")
                if not os.path.exists(self.out):
                    continue
                st = status_json(self.out)
                if {len(j.get("ranks", [])) for j in st["running_jobs"]} >= {2, 3}:
                    break
            # SIGUSR1 to mpirun: Open MPI forwards it to every rank (mpirun answers SIGTERM
            # itself by exiting 1).
            proc.send_signal(signal.SIGUSR1)
            out, err = proc.communicate(timeout=60)
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.communicate()
        self.assertEqual(proc.returncode, 75, out + err)
        rows = export_jobs(self.out)
        self.assertFalse([r for r in rows if r["status"] == "running"])
        done = {r["job_id"]: r["start_time"] for r in rows if r["status"] == "done"}
        self.assertLess(len(done), len(ids))
        p = self.mpirun(5, cfg)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        rows = {r["job_id"]: r for r in export_jobs(self.out)}
        self.assertTrue(all(rows[i]["status"] == "done" for i in ids))
        for i, t in done.items():
            self.assertEqual(rows[i]["start_time"], t, "a done job ran again")


class PackingSigkillTest(PackingBase):
    """SIGKILLs a sweep of mixed job sizes at random moments (the whole mpirun or one rank):
    every acknowledged job stays done exactly once and is never re-run; resume finishes."""

    def test_random_sigkills_with_mixed_sizes(self):
        # 90 jobs of ~0.8 s (15 per seed: 1-, 2- and 3-rank) are ~30 s of work on 5 ranks, more
        # than the six trials' windows together (<= 6 x 2.5 s + 3 x 1 s), so every trial ends in
        # a kill however fast the machine (with 0.2-s jobs an idle one finished in the fourth).
        cfg = self.config(seeds=", ".join(map(str, range(6))), seconds=0.8, nap=0.8)
        ids = planned_ids(cfg)
        rng = random.Random(20261205)
        acknowledged = {}
        kills = 0
        for i in range(6):
            killed, out_text, _ = run_and_kill(cfg, 5, rng, i, (0.8, 2.5))
            kills += killed
            for a in acknowledged_ids(out_text):
                acknowledged.setdefault(a, None)
            if not os.path.exists(self.out):
                self.assertEqual(acknowledged, {}, f"results file gone after kill {i}")
                continue
            check_acknowledged_survive(self, self.out, acknowledged, i)
        self.assertGreaterEqual(kills, 4)
        self.assertTrue(acknowledged, "no job was acknowledged before the kills")
        p = self.mpirun(5, cfg)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        rows = {r["job_id"]: r for r in export_jobs(self.out)}
        self.assertEqual(set(rows), set(ids))
        self.assertTrue(all(r["status"] == "done" for r in rows.values()))
        for a, t in acknowledged.items():
            self.assertEqual(rows[a]["start_time"], t)


if __name__ == "__main__":
    unittest.main(verbosity=2)
