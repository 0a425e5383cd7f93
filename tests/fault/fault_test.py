#!/usr/bin/python3
"""Fault injection at the driver level: a full disk, a read-only results file, a truncated or
corrupted snapshot and a journal damaged in the middle, each with `sleep` jobs under a real mpirun.
docs/RELIABILITY.md lists the expected behaviour of each; the SIGKILL tests and the failing and
hanging jobs are registered next to this suite (tests/fault/CMakeLists.txt, label `fault`).

Tiny filesystems and read-only mounts need root: as root the script re-runs itself in a private
mount namespace (`unshare -m`), so its tmpfs and bind mounts vanish with it and nothing outside
sees them. (Root ignores file modes, so "read-only" is a read-only bind mount, or the driver run
as `nobody` with `setpriv`.) Without root or unshare these tests skip and say why.
Environment: VLMSCALE_BIN (set by CTest); VLMSCALE_FAULT_ROUNDS (random corruptions per test,
default 6; the long form uses 100). Run one test with
  VLMSCALE_BIN=build/vlmscale /usr/bin/python3 tests/fault/fault_test.py DiskFullTest
"""
import hashlib
import json
import os
import random
import re
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import time
import unittest
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, ".."))
sys.path.insert(0, os.path.join(HERE, "..", "driver"))
from driver_e2e_test import BASE  # noqa: E402  (the sleep-job sweep of the driver tests)
from e2e_util import BIN, ENV, export_jobs, mpirun, planned_ids, status_json  # noqa: E402

ROUNDS = int(os.environ.get("VLMSCALE_FAULT_ROUNDS", "6"))
IN_NAMESPACE = os.environ.get("VLMSCALE_FAULT_NAMESPACE") == "1"
NO_SPACE = "No space left on device"


def sh(*args):
    subprocess.run(args, check=True, capture_output=True)


def need_mounts(test):
    if not IN_NAMESPACE:
        test.skipTest("needs root and `unshare -m` (private mounts); not available here")


def digest(paths):
    """sha256 of each existing file, to prove that nothing changed."""
    out = {}
    for p in paths:
        if os.path.exists(p):
            with open(p, "rb") as f:
                out[p] = hashlib.sha256(f.read()).hexdigest()
    return out


def run_vlmscale(*args):
    return subprocess.run([BIN, *args], capture_output=True, text=True, env=ENV)


def acknowledged(stdout):
    """Job ids the coordinator printed as done: acknowledged, so never to be lost."""
    return set(re.findall(r"\] done +([0-9a-f]{16}) ", stdout))


def journal_entries(data):
    """(offset, size, payload dict) of each intact entry of the valid prefix (journal.h format)."""
    out, pos = [], 0
    while pos + 8 <= len(data):
        length, crc = struct.unpack_from("<II", data, pos)
        payload = data[pos + 8:pos + 8 + length]
        if length == 0 or len(payload) < length or zlib.crc32(payload) != crc:
            break
        out.append((pos, 8 + length, json.loads(payload)))
        pos += 8 + length
    return out


