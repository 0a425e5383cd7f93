#!/usr/bin/python3
"""Adaptive sweeps through the real driver (issue 20, docs/ADAPTIVE.md): mpirun, `command` jobs
of tests/command/fake_trainer.py whose trainer prints a known law (FAKE_LAW: the paper's fit,
whose T* = beta Q / (alpha - beta) lies inside the grid) plus seeded noise, real results files.

- AdaptiveCoverageTest: >= 20 sweeps, each another noise draw and bootstrap seed (every third
  with a job budget): the true T* lies inside the last round's reported interval in >= 90% of
  them, and each stops for its stated reason (tolerance: width within it; budget: no more jobs
  than allowed; exhausted: every candidate run), exit 0, the rest withheld and shown as such.
- AdaptiveResumeTest: a sweep SIGKILLed after its second journaled round and run again chooses
  the same jobs, round by round, as an uninterrupted sweep of the same draw.
- AdaptiveStagesTest: a two-stage study (a per-LLM `pre` stage the fitted `fine` stage needs):
  only the final stage's jobs are candidates, each `pre` job runs once and only for the LLM
  sizes chosen, the spend counts both stages, status shows the withheld jobs per stage.
Environment: VLMSCALE_BIN (set by CTest).
"""
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import unittest
from concurrent.futures import ThreadPoolExecutor

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, ".."))
from e2e_util import BIN, ENV, export_jobs, mpirun, status_json  # noqa: E402

FAKE = os.path.join(HERE, "..", "command", "fake_trainer.py")
# The coverage test's trainer: fake_trainer.py's metrics for the same point and draw (checked
# below), at about half its start-up CPU.
LAW = os.path.join(HERE, "law_trainer.py")
# The multiplicative law fitted to the seed paper's 28 points (docs/FIT.md), N in billions; E at
# its bound 0. T* = beta Q / (alpha - beta) at Q = 50, for any budget inside the grid.
A, ALPHA, BETA, E = 0.5908, 0.0709, 0.0151, 0.0
Q = 50
T_STAR = BETA * Q / (ALPHA - BETA)
NOISE = 0.004
# ADAPTIVE_SWEEPS=40 measures the coverage over more draws (once, by hand: docs/ADAPTIVE.md).
SWEEPS = int(os.environ.get("ADAPTIVE_SWEEPS", "20"))
SWEEPS_AT_ONCE = max(2, min(4, os.cpu_count() or 2))

# The paper's grid: N 0.5-14 B x V 1-576 (35 points, one method).
GRID = """[grid]
llm = q05, q18, q4, q7, q14
visual_tokens = 1, 4, 16, 36, 64, 144, 576
method = tokenpacker
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
"""

CONFIG = """
[sweep]
name = adaptive
output = {out}
""" + GRID + """[job]
type = command
[command]
argv = /usr/bin/python3 -S {fake} --llm {{llm}} --n-params {{n_params}} \
--visual-tokens {{visual_tokens}} --method {{method}} --seed {{seed}} --attempt {{attempt}} \
--run-dir {{run_dir}} --seconds {seconds}
env = FAKE_LAW={a},{alpha},{beta},{e} FAKE_NOISE={noise} FAKE_NOISE_SEED={draw}
text_tokens = {q}
[run]
grace_seconds = 3
[adaptive]
target = frontier
budgets = 1e12
tolerance = {tolerance}
bootstrap = {bootstrap}
seed = {draw}
batch = 4
initial = corners+4
{extra}
"""


def write_config(directory, draw, seconds=0.0, tolerance=0.3, bootstrap=100, extra="",
                 trainer=FAKE):
    out = os.path.join(directory, f"a{draw}.h5")
    cfg = os.path.join(directory, f"a{draw}.ini")
    with open(cfg, "w") as f:
        f.write(CONFIG.format(out=out, fake=trainer, seconds=seconds, a=A, alpha=ALPHA, beta=BETA,
                              e=E, noise=NOISE, draw=draw, q=Q, tolerance=tolerance,
                              bootstrap=bootstrap, extra=extra))
    return cfg, out


def points_of(out):
    """Job id -> (llm, visual tokens) of a results file (the two sweeps of the resume test have
    different ids: their trainers' durations differ, and argv is part of a job's identity)."""
    return {j["job_id"]: (j["llm"], j["visual_tokens"]) for j in export_jobs(out)}


