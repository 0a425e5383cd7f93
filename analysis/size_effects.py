"""The LLM-size effect at each visual token count, with its noise: does the error fall with N at
every V, by how much, and is an inverted neighbouring pair more than noise? Used by contrast.py
(printed and on its page) and report.py (a section of the study's report)."""
import html
import math

from vlmresults import extra_metrics, group_name, setting, varied_settings

Z95 = 1.959964


def eval_examples(results):
    """group -> the eval examples behind each job's error (the smallest over the group's jobs):
    the finetune job's eval.examples setting, or a command job's recorded eval_examples metric.
    Groups whose jobs record neither are left out."""
    varied = varied_settings(results)
    out = {}
    for job in results.done_jobs():
        n = setting(job, "eval.examples") or extra_metrics(job).get("eval_examples")
        try:
            n = int(n)
        except (TypeError, ValueError):
            continue
        if n > 0:
            name = group_name(job, varied)
            out[name] = min(out.get(name, n), n)
    return out


def size_effects(points, n_eval):
    """The LLM-size effect at each visual token count, with its noise.

    points: one group's measured points ({llm, n, t, y, std, seeds}, y the mean over seeds);
    n_eval: the eval examples behind each error, or None. A point's variance, as an estimate of
    its expected error, is the eval set's binomial variance y(1-y)/n_eval (every seed scores the
    same eval examples, so it does not average out over seeds) plus the between-seed variance
    pooled over the group's points with 2+ seeds, divided by the point's seeds. Differences take
    the two variances' sum, which is conservative: the sizes share the eval examples.

    Returns (rows, noise): one row per T, sorted, {t, llms, ys, delta, ci, verdict, inversions},
    delta = error at the largest N minus at the smallest, ci its 95% interval (None without a
    noise estimate), verdict 'falls' (interval below 0), 'rises' (above 0), 'flat' or '?';
    inversions the neighbouring pairs whose larger N has the higher error, as (llm, llm, rise,
    beyond_noise); noise describes the terms used."""
    replicated = [p for p in points if p.get("seeds", 1) > 1]
    seed_var = (sum(p["std"] ** 2 for p in replicated) / len(replicated)) if replicated else None
    terms = []
    if n_eval:
        terms.append(f"eval noise (binomial, {n_eval} examples)")
    if seed_var is not None:
        terms.append(f"seed noise (sd {math.sqrt(seed_var):.3g}, {len(replicated)} points with "
                     "2+ seeds)")
    else:
        terms.append("seed noise not measured (one seed per point)")

    def var(p):
        if not n_eval and seed_var is None:
            return None
        v = p["y"] * (1.0 - p["y"]) / n_eval if n_eval else 0.0
        return v + (seed_var / p.get("seeds", 1) if seed_var is not None else 0.0)

    rows = []
    for t in sorted({p["t"] for p in points}):
        row = sorted((p for p in points if p["t"] == t), key=lambda p: p["n"])
        if len(row) < 2:
            continue
        first, last = row[0], row[-1]
        delta = last["y"] - first["y"]
        ci, verdict = None, "?"
        v0, v1 = var(first), var(last)
        if v0 is not None and v1 is not None:
            half = Z95 * math.sqrt(v0 + v1)
            ci = (delta - half, delta + half)
            verdict = "falls" if ci[1] < 0 else "rises" if ci[0] > 0 else "flat"
        inversions = []
        for a, b in zip(row, row[1:]):
            if b["y"] > a["y"]:
                va, vb = var(a), var(b)
                beyond = None if va is None or vb is None else \
                    b["y"] - a["y"] > Z95 * math.sqrt(va + vb)
                inversions.append((a["llm"], b["llm"], b["y"] - a["y"], beyond))
        rows.append({"t": t, "llms": [p["llm"] for p in row], "ys": [p["y"] for p in row],
                     "delta": delta, "ci": ci, "verdict": verdict, "inversions": inversions})
    return rows, "; ".join(terms)


def _inversions_text(row, arrow):
    """A row's inverted pairs, e.g. 'w16->w32 +0.005 (within noise)'."""
    judged = {None: "", True: " (beyond noise)", False: " (within noise)"}
    return ", ".join(f"{a}{arrow}{b} +{d:.3f}{judged[beyond]}"
                     for a, b, d, beyond in row["inversions"])


def _ci_text(row):
    return f" [{row['ci'][0]:+.3f}, {row['ci'][1]:+.3f}]" if row["ci"] else ""


def size_effect_lines(study, group, rows):
    """Text lines of one group's size effects (what contrast.py prints)."""
    out = []
    for r in rows:
        inv = _inversions_text(r, "->")
        out.append(f"{study:<18} {group:<18} V={r['t']:<4g} error "
                   + " ".join(f"{y:.3f}" for y in r["ys"])
                   + f"  largest-smallest N {r['delta']:+.3f}{_ci_text(r)} {r['verdict']}"
                   + (f"; inverted: {inv}" if inv else ""))
    return out


def size_effects_html(effects):
    """The HTML section of [(study, group, rows, noise)]: a heading, what the columns mean and
    which noise each group's intervals use, and the table ("" when there are no rows)."""
    from report import table

    effects = [e for e in effects if e[2]]
    if not effects:
        return ""
    noise = "; ".join(sorted({html.escape(f"{g}: {n}") for _, g, _, n in effects}))
    headers = ["study", "task / method", "V", "error by N (smallest to largest)",
               "largest − smallest N [95% CI]", "verdict", "inverted neighbours"]
    body = []
    for study, group, rows, _ in effects:
        for r in rows:
            body.append((html.escape(study), html.escape(group), f"{r['t']:g}",
                         " ".join(f"{html.escape(l)} {y:.3f}" for l, y in zip(r["llms"], r["ys"])),
                         f"{r['delta']:+.3f}{_ci_text(r)}", r["verdict"],
                         html.escape(_inversions_text(r, "→")) or "none"))
    return ("<h2>Does the error fall with LLM size at every V?</h2><p>Per visual token count: "
            "the error at each size, and the error at the largest minus the smallest size with a "
            "95% interval. A point's noise is the eval set's binomial variance plus the "
            f"between-seed variance when 2+ seeds were run ({noise}). 'flat': no size effect is "
            "resolved at that V; an inverted neighbouring pair 'within noise' is smaller than its "
            "own noise.</p>" + table(headers, body))
