#include "jobs/command/command_job.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <sstream>
#include <thread>

#include "core/check.h"
#include "core/strings.h"
#include "jobs/command/trainer_supervisor.h"
#include "jobs/nominal_cost.h"

extern char** environ;

namespace vlmscale::jobs {

namespace {

using Clock = std::chrono::steady_clock;

double Since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

int64_t FileSize(const std::string& path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0 ? static_cast<int64_t>(st.st_size) : -1;
}

// The last `max_lines` lines (at most 4 KiB) of `path` from byte `offset` on; "" if none (or if
// `path` is not a regular file).
std::string Tail(const std::string& path, int64_t offset, int max_lines = 20) {
  std::string why;
  int fd = command::OpenRegularFile(path, &why);
  if (fd < 0) return "";
  struct stat st;
  const int64_t size = fstat(fd, &st) == 0 ? static_cast<int64_t>(st.st_size) : 0;
  const int64_t start = std::max(offset, size - 4096);
  std::string s;
  if (start < size) {
    s.resize(static_cast<size_t>(size - start));
    ssize_t n = pread(fd, &s[0], s.size(), start);
    s.resize(n > 0 ? static_cast<size_t>(n) : 0);
  }
  close(fd);
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r')) s.pop_back();
  size_t pos = s.size();
  for (int n = 0; n < max_lines && pos != std::string::npos && pos > 0; ++n) {
    pos = s.rfind('\n', pos - 1);
  }
  if (pos != std::string::npos && pos > 0) s = s.substr(pos + 1);
  for (char& c : s) {
    if (c != '\n' && c != '\t' && !std::isprint(static_cast<unsigned char>(c))) c = '?';
  }
  return s;
}

// Opens a log file for appending without blocking (see command::OpenRegularFile). -1 with errno
// set, or EINVAL for a file that exists but is not regular.
int OpenLogFile(const std::string& path) {
  int fd =
      open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NONBLOCK | O_NOCTTY, 0644);
  if (fd < 0) {
    if (errno == ENXIO) errno = EINVAL;  // A FIFO without a reader.
    return -1;
  }
  struct stat st;
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    close(fd);
    errno = EINVAL;
    return -1;
  }
  fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);  // The trainer gets ordinary blocking I/O.
  return fd;
}

// Finds `program` like execvp does: as given if it contains '/', else on PATH.
Result<std::string> ResolveProgram(const std::string& program, const std::string& path_env) {
  if (program.find('/') != std::string::npos) {
    if (access(program.c_str(), X_OK) != 0) {
      return Status::InvalidInput("command.argv: program '" + program +
                                  "' is not an executable file: " + std::strerror(errno));
    }
    return program;
  }
  for (const auto& dir : SplitTrimmed(path_env.empty() ? "/usr/bin:/bin" : path_env, ':')) {
    std::string candidate = (dir.empty() ? "." : dir) + "/" + program;
    struct stat st;
    if (stat(candidate.c_str(), &st) == 0 && S_ISREG(st.st_mode) &&
        access(candidate.c_str(), X_OK) == 0) {
      return candidate;
    }
  }
  return Status::InvalidInput("command.argv: program '" + program +
                              "' not found on PATH; give its path (e.g. /usr/bin/python3)");
}

class CommandJob : public Job {
 public:
  CommandJob(CommandOptions options, command::StageScope scope)
      : options_(std::move(options)), scope_(std::move(scope)) {}
  Status Run(const JobInput& in, const JobEnv& env, JobOutput* out) override {
    out->failure_class = "error";
    Status s = RunChild(in, env, out);
    // A multi-rank group: every rank ran its own child; the group fails if any rank's child did
    // and is cancelled if any was stopped (only group rank 0's result is recorded).
    if (env.comm->size() > 1) {
      double flags[2] = {(!s.ok() && !s.IsCancelled()) ? 1.0 : 0.0, s.IsCancelled() ? 1.0 : 0.0};
      Status r = env.comm->AllReduceSumHost(flags, 2);
      if (!r.ok()) return r.WithPrefix("command job: combining the ranks' outcomes");
      if (s.ok() && flags[0] > 0) {
        out->failure_class = "error";
        return Status::Runtime(FormatNumber(flags[0]) +
                               " other rank(s) of the job group failed; "
                               "see stderr.rank<N>.log in " +
                               in.run_dir);
      }
      if (s.ok() && flags[1] > 0) return Status::Cancelled("another rank of the group stopped");
    }
    if (s.ok()) out->failure_class.clear();
    return s;
  }

