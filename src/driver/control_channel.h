// How the coordinator talks to the ranks (driver.h describes the protocol). The
// coordinator's logic sees only this interface; MpiControlChannel carries it over MPI,
// InProcessControlChannel over in-memory queues (tests, one process).
#ifndef VLMSCALE_DRIVER_CONTROL_CHANNEL_H_
#define VLMSCALE_DRIVER_CONTROL_CHANNEL_H_

#include <string>
#include <vector>

#include "core/status.h"
#include "driver/messages.h"

namespace vlmscale::driver {

// The world as the coordinator sees it. Every rank asks for work for itself; a job runs on the
// ranks the coordinator picks for it (RankPacker), led by the lowest of them.
struct Topology {
  int world_size = 1;
  int ranks_per_job = 1;           // run.ranks_per_job: the rank count of jobs that set none.
  std::vector<std::string> hosts;  // Host name of each world rank (size world_size).
  std::vector<int> node_of;        // Node of each world rank (NodeOfEachRank); empty: one node.
  bool node_local = false;         // run.node_local_groups: a job's ranks share a node.
  // Jobs of the default size that run side by side (the ETA's workers).
  int default_slots() const {
    return world_size / ranks_per_job > 0 ? world_size / ranks_per_job : 1;
  }
};

// A message from a rank to the coordinator.
struct LeaderMessage {
  enum class Kind { kRequest, kHeartbeat };
  Kind kind = Kind::kRequest;
  int rank = 0;   // World rank of the sender.
  Status status;  // Not OK: the payload was malformed (and `results` is empty).
  // kRequest: the rank is free; from a job's leading rank, the results of its batch (none from
  // the job's other ranks, and none in a rank's first request).
  std::vector<JobResultMessage> results;
  HeartbeatMessage heartbeat;  // kHeartbeat.
};

class ControlChannel {
 public:
  virtual ~ControlChannel() = default;
  // Takes the next message of any rank if one is waiting; returns false (at once) otherwise.
  virtual bool Poll(LeaderMessage* message) = 0;
  // kAssign to a world rank: a batch (to each rank of its job), or a shutdown with the exit code.
  virtual void SendAssign(int rank, const AssignMessage& message) = 0;
  // kStop to a world rank: checkpoint and return.
  virtual void SendStop(int rank) = 0;
  // Gives up on ranks that did not stop in time, after the store was saved. The MPI channel
  // aborts the MPI job with `exit_code` and does not return; others record it and return.
  virtual void Abandon(int exit_code) = 0;
};

}  // namespace vlmscale::driver

#endif  // VLMSCALE_DRIVER_CONTROL_CHANNEL_H_
