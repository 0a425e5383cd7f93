#include "driver/group_comms.h"

#include <string>
#include <utility>

#include "comm/mpi_communicator.h"
#include "comm/nccl_communicator.h"
#include "config.h"
#include "core/check.h"

namespace vlmscale::driver {

namespace {

// A tag for MPI_Comm_create_group from the member list (within MPI's guaranteed tag range).
int GroupTag(const std::vector<int>& members) {
  uint32_t h = 2166136261u;
  for (int m : members) h = (h ^ static_cast<uint32_t>(m)) * 16777619u;
  return static_cast<int>(h % 32768u);
}

}  // namespace

GroupComms::GroupComms(int device) : device_(device) {
  MPI_Comm_rank(MPI_COMM_WORLD, &world_rank_);
  MPI_Comm_size(MPI_COMM_WORLD, &world_size_);
  MPI_Comm_dup(MPI_COMM_WORLD, &parent_);
  MPI_Comm_set_errhandler(parent_, MPI_ERRORS_RETURN);
}

GroupComms::~GroupComms() {
  groups_.clear();
  if (parent_ != MPI_COMM_NULL) MPI_Comm_free(&parent_);
}

Result<comm::Communicator*> GroupComms::Get(const std::vector<int>& members) {
  CHECK(!members.empty());
  bool mine = false;
  for (size_t i = 0; i < members.size(); ++i) {
    CHECK(members[i] >= 0 && members[i] < world_size_) << "rank " << members[i];
    CHECK(i == 0 || members[i - 1] < members[i]) << "members must be strictly increasing";
    mine = mine || members[i] == world_rank_;
  }
  CHECK(mine) << "rank " << world_rank_ << " is not a member of its group";
  auto it = groups_.find(members);
  if (it != groups_.end()) return it->second.get();

  std::unique_ptr<comm::Communicator> made;
  if (members.size() == 1) {
    made = comm::MakeSingleRankCommunicator();
  } else {
    MPI_Group world_group = MPI_GROUP_NULL, group = MPI_GROUP_NULL;
    MPI_CHECK(MPI_Comm_group(parent_, &world_group));
    int rc = MPI_Group_incl(world_group, static_cast<int>(members.size()), members.data(), &group);
    MPI_Group_free(&world_group);
    if (rc != MPI_SUCCESS) return comm::MpiError("MPI_Group_incl", rc);
    MPI_Comm created = MPI_COMM_NULL;
    rc = MPI_Comm_create_group(parent_, group, GroupTag(members), &created);
    MPI_Group_free(&group);
    if (rc != MPI_SUCCESS) return comm::MpiError("MPI_Comm_create_group", rc);
    // Each backend keeps its own duplicate of `created`.
    Result<std::unique_ptr<comm::Communicator>> c =
        device_ >= 0 && VLMSCALE_HAVE_NCCL ? comm::MakeNcclCommunicator(created, device_)
                                           : comm::MakeMpiCommunicator(created);
    MPI_Comm_free(&created);
    if (!c.ok()) return c.status();
    made = std::move(*c);
  }
  ++built_;
  comm::Communicator* out = made.get();
  groups_.emplace(members, std::move(made));
  return out;
}

void GroupComms::Forget(const std::vector<int>& members) { groups_.erase(members); }

}  // namespace vlmscale::driver
