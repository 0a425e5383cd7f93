// The MPI sweep driver: `mpirun -np N vlmscale run CONFIG` spreads a sweep's jobs over the ranks.
//
// Roles. Every world rank asks the coordinator for work for itself. A job of JobSpec::ranks = k
// ranks runs on k idle ranks the coordinator picks when it starts (RankPacker: EASY backfill,
// preferring one node), data-parallel on those ranks' communicator (GroupComms: built when they
// first run a job together, then reused); the lowest of them leads it (progress, results).
// Rank 0 also runs the coordinator as a second thread, so all N ranks execute jobs; the
// coordinator polls with a short backoff and costs no whole rank. Control messages travel on
// duplicates of MPI_COMM_WORLD (MPI_THREAD_MULTIPLE).
//
// Parts (one file pair each): placement (hosts, threads, GPU), prepare_store (step 1), worker
// (the loop of every rank, job execution, liveness thread), coordinator (its logic, over a
// ControlChannel: mpi_control_channel, or in_process_control_channel in tests), progress_printer
// (everything the coordinator prints), scheduler (which job next), rank_packer (on which ranks),
// group_comms, job_ranks, messages (the wire format).
//
// Protocol (message tags in `Tag`, mpi_control_channel.h; payloads in messages.h):
//   1. Every rank loads and plans the same config. Rank 0 opens the results store, marks jobs
//      already done, appends the new grid points as pending, and broadcasts the outcome (an exit
//      code; non-zero ends every rank with it).
//   2. Each rank sends kRequest (an empty result list) to the coordinator: "I am idle".
//   3. The coordinator hands the ready jobs (priority order, with predicted seconds) to the
//      RankPacker and sends kAssign (AssignMessage: (job index, attempt) pairs and the job's
//      ranks) to every rank of each job it starts. A batch holds one job unless 1-rank jobs are
//      measured to be short (then as many as fill ~10 ms). It journals each job as running.
//      Ranks that got nothing wait; a shutdown flag ends them.
//   4. The job's ranks build or reuse its communicator, agree to start unless one saw a stop, and
//      run it; every rank sends kHeartbeat (HeartbeatMessage: age of its job's last heartbeat()
//      call, local stop flag, the led job's progress) every second.
//   5. The leading rank sends kRequest with the batch's results (JobResultMessage, with an
//      Outcome), the others an empty one. The coordinator journals the results and makes them
//      durable with group commit (at most commit_ms later); only then does it print them and
//      count them as acknowledged. Failed jobs are re-queued up to max_attempts; a NaN error is
//      a failure of class "diverged".
//   6. Stop (SIGTERM, SIGINT, SIGUSR1 on any rank): the coordinator stops dispatching and sends
//      kStop to every rank; jobs checkpoint and return cancelled within grace_seconds; unstarted
//      jobs of a batch come back cancelled. The coordinator commits, snapshots and shuts everyone
//      down with exit code 75. A rank still busy 5 s after the grace period is abandoned: rank 0
//      saves the store (its jobs as pending) and aborts the MPI job with code 75. The run info
//      records the stop's reason and time, and its state (stopping, then stopped) for
//      `vlmscale status`.
//   7. When every job is done or finally failed, the coordinator closes the store, prints a
//      summary and sends shutdown (with the exit code: 0, or 1 if a job failed) to each rank.
#ifndef VLMSCALE_DRIVER_DRIVER_H_
#define VLMSCALE_DRIVER_DRIVER_H_

#include <string>

#include "config/config.h"
#include "config/sweep.h"
#include "core/status.h"
#include "driver/driver_options.h"

namespace vlmscale::driver {

// Runs the sweep on MPI_COMM_WORLD. REQUIRES: MPI initialised with MPI_THREAD_MULTIPLE; every
// rank calls it with the same config and options. `config` is only handed to the jobs
// (JobInput::config); run settings come from `options`. Invalid options or a job that cannot get
// its ranks (CheckJobRanks) return 2 before
// anything is written. Returns the process exit code (0, 1, 2 or 75), the same on
// every rank.
int RunSweep(const config::Config& config, const config::Sweep& sweep,
             const DriverOptions& options);

// Installs SIGTERM, SIGINT and SIGUSR1 handlers that set the stop flag.
void InstallStopHandlers();
bool StopRequested();
// "SIGTERM", "SIGINT" or "SIGUSR1": the first stop signal this process received; "" if none.
const char* StopSignalName();

}  // namespace vlmscale::driver

#endif  // VLMSCALE_DRIVER_DRIVER_H_
