#include "driver/mpi_control_channel.h"

#include <cstdio>
#include <cstdlib>

#include "driver/timing.h"

namespace vlmscale::driver {

namespace {

void SendString(const std::string& s, int dest, Tag tag, MPI_Comm comm) {
  MPI_Send(s.data(), static_cast<int>(s.size()), MPI_CHAR, dest, static_cast<int>(tag), comm);
}

std::string ReceiveProbed(const MPI_Status& st, MPI_Comm comm) {
  int count = 0;
  MPI_Get_count(&st, MPI_CHAR, &count);
  std::string bytes(count, '\0');
  MPI_Recv(bytes.data(), count, MPI_CHAR, st.MPI_SOURCE, st.MPI_TAG, comm, MPI_STATUS_IGNORE);
  return bytes;
}

}  // namespace

bool MpiControlChannel::Poll(LeaderMessage* message) {
  while (true) {
    int flag = 0;
    MPI_Status st;
    MPI_Iprobe(MPI_ANY_SOURCE, MPI_ANY_TAG, place_->to_coordinator, &flag, &st);
    if (!flag) return false;
    std::string bytes = ReceiveProbed(st, place_->to_coordinator);
    *message = LeaderMessage();
    message->rank = st.MPI_SOURCE;
    if (st.MPI_TAG == static_cast<int>(Tag::kHeartbeat)) {
      message->kind = LeaderMessage::Kind::kHeartbeat;
      Result<HeartbeatMessage> h = DecodeHeartbeat(bytes);
      if (h.ok()) {
        message->heartbeat = *h;
      } else {
        message->status = h.status();
      }
      return true;
    }
    if (st.MPI_TAG == static_cast<int>(Tag::kRequest)) {
      message->kind = LeaderMessage::Kind::kRequest;
      Result<std::vector<JobResultMessage>> r = DecodeResults(bytes);
      if (r.ok()) {
        message->results = std::move(*r);
      } else {
        message->status = r.status();
      }
      return true;
    }
    // No other tag is sent to the coordinator; drop it.
  }
}

void MpiControlChannel::SendAssign(int rank, const AssignMessage& message) {
  SendString(EncodeAssign(message), rank, Tag::kAssign, place_->to_workers);
}

void MpiControlChannel::SendStop(int rank) {
  MPI_Send(nullptr, 0, MPI_CHAR, rank, static_cast<int>(Tag::kStop), place_->to_workers);
}

void MpiControlChannel::Abandon(int exit_code) {
  std::fflush(stdout);
  std::fflush(stderr);
  MPI_Abort(MPI_COMM_WORLD, exit_code);
  std::_Exit(exit_code);
}

void MpiLeaderLink::SendRequest(const std::vector<JobResultMessage>& results) {
  SendString(EncodeResults(results), 0, Tag::kRequest, place_->to_coordinator);
}

std::string MpiLeaderLink::ReceiveAssign() {
  Backoff b;
  MPI_Status st;
  int flag = 0;
  while (true) {
    MPI_Iprobe(0, static_cast<int>(Tag::kAssign), place_->to_workers, &flag, &st);
    if (flag) break;
    b.Wait();
  }
  return ReceiveProbed(st, place_->to_workers);
}

void MpiLeaderLink::SendHeartbeat(const HeartbeatMessage& message) {
  SendString(EncodeHeartbeat(message), 0, Tag::kHeartbeat, place_->to_coordinator);
}

bool MpiLeaderLink::PollStop() {
  int flag = 0;
  MPI_Status st;
  MPI_Iprobe(0, static_cast<int>(Tag::kStop), place_->to_workers, &flag, &st);
  if (!flag) return false;
  MPI_Recv(nullptr, 0, MPI_CHAR, 0, static_cast<int>(Tag::kStop), place_->to_workers,
           MPI_STATUS_IGNORE);
  return true;
}

}  // namespace vlmscale::driver
