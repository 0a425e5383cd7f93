#!/usr/bin/python3
"""The question text alone predicts no answer better than chance (issue 17).

For each task, `vlmscale tasks dump` writes TRAIN train and EVAL eval examples. Per template, the
question-only Bayes classifier (the most frequent train answer of each exact question text) is
scored on the eval examples and must be within TOLERANCE of that template's chance level: the
mean over its eval questions of 1 / (number of answers the question allows, the dump's
`choices`). The majority answer overall must not beat the mean chance level either.

The tolerance is meaningful: with EVAL = 20,000 and at most 5 templates, each template has about
4,000 eval examples, so the binomial standard error of its accuracy is at most
sqrt(0.5 * 0.5 / 4000) = 0.008 (at p = 0.5; less below): 0.03 is about 3.8 standard errors,
while the leaks the issue measured were 0.1-0.5 above chance. Also checks the dump's PNGs and
argument errors.
"""
import collections
import json
import math
import os
import struct
import subprocess
import sys
import tempfile
import unittest
import zlib

BIN = os.environ.get("VLMSCALE_BIN", "build/vlmscale")
TRAIN = 100000
EVAL = 20000
TOLERANCE = 0.03
TASKS = ("shapes", "glyphs")


def dump(task, split, count, *extra):
    out = subprocess.run([BIN, "tasks", "dump", "--task", task, "--split", split, "--count",
                          str(count), *extra], capture_output=True, text=True)
    if out.returncode != 0:
        raise AssertionError(f"tasks dump exited {out.returncode}: {out.stderr}")
    return [json.loads(line) for line in out.stdout.splitlines()]


class QuestionOnlyTest(unittest.TestCase):
    def test_question_only_bayes_accuracy_is_at_chance_for_every_template(self):
        for task in TASKS:
            train, evals = dump(task, "train", TRAIN), dump(task, "eval", EVAL)
            by_question = collections.defaultdict(collections.Counter)
            for e in train:
                by_question[e["question"]][e["answer"]] += 1
            guess = {q: c.most_common(1)[0][0] for q, c in by_question.items()}
            correct, seen, chance = (collections.Counter(), collections.Counter(),
                                     collections.Counter())
            for e in evals:
                t = e["type"]
                seen[t] += 1
                chance[t] += 1.0 / e["choices"]
                correct[t] += guess.get(e["question"]) == e["answer"]
            for t in sorted(seen):
                acc, ch = correct[t] / seen[t], chance[t] / seen[t]
                se = math.sqrt(ch * (1 - ch) / seen[t])
                print(f"{task} {t:16s} n={seen[t]:5d} chance={ch:.3f} question-only={acc:.3f} "
                      f"(se {se:.3f})", file=sys.stderr)
                with self.subTest(task=task, template=t):
                    self.assertLess(abs(acc - ch), TOLERANCE)
            overall_chance = sum(chance.values()) / len(evals)
            majority = collections.Counter(e["answer"] for e in train).most_common(1)[0][0]
            majority_acc = sum(e["answer"] == majority for e in evals) / len(evals)
            print(f"{task} majority answer '{majority}' accuracy {majority_acc:.3f}, mean chance "
                  f"{overall_chance:.3f}", file=sys.stderr)
            self.assertLess(majority_acc, overall_chance + TOLERANCE)

    def test_images_are_valid_pngs_of_the_requested_size(self):
        with tempfile.TemporaryDirectory() as d:
            rows = dump("glyphs", "eval", 3, "--images", d, "--image-size", "96", "--seed", "4")
            self.assertEqual([r["index"] for r in rows], [0, 1, 2])
            for i in range(3):
                with open(os.path.join(d, f"{i}.png"), "rb") as f:
                    data = f.read()
                self.assertEqual(data[:8], b"\x89PNG\r\n\x1a\n")
                pos, chunks = 8, {}
                while pos < len(data):
                    n, kind = struct.unpack(">I4s", data[pos:pos + 8])
                    body = data[pos + 8:pos + 8 + n]
                    crc, = struct.unpack(">I", data[pos + 8 + n:pos + 12 + n])
                    self.assertEqual(crc, zlib.crc32(kind + body))
                    chunks[kind] = body
                    pos += 12 + n
                w, h = struct.unpack(">II", chunks[b"IHDR"][:8])
                self.assertEqual((w, h), (96, 96))
                raw = zlib.decompress(chunks[b"IDAT"])  # Checks the Adler-32 too.
                self.assertEqual(len(raw), 96 * (3 * 96 + 1))

    def test_dump_rows_carry_the_scene(self):
        shapes = dump("shapes", "train", 5)
        for r in shapes:
            self.assertEqual(len(r["question_tokens"]), 8)
            self.assertTrue(r["scene"]["objects"])
            self.assertEqual(set(r["scene"]["objects"][0]),
                             {"row", "col", "color", "shape", "x", "y", "size"})
        glyphs = dump("glyphs", "train", 5)
        for r in glyphs:
            self.assertEqual(len(r["scene"]["lines"]), 3)
            self.assertEqual(r["scene"]["cell_width"], 6)

    def test_bad_arguments_exit_2_with_one_line(self):
        for args in (["--task", "shape", "--split", "train", "--count", "1"],
                     ["--task", "shapes", "--split", "test", "--count", "1"],
                     ["--task", "shapes", "--split", "train", "--count", "-1"],
                     ["--task", "shapes", "--split", "train", "--count", "1", "--image-size",
                      "20"],
                     ["--split", "train", "--count", "1"]):
            out = subprocess.run([BIN, "tasks", "dump", *args], capture_output=True, text=True)
            self.assertEqual(out.returncode, 2, args)
            self.assertEqual(len(out.stderr.strip().splitlines()), 1, out.stderr)
            self.assertIn("vlmscale tasks: error:", out.stderr)
        out = subprocess.run([BIN, "tasks", "load", "--task", "shapes", "--split", "train",
                              "--count", "1"], capture_output=True, text=True)
        self.assertEqual(out.returncode, 2)
        self.assertIn("unknown action 'load'", out.stderr)


if __name__ == "__main__":
    unittest.main()
