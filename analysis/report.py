#!/usr/bin/python3
"""Static HTML report of a vlmscale sweep: summary, fitted laws, frontier table and figures.

  analysis/report.py RESULTS.h5 -o DIR [--fit FIT.json] [--text-tokens Q]

Q (text tokens per query) defaults, per group, to the sweep's Q that 'vlmscale fit' records in the
fit JSON (text_tokens), so the report and 'vlmscale frontier' use the same one.

Reads RESULTS.h5 with h5py (layout: docs/RESULTS.md). Without --fit it runs 'vlmscale fit'
(bootstrap intervals, largest N held out) and, in every case, 'vlmscale frontier' per group, with
the binary named by $VLMSCALE_BIN or else build/vlmscale of this checkout. Writes into DIR:
index.html, the figures as PNG and SVG, fit.json (when it ran the fit) and frontier_*.json. The
page works offline: no scripts or styles from the network, images referenced relatively.

Exit codes: 0 ok, 2 bad input (missing, empty or non-vlmscale results file, bad fit JSON;
one line on stderr), 1 an unexpected failure.
"""

import argparse
import datetime
import html
import json
import math
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from vlmresults import (ResultsError, group_key, law_text, load_fit, load_results,  # noqa: E402
                        merge_export, setting, varied_settings)

PROG = "report.py"
REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def find_binary():
    """$VLMSCALE_BIN, else build/vlmscale of this checkout, else None."""
    candidate = os.environ.get("VLMSCALE_BIN") or os.path.join(REPO_ROOT, "build", "vlmscale")
    return candidate if os.path.isfile(candidate) and os.access(candidate, os.X_OK) else None


def run_binary(args):
    """Runs vlmscale; returns (exit code, stdout, stderr)."""
    proc = subprocess.run(args, capture_output=True, text=True)
    return proc.returncode, proc.stdout, proc.stderr


def last_line(text):
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1] if lines else ""


def run_fit(binary, results_path, out_dir, bootstrap, holdout, notes, stage=None):
    """Fits every (task, method) group; returns the fit JSON path or None (reason in notes)."""
    fit_path = os.path.join(out_dir, "fit.json")
    base = [binary, "fit", results_path, "--json", fit_path, "--brief"]
    if stage:
        base += ["--stage", stage]
    attempts = []
    if holdout > 0:
        attempts.append(base + ["--bootstrap", str(bootstrap), "--holdout-largest", str(holdout)])
    attempts.append(base + ["--bootstrap", str(bootstrap)] if bootstrap > 0 else base)
    attempts.append(base)
    for i, args in enumerate(attempts):
        code, _, err = run_binary(args)
        if code == 0:
            notes.append("Fit: <code>" + html.escape(" ".join(args[1:])) + "</code>")
            return fit_path
        reason = last_line(err) or f"exit code {code}"
        if i + 1 < len(attempts):
            print(f"{PROG}: note: '{' '.join(args[1:])}' failed ({reason}); retrying simpler",
                  file=sys.stderr)
    notes.append(f"The fit failed: {html.escape(reason)}. Figures show measured points only.")
    print(f"{PROG}: warning: vlmscale fit failed: {reason}", file=sys.stderr)
    return None


DEFAULT_Q = 50.0
POOR_R2 = 0.5        # Below this R² a fit is flagged as poor.
WIDE_INTERVAL = 10.0  # A 95% interval whose ends differ by this factor spans an order of magnitude.


def fit_q(fit, q_given):
    """(Q, where it came from) for one fit: --text-tokens, else the fit's recorded text_tokens,
    else DEFAULT_Q."""
    if q_given is not None:
        return q_given, "--text-tokens"
    q = fit.get("text_tokens")
    if isinstance(q, (int, float)) and math.isfinite(q) and q >= 0:
        return float(q), "the sweep"
    return DEFAULT_Q, f"default {DEFAULT_Q:g}: the fit records no Q"


