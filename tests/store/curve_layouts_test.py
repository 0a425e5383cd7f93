#!/usr/bin/python3
"""Both curve layouts read the same (docs/RESULTS.md, "Curves"): a results file of format version 1
(the README's shipped tests/data/readme/quickstart.h5, curves in /curves/<job>/<curve> groups) and
one of version 2 (written now, curves in the /curve_points table) give every curve point back
through `vlmscale export` and through analysis/vlmresults.py, compared with h5py's own reading.

Environment: VLMSCALE_BIN (set by CTest). Usage: curve_layouts_test.py STORE_MAKE_RESULTS
"""
import json
import os
import subprocess
import sys
import tempfile

import h5py
import numpy as np

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
sys.path.insert(0, os.path.join(ROOT, "analysis"))
import vlmresults  # noqa: E402


def check(cond, what):
    if not cond:
        print("FAIL:", what)
        sys.exit(1)


def exported_curves(vlmscale, path):
    out = subprocess.run([vlmscale, "export", path, "--format", "json"], capture_output=True,
                         text=True)
    check(out.returncode == 0, f"export of {path}: {out.stderr}")
    return {j["job_id"]: {name: [tuple(p) for p in rows] for name, rows in j["curves"].items()}
            for j in json.loads(out.stdout)["jobs"]}


def h5py_curves(path):
    """{job_id: {name: [(step, value)]}} read by h5py from either layout."""
    curves = {}
    with h5py.File(path, "r", locking=False) as f:
        if "curve_points" in f:
            check(int(f.attrs["format_version"]) == 2, "version 2 has /curve_points")
            for job, name, step, value in f["curve_points"][()]:
                per_job = curves.setdefault(job.decode(), {})
                per_job.setdefault(name.decode(), []).append((int(step), float(value)))
        else:
            check(int(f.attrs["format_version"]) == 1, "version 1 has /curves groups")
            for job, group in f["curves"].items():
                for dataset in group.values():
                    name = dataset.attrs["name"]
                    name = name.decode() if isinstance(name, bytes) else str(name)
                    curves.setdefault(job, {})[name] = [(int(s), float(v))
                                                        for s, v in dataset[()]]
    return curves


def check_file(vlmscale, path, min_points):
    want = h5py_curves(path)
    points = sum(len(rows) for per_job in want.values() for rows in per_job.values())
    check(points >= min_points, f"{path}: {points} curve points, expected >= {min_points}")
    got = exported_curves(vlmscale, path)
    for job, per_job in want.items():
        check(got.get(job) == per_job, f"{path}: export of job {job}'s curves")
    results = vlmresults.load_results(path)
    for job, per_job in want.items():
        for name, rows in per_job.items():
            steps, values = results.curve(job, name)
            check(steps.tolist() == [float(s) for s, _ in rows] and
                  np.allclose(values, [v for _, v in rows]), f"{path}: analysis curve {job} {name}")
    print(f"{path}: {points} points of {len(want)} jobs read alike")


def main():
    vlmscale, maker = os.environ["VLMSCALE_BIN"], sys.argv[1]
    check_file(vlmscale, os.path.join(ROOT, "tests", "data", "readme", "quickstart.h5"), 100)
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "r.h5")
        subprocess.run([maker, path, "--done", "4", "--failed", "1", "--curves"], check=True,
                       capture_output=True)
        check_file(vlmscale, path, 12)
    print("curve layouts test passed")


if __name__ == "__main__":
    main()
