#!/usr/bin/python3
"""A stand-in for an external trainer, run by `command` jobs in tests.

It follows the argument contract of docs/COMMAND_JOBS.md: it reads the grid point from its
arguments, "trains" for --seconds (printing a progress line every 0.05 s, and appending one
to $VLMSCALE_PROGRESS: {"step", "loss" = 1/(step+1), "phase", "lr"}), and writes
RUN_DIR/metrics.json with the error of a known law

    error = A * N^-ALPHA * T^-BETA + E      (N = --n-params, T = --visual-tokens)

so that fitting a sweep of it must recover (A, ALPHA, BETA, E). Only RANK 0 (or a single process)
writes metrics; every process writes RUN_DIR/seen.rank<RANK>.json with its argv and the
environment variables a trainer reads, so tests can check exactly what it received.

How it misbehaves is chosen by environment variables (set with command.env):
  FAKE_FAIL="k=v,k=v"   only grid points matching all conditions (keys llm, visual_tokens, method,
                        seed) misbehave; empty or unset: every point.
  FAKE_FAIL_ATTEMPTS=n  misbehave only on attempts <= n (then succeed); 0 or unset: always.
  FAKE_HOW=             exit (status 3 with a message on stderr), crash (SIGSEGV), hang (sleep
                        silently for FAKE_HANG_SECONDS, default 3600, then succeed), no-metrics
                        (exit 0 without metrics.json), bad-metrics (an invalid metrics.json),
                        accuracy (write only "accuracy"), deaf (ignore SIGUSR1/SIGTERM),
                        bad-progress (3 malformed progress lines before the good ones).
  FAKE_SECONDS          overrides --seconds.
  FAKE_SECONDS_PER_COST=s  overrides --seconds with s * N (Q + T) / (0.5e9 * 51), Q = 50: a
                        duration proportional to the cost model's 2 N (Q + T), s for the
                        smallest point of the paper grid (0.5B, 1 token).
  FAKE_NOISE=sd         adds Gaussian noise of this sd to the error, the same for the same grid
                        point and seed (seeded by them): a law plus noise, for interval tests.
  FAKE_NOISE_SEED=s     also seeds the noise by s (another draw of the same sweep).
  FAKE_LAW="A,ALPHA,BETA,E"  the law's parameters instead of the defaults above, with N in
                        billions (A * (N/1e9)^-ALPHA * T^-BETA + E): e.g. one whose T* is inside
                        the grid (ALPHA > BETA), for the adaptive sweep's tests.
On SIGUSR1 or SIGTERM it writes RUN_DIR/stopped.rank<RANK> and exits 0 without metrics (like a
trainer that checkpoints and leaves), unless deaf. Once its handlers are installed it writes
RUN_DIR/armed.rank<RANK> (its PID), so a test knows when a signal will be handled.
"""
import argparse
import json
import os
import random
import signal
import sys
import time

A, ALPHA, BETA, E = 5.0, 0.12, 0.25, 0.15


def law(n, t):
    return A * n ** -ALPHA * t ** -BETA + E


