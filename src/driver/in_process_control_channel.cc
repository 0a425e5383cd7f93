#include "driver/in_process_control_channel.h"

#include "core/check.h"

namespace vlmscale::driver {

InProcessControlChannel::InProcessControlChannel(int ranks)
    : ranks_(ranks), assigns_(ranks), stops_(ranks, 0) {
  CHECK_GE(ranks, 1);
}

bool InProcessControlChannel::Poll(LeaderMessage* message) {
  Raw raw;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (to_coordinator_.empty()) return false;
    raw = std::move(to_coordinator_.front());
    to_coordinator_.pop_front();
  }
  *message = LeaderMessage();
  message->kind = raw.kind;
  message->rank = raw.rank;
  if (raw.kind == LeaderMessage::Kind::kHeartbeat) {
    Result<HeartbeatMessage> h = DecodeHeartbeat(raw.bytes);
    if (h.ok()) {
      message->heartbeat = *h;
    } else {
      message->status = h.status();
    }
  } else {
    Result<std::vector<JobResultMessage>> r = DecodeResults(raw.bytes);
    if (r.ok()) {
      message->results = std::move(*r);
    } else {
      message->status = r.status();
    }
  }
  return true;
}

void InProcessControlChannel::SendAssign(int rank, const AssignMessage& message) {
  CHECK(rank >= 0 && rank < ranks_);
  {
    std::lock_guard<std::mutex> lock(mu_);
    assigns_[rank].push_back(EncodeAssign(message));
  }
  assign_cv_.notify_all();
}

void InProcessControlChannel::SendStop(int rank) {
  CHECK(rank >= 0 && rank < ranks_);
  std::lock_guard<std::mutex> lock(mu_);
  ++stops_[rank];
}

void InProcessControlChannel::Abandon(int exit_code) {
  std::lock_guard<std::mutex> lock(mu_);
  abandoned_with_ = exit_code;
}

void InProcessControlChannel::SendRequest(int rank, const std::vector<JobResultMessage>& results) {
  SendRaw(rank, LeaderMessage::Kind::kRequest, EncodeResults(results));
}

void InProcessControlChannel::SendHeartbeat(int rank, const HeartbeatMessage& message) {
  SendRaw(rank, LeaderMessage::Kind::kHeartbeat, EncodeHeartbeat(message));
}

void InProcessControlChannel::SendRaw(int rank, LeaderMessage::Kind kind,
                                      const std::string& bytes) {
  CHECK(rank >= 0 && rank < ranks_);
  std::lock_guard<std::mutex> lock(mu_);
  to_coordinator_.push_back({kind, rank, bytes});
}

bool InProcessControlChannel::TryReceiveAssign(int rank, AssignMessage* message) {
  CHECK(rank >= 0 && rank < ranks_);
  std::string bytes;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (assigns_[rank].empty()) return false;
    bytes = std::move(assigns_[rank].front());
    assigns_[rank].pop_front();
  }
  Result<AssignMessage> m = DecodeAssign(bytes);
  CHECK(m.ok()) << m.status().ToString();
  *message = std::move(*m);
  return true;
}

AssignMessage InProcessControlChannel::ReceiveAssign(int rank) {
  CHECK(rank >= 0 && rank < ranks_);
  std::string bytes;
  {
    std::unique_lock<std::mutex> lock(mu_);
    assign_cv_.wait(lock, [&] { return !assigns_[rank].empty(); });
    bytes = std::move(assigns_[rank].front());
    assigns_[rank].pop_front();
  }
  Result<AssignMessage> m = DecodeAssign(bytes);
  CHECK(m.ok()) << m.status().ToString();
  return std::move(*m);
}

bool InProcessControlChannel::TakeStop(int rank) {
  CHECK(rank >= 0 && rank < ranks_);
  std::lock_guard<std::mutex> lock(mu_);
  if (stops_[rank] == 0) return false;
  --stops_[rank];
  return true;
}

size_t InProcessControlChannel::pending_to_coordinator() const {
  std::lock_guard<std::mutex> lock(mu_);
  return to_coordinator_.size();
}

int InProcessControlChannel::abandoned_with() const {
  std::lock_guard<std::mutex> lock(mu_);
  return abandoned_with_;
}

}  // namespace vlmscale::driver
