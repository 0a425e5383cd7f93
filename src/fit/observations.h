// Getting fit inputs: from a CSV table (published data, anyone's own) or from the job records of a
// results file, grouped by (task, method) with seeds averaged.
#ifndef VLMSCALE_FIT_OBSERVATIONS_H_
#define VLMSCALE_FIT_OBSERVATIONS_H_

#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "core/csv.h"
#include "core/status.h"
#include "fit/scaling_law.h"
#include "store/job_record.h"

namespace vlmscale::fit {

// The columns N, T and Y of `table` as observations labelled "file:line". Fails with
// kInvalidInput naming file, line and column for a missing column or a non-finite value.
Result<Observations> ObservationsFromCsv(const CsvTable& table, const std::string& n_column,
                                         const std::string& t_column, const std::string& y_column);

// A job of a results file that went into a fit, with the hash of what it contributed
// (ResultHash): `vlmscale fit --check` compares these against the file.
struct UsedJob {
  std::string job_id;
  std::string result_hash;
};

// A record of a results file that the fit did not use, and why ("state failed", "stage
// pretrain", "filter task=glyphs").
struct ExcludedJob {
  std::string job_id;
  std::string reason;
};

// How much the error varies between seeds of the same (N, T) point: the pooled standard
// deviation sqrt(sum_points sum_seeds (y - mean)^2 / sum_points (k - 1)) over the points that have
// k >= 2 seeds. `dof` is 0 (and sd NaN) when no point has two seeds.
struct SeedNoise {
  double sd = std::numeric_limits<double>::quiet_NaN();
  int dof = 0;
  int points_with_replicates = 0;
  double mean_replicates = 0.0;  // Mean seeds per fitted point (1 when seeds are kept apart).
};

// One (task, method, settings) group of a results file.
struct ObservationGroup {
  std::string task;
  std::string method;
  // The group's values of the setting keys it is grouped by (the keys that vary between the
  // fitted jobs, or GroupingOptions::group_by), in key order; empty when no setting varies.
  std::vector<std::pair<std::string, std::string>> settings;
  // Setting keys whose different values this group pools (averages like seeds): only when
  // GroupingOptions::group_by leaves a varied key out.
  std::vector<std::string> pooled_settings;
  Observations observations;  // One point per (N, T), or per job when seeds are kept.
  int num_jobs = 0;           // Done jobs that went into the points.
  std::vector<UsedJob> jobs;  // Those jobs, sorted by id.
  SeedNoise seed_noise;
  // Q, text tokens per query, as the sweep recorded it: inference_flops / (2 N) - V of the group's
  // jobs (rounded; they must agree). NaN when no job records inference FLOPs or they disagree.
  double text_tokens = std::numeric_limits<double>::quiet_NaN();
};

// "task/method", then "/key=value,key=value" for a group with settings: the group's name in
// reports, fit JSON and `vlmscale frontier --group`.
std::string GroupName(const std::string& task, const std::string& method,
                      const std::vector<std::pair<std::string, std::string>>& settings);

// The noise of one fitted point: sd / sqrt(mean_replicates) (NaN when sd is unknown).
double PointNoise(const SeedNoise& noise);

// The hold-out check against seed noise: when `summary` has an extrapolation and the seed noise
// is known, appends a warning if the root mean square of (predicted - observed) over the held-out
// points exceeds kHoldoutNoiseFactor times PointNoise(noise): the law misses the largest N by
// more than the seeds disagree. Returns that RMS (NaN without an extrapolation).
constexpr double kHoldoutNoiseFactor = 2.0;
double CheckHoldoutAgainstSeedNoise(const SeedNoise& noise, FitSummary* summary);

// 16 hex digits identifying what a record contributes to a fit: its id, stage, grid point (N, T,
// task, method, seed, axes), state and error (to the last bit). Any change in the error changes it.
std::string ResultHash(const store::JobRecord& record);

struct GroupingOptions {
  // Keep only records whose field equals the value, or one of the comma-separated values; keys:
  // task, method, llm, seed, visual_tokens, n_params, or a setting key (SECTION.KEY, e.g.
  // train.lr; numbers compare as numbers). Default: none. REQUIRES: known keys.
  std::vector<std::pair<std::string, std::string>> filters;
  // Setting keys to group by besides task and method (SECTION.KEY). Default: none, which groups
  // by every setting key that varies between the fitted jobs, and refuses (kInvalidInput listing
  // the groups) when some of them vary because runs with different configs were mixed into the
  // file (store::MixedSettingKeys): the user chooses with --filter or --group-by. With keys
  // given, varied keys left out are pooled (ObservationGroup::pooled_settings).
  std::vector<std::string> group_by;
  // Average the error over seeds at each (N, T); false keeps one point per job. Default: true.
  // Jobs of a stage with its own axes (e.g. benchmark) are first averaged over those axes per
  // seed (the paper's mean over benchmarks), whatever this says.
  bool average_seeds = true;
  // With average_seeds and a known seed noise (SeedNoise::dof > 0): weight each point by the
  // inverse variance of its seed mean, s_i^2 / k_i, where s_i^2 is the point's own variance over
  // its k_i seeds, floored at a quarter of the pooled variance (two seeds give a noisy s_i^2, and a
  // near-zero one would dominate the fit), and the pooled variance where the point has one seed.
  // Default: true.
  bool seed_weights = true;
  // The stage whose jobs are fitted (multi-stage studies, docs/STAGES.md). Default: "", the
  // final stage: the one no other stage needs (an error if there are several).
  std::string stage;
  // Fit only the done records whose end_time is at most this (unix seconds): the fit as it was
  // when the last of them finished, in a sweep that has since gone on (`vlmscale status --fit`'s
  // earlier rounds). Default: +inf (every done record). REQUIRES: not NaN.
  double ended_by = std::numeric_limits<double>::infinity();

  bool IsValid(std::string* error) const;
};

// Parses "key=value" into a filter. kInvalidInput on a missing '=' or an unknown key (with a
// suggestion).
Result<std::pair<std::string, std::string>> ParseFilter(const std::string& text);

// The stage GroupRecords fits: `requested` if non-empty (kInvalidInput naming the stages if no
// record has it), else the only stage whose jobs no other stage's jobs need ("" in a one-stage
// study; kInvalidInput naming them if there are several).
Result<std::string> FinalStage(const std::vector<store::JobRecord>& records,
                               const std::string& requested);

// Groups the done records of the stage (see GroupingOptions::stage) by (task, method, varied
// settings; see GroupingOptions::group_by), sorted by task, method, then settings; points are
// sorted by (N, T); the seeds of one (N, T) point of a group are averaged (average_seeds).
// Records that are not done are ignored. A done record whose error is NaN or infinite is
// kInvalidInput naming the job. No group left after filtering is kInvalidInput too.
Result<std::vector<ObservationGroup>> GroupRecords(const std::vector<store::JobRecord>& records,
                                                   const GroupingOptions& options);

// The records GroupRecords leaves out under `options`, each with its reason, in file order.
// REQUIRES: FinalStage(records, options.stage) is ok.
std::vector<ExcludedJob> ExcludedRecords(const std::vector<store::JobRecord>& records,
                                         const GroupingOptions& options);

}  // namespace vlmscale::fit

#endif  // VLMSCALE_FIT_OBSERVATIONS_H_
