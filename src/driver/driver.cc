#include "driver/driver.h"

#include <mpi.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <new>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>
#include <vector>

#include "comm/communicator.h"
#include "comm/mpi_communicator.h"
#include "comm/nccl_communicator.h"
#include "config.h"
#include "core/strings.h"
#include "driver/messages.h"
#include "driver/scheduler.h"
#include "jobs/job_type.h"
#include "store/results_store.h"

#if VLMSCALE_HAVE_NCCL
#include <cuda_runtime_api.h>
#endif

namespace vlmscale::driver {

namespace {

std::atomic<bool> g_stop{false};

// After a stop request, groups get run.grace_seconds plus this margin before rank 0 gives up.
constexpr double kAbandonMarginSeconds = 5.0;

extern "C" void OnStopSignal(int) { g_stop.store(true); }

double UnixNow() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

double MonoNow() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// Polls with a short spin then growing sleeps, so idle waits cost no core (OpenMPI's blocking
// calls busy-poll) while busy exchanges stay fast.
class Backoff {
 public:
  void Reset() { idle_ = 0; }
  void Wait() {
    ++idle_;
    if (idle_ < 50) return;
    // Up to 5 ms once idle for long: a quiet coordinator then costs well under 1% of a core.
    int us = idle_ < 200 ? 20 : (idle_ < 1000 ? 200 : (idle_ < 3000 ? 1000 : 5000));
    std::this_thread::sleep_for(std::chrono::microseconds(us));
  }

 private:
  int idle_ = 0;
};

void WaitFor(MPI_Request* req) {
  Backoff b;
  int done = 0;
  while (true) {
    MPI_Test(req, &done, MPI_STATUS_IGNORE);
    if (done) return;
    b.Wait();
  }
}

void SendString(const std::string& s, int dest, Tag tag, MPI_Comm comm) {
  MPI_Send(s.data(), static_cast<int>(s.size()), MPI_CHAR, dest, static_cast<int>(tag), comm);
}

// Receives a message of unknown size; waits with backoff. Returns the source.
int RecvString(int source, Tag tag, MPI_Comm comm, std::string* out) {
  Backoff b;
  MPI_Status st;
  int flag = 0;
  while (true) {
    MPI_Iprobe(source, static_cast<int>(tag), comm, &flag, &st);
    if (flag) break;
    b.Wait();
  }
  int count = 0;
  MPI_Get_count(&st, MPI_CHAR, &count);
  out->resize(count);
  MPI_Recv(out->data(), count, MPI_CHAR, st.MPI_SOURCE, st.MPI_TAG, comm, MPI_STATUS_IGNORE);
  return st.MPI_SOURCE;
}

// Broadcasts a string from group rank 0 with a nonblocking collective and backoff.
void BroadcastString(std::string* s, MPI_Comm comm) {
  int rank;
  MPI_Comm_rank(comm, &rank);
  int64_t n = static_cast<int64_t>(s->size());
  MPI_Request req;
  MPI_Ibcast(&n, 1, MPI_INT64_T, 0, comm, &req);
  WaitFor(&req);
  if (rank != 0) s->resize(n);
  if (n == 0) return;
  MPI_Ibcast(s->data(), static_cast<int>(n), MPI_CHAR, 0, comm, &req);
  WaitFor(&req);
}

double ThreadCpuSeconds() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}

double MaxRssMb() {
  rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return static_cast<double>(ru.ru_maxrss) / 1024.0;  // ru_maxrss is in KiB on Linux.
}

std::string FormatDuration(double s) {
  if (!std::isfinite(s) || s < 0) return "?";
  char buf[64];
  long t = std::lround(s);
  if (t >= 3600) {
    std::snprintf(buf, sizeof(buf), "%ldh%02ldm", t / 3600, (t % 3600) / 60);
  } else if (t >= 60) {
    std::snprintf(buf, sizeof(buf), "%ldm%02lds", t / 60, t % 60);
  } else {
    std::snprintf(buf, sizeof(buf), "%.1fs", s);
  }
  return buf;
}

bool MakeDirs(const std::string& path) {
  std::string cur;
  for (const auto& part : SplitTrimmed(path, '/')) {
    cur += "/" + part;
    if (part.empty()) continue;
    if (mkdir(cur.c_str(), 0755) != 0 && errno != EEXIST) return false;
  }
  return true;
}

// "<results without .h5>.runs": per-job directories (checkpoints, logs, command job output).
std::string RunsRoot(const config::Sweep& sweep) {
  std::string base = sweep.output;
  if (EndsWith(base, ".h5")) base.resize(base.size() - 3);
  return base + ".runs";
}

// ---- Placement ----------------------------------------------------------------------------------

struct Placement {
  int world_rank = 0, world_size = 1;
  int group = 0, group_rank = 0, group_size = 1, groups = 1;
  int local_rank = 0, local_size = 1;
  int device = -1;
  int threads = 1;
  std::string host;
  // Driver messages use two duplicates of world, one per direction, so the coordinator thread on
  // rank 0 never receives messages meant for rank 0's own worker.
  MPI_Comm to_coordinator = MPI_COMM_NULL;  // kRequest, kHeartbeat.
  MPI_Comm to_workers = MPI_COMM_NULL;      // kAssign, kStop.
  MPI_Comm group_comm = MPI_COMM_NULL;     // The job group's ranks (job collectives).
  MPI_Comm group_control = MPI_COMM_NULL;  // Dup of group_comm: stop relay to members.
  bool leader() const { return group_rank == 0; }
  int leader_of(int g) const { return g * group_size; }
};

int VisibleGpus() {
#if VLMSCALE_HAVE_NCCL
  int n = 0;
  if (cudaGetDeviceCount(&n) != cudaSuccess) return 0;
  return n;
#else
  return 0;
#endif
}

Placement Place(const config::Config& config) {
  Placement p;
  MPI_Comm_rank(MPI_COMM_WORLD, &p.world_rank);
  MPI_Comm_size(MPI_COMM_WORLD, &p.world_size);
  p.group_size = static_cast<int>(config.GetInt("run.ranks_per_job"));
  p.groups = p.world_size / p.group_size;
  p.group = p.world_rank / p.group_size;
  p.group_rank = p.world_rank % p.group_size;
  MPI_Comm_dup(MPI_COMM_WORLD, &p.to_coordinator);
  MPI_Comm_dup(MPI_COMM_WORLD, &p.to_workers);
  MPI_Comm_split(MPI_COMM_WORLD, p.group, p.world_rank, &p.group_comm);
  MPI_Comm_dup(p.group_comm, &p.group_control);
  MPI_Comm node;
  MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, p.world_rank, MPI_INFO_NULL, &node);
  MPI_Comm_rank(node, &p.local_rank);
  MPI_Comm_size(node, &p.local_size);
  MPI_Comm_free(&node);
  int gpus = VisibleGpus();
  p.device = gpus > 0 ? p.local_rank % gpus : -1;
  int64_t t = config.GetInt("run.threads_per_rank");
  if (t <= 0) {
    unsigned cores = std::thread::hardware_concurrency();
    t = std::max<int64_t>(1, static_cast<int64_t>(cores) / std::max(1, p.local_size));
  }
  p.threads = static_cast<int>(t);
  char name[MPI_MAX_PROCESSOR_NAME];
  int len = 0;
  MPI_Get_processor_name(name, &len);
  p.host.assign(name, len);
  return p;
}

