#!/usr/bin/python3
"""End-to-end test of analysis/contrast.py.

Two real sweeps of `command` jobs under mpirun (2 ranks), each a trainer written by this test
that records the error of a known multiplicative law plus seeded noise, and the question-only
error its "generator" would have: on `shapes` (reasoning) the error falls with N much faster than
with T (beta/alpha = 0.2), on `glyphs` (reading) tokens pay more (beta/alpha = 2.5). Then
contrast.py must: recover both ratios within their bootstrap intervals, call the two tasks'
intervals apart, show the question-only error beside each row, find the error falling with N at
every V beyond the noise of the eval examples the trainer records, draw both figures, and exit 2
with one line on a bad input.

  tests/analysis/contrast_test.py   (from the repository root; VLMSCALE_BIN must be set)
"""

import os
import re
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CONTRAST = os.path.join(ROOT, "analysis", "contrast.py")
PYTHON = "/usr/bin/python3"

# alpha, beta and the question-only error of each task's law: Y = 0.9 N^-alpha T^-beta + 0.05.
LAWS = {"shapes": (0.25, 0.05, 0.70), "glyphs": (0.04, 0.10, 0.80)}

TRAINER = r'''
import hashlib, json, sys
task, n, t, seed, out = sys.argv[1], float(sys.argv[2]), float(sys.argv[3]), sys.argv[4], sys.argv[5]
laws = %r
alpha, beta, qonly = laws[task]
h = int(hashlib.sha256(f"{task}/{n}/{t}/{seed}".encode()).hexdigest()[:8], 16) / 2**32
error = 0.9 * n ** -alpha * t ** -beta + 0.05 + 0.001 * (h - 0.5)
with open(out + "/metrics.json", "w") as f:
    json.dump({"error": error, "qonly_error": qonly, "majority_error": qonly + 0.1,
               "eval_examples": 2048}, f)
''' % (LAWS,)

failures = []


def check(condition, message):
    print(("ok    " if condition else "FAIL  ") + message)
    if not condition:
        failures.append(message)
    return condition


def sweep(tmp, task, binary):
    trainer = os.path.join(tmp, "trainer.py")
    with open(trainer, "w") as f:
        f.write(TRAINER)
    config = os.path.join(tmp, f"{task}.ini")
    presets = "".join(f"[llm.s{i}]\nn_params = {n}\n" for i, n in
                      enumerate([1e6, 4e6, 16e6, 64e6, 256e6]))
    with open(config, "w") as f:
        f.write(f"""[sweep]
name = {task}
output = {tmp}/{task}.h5
[job]
type = command
[command]
argv = {PYTHON} {trainer} {{task}} {{n_params}} {{visual_tokens}} {{seed}} {{run_dir}}
[grid]
llm = s0, s1, s2, s3, s4
visual_tokens = 1, 4, 16, 64
method = avgpool
task = {task}
seed = 0
{presets}""")
    env = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1")
    proc = subprocess.run(["mpirun", "--oversubscribe", "-np", "2", binary, "run", config],
                          capture_output=True, text=True, env=env, timeout=300)
    check(proc.returncode == 0, f"the {task} sweep ran (exit {proc.returncode}) "
          + proc.stderr[-300:])
    return f"{tmp}/{task}.h5"


def main():
    binary = os.environ.get("VLMSCALE_BIN")
    if not binary:
        print("VLMSCALE_BIN must name the vlmscale binary", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as tmp:
        files = [sweep(tmp, task, binary) for task in LAWS]
        out = os.path.join(tmp, "page")
        proc = subprocess.run([PYTHON, CONTRAST, *files, "-o", out, "--bootstrap", "100"],
                              capture_output=True, text=True, timeout=300)
        print(proc.stdout + proc.stderr)
        check(proc.returncode == 0, f"contrast.py exits 0 (got {proc.returncode})")
        ratios = {}
        for task, (alpha, beta, qonly) in LAWS.items():
            m = re.search(rf"^{task}\s+{task}/avgpool\s+question-only ([0-9.]+)\s+best ([0-9.]+)\s+"
                          r"beta/alpha ([0-9.]+) \[([0-9.]+), ([0-9.]+)\]", proc.stdout, re.M)
            if not check(m is not None, f"{task}: a row with the ratio and its interval"):
                continue
            q, best, r, lo, hi = (float(x) for x in m.groups())
            check(abs(q - qonly) < 1e-9, f"{task}: question-only error {q} is the recorded one")
            check(best < qonly, f"{task}: best error {best} is below the question-only error")
            truth = beta / alpha
            check(lo <= truth <= hi, f"{task}: true beta/alpha {truth:.3f} in [{lo}, {hi}]")
            check(abs(r - truth) < 0.25 * truth, f"{task}: beta/alpha {r} within 25% of {truth}")
            ratios[task] = (lo, hi)
        check("avgpool: shapes vs glyphs: beta/alpha intervals apart" in proc.stdout,
              "the two tasks' intervals are reported apart")
        # Both laws lower the error with N at every V by more than 2,048 examples' noise (the
        # smallest drop, shapes at V = 64: 0.9 * 64^-0.05 * (1e6^-0.25 - 256e6^-0.25) = 0.017,
        # against a 95% half-width of 0.015; the trainer's noise is a fixed hash, not a draw).
        for task in LAWS:
            effects = re.findall(rf"^  {task}\s+{task}/avgpool\s+V=(\d+)\s+error ([0-9. ]+?)  "
                                 r"largest-smallest N ([-+0-9.]+) \[([-+0-9.]+), ([-+0-9.]+)\] "
                                 r"(\w+)$", proc.stdout, re.M)
            check([int(v) for v, *_ in effects] == [1, 4, 16, 64],
                  f"{task}: a size-effect line per V ({len(effects)})")
            for v, ys, delta, lo, hi, verdict in effects:
                ys = [float(y) for y in ys.split()]
                check(len(ys) == 5 and abs(float(delta) - (ys[-1] - ys[0])) < 0.0015
                      and float(lo) < float(delta) < float(hi) < 0 and verdict == "falls",
                      f"{task} V={v}: errors {ys} fall by {delta} [{lo}, {hi}] ({verdict})")
        check("eval noise (binomial, 2048 examples)" in proc.stdout,
              "the eval examples the trainer recorded set the noise")
        for name in ("contrast_error_vs_tokens", "contrast_beta_over_alpha"):
            for ext in ("png", "svg"):
                path = os.path.join(out, f"{name}.{ext}")
                check(os.path.isfile(path) and os.path.getsize(path) > 5000,
                      f"{name}.{ext} drawn")
        page = ""
        if os.path.isfile(os.path.join(out, "index.html")):
            with open(os.path.join(out, "index.html"), encoding="utf-8") as f:
                page = f.read()
        check("0.7" in page and "question-only error" in page,
              "the page shows the question-only error column")

        # Bad input: one line on stderr, exit 2, no traceback.
        bogus = os.path.join(tmp, "bogus.h5")
        with open(bogus, "w") as f:
            f.write("not hdf5")
        proc = subprocess.run([PYTHON, CONTRAST, bogus, "-o", out], capture_output=True,
                              text=True, timeout=60)
        check(proc.returncode == 2 and "bogus.h5" in proc.stderr
              and "Traceback" not in proc.stderr and len(proc.stderr.strip().splitlines()) == 1,
              f"a non-HDF5 input exits 2 with one line (got {proc.returncode}: {proc.stderr!r})")
    if failures:
        print(f"{len(failures)} check(s) failed")
        return 1
    print("all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
