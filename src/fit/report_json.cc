#include "fit/report_json.h"

#include <cmath>
#include <fstream>

#include "core/strings.h"

namespace vlmscale::fit {
namespace {

nlohmann::json Number(double v) {
  if (!std::isfinite(v)) return nullptr;
  return v;
}

// As Number, but +inf (a ratio over alpha = 0) is the string "inf".
nlohmann::json RatioNumber(double v) {
  if (std::isinf(v) && v > 0) return "inf";
  return Number(v);
}

Result<double> GetNumber(const nlohmann::json& obj, const std::string& key,
                         const std::string& where) {
  if (!obj.is_object() || !obj.contains(key)) {
    return Status::InvalidInput(where + ": missing key '" + key + "'");
  }
  const auto& v = obj.at(key);
  if (!v.is_number()) return Status::InvalidInput(where + ": '" + key + "' is not a number");
  double d = v.get<double>();
  if (!std::isfinite(d)) return Status::InvalidInput(where + ": '" + key + "' is not finite");
  return d;
}

}  // namespace

nlohmann::json FitSummaryToJson(const FitSummary& s, const Observations& obs) {
  using nlohmann::json;
  json j;
  j["model"] = ModelName(s.model);
  j["loss"] = LossName(s.loss);
  j["space"] = SpaceName(s.space);
  j["huber_delta"] = s.loss == Loss::kHuber ? json(s.huber_delta) : json(nullptr);
  j["n_points"] = s.n_points;
  j["termination"] = s.termination == FitSummary::Termination::kConvergence     ? "convergence"
                     : s.termination == FitSummary::Termination::kNoConvergence ? "no_convergence"
                                                                                : "failure";
  j["message"] = s.message;
  const std::vector<int> ids = ActiveParams(s.model);
  json params = json::object();
  for (int id : ids) params[ParamName(id)] = Number(GetParam(s.params, id));
  j["params"] = params;
  j["objective"] = Number(s.objective);
  j["sse"] = Number(s.sse);
  j["r2"] = Number(s.r2);
  j["rmse"] = Number(s.rmse);
  j["at_bound"] = s.at_bound;
  if (s.has_stderr) {
    json se = json::object();
    for (int id : ids) {
      se[ParamName(id)] =
          s.stderr_present[id] ? Number(GetParam(s.stderr_values, id)) : json(nullptr);
    }
    j["stderr"] = se;
    j["stderr_reason"] = s.at_bound.empty()
                             ? json(nullptr)
                             : json("parameters at a bound (" + Join(s.at_bound, ", ") +
                                    ") are held fixed and have no standard error");
  } else {
    j["stderr"] = nullptr;
    j["stderr_reason"] = s.stderr_reason;
  }
  if (s.has_ci) {
    json ci = json::object();
    for (int id : ids) {
      ci[ParamName(id)] = {Number(GetParam(s.ci_lower, id)), Number(GetParam(s.ci_upper, id))};
    }
    j["ci95"] = ci;
  } else {
    j["ci95"] = nullptr;
  }
  j["bootstrap_resamples"] = s.bootstrap_resamples;
  j["beta_over_alpha"] = {
      {"value", RatioNumber(BetaOverAlpha(s.params))},
      {"ci95", s.has_ci ? json{RatioNumber(s.beta_over_alpha_ci_lower),
                               RatioNumber(s.beta_over_alpha_ci_upper)}
                        : json(nullptr)}};
  json ex = json::array();
  for (const auto& h : s.extrapolation) {
    ex.push_back({{"n", h.n},
                  {"t", h.t},
                  {"observed", h.observed},
                  {"predicted", Number(h.predicted)},
                  {"relative_error", Number(h.relative_error)}});
  }
  j["extrapolation"] = ex;
  j["warnings"] = s.warnings;
  j["starts"] = {
      {"total", s.num_starts}, {"at_best", s.starts_at_best}, {"failed", s.starts_failed}};
  json bounds = json::object();
  for (int id : ids) {
    if (id < static_cast<int>(s.bounds_used.size())) {
      bounds[ParamName(id)] = {Number(s.bounds_used[id].lower), Number(s.bounds_used[id].upper)};
    }
  }
  j["bounds"] = bounds;
  json points = json::array();
  for (size_t i = 0; i < obs.size(); ++i) {
    points.push_back({{"n", obs.n[i]}, {"t", obs.t[i]}, {"y", obs.y[i]}});
  }
  j["points"] = points;
  return j;
}

Result<FittedLaw> FittedLawFromJson(const nlohmann::json& fit) {
  const std::string where = "fit JSON";
  if (!fit.is_object()) return Status::InvalidInput(where + ": expected an object");
  FittedLaw law;
  if (!fit.contains("model") || !fit["model"].is_string()) {
    return Status::InvalidInput(where + ": missing string key 'model'");
  }
  VLM_ASSIGN_OR_RETURN(law.model, ParseModel(fit["model"].get<std::string>()));
  if (!fit.contains("params") || !fit["params"].is_object()) {
    return Status::InvalidInput(where + ": missing object 'params'");
  }
  for (int id : ActiveParams(law.model)) {
    VLM_ASSIGN_OR_RETURN(double v, GetNumber(fit["params"], ParamName(id), where + " params"));
    SetParam(&law.params, id, v);
  }
  if (!fit.contains("points") || !fit["points"].is_array()) {
    return Status::InvalidInput(where + ": missing array 'points' (the evaluated (N, T) grid)");
  }
  for (size_t i = 0; i < fit["points"].size(); ++i) {
    const auto& p = fit["points"][i];
    const std::string pw = where + " points[" + std::to_string(i) + "]";
    VLM_ASSIGN_OR_RETURN(double n, GetNumber(p, "n", pw));
    VLM_ASSIGN_OR_RETURN(double t, GetNumber(p, "t", pw));
    VLM_ASSIGN_OR_RETURN(double y, GetNumber(p, "y", pw));
    law.points.Add(n, t, y);
  }
  if (fit.contains("group") && fit["group"].is_object()) {
    law.name = fit["group"].value("task", "") + "/" + fit["group"].value("method", "");
  }
  return law;
}

Result<FittedLaw> ReadFittedLaw(const std::string& path, const std::string& group) {
  std::ifstream in(path);
  if (!in)
    return Status::NotFound("cannot open fit JSON '" + path + "'; run vlmscale fit --json first");
  nlohmann::json doc;
  try {
    in >> doc;
  } catch (const nlohmann::json::exception& e) {
    return Status::InvalidInput(path + ": not valid JSON: " + e.what());
  }
  if (doc.is_object() && doc.contains("fits")) {
    if (!doc["fits"].is_array() || doc["fits"].empty()) {
      return Status::InvalidInput(path + ": 'fits' is empty");
    }
    std::vector<std::string> names;
    for (const auto& f : doc["fits"]) {
      VLM_ASSIGN_OR_RETURN(FittedLaw law, FittedLawFromJson(f));
      if ((group.empty() && doc["fits"].size() == 1) || law.name == group) return law;
      names.push_back(law.name);
    }
    return Status::InvalidInput(path + ": " +
                                (group.empty() ? "holds several fits; choose one with --group"
                                               : "no fit for group '" + group + "'") +
                                " (groups: " + Join(names, ", ") + ")");
  }
  Result<FittedLaw> law = FittedLawFromJson(doc);
  if (!law.ok()) return law.status().WithPrefix(path);
  return law;
}

}  // namespace vlmscale::fit
