#include "driver/worker.h"

#include <mpi.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstring>
#include <iostream>
#include <memory>
#include <mutex>
#include <new>
#include <thread>
#include <vector>

#include "core/strings.h"
#include "driver/artifacts.h"
#include "driver/mpi_control_channel.h"
#include "driver/prepare_store.h"
#include "driver/timing.h"
#include "jobs/job_type.h"

namespace vlmscale::driver {

namespace {

void WaitFor(MPI_Request* req) {
  Backoff b;
  int done = 0;
  while (true) {
    MPI_Test(req, &done, MPI_STATUS_IGNORE);
    if (done) return;
    b.Wait();
  }
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

// The running job's progress as its JobEnv::progress calls last reported it (leaders only),
// shared by the job's thread and the liveness thread, which sends it with the heartbeats.
struct LiveProgress {
  std::mutex mu;
  int64_t job_index = -1;  // The running job's index, -1 when none has reported progress.
  jobs::JobProgress latest;
  std::vector<store::CurvePoint> pending;  // Curve points not yet sent.

  void Start(int64_t index) {
    std::lock_guard<std::mutex> lock(mu);
    job_index = -1;
    latest = jobs::JobProgress();
    pending.clear();
    starting_index = index;
  }
  void Report(const jobs::JobProgress& p) {
    std::lock_guard<std::mutex> lock(mu);
    job_index = starting_index;
    latest.phase = p.phase;
    latest.step = p.step;
    latest.total = p.total;
    latest.loss = p.loss;
    pending.insert(pending.end(), p.new_points.begin(), p.new_points.end());
  }
  void Finish() {
    std::lock_guard<std::mutex> lock(mu);
    job_index = starting_index = -1;
    pending.clear();
  }
  // Fills the progress fields of `h` and hands over the pending points.
  void Fill(HeartbeatMessage* h) {
    std::lock_guard<std::mutex> lock(mu);
    if (job_index < 0) return;
    h->job_index = job_index;
    h->phase = latest.phase;
    h->step = latest.step;
    h->total = latest.total;
    h->loss = latest.loss;
    h->new_points.swap(pending);
    pending.clear();
  }

 private:
  int64_t starting_index = -1;
};

// The ranks `spec` runs on within this rank's fixed group: its own count, at most the group.
int JobRanksIn(const config::JobSpec& spec, const Placement& place) {
  return std::max(1, std::min(spec.ranks, place.group_size));
}

// Runs one job on this rank (every rank of the job, the first JobRanksIn ranks of the group,
// calls it with the same assignment).
class JobRunner {
 public:
  JobRunner(const WorkerContext& ctx, std::atomic<double>* last_progress,
            std::atomic<bool>* running, LiveProgress* live)
      : ctx_(ctx), last_progress_(last_progress), running_(running), live_(live) {
    // Whether each stage's jobs have directories (and so artifacts to check), asked once per
    // stage rather than by making a job per parent of every job.
    for (const auto& stage : ctx.sweep->stages) {
      const config::JobSpec& first = ctx.sweep->jobs[stage.first_job];
      std::unique_ptr<jobs::Job> job = jobs::CreateJob(*ctx.sweep, first);
      stage_uses_dirs_.push_back(job != nullptr && job->UsesDirectories());
    }
  }

  JobResultMessage Run(const Assignment& a) const {
    const config::Sweep& sweep = *ctx_.sweep;
    const Placement& place = *ctx_.place;
    const config::JobSpec& spec = sweep.jobs[a.index];
    JobResultMessage r;
    r.index = a.index;
    r.attempt = a.attempt;
    r.start_time = UnixNow();
    std::string job_dir = JobDir(sweep, spec);
    std::string run_dir = job_dir + "/attempt-" + std::to_string(a.attempt);
    std::unique_ptr<jobs::Job> job = jobs::CreateJob(sweep, spec);
    // The job's ranks: the first spec.ranks of the group (CheckJobRanks keeps it <= the group).
    std::vector<int> members;
    for (int i = 0; i < JobRanksIn(spec, place); ++i)
      members.push_back(place.leader_of(place.group) + i);
    Result<comm::Communicator*> comm = ctx_.groups->Get(members);
    if (!comm.ok()) {
      r.outcome = Outcome::kFailed;
      r.failure_class = "error";
      r.message = "cannot build the job's communicator: " + comm.status().message();
      r.end_time = UnixNow();
      return r;
    }
    std::vector<jobs::ParentArtifact> parents;
    if (!ReadParents(spec, *comm, &parents, &r)) return r;
    if (job && job->UsesDirectories()) {
      bool made = true;
      if (place.leader() && !MakeDirs(run_dir)) {
        made = false;
        r.outcome = Outcome::kFailed;
        r.failure_class = "error";
        r.message = "cannot create run directory " + run_dir + ": " + std::strerror(errno);
      }
      (*comm)->Barrier();  // Directories exist before any rank of the job uses them.
      if (!made) return r;
    }

    jobs::JobInput in;
    in.config = ctx_.config;
    in.spec = &spec;
    in.sweep = &sweep;
    in.attempt = a.attempt;
    in.run_dir = run_dir;
    in.job_dir = job_dir;
    in.parents = std::move(parents);
    jobs::JobEnv env;
    env.comm = *comm;
    env.local_rank = place.local_rank;
    env.local_size = place.local_size;
    env.device = place.device;
    env.threads = place.threads;
    env.stop_requested = ctx_.stop;
    env.grace_seconds = ctx_.grace_seconds;
    std::atomic<double>* lp = last_progress_;
    env.heartbeat = [lp] { lp->store(MonoNow()); };
    LiveProgress* live = place.leader() ? live_ : nullptr;
    env.progress = [lp, live](const jobs::JobProgress& p) {
      lp->store(MonoNow());
      if (live != nullptr) live->Report(p);
    };
    env.world_master_addr = place.host;
    env.world_master_port = 29500 + (place.group % 1000);
    env.group_world_ranks = members;
    jobs::JobOutput out;
    Status s;
    last_progress_->store(MonoNow());
    live_->Start(a.index);
    running_->store(true);
    try {
      if (!job) {
        s = Status::Runtime("job type '" + sweep.stage_of(spec).job_type +
                            "' is not built into this binary");
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
    running_->store(false);
    live_->Finish();
    r.end_time = UnixNow();
    r.metrics = std::move(out.metrics);
    r.curves = std::move(out.curves);
    r.train_seconds = out.train_seconds;
    r.eval_seconds = out.eval_seconds;
    ClassifyResult(s, out.failure_class, &r);
    if (r.outcome == Outcome::kDone && job && job->UsesDirectories() && place.leader()) {
      // The artifact marker children check before they start (artifacts.h).
      Status w = WriteResultFile(job_dir, sweep, spec, r.metrics);
      if (!w.ok()) {
        r.outcome = Outcome::kFailed;
        r.failure_class = "error";
        r.message = w.message();
      }
    }
    return r;
  }

 private:
  // Fills `parents` with what the job needs, reading each parent's result.json (parents whose
  // type uses no directories have none). If any is missing or unreadable on any rank of the
  // group, returns false with `r` saying so (not started; missing_parents set), so that the
  // coordinator runs those parents again first.
  bool ReadParents(const config::JobSpec& spec, comm::Communicator* comm,
                   std::vector<jobs::ParentArtifact>* parents, JobResultMessage* r) const {
    const config::Sweep& sweep = *ctx_.sweep;
    std::vector<int64_t> with_dirs;
    std::string why;
    for (int64_t p : spec.parents) {
      const config::JobSpec& ps = sweep.jobs[p];
      jobs::ParentArtifact pa;
      pa.stage = sweep.stage_of(ps).name;
      pa.job_id = ps.id;
      if (stage_uses_dirs_[ps.stage]) {
        pa.dir = JobDir(sweep, ps);
        with_dirs.push_back(p);
        Result<std::map<std::string, double>> m = ReadResultFile(pa.dir, ps.id);
        if (m.ok()) {
          pa.metrics = std::move(*m);
        } else {
          r->missing_parents.push_back(p);
          if (!why.empty()) why += "; ";
          why += m.status().message();
        }
      }
      parents->push_back(std::move(pa));
    }
    int missing = r->missing_parents.empty() ? 0 : 1;
    if (comm->size() > 1 && !with_dirs.empty()) {
      double any = missing;
      Status s = comm->AllReduceSumHost(&any, 1);
      missing = !s.ok() || any > 0 ? 1 : 0;
      // Another rank of the group cannot see them: run every parent with artifacts again.
      if (missing && r->missing_parents.empty()) {
        r->missing_parents = with_dirs;
        why = "a rank of the job group cannot read its parents' result.json";
      }
    }
    if (!missing) return true;
    r->outcome = Outcome::kCancelled;
    r->started = false;
    r->message = "not started: the artifacts of jobs it needs are gone (" + why +
                 "); they run again first";
    r->end_time = UnixNow();
    return false;
  }

  const WorkerContext& ctx_;
  std::vector<bool> stage_uses_dirs_;   // Per Sweep::stages entry.
  std::atomic<double>* last_progress_;  // Monotonic seconds of the last heartbeat() call.
  std::atomic<bool>* running_;
  LiveProgress* live_;
};

// Heartbeats and stop relay of one rank (a thread): leaders send progress to the coordinator and
// pick up kStop; they relay a stop to their group's members, who listen for it.
class Liveness {
 public:
  Liveness(const WorkerContext& ctx, std::atomic<double>* last_progress, std::atomic<bool>* running,
           LiveProgress* live)
      : p_(ctx.place),
        stop_(ctx.stop),
        link_(ctx.place),
        last_progress_(last_progress),
        running_(running),
        live_(live),
        thread_([this] { Loop(); }) {}
  ~Liveness() {
    quit_.store(true);
    thread_.join();
  }

 private:
  void Loop() {
    double last_sent = 0;
    bool relayed = false;
    while (!quit_.load()) {
      if (p_->leader()) {
        if (link_.PollStop()) stop_->store(true);
        if (stop_->load() && !relayed) {
          for (int m = 1; m < p_->group_size; ++m) {
            MPI_Send(nullptr, 0, MPI_CHAR, m, static_cast<int>(Tag::kStop), p_->group_control);
          }
          relayed = true;
        }
        double now = MonoNow();
        if (now - last_sent >= 1.0) {
          HeartbeatMessage h;
          h.progress_age = running_->load() ? now - last_progress_->load() : -1.0;
          h.stop_requested = stop_->load();
          live_->Fill(&h);
          link_.SendHeartbeat(h);
          last_sent = now;
        }
      } else {
        int flag = 0;
        MPI_Status st;
        MPI_Iprobe(0, static_cast<int>(Tag::kStop), p_->group_control, &flag, &st);
        if (flag) {
          MPI_Recv(nullptr, 0, MPI_CHAR, 0, static_cast<int>(Tag::kStop), p_->group_control,
                   MPI_STATUS_IGNORE);
          stop_->store(true);
        }
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  }

  const Placement* p_;
  std::atomic<bool>* stop_;
  MpiLeaderLink link_;
  std::atomic<double>* last_progress_;
  std::atomic<bool>* running_;
  LiveProgress* live_;
  std::atomic<bool> quit_{false};
  std::thread thread_;
};

// The loop of every rank: leaders pull batches from the coordinator; members follow their leader.
int WorkerLoop(const WorkerContext& ctx, const JobRunner& runner) {
  const Placement& p = *ctx.place;
  MpiLeaderLink link(&p);
  std::vector<JobResultMessage> results;
  while (true) {
    std::string bytes;
    if (p.leader()) {
      link.SendRequest(results);
      results.clear();
      bytes = link.ReceiveAssign();
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
      int go = ctx.stop->load() ? 0 : 1;
      if (p.group_size > 1) {
        MPI_Request req;
        MPI_Ibcast(&go, 1, MPI_INT, 0, p.group_comm, &req);
        WaitFor(&req);
      }
      if (!go) {
        JobResultMessage r;
        r.index = a.index;
        r.attempt = a.attempt;
        r.outcome = Outcome::kCancelled;
        r.started = false;
        r.message = "not started: stop requested";
        results.push_back(r);
        continue;
      }
      // Ranks of the group beyond the job's own count skip it (the leader always runs it).
      if (p.group_rank >= JobRanksIn(ctx.sweep->jobs[a.index], p)) continue;
      results.push_back(runner.Run(a));
    }
    if (!p.leader()) results.clear();
  }
}

}  // namespace

void ClassifyResult(const Status& s, const std::string& failure_class, JobResultMessage* r) {
  if (s.ok()) {
    auto it = r->metrics.find("error");
    if (it != r->metrics.end() && !std::isfinite(it->second)) {
      r->outcome = Outcome::kFailed;
      r->failure_class = "diverged";
      r->message = "the job's error metric is not finite (" + FormatNumber(it->second) + ")";
    } else {
      r->outcome = Outcome::kDone;
    }
  } else if (s.IsCancelled()) {
    r->outcome = Outcome::kCancelled;
    r->message = s.message();
  } else {
    r->outcome = Outcome::kFailed;
    r->failure_class = failure_class.empty() ? "error" : failure_class;
    r->message = s.message();
  }
}

int RunWorker(const WorkerContext& ctx) {
  std::atomic<double> last_progress{MonoNow()};
  std::atomic<bool> running{false};
  LiveProgress live;
  JobRunner runner(ctx, &last_progress, &running, &live);
  Liveness liveness(ctx, &last_progress, &running, &live);
  return WorkerLoop(ctx, runner);
}

}  // namespace vlmscale::driver
