#!/usr/bin/python3
"""End-to-end tests of `command` jobs: sweeps of tests/command/fake_trainer.py under a real mpirun.

The same behaviours the driver's tests check with `sleep` jobs (tests/driver/driver_e2e_test.py)
are checked here with an external program: every job once, retries and failure classes, resume,
stop by signal (forwarded to the trainer), 2-rank groups (torchrun variables), live status,
stalls, SIGKILL durability (no orphaned trainers) and harmless shell metacharacters; and the
trainer's known law is recovered by `vlmscale fit`.
Environment: VLMSCALE_BIN (set by CTest). Run one test with
  VLMSCALE_BIN=build-command/vlmscale /usr/bin/python3 tests/command/command_e2e_test.py \
      CommandSweepTest.test_x
"""
import glob
import json
import math
import os
import random
import re
import signal
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from e2e_util import (BIN, ENV, acknowledged_ids, check_acknowledged_survive, export_jobs,  # noqa: E402
                      jobs_table, mpirun, planned_ids, run_and_kill, status_json)


HERE = os.path.dirname(os.path.abspath(__file__))
FAKE = os.path.join(HERE, "fake_trainer.py")
# The fake trainer's law (fake_trainer.py): error = A N^-ALPHA T^-BETA + E.
A, ALPHA, BETA, E = 5.0, 0.12, 0.25, 0.15
N = {"q05": 0.5e9, "q18": 1.8e9, "q4": 4e9, "q7": 7e9, "q14": 14e9}

BASE = """
[sweep]
name = {name}
output = {out}
[grid]
llm = q05, q18, q4
visual_tokens = 1, 4, 16
method = tokenpacker
seed = {seeds}
[llm.q05]
n_params = 0.5e9
[llm.q18]
n_params = 1.8e9
[llm.q4]
n_params = 4e9
[llm.q7]
n_params = 7e9
[llm.q14]
n_params = 14e9
[model]
grid_size = 24
[job]
type = command
[command]
argv = /usr/bin/python3 {fake} --llm {{llm}} --n-params {{n_params}} \
--visual-tokens {{visual_tokens}} --method {{method}} --seed {{seed}} --attempt {{attempt}} \
--run-dir {{run_dir}} --seconds {seconds}
env = {env}
text_tokens = 50
{extra_command}
[run]
max_attempts = {attempts}
grace_seconds = 3
{extra_run}
"""


def read_text(path):
    with open(path) as f:
        return f.read()


def read_json(path):
    with open(path) as f:
        return json.load(f)


def law(n, t):
    return A * n ** -ALPHA * t ** -BETA + E


def trainers_alive(marker):
    """PIDs of fake trainers whose command line contains `marker` (this test's directory)."""
    p = subprocess.run(["pgrep", "-f", "fake_trainer.py .*" + re.escape(marker)],
                       capture_output=True, text=True)
    return [int(x) for x in p.stdout.split() if int(x) != os.getpid()]


def armed_trainer(runs, margin):
    """True when a rank-0 trainer under `runs` has installed its stop handlers, has not finished
    and started less than `margin` seconds ago (so a signal sent now reaches it while it runs)."""
    now = time.time()
    for armed in glob.glob(os.path.join(runs, "*", "*", "armed.rank0")):
        run_dir = os.path.dirname(armed)
        try:
            young = now - os.path.getmtime(armed) < margin
        except FileNotFoundError:
            continue
        if young and not os.path.exists(os.path.join(run_dir, "metrics.json")):
            return True
    return False


def wait_no_trainers(marker, timeout=10.0):
    deadline = time.time() + timeout
    while trainers_alive(marker) and time.time() < deadline:
        time.sleep(0.1)
    return trainers_alive(marker)


def write_config(path, out, name="cmd", seeds="0", seconds=0.05, attempts=2, env="",
                 extra_command="", extra_run=""):
    with open(path, "w") as f:
        f.write(BASE.format(name=name, out=out, seeds=seeds, fake=FAKE, seconds=seconds, env=env,
                            attempts=attempts, extra_command=extra_command, extra_run=extra_run))
    return path


