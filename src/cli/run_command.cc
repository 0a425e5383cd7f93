// vlmscale run CONFIG [--set k=v]... [--fresh] [--allow-mixed] [--quiet] [--log-format text|json]
// Under mpirun: every rank runs this; rank 0 coordinates (see driver/driver.h).
#include <mpi.h>

#include <iostream>

#include "cli/cli_util.h"
#include "cli/command.h"
#include "config/config.h"
#include "config/sweep.h"
#include "core/strings.h"
#include "driver/driver.h"
#include "jobs/job_type.h"
#include "jobs/torch_jobs.h"

namespace vlmscale::cli {
namespace {

// The run.* settings of the driver (the driver reads no config key itself). REQUIRES: `config`
// passed schema validation (config::Config::Load).
Status FillDriverOptions(const config::Config& config, driver::DriverOptions* opts) {
  // The schema bounds these keys well inside int (src/config/schema.cc).
  opts->ranks_per_job = static_cast<int>(config.GetInt("run.ranks_per_job"));
  opts->node_local_groups = ParseBool(config.GetString("run.node_local_groups")).value_or(false);
  opts->threads_per_rank = static_cast<int>(config.GetInt("run.threads_per_rank"));
  opts->max_attempts = static_cast<int>(config.GetInt("run.max_attempts"));
  const std::string& order = config.GetString("run.order");
  opts->order = order == "grid"     ? driver::DispatchOrder::kGrid
                : order == "stages" ? driver::DispatchOrder::kStages
                                    : driver::DispatchOrder::kCost;
  opts->grace_seconds = config.GetDouble("run.grace_seconds");
  opts->stall_seconds = config.GetDouble("run.stall_seconds");
  opts->commit_ms = config.GetDouble("run.commit_ms");
  opts->snapshot_seconds = config.GetDouble("run.snapshot_seconds");
  std::string error;
  if (!opts->IsValid(&error)) return Status::InvalidInput(error);
  return Status::OK();
}

int RunRunCommand(const std::vector<std::string>& args) {
  po::options_description options(
      "vlmscale run CONFIG [options]\n\n"
      "Runs the sweep's jobs on the MPI ranks (mpirun -np N vlmscale run CONFIG) and writes every\n"
      "result to the results file. Running it again resumes: finished jobs are skipped, failed and\n"
      "unfinished ones run again. SIGTERM/SIGINT/SIGUSR1 to the ranks, or SIGUSR1 to mpirun, stop\n"
      "it cleanly (exit 75); Open MPI's mpirun kills the ranks on SIGINT/SIGTERM and exits 1, so\n"
      "start it with `vlmscale launch -np N CONFIG` to make Ctrl-C and SIGTERM stop it cleanly too");
  std::vector<std::string> sets;
  std::string config_path, log_format = "text";
  options.add_options()("config", po::value(&config_path), "sweep config file (.ini)")(
      "set", po::value(&sets)->composing(), "override section.key=value (repeatable)")(
      "fresh", po::bool_switch(), "move an existing results file aside and start anew")(
      "allow-mixed", po::bool_switch(),
      "run into a results file whose jobs were made with other settings (by default that is "
      "refused with exit 2 naming the keys); the differing keys become varied columns")(
      "quiet", po::bool_switch(), "print only failures, stops and the summary")(
      "log-format", po::value(&log_format), "text (default) or json (one object per line)");
  po::positional_options_description positional;
  positional.add("config", 1);

  // Stop requests that arrive while MPI starts are remembered too.
  driver::InstallStopHandlers();
  int provided = 0;
  MPI_Init_thread(nullptr, nullptr, MPI_THREAD_MULTIPLE, &provided);
  int rank = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  auto finish = [](int code) {
    MPI_Finalize();
    return code;
  };
  auto fail = [&](const Status& s) {
    int code = ExitCodeFor(s);
    if (rank == 0) ReportError("run", s);
    return finish(code);
  };
  if (provided < MPI_THREAD_MULTIPLE) {
    return fail(Status::Runtime("the MPI library does not provide MPI_THREAD_MULTIPLE, which the "
                                "coordinator thread needs"));
  }
  po::variables_map vm;
  bool help = false;
  Status s = ParseArgs("run", args, options, positional, &vm, &help);
  if (help) {
    if (rank == 0) std::cout << options << "\n";
    return finish(kExitOk);
  }
  if (!s.ok()) return fail(s);
  if (config_path.empty()) return fail(Status::InvalidInput("missing CONFIG (see vlmscale run --help)"));
  driver::DriverOptions opts;
  opts.fresh = vm["fresh"].as<bool>();
  opts.allow_mixed = vm["allow-mixed"].as<bool>();
  opts.config_path = config_path;
  opts.overrides = sets;
  opts.quiet = vm["quiet"].as<bool>();
  if (log_format == "json") {
    opts.log_format = driver::LogFormat::kJson;
  } else if (log_format != "text") {
    return fail(Status::InvalidInput("--log-format: expected text or json, got '" + log_format + "'"));
  }
  Result<config::Config> cfg = jobs::LoadConfig(config_path, sets);
  if (!cfg.ok()) return fail(cfg.status());
  Result<config::Sweep> sweep = jobs::PlanSweep(*cfg);
  if (!sweep.ok()) return fail(sweep.status());
  // The libtorch job plugin, when a stage's jobs need it (jobs/torch_jobs.h): every rank loads
  // it before the first job, so a missing one stops the run here with exit 2.
  Status loaded = jobs::LoadJobTypesOf(*sweep);
  if (!loaded.ok()) return fail(loaded);
  Status os = FillDriverOptions(*cfg, &opts);
  if (!os.ok()) return fail(os);
  int code = driver::RunSweep(*cfg, *sweep, opts);
  return finish(code);
}

}  // namespace

VLMSCALE_REGISTER_COMMAND("run", 20, "run a sweep's jobs on the MPI ranks (resumes by default)",
                          RunRunCommand);

}  // namespace vlmscale::cli