std::vector<std::string> GatherHosts(const Placement& p) {
  constexpr int kLen = 256;
  char mine[kLen] = {0};
  std::strncpy(mine, p.host.c_str(), kLen - 1);
  std::vector<char> all(p.world_rank == 0 ? kLen * p.world_size : 1);
  MPI_Gather(mine, kLen, MPI_CHAR, all.data(), kLen, MPI_CHAR, 0, MPI_COMM_WORLD);
  std::vector<std::string> hosts;
  if (p.world_rank == 0) {
    for (int r = 0; r < p.world_size; ++r) hosts.emplace_back(&all[r * kLen]);
  }
  return hosts;
}

// ---- Running one job ------------------------------------------------------------------------------

struct JobRunner {
  const config::Config* config;
  const config::Sweep* sweep;
  const Placement* place;
  comm::Communicator* comm;
  std::atomic<double>* last_progress;  // Monotonic seconds of the last heartbeat() call.
  std::atomic<bool>* running;

  JobResultMessage Run(const Assignment& a) const {
    const config::JobSpec& spec = sweep->jobs[a.index];
    JobResultMessage r;
    r.index = a.index;
    r.attempt = a.attempt;
    r.start_time = UnixNow();
    std::string job_dir = RunsRoot(*sweep) + "/" + spec.id;
    std::string run_dir = job_dir + "/attempt-" + std::to_string(a.attempt);
    std::unique_ptr<jobs::Job> job = jobs::CreateJob(*sweep);
    if (job && job->UsesDirectories()) {
      if (place->leader() && !MakeDirs(run_dir)) {
        r.outcome = "failed";
        r.failure_class = "error";
        r.message = "cannot create run directory " + run_dir + ": " + std::strerror(errno);
      }
      MPI_Barrier(place->group_comm);  // Directories exist before any rank uses them.
      if (!r.outcome.empty()) return r;
    }

    jobs::JobInput in;
    in.config = config;
    in.spec = &spec;
    in.sweep = sweep;
    in.attempt = a.attempt;
    in.run_dir = run_dir;
    in.job_dir = job_dir;
    jobs::JobEnv env;
    env.comm = comm;
    env.local_rank = place->local_rank;
    env.local_size = place->local_size;
    env.device = place->device;
    env.threads = place->threads;
    env.stop_requested = &g_stop;
    env.grace_seconds = config->GetDouble("run.grace_seconds");
    std::atomic<double>* lp = last_progress;
    env.heartbeat = [lp] { lp->store(MonoNow()); };
    env.world_master_addr = place->host;
    env.world_master_port = 29500 + (place->group % 1000);
    for (int i = 0; i < place->group_size; ++i) {
      env.group_world_ranks.push_back(place->leader_of(place->group) + i);
    }
    jobs::JobOutput out;
    Status s;
    last_progress->store(MonoNow());
    running->store(true);
    try {
      if (!job) {
        s = Status::Runtime("job type '" + sweep->job_type + "' is not built into this binary");
      } else {
        s = job->Run(in, env, &out);
      }
    } catch (const std::bad_alloc& e) {
      s = Status::Runtime(std::string("out of memory (std::bad_alloc): ") + e.what());
      out.failure_class = "oom";
    } catch (const std::exception& e) {
      s = Status::Runtime(std::string("uncaught exception: ") + e.what());
      if (out.failure_class.empty()) out.failure_class = "error";
    } catch (...) {
      s = Status::Runtime("uncaught non-standard exception");
      if (out.failure_class.empty()) out.failure_class = "error";
    }
    running->store(false);
    r.end_time = UnixNow();
    r.metrics = std::move(out.metrics);
    r.curves = std::move(out.curves);
    r.train_seconds = out.train_seconds;
    r.eval_seconds = out.eval_seconds;
    if (s.ok()) {
      auto it = r.metrics.find("error");
      if (it != r.metrics.end() && !std::isfinite(it->second)) {
        r.outcome = "failed";
        r.failure_class = "diverged";
        r.message = "the job's error metric is not finite (" + FormatNumber(it->second) + ")";
      } else {
        r.outcome = "done";
      }
    } else if (s.IsCancelled()) {
      r.outcome = "cancelled";
      r.message = s.message();
    } else {
      r.outcome = "failed";
      r.failure_class = out.failure_class.empty() ? "error" : out.failure_class;
      r.message = s.message();
    }
    return r;
  }
};

