#!/usr/bin/python3
"""`vlmscale submit` on a real single-node SLURM cluster started on localhost.

SubmitTest starts one cluster (tests/slurm/local_cluster.sh: munged, slurmctld, slurmd under a
temporary directory) for all its tests and stops it afterwards. Sweeps use `sleep` jobs. Checks:
--dry-run directives, bad options rejected before anything is submitted, a submitted sweep
running every job exactly once, and preemption (USR1 to the batch shell, then an external
`scontrol requeue`) draining, requeueing and resuming without losing or repeating a job.
ClusterScriptTest checks that the cluster script leaves no process behind.

Requires root and the Debian packages slurm-wlm and munge (scripts/setup.sh).
Environment: VLMSCALE_BIN (set by CTest). One test:
  VLMSCALE_BIN=build/vlmscale /usr/bin/python3 tests/slurm/slurm_e2e_test.py SubmitTest.test_x
"""
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import unittest

import h5py

HERE = os.path.dirname(os.path.abspath(__file__))
CLUSTER = os.path.join(HERE, "local_cluster.sh")
BIN = os.path.abspath(os.environ.get("VLMSCALE_BIN", os.path.join(HERE, "../../build/vlmscale")))
BASE_ENV = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1",
                OMPI_MCA_rmaps_base_oversubscribe="1")

CONFIG = """
[sweep]
name = {name}
output = {out}
[grid]
llm = nano, micro, mini
visual_tokens = 1, 4, 16
method = avgpool, quecc
seed = {seeds}
[job]
type = sleep
[sleep]
seconds = {seconds}
mode = constant
[run]
grace_seconds = 5
snapshot_seconds = 0.2
[slurm]
time = 00:10:00
ntasks_per_node = 2
max_requeues = {max_requeues}
"""


def start_cluster(directory):
    p = subprocess.run([CLUSTER, "start", directory], capture_output=True, text=True, timeout=120)
    if p.returncode != 0:
        raise RuntimeError("local SLURM cluster did not start:\n" + p.stdout + p.stderr)
    m = re.search(r"export SLURM_CONF=(\S+)", p.stdout)
    assert m, p.stdout
    return m.group(1)


def stop_cluster(directory):
    subprocess.run([CLUSTER, "stop", directory], capture_output=True, text=True, timeout=120)


def job_info(env, job_id):
    """JobState, Restarts, ExitCode... of a job as a dict (scontrol show job -o)."""
    p = subprocess.run(["scontrol", "show", "job", "-o", str(job_id)], env=env,
                       capture_output=True, text=True, timeout=30)
    if p.returncode != 0:
        return {}
    return dict(kv.split("=", 1) for kv in p.stdout.split() if "=" in kv)


def done_count(path):
    """Jobs marked done in the HDF5 snapshot (0 when absent or being replaced); cheap to poll."""
    try:
        with h5py.File(path, "r") as f:
            return int(sum(s == b"done" or s == "done" for s in f["jobs"]["status"]))
    except (OSError, KeyError):
        return 0


def jobs_table(path):
    with h5py.File(path, "r") as f:
        data = f["jobs"][()]
        rows = []
        for r in data:
            rows.append({n: (r[n].decode() if isinstance(r[n], bytes) else r[n])
                         for n in data.dtype.names})
        return rows


class SubmitTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if os.geteuid() != 0:
            raise unittest.SkipTest("needs root (the test cluster runs SlurmUser=root)")
        cls.root = tempfile.mkdtemp(prefix="vlmscale-slurm-")
        cls.cluster_dir = os.path.join(cls.root, "cluster")
        cls.env = dict(BASE_ENV, SLURM_CONF=start_cluster(cls.cluster_dir))

    @classmethod
    def tearDownClass(cls):
        stop_cluster(cls.cluster_dir)
        shutil.rmtree(cls.root, ignore_errors=True)

    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="t-", dir=self.root)
        self.out = os.path.join(self.dir, "results", "r.h5")
        self.runs = os.path.join(self.dir, "results", "r.runs")

    def config(self, seeds="0", seconds=0.05, max_requeues=10):
        path = os.path.join(self.dir, "sweep.ini")
        with open(path, "w") as f:
            f.write(CONFIG.format(name="slurmtest", out=self.out, seeds=seeds, seconds=seconds,
                                  max_requeues=max_requeues))
        return path

    def vlmscale(self, *args, timeout=60):
        return subprocess.run([BIN] + list(args), env=self.env, capture_output=True, text=True,
                              timeout=timeout, cwd=self.dir)

    def submit(self, cfg, *flags):
        p = self.vlmscale("submit", cfg, *flags)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        m = re.search(r"submitted SLURM job (\d+)", p.stdout)
        self.assertIsNotNone(m, p.stdout)
        return m.group(1)

    def queue(self):
        p = subprocess.run(["squeue", "-h", "-o", "%i %T"], env=self.env, capture_output=True,
                           text=True, timeout=30)
        self.assertEqual(p.returncode, 0, p.stderr)
        return p.stdout.split("\n") if p.stdout.strip() else []

    def wait_state(self, job_id, states, timeout=120, expedite=False):
        """Waits until the job is in one of `states`; with expedite, lets a requeued job that
        SLURM holds for ~120 s (Reason=BeginTime) start 2 s from now, once per hold. Not at once:
        slurmd revoked the job's credential when it was requeued, and compares in whole seconds,
        so a start in the same second fails ("Job credential revoked", JobState FAILED); it did
        here whenever the update came within a second of the requeue."""
        deadline = time.time() + timeout
        info = {}
        expedited = False
        while time.time() < deadline:
            info = job_info(self.env, job_id)
            if info.get("JobState") in states:
                return info
            held = info.get("JobState") == "PENDING" and info.get("Reason") == "BeginTime"
            if expedite and held and not expedited:
                subprocess.run(["scontrol", "update", f"JobId={job_id}", "StartTime=now+2"],
                               env=self.env, capture_output=True, timeout=30)
                expedited = True
            elif not held:
                expedited = False
            time.sleep(0.2)
        self.fail(f"job {job_id} not in {states} after {timeout} s: {info}\n{self.log(job_id)}")

    def log(self, job_id):
        path = os.path.join(self.runs, "submit", f"slurm-{job_id}.out")
        if not os.path.exists(path):
            return f"(no log at {path})"
        with open(path) as f:
            return f.read()

    def status(self):
        p = self.vlmscale("status", self.out, "--json")
        self.assertEqual(p.returncode, 0, p.stderr)
        return json.loads(p.stdout)

    def assert_every_job_done_once(self, cfg):
        p = self.vlmscale("plan", cfg, "--json")
        self.assertEqual(p.returncode, 0, p.stderr)
        planned = [j["job_id"] for j in json.loads(p.stdout)]
        rows = jobs_table(self.out)
        ids = [r["job_id"] for r in rows]
        self.assertEqual(len(ids), len(set(ids)), "a job appears twice in /jobs")
        self.assertEqual(sorted(ids), sorted(planned))
        for r in rows:
            self.assertEqual(r["status"], "done", r)
        return {r["job_id"]: r for r in rows}

    # -- no submission ----------------------------------------------------------------------

    def test_dry_run_prints_the_rendered_script_and_writes_nothing(self):
        cfg = self.config()
        p = self.vlmscale("submit", cfg, "--dry-run", "--set", "slurm.partition=debug",
                          "--set", "slurm.time=00:20:00", "--time", "00:30:00", "--nodes", "1",
                          "--cpus-per-task", "1")
        self.assertEqual(p.returncode, 0, p.stderr)
        script = p.stdout
        self.assertTrue(script.startswith("#!/bin/bash\n"))
        lines = script.splitlines()
        for want in ["#SBATCH --partition=debug",        # from [slurm] via --set
                     "#SBATCH --time=00:30:00",          # the flag wins over the config
                     "#SBATCH --ntasks-per-node=2",      # from the config file
                     "#SBATCH --nodes=1", "#SBATCH --cpus-per-task=1",
                     "#SBATCH --signal=B:USR1@65",       # run.grace_seconds 5 + 60
                     "#SBATCH --requeue", "#SBATCH --open-mode=append",
                     "#SBATCH --job-name=vlmscale-slurmtest",
                     f"#SBATCH --output={self.runs}/submit/slurm-%j.out",
                     f"#SBATCH --chdir={self.dir}",
                     f"VLMSCALE_BIN='{BIN}'", f"VLMSCALE_RESULTS='{self.out}'",
                     "VLMSCALE_MAX_REQUEUES=10", "VLMSCALE_LAUNCHER=mpirun"]:
            self.assertIn(want, lines)
        self.assertEqual(sum(l.startswith("#SBATCH --time") for l in lines), 1)
        self.assertRegex(script, r"VLMSCALE_CONFIG='" + re.escape(self.runs) +
                         r"/submit/config-\d{8}T\d{6}Z\.ini'")
        self.assertFalse(os.path.exists(self.runs), "--dry-run wrote files")
        # It says that the snapshot the script names was not written (issue 22), in the script
        # and on stderr.
        snapshot = re.search(r"VLMSCALE_CONFIG='([^']*)'", script).group(1)
        self.assertIn("# vlmscale submit --dry-run: nothing was written", lines[1])
        self.assertIn(snapshot, p.stderr)
        self.assertIn("wrote and submitted nothing", p.stderr)
        self.assertEqual(self.queue(), [])
        # The rendered script is valid bash.
        path = os.path.join(self.dir, "rendered.sbatch")
        with open(path, "w") as f:
            f.write(script)
        self.assertEqual(subprocess.run(["bash", "-n", path]).returncode, 0)
        # GPU nodes: one rank per GPU unless told otherwise.
        p = self.vlmscale("submit", cfg, "--dry-run", "--set", "slurm.ntasks_per_node=1",
                          "--gpus-per-node", "4", "--ntasks-per-node", "4")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("#SBATCH --gpus-per-node=4", p.stdout.splitlines())
        self.assertIn("#SBATCH --ntasks-per-node=4", p.stdout.splitlines())
        # The submission's files go to run.artifact_dir/submit, next to the job directories.
        art = os.path.join(self.dir, "shared-artifacts")
        p = self.vlmscale("submit", cfg, "--dry-run", "--set", f"run.artifact_dir={art}")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn(f"#SBATCH --output={art}/submit/slurm-%j.out", p.stdout.splitlines())
        self.assertRegex(p.stdout, r"VLMSCALE_CONFIG='" + re.escape(art) +
                         r"/submit/config-\d{8}T\d{6}Z\.ini'")
        self.assertFalse(os.path.exists(art), "--dry-run wrote files")

    def test_bad_options_are_rejected_before_anything_is_submitted(self):
        cfg = self.config()
        cases = [(["--time", "1:99"], "--time"), (["--time", "soon"], "HH:MM:SS"),
                 (["--nodes", "0"], "--nodes"), (["--ntasks-per-node", "0"], "--ntasks-per-node"),
                 (["--cpus-per-task", "0"], "--cpus-per-task"),
                 (["--gpus-per-node", "2", "--ntasks-per-node", "3"], "one rank per GPU"),
                 (["--time", "00:01:00"], "ask for more time"),
                 (["--partition", "a;b"], "--partition"),
                 (["--launcher", "ssh"], "--launcher"),
                 (["--set", "slurm.nodes=0"], "slurm.nodes"),
                 (["--set", "slurm.nodez=2"], "nodes"),
                 (["--nodes", "many"], "nodes"),
                 # Issue 18: the largest job needs more ranks than the allocation or a node.
                 (["--set", "llm.nano.ranks=3"], "needs 3 ranks, but the run has 2 ranks"),
                 (["--set", "llm.nano.ranks=2", "--set", "run.node_local_groups=true",
                   "--nodes", "2", "--ntasks-per-node", "1"], "the largest node has 1")]
        for flags, needle in cases:
            with self.subTest(flags=flags):
                p = self.vlmscale("submit", cfg, *flags)
                self.assertEqual(p.returncode, 2, p.stdout + p.stderr)
                self.assertIn("vlmscale submit: error:", p.stderr)
                self.assertIn(needle, p.stderr)
                self.assertEqual(p.stdout, "")
        self.assertFalse(os.path.exists(self.runs), "a rejected submit wrote files")
        self.assertEqual(self.queue(), [], "a rejected submit reached SLURM")

    # -- real submissions -------------------------------------------------------------------

    def test_submitted_sweep_runs_every_job_exactly_once(self):
        cfg = self.config(seconds=0.05)
        job = self.submit(cfg)
        snapshots = os.listdir(os.path.join(self.runs, "submit"))
        self.assertTrue(any(re.fullmatch(r"config-\d{8}T\d{6}Z\.ini", f) for f in snapshots),
                        snapshots)
        info = self.wait_state(job, {"COMPLETED", "FAILED", "CANCELLED", "TIMEOUT"})
        log = self.log(job)
        self.assertEqual(info["JobState"], "COMPLETED", log)
        self.assertEqual(info["Restarts"], "0")
        by_id = self.assert_every_job_done_once(cfg)
        self.assertEqual(len(by_id), 18)
        self.assertEqual({int(r["rank"]) for r in by_id.values()}, {0, 1}, "2 ranks per node")
        self.assertIn("2 ranks (mpirun)", log)
        self.assertIn("vlmscale run exited with 0", log)
        self.assertIn("sweep complete", log)
        self.assertIn(f"slurm job {job}", log)  # `vlmscale status` closes the log.
        st = self.status()
        self.assertEqual((st["total"], st["done"], st["pending"]), (18, 18, 0))
        self.assertEqual(str(st["slurm_job_id"]), job)
        # The snapshot is a valid config that plans the same jobs.
        snap = os.path.join(self.runs, "submit",
                            [f for f in snapshots if f.endswith(".ini")][0])
        p1 = self.vlmscale("plan", cfg, "--json")
        p2 = self.vlmscale("plan", snap, "--json")
        self.assertEqual(p2.returncode, 0, p2.stderr)
        self.assertEqual(json.loads(p1.stdout), json.loads(p2.stdout))

    def test_batch_script_submitted_by_hand_runs_the_sweep(self):
        cfg = self.config(seconds=0.05)
        log = os.path.join(self.dir, "hand-%j.out")
        p = subprocess.run(["sbatch", "--parsable", "--ntasks-per-node=2", f"--output={log}",
                            f"--chdir={self.dir}", os.path.join(HERE, "../../slurm/sweep.sbatch"),
                            cfg], env=dict(self.env, VLMSCALE_BIN=BIN), capture_output=True,
                           text=True, timeout=30)
        self.assertEqual(p.returncode, 0, p.stderr)
        job = p.stdout.strip()
        info = self.wait_state(job, {"COMPLETED", "FAILED", "CANCELLED", "TIMEOUT"})
        with open(log.replace("%j", job)) as f:
            text = f.read()
        self.assertEqual(info["JobState"], "COMPLETED", text)
        self.assertIn("2 ranks (mpirun)", text)
        self.assertIn("sweep complete", text)
        self.assertIn(f"slurm job {job}", text)  # Results path found in the config for status.
        self.assert_every_job_done_once(cfg)

    def test_preemption_drains_requeues_and_resumes_without_losing_a_job(self):
        # 54 jobs of 0.5 s on 2 ranks: ~14 s of work, preempted twice.
        cfg = self.config(seeds="0, 1, 2", seconds=0.5)
        job = self.submit(cfg)
        self.wait_state(job, {"RUNNING"})

        def wait_done(n):
            deadline = time.time() + 90
            while time.time() < deadline:
                if done_count(self.out) >= n:
                    return
                time.sleep(0.2)
            self.fail(f"fewer than {n} jobs done after 90 s\n{self.log(job)}")

        # 1. What --signal=B:USR1@N does before the walltime: USR1 to the batch shell only.
        wait_done(4)
        p = subprocess.run(["scancel", "--signal=USR1", "--batch", job], env=self.env,
                           capture_output=True, text=True, timeout=30)
        self.assertEqual(p.returncode, 0, p.stderr)
        info = self.wait_state(job, {"PENDING", "REQUEUED"}, timeout=60)
        done_first = {r["job_id"]: r["start_time"] for r in jobs_table(self.out)
                      if r["status"] == "done"}
        self.assertGreaterEqual(len(done_first), 4)
        self.assertLess(len(done_first), 54, "the sweep finished before it was preempted")
        self.assertEqual(self.status()["running"], 0, "jobs left running after the drain")
        log = self.log(job)
        self.assertIn("got SIGUSR1", log)
        self.assertIn("vlmscale run exited with 75", log)
        self.assertIn(f"requeueing job {job} (requeue 1 of 10)", log)

        # 2. A requeue from outside (admin, or preemption with PreemptMode=REQUEUE): SLURM sends
        # SIGTERM to every process of the job; the driver drains on it too.
        self.wait_state(job, {"RUNNING"}, expedite=True)
        wait_done(len(done_first) + 4)
        p = subprocess.run(["scontrol", "requeue", job], env=self.env, capture_output=True,
                           text=True, timeout=30)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.wait_state(job, {"PENDING", "REQUEUED"}, timeout=60)

        # 3. The third run finishes the sweep.
        info = self.wait_state(job, {"COMPLETED", "FAILED", "CANCELLED", "TIMEOUT"},
                               timeout=150, expedite=True)
        log = self.log(job)
        self.assertEqual(info["JobState"], "COMPLETED", log)
        self.assertEqual(info["Restarts"], "2")
        self.assertEqual(len(re.findall(r"\] job \d+ on .*: 2 ranks \(mpirun\)", log)), 3, log)
        self.assertIn("requeued 2 of at most 10 times", log)
        by_id = self.assert_every_job_done_once(cfg)
        self.assertEqual(len(by_id), 54)
        for i, t in done_first.items():
            self.assertEqual(by_id[i]["start_time"], t, "a finished job ran again")
        st = self.status()
        self.assertEqual((st["done"], st["failed"], st["pending"]), (54, 0, 0))
        self.assertEqual(str(st["slurm_job_id"]), job)
        self.assertEqual(st["requeues"], 2)
        text = self.vlmscale("status", self.out).stdout
        self.assertIn(f"slurm job {job}, requeued 2 times", text)

    def test_max_requeues_bounds_the_requeues(self):
        cfg = self.config(seeds="0, 1", seconds=0.5, max_requeues=0)
        job = self.submit(cfg)
        self.wait_state(job, {"RUNNING"})
        deadline = time.time() + 60
        while done_count(self.out) < 2:
            self.assertLess(time.time(), deadline, self.log(job))
            time.sleep(0.2)
        subprocess.run(["scancel", "--signal=USR1", "--batch", job], env=self.env, check=True,
                       capture_output=True, timeout=30)
        info = self.wait_state(job, {"COMPLETED", "FAILED"}, timeout=60)
        log = self.log(job)
        self.assertEqual(info["Restarts"], "0", log)
        self.assertEqual(info["ExitCode"], "75:0", log)
        self.assertIn("not requeueing: requeued 0 times already (slurm.max_requeues = 0)", log)
        st = self.status()
        self.assertGreater(st["pending"], 0)
        # A new submission resumes and completes the sweep, this time with srun --mpi=pmix.
        job2 = self.submit(cfg, "--launcher", "srun")
        info = self.wait_state(job2, {"COMPLETED", "FAILED", "CANCELLED"}, timeout=120)
        log2 = self.log(job2)
        self.assertEqual(info["JobState"], "COMPLETED", log2)
        self.assertIn("2 ranks (srun)", log2)
        self.assertIn("vlmscale run exited with 0", log2)
        self.assert_every_job_done_once(cfg)
        self.assertEqual(str(self.status()["slurm_job_id"]), job2)


