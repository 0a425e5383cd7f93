// CheckJobRanks: the run-start checks of jobs' rank counts (issue 18), on planned configs.
#include "driver/job_ranks.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "jobs/job_type.h"

namespace vlmscale::driver {
namespace {

// A two-stage sleep study: `train` over llm (big: [llm.big] ranks = 3), `eval` (ranks = 1).
const char kStudy[] = R"([sweep]
name = t
[grid]
llm = small, big
visual_tokens = 4
[llm.big]
n_params = 7e9
ranks = 3
[stage.train]
type = sleep
over = llm
[stage.eval]
type = sleep
over = llm, visual_tokens
needs = train
ranks = 1
)";

struct Planned {
  config::Config config;
  config::Sweep sweep;
};

Planned Plan(const std::string& text, const std::vector<std::string>& sets = {}) {
  Result<config::Config> c = jobs::ConfigFromString(text, "study.ini", sets);
  EXPECT_TRUE(c.ok()) << c.status().ToString();
  Result<config::Sweep> s = jobs::PlanSweep(*c);
  EXPECT_TRUE(s.ok()) << s.status().ToString();
  return {*c, *s};
}

DriverOptions Options(int ranks_per_job, bool node_local = false) {
  DriverOptions o;
  o.ranks_per_job = ranks_per_job;
  o.node_local_groups = node_local;
  return o;
}

TEST(JobRanks, JobsTakeStageThenPresetThenRunDefault) {
  Planned p = Plan(kStudy, {"run.ranks_per_job=2"});
  ASSERT_EQ(p.sweep.jobs.size(), 4u);
  EXPECT_EQ(p.sweep.jobs[0].point.llm, "small");
  EXPECT_EQ(p.sweep.jobs[0].ranks, 2);  // run.ranks_per_job.
  EXPECT_EQ(p.sweep.jobs[1].ranks, 3);  // [llm.big] ranks.
  EXPECT_EQ(p.sweep.jobs[2].ranks, 1);  // [stage.eval] ranks.
  EXPECT_EQ(p.sweep.jobs[3].ranks, 1);
  EXPECT_EQ(p.sweep.max_ranks, 3);
  EXPECT_EQ(config::JobRanksKey(p.config, p.sweep.stages[0], "big"), "llm.big.ranks");
  EXPECT_EQ(config::JobRanksKey(p.config, p.sweep.stages[1], "big"), "stage.eval.ranks");
  EXPECT_EQ(config::JobRanksKey(p.config, p.sweep.stages[0], "small"), "run.ranks_per_job");
}

TEST(JobRanks, RanksAreNotPartOfAJobsIdentity) {
  Planned a = Plan(kStudy);
  Planned b = Plan(kStudy, {"llm.big.ranks=1", "stage.eval.ranks=2", "run.ranks_per_job=4"});
  ASSERT_EQ(a.sweep.jobs.size(), b.sweep.jobs.size());
  for (size_t i = 0; i < a.sweep.jobs.size(); ++i) {
    EXPECT_EQ(a.sweep.jobs[i].id, b.sweep.jobs[i].id);
  }
  EXPECT_NE(a.sweep.jobs[1].ranks, b.sweep.jobs[1].ranks);
}

TEST(JobRanks, AJobNeedingMoreRanksThanTheWorldIsRefusedNamingItsKey) {
  Planned p = Plan(kStudy);
  Status s = CheckJobRanks(p.config, p.sweep, Options(1), {0, 0});
  ASSERT_TRUE(s.IsInvalidInput());
  EXPECT_EQ(s.message(),
            "study.ini:8: key 'llm.big.ranks': job " + p.sweep.jobs[1].id +
                " (stage train, llm big) needs 3 ranks, but the run has 2 ranks: give it at "
                "least 3 (mpirun -np, or the allocation's nodes x tasks per node) or lower the "
                "key (1 job needs more than 2)");
}

TEST(JobRanks, NodeLocalGroupsRefuseAJobLargerThanEveryNode) {
  Planned p = Plan(kStudy, {"run.ranks_per_job=3"});
  const std::vector<int> two_nodes = {0, 0, 0, 3, 3, 3, 6, 6, 6, 6, 10, 10};  // 3, 3, 4 and 2.
  EXPECT_TRUE(CheckJobRanks(p.config, p.sweep, Options(3, false), two_nodes).ok());
  // Groups are formed per job, so ranks need not come in node-aligned blocks of ranks_per_job:
  // every node here holds the 3-rank job.
  EXPECT_TRUE(CheckJobRanks(p.config, p.sweep, Options(3, true), two_nodes).ok());
  // Nodes of 2 ranks cannot hold the 3-rank job.
  Planned q = Plan(kStudy, {"run.ranks_per_job=1"});
  Status small = CheckJobRanks(q.config, q.sweep, Options(1, true), {0, 0, 2, 2, 4, 4});
  ASSERT_TRUE(small.IsInvalidInput());
  EXPECT_NE(small.message().find("key 'llm.big.ranks': job " + q.sweep.jobs[1].id +
                                 " (stage train, llm big) needs 3 ranks, but with "
                                 "run.node_local_groups = true a job's ranks share one node and "
                                 "the largest node has 2"),
            std::string::npos)
      << small.message();
  EXPECT_TRUE(CheckJobRanks(q.config, q.sweep, Options(1, false), {0, 0, 2, 2, 4, 4}).ok());
}

TEST(JobRanks, AJobNeedingMoreThanRanksPerJobIsFineWhenTheWorldHoldsIt) {
  // run.ranks_per_job is only the default: the 3-rank job gets 3 of the 4 ranks, and a world that
  // run.ranks_per_job does not divide is fine too.
  Planned p = Plan(kStudy, {"run.ranks_per_job=2"});
  EXPECT_TRUE(CheckJobRanks(p.config, p.sweep, Options(2), {0, 0, 0, 0}).ok());
  EXPECT_TRUE(CheckJobRanks(p.config, p.sweep, Options(2), {0, 0, 0}).ok());
}

TEST(JobRanks, AnAllocationOfNodesIsCheckedAsItsRanksWouldBe) {
  Planned p = Plan(kStudy, {"run.ranks_per_job=3"});
  EXPECT_TRUE(CheckJobRanksOnNodes(p.config, p.sweep, Options(3, true), 2, 3).ok());
  EXPECT_TRUE(CheckJobRanksOnNodes(p.config, p.sweep, Options(3, false), 3, 4).ok());
  // 4 ranks per node: per-job groups need no alignment to blocks of run.ranks_per_job.
  EXPECT_TRUE(CheckJobRanksOnNodes(p.config, p.sweep, Options(3, true), 3, 4).ok());
  Planned q = Plan(kStudy);
  Status world = CheckJobRanksOnNodes(q.config, q.sweep, Options(1), 1, 2);
  EXPECT_NE(world.message().find("needs 3 ranks, but the run has 2 ranks"), std::string::npos)
      << world.message();
  Status node = CheckJobRanksOnNodes(q.config, q.sweep, Options(1, true), 4, 2);
  EXPECT_NE(node.message().find("the largest node has 2"), std::string::npos) << node.message();
}

}  // namespace
}  // namespace vlmscale::driver
