#include "driver/coordinator.h"

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <set>
#include <utility>

#include "core/check.h"
#include "core/strings.h"
#include "driver/artifacts.h"
#include "driver/driver.h"

namespace vlmscale::driver {

namespace {

// The node of every rank for the packer: topology's, or one node.
std::vector<int> NodesOf(const Topology& t) {
  return t.node_of.empty() ? std::vector<int>(t.world_size, 0) : t.node_of;
}

// With idle ranks and ready jobs but no message since, how often the packer looks again.
constexpr double kRedispatchSeconds = 0.1;
// The most jobs in one batch (short 1-rank jobs).
constexpr size_t kMaxBatch = 256;
// Ready jobs the packer looks at per dispatch (highest priority first): the backfill window.
constexpr size_t kBackfillWindow = 256;
// Before any job is measured, predictions are cost units: the most costly job is taken to run
// this long (only the ratios matter for the order; backfill uses the scale).
constexpr double kUncalibratedLongestSeconds = 600.0;

// The SLURM job id and requeue count, when running under SLURM (the launcher's environment).
void AddSlurmInfo(nlohmann::json* info) {
  if (const char* id = std::getenv("SLURM_JOB_ID")) (*info)["slurm_job_id"] = id;
  if (const char* rc = std::getenv("SLURM_RESTART_COUNT")) (*info)["requeues"] = std::atoi(rc);
}

}  // namespace

Coordinator::Coordinator(const config::Sweep* sweep, const Topology* topology,
                         store::ResultsStore* store, const std::vector<bool>& runnable,
                         const DriverOptions& options, ControlChannel* channel,
                         const std::atomic<bool>* stop, Clock clock, std::ostream* out)
    : sweep_(*sweep),
      topology_(*topology),
      store_(store),
      options_(options),
      channel_(channel),
      stop_(stop),
      clock_(std::move(clock)),
      sched_(*sweep, runnable, options.max_attempts, options.order),
      start_mono_(clock_()),
      start_unix_(UnixNow()),
      printer_(&sweep_, &topology_, &options_, &sched_, out, start_mono_),
      ranks_(topology->world_size),
      packer_(NodesOf(*topology), topology->node_local),
      commit_window_(options.commit_ms / 1000.0) {
  std::string error;
  CHECK(options_.IsValid(&error)) << error;
  CHECK_GE(topology_.world_size, 1);
  CHECK_EQ(static_cast<int>(topology_.hosts.size()), topology_.world_size);
  CHECK(topology_.node_of.empty() ||
        static_cast<int>(topology_.node_of.size()) == topology_.world_size);
  // Ranks are busy for the packer until they first ask for work.
  std::vector<int> all(topology_.world_size);
  for (int r = 0; r < topology_.world_size; ++r) all[r] = r;
  packer_.Hold(all);
  for (const auto& j : sweep_.jobs) {
    const int64_t row = store_->job_index(j.id);
    CHECK(row >= 0) << "job " << j.id << " is not in the results store (run PrepareStore)";
    attempts_.push_back(store_->job_attempts(static_cast<size_t>(row)));
  }
}

void Coordinator::SetAdaptive(AdaptiveController* adaptive) {
  CHECK(!started_);
  adaptive_ = adaptive;
  for (int64_t i = 0; i < static_cast<int64_t>(sweep_.jobs.size()); ++i) {
    if (!adaptive_->released(i) && sched_.can_withhold(i)) sched_.Withhold(i);
  }
}

int Coordinator::Run() {
  Backoff backoff;
  while (true) {
    bool progressed = Step();
    if (finished_) return exit_code_;
    if (progressed) {
      backoff.Reset();
    } else {
      backoff.Wait();
    }
  }
}

bool Coordinator::Step() {
  CHECK(!finished_);
  if (!started_) {
    printer_.Start();
    started_ = true;
  }
  bool progressed = false;
  LeaderMessage m;
  while (channel_->Poll(&m)) {
    Handle(m);
    progressed = true;
    dispatch_due_ = true;
  }
  if (stop_->load() && !stopping_) {
    const std::string sig = StopSignalName();
    BeginStop(sig.empty() ? "stop requested by a signal"
                          : "stop requested by " + sig + " on rank 0");
  }
  Dispatch();
  MaybeCommit(!progressed);
  double now = clock_();
  if (now - last_tick_ >= 1.0) {
    Tick();
    last_tick_ = now;
  }
  if (adaptive_ != nullptr && !stopping_ && !adaptive_->stopped() && !adaptive_failed_ &&
      AllIdle() && sched_.Settled()) {
    AdvanceAdaptive();
    dispatch_due_ = true;
    Dispatch();
  }
  if (AllIdle() && (sched_.Settled() || stopping_)) {
    Shutdown();
  } else if (stopping_ && now > stop_deadline_) {
    Abandon();
  }
  return progressed;
}

namespace {

// How often a running job's growing curves are written into its record (the journal), so that
// status, export and h5py see them during the job without a journal entry per heartbeat.
constexpr double kLiveCurveSeconds = 5.0;
// The most live curve points kept per running job (the job's result brings them all).
constexpr size_t kMaxLivePoints = 100000;

}  // namespace

void Coordinator::UpdateLive(const HeartbeatMessage& h, int rank, RankState& g) {
  bool assigned = false;
  for (const auto& a : g.batch) assigned = assigned || a.index == h.job_index;
  if (!assigned) {
    printer_.Log("error: rank " + std::to_string(rank) + ": progress for job index " +
                 std::to_string(h.job_index) + ", which is not in its batch; ignored");
    return;
  }
  LiveJob& live = g.live;
  const double now = clock_();
  if (live.index != h.job_index) {
    live = LiveJob();
    live.index = h.job_index;
  }
  if (live.phase != h.phase || h.step < live.phase_start_step) {
    live.phase = h.phase;
    live.phase_start_mono = now;
    live.phase_start_step = h.step;
  }
  live.step = h.step;
  live.total = h.total;
  live.loss = h.loss;
  for (const auto& p : h.new_points) {
    if (live.curves.size() < kMaxLivePoints) live.curves.push_back(p);
  }
}

nlohmann::json Coordinator::RunningJobs(double now) {
  nlohmann::json jobs = nlohmann::json::array();
  for (int gi = 0; gi < static_cast<int>(ranks_.size()); ++gi) {
    RankState& g = ranks_[gi];
    if (!g.busy || g.batch.empty()) continue;
    LiveJob& live = g.live;
    bool reported = false;
    for (const auto& a : g.batch) reported = reported || a.index == live.index;
    const int64_t index = reported ? live.index : g.batch.front().index;
    const config::JobSpec& spec = sweep_.jobs[index];
    const std::optional<store::JobRecord> rec = Find(spec.id);
    nlohmann::json j = {{"job_id", spec.id},
                        {"stage", sweep_.stage_of(spec).name},
                        {"ranks", g.members},
                        {"started", rec.has_value() ? rec->start_time : 0.0}};
    if (reported) {
      j["phase"] = live.phase;
      j["step"] = live.step;
      j["total"] = live.total;
      j["loss"] = std::isfinite(live.loss) ? nlohmann::json(live.loss) : nlohmann::json(nullptr);
      // The rest of the phase at the rate measured since it began (none before 2 steps).
      const double elapsed = now - live.phase_start_mono;
      const int64_t done = live.step - live.phase_start_step;
      if (live.total > live.step && done >= 2 && elapsed > 0) {
        j["phase_eta_seconds"] = static_cast<double>(live.total - live.step) * elapsed / done;
      }
      if (rec.has_value() && rec->state == store::JobState::kRunning &&
          live.curves.size() > live.journaled_points &&
          now - live.journaled_mono >= kLiveCurveSeconds) {
        store::JobRecord grown = *rec;
        grown.curves = live.curves;
        Append(grown);
        live.journaled_points = live.curves.size();
        live.journaled_mono = now;
      }
    }
    jobs.push_back(std::move(j));
  }
  return jobs;
}

std::optional<store::JobRecord> Coordinator::Find(const std::string& id) const {
  return store_->FindJob(id);
}

void Coordinator::Handle(const LeaderMessage& m) {
  CHECK(m.rank >= 0 && m.rank < static_cast<int>(ranks_.size()));
  RankState& g = ranks_[m.rank];
  const double now = clock_();
  g.heartbeat_mono = now;
  if (!m.status.ok()) {
    printer_.Log("error: rank " + std::to_string(m.rank) + ": " + m.status.message());
  }
  if (m.kind == LeaderMessage::Kind::kHeartbeat) {
    if (!m.status.ok()) return;
    g.progress_age = m.heartbeat.progress_age;
    if (m.heartbeat.job_index >= 0) UpdateLive(m.heartbeat, m.rank, g);
    if (m.heartbeat.stop_requested && !stopping_) {
      BeginStop("stop requested by a signal on rank " + std::to_string(m.rank));
    }
    return;
  }
  std::set<int64_t> assigned;
  for (const auto& a : g.batch) assigned.insert(a.index);
  for (const auto& r : m.results) {
    if (assigned.erase(r.index) == 0) {
      printer_.Log("error: rank " + std::to_string(m.rank) + ": a result for job index " +
                   std::to_string(r.index) + ", which is not in its batch; ignored");
      continue;
    }
    Record(r, m.rank);
  }
  // The rank is free (its first request, or the end of its part of a job).
  if (packer_.busy(m.rank)) packer_.Release(now - start_mono_, {m.rank});
  g.reported = true;
  g.busy = false;
  g.lead = -1;
  g.batch.clear();
  g.members.clear();
  g.progress_age = -1;
  g.live = LiveJob();
  if (g.stalled_reported) {
    g.stalled_reported = false;
    printer_.Log("rank " + std::to_string(m.rank) + " reports again");
  }
  g.parked = true;
}

// Journals a job's outcome; it is printed once committed.
void Coordinator::Record(const JobResultMessage& r, int rank) {
  const config::JobSpec& spec = sweep_.jobs[r.index];
  if (!r.missing_parents.empty()) {
    RequeueParents(r);
    return;
  }
  store::JobRecord rec = *Find(spec.id);
  double seconds = r.end_time - r.start_time;
  std::vector<int64_t> blocked;
  bool final_failure = sched_.Finish(r.index, r.outcome, seconds, &blocked);
  if (final_failure) failed_jobs_.push_back(r.index);
  if (!blocked.empty()) {
    printer_.Log("job " + spec.id + " failed finally: " + std::to_string(blocked.size()) +
                 " job(s) that need it are blocked until a later run retries it");
  }
  for (int64_t b : blocked) {
    store::JobRecord br = *Find(sweep_.jobs[b].id);
    br.state = store::JobState::kBlocked;
    br.message = "blocked: needs job " + spec.id + " (stage " + sweep_.stage_of(spec).name +
                 "), which failed";
    Append(br);
  }
  if (!r.started || r.outcome == Outcome::kCancelled) {
    // Never started, or stopped (checkpointed; the next run resumes it with the same attempt
    // number): a stop is not an attempt, so undo the attempt count of the dispatch.
    rec.attempts = std::max(0, rec.attempts - 1);
    attempts_[r.index] = rec.attempts;
  }
  rec.start_time = r.start_time;
  rec.end_time = r.end_time;
  rec.train_seconds = r.train_seconds;
  rec.eval_seconds = r.eval_seconds;
  if (r.outcome == Outcome::kDone) {
    rec.state = store::JobState::kDone;
    rec.failure_class.clear();
    rec.message.clear();
    rec.extra_metrics.clear();
    for (const auto& [k, v] : r.metrics) {
      if (k == "error")
        rec.error = v;
      else if (k == "accuracy")
        rec.accuracy = v;
      else if (k == "eval_loss")
        rec.eval_loss = v;
      else if (k == "inference_flops")
        rec.inference_flops = v;
      else if (k == "compressor_flops")
        rec.compressor_flops = v;
      else if (k == "latency_ms")
        rec.latency_ms = v;
      else
        rec.extra_metrics[k] = v;
    }
    if (std::isnan(rec.inference_flops)) rec.inference_flops = spec.inference_flops;
    if (std::isnan(rec.accuracy) && std::isfinite(rec.error)) rec.accuracy = 1.0 - rec.error;
    rec.curves = r.curves;
  } else if (r.outcome == Outcome::kFailed) {
    rec.state = final_failure ? store::JobState::kFailed : store::JobState::kPending;
    rec.failure_class = r.failure_class;
    rec.message = r.message;
    rec.curves = r.curves;
  } else {
    rec.state = store::JobState::kPending;
  }
  Append(rec);
  unacked_.push_back({r, rank, final_failure, sched_.failures(r.index)});
}

// A job could not start because the artifacts of parents it needs are gone: they run again
// (as pending jobs, without spending an attempt) and it waits for them.
void Coordinator::RequeueParents(const JobResultMessage& r) {
  const config::JobSpec& spec = sweep_.jobs[r.index];
  std::vector<int64_t> parents;
  for (int64_t p : r.missing_parents) {
    if (p >= 0 && p < static_cast<int64_t>(sweep_.jobs.size()) &&
        std::find(spec.parents.begin(), spec.parents.end(), p) != spec.parents.end()) {
      parents.push_back(p);
    }
  }
  sched_.RequeueParents(r.index, parents);
  store::JobRecord rec = *Find(spec.id);
  rec.attempts = std::max(0, rec.attempts - 1);  // It never started.
  attempts_[r.index] = rec.attempts;
  rec.state = store::JobState::kPending;
  rec.message = r.message;
  Append(rec);
  std::string ids;
  for (int64_t p : parents) {
    store::JobRecord pr = *Find(sweep_.jobs[p].id);
    if (pr.state != store::JobState::kDone) continue;
    pr.state = store::JobState::kPending;
    pr.message = "its artifacts went missing (" + JobDir(sweep_, sweep_.jobs[p]) +
                 "/result.json); running it again for job " + spec.id;
    Append(pr);
    ids += (ids.empty() ? "" : ", ") + sweep_.jobs[p].id;
  }
  if (!ids.empty()) {
    printer_.Log("job " + spec.id + " waits: the artifacts of " + ids +
                 " are missing; running them again first");
  }
}

void Coordinator::Append(const store::JobRecord& rec) {
  Status s = store_->Append(rec);
  if (!s.ok()) StoreError(s);
}

void Coordinator::StoreError(const Status& s) {
  if (!store_failed_) {
    printer_.Log("error: results store " + sweep_.output + ": " + s.message() +
                 " -- stopping; results acknowledged so far are safe, run again to resume");
  }
  store_failed_ = true;
  if (!stopping_) BeginStop("results store failure");
}

bool Coordinator::AllIdle() const {
  for (const auto& g : ranks_) {
    if (g.busy) return false;
  }
  return true;
}

double Coordinator::PackSeconds(int64_t idx) const {
  if (sched_.calibrated()) return sched_.Predict(idx);
  const double most = sweep_.max_est_cost > 0 ? sweep_.max_est_cost : 1.0;
  return std::max(0.0, sched_.Predict(idx)) / most * kUncalibratedLongestSeconds;
}

double Coordinator::idle_rank_seconds() const {
  return packer_.IdleRankSecondsAt(clock_() - start_mono_);
}

void Coordinator::Dispatch() {
  if (stopping_ || sched_.ready() == 0 || packer_.idle() == 0) return;
  const double now = clock_();
  // Packing again helps only when ranks freed or jobs became ready (messages), or as time moves
  // reservations (a job overrunning its prediction): not on every poll.
  if (!dispatch_due_ && now - last_dispatch_ < kRedispatchSeconds) return;
  dispatch_due_ = false;
  last_dispatch_ = now;
  const int most = packer_.MaxRanks();
  auto ranks_of = [&](int64_t idx) { return std::max(1, std::min(sweep_.jobs[idx].ranks, most)); };
  std::vector<PackRequest> ready;
  for (int64_t idx : sched_.Ready(kBackfillWindow)) {
    ready.push_back({idx, ranks_of(idx), PackSeconds(idx)});
  }
  std::vector<PackStart> starts = packer_.Schedule(now - start_mono_, ready);
  std::vector<AssignMessage> assigns(starts.size());
  for (size_t i = 0; i < starts.size(); ++i) {
    const int64_t idx = starts[i].job;
    const int lead = starts[i].ranks.front();
    sched_.Start(idx);
    const int attempt = ++attempts_[idx];
    assigns[i].batch.push_back({idx, attempt});
    assigns[i].ranks = starts[i].ranks;
    MarkRunning(idx, attempt, lead);
  }
  // Batch short 1-rank jobs (measured, not guessed) to amortise messages; keep work for others.
  for (size_t i = 0; i < starts.size() && sched_.calibrated(); ++i) {
    if (starts[i].ranks.size() != 1) continue;
    AssignMessage& m = assigns[i];
    double planned = sched_.Predict(m.batch.front().index);
    if (planned >= 0.01) continue;
    // The next ready 1-rank jobs in priority order (one look at the ready set per batch).
    const std::vector<int64_t> more = sched_.Ready(kMaxBatch);
    for (size_t k = 0; k < more.size() && planned < 0.01 && m.batch.size() < kMaxBatch &&
                       sched_.pending() > static_cast<int64_t>(ranks_.size());
         ++k) {
      const int64_t next = more[k];
      if (ranks_of(next) != 1 || !sched_.is_ready(next)) continue;
      sched_.Start(next);
      const int attempt = ++attempts_[next];
      m.batch.push_back({next, attempt});
      planned += sched_.Predict(next);
      MarkRunning(next, attempt, starts[i].ranks.front());
    }
  }
  for (size_t i = 0; i < starts.size(); ++i) {
    const std::vector<int>& members = starts[i].ranks;
    for (int r : members) {
      RankState& g = ranks_[r];
      CHECK(g.parked && !g.busy) << "rank " << r << " is not idle";
      g.parked = false;
      g.busy = true;
      g.lead = members.front();
      g.heartbeat_mono = now;
      g.progress_age = 0;
      if (r == members.front()) {
        g.batch = assigns[i].batch;
        g.members = members;
      }
      channel_->SendAssign(r, assigns[i]);
    }
  }
}

void Coordinator::MarkRunning(int64_t idx, int attempt, int rank) {
  store::JobRecord rec = *Find(sweep_.jobs[idx].id);
  rec.state = store::JobState::kRunning;
  rec.attempts = attempt;
  rec.rank = rank;
  rec.host = topology_.hosts[rec.rank];
  rec.start_time = UnixNow();
  rec.end_time = 0;
  Append(rec);
}

void Coordinator::MaybeCommit(bool idle) {
  if (unacked_.empty() && !dirty_run_info_) {
    // Running-state appends still need committing for live status, but are not urgent.
    if (!idle) return;
  }
  double now = clock_();
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
    Acknowledge();
    printer_.Progress(clock_(), false);
  }
}

