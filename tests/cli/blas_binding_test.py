#!/usr/bin/env python3
"""libtorch's sgemm_ in the vlmscale binary must bind to the system BLAS (libblas.so.3, which
scripts/setup.sh points at OpenBLAS), not to ATLAS's libf77blas that Ceres brings in: that binding
halved training speed (5.9 vs 11.9 steps/s for one mini job; docs/TRAINING.md, "The BLAS"). Asks the dynamic linker itself
(LD_DEBUG=bindings with LD_BIND_NOW=1, so every symbol binds when its library loads). libtorch
arrives in the plugin that `run` and `tasks dump` load (jobs/torch_jobs.h), after the binary's
own libraries: `tasks dump` loads it here."""
import os
import re
import subprocess
import unittest

BIN = os.environ.get("VLMSCALE_BIN", "build/vlmscale")


def bindings(symbol):
    """{file that calls `symbol`: library it binds to} for one run of vlmscale that loads the
    libtorch job plugin."""
    env = dict(os.environ, LD_BIND_NOW="1", LD_DEBUG="bindings")
    p = subprocess.run([BIN, "tasks", "dump", "--task", "shapes", "--split", "eval", "--count",
                        "1"], env=env, capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stdout + p.stderr
    out = {}
    pattern = re.compile(r"binding file (\S+) \[\d+\] to (\S+) \[\d+\]: normal symbol `" +
                         re.escape(symbol) + "'")
    for line in p.stderr.splitlines():
        m = pattern.search(line)
        if m:
            out[os.path.basename(m.group(1))] = os.path.basename(m.group(2))
    return out


class BlasBindingTest(unittest.TestCase):
    def test_libtorch_sgemm_reaches_the_system_blas(self):
        b = bindings("sgemm_")
        torch = [f for f in b if f.startswith("libtorch_cpu.so")]
        self.assertEqual(len(torch), 1, f"libtorch_cpu does not call sgemm_ here: {b}")
        self.assertEqual(b[torch[0]], "libblas.so.3", b)
        self.assertNotIn("libf77blas.so.3", b.values(), b)


if __name__ == "__main__":
    unittest.main(verbosity=2)
