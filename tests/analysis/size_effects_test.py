#!/usr/bin/env python3
"""analysis/size_effects.py (used by contrast.py and report.py), fast: the change of the error
from the smallest to the largest LLM at each visual token count, its 95% interval from the eval
set's binomial noise and the pooled seed noise, the verdict, and which inverted neighbouring pairs
exceed their noise."""
import math
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..",
                                "analysis"))
import size_effects  # noqa: E402

failures = []


def check(cond, name):
    print(("ok   " if cond else "FAIL ") + name)
    if not cond:
        failures.append(name)


def row(t, ys, seeds=1, std=0.0):
    return [{"llm": f"s{i}", "n": 10.0 ** i, "t": t, "y": y, "seeds": seeds, "std": std}
            for i, y in enumerate(ys)]


# One seed per point, 2,048 eval examples: the interval is the binomial one alone.
points = row(1, [0.736, 0.742, 0.728, 0.729]) + row(64, [0.68, 0.60, 0.52, 0.50])
rows, noise = size_effects.size_effects(points, 2048)
check([r["t"] for r in rows] == [1, 64], f"one row per V, sorted: {[r['t'] for r in rows]}")
flat, falls = rows
half = 1.959964 * math.sqrt((0.736 * 0.264 + 0.729 * 0.271) / 2048)
check(abs(flat["delta"] - (0.729 - 0.736)) < 1e-12, f"delta is largest minus smallest N: "
      f"{flat['delta']}")
check(abs(flat["ci"][0] - (flat["delta"] - half)) < 1e-12
      and abs(flat["ci"][1] - (flat["delta"] + half)) < 1e-12,
      f"the interval is the binomial one: {flat['ci']} vs half-width {half:.4f}")
check(flat["verdict"] == "flat", f"a row at one level is flat: {flat['verdict']}")
check([(a, b) for a, b, _, _ in flat["inversions"]] == [("s0", "s1"), ("s2", "s3")],
      f"both inverted pairs are named: {flat['inversions']}")
check(all(beyond is False for _, _, _, beyond in flat["inversions"]),
      "rises of 0.006 and 0.001 are within 2,048 examples' noise")
check(falls["verdict"] == "falls" and falls["inversions"] == [],
      f"a row falling by 0.18 falls, with no inversion: {falls['verdict']}")
check("seed noise not measured" in noise and "2048" in noise, f"the noise says what it is: {noise}")

# A rise far beyond the noise is called so.
rows, _ = size_effects.size_effects(row(16, [0.50, 0.62, 0.40, 0.30]), 2048)
check(rows[0]["inversions"] and rows[0]["inversions"][0][3] is True,
      f"a rise of 0.12 is beyond its noise: {rows[0]['inversions']}")
check(rows[0]["verdict"] == "falls", "the row still falls from the smallest to the largest N")

# Two seeds per point: the pooled between-seed variance adds, divided by the seeds.
rows, noise = size_effects.size_effects(row(4, [0.60, 0.55, 0.50, 0.45], seeds=2, std=0.02), 1000)
var0 = 0.60 * 0.40 / 1000 + 0.02 ** 2 / 2
var3 = 0.45 * 0.55 / 1000 + 0.02 ** 2 / 2
want = 1.959964 * math.sqrt(var0 + var3)
got = (rows[0]["ci"][1] - rows[0]["ci"][0]) / 2
check(abs(got - want) < 1e-12, f"seed noise joins the eval noise: half-width {got} vs {want}")
check("sd 0.02" in noise, f"the pooled seed sd is named: {noise}")

# Neither eval examples nor seeds: no interval, no verdict, inversions still listed.
rows, _ = size_effects.size_effects(row(1, [0.5, 0.6]), None)
check(rows[0]["ci"] is None and rows[0]["verdict"] == "?", "no noise estimate: no interval")
check(rows[0]["inversions"] == [("s0", "s1", rows[0]["inversions"][0][2], None)],
      "an inversion without a noise estimate is listed, unjudged")

# The printed line carries the errors, the interval, the verdict and the inversions.
rows, _ = size_effects.size_effects(points, 2048)
lines = size_effects.size_effect_lines("ocr", "glyphs/quecc", rows)
check(len(lines) == 2 and "V=1" in lines[0] and "flat" in lines[0]
      and "s0->s1 +0.006 (within noise)" in lines[0], f"the text line: {lines[0]}")

if failures:
    print(f"{len(failures)} check(s) failed")
    sys.exit(1)
print("all checks passed")
