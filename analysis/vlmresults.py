"""Reading vlmscale results files (docs/RESULTS.md) and fit JSON (docs/FIT.md) with h5py.

Contract:
  load_results(path) returns a Results or raises ResultsError with a one-line message that names
  the file and says what to do. It never writes anything and takes no lock, so it is safe on the
  file of a running sweep; it then sees the latest snapshot only (see Results.journal_pending).
"""

import json
import math
import os
import struct

import numpy as np

FORMAT = "vlmscale-results"
SUPPORTED_FORMAT_VERSION = 2


class ResultsError(Exception):
    """An expected failure (bad or missing input) with a message a user can act on."""


def _text(value):
    if isinstance(value, bytes):
        return value.rstrip(b"\0").decode("utf-8", errors="replace")
    if isinstance(value, np.ndarray) and value.shape == ():
        return _text(value[()])
    return str(value)


def _number(value):
    value = float(value)
    return value


def journal_pending(path):
    """True when RESULTS.h5.journal holds at least one entry (a non-zero first length word).

    The journal is grown in zero-filled steps, so its size alone says nothing; an entry starts
    with a non-zero little-endian length. Entries whose sequence number the snapshot already holds
    cannot be told apart without decoding, so True means "may hold newer results".
    """
    journal = path + ".journal"
    try:
        with open(journal, "rb") as f:
            head = f.read(4)
    except OSError:
        return False
    return len(head) == 4 and struct.unpack("<I", head)[0] != 0


class Results:
    """One results file: root attributes, the /jobs table as dicts, and lazy curves."""

    def __init__(self, path, attrs, jobs, curve_index):
        self.path = path
        self.attrs = attrs  # str -> python value
        self.jobs = jobs  # list of dicts keyed by the /jobs column names; strings decoded
        self.stage = None  # Stage whose jobs done_jobs() returns; None: the final stage.
        self._curve_index = curve_index  # job_id -> {curve name: dataset name}
        self._curves_in_memory = None  # job_id -> {name: (steps, values)} (export JSON)
        self.journal_pending = journal_pending(path)
        self.source = "HDF5 snapshot"

    @property
    def sweep_name(self):
        return self.attrs.get("sweep_name", "")

    @property
    def run_info(self):
        try:
            return json.loads(self.attrs.get("run_info", "") or "{}")
        except ValueError:
            return {}

    def final_stage(self):
        """The stage the fitter uses by default (fit.observations' FinalStage): the one whose jobs
        no other stage's jobs need; "" in a one-stage study (or with several final stages, the
        last one)."""
        stage_of = {j["job_id"]: j.get("stage", "") for j in self.jobs}
        stages = list(dict.fromkeys(stage_of.values()))
        needed = set()
        for j in self.jobs:
            for parent in filter(None, (j.get("needs", "") or "").split(",")):
                if parent in stage_of and stage_of[parent] != j.get("stage", ""):
                    needed.add(stage_of[parent])
        finals = [s for s in stages if s not in needed]
        return finals[-1] if finals else ""

    def stage_jobs(self):
        """Jobs of `self.stage` (default: the final stage)."""
        stage = self.stage if self.stage is not None else self.final_stage()
        return [j for j in self.jobs if j.get("stage", "") == stage]

    def done_jobs(self):
        """Done jobs of the stage (stage_jobs()) with a finite error."""
        return [j for j in self.stage_jobs()
                if j["status"] == "done" and math.isfinite(j["error"])]

    def curve_names(self):
        """Curve names in order of first appearance over all jobs."""
        names = []
        for per_job in self._curve_index.values():
            for name in per_job:
                if name not in names:
                    names.append(name)
        return names

    def curve(self, job_id, name):
        """(steps, values) numpy arrays of one job's curve, or None when it has none."""
        if self._curves_in_memory is not None:
            return self._curves_in_memory.get(job_id, {}).get(name)
        dataset = self._curve_index.get(job_id, {}).get(name)
        if dataset is None:
            return None
        import h5py

        with h5py.File(self.path, "r", locking=False) as f:
            rows = f["curves"][job_id][dataset][()]
        return np.asarray(rows["step"], dtype=float), np.asarray(rows["value"], dtype=float)