def poor_fit_reasons(fit):
    """Why a fit should not be trusted: R² below POOR_R2, or a 95% interval of A, B, alpha, beta
    or beta/alpha whose ends differ by more than WIDE_INTERVAL (an end at 0 or infinity counts).
    An empty list when neither."""
    reasons = []
    r2 = fit.get("r2")
    if isinstance(r2, (int, float)) and r2 < POOR_R2:
        reasons.append(f"R² = {r2:.3g} < {POOR_R2:g}")
    intervals = dict((fit.get("ci95") or {}))
    ratio = (fit.get("beta_over_alpha") or {}).get("ci95")
    if ratio:
        intervals["beta/alpha"] = ratio
    for name in ("A", "B", "alpha", "beta", "beta/alpha"):
        iv = intervals.get(name)
        if not iv or len(iv) != 2:
            continue
        lo, hi = (math.inf if v == "inf" else v for v in iv)
        if lo is None or hi is None or not isinstance(lo, (int, float)) or hi <= 0:
            continue
        if lo <= 0 or not math.isfinite(hi) or hi / lo > WIDE_INTERVAL:
            reasons.append(f"the 95% interval of {name} [{fmt(lo)}, {fmt(hi)}] spans more than "
                           "an order of magnitude")
    return reasons


def human_duration(seconds):
    """'45 s', '12 min 5 s', '3 h 02 min', '2 d 4 h'."""
    if seconds is None or not isinstance(seconds, (int, float)) or not math.isfinite(seconds):
        return "–"
    s = int(round(seconds))
    if s < 60:
        return f"{seconds:.3g} s" if seconds < 10 else f"{s} s"
    if s < 3600:
        return f"{s // 60} min {s % 60} s"
    if s < 86400:
        return f"{s // 3600} h {s % 3600 // 60:02d} min"
    return f"{s // 86400} d {s % 86400 // 3600} h"


def human_time(unix_seconds):
    """Unix seconds as 'YYYY-MM-DD HH:MM:SS UTC'."""
    when = datetime.datetime.fromtimestamp(float(unix_seconds), datetime.timezone.utc)
    return when.strftime("%Y-%m-%d %H:%M:%S UTC")


def run_info_text(key, value):
    """A run-info value for humans: times as dates, *_seconds as durations."""
    if key in ("started", "updated") and isinstance(value, (int, float)) and value > 0:
        return human_time(value)
    if key.endswith("_seconds") and isinstance(value, (int, float)):
        return human_duration(value)
    return str(value)


def run_frontiers(binary, fit_path, fits, q_given, out_dir, notes):
    """'task/method' -> frontier JSON dict for every group the binary could compute."""
    frontiers = {}
    for fit in fits:
        key = group_key(fit)
        name = "frontier_" + (key.replace("/", "_") or "fit") + ".json"
        path = os.path.join(out_dir, name)
        q, _ = fit_q(fit, q_given)
        args = [binary, "frontier", fit_path, "--text-tokens", f"{q:g}", "--json", path]
        if key:
            args += ["--group", key]
        code, _, err = run_binary(args)
        if code != 0:
            notes.append(f"Frontier for {html.escape(key)}: {html.escape(last_line(err))}")
            continue
        with open(path) as f:
            frontiers[key] = json.load(f)
    return frontiers


def fmt(x, digits=4):
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "–"
    if isinstance(x, (int,)) and not isinstance(x, bool):
        return str(x)
    return f"{x:.{digits}g}"


def table(headers, rows, cls=""):
    out = [f'<table class="{cls}">']
    if any(headers):
        out.append("<thead><tr>" + "".join(f"<th>{html.escape(h)}</th>" for h in headers)
                   + "</tr></thead>")
    out.append("<tbody>")
    for row in rows:
        out.append("<tr>" + "".join(f"<td>{cell}</td>" for cell in row) + "</tr>")
    out.append("</tbody></table>")
    return "".join(out)


