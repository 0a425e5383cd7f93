#!/usr/bin/python3
"""Figures from a fit JSON alone (e.g. 'vlmscale fit --csv'), without a results file.

  analysis/plot_fit.py FIT.json -o DIR [--text-tokens Q] [--frontier FRONTIER.json]
                       [--n-unit B]

Draws error_vs_tokens, frontier and fit_quality (analysis/figures.py) from the fit's own points
(seed means, as fitted). --frontier adds the budgets of a 'vlmscale frontier --json' file to the
frontier figure; --n-unit is appended to N in labels (e.g. B for billions). Prints the path of each
PNG (an SVG is written next to it). Exit codes: 0 ok, 2 bad input (one line on stderr).
"""

import argparse
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from vlmresults import ResultsError, group_key, load_fit  # noqa: E402


def main(argv):
    parser = argparse.ArgumentParser(prog="plot_fit.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("fit", help="fit JSON from 'vlmscale fit --json'")
    parser.add_argument("-o", "--output", required=True, help="directory for the figures")
    parser.add_argument("--text-tokens", type=float, default=50.0, help="Q (default 50)")
    parser.add_argument("--frontier", help="frontier JSON from 'vlmscale frontier --json'")
    parser.add_argument("--n-unit", default="", help="unit suffix of N in labels, e.g. B")
    args = parser.parse_args(argv)

    import figures as figs

    fits = load_fit(args.fit)
    frontiers = {}
    if args.frontier:
        try:
            with open(args.frontier) as f:
                frontier = json.load(f)
        except (OSError, ValueError) as e:
            raise ResultsError(f"{args.frontier}: cannot read the frontier JSON ({e})") from None
        frontiers[frontier.get("group") or group_key(fits[0])] = frontier
    os.makedirs(args.output, exist_ok=True)
    fits_by_group = {group_key(f): f for f in fits}
    points = figs.points_from_fits(fits)
    made = [figs.error_vs_tokens(points, fits_by_group, args.output, n_unit=args.n_unit,
                                 frontiers=frontiers),
            figs.frontier_figure(points, fits_by_group, frontiers, args.text_tokens, args.output,
                                 n_unit=args.n_unit),
            figs.fit_quality_figure(fits, args.output)]
    for fig in made:
        if fig is not None:
            print(f"figure: {os.path.abspath(fig.files[0])} (+ .svg)")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except ResultsError as e:
        print(f"plot_fit.py: error: {e}", file=sys.stderr)
        sys.exit(2)