 private:
  Status RunChild(const JobInput& in, const JobEnv& env, JobOutput* out) {
    const int rank = env.comm->rank(), size = env.comm->size();
    const command::Placeholders values = command::PlaceholderValues(in, scope_);
    VLM_ASSIGN_OR_RETURN(command::CommandLine cmd, command::ExpandCommand(options_, values));

    // Environment: ours, then the additions (torchrun-style variables), then command.env.
    std::map<std::string, std::string> add;
    add["CUDA_VISIBLE_DEVICES"] = env.device >= 0 ? std::to_string(env.device) : "";
    add["VLMSCALE_RUN_DIR"] = in.run_dir;
    add["VLMSCALE_JOB_ID"] = in.spec->id;
    add["VLMSCALE_ATTEMPT"] = std::to_string(in.attempt);
    // Progress lines (docs/COMMAND_JOBS.md): group rank 0's file is followed; the other ranks
    // get files of their own, which nobody reads, so their lines never interleave with it.
    const std::string progress_path =
        in.run_dir + "/progress" + (rank == 0 ? "" : ".rank" + std::to_string(rank)) + ".jsonl";
    add["VLMSCALE_PROGRESS"] = progress_path;
    add["OMP_NUM_THREADS"] = std::to_string(std::max(1, env.threads));
    // The world ranks of the sweep the job runs on (the coordinator picks them per job) and this
    // rank's among them, e.g. for logs that tell the ranks apart.
    if (!env.group_world_ranks.empty()) {
      std::string ranks;
      for (int r : env.group_world_ranks) ranks += (ranks.empty() ? "" : ",") + std::to_string(r);
      add["VLMSCALE_JOB_RANKS"] = ranks;
      if (rank < static_cast<int>(env.group_world_ranks.size())) {
        add["VLMSCALE_WORLD_RANK"] = std::to_string(env.group_world_ranks[rank]);
      }
    }
    for (auto& kv : command::StageEnvironment(in, scope_)) add[kv.first] = std::move(kv.second);
    if (size > 1) {
      add["MASTER_ADDR"] = env.world_master_addr;
      add["MASTER_PORT"] = std::to_string(env.world_master_port);
      add["WORLD_SIZE"] = std::to_string(size);
      add["RANK"] = std::to_string(rank);
      add["LOCAL_RANK"] = std::to_string(env.local_rank);
      add["LOCAL_WORLD_SIZE"] = std::to_string(env.local_size);
    }
    for (const auto& kv : cmd.env) add[kv.first] = kv.second;
    std::vector<std::string> env_strings;
    std::string path_env;
    for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
      std::string s(*e);
      std::string name = s.substr(0, s.find('='));
      if (add.count(name)) continue;
      // Launcher variables of the parent (mpirun's) must not make the trainer think it is an MPI
      // rank of the sweep; torchrun-style trainers get the variables above instead.
      if (StartsWith(name, "OMPI_") || StartsWith(name, "PMIX_") || StartsWith(name, "PMI_")) {
        continue;
      }
      if (name == "PATH") path_env = s.substr(5);
      env_strings.push_back(s);
    }
    for (const auto& kv : add) {
      env_strings.push_back(kv.first + "=" + kv.second);
      if (kv.first == "PATH") path_env = kv.second;
    }
    VLM_ASSIGN_OR_RETURN(std::string program, ResolveProgram(cmd.argv[0], path_env));

