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
4. Stage DAG makespan: the paper grid as three stages of `sleep` jobs on 4 ranks (pretrain over
   llm, costing as much as that size's largest finetune; finetune over llm x V x method; eval of
   each finetune on 3 benchmarks at 0.1x its cost), run in critical-path order (run.order = cost),
   stage by stage with a barrier (run.order = stages, what chained `sbatch --dependency=afterok`
   gives) and grid order; makespan vs the lower bound max(critical path, total work / ranks)
   computed from the plan's costs. Targets: critical path <= 1.10x bound, barrier / critical path
   >= 1.2x.
5. Stage DAG dispatch rate: 100,000 zero-second `sleep` jobs in two stages (b needs a, one to
   one) on 2 ranks vs the flat grid of as many jobs in the same run (two runs of each,
   interleaved, best of each: the machine may be shared). Target: DAG >= 0.8x flat.

6. With --baseline-bin OTHER (issue 22, item 7): an A/B of two builds in the same run, printed
   side by side: dispatch rate of 100,000 zero-second jobs on 2 ranks (runs of the two binaries
   interleaved, best of --repeats each), rank 0's peak RSS for 100,000 and 1,000,000 jobs
   (targets <= 150 MiB and <= 1 GiB), and the start-up of `plan` (the 100,000-job config) and
   `status` (its results file), median of 5 each. --ab-only runs only this section.

Usage: bench/driver/bench_driver.py [--bin build/vlmscale] [--quick]
       [--baseline-bin /work/main/build/vlmscale [--ab-only] [--repeats 2] [--no-million]]
"""
import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

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


def plan_jobs(binary, config):
    p = subprocess.run([binary, "plan", config, "--json"], capture_output=True, text=True,
                       check=True)
    return json.loads(p.stdout)


def plan_costs(binary, config):
    return [j["est_cost"] for j in plan_jobs(binary, config)]


QWEN = ("0.5", "1.8", "4", "7")


def staged_config(tmp, longest, pretrain_tokens):
    """The paper grid as a pretrain -> finetune -> eval DAG of cost-mode sleep jobs."""
    path = os.path.join(tmp, "staged.ini")
    presets = "".join(f"[llm.qwen-{n}b]\nn_params = {n}e9\n" for n in QWEN)
    with open(path, "w") as f:
        f.write(f"""[sweep]
name = staged
output = {tmp}/staged.h5
[grid]
llm = {", ".join(f"qwen-{n}b" for n in QWEN)}
visual_tokens = 1, 4, 16, 36, 64, 144, 576
method = tokenpacker, quecc
[model]
grid_size = 24
[sleep]
mode = cost
seconds = {longest}
[stage.pretrain]
type = sleep
over = llm
sleep.cost_tokens = {pretrain_tokens}
[stage.finetune]
type = sleep
over = llm, visual_tokens, method
needs = pretrain
[stage.eval]
type = sleep
over = llm, visual_tokens, method
needs = finetune
axis.benchmark = gqa, textvqa, mmbench
sleep.cost_scale = 0.1
{presets}""")
    return path


def pretrain_tokens_matching_finetune(binary, tmp):
    """cost_tokens of the pretrain stage such that pretraining a size costs as much as its
    largest finetune (V = 576): Q + 576, Q the finetune jobs' text tokens (asserted equal)."""
    jobs = plan_jobs(binary, staged_config(tmp, 1.0, 1))
    q = {j["text_tokens"] for j in jobs if j["stage"] == "finetune"}
    if len(q) != 1:
        sys.exit(f"finetune jobs with differing text tokens {sorted(q)}")
    return q.pop() + 576


def dag_bound(jobs, longest):
    """(critical path, total work, durations) in seconds, as sleep mode = cost sleeps them."""
    top = max(j["est_cost"] for j in jobs)
    dur = {j["job_id"]: longest * j["est_cost"] / top for j in jobs}
    needs = {j["job_id"]: j["needs"] for j in jobs}
    finish = {}

    def path(i):  # Longest chain of durations ending with job i (parents first).
        if i not in finish:
            finish[i] = dur[i] + max((path(p) for p in needs[i]), default=0.0)
        return finish[i]

    return max(path(i) for i in dur), sum(dur.values()), dur


