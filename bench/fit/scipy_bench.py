#!/usr/bin/env python3
"""The scipy side of bench/fit/run.sh, and the table.

Runs the same 4,500-start additive Huber log-space fit as vlmscale (the published start grid,
the same bounds, scipy.optimize.minimize(method="L-BFGS-B") with an analytic gradient and
default tolerances, as in the published method) on the 250-point data set fit_bench wrote, with
a pool of `--procs` processes, then prints vlmscale's figures next to their targets and scipy's.
Usage: scipy_bench.py OUT_DIR [--procs 2]
"""
import argparse
import itertools
import json
import multiprocessing as mp
import os
import resource
import sys
import time

import numpy as np
from scipy.optimize import minimize
from scipy.special import huber, logsumexp

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import figures  # noqa: E402  (bench/figures.py: machine-readable lines for run_all.sh)

DELTA = 1e-3


def objective_and_grad(x, ln, lt, ly):
    a, alpha, b, beta, e = x
    u = np.stack([a - alpha * ln, b - beta * lt, np.full_like(ln, e)])
    lse = logsumexp(u, axis=0)
    r = lse - ly
    dh = np.clip(r, -DELTA, DELTA)
    w = np.exp(u - lse)
    g = np.array([(dh * w[0]).sum(), -(dh * w[0] * ln).sum(), (dh * w[1]).sum(),
                  -(dh * w[1] * lt).sum(), (dh * w[2]).sum()])
    return huber(DELTA, r).sum(), g


DATA = None


def init(path):
    global DATA
    raw = np.genfromtxt(path, delimiter=",", names=True)
    DATA = (np.log(raw["N"]), np.log(raw["T"]), np.log(raw["Y"]), np.log(raw["Y"].min()))


def solve(x0):
    ln, lt, ly, e_hi = DATA
    bounds = [(None, None), (0, 3), (None, None), (0, 3), (None, e_hi)]
    x0 = np.array(x0, dtype=float)
    x0[4] = min(x0[4], e_hi)
    res = minimize(objective_and_grad, x0, args=(ln, lt, ly), jac=True, method="L-BFGS-B",
                   bounds=bounds)
    return float(res.fun), list(map(float, res.x))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out_dir")
    ap.add_argument("--procs", type=int, default=2)
    args = ap.parse_args()
    csv = os.path.join(args.out_dir, "bench_250.csv")
    grid = list(itertools.product([0, 5, 10, 15, 20, 25], [0, 0.5, 1, 1.5, 2],
                                  [0, 5, 10, 15, 20, 25], [0, 0.5, 1, 1.5, 2], [-1, -0.5, 0, 0.5, 1]))
    grid = [(a, al, b, be, e) for (a, al, b, be, e) in grid]
    t0 = time.perf_counter()
    pool = mp.Pool(args.procs, initializer=init, initargs=(csv,))
    results = pool.map(solve, grid, chunksize=25)
    pool.close()
    pool.join()
    scipy_s = time.perf_counter() - t0
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    scipy_cpu = ru.ru_utime + ru.ru_stime
    best_f, best_x = min(results, key=lambda r: r[0])

    with open(os.path.join(args.out_dir, "fit_bench.json")) as f:
        cpp = json.load(f)
    h = cpp["huber_250"]
    p = cpp["paper_fit"]
    b = cpp["bootstrap_1000"]
    u = cpp["huber_250_unscreened"]
    rows = [
        ("28-point multiplicative fit, %d starts" % p["starts"], "%.1f ms" % (1e3 * p["seconds_median"]),
         "<= 50 ms", "sse %.4g (paper grid search ~3.96e-4)" % p["sse"], ""),
        ("250-point additive Huber fit, %d starts" % h["starts"], "%.2f s" % h["seconds_median"],
         "<= 2 s", "scipy L-BFGS-B, %d procs: %.1f s" % (args.procs, scipy_s),
         "%.1fx faster" % (scipy_s / h["seconds_median"])),
        ("  same, CPU seconds (all threads)", "%.2f s" % h["cpu_seconds_median"], "",
         "scipy CPU: %.1f s" % scipy_cpu, "%.1fx less" % (scipy_cpu / h["cpu_seconds_median"])),
        ("  objective (lower is better)", "%.10g" % h["objective"], "<= scipy",
         "scipy: %.10g" % best_f, "%+.2e rel" % ((h["objective"] - best_f) / best_f)),
        ("  every start to convergence (no screening)", "%.2f s (CPU %.2f s)" % (u["seconds"], u["cpu_seconds"]),
         "", "objective %.10g" % u["objective"], "%.1fx faster" % (scipy_s / u["seconds"])),
        ("1,000 bootstrap refits of the 28-point fit", "%.2f s" % b["seconds_median"], "<= 5 s",
         "alpha 95%% CI [%.4f, %.4f]" % tuple(b["alpha_ci"]), ""),
        ("--model auto + 1,000 refits, 28 points", "%.2f s" % cpp["auto_bootstrap_1000"]["seconds_median"],
         "<= 5 s", "single form (row above): %.2f s; selection alone %.2f s; winner %s" %
         (b["seconds_median"], cpp["auto_bootstrap_1000"]["selection_seconds_median"],
          cpp["auto_bootstrap_1000"]["winner"]),
         "%.1fx the single form" % (cpp["auto_bootstrap_1000"]["seconds_median"] / b["seconds_median"])),
        ("  same, CPU seconds (all threads)", "%.2f s" % cpp["auto_bootstrap_1000"]["cpu_seconds_median"],
         "", "of which the winner's bootstrap %.2f s wall" %
         cpp["auto_bootstrap_1000"]["bootstrap_seconds_median"], ""),
        ("frontier bands from those %d resamples, %d budgets" %
         (cpp["frontier_bands_1000"]["resamples"], cpp["frontier_bands_1000"]["budgets"]),
         "%.3f s" % cpp["frontier_bands_1000"]["seconds_median"], "",
         "T* band at the first budget [%.3g, %.3g]" % tuple(cpp["frontier_bands_1000"]["t_band_first_budget"]),
         ""),
    ]
    print("\nvlmscale fit benchmarks (%d threads; wall-clock medians; load average at the start: "
          "%s, at the end: %s)" % (cpp["threads"], " ".join("%.2f" % v for v in cpp.get("load_at_start", [])),
                                   " ".join("%.2f" % v for v in os.getloadavg())))
    w = [max(len(r[i]) for r in rows) for i in range(5)]
    hdr = ("figure", "vlmscale", "target", "comparison", "ratio")
    w = [max(w[i], len(hdr[i])) for i in range(5)]
    print("  ".join(hdr[i].ljust(w[i]) for i in range(5)))
    print("  ".join("-" * w[i] for i in range(5)))
    parent = ""
    for r in rows:
        print("  ".join(r[i].ljust(w[i]) for i in range(5)))
        parent = parent if r[0].startswith("  ") else r[0]
        figures.emit("fit", parent + ": " + r[0].strip() if r[0].startswith("  ") else r[0],
                     *r[1:])
    print("\nvlmscale params: " + ", ".join("%s=%.6g" % kv for kv in h["params"].items()))
    print("scipy    params: A=%.6g, alpha=%.6g, B=%.6g, beta=%.6g, E=%.6g" %
          (np.exp(best_x[0]), best_x[1], np.exp(best_x[2]), best_x[3], np.exp(best_x[4])))


if __name__ == "__main__":
    main()
