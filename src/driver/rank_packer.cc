#include "driver/rank_packer.h"

#include <algorithm>
#include <map>
#include <utility>

#include "core/check.h"

namespace vlmscale::driver {

RankPacker::RankPacker(std::vector<int> node_of, bool node_local)
    : node_of_(std::move(node_of)),
      node_local_(node_local),
      busy_(node_of_.size(), false),
      busy_until_(node_of_.size(), 0.0),
      idle_count_(static_cast<int>(node_of_.size())) {
  CHECK(!node_of_.empty());
}

int RankPacker::MaxRanks() const {
  if (!node_local_) return world();
  std::map<int, int> size;
  for (int node : node_of_) ++size[node];
  int most = 0;
  for (const auto& [node, n] : size) most = std::max(most, n);
  return most;
}

void RankPacker::Advance(double now) {
  if (started_) {
    CHECK(now >= last_now_);
    idle_rank_seconds_ += idle_count_ * (now - last_now_);
  }
  started_ = true;
  last_now_ = now;
}

void RankPacker::Occupy(const std::vector<int>& ranks, double until) {
  for (int r : ranks) {
    CHECK(!busy_[r]);
    busy_[r] = true;
    busy_until_[r] = until;
    --idle_count_;
  }
}

void RankPacker::Release(double now, const std::vector<int>& ranks) {
  Advance(now);
  for (int r : ranks) {
    CHECK(r >= 0 && r < world() && busy_[r]);
    busy_[r] = false;
    ++idle_count_;
  }
}

std::vector<int> RankPacker::Choose(int k, const std::vector<bool>& allowed) const {
  std::map<int, std::vector<int>> by_node;  // Allowed ranks per node, ascending.
  int total = 0;
  for (int r = 0; r < world(); ++r) {
    if (allowed[r]) {
      by_node[node_of_[r]].push_back(r);
      ++total;
    }
  }
  if (total < k) return {};
  // Best fit: the node with the fewest allowed ranks that still holds the job.
  const std::vector<int>* best = nullptr;
  for (const auto& [node, ranks] : by_node) {
    if (static_cast<int>(ranks.size()) >= k && (best == nullptr || ranks.size() < best->size())) {
      best = &ranks;
    }
  }
  if (best != nullptr) return std::vector<int>(best->begin(), best->begin() + k);
  if (node_local_) return {};
  // Span nodes, fullest first, so the job touches as few nodes as possible.
  std::vector<const std::vector<int>*> nodes;
  for (const auto& [node, ranks] : by_node) nodes.push_back(&ranks);
  std::stable_sort(nodes.begin(), nodes.end(),
                   [](const auto* a, const auto* b) { return a->size() > b->size(); });
  std::vector<int> chosen;
  for (const auto* ranks : nodes) {
    for (int r : *ranks) {
      if (static_cast<int>(chosen.size()) == k) break;
      chosen.push_back(r);
    }
  }
  std::sort(chosen.begin(), chosen.end());
  return chosen;
}

PackReservation RankPacker::Reserve(int64_t job, int k, double now) const {
  // When each rank is predicted free: now for idle ranks and for jobs that overran.
  auto free_at = [&](int r) { return busy_[r] ? std::max(busy_until_[r], now) : now; };
  std::map<int, std::vector<int>> by_node;
  if (node_local_) {
    for (int r = 0; r < world(); ++r) by_node[node_of_[r]].push_back(r);
  } else {
    for (int r = 0; r < world(); ++r) by_node[0].push_back(r);  // One pool.
  }
  PackReservation best;
  for (auto& [node, ranks] : by_node) {
    if (static_cast<int>(ranks.size()) < k) continue;
    std::stable_sort(ranks.begin(), ranks.end(),
                     [&](int a, int b) { return free_at(a) < free_at(b); });
    const double start = free_at(ranks[k - 1]);
    if (best.job != -1 && start >= best.start) continue;
    best.job = job;
    best.start = start;
    // Of the ranks free by `start`, reserve the ones that free last: the idle ranks left over
    // (EASY's "extra" ranks) can take jobs that run past the reservation.
    size_t free_by_start = k;
    while (free_by_start < ranks.size() && free_at(ranks[free_by_start]) <= start) ++free_by_start;
    best.ranks.assign(ranks.begin() + (free_by_start - k), ranks.begin() + free_by_start);
  }
  std::sort(best.ranks.begin(), best.ranks.end());
  return best;
}

std::vector<PackStart> RankPacker::Schedule(double now, const std::vector<PackRequest>& ready) {
  Advance(now);
  reservation_ = PackReservation();
  std::vector<PackStart> starts;
  std::vector<bool> idle(world());
  for (int r = 0; r < world(); ++r) idle[r] = !busy_[r];
  std::vector<bool> unreserved;  // Idle ranks the reservation does not need.
  for (const PackRequest& req : ready) {
    CHECK(req.ranks >= 1 && req.ranks <= MaxRanks() && req.seconds >= 0.0);
    if (idle_count_ == 0 && reservation_.job != -1) break;  // Nothing left to backfill.
    std::vector<int> ranks;
    if (reservation_.job == -1) {
      ranks = Choose(req.ranks, idle);
      if (ranks.empty()) {
        // The head: reserve, then only backfill below.
        reservation_ = Reserve(req.job, req.ranks, now);
        unreserved = idle;
        for (int r : reservation_.ranks) unreserved[r] = false;
        continue;
      }
    } else if (now + req.seconds <= reservation_.start) {
      ranks = Choose(req.ranks, idle);  // Ends before the head starts: any idle rank.
    } else {
      ranks = Choose(req.ranks, unreserved);
    }
    if (ranks.empty()) continue;
    for (int r : ranks) idle[r] = false;
    if (!unreserved.empty()) {
      for (int r : ranks) unreserved[r] = false;
    }
    Occupy(ranks, now + req.seconds);
    starts.push_back({req.job, std::move(ranks)});
  }
  return starts;
}

PackSimulation SimulatePacking(const std::vector<PackRequest>& jobs, std::vector<int> node_of,
                               bool node_local) {
  RankPacker packer(std::move(node_of), node_local);
  PackSimulation sim;
  sim.start.assign(jobs.size(), -1.0);
  sim.reserved_start.assign(jobs.size(), -1.0);
  std::map<int64_t, size_t> position;  // Job id -> index in `jobs`.
  for (size_t i = 0; i < jobs.size(); ++i) position[jobs[i].job] = i;
  std::vector<PackRequest> waiting = jobs;
  std::multimap<double, std::vector<int>> running;  // End time -> ranks.
  double now = 0.0;
  while (!waiting.empty() || !running.empty()) {
    for (PackStart& s : packer.Schedule(now, waiting)) {
      const size_t i = position.at(s.job);
      sim.start[i] = now;
      running.emplace(now + jobs[i].seconds, std::move(s.ranks));
    }
    const PackReservation& r = packer.reservation();
    if (r.job != -1 && sim.reserved_start[position.at(r.job)] < 0.0) {
      sim.reserved_start[position.at(r.job)] = r.start;
    }
    waiting.erase(
        std::remove_if(waiting.begin(), waiting.end(),
                       [&](const PackRequest& q) { return sim.start[position.at(q.job)] >= 0.0; }),
        waiting.end());
    if (running.empty()) break;  // Nothing can ever start (REQUIRES excludes it).
    // Every job that ends at the next end time frees its ranks.
    now = running.begin()->first;
    while (!running.empty() && running.begin()->first <= now) {
      packer.Release(now, running.begin()->second);
      running.erase(running.begin());
    }
  }
  sim.makespan = now;
  sim.idle_rank_seconds = packer.idle_rank_seconds();
  return sim;
}

}  // namespace vlmscale::driver
