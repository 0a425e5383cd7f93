// Getting fit inputs: from a CSV table (published data, anyone's own) or from the job records of a
// results file, grouped by (task, method) with seeds averaged.
#ifndef VLMSCALE_FIT_OBSERVATIONS_H_
#define VLMSCALE_FIT_OBSERVATIONS_H_

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

// One (task, method) group of a results file.
struct ObservationGroup {
  std::string task;
  std::string method;
  Observations observations;  // One point per (N, T), or per job when seeds are kept.
  int num_jobs = 0;           // Done jobs that went into the points.
};

struct GroupingOptions {
  // Keep only records whose field equals the value; keys: task, method, llm, seed,
  // visual_tokens, n_params. Default: none. REQUIRES: known keys.
  std::vector<std::pair<std::string, std::string>> filters;
  // Average the error over seeds at each (N, T); false keeps one point per job. Default: true.
  // Jobs of a stage with its own axes (e.g. benchmark) are first averaged over those axes per
  // seed (the paper's mean over benchmarks), whatever this says.
  bool average_seeds = true;
  // The stage whose jobs are fitted (multi-stage studies, docs/STAGES.md). Default: "", the
  // final stage: the one no other stage needs (an error if there are several).
  std::string stage;

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

// Groups the done records of the stage (see GroupingOptions::stage) by (task, method), sorted by
// task then method; points are sorted by (N, T). Records that are not done are ignored. A done record whose error is NaN or infinite is
// kInvalidInput naming the job. No group left after filtering is kInvalidInput too.
Result<std::vector<ObservationGroup>> GroupRecords(const std::vector<store::JobRecord>& records,
                                                   const GroupingOptions& options);

}  // namespace vlmscale::fit

#endif  // VLMSCALE_FIT_OBSERVATIONS_H_
