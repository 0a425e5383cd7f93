#!/usr/bin/python3
"""Rank 0's memory at scale (issue 22, item 7), under a real mpirun with real files.

A 100,000-job grid of zero-second `sleep` jobs on 2 ranks. Rank 0 (coordinator, store, worker)
reports its peak RSS in the run's summary line; it must stay under MAX_RANK0_MIB, a bound that
main before the item (535 MiB in docs/BENCHMARKS.md) fails. Compacting the per-job state must
lose nothing: the final snapshot holds every planned job id, each done, and the three state
transitions of each (pending, running, done) in /events; `vlmscale status` counts them all.
Not a timing test; it takes ~30-60 s on the 2-core development VM, hence the `slow` label.
Environment: VLMSCALE_BIN (set by CTest).
"""
import collections
import json
import os
import subprocess
import sys
import tempfile
import unittest

import h5py

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from e2e_util import BIN, ENV, planned_ids, status_json  # noqa: E402

JOBS = 100000
# The issue's target is 150 MiB; this build peaks at ~150 MiB (docs/BENCHMARKS.md, "Rank 0's
# memory at scale"). The bound is that plus ~1/3 for other allocators and MPI builds, and well below
# the 358 MiB of the build before the packed records and the /curve_points table, so a regression to
# either fails.
MAX_RANK0_MIB = 200

CONFIG = """[sweep]
name = memory
output = {out}
[grid]
llm = nano, micro
visual_tokens = 1, 4, 16, 36, 64
seed = {seeds}
[job]
type = sleep
[run]
snapshot_seconds = 5
"""


class MemoryTest(unittest.TestCase):
    def test_rank0_memory_of_a_large_grid_is_bounded_and_every_job_is_recorded(self):
        with tempfile.TemporaryDirectory(prefix="vlmscale-memory-") as tmp:
            out = os.path.join(tmp, "r.h5")
            cfg = os.path.join(tmp, "m.ini")
            with open(cfg, "w") as f:
                f.write(CONFIG.format(out=out, seeds=", ".join(map(str, range(JOBS // 10)))))
            p = subprocess.run(["mpirun", "--oversubscribe", "-np", "2", BIN, "run", cfg,
                                "--log-format", "json", "--quiet"],
                               env=ENV, capture_output=True, text=True, timeout=600)
            self.assertEqual(p.returncode, 0, p.stderr[-3000:])
            summary = [json.loads(line) for line in p.stdout.splitlines()
                       if line.startswith("{") and '"summary"' in line]
            self.assertEqual(len(summary), 1, p.stdout[-3000:])
            s = summary[0]
            self.assertEqual((s["done"], s["failed"], s["pending"]), (JOBS, 0, 0))
            self.assertLessEqual(s["rank0_max_rss_mb"], MAX_RANK0_MIB,
                                 f"rank 0 peak RSS {s['rank0_max_rss_mb']:.0f} MiB for {JOBS} jobs")

            ids = planned_ids(cfg)
            self.assertEqual(len(ids), JOBS)
            with h5py.File(out, "r") as f:
                jobs = f["jobs"][()]
                events = f["events"][()]
                points = f["curve_points"][()]
            self.assertEqual([j.decode() for j in jobs["job_id"]], ids)  # Grid order, same ids.
            self.assertEqual(set(jobs["status"]), {b"done"})
            per_job = collections.defaultdict(list)
            for e in events:
                per_job[e["job_id"].decode()].append(e["state"].decode())
            self.assertEqual(len(per_job), JOBS)
            self.assertEqual(collections.Counter(tuple(v) for v in per_job.values()),
                             {("pending", "running", "done"): JOBS})
            # The sleep jobs' two-point "progress" curves, one table (format version 2).
            self.assertEqual(collections.Counter(p.decode() for p in points["job_id"]),
                             {i: 2 for i in ids})
            self.assertEqual(set(points["name"]), {b"progress"})
            st = status_json(out)
            self.assertEqual((st["total"], st["done"]), (JOBS, JOBS), json.dumps(st)[:2000])


if __name__ == "__main__":
    unittest.main()
