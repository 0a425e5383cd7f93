// Runs under mpiexec with 2 ranks; skips without a GPU (or without the NCCL backend).
#include "comm/nccl_communicator.h"

#include <gtest/gtest.h>
#include <mpi.h>

#include <vector>

#include "config.h"  // Generated: VLMSCALE_HAVE_NCCL.
#if VLMSCALE_HAVE_NCCL
#include <cuda_runtime.h>
#endif

namespace vlmscale::comm {
namespace {

TEST(NcclCommunicator, AllReduceSumAddsDeviceBuffersOfEveryRank) {
  if (!NcclBackendBuilt()) GTEST_SKIP() << "built without the NCCL backend";
  if (CudaDeviceCount() == 0) GTEST_SKIP() << "no CUDA device visible";
#if VLMSCALE_HAVE_NCCL
  int rank = 0;
  int size = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  auto comm = MakeNcclCommunicator(MPI_COMM_WORLD, rank % CudaDeviceCount());
  ASSERT_TRUE(comm.ok()) << comm.status().ToString();
  EXPECT_EQ((*comm)->backend(), "nccl");
  std::vector<float> host(4096);
  for (size_t i = 0; i < host.size(); ++i) host[i] = static_cast<float>((rank + 1) * (i % 5));
  float* device = nullptr;
  ASSERT_EQ(cudaMalloc(&device, host.size() * sizeof(float)), cudaSuccess);
  cudaMemcpy(device, host.data(), host.size() * sizeof(float), cudaMemcpyHostToDevice);
  Status s = (*comm)->AllReduceSum(device, host.size());
  cudaMemcpy(host.data(), device, host.size() * sizeof(float), cudaMemcpyDeviceToHost);
  cudaFree(device);
  ASSERT_TRUE(s.ok()) << s.ToString();
  const float ranks_sum = size * (size + 1) / 2.0f;
  for (size_t i = 0; i < host.size(); ++i) ASSERT_FLOAT_EQ(host[i], ranks_sum * (i % 5));
  double d = 1.0;
  ASSERT_TRUE((*comm)->AllReduceSumHost(&d, 1).ok());
  EXPECT_DOUBLE_EQ(d, size);
#endif
}

TEST(NcclCommunicator, InvalidDeviceIsAnErrorOnEveryRank) {
  auto comm = MakeNcclCommunicator(MPI_COMM_WORLD, 1 << 20);
  EXPECT_FALSE(comm.ok());
}

}  // namespace
}  // namespace vlmscale::comm