def summary_section(results):
    from figures import human_count

    jobs = results.jobs
    by_status = {}
    for job in jobs:
        by_status[job["status"]] = by_status.get(job["status"], 0) + 1
    llms = sorted({(j["n_params"], j["llm"]) for j in jobs})
    rows = [
        ("Results file", html.escape(os.path.abspath(results.path))),
        ("Sweep", html.escape(results.sweep_name)),
        ("Read from", html.escape(results.source)),
        ("Jobs", ", ".join(f"{n} {html.escape(s)}" for s, n in sorted(by_status.items()))
         + f" (total {len(jobs)})"),
        ("LLMs (N)", ", ".join(f"{html.escape(l)} ({human_count(n)})" for n, l in llms)),
        ("Visual tokens T", ", ".join(str(t) for t in sorted({j["visual_tokens"] for j in jobs}))),
        ("Methods", html.escape(", ".join(sorted({j["method"] for j in jobs})))),
        ("Tasks", html.escape(", ".join(sorted({j["task"] for j in jobs})))),
        ("Seeds", ", ".join(str(s) for s in sorted({j["seed"] for j in jobs}))),
    ]
    attrs = results.attrs
    if "snapshot_time" in attrs:
        rows.append(("Snapshot written", human_time(attrs["snapshot_time"])))
    busy = [j for j in jobs if j["status"] == "done"]
    if busy:
        total = sum((j.get("train_seconds") or 0) + (j.get("eval_seconds") or 0) for j in busy)
        rows.append(("Job time (train + eval)", f"{human_duration(total)} over {len(busy)} done "
                     f"jobs, {human_duration(total / len(busy))} each on average"))
    rows.append(("Writer", html.escape(f"vlmscale {attrs.get('vlmscale_version', '?')}, "
                                       f"commit {attrs.get('git_commit', '?')}")))
    info = results.run_info
    if info:
        rows.append(("Run info", html.escape(", ".join(f"{k}={run_info_text(k, v)}"
                                                     for k, v in info.items()
                                                     if not isinstance(v, (list, dict)) or v))))
    parts = ["<h2>Sweep summary</h2>", table(["", ""], rows, "kv")]
    failed = [j for j in jobs if j["status"] == "failed"]
    if failed:
        parts.append(f"<h3>Failed jobs ({len(failed)})</h3>")
        parts.append(table(["job", "llm", "T", "method", "task", "seed", "class", "message"], [
            (html.escape(j["job_id"]), html.escape(j["llm"]), j["visual_tokens"],
             html.escape(j["method"]), html.escape(j["task"]), j["seed"],
             html.escape(j.get("failure_class", "")), html.escape(j.get("message", ""))[:300])
            for j in failed[:50]]))
        if len(failed) > 50:
            parts.append(f"<p>… and {len(failed) - 50} more (see <code>vlmscale status</code>)"
                         "</p>")
    config_text = attrs.get("config_text", "")
    if config_text:
        parts.append("<details><summary>Resolved config</summary><pre>"
                     + html.escape(config_text) + "</pre></details>")
    return "\n".join(parts)


