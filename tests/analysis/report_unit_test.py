#!/usr/bin/env python3
"""analysis/report.py's pure helpers, fast: which fits are flagged as poor, which Q a group's
frontier uses, and how times read; the frontier's bootstrap bands in the frontier table and in
the frontier and error-vs-tokens figures."""
import copy
import os
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..",
                                "analysis"))
import report  # noqa: E402

failures = []


def check(cond, name):
    print(("ok   " if cond else "FAIL ") + name)
    if not cond:
        failures.append(name)


good = {"r2": 0.99, "ci95": {"A": [1.0, 1.5], "alpha": [0.06, 0.08], "beta": [0.01, 0.02],
                             "E": [0.0, 0.3]},
        "beta_over_alpha": {"value": 0.2, "ci95": [0.15, 0.3]}}
check(report.poor_fit_reasons(good) == [], "a tight fit (E at 0 allowed) is not flagged")
low = dict(good, r2=0.42)
reasons = report.poor_fit_reasons(low)
check(len(reasons) == 1 and "R² = 0.42 < 0.5" in reasons[0], f"R² < 0.5 is flagged: {reasons}")
wide = dict(good, ci95=dict(good["ci95"], A=[1.27, 15.1]))
reasons = report.poor_fit_reasons(wide)
check(len(reasons) == 1 and "interval of A" in reasons[0], f"A over 10x is flagged: {reasons}")
zero = dict(good, ci95=dict(good["ci95"], alpha=[0.0, 0.05]))
check(any("alpha" in r for r in report.poor_fit_reasons(zero)), "an interval from 0 is flagged")
inf = dict(good, beta_over_alpha={"value": 3, "ci95": [5.04, "inf"]})
check(any("beta/alpha" in r for r in report.poor_fit_reasons(inf)),
      "a beta/alpha interval to infinity is flagged")
check(report.poor_fit_reasons(dict(good, ci95=dict(good["ci95"], A=[1.0, 9.9]))) == [],
      "9.9x is under an order of magnitude")

check(report.fit_q({"text_tokens": 8}, None) == (8.0, "the sweep"), "Q from the fit")
check(report.fit_q({"text_tokens": 8}, 50.0) == (50.0, "--text-tokens"), "--text-tokens wins")
check(report.fit_q({"text_tokens": None}, None)[0] == report.DEFAULT_Q, "no Q: the default")

check(report.human_duration(4.25) == "4.25 s", report.human_duration(4.25))
check(report.human_duration(725) == "12 min 5 s", report.human_duration(725))
check(report.human_duration(3 * 3600 + 125) == "3 h 02 min", report.human_duration(3 * 3600 + 125))
check(report.human_duration(2 * 86400 + 4 * 3600) == "2 d 4 h", "days")
check(report.run_info_text("started", 0.5e9 * 3) == "2017-07-14 02:40:00 UTC",
      report.run_info_text("started", 1.5e9))
check(report.run_info_text("eta_seconds", 90) == "1 min 30 s", "eta as a duration")
check(report.run_info_text("ranks", 4) == "4", "other values unchanged")

doc = {"manifest": {"checklist": [{"item": "uncertainty", "status": "missing",
                                    "answer": "standard errors only; add --bootstrap 1000"}]}}
section = report.checklist_section(doc)
check("How this fit was made" in section and "MISSING" in section and "--bootstrap 1000" in section,
      "the checklist section renders the manifest's items")
check(report.checklist_section({}) == "", "no manifest: no checklist section")

# The frontier's bands, as 'vlmscale frontier --json' writes them from a bootstrapped fit
# (docs/FIT.md, Frontier): the table shows them, the figures shade them; without them, neither.
import figures as figs  # noqa: E402

fit = {"model": "multiplicative", "r2": 0.99,
       "params": {"A": 2.0, "alpha": 0.3, "beta": 0.2, "E": 0.2},
       "points": [{"n": n, "t": t, "y": 0.2 + 2.0 * n ** -0.3 * t ** -0.2}
                  for n in (0.5, 2.0, 8.0) for t in (1.0, 16.0, 256.0)]}
budgets = [150.0, 1500.0, 15000.0]
banded = {"text_tokens": 50, "closed_form_t": 100.0, "closed_form_note": "alpha > beta",
          "bands": {"level": 0.95, "resamples": 200, "closed_form_t": [80.0, 125.0]},
          "frontier": [{"budget": c, "grid": None,
                        "continuous": {"n": c / 300, "t": 100.0, "extrapolation": False,
                                       "predicted": 0.2 + 2.0 * (c / 300) ** -0.3 * 100 ** -0.2,
                                       "ci95": {"n": [c / 350, c / 260], "t": [80.0, 125.0],
                                                "predicted": [0.25, 0.6]}}}
                       for c in budgets]}
bare = copy.deepcopy(banded)
bare["bands"] = None
for row in bare["frontier"]:
    del row["continuous"]["ci95"]
b = figs.frontier_band(banded)
check(b == (budgets, [0.25] * 3, [0.6] * 3), f"frontier_band reads each budget's ci95: {b}")
check(figs.frontier_band(bare) is None, "no bootstrap: no frontier band")
check(figs.optimal_t_band(banded) == (100.0, [80.0, 125.0]), "optimal_t_band reads closed_form_t")
check(figs.optimal_t_band(bare) is None, "no bootstrap: no T* band")
qs = {"": (50.0, "the sweep")}
html_banded = report.frontier_section({"": banded}, qs)
check("over 200 resamples" in html_banded and "T* [95%]" in html_banded
      and "100 [80, 125]" in html_banded, "the frontier table shows T* with its band")
html_bare = report.frontier_section({"": bare}, qs)
check("Bands: none" in html_bare and "[95%]" not in html_bare, "no bootstrap: the table says so")
groups = figs.points_from_fits([fit])
for name, frontier, expect_band in (("banded", banded, True), ("bare", bare, False)):
    with tempfile.TemporaryDirectory() as out:
        figs.frontier_figure(groups, {"": fit}, {"": frontier}, 50.0, out)
        figs.error_vs_tokens(groups, {"": fit}, out, frontiers={"": frontier})
        front_svg = open(os.path.join(out, "frontier.svg")).read()
        tokens_svg = open(os.path.join(out, "error_vs_tokens.svg")).read()
    check(('id="frontier_band"' in front_svg) == expect_band,
          f"{name}: the frontier figure shades the band iff the frontier has one")
    check(('id="optimal_t_band"' in tokens_svg) == expect_band,
          f"{name}: the error-vs-tokens figure shades the T* band iff the frontier has one")
    check(("[95%: 80, 125]" in front_svg) == expect_band,
          f"{name}: the frontier figure names the T* band")

if failures:
    print(f"{len(failures)} failure(s)")
    sys.exit(1)
print("PASS")