def as_points(ids, points):
    return [points[i] for i in ids]


def chosen_by_round(adaptive, points):
    return [as_points(r["chosen"], points) for r in adaptive["rounds"]]


class AdaptiveCoverageTest(unittest.TestCase):
    def test_sweeps_cover_the_true_frontier_and_stop_for_their_stated_reason(self):
        tmp = tempfile.TemporaryDirectory(prefix="vlmscale-adaptive-")
        self.addCleanup(tmp.cleanup)

        # law_trainer.py reports what fake_trainer.py would: the same draws as the bench's.
        env = dict(ENV, FAKE_LAW=f"{A},{ALPHA},{BETA},{E}", FAKE_NOISE=str(NOISE),
                   FAKE_NOISE_SEED="3")
        for llm, n, t in [("q05", "5e8", 1), ("q14", "1.4e10", 576), ("q18", "1.8e9", 36)]:
            texts = []
            for trainer in (FAKE, LAW):
                d = tempfile.mkdtemp(dir=tmp.name)
                subprocess.run(["/usr/bin/python3", "-S", trainer, "--llm", llm, "--n-params", n,
                                "--visual-tokens", str(t), "--method", "tokenpacker", "--seed",
                                "0", "--attempt", "1", "--run-dir", d, "--seconds", "0"],
                               env=env, check=True)
                with open(os.path.join(d, "metrics.json")) as f:
                    texts.append(f.read())
            self.assertEqual(texts[0], texts[1])

        def one(draw):
            budget = "budget = 14 jobs" if draw % 3 == 2 else ""
            cfg, out = write_config(tmp.name, draw, extra=budget, trainer=LAW)
            # One rank (its coordinator thread and its worker): a sweep runs one trainer at a
            # time, then one fit per round, so it keeps about one core busy.
            p = mpirun(1, ["run", cfg, "--quiet"], timeout=300)
            return draw, budget, out, p

        start = time.time()
        with ThreadPoolExecutor(max_workers=SWEEPS_AT_ONCE) as pool:
            runs = list(pool.map(one, range(SWEEPS)))
        elapsed = time.time() - start
        covered, reasons = 0, {}
        for draw, budget, out, p in runs:
            with self.subTest(draw=draw):
                self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
                self.assertIn("adaptive sweep stopped (", p.stdout + p.stderr)
                s = status_json(out)
                a = s["adaptive"]
                self.assertEqual(s["state"], "complete", s["state_detail"])
                reason = a["stop_reason"]
                reasons[reason] = reasons.get(reason, 0) + 1
                last = a["rounds"][-1]
                self.assertEqual(last["stop"], reason)
                # The last round used every done job.
                self.assertEqual(len(set(last["results"])), s["done"])
                done = last["results"]
                self.assertEqual(s["done"] + s["withheld"], 35)
                self.assertEqual(s["pending"], 0)
                if reason == "tolerance":
                    self.assertLessEqual(last["width"], a["tolerance"])
                elif reason == "budget":
                    self.assertTrue(budget, "a budget stop without a budget")
                    self.assertLessEqual(len(done), 14)
                    self.assertGreater(last["width"], a["tolerance"])
                else:
                    self.assertEqual(reason, "exhausted")
                    self.assertEqual(len(done), 35)
                (lo, hi), = [t["ci95"] for t in last["target"]]
                covered += lo <= T_STAR <= hi
                # Status shows the rounds, the withheld candidates, width vs tolerance, the stop
                # (the text checked once per stop reason).
                if reasons[reason] > 1:
                    continue
                text = subprocess.run([BIN, "status", out], capture_output=True, text=True,
                                      env=ENV).stdout
                self.assertIn("adaptive design: target frontier", text)
                self.assertIn(f"stop: {reason}: ", text)
                if s["withheld"]:
                    self.assertIn(f"{s['withheld']} withheld", text)
        print(f"\n{SWEEPS} adaptive sweeps in {elapsed:.1f} s (load {os.getloadavg()[0]:.1f}): "
              f"T* = {T_STAR:.2f} covered by {covered}; stops {reasons}", file=sys.stderr)
        # 18 of these 20 draws are covered: exactly the floor. The draws and bootstrap seeds are
        # fixed, so the count is deterministic, but a change to the fit that moves the intervals
        # redraws it. Measured once (ADAPTIVE_SWEEPS=40, session 12): 38 of 40 (draws 20-39: 20 of
        # 20), 29 tolerance / 10 budget / 1 exhausted. At a true coverage of 95%, 20 sweeps fall
        # below 18 with probability 0.075 (at 90%: 0.32), so a fit change that leaves the
        # coverage at 95% still fails this test about 1 time in 13.
        self.assertGreaterEqual(covered, 0.9 * SWEEPS)