class FaultTestBase(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory(prefix="vlmscale-fault-")
        self.dir = self.tmp.name
        os.chmod(self.dir, 0o755)  # Readable by `nobody` (ReadOnlyTest).
        self.mounts = []
        self.data = os.path.join(self.dir, "data")
        os.mkdir(self.data)
        self.out = os.path.join(self.data, "r.h5")

    def tearDown(self):
        for m in reversed(self.mounts):
            subprocess.run(["umount", "-l", m], capture_output=True)
        self.tmp.cleanup()

    def mount(self, *args):
        sh("mount", *args)
        self.mounts.append(args[-1])

    def config(self, seeds="0", seconds=0.0, extra_run="", name="c"):
        path = os.path.join(self.dir, name + ".ini")
        with open(path, "w") as f:
            f.write(BASE.format(name="fault", out=self.out, seeds=seeds, seconds=seconds,
                                attempts=2, extra_sleep="mode = constant",
                                extra_run=extra_run))
        return path

    def files(self):
        return [os.path.join(self.data, f) for f in sorted(os.listdir(self.data))]

    def done_jobs(self):
        return {j["job_id"]: j for j in export_jobs(self.out) if j["status"] == "done"}

    def assert_resume_completes(self, cfg, kept):
        """A rerun exits 0 with every job done once, and the jobs in `kept` (id -> start_time)
        did not run again."""
        p = mpirun(2, ["run", cfg], timeout=180)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        jobs = export_jobs(self.out)
        ids = [j["job_id"] for j in jobs]
        self.assertEqual(len(ids), len(set(ids)), "a job appears twice")
        self.assertEqual(sorted(ids), sorted(planned_ids(cfg)))
        by_id = {j["job_id"]: j for j in jobs}
        for j in jobs:
            self.assertEqual(j["status"], "done", j)
        for i, t in kept.items():
            self.assertEqual(by_id[i]["start_time"], t, f"done job {i} ran again")
        return p


class DiskFullTest(FaultTestBase):
    """The results directory on a tiny tmpfs that is full at the start, then fills mid-run."""

    def fill(self):
        """Fills the filesystem of the results with a filler file; returns its path."""
        filler = os.path.join(self.data, "filler")
        with open(filler, "ab", buffering=0) as f:
            chunk = b"\xff" * 4096
            try:
                while True:
                    f.write(chunk)
                    f.flush()
            except OSError as e:
                self.assertIn(e.errno, (28,))  # ENOSPC
        with open(filler, "ab", buffering=0) as f:  # Smaller writes fill the last page.
            try:
                while True:
                    f.write(b"\xff")
                    f.flush()
            except OSError:
                pass
        return filler

    def check_disk_full(self, size):
        need_mounts(self)
        self.mount("-t", "tmpfs", "-o", f"size={size}", "tmpfs", self.data)
        # 540 jobs of 20 ms on 2 ranks: about 6 s of work, time enough to fill the disk mid-run.
        cfg = self.config(seeds=", ".join(map(str, range(30))), seconds=0.02,
                          extra_run="snapshot_seconds = 0.2")

        # 1. Full before the start: a clear error naming the file, exit 1, nothing half-written.
        filler = self.fill()
        p = mpirun(2, ["run", cfg], timeout=120)
        self.assertEqual(p.returncode, 1, p.stdout + p.stderr)
        self.assertIn(self.out, p.stderr)
        self.assertIn(NO_SPACE, p.stderr)
        self.assert_no_crash_output(p)
        self.assertFalse(os.path.exists(self.out + ".tmp"), "a half-written snapshot was left")
        os.unlink(filler)

        # 2. The disk fills mid-run: the driver stops with a clear error and exit 1; every result
        # it acknowledged is still there.
        proc = subprocess.Popen(["mpirun", "--oversubscribe", "-np", "2", BIN, "run", cfg],
                                env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True, start_new_session=True)
        deadline = time.time() + 300  # Starting libtorch on a loaded machine took over 60 s.
        while time.time() < deadline and proc.poll() is None:
            if os.path.exists(self.out) and status_json(self.out)["done"] >= 20:
                break
            time.sleep(0.1)
        self.assertIsNone(proc.poll(), "the sweep ended before the disk was filled")
        filler = self.fill()
        out, err = proc.communicate(timeout=120)
        self.assertEqual(proc.returncode, 1, out + err)
        self.assertRegex(out + err, r"error: results store " + re.escape(self.out) + r": .*" +
                         re.escape(self.out) + r"\S*: .*" + NO_SPACE)
        self.assertIn("results acknowledged so far are safe, run again to resume", out + err)
        acked = acknowledged(out)
        self.assertGreaterEqual(len(acked), 20)
        done = self.done_jobs()  # status and export still read the file on the full disk.
        for a in acked:
            self.assertIn(a, done, f"acknowledged job {a} lost on the full disk")
        st = status_json(self.out)
        self.assertLess(st["done"], st["total"], "the sweep finished before the disk filled")

        # 3. Space freed: the rerun resumes and completes without re-running done jobs.
        os.unlink(filler)
        self.assert_resume_completes(cfg, {i: done[i]["start_time"] for i in done})

    def assert_no_crash_output(self, p):
        """HDF5's own complaints ("infinite loop closing library", error stacks) or a crash at
        exit (SIGSEGV in H5F__close_cb) were seen after a snapshot hit ENOSPC."""
        out = p.stdout + p.stderr
        for bad in ("HDF5", "infinite loop", "Segmentation", "signal 11", "core dumped",
                    "terminate called"):
            self.assertNotIn(bad, out)

    def test_a_full_disk_stops_the_driver_clearly_and_resume_completes(self):
        # 8 MiB: the journal's zero-filled 4 MiB step fits; the snapshot runs out of space first.
        self.check_disk_full("8m")

    def test_a_snapshot_that_hits_a_full_disk_exits_1_without_a_crash_and_resumes(self):
        """ENOSPC in the middle of writing a snapshot, not in the journal: once the error was
        printed, the driver died in HDF5's exit handlers (SIGSEGV, exit 139)."""
        need_mounts(self)
        self.mount("-t", "tmpfs", "-o", "size=8m", "tmpfs", self.data)
        p = mpirun(2, ["run", self.config(seeds="0", seconds=0.02)], timeout=600)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        before = {i: j["start_time"] for i, j in self.done_jobs().items()}
        self.assertEqual(len(before), 18)
        # The journal keeps 4 MiB of written zeros, as after a crash: the next run's journal
        # entries need no new space, so the first write that does is a snapshot.
        with open(self.out + ".journal", "wb") as f:
            f.write(bytes(4 << 20))
        grown = self.config(seeds=", ".join(map(str, range(30))), seconds=0.02,
                            extra_run="snapshot_seconds = 0.2", name="grown")
        # Full disk, then room for the snapshot the driver writes when it opens the file (about
        # the old one's size) but not for the next one, which holds 540 jobs.
        filler = self.fill()
        page = 4096
        room = (os.path.getsize(self.out) + page - 1) // page * page + 2 * page
        with open(filler, "r+b") as f:
            f.truncate(os.path.getsize(filler) - room)
        p = mpirun(2, ["run", grown], timeout=600)
        self.assertEqual(p.returncode, 1, p.stdout + p.stderr)
        self.assertIn("writing results snapshot " + self.out + ".tmp", p.stdout + p.stderr)
        self.assertIn(NO_SPACE, p.stdout + p.stderr)
        self.assertIn("results acknowledged so far are safe, run again to resume",
                      p.stdout + p.stderr)
        self.assert_no_crash_output(p)
        self.assertFalse(os.path.exists(self.out + ".tmp"), "a half-written snapshot was left")
        done = self.done_jobs()  # The readers still work on the full disk.
        for i in set(before) | acknowledged(p.stdout):
            self.assertIn(i, done, f"acknowledged job {i} lost")
        os.unlink(filler)
        self.assert_resume_completes(grown, {i: done[i]["start_time"] for i in done})


class ReadOnlyTest(FaultTestBase):
    """A results file that cannot be written: a clear error, exit 1, nothing changed."""

    def prepare(self):
        cfg = self.config(seeds="0")
        p = mpirun(2, ["run", cfg])
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        # A grown grid: the next run has work to do (and must not start it).
        return self.config(seeds="0, 1", name="grown"), export_jobs(self.out)

    def check_refused(self, p, before_digest, before_jobs, reason):
        self.assertEqual(p.returncode, 1, p.stdout + p.stderr)
        self.assertRegex(p.stderr, r"vlmscale run: error: .*" + re.escape(self.out) +
                         r".* is not writable \(" + reason + r"\)")
        self.assertEqual(p.stderr.count("error:"), 1, p.stderr)
        self.assertEqual(digest(self.files()), before_digest, "a read-only file changed")
        self.assertEqual(export_jobs(self.out), before_jobs)  # Readers still work.

    def test_a_read_only_mount_is_refused_and_nothing_changes(self):
        need_mounts(self)
        cfg, before = self.prepare()
        self.mount("--bind", self.data, self.data)
        sh("mount", "-o", "remount,bind,ro", self.data)
        files = self.files()
        p = mpirun(2, ["run", cfg])
        self.check_refused(p, digest(files), before, "Read-only file system")
        self.assertEqual(self.files(), files)
        sh("umount", self.data)
        self.mounts.remove(self.data)
        self.assert_resume_completes(cfg, {j["job_id"]: j["start_time"] for j in before})

    def test_mode_0444_is_refused_for_a_user_and_nothing_changes(self):
        if os.geteuid() != 0 or not shutil.which("setpriv"):
            self.skipTest("needs root and setpriv to run the driver as nobody")
        cfg, before = self.prepare()
        for f in self.files():
            os.chmod(f, 0o444)
        os.chmod(self.data, 0o555)
        files = self.files()
        before_digest = digest(files)
        env = {k: v for k, v in ENV.items() if not k.startswith("OMPI_ALLOW_RUN_AS_ROOT")}
        env["HOME"] = self.dir
        p = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                            "mpirun", "--oversubscribe", "-np", "2", BIN, "run", cfg],
                           env=env, capture_output=True, text=True, timeout=120)
        self.check_refused(p, before_digest, before, "Permission denied")
        self.assertEqual(self.files(), files)


