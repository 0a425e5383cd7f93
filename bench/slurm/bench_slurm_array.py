#!/usr/bin/python3
"""SLURM job-array throughput on the local test cluster (issue 7), for comparison with the
driver's dispatch throughput (bench/driver/bench_driver.py).

Submits one job array of N no-op tasks (`sbatch --array=0-(N-1) --wrap true`, 1 CPU each) to a
single-node cluster started by tests/slurm/local_cluster.sh (all CPUs of this machine; stock
scheduler settings) and measures tasks/s from the sbatch call until every task has completed.
The figure is what one-SLURM-task-per-grid-point would cost; `vlmscale run` instead runs the whole
grid inside one allocation.

Usage: bench/slurm/bench_slurm_array.py [--tasks 1000] [--json OUT.json]
  --json writes {"tasks", "seconds", "tasks_per_second", "cpus", "scheduler_parameters"}; bench_driver.py --slurm-json
  prints it next to the driver's figure. Needs root and slurm-wlm + munge (scripts/setup.sh).
"""
import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
CLUSTER = os.path.join(HERE, "../../tests/slurm/local_cluster.sh")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tasks", type=int, default=1000)
    ap.add_argument("--json", help="write the result here as JSON")
    ap.add_argument("--timeout", type=float, default=1800)
    ap.add_argument("--scheduler-parameters", default="",
                    help="SchedulerParameters of the test cluster (default: SLURM's stock ones), "
                         "e.g. batch_sched_delay=0,sched_min_interval=0")
    a = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="vlmscale-slurm-bench-") as d:
        p = subprocess.run([CLUSTER, "start", d], capture_output=True, text=True,
                           env=dict(os.environ, LOCAL_CLUSTER_SCHEDULER_PARAMETERS=
                                    a.scheduler_parameters))
        if p.returncode != 0:
            sys.exit("cluster did not start:\n" + p.stdout + p.stderr)
        env = dict(os.environ, SLURM_CONF=re.search(r"SLURM_CONF=(\S+)", p.stdout).group(1))
        try:
            t0 = time.monotonic()
            p = subprocess.run(["sbatch", "--parsable", f"--array=0-{a.tasks - 1}", "--ntasks=1",
                                "--cpus-per-task=1", "--output=/dev/null", "--wrap", "true"],
                               env=env, capture_output=True, text=True, check=True)
            job = p.stdout.strip().split(";")[0]
            while True:
                q = subprocess.run(["squeue", "-h", "-r", "-j", job, "-o", "%i"], env=env,
                                   capture_output=True, text=True)
                if q.returncode == 0 and not q.stdout.strip():
                    break
                if time.monotonic() - t0 > a.timeout:
                    sys.exit(f"timeout: {len(q.stdout.split())} tasks left")
                time.sleep(0.05)
            seconds = time.monotonic() - t0
            states = subprocess.run(["squeue", "-h", "-r", "-t", "all", "-j", job, "-o", "%T"],
                                    env=env, capture_output=True, text=True).stdout.split()
            completed = sum(s == "COMPLETED" for s in states)
        finally:
            subprocess.run([CLUSTER, "stop", d], capture_output=True)
    if completed != a.tasks:
        sys.exit(f"only {completed} of {a.tasks} tasks completed ({sorted(set(states))}) after "
                 f"{seconds:.1f} s")
    result = {"tasks": a.tasks, "seconds": seconds, "tasks_per_second": a.tasks / seconds,
              "cpus": os.cpu_count(), "scheduler_parameters": a.scheduler_parameters or "stock"}
    print(f"SLURM job array, {a.tasks} no-op tasks on {os.cpu_count()} CPUs (local slurm 22.05, "
          f"SchedulerParameters {result['scheduler_parameters']}): {seconds:.1f} s, "
          f"{result['tasks_per_second']:.2f} tasks/s")
    if a.json:
        with open(a.json, "w") as f:
            json.dump(result, f)


if __name__ == "__main__":
    main()