class AdaptiveResumeTest(unittest.TestCase):
    def test_sigkill_then_resume_chooses_the_uninterrupted_points(self):
        tmp = tempfile.TemporaryDirectory(prefix="vlmscale-adaptive-kill-")
        self.addCleanup(tmp.cleanup)
        draw = 7
        ref_dir = os.path.join(tmp.name, "ref")
        kill_dir = os.path.join(tmp.name, "kill")
        os.makedirs(ref_dir)
        os.makedirs(kill_dir)
        # A tolerance it cannot reach: the sweep runs many rounds (a job budget ends it).
        extra = "budget = 24 jobs"
        cfg, out = write_config(ref_dir, draw, tolerance=0.01, extra=extra)
        p = mpirun(2, ["run", cfg, "--quiet"], timeout=300)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        reference = status_json(out)["adaptive"]
        ref_points = points_of(out)
        self.assertGreaterEqual(len(reference["rounds"]), 4)

        # Slower trainers (their durations are not part of the decisions) leave time to kill it.
        cfg, out = write_config(kill_dir, draw, seconds=0.4, tolerance=0.01, extra=extra)
        proc = subprocess.Popen(["mpirun", "--oversubscribe", "-np", "2", BIN, "run", cfg],
                                env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True, start_new_session=True)
        deadline = time.time() + 120
        killed_after = None
        while time.time() < deadline and proc.poll() is None:
            time.sleep(0.2)
            if not os.path.exists(out):
                continue
            s = subprocess.run([BIN, "status", out, "--json"], capture_output=True, text=True,
                               env=ENV)
            if s.returncode != 0:
                continue
            a = json.loads(s.stdout).get("adaptive")
            if a and len(a["rounds"]) >= 2:
                os.killpg(proc.pid, signal.SIGKILL)
                killed_after = len(a["rounds"])
                break
        proc.communicate(timeout=60)
        while subprocess.run(["pgrep", "-s", str(proc.pid)], capture_output=True).stdout:
            time.sleep(0.05)
        self.assertIsNotNone(killed_after, "the sweep ended before its second round")
        self.assertLess(killed_after, len(reference["rounds"]))
        # The killed driver left its last round journaled and the rest of its work unfinished.
        s = status_json(out)
        self.assertIsNone(s["adaptive"]["stop_reason"])
        # Resume: the same command.
        p = mpirun(2, ["run", cfg, "--quiet"], timeout=300)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        resumed = status_json(out)["adaptive"]
        points = points_of(out)
        self.assertEqual(as_points(resumed["initial"], points),
                         as_points(reference["initial"], ref_points))
        self.assertEqual(chosen_by_round(resumed, points), chosen_by_round(reference, ref_points))
        self.assertEqual(resumed["stop_reason"], reference["stop_reason"])
        self.assertEqual([sorted(as_points(r["results"], points)) for r in resumed["rounds"]],
                         [sorted(as_points(r["results"], ref_points))
                          for r in reference["rounds"]])
        self.assertEqual([r["width"] for r in resumed["rounds"]],
                         [r["width"] for r in reference["rounds"]])


STAGES_CONFIG = """
[sweep]
name = adaptive-stages
output = {out}
""" + GRID + """[command]
text_tokens = {q}
env = FAKE_LAW={a},{alpha},{beta},{e} FAKE_NOISE={noise} FAKE_NOISE_SEED={draw}
[stage.pre]
type = command
over = llm
command.argv = /usr/bin/python3 -S {law} --llm {{llm}} --n-params {{n_params}} \
--visual-tokens 1 --method tokenpacker --seed 0 --attempt {{attempt}} --run-dir {{run_dir}} \
--seconds 0
[stage.fine]
type = command
over = llm, visual_tokens, method, seed
needs = pre
command.argv = /usr/bin/python3 -S {law} --llm {{llm}} --n-params {{n_params}} \
--visual-tokens {{visual_tokens}} --method {{method}} --seed {{seed}} --attempt {{attempt}} \
--run-dir {{run_dir}} --seconds 0
[run]
grace_seconds = 3
[adaptive]
target = frontier
budgets = 1e12
tolerance = 0.3
bootstrap = 100
seed = {draw}
batch = 2
initial = corners+2
budget = 12 jobs
"""


