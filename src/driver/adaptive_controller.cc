#include "driver/adaptive_controller.h"

#include <algorithm>
#include <cmath>
#include <set>

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
  const config::StageSpec& stage = sweep.stages.at(settings.stage);
  c->candidate_of_.assign(sweep.jobs.size(), -1);
  c->released_.assign(sweep.jobs.size(), false);
  std::vector<fit::DesignCandidate> with_ancestors;
  for (int64_t i = stage.first_job; i < stage.first_job + stage.job_count; ++i) {
    const config::JobSpec& j = sweep.jobs[i];
    c->candidate_of_[i] = static_cast<int64_t>(c->job_of_.size());
    c->job_of_.push_back(i);
    c->candidates_.push_back(
        {j.llm.n_params, static_cast<double>(j.point.visual_tokens), j.est_cost});
    // Ancestors: parents have smaller indices, so one pass from the job down finds them all.
    std::set<int64_t> seen;
    std::vector<int64_t> stack(j.parents.begin(), j.parents.end());
    while (!stack.empty()) {
      int64_t a = stack.back();
      stack.pop_back();
      if (!seen.insert(a).second) continue;
      for (int64_t p : sweep.jobs[a].parents) stack.push_back(p);
    }
    c->ancestors_.emplace_back(seen.begin(), seen.end());
    double cost = j.est_cost;
    for (int64_t a : seen) cost += sweep.jobs[a].est_cost;
    with_ancestors.push_back({c->candidates_.back().n, c->candidates_.back().t, cost});
  }
  // The design is made with every candidate's full cost; the budget is checked below on what
  // it really runs (ancestors shared by several of its points run once).
  fit::AdaptiveOptions unbudgeted = c->options_;
  unbudgeted.budget_cost = 0;
  Result<std::vector<size_t>> initial = fit::InitialDesign(with_ancestors, unbudgeted);
  if (!initial.ok()) {
    return Status::InvalidInput("[adaptive]: the initial design cannot be made: " +
                                initial.status().message());
  }
  std::vector<int64_t> unused;
  for (size_t k : *initial) {
    c->initial_.push_back(c->job_of_[k]);
    c->ReleaseCandidate(k, &unused);
  }
  double cost = 0.0;
  for (size_t i = 0; i < sweep.jobs.size(); ++i) {
    if (c->released_[i]) cost += sweep.jobs[i].est_cost;
  }
  if (settings.budget_flops > 0 && cost > settings.budget_flops) {
    return Status::InvalidInput(
        "[adaptive]: the initial design cannot be made: the budget of " +
        FormatNumber(settings.budget_flops) + " FLOPs is below the initial design's cost " +
        FormatNumber(cost) + " (4 corners + " + std::to_string(settings.initial_spread) +
        " spread points" +
        (sweep.multi_stage() ? ", with the jobs of earlier stages they need" : "") +
        "); raise adaptive.budget or lower adaptive.initial");
  }
  // Replay the journal: every candidate a recorded round chose is released.
  nlohmann::json info = nlohmann::json::parse(previous_run_info, nullptr, false);
  if (info.is_object() && info.contains("adaptive") && info["adaptive"].is_object() &&
      info["adaptive"].contains("rounds") && info["adaptive"]["rounds"].is_array()) {
    std::map<std::string, int64_t> index_of;
    for (int64_t i : c->job_of_) index_of[sweep.jobs[i].id] = i;
    for (const auto& round : info["adaptive"]["rounds"]) {
      if (!round.is_object() || !round.contains("chosen") || !round["chosen"].is_array()) continue;
      for (const auto& id : round["chosen"]) {
        if (!id.is_string()) continue;
        auto it = index_of.find(id.get<std::string>());
        if (it != index_of.end()) c->ReleaseCandidate(c->candidate_of_[it->second], &unused);
      }
      c->rounds_.push_back(round);
    }
  }
  return c;
}

void AdaptiveController::ReleaseCandidate(size_t c, std::vector<int64_t>* newly) {
  for (int64_t a : ancestors_[c]) {
    if (!released_[a]) newly->push_back(a);
    released_[a] = true;
  }
  const int64_t j = job_of_[c];
  if (!released_[j]) newly->push_back(j);
  released_[j] = true;
}

