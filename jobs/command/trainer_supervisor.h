// The supervisor of a command job's trainer (command_job.cc's building block, internal to
// jobs/command).
//
// A process forked by the rank for each attempt. It makes itself a child subreaper
// (PR_SET_CHILD_SUBREAPER), forks the trainer, waits for it, then kills and reaps every process
// it adopted: whatever the trainer left running, in its process group or in a new session
// (`setsid sleep 300 &`). It holds the trainer's zombie until the rank acknowledges, so the rank
// can signal the trainer's process group until then without hitting a reused pid. If the rank
// dies, it gets SIGTERM (PR_SET_PDEATHSIG), kills the trainer and cleans up the same way.
//
// It is a forked copy of a threaded process that never calls exec: everything it runs is
// async-signal-safe (no allocation, no locks, no stdio).

#ifndef VLMSCALE_JOBS_COMMAND_TRAINER_SUPERVISOR_H_
#define VLMSCALE_JOBS_COMMAND_TRAINER_SUPERVISOR_H_

#include <signal.h>
#include <sys/types.h>

#include <cstdint>

namespace vlmscale::jobs::command {

// Messages from the supervisor to the rank (one write each, atomic on a pipe).
struct SupervisorReport {
  enum Kind : int32_t { kNone = 0, kStarted = 1, kForkFailed = 2, kExited = 3 };
  int32_t kind = kNone;
  int32_t code = 0;    // kStarted: the trainer's pid; kForkFailed: errno; kExited: si_code.
  int32_t status = 0;  // kExited: si_status (exit status or signal).
  int32_t killed = 0;  // kExited: processes it left behind, killed.
  int32_t left = 0;    // kExited: processes still not reaped at the deadline.

  // The trainer's status as waitpid() gives it.
  int WaitStatus() const {
    if (code == CLD_EXITED) return (status & 0xff) << 8;
    return (status & 0x7f) | (code == CLD_DUMPED ? 0x80 : 0);
  }
};

// Reads one report; false on EOF or error (the supervisor died).
bool ReadReport(int fd, SupervisorReport* report);

// What the supervisor and the trainer need, prepared before fork.
struct TrainerLaunch {
  const char* program = nullptr;
  char* const* argv = nullptr;
  char* const* envp = nullptr;
  int out_fd = -1, err_fd = -1;
  int exec_fd = -1;    // The trainer writes execve's errno here on failure (close-on-exec).
  int report_fd = -1;  // SupervisorReport messages.
  int ack_fd = -1;     // EOF when the rank no longer signals the trainer's group.
  pid_t rank_pid = 0;
  double cleanup_seconds = 5.0;  // How long to keep killing what the trainer left behind.
};

// The supervisor's body, in the child of fork(): makes itself a child subreaper, starts the
// trainer, reports, cleans up and exits. Everything it calls is async-signal-safe.
[[noreturn]] void SuperviseTrainer(const TrainerLaunch& launch);

}  // namespace vlmscale::jobs::command

#endif  // VLMSCALE_JOBS_COMMAND_TRAINER_SUPERVISOR_H_
