#!/usr/bin/python3
"""Per-job rank groups through the driver (issue 18), side by side from one run.

A paper-like grid of `sleep` jobs on 8 ranks (mpirun --oversubscribe; sleep jobs cost no CPU):
N in {0.5, 1.8, 4, 7, 14}B x V in {1, 4, 16, 36, 64, 144, 576}; 1 rank up to 2B, 2 up to 7B, 4 for
14B (the issue's example). A job's work (rank-seconds) is proportional to its training cost
N (Q + V), its seconds to work / ranks: each size is an LLM preset whose n_params is N / ranks,
so `sleep.mode = cost` sleeps exactly that (the longest job sleeping --longest seconds).

  - per-job groups: the driver as it is (RankPacker, EASY backfill);
  - fixed 4: every job given 4 ranks (`--set llm.X.ranks=4`), the same sleep seconds (a job that
    cannot use more ranks), i.e. what one run.ranks_per_job = 4 for the whole sweep gives;
  - the lower bound max(total rank-seconds / ranks, longest job), from the planned seconds.

Makespan: first job start to last job end in the results file (mpirun start-up excluded).
Idle rank-seconds: the driver's (status JSON, `idle_rank_seconds`); "unused" adds the rank-seconds
jobs held but could not use (fixed 4: (4 - ranks) x seconds per job). Targets: per-job groups
<= 1.15x the bound and >= 1.5x faster than fixed 4.

Usage: bench/driver/packing_bench.py [--bin build/vlmscale] [--ranks 8] [--longest 12]
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

ENV = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1")

SIZES = [("q05b", 0.5e9, 1), ("q18b", 1.8e9, 1), ("q4b", 4e9, 2), ("q7b", 7e9, 2),
         ("q14b", 14e9, 4)]

CONFIG = """[sweep]
name = packing-bench
output = {out}
[grid]
llm = {llms}
visual_tokens = 1, 4, 16, 36, 64, 144, 576
{presets}
[job]
type = sleep
[sleep]
mode = cost
seconds = {longest}
[run]
ranks_per_job = 1
snapshot_seconds = 1
"""


def run(binary, cfg, ranks, sets=()):
    cmd = ["mpirun", "--oversubscribe", "-np", str(ranks), binary, "run", cfg, "--fresh",
           "--quiet"]
    for s in sets:
        cmd += ["--set", s]
    p = subprocess.run(cmd, capture_output=True, text=True, env=ENV)
    if p.returncode != 0:
        sys.exit(f"packing_bench: run failed ({p.returncode}): {p.stdout[-1500:]}{p.stderr[-1500:]}")
    out = cfg.replace(".ini", ".h5")
    jobs = json.loads(subprocess.run([binary, "export", out, "--format", "json"],
                                     capture_output=True, text=True, check=True,
                                     env=ENV).stdout)["jobs"]
    status = json.loads(subprocess.run([binary, "status", out, "--json"], capture_output=True,
                                       text=True, check=True, env=ENV).stdout)
    assert all(j["status"] == "done" for j in jobs), "a job did not finish"
    makespan = max(j["end_time"] for j in jobs) - min(j["start_time"] for j in jobs)
    return makespan, status["idle_rank_seconds"], jobs


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default="build/vlmscale")
    ap.add_argument("--ranks", type=int, default=8)
    ap.add_argument("--longest", type=float, default=12.0)
    args = ap.parse_args()
    binary = os.path.abspath(args.bin)
    tmp = tempfile.mkdtemp(prefix="vlmscale-packbench-")
    cfg = os.path.join(tmp, "pack.ini")
    presets = "\n".join(f"[llm.{name}]\nn_params = {n / k:g}\nranks = {k}"
                        for name, n, k in SIZES)
    with open(cfg, "w") as f:
        f.write(CONFIG.format(out=cfg.replace(".ini", ".h5"), llms=", ".join(s[0] for s in SIZES),
                              presets=presets, longest=args.longest))
    plan = json.loads(subprocess.run([binary, "plan", cfg, "--json"], capture_output=True,
                                     text=True, check=True, env=ENV).stdout)
    ranks_of = {name: k for name, _, k in SIZES}
    max_cost = max(j["est_cost"] for j in plan)
    seconds = {j["job_id"]: args.longest * j["est_cost"] / max_cost for j in plan}
    need = {j["job_id"]: ranks_of[j["llm"]] for j in plan}
    rank_seconds = sum(seconds[i] * need[i] for i in seconds)
    bound = max(rank_seconds / args.ranks, max(seconds.values()))

    packed, packed_idle, _ = run(binary, cfg, args.ranks)
    fixed, fixed_idle, _ = run(binary, cfg, args.ranks,
                               [f"llm.{name}.ranks=4" for name, _, _ in SIZES])
    fixed_unused = fixed_idle + sum(seconds[i] * (4 - need[i]) for i in seconds)

    print(f"{len(plan)} sleep jobs on {args.ranks} ranks (1/2/4 ranks: "
          f"{sum(1 for k in need.values() if k == 1)}/{sum(1 for k in need.values() if k == 2)}/"
          f"{sum(1 for k in need.values() if k == 4)}), longest {args.longest:g} s, "
          f"{rank_seconds:.1f} rank-s of work")
    print(f"{'':44s} {'makespan s':>10s} {'x bound':>8s} {'idle rank-s':>12s} "
          f"{'unused rank-s':>14s}")
    print(f"{'lower bound max(rank-s / ranks, longest)':44s} {bound:10.2f} {1:8.3f}")
    print(f"{'per-job groups, EASY backfill':44s} {packed:10.2f} {packed / bound:8.3f} "
          f"{packed_idle:12.1f} {packed_idle:14.1f}")
    print(f"{'fixed 4 ranks per job':44s} {fixed:10.2f} {fixed / bound:8.3f} "
          f"{fixed_idle:12.1f} {fixed_unused:14.1f}")
    print(f"per-job groups: {packed / bound:.3f}x the bound (target <= 1.15), "
          f"{fixed / packed:.2f}x faster than fixed 4 (target >= 1.5)")


if __name__ == "__main__":
    main()