    const std::string suffix = rank == 0 ? "" : ".rank" + std::to_string(rank);
    const std::string out_path = in.run_dir + "/stdout" + suffix + ".log";
    const std::string err_path = in.run_dir + "/stderr" + suffix + ".log";
    const std::string metrics_path = in.run_dir + "/metrics.json";
    // A stopped attempt resumes in the same run directory: never read its old metrics.
    if (rank == 0 && unlink(metrics_path.c_str()) != 0 && errno != ENOENT) {
      return Status::IOError("cannot remove stale " + metrics_path + ": " + std::strerror(errno));
    }
    int out_fd = OpenLogFile(out_path);
    int out_errno = errno;
    int err_fd = OpenLogFile(err_path);
    if (out_fd < 0 || err_fd < 0) {
      int e = out_fd < 0 ? out_errno : errno;
      if (out_fd >= 0) close(out_fd);
      if (err_fd >= 0) close(err_fd);
      return Status::IOError("cannot open log files in " + in.run_dir + ": " +
                             (e == EINVAL ? std::string("a log file there is not a regular file")
                                          : std::string(std::strerror(e))));
    }
    // From the file's current end: a resumed attempt does not re-read the lines of the last.
    std::optional<command::ProgressReader> progress;
    if (rank == 0) progress.emplace(progress_path);
    JobProgress latest;
    auto poll_progress = [&] {
      if (progress && progress->Poll(&latest) && env.progress) env.progress(latest);
    };
    const int64_t out_start = std::max<int64_t>(0, FileSize(out_path));
    const int64_t err_start = std::max<int64_t>(0, FileSize(err_path));

    // Everything the children need is prepared before fork: after it, only async-signal-safe
    // calls. The rank forks a supervisor (a child subreaper, SuperviseTrainer) that forks the
    // trainer, so that every process the trainer leaves behind (even in a new session) is
    // adopted by the supervisor and killed when the trainer exits; the rank itself adopts none.
    std::vector<char*> argv_c, envp_c;
    for (auto& a : cmd.argv) argv_c.push_back(const_cast<char*>(a.c_str()));
    argv_c.push_back(nullptr);
    for (auto& e : env_strings) envp_c.push_back(const_cast<char*>(e.c_str()));
    envp_c.push_back(nullptr);
    int exec_pipe[2] = {-1, -1}, report_pipe[2] = {-1, -1}, ack_pipe[2] = {-1, -1};
    if (pipe2(exec_pipe, O_CLOEXEC) != 0 || pipe2(report_pipe, O_CLOEXEC) != 0 ||
        pipe2(ack_pipe, O_CLOEXEC) != 0) {
      const int e = errno;
      for (int fd : {exec_pipe[0], exec_pipe[1], report_pipe[0], report_pipe[1], ack_pipe[0],
                     ack_pipe[1], out_fd, err_fd}) {
        if (fd >= 0) close(fd);
      }
      return Status::IOError(std::string("pipe2: ") + std::strerror(e));
    }
    const double timeout = options_.timeout_seconds;
    const double grace = env.grace_seconds;
    command::TrainerLaunch launch;
    launch.program = program.c_str();
    launch.argv = argv_c.data();
    launch.envp = envp_c.data();
    launch.out_fd = out_fd;
    launch.err_fd = err_fd;
    launch.exec_fd = exec_pipe[1];
    launch.report_fd = report_pipe[1];
    launch.ack_fd = ack_pipe[0];
    launch.rank_pid = getpid();
    // What the trainer leaves behind is ended within the job's timeout (at least a second), or
    // within run.grace_seconds (at least 5 s) without one.
    launch.cleanup_seconds = timeout > 0 ? std::max(1.0, timeout) : std::max(5.0, grace);
    const auto start = Clock::now();
    pid_t supervisor = fork();
    if (supervisor == 0) command::SuperviseTrainer(launch);  // Never returns.
    const int fork_errno = errno;
    close(exec_pipe[1]);
    close(report_pipe[1]);
    close(ack_pipe[0]);
    close(out_fd);
    close(err_fd);
    if (supervisor < 0) {
      close(exec_pipe[0]);
      close(report_pipe[0]);
      close(ack_pipe[1]);
      return Status::Runtime(std::string("cannot fork: ") + std::strerror(fork_errno));
    }
    // Ends the supervisor: it stops waiting for us, reaps the trainer and exits. Until then the
    // trainer's pid (a zombie at worst) still names its process group, so signals never reach a
    // reused pid.
    auto release = [&]() {
      if (ack_pipe[1] >= 0) close(ack_pipe[1]);
      ack_pipe[1] = -1;
      close(report_pipe[0]);
      while (waitpid(supervisor, nullptr, 0) < 0 && errno == EINTR) {
      }
    };
    command::SupervisorReport report;
    if (!command::ReadReport(report_pipe[0], &report) ||
        report.kind != command::SupervisorReport::kStarted) {
      close(exec_pipe[0]);
      const int e = report.kind == command::SupervisorReport::kForkFailed ? report.code : 0;
      release();
      return Status::Runtime(std::string("cannot start the command: ") +
                             (e != 0 ? std::strerror(e) : "its supervisor process died"));
    }
    const pid_t pid = report.code;
    int exec_errno = 0;
    ssize_t n;
    do {
      n = read(exec_pipe[0], &exec_errno, sizeof(exec_errno));
    } while (n < 0 && errno == EINTR);
    close(exec_pipe[0]);
    if (n == sizeof(exec_errno)) {
      command::ReadReport(report_pipe[0], &report);  // The trainer's exit (127).
      release();
      return Status::InvalidInput("cannot execute '" + program + "': " + std::strerror(exec_errno));
    }

