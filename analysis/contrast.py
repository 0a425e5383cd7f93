#!/usr/bin/python3
"""The seed paper's contrast, side by side: two or more studies (e.g. visual reasoning and OCR).

  analysis/contrast.py RESULTS.h5 RESULTS.h5 [...] -o DIR [--bootstrap K] [--paper]

For every results file it runs 'vlmscale fit' (bootstrap intervals, largest N held out; the
binary named by $VLMSCALE_BIN or else build/vlmscale of this checkout) and writes into DIR:
index.html with one row per (task, method) -- the baselines that need no model (question-only and
majority error, from the generator), the best and worst measured error, alpha, beta and beta/alpha
with bootstrap 95% intervals, E and R^2 -- and whether the beta/alpha intervals of two tasks are
apart, for each method; the size effect at every visual token count (the error at the largest
LLM minus the smallest, with a 95% interval from the eval set's binomial noise and, with 2+ seeds,
the seed noise; inverted neighbouring pairs judged against their own noise), also printed;
contrast_error_vs_tokens.png/.svg (error against visual tokens, one panel
per (task, method), tasks side by side, the question-only error drawn as a dashed line);
contrast_beta_over_alpha.png/.svg (the ratios with their intervals on a log scale); and the fit
JSON of each study. With --paper it also fits the seed paper's published points
(tests/data/vlm_2411.03312_{reasoning,ocr}.csv) the same way and shows them as reference rows.

Exit codes: 0 ok, 2 bad input (a missing or non-vlmscale results file, a study whose fit failed),
1 an unexpected failure.
"""

import argparse
import html
import math
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from report import STYLE, find_binary, fmt, last_line, run_binary, table  # noqa: E402
from size_effects import (eval_examples, size_effect_lines, size_effects,  # noqa: E402
                          size_effects_html)
from vlmresults import ResultsError, extra_metrics, group_key, load_fit, load_results  # noqa: E402

PROG = "contrast.py"
REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PAPER = [("paper: reasoning", "vlm_2411.03312_reasoning.csv"),
         ("paper: OCR", "vlm_2411.03312_ocr.csv")]


def ratio_value(x):
    """A beta/alpha JSON value: a number, "inf" (alpha = 0) or null."""
    if x == "inf":
        return math.inf
    return x if isinstance(x, (int, float)) else None


def fmt_ratio(x):
    return "∞" if x == math.inf else fmt(x, 3)


def fit_study(binary, args, out_json, bootstrap, holdout):
    """Runs 'vlmscale fit ARGS --json out_json' with bootstrap and (if possible) a holdout."""
    base = [binary, "fit"] + args + ["--json", out_json, "--brief", "--bootstrap", str(bootstrap)]
    code, _, err = run_binary(base + ["--holdout-largest", str(holdout)])
    if code != 0:
        code, _, err = run_binary(base)
    if code != 0:
        raise ResultsError(f"vlmscale fit {' '.join(args)} failed: {last_line(err)}")
    return load_fit(out_json)


def baselines(results):
    """task -> (question-only error, majority error): means over the done jobs that record them."""
    sums = {}
    for job in results.done_jobs():
        extra = extra_metrics(job)
        q, m = extra.get("qonly_error"), extra.get("majority_error")
        if isinstance(q, (int, float)) and isinstance(m, (int, float)):
            s = sums.setdefault(job["task"], [0.0, 0.0, 0])
            s[0] += q
            s[1] += m
            s[2] += 1
    return {task: (q / k, m / k) for task, (q, m, k) in sums.items()}


def row_of(study, fit, measured, baseline):
    """One table row (a dict) for a fitted group."""
    ratio = fit.get("beta_over_alpha") or {}
    ci = ratio.get("ci95")
    ys = [p["y"] for p in fit.get("points", [])]
    return {
        "study": study, "group": group_key(fit) or study, "task": (fit.get("group") or {}).get(
            "task", study), "method": (fit.get("group") or {}).get("method", ""),
        "fit": fit, "points": measured, "qonly": baseline[0] if baseline else None,
        "majority": baseline[1] if baseline else None,
        "best": min(ys) if ys else None, "worst": max(ys) if ys else None,
        "ratio": ratio_value(ratio.get("value")),
        "ratio_ci": (ratio_value(ci[0]), ratio_value(ci[1])) if ci else None,
    }


def apart(a, b):
    """'apart' when two intervals do not overlap, 'overlap' when they do, '?' without both."""
    if not a or not b or None in a or None in b:
        return "?"
    return "apart" if a[1] < b[0] or b[1] < a[0] else "overlap"


def verdicts(rows):
    """For each method measured on several tasks: whether every pair of tasks' intervals is apart."""
    by_method = {}
    for r in rows:
        if not r["study"].startswith("paper"):
            by_method.setdefault(r["method"], []).append(r)
    out = []
    for method, rs in sorted(by_method.items()):
        for i in range(len(rs)):
            for j in range(i + 1, len(rs)):
                if rs[i]["task"] == rs[j]["task"]:
                    continue
                out.append((method, rs[i], rs[j], apart(rs[i]["ratio_ci"], rs[j]["ratio_ci"])))
    return out


