#!/usr/bin/python3
"""Adaptive sweeps through the real driver (issue 20), side by side in one run: the compute
(the cost model's training FLOPs, `JobSpec::est_cost`) and the makespan spent to reach the full
grid's T* interval width, for

  full     the whole paper grid (N 0.5, 1.8, 4, 7, 14 B x V 1, 4, 16, 36, 64, 144, 576 x 2 seeds
           = 70 jobs) as a plain sweep;
  adaptive an [adaptive] target = frontier sweep with tolerance = the full grid's width (no
           budget: it stops at that width or runs out of candidates);
  random   a plain sweep of as many grid points as the adaptive sweep ran, drawn at random.

Every job is a `command` job of tests/command/fake_trainer.py: the multiplicative law fitted to
the seed paper's points (T* = 13.5 at Q = 50) plus Gaussian noise (sd 0.004, a new draw per
run), lasting --seconds-per-cost x its cost relative to the cheapest point (so the 14B x 576
job lasts ~340x the 0.5B x 1 job). The widths of full and random are the adaptive engine's own
(ln(upper/lower) of T*'s bootstrap interval, with the small-sample widening): the same results
file is run again with [adaptive] set, every job already done, so its first round fits them all
and journals the width (exhausted).

Usage: bench/driver/adaptive_run_bench.py [--bin build/vlmscale] [--runs 3] [--first-draw 1]
       [--ranks 3] [--seconds-per-cost 0.004] [--bootstrap 100] [--batch 4]

The same sweeps without the driver: bench/fit/trainer_draws.py writes these draws' results and
`build/bench/fit/adaptive_bench --y-file DRAWS.csv --n-unit 1e9 --seed-innermost 1 --seed-base
FIRST_DRAW --bootstrap 100 --batch B` replays them (the same choices, run by run: docs/BENCHMARKS.md).
"""
import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
FAKE = os.path.join(HERE, "..", "..", "tests", "command", "fake_trainer.py")
LLMS = {"q05": 0.5e9, "q18": 1.8e9, "q4": 4e9, "q7": 7e9, "q14": 14e9}
TOKENS = [1, 4, 16, 36, 64, 144, 576]
SEEDS = [0, 1]
A, ALPHA, BETA, E = 0.5908, 0.0709, 0.0151, 0.0
Q = 50
T_STAR = BETA * Q / (ALPHA - BETA)

CONFIG = """
[sweep]
name = bench
output = {out}
[grid]
llm = q05, q18, q4, q7, q14
visual_tokens = 1, 4, 16, 36, 64, 144, 576
method = tokenpacker
seed = 0, 1
exclude = {exclude}
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
[job]
type = command
[command]
argv = /usr/bin/python3 {fake} --llm {{llm}} --n-params {{n_params}} \
--visual-tokens {{visual_tokens}} --method {{method}} --seed {{seed}} --attempt {{attempt}} \
--run-dir {{run_dir}}
env = FAKE_LAW={a},{alpha},{beta},{e} FAKE_NOISE=0.004 FAKE_NOISE_SEED={draw} \
FAKE_SECONDS_PER_COST={spc}
text_tokens = {q}
[adaptive]
target = {target}
budgets = 1e12
tolerance = {tolerance}
bootstrap = {bootstrap}
seed = {draw}
batch = {batch}
"""


def env():
    return dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1",
                OMPI_MCA_rmaps_base_oversubscribe="1")


def write(directory, name, draw, args, target="none", tolerance=0.5, exclude=""):
    out = os.path.join(directory, name + ".h5")
    cfg = os.path.join(directory, name + ".ini")
    with open(cfg, "w") as f:
        f.write(CONFIG.format(out=out, exclude=exclude, fake=FAKE, a=A, alpha=ALPHA, beta=BETA,
                              e=E, draw=draw, spc=args.seconds_per_cost, q=Q, target=target,
                              tolerance=tolerance, bootstrap=args.bootstrap, batch=args.batch))
    return cfg, out


def run(args, cfg, *sets):
    cmd = ["mpirun", "--oversubscribe", "-np", str(args.ranks), args.bin, "run", cfg, "--quiet"]
    for s in sets:
        cmd += ["--set", s]
    start = time.time()
    p = subprocess.run(cmd, env=env(), capture_output=True, text=True, timeout=1800)
    if p.returncode != 0:
        sys.exit(f"{' '.join(cmd)} exited {p.returncode}:\n{p.stdout}\n{p.stderr}")
    return time.time() - start


def status(args, out):
    p = subprocess.run([args.bin, "status", out, "--json"], env=env(), capture_output=True,
                       text=True, check=True)
    return json.loads(p.stdout)


def jobs(args, out):
    p = subprocess.run([args.bin, "export", out, "--format", "json"], env=env(),
                       capture_output=True, text=True, check=True)
    return [j for j in json.loads(p.stdout)["jobs"] if j["status"] == "done"]


def makespan(done):
    return max(j["end_time"] for j in done) - min(j["start_time"] for j in done)


