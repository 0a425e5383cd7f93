// JobRecord: everything the results store keeps about one job of a sweep. The driver fills it,
// the store persists it (journal + HDF5), readers (status, export, fit, analysis) get it back.
//
// Its scalar fields are described once, by the column table JobColumns() in
// store/job_columns.cc; the journal, the HDF5 snapshot and the export iterate that table and have
// no per-field code (curves, variable-length, keep their own). To add a column, e.g. a metric:
//   1. Add the field below (doubles default to kNaN: "not measured").
//   2. Append one line to JobColumns(): {"name", &R::name, "unit", "Meaning."}. The field's type
//      (std::string, double, int64_t, int, JobState, map) picks the encodings. Append, never
//      insert: files and h5py readers keep the existing fields' order, and the export appends it.
//   3. Add the row job_columns_test prints to the /jobs table of docs/RESULTS.md.
// The tests then cover it: every column round-trips through journal, snapshot and export
// (job_columns_test), and the format pins accept columns appended after format version 1
// (file_format_test). Add a test of your own for what the value means.
#ifndef VLMSCALE_STORE_JOB_RECORD_H_
#define VLMSCALE_STORE_JOB_RECORD_H_

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace vlmscale::store {

// Job states. Transitions are appended to the journal, never edited in place:
// pending -> running -> done | failed | pending (stopped, will resume); failed -> running (retry);
// pending -> blocked (a job it needs finally failed; not a failure of its own) -> pending (the
// next run, which retries the failed job first); done -> pending (its artifacts went missing
// while a job that needs them was starting: it runs again).
enum class JobState { kPending = 0, kRunning = 1, kDone = 2, kFailed = 3, kBlocked = 4 };
// "pending", "running", "done", "failed", "blocked".
const char* JobStateName(JobState s);
// Inverse of JobStateName. Returns false (and leaves *state alone) for any other string.
bool ParseJobState(const std::string& name, JobState* state);

// One point of a curve, e.g. {"train_loss", 120, 0.53}.
struct CurvePoint {
  std::string name;
  int64_t step = 0;
  double value = 0.0;
};

struct JobRecord {
  std::string job_id;  // 16 hex digits (config::JobSpec::id).
  // Grid point.
  std::string llm;
  double n_params = 0.0;  // Non-embedding LLM parameters.
  int64_t visual_tokens = 0;
  std::string method;
  std::string task;
  int64_t seed = 0;

  JobState state = JobState::kPending;
  int attempts = 0;            // Attempts started so far; a stopped attempt is not counted.
  std::string failure_class;   // "", "error", "diverged", "oom", "timeout", "killed", "no-metrics".
  std::string message;         // Failure message (last attempt).

  // Metrics; NaN when not measured. `error` is the Y of the scaling law (1 - accuracy).
  double error = kNaN;
  double accuracy = kNaN;
  double eval_loss = kNaN;
  double inference_flops = kNaN;   // Per sample: 2*N*(Q+V) for the LLM.
  double compressor_flops = kNaN;  // Per sample, the compressor's own FLOPs.
  double latency_ms = kNaN;        // Measured eval latency per sample.
  std::map<std::string, double> extra_metrics;  // Anything else the job reports.

  double est_cost = 0.0;        // Estimated training cost (plan's cost model).
  double train_seconds = 0.0;
  double eval_seconds = 0.0;
  int rank = -1;                // First world rank of the group that ran it.
  std::string host;
  double start_time = 0.0;      // Unix seconds.
  double end_time = 0.0;

  std::vector<CurvePoint> curves;  // Training curves of the final attempt.

  // Multi-stage studies (docs/STAGES.md); "" in a one-stage study.
  std::string stage;  // The job's stage.
  std::string needs;  // Ids of the jobs it needs, comma-separated.
  std::string axes;   // The stage's own axes, "name=value" comma-separated (e.g. benchmark=gqa).

  // The settings the job was made with (store/settings.h): "key=value\n" lines of every setting
  // that enters its id (config::JobIdentityText's settings part, with job.type first), and their
  // hash (16 hex digits). Both "" in records written before vlmscale kept them.
  std::string settings;
  std::string settings_hash;
  // The setting keys the job's config varies as grid axes ([grid] train.lr = ...), comma-separated:
  // settings that differ for these keys are the study's design, not a mix of studies.
  std::string swept;

  static constexpr double kNaN = __builtin_nan("");
};

}  // namespace vlmscale::store

#endif  // VLMSCALE_STORE_JOB_RECORD_H_
