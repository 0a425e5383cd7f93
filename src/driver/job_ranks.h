// Jobs of different rank counts (issue 18): the node of every rank, and the checks `run` makes
// at start-up, before anything is written, that every job of the sweep can get its ranks
// (config::JobRanksKey() says where a job's count comes from; docs/CONFIG.md, "Ranks per job").
#ifndef VLMSCALE_DRIVER_JOB_RANKS_H_
#define VLMSCALE_DRIVER_JOB_RANKS_H_

#include <cstdint>
#include <vector>

#include "config/config.h"
#include "config/sweep.h"
#include "core/status.h"
#include "driver/driver_options.h"

namespace vlmscale::driver {

// The environment variable that replaces the node each rank reports, for tests only: a
// comma-separated list of one node id (an integer >= 0) per world rank, e.g. "0,0,1,1", so
// that one machine can play several nodes. Never set it in a real run.
constexpr char kTestNodeOfRankEnv[] = "VLMSCALE_TEST_NODE_OF_RANK";

// Collective over MPI_COMM_WORLD: the node of every world rank, the same vector on every rank.
// Ranks share a node when they share memory (MPI_Comm_split_type(MPI_COMM_TYPE_SHARED)); a
// node's id is its lowest world rank. With kTestNodeOfRankEnv set, each rank reports its entry
// of that list instead. kInvalidInput (on every rank) naming the variable when the list is
// malformed or has not one entry per rank.
Result<std::vector<int>> NodeOfEachRank();

// The run-start checks of the jobs' rank counts. kInvalidInput naming the job and the key that
// gave its ranks (with its file and line) for the first job, largest first, that needs
//   - more ranks than the world has (node_of_rank.size()), or
//   - with options.node_local_groups, more ranks than the largest node has.
// OK otherwise (the coordinator picks each job's ranks when it starts). REQUIRES: `sweep` was
// planned from `config`; node_of_rank has one entry per world rank.
Status CheckJobRanks(const config::Config& config, const config::Sweep& sweep,
                     const DriverOptions& options, const std::vector<int>& node_of_rank);

// CheckJobRanks for an allocation of `nodes` x `ranks_per_node` ranks placed node by node
// (`vlmscale submit`). REQUIRES: nodes >= 1, ranks_per_node >= 1.
Status CheckJobRanksOnNodes(const config::Config& config, const config::Sweep& sweep,
                            const DriverOptions& options, int64_t nodes, int64_t ranks_per_node);

}  // namespace vlmscale::driver

#endif  // VLMSCALE_DRIVER_JOB_RANKS_H_
