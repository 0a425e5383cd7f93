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
  // REQUIRES: groups >= 1, ranks_per_job >= 1 (only used for LeaderMessage::rank).
  explicit InProcessControlChannel(int groups, int ranks_per_job = 1);

  // ---- Coordinator's end.
  bool Poll(LeaderMessage* message) override;
  void SendAssign(int group, const AssignMessage& message) override;
  void SendStop(int group) override;
  // Records the exit code and returns.
  void Abandon(int exit_code) override;

  // ---- Leaders' end. REQUIRES: 0 <= group < groups.
  void SendRequest(int group, const std::vector<JobResultMessage>& results);
  void SendHeartbeat(int group, const HeartbeatMessage& message);
  // Queues raw bytes as a kRequest or kHeartbeat (malformed input in tests).
  void SendRaw(int group, LeaderMessage::Kind kind, const std::string& bytes);
  // Takes the group's next assignment if one is waiting.
  bool TryReceiveAssign(int group, AssignMessage* message);
  // Waits for the group's next assignment.
  AssignMessage ReceiveAssign(int group);
  // Takes a pending stop of the group (true once per SendStop).
  bool TakeStop(int group);

  // Messages queued for the coordinator and not yet polled.
  size_t pending_to_coordinator() const;
  // The exit code passed to Abandon(), or -1.
  int abandoned_with() const;

 private:
  struct Raw {
    LeaderMessage::Kind kind;
    int group;
    std::string bytes;
  };
  const int groups_, ranks_per_job_;
  mutable std::mutex mu_;
  std::condition_variable assign_cv_;
  std::deque<Raw> to_coordinator_;
  std::vector<std::deque<std::string>> assigns_;
  std::vector<int> stops_;
  int abandoned_with_ = -1;
};

}  // namespace vlmscale::driver

#endif  // VLMSCALE_DRIVER_IN_PROCESS_CONTROL_CHANNEL_H_
