// The control channel over MPI: the coordinator's end (MpiControlChannel, on rank 0's coordinator
// thread) and every rank's end (MpiLeaderLink, in the worker loop and liveness thread). Messages
// go to the coordinator on Placement::to_coordinator and to the ranks on
// Placement::to_workers, so rank 0's two ends never take each other's messages.
#ifndef VLMSCALE_DRIVER_MPI_CONTROL_CHANNEL_H_
#define VLMSCALE_DRIVER_MPI_CONTROL_CHANNEL_H_

#include <string>
#include <vector>

#include "driver/control_channel.h"
#include "driver/placement.h"

namespace vlmscale::driver {

// Message tags on the wire.
enum class Tag : int {
  kRequest = 101,    // rank -> coordinator: free; a job leader's results of its batch.
  kAssign = 102,     // coordinator -> rank: next batch and its ranks, or shutdown with a code.
  kHeartbeat = 103,  // rank -> coordinator: progress age and local stop flag.
  kStop = 104,       // coordinator -> rank: stop request.
};

class MpiControlChannel : public ControlChannel {
 public:
  // REQUIRES: `place` outlives the channel; called on world rank 0.
  explicit MpiControlChannel(const Placement* place) : place_(place) {}
  bool Poll(LeaderMessage* message) override;
  void SendAssign(int rank, const AssignMessage& message) override;
  void SendStop(int rank) override;
  // Flushes stdout and stderr, then MPI_Abort(MPI_COMM_WORLD, exit_code).
  [[noreturn]] void Abandon(int exit_code) override;

 private:
  const Placement* place_;
};

// A rank's end of the channel (every rank has one). REQUIRES: `place` outlives it.
class MpiLeaderLink {
 public:
  explicit MpiLeaderLink(const Placement* place) : place_(place) {}
  // kRequest with the last batch's results (none at first).
  void SendRequest(const std::vector<JobResultMessage>& results);
  // Waits (with backoff) for the next kAssign and returns its bytes (DecodeAssign them).
  std::string ReceiveAssign();
  void SendHeartbeat(const HeartbeatMessage& message);
  // Takes a kStop from the coordinator if one is waiting.
  bool PollStop();

 private:
  const Placement* place_;
};

}  // namespace vlmscale::driver

#endif  // VLMSCALE_DRIVER_MPI_CONTROL_CHANNEL_H_
