#include "driver/placement.h"

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <thread>

#include "config.h"
#include "core/check.h"

#if VLMSCALE_HAVE_NCCL
#include <cuda_runtime_api.h>
#endif

namespace vlmscale::driver {

namespace {

int VisibleGpus() {
#if VLMSCALE_HAVE_NCCL
  int n = 0;
  if (cudaGetDeviceCount(&n) != cudaSuccess) return 0;
  return n;
#else
  return 0;
#endif
}

}  // namespace

Placement Place(int ranks_per_job, int threads_per_rank) {
  CHECK_GE(ranks_per_job, 1);
  CHECK_GE(threads_per_rank, 0);
  Placement p;
  MPI_Comm_rank(MPI_COMM_WORLD, &p.world_rank);
  MPI_Comm_size(MPI_COMM_WORLD, &p.world_size);
  CHECK_EQ(p.world_size % ranks_per_job, 0);
  p.group_size = ranks_per_job;
  p.groups = p.world_size / p.group_size;
  p.group = p.world_rank / p.group_size;
  p.group_rank = p.world_rank % p.group_size;
  MPI_Comm_dup(MPI_COMM_WORLD, &p.to_coordinator);
  MPI_Comm_dup(MPI_COMM_WORLD, &p.to_workers);
  MPI_Comm_split(MPI_COMM_WORLD, p.group, p.world_rank, &p.group_comm);
  MPI_Comm_dup(p.group_comm, &p.group_control);
  MPI_Comm node;
  MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, p.world_rank, MPI_INFO_NULL, &node);
  MPI_Comm_rank(node, &p.local_rank);
  MPI_Comm_size(node, &p.local_size);
  MPI_Comm_free(&node);
  int gpus = VisibleGpus();
  p.device = gpus > 0 ? p.local_rank % gpus : -1;
  int64_t t = threads_per_rank;
  if (t <= 0) {
    unsigned cores = std::thread::hardware_concurrency();
    t = std::max<int64_t>(1, static_cast<int64_t>(cores) / std::max(1, p.local_size));
  }
  p.threads = static_cast<int>(t);
  char name[MPI_MAX_PROCESSOR_NAME];
  int len = 0;
  MPI_Get_processor_name(name, &len);
  p.host.assign(name, len);
  return p;
}

void FreePlacement(Placement* p) {
  MPI_Comm_free(&p->group_control);
  MPI_Comm_free(&p->group_comm);
  MPI_Comm_free(&p->to_workers);
  MPI_Comm_free(&p->to_coordinator);
}

std::vector<std::string> GatherHosts(const Placement& p) {
  constexpr int kLen = 256;
  char mine[kLen] = {0};
  std::strncpy(mine, p.host.c_str(), kLen - 1);
  std::vector<char> all(static_cast<size_t>(kLen) * p.world_size);
  MPI_Allgather(mine, kLen, MPI_CHAR, all.data(), kLen, MPI_CHAR, MPI_COMM_WORLD);
  std::vector<std::string> hosts;
  for (int r = 0; r < p.world_size; ++r) hosts.emplace_back(&all[static_cast<size_t>(r) * kLen]);
  return hosts;
}

}  // namespace vlmscale::driver
