// How the coordinator talks to the job groups' leaders (driver.h describes the protocol). The
// coordinator's logic sees only this interface; MpiControlChannel carries it over MPI,
// InProcessControlChannel over in-memory queues (tests, one process).
#ifndef VLMSCALE_DRIVER_CONTROL_CHANNEL_H_
#define VLMSCALE_DRIVER_CONTROL_CHANNEL_H_

#include <string>
#include <vector>

#include "core/status.h"
#include "driver/messages.h"

namespace vlmscale::driver {

// Ranks and job groups as the coordinator sees them: groups of ranks_per_job consecutive world
// ranks, each led by its first rank.
struct Topology {
  int world_size = 1;
  int ranks_per_job = 1;
  std::vector<std::string> hosts;  // Host name of each world rank (size world_size).
  int groups() const { return world_size / ranks_per_job; }
  int leader_of(int group) const { return group * ranks_per_job; }
};

// A message from a group's leader to the coordinator.
struct LeaderMessage {
  enum class Kind { kRequest, kHeartbeat };
  Kind kind = Kind::kRequest;
  int group = 0;
  int rank = 0;   // World rank of the sender (for log lines).
  Status status;  // Not OK: the payload was malformed (and `results` is empty).
  std::vector<JobResultMessage> results;  // kRequest: results of the previous batch, or none.
  HeartbeatMessage heartbeat;             // kHeartbeat.
};

class ControlChannel {
 public:
  virtual ~ControlChannel() = default;
  // Takes the next message of any leader if one is waiting; returns false (at once) otherwise.
  virtual bool Poll(LeaderMessage* message) = 0;
  // kAssign to the group's leader: a batch, or a shutdown with the exit code.
  virtual void SendAssign(int group, const AssignMessage& message) = 0;
  // kStop to the group's leader: checkpoint and return.
  virtual void SendStop(int group) = 0;
  // Gives up on groups that did not stop in time, after the store was saved. The MPI channel
  // aborts the MPI job with `exit_code` and does not return; others record it and return.
  virtual void Abandon(int exit_code) = 0;
};

}  // namespace vlmscale::driver

#endif  // VLMSCALE_DRIVER_CONTROL_CHANNEL_H_