def dag_zero_config(tmp, jobs):
    """Two stages of zero-second sleep jobs, jobs/2 each: b needs a, one b per a (own axis)."""
    seeds = jobs // 20
    path = os.path.join(tmp, f"dag{jobs}.ini")
    with open(path, "w") as f:
        f.write(f"""[sweep]
name = dag{jobs}
output = {tmp}/dag{jobs}.h5
[grid]
llm = nano, micro
visual_tokens = 1, 4, 16, 36, 64
seed = {", ".join(map(str, range(seeds)))}
[run]
snapshot_seconds = 10
[stage.a]
type = sleep
over = llm, visual_tokens, seed
[stage.b]
type = sleep
over = llm, visual_tokens, seed
needs = a
axis.benchmark = probe
""")
    return path


def timed(cmd):
    """Wall seconds of `cmd` (its output discarded; it must succeed)."""
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=ENV)
    return time.perf_counter() - t0


def ab_rows(new, old, tmp, quick, repeats, million):
    """Section 6: this build (`new`) against `old`, measured in the same run."""
    rows = []
    n = 10000 if quick else 100000
    cfg = zero_config(tmp, n)
    runs = {new: [], old: []}
    results = {new: f"{tmp}/zero{n}.h5", old: f"{tmp}/zero{n}-baseline.h5"}
    for _ in range(repeats):  # Interleaved, so load from elsewhere hits both alike.
        for b in (old, new):
            runs[b].append(run_sweep(b, cfg, 2))
            if b == old:  # Each binary's `status` reads its own file (formats may differ).
                shutil.copyfile(f"{tmp}/zero{n}.h5", results[old])
    best = {b: min(r["elapsed_seconds"] for r in runs[b]) for b in runs}
    rss = {b: max(r["rank0_max_rss_mb"] for r in runs[b]) for b in runs}
    cpu = {b: min(1e6 * r["coordinator_cpu_seconds"] / n for r in runs[b]) for b in runs}
    rows.append((f"A/B dispatch, {n:,} 0 s jobs, 2 ranks, best of {repeats}",
                 f"{n / best[new]:,.0f} jobs/s", ">= baseline",
                 f"baseline {n / best[old]:,.0f} jobs/s; coordinator CPU {cpu[new]:.1f} vs "
                 f"{cpu[old]:.1f} us/job", f"{best[old] / best[new]:.2f}x baseline"))
    rows.append((f"A/B rank 0 peak memory, {n:,}-job grid", f"{rss[new]:.0f} MiB", "<= 150 MiB",
                 f"baseline {rss[old]:.0f} MiB", f"{rss[new] / rss[old]:.2f}x baseline"))
    # Start-up: plan of the grid just run, status of the results file each binary wrote.
    for what, args in (("plan", lambda b: ["plan", cfg]), ("status", lambda b: ["status", results[b]])):
        t = {b: [] for b in runs}
        for _ in range(5):
            for b in (old, new):
                t[b].append(timed([b] + args(b)))
        med = {b: statistics.median(t[b]) for b in t}
        rows.append((f"A/B start-up, vlmscale {what} ({n:,} jobs), median of 5",
                     f"{med[new]:.3f} s", "-", f"baseline {med[old]:.3f} s",
                     f"{med[old] / med[new]:.2f}x faster"))
    if million:
        m = 100000 if quick else 1000000
        cfg = zero_config(tmp, m)
        big = {b: run_sweep(b, cfg, 2) for b in (old, new)}
        rows.append((f"A/B rank 0 peak memory, {m:,}-job grid", f"{big[new]['rank0_max_rss_mb']:.0f} MiB",
                     "<= 1024 MiB", f"baseline {big[old]['rank0_max_rss_mb']:.0f} MiB",
                     f"{big[new]['rank0_max_rss_mb'] / big[old]['rank0_max_rss_mb']:.2f}x baseline"))
        rows.append((f"A/B dispatch, {m:,} 0 s jobs, 2 ranks, one run each",
                     f"{m / big[new]['elapsed_seconds']:,.0f} jobs/s", "-",
                     f"baseline {m / big[old]['elapsed_seconds']:,.0f} jobs/s",
                     f"{big[old]['elapsed_seconds'] / big[new]['elapsed_seconds']:.2f}x baseline"))
    return rows