def width_of(args, cfg, out):
    """The engine's T* width over every job of the file (all done): one round, exhausted."""
    run(args, cfg, "adaptive.target=frontier", "adaptive.tolerance=1e-9")
    last = status(args, out)["adaptive"]["rounds"][-1]
    assert last["stop"] == "exhausted", last
    (lo, hi), = [t["ci95"] for t in last["target"]]
    return last["width"], last["spent_flops"], lo <= T_STAR <= hi


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default=os.path.join(HERE, "..", "..", "build", "vlmscale"))
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--first-draw", type=int, default=1)
    ap.add_argument("--ranks", type=int, default=3)
    ap.add_argument("--seconds-per-cost", type=float, default=0.004)
    ap.add_argument("--bootstrap", type=int, default=100)
    ap.add_argument("--batch", type=int, default=4)
    args = ap.parse_args()
    rows = []
    t0 = time.time()
    for draw in range(args.first_draw, args.first_draw + args.runs):
        with tempfile.TemporaryDirectory(prefix="vlmscale-adaptive-bench-") as d:
            cfg, out = write(d, "full", draw, args)
            run(args, cfg)
            full_span = makespan(jobs(args, out))
            w_full, flops_full, cov_full = width_of(args, cfg, out)

            cfg, out = write(d, "adaptive", draw, args, target="frontier", tolerance=w_full)
            wall = run(args, cfg)
            s = status(args, out)
            last = s["adaptive"]["rounds"][-1]
            done = jobs(args, out)
            (lo, hi), = [t["ci95"] for t in last["target"]]
            k = len(done)
            adaptive = {"jobs": k, "flops": last["spent_flops"], "span": makespan(done),
                        "wall": wall, "width": last["width"], "stop": last["stop"],
                        "rounds": len(s["adaptive"]["rounds"]), "covered": lo <= T_STAR <= hi}

            rng = random.Random(draw)
            points = [(l, t, sd) for l in LLMS for t in TOKENS for sd in SEEDS]
            keep = set(rng.sample(points, k))
            exclude = "; ".join(f"llm={l},visual_tokens={t},seed={sd}" for l, t, sd in points
                                if (l, t, sd) not in keep)
            cfg, out = write(d, "random", draw, args, exclude=exclude)
            run(args, cfg)
            rand_span = makespan(jobs(args, out))
            w_rand, flops_rand, cov_rand = width_of(args, cfg, out)
        rows.append({"draw": draw, "full": (70, flops_full, full_span, w_full, cov_full),
                     "adaptive": adaptive,
                     "random": (k, flops_rand, rand_span, w_rand, cov_rand)})
        a = adaptive
        print(f"run {draw}: full width {w_full:.3f} ({flops_full:.3g} FLOPs, {full_span:.1f} s); "
              f"adaptive {a['jobs']} jobs in {a['rounds']} rounds, {a['flops'] / flops_full:.3f}x "
              f"FLOPs, {a['span'] / full_span:.2f}x makespan, width {a['width']:.3f} "
              f"({a['stop']}); random {k} jobs {flops_rand / flops_full:.3f}x FLOPs, width "
              f"{w_rand:.3f}", flush=True)
    load = os.getloadavg()
    print(f"\n== adaptive vs full grid vs random, through the driver: {args.runs} runs, "
          f"{args.ranks} ranks, {args.seconds_per_cost} s per unit cost, bootstrap "
          f"{args.bootstrap}, batch {args.batch}; {time.time() - t0:.0f} s, load {load[0]:.1f} {load[1]:.1f}")
    print(f"{'design':<10} {'jobs':>6} {'FLOPs/full':>11} {'makespan/full':>14} "
          f"{'width':>7} {'reached':>8} {'covers T*':>10}")
    med = statistics.median
    ff = [r["full"][1] for r in rows]
    fs = [r["full"][2] for r in rows]
    print(f"{'full':<10} {70:>6} {1.0:>11.3f} {1.0:>14.3f} "
          f"{med([r['full'][3] for r in rows]):>7.3f} {'-':>8} "
          f"{str(sum(r['full'][4] for r in rows)) + '/' + str(len(rows)):>10}")
    ad = [r["adaptive"] for r in rows]
    print(f"{'adaptive':<10} {med([a['jobs'] for a in ad]):>6} "
          f"{med([a['flops'] / f for a, f in zip(ad, ff)]):>11.3f} "
          f"{med([a['span'] / s for a, s in zip(ad, fs)]):>14.3f} "
          f"{med([a['width'] for a in ad]):>7.3f} "
          f"{str(sum(a['stop'] == 'tolerance' for a in ad)) + '/' + str(len(ad)):>8} "
          f"{str(sum(a['covered'] for a in ad)) + '/' + str(len(ad)):>10}")
    rd = [r["random"] for r in rows]
    print(f"{'random':<10} {med([x[0] for x in rd]):>6} "
          f"{med([x[1] / f for x, f in zip(rd, ff)]):>11.3f} "
          f"{med([x[2] / s for x, s in zip(rd, fs)]):>14.3f} "
          f"{med([x[3] for x in rd]):>7.3f} "
          f"{str(sum(x[3] <= r['full'][3] for x, r in zip(rd, rows))) + '/' + str(len(rd)):>8} "
          f"{str(sum(x[4] for x in rd)) + '/' + str(len(rd)):>10}")
    print("(medians over runs; reached: width <= the full grid's; the adaptive FLOPs target is "
          "<= 0.5x the full grid's)")


if __name__ == "__main__":
    main()