// Heartbeats and stop relay of one rank (a thread): leaders send progress to the coordinator and
// pick up kStop; they relay a stop to their group's members, who listen for it.
class Liveness {
 public:
  Liveness(const Placement* p, std::atomic<double>* last_progress, std::atomic<bool>* running)
      : p_(p), last_progress_(last_progress), running_(running), thread_([this] { Loop(); }) {}
  ~Liveness() {
    quit_.store(true);
    thread_.join();
  }

 private:
  void Loop() {
    double last_sent = 0;
    bool relayed = false;
    while (!quit_.load()) {
      int flag = 0;
      MPI_Status st;
      if (p_->leader()) {
        MPI_Iprobe(0, static_cast<int>(Tag::kStop), p_->to_workers, &flag, &st);
        if (flag) {
          MPI_Recv(nullptr, 0, MPI_CHAR, 0, static_cast<int>(Tag::kStop), p_->to_workers,
                   MPI_STATUS_IGNORE);
          g_stop.store(true);
        }
        if (g_stop.load() && !relayed) {
          for (int m = 1; m < p_->group_size; ++m) {
            MPI_Send(nullptr, 0, MPI_CHAR, m, static_cast<int>(Tag::kStop), p_->group_control);
          }
          relayed = true;
        }
        double now = MonoNow();
        if (now - last_sent >= 1.0) {
          double msg[2] = {running_->load() ? now - last_progress_->load() : -1.0,
                           g_stop.load() ? 1.0 : 0.0};
          MPI_Send(msg, 2, MPI_DOUBLE, 0, static_cast<int>(Tag::kHeartbeat), p_->to_coordinator);
          last_sent = now;
        }
      } else {
        MPI_Iprobe(0, static_cast<int>(Tag::kStop), p_->group_control, &flag, &st);
        if (flag) {
          MPI_Recv(nullptr, 0, MPI_CHAR, 0, static_cast<int>(Tag::kStop), p_->group_control,
                   MPI_STATUS_IGNORE);
          g_stop.store(true);
        }
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  }

  const Placement* p_;
  std::atomic<double>* last_progress_;
  std::atomic<bool>* running_;
  std::atomic<bool> quit_{false};
  std::thread thread_;
};

// The loop of every rank: leaders pull batches from the coordinator; members follow their leader.
int WorkerLoop(const JobRunner& runner, const Placement& p) {
  std::vector<JobResultMessage> results;
  while (true) {
    std::string bytes;
    if (p.leader()) {
      SendString(EncodeResults(results), 0, Tag::kRequest, p.to_coordinator);
      results.clear();
      RecvString(0, Tag::kAssign, p.to_workers, &bytes);
    }
    if (p.group_size > 1) BroadcastString(&bytes, p.group_comm);
    Result<AssignMessage> m = DecodeAssign(bytes);
    if (!m.ok()) {
      std::cerr << "vlmscale run: rank " << p.world_rank << ": " << m.status().message()
                << std::endl;
      MPI_Abort(MPI_COMM_WORLD, kExitFailure);
    }
    if (m->shutdown) return m->exit_code;
    for (const auto& a : m->batch) {
      // The leader decides for the whole group whether to start the job (a stop may have come).
      int go = g_stop.load() ? 0 : 1;
      if (p.group_size > 1) {
        MPI_Request req;
        MPI_Ibcast(&go, 1, MPI_INT, 0, p.group_comm, &req);
        WaitFor(&req);
      }
      if (!go) {
        JobResultMessage r;
        r.index = a.index;
        r.attempt = a.attempt;
        r.outcome = "cancelled";
        r.started = false;
        r.message = "not started: stop requested";
        results.push_back(r);
        continue;
      }
      results.push_back(runner.Run(a));
    }
    if (!p.leader()) results.clear();
  }
}

// ---- Coordinator ----------------------------------------------------------------------------------

class Coordinator {
 public:
  Coordinator(const config::Config& config, const config::Sweep& sweep, const Placement& place,
              std::vector<std::string> hosts, store::ResultsStore* store,
              const std::vector<bool>& runnable, const DriverOptions& options)
      : config_(config),
        sweep_(sweep),
        place_(place),
        hosts_(std::move(hosts)),
        store_(store),
        options_(options),
        sched_(sweep, runnable, static_cast<int>(config.GetInt("run.max_attempts")),
               config.GetString("run.order") == "grid"),
        groups_(place.groups) {
    grace_ = config.GetDouble("run.grace_seconds");
    stall_ = config.GetDouble("run.stall_seconds");
    commit_window_ = config.GetDouble("run.commit_ms") / 1000.0;
    max_attempts_ = static_cast<int>(config.GetInt("run.max_attempts"));
    start_mono_ = MonoNow();
    start_unix_ = UnixNow();
    for (const auto& j : sweep_.jobs) {
      const store::JobRecord* r = Find(j.id);
      attempts_.push_back(r ? r->attempts : 0);
    }
  }

  // The coordinator thread's body. Returns the exit code it sent to everyone.
  int Run() {
    PrintStart();
    Backoff backoff;
    double last_tick = 0;
    while (true) {
      bool progressed = false;
      int flag = 0;
      MPI_Status st;
      while (true) {
        MPI_Iprobe(MPI_ANY_SOURCE, MPI_ANY_TAG, place_.to_coordinator, &flag, &st);
        if (!flag) break;
        Handle(st);
        progressed = true;
      }
      if (g_stop.load() && !stopping_) BeginStop("stop requested by a signal");
      DispatchParked();
      MaybeCommit(!progressed);
      double now = MonoNow();
      if (now - last_tick >= 1.0) {
        Tick();
        last_tick = now;
      }
      if (AllIdle() && (sched_.Settled() || stopping_)) break;
      if (stopping_ && now > stop_deadline_) {
        Abandon();
        return exit_code_;  // Not reached: Abandon aborts.
      }
      if (progressed) {
        backoff.Reset();
      } else {
        backoff.Wait();
      }
    }
    exit_code_ = stopping_ ? (store_failed_ ? kExitFailure : kExitStopped)
                           : (sched_.failed() > 0 || store_failed_ ? kExitFailure : kExitOk);
    Finish();
    AssignMessage bye;
    bye.shutdown = true;
    bye.exit_code = exit_code_;
    std::string bytes = EncodeAssign(bye);
    for (int g = 0; g < static_cast<int>(groups_.size()); ++g) {
      SendString(bytes, place_.leader_of(g), Tag::kAssign, place_.to_workers);
    }
    return exit_code_;
  }

 private:
  struct GroupState {
    bool busy = false;    // Running a batch.
    bool parked = false;  // Idle, waiting for work.
    std::vector<Assignment> batch;
    double heartbeat_mono = 0;  // When the last heartbeat arrived.
    double progress_age = -1;   // Seconds since the job's last progress, as last reported.
    bool stalled_reported = false;
  };

  const store::JobRecord* Find(const std::string& id) const {
    auto it = store_->jobs().find(id);
    return it == store_->jobs().end() ? nullptr : &it->second;
  }

  void Handle(const MPI_Status& st) {
    int count = 0;
    MPI_Get_count(&st, MPI_CHAR, &count);
    std::string bytes(count, '\0');
    MPI_Recv(bytes.data(), count, MPI_CHAR, st.MPI_SOURCE, st.MPI_TAG, place_.to_coordinator,
             MPI_STATUS_IGNORE);
    int group = st.MPI_SOURCE / place_.group_size;
    GroupState& g = groups_[group];
    g.heartbeat_mono = MonoNow();
    if (st.MPI_TAG == static_cast<int>(Tag::kHeartbeat)) {
      double msg[2];
      std::memcpy(msg, bytes.data(), sizeof(msg));
      g.progress_age = msg[0];
      if (msg[1] != 0.0 && !stopping_) {
        BeginStop("stop requested by a signal on rank " + std::to_string(st.MPI_SOURCE));
      }
      return;
    }
    if (st.MPI_TAG != static_cast<int>(Tag::kRequest)) return;
    Result<std::vector<JobResultMessage>> results = DecodeResults(bytes);
    if (!results.ok()) {
      Log("error: rank " + std::to_string(st.MPI_SOURCE) + ": " + results.status().message());
    } else {
      for (const auto& r : *results) Record(r, group);
    }
    g.busy = false;
    g.batch.clear();
    g.progress_age = -1;
    if (g.stalled_reported) {
      g.stalled_reported = false;
      Log("group " + std::to_string(group) + " (rank " + std::to_string(place_.leader_of(group)) +
          ") reports again");
    }
    g.parked = true;
  }

  // Journals a job's outcome; it is printed once committed.
  void Record(const JobResultMessage& r, int group) {
    const config::JobSpec& spec = sweep_.jobs[r.index];
    store::JobRecord rec = *Find(spec.id);
    double seconds = r.end_time - r.start_time;
    Outcome outcome = r.outcome == "done"     ? Outcome::kDone
                      : r.outcome == "failed" ? Outcome::kFailed
                                              : Outcome::kCancelled;
    bool final_failure = sched_.Finish(r.index, outcome, seconds);
    if (!r.started) {
      // Never started: undo the attempt count of the dispatch.
      rec.attempts = std::max(0, rec.attempts - 1);
      attempts_[r.index] = rec.attempts;
    }
    rec.start_time = r.start_time;
    rec.end_time = r.end_time;
    rec.train_seconds = r.train_seconds;
    rec.eval_seconds = r.eval_seconds;
    if (outcome == Outcome::kDone) {
      rec.state = store::JobState::kDone;
      rec.failure_class.clear();
      rec.message.clear();
      rec.extra_metrics.clear();
      for (const auto& [k, v] : r.metrics) {
        if (k == "error") rec.error = v;
        else if (k == "accuracy") rec.accuracy = v;
        else if (k == "eval_loss") rec.eval_loss = v;
        else if (k == "inference_flops") rec.inference_flops = v;
        else if (k == "compressor_flops") rec.compressor_flops = v;
        else if (k == "latency_ms") rec.latency_ms = v;
        else rec.extra_metrics[k] = v;
      }
      if (std::isnan(rec.inference_flops)) rec.inference_flops = spec.inference_flops;
      if (std::isnan(rec.accuracy) && std::isfinite(rec.error)) rec.accuracy = 1.0 - rec.error;
      rec.curves = r.curves;
    } else if (outcome == Outcome::kFailed) {
      rec.state = final_failure ? store::JobState::kFailed : store::JobState::kPending;
      rec.failure_class = r.failure_class;
      rec.message = r.message;
      rec.curves = r.curves;
    } else {
      rec.state = store::JobState::kPending;
    }
    Append(rec);
    unacked_.push_back({r, group, final_failure});
  }

  void Append(const store::JobRecord& rec) {
    Status s = store_->Append(rec);
    if (!s.ok()) StoreError(s);
  }

  void StoreError(const Status& s) {
    if (!store_failed_) {
      Log("error: results store " + sweep_.output + ": " + s.message() +
          " -- stopping; results acknowledged so far are safe, run again to resume");
    }
    store_failed_ = true;
    if (!stopping_) BeginStop("results store failure");
  }

  bool AllIdle() const {
    for (const auto& g : groups_) {
      if (g.busy) return false;
    }
    return true;
  }

  void DispatchParked() {
    for (int gi = 0; gi < static_cast<int>(groups_.size()); ++gi) {
      GroupState& g = groups_[gi];
      if (!g.parked || stopping_ || sched_.pending() == 0) continue;
      AssignMessage m;
      double planned = 0;
      while (true) {
        int64_t idx = sched_.Next();
        if (idx < 0) break;
        double pred = sched_.Predict(idx);
        int attempt = ++attempts_[idx];
        m.batch.push_back({idx, attempt});
        planned += pred;
        MarkRunning(idx, attempt, gi);
        // Batch short jobs (measured, not guessed) to amortise messages; keep work for others.
        if (!sched_.calibrated() || planned >= 0.01 || m.batch.size() >= 256) break;
        if (sched_.pending() <= static_cast<int64_t>(groups_.size())) break;
      }
      if (m.batch.empty()) continue;
      g.parked = false;
      g.busy = true;
      g.batch = m.batch;
      g.heartbeat_mono = MonoNow();
      g.progress_age = 0;
      SendString(EncodeAssign(m), place_.leader_of(gi), Tag::kAssign, place_.to_workers);
    }
  }

  void MarkRunning(int64_t idx, int attempt, int group) {
    store::JobRecord rec = *Find(sweep_.jobs[idx].id);
    rec.state = store::JobState::kRunning;
    rec.attempts = attempt;
    rec.rank = place_.leader_of(group);
    rec.host = hosts_[rec.rank];
    rec.start_time = UnixNow();
    rec.end_time = 0;
    Append(rec);
  }

  void MaybeCommit(bool idle) {
    if (unacked_.empty() && !dirty_run_info_) {
      // Running-state appends still need committing for live status, but are not urgent.
      if (!idle) return;
    }
    double now = MonoNow();
    if (first_unacked_ == 0 && !unacked_.empty()) first_unacked_ = now;
    bool due = idle || (first_unacked_ > 0 && now - first_unacked_ >= commit_window_);
    if (!due) return;
    Status s = store_->Commit();
    if (!s.ok()) {
      StoreError(s);
      return;
    }
    first_unacked_ = 0;
    dirty_run_info_ = false;
    if (!unacked_.empty()) {
      for (const auto& u : unacked_) PrintJob(u);
      unacked_.clear();
      PrintProgress(false);
    }
  }

  void Tick() {
    double now = MonoNow();
    // Liveness.
    std::vector<nlohmann::json> stalled;
    for (int gi = 0; gi < static_cast<int>(groups_.size()); ++gi) {
      GroupState& g = groups_[gi];
      if (!g.busy) continue;
      double silent = std::max(now - g.heartbeat_mono,
                               g.progress_age >= 0 ? g.progress_age + (now - g.heartbeat_mono) : 0);
      if (silent < stall_) continue;
      const std::string& id = sweep_.jobs[g.batch.front().index].id;
      stalled.push_back({{"rank", place_.leader_of(gi)},
                         {"host", hosts_[place_.leader_of(gi)]},
                         {"job_id", id},
                         {"silent_seconds", silent}});
      if (!g.stalled_reported) {
        g.stalled_reported = true;
        Log("warning: rank " + std::to_string(place_.leader_of(gi)) + " on " +
            hosts_[place_.leader_of(gi)] + " has not reported progress for " +
            FormatDuration(silent) + " (job " + id + "); run.stall_seconds = " +
            FormatNumber(stall_));
      }
    }
    nlohmann::json info = {
        {"state", stopping_ ? "stopping" : "running"},
        {"started", start_unix_},
        {"updated", UnixNow()},
        {"ranks", place_.world_size},
        {"ranks_per_job", place_.group_size},
        {"groups", place_.groups},
        {"hosts", hosts_},
        {"pid", static_cast<int64_t>(getpid())},
        {"eta_seconds", sched_.EtaSeconds(place_.groups)},
        {"eta_calibrated", sched_.calibrated()},
        {"stalled", stalled},
        {"done", sched_.done() + sched_.skipped()},
        {"failed", sched_.failed()},
        {"running", sched_.running()},
        {"pending", sched_.pending()},
    };
    if (const char* id = std::getenv("SLURM_JOB_ID")) info["slurm_job_id"] = id;
    if (const char* rc = std::getenv("SLURM_RESTART_COUNT")) info["requeues"] = std::atoi(rc);
    Status s = store_->SetRunInfo(info.dump());
    if (!s.ok()) StoreError(s);
    dirty_run_info_ = true;
    Status snap = store_->MaybeSnapshot();
    if (!snap.ok()) StoreError(snap);
    if (now - last_progress_print_ >= 30.0) PrintProgress(true);
  }

  void BeginStop(const std::string& why) {
    stopping_ = true;
    stop_deadline_ = MonoNow() + grace_ + kAbandonMarginSeconds;
    Log("stopping (" + why + "): no new jobs; running jobs checkpoint and stop within " +
        FormatNumber(grace_) + " s; run the same command again to resume");
    for (int g = 0; g < static_cast<int>(groups_.size()); ++g) {
      MPI_Send(nullptr, 0, MPI_CHAR, place_.leader_of(g), static_cast<int>(Tag::kStop),
               place_.to_workers);
    }
  }

  void Finish() {
    nlohmann::json info = {{"state", stopping_ ? "stopped" : "finished"},
                           {"started", start_unix_},
                           {"updated", UnixNow()},
                           {"ranks", place_.world_size},
                           {"eta_seconds", 0.0},
                           {"stalled", nlohmann::json::array()}};
    if (const char* id = std::getenv("SLURM_JOB_ID")) info["slurm_job_id"] = id;
    if (const char* rc = std::getenv("SLURM_RESTART_COUNT")) info["requeues"] = std::atoi(rc);
    store_->SetRunInfo(info.dump());
    Status s = store_->Commit();
    if (s.ok() && !unacked_.empty()) {
      for (const auto& u : unacked_) PrintJob(u);
      unacked_.clear();
    }
    Status c = store_->Close();
    if (!s.ok() || !c.ok()) {
      store_failed_ = true;
      Log("error: results store " + sweep_.output + ": " + (!s.ok() ? s : c).message());
      exit_code_ = kExitFailure;
    }
    PrintSummary();
  }

  [[noreturn]] void Abandon() {
    std::string who;
    for (int g = 0; g < static_cast<int>(groups_.size()); ++g) {
      if (groups_[g].busy) who += " " + std::to_string(place_.leader_of(g));
    }
    Log("error: ranks" + who + " did not stop within run.grace_seconds + " +
        FormatNumber(kAbandonMarginSeconds) + " s; saving results " +
        "and aborting the MPI job (exit 75); run again to resume");
    exit_code_ = kExitStopped;
    Finish();
    std::fflush(stdout);
    std::fflush(stderr);
    MPI_Abort(MPI_COMM_WORLD, kExitStopped);
    std::_Exit(kExitStopped);
  }

  // ---- Output ----

  struct Unacked {
    JobResultMessage r;
    int group;
    bool final_failure;
  };

  void Log(const std::string& line) {
    if (options_.log_format == LogFormat::kJson) {
      std::cout << nlohmann::json{{"event", "log"}, {"time", UnixNow()}, {"message", line}}.dump()
                << std::endl;
    } else {
      std::cout << "vlmscale run: " << line << std::endl;
    }
  }

  void PrintStart() {
    if (options_.log_format == LogFormat::kJson) {
      std::cout << nlohmann::json{{"event", "start"},
                                  {"sweep", sweep_.name},
                                  {"output", sweep_.output},
                                  {"jobs", sweep_.jobs.size()},
                                  {"to_run", sched_.pending()},
                                  {"already_done", sched_.skipped()},
                                  {"ranks", place_.world_size},
                                  {"ranks_per_job", place_.group_size}}
                       .dump()
                << std::endl;
      return;
    }
    std::cout << "vlmscale run: sweep '" << sweep_.name << "': " << sweep_.jobs.size()
              << " jobs (" << sched_.skipped() << " already done, " << sched_.pending()
              << " to run) on " << place_.world_size << " ranks, " << place_.groups
              << " job groups of " << place_.group_size << " -> " << sweep_.output << std::endl;
  }

  void PrintJob(const Unacked& u) {
    const JobResultMessage& r = u.r;
    if (!r.started || (options_.quiet && r.outcome == "done")) return;
    const config::JobSpec& spec = sweep_.jobs[r.index];
    const auto& p = spec.point;
    double seconds = r.end_time - r.start_time;
    int64_t finished = sched_.done() + sched_.failed() + sched_.skipped();
    if (options_.log_format == LogFormat::kJson) {
      nlohmann::json j = {{"event", "job"},
                          {"job_id", spec.id},
                          {"outcome", r.outcome},
                          {"final", r.outcome != "failed" || u.final_failure},
                          {"attempt", r.attempt},
                          {"llm", p.llm},
                          {"n_params", p.n_params},
                          {"visual_tokens", p.visual_tokens},
                          {"method", p.method},
                          {"task", p.task},
                          {"seed", p.seed},
                          {"seconds", seconds},
                          {"rank", place_.leader_of(u.group)}};
      auto e = r.metrics.find("error");
      if (e != r.metrics.end() && std::isfinite(e->second)) j["error"] = e->second;
      if (!r.failure_class.empty()) j["failure_class"] = r.failure_class;
      if (!r.message.empty()) j["message"] = r.message;
      std::cout << j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << std::endl;
      return;
    }
    char head[128];
    std::snprintf(head, sizeof(head), "[%*lld/%zu] ", static_cast<int>(std::to_string(sweep_.jobs.size()).size()),
                  static_cast<long long>(finished), sweep_.jobs.size());
    std::string point = p.llm + " N=" + HumanCount(p.n_params) + " V=" +
                        std::to_string(p.visual_tokens) + " " + p.method + " " + p.task + " s" +
                        std::to_string(p.seed);
    std::string line = head;
    if (r.outcome == "done") {
      auto e = r.metrics.find("error");
      line += "done    " + spec.id + "  " + point + "  error=" +
              (e != r.metrics.end() ? FormatNumber(e->second, 4) : std::string("-")) + "  " +
              FormatDuration(seconds) + "  rank " + std::to_string(place_.leader_of(u.group));
    } else if (r.outcome == "failed") {
      line += std::string(u.final_failure ? "FAILED  " : "failed  ") + spec.id + "  " + point +
              "  [" + r.failure_class + "] attempt " + std::to_string(sched_.failures(r.index)) +
              "/" + std::to_string(max_attempts_) + (u.final_failure ? "" : " (will retry)") +
              ": " + FirstLine(r.message);
    } else {
      line += "stopped " + spec.id + "  " + point + "  (will resume)";
    }
    std::cout << line << std::endl;
  }

  static std::string FirstLine(const std::string& s) {
    size_t nl = s.find('\n');
    std::string first = nl == std::string::npos ? s : s.substr(0, nl) + " ...";
    return first.size() > 300 ? first.substr(0, 300) + "..." : first;
  }

  void PrintProgress(bool force) {
    double now = MonoNow();
    if (!force && now - last_progress_print_ < 1.0 && !sched_.Settled()) return;
    last_progress_print_ = now;
    if (options_.quiet) return;
    double eta = sched_.calibrated() ? sched_.EtaSeconds(place_.groups) : NAN;
    if (options_.log_format == LogFormat::kJson) {
      std::cout << nlohmann::json{{"event", "progress"},
                                  {"done", sched_.done() + sched_.skipped()},
                                  {"failed", sched_.failed()},
                                  {"running", sched_.running()},
                                  {"pending", sched_.pending()},
                                  {"elapsed_seconds", now - start_mono_},
                                  {"eta_seconds", std::isfinite(eta) ? nlohmann::json(eta)
                                                                      : nlohmann::json(nullptr)}}
                       .dump()
                << std::endl;
      return;
    }
    std::cout << "progress: " << sched_.done() + sched_.skipped() << " done, " << sched_.failed()
              << " failed, " << sched_.running() << " running, " << sched_.pending()
              << " pending | elapsed " << FormatDuration(now - start_mono_) << " | ETA "
              << (std::isfinite(eta) ? FormatDuration(eta) : std::string("(measuring)"))
              << std::endl;
  }

  void PrintSummary() {
    double elapsed = MonoNow() - start_mono_;
    std::map<std::string, int> classes;
    std::vector<const store::JobRecord*> failed;
    for (const auto& j : sweep_.jobs) {
      const store::JobRecord* r = Find(j.id);
      if (r && r->state == store::JobState::kFailed) {
        failed.push_back(r);
        classes[r->failure_class]++;
      }
    }
    if (options_.log_format == LogFormat::kJson) {
      std::cout << nlohmann::json{{"event", "summary"},
                                  {"done", sched_.done() + sched_.skipped()},
                                  {"done_this_run", sched_.done()},
                                  {"failed", sched_.failed()},
                                  {"pending", sched_.pending() + sched_.running()},
                                  {"elapsed_seconds", elapsed},
                                  {"coordinator_cpu_seconds", ThreadCpuSeconds()},
                                  {"rank0_max_rss_mb", MaxRssMb()},
                                  {"exit_code", exit_code_},
                                  {"output", sweep_.output}}
                       .dump()
                << std::endl;
      return;
    }
    std::cout << "\n== summary: sweep '" << sweep_.name << "' (" << sweep_.output << ")\n"
              << "  jobs            " << sweep_.jobs.size() << "\n"
              << "  done            " << sched_.done() + sched_.skipped() << " ("
              << sched_.done() << " this run)\n"
              << "  failed          " << sched_.failed() << "\n"
              << "  not finished    " << sched_.pending() + sched_.running() << "\n"
              << "  elapsed         " << FormatDuration(elapsed) << "\n"
              << "  coordinator     " << FormatNumber(ThreadCpuSeconds(), 3) << " s CPU, rank 0 peak "
              << FormatNumber(MaxRssMb(), 4) << " MiB\n";
    for (const auto& [cls, n] : classes) {
      std::cout << "  failed [" << cls << "]" << std::string(cls.size() < 6 ? 6 - cls.size() : 0, ' ')
                << "  " << n << "\n";
    }
    for (const auto* r : failed) {
      std::cout << "  - " << r->job_id << " " << r->llm << " V=" << r->visual_tokens << " "
                << r->method << " " << r->task << " s" << r->seed << " [" << r->failure_class
                << "] after " << r->attempts << " attempts: " << FirstLine(r->message) << "\n";
    }
    const char* verdict = exit_code_ == kExitOk        ? "complete"
                          : exit_code_ == kExitStopped ? "stopped; run the same command to resume"
                                                       : "finished with failures (exit 1)";
    std::cout << "  status          " << verdict << std::endl;
  }

  const config::Config& config_;
  const config::Sweep& sweep_;
  const Placement& place_;
  std::vector<std::string> hosts_;
  store::ResultsStore* store_;
  DriverOptions options_;
  Scheduler sched_;
  std::vector<GroupState> groups_;
  std::vector<int> attempts_;
  std::vector<Unacked> unacked_;
  double first_unacked_ = 0;
  bool dirty_run_info_ = false;
  double grace_ = 30, stall_ = 300, commit_window_ = 0.002;
  int max_attempts_ = 2;
  bool stopping_ = false;
  double stop_deadline_ = 0;
  bool store_failed_ = false;
  int exit_code_ = 0;
  double start_mono_ = 0, start_unix_ = 0, last_progress_print_ = 0;
};

int ReportStoreError(const Status& s) {
  std::cerr << "vlmscale run: error: results store: " << s.message() << std::endl;
  return ExitCodeFor(s);
}

// Rank 0: opens the store and prepares it. Returns the store or an exit code on failure.
int PrepareStore(const config::Config& config, const config::Sweep& sweep,
                 const DriverOptions& options, std::unique_ptr<store::ResultsStore>* out,
                 std::vector<bool>* runnable) {
  std::string dir = sweep.output.substr(0, sweep.output.rfind('/'));
  if (!dir.empty() && !MakeDirs(dir)) {
    std::cerr << "vlmscale run: error: cannot create directory " << dir << ": "
              << std::strerror(errno) << std::endl;
    return kExitFailure;
  }
  store::StoreOptions so;
  so.path = sweep.output;
  so.sweep_name = sweep.name;
  so.config_text = config.ResolvedText();
  so.fresh = options.fresh;
  so.snapshot_interval_seconds = config.GetDouble("run.snapshot_seconds");
  Result<std::unique_ptr<store::ResultsStore>> st = store::ResultsStore::Open(so);
  if (!st.ok()) {
    std::cerr << "vlmscale run: error: " << st.status().message() << std::endl;
    return ExitCodeFor(st.status());
  }
  std::unique_ptr<store::ResultsStore> s = std::move(*st);
  if (!s->warning().empty()) std::cerr << "vlmscale run: warning: " << s->warning() << std::endl;
  if (!s->moved_aside_path().empty()) {
    std::cout << "vlmscale run: --fresh: moved the previous results to " << s->moved_aside_path()
              << std::endl;
  }
  runnable->assign(sweep.jobs.size(), true);
  for (size_t i = 0; i < sweep.jobs.size(); ++i) {
    const config::JobSpec& j = sweep.jobs[i];
    auto it = s->jobs().find(j.id);
    if (it != s->jobs().end()) {
      store::JobRecord rec = it->second;
      if (rec.state == store::JobState::kDone) {
        (*runnable)[i] = false;
        continue;
      }
      if (rec.state == store::JobState::kRunning) {
        rec.state = store::JobState::kPending;  // Interrupted by a crash: run it again.
        Status a = s->Append(rec);
        if (!a.ok()) return ReportStoreError(a);
      }
      continue;
    }
    store::JobRecord rec;
    rec.job_id = j.id;
    rec.llm = j.point.llm;
    rec.n_params = j.point.n_params;
    rec.visual_tokens = j.point.visual_tokens;
    rec.method = j.point.method;
    rec.task = j.point.task;
    rec.seed = j.point.seed;
    rec.state = store::JobState::kPending;
    rec.est_cost = j.est_cost;
    rec.inference_flops = j.inference_flops;
    Status a = s->Append(rec);
    if (!a.ok()) return ReportStoreError(a);
  }
  Status c = s->Commit();
  if (!c.ok()) return ReportStoreError(c);
  *out = std::move(s);
  return kExitOk;
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

int RunSweep(const config::Config& config, const config::Sweep& sweep,
             const DriverOptions& options) {
  int rank = 0, size = 1;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  int64_t k = config.GetInt("run.ranks_per_job");
  if (size % k != 0) {
    if (rank == 0) {
      std::cerr << "vlmscale run: error: " << config.Get("run.ranks_per_job").origin
                << ": key 'run.ranks_per_job': expected a divisor of the number of MPI ranks ("
                << size << "), got " << k << std::endl;
    }
    return kExitUsage;
  }
  Placement place = Place(config);
  std::vector<std::string> hosts = GatherHosts(place);

  std::unique_ptr<store::ResultsStore> store;
  std::vector<bool> runnable;
  int code = kExitOk;
  if (rank == 0) code = PrepareStore(config, sweep, options, &store, &runnable);
  MPI_Bcast(&code, 1, MPI_INT, 0, MPI_COMM_WORLD);
  if (code != kExitOk) return code;

  // The job group's communicator: NCCL on GPUs when built with it, MPI across ranks, or none.
  std::unique_ptr<comm::Communicator> group_comm;
  Status cs;
  if (place.group_size == 1) {
    group_comm = comm::MakeSingleRankCommunicator();
  } else if (place.device >= 0 && VLMSCALE_HAVE_NCCL) {
    Result<std::unique_ptr<comm::Communicator>> c =
        comm::MakeNcclCommunicator(place.group_comm, place.device);
    if (c.ok()) group_comm = std::move(*c); else cs = c.status();
  } else {
    Result<std::unique_ptr<comm::Communicator>> c = comm::MakeMpiCommunicator(place.group_comm);
    if (c.ok()) group_comm = std::move(*c); else cs = c.status();
  }
  if (!cs.ok()) {
    std::cerr << "vlmscale run: error: rank " << rank << ": " << cs.message() << std::endl;
    MPI_Abort(MPI_COMM_WORLD, kExitFailure);
  }

  std::atomic<double> last_progress{MonoNow()};
  std::atomic<bool> running{false};
  JobRunner runner{&config, &sweep, &place, group_comm.get(), &last_progress, &running};

  std::unique_ptr<Coordinator> coordinator;
  std::thread coordinator_thread;
  if (rank == 0) {
    coordinator = std::make_unique<Coordinator>(config, sweep, place, hosts, store.get(),
                                                runnable, options);
    coordinator_thread = std::thread([&] { coordinator->Run(); });
  }
  int exit_code;
  {
    Liveness liveness(&place, &last_progress, &running);
    exit_code = WorkerLoop(runner, place);
  }
  if (coordinator_thread.joinable()) coordinator_thread.join();
  group_comm.reset();
  MPI_Comm_free(&place.group_control);
  MPI_Comm_free(&place.group_comm);
  MPI_Comm_free(&place.to_workers);
  MPI_Comm_free(&place.to_coordinator);
  return exit_code;
}

}  // namespace vlmscale::driver