def load_results(path):
    """Reads RESULTS.h5. Raises ResultsError (missing, empty, not HDF5, not vlmscale, too new)."""
    if not os.path.exists(path):
        raise ResultsError(f"{path}: no such file; pass the results file a sweep wrote "
                           f"(its [sweep] output, e.g. results/quickstart.h5)")
    if os.path.isdir(path):
        raise ResultsError(f"{path}: is a directory, not a results file")
    if os.path.getsize(path) == 0:
        raise ResultsError(f"{path}: empty file; the sweep has not written a snapshot yet "
                           f"(run 'vlmscale status {path}')")
    import h5py

    if not h5py.is_hdf5(path):
        raise ResultsError(f"{path}: not an HDF5 file; pass the .h5 results file of a sweep")
    try:
        f = h5py.File(path, "r", locking=False)
    except (OSError, ValueError) as e:
        raise ResultsError(f"{path}: cannot open as HDF5 ({str(e).splitlines()[0]})") from None
    with f:
        attrs = {}
        for key, value in f.attrs.items():
            if isinstance(value, (bytes, str)):
                attrs[key] = _text(value)
            elif isinstance(value, np.generic):
                attrs[key] = value.item()
            else:
                attrs[key] = value
        if attrs.get("format") != FORMAT:
            raise ResultsError(f"{path}: not a vlmscale results file (root attribute "
                               f"format is {attrs.get('format')!r}, expected {FORMAT!r})")
        version = int(attrs.get("format_version", 0))
        if version > SUPPORTED_FORMAT_VERSION:
            raise ResultsError(f"{path}: format_version {version} is newer than this analysis "
                               f"supports ({SUPPORTED_FORMAT_VERSION}); update analysis/")
        if "jobs" not in f:
            raise ResultsError(f"{path}: no /jobs table; the file is incomplete")
        table = f["jobs"][()]
        jobs = []
        names = table.dtype.names or ()
        for row in table:
            job = {}
            for name in names:
                value = row[name]
                if isinstance(value, bytes):
                    job[name] = _text(value)
                elif isinstance(value, np.floating):
                    job[name] = float(value)
                elif isinstance(value, np.integer):
                    job[name] = int(value)
                else:
                    job[name] = value
            jobs.append(job)
        curve_index, in_memory = {}, None
        if "curve_points" in f:
            # Format version 2: one table of (job_id, name, step, value) rows, read at once.
            points = {}  # (job_id, name) -> [(step, value)], in order of first appearance
            rows = f["curve_points"][()]
            for job_id, name, step, value in zip(rows["job_id"], rows["name"], rows["step"],
                                                 rows["value"]):
                points.setdefault((job_id, name), []).append((step, value))
            in_memory = {}
            for (job_id, name), pts in points.items():
                array = np.asarray(pts, dtype=float).reshape(-1, 2)
                in_memory.setdefault(_text(job_id), {})[_text(name)] = (array[:, 0], array[:, 1])
            curve_index = {job_id: {name: name for name in per_job}
                           for job_id, per_job in in_memory.items()}
        elif "curves" in f:
            # Format version 1: /curves/<job_id>/<dataset>, read when asked for.
            for job_id, group in f["curves"].items():
                per_job = {}
                for dataset_name, dataset in group.items():
                    real = dataset.attrs.get("name", dataset_name)
                    per_job[_text(real)] = dataset_name
                curve_index[job_id] = per_job
    results = Results(path, attrs, jobs, curve_index)
    results._curves_in_memory = in_memory
    return results


def job_settings(job):
    """The settings a job was made with, {key: value} (the /jobs column settings, docs/RESULTS.md);
    {} for a job written before vlmscale kept settings."""
    out = {}
    for line in (job.get("settings") or "").splitlines():
        key, sep, value = line.partition("=")
        if sep and key:
            out[key] = value
    return out


def setting(job, key):
    """The job's value of setting `key`: its export column when read through vlmscale export,
    else its settings text; '' when absent."""
    if key in job and isinstance(job[key], str):
        return job[key]
    return job_settings(job).get(key, "")


def extra_metrics(job):
    """The job's extra metrics, {name: value}: its extra_metrics JSON text (a dict when read
    through vlmscale export); {} when absent or malformed."""
    extra = job.get("extra_metrics") or "{}"
    if isinstance(extra, dict):
        return extra
    try:
        extra = json.loads(extra)
    except ValueError:
        return {}
    return extra if isinstance(extra, dict) else {}


def group_name(job, varied):
    """The fit group a job belongs to, as vlmscale fit names it: 'task/method', then
    '/key=value,...' of the `varied` setting keys (varied_settings)."""
    name = f"{job['task']}/{job['method']}"
    if varied:
        name += "/" + ",".join(f"{k}={setting(job, k)}" for k in varied)
    return name