// REQUIRES: the results in unacked_ are committed.
void Coordinator::Acknowledge() {
  for (const auto& u : unacked_) printer_.Job(u.r, u.rank, u.final_failure, u.failures);
  acknowledged_ += static_cast<int64_t>(unacked_.size());
  unacked_.clear();
}

void Coordinator::Tick() {
  double now = clock_();
  // Liveness.
  std::vector<nlohmann::json> stalled;
  for (int gi = 0; gi < static_cast<int>(ranks_.size()); ++gi) {
    RankState& g = ranks_[gi];
    if (!g.busy || g.batch.empty()) continue;  // Only a job's leading rank reports its progress.
    double silent = std::max(now - g.heartbeat_mono,
                             g.progress_age >= 0 ? g.progress_age + (now - g.heartbeat_mono) : 0);
    if (silent < options_.stall_seconds) continue;
    const std::string& id = sweep_.jobs[g.batch.front().index].id;
    int rank = gi;
    stalled.push_back({{"rank", rank},
                       {"host", topology_.hosts[rank]},
                       {"job_id", id},
                       {"silent_seconds", silent}});
    if (!g.stalled_reported) {
      g.stalled_reported = true;
      printer_.Log("warning: rank " + std::to_string(rank) + " on " + topology_.hosts[rank] +
                   " has not reported progress for " + FormatDuration(silent) + " (job " + id +
                   "); run.stall_seconds = " + FormatNumber(options_.stall_seconds));
    }
  }
  nlohmann::json info = {
      {"state", stopping_ ? "stopping" : "running"},
      {"started", start_unix_},
      {"updated", UnixNow()},
      {"ranks", topology_.world_size},
      {"ranks_per_job", topology_.ranks_per_job},
      {"hosts", topology_.hosts},
      {"idle_rank_seconds", idle_rank_seconds()},
      {"pid", static_cast<int64_t>(getpid())},
      // Until a job class is measured, predictions are raw cost units, not seconds: no ETA.
      {"eta_seconds", sched_.calibrated()
                          ? nlohmann::json(sched_.EtaSeconds(topology_.default_slots()))
                          : nlohmann::json(nullptr)},
      {"eta_calibrated", sched_.calibrated()},
      {"stalled", stalled},
      {"running_jobs", RunningJobs(now)},
      {"done", sched_.done() + sched_.skipped()},
      {"failed", sched_.failed()},
      {"blocked", sched_.blocked()},
      {"running", sched_.running()},
      {"pending", sched_.pending()},
  };
  if (stopping_) {
    info["stop_reason"] = stop_reason_;
    info["stop_requested_at"] = stop_requested_unix_;
  }
  if (adaptive_ != nullptr) info["adaptive"] = adaptive_->Json(sched_.withheld_count());
  AddSlurmInfo(&info);
  Status s =
      store_->SetRunInfo(info.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
  if (!s.ok()) StoreError(s);
  dirty_run_info_ = true;
  Status snap = store_->MaybeSnapshot();
  if (!snap.ok()) StoreError(snap);
  if (now - printer_.last_progress_time() >= 30.0) printer_.Progress(now, true);
}

void Coordinator::AdvanceAdaptive() {
  std::string message;
  Result<std::vector<int64_t>> chosen = adaptive_->Decide(*store_, failed_jobs_, &message);
  if (!chosen.ok()) {
    adaptive_failed_ = true;
    printer_.Log("error: adaptive round " + std::to_string(adaptive_->rounds() + 1) + ": " +
                 chosen.status().message() + " -- the sweep ends; fix the cause and run again");
    return;
  }
  printer_.Log(message);
  for (int64_t c : *chosen) {
    if (sched_.withheld(c)) sched_.Release(c);
  }
  // The round is durable (in the run info) before any job it chose is dispatched.
  Tick();
  last_tick_ = clock_();
  Status s = store_->Commit();
  if (!s.ok()) {
    StoreError(s);
    return;
  }
  first_unacked_ = 0;
  dirty_run_info_ = false;
  if (!unacked_.empty()) Acknowledge();
}

void Coordinator::BeginStop(const std::string& why) {
  stopping_ = true;
  stop_reason_ = why;
  stop_requested_unix_ = UnixNow();
  stop_deadline_ = clock_() + options_.grace_seconds + kAbandonMarginSeconds;
  printer_.Log("stopping (" + why + "): no new jobs; running jobs checkpoint and stop within " +
               FormatNumber(options_.grace_seconds) + " s; run the same command again to resume");
  for (int r = 0; r < static_cast<int>(ranks_.size()); ++r) channel_->SendStop(r);
}

// Every rank is idle and nothing more will be dispatched: close the store, tell everyone.
void Coordinator::Shutdown() {
  exit_code_ = stopping_ ? (store_failed_ ? kExitFailure : kExitStopped)
                         : (sched_.failed() > 0 || store_failed_ || adaptive_failed_ ? kExitFailure
                                                                                     : kExitOk);
  Finish();
  AssignMessage bye;
  bye.shutdown = true;
  bye.exit_code = exit_code_;
  for (int r = 0; r < static_cast<int>(ranks_.size()); ++r) channel_->SendAssign(r, bye);
  finished_ = true;
}

void Coordinator::Finish() {
  nlohmann::json info = {{"state", stopping_ ? "stopped" : "finished"},
                         {"started", start_unix_},
                         {"updated", UnixNow()},
                         {"ranks", topology_.world_size},
                         {"idle_rank_seconds", idle_rank_seconds()},
                         {"stalled", nlohmann::json::array()}};
  if (stopping_) {
    info["stop_reason"] = stop_reason_;
    info["stop_requested_at"] = stop_requested_unix_;
  } else {
    info["eta_seconds"] = 0.0;
  }
  if (adaptive_ != nullptr) info["adaptive"] = adaptive_->Json(sched_.withheld_count());
  AddSlurmInfo(&info);
  store_->SetRunInfo(info.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
  Status s = store_->Commit();
  if (s.ok() && !unacked_.empty()) Acknowledge();
  Status c = store_->Close();
  if (!s.ok() || !c.ok()) {
    store_failed_ = true;
    printer_.Log("error: results store " + sweep_.output + ": " + (!s.ok() ? s : c).message() +
                 " -- results acknowledged so far are safe, run again to resume");
    exit_code_ = kExitFailure;
  }
  printer_.Summary(*store_, exit_code_, clock_());
}

void Coordinator::Abandon() {
  std::string who;
  for (int r = 0; r < static_cast<int>(ranks_.size()); ++r) {
    if (ranks_[r].busy) who += " " + std::to_string(r);
  }
  printer_.Log("error: ranks" + who + " did not stop within run.grace_seconds + " +
               FormatNumber(kAbandonMarginSeconds) + " s; saving results " +
               "and aborting the MPI job (exit 75); run again to resume");
  // The abort ends their jobs: the store says pending (not running), and, as for any stop, the
  // attempt is not counted.
  for (auto& g : ranks_) {
    if (!g.busy) continue;
    for (const Assignment& a : g.batch) {
      store::JobRecord rec = *Find(sweep_.jobs[a.index].id);
      if (rec.state != store::JobState::kRunning) continue;
      rec.state = store::JobState::kPending;
      rec.attempts = std::max(0, rec.attempts - 1);
      Append(rec);
    }
  }
  exit_code_ = kExitStopped;
  Finish();
  finished_ = true;
  abandoned_ = true;
  channel_->Abandon(kExitStopped);  // The MPI channel does not return.
}

}  // namespace vlmscale::driver
