// The coordinator (rank 0, a thread next to its worker): picks each job's ranks (RankPacker: EASY
// backfill over the idle ranks), hands out jobs, records results durably, watches liveness and
// handles stops (protocol steps 2-7 in driver.h). Every rank asks for work for itself. It reaches
// the workers only through a ControlChannel and reads time only from a Clock, so it runs in one
// process with InProcessControlChannel and a fake clock (tests/driver/coordinator_test.cc).
#ifndef VLMSCALE_DRIVER_COORDINATOR_H_
#define VLMSCALE_DRIVER_COORDINATOR_H_

#include <atomic>
#include <cstdint>
#include <iostream>
#include <nlohmann/json.hpp>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "config/sweep.h"
#include "driver/adaptive_controller.h"
#include "driver/control_channel.h"
#include "driver/driver_options.h"
#include "driver/progress_printer.h"
#include "driver/rank_packer.h"
#include "driver/scheduler.h"
#include "driver/timing.h"
#include "store/results_store.h"

namespace vlmscale::driver {

// After a stop request, ranks in a job get grace_seconds plus this margin before they are
// abandoned.
inline constexpr double kAbandonMarginSeconds = 5.0;

class Coordinator {
 public:
  // REQUIRES: the pointers outlive the coordinator; `store` was prepared by PrepareStore for
  // `sweep` (one record per job) and `runnable` came with it; options.IsValid();
  // topology->hosts has one entry per world rank, topology->node_of one or none (one node);
  // every job's ranks fit (CheckJobRanks). `stop` is the process's stop flag (a signal);
  // `clock` gives monotonic seconds; `out` receives every printed line.
  Coordinator(const config::Sweep* sweep, const Topology* topology, store::ResultsStore* store,
              const std::vector<bool>& runnable, const DriverOptions& options,
              ControlChannel* channel, const std::atomic<bool>* stop, Clock clock = MonoNow,
              std::ostream* out = &std::cout);

  // Makes the sweep adaptive (driver/adaptive_controller.h): withholds every job `adaptive` has
  // not released; whenever every released job has settled, the next round is decided, journaled
  // in the run info and its jobs released; a round that stops ends the sweep (exit 0).
  // REQUIRES: called before the first Step(); `adaptive` outlives the coordinator.
  void SetAdaptive(AdaptiveController* adaptive);

  // Runs Step() until finished(), polling with backoff. Returns exit_code().
  int Run();

  // One pass: prints the start line (first pass), handles every waiting message, begins a
  // stop if the stop flag is set, starts ready jobs on idle ranks, commits when the commit window
  // elapsed (or nothing arrived), updates run info and liveness once a second, and finishes
  // when everything is settled (closing the store and sending shutdown to every rank) or
  // abandons silent ranks after the grace period. Returns whether a message was handled.
  // REQUIRES: !finished().
  bool Step();

  bool finished() const { return finished_; }
  // Whether it ended by ControlChannel::Abandon (ranks silent past the grace period).
  bool abandoned() const { return abandoned_; }
  // 0 (every job done), 1 (a job finally failed, or the store failed) or 75 (stopped). Valid
  // once finished().
  int exit_code() const { return exit_code_; }
  bool stopping() const { return stopping_; }
  // Job results made durable by a commit and then reported (printed and counted).
  int64_t acknowledged() const { return acknowledged_; }
  const Scheduler& scheduler() const { return sched_; }
  // Rank-seconds the ranks have spent idle (asked for work and got none) so far.
  double idle_rank_seconds() const;

