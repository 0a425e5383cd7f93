#include "driver/in_process_control_channel.h"

#include "core/check.h"

namespace vlmscale::driver {

InProcessControlChannel::InProcessControlChannel(int groups, int ranks_per_job)
    : groups_(groups), ranks_per_job_(ranks_per_job), assigns_(groups), stops_(groups, 0) {
  CHECK_GE(groups, 1);
  CHECK_GE(ranks_per_job, 1);
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
  message->group = raw.group;
  message->rank = raw.group * ranks_per_job_;
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

void InProcessControlChannel::SendAssign(int group, const AssignMessage& message) {
  CHECK(group >= 0 && group < groups_);
  {
    std::lock_guard<std::mutex> lock(mu_);
    assigns_[group].push_back(EncodeAssign(message));
  }
  assign_cv_.notify_all();
}

void InProcessControlChannel::SendStop(int group) {
  CHECK(group >= 0 && group < groups_);
  std::lock_guard<std::mutex> lock(mu_);
  ++stops_[group];
}

void InProcessControlChannel::Abandon(int exit_code) {
  std::lock_guard<std::mutex> lock(mu_);
  abandoned_with_ = exit_code;
}

void InProcessControlChannel::SendRequest(int group, const std::vector<JobResultMessage>& results) {
  SendRaw(group, LeaderMessage::Kind::kRequest, EncodeResults(results));
}

void InProcessControlChannel::SendHeartbeat(int group, const HeartbeatMessage& message) {
  SendRaw(group, LeaderMessage::Kind::kHeartbeat, EncodeHeartbeat(message));
}

void InProcessControlChannel::SendRaw(int group, LeaderMessage::Kind kind,
                                      const std::string& bytes) {
  CHECK(group >= 0 && group < groups_);
  std::lock_guard<std::mutex> lock(mu_);
  to_coordinator_.push_back({kind, group, bytes});
}

bool InProcessControlChannel::TryReceiveAssign(int group, AssignMessage* message) {
  CHECK(group >= 0 && group < groups_);
  std::string bytes;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (assigns_[group].empty()) return false;
    bytes = std::move(assigns_[group].front());
    assigns_[group].pop_front();
  }
  Result<AssignMessage> m = DecodeAssign(bytes);
  CHECK(m.ok()) << m.status().ToString();
  *message = std::move(*m);
  return true;
}

AssignMessage InProcessControlChannel::ReceiveAssign(int group) {
  CHECK(group >= 0 && group < groups_);
  std::string bytes;
  {
    std::unique_lock<std::mutex> lock(mu_);
    assign_cv_.wait(lock, [&] { return !assigns_[group].empty(); });
    bytes = std::move(assigns_[group].front());
    assigns_[group].pop_front();
  }
  Result<AssignMessage> m = DecodeAssign(bytes);
  CHECK(m.ok()) << m.status().ToString();
  return std::move(*m);
}

bool InProcessControlChannel::TakeStop(int group) {
  CHECK(group >= 0 && group < groups_);
  std::lock_guard<std::mutex> lock(mu_);
  if (stops_[group] == 0) return false;
  --stops_[group];
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
