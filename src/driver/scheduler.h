// Scheduler: which job runs next. Pure bookkeeping, no MPI, so it is tested in one process.
//
// Jobs are dispatched largest predicted duration first (longest-processing-time-first shortens
// the makespan). A prediction is the plan's estimated cost times a seconds-per-cost ratio measured
// on finished jobs of the same (llm, method, task) class, falling back to the ratio over all
// finished jobs, and to the raw estimate before anything finished.
#ifndef VLMSCALE_DRIVER_SCHEDULER_H_
#define VLMSCALE_DRIVER_SCHEDULER_H_

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "config/sweep.h"
#include "driver/messages.h"
#include "store/job_record.h"

namespace vlmscale::driver {

class Scheduler {
 public:
  // `runnable[i]` says whether sweep.jobs[i] must run (false: already done in the results file).
  // REQUIRES: max_attempts >= 1. With grid_order, jobs go out in grid order instead (the
  // baseline the scheduling benchmark compares against).
  Scheduler(const config::Sweep& sweep, const std::vector<bool>& runnable, int max_attempts,
            bool grid_order = false);

  // Takes the pending job with the largest predicted duration and marks it running; returns its
  // index, or -1 if nothing is pending.
  int64_t Next();
  // Reports how a running job ended after `seconds`. A failure is re-queued while the job has
  // attempts left in this run; returns true if the job is now finally failed.
  bool Finish(int64_t index, Outcome outcome, double seconds);

  // Predicted seconds of a job (see class comment; unitless before any measurement).
  double Predict(int64_t index) const;
  bool calibrated() const { return total_cost_ > 0; }
  // Predicted seconds of all pending and running work divided over `workers`.
  double EtaSeconds(int workers) const;

  int64_t pending() const { return pending_count_; }
  int64_t running() const { return static_cast<int64_t>(running_.size()); }
  int64_t done() const { return done_; }
  int64_t failed() const { return failed_; }
  int64_t skipped() const { return skipped_; }  // Done before this run.
  bool Settled() const { return pending_count_ == 0 && running_.empty(); }
  int failures(int64_t index) const { return failures_[index]; }

 private:
  struct ByCostDesc {
    const config::Sweep* sweep;
    bool by_index;
    bool operator()(int64_t a, int64_t b) const;
  };
  std::string ClassOf(int64_t index) const;
  double Ratio(const std::string& cls) const;

  const config::Sweep& sweep_;
  int max_attempts_;
  std::vector<std::string> class_of_;
  // Pending jobs per class, largest estimated cost first.
  std::map<std::string, std::set<int64_t, ByCostDesc>> pending_;
  std::set<int64_t> running_;
  std::vector<int> failures_;
  std::map<std::string, std::pair<double, double>> measured_;  // class -> (seconds, cost)
  double total_seconds_ = 0, total_cost_ = 0;
  int64_t pending_count_ = 0, done_ = 0, failed_ = 0, skipped_ = 0;
};

}  // namespace vlmscale::driver

#endif  // VLMSCALE_DRIVER_SCHEDULER_H_
