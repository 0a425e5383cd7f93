// vlmscale launch [-np N] [--mpirun PATH] [--mpi-arg ARG]... CONFIG [run options]
//
// Starts `mpirun [-np N] [ARG...] <this binary> run CONFIG [run options]` and makes a stop of the
// whole launch behave as the driver promises (exit 75, summary printed, nothing left running):
//   - Open MPI 4's mpirun answers SIGINT and SIGTERM by killing the ranks (SIGTERM, then SIGKILL
//     after odls_base_sigkill_timeout) and exits 1; it forwards SIGUSR1 and SIGUSR2 to every rank
//     untouched. So launch runs mpirun in a process group of its own (a terminal's Ctrl-C reaches
//     only launch) and turns the first SIGINT, SIGTERM, SIGUSR1 or SIGHUP into SIGUSR1 to mpirun:
//     every rank's stop handler drains, the driver saves the store, prints its summary and every
//     rank exits 75. A second SIGINT or SIGTERM sends SIGTERM to mpirun (Open MPI kills the job;
//     the journal keeps everything acknowledged, `status` shows the rest). If launch itself dies,
//     mpirun gets SIGUSR1 (PR_SET_PDEATHSIG). A stop that arrives before this launch's driver is
//     up (no fresh run info in the results file yet) is held until it is: a SIGUSR1 that reached
//     a rank still loading its libraries, before its handler, would kill it.
//   - mpirun's stderr passes through a filter that drops Open MPI's boilerplate about non-zero
//     exit codes ("Primary job terminated normally...", "mpirun detected that one or more
//     processes exited with non-zero status...", MPI_ABORT with the stop code 75, "Forwarding
//     signal", libevent's "Epoll ... Bad file descriptor" warnings); every other line and box
//     (a crashed rank, too few slots) is kept.
//   - Exit code: mpirun's (0, 1, 2, 75), except that after a stop request any other code is 75
//     when the results file says the driver stopped (it saved everything), and 75 with a note when
//     it does not (the next run resumes from the journal).
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <climits>
#include <cstring>
#include <iostream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "cli/command.h"
#include "config/sweep.h"
#include "core/strings.h"
#include "jobs/job_type.h"
#include "store/results_store.h"