std::vector<fit::DesignCandidate> AdaptiveController::Costed() const {
  std::vector<fit::DesignCandidate> out = candidates_;
  std::vector<bool> charged(sweep_.jobs.size(), false);
  for (size_t c = 0; c < out.size(); ++c) {
    const bool run = released_[job_of_[c]];
    for (int64_t a : ancestors_[c]) {
      if (run ? charged[a] : released_[a]) continue;
      out[c].cost += sweep_.jobs[a].est_cost;
      if (run) charged[a] = true;
    }
  }
  return out;
}

Result<std::vector<int64_t>> AdaptiveController::Decide(
    const store::ResultsStore& store, const std::vector<int64_t>& failed, std::string* message) {
  std::vector<fit::DesignResult> results;
  std::vector<size_t> spent;
  nlohmann::json used = nlohmann::json::array();
  nlohmann::json failed_ids = nlohmann::json::array();
  for (int64_t f : failed) {
    const config::JobSpec& j = sweep_.jobs[f];
    if (candidate_of_[f] < 0) {
      return Status::Runtime("job " + j.id + " (stage " + sweep_.stage_of(j).name +
                             ") failed finally, so the candidates that need it cannot run: the "
                             "adaptive sweep ends; fix the cause and run again");
    }
    spent.push_back(static_cast<size_t>(candidate_of_[f]));
    failed_ids.push_back(j.id);
  }
  store::JobRecord record;
  for (size_t c = 0; c < job_of_.size(); ++c) {
    const config::JobSpec& j = sweep_.jobs[job_of_[c]];
    const int64_t i = store.job_index(j.id);
    if (i < 0 || store.job_state(i) != store::JobState::kDone) continue;
    store.job(i, &record);
    if (!std::isfinite(record.error)) {
      // Done without an error metric (a job type or command that does not report one): spent,
      // never chosen again.
      spent.push_back(c);
      failed_ids.push_back(j.id);
      continue;
    }
    results.push_back({c, record.error});
    used.push_back(j.id);
  }
  Result<fit::AdaptiveDecision> d = fit::NextRound(Costed(), results, spent, options_);
  if (!d.ok()) return d.status();
  const fit::AdaptiveDecision& dec = *d;
  std::vector<int64_t> chosen;
  nlohmann::json chosen_ids = nlohmann::json::array();
  for (size_t c : dec.chosen) {
    chosen_ids.push_back(sweep_.jobs[job_of_[c]].id);
    ReleaseCandidate(c, &chosen);
  }
  std::sort(chosen.begin(), chosen.end());
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
    *message += "; running " + std::to_string(dec.chosen.size()) + " more";
    if (chosen.size() > dec.chosen.size()) {
      *message += " (and " + std::to_string(chosen.size() - dec.chosen.size()) +
                  " job(s) of earlier stages they need)";
    }
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
      {"candidates", job_of_.size()},
      {"withheld", withheld},
      {"initial", initial},
      {"rounds", rounds_},
      {"stop_reason", stopped_ ? nlohmann::json(stop_reason_) : nullptr},
      {"stop_message", stopped_ ? nlohmann::json(stop_message_) : nullptr},
  };
  if (sweep_.multi_stage()) {
    // Jobs of earlier stages released as the ancestors of released candidates (status counts
    // them as released, not withheld).
    nlohmann::json ancestors = nlohmann::json::array();
    for (size_t i = 0; i < released_.size(); ++i) {
      if (released_[i] && candidate_of_[i] < 0) ancestors.push_back(sweep_.jobs[i].id);
    }
    j["stage"] = sweep_.stages[settings_.stage].name;
    j["released_ancestors"] = std::move(ancestors);
  }
  if (s.target == config::AdaptiveTargetKind::kError) {
    j["n"] = s.n;
    j["t"] = s.t;
  } else {
    j["text_tokens"] = s.text_tokens;
  }
  return j;
}

}  // namespace vlmscale::driver
