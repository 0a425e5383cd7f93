#include "driver/scheduler.h"

#include <algorithm>

#include "core/check.h"

namespace vlmscale::driver {

bool Scheduler::ByPath::operator()(int64_t a, int64_t b) const {
  if (s->order_ == DispatchOrder::kGrid) return a < b;
  if (s->path_[a] != s->path_[b]) return s->path_[a] > s->path_[b];
  return a < b;
}

Scheduler::Scheduler(const config::Sweep& sweep, const std::vector<bool>& runnable,
                     int max_attempts, DispatchOrder order)
    : sweep_(sweep),
      max_attempts_(max_attempts),
      order_(order),
      ready_(ByPath{this}),
      failures_(sweep.jobs.size(), 0) {
  CHECK_GE(max_attempts, 1);
  const size_t n = sweep.jobs.size();
  CHECK_EQ(runnable.size(), n);
  int stages = 1;
  for (const auto& j : sweep.jobs) stages = std::max(stages, j.stage + 1);
  held_.resize(stages);
  unsettled_.assign(stages, 0);
  class_of_.reserve(n);
  std::map<std::string, size_t> class_index;
  children_.resize(n);
  state_.assign(n, State::kWaiting);
  unmet_.assign(n, 0);
  path_.assign(n, 0.0);
  done_before_.assign(n, false);
  for (size_t i = 0; i < n; ++i) {
    const config::JobSpec& j = sweep.jobs[i];
    const auto& p = j.point;
    // Interned: a grid has a few classes, so each job keeps a 4-byte index, not the text.
    std::string cls = std::to_string(j.stage) + "/" + p.llm + "/" + p.method + "/" + p.task;
    auto [it, inserted] = class_index.try_emplace(std::move(cls), measured_.size());
    if (inserted) measured_.emplace_back(0.0, 0.0);
    class_of_.push_back(static_cast<int32_t>(it->second));
    for (int64_t parent : j.parents) {
      CHECK(parent >= 0 && parent < static_cast<int64_t>(i)) << "job " << i << " parent " << parent;
      children_[parent].push_back(static_cast<int64_t>(i));
    }
  }
  for (size_t i = 0; i < n; ++i) {
    const config::JobSpec& j = sweep.jobs[i];
    if (!runnable[i]) {
      done_before_[i] = true;
      state_[i] = State::kDone;
      ++skipped_;
      continue;
    }
    ++unsettled_[j.stage];
    for (int64_t parent : j.parents) unmet_[i] += state_[parent] != State::kDone;
    if (unmet_[i] == 0) {
      MakeReady(static_cast<int64_t>(i));
    } else {
      ++waiting_;
    }
  }
  ReleaseStages();
  Recompute();
}

double Scheduler::Ratio(int32_t cls) const {
  const auto& [seconds, cost] = measured_[cls];
  if (cost > 0) return seconds / cost;
  if (total_cost_ > 0) return total_seconds_ / total_cost_;
  return 1.0;
}

double Scheduler::Predict(int64_t index) const {
  return sweep_.jobs[index].est_cost * Ratio(class_of_[index]);
}

void Scheduler::MakeReady(int64_t index) {
  int stage = sweep_.jobs[index].stage;
  if (order_ == DispatchOrder::kStages && stage >= open_stages_) {
    state_[index] = State::kHeld;
    held_[stage].push_back(index);
    ++held_count_;
    return;
  }
  state_[index] = State::kReady;
  ready_.insert(index);
}

void Scheduler::Withhold(int64_t index) {
  const State s = state_[index];
  CHECK(can_withhold(index)) << "job " << index << " is not ready, held or waiting";
  const int stage = sweep_.jobs[index].stage;
  if (s == State::kReady) {
    if (stale_) Recompute();  // ready_ is ordered by path_: erase by the order it was built with.
    CHECK_EQ(ready_.erase(index), 1u);
  } else if (s == State::kWaiting) {
    --waiting_;
  } else {
    auto& h = held_[stage];
    h.erase(std::find(h.begin(), h.end(), index));
    --held_count_;
  }
  state_[index] = State::kWithheld;
  --unsettled_[stage];
  ++withheld_count_;
  ReleaseStages();
}

void Scheduler::Release(int64_t index) {
  CHECK(state_[index] == State::kWithheld) << "job " << index << " is not withheld";
  --withheld_count_;
  ++unsettled_[sweep_.jobs[index].stage];
  // Finish() does not count down a withheld job's parents: count them now.
  unmet_[index] = 0;
  for (int64_t p : sweep_.jobs[index].parents) {
    CHECK(state_[p] != State::kFailed && state_[p] != State::kBlocked)
        << "job " << index << " released with parent " << p << " failed or blocked";
    unmet_[index] += state_[p] != State::kDone;
  }
  if (unmet_[index] == 0) {
    MakeReady(index);
  } else {
    state_[index] = State::kWaiting;
    ++waiting_;
  }
  stale_ = true;
}

void Scheduler::ReleaseStages() {
  const int stages = static_cast<int>(held_.size());
  if (order_ != DispatchOrder::kStages) {
    open_stages_ = stages;
    return;
  }
  while (open_stages_ < stages && (open_stages_ == 0 || unsettled_[open_stages_ - 1] == 0)) {
    for (int64_t j : held_[open_stages_]) {
      state_[j] = State::kReady;
      ready_.insert(j);
    }
    held_count_ -= static_cast<int64_t>(held_[open_stages_].size());
    held_[open_stages_].clear();
    ++open_stages_;
  }
}

void Scheduler::Recompute() {
  std::vector<int64_t> ready(ready_.begin(), ready_.end());
  ready_.clear();  // Its order depends on path_.
  for (int64_t i = static_cast<int64_t>(path_.size()) - 1; i >= 0; --i) {
    State s = state_[i];
    if (s == State::kDone || s == State::kFailed || s == State::kBlocked ||
        s == State::kWithheld) {  // A withheld job may never run: no weight on its ancestors.
      path_[i] = 0;
      continue;
    }
    double tail = 0;
    for (int64_t c : children_[i]) tail = std::max(tail, path_[c]);
    path_[i] = Predict(i) + tail;
  }
  ready_.insert(ready.begin(), ready.end());
  stale_ = false;
}

int64_t Scheduler::Next() {
  if (stale_) Recompute();
  if (ready_.empty()) return -1;
  int64_t best = *ready_.begin();
  ready_.erase(ready_.begin());
  state_[best] = State::kRunning;
  running_.insert(best);
  return best;
}

std::vector<int64_t> Scheduler::Ready(size_t limit) {
  if (stale_) Recompute();
  std::vector<int64_t> out;
  for (auto it = ready_.begin(); it != ready_.end() && out.size() < limit; ++it) out.push_back(*it);
  return out;
}

void Scheduler::Start(int64_t index) {
  CHECK(state_[index] == State::kReady) << "job " << index << " is not ready";
  if (stale_) Recompute();
  CHECK_EQ(ready_.erase(index), 1u);
  state_[index] = State::kRunning;
  running_.insert(index);
}

void Scheduler::Block(int64_t index, std::vector<int64_t>* blocked) {
  std::vector<int64_t> stack = {index};
  while (!stack.empty()) {
    int64_t j = stack.back();
    stack.pop_back();
    for (int64_t c : children_[j]) {
      if (state_[c] != State::kWaiting) continue;  // Done before, or already blocked.
      state_[c] = State::kBlocked;
      --waiting_;
      ++blocked_;
      int stage = sweep_.jobs[c].stage;
      --unsettled_[stage];
      if (blocked != nullptr) blocked->push_back(c);
      stack.push_back(c);
    }
  }
}

bool Scheduler::Finish(int64_t index, Outcome outcome, double seconds,
                       std::vector<int64_t>* blocked) {
  CHECK(running_.erase(index) == 1) << "job " << index << " was not running";
  const int stage = sweep_.jobs[index].stage;
  switch (outcome) {
    case Outcome::kDone: {
      state_[index] = State::kDone;
      ++done_;
      --unsettled_[stage];
      double cost = sweep_.jobs[index].est_cost;
      if (cost > 0 && seconds >= 0) {
        auto& m = measured_[class_of_[index]];
        bool first = m.second == 0;
        m.first += seconds;
        m.second += cost;
        total_seconds_ += seconds;
        total_cost_ += cost;
        ++measured_count_;
        if (first || measured_count_ >= next_recompute_) {
          stale_ = true;
          next_recompute_ = 2 * measured_count_;
        }
      }
      for (int64_t c : children_[index]) {
        if (state_[c] != State::kWaiting) continue;
        if (--unmet_[c] == 0) {
          --waiting_;
          MakeReady(c);
        }
      }
      ReleaseStages();
      return false;
    }
    case Outcome::kFailed:
      if (++failures_[index] >= max_attempts_) {
        state_[index] = State::kFailed;
        ++failed_;
        --unsettled_[stage];
        Block(index, blocked);
        ReleaseStages();
        return true;
      }
      [[fallthrough]];
    case Outcome::kCancelled:
      MakeReady(index);
      return false;
  }
  return false;
}

void Scheduler::RequeueParents(int64_t child, const std::vector<int64_t>& parents) {
  CHECK(running_.erase(child) == 1) << "job " << child << " was not running";
  for (int64_t p : parents) {
    if (state_[p] != State::kDone) continue;  // Already re-queued (another child noticed).
    const int stage = sweep_.jobs[p].stage;
    if (done_before_[p]) {
      done_before_[p] = false;
      --skipped_;
    } else {
      --done_;
    }
    ++unsettled_[stage];
    for (int64_t c : children_[p]) {
      if (c == child) continue;
      if (state_[c] == State::kReady) {
        ready_.erase(c);
      } else if (state_[c] == State::kHeld) {
        auto& h = held_[sweep_.jobs[c].stage];
        h.erase(std::find(h.begin(), h.end(), c));
        --held_count_;
      } else if (state_[c] != State::kWaiting) {
        continue;  // Running (it checks its own parents), done, failed or blocked.
      }
      if (state_[c] != State::kWaiting) ++waiting_;
      state_[c] = State::kWaiting;
      ++unmet_[c];
    }
    MakeReady(p);
  }
  unmet_[child] = 0;
  for (int64_t p : sweep_.jobs[child].parents) unmet_[child] += state_[p] != State::kDone;
  if (unmet_[child] == 0) {
    MakeReady(child);
  } else {
    state_[child] = State::kWaiting;
    ++waiting_;
  }
  stale_ = true;
}

std::vector<Scheduler::StageCounts> Scheduler::stage_counts() const {
  std::vector<StageCounts> counts(held_.size());
  for (size_t i = 0; i < state_.size(); ++i) {
    StageCounts& c = counts[sweep_.jobs[i].stage];
    ++c.total;
    c.done += state_[i] == State::kDone;
    c.failed += state_[i] == State::kFailed;
    c.blocked += state_[i] == State::kBlocked;
  }
  return counts;
}

double Scheduler::EtaSeconds(int workers) const {
  if (workers < 1) workers = 1;
  double total = 0;
  for (size_t i = 0; i < state_.size(); ++i) {
    State s = state_[i];
    if (s == State::kWaiting || s == State::kHeld || s == State::kReady) {
      total += Predict(static_cast<int64_t>(i));
    } else if (s == State::kRunning) {
      total += Predict(static_cast<int64_t>(i)) * 0.5;  // On average half done.
    }
  }
  return total / workers;
}

}  // namespace vlmscale::driver