    // Supervise: heartbeat on output growth, forward stop requests, enforce the timeout; the
    // supervisor reports when the trainer has exited and what it left behind is gone.
    bool stopping = false, timed_out = false, sent_term = false, sent_kill = false;
    bool reported = false;
    Clock::time_point escalate_from;
    int64_t last_out = out_start, last_err = err_start;
    env.heartbeat();
    while (true) {
      struct pollfd pfd = {report_pipe[0], POLLIN, 0};
      int ready = poll(&pfd, 1, 50);
      if (ready > 0) {
        reported = command::ReadReport(report_pipe[0], &report) &&
                   report.kind == command::SupervisorReport::kExited;
        break;  // The report, or the supervisor died (EOF).
      }
      if (ready < 0 && errno != EINTR) break;
      int64_t so = FileSize(out_path), se = FileSize(err_path);
      if (so != last_out || se != last_err) {
        last_out = so;
        last_err = se;
        env.heartbeat();
      }
      poll_progress();
      if (!stopping && !timed_out) {
        if (env.stop_requested != nullptr && env.stop_requested->load()) {
          stopping = true;
          escalate_from = Clock::now();
          kill(-pid, SIGUSR1);
          if (grace <= 0) kill(-pid, SIGTERM);
        } else if (timeout > 0 && Since(start) >= timeout) {
          timed_out = true;
          escalate_from = Clock::now();
          kill(-pid, SIGTERM);
          sent_term = true;
        }
      }
      if (stopping && !sent_term && Since(escalate_from) >= grace / 2) {
        kill(-pid, SIGTERM);
        sent_term = true;
      }
      if ((stopping || timed_out) && !sent_kill && Since(escalate_from) >= grace) {
        kill(-pid, SIGKILL);
        sent_kill = true;
      }
    }
    release();
    poll_progress();  // The lines written just before the program exited.
    if (progress) out->curves = progress->curves();
    if (!reported) {
      out->failure_class = "killed";
      return Status::Runtime(
          "the command's supervisor process died before the command ended "
          "(logs in " +
          in.run_dir + ")");
    }
    const int wstatus = report.WaitStatus();
    out->train_seconds = Since(start);

    auto with_tail = [&](std::string msg) {
      std::string tail = Tail(err_path, err_start);
      std::string which = "stderr" + suffix + ".log";
      if (tail.empty()) {
        tail = Tail(out_path, out_start);
        which = "stdout" + suffix + ".log";
      }
      msg += " (logs in " + in.run_dir + ")";
      if (!tail.empty()) msg += "; last lines of " + which + ":\n" + tail;
      return msg;
    };
    std::string how;
    if (WIFEXITED(wstatus)) {
      how = "exited with status " + std::to_string(WEXITSTATUS(wstatus));
    } else if (WIFSIGNALED(wstatus)) {
      int sig = WTERMSIG(wstatus);
      how =
          std::string("was killed by signal ") + std::to_string(sig) + " (" + strsignal(sig) + ")";
    }
    const bool clean_exit = WIFEXITED(wstatus) && WEXITSTATUS(wstatus) == 0;
    if (timed_out) {
      out->failure_class = "timeout";
      return Status::Runtime(with_tail("command timed out after command.timeout_seconds = " +
                                       FormatNumber(timeout) + " s and " + how));
    }
    if (stopping && !clean_exit) {
      return Status::Cancelled("stop requested; the command " + how);
    }
    if (WIFSIGNALED(wstatus) || (WIFEXITED(wstatus) && WEXITSTATUS(wstatus) == 128 + SIGKILL)) {
      out->failure_class = "killed";
      return Status::Runtime(with_tail("command " + how));
    }
    if (!clean_exit) {
      out->failure_class = "error";
      return Status::Runtime(with_tail("command " + how));
    }
    if (rank != 0) return Status::OK();  // Only group rank 0's metrics are recorded.