namespace vlmscale::cli {
namespace {

constexpr char kUsage[] =
    "vlmscale launch [-np N] [--mpirun PATH] [--mpi-arg ARG]... CONFIG [run options]\n\n"
    "Runs `mpirun [-np N] [ARG]... vlmscale run CONFIG [run options]` so that Ctrl-C, SIGTERM,\n"
    "SIGUSR1 or SIGHUP stop the sweep cleanly: launch turns the first one into SIGUSR1 to mpirun,\n"
    "which forwards it to every rank (Open MPI kills the ranks on SIGINT/SIGTERM); the driver\n"
    "saves the results, prints its summary and launch exits 75 (run the same command to resume).\n"
    "A second Ctrl-C or SIGTERM kills the job at once. Open MPI's boilerplate about non-zero exit\n"
    "codes is left out of stderr.\n\n"
    "Options:\n"
    "  -np N, -n N           number of MPI ranks (default: mpirun's, e.g. the SLURM allocation)\n"
    "  --mpirun PATH         the mpirun to use (default: mpirun from PATH)\n"
    "  --mpi-arg ARG         one more mpirun argument, e.g. --mpi-arg=--oversubscribe (repeatable)\n"
    "  --help                this text\n"
    "CONFIG and everything after it go to `vlmscale run` (see vlmscale run --help).\n"
    "Exit codes: those of run (0, 1, 2, 75); 75 after any stop request that ended the sweep.\n";

// What launch needs from the run arguments: the config and its --set overrides (to find the
// results file as run does).
struct RunArgs {
  std::string config;
  std::vector<std::string> sets;
};

RunArgs ScanRunArgs(const std::vector<std::string>& args) {
  RunArgs r;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if ((a == "--set" || a == "--log-format") && i + 1 < args.size()) {
      if (a == "--set") r.sets.push_back(args[i + 1]);
      ++i;
    } else if (StartsWith(a, "--set=")) {
      r.sets.push_back(a.substr(6));
    } else if (!StartsWith(a, "-") && r.config.empty()) {
      r.config = a;
    }
  }
  return r;
}

void WriteAll(int fd, const std::string& text) {
  size_t off = 0;
  while (off < text.size()) {
    ssize_t n = ::write(fd, text.data() + off, text.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    off += static_cast<size_t>(n);
  }
}

// Passes mpirun's stderr through, line by line, without Open MPI's boilerplate (see the top).
class MpirunStderrFilter {
 public:
  explicit MpirunStderrFilter(int out_fd) : out_fd_(out_fd) {}

  void Feed(const char* data, size_t n) {
    partial_.append(data, n);
    size_t start = 0, nl;
    while ((nl = partial_.find('\n', start)) != std::string::npos) {
      Line(partial_.substr(start, nl - start));
      start = nl + 1;
    }
    partial_.erase(0, start);
  }

  // At the end of the stream: what is left (a partial line, an unclosed box) is printed.
  void Flush() {
    if (!partial_.empty()) Line(partial_);
    partial_.clear();
    if (in_box_) WriteAll(out_fd_, box_);
    in_box_ = false;
    box_.clear();
  }

 private:
  static bool IsRule(const std::string& line) {
    return line.size() >= 20 && line.find_first_not_of('-') == std::string::npos;
  }
  static bool IsBoilerplateBox(const std::string& box) {
    return box.find("Primary job  terminated normally") != std::string::npos ||
           box.find("Primary job terminated normally") != std::string::npos ||
           box.find("exited with non-zero status, thus causing") != std::string::npos ||
           (box.find("MPI_ABORT was invoked") != std::string::npos &&
            box.find("errorcode 75") != std::string::npos);
  }
  static bool IsBoilerplateLine(const std::string& line) {
    return StartsWith(line, "mpirun: Forwarding signal") ||
           (line.find("Epoll ") != std::string::npos &&
            line.find("Bad file descriptor") != std::string::npos) ||
           line.find("more processes have sent help message") != std::string::npos ||
           line.find("orte_base_help_aggregate") != std::string::npos;
  }

  void Line(const std::string& line) {
    if (in_box_) {
      box_ += line + "\n";
      if (IsRule(line)) {
        if (!IsBoilerplateBox(box_)) WriteAll(out_fd_, box_);
        in_box_ = false;
        box_.clear();
      }
      return;
    }
    if (IsRule(line)) {
      in_box_ = true;
      box_ = line + "\n";
      return;
    }
    if (!IsBoilerplateLine(line)) WriteAll(out_fd_, line + "\n");
  }

  int out_fd_;
  std::string partial_;
  bool in_box_ = false;
  std::string box_;
};

double UnixNow() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// The state of a driver started by this launch (run info `started` at or after `since`, less 1 s
// of clock skew: rank 0 normally runs on launch's host) in the sweep's results file: "running", "stopping", "stopped",
// "finished"; "" if there is none yet (or the file says nothing or cannot be read).
std::string DriverState(const std::string& results, double since) {
  if (results.empty()) return "";
  Result<store::ResultsFile> file = store::ReadResults(results);
  if (!file.ok()) return "";
  nlohmann::json info = nlohmann::json::parse(file->run_info_json, nullptr, false);
  if (!info.is_object() || !info.contains("state") || !info["state"].is_string() ||
      !info.contains("started") || !info["started"].is_number() ||
      info["started"].get<double>() < since - 1.0) {
    return "";
  }
  return info["state"].get<std::string>();
}

std::string SelfPath() {
  char buf[PATH_MAX];
  ssize_t n = ::readlink("/proc/self/exe", buf, sizeof(buf) - 1);
  if (n <= 0) return "vlmscale";
  return std::string(buf, static_cast<size_t>(n));
}

int RunLaunchCommand(const std::vector<std::string>& args) {
  std::string np, mpirun = "mpirun";
  std::vector<std::string> mpi_args, run_args;
  auto usage_error = [](const std::string& message) {
    return ReportError("launch", Status::InvalidInput(message + " (see vlmscale launch --help)"));
  };
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (!run_args.empty()) {  // Everything from CONFIG on belongs to run.
      run_args.push_back(a);
      continue;
    }
    auto value = [&](const std::string& name, std::string* out) {
      const std::string eq = name + "=";
      if (StartsWith(a, eq)) {
        *out = a.substr(eq.size());
        return true;
      }
      if (a == name && i + 1 < args.size()) {
        *out = args[++i];
        return true;
      }
      return false;
    };
    std::string v;
    if (a == "--help" || a == "-h") {
      std::cout << kUsage;
      return kExitOk;
    } else if (value("-np", &v) || value("--np", &v) || value("-n", &v)) {
      if (v.empty() || v.find_first_not_of("0123456789") != std::string::npos || v.size() > 6 ||
          std::stoi(v) < 1) {
        return usage_error("-np: expected a positive number of ranks, got '" + v + "'");
      }
      np = v;
    } else if (value("--mpirun", &v)) {
      mpirun = v;
    } else if (value("--mpi-arg", &v)) {
      mpi_args.push_back(v);
    } else if (a == "-np" || a == "--np" || a == "-n" || a == "--mpirun" || a == "--mpi-arg") {
      return usage_error(a + " needs a value");
    } else if (StartsWith(a, "-")) {
      return usage_error("unknown option '" + a +
                         "' before CONFIG (run options go after CONFIG; mpirun options with "
                         "--mpi-arg)");
    } else {
      run_args.push_back(a);
    }
  }
  if (run_args.empty()) return usage_error("missing CONFIG");
  const RunArgs run = ScanRunArgs(run_args);
  // A config that does not plan is reported here, once, without starting mpirun.
  if (run.config.empty()) return usage_error("missing CONFIG");
  Result<config::Config> cfg = jobs::LoadConfig(run.config, run.sets);
  if (!cfg.ok()) return ReportError("launch", cfg.status());
  Result<config::Sweep> sweep = jobs::PlanSweep(*cfg);
  if (!sweep.ok()) return ReportError("launch", sweep.status());
  const std::string results = sweep->output;

  std::vector<std::string> argv = {mpirun};
  if (!np.empty()) argv.insert(argv.end(), {"-np", np});
  argv.insert(argv.end(), mpi_args.begin(), mpi_args.end());
  argv.push_back(SelfPath());
  argv.push_back("run");
  argv.insert(argv.end(), run_args.begin(), run_args.end());

  // Signals arrive through a signalfd; the child gets the old mask back before exec.
  sigset_t handled, old_mask;
  sigemptyset(&handled);
  for (int sig : {SIGINT, SIGTERM, SIGUSR1, SIGHUP, SIGCHLD}) sigaddset(&handled, sig);
  sigprocmask(SIG_BLOCK, &handled, &old_mask);
  int sig_fd = signalfd(-1, &handled, SFD_CLOEXEC);
  int err_pipe[2];
  if (sig_fd < 0 || pipe2(err_pipe, O_CLOEXEC) != 0) {
    return ReportError("launch", Status::Runtime(std::string("cannot set up: ") +
                                                 std::strerror(errno)));
  }
  const double launch_time = UnixNow();
  const pid_t parent = getpid();
  pid_t child = fork();
  if (child < 0) {
    return ReportError("launch", Status::Runtime(std::string("fork: ") + std::strerror(errno)));
  }
  if (child == 0) {
    setpgid(0, 0);  // A terminal's Ctrl-C reaches launch only.
    prctl(PR_SET_PDEATHSIG, SIGUSR1);
    if (getppid() != parent) _exit(75);
    int devnull = ::open("/dev/null", O_RDONLY);
    if (devnull >= 0) dup2(devnull, 0);  // mpirun reads no terminal from a background group.
    dup2(err_pipe[1], 2);
    sigprocmask(SIG_SETMASK, &old_mask, nullptr);
    std::vector<char*> cargv;
    for (auto& s : argv) cargv.push_back(s.data());
    cargv.push_back(nullptr);
    execvp(cargv[0], cargv.data());
    std::string msg = "vlmscale launch: error: cannot run " + argv[0] + ": " +
                      std::strerror(errno) + " (is Open MPI installed? see --mpirun)\n";
    WriteAll(2, msg);
    _exit(127);
  }
  ::close(err_pipe[1]);
  setpgid(child, child);  // Also here, so no signal can reach it before the child's own call.

  MpirunStderrFilter filter(2);
  int stop_requests = 0;
  std::string first_signal;
  // A SIGUSR1 that reaches a rank before it installed its stop handler (while it loads its
  // libraries) would kill it: a stop that arrives before this launch's driver is up (its run info
  // in the results file) is held until it is, however long the ranks take to start (under load
  // one took over 30 s to load its libraries); a second SIGINT/SIGTERM kills the job at once.
  bool stop_held = false, driver_up = false;
  auto driver_ready = [&] {
    driver_up = driver_up || !DriverState(results, launch_time).empty();
    return driver_up;
  };
  int status = 0;
  bool exited = false, stderr_open = true;
  while (!exited || stderr_open) {
    if (stop_held && !exited && driver_ready()) {
      kill(child, SIGUSR1);
      stop_held = false;
    }
    pollfd fds[2] = {{sig_fd, POLLIN, 0}, {err_pipe[0], POLLIN, 0}};
    // Once mpirun has exited, wait at most 2 s for processes that still hold its stderr.
    int n = poll(fds, stderr_open ? 2 : 1, exited ? 2000 : stop_held ? 200 : -1);
    if (n < 0 && errno == EINTR) continue;
    if (n == 0 && stop_held && !exited) continue;
    if (n == 0) break;
    if (stderr_open && (fds[1].revents & (POLLIN | POLLHUP | POLLERR))) {
      char buf[4096];
      ssize_t got = ::read(err_pipe[0], buf, sizeof(buf));
      if (got > 0) {
        filter.Feed(buf, static_cast<size_t>(got));
      } else if (got == 0 || errno != EINTR) {
        stderr_open = false;
      }
    }
    if (fds[0].revents & POLLIN) {
      signalfd_siginfo si;
      if (::read(sig_fd, &si, sizeof(si)) != sizeof(si)) continue;
      const int sig = static_cast<int>(si.ssi_signo);
      if (sig == SIGCHLD) {
        if (!exited && waitpid(child, &status, WNOHANG) == child) exited = true;
        continue;
      }
      if (exited) continue;
      const char* name = sig == SIGINT    ? "SIGINT"
                         : sig == SIGTERM ? "SIGTERM"
                         : sig == SIGHUP  ? "SIGHUP"
                                          : "SIGUSR1";
      ++stop_requests;
      if (stop_requests == 1) {
        first_signal = name;
        std::cerr << "vlmscale launch: " << name
                  << ": stopping the sweep (SIGUSR1 to mpirun, which forwards it to every rank; "
                     "running jobs checkpoint within run.grace_seconds); "
                  << (sig == SIGINT || sig == SIGTERM ? "send it again to kill the job at once"
                                                      : "")
                  << std::endl;
        if (driver_ready()) {
          kill(child, SIGUSR1);
        } else {
          stop_held = true;
          std::cerr << "vlmscale launch: the ranks are still starting: the stop is held until the "
                       "driver is up"
                    << std::endl;
        }
      } else if (sig == SIGINT || sig == SIGTERM) {
        std::cerr << "vlmscale launch: " << name
                  << " again: killing the job (SIGTERM to mpirun); results acknowledged so far are "
                     "safe, run the same command to resume"
                  << std::endl;
        kill(child, SIGTERM);
      }
    }
  }
  filter.Flush();
  ::close(err_pipe[0]);
  ::close(sig_fd);
  if (!exited) waitpid(child, &status, 0);
  sigprocmask(SIG_SETMASK, &old_mask, nullptr);

  int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  if (stop_requests == 0 || code == kExitOk || code == kExitUsage || code == kExitStopped) {
    return code;
  }
  // Stopped, but mpirun answered with its own code: what did the driver manage?
  const std::string state = DriverState(results, launch_time);
  if (state == "finished") return code;  // It finished (with failures) before the stop.
  if (state != "stopped") {
    std::cerr << "vlmscale launch: the job ended (mpirun exit " << code << ") after " << first_signal
              << " before the driver saved a stopped state; results acknowledged so far are safe "
                 "(vlmscale status shows the rest); run the same command to resume"
              << std::endl;
  }
  return kExitStopped;
}

}  // namespace

VLMSCALE_REGISTER_COMMAND("launch", 21,
                          "start `mpirun ... vlmscale run` so that Ctrl-C/SIGTERM stop it cleanly "
                          "(exit 75)",
                          RunLaunchCommand);

}  // namespace vlmscale::cli