def varied_settings(results):
    """Setting keys whose value differs between two jobs of the same stage that carry settings,
    sorted: what store::VariedSettingKeys computes (export's varied_settings)."""
    if getattr(results, "varied_from_export", None) is not None:
        return list(results.varied_from_export)
    by_stage = {}
    for job in results.jobs:
        if job.get("settings_hash"):
            by_stage.setdefault(job.get("stage", ""), {})[job["settings_hash"]] = job_settings(job)
    varied = set()
    for distinct in by_stage.values():
        maps = list(distinct.values())
        keys = set().union(*maps) if maps else set()
        for key in keys:
            if len({m.get(key, "") for m in maps}) > 1:
                varied.add(key)
    return sorted(varied)


def merge_export(results, export):
    """Replaces the jobs and curves of results by those of 'vlmscale export --format json' output
    (a dict), which includes the journal's newest results. Returns results."""
    jobs, curves, index = [], {}, {}
    for row in export.get("jobs", []):
        job = {}
        for key, value in row.items():
            if key == "curves":
                continue
            job[key] = float("nan") if value is None else value
        for key in ("error", "accuracy", "n_params", "inference_flops"):
            job[key] = float(job.get(key, float("nan")))
        job.setdefault("status", "pending")
        jobs.append(job)
        per_job = {}
        for name, rows in (row.get("curves") or {}).items():
            array = np.asarray([[r[0], np.nan if r[1] is None else r[1]] for r in rows],
                               dtype=float).reshape(-1, 2)
            per_job[name] = (array[:, 0], array[:, 1])
        curves[job["job_id"]] = per_job
        index[job["job_id"]] = {name: name for name in per_job}
    results.jobs = jobs
    results.varied_from_export = export.get("varied_settings")
    results._curve_index = index
    results._curves_in_memory = curves
    results.source = "vlmscale export (snapshot + journal)"
    return results


def load_fit(path):
    """Reads a vlmscale fit JSON. Returns a list of fit objects (one per group; a CSV fit gives
    one, with group None). Raises ResultsError when the file is missing or not a fit JSON."""
    try:
        with open(path) as f:
            data = json.load(f)
    except OSError as e:
        raise ResultsError(f"{path}: cannot read the fit JSON ({e.strerror})") from None
    except ValueError as e:
        raise ResultsError(f"{path}: not JSON ({e}); write it with 'vlmscale fit --json'") from None
    fits = data.get("fits") if isinstance(data, dict) else None
    if fits is None and isinstance(data, dict) and "params" in data:
        fits = [data]
    if not isinstance(fits, list) or not all(isinstance(x, dict) and "params" in x for x in fits):
        raise ResultsError(f"{path}: not a vlmscale fit JSON (no 'params' or 'fits' key)")
    return fits


def group_key(fit):
    """'task/method' of a results-file fit, then '/key=value,...' for a group with settings
    (fit::GroupName), or '' for a CSV fit."""
    group = fit.get("group") or {}
    if not group:
        return ""
    name = f"{group.get('task', '')}/{group.get('method', '')}"
    settings = group.get("settings") or {}
    if settings:
        name += "/" + ",".join(f"{k}={settings[k]}" for k in sorted(settings))
    return name


def law(fit, n, t):
    """The fitted law evaluated at arrays n, t (same unit as the fit's points)."""
    p = fit["params"]
    n = np.asarray(n, dtype=float)
    t = np.asarray(t, dtype=float)
    model = fit.get("model")
    if model == "additive":
        return p["A"] * n ** -p["alpha"] + p["B"] * t ** -p["beta"] + p["E"]
    if model == "compute":
        # C = 2 N (Q + T) with the fit's own Q (docs/FIT.md, Models).
        return p["A"] * (2.0 * n * (fit["text_tokens"] + t)) ** -p["gamma"] + p["E"]
    if model == "broken":
        s = 0.5  # kBrokenSmoothness in src/fit/scaling_law.h.
        bend = -(p["beta2"] - p["beta"]) * s * np.logaddexp(0.0, (np.log(t) - np.log(p["t_break"])) / s)
        return p["A"] * np.exp(-p["alpha"] * np.log(n) - p["beta"] * np.log(t) + bend) + p["E"]
    return p["A"] * n ** -p["alpha"] * t ** -p["beta"] + p["E"]


def law_text(fit):
    p = fit["params"]
    if fit.get("model") == "additive":
        return "Y = A·N^-α + B·T^-β + E"
    if fit.get("model") == "compute":
        return "Y = A·C^-γ + E, C = 2·N·(Q+T)"
    if fit.get("model") == "broken":
        return "Y = A·N^-α·T^-β·(1+(T/T_b)^(1/s))^(-(β2-β)s) + E, s = 0.5"
    return "Y = A·N^-α·T^-β + E"