def contrast_table(rows):
    headers = ["study", "task / method", "question-only error", "majority error", "best error",
               "worst error", "α [95% CI]", "β [95% CI]", "β/α [95% CI]", "E", "R²"]
    body = []
    for r in rows:
        fit = r["fit"]
        p, ci = fit["params"], fit.get("ci95") or {}
        at_bound = set(fit.get("at_bound") or [])

        def with_ci(name):
            c = ci.get(name)
            return fmt(p[name], 3) + (f" [{fmt(c[0], 3)}, {fmt(c[1], 3)}]" if c else "")
        rci = r["ratio_ci"]
        body.append((html.escape(r["study"]), html.escape(r["group"]), fmt(r["qonly"], 3),
                     fmt(r["majority"], 3), fmt(r["best"], 3), fmt(r["worst"], 3),
                     with_ci("alpha"), with_ci("beta"),
                     fmt_ratio(r["ratio"]) + (f" [{fmt_ratio(rci[0])}, {fmt_ratio(rci[1])}]"
                                               if rci else ""),
                     fmt(p["E"], 3) + (" (at bound)" if "E" in at_bound else ""),
                     fmt(fit.get("r2"), 3)))
    return table(headers, body)


def error_figure(rows, out_dir):
    """Error vs T per (task, method), tasks side by side; the question-only error dashed."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np
    from figures import _save, human_count
    from vlmresults import law

    studies = [r for r in rows if r["points"]]
    methods = sorted({r["method"] for r in studies})
    tasks = []
    for r in studies:
        if r["task"] not in tasks:
            tasks.append(r["task"])
    fig, axes = plt.subplots(len(methods), len(tasks), figsize=(6.0 * len(tasks),
                             4.2 * len(methods)), squeeze=False)
    for i, method in enumerate(methods):
        for j, task in enumerate(tasks):
            ax = axes[i][j]
            match = [r for r in studies if r["method"] == method and r["task"] == task]
            if not match:
                ax.set_visible(False)
                continue
            r = match[0]
            ns = sorted({p["n"] for p in r["points"]})
            colors = plt.cm.viridis(np.linspace(0.0, 0.85, len(ns)))
            t_all = [p["t"] for p in r["points"]]
            t_dense = np.geomspace(min(t_all), max(t_all), 100)
            for color, n in zip(colors, ns):
                pts = [p for p in r["points"] if p["n"] == n]
                ax.plot([p["t"] for p in pts], [p["y"] for p in pts], "o", color=color,
                        label=f"{pts[0]['llm']} ({human_count(n)})")
                ax.plot(t_dense, law(r["fit"], np.full_like(t_dense, n), t_dense), "-",
                        color=color, lw=1.2)
            if r["qonly"] is not None:
                ax.axhline(r["qonly"], color="0.4", ls="--", lw=1,
                           label=f"question only ({r['qonly']:.3f})")
            ax.set_xscale("log")
            ax.set_xlabel("visual tokens T (count, log scale)")
            ax.set_ylabel("error Y = 1 − accuracy")
            rci = r["ratio_ci"]
            ax.set_title(f"{task} / {method}: β/α = {fmt_ratio(r['ratio'])}"
                         + (f" [{fmt_ratio(rci[0])}, {fmt_ratio(rci[1])}]" if rci else ""))
            ax.legend(fontsize=8, loc="upper right")
    fig.suptitle("Error vs visual tokens per LLM size, tasks side by side (lines: fitted law)")
    fig.tight_layout()
    return _save(fig, out_dir, "contrast_error_vs_tokens")


def ratio_figure(rows, out_dir):
    """beta/alpha with its interval per row, log x; reference rows (paper) in grey."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from figures import _save

    shown = [r for r in rows if r["ratio"] is not None and r["ratio"] > 0]
    if not shown:
        return None
    fig, ax = plt.subplots(figsize=(7.5, 0.5 * len(shown) + 1.6))
    finite = [x for r in shown for x in [r["ratio"]] + list(r["ratio_ci"] or [])
              if x is not None and 0 < x < math.inf]
    hi = max(finite) * 3 if finite else 10.0
    lo = min(finite) / 3 if finite else 0.01
    for k, r in enumerate(reversed(shown)):
        color = "0.55" if r["study"].startswith("paper") else "C0" if r["method"] == "avgpool" \
            else "C1"
        ci = r["ratio_ci"]
        if ci and ci[0] is not None and ci[1] is not None:
            ax.plot([max(ci[0], lo), min(ci[1], hi)], [k, k], "-", color=color, lw=2)
        ax.plot([min(r["ratio"], hi)], [k], "o", color=color)
    ax.set_yticks(range(len(shown)))
    ax.set_yticklabels([r["study"] if r["group"] == r["study"] else f"{r['study']}: {r['group']}"
                        for r in reversed(shown)], fontsize=8)
    ax.axvline(1.0, color="0.3", ls=":", lw=1)
    ax.set_xscale("log")
    ax.set_xlim(lo, hi)
    ax.set_xlabel("β/α (bootstrap 95% interval; < 1: parameters pay more than tokens)")
    fig.tight_layout()
    return _save(fig, out_dir, "contrast_beta_over_alpha")


