#include <gtest/gtest.h>

#include <vector>

#include "comm/communicator.h"
#include "comm/nccl_communicator.h"

namespace vlmscale::comm {
namespace {

TEST(SingleRankCommunicator, IsRankZeroOfOne) {
  auto comm = MakeSingleRankCommunicator();
  EXPECT_EQ(comm->rank(), 0);
  EXPECT_EQ(comm->size(), 1);
  EXPECT_EQ(comm->backend(), "single");
}

TEST(SingleRankCommunicator, CollectivesLeaveDataUnchanged) {
  auto comm = MakeSingleRankCommunicator();
  std::vector<float> f = {1.5f, -2.0f, 3.25f};
  ASSERT_TRUE(comm->AllReduceSum(f.data(), f.size()).ok());
  EXPECT_EQ(f, (std::vector<float>{1.5f, -2.0f, 3.25f}));
  std::vector<double> d = {0.1, 7.0};
  ASSERT_TRUE(comm->AllReduceSumHost(d.data(), d.size()).ok());
  EXPECT_EQ(d, (std::vector<double>{0.1, 7.0}));
  int x = 42;
  ASSERT_TRUE(comm->Broadcast(&x, sizeof(x), 0).ok());
  EXPECT_EQ(x, 42);
  EXPECT_TRUE(comm->Barrier().ok());
}

TEST(SingleRankCommunicator, BroadcastFromAnotherRootIsInvalid) {
  auto comm = MakeSingleRankCommunicator();
  int x = 1;
  Status s = comm->Broadcast(&x, sizeof(x), 1);
  EXPECT_TRUE(s.IsInvalidInput()) << s.ToString();
}

TEST(NcclCommunicator, ReportsWhetherTheBackendIsBuilt) {
  // Without the backend the device count is 0 by definition; with it, the count never goes
  // negative.
  if (!NcclBackendBuilt()) EXPECT_EQ(CudaDeviceCount(), 0);
  EXPECT_GE(CudaDeviceCount(), 0);
}

}  // namespace
}  // namespace vlmscale::comm
