// Scheduler: which job runs next. Pure bookkeeping, no MPI, so it is tested in one process.
//
// Jobs form a DAG (config::JobSpec::parents): a job is ready when every parent is done. Among
// ready jobs the one with the longest remaining path goes first: its predicted duration plus the
// heaviest chain of predicted durations of its descendants still to run (critical-path list
// scheduling; in a one-stage study that is longest-processing-time-first, which shortens the
// makespan). A prediction is the plan's estimated cost times a seconds-per-cost ratio measured
// on finished jobs of the same (stage, llm, method, task) class, falling back to the ratio over
// all finished jobs, and to the raw estimate before anything finished. Path lengths are
// recomputed when a class gets its first measurement and whenever the number of measured jobs
// doubles (O(jobs + edges) each time), so ratios refine the order without a per-job cost.
//
// A job that finally fails blocks its descendants (state `blocked`: never dispatched in this
// run, not counted as failed; the next run retries the failed job and then runs them).
#ifndef VLMSCALE_DRIVER_SCHEDULER_H_
#define VLMSCALE_DRIVER_SCHEDULER_H_

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "config/sweep.h"
#include "driver/driver_options.h"
#include "driver/messages.h"

namespace vlmscale::driver {

class Scheduler {
 public:
  // `runnable[i]` says whether sweep.jobs[i] must run (false: already done in the results file).
  // REQUIRES: max_attempts >= 1; every job's parents have smaller indices. With kGrid, ready jobs
  // go out in grid order; with kStages, a stage's jobs start only once every job of the stages
  // before it (Sweep::stages order) has settled, as chained batch jobs
  // (`sbatch --dependency=afterok`) would run them. Both are baselines for benchmarks.
  Scheduler(const config::Sweep& sweep, const std::vector<bool>& runnable, int max_attempts,
            DispatchOrder order = DispatchOrder::kCost);

  // Takes the ready job with the longest remaining path and marks it running; returns its index,
  // or -1 if nothing is ready.
  int64_t Next();
  // Up to `limit` ready jobs, highest priority first (Next's order), without taking them.
  std::vector<int64_t> Ready(size_t limit);
  // Marks the ready job `index` running (what Next does for the first of Ready).
  // REQUIRES: is_ready(index).
  void Start(int64_t index);
  // Reports how a running job ended after `seconds`. A failure is re-queued while the job has
  // attempts left in this run; returns true if the job is now finally failed, in which case its
  // not-yet-done descendants become blocked and are appended to `*blocked` (if non-null).
  bool Finish(int64_t index, Outcome outcome, double seconds,
              std::vector<int64_t>* blocked = nullptr);
  // `child` (running) could not start because the artifacts of `parents` (done) are missing:
  // the parents run again (without spending an attempt) and the child waits for them.
  void RequeueParents(int64_t child, const std::vector<int64_t>& parents);

  // An adaptive design's jobs not chosen yet (driver/adaptive_controller.h): a withheld job is
  // never dispatched, not made ready when its parents finish, not blocked when one fails, and
  // counts neither as pending nor as waiting until Release()d; released, it is ready or waits
  // for its parents still to run. Release ancestors before descendants.
  // REQUIRES (Withhold): can_withhold(index); (Release): withheld(index) and none of its
  // parents failed or blocked.
  void Withhold(int64_t index);
  void Release(int64_t index);
  bool can_withhold(int64_t index) const {
    return state_[index] == State::kReady || state_[index] == State::kWaiting ||
           state_[index] == State::kHeld;
  }
  bool withheld(int64_t index) const { return state_[index] == State::kWithheld; }
  bool is_ready(int64_t index) const { return state_[index] == State::kReady; }
  int64_t withheld_count() const { return withheld_count_; }

  // Predicted seconds of a job (see class comment; unitless before any measurement).
  double Predict(int64_t index) const;
  // Predicted seconds of the job plus its heaviest chain of descendants still to run, as of the
  // last recomputation.
  double RemainingPath(int64_t index) const { return path_[index]; }
  bool calibrated() const { return total_cost_ > 0; }
  // Predicted seconds of all pending and running work divided over `workers`.
  double EtaSeconds(int workers) const;

  // Jobs to run in this run: ready plus waiting for parents.
  int64_t pending() const { return static_cast<int64_t>(ready_.size()) + waiting_ + held_count_; }
  int64_t ready() const { return static_cast<int64_t>(ready_.size()); }
  int64_t waiting() const { return waiting_ + held_count_; }  // For parents (or a barrier).
  int64_t running() const { return static_cast<int64_t>(running_.size()); }
  int64_t done() const { return done_; }
  int64_t failed() const { return failed_; }
  int64_t blocked() const { return blocked_; }
  int64_t skipped() const { return skipped_; }  // Done before this run.
  bool Settled() const { return pending() == 0 && running_.empty(); }
  int failures(int64_t index) const { return failures_[index]; }
  // Per stage (Sweep::stages order): {done (this run or before), failed, blocked, total}.
  struct StageCounts {
    int64_t done = 0, failed = 0, blocked = 0, total = 0;
  };
  std::vector<StageCounts> stage_counts() const;  // O(jobs): counted from the job states.

 private:
  enum class State { kDone, kWaiting, kHeld, kReady, kRunning, kFailed, kBlocked, kWithheld };
  // Ready jobs, longest remaining path first (then grid order).
  struct ByPath {
    const Scheduler* s;
    bool operator()(int64_t a, int64_t b) const;
  };

  double Ratio(int32_t cls) const;
  void MakeReady(int64_t index);  // Ready, or held behind a stage barrier.
  void ReleaseStages();           // kStages: open the next stage when the earlier ones settled.
  void Recompute();               // Remaining paths from current ratios; rebuilds ready_.
  void Block(int64_t index, std::vector<int64_t>* blocked);

  const config::Sweep& sweep_;
  const int max_attempts_;
  const DispatchOrder order_;
  std::vector<int32_t> class_of_;  // Per job: its class, an index into measured_.
  std::vector<std::vector<int64_t>> children_;
  std::vector<State> state_;
  std::vector<int> unmet_;  // Parents not done.
  std::vector<double> path_;
  std::vector<bool> done_before_;  // Done in the results file when this run started.
  std::set<int64_t, ByPath> ready_;
  std::set<int64_t> running_;
  std::vector<int> failures_;
  std::vector<std::pair<double, double>> measured_;  // Per class: (seconds, cost) measured.
  double total_seconds_ = 0, total_cost_ = 0;
  int64_t measured_count_ = 0, next_recompute_ = 1;
  bool stale_ = false;
  // kStages: stages [0, open_stages_) may run; held jobs of later stages, per stage.
  int open_stages_ = 0;
  std::vector<std::vector<int64_t>> held_;
  std::vector<int64_t> unsettled_;  // Per stage: jobs neither done, failed nor blocked.
  int64_t held_count_ = 0;
  int64_t withheld_count_ = 0;
  int64_t waiting_ = 0, done_ = 0, failed_ = 0, blocked_ = 0, skipped_ = 0;
};

}  // namespace vlmscale::driver

#endif  // VLMSCALE_DRIVER_SCHEDULER_H_