class AdaptiveStagesTest(unittest.TestCase):
    def test_only_the_final_stage_is_designed_and_ancestors_run_once(self):
        tmp = tempfile.TemporaryDirectory(prefix="vlmscale-adaptive-stages-")
        self.addCleanup(tmp.cleanup)
        out = os.path.join(tmp.name, "s.h5")
        cfg = os.path.join(tmp.name, "s.ini")
        with open(cfg, "w") as f:
            f.write(STAGES_CONFIG.format(out=out, law=LAW, a=A, alpha=ALPHA, beta=BETA, e=E,
                                         noise=NOISE, draw=5, q=Q))
        # `plan` shows the initial design `run` will make, and refuses one beyond the budget.
        plan = subprocess.run([BIN, "plan", cfg, "--json"], capture_output=True, text=True,
                              env=ENV)
        self.assertEqual(plan.returncode, 0, plan.stderr)
        role = {j["job_id"]: j["design"] for j in json.loads(plan.stdout)}
        small = subprocess.run([BIN, "plan", cfg, "--set", "adaptive.budget=1e9 flops"],
                               capture_output=True, text=True, env=ENV)
        self.assertEqual(small.returncode, 2, small.stdout + small.stderr)
        self.assertIn("below the initial design's cost", small.stderr)
        p = mpirun(2, ["run", cfg, "--quiet"], timeout=300)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.assertIn("adaptive sweep stopped (", p.stdout + p.stderr)
        s = status_json(out)
        a = s["adaptive"]
        self.assertEqual(s["state"], "complete", s["state_detail"])
        self.assertEqual(a["stage"], "fine")
        self.assertEqual(sorted(a["initial"]),
                         sorted(i for i, r in role.items() if r == "initial"))
        self.assertLessEqual({i for i, r in role.items() if r == "needed"},
                             set(a["released_ancestors"]))
        self.assertEqual(a["candidates"], 35)  # The fine stage's jobs, not the pre stage's 5.
        jobs = export_jobs(out)
        pre = [j for j in jobs if j["stage"] == "pre"]
        fine = [j for j in jobs if j["stage"] == "fine"]
        self.assertEqual((len(pre), len(fine)), (5, 35))
        done_pre = {j["llm"] for j in pre if j["status"] == "done"}
        done_fine = [j for j in fine if j["status"] == "done"]
        # A pre job ran exactly for the sizes some chosen fine job needed (the corners need the
        # smallest and largest), and the design stopped before it ran the whole grid.
        self.assertEqual(done_pre, {j["llm"] for j in done_fine})
        self.assertTrue({"q05", "q14"} <= done_pre)
        self.assertLessEqual(len(done_fine), 12)
        last = a["rounds"][-1]
        self.assertEqual(sorted(last["results"]), sorted(j["job_id"] for j in done_fine))
        self.assertEqual(sorted(a["released_ancestors"]),
                         sorted(j["job_id"] for j in pre if j["status"] == "done"))
        # Every job of both stages is done or withheld; status counts them per stage.
        self.assertEqual(s["pending"], 0)
        by_stage = {st["stage"]: st for st in s["stages"]}
        self.assertEqual(by_stage["pre"]["withheld"], 5 - len(done_pre))
        self.assertEqual(by_stage["fine"]["withheld"], 35 - len(done_fine))
        self.assertEqual(by_stage["fine"]["pending"], 0)
        self.assertEqual(s["withheld"], 40 - len(done_pre) - len(done_fine))
        # The spend is what the released jobs of both stages cost, each pre job once.
        cost = {j["job_id"]: j["est_cost"] for j in jobs}
        spent = sum(cost[j["job_id"]] for j in done_fine) + sum(
            cost[j["job_id"]] for j in pre if j["status"] == "done")
        self.assertAlmostEqual(last["spent_flops"], spent, delta=1e-9 * spent)
        text = subprocess.run([BIN, "status", out], capture_output=True, text=True,
                              env=ENV).stdout
        self.assertIn(f"{35 - len(done_fine)} withheld (adaptive design: not chosen)", text)


if __name__ == "__main__":
    unittest.main()