class CorruptionTest(FaultTestBase):
    """Truncated and corrupted snapshots, and a journal damaged in the middle."""

    def completed_sweep(self):
        cfg = self.config(seeds="0, 1")
        p = mpirun(2, ["run", cfg])
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        return cfg

    def assert_clear_error(self, p, what):
        self.assertEqual(p.returncode, 2, p.stdout + p.stderr)
        self.assertIn(self.out, p.stderr)
        self.assertIn(what, p.stderr)
        self.assertNotIn("Traceback", p.stderr)

    def test_a_truncated_snapshot_is_refused_with_advice_and_fresh_starts_anew(self):
        cfg = self.completed_sweep()
        size = os.path.getsize(self.out)
        with open(self.out, "r+b") as f:
            f.truncate(size // 2)
        before = digest(self.files())
        for args in (["status", self.out], ["export", self.out]):
            self.assert_clear_error(run_vlmscale(*args), "corrupt or truncated")
        p = mpirun(2, ["run", cfg])
        self.assert_clear_error(p, "corrupt or truncated")
        self.assertIn("--fresh", p.stderr)
        self.assertEqual(digest(self.files()), before, "run changed the damaged file")
        p = mpirun(2, ["run", cfg, "--fresh"])
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        aside = [f for f in os.listdir(self.data) if ".old-" in f and not f.endswith(".journal")]
        self.assertEqual(len(aside), 1)
        self.assertEqual(digest([os.path.join(self.data, aside[0])]).popitem()[1],
                         before[self.out], "--fresh did not keep the damaged file")
        self.assertEqual(status_json(self.out)["done"], 36)

    def test_random_bytes_in_the_snapshot_give_a_clear_error_or_the_same_data(self):
        cfg = self.completed_sweep()
        with open(self.out, "rb") as f:
            original = f.read()
        good = export_jobs(self.out)
        rng = random.Random(4242)
        refused = 0
        for trial in range(ROUNDS * 4):
            data = bytearray(original)
            at = rng.randrange(len(data))
            n = rng.choice([1, 8, 64])
            data[at:at + n] = bytes(rng.randrange(256) for _ in range(min(n, len(data) - at)))
            with open(self.out, "wb") as f:
                f.write(data)
            with self.subTest(trial=trial, at=at, n=n):
                p = run_vlmscale("export", self.out, "--format", "json")
                self.assertIn(p.returncode, (0, 2), p.stderr)  # Never a crash or an I/O error.
                if p.returncode == 2:
                    refused += 1
                    self.assertIn(self.out, p.stderr)
                    self.assertRegex(p.stderr, r"corrupt|not a vlmscale results file")
                else:
                    self.assertEqual(json.loads(p.stdout)["jobs"], good,
                                     "corruption gave silently different data")
        # The writer refuses a corrupted file without touching it.
        data = bytearray(original)
        data[len(data) // 2:len(data) // 2 + 4096] = bytes(4096)
        with open(self.out, "wb") as f:
            f.write(data)
        before = digest(self.files())
        p = mpirun(2, ["run", cfg])
        if p.returncode != 0:
            self.assert_clear_error(p, "")
            self.assertEqual(digest(self.files()), before)
        self.assertGreater(refused, 0, "no corruption was ever detected")

    def test_damage_in_the_middle_of_the_journal_is_reported_and_later_entries_recovered(self):
        # No snapshot after the start: every result of the killed run is in the journal only.
        # 360 jobs of 50 ms on 2 ranks: about 9 s of work; killed after 30.
        cfg = self.config(seeds=", ".join(map(str, range(20))), seconds=0.05,
                          extra_run="snapshot_seconds = 1000")
        proc = subprocess.Popen(["mpirun", "--oversubscribe", "-np", "2", BIN, "run", cfg],
                                env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True, start_new_session=True)
        deadline = time.time() + 300  # Starting libtorch on a loaded machine took over 60 s.
        while time.time() < deadline:
            if os.path.exists(self.out) and status_json(self.out)["done"] >= 30:
                break
            time.sleep(0.1)
        self.assertIsNone(proc.poll(), "the sweep ended before the kill")
        os.killpg(proc.pid, signal.SIGKILL)
        out, _ = proc.communicate(timeout=60)
        while subprocess.run(["pgrep", "-s", str(proc.pid)], capture_output=True).stdout:
            time.sleep(0.05)
        acked = acknowledged(out)
        self.assertGreaterEqual(len(acked), 20, out)
        journal = self.out + ".journal"
        with open(journal, "rb") as f:
            data = bytearray(f.read())
        entries = journal_entries(data)
        done_entries = [e for e in entries if e[2].get("t") == "job"
                        and e[2]["rec"]["status"] == "done" and e[2]["rec"]["job_id"] in acked]
        self.assertGreaterEqual(len(done_entries), 20)
        offset, size, victim = done_entries[len(done_entries) // 3]  # Early, not at the tail.
        lost = victim["rec"]["job_id"]
        data[offset + size // 2:offset + size // 2 + 16] = b"\x00garbage\xff\x00garbage"
        with open(journal, "wb") as f:
            f.write(data)
        later = {e[2]["rec"]["job_id"] for e in done_entries if e[0] > offset}
        self.assertGreaterEqual(len(later), 10)

        # Readers: a warning naming the journal; every other acknowledged result is there.
        p = run_vlmscale("status", self.out, "--json")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertRegex(p.stderr, r"warning: journal " + re.escape(journal) +
                         r" is damaged: bytes \d+-\d+ fail their checksum; recovered the \d+ "
                         r"entries after them")
        done = self.done_jobs()
        for a in acked - {lost}:
            self.assertIn(a, done, f"acknowledged job {a} after the damage was dropped")
        self.assertNotIn(lost, done)  # Its done record was in the damaged bytes.

        # The next run says so, keeps a copy of the damaged journal, and completes; only the job
        # whose record was destroyed runs again.
        kept = {i: done[i]["start_time"] for i in done}
        p = self.assert_resume_completes(cfg, kept)
        self.assertIn("warning: journal " + journal + " is damaged", p.stderr)
        copies = [f for f in os.listdir(self.data) if ".journal.damaged-" in f]
        self.assertEqual(len(copies), 1)
        with open(os.path.join(self.data, copies[0]), "rb") as f:
            self.assertEqual(f.read(), bytes(data))
        p = run_vlmscale("status", self.out)  # Repaired: no more warnings.
        self.assertEqual((p.returncode, p.stderr), (0, ""))


if __name__ == "__main__":
    if not IN_NAMESPACE and os.geteuid() == 0 and shutil.which("unshare") and subprocess.run(
            ["unshare", "-m", "true"], capture_output=True).returncode == 0:
        env = dict(os.environ, VLMSCALE_FAULT_NAMESPACE="1")
        os.execvpe("unshare", ["unshare", "-m", "--propagation", "private", sys.executable,
                               os.path.abspath(__file__)] + sys.argv[1:], env)
    unittest.main(verbosity=2)