class CommandTestBase(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory(prefix="vlmscale-cmd-")
        self.dir = self.tmp.name
        self.out = os.path.join(self.dir, "results", "r.h5")

    def tearDown(self):
        self.assertEqual(wait_no_trainers(self.dir), [], "a trainer outlived its sweep")
        self.tmp.cleanup()

    def config(self, **kw):
        return write_config(os.path.join(self.dir, kw.pop("file", "c") + ".ini"), self.out, **kw)

    def assert_all_done_once(self, config, *sets):
        ids = planned_ids(config, *sets)
        rows = jobs_table(self.out)
        file_ids = [r["job_id"] for r in rows]
        self.assertEqual(len(file_ids), len(set(file_ids)), "a job appears twice in /jobs")
        by_id = {r["job_id"]: r for r in rows}
        for i in ids:
            self.assertIn(i, by_id)
            self.assertEqual(by_id[i]["status"], "done", by_id[i])
        return by_id


class CommandSweepTest(CommandTestBase):
    def test_sweep_records_the_trainers_law_and_fit_recovers_it(self):
        cfg = self.config(seconds=0.02)
        sets = ["grid.llm=q05,q18,q4,q7,q14", "grid.visual_tokens=1,4,16,36,64,144,576"]
        args = ["run", cfg] + [x for s in sets for x in ("--set", s)]
        p = mpirun(3, args)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        by_id = self.assert_all_done_once(cfg, *sets)
        self.assertEqual(len(by_id), 35)
        self.assertEqual({int(r["rank"]) for r in by_id.values()}, {0, 1, 2})
        for r in by_id.values():
            self.assertEqual(r["attempts"], 1)
            self.assertAlmostEqual(r["error"], law(N[r["llm"]], r["visual_tokens"]), places=12)
            self.assertAlmostEqual(r["inference_flops"],
                                   2 * N[r["llm"]] * (50 + r["visual_tokens"]), delta=1.0)
            run_dir = os.path.join(self.dir, "results", "r.runs", r["job_id"], "attempt-1")
            self.assertTrue(os.path.exists(os.path.join(run_dir, "stdout.log")))
            self.assertTrue(os.path.exists(os.path.join(run_dir, "metrics.json")))
        # The trainer's progress lines are each job's curves, every step once (live points and
        # the final record do not double), as `export` and every reader see them.
        for job in export_jobs(self.out):
            steps = int(job["extra_metrics"]["train_steps"])
            loss = job["curves"]["train_loss"]
            self.assertEqual([s for s, _ in loss], list(range(steps)), job["job_id"])
            self.assertEqual([v for _, v in loss], [1.0 / (s + 1) for s in range(steps)])
            self.assertEqual(len(job["curves"]["lr"]), steps)
        fit_json = os.path.join(self.dir, "fit.json")
        f = subprocess.run([BIN, "fit", self.out, "--json", fit_json], capture_output=True,
                           text=True, env=ENV)
        self.assertEqual(f.returncode, 0, f.stdout + f.stderr)
        fit = read_json(fit_json)["fits"][0]
        self.assertEqual(fit["n_points"], 35)
        self.assertAlmostEqual(fit["params"]["alpha"], ALPHA, delta=1e-4)
        self.assertAlmostEqual(fit["params"]["beta"], BETA, delta=1e-4)
        self.assertAlmostEqual(fit["params"]["E"], E, delta=1e-4)
        self.assertAlmostEqual(math.log(fit["params"]["A"]), math.log(A), delta=1e-3)

    def test_resume_skips_done_jobs_and_grows_the_grid(self):
        cfg = self.config(seeds="0, 1")
        p = mpirun(2, ["run", cfg, "--set", "grid.seed=0"])
        self.assertEqual(p.returncode, 0, p.stderr)
        first = {r["job_id"]: r for r in jobs_table(self.out)}
        self.assertEqual(len(first), 9)
        p = mpirun(2, ["run", cfg])
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("18 jobs (9 already done, 9 to run)", p.stdout)
        by_id = self.assert_all_done_once(cfg)
        for i, r in first.items():
            self.assertEqual(by_id[i]["start_time"], r["start_time"], "a finished job ran again")

    def test_stop_by_signal_reaches_the_trainer_exits_75_and_resume_completes(self):
        cases = [("mpirun", signal.SIGUSR1), ("ranks", signal.SIGTERM), ("ranks", signal.SIGINT)]
        for n, (target, sig) in enumerate(cases):
            with self.subTest(target=target, sig=sig):
                self.out = os.path.join(self.dir, f"stop{n}", "r.h5")
                seconds = 3.0
                cfg = self.config(file=f"stop{n}", seconds=seconds,
                                  extra_run="snapshot_seconds = 0.2")
                runs = os.path.join(os.path.dirname(self.out), "r.runs")
                proc = subprocess.Popen(["mpirun", "--oversubscribe", "-np", "2", BIN, "run", cfg],
                                        env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                        text=True, start_new_session=True)
                seen_running = armed = False
                deadline = time.time() + 60
                while time.time() < deadline:
                    # Live status while it runs (once: `vlmscale status` takes a second to start).
                    if not seen_running and os.path.exists(self.out):
                        st = status_json(self.out)
                        self.assertEqual(st["total"], 9)
                        seen_running = st["running"] > 0
                    # Signal only a trainer that will handle it: armed (handlers installed, not
                    # Python's default action) with time left to run, after 3 finished jobs.
                    done = len(glob.glob(os.path.join(runs, "*", "*", "metrics.json")))
                    armed = done >= 3 and armed_trainer(runs, seconds / 2)
                    if armed and seen_running:
                        break
                    time.sleep(0.05)
                self.assertTrue(seen_running, "status never showed a running job")
                self.assertTrue(armed, "no young armed trainer after 3 jobs within 60 s")
                if target == "mpirun":
                    proc.send_signal(sig)
                else:
                    ranks = subprocess.run(["pgrep", "-s", str(proc.pid), "-x", "vlmscale"],
                                           capture_output=True, text=True).stdout.split()
                    self.assertEqual(len(ranks), 2)
                    for r in ranks:
                        os.kill(int(r), sig)
                out, err = proc.communicate(timeout=60)
                self.assertEqual(proc.returncode, 75, out + err)
                self.assertIn("stopped; run the same command to resume", out)
                # The trainer got the forwarded SIGUSR1 (and checkpointed) and is gone.
                stopped = glob.glob(os.path.join(runs, "*", "*", "stopped.rank0"))
                self.assertTrue(stopped, "no trainer saw the stop request")
                self.assertEqual(read_text(stopped[0]), "SIGUSR1")
                self.assertEqual(wait_no_trainers(self.dir), [])
                st = status_json(self.out)
                self.assertGreaterEqual(st["done"], 2)
                self.assertGreater(st["pending"], 0)
                self.assertEqual(st["running"], 0)
                done_before = {r["job_id"]: r["start_time"] for r in jobs_table(self.out)
                               if r["status"] == "done"}
                p = mpirun(2, ["run", cfg], timeout=120)
                self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
                by_id = self.assert_all_done_once(cfg)
                for i, t in done_before.items():
                    self.assertEqual(by_id[i]["start_time"], t, "a finished job ran again")

    def test_two_rank_groups_give_every_rank_a_trainer_with_torchrun_variables(self):
        cfg = self.config(extra_run="ranks_per_job = 2")
        p = mpirun(4, ["run", cfg])
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.assertIn("jobs of 2 ranks", p.stdout)
        jobs = export_jobs(self.out)
        self.assertEqual(len(jobs), 9)
        for j in jobs:
            self.assertIn(j["rank"], range(3))  # The job's lowest rank leads it.
            self.assertAlmostEqual(j["error"], law(N[j["llm"]], j["visual_tokens"]), places=12)
            run_dir = os.path.join(self.dir, "results", "r.runs", j["job_id"], "attempt-1")
            seen = [read_json(os.path.join(run_dir, f"seen.rank{r}.json"))["env"]
                    for r in (0, 1)]
            for r, s in enumerate(seen):
                self.assertEqual(s["WORLD_SIZE"], "2")
                self.assertEqual(s["RANK"], str(r))
                self.assertIsNotNone(s["LOCAL_RANK"])
                self.assertEqual(s["CUDA_VISIBLE_DEVICES"], "")
                self.assertIsNone(s["OMPI_COMM_WORLD_RANK"])
            self.assertEqual(seen[0]["MASTER_ADDR"], seen[1]["MASTER_ADDR"])
            self.assertEqual(seen[0]["MASTER_PORT"], seen[1]["MASTER_PORT"])
            # The rendezvous port follows the job's leading rank, so jobs running side by side
            # (different ranks) never share one.
            self.assertEqual(seen[0]["MASTER_PORT"], str(29500 + j["rank"]))
            own = [read_json(os.path.join(run_dir, f"seen.rank{r}.json"))["vlmscale_env"]
                   for r in (0, 1)]
            job_ranks = own[0]["VLMSCALE_JOB_RANKS"]
            self.assertEqual(own[1]["VLMSCALE_JOB_RANKS"], job_ranks)
            self.assertEqual([o["VLMSCALE_WORLD_RANK"] for o in own], job_ranks.split(","))
            self.assertEqual(job_ranks.split(",")[0], str(j["rank"]))
            self.assertTrue(os.path.exists(os.path.join(run_dir, "stdout.rank1.log")))

    def test_metacharacters_in_config_values_reach_the_trainer_literally(self):
        marker = os.path.join(self.dir, "pwned")
        evil = f"a;b $(touch {marker}) `touch {marker}` | ../../../x && {{{{notplaceholder}}}}"
        cfg = self.config(extra_command="", seconds=0.0)
        # sweep.description and sweep.name can carry anything; both reach argv via placeholders.
        with open(cfg) as f:
            text = f.read()
        text = text.replace("--seconds 0.0", "--seconds 0 --echo {sweep.description} "
                            "--echo {sweep.name} --echo \"{llm} $HOME\"")
        with open(cfg, "w") as f:
            f.write(text)
        # A sweep name is a file name (no '/'): the rest of the metacharacters stay.
        evil_name = evil.replace("/", "_")
        p = mpirun(2, ["run", cfg, "--set", "sweep.description=" + evil, "--set",
                       "sweep.name=" + evil_name, "--set", "grid.visual_tokens=1"])
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        expected = evil.replace("{{{{", "{{").replace("}}}}", "}}")
        expected_name = evil_name.replace("{{{{", "{{").replace("}}}}", "}}")
        for r in jobs_table(self.out):
            run_dir = os.path.join(self.dir, "results", "r.runs", r["job_id"], "attempt-1")
            echo = read_json(os.path.join(run_dir, "seen.rank0.json"))["echo"]
            self.assertEqual(echo, [expected, expected_name, r["llm"] + " $HOME"])
        self.assertFalse(os.path.exists(marker), "a shell ran")
        # Everything the jobs wrote is under the results' .runs directory.
        for root, _, files in os.walk(self.dir):
            for name in files:
                path = os.path.join(root, name)
                self.assertTrue(path.startswith(os.path.join(self.dir, "results")) or
                                path.endswith(".ini"), path)


class CommandJobFaultTest(CommandTestBase):
    """Failing, crashing, hanging and SIGKILLed trainers (registered in tests/fault/ as
    fault_command_failures_test)."""

    def test_hostile_trainers_neither_hang_the_sweep_nor_leave_processes_behind(self):
        """Issue 23: one trainer leaves `setsid sleep` running (out of reach of a kill of its
        process group), another makes metrics.json a FIFO (whose open blocked the sweep for
        ever). The sweep ends, the FIFO job fails naming the FIFO, no process survives."""
        tag = "297.%d" % os.getpid()  # A sleep argument no other process uses.
        script = ("if [ {visual_tokens} = 4 ]; then mkfifo $VLMSCALE_RUN_DIR/metrics.json; "
                  "else setsid sleep TAG & echo '{{\\\"error\\\": 0.5}}' > "
                  "$VLMSCALE_RUN_DIR/metrics.json; fi").replace("TAG", tag)
        cfg = os.path.join(self.dir, "hostile.ini")
        with open(cfg, "w") as f:
            f.write("[sweep]\nname = hostile\noutput = " + self.out + "\n[grid]\nllm = q\n"
                    "visual_tokens = 1, 4\n[llm.q]\nn_params = 1e9\n[job]\ntype = command\n"
                    "[command]\nargv = /bin/sh -c \"" + script + "\"\ntimeout_seconds = 60\n"
                    "[run]\nmax_attempts = 1\n")
        p = mpirun(2, ["run", cfg], timeout=120)
        self.assertEqual(p.returncode, 1, p.stdout + p.stderr)
        self.assertIn("metrics.json is a FIFO (named pipe), not a regular file", p.stdout + p.stderr)
        rows = {int(r["visual_tokens"]): r for r in jobs_table(self.out)}
        self.assertEqual(rows[1]["status"], "done")
        self.assertEqual(rows[4]["status"], "failed")
        left = subprocess.run(["pgrep", "-f", "sleep " + tag], capture_output=True, text=True)
        self.assertEqual(left.stdout, "", "a process the trainer started outlived the sweep")

    def test_failures_are_retried_classified_and_reported_with_the_log_tail(self):
        cfg = self.config(attempts=3, env="FAKE_FAIL=llm=q18,visual_tokens=4 FAKE_FAIL_ATTEMPTS=2"
                          " FAKE_HOW=exit")
        p = mpirun(2, ["run", cfg])
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        retried = [r for r in jobs_table(self.out) if r["llm"] == "q18" and r["visual_tokens"] == 4]
        self.assertEqual(len(retried), 1)
        self.assertEqual((retried[0]["status"], retried[0]["attempts"]), ("done", 3))
        self.assertEqual(len(re.findall(r"failed .*\(will retry\)", p.stdout)), 2)
        cases = [("exit", "error", "out of patience"), ("crash", "killed", "signal 11"),
                 ("no-metrics", "no-metrics", "metrics.json"),
                 ("bad-metrics", "no-metrics", "must be a number"),
                 ("hang", "timeout", "timed out")]
        for how, cls, text in cases:
            with self.subTest(how=how):
                cfg = self.config(env=f"FAKE_FAIL=llm=q05,visual_tokens=1 FAKE_HOW={how}",
                                  extra_command="timeout_seconds = 1")
                p = mpirun(2, ["run", cfg, "--fresh", "--set", "grid.visual_tokens=1,4"])
                self.assertEqual(p.returncode, 1, p.stdout + p.stderr)
                rows = jobs_table(self.out)
                failed = [r for r in rows if r["status"] == "failed"]
                self.assertEqual(len(failed), 1)
                self.assertEqual(failed[0]["failure_class"], cls)
                self.assertEqual(failed[0]["attempts"], 2)
                self.assertIn(text, failed[0]["message"])
                self.assertEqual(sum(r["status"] == "done" for r in rows), 5)
                self.assertIn(f"failed [{cls}]", p.stdout)

    def test_sigkilled_ranks_leave_no_orphaned_trainers(self):
        cfg = self.config(seconds=60)
        proc = subprocess.Popen(["mpirun", "--oversubscribe", "-np", "2", BIN, "run", cfg],
                                env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True, start_new_session=True)
        deadline = time.time() + 60
        while len(trainers_alive(self.dir)) < 2 and time.time() < deadline:
            time.sleep(0.1)
        self.assertEqual(len(trainers_alive(self.dir)), 2)
        ranks = subprocess.run(["pgrep", "-s", str(proc.pid), "-x", "vlmscale"],
                               capture_output=True, text=True).stdout.split()
        for r in ranks:
            os.kill(int(r), signal.SIGKILL)
        # The 60 s trainers die with their ranks (PR_SET_PDEATHSIG), not 60 s later.
        self.assertEqual(wait_no_trainers(self.dir, timeout=3.0), [])
        proc.communicate(timeout=60)

    def test_silent_trainer_is_reported_stalled(self):
        cfg = self.config(env="FAKE_FAIL=llm=q4,visual_tokens=16 FAKE_HOW=hang FAKE_HANG_SECONDS=4",
                          extra_run="stall_seconds = 1")
        p = mpirun(2, ["run", cfg], timeout=60)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.assertRegex(p.stdout, r"warning: rank \d+ on \S+ has not reported progress")
        self.assertRegex(p.stdout, r"reports again")


class CommandSigkillTest(unittest.TestCase):
    """SIGKILLs command sweeps at random moments: acknowledged results survive, resume never
    re-runs them, and no trainer outlives its killed rank."""

    def test_random_sigkills_never_lose_results_or_leave_orphans(self):
        tmp = tempfile.TemporaryDirectory(prefix="vlmscale-cmdkill-", ignore_cleanup_errors=True)
        out = os.path.join(tmp.name, "k.h5")
        cfg = write_config(os.path.join(tmp.name, "k.ini"), out, name="kill",
                           # 360 jobs of >= 0.2 s: ~30 s of work on 3 ranks, more than the
                           # killed runs get through even on an idle machine.
                           seeds=", ".join(map(str, range(40))), seconds=0.2,
                           extra_run="snapshot_seconds = 0.1")
        rng = random.Random(20261124)
        ids = planned_ids(cfg)
        acknowledged = {}
        kills = 0
        for i in range(8):
            # Waits for the ranks only: a trainer left behind must fail the check below, not hang.
            killed, out_text, _ = run_and_kill(cfg, 3, rng, i, (0.5, 2.5), wait_for="vlmscale")
            kills += killed
            self.assertEqual(wait_no_trainers(tmp.name), [], "orphaned trainer after a kill")
            for a in acknowledged_ids(out_text):
                acknowledged.setdefault(a, None)
            if not os.path.exists(out):  # Killed before the results file was created.
                self.assertEqual(acknowledged, {})
                continue
            check_acknowledged_survive(self, out, acknowledged, i)
        self.assertGreaterEqual(kills, 5)
        p = mpirun(3, ["run", cfg], timeout=180)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        rows = {r["job_id"]: r for r in jobs_table(out)}
        self.assertEqual(len(rows), len(ids))
        for i in ids:
            self.assertEqual(rows[i]["status"], "done")
            self.assertAlmostEqual(rows[i]["error"], law(N[rows[i]["llm"]],
                                                         rows[i]["visual_tokens"]), places=12)
        for a, t in acknowledged.items():
            self.assertEqual(rows[a]["start_time"], t)
        tmp.cleanup()


if __name__ == "__main__":
    unittest.main(verbosity=2)
