#!/usr/bin/python3
"""A stand-in for the LLaVA scripts of configs/paper-grid.ini, run by `command` stages in tests.

    fake_llava.py align    --model-path M --compressor C --num-visual-tokens V --output-dir D
                           --run-dir R [--data X] [--n-params N] [--seconds S]
    fake_llava.py finetune (the same) --init-from ALIGN_DIR
    fake_llava.py eval     --checkpoint FINETUNE_DIR --compressor C --num-visual-tokens V
                           --benchmark B --output-dir R [--finetune-loss L] [--seconds S]

It takes the arguments docs/COMMAND_JOBS.md ("The paper grid") gives the real scripts and checks
what a pipeline must hand over, exiting 1 with a message on stderr when something is wrong:
  align     writes D/projector.json (the model, compressor, V and N it was given);
  finetune  requires ALIGN_DIR/projector.json for the same model, compressor and V, and writes
            D/checkpoint.json (the same fields plus its eval_loss);
  eval      requires FINETUNE_DIR/checkpoint.json for the same compressor and V (and, with
            --finetune-loss, that eval_loss), and writes metrics.json with
            error = error_of(N, V, B) (see below) and accuracy = 1 - error.
align and finetune write R/metrics.json with train_loss (and finetune's eval_loss), numbers of
(N, V). N comes from --n-params (the real scripts read the model instead; default 1e9).
"""
import argparse
import json
import math
import os
import sys
import time

A, ALPHA, BETA, E = 5.0, 0.12, 0.25, 0.15


def error_of(n, v, benchmark):
    """The error eval records: the fake law of fake_trainer.py plus a per-benchmark offset."""
    offset = (sum(map(ord, benchmark)) % 11) * 0.01
    return A * n ** -ALPHA * v ** -BETA + E + offset


def eval_loss_of(n, v):
    return 2.0 + 10.0 * n ** -0.1 * v ** -0.2


def fail(message):
    print(f"fake_llava: {message}", file=sys.stderr, flush=True)
    sys.exit(1)


def read_json(path, what):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError) as e:
        fail(f"cannot read {what} {path}: {e}")


def write_json(path, value):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(value, f)
    os.replace(tmp, path)


def work(seconds):
    end = time.time() + seconds
    step = 0
    while True:
        print(f"step {step}", flush=True)
        step += 1
        if time.time() >= end:
            return
        time.sleep(min(0.05, end - time.time()))


def main():
    p = argparse.ArgumentParser()
    p.add_argument("stage", choices=["align", "finetune", "eval"])
    p.add_argument("--model-path")
    p.add_argument("--compressor", required=True)
    p.add_argument("--num-visual-tokens", type=int, required=True)
    p.add_argument("--output-dir", required=True)
    p.add_argument("--run-dir")
    p.add_argument("--data")
    p.add_argument("--n-params", type=float, default=1e9)
    p.add_argument("--init-from")
    p.add_argument("--checkpoint")
    p.add_argument("--benchmark")
    p.add_argument("--finetune-loss", type=float)
    p.add_argument("--seconds", type=float, default=0.0)
    a = p.parse_args()
    if not os.path.isdir(a.output_dir):
        fail(f"--output-dir {a.output_dir} is not a directory")
    me = {"model": a.model_path, "compressor": a.compressor, "visual_tokens": a.num_visual_tokens}

    if a.stage == "align":
        if not a.model_path or not a.run_dir:
            fail("align needs --model-path and --run-dir")
        work(a.seconds)
        write_json(os.path.join(a.output_dir, "projector.json"), dict(me, n_params=a.n_params))
        loss = 3.0 + 10.0 * a.n_params ** -0.1
        write_json(os.path.join(a.run_dir, "metrics.json"), {"train_loss": loss})
        return

    if a.stage == "finetune":
        if not a.model_path or not a.run_dir or not a.init_from:
            fail("finetune needs --model-path, --run-dir and --init-from")
        projector = read_json(os.path.join(a.init_from, "projector.json"),
                              "align's projector (--init-from)")
        for k, v in me.items():
            if projector.get(k) != v:
                fail(f"--init-from {a.init_from} holds a projector for {k} = {projector.get(k)!r},"
                     f" not {v!r}")
        work(a.seconds)
        n = projector["n_params"]
        loss = eval_loss_of(n, a.num_visual_tokens)
        write_json(os.path.join(a.output_dir, "checkpoint.json"),
                   dict(me, n_params=n, eval_loss=loss))
        write_json(os.path.join(a.run_dir, "metrics.json"),
                   {"train_loss": loss - 0.5, "eval_loss": loss})
        return

    if not a.checkpoint or not a.benchmark:
        fail("eval needs --checkpoint and --benchmark")
    ckpt = read_json(os.path.join(a.checkpoint, "checkpoint.json"),
                     "finetune's checkpoint (--checkpoint)")
    for k in ("compressor", "visual_tokens"):
        if ckpt.get(k) != me[k]:
            fail(f"--checkpoint {a.checkpoint} holds a model for {k} = {ckpt.get(k)!r}, "
                 f"not {me[k]!r}")
    if a.finetune_loss is not None and a.finetune_loss != ckpt["eval_loss"]:
        fail(f"--finetune-loss {a.finetune_loss!r} is not the checkpoint's eval_loss "
             f"{ckpt['eval_loss']!r}")
    work(a.seconds)
    err = error_of(ckpt["n_params"], a.num_visual_tokens, a.benchmark)
    assert math.isfinite(err) and 0.0 < err < 1.0
    write_json(os.path.join(a.output_dir, "metrics.json"),
               {"error": err, "accuracy": 1.0 - err, a.benchmark: 1.0 - err})


if __name__ == "__main__":
    main()