def main(argv):
    parser = argparse.ArgumentParser(prog=PROG, description=__doc__.split("\n\n")[0])
    parser.add_argument("results", nargs="+", help="RESULTS.h5 files written by 'vlmscale run'")
    parser.add_argument("-o", "--output", required=True, help="directory for the page")
    parser.add_argument("--bootstrap", type=int, default=200,
                        help="bootstrap resamples per fit (default 200)")
    parser.add_argument("--holdout-largest", type=int, default=1,
                        help="largest N values held out (default 1; dropped when too few N)")
    parser.add_argument("--paper", action="store_true",
                        help="add the seed paper's published points as reference rows")
    args = parser.parse_args(argv)
    if args.bootstrap < 20:
        parser.error("--bootstrap must be >= 20 (the intervals are the point of the page)")
    binary = find_binary()
    if binary is None:
        raise ResultsError("no vlmscale binary (set VLMSCALE_BIN or build build/vlmscale)")
    os.makedirs(args.output, exist_ok=True)

    import figures as figs

    rows = []
    effects = []  # (study, group, size-effect rows, noise terms) per fitted group.
    for path in args.results:
        results = load_results(path)
        if not results.done_jobs():
            raise ResultsError(f"{path}: no job is done yet; nothing to fit")
        name = results.sweep_name
        out_json = os.path.join(args.output, f"fit_{name}.json")
        fits = fit_study(binary, [path], out_json, args.bootstrap, args.holdout_largest)
        points = figs.measured_points(results)
        base = baselines(results)
        n_eval = eval_examples(results)
        for fit in fits:
            task = (fit.get("group") or {}).get("task")
            key = group_key(fit)
            rows.append(row_of(name, fit, points.get(key, []), base.get(task)))
            effects.append((name, key or name, *size_effects(points.get(key, []),
                                                              n_eval.get(key))))
    if args.paper:
        for study, csv in PAPER:
            path = os.path.join(REPO_ROOT, "tests", "data", csv)
            out_json = os.path.join(args.output, "fit_" + csv.replace(".csv", ".json"))
            fits = fit_study(binary, ["--csv", path, "--n-col", "N_llm_params_billion",
                                      "--t-col", "T_visual_tokens", "--y-col", "Y_error"],
                             out_json, args.bootstrap, args.holdout_largest)
            rows.append(row_of(study, fits[0], [], None))

    parts = ["<h1>Task contrast: does the error fall faster with LLM size or with visual "
             "tokens?</h1>",
             "<p>β/α below 1: at a fixed inference budget, parameters lower the error faster "
             "than visual tokens (the seed paper's finding for visual reasoning); above 1: tokens "
             "pay more (OCR-like tasks). Intervals are bootstrap percentiles of the per-resample "
             "ratio. A score means something only against the question-only error, shown beside "
             "it.</p>",
             contrast_table(rows)]
    for method, a, b, verdict in verdicts(rows):
        parts.append(f"<p><b>{html.escape(method)}</b>: β/α {html.escape(a['task'])} "
                     f"{fmt_ratio(a['ratio'])} vs {html.escape(b['task'])} "
                     f"{fmt_ratio(b['ratio'])}: intervals <b>{verdict}</b>.</p>")
    parts.append(size_effects_html(effects))
    files = [error_figure(rows, args.output), ratio_figure(rows, args.output)]
    for f in files:
        if f:
            png, svg = (os.path.relpath(p, args.output) for p in f)
            parts.append(f'<figure><a href="{html.escape(svg)}"><img src="{html.escape(png)}">'
                         "</a></figure>")
    index = os.path.join(args.output, "index.html")
    with open(index, "w", encoding="utf-8") as f:
        f.write("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>vlmscale "
                f"task contrast</title><style>{STYLE}</style></head>\n<body>\n"
                + "\n".join(parts) + "\n</body></html>\n")
    for r in rows:
        rci = r["ratio_ci"]
        print(f"{r['study']:<18} {r['group']:<18} question-only {fmt(r['qonly'], 3):<6} "
              f"best {fmt(r['best'], 3):<6} beta/alpha {fmt_ratio(r['ratio'])}"
              + (f" [{fmt_ratio(rci[0])}, {fmt_ratio(rci[1])}]" if rci else ""))
    for method, a, b, verdict in verdicts(rows):
        print(f"{method}: {a['task']} vs {b['task']}: beta/alpha intervals {verdict}")
    if effects:
        print("size effect per V (error at the largest N minus the smallest, 95% interval):")
        for study, group, erows, noise in effects:
            print(f"  {study} {group}: noise = {noise}")
            for line in size_effect_lines(study, group, erows):
                print("  " + line)
    print(f"page: {os.path.abspath(index)}")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except ResultsError as e:
        print(f"{PROG}: error: {e}", file=sys.stderr)
        sys.exit(2)
