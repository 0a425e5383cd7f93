"""The five figures of a vlmscale study, drawn with matplotlib (Agg) as PNG and SVG.

Every figure function returns a Figure record (name, title, caption, files) or None when there is
nothing to draw (e.g. no curves). Files are written into out_dir as <name>.png and <name>.svg.
Measured points are the seed means of done jobs at each (task, method, N, T), as the fitter uses.
"""

import math
import os
from collections import OrderedDict, defaultdict

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.colors import LogNorm  # noqa: E402

from vlmresults import group_key, group_name, law, varied_settings  # noqa: E402

DPI = 110
plt.rcParams.update({
    "font.size": 10,
    "axes.titlesize": 11,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "legend.fontsize": 8,
    "svg.fonttype": "none",
})


class Figure:
    def __init__(self, name, title, caption, files):
        self.name = name
        self.title = title
        self.caption = caption
        self.files = files  # [png path, svg path]


def human_count(x):
    """25472 -> '25.5k', 5e8 -> '500M', 0.5 -> '0.5'."""
    for scale, suffix in ((1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "k")):
        if abs(x) >= scale:
            return f"{x / scale:.3g}{suffix}"
    return f"{x:.3g}"


def _save(fig, out_dir, name):
    png = os.path.join(out_dir, name + ".png")
    svg = os.path.join(out_dir, name + ".svg")
    fig.savefig(png, dpi=DPI, bbox_inches="tight")
    fig.savefig(svg, bbox_inches="tight")
    plt.close(fig)
    return [png, svg]


