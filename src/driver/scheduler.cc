#include "driver/scheduler.h"

#include "core/check.h"

namespace vlmscale::driver {

bool Scheduler::ByCostDesc::operator()(int64_t a, int64_t b) const {
  if (by_index) return a < b;
  double ca = sweep->jobs[a].est_cost, cb = sweep->jobs[b].est_cost;
  if (ca != cb) return ca > cb;
  return a < b;
}

Scheduler::Scheduler(const config::Sweep& sweep, const std::vector<bool>& runnable,
                     int max_attempts, bool grid_order)
    : sweep_(sweep), max_attempts_(max_attempts), failures_(sweep.jobs.size(), 0) {
  CHECK_GE(max_attempts, 1);
  CHECK_EQ(runnable.size(), sweep.jobs.size());
  class_of_.reserve(sweep.jobs.size());
  for (size_t i = 0; i < sweep.jobs.size(); ++i) {
    const auto& p = sweep.jobs[i].point;
    class_of_.push_back(grid_order ? std::string("grid") : p.llm + "/" + p.method + "/" + p.task);
  }
  for (size_t i = 0; i < sweep.jobs.size(); ++i) {
    if (!runnable[i]) {
      ++skipped_;
      continue;
    }
    auto it = pending_.find(class_of_[i]);
    if (it == pending_.end()) {
      it = pending_.emplace(class_of_[i], std::set<int64_t, ByCostDesc>(ByCostDesc{&sweep_, grid_order})).first;
    }
    it->second.insert(static_cast<int64_t>(i));
    ++pending_count_;
  }
}

std::string Scheduler::ClassOf(int64_t index) const { return class_of_[index]; }

double Scheduler::Ratio(const std::string& cls) const {
  auto it = measured_.find(cls);
  if (it != measured_.end() && it->second.second > 0) return it->second.first / it->second.second;
  if (total_cost_ > 0) return total_seconds_ / total_cost_;
  return 1.0;
}

double Scheduler::Predict(int64_t index) const {
  return sweep_.jobs[index].est_cost * Ratio(class_of_[index]);
}

int64_t Scheduler::Next() {
  int64_t best = -1;
  double best_pred = -1;
  std::set<int64_t, ByCostDesc>* best_set = nullptr;
  // The head of each class is its largest job; compare heads under the current ratios.
  for (auto& [cls, jobs] : pending_) {
    if (jobs.empty()) continue;
    int64_t head = *jobs.begin();
    double pred = Predict(head);
    if (pred > best_pred) {
      best_pred = pred;
      best = head;
      best_set = &jobs;
    }
  }
  if (best < 0) return -1;
  best_set->erase(best_set->begin());
  --pending_count_;
  running_.insert(best);
  return best;
}

bool Scheduler::Finish(int64_t index, Outcome outcome, double seconds) {
  CHECK(running_.erase(index) == 1) << "job " << index << " was not running";
  switch (outcome) {
    case Outcome::kDone: {
      ++done_;
      double cost = sweep_.jobs[index].est_cost;
      if (cost > 0 && seconds >= 0) {
        auto& m = measured_[class_of_[index]];
        m.first += seconds;
        m.second += cost;
        total_seconds_ += seconds;
        total_cost_ += cost;
      }
      return false;
    }
    case Outcome::kFailed:
      if (++failures_[index] >= max_attempts_) {
        ++failed_;
        return true;
      }
      [[fallthrough]];
    case Outcome::kCancelled:
      pending_.at(class_of_[index]).insert(index);
      ++pending_count_;
      return false;
  }
  return false;
}

double Scheduler::EtaSeconds(int workers) const {
  if (workers < 1) workers = 1;
  double total = 0;
  for (const auto& [cls, jobs] : pending_) {
    double r = Ratio(cls);
    for (int64_t j : jobs) total += sweep_.jobs[j].est_cost * r;
  }
  for (int64_t j : running_) total += Predict(j) * 0.5;  // On average half done.
  return total / workers;
}

}  // namespace vlmscale::driver
