// The supervisor of a command job's trainer (trainer_supervisor.h).
#include "jobs/command/trainer_supervisor.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cstring>
#include <utility>

namespace vlmscale::jobs::command {

bool ReadReport(int fd, SupervisorReport* report) {
  ssize_t n;
  do {
    n = read(fd, report, sizeof(*report));
  } while (n < 0 && errno == EINTR);
  return n == static_cast<ssize_t>(sizeof(*report));
}

namespace {

volatile sig_atomic_t g_rank_gone = 0;
void OnRankGone(int) { g_rank_gone = 1; }

double MonotonicSeconds() {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

void SleepMs(long ms) {
  struct timespec ts = {0, ms * 1000000L};
  nanosleep(&ts, nullptr);
}

// The parent pid of `pid` from /proc/PID/stat, or -1.
pid_t ParentOf(pid_t pid) {
  char path[64] = "/proc/";
  char digits[16];
  int nd = 0;
  for (unsigned v = static_cast<unsigned>(pid); nd == 0 || v > 0; v /= 10) {
    digits[nd++] = static_cast<char>('0' + v % 10);
  }
  size_t len = 6;
  while (nd > 0) path[len++] = digits[--nd];
  for (const char* t = "/stat"; *t != '\0'; ++t) path[len++] = *t;
  path[len] = '\0';
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  char buf[1024];
  ssize_t n = read(fd, buf, sizeof(buf) - 1);
  close(fd);
  if (n <= 0) return -1;
  buf[n] = '\0';
  // "PID (COMM) STATE PPID ...": COMM may hold spaces and ')', so from the last ')'.
  char* p = nullptr;
  for (char* q = buf; *q != '\0'; ++q) {
    if (*q == ')') p = q;
  }
  if (p == nullptr || p[1] != ' ' || p[2] == '\0' || p[3] != ' ') return -1;
  p += 4;
  long ppid = 0;
  if (*p < '0' || *p > '9') return -1;
  while (*p >= '0' && *p <= '9') ppid = ppid * 10 + (*p++ - '0');
  return static_cast<pid_t>(ppid);
}

// Stores in pids[0, max) the processes whose parent is `self`, except `skip`; returns how many.
int ChildrenOf(pid_t self, pid_t skip, pid_t* pids, int max) {
  int dir = open("/proc", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir < 0) return 0;
  alignas(8) char buf[8192];
  int count = 0;
  while (count < max) {
    ssize_t got = getdents64(dir, buf, sizeof(buf));
    if (got <= 0) break;
    for (ssize_t off = 0; off < got && count < max;) {
      const auto* entry = reinterpret_cast<const struct dirent64*>(buf + off);
      off += entry->d_reclen;
      long pid = 0;
      const char* c = entry->d_name;
      if (*c == '\0') continue;
      for (; *c >= '0' && *c <= '9'; ++c) pid = pid * 10 + (*c - '0');
      if (*c != '\0' || pid <= 0 || pid == self || pid == skip) continue;
      if (ParentOf(static_cast<pid_t>(pid)) == self) pids[count++] = static_cast<pid_t>(pid);
    }
  }
  close(dir);
  return count;
}

void WriteReport(int fd, const SupervisorReport& report) {
  ssize_t n;
  do {
    n = write(fd, &report, sizeof(report));
  } while (n < 0 && errno == EINTR);
}

// The trainer, in the supervisor's child: own process group, default signal handling, stdin from
// /dev/null, stdout/stderr to the logs, no inherited descriptors; then execve.
[[noreturn]] void ExecTrainer(const TrainerLaunch& launch, pid_t supervisor) {
  // Dies with the supervisor (which dies only if killed itself; it outlives the trainer).
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (getppid() != supervisor) _exit(127);
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
  dup2(launch.out_fd, 1);
  dup2(launch.err_fd, 2);
  // Close every inherited descriptor (MPI's sockets, the results journal, the supervisor's
  // pipes) except the exec pipe.
  const unsigned keep = static_cast<unsigned>(launch.exec_fd);
  if ((keep > 3 && syscall(SYS_close_range, 3U, keep - 1, 0U) != 0) ||
      syscall(SYS_close_range, keep + 1, ~0U, 0U) != 0) {
    for (int fd = 3; fd < 4096; ++fd) {
      if (fd != launch.exec_fd) close(fd);
    }
  }
  execve(launch.program, launch.argv, launch.envp);
  int e = errno;
  ssize_t ignored = write(launch.exec_fd, &e, sizeof(e));
  (void)ignored;
  _exit(127);
}

// Closes every descriptor from 3 on except those in keep[0, n) (sorted in place).
void CloseAllExcept(int* keep, int n) {
  for (int i = 1; i < n; ++i) {  // Insertion sort: async-signal-safe, n is tiny.
    for (int j = i; j > 0 && keep[j - 1] > keep[j]; --j) std::swap(keep[j - 1], keep[j]);
  }
  unsigned from = 3;
  for (int i = 0; i <= n; ++i) {
    const unsigned to = i < n ? static_cast<unsigned>(keep[i]) : ~0U;  // Exclusive.
    if (i < n && keep[i] < 3) continue;
    if (to > from && syscall(SYS_close_range, from, to - 1, 0U) != 0) {
      for (unsigned fd = from; fd < to && fd < 4096; ++fd) close(static_cast<int>(fd));
    }
    if (i < n) from = static_cast<unsigned>(keep[i]) + 1;
  }
}

}  // namespace

[[noreturn]] void SuperviseTrainer(const TrainerLaunch& launch) {
  // Only its own descriptors: not the rank's ends of its pipes (an ack pipe whose write end it
  // held itself would never reach EOF), nor another job's pipes (a thread of the same process
  // may be running one), nor MPI's sockets.
  int keep[] = {launch.out_fd, launch.err_fd, launch.exec_fd, launch.report_fd, launch.ack_fd};
  CloseAllExcept(keep, 5);
  // Not named like the rank it was forked from: `pgrep -x vlmscale`, `pkill vlmscale` and the
  // like must find the ranks only.
  prctl(PR_SET_NAME, "vlmscale-reaper");
  // Signals: SIGTERM (also the rank's death) ends the trainer; the stop signals meant for the
  // sweep are not ours (the rank forwards them to the trainer's group).
  struct sigaction sa;
  std::memset(&sa, 0, sizeof(sa));
  sa.sa_handler = OnRankGone;  // No SA_RESTART: waitid returns EINTR.
  sigaction(SIGTERM, &sa, nullptr);
  sa.sa_handler = SIG_IGN;
  for (int sig : {SIGINT, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGPIPE}) sigaction(sig, &sa, nullptr);
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, nullptr);
  prctl(PR_SET_PDEATHSIG, SIGTERM);
  if (getppid() != launch.rank_pid) g_rank_gone = 1;
  // Its own process group: a signal to the sweep's group (Ctrl-C, a kill of mpirun's group)
  // reaches the rank, not the supervisor, which then cleans up when the rank is gone.
  setpgid(0, 0);
  prctl(PR_SET_CHILD_SUBREAPER, 1);
  const pid_t self = getpid();

