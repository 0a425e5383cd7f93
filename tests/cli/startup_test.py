#!/usr/bin/env python3
"""Read-only commands never load libtorch (issue 22, item 4; jobs/torch_jobs.h): the vlmscale
binary does not link it, the commands that need it (`run` of a sweep with finetune_eval or
pretrain_llm jobs, `tasks dump`) load libvlmscale_torch_jobs.so from the binary's directory, and a
missing or broken plugin is one clear error (exit 2) naming its path. Real binary, real plugin,
real mpirun and results files; which libraries a start loads is asked of the dynamic linker
(LD_DEBUG=files)."""
import json
import os
import re
import shutil
import subprocess
import tempfile
import unittest

BIN = os.path.abspath(os.environ.get("VLMSCALE_BIN", "build/vlmscale"))
PLUGIN = os.path.join(os.path.dirname(BIN), "libvlmscale_torch_jobs.so")
ENV = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1",
           OMPI_MCA_rmaps_base_oversubscribe="1")
TORCH = re.compile(r"lib(torch|c10)[^/\s]*\.so")

SLEEP_SWEEP = """[sweep]
name = startup
output = {out}
[grid]
llm = nano, micro
visual_tokens = 4, 16
method = avgpool
task = shapes
seed = 0
[job]
type = sleep
[sleep]
seconds = 0
"""

# Two tiny finetune_eval jobs (seconds each).
FINETUNE_SWEEP = """[sweep]
name = tiny
output = {out}
[grid]
llm = nano
visual_tokens = 1, 4
method = avgpool
task = shapes
seed = 0
[model]
encoder_pretrain_steps = 5
cache_dir = {cache}
[train]
steps = 4
batch_size = 8
warmup_steps = 1
[eval]
examples = 16
batch_size = 16
"""


def run(args, binary=BIN, trace=False, timeout=300):
    """(process, set of shared objects the dynamic linker opened)."""
    env = dict(ENV, LD_DEBUG="files") if trace else ENV
    p = subprocess.run([binary] + args, env=env, capture_output=True, text=True, timeout=timeout)
    opened = set(re.findall(r"file=(\S+) \[\d+\];\s+(?:needed|dynamically loaded) by", p.stderr))
    return p, opened


def errors(p):
    """stderr without the dynamic linker's trace lines."""
    return [l for l in p.stderr.splitlines() if l.strip() and not re.match(r"\s*\d+:", l)]


class StartupTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="vlmscale-startup-")

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def write(self, name, text):
        path = os.path.join(self.tmp, name)
        with open(path, "w") as f:
            f.write(text)
        return path

    def test_the_binary_does_not_link_libtorch_and_the_plugin_does(self):
        linked = subprocess.run(["ldd", BIN], capture_output=True, text=True, check=True).stdout
        self.assertEqual(TORCH.findall(linked), [], linked)
        self.assertTrue(os.path.isfile(PLUGIN), f"{PLUGIN} not built beside the binary")
        plugin = subprocess.run(["ldd", PLUGIN], capture_output=True, text=True,
                                check=True).stdout
        self.assertIn("libtorch_cpu.so", plugin)
        self.assertNotIn("not found", plugin)

    def test_read_only_commands_never_load_libtorch(self):
        # A results file from a real run of a sweep whose job type needs no libtorch.
        out = os.path.join(self.tmp, "results.h5")
        cfg = self.write("sleep.ini", SLEEP_SWEEP.format(out=out))
        p, opened = run(["run", cfg, "--quiet"], trace=True)
        self.assertEqual(p.returncode, 0, p.stdout + "\n".join(errors(p)))
        self.assertTrue(os.path.exists(out))
        self.assertEqual([f for f in opened if TORCH.search(f) or "torch_jobs" in f], [])
        self.assertIn("libhdf5", " ".join(opened))  # The trace does list what a start loads.
        for args in (["--version"], ["--help"], ["status", out], ["status", out, "--json"],
                     ["export", out, "--format", "json"], ["plan", "configs/quickstart.ini"],
                     ["plan", "configs/paper-grid.ini"], ["keys"]):
            p, opened = run(args, trace=True)
            self.assertEqual(p.returncode, 0, f"{args}: " + "\n".join(errors(p)))
            self.assertEqual([f for f in opened if TORCH.search(f) or "torch_jobs" in f], [],
                             f"vlmscale {' '.join(args)} loaded libtorch")
        p, _ = run(["status", out, "--json"])
        self.assertEqual(json.loads(p.stdout)["done"], 4, p.stdout)

    def test_tasks_dump_loads_the_plugin(self):
        p, opened = run(["tasks", "dump", "--task", "shapes", "--split", "eval", "--count", "3",
                         "--images", os.path.join(self.tmp, "png")], trace=True)
        self.assertEqual(p.returncode, 0, "\n".join(errors(p)))
        lines = [json.loads(l) for l in p.stdout.splitlines()]
        self.assertEqual([l["index"] for l in lines], [0, 1, 2])
        self.assertEqual(sorted(os.listdir(os.path.join(self.tmp, "png"))),
                         ["0.png", "1.png", "2.png"])
        self.assertIn(PLUGIN, opened)
        self.assertTrue(any("libtorch_cpu.so" in f for f in opened), opened)

    def test_a_finetune_sweep_runs_under_mpirun_with_the_plugin(self):
        out = os.path.join(self.tmp, "tiny.h5")
        cfg = self.write("tiny.ini", FINETUNE_SWEEP.format(out=out,
                                                           cache=os.path.join(self.tmp, "cache")))
        p = subprocess.run(["mpirun", "--oversubscribe", "-np", "2", BIN, "run", cfg, "--quiet"],
                           env=ENV, capture_output=True, text=True, timeout=600)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        s = subprocess.run([BIN, "export", out, "--format", "json"], env=ENV,
                           capture_output=True, text=True, check=True)
        jobs = json.loads(s.stdout)["jobs"]
        self.assertEqual(len(jobs), 2)
        for j in jobs:
            self.assertEqual(j["status"], "done", j)
            self.assertTrue(0.0 <= j["error"] <= 1.0, j)
            self.assertGreater(j["extra_metrics"]["steps_per_second"], 0, j)

    def copied_binary(self):
        """The binary alone in a directory of its own: no plugin beside it."""
        d = os.path.join(self.tmp, "bin")
        os.mkdir(d)
        shutil.copy2(BIN, d)
        return os.path.join(d, "vlmscale"), os.path.join(d, "libvlmscale_torch_jobs.so")

    def check_refused(self, binary, plugin, why):
        out = os.path.join(self.tmp, "tiny.h5")
        cfg = self.write("tiny.ini", FINETUNE_SWEEP.format(out=out,
                                                           cache=os.path.join(self.tmp, "cache")))
        p, _ = run(["run", cfg], binary=binary)
        self.assertEqual(p.returncode, 2, p.stdout + p.stderr)
        lines = errors(p)
        self.assertEqual(len(lines), 1, lines)
        self.assertIn("vlmscale run: error: job type finetune_eval: the libtorch job plugin '" +
                      plugin + "' " + why, lines[0])
        self.assertFalse(os.path.exists(out), "a refused run must not start the results file")
        # Planning needs no plugin.
        p, _ = run(["plan", cfg], binary=binary)
        self.assertEqual(p.returncode, 0, p.stderr)
        p, _ = run(["tasks", "dump", "--task", "shapes", "--split", "eval", "--count", "1"],
                   binary=binary)
        self.assertEqual(p.returncode, 2, p.stderr)
        self.assertIn(plugin, p.stderr)

    def test_a_missing_plugin_is_one_error_naming_its_path(self):
        binary, plugin = self.copied_binary()
        self.check_refused(binary, plugin, "does not exist")

    def test_a_broken_plugin_is_one_error_naming_its_path(self):
        binary, plugin = self.copied_binary()
        with open(plugin, "wb") as f:
            f.write(b"not an ELF file\n")
        self.check_refused(binary, plugin, "cannot be loaded")


if __name__ == "__main__":
    unittest.main(verbosity=2)
