#!/usr/bin/python3
"""Machine-readable benchmark figures, gathered by bench/run_all.sh into one table.

A benchmark calls emit() (C++ and shell benchmarks write the same JSON line themselves) for each
figure it prints; with VLMSCALE_BENCH_JSONL set, one JSON object per line is appended to that file:
  {"bench": "driver", "figure": "...", "value": "...", "target": "...", "comparison": "...",
   "ratio": "..."}
All fields are display strings ("-" or "" when there is none). Without the variable, nothing is
written and each benchmark prints only its own table.
  bench/figures.py table FILE [HEADER...]   prints the combined table of FILE
"""
import json
import os
import sys

FIELDS = ("bench", "figure", "value", "target", "comparison", "ratio")


def emit(bench, figure, value, target="-", comparison="-", ratio="-"):
    path = os.environ.get("VLMSCALE_BENCH_JSONL")
    if not path:
        return
    row = dict(zip(FIELDS, (bench, figure, value, target, comparison, ratio)))
    with open(path, "a") as f:
        f.write(json.dumps({k: str(v) if v not in (None, "") else "-" for k, v in row.items()})
                + "\n")


def table(path):
    """The figures of `path` as a Markdown table, in the order they were emitted."""
    rows = []
    with open(path) as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                r = json.loads(line)
            except ValueError as e:
                sys.exit(f"{path}:{n}: not a JSON figure line ({e})")
            missing = [k for k in FIELDS if k not in r]
            if missing:
                sys.exit(f"{path}:{n}: figure line without {', '.join(missing)}")
            rows.append(r)
    cell = lambda s: str(s).replace("|", "\\|")
    out = ["| bench | figure | value | target | comparison | ratio |",
           "|---|---|---|---|---|---|"]
    out += ["| " + " | ".join(cell(r[k]) for k in FIELDS) + " |" for r in rows]
    return "\n".join(out)


if __name__ == "__main__":
    if len(sys.argv) < 3 or sys.argv[1] != "table":
        sys.exit("usage: bench/figures.py table FILE [HEADER...]")
    for h in sys.argv[3:]:
        print(h)
    print(table(sys.argv[2]))
