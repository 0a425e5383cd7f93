// The control channel over in-memory queues: the coordinator and the "leaders" live in one
// process (tests). Messages are encoded and decoded with the wire format on the way, as over MPI.
// Thread-safe: the coordinator and each leader may run on threads of their own, or a test may
// drive both ends from one thread.
#ifndef VLMSCALE_DRIVER_IN_PROCESS_CONTROL_CHANNEL_H_
#define VLMSCALE_DRIVER_IN_PROCESS_CONTROL_CHANNEL_H_

#include <condition_variable>
#include <deque>
#include <mutex>
#include <string>
#include <vector>

#include "driver/control_channel.h"

namespace vlmscale::driver {

class InProcessControlChannel : public ControlChannel {
 public:
  // REQUIRES: ranks >= 1 (world ranks 0 .. ranks - 1).
  explicit InProcessControlChannel(int ranks);

  // ---- Coordinator's end.
  bool Poll(LeaderMessage* message) override;
  void SendAssign(int rank, const AssignMessage& message) override;
  void SendStop(int rank) override;
  // Records the exit code and returns.
  void Abandon(int exit_code) override;

  // ---- The ranks' end. REQUIRES: 0 <= rank < ranks.
  void SendRequest(int rank, const std::vector<JobResultMessage>& results);
  void SendHeartbeat(int rank, const HeartbeatMessage& message);
  // Queues raw bytes as a kRequest or kHeartbeat (malformed input in tests).
  void SendRaw(int rank, LeaderMessage::Kind kind, const std::string& bytes);
  // Takes the rank's next assignment if one is waiting.
  bool TryReceiveAssign(int rank, AssignMessage* message);
  // Waits for the rank's next assignment.
  AssignMessage ReceiveAssign(int rank);
  // Takes a pending stop of the rank (true once per SendStop).
  bool TakeStop(int rank);

  // Messages queued for the coordinator and not yet polled.
  size_t pending_to_coordinator() const;
  // The exit code passed to Abandon(), or -1.
  int abandoned_with() const;

 private:
  struct Raw {
    LeaderMessage::Kind kind;
    int rank;
    std::string bytes;
  };
  const int ranks_;
  mutable std::mutex mu_;
  std::condition_variable assign_cv_;
  std::deque<Raw> to_coordinator_;
  std::vector<std::deque<std::string>> assigns_;
  std::vector<int> stops_;
  int abandoned_with_ = -1;
};

}  // namespace vlmscale::driver

#endif  // VLMSCALE_DRIVER_IN_PROCESS_CONTROL_CHANNEL_H_