def best_settings_section(results):
    """Per varied setting (e.g. train.lr of a learning-rate sweep): for each task, method and N,
    the value with the lowest mean error over visual tokens and seeds, and every value's mean."""
    from figures import human_count

    parts = []
    jobs = results.done_jobs()
    for key in varied_settings(results):
        groups = {}
        for j in jobs:
            point = (j["task"], j["method"], j["n_params"], j["llm"])
            groups.setdefault(point, {}).setdefault(setting(j, key), []).append(j["error"])
        rows = []
        for (task, method, n, llm), by_value in sorted(groups.items()):
            means = {v: sum(e) / len(e) for v, e in by_value.items()}
            best = min(means, key=means.get)
            rows.append((html.escape(task), html.escape(method), html.escape(llm), human_count(n),
                         f"<b>{html.escape(best or '(default)')}</b>", fmt(means[best]),
                         html.escape(", ".join(f"{v or '(default)'}: {fmt(m, 3)} "
                                               f"({len(by_value[v])} jobs)"
                                               for v, m in sorted(means.items())))))
        if rows:
            parts.append(f"<h2>Best {html.escape(key)} per N</h2><p>For each LLM size, the value "
                         f"of <code>{html.escape(key)}</code> with the lowest mean error over the "
                         "done jobs' visual tokens and seeds (the fits above keep each value "
                         "apart).</p>")
            parts.append(table(["task", "method", "llm", "N", f"best {html.escape(key)}",
                                "its mean error", "mean error per value"], rows))
    return "\n".join(parts)


def fits_section(fits):
    parts = ["<h2>Fitted scaling laws</h2>"]
    if not fits:
        parts.append("<p>No fit.</p>")
        return "\n".join(parts)
    for fit in fits:
        key = group_key(fit) or "fit"
        parts.append(f"<h3>{html.escape(key)}: {html.escape(law_text(fit))}</h3>")
        poor = poor_fit_reasons(fit)
        if poor:
            parts.append('<p class="poorfit">POOR FIT: ' + html.escape("; ".join(poor))
                         + ". Do not read exponents or the frontier from it without more "
                         "points.</p>")
        stderr = fit.get("stderr") or {}
        ci = fit.get("ci95") or {}
        at_bound = set(fit.get("at_bound") or [])
        rows = []
        order = ["A", "alpha", "B", "beta", "E"]
        names = sorted(fit["params"], key=lambda k: order.index(k) if k in order else len(order))
        for name in names:
            value = fit["params"][name]
            interval = ci.get(name)
            rows.append((html.escape(name), fmt(value),
                         fmt(stderr.get(name)) if stderr else "–",
                         f"[{fmt(interval[0])}, {fmt(interval[1])}]" if interval else "–",
                         "at bound" if name in at_bound else ""))
        parts.append(table(["parameter", "value", "std. error",
                            f"95% CI (bootstrap, {fit.get('bootstrap_resamples') or 0} "
                            "resamples)", ""], rows))
        parts.append(
            f"<p>{fit.get('n_points')} points, {html.escape(str(fit.get('model')))} model, "
            f"{html.escape(str(fit.get('loss')))} loss in {html.escape(str(fit.get('space')))} "
            f"space; R² = {fmt(fit.get('r2'))}, RMSE = {fmt(fit.get('rmse'))}, "
            f"termination: {html.escape(str(fit.get('termination')))}.</p>")
        held = fit.get("extrapolation") or []
        if held:
            parts.append("<p>Held-out points (largest N, predicted by the fit without them):</p>")
            parts.append(table(["N", "T", "observed", "predicted", "relative error"], [
                (fmt(h["n"]), fmt(h["t"]), fmt(h["observed"]), fmt(h["predicted"]),
                 f"{100 * h['relative_error']:+.2f}%") for h in held]))
        if fit.get("stderr_reason"):
            parts.append(f"<p class=warn>std. errors: {html.escape(fit['stderr_reason'])}</p>")
        for warning in fit.get("warnings") or []:
            parts.append(f"<p class=warn>warning: {html.escape(warning)}</p>")
    return "\n".join(parts)


def size_effects_section(results, points):
    """The size effect at every V per group (analysis/size_effects.py)."""
    from size_effects import eval_examples, size_effects, size_effects_html

    n_eval = eval_examples(results)
    return size_effects_html([(results.sweep_name, key, *size_effects(pts, n_eval.get(key)))
                              for key, pts in points.items()])


