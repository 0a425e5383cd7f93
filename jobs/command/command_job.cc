#include "jobs/command/command_job.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
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
#include <set>
#include <sstream>
#include <thread>

#include "core/check.h"
#include "core/strings.h"
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

// The last `max_lines` lines (at most 4 KiB) of `path` from byte `offset` on; "" if none.
std::string Tail(const std::string& path, int64_t offset, int max_lines = 20) {
  std::ifstream f(path, std::ios::binary);
  if (!f) return "";
  f.seekg(0, std::ios::end);
  int64_t size = f.tellg();
  int64_t start = std::max(offset, size - 4096);
  if (start >= size) return "";
  f.seekg(start);
  std::string s(static_cast<size_t>(size - start), '\0');
  f.read(&s[0], static_cast<std::streamsize>(s.size()));
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
    add["OMP_NUM_THREADS"] = std::to_string(std::max(1, env.threads));
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
    int out_fd = open(out_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    int err_fd = open(err_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (out_fd < 0 || err_fd < 0) {
      int e = errno;
      if (out_fd >= 0) close(out_fd);
      if (err_fd >= 0) close(err_fd);
      return Status::IOError("cannot open log files in " + in.run_dir + ": " + std::strerror(e));
    }
    const int64_t out_start = std::max<int64_t>(0, FileSize(out_path));
    const int64_t err_start = std::max<int64_t>(0, FileSize(err_path));

    // Everything the child needs is prepared before fork: after it, only async-signal-safe calls.
    std::vector<char*> argv_c, envp_c;
    for (auto& a : cmd.argv) argv_c.push_back(const_cast<char*>(a.c_str()));
    argv_c.push_back(nullptr);
    for (auto& e : env_strings) envp_c.push_back(const_cast<char*>(e.c_str()));
    envp_c.push_back(nullptr);
    int exec_pipe[2];
    if (pipe2(exec_pipe, O_CLOEXEC) != 0) {
      close(out_fd);
      close(err_fd);
      return Status::IOError(std::string("pipe2: ") + std::strerror(errno));
    }
    const pid_t parent = getpid();
    const auto start = Clock::now();
    pid_t pid = fork();
    if (pid == 0) {
      // Child. Dies with the rank (SIGKILLed ranks leave no orphaned trainers), leads its own
      // process group (stop signals reach its helpers too), default signal handling.
      prctl(PR_SET_PDEATHSIG, SIGKILL);
      if (getppid() != parent) _exit(127);
      setpgid(0, 0);
      sigset_t none;
      sigemptyset(&none);
      sigprocmask(SIG_SETMASK, &none, nullptr);
      struct sigaction dfl;
      std::memset(&dfl, 0, sizeof(dfl));
      dfl.sa_handler = SIG_DFL;
      for (int sig = 1; sig < NSIG; ++sig) {
        if (sig != SIGKILL && sig != SIGSTOP) sigaction(sig, &dfl, nullptr);
      }
      int devnull = open("/dev/null", O_RDONLY);
      if (devnull >= 0) dup2(devnull, 0);
      dup2(out_fd, 1);
      dup2(err_fd, 2);
      // Close every inherited descriptor (MPI's sockets, the results journal) except the pipe.
      const unsigned keep = static_cast<unsigned>(exec_pipe[1]);
      if ((keep > 3 && syscall(SYS_close_range, 3U, keep - 1, 0U) != 0) ||
          syscall(SYS_close_range, keep + 1, ~0U, 0U) != 0) {
        for (int fd = 3; fd < 4096; ++fd) {
          if (fd != exec_pipe[1]) close(fd);
        }
      }
      execve(program.c_str(), argv_c.data(), envp_c.data());
      int e = errno;
      ssize_t ignored = write(exec_pipe[1], &e, sizeof(e));
      (void)ignored;
      _exit(127);
    }
    close(exec_pipe[1]);
    close(out_fd);
    close(err_fd);
    if (pid < 0) {
      close(exec_pipe[0]);
      return Status::Runtime(std::string("cannot fork: ") + std::strerror(errno));
    }
    setpgid(pid, pid);  // Also in the parent, so signals to the group work at once.
    int exec_errno = 0;
    ssize_t n;
    do {
      n = read(exec_pipe[0], &exec_errno, sizeof(exec_errno));
    } while (n < 0 && errno == EINTR);
    close(exec_pipe[0]);
    if (n == sizeof(exec_errno)) {
      waitpid(pid, nullptr, 0);
      return Status::InvalidInput("cannot execute '" + program + "': " + std::strerror(exec_errno));
    }

    // Supervise: heartbeat on output growth, forward stop requests, enforce the timeout.
    const double timeout = options_.timeout_seconds;
    const double grace = env.grace_seconds;
    bool stopping = false, timed_out = false, sent_term = false, sent_kill = false;
    Clock::time_point escalate_from;
    int64_t last_out = out_start, last_err = err_start;
    env.heartbeat();
    siginfo_t info;
    while (true) {
      std::memset(&info, 0, sizeof(info));
      if (waitid(P_PID, static_cast<id_t>(pid), &info, WEXITED | WNOHANG | WNOWAIT) != 0 &&
          errno != EINTR) {
        break;
      }
      if (info.si_pid == pid) break;
      int64_t so = FileSize(out_path), se = FileSize(err_path);
      if (so != last_out || se != last_err) {
        last_out = so;
        last_err = se;
        env.heartbeat();
      }
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
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    // The child has exited (not yet reaped, so its pid still names the group): end any helpers
    // it left in its process group, then reap it.
    kill(-pid, SIGKILL);
    int wstatus = 0;
    while (waitpid(pid, &wstatus, 0) < 0 && errno == EINTR) {
    }
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
