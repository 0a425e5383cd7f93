// GroupComms under mpiexec with 4 ranks: communicators of member sets built by their members
// only, reused when the same ranks meet again, several groups at once.
#include "driver/group_comms.h"

#include <gtest/gtest.h>
#include <mpi.h>

#include <algorithm>
#include <vector>

namespace vlmscale::driver {
namespace {

int WorldRank() {
  int r = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &r);
  return r;
}

int WorldSize() {
  int n = 0;
  MPI_Comm_size(MPI_COMM_WORLD, &n);
  return n;
}

bool Contains(const std::vector<int>& v, int x) {
  return std::find(v.begin(), v.end(), x) != v.end();
}

// Sums world_rank + 1 over `members` on their communicator and checks rank, size and the sum.
void ExpectGroupWorks(comm::Communicator* c, const std::vector<int>& members) {
  const int me = WorldRank();
  EXPECT_EQ(c->size(), static_cast<int>(members.size()));
  EXPECT_EQ(c->rank(), std::find(members.begin(), members.end(), me) - members.begin());
  double v = me + 1;
  ASSERT_TRUE(c->AllReduceSumHost(&v, 1).ok());
  double want = 0;
  for (int m : members) want += m + 1;
  EXPECT_EQ(v, want);
}

TEST(GroupComms, EveryPairIsBuiltByItsMembersAndReusedWhenTheyMeetAgain) {
  ASSERT_EQ(WorldSize(), 4);
  GroupComms groups(/*device=*/-1);
  const int me = WorldRank();
  std::vector<std::vector<int>> pairs;
  for (int a = 0; a < 4; ++a) {
    for (int b = a + 1; b < 4; ++b) pairs.push_back({a, b});
  }
  // Twice through every pair in one global order (each rank takes the pairs it is in): the
  // second round finds every communicator built in the first.
  std::vector<comm::Communicator*> first;
  for (int round = 0; round < 2; ++round) {
    int mine = 0;
    for (const auto& pair : pairs) {
      if (!Contains(pair, me)) continue;
      Result<comm::Communicator*> c = groups.Get(pair);
      ASSERT_TRUE(c.ok()) << c.status().ToString();
      EXPECT_EQ((*c)->backend(), "mpi");
      ExpectGroupWorks(*c, pair);
      if (round == 0) first.push_back(*c);
      if (round == 1) EXPECT_EQ(*c, first[mine]) << "a pair that meets again reuses its comm";
      ++mine;
    }
    EXPECT_EQ(groups.built(), 3) << "each rank is in 3 of the 6 pairs";
    EXPECT_EQ(groups.cached(), 3u);
  }
  MPI_Barrier(MPI_COMM_WORLD);
}

TEST(GroupComms, DisjointGroupsOfDifferentSizesRunAtOnce) {
  ASSERT_EQ(WorldSize(), 4);
  GroupComms groups(-1);
  const int me = WorldRank();
  // {0, 2, 3} and {1}; then {0, 1} and {2, 3}; then {1, 2, 3} and {0}.
  const std::vector<std::vector<std::vector<int>>> rounds = {
      {{0, 2, 3}, {1}}, {{0, 1}, {2, 3}}, {{1, 2, 3}, {0}}};
  for (const auto& round : rounds) {
    for (const auto& members : round) {
      if (!Contains(members, me)) continue;
      Result<comm::Communicator*> c = groups.Get(members);
      ASSERT_TRUE(c.ok()) << c.status().ToString();
      EXPECT_EQ((*c)->backend(), members.size() == 1 ? "single" : "mpi");
      for (int i = 0; i < 20; ++i) ExpectGroupWorks(*c, members);
    }
  }
  EXPECT_EQ(groups.built(), 3);
  MPI_Barrier(MPI_COMM_WORLD);
}

TEST(GroupComms, ForgottenGroupIsBuiltAgain) {
  ASSERT_EQ(WorldSize(), 4);
  GroupComms groups(-1);
  const std::vector<int> members =
      WorldRank() < 2 ? std::vector<int>{0, 1} : std::vector<int>{2, 3};
  Result<comm::Communicator*> a = groups.Get(members);
  ASSERT_TRUE(a.ok());
  groups.Forget(members);
  EXPECT_EQ(groups.cached(), 0u);
  Result<comm::Communicator*> b = groups.Get(members);
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  ExpectGroupWorks(*b, members);
  EXPECT_EQ(groups.built(), 2);
  MPI_Barrier(MPI_COMM_WORLD);
}

}  // namespace
}  // namespace vlmscale::driver