def checklist_section(fit_doc):
    """docs/FIT.md's "how this fit was made" checklist, as vlmscale fit filled it in."""
    items = ((fit_doc or {}).get("manifest") or {}).get("checklist") or []
    if not items:
        return ""
    rows = [(html.escape(it.get("status", "").upper()), html.escape(it.get("item", "")),
             html.escape(it.get("answer", ""))) for it in items]
    return ("<h2>How this fit was made</h2><p>The checklist of docs/FIT.md, filled in by "
            "<code>vlmscale fit</code> from the fit's manifest.</p>"
            + table(["status", "item", "answer"], rows, "kv"))


def frontier_section(frontiers, qs):
    """qs: 'task/method' -> (Q, where it came from)."""
    distinct = sorted({q for q, _ in qs.values()})
    title = (f"Q = {distinct[0]:g} text tokens" if len(distinct) == 1
             else "Q per group, text tokens" if distinct else "no fit")
    parts = [f"<h2>Inference-optimal frontier ({title})</h2>"]
    if not frontiers:
        parts.append("<p>No frontier (needs a fit and the vlmscale binary).</p>")
        return "\n".join(parts)
    parts.append("<p>For each inference budget C = 2·N·(Q+T) FLOPs: the continuous optimum of "
                 "the fitted law (* = outside the fitted range of N or T), and the best "
                 "evaluated grid point within the budget.</p>")
    for key, fr in frontiers.items():
        q, origin = qs.get(key, (fr.get("text_tokens"), "?"))
        parts.append(f"<h3>{html.escape(key or 'fit')} (Q = {fmt(q)}, from "
                     f"{html.escape(origin)})</h3>")
        for w in fr.get("grid_warnings") or []:
            parts.append(f"<p class=warn>warning: {html.escape(w.get('message', ''))}</p>")
        if fr.get("closed_form_note"):
            parts.append(f"<p>{html.escape(fr['closed_form_note'])}</p>")
        bands = fr.get("bands")
        if bands:
            parts.append(f"<p>Bands: bootstrap 95% over {bands.get('resamples')} resamples of the "
                         f"fit, each resample's own optimum at the budget.</p>")
        else:
            parts.append("<p>Bands: none (the fit has no bootstrap; fit with --bootstrap K).</p>")

        def with_band(c, key):
            iv = (c.get("ci95") or {}).get(key)
            return fmt(c[key]) + (f" [{fmt(iv[0])}, {fmt(iv[1])}]" if iv else "")

        rows = []
        for row in fr.get("frontier", []):
            c, g = row["continuous"], row.get("grid") or {}
            if not c:
                rows.append((fmt(row["budget"]), "infeasible", "-", "-", fmt(g.get("n")),
                             fmt(g.get("t")), fmt(g.get("predicted")), fmt(g.get("observed"))))
                continue
            star = "*" if c.get("extrapolation") else ""
            rows.append((fmt(row["budget"]), with_band(c, "n") + star, with_band(c, "t"),
                         with_band(c, "predicted"), fmt(g.get("n")), fmt(g.get("t")),
                         fmt(g.get("predicted")), fmt(g.get("observed"))))
        band_note = " [95%]" if bands else ""
        parts.append(table(["budget C (FLOPs)", "N*" + band_note, "T*" + band_note,
                            "predicted Y" + band_note, "grid N", "grid T", "grid Y (fit)",
                            "grid Y (measured)"], rows))
    return "\n".join(parts)


def figures_section(figures, out_dir):
    parts = ["<h2>Figures</h2>"]
    for fig in figures:
        png, svg = (os.path.relpath(p, out_dir) for p in fig.files)
        parts.append(f'<figure id="{fig.name}"><figcaption><b>{html.escape(fig.title)}.</b> '
                     f'{html.escape(fig.caption)} (<a href="{html.escape(svg)}">SVG</a>)'
                     f'</figcaption><a href="{html.escape(png)}"><img src="{html.escape(png)}" '
                     f'alt="{html.escape(fig.title)}"></a></figure>')
    return "\n".join(parts)


