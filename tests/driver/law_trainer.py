#!/usr/bin/python3 -S
"""The cheapest `command` trainer for the adaptive sweeps' coverage test: it writes
RUN_DIR/metrics.json with the error of a known law plus seeded noise, exactly what
tests/command/fake_trainer.py writes for the same arguments and FAKE_LAW, FAKE_NOISE and
FAKE_NOISE_SEED (the same formula, noise key and JSON text; the coverage test checks that the two
files are identical), without fake_trainer's argparse, progress lines, signal handling and
misbehaviours. A sweep runs ~20 of these one after another, 20 sweeps per test: Python's start-up
is most of the test's CPU, so this imports only os, sys and random (run with -S: no site).

Usage: law_trainer.py --llm L --n-params N --visual-tokens T --method M --seed S --run-dir D
       (other --key value pairs are ignored)
"""
import os
import sys
from random import Random


def main():
    argv = sys.argv[1:]
    args = dict(zip(argv[0::2], argv[1::2]))
    n = float(args["--n-params"])
    t = int(args["--visual-tokens"])
    a, alpha, beta, e = (float(x) for x in os.environ["FAKE_LAW"].split(","))
    y = a * (n / 1e9) ** -alpha * t ** -beta + e
    noise = float(os.environ.get("FAKE_NOISE", "0") or 0)
    if noise > 0:
        key = f"{args['--llm']}/{t}/{args['--method']}/{int(args['--seed'])}"
        if os.environ.get("FAKE_NOISE_SEED"):
            key += "/" + os.environ["FAKE_NOISE_SEED"]
        y += Random(key).gauss(0.0, noise)
    path = os.path.join(args["--run-dir"], "metrics.json")
    with open(path + ".tmp", "w") as f:
        # json.dump's text for {"error": y, "accuracy": 1 - y, "train_steps": 0}.
        f.write(f'{{"error": {y!r}, "accuracy": {1.0 - y!r}, "train_steps": 0}}')
    os.replace(path + ".tmp", path)


if __name__ == "__main__":
    main()
