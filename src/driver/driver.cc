// RunSweep: wires placement, store preparation, the coordinator thread (rank 0) and the worker of
// every rank together (driver.h describes the protocol).
#include "driver/driver.h"

#include <mpi.h>

#include <atomic>
#include <csignal>
#include <cstring>
#include <iostream>
#include <memory>
#include <thread>
#include <vector>

#include "comm/communicator.h"
#include "comm/mpi_communicator.h"
#include "comm/nccl_communicator.h"
#include "config.h"
#include "driver/adaptive_controller.h"
#include "driver/coordinator.h"
#include "driver/job_ranks.h"
#include "driver/mpi_control_channel.h"
#include "driver/placement.h"
#include "driver/prepare_store.h"
#include "driver/worker.h"
#include "store/results_store.h"

namespace vlmscale::driver {

namespace {

std::atomic<bool> g_stop{false};
std::atomic<int> g_stop_signal{0};  // The first stop signal, for the run info.

extern "C" void OnStopSignal(int sig) {
  int none = 0;
  g_stop_signal.compare_exchange_strong(none, sig);
  g_stop.store(true);
}

}  // namespace

void InstallStopHandlers() {
  struct sigaction sa;
  std::memset(&sa, 0, sizeof(sa));
  sa.sa_handler = OnStopSignal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESTART;
  sigaction(SIGTERM, &sa, nullptr);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGUSR1, &sa, nullptr);
}

bool StopRequested() { return g_stop.load(); }

const char* StopSignalName() {
  switch (g_stop_signal.load()) {
    case SIGTERM:
      return "SIGTERM";
    case SIGINT:
      return "SIGINT";
    case SIGUSR1:
      return "SIGUSR1";
    default:
      return "";
  }
}

int RunSweep(const config::Config& config, const config::Sweep& sweep,
             const DriverOptions& options) {
  int rank = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  std::string error;
  if (!options.IsValid(&error)) {
    if (rank == 0) std::cerr << "vlmscale run: error: " << error << std::endl;
    return kExitUsage;
  }
  // Every job can get its ranks: checked on every rank alike, before anything is written.
  Result<std::vector<int>> nodes = NodeOfEachRank();
  Status ranks_ok = nodes.ok() ? CheckJobRanks(config, sweep, options, *nodes) : nodes.status();
  if (!ranks_ok.ok()) {
    if (rank == 0) std::cerr << "vlmscale run: error: " << ranks_ok.message() << std::endl;
    return kExitUsage;
  }
  // Every rank asks for work for itself; jobs get their ranks from the coordinator.
  Placement place = Place(1, options.threads_per_rank);
  Topology topology;
  topology.world_size = place.world_size;
  topology.ranks_per_job = static_cast<int>(options.ranks_per_job);
  topology.hosts = GatherHosts(place);
  topology.node_of = *nodes;
  topology.node_local = options.node_local_groups;

  std::unique_ptr<store::ResultsStore> store;
  std::vector<bool> runnable;
  int code = kExitOk;
  // [adaptive] (planning has checked it): the initial design is checked before the store is
  // touched, so one beyond the budget is exit 2 with nothing written.
  config::AdaptiveSettings adaptive_settings;
  if (rank == 0) {
    Result<config::AdaptiveSettings> read = config::ReadAdaptiveSettings(config, sweep);
    if (!read.ok()) {
      std::cerr << "vlmscale run: error: " << read.status().message() << std::endl;
      code = kExitUsage;
    } else {
      adaptive_settings = *read;
    }
  }
  if (rank == 0 && code == kExitOk && adaptive_settings.enabled()) {
    Result<std::unique_ptr<AdaptiveController>> check =
        AdaptiveController::Create(sweep, adaptive_settings, "");
    if (!check.ok()) {
      std::cerr << "vlmscale run: error: " << check.status().message() << std::endl;
      code = kExitUsage;
    }
  }
  if (rank == 0 && code == kExitOk) {
    code = PrepareStore(config.ResolvedText(), sweep, options, &store, &runnable);
  }
  MPI_Bcast(&code, 1, MPI_INT, 0, MPI_COMM_WORLD);
  if (code != kExitOk) {
    FreePlacement(&place);
    return code;
  }

  // Jobs' communicators, built when a job's ranks first meet (collective: dups world).
  auto groups = std::make_unique<GroupComms>(place.device);
  std::unique_ptr<MpiControlChannel> channel;
  std::unique_ptr<AdaptiveController> adaptive;
  std::unique_ptr<Coordinator> coordinator;
  std::thread coordinator_thread;
  if (rank == 0) {
    channel = std::make_unique<MpiControlChannel>(&place);
    coordinator = std::make_unique<Coordinator>(&sweep, &topology, store.get(), runnable, options,
                                                channel.get(), &g_stop);
    if (adaptive_settings.enabled()) {
      // Create succeeded above with no journal; with one it only releases more jobs.
      adaptive =
          std::move(*AdaptiveController::Create(sweep, adaptive_settings, store->run_info_json()));
      coordinator->SetAdaptive(adaptive.get());
    }
    coordinator_thread = std::thread([&] { coordinator->Run(); });
  }
  WorkerContext ctx;
  ctx.config = &config;
  ctx.sweep = &sweep;
  ctx.place = &place;
  ctx.hosts = &topology.hosts;
  ctx.groups = groups.get();
  ctx.stop = &g_stop;
  ctx.grace_seconds = options.grace_seconds;
  int exit_code = RunWorker(ctx);
  if (coordinator_thread.joinable()) coordinator_thread.join();
  groups.reset();
  FreePlacement(&place);
  return exit_code;
}

}  // namespace vlmscale::driver