STYLE = """
body { font-family: sans-serif; margin: 1.5em auto; max-width: 1250px; color: #222; }
table { border-collapse: collapse; margin: 0.5em 0 1em; font-size: 0.9em; }
th, td { border: 1px solid #ccc; padding: 3px 8px; text-align: right; }
th { background: #f0f0f0; } table.kv td:first-child { font-weight: bold; text-align: left; }
table.kv td { text-align: left; }
figure { margin: 1.5em 0; } img { max-width: 100%; border: 1px solid #ddd; }
.warn { color: #8a4b00; }
.poorfit { background: #ffe4e1; border: 2px solid #c00; color: #900; font-weight: bold;
           padding: 0.4em 0.8em; } .notes { background: #fff8e0; padding: 0.5em 1em; }
pre { background: #f6f6f6; padding: 0.5em; }
"""

# Sets data-images-loaded="<count>" on <body> once every <img> has loaded with a non-zero size,
# or data-images-failed="<names>" when one fails; tests and humans can check either.
IMAGE_CHECK = """
(function () {
  function check() {
    var imgs = Array.prototype.slice.call(document.images);
    var failed = imgs.filter(function (i) { return i.complete && i.naturalWidth === 0; });
    if (failed.length) {
      document.body.setAttribute('data-images-failed',
          failed.map(function (i) { return i.getAttribute('src'); }).join(' '));
      return;
    }
    if (imgs.every(function (i) { return i.complete && i.naturalWidth > 0; })) {
      document.body.setAttribute('data-images-loaded', String(imgs.length));
    } else {
      setTimeout(check, 50);
    }
  }
  window.addEventListener('load', check);
})();
"""


def write_html(path, results, fits, frontiers, figures, notes, qs, fit_doc=None, points=None):
    title = f"vlmscale report: {results.sweep_name}"
    generated = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    body = [f"<h1>{html.escape(title)}</h1>",
            f"<p>Generated {generated} by <code>analysis/report.py</code>.</p>"]
    if notes:
        body.append('<div class="notes">' + "".join(f"<p>{n}</p>" for n in notes) + "</div>")
    poor = [(group_key(f) or "fit", poor_fit_reasons(f)) for f in fits]
    poor = [(k, r) for k, r in poor if r]
    if poor:
        body.append('<div class="poorfit">POOR FIT — ' + "; ".join(
            f"{html.escape(k)}: {html.escape(', '.join(r))}" for k, r in poor)
            + " (details under Fitted scaling laws).</div>")
    # Figures first, tables after.
    body += [figures_section(figures, os.path.dirname(path)), summary_section(results),
             best_settings_section(results), fits_section(fits),
             size_effects_section(results, points or {}), frontier_section(frontiers, qs),
             checklist_section(fit_doc)]
    page = ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>{html.escape(title)}</title><style>{STYLE}</style>"
            f"<script>{IMAGE_CHECK}</script></head>\n<body>\n" + "\n".join(body)
            + "\n</body></html>\n")
    with open(path, "w", encoding="utf-8") as f:
        f.write(page)