def matches(rule, point):
    if not rule:
        return True
    for cond in rule.split(","):
        k, _, v = cond.partition("=")
        if str(point.get(k.strip())) != v.strip():
            return False
    return True


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--llm", required=True)
    p.add_argument("--n-params", type=float, required=True)
    p.add_argument("--visual-tokens", type=int, required=True)
    p.add_argument("--method", default="none")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--attempt", type=int, default=1)
    p.add_argument("--run-dir", required=True)
    p.add_argument("--seconds", type=float, default=0.1)
    p.add_argument("--echo", action="append", default=[])
    args = p.parse_args()

    rank = os.environ.get("RANK", "0")
    seen = {
        "argv": sys.argv[1:],
        "echo": args.echo,
        "cwd": os.getcwd(),
        "env": {k: os.environ.get(k) for k in
                ["CUDA_VISIBLE_DEVICES", "MASTER_ADDR", "MASTER_PORT", "WORLD_SIZE", "RANK",
                 "LOCAL_RANK", "LOCAL_WORLD_SIZE", "VLMSCALE_RUN_DIR", "VLMSCALE_JOB_ID",
                 "VLMSCALE_ATTEMPT", "OMP_NUM_THREADS", "FAKE_EXTRA", "OMPI_COMM_WORLD_RANK"]},
        # Every VLMSCALE_* variable (the stage's VLMSCALE_STAGE, VLMSCALE_AXIS_*, VLMSCALE_NEEDS_*).
        "vlmscale_env": {k: v for k, v in os.environ.items() if k.startswith("VLMSCALE_")},
        "pgid_is_pid": os.getpgid(0) == os.getpid(),
    }
    with open(os.path.join(args.run_dir, f"seen.rank{rank}.json"), "w") as f:
        json.dump(seen, f)

    point = {"llm": args.llm, "visual_tokens": args.visual_tokens, "method": args.method,
             "seed": args.seed}
    limit = int(os.environ.get("FAKE_FAIL_ATTEMPTS", "0") or 0)
    misbehave = matches(os.environ.get("FAKE_FAIL", ""), point) and (limit == 0 or
                                                                      args.attempt <= limit)
    how = os.environ.get("FAKE_HOW", "") if misbehave else ""

    def on_stop(signum, frame):
        with open(os.path.join(args.run_dir, f"stopped.rank{rank}"), "w") as f:
            f.write(signal.Signals(signum).name)
        print(f"got {signal.Signals(signum).name}, checkpointed, leaving", flush=True)
        os._exit(0)

    if how == "deaf":
        signal.signal(signal.SIGUSR1, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    else:
        signal.signal(signal.SIGUSR1, on_stop)
        signal.signal(signal.SIGTERM, on_stop)
    # From here on a stop request is handled: tests wait for this file before they signal.
    with open(os.path.join(args.run_dir, f"armed.rank{rank}"), "w") as f:
        f.write(str(os.getpid()))

    seconds = float(os.environ.get("FAKE_SECONDS", args.seconds))
    if os.environ.get("FAKE_SECONDS_PER_COST"):
        seconds = (float(os.environ["FAKE_SECONDS_PER_COST"]) * args.n_params *
                   (50 + args.visual_tokens) / (0.5e9 * 51))
    if how == "hang":
        time.sleep(float(os.environ.get("FAKE_HANG_SECONDS", "3600")))
    end = time.time() + seconds
    step = 0
    progress = open(os.environ["VLMSCALE_PROGRESS"], "a") if os.environ.get("VLMSCALE_PROGRESS") \
        else None
    if progress and how == "bad-progress":
        progress.write('{"step": -1, "loss": 1}\nnot json\n{"loss": 2.0}\n')
    while time.time() < end:
        print(f"step {step}", flush=True)
        if progress:  # One progress line per step (docs/COMMAND_JOBS.md).
            progress.write(json.dumps({"step": step, "loss": 1.0 / (step + 1), "phase": "train",
                                       "lr": 0.001}) + "\n")
            progress.flush()
        step += 1
        time.sleep(min(0.05, max(0.0, end - time.time())))
    if progress:
        progress.close()

    if how == "exit":
        print("fake trainer: CUDA error: out of patience (told to fail)", file=sys.stderr,
              flush=True)
        sys.exit(3)
    if how == "crash":
        os.kill(os.getpid(), signal.SIGSEGV)
    if how == "no-metrics":
        return
    if rank != "0":
        return
    path = os.path.join(args.run_dir, "metrics.json")
    if how == "bad-metrics":
        with open(path, "w") as f:
            f.write('{"error": "not a number"}')
        return
    y = law(args.n_params, args.visual_tokens)
    if os.environ.get("FAKE_LAW"):
        a, alpha, beta, e = (float(x) for x in os.environ["FAKE_LAW"].split(","))
        y = a * (args.n_params / 1e9) ** -alpha * args.visual_tokens ** -beta + e
    noise = float(os.environ.get("FAKE_NOISE", "0") or 0)
    if noise > 0:
        key = f"{args.llm}/{args.visual_tokens}/{args.method}/{args.seed}"
        if os.environ.get("FAKE_NOISE_SEED"):
            key += "/" + os.environ["FAKE_NOISE_SEED"]
        rng = random.Random(key)
        y += rng.gauss(0.0, noise)
    metrics = {"accuracy": 1.0 - y} if how == "accuracy" else {"error": y, "accuracy": 1.0 - y,
                                                                "train_steps": step}
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(metrics, f)
    os.replace(tmp, path)


if __name__ == "__main__":
    main()