    auto metrics = command::ReadMetricsFile(metrics_path);
    Status ms = metrics.ok() ? command::ApplyErrorMetric(options_.metric, &*metrics)
                             : metrics.status();
    if (!ms.ok()) {
      if (stopping) return Status::Cancelled("stop requested; the command exited without metrics");
      out->failure_class = "no-metrics";
      return Status::Runtime(
          with_tail("command exited with status 0 but wrote no usable "
                    "metrics: " +
                    ms.message() + " (see docs/COMMAND_JOBS.md for the format)"));
    }
    out->metrics = std::move(*metrics);
    if (progress && progress->skipped() > 0 && !out->metrics.count("progress_lines_skipped")) {
      out->metrics["progress_lines_skipped"] = static_cast<double>(progress->skipped());
    }
    if (!out->metrics.count("inference_flops")) {
      out->metrics["inference_flops"] = in.spec->inference_flops;
    }
    return Status::OK();
  }

  const CommandOptions options_;
  const command::StageScope scope_;
};

class CommandSettings : public JobSettings {
 public:
  CommandSettings(CommandOptions options, command::StageScope scope, std::string identity)
      : options_(std::move(options)), scope_(std::move(scope)), identity_(std::move(identity)) {}
  Status CheckPreset(const config::Config&, const config::LlmPreset&) const override {
    return Status::OK();
  }
  // The external trainer has its own encoder: no token-count rule of the built-in model applies.
  // Any stage shape: axes a stage does not vary are simply absent from its jobs.
  std::vector<std::string> RequiredAxes() const override { return {}; }
  Status CheckPoint(const config::GridPoint&, const config::LlmPreset&) const override {
    return Status::OK();
  }
  std::string IdentityText() const override { return identity_; }
  int64_t TextTokens(const config::GridPoint&) const override { return options_.text_tokens; }
  double EstimateCost(const config::GridPoint& point, int64_t text_tokens) const override {
    return NominalTrainingFlops(point, text_tokens);
  }
  std::unique_ptr<Job> MakeJob() const override { return MakeCommandJob(options_, scope_); }

 private:
  CommandOptions options_;
  command::StageScope scope_;
  std::string identity_;
};

class CommandType : public JobType {
 public:
  std::string name() const override { return "command"; }
  std::vector<config::KeySpec> Keys() const override { return command::CommandKeys(); }
  Result<std::shared_ptr<const JobSettings>> Parse(const config::Config& config,
                                                   const PlanContext& context) const override {
    CHECK(context.stage != nullptr);
    const config::StageSpec& stage = *context.stage;
    if (!config.Has("command.argv")) {
      return Status::InvalidInput((config.path().empty() ? std::string("config") : config.path()) +
                                  ": missing required key 'argv' in section [command] " +
                                  (stage.name.empty()
                                       ? std::string("(job.type = command)")
                                       : "(stage." + stage.name + ".type = command; set stage." +
                                             stage.name + ".command.argv or command.argv)"));
    }
    VLM_RETURN_IF_ERROR(command::ValidateCommandConfig(config, stage));
    // The identity stays the [command] text (as the stage sees it): the stage's name, axes and
    // parents enter staged jobs' ids through config::StageJobIdentityText.
    return std::shared_ptr<const JobSettings>(
        std::make_shared<CommandSettings>(command::ReadCommandOptions(config, stage.name),
                                          command::ScopeOf(stage), config.SectionText("command")));
  }
};

}  // namespace

std::unique_ptr<Job> MakeCommandJob(const CommandOptions& options,
                                    const command::StageScope& scope) {
  return std::make_unique<CommandJob>(options, scope);
}

std::shared_ptr<const JobType> CommandJobType() { return std::make_shared<CommandType>(); }

}  // namespace vlmscale::jobs
