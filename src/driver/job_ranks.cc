#include "driver/job_ranks.h"

#include <mpi.h>

#include <algorithm>
#include <cstdlib>
#include <functional>
#include <map>
#include <optional>
#include <string>

#include "core/check.h"
#include "core/strings.h"

namespace vlmscale::driver {

namespace {

// "job ID (stage S, llm L)" for messages.
std::string DescribeJob(const config::Sweep& sweep, const config::JobSpec& job) {
  std::vector<std::string> parts;
  const std::string& stage = sweep.stage_of(job).name;
  if (!stage.empty()) parts.push_back("stage " + stage);
  if (!job.point.llm.empty()) parts.push_back("llm " + job.point.llm);
  return "job " + job.id + (parts.empty() ? "" : " (" + Join(parts, ", ") + ")");
}

int64_t JobsAbove(const config::Sweep& sweep, int64_t limit) {
  int64_t n = 0;
  for (const auto& job : sweep.jobs) n += job.ranks > limit ? 1 : 0;
  return n;
}

std::string JobsNeed(int64_t n) {
  return std::to_string(n) + (n == 1 ? " job needs" : " jobs need");
}

}  // namespace

Result<std::vector<int>> NodeOfEachRank() {
  int rank = 0, size = 1;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  MPI_Comm node_comm;
  MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, rank, MPI_INFO_NULL, &node_comm);
  int mine = rank;  // The lowest world rank of this rank's node.
  MPI_Allreduce(&rank, &mine, 1, MPI_INT, MPI_MIN, node_comm);
  MPI_Comm_free(&node_comm);
  const char* override_text = std::getenv(kTestNodeOfRankEnv);
  if (override_text != nullptr) {
    const std::vector<std::string> items = SplitTrimmed(override_text, ',');
    std::optional<int64_t> v;
    if (static_cast<int>(items.size()) == size) v = ParseInt(items[rank]);
    mine = v && *v >= 0 && *v < (1 << 30) ? static_cast<int>(*v) : -1;
  }
  std::vector<int> nodes(size);
  MPI_Allgather(&mine, 1, MPI_INT, nodes.data(), 1, MPI_INT, MPI_COMM_WORLD);
  if (std::find(nodes.begin(), nodes.end(), -1) != nodes.end()) {
    return Status::InvalidInput(std::string(kTestNodeOfRankEnv) +
                                " (test only): expected one node id (an integer >= 0) per MPI "
                                "rank (" +
                                std::to_string(size) + "), separated by ',', got '" +
                                (override_text ? override_text : "") + "'");
  }
  return nodes;
}

namespace {

// CheckJobRanks over `world` ranks whose largest node has `largest_node` ranks.
Status CheckRanks(const config::Config& config, const config::Sweep& sweep,
                  const DriverOptions& options, int64_t world, int64_t largest_node) {
  CHECK_GE(world, 1);
  if (sweep.jobs.empty()) return Status::OK();
  const config::JobSpec* largest = &sweep.jobs.front();
  for (const auto& job : sweep.jobs) {
    if (job.ranks > largest->ranks) largest = &job;
  }
  const int64_t need = largest->ranks;
  auto refuse = [&](int64_t limit, const std::string& why) {
    const std::string key =
        config::JobRanksKey(config, sweep.stage_of(*largest), largest->llm.name);
    return config::KeyError(config, key,
                            DescribeJob(sweep, *largest) + " needs " + std::to_string(need) +
                                " ranks, but " + why + " (" + JobsNeed(JobsAbove(sweep, limit)) +
                                " more than " + std::to_string(limit) + ")");
  };
  if (need > world) {
    return refuse(world, "the run has " + std::to_string(world) + " ranks: give it at least " +
                             std::to_string(need) +
                             " (mpirun -np, or the allocation's nodes x tasks per node) or "
                             "lower the key");
  }
  if (options.node_local_groups && need > largest_node) {
    return refuse(largest_node,
                  "with run.node_local_groups = true a job's ranks share one node and the "
                  "largest node has " +
                      std::to_string(largest_node) +
                      ": lower the key or set run.node_local_groups = false");
  }
  return Status::OK();
}

}  // namespace

Status CheckJobRanks(const config::Config& config, const config::Sweep& sweep,
                     const DriverOptions& options, const std::vector<int>& node_of_rank) {
  std::map<int, int> ranks_on_node;
  for (int node : node_of_rank) ++ranks_on_node[node];
  int largest_node = 0;
  for (const auto& [node, n] : ranks_on_node) largest_node = std::max(largest_node, n);
  return CheckRanks(config, sweep, options, static_cast<int64_t>(node_of_rank.size()),
                    largest_node);
}

Status CheckJobRanksOnNodes(const config::Config& config, const config::Sweep& sweep,
                            const DriverOptions& options, int64_t nodes, int64_t ranks_per_node) {
  CHECK_GE(nodes, 1);
  CHECK_GE(ranks_per_node, 1);
  return CheckRanks(config, sweep, options, nodes * ranks_per_node, ranks_per_node);
}

}  // namespace vlmscale::driver
