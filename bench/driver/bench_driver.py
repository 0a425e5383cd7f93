#!/usr/bin/python3
"""Driver benchmarks (issue 3), printed side by side from one run:

1. Dispatch throughput: zero-second `sleep` jobs on 2 ranks with durable recording (every result
   journaled and fdatasync'ed before it is acknowledged). Target >= 10,000 jobs/s. Published
   figures for scale: Parsl HTEX 1,181 tasks/s, Flux ~930-1,500 tasks/s, srun per task ~152/s.
2. Coordinator overhead per job (its thread's CPU time / jobs) and rank 0's peak memory for a
   100,000-job grid.
3. Scheduling quality: `sleep` jobs whose durations follow the cost spread of the paper's grid
   (N 0.5-7B, V 1-576), makespan vs the lower bound max(total work / workers, longest job), for
   cost-ordered (default) and grid-ordered dispatch.

Usage: bench/driver/bench_driver.py [--bin build/vlmscale] [--quick]
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import figures  # noqa: E402  (bench/figures.py: machine-readable lines for run_all.sh)

ENV = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1")


def run_sweep(binary, config, ranks, *sets):
    cmd = ["mpirun", "--oversubscribe", "-np", str(ranks), binary, "run", config,
           "--log-format", "json", "--quiet", "--fresh"]
    for s in sets:
        cmd += ["--set", s]
    p = subprocess.run(cmd, capture_output=True, text=True, env=ENV)
    if p.returncode != 0:
        sys.exit(f"benchmark sweep failed ({p.returncode}): {p.stderr[-2000:]}")
    for line in p.stdout.splitlines():
        if line.startswith("{"):
            ev = json.loads(line)
            if ev.get("event") == "summary":
                return ev
    sys.exit("no summary line in the driver output")


def zero_config(tmp, jobs):
    seeds = jobs // 10
    path = os.path.join(tmp, f"zero{jobs}.ini")
    with open(path, "w") as f:
        f.write(f"""[sweep]
name = zero{jobs}
output = {tmp}/zero{jobs}.h5
[grid]
llm = nano, micro
visual_tokens = 1, 4, 16, 36, 64
seed = {", ".join(map(str, range(seeds)))}
[job]
type = sleep
[run]
snapshot_seconds = 10
""")
    return path


def paper_config(tmp, longest):
    path = os.path.join(tmp, "paper.ini")
    presets = "".join(f"[llm.qwen-{n}b]\nn_params = {n}e9\n" for n in ("0.5", "1.8", "4", "7"))
    with open(path, "w") as f:
        f.write(f"""[sweep]
name = paper
output = {tmp}/paper.h5
[grid]
llm = qwen-0.5b, qwen-1.8b, qwen-4b, qwen-7b
visual_tokens = 1, 4, 16, 36, 64, 144, 576
method = tokenpacker, quecc
[model]
grid_size = 24
[job]
type = sleep
[sleep]
mode = cost
seconds = {longest}
{presets}""")
    return path


def plan_costs(binary, config):
    p = subprocess.run([binary, "plan", config, "--json"], capture_output=True, text=True,
                       check=True)
    return [j["est_cost"] for j in json.loads(p.stdout)]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default=os.path.join(os.path.dirname(__file__), "../../build/vlmscale"))
    ap.add_argument("--quick", action="store_true", help="smaller sizes (a smoke run)")
    ap.add_argument("--slurm-json", help="result of bench/slurm/bench_slurm_array.py --json, "
                                         "printed next to the dispatch throughput")
    a = ap.parse_args()
    rows = []
    with tempfile.TemporaryDirectory(prefix="vlmscale-bench-") as tmp:
        n = 2000 if a.quick else 50000
        s = run_sweep(a.bin, zero_config(tmp, n), 2)
        rate = n / s["elapsed_seconds"]
        rows.append(("dispatch throughput, 0 s jobs, 2 ranks, durable", f"{rate:,.0f} jobs/s",
                     ">= 10,000 jobs/s", "Parsl HTEX 1,181/s; Flux ~1,500/s; srun 152/s",
                     f"{rate / 10000:.2f}x target, {rate / 1181:.1f}x Parsl"))
        if a.slurm_json:
            with open(a.slurm_json) as f:
                sl = json.load(f)
            rows.append((f"SLURM job array, {sl['tasks']:,} no-op tasks, local cluster "
                         f"({sl['cpus']} CPUs, {sl.get('scheduler_parameters', 'stock')})",
                         f"{sl['tasks_per_second']:,.2f} tasks/s", "-",
                         "one SLURM task per grid point instead of vlmscale run",
                         f"driver {rate / sl['tasks_per_second']:,.0f}x faster"))
        big = 10000 if a.quick else 100000
        s = run_sweep(a.bin, zero_config(tmp, big), 2)
        us = 1e6 * s["coordinator_cpu_seconds"] / big
        rows.append((f"coordinator CPU per job ({big:,} jobs)", f"{us:.1f} us", "-",
                     f"{1e6 / rate:.1f} us wall per job at the measured rate", "-"))
        rows.append((f"rank 0 peak memory, {big:,}-job grid", f"{s['rank0_max_rss_mb']:.0f} MiB",
                     "-", "coordinator + worker + store state in one process", "-"))

        longest = 0.5 if a.quick else 2.0
        cfg = paper_config(tmp, longest)
        costs = plan_costs(a.bin, cfg)
        durations = [longest * c / max(costs) for c in costs]
        workers = 4  # Sleep jobs use no CPU: 4 ranks on 2 cores still measure scheduling.
        bound = max(sum(durations) / workers, max(durations))
        for order in ("cost", "grid"):
            s = run_sweep(a.bin, cfg, workers, f"run.order={order}")
            m = s["elapsed_seconds"]
            rows.append((f"makespan, paper-grid spread, {len(costs)} jobs, {order} order",
                         f"{m:.2f} s", f"<= 1.05 x bound = {1.05 * bound:.2f} s",
                         f"lower bound {bound:.2f} s", f"{m / bound:.3f} x bound"))
    w = [max(len(r[i]) for r in rows + [("figure", "value", "target", "comparison", "ratio")])
         for i in range(5)]
    line = lambda r: "  ".join(r[i].ljust(w[i]) for i in range(5))
    print(line(("figure", "value", "target", "comparison", "ratio")))
    print(line(tuple("-" * x for x in w)))
    for r in rows:
        print(line(r))
        figures.emit("driver", *r)


if __name__ == "__main__":
    main()
