// Placement of this rank: its job group, node-local rank, host, GPU and thread count, and the
// MPI communicators the driver uses.
#ifndef VLMSCALE_DRIVER_PLACEMENT_H_
#define VLMSCALE_DRIVER_PLACEMENT_H_

#include <mpi.h>

#include <string>
#include <vector>

namespace vlmscale::driver {

struct Placement {
  int world_rank = 0, world_size = 1;
  int group = 0, group_rank = 0, group_size = 1, groups = 1;
  int local_rank = 0, local_size = 1;
  int device = -1;  // CUDA device of this rank, or -1 (no GPU or built without NCCL).
  int threads = 1;
  std::string host;
  // Driver messages use two duplicates of world, one per direction, so the coordinator thread on
  // rank 0 never receives messages meant for rank 0's own worker.
  MPI_Comm to_coordinator = MPI_COMM_NULL;  // kRequest, kHeartbeat.
  MPI_Comm to_workers = MPI_COMM_NULL;      // kAssign, kStop.
  MPI_Comm group_comm = MPI_COMM_NULL;      // The job group's ranks (job collectives).
  MPI_Comm group_control = MPI_COMM_NULL;   // Dup of group_comm: stop relay to members.
  bool leader() const { return group_rank == 0; }
  int leader_of(int g) const { return g * group_size; }
};

// Collective over MPI_COMM_WORLD. REQUIRES: ranks_per_job >= 1 divides the world size;
// threads_per_rank >= 0 (0: the node's cores divided by the ranks on the node). Creates the
// communicators; FreePlacement releases them.
Placement Place(int ranks_per_job, int threads_per_rank);
void FreePlacement(Placement* p);

// Collective over MPI_COMM_WORLD: the host name of every world rank, on every rank.
std::vector<std::string> GatherHosts(const Placement& p);

}  // namespace vlmscale::driver

#endif  // VLMSCALE_DRIVER_PLACEMENT_H_
