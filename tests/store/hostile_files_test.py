#!/usr/bin/python3
"""Hostile inputs through the vlmscale binary (issue 23, part A). Every crafted input is made
here: results files written with h5py whose checksum trailer is valid but whose extents lie, a
journal entry with a valid CRC and a field of the wrong type, a CSV named with a byte that is not
UTF-8, a sweep name with such a byte under --log-format json. Each must end with exit 0, 1 or 2
and one clear line, never an uncaught exception (exit 134) or a crash.
Environment: VLMSCALE_BIN (set by CTest). Usage: hostile_files_test.py STORE_MAKE_RESULTS
"""
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import unittest
import zlib

import h5py
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, ".."))
from e2e_util import BIN, ENV  # noqa: E402

MAKER = None  # store_make_results, from argv.
CRASHES = ("terminate called", "Aborted", "Segmentation fault", "Traceback", "HDF5-DIAG",
           "infinite loop")


def add_trailer(path):
    """Appends the checksum trailer vlmscale writes (docs/RESULTS.md): the file is then
    'authentic' and only its contents are hostile."""
    with open(path, "rb") as f:
        data = f.read()
    with open(path, "ab") as f:
        f.write(b"VLMSCRC1" + struct.pack("<II", zlib.crc32(data), len(data) & 0xFFFFFFFF))


def frame(payload):
    """One journal entry (src/store/journal.h): u32 length, u32 CRC-32, payload."""
    return struct.pack("<II", len(payload), zlib.crc32(payload)) + payload


class HostileFilesTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory(prefix="vlmscale-hostile-")
        self.dir = self.tmp.name.encode()
        self.path = os.path.join(self.dir, b"r.h5")

    def tearDown(self):
        self.tmp.cleanup()

    def run_bin(self, *args, timeout=60):
        return subprocess.run([BIN.encode(), *args], capture_output=True, env=ENV,
                              timeout=timeout)

    def assert_clean(self, p, codes=(2,), what=None):
        err = p.stderr.decode(errors="replace")
        self.assertIn(p.returncode, codes, err)
        for c in CRASHES:
            self.assertNotIn(c, err)
        if p.returncode != 0:
            lines = [line for line in err.splitlines() if line.strip()]
            self.assertEqual(len(lines), 1, err)  # One message.
            self.assertIn("error:", lines[0])
            if what:
                self.assertIn(what, lines[0])

    def craft(self, fill):
        with h5py.File(self.path, "w") as f:
            f.attrs["format"] = "vlmscale-results"
            f.attrs["format_version"] = np.int32(1)
            f.attrs["sweep_name"] = "hostile"
            jobs = np.zeros(1, dtype=[("job_id", "S16"), ("status", "S8"), ("error", "f8")])
            jobs[0] = (b"0123456789abcdef", b"done", 0.5)
            fill(f, jobs)
        add_trailer(self.path)
        self.assertLess(os.path.getsize(self.path), 64 * 1024)  # Small file, huge claims.

    def check_readers(self, what):
        for args in ([b"status", self.path], [b"status", self.path, b"--json"],
                     [b"export", self.path], [b"export", self.path, b"--format", b"json"],
                     [b"fit", self.path]):
            with self.subTest(args=args):
                self.assert_clean(self.run_bin(*args), (2,), what)

    def test_jobs_declaring_10_to_the_12_rows(self):
        def fill(f, jobs):
            f.create_dataset("jobs", shape=(10**12,), maxshape=(None,), chunks=(1024,),
                             dtype=jobs.dtype)
        self.craft(fill)
        self.check_readers("/jobs declares 1000000000000 rows")

    def test_a_curve_of_4e9_points(self):
        def fill(f, jobs):
            f.create_dataset("jobs", data=jobs)
            f.create_dataset("curves/0123456789abcdef/loss", shape=(4 * 10**9,),
                             dtype=[("step", "<i8"), ("value", "<f8")])
        self.craft(fill)
        self.check_readers("declares 4000000000 rows")

    def test_a_curve_table_of_4e9_points(self):
        # Format version 2 keeps every curve in one /curve_points table.
        def fill(f, jobs):
            f.attrs["format_version"] = np.int32(2)
            f.create_dataset("jobs", data=jobs)
            f.create_dataset("curve_points", shape=(4 * 10**9,), maxshape=(None,),
                             chunks=(4096,), dtype=[("job_id", "S16"), ("name", "S4"),
                                                    ("step", "<i8"), ("value", "<f8")])
        self.craft(fill)
        self.check_readers("/curve_points declares 4000000000 rows")

    def test_events_of_3e9_rows(self):
        def fill(f, jobs):
            f.create_dataset("jobs", data=jobs)
            f.create_dataset("events", shape=(3 * 10**9,), maxshape=(None,), chunks=(4096,),
                             dtype=[("job_id", "S16"), ("attempt", "<i4")])
        self.craft(fill)
        self.check_readers("/events declares 3000000000 rows")

    def test_a_journal_entry_with_a_valid_crc_and_a_wrong_field_type(self):
        # Was: nlohmann type_error.302 in status, export and fit (exit 134).
        p = subprocess.run([MAKER, self.path.decode(), "--done", "6"], capture_output=True)
        self.assertEqual(p.returncode, 0, p.stderr)
        with open(self.path + b".journal", "wb") as f:
            f.write(frame(b'{"t":"run_info","seq":999999,"v":5}\n'))
        for args in ([b"status", self.path], [b"export", self.path]):
            p = self.run_bin(*args)
            self.assert_clean(p, (0,))
            self.assertIn(b"warning: journal", p.stderr)
            self.assertIn(b"malformed", p.stderr)
            self.assertIn(b"field 'v' is not a string", p.stderr)
        p = self.run_bin(b"fit", self.path)
        self.assert_clean(p, (0, 1, 2))  # Six points may or may not fit; never an exception.

    def test_run_info_with_a_count_out_of_range_is_shown_as_unknown(self):
        p = subprocess.run([MAKER, self.path.decode(), "--done", "2", "--run-info",
                            '{"requeue_count": 1e300, "eta_seconds": -1e308}'],
                           capture_output=True)
        self.assertEqual(p.returncode, 0, p.stderr)
        p = self.run_bin(b"status", self.path)
        self.assert_clean(p, (0,))
        self.assertNotIn(b"requeued", p.stdout)  # Not "requeued -9223372036854775808 times".
        p = self.run_bin(b"status", self.path, b"--json")
        self.assert_clean(p, (0,))
        self.assertIsNone(json.loads(p.stdout)["requeues"])

    def test_a_file_without_its_checksum_trailer_is_refused(self):
        p = subprocess.run([MAKER, self.path.decode(), "--done", "6"], capture_output=True)
        self.assertEqual(p.returncode, 0, p.stderr)
        with open(self.path, "rb") as f:
            data = f.read()[:-16]
        data = data[:len(data) // 2] + b"\xa5" * 256 + data[len(data) // 2 + 256:]
        with open(self.path, "wb") as f:
            f.write(data)
        self.check_readers("without its checksum trailer")

    def test_fit_csv_of_a_file_named_with_byte_ff_writes_json(self):
        # Was: nlohmann type_error.316 (invalid UTF-8) from --json, exit 134.
        csv = os.path.join(self.dir, b"data\xff.csv")
        shutil.copy(os.path.join(HERE, "..", "data", "vlm_2411.03312_reasoning.csv"), csv)
        out = os.path.join(self.dir, b"fit.json")
        p = self.run_bin(b"fit", b"--csv", csv, b"--n-col", b"N_llm_params_billion",
                         b"--t-col", b"T_visual_tokens", b"--y-col", b"Y_error", b"--json", out,
                         timeout=120)
        self.assert_clean(p, (0,))
        with open(out, "rb") as f:
            doc = json.loads(f.read())
        self.assertTrue(doc["source"].endswith("data\ufffd.csv"), doc["source"])

    def test_a_sweep_name_with_byte_ff_under_log_format_json(self):
        # Was: type_error.316 escaping the progress printer, exit 134.
        cfg = os.path.join(self.dir, b"c.ini")
        with open(cfg, "wb") as f:
            f.write(b"[sweep]\nname = caf\xff\noutput = " + self.path + b"\n[grid]\nllm = nano\n"
                    b"visual_tokens = 1, 4\nmethod = avgpool\nseed = 0\n[job]\ntype = sleep\n"
                    b"[sleep]\nseconds = 0\n")
        p = subprocess.run(["mpirun", "--oversubscribe", "-np", "1", BIN.encode(), b"run", cfg,
                            b"--log-format", b"json"], capture_output=True, env=ENV, timeout=300)
        # Another change may refuse such a name (exit 2); it must never crash.
        self.assertIn(p.returncode, (0, 2), p.stdout + p.stderr)
        for c in CRASHES:
            self.assertNotIn(c.encode(), p.stderr)
        if p.returncode == 0:
            events = [json.loads(line) for line in p.stdout.splitlines() if line.strip()]
            self.assertEqual(events[0]["event"], "start")
            self.assertEqual(events[0]["sweep"], "caf\ufffd")
            self.assertEqual(events[-1]["event"], "summary")
            # And the next run resumes its own file (the journal keeps the name as JSON).
            p = subprocess.run(["mpirun", "--oversubscribe", "-np", "1", BIN.encode(), b"run",
                                cfg], capture_output=True, env=ENV, timeout=300)
            self.assertEqual(p.returncode, 0, p.stdout + p.stderr)


if __name__ == "__main__":
    MAKER = sys.argv.pop(1)
    unittest.main(verbosity=2)
