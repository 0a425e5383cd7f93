#include "fit/model_selection.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <sstream>

#include "core/strings.h"

namespace vlmscale::fit {
namespace {

nlohmann::json Number(double v) {
  if (!std::isfinite(v)) return nullptr;
  return v;
}

std::string Percent(double v) {
  return std::isfinite(v) ? FormatNumber(100.0 * v, 3) + "%" : std::string("-");
}

// Ranks of `value` over the forms that have one (1 = smallest); 0 for the others.
void Rank(std::vector<FormFit>* forms, double FormFit::*value, int FormFit::*rank) {
  std::vector<size_t> order;
  for (size_t i = 0; i < forms->size(); ++i) {
    if (std::isfinite((*forms)[i].*value)) order.push_back(i);
  }
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return (*forms)[a].*value < (*forms)[b].*value; });
  for (size_t r = 0; r < order.size(); ++r) (*forms)[order[r]].*rank = static_cast<int>(r + 1);
}

}  // namespace

Status SelectModel(const FitOptions& options, const Observations& obs, ModelSelection* out) {
  CHECK(out != nullptr);
  *out = ModelSelection();
  std::string error;
  if (!options.IsValid(&error)) return Status::InvalidInput("fit options: " + error);
  for (Model m : kAllModels) {
    FormFit f;
    f.model = m;
    f.num_params = static_cast<int>(ActiveParams(m).size());
    FitOptions o = options;
    o.model = m;
    o.bootstrap = 0;
    o.compute_stderr = false;
    o.holdout_largest = 1;
    // Bounds and start grids name the parameters of one form; each form keeps only its own.
    const std::vector<int> ids = ActiveParams(m);
    auto mine = [&](const std::string& name) {
      return std::any_of(ids.begin(), ids.end(), [&](int id) { return name == ParamName(id); });
    };
    for (auto it = o.bounds.begin(); it != o.bounds.end();) {
      it = mine(it->first) ? std::next(it) : o.bounds.erase(it);
    }
    for (auto it = o.start_grid.begin(); it != o.start_grid.end();) {
      it = mine(it->first) ? std::next(it) : o.start_grid.erase(it);
    }
    if (m == Model::kCompute && std::isnan(o.text_tokens)) {
      f.skipped = "no Q (text tokens per query) to define C";
      out->forms.push_back(std::move(f));
      continue;
    }
    if (obs.size() < ids.size()) {
      f.skipped = "fewer points than its " + std::to_string(ids.size()) + " parameters";
      out->forms.push_back(std::move(f));
      continue;
    }
    Status s = FitScalingLaw(o, obs, &f.summary);
    if (!s.ok()) {
      // Options and points are checked above for the common parts; what is left is specific to
      // the form (e.g. the hold-out leaving too few N): record it, fit the others.
      if (s.message().find("--holdout-largest") == std::string::npos) return s;
      o.holdout_largest = 0;
      s = FitScalingLaw(o, obs, &f.summary);
      if (!s.ok()) return s;
    }
    if (!f.summary.IsSolutionUsable()) {
      f.skipped = "the fit failed: " + f.summary.message;
      out->forms.push_back(std::move(f));
      continue;
    }
    const double n = static_cast<double>(obs.size());
    // An exact fit (objective 0) has AIC -inf; floor the objective so the ranking stays defined.
    const double obj = std::max(f.summary.objective, 1e-300);
    f.aic = n * std::log(obj / n) + 2.0 * f.num_params;
    if (!f.summary.extrapolation.empty()) {
      double sum = 0.0;
      for (const auto& h : f.summary.extrapolation) sum += h.relative_error * h.relative_error;
      f.holdout_error = std::sqrt(sum / f.summary.extrapolation.size());
    }
    out->forms.push_back(std::move(f));
  }
  Rank(&out->forms, &FormFit::aic, &FormFit::aic_rank);
  Rank(&out->forms, &FormFit::holdout_error, &FormFit::holdout_rank);
  for (size_t i = 0; i < out->forms.size(); ++i) {
    if (out->forms[i].aic_rank == 1) out->winner = static_cast<int>(i);
    if (out->forms[i].aic_rank == 2) out->runner_up = static_cast<int>(i);
    if (out->forms[i].holdout_rank == 1) out->holdout_best = static_cast<int>(i);
  }
  if (out->winner < 0) {
    out->verdict = "no form could be fit";
    return Status::OK();
  }
  const FormFit& w = out->forms[out->winner];
  for (auto& f : out->forms) {
    if (std::isfinite(f.aic)) f.delta_aic = f.aic - w.aic;
  }
  std::ostringstream v;
  v << "winner: " << ModelName(w.model);
  if (out->runner_up >= 0) {
    const FormFit& r = out->forms[out->runner_up];
    v << ", AIC " << FormatNumber(r.aic - w.aic, 3) << " below the runner-up " << ModelName(r.model)
      << " (hold-out error " << Percent(w.holdout_error) << " vs " << Percent(r.holdout_error)
      << ")";
  }
  if (out->holdout_best >= 0 && out->holdout_best != out->winner) {
    v << "; the hold-out ranks " << ModelName(out->forms[out->holdout_best].model) << " first ("
      << Percent(out->forms[out->holdout_best].holdout_error) << ")";
  } else if (out->holdout_best == out->winner) {
    v << "; it also has the smallest hold-out error";
  }
  out->verdict = v.str();
  return Status::OK();
}