  pid_t trainer = fork();
  if (trainer == 0) ExecTrainer(launch, self);
  close(launch.exec_fd);
  SupervisorReport report;
  if (trainer < 0) {
    report.kind = SupervisorReport::kForkFailed;
    report.code = errno;
    WriteReport(launch.report_fd, report);
    _exit(1);
  }
  setpgid(trainer, trainer);  // Also here, so the group exists before the rank signals it.
  report.kind = SupervisorReport::kStarted;
  report.code = trainer;
  WriteReport(launch.report_fd, report);

  // Wait for the trainer to exit, leaving it a zombie (WNOWAIT): its pid keeps naming its group.
  // Polled, so that the rank's death is seen however the signal and the wait interleave.
  siginfo_t info;
  bool killed_trainer = false;
  while (true) {
    if ((g_rank_gone || getppid() != launch.rank_pid) && !killed_trainer) {
      kill(-trainer, SIGKILL);
      kill(trainer, SIGKILL);
      killed_trainer = true;
    }
    std::memset(&info, 0, sizeof(info));
    if (waitid(P_PID, static_cast<id_t>(trainer), &info, WEXITED | WNOWAIT | WNOHANG) != 0) {
      if (errno == EINTR) continue;
      break;
    }
    if (info.si_pid == trainer) break;
    SleepMs(20);
  }

  // Kill what it left behind: its process group, then every process this subreaper adopted
  // (each one killed lets its own children be adopted in turn), until none is left.
  kill(-trainer, SIGKILL);
  const double deadline = MonotonicSeconds() + launch.cleanup_seconds;
  int killed = 0, left = 0;
  constexpr int kMaxBatch = 1024;
  pid_t pids[kMaxBatch];
  while (true) {
    const int n = ChildrenOf(self, trainer, pids, kMaxBatch);
    left = n;
    if (n == 0 || MonotonicSeconds() > deadline) break;
    for (int i = 0; i < n; ++i) {
      if (waitpid(pids[i], nullptr, WNOHANG) == pids[i]) continue;  // Had exited: reaped.
      if (kill(pids[i], SIGKILL) == 0) ++killed;
    }
    SleepMs(5);
    for (int i = 0; i < n; ++i) waitpid(pids[i], nullptr, WNOHANG);
  }

  report = SupervisorReport();
  report.kind = SupervisorReport::kExited;
  report.code = info.si_code;
  report.status = info.si_status;
  report.killed = killed;
  report.left = left;
  WriteReport(launch.report_fd, report);
  // Hold the trainer's zombie until the rank has stopped signalling its group (or is gone).
  char byte;
  while (true) {
    ssize_t r = read(launch.ack_fd, &byte, 1);
    if (r == 0 || (r < 0 && errno != EINTR) || g_rank_gone) break;
  }
  waitpid(trainer, nullptr, 0);
  _exit(0);
}

}  // namespace vlmscale::jobs::command
