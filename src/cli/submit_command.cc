// vlmscale submit CONFIG [--set k=v]... [SLURM options] [--dry-run]: validates a sweep config,
// snapshots it next to the results and submits slurm/sweep.sbatch for it with sbatch.
#include <fcntl.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <fstream>
#include <iostream>
#include <sstream>

#include "cli/cli_util.h"
#include "cli/command.h"
#include "cli/slurm_script.h"
#include "config/config.h"
#include "config/sweep.h"
#include "core/strings.h"
#include "driver/job_ranks.h"
#include "jobs/job_type.h"

extern char** environ;

namespace vlmscale::cli {
namespace {

// Extra seconds between SLURM's drain signal and the walltime on top of run.grace_seconds:
// SLURM may send --signal up to 60 s early or late, and the driver needs a few seconds to
// snapshot the results after the grace period.
constexpr int64_t kSignalMarginSeconds = 60;

Status MakeDirs(const std::string& path) {
  std::string cur;
  for (const auto& part : SplitTrimmed(path, '/')) {
    if (part.empty()) continue;
    cur += "/" + part;
    if (mkdir(cur.c_str(), 0755) != 0 && errno != EEXIST) {
      return Status::IOError("cannot create directory " + cur + ": " + std::strerror(errno));
    }
  }
  return Status::OK();
}

std::string SelfPath() {
  char buf[4096];
  ssize_t n = readlink("/proc/self/exe", buf, sizeof(buf) - 1);
  if (n <= 0) return "vlmscale";
  buf[n] = '\0';
  return buf;
}

std::string CurrentDir() {
  char buf[4096];
  if (getcwd(buf, sizeof(buf)) == nullptr) return "";
  return buf;
}

std::string UtcStamp() {
  std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  char buf[32];
  std::strftime(buf, sizeof(buf), "%Y%m%dT%H%M%SZ", &tm);
  return buf;
}

bool Exists(const std::string& path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0;
}

// Runs argv[0] (searched on PATH, no shell) and collects its stdout and stderr separately.
// Returns the exit status, or a non-OK status when it cannot be started.
Result<int> RunProgram(const std::vector<std::string>& argv, std::string* out, std::string* err) {
  int out_pipe[2], err_pipe[2];
  if (pipe(out_pipe) != 0 || pipe(err_pipe) != 0) {
    return Status::IOError(std::string("pipe: ") + std::strerror(errno));
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, out_pipe[1], 1);
  posix_spawn_file_actions_adddup2(&actions, err_pipe[1], 2);
  posix_spawn_file_actions_addclose(&actions, out_pipe[0]);
  posix_spawn_file_actions_addclose(&actions, err_pipe[0]);
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = 0;
  int rc = posix_spawnp(&pid, args[0], &actions, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  close(out_pipe[1]);
  close(err_pipe[1]);
  if (rc != 0) {
    close(out_pipe[0]);
    close(err_pipe[0]);
    return Status::Runtime("cannot run " + argv[0] + ": " + std::strerror(rc) +
                           " (is SLURM installed and " + argv[0] + " on PATH?)");
  }
  // sbatch writes little; read stdout to the end, then stderr.
  auto drain = [](int fd, std::string* s) {
    char buf[4096];
    for (;;) {
      ssize_t n = read(fd, buf, sizeof(buf));
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;
      s->append(buf, static_cast<size_t>(n));
    }
    close(fd);
  };
  drain(out_pipe[0], out);
  drain(err_pipe[0], err);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  return 128 + (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
}

Result<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) return Status::InvalidInput("--template: cannot read " + path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

int RunSubmitCommand(const std::vector<std::string>& args) {
  po::options_description options(
      "vlmscale submit CONFIG [options]\n\n"
      "Validates CONFIG, snapshots the resolved config under <run.artifact_dir>/submit/\n"
      "(default <results>.runs/submit/) and submits a batch job (slurm/sweep.sbatch) that runs\n"
      "the sweep with one MPI rank per task (per GPU on GPU nodes), drains on SIGUSR1 before the\n"
      "walltime and requeues itself until the sweep is complete. SLURM options default to the\n"
      "config's [slurm] section; flags win");
  std::vector<std::string> sets;
  std::string config_path, time, partition, account, qos, launcher, template_path;
  int64_t nodes = 0, ntasks_per_node = 0, gpus_per_node = 0, cpus_per_task = 0, signal_seconds = 0;
  // clang-format off
  options.add_options()
      ("config", po::value(&config_path)->required(), "sweep config file (.ini)")
      ("set", po::value(&sets)->composing(), "override section.key=value (repeatable)")
      ("nodes", po::value(&nodes), "nodes (slurm.nodes)")
      ("ntasks-per-node", po::value(&ntasks_per_node),
       "MPI ranks per node (slurm.ntasks_per_node; default: --gpus-per-node when set)")
      ("gpus-per-node", po::value(&gpus_per_node), "GPUs per node, 0 for CPU nodes "
       "(slurm.gpus_per_node)")
      ("cpus-per-task", po::value(&cpus_per_task), "cores per rank (slurm.cpus_per_task)")
      ("time", po::value(&time), "walltime, e.g. 04:00:00 or 1-00:00:00 (slurm.time)")
      ("partition", po::value(&partition), "partition (slurm.partition)")
      ("account", po::value(&account), "account (slurm.account)")
      ("qos", po::value(&qos), "quality of service (slurm.qos)")
      ("signal-seconds", po::value(&signal_seconds),
       "drain this long before the walltime (default: run.grace_seconds + 60)")
      ("launcher", po::value(&launcher)->default_value("mpirun"),
       "how ranks start inside the allocation: mpirun or srun (srun --mpi=pmix)")
      ("template", po::value(&template_path),
       "batch script template to render instead of the built-in slurm/sweep.sbatch")
      ("parsable", po::bool_switch(), "print only the SLURM job id")
      ("dry-run", po::bool_switch(),
       "print the batch script; write and submit nothing (the config snapshot it names is not "
       "written)");
  // clang-format on
  po::positional_options_description positional;
  positional.add("config", 1);
  po::variables_map vm;
  bool help = false;
  Status s = ParseArgs("submit", args, options, positional, &vm, &help);
  if (help) {
    std::cout << options << "\n";
    return kExitOk;
  }
  if (!s.ok()) return ReportError("submit", s);
  Result<config::Config> cfg = jobs::LoadConfig(config_path, sets);
  if (!cfg.ok()) return ReportError("submit", cfg.status());
  Result<config::Sweep> sweep = jobs::PlanSweep(*cfg);
  if (!sweep.ok()) return ReportError("submit", sweep.status());

  // SLURM options: [slurm] section, then flags.
  SlurmOptions slurm;
  slurm.partition = cfg->GetString("slurm.partition");
  slurm.account = cfg->GetString("slurm.account");
  slurm.qos = cfg->GetString("slurm.qos");
  slurm.time = cfg->GetString("slurm.time");
  slurm.nodes = cfg->GetInt("slurm.nodes");
  slurm.ntasks_per_node = cfg->GetInt("slurm.ntasks_per_node");
  slurm.gpus_per_node = cfg->GetInt("slurm.gpus_per_node");
  slurm.cpus_per_task = cfg->GetInt("slurm.cpus_per_task");
  if (vm.count("partition")) slurm.partition = partition;
  if (vm.count("account")) slurm.account = account;
  if (vm.count("qos")) slurm.qos = qos;
  if (vm.count("time")) slurm.time = time;
  if (vm.count("nodes")) slurm.nodes = nodes;
  if (vm.count("gpus-per-node")) slurm.gpus_per_node = gpus_per_node;
  if (vm.count("ntasks-per-node")) {
    slurm.ntasks_per_node = ntasks_per_node;
  } else if (!cfg->IsSet("slurm.ntasks_per_node") && slurm.gpus_per_node > 0) {
    slurm.ntasks_per_node = slurm.gpus_per_node;  // One rank per GPU.
  }
  if (vm.count("cpus-per-task")) slurm.cpus_per_task = cpus_per_task;
  slurm.signal_seconds =
      vm.count("signal-seconds")
          ? signal_seconds
          : static_cast<int64_t>(std::ceil(cfg->GetDouble("run.grace_seconds"))) +
                kSignalMarginSeconds;
  slurm.job_name = "vlmscale-" + sweep->name;
  for (char& c : slurm.job_name) {
    if (c == ' ' || c == '\t' || c == '"' || c == '\'' || c == '\n') c = '_';
  }
  std::string error;
  if (!slurm.IsValid(&error)) return ReportError("submit", Status::InvalidInput(error));
  const int64_t ranks = slurm.nodes * slurm.ntasks_per_node;
  const int64_t ranks_per_job = cfg->GetInt("run.ranks_per_job");
  // Every job gets its ranks in this allocation (the checks `run` makes at start-up).
  driver::DriverOptions rank_options;
  rank_options.ranks_per_job = static_cast<int>(ranks_per_job);
  rank_options.node_local_groups =
      ParseBool(cfg->GetString("run.node_local_groups")).value_or(false);
  Status fits =
      driver::CheckJobRanksOnNodes(*cfg, *sweep, rank_options, slurm.nodes, slurm.ntasks_per_node);
  if (!fits.ok()) {
    return ReportError("submit", fits.WithPrefix("the allocation of " +
                                                 std::to_string(slurm.nodes) + " node(s) x " +
                                                 std::to_string(slurm.ntasks_per_node) + " ranks"));
  }

  // Paths: everything of this submission lives in <run.artifact_dir>/submit/ (by default
  // <results>.runs/submit/), next to the job directories, on the filesystem every node shares.
  const std::string submit_dir = sweep->artifact_dir + "/submit";
  std::string stamp = UtcStamp();
  for (int i = 1; Exists(submit_dir + "/config-" + stamp + ".ini"); ++i) {
    stamp = UtcStamp() + "-" + std::to_string(i);
  }
  const std::string snapshot_path = submit_dir + "/config-" + stamp + ".ini";
  const std::string script_path = submit_dir + "/sweep-" + stamp + ".sbatch";
  slurm.chdir = CurrentDir();
  slurm.output = submit_dir + "/slurm-%j.out";

  // The snapshot is the resolved config with the results path made absolute, so it means the
  // same from any directory. [sweep] settings do not enter job ids.
  Result<config::Config> resolved = jobs::ConfigFromString(cfg->ResolvedText(), config_path,
                                                               {"sweep.output=" + sweep->output});
  if (!resolved.ok()) {
    return ReportError("submit", resolved.status().WithPrefix("internal: the resolved config "
                                                              "does not load back"));
  }
  const std::string snapshot = "# Resolved config of " + config_path + " (vlmscale submit, " +
                               stamp + ")\n" + resolved->ResolvedText();

  std::string tmpl = SweepSbatchTemplate();
  if (!template_path.empty()) {
    Result<std::string> t = ReadFile(template_path);
    if (!t.ok()) return ReportError("submit", t.status());
    tmpl = *t;
  }
  ScriptSettings settings;
  settings.vlmscale_bin = SelfPath();
  settings.config = snapshot_path;
  settings.results = sweep->output;
  settings.max_requeues = cfg->GetInt("slurm.max_requeues");
  settings.launcher = launcher;
  Result<std::string> script = RenderBatchScript(tmpl, slurm, settings);
  if (!script.ok()) return ReportError("submit", script.status());
  if (vm["dry-run"].as<bool>()) {
    // Nothing is written: the script names the snapshot a real submission writes first; say so in
    // the script (after its #! line) and on stderr.
    std::string text = *script;
    if (StartsWith(text, "#!")) {
      const size_t eol = text.find('\n');
      if (eol != std::string::npos) {
        text.insert(eol + 1, "# vlmscale submit --dry-run: nothing was written. A submission first "
                             "writes the config\n# snapshot named in VLMSCALE_CONFIG (" +
                                 snapshot_path + ").\n");
      }
    }
    std::cout << text;
    std::cout.flush();
    std::cerr << "vlmscale submit: --dry-run: wrote and submitted nothing; a submission writes the "
                 "config snapshot "
              << snapshot_path << " (the resolved config the script runs) and the script "
              << script_path << ", then runs sbatch" << std::endl;
    return kExitOk;
  }

  Status st = MakeDirs(submit_dir);
  if (st.ok()) st = WriteFileAtomically(snapshot_path, snapshot);
  if (st.ok()) st = WriteFileAtomically(script_path, *script);
  if (!st.ok()) return ReportError("submit", st);
  chmod(script_path.c_str(), 0755);

  std::string out, err;
  Result<int> rc = RunProgram({"sbatch", "--parsable", script_path}, &out, &err);
  if (!rc.ok()) return ReportError("submit", rc.status());
  if (*rc != 0) {
    return ReportError(
        "submit", Status::Runtime("sbatch failed (exit " + std::to_string(*rc) + "): " + Trim(err) +
                                  " [script: " + script_path + "]"));
  }
  std::string job_id = Trim(out);
  if (auto semi = job_id.find(';'); semi != std::string::npos) job_id.resize(semi);
  if (job_id.empty()) {
    return ReportError("submit",
                       Status::Runtime("sbatch printed no job id (stderr: " + Trim(err) + ")"));
  }
  if (vm["parsable"].as<bool>()) {
    std::cout << job_id << std::endl;
    return kExitOk;
  }
  std::string log = slurm.output;
  log.replace(log.find("%j"), 2, job_id);
  std::printf(
      "submitted SLURM job %s: sweep %s, %zu jobs on %lld ranks (%lld node%s x %lld), "
      "time %s, up to %lld requeues\n",
      job_id.c_str(), sweep->name.c_str(), sweep->jobs.size(), static_cast<long long>(ranks),
      static_cast<long long>(slurm.nodes), slurm.nodes == 1 ? "" : "s",
      static_cast<long long>(slurm.ntasks_per_node), slurm.time.c_str(),
      static_cast<long long>(settings.max_requeues));
  std::printf(
      "  config snapshot  %s\n  batch script     %s\n  log              %s\n"
      "  progress         vlmscale status %s\n",
      snapshot_path.c_str(), script_path.c_str(), log.c_str(), sweep->output.c_str());
  return kExitOk;
}

}  // namespace

VLMSCALE_REGISTER_COMMAND("submit", 25, "submit a sweep to SLURM as a self-requeueing batch job",
                          RunSubmitCommand);

}  // namespace vlmscale::cli