def _grid(count, width=5.0, height=4.0, max_cols=3):
    cols = max(1, min(count, max_cols))
    rows = max(1, math.ceil(count / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(width * cols, height * rows), squeeze=False)
    flat = list(axes.flat)
    for ax in flat[count:]:
        ax.set_visible(False)
    return fig, flat[:count]


def measured_points(results):
    """OrderedDict group -> list of {llm, n, t, y, std, seeds} sorted by (n, t); a group is
    'task/method', then '/key=value,...' of the varied settings (as vlmscale fit names it)."""
    cells = defaultdict(list)
    llm_of = {}
    varied = varied_settings(results)
    for job in results.done_jobs():
        key = (group_name(job, varied), job["n_params"], job["visual_tokens"])
        cells[key].append(job["error"])
        llm_of[key] = job["llm"]
    groups = OrderedDict()
    for key in sorted(cells, key=lambda k: (k[0], k[1], k[2])):
        ys = np.asarray(cells[key])
        groups.setdefault(key[0], []).append({
            "llm": llm_of[key], "n": key[1], "t": float(key[2]), "y": float(ys.mean()),
            "std": float(ys.std(ddof=1)) if len(ys) > 1 else 0.0, "seeds": len(ys)})
    return groups


def points_from_fits(fits):
    """Measured points from fit JSON objects (when no results file is at hand)."""
    groups = OrderedDict()
    for fit in fits:
        groups[group_key(fit)] = [
            {"llm": "", "n": p["n"], "t": p["t"], "y": p["y"], "std": 0.0, "seeds": 1}
            for p in sorted(fit.get("points", []), key=lambda p: (p["n"], p["t"]))]
    return groups


def _title(key, fit):
    """A panel title: the group 'task/method', or the fit's input file for a CSV fit."""
    if key:
        return key
    if fit is not None and fit.get("source"):
        return os.path.basename(str(fit["source"]))
    return "fit"


def _n_label(point, n_unit):
    text = f"N = {human_count(point['n'])}{n_unit}"
    return f"{point['llm']} ({text})" if point["llm"] else text


def frontier_band(frontier):
    """(budgets, lower, upper) of the 95% bootstrap band of the frontier's predicted error (the
    'ci95' of each feasible budget of a 'vlmscale frontier --json' object), or None when the fit
    had no bootstrap."""
    rows = [(row["budget"], row["continuous"]["ci95"]["predicted"])
            for row in (frontier or {}).get("frontier") or []
            if row.get("continuous") and "ci95" in row["continuous"]]
    if not rows:
        return None
    return ([b for b, _ in rows], [iv[0] for _, iv in rows], [iv[1] for _, iv in rows])


def optimal_t_band(frontier):
    """(T*, [lower, upper]) of the closed-form T* of a frontier object and its bootstrap band, or
    None when either is missing (not the multiplicative law, or no bootstrap)."""
    fr = frontier or {}
    band = (fr.get("bands") or {}).get("closed_form_t")
    if fr.get("closed_form_t") is None or not band:
        return None
    return float(fr["closed_form_t"]), [float(band[0]), float(band[1])]


def error_vs_tokens(groups, fits, out_dir, n_unit="", frontiers=None):
    """Figure 1: error vs visual tokens (log x), a line per N, fitted law through the points.
    frontiers ('task/method' -> 'vlmscale frontier --json' object) adds the optimal T* and its
    bootstrap band as a grey span where the frontier has one."""
    if not groups:
        return None
    frontiers = frontiers or {}
    fig, axes = _grid(len(groups), width=6.2, max_cols=2)
    for ax, (key, points) in zip(axes, groups.items()):
        fit = fits.get(key)
        ns = sorted({p["n"] for p in points})
        colors = plt.cm.viridis(np.linspace(0.0, 0.85, len(ns)))
        t_all = [p["t"] for p in points]
        t_dense = np.geomspace(min(t_all), max(t_all), 200)
        for color, n in zip(colors, ns):
            pts = [p for p in points if p["n"] == n]
            ax.errorbar([p["t"] for p in pts], [p["y"] for p in pts],
                        yerr=[p["std"] for p in pts], fmt="o", color=color, ms=5, capsize=2,
                        label=_n_label(pts[0], n_unit))
            if fit is not None:
                ax.plot(t_dense, law(fit, np.full_like(t_dense, n), t_dense), "-", color=color,
                        lw=1.3, alpha=0.9)
                band = [b for b in ((fit.get("bands") or {}).get("curve") or [])
                        if "ci95" in b and np.isclose(b["n"], n, rtol=1e-9)]
                if band:  # bootstrap 95% band of the fitted curve (fit --bootstrap)
                    ax.fill_between([b["t"] for b in band], [b["ci95"][0] for b in band],
                                    [b["ci95"][1] for b in band], color=color, alpha=0.18, lw=0)
            else:
                ax.plot([p["t"] for p in pts], [p["y"] for p in pts], ":", color=color, lw=1)
        t_band = optimal_t_band(frontiers.get(key))
        if t_band is not None:  # the frontier's T* (any budget) and its bootstrap 95% band
            t_star, (lo, hi) = t_band
            ax.axvspan(max(lo, min(t_all) / 2), min(hi, max(t_all) * 2), color="0.5", alpha=0.15,
                       lw=0, gid="optimal_t_band")
            q = frontiers[key].get("text_tokens")
            ax.axvline(t_star, color="0.35", ls="--", lw=1,
                       label=f"optimal T* = {t_star:.3g} [{lo:.3g}, {hi:.3g}] (Q = {q:g})")
        ax.set_xscale("log")
        ax.set_xlabel("visual tokens T (count, log scale)")
        ax.set_ylabel("error Y = 1 − accuracy (fraction)")
        title = _title(key, fit)
        if fit is not None:
            p = fit["params"]
            greek = {"alpha": "α", "beta": "β", "gamma": "γ", "beta2": "β2", "t_break": "T_b"}
            shown = [f"{greek[k]} = {p[k]:.3g}" for k in greek if k in p] + [f"E = {p['E']:.3g}"]
            title += "\n" + ", ".join(shown) + f", R² = {fit.get('r2', float('nan')):.3f}"
        else:
            title += " (no fit)"
        ax.set_title(title)
        ax.legend(title="LLM (dots: measured,\nlines: fitted law)", loc="upper left",
                  bbox_to_anchor=(1.01, 1.0), borderaxespad=0.0)
    fig.suptitle("Error vs visual tokens, per LLM size", fontsize=12)
    fig.tight_layout()
    files = _save(fig, out_dir, "error_vs_tokens")
    return Figure("error_vs_tokens", "Error vs visual tokens",
                  "Measured error (dots, seed mean ± 1 std) against the number of visual tokens, "
                  "one colour per LLM size; solid lines are the fitted law at that N, shaded "
                  "bands its bootstrap 95% interval when the fit has one; the dashed line and "
                  "grey span are the inference-optimal T* and its bootstrap 95% band when the "
                  "frontier has them.", files)


def dense_frontier(fit, q, c_min, c_max, t_min, t_max, budgets=120):
    """(C, Y*, T*) arrays: for each budget the T minimising the law on N = C / (2 (Q + T))."""
    cs = np.geomspace(c_min, c_max, budgets)
    ts = np.geomspace(t_min, t_max, 600)
    best_y, best_t = [], []
    for c in cs:
        n = c / (2.0 * (q + ts))
        y = law(fit, n, ts)
        i = int(np.nanargmin(y))
        best_y.append(y[i])
        best_t.append(ts[i])
    return cs, np.asarray(best_y), np.asarray(best_t)


def frontier_figure(groups, fits, frontiers, q, out_dir, n_unit=""):
    """Figure 2: error vs inference FLOPs 2·N·(Q+T) for every (N, T), coloured by T, with the
    fitted inference-optimal frontier (the seed paper's Figure 1 style). q is one Q for every
    group or a dict 'task/method' -> Q."""
    if not groups:
        return None
    q_of = q if isinstance(q, dict) else None
    fig, axes = _grid(len(groups), width=5.6)
    t_values = sorted({p["t"] for pts in groups.values() for p in pts})
    norm = LogNorm(vmin=min(t_values), vmax=max(t_values) if max(t_values) > min(t_values)
                   else min(t_values) * 10)
    cmap = plt.cm.plasma
    for ax, (key, points) in zip(axes, groups.items()):
        if q_of is not None:
            q = q_of.get(key, 50.0)
        cost = np.array([2.0 * p["n"] * (q + p["t"]) for p in points])
        ys = np.array([p["y"] for p in points])
        sc = ax.scatter(cost, ys, c=[p["t"] for p in points], cmap=cmap, norm=norm, s=36,
                        edgecolors="black", linewidths=0.4, zorder=3, label="evaluated (N, T)")
        fit = fits.get(key)
        if fit is not None:
            cs, y_star, t_star = dense_frontier(fit, q, cost.min(), cost.max(), min(t_values),
                                                max(t_values))
            ax.plot(cs, y_star, "-", color="tab:green", lw=2, zorder=2,
                    label="fitted frontier (best T per budget)")
            fr = frontiers.get(key)
            band = frontier_band(fr)
            if band is not None:  # each resample's own optimum (fit --bootstrap)
                ax.fill_between(band[0], band[1], band[2], color="tab:green", alpha=0.2, lw=0,
                                zorder=1, gid="frontier_band",
                                label="frontier error, bootstrap 95% band")
            if fr and fr.get("frontier"):
                cont = [row["continuous"] for row in fr["frontier"]]
                ax.plot([row["budget"] for row in fr["frontier"]], [c["predicted"] for c in cont],
                        "x", color="tab:green", ms=6, zorder=4, label="vlmscale frontier budgets")
            t_med = float(np.median(t_star))
            t_text = f"{t_med:.3g}"
            if fr and fr.get("closed_form_t") is not None:
                t_med = float(fr["closed_form_t"])  # exact for the multiplicative law
                t_text = f"{t_med:.3g}"
                if optimal_t_band(fr) is not None:
                    lo, hi = optimal_t_band(fr)[1]
                    t_text += f" [95%: {lo:.3g}, {hi:.3g}]"
            ax.text(0.97, 0.97, f"optimal T ≈ {t_text} (Q = {q:g})", transform=ax.transAxes,
                    ha="right", va="top", fontsize=9,
                    bbox=dict(boxstyle="round", fc="white", ec="0.7"))
        ax.set_xscale("log")
        unit = {"k": "kFLOPs", "M": "MFLOPs", "B": "GFLOPs", "T": "TFLOPs"}.get(n_unit, "FLOPs")
        ax.set_xlabel(f"inference cost per query, 2·N·(Q+T), Q = {q:g} ({unit}, log scale)")
        ax.set_ylabel("error Y = 1 − accuracy (fraction)")
        ax.set_title(_title(key, fits.get(key)))
        ax.legend(loc="lower left")
        fig.colorbar(sc, ax=ax, label="visual tokens T")
    fig.suptitle(f"Error vs inference compute, Q = {q:g} text tokens", fontsize=12)
    fig.tight_layout()
    files = _save(fig, out_dir, "frontier")
    return Figure("frontier", f"Inference-optimal frontier (Q = {q:g})",
                  "Every evaluated (N, T) at its inference cost 2·N·(Q+T), coloured by the number "
                  "of visual tokens. The green line is the lowest fitted error reachable at each "
                  "budget; crosses are the budgets of the vlmscale frontier table, and the "
                  "shaded band their bootstrap 95% band (each resample's own optimum) when the "
                  "fit was bootstrapped.", files)


def methods_figure(results, out_dir):
    """Figure 3: compression methods side by side at each visual token count, per task and LLM;
    bars are seed means, error bars ±1 std over seeds."""
    done = results.done_jobs()
    if not done:
        return None
    tasks = sorted({j["task"] for j in done})
    llms = sorted({(j["n_params"], j["llm"]) for j in done})
    methods = sorted({j["method"] for j in done})
    panels = [(task, llm) for task in tasks for llm in llms]
    fig, axes = _grid(len(panels), width=4.6, height=3.6, max_cols=4)
    colors = plt.cm.tab10(np.arange(len(methods)) % 10)
    width = 0.8 / max(1, len(methods))
    max_seeds = 1
    for ax, (task, (n, llm)) in zip(axes, panels):
        jobs = [j for j in done if j["task"] == task and j["n_params"] == n]
        ts = sorted({j["visual_tokens"] for j in jobs})
        for m_index, (method, color) in enumerate(zip(methods, colors)):
            means, stds = [], []
            for t in ts:
                ys = np.array([j["error"] for j in jobs
                               if j["method"] == method and j["visual_tokens"] == t])
                max_seeds = max(max_seeds, len(ys))
                means.append(ys.mean() if len(ys) else np.nan)
                stds.append(ys.std(ddof=1) if len(ys) > 1 else 0.0)
            x = np.arange(len(ts)) + (m_index - (len(methods) - 1) / 2) * width
            ax.bar(x, means, width, yerr=stds, capsize=2, color=color, label=method,
                   edgecolor="black", linewidth=0.3)
        ax.set_xticks(np.arange(len(ts)))
        ax.set_xticklabels([str(t) for t in ts])
        ax.set_xlabel("visual tokens T (count)")
        ax.set_ylabel("error (fraction)")
        ax.set_title(f"{task}, {llm} (N = {human_count(n)})")
        finite = [j["error"] for j in jobs]
        if finite:
            lo, hi = min(finite), max(finite)
            pad = 0.15 * (hi - lo) if hi > lo else 0.05 * max(hi, 1e-3)
            ax.set_ylim(max(0.0, lo - pad), hi + pad)
    fig.suptitle("Compression methods side by side (bars: seed mean, whiskers: ±1 std)",
                 fontsize=12)
    fig.tight_layout()
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, title="compression method", loc="upper center",
               bbox_to_anchor=(0.5, 0.0), ncol=max(1, len(methods)))
    files = _save(fig, out_dir, "methods")
    return Figure("methods", "Compression methods compared",
                  f"Error of each compression method at each visual token count, one panel per "
                  f"task and LLM; bars are means over up to {max_seeds} seed(s), whiskers ±1 "
                  f"standard deviation over seeds (none with a single seed). The y axis is "
                  f"zoomed to the data.", files)