def main(argv):
    parser = argparse.ArgumentParser(prog=PROG, description=__doc__.split("\n\n")[0])
    parser.add_argument("results", help="RESULTS.h5 written by 'vlmscale run'")
    parser.add_argument("-o", "--output", required=True, help="directory for the report")
    parser.add_argument("--fit", help="fit JSON from 'vlmscale fit --json' (default: run it)")
    parser.add_argument("--stage", help="multi-stage studies: the stage to plot and fit "
                                        "(default: the final stage, as vlmscale fit)")
    parser.add_argument("--text-tokens", type=float, default=None,
                        help="Q, text tokens per query for the frontier (default: the sweep's "
                             f"Q recorded in the fit, else {DEFAULT_Q:g})")
    parser.add_argument("--bootstrap", type=int, default=200,
                        help="bootstrap resamples when running the fit (default 200)")
    parser.add_argument("--holdout-largest", type=int, default=1,
                        help="largest N values held out when running the fit (default 1)")
    args = parser.parse_args(argv)
    if args.text_tokens is not None and args.text_tokens < 0:
        parser.error("--text-tokens must be >= 0")

    import figures as figs

    results = load_results(args.results)
    results.stage = args.stage
    notes = []
    binary = find_binary()
    if results.journal_pending:
        if binary:
            code, out, err = run_binary([binary, "export", args.results, "--format", "json"])
            if code == 0:
                merge_export(results, json.loads(out))
                notes.append("The journal held results newer than the HDF5 snapshot; they were "
                              "read with <code>vlmscale export</code>.")
            else:
                notes.append("The journal holds results newer than the snapshot, and "
                              f"vlmscale export failed ({html.escape(last_line(err))}): this "
                              "report shows the snapshot only.")
        else:
            notes.append("The journal holds results newer than the HDF5 snapshot and no vlmscale "
                         "binary was found: this report shows the snapshot only (a finished run "
                         "leaves an empty journal).")
    if not results.done_jobs():
        notes.append("No job is done yet: nothing to fit or plot.")
    os.makedirs(args.output, exist_ok=True)

    fit_path = args.fit
    fits = []
    if fit_path:
        fits = load_fit(fit_path)
        notes.append(f"Fit read from <code>{html.escape(fit_path)}</code>.")
    elif not results.done_jobs():
        pass
    elif binary:
        fit_path = run_fit(binary, args.results, args.output, args.bootstrap,
                           args.holdout_largest, notes, args.stage)
        fits = load_fit(fit_path) if fit_path else []
    else:
        notes.append("No fit: no --fit given and no vlmscale binary ($VLMSCALE_BIN or "
                     "build/vlmscale).")
        print(f"{PROG}: warning: no vlmscale binary found (set VLMSCALE_BIN or build "
              f"build/vlmscale); the report has no fit", file=sys.stderr)
    frontiers = {}
    if fits and binary:
        frontiers = run_frontiers(binary, fit_path, fits, args.text_tokens, args.output, notes)

    fits_by_group = {group_key(f): f for f in fits}
    qs = {group_key(f): fit_q(f, args.text_tokens) for f in fits}
    q_by_group = {k: q for k, (q, _) in qs.items()}
    q_plot = args.text_tokens if args.text_tokens is not None else q_by_group
    points = figs.measured_points(results)
    figures = []
    for make in (lambda: figs.error_vs_tokens(points, fits_by_group, args.output,
                                              frontiers=frontiers),
                 lambda: figs.frontier_figure(points, fits_by_group, frontiers,
                                              q_plot if q_by_group else DEFAULT_Q, args.output),
                 lambda: figs.methods_figure(results, args.output),
                 lambda: figs.curves_figure(results, args.output),
                 lambda: figs.fit_quality_figure(fits, args.output)):
        fig = make()
        if fig is not None:
            figures.append(fig)

    index = os.path.join(args.output, "index.html")
    fit_doc = None
    if fit_path:
        try:
            with open(fit_path) as f:
                fit_doc = json.load(f)
        except (OSError, ValueError):
            fit_doc = None
    write_html(index, results, fits, frontiers, figures, notes, qs, fit_doc, points)
    if fit_path:
        print(f"fit:    {os.path.abspath(fit_path)}")
    for key in frontiers:
        name = "frontier_" + (key.replace("/", "_") or "fit") + ".json"
        print(f"frontier: {os.path.abspath(os.path.join(args.output, name))}")
    for fig in figures:
        print(f"figure: {os.path.abspath(fig.files[0])} (+ .svg)")
    print(f"report: {os.path.abspath(index)}")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except ResultsError as e:
        print(f"{PROG}: error: {e}", file=sys.stderr)
        sys.exit(2)
