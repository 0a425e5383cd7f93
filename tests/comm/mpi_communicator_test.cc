// Runs under mpiexec with 3 ranks (tests/comm/CMakeLists.txt).
#include "comm/mpi_communicator.h"

#include <gtest/gtest.h>
#include <mpi.h>

#include <string>
#include <vector>

namespace vlmscale::comm {
namespace {

int WorldRank() {
  int rank = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  return rank;
}
int WorldSize() {
  int size = 0;
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  return size;
}

TEST(MpiCommunicator, MatchesTheWorldRankAndSize) {
  auto comm = MakeMpiCommunicator(MPI_COMM_WORLD);
  ASSERT_TRUE(comm.ok()) << comm.status().ToString();
  EXPECT_EQ((*comm)->rank(), WorldRank());
  EXPECT_EQ((*comm)->size(), WorldSize());
  EXPECT_EQ((*comm)->backend(), "mpi");
  EXPECT_GE(WorldSize(), 2) << "run this test with at least 2 ranks";
}

TEST(MpiCommunicator, AllReduceSumAddsFloatsOfEveryRank) {
  auto comm = MakeMpiCommunicator(MPI_COMM_WORLD);
  ASSERT_TRUE(comm.ok()) << comm.status().ToString();
  const int r = WorldRank();
  const int n = WorldSize();
  std::vector<float> data(1000);
  for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<float>(r + 1) * (i % 7);
  ASSERT_TRUE((*comm)->AllReduceSum(data.data(), data.size()).ok());
  const float ranks_sum = n * (n + 1) / 2.0f;
  for (size_t i = 0; i < data.size(); ++i) {
    ASSERT_FLOAT_EQ(data[i], ranks_sum * (i % 7)) << "index " << i;
  }
}

TEST(MpiCommunicator, AllReduceSumHostAddsDoubles) {
  auto comm = MakeMpiCommunicator(MPI_COMM_WORLD);
  ASSERT_TRUE(comm.ok());
  const int r = WorldRank();
  std::vector<double> data = {1.0, 0.25 * r, r == 0 ? 1e-12 : 0.0};
  ASSERT_TRUE((*comm)->AllReduceSumHost(data.data(), data.size()).ok());
  const int n = WorldSize();
  EXPECT_DOUBLE_EQ(data[0], n);
  EXPECT_DOUBLE_EQ(data[1], 0.25 * n * (n - 1) / 2);
  EXPECT_DOUBLE_EQ(data[2], 1e-12);
}

TEST(MpiCommunicator, BroadcastCopiesTheRootsBytes) {
  auto comm = MakeMpiCommunicator(MPI_COMM_WORLD);
  ASSERT_TRUE(comm.ok());
  const int root = WorldSize() - 1;
  char text[32] = {0};
  if (WorldRank() == root) std::snprintf(text, sizeof(text), "from rank %d", root);
  ASSERT_TRUE((*comm)->Broadcast(text, sizeof(text), root).ok());
  EXPECT_EQ(std::string(text), "from rank " + std::to_string(root));
  EXPECT_TRUE((*comm)->Barrier().ok());
}

TEST(MpiCommunicator, BroadcastFromANonRankIsInvalidInput) {
  auto comm = MakeMpiCommunicator(MPI_COMM_WORLD);
  ASSERT_TRUE(comm.ok());
  int x = 0;
  Status s = (*comm)->Broadcast(&x, sizeof(x), WorldSize());
  EXPECT_TRUE(s.IsInvalidInput()) << s.ToString();
}

TEST(MpiCommunicator, SubCommunicatorsReduceWithinTheirGroupOnly) {
  // Ranks {0, 2, ...} and {1, 3, ...} form two job groups, like the driver's.
  MPI_Comm split = MPI_COMM_NULL;
  ASSERT_EQ(MPI_Comm_split(MPI_COMM_WORLD, WorldRank() % 2, WorldRank(), &split), MPI_SUCCESS);
  {
    auto comm = MakeMpiCommunicator(split);
    ASSERT_TRUE(comm.ok());
    double v = WorldRank();
    ASSERT_TRUE((*comm)->AllReduceSumHost(&v, 1).ok());
    double expected = 0;
    for (int r = WorldRank() % 2; r < WorldSize(); r += 2) expected += r;
    EXPECT_DOUBLE_EQ(v, expected);
  }
  MPI_Comm_free(&split);
}

TEST(MpiCommunicator, ErrorsCarryTheMpiErrorString) {
  Status s = MpiError("MPI_Allreduce(x)", MPI_ERR_COUNT);
  EXPECT_FALSE(s.ok());
  char text[MPI_MAX_ERROR_STRING];
  int length = 0;
  MPI_Error_string(MPI_ERR_COUNT, text, &length);
  EXPECT_NE(s.message().find("MPI_Allreduce(x) failed: "), std::string::npos) << s.message();
  EXPECT_NE(s.message().find(std::string(text, length)), std::string::npos) << s.message();
}

TEST(MpiCommunicator, NullCommunicatorIsRejected) {
  auto comm = MakeMpiCommunicator(MPI_COMM_NULL);
  EXPECT_FALSE(comm.ok());
  EXPECT_TRUE(comm.status().IsInvalidInput());
}

}  // namespace
}  // namespace vlmscale::comm
