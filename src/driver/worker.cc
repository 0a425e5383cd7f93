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

// The running job's progress as its JobEnv::progress calls last reported it (its leading rank),
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

// Runs one job on this rank (every rank of the job calls it with the same assignment, on the
// job's communicator).
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

  JobResultMessage Run(const Assignment& a, const std::vector<int>& members,
                       comm::Communicator* comm) const {
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
    const bool leads = members.front() == place.world_rank;
    std::vector<jobs::ParentArtifact> parents;
    if (!ReadParents(spec, comm, &parents, &r)) return r;
    if (job && job->UsesDirectories()) {
      bool made = true;
      if (leads && !MakeDirs(run_dir)) {
        made = false;
        r.outcome = Outcome::kFailed;
        r.failure_class = "error";
        r.message = "cannot create run directory " + run_dir + ": " + std::strerror(errno);
      }
      comm->Barrier();  // Directories exist before any rank of the job uses them.
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
    env.comm = comm;
    env.local_rank = place.local_rank;
    env.local_size = place.local_size;
    env.device = place.device;
    env.threads = place.threads;
    env.stop_requested = ctx_.stop;
    env.grace_seconds = ctx_.grace_seconds;
    std::atomic<double>* lp = last_progress_;
    env.heartbeat = [lp] { lp->store(MonoNow()); };
    LiveProgress* live = leads ? live_ : nullptr;
    env.progress = [lp, live](const jobs::JobProgress& p) {
      lp->store(MonoNow());
      if (live != nullptr) live->Report(p);
    };
    env.world_master_addr = (*ctx_.hosts)[members.front()];    // The job's first rank's host.
    env.world_master_port = 29500 + (members.front() % 1000);  // Unique among running jobs.
    env.group_world_ranks = members;
    jobs::JobOutput out;
    Status s;
    last_progress_->store(MonoNow());
    if (leads) live_->Start(a.index);
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
    if (leads) live_->Finish();
    r.end_time = UnixNow();
    r.metrics = std::move(out.metrics);
    r.curves = std::move(out.curves);
    r.train_seconds = out.train_seconds;
    r.eval_seconds = out.eval_seconds;
    ClassifyResult(s, out.failure_class, &r);
    if (r.outcome == Outcome::kDone && job && job->UsesDirectories() && leads) {
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

// Heartbeats and stops of one rank (a thread): every rank sends its liveness (with the progress
// of the job it leads, if any) to the coordinator and picks up its kStop.
class Liveness {
 public:
  Liveness(const WorkerContext& ctx, std::atomic<double>* last_progress, std::atomic<bool>* running,
           LiveProgress* live)
      : stop_(ctx.stop),
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
    while (!quit_.load()) {
      if (link_.PollStop()) stop_->store(true);
      double now = MonoNow();
      if (now - last_sent >= 1.0) {
        HeartbeatMessage h;
        h.progress_age = running_->load() ? now - last_progress_->load() : -1.0;
        h.stop_requested = stop_->load();
        live_->Fill(&h);
        link_.SendHeartbeat(h);
        last_sent = now;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  }

  std::atomic<bool>* stop_;
  MpiLeaderLink link_;
  std::atomic<double>* last_progress_;
  std::atomic<bool>* running_;
  LiveProgress* live_;
  std::atomic<bool> quit_{false};
  std::thread thread_;
};

JobResultMessage NotStarted(const Assignment& a, const std::string& why) {
  JobResultMessage r;
  r.index = a.index;
  r.attempt = a.attempt;
  r.outcome = Outcome::kCancelled;
  r.started = false;
  r.message = why;
  return r;
}

// The loop of every rank: ask the coordinator for work (returning the results of the jobs this
// rank led), run each job of the batch with the other ranks the coordinator gave it.
int WorkerLoop(const WorkerContext& ctx, const JobRunner& runner) {
  const Placement& p = *ctx.place;
  MpiLeaderLink link(&p);
  std::vector<JobResultMessage> results;
  while (true) {
    link.SendRequest(results);
    results.clear();
    Result<AssignMessage> m = DecodeAssign(link.ReceiveAssign());
    std::vector<int> members =
        m.ok() && !m->ranks.empty() ? m->ranks : std::vector<int>{p.world_rank};
    if (m.ok() && std::find(members.begin(), members.end(), p.world_rank) == members.end()) {
      m = Status::Runtime("an assignment for ranks that do not include this one");
    }
    if (!m.ok()) {
      std::cerr << "vlmscale run: rank " << p.world_rank << ": " << m.status().message()
                << std::endl;
      MPI_Abort(MPI_COMM_WORLD, kExitFailure);
    }
    if (m->shutdown) return m->exit_code;
    const bool leads = members.front() == p.world_rank;
    // Every rank of the job builds (or reuses) its communicator: collective over them only.
    Result<comm::Communicator*> comm = ctx.groups->Get(members);
    for (const auto& a : m->batch) {
      if (!comm.ok()) {
        JobResultMessage r = NotStarted(a, "");
        r.outcome = Outcome::kFailed;
        r.failure_class = "error";
        r.started = true;
        r.message = "cannot build the job's communicator: " + comm.status().message();
        r.start_time = r.end_time = UnixNow();
        if (leads) results.push_back(r);
        continue;
      }
      // The job starts only if no rank of it has seen a stop (all ranks agree).
      double stopped = ctx.stop->load() ? 1.0 : 0.0;
      if (members.size() > 1) {
        Status s = (*comm)->AllReduceSumHost(&stopped, 1);
        if (!s.ok()) stopped = 1.0;
      }
      if (stopped > 0) {
        if (leads) results.push_back(NotStarted(a, "not started: stop requested"));
        continue;
      }
      JobResultMessage r = runner.Run(a, members, *comm);
      if (leads) results.push_back(std::move(r));
    }
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