def primary_curve(names):
    """The curve to draw: train_loss if present, else the first that is not a learning rate."""
    if "train_loss" in names:
        return "train_loss"
    for name in names:
        if name not in ("lr", "learning_rate"):
            return name
    return names[0] if names else None


def curves_figure(results, out_dir):
    """Figure 4: training curves, one panel per (task, method, LLM), a line per T (seed 0 solid,
    other seeds thin)."""
    name = primary_curve(results.curve_names())
    if name is None:
        return None
    done = [j for j in results.stage_jobs() if j["status"] in ("done", "failed")]
    panels = OrderedDict()
    for job in sorted(done, key=lambda j: (j["task"], j["method"], j["n_params"],
                                           j["visual_tokens"], j["seed"])):
        curve = results.curve(job["job_id"], name)
        if curve is None or len(curve[0]) == 0:
            continue
        panels.setdefault((job["task"], job["method"], job["n_params"], job["llm"]), []).append(
            (job, curve))
    if not panels:
        return None
    fig, axes = _grid(len(panels), width=4.2, height=3.3, max_cols=4)
    t_values = sorted({j["visual_tokens"] for lines in panels.values() for j, _ in lines})
    norm = LogNorm(vmin=min(t_values), vmax=max(max(t_values), min(t_values) * 10))
    finite = np.concatenate([c[1][np.isfinite(c[1])] for lines in panels.values()
                             for _, c in lines])
    # A log axis only when the curve spans more than a decade; otherwise its ticks read badly.
    positive = finite.size > 0 and finite.min() > 0 and finite.max() / finite.min() > 10
    for ax, ((task, method, n, llm), lines) in zip(axes, panels.items()):
        first_seed = min(j["seed"] for j, _ in lines)
        seen = set()
        for job, (steps, values) in lines:
            t = job["visual_tokens"]
            main = job["seed"] == first_seed
            label = f"T = {t}" if t not in seen and main else None
            seen.add(t)
            ax.plot(steps, values, "-", color=plt.cm.viridis(norm(t) * 0.9),
                    lw=1.4 if main else 0.6, alpha=1.0 if main else 0.6, label=label)
        if positive and "loss" in name:
            ax.set_yscale("log")
        ax.set_xlabel("training step")
        ax.set_ylabel(name + (" (log scale)" if positive and "loss" in name else ""))
        ax.set_title(f"{task}/{method}, {llm} (N = {human_count(n)})")
        ax.legend(loc="best", ncol=2)
    fig.suptitle(f"Training curves: {name} per job (seed {first_seed} bold, other seeds thin)",
                 fontsize=12)
    fig.tight_layout()
    files = _save(fig, out_dir, "curves")
    return Figure("curves", f"Training curves ({name})",
                  f"The '{name}' curve of every job, one panel per task, method and LLM, one "
                  f"colour per visual token count.", files)


