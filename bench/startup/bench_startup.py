#!/usr/bin/python3
"""Start-up time of the read-only commands (issue 22, item 4): median wall time of N runs of
`--version`, `status RESULTS.h5` and `plan configs/quickstart.ini`, for this build's binary and,
with --before, another one (main's, from before the libtorch plugin), runs interleaved so both
see the same machine load; beside them `python3 -c 'import h5py'` in the same run. Also the
number of shared objects each start loads (LD_DEBUG=files). Target: <= 0.1 s for status and plan.

  bench/startup/bench_startup.py --bin build/vlmscale [--before OLD/vlmscale] [--runs 7]

The results file of `status` comes from a real run of a 32-job sleep sweep with the quickstart's
grid (4 LLMs x 4 V x 2 methods), made with --bin. Figures also go to VLMSCALE_BENCH_JSONL
(bench/figures.py)."""
import argparse
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from figures import emit  # noqa: E402

TARGET_S = 0.1
ENV = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1")
SWEEP = """[sweep]
name = startup_bench
output = {out}
[grid]
llm = nano, micro, mini, small
visual_tokens = 1, 4, 16, 64
method = avgpool, quecc
task = shapes
seed = 0
[job]
type = sleep
[sleep]
seconds = 0
"""


CPU = {}  # Command line -> CPU seconds (user + system) of each run: less sensitive to load.


def wall(cmd):
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    p = subprocess.run(cmd, env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    dt = time.perf_counter() - t
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if p.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed ({p.returncode}): {p.stderr.decode()[-2000:]}")
    CPU.setdefault(tuple(cmd), []).append(after.ru_utime - before.ru_utime +
                                          after.ru_stime - before.ru_stime)
    return dt


def loaded_objects(cmd):
    p = subprocess.run(cmd, env=dict(ENV, LD_DEBUG="files"), stdout=subprocess.DEVNULL,
                       stderr=subprocess.PIPE, text=True)
    return len(set(re.findall(r"file=(\S+) \[\d+\];\s+(?:needed|dynamically loaded)", p.stderr)))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("--before")
    ap.add_argument("--runs", type=int, default=7)
    a = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="vlmscale-startup-bench-")
    try:
        out = os.path.join(tmp, "results.h5")
        cfg = os.path.join(tmp, "sweep.ini")
        with open(cfg, "w") as f:
            f.write(SWEEP.format(out=out))
        p = subprocess.run([a.bin, "run", cfg, "--quiet"], env=ENV, capture_output=True,
                           text=True)
        if p.returncode != 0:
            sys.exit(f"making the results file failed: {p.stderr}")
        commands = [("--version", ["--version"]), ("status RESULTS.h5", ["status", out]),
                    ("plan configs/quickstart.ini", ["plan", "configs/quickstart.ini"])]
        bins = [("after", a.bin)] + ([("before", a.before)] if a.before else [])
        times = {}
        for _ in range(a.runs):  # Interleaved: every command and binary once per round.
            for name, args in commands:
                for label, b in bins:
                    times.setdefault((name, label), []).append(wall([b] + args))
            times.setdefault(("h5py", "-"), []).append(
                wall([sys.executable, "-c", "import h5py"]))
        h5py_s = statistics.median(times[("h5py", "-")])
        print(f"median of {a.runs} runs, load average {open('/proc/loadavg').read().split()[0]}")
        print(f"{'command':32} {'after s':>8} {'cpu s':>6} {'objects':>8} {'before s':>9} "
              f"{'cpu s':>6} {'objects':>8} {'target s':>9} {'speed-up':>9}")
        cpu = lambda b, args: statistics.median(CPU[tuple([b] + args)])
        for name, args in commands:
            after = statistics.median(times[(name, "after")])
            n_after = loaded_objects([a.bin] + args)
            before = statistics.median(times[(name, "before")]) if a.before else None
            n_before = loaded_objects([a.before] + args) if a.before else None
            ratio = f"{before / after:.1f}x" if before else "-"
            print(f"{name:32} {after:8.3f} {cpu(a.bin, args):6.3f} {n_after:8d} "
                  f"{(f'{before:.3f}' if before else '-'):>9} "
                  f"{(f'{cpu(a.before, args):.3f}' if before else '-'):>6} "
                  f"{str(n_before or '-'):>8} {TARGET_S:9.2f} {ratio:>9}")
            emit("startup", f"vlmscale {name} (wall, median of {a.runs}; "
                 f"CPU {cpu(a.bin, args):.3f} s; {n_after} objects)", f"{after:.3f} s", f"<= {TARGET_S} s" if name != "--version" else "-",
                 f"before: {before:.3f} s (CPU {cpu(a.before, args):.3f} s; {n_before} objects)"
                 if before else "-", ratio)
        print(f"{'python3 -c import h5py':32} {h5py_s:8.3f} "
              f"{statistics.median(CPU[(sys.executable, '-c', 'import h5py')]):6.3f}")
        emit("startup", f"python3 -c 'import h5py' (wall, median of {a.runs})", f"{h5py_s:.3f} s")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
