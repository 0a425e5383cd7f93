"""Helpers shared by the end-to-end test scripts: run the real binary under mpirun and read the
results the way users do (h5py on the snapshot, `vlmscale export`/`status` with journal replay).
Environment: VLMSCALE_BIN (set by CTest)."""
import json
import os
import subprocess

import h5py

BIN = os.environ.get("VLMSCALE_BIN", os.path.join(os.path.dirname(__file__), "../build/vlmscale"))
ENV = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1",
           OMPI_MCA_rmaps_base_oversubscribe="1")


def mpirun(np_, args, timeout=120):
    cmd = ["mpirun", "--oversubscribe", "-np", str(np_), BIN] + args
    return subprocess.run(cmd, env=ENV, capture_output=True, text=True, timeout=timeout)


def jobs_table(path):
    """Rows of the snapshot's /jobs as dicts (strings decoded)."""
    with h5py.File(path, "r") as f:
        data = f["jobs"][()]
        return [{n: (r[n].decode() if isinstance(r[n], bytes) else r[n])
                 for n in data.dtype.names} for r in data]


def export_jobs(path):
    """Jobs as `vlmscale export` sees them: the HDF5 snapshot plus the journal replayed."""
    p = subprocess.run([BIN, "export", path, "--format", "json"], capture_output=True, text=True,
                       env=ENV)
    assert p.returncode == 0, p.stderr
    return json.loads(p.stdout)["jobs"]


def status_json(path):
    p = subprocess.run([BIN, "status", path, "--json"], capture_output=True, text=True, env=ENV)
    assert p.returncode == 0, p.stderr
    return json.loads(p.stdout)


def planned_ids(config, *sets):
    args = [BIN, "plan", config, "--json"]
    for s in sets:
        args += ["--set", s]
    p = subprocess.run(args, capture_output=True, text=True, env=ENV, check=True)
    return [j["job_id"] for j in json.loads(p.stdout)]
