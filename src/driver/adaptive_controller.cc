#include "driver/adaptive_controller.h"

#include <algorithm>
#include <cmath>

#include "core/check.h"
#include "core/strings.h"
#include "driver/timing.h"

namespace vlmscale::driver {

namespace {

nlohmann::json Number(double x) { return std::isfinite(x) ? nlohmann::json(x) : nullptr; }

nlohmann::json WithCi(double value, double lower, double upper, bool has_ci) {
  return {{"value", Number(value)},
          {"ci95", has_ci ? nlohmann::json::array({Number(lower), Number(upper)}) : nullptr}};
}

}  // namespace

fit::AdaptiveOptions AdaptiveOptionsFor(const config::AdaptiveSettings& s) {
  CHECK(s.enabled());
  fit::AdaptiveOptions o;
  o.fit.bootstrap = s.bootstrap;
  o.fit.seed = static_cast<uint64_t>(s.seed);
  if (s.target == config::AdaptiveTargetKind::kError) {
    o.target.kind = fit::AdaptiveTargetKind::kError;
    o.target.n = s.n;
    o.target.t = s.t;
  } else {
    o.target.kind = fit::AdaptiveTargetKind::kFrontierT;
    o.target.frontier.text_tokens = s.text_tokens;
    o.target.frontier.budgets = s.budgets;
    o.target.frontier.num_budgets = s.budget_points;
  }
  o.tolerance = s.tolerance;
  o.budget_cost = s.budget_flops;
  o.budget_jobs = static_cast<int>(s.budget_jobs);
  o.initial_spread = s.initial_spread;
  o.batch = s.batch;
  return o;
}

AdaptiveController::AdaptiveController(const config::Sweep& sweep,
                                       const config::AdaptiveSettings& settings)
    : sweep_(sweep), settings_(settings), options_(AdaptiveOptionsFor(settings)) {}

Result<std::unique_ptr<AdaptiveController>> AdaptiveController::Create(
    const config::Sweep& sweep, const config::AdaptiveSettings& settings,
    const std::string& previous_run_info) {
  CHECK(settings.enabled());
  std::unique_ptr<AdaptiveController> c(new AdaptiveController(sweep, settings));
  for (const auto& j : sweep.jobs) {
    c->candidates_.push_back(
        {j.llm.n_params, static_cast<double>(j.point.visual_tokens), j.est_cost});
  }
  c->released_.assign(sweep.jobs.size(), false);
  Result<std::vector<size_t>> initial = fit::InitialDesign(c->candidates_, c->options_);
  if (!initial.ok()) {
    return Status::InvalidInput("[adaptive]: the initial design cannot be made: " +
                                initial.status().message());
  }
  for (size_t i : *initial) {
    c->initial_.push_back(static_cast<int64_t>(i));
    c->released_[i] = true;
  }
  // Replay the journal: every job a recorded round chose is released.
  nlohmann::json info = nlohmann::json::parse(previous_run_info, nullptr, false);
  if (info.is_object() && info.contains("adaptive") && info["adaptive"].is_object() &&
      info["adaptive"].contains("rounds") && info["adaptive"]["rounds"].is_array()) {
    std::map<std::string, int64_t> index_of;
    for (const auto& j : sweep.jobs) index_of[j.id] = j.index;
    for (const auto& round : info["adaptive"]["rounds"]) {
      if (!round.is_object() || !round.contains("chosen") || !round["chosen"].is_array()) continue;
      for (const auto& id : round["chosen"]) {
        if (!id.is_string()) continue;
        auto it = index_of.find(id.get<std::string>());
        if (it != index_of.end()) c->released_[it->second] = true;
      }
      c->rounds_.push_back(round);
    }
  }
  return c;
}

Result<std::vector<int64_t>> AdaptiveController::Decide(
    const store::ResultsStore& store, const std::vector<int64_t>& failed, std::string* message) {
  std::vector<fit::DesignResult> results;
  nlohmann::json used = nlohmann::json::array();
  store::JobRecord record;
  for (const auto& j : sweep_.jobs) {
    const int64_t i = store.job_index(j.id);
    if (i < 0 || store.job_state(i) != store::JobState::kDone) continue;
    store.job(i, &record);
    if (!std::isfinite(record.error)) continue;
    results.push_back({static_cast<size_t>(j.index), record.error});
    used.push_back(j.id);
  }
  std::vector<size_t> spent;
  nlohmann::json failed_ids = nlohmann::json::array();
  for (int64_t f : failed) {
    spent.push_back(static_cast<size_t>(f));
    failed_ids.push_back(sweep_.jobs[f].id);
  }
  Result<fit::AdaptiveDecision> d = fit::NextRound(candidates_, results, spent, options_);
  if (!d.ok()) return d.status();
  const fit::AdaptiveDecision& dec = *d;
  std::vector<int64_t> chosen;
  nlohmann::json chosen_ids = nlohmann::json::array();
  for (size_t c : dec.chosen) {
    chosen.push_back(static_cast<int64_t>(c));
    chosen_ids.push_back(sweep_.jobs[c].id);
    released_[c] = true;
  }
  nlohmann::json target = nlohmann::json::array();
  for (const auto& t : dec.target) {
    target.push_back({{"budget", Number(t.budget)},
                      {"value", Number(t.value)},
                      {"ci95", {Number(t.lower), Number(t.upper)}},
                      {"width", Number(t.width)}});
  }
  nlohmann::json round = {
      {"round", rounds_.size() + 1},
      {"time", UnixNow()},
      {"results", used},
      {"failed", failed_ids},
      {"chosen", chosen_ids},
      {"fitted", dec.fitted},
      {"width", Number(dec.width)},
      {"target", target},
      {"spent_flops", dec.spent_cost},
      {"spent_jobs", dec.spent_jobs},
      {"stop", fit::StopReasonName(dec.stop)},
      {"message", dec.message},
  };
  if (dec.fitted) {
    const fit::FitSummary& f = dec.fit;
    round["alpha"] = WithCi(f.params.alpha, f.ci_lower.alpha, f.ci_upper.alpha, f.has_ci);
    round["beta"] = WithCi(f.params.beta, f.ci_lower.beta, f.ci_upper.beta, f.has_ci);
  }
  // A rerun of a sweep that already stopped reaches the same stop from the same results: the
  // journal keeps one round for it.
  const bool repeat = !rounds_.empty() && rounds_.back().value("stop", "") == round["stop"] &&
                      rounds_.back().value("results", nlohmann::json()) == used &&
                      dec.stop != fit::StopReason::kContinue;
  if (!repeat) rounds_.push_back(round);
  if (dec.stop != fit::StopReason::kContinue) {
    stopped_ = true;
    stop_reason_ = fit::StopReasonName(dec.stop);
    stop_message_ = dec.message;
  }
  *message = "adaptive round " + std::to_string(rounds_.size()) + " (" +
             std::to_string(results.size()) + " results): " + dec.message;
  if (dec.stop == fit::StopReason::kContinue) {
    *message += "; running " + std::to_string(chosen.size()) + " more";
  } else {
    *message = "adaptive sweep stopped (" + stop_reason_ + ") after " +
               std::to_string(results.size()) + " results: " + dec.message;
  }
  return chosen;
}

nlohmann::json AdaptiveController::Json(int64_t withheld) const {
  const config::AdaptiveSettings& s = settings_;
  nlohmann::json initial = nlohmann::json::array();
  for (int64_t i : initial_) initial.push_back(sweep_.jobs[i].id);
  nlohmann::json j = {
      {"target", s.target == config::AdaptiveTargetKind::kError ? "error" : "frontier"},
      {"tolerance", s.tolerance},
      {"budget_flops", s.budget_flops > 0 ? nlohmann::json(s.budget_flops) : nullptr},
      {"budget_jobs", s.budget_jobs > 0 ? nlohmann::json(s.budget_jobs) : nullptr},
      {"batch", s.batch},
      {"candidates", sweep_.jobs.size()},
      {"withheld", withheld},
      {"initial", initial},
      {"rounds", rounds_},
      {"stop_reason", stopped_ ? nlohmann::json(stop_reason_) : nullptr},
      {"stop_message", stopped_ ? nlohmann::json(stop_message_) : nullptr},
  };
  if (s.target == config::AdaptiveTargetKind::kError) {
    j["n"] = s.n;
    j["t"] = s.t;
  } else {
    j["text_tokens"] = s.text_tokens;
  }
  return j;
}

}  // namespace vlmscale::driver