 private:
  // A running job's progress (HeartbeatMessage's progress fields) and its curves so far.
  struct LiveJob {
    int64_t index = -1;  // Into Sweep::jobs; -1 until the job reports progress.
    std::string phase;
    int64_t step = 0, total = 0;
    double loss = 0;
    std::vector<store::CurvePoint> curves;
    double phase_start_mono = 0;  // When `phase` was first reported, at step phase_start_step.
    int64_t phase_start_step = 0;
    double journaled_mono = 0;  // When `curves` were last written into the job's record.
    size_t journaled_points = 0;
  };
  // One world rank. A job's leading rank (its lowest) holds the batch and the job's ranks; its
  // other ranks only know they are busy.
  struct RankState {
    bool reported = false;          // Has asked for work at least once.
    bool busy = false;              // In a job.
    bool parked = false;            // Idle, waiting for work.
    int lead = -1;                  // Busy: the rank leading its job.
    std::vector<Assignment> batch;  // The leading rank's batch.
    std::vector<int> members;       // The leading rank's job ranks.
    double heartbeat_mono = 0;  // When the last message arrived.
    double progress_age = -1;   // Seconds since the job's last progress, as last reported.
    bool stalled_reported = false;
    LiveJob live;  // The running job's progress, as the heartbeats report it.
  };
  struct Unacked {
    JobResultMessage r;
    int rank;  // The job's leading rank.
    bool final_failure;
    int failures;  // Failed attempts of the job in this run, counting this one.
  };

  std::optional<store::JobRecord> Find(const std::string& id) const;
  void Handle(const LeaderMessage& m);
  void Record(const JobResultMessage& r, int rank);
  void RequeueParents(const JobResultMessage& r);
  void Append(const store::JobRecord& rec);
  void StoreError(const Status& s);
  bool AllIdle() const;
  // Starts ready jobs on idle ranks: the packer picks which jobs and ranks; short 1-rank jobs
  // are batched.
  void Dispatch();
  // Predicted seconds of a job for the packer (a default scale before anything is measured).
  double PackSeconds(int64_t idx) const;
  void MarkRunning(int64_t idx, int attempt, int rank);
  void MaybeCommit(bool idle);
  void Acknowledge();
  void Tick();
  // Updates `g.live` from a heartbeat's progress fields (logged and ignored when they name a job
  // the rank does not lead).
  void UpdateLive(const HeartbeatMessage& h, int rank, RankState& g);
  // The run info's "running_jobs": per running job, its id, ranks, start and progress. Writes
  // the curves of jobs whose curves grew into their running records (at most every
  // kLiveCurveSeconds per job).
  nlohmann::json RunningJobs(double now);
  // Decides the next adaptive round (all released jobs settled), journals and commits it.
  void AdvanceAdaptive();
  void BeginStop(const std::string& why);
  void Shutdown();
  void Finish();
  void Abandon();

  const config::Sweep& sweep_;
  const Topology& topology_;
  store::ResultsStore* store_;
  const DriverOptions options_;
  ControlChannel* channel_;
  const std::atomic<bool>* stop_;
  Clock clock_;
  Scheduler sched_;
  double start_mono_, start_unix_;
  ProgressPrinter printer_;
  std::vector<RankState> ranks_;
  RankPacker packer_;
  bool dispatch_due_ = true;  // Something changed since the last Dispatch.
  double last_dispatch_ = 0;  // Clock time of the last packing.
  std::vector<int> attempts_;
  std::vector<Unacked> unacked_;
  double first_unacked_ = 0;
  bool dirty_run_info_ = false;
  double commit_window_;
  bool started_ = false;
  bool stopping_ = false;
  std::string stop_reason_;         // BeginStop's `why`, for the run info.
  double stop_requested_unix_ = 0;  // When BeginStop ran (Unix seconds).
  double stop_deadline_ = 0;
  double last_tick_ = 0;
  bool store_failed_ = false;
  bool finished_ = false;
  bool abandoned_ = false;
  int exit_code_ = 0;
  int64_t acknowledged_ = 0;
  AdaptiveController* adaptive_ = nullptr;
  std::vector<int64_t> failed_jobs_;  // Finally failed in this run (the adaptive design's spent).
  bool adaptive_failed_ = false;      // A round's fit failed: the sweep ends with exit 1.
};

}  // namespace vlmscale::driver

#endif  // VLMSCALE_DRIVER_COORDINATOR_H_
