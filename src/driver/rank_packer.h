// RankPacker: which idle ranks start which jobs when jobs need different numbers of ranks
// (issue 18: per-job rank groups). Pure bookkeeping like the Scheduler: no MPI, no clock, so it
// is tested in one process and simulated in bench/driver/pack_bench.cc.
//
// The caller gives it the ready jobs in the Scheduler's priority order, each with its rank count
// and predicted seconds; the packer knows which ranks are busy and until when it predicted them
// busy. The rule is EASY backfill (the idea of SLURM's backfill scheduler, with one reservation):
//
//  1. Jobs start in priority order while each fits on the idle ranks.
//  2. The first job that does not fit (the head) gets a reservation: the earliest predicted time
//     S at which enough ranks for it are idle (the k-th earliest predicted end among the ranks;
//     with node-local groups the earliest over the nodes that can hold it), and which ranks.
//     A rank whose job overran its prediction counts as free now.
//  3. Every later job, in priority order, starts now if it fits on the idle ranks and either is
//     predicted to end by S (it may then use the reserved ranks), or fits on idle ranks the
//     reservation does not need.
//
// So no job started after the head delays the head's start, as long as predictions hold, and
// short or small jobs fill the gaps. A job's ranks are chosen best-fit: on the node with the
// fewest allowed idle ranks that still holds it (keeping large blocks free for large jobs);
// a job that fits on no single node spans the nodes with the most allowed idle ranks first
// (unless groups must be node-local, when it does not fit).
#ifndef VLMSCALE_DRIVER_RANK_PACKER_H_
#define VLMSCALE_DRIVER_RANK_PACKER_H_

#include <cstdint>
#include <vector>

namespace vlmscale::driver {

// A ready job: the caller's id, the ranks it needs and its predicted seconds.
struct PackRequest {
  int64_t job = -1;
  int ranks = 1;
  double seconds = 0.0;
};

// A job to start now on these world ranks (ascending).
struct PackStart {
  int64_t job = -1;
  std::vector<int> ranks;
};

// The head job's reservation after a Schedule call: it starts at `start` (predicted) on `ranks`.
// job == -1: no job was left waiting for ranks.
struct PackReservation {
  int64_t job = -1;
  double start = 0.0;
  std::vector<int> ranks;
};

class RankPacker {
 public:
  // `node_of[r]`: the node of world rank r (any integers). `node_local`: a job's ranks must all be
  // on one node (run.node_local_groups). REQUIRES: node_of is not empty.
  RankPacker(std::vector<int> node_of, bool node_local);

  int world() const { return static_cast<int>(node_of_.size()); }
  int idle() const { return idle_count_; }
  // The most ranks one job can have here: the world, or the largest node when node-local.
  int MaxRanks() const;

  // Which of `ready` (highest priority first) start now, and on which ranks; their ranks become
  // busy until Release, predicted until now + seconds. REQUIRES: now never decreases between
  // calls; every request has 1 <= ranks <= MaxRanks() and seconds >= 0.
  std::vector<PackStart> Schedule(double now, const std::vector<PackRequest>& ready);
  // A job's ranks are idle again at `now`.
  void Release(double now, const std::vector<int>& ranks);
  // Marks idle ranks busy without a job or prediction (counted free now by reservations), e.g.
  // ranks that have not asked for work yet; Release frees them. REQUIRES: each rank is idle.
  void Hold(const std::vector<int>& ranks) { Occupy(ranks, last_now_); }
  bool busy(int rank) const { return busy_[rank]; }

  // The reservation made by the last Schedule call.
  const PackReservation& reservation() const { return reservation_; }
  // Rank-seconds spent idle so far (up to the last Schedule or Release call): the waste the
  // packing leaves while jobs were waiting or ranks had nothing to do.
  double idle_rank_seconds() const { return idle_rank_seconds_; }
  // The same, up to `now` (>= the last call's time).
  double IdleRankSecondsAt(double now) const {
    return idle_rank_seconds_ + (started_ && now > last_now_ ? idle_count_ * (now - last_now_) : 0);
  }

 private:
  // Best-fit choice of `k` ranks among those with allowed[r]; empty if they do not fit.
  std::vector<int> Choose(int k, const std::vector<bool>& allowed) const;
  // The reservation for a job of `k` ranks at `now`.
  PackReservation Reserve(int64_t job, int k, double now) const;
  void Advance(double now);
  void Occupy(const std::vector<int>& ranks, double until);

  std::vector<int> node_of_;
  bool node_local_;
  std::vector<bool> busy_;
  std::vector<double> busy_until_;  // Predicted end of a busy rank's job.
  int idle_count_;
  double last_now_ = 0.0;
  bool started_ = false;
  double idle_rank_seconds_ = 0.0;
  PackReservation reservation_;
};

// A simulation of `jobs` (highest priority first, all ready at time 0, each running exactly its
// predicted seconds) packed on ranks `node_of`: when each job started, the first reservation each
// got (-1: none), the makespan and the idle rank-seconds up to it. For benchmarks and tests of
// the rule; REQUIRES as for Schedule, and unique job ids.
struct PackSimulation {
  std::vector<double> start, reserved_start;
  double makespan = 0.0;
  double idle_rank_seconds = 0.0;
};
PackSimulation SimulatePacking(const std::vector<PackRequest>& jobs, std::vector<int> node_of,
                               bool node_local);

}  // namespace vlmscale::driver

#endif  // VLMSCALE_DRIVER_RANK_PACKER_H_
