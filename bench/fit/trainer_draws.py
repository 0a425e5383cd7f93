#!/usr/bin/python3
"""Writes the Y values tests/command/fake_trainer.py reports for the paper grid (N 0.5, 1.8, 4, 7,
14 B x V 1 ... 576 x replicates), draw by draw, as a CSV for `adaptive_bench --y-file`: the same
law (FAKE_LAW, N in billions) and the same seeded noise (FAKE_NOISE with FAKE_NOISE_SEED = the
draw) as bench/driver/adaptive_run_bench.py's sweeps, so the simulation can replay them.

Usage: bench/fit/trainer_draws.py OUT.csv [--runs 20] [--first-draw 1] [--replicates 2]
       [--law 0.5908,0.0709,0.0151,0] [--noise 0.004] [--method tokenpacker]
Run r of the CSV (0-based) is draw first-draw + r.
"""
import argparse
import random

LLMS = [("q05", 0.5), ("q18", 1.8), ("q4", 4.0), ("q7", 7.0), ("q14", 14.0)]
TOKENS = [1, 4, 16, 36, 64, 144, 576]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--first-draw", type=int, default=1)
    ap.add_argument("--replicates", type=int, default=2)
    ap.add_argument("--law", default="0.5908,0.0709,0.0151,0")
    ap.add_argument("--noise", type=float, default=0.004)
    ap.add_argument("--method", default="tokenpacker")
    args = ap.parse_args()
    a, alpha, beta, e = (float(x) for x in args.law.split(","))
    with open(args.out, "w") as f:
        f.write("run,n_billion,t,replicate,y\n")
        for r in range(args.runs):
            draw = args.first_draw + r
            for llm, n in LLMS:
                for t in TOKENS:
                    for seed in range(args.replicates):
                        # fake_trainer.py's formula and noise key, exactly.
                        y = a * (n * 1e9 / 1e9) ** -alpha * t ** -beta + e
                        rng = random.Random(f"{llm}/{t}/{args.method}/{seed}/{draw}")
                        y += rng.gauss(0.0, args.noise)
                        f.write(f"{r},{n!r},{t},{seed},{y!r}\n")


if __name__ == "__main__":
    main()