std::string ModelSelection::Report() const {
  std::ostringstream os;
  os << "Law selection (--model auto): every form fit to the same points, ranked by AIC\n"
     << "  (hold-out: fit without the largest N, RMS relative error predicting it)\n\n"
     << "  form            k  params                                                         "
        "hold-out   AIC"
        "          dAIC\n";
  for (const auto& f : forms) {
    char line[400];
    if (!f.skipped.empty()) {
      std::snprintf(line, sizeof(line), "  %-15s %d  skipped: %s\n", ModelName(f.model),
                    f.num_params, f.skipped.c_str());
      os << line;
      continue;
    }
    std::vector<std::string> ps;
    for (int id : ActiveParams(f.model)) {
      ps.push_back(std::string(ParamName(id)) + "=" +
                   FormatNumber(GetParam(f.summary.params, id), 4));
    }
    std::snprintf(line, sizeof(line), "  %-15s %d  %-62s %-10s %-12s %s\n", ModelName(f.model),
                  f.num_params, Join(ps, " ").c_str(), Percent(f.holdout_error).c_str(),
                  FormatNumber(f.aic, 6).c_str(), FormatNumber(f.delta_aic, 4).c_str());
    os << line;
  }
  os << "  " << verdict << "\n";
  return os.str();
}

nlohmann::json ModelSelection::ToJson() const {
  using nlohmann::json;
  json fs = json::array();
  for (const auto& f : forms) {
    json o;
    o["model"] = ModelName(f.model);
    o["skipped"] = f.skipped.empty() ? json(nullptr) : json(f.skipped);
    o["n_params"] = f.num_params;
    if (f.skipped.empty()) {
      json params = json::object();
      for (int id : ActiveParams(f.model))
        params[ParamName(id)] = Number(GetParam(f.summary.params, id));
      o["params"] = params;
      o["objective"] = Number(f.summary.objective);
      o["sse"] = Number(f.summary.sse);
      o["at_bound"] = f.summary.at_bound;
    } else {
      o["params"] = nullptr;
    }
    o["aic"] = Number(f.aic);
    o["delta_aic"] = Number(f.delta_aic);
    o["aic_rank"] = f.aic_rank;
    o["holdout_error"] = Number(f.holdout_error);
    o["holdout_rank"] = f.holdout_rank;
    fs.push_back(o);
  }
  auto name = [&](int i) { return i < 0 ? json(nullptr) : json(ModelName(forms[i].model)); };
  return {{"criterion", "aic"},
          {"forms", fs},
          {"winner", name(winner)},
          {"runner_up", name(runner_up)},
          {"holdout_best", name(holdout_best)},
          {"verdict", verdict}};
}

}  // namespace vlmscale::fit