def print_rows(rows):
    w = [max(len(r[i]) for r in rows + [("figure", "value", "target", "comparison", "ratio")])
         for i in range(5)]
    line = lambda r: "  ".join(r[i].ljust(w[i]) for i in range(5))
    print(line(("figure", "value", "target", "comparison", "ratio")))
    print(line(tuple("-" * x for x in w)))
    for r in rows:
        print(line(r))
        figures.emit("driver", *r)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default=os.path.join(os.path.dirname(__file__), "../../build/vlmscale"))
    ap.add_argument("--quick", action="store_true", help="smaller sizes (a smoke run)")
    ap.add_argument("--slurm-json", help="result of bench/slurm/bench_slurm_array.py --json, "
                                         "printed next to the dispatch throughput")
    ap.add_argument("--baseline-bin", help="another build's vlmscale: A/B section (item 6)")
    ap.add_argument("--ab-only", action="store_true", help="run only the A/B section")
    ap.add_argument("--repeats", type=int, default=2, help="A/B dispatch runs per binary")
    ap.add_argument("--no-million", action="store_true", help="A/B without the 10^6-job grid")
    a = ap.parse_args()
    rows = []
    if a.ab_only and not a.baseline_bin:
        sys.exit("--ab-only needs --baseline-bin")
    with tempfile.TemporaryDirectory(prefix="vlmscale-bench-") as tmp:
        if a.baseline_bin:
            rows += ab_rows(os.path.abspath(a.bin), os.path.abspath(a.baseline_bin), tmp, a.quick,
                            a.repeats, not a.no_million)
            if a.ab_only:
                print_rows(rows)
                return
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

        # Stage DAG dispatch rate vs the flat grid of as many jobs: two runs of each,
        # interleaved (the flat run above is the first), best of each, so that load from
        # elsewhere on the machine hits both alike.
        flat_runs, dag_runs = [s], []
        for kind in ("dag", "flat", "dag"):
            cfg = dag_zero_config(tmp, big) if kind == "dag" else zero_config(tmp, big)
            (dag_runs if kind == "dag" else flat_runs).append(run_sweep(a.bin, cfg, 2))
        best = lambda runs: min(runs, key=lambda r: r["elapsed_seconds"])
        flat, dag = best(flat_runs), best(dag_runs)
        flat_rate, dag_rate = big / flat["elapsed_seconds"], big / dag["elapsed_seconds"]
        cpu = lambda r: 1e6 * r["coordinator_cpu_seconds"] / big
        rows.append((f"dispatch, {big:,} 0 s jobs, 2 ranks, 2-stage DAG "
                     f"({big // 2:,} + {big // 2:,}), best of 2", f"{dag_rate:,.0f} jobs/s",
                     f">= 0.8 x flat = {0.8 * flat_rate:,.0f} jobs/s",
                     f"flat grid {flat_rate:,.0f} jobs/s (best of 2); coordinator CPU "
                     f"{cpu(dag):.1f} vs {cpu(flat):.1f} us/job",
                     f"{dag_rate / flat_rate:.2f}x flat"))

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

        # Stage DAG makespan: critical path vs barrier vs grid order, against the plan's bound.
        tokens = pretrain_tokens_matching_finetune(a.bin, tmp)
        cfg = staged_config(tmp, longest, tokens)
        jobs = plan_jobs(a.bin, cfg)
        cp, work, dur = dag_bound(jobs, longest)
        bound = max(cp, work / workers)
        per_stage = {}
        for j in jobs:
            per_stage[j["stage"]] = per_stage.get(j["stage"], 0) + 1
        shape = " + ".join(f"{n} {st}" for st, n in per_stage.items())
        print(f"stage DAG: {shape} jobs on {workers} ranks; pretrain cost_tokens = {tokens} "
              f"(Q + 576: a pretraining job costs as much as its size's V = 576 finetune); "
              f"eval cost_scale = 0.1; longest job {max(dur.values()):.2f} s; critical path "
              f"{cp:.2f} s, total work {work:.2f} s / {workers} ranks = {work / workers:.2f} s")
        made = {}
        for order, what in (("cost", "critical path"), ("stages", "barrier"),
                            ("grid", "grid order")):
            s = run_sweep(a.bin, cfg, workers, f"run.order={order}")
            made[order] = m = s["elapsed_seconds"]
            rows.append((f"makespan, 3-stage DAG, {len(jobs)} jobs, {what} (run.order={order})",
                         f"{m:.2f} s", f"<= 1.10 x bound = {1.10 * bound:.2f} s" if
                         order == "cost" else "-",
                         f"bound max(critical path {cp:.2f}, work/{workers} "
                         f"{work / workers:.2f}) s", f"{m / bound:.3f} x bound"))
        rows.append(("barrier / critical-path makespan, 3-stage DAG",
                     f"{made['stages'] / made['cost']:.2f}x", ">= 1.2x",
                     f"stages {made['stages']:.2f} s vs cost {made['cost']:.2f} s",
                     f"{made['stages'] / made['cost'] / 1.2:.2f}x target"))

    print_rows(rows)


if __name__ == "__main__":
    main()