class ClusterScriptTest(unittest.TestCase):
    def test_start_runs_a_job_and_stop_leaves_nothing_running(self):
        if os.geteuid() != 0:
            self.skipTest("needs root")
        with tempfile.TemporaryDirectory(prefix="vlmscale-cluster-") as d:
            try:
                env = dict(BASE_ENV, SLURM_CONF=start_cluster(d))
                pids = {}
                for name in ("munged", "slurmctld", "slurmd"):
                    with open(os.path.join(d, name + ".pid")) as f:
                        pids[name] = int(f.read().strip())
                    os.kill(pids[name], 0)  # Running.
                p = subprocess.run([CLUSTER, "env", d], capture_output=True, text=True)
                self.assertEqual(p.stdout.strip(), f"export SLURM_CONF={d}/slurm.conf")
                out = os.path.join(d, "hello.out")
                p = subprocess.run(["sbatch", "--parsable", f"--output={out}",
                                    "--wrap", "echo hello from $SLURM_JOB_ID"], env=env,
                                   capture_output=True, text=True, timeout=30)
                self.assertEqual(p.returncode, 0, p.stderr)
                job = p.stdout.strip()
                deadline = time.time() + 60
                while job_info(env, job).get("JobState") != "COMPLETED":
                    self.assertLess(time.time(), deadline, job_info(env, job))
                    time.sleep(0.2)
                with open(out) as f:
                    self.assertEqual(f.read().strip(), f"hello from {job}")
            finally:
                stop_cluster(d)
            for name, pid in pids.items():
                with self.assertRaises(ProcessLookupError, msg=f"{name} still runs"):
                    os.kill(pid, 0)
            # No daemon or job step of this cluster is left.
            left = subprocess.run(["pgrep", "-f", d], capture_output=True, text=True).stdout
            self.assertEqual(left.strip(), "", "processes left behind")


if __name__ == "__main__":
    unittest.main(verbosity=2)
