// Communicators of per-job rank groups (issue 18): when jobs need different rank counts, a job's
// ranks are chosen when it starts, so its communicator is built then, by those ranks only
// (MPI_Comm_create_group; an NCCL communicator on GPU builds), and kept: when the same ranks meet
// again for another job they reuse it. docs/BENCHMARKS.md ("Forming a group per job") has what
// building one costs against reusing it.
#ifndef VLMSCALE_DRIVER_GROUP_COMMS_H_
#define VLMSCALE_DRIVER_GROUP_COMMS_H_

#include <mpi.h>

#include <cstdint>
#include <map>
#include <memory>
#include <vector>

#include "comm/communicator.h"
#include "core/status.h"

namespace vlmscale::driver {

class GroupComms {
 public:
  // Collective over MPI_COMM_WORLD: duplicates it, so that building groups never mixes with
  // other traffic. `device` is this rank's CUDA device (Placement::device): with one (>= 0, in
  // a build with NCCL) groups of several ranks get NCCL communicators, else MPI ones.
  // REQUIRES: MPI is initialized.
  explicit GroupComms(int device);
  // Frees every communicator. REQUIRES: before MPI_Finalize.
  ~GroupComms();
  GroupComms(const GroupComms&) = delete;
  GroupComms& operator=(const GroupComms&) = delete;

  // The communicator of the world ranks `members`; its rank() is this rank's position in
  // `members`. Built on the group's first use and reused afterwards (the same pointer, valid
  // until Forget or destruction). Building is collective over the members only: every member
  // calls Get with the same list, and the ranks' sequences of Get calls for groups that need
  // building must not cross (each rank is in one job at a time, so the driver's order is fine).
  // A single member gets a single-rank communicator. Runtime status naming the MPI or NCCL call
  // that failed (nothing is cached then).
  // REQUIRES: `members` is strictly increasing, within the world, and contains this rank.
  Result<comm::Communicator*> Get(const std::vector<int>& members);
  // Frees the communicator of `members`, if built. Every member calls it for the group before
  // any of them calls Get for it again.
  void Forget(const std::vector<int>& members);

  int64_t built() const { return built_; }  // Communicators built so far.
  size_t cached() const { return groups_.size(); }

 private:
  const int device_;
  int world_rank_ = 0, world_size_ = 1;
  MPI_Comm parent_ = MPI_COMM_NULL;  // Dup of MPI_COMM_WORLD.
  std::map<std::vector<int>, std::unique_ptr<comm::Communicator>> groups_;
  int64_t built_ = 0;
};

}  // namespace vlmscale::driver

#endif  // VLMSCALE_DRIVER_GROUP_COMMS_H_
