#!/usr/bin/python3
"""End-to-end test of analysis/report.py.

Runs a real small sweep of sleep jobs under mpirun (2 ranks) with the vlmscale binary named by
$VLMSCALE_BIN, draws the report with analysis/report.py (which runs vlmscale fit and frontier
itself), checks every figure is a valid, non-trivial PNG and SVG, opens the HTML page in headless
chromium and checks that it renders with every image loaded, takes a screenshot, and checks that
bad results files exit 2 with one line and no traceback.

  tests/analysis/report_test.py   (from the repository root; VLMSCALE_BIN must be set)
"""

import json
import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ElementTree

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
REPORT = os.path.join(ROOT, "analysis", "report.py")
PYTHON = "/usr/bin/python3"
FIGURES = ["error_vs_tokens", "frontier", "methods", "curves", "fit_quality"]

failures = []


def check(condition, message):
    if condition:
        print(f"ok    {message}")
    else:
        print(f"FAIL  {message}")
        failures.append(message)
    return condition


def run(args, timeout=300, env=None):
    start = time.monotonic()
    proc = subprocess.run(args, capture_output=True, text=True, timeout=timeout, env=env)
    print(f"      ({time.monotonic() - start:.1f} s: {' '.join(os.path.basename(a) for a in args[:3])})")
    return proc.returncode, proc.stdout, proc.stderr


def check_png(path, min_width=300, min_height=200):
    """A real PNG: signature, IHDR size, decodes, and is not (nearly) a single colour."""
    import matplotlib.image as mpimg

    name = os.path.relpath(path)
    if not check(os.path.isfile(path), f"{name} exists"):
        return
    with open(path, "rb") as f:
        head = f.read(24)
    check(head[:8] == b"\x89PNG\r\n\x1a\n", f"{name} has the PNG signature")
    width, height = struct.unpack(">II", head[16:24])
    check(width >= min_width and height >= min_height,
          f"{name} is {width}x{height} (>= {min_width}x{min_height})")
    check(os.path.getsize(path) > 10_000, f"{name} is {os.path.getsize(path)} bytes (> 10 kB)")
    pixels = mpimg.imread(path)
    check(pixels.shape[0] == height and pixels.shape[1] == width, f"{name} decodes")
    rgb = (pixels[..., :3] * 255).astype(np.uint8).reshape(-1, 3)
    colours = len(np.unique(rgb, axis=0))
    check(colours >= 20, f"{name} has {colours} distinct colours (>= 20)")
    background = np.all(rgb >= 250, axis=1).mean()
    check(0.2 < background < 0.995, f"{name}: {100 * background:.1f}% near-white pixels")


def check_svg(path):
    name = os.path.relpath(path)
    if not check(os.path.isfile(path), f"{name} exists"):
        return
    root = ElementTree.parse(path).getroot()
    check(root.tag.endswith("svg"), f"{name} is an SVG document")
    check(len(list(root.iter())) > 100, f"{name} has {len(list(root.iter()))} elements (> 100)")


def chromium(args, timeout=180):
    profile = tempfile.mkdtemp(prefix="chromium-profile-")
    try:
        return run(["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                    "--no-first-run", "--disable-background-networking",
                    "--disable-component-update", "--disable-sync", f"--user-data-dir={profile}",
                    "--virtual-time-budget=5000"] + args, timeout=timeout)
    finally:
        shutil.rmtree(profile, ignore_errors=True)


def check_bad_input(path, what, expected):
    code, out, err = run([PYTHON, REPORT, path, "-o", os.path.join(os.path.dirname(path), "x")])
    lines = err.strip().splitlines()
    check(code == 2, f"{what}: exit code {code} (expected 2)")
    check(len(lines) == 1 and "Traceback" not in err,
          f"{what}: one line on stderr, no traceback ({err.strip()!r})")
    check(lines and lines[0].startswith("report.py: error: ") and expected in lines[0],
          f"{what}: message names the problem ({expected!r})")


