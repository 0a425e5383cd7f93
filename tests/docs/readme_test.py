#!/usr/bin/python3
"""The README cannot drift (issue 22, item 6): every output block it shows is the output of a
command it shows, run here with today's binary.

An output block is any fenced block without a language tag. Each must either begin with
`$ COMMAND` (the command and its output in one block) or follow an annotation

    <!-- output of: COMMAND [&& COMMAND]... -->

whose commands each appear verbatim (after joining `\\` continuations) in one of the README's
`bash` blocks. The commands run with bash in a scratch directory that looks like the repository
root (`build/` is CTest's build directory; `analysis/`, `configs/`, `tests/` are the source tree's;
`results/` holds copies of tests/data/readme/, the results files of the shipped configs that the
README's worked example reports). Their standard output, and the standard error of a failing
command, is compared with the block:

- lines compare with trailing spaces removed; a line `...` stands for any number of lines;
- the block's lines must appear in the output in order, each run of lines between `...`s
  contiguous;
- the only mask: an absolute path up to `/results/` reads as `results/` on both sides (the
  results file's place is the user's checkout).

A stale shipped results file would make the README's numbers untraceable, so the test also
requires the shipped files to hold exactly the jobs the shipped configs plan today.
Environment: VLMSCALE_BIN, VLMSCALE_BUILD_DIR (set by CTest).
"""
import json
import os
import re
import shutil
import subprocess
import tempfile
import unittest

import h5py

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BIN = os.environ.get("VLMSCALE_BIN", os.path.join(ROOT, "build", "vlmscale"))
BUILD = os.environ.get("VLMSCALE_BUILD_DIR", os.path.dirname(BIN))
SHIPPED = os.path.join(ROOT, "tests", "data", "readme")
# Each shipped results file and the config whose plan it must match.
SHIPPED_RUNS = {"quickstart.h5": "configs/quickstart.ini", "ocr.h5": "configs/ocr.ini"}
ENV = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1",
           PYTHONDONTWRITEBYTECODE="1", MPLBACKEND="Agg")

ANNOTATION = re.compile(r"<!--\s*output of:\s*(.*?)\s*-->", re.S)
PATH_MASK = re.compile(r"\S*/results/")


def fenced_blocks(text):
    """[(language, first line number, lines, annotation or None)] of the README's fenced blocks."""
    blocks, lines = [], text.split("\n")
    i, pending = 0, None
    while i < len(lines):
        line = lines[i]
        m = ANNOTATION.search(line)
        if m:
            pending = m.group(1)
        elif line.startswith("```"):
            lang, start, body = line[3:].strip(), i + 1, []
            i += 1
            while i < len(lines) and not lines[i].startswith("```"):
                body.append(lines[i])
                i += 1
            if i == len(lines):
                raise AssertionError(f"README.md:{start}: fenced block never closed")
            blocks.append((lang, start, body, pending))
            pending = None
        elif line.strip():
            pending = None  # An annotation binds only to the block right after it.
        i += 1
    return blocks


def shown_commands(blocks):
    """Every command line of the README's bash blocks, continuations joined, comments dropped."""
    commands = []
    for lang, _, body, _ in blocks:
        if lang != "bash":
            continue
        joined = "\n".join(body).replace("\\\n", " ")
        for line in joined.split("\n"):
            line = re.sub(r"\s+#.*$", "", line).strip()
            if line and not line.startswith("#"):
                commands.append(re.sub(r"\s+", " ", line))
    return commands


def normalise(lines):
    return [PATH_MASK.sub("results/", line.rstrip()) for line in lines]


def find_in_order(expected, actual):
    """None if `expected` (with `...` gaps) appears in `actual` in order, else a message naming
    the first run of lines that does not."""
    runs, run = [], []
    for line in expected:
        if line.strip() == "...":
            runs.append(run)
            run = []
        else:
            run.append(line)
    runs.append(run)
    pos = 0
    for run in runs:
        if not run:
            continue
        found = None
        for start in range(pos, len(actual) - len(run) + 1):
            if actual[start:start + len(run)] == run:
                found = start
                break
        if found is None:
            best = max(range(max(1, len(actual))), key=lambda s: sum(
                1 for a, b in zip(actual[s:s + len(run)], run) if a == b), default=0)
            shown = "\n".join(f"    README: {b!r}\n    output: {a!r}" for a, b in
                              zip(actual[best:best + len(run)] + [""] * len(run), run) if a != b)
            return f"lines not found in the output (in order):\n{shown}"
        pos = found + len(run)
    return None


class ReadmeTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        with open(os.path.join(ROOT, "README.md"), encoding="utf-8") as f:
            cls.blocks = fenced_blocks(f.read())
        cls.commands = shown_commands(cls.blocks)
        cls.scratch = tempfile.mkdtemp(prefix="readme_test_")
        os.symlink(BUILD, os.path.join(cls.scratch, "build"))
        for name in ("analysis", "configs", "tests", "scripts"):
            os.symlink(os.path.join(ROOT, name), os.path.join(cls.scratch, name))
        results = os.path.join(cls.scratch, "results")
        os.mkdir(results)
        for name in os.listdir(SHIPPED):
            if name.endswith(".h5"):
                shutil.copy(os.path.join(SHIPPED, name), results)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.scratch, ignore_errors=True)

    def run_shell(self, command):
        # `build/vlmscale` in the README is CTest's binary (the scratch `build` link points at
        # its directory).
        return subprocess.run(["bash", "-c", command], cwd=self.scratch, env=ENV,
                               capture_output=True, text=True, timeout=600)

    def test_every_output_block_matches_its_command(self):
        output_blocks = [b for b in self.blocks if b[0] == ""]
        self.assertGreaterEqual(len(output_blocks), 4, "the README's output blocks went missing")
        for _, line_no, body, annotation in output_blocks:
            with self.subTest(readme_line=line_no):
                if body and body[0].startswith("$ "):
                    command, expected = body[0][2:], body[1:]
                else:
                    self.assertIsNotNone(
                        annotation, f"README.md:{line_no}: an output block with neither a `$ ` "
                        "command line nor an `<!-- output of: COMMAND -->` annotation above it")
                    command, expected = annotation, body
                    for part in annotation.split("&&"):
                        self.assertIn(re.sub(r"\s+", " ", part.strip()), self.commands,
                                      f"README.md:{line_no}: the annotated command is not shown "
                                      "in any bash block of the README")
                p = self.run_shell(command)
                self.assertEqual(p.returncode, 0,
                                 f"README.md:{line_no}: `{command}` exited {p.returncode}:\n"
                                 f"{p.stderr[-3000:]}")
                problem = find_in_order(normalise(expected), normalise(p.stdout.split("\n")))
                self.assertIsNone(problem, f"README.md:{line_no}: `{command}`: {problem}")

    def test_shipped_results_hold_the_shipped_configs_jobs(self):
        for results, config in SHIPPED_RUNS.items():
            with self.subTest(results=results):
                p = subprocess.run([BIN, "plan", os.path.join(ROOT, config), "--json"],
                                   capture_output=True, text=True, env=ENV)
                self.assertEqual(p.returncode, 0, p.stderr)
                planned = {j["job_id"] for j in json.loads(p.stdout)}
                with h5py.File(os.path.join(SHIPPED, results), "r") as f:
                    rows = f["jobs"][()]
                    done = {r["job_id"].decode() for r in rows if r["status"].decode() == "done"}
                self.assertEqual(done, planned,
                                 f"tests/data/readme/{results} is not a complete run of {config} "
                                 "as planned today: run it again and ship the new file "
                                 "(tests/data/readme/README.md)")

    def test_matcher_rejects_drift(self):
        # The comparison itself could pass anything; show it cannot.
        out = ["a", "b 1.0", "c", "d"]
        self.assertIsNone(find_in_order(["a", "...", "c", "d"], out))
        self.assertIsNone(find_in_order(["a", "b 1.0"], out))
        self.assertIsNotNone(find_in_order(["a", "b 1.1"], out))     # a changed number
        self.assertIsNone(find_in_order(["b 1.0", "c"], out))        # a fragment
        self.assertIsNotNone(find_in_order(["a", "...", "d", "c"], out))  # order
        self.assertIsNotNone(find_in_order(["a", "c"], out))         # a missing line
        self.assertEqual(normalise(["-> /x/y/results/q.h5  "]), ["-> results/q.h5"])


if __name__ == "__main__":
    unittest.main()