def fit_quality_figure(fits, out_dir):
    """Figure 5: measured vs predicted error for every fitted point; held-out points of
    --holdout-largest (predicted by the fit without them) are marked with a star."""
    fits = [f for f in fits if f.get("points")]
    if not fits:
        return None
    fig, ax = plt.subplots(figsize=(6.2, 5.4))
    colors = plt.cm.tab10(np.arange(len(fits)) % 10)
    lo, hi = math.inf, -math.inf
    held_any = False
    for fit, color in zip(fits, colors):
        pts = fit["points"]
        y = np.array([p["y"] for p in pts])
        pred = law(fit, [p["n"] for p in pts], [p["t"] for p in pts])
        label = f"{group_key(fit) or 'fit'} (R² = {fit.get('r2', float('nan')):.3f}, " \
                f"{len(pts)} pts)"
        ax.scatter(pred, y, s=28, color=color, edgecolors="black", linewidths=0.3, label=label,
                   zorder=3)
        lo, hi = min(lo, y.min(), pred.min()), max(hi, y.max(), pred.max())
        held = fit.get("extrapolation") or []
        if held:
            held_any = True
            hp = np.array([h["predicted"] for h in held])
            ho = np.array([h["observed"] for h in held])
            ax.scatter(hp, ho, s=140, marker="*", color=color, edgecolors="black", linewidths=0.6,
                       zorder=4, label=f"{group_key(fit) or 'fit'}: held out (largest N)")
            lo, hi = min(lo, hp.min(), ho.min()), max(hi, hp.max(), ho.max())
    pad = 0.05 * (hi - lo) if hi > lo else 0.01
    ax.plot([lo - pad, hi + pad], [lo - pad, hi + pad], "--", color="0.4", lw=1,
            label="measured = predicted")
    ax.set_xlim(lo - pad, hi + pad)
    ax.set_ylim(lo - pad, hi + pad)
    ax.set_aspect("equal")
    ax.set_xlabel("predicted error (fitted law, fraction)")
    ax.set_ylabel("measured error (fraction)")
    ax.set_title("Fit quality: measured vs predicted error")
    ax.legend(loc="upper left")
    fig.tight_layout()
    files = _save(fig, out_dir, "fit_quality")
    caption = "Each fitted point (seed mean) against the law's prediction; on the dashed line " \
              "the fit is exact."
    if held_any:
        caption += " Stars are held-out points of the largest N, predicted by a fit without them."
    return Figure("fit_quality", "Fit quality", caption, files)