def main():
    binary = os.environ.get("VLMSCALE_BIN")
    if not binary or not os.access(binary, os.X_OK):
        print("VLMSCALE_BIN must name the vlmscale binary", file=sys.stderr)
        return 1
    work = tempfile.mkdtemp(prefix="analysis-report-test-")
    results = os.path.join(work, "sweep.h5")
    config = os.path.join(work, "sweep.ini")
    with open(config, "w") as f:
        f.write(f"""[sweep]
name = analysis_test
output = {results}
[grid]
llm = nano, micro, mini, small
visual_tokens = 1, 4, 16, 64
method = avgpool, quecc
task = shapes
seed = 0, 1
[job]
type = sleep
[sleep]
fail = llm=nano,visual_tokens=4,method=quecc,seed=1
[model]
grid_size = 8
[run]
max_attempts = 1
""")
    env = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1",
               OMPI_MCA_rmaps_base_oversubscribe="1")
    code, out, err = run(["mpirun", "--oversubscribe", "-np", "2", binary, "run", config],
                         env=env)
    check(code in (0, 1), f"sweep ran (exit {code}: 1 = the one job told to fail failed)")
    if not check(os.path.isfile(results), "the sweep wrote its results file"):
        print(out, err)
        return 1

    # The report, with the fit and frontier run by report.py itself.
    out_dir = os.path.join(work, "report")
    code, out, err = run([PYTHON, REPORT, results, "-o", out_dir, "--text-tokens", "50"],
                         timeout=400)
    if not check(code == 0, f"report.py exits 0 (got {code})"):
        print(out, err)
        return 1
    printed = dict(re.findall(r"^(\w+):\s+(\S+)", out, re.M))
    check(printed.get("report") == os.path.join(out_dir, "index.html"), "prints the report path")
    check(printed.get("fit") == os.path.join(out_dir, "fit.json"), "prints the fit path")
    for name in FIGURES:
        check(os.path.join(out_dir, name + ".png") in out, f"prints the path of {name}.png")
        check_png(os.path.join(out_dir, name + ".png"))
        check_svg(os.path.join(out_dir, name + ".svg"))

    # The fit report.py ran recovers the sleep job's law: error = 0.1 + 2 N^-0.2 T^-0.1.
    with open(os.path.join(out_dir, "fit.json")) as f:
        fits = json.load(f)["fits"]
    check(sorted(f"{x['group']['task']}/{x['group']['method']}" for x in fits)
          == ["shapes/avgpool", "shapes/quecc"], "one fit per (task, method)")
    for fit in fits:
        p = fit["params"]
        check(abs(p["alpha"] - 0.2) < 1e-3 and abs(p["beta"] - 0.1) < 1e-3,
              f"fit recovers alpha=0.2, beta=0.1 (got {p['alpha']:.4g}, {p['beta']:.4g})")
        check(fit.get("ci95") and fit.get("extrapolation"), "fit has intervals and held-out N")
    for method in ("avgpool", "quecc"):
        path = os.path.join(out_dir, f"frontier_shapes_{method}.json")
        with open(path) as f:
            frontier = json.load(f)
        # Closed form T* = beta Q / (alpha - beta) = 0.1 * 50 / 0.1 = 50.
        check(abs(frontier["closed_form_t"] - 50) < 0.5,
              f"frontier for {method}: T* = {frontier['closed_form_t']:.3g} (expected 50)")

    page = open(os.path.join(out_dir, "index.html"), encoding="utf-8").read()
    images = re.findall(r'<img src="([^"]+)"', page)
    check(len(images) == len(FIGURES), f"the page references {len(images)} images")
    check(all(not re.match(r"[a-z]+:", src) for src in images), "images are relative paths")
    check(not re.search(r'(src|href)="(https?:)?//', page), "nothing is loaded from the network")
    for text in ("Sweep summary", "Fitted scaling laws", "Inference-optimal frontier",
                 "95% CI", "Failed jobs (1)", "63 done", "Job time (train + eval)"):
        check(text in page, f"the page contains {text!r}")
    check(0 <= page.find("<h2>Figures") < page.find("Sweep summary") < page.find("Fitted scaling"),
          "figures come first, tables after")
    check("POOR FIT" not in page, "an exact fit is not flagged as poor")
    # The exact law lowers the error with N at every V, and the two seeds agree exactly.
    check("Does the error fall with LLM size at every V?" in page
          and page.count("<td>falls</td>") == 8 and "<td>flat</td>" not in page,
          f"the size effect falls at each of 2 methods x 4 V "
          f"({page.count('<td>falls</td>')} rows say so)")

    # Render it in a real browser: every image loads, and a screenshot is non-trivial.
    if not check(shutil.which("chromium") is not None, "chromium is installed"):
        return 1
    url = "file://" + os.path.join(out_dir, "index.html")
    code, dom, err = chromium(["--dump-dom", url])
    check(code == 0, f"chromium --dump-dom exits 0 (got {code})")
    check(f'data-images-loaded="{len(FIGURES)}"' in dom,
          f"all {len(FIGURES)} images loaded in the browser (data-images-loaded)")
    check('data-images-failed="' not in dom, "no image failed to load")
    check("shapes/avgpool" in dom and "Figures" in dom, "the rendered DOM holds the content")
    shot = os.path.join(work, "screenshot.png")
    code, _, err = chromium(["--window-size=1280,2400", f"--screenshot={shot}", url])
    check(code == 0, f"chromium --screenshot exits 0 (got {code})")
    check_png(shot, min_width=1280, min_height=2400)

    # With a fit JSON given, report.py uses it instead of fitting.
    out2 = os.path.join(work, "report2")
    code, out, err = run([PYTHON, REPORT, results, "-o", out2, "--fit",
                          os.path.join(out_dir, "fit.json"), "--text-tokens", "0"])
    check(code == 0, f"report.py --fit exits 0 (got {code}: {err.strip()[-300:]})")
    check(not os.path.exists(os.path.join(out2, "fit.json")), "--fit: no fit is run")
    page2 = open(os.path.join(out2, "index.html"), encoding="utf-8").read()
    check("Fit read from" in page2 and "Q = 0 text tokens" in page2, "--fit page says so")
    # Without --text-tokens the frontier uses the Q the fit recorded from the sweep.
    out3 = os.path.join(work, "report3")
    code, out, err = run([PYTHON, REPORT, results, "-o", out3, "--fit",
                          os.path.join(out_dir, "fit.json")])
    check(code == 0, f"report.py without --text-tokens exits 0 (got {code}: {err.strip()[-300:]})")
    recorded_q = fits[0].get("text_tokens")
    with open(os.path.join(out3, "frontier_shapes_avgpool.json")) as f:
        check(json.load(f)["text_tokens"] == recorded_q,
              f"the frontier uses the fit's Q ({recorded_q})")
    page3 = open(os.path.join(out3, "index.html"), encoding="utf-8").read()
    check("from the sweep)" in page3, "the page says Q came from the sweep")
    check_png(os.path.join(out2, "frontier.png"))

    # Bad inputs: one line, exit 2.
    bad = os.path.join(work, "bad")
    os.makedirs(bad)
    check_bad_input(os.path.join(bad, "missing.h5"), "missing file", "no such file")
    open(os.path.join(bad, "empty.h5"), "w").close()
    check_bad_input(os.path.join(bad, "empty.h5"), "empty file", "empty file")
    with open(os.path.join(bad, "text.h5"), "w") as f:
        f.write("job_id,error\n1,0.5\n")
    check_bad_input(os.path.join(bad, "text.h5"), "text file", "not an HDF5 file")
    import h5py

    with h5py.File(os.path.join(bad, "other.h5"), "w") as f:
        f.attrs["format"] = "something-else"
        f["x"] = np.arange(3)
    check_bad_input(os.path.join(bad, "other.h5"), "non-vlmscale HDF5",
                    "not a vlmscale results file")
    with open(os.path.join(bad, "fit.json"), "w") as f:
        f.write("{\"hello\": 1}")
    code, _, err = run([PYTHON, REPORT, results, "-o", os.path.join(bad, "o"), "--fit",
                        os.path.join(bad, "fit.json")])
    check(code == 2 and len(err.strip().splitlines()) == 1 and "not a vlmscale fit JSON" in err,
          f"a bad fit JSON exits 2 with one line ({err.strip()!r})")

    if failures:
        print(f"{len(failures)} check(s) failed; files kept in {work}")
        return 1
    shutil.rmtree(work, ignore_errors=True)
    print("all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
