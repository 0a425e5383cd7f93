#include "fit/report_json.h"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <functional>

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

// Reads fit["bootstrap_params"] ({names, values}, absent or null for a fit without bootstrap)
// into law->bootstrap_params. REQUIRES: law->model and law->params.q are set.
Status ReadBootstrapParams(const nlohmann::json& fit, const std::string& where, FittedLaw* law) {
  auto it = fit.find("bootstrap_params");
  if (it == fit.end() || it->is_null()) return Status::OK();
  const std::string bw = where + " bootstrap_params";
  const std::vector<int> ids = ActiveParams(law->model);
  std::vector<std::string> expected;
  for (int id : ids) expected.push_back(ParamName(id));
  if (!it->is_object() || !it->contains("names") || !(*it)["names"].is_array() ||
      !it->contains("values") || !(*it)["values"].is_array()) {
    return Status::InvalidInput(bw + ": expected {\"names\": [...], \"values\": [[...], ...]}");
  }
  std::vector<std::string> names;
  for (const auto& n : (*it)["names"]) names.push_back(n.is_string() ? n.get<std::string>() : "?");
  if (names != expected) {
    return Status::InvalidInput(bw + ".names: expected [" + Join(expected, ", ") + "] for the " +
                                ModelName(law->model) + " law, got [" + Join(names, ", ") + "]");
  }
  const auto& values = (*it)["values"];
  for (size_t k = 0; k < values.size(); ++k) {
    const auto& row = values[k];
    const std::string rw = bw + ".values[" + std::to_string(k) + "]";
    if (!row.is_array() || row.size() != ids.size()) {
      return Status::InvalidInput(rw + ": expected " + std::to_string(ids.size()) + " numbers");
    }
    LawParams p;
    p.q = law->params.q;
    for (size_t i = 0; i < ids.size(); ++i) {
      if (!row[i].is_number() || !std::isfinite(row[i].get<double>())) {
        return Status::InvalidInput(rw + "[" + std::to_string(i) + "] (" + expected[i] +
                                    "): not a finite number");
      }
      SetParam(&p, ids[i], row[i].get<double>());
    }
    law->bootstrap_params.push_back(p);
  }
  return Status::OK();
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
  // The compute law's C needs Q; results-file groups record it again beside their jobs.
  if (s.model == Model::kCompute) j["text_tokens"] = Number(s.params.q);
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
  // Each resample's parameters, what `vlmscale frontier` computes the frontier's bands from.
  if (s.has_ci && !s.bootstrap_params.empty()) {
    json names = json::array(), values = json::array();
    for (int id : ids) names.push_back(ParamName(id));
    for (const LawParams& p : s.bootstrap_params) {
      json row = json::array();
      for (int id : ids) row.push_back(Number(GetParam(p, id)));
      values.push_back(std::move(row));
    }
    j["bootstrap_params"] = {{"names", names}, {"values", values}};
  } else {
    j["bootstrap_params"] = nullptr;
  }
  j["beta_over_alpha"] = {{"value", RatioNumber(BetaOverAlpha(s.params))},
                          {"ci95", s.has_ci ? json{RatioNumber(s.beta_over_alpha_ci_lower),
                                                   RatioNumber(s.beta_over_alpha_ci_upper)}
                                            : json(nullptr)}};
  auto band_json = [](const Band& b, json* o) {
    if (!b.present) return;
    (*o)["ci95"] = {Number(b.ci_lower), Number(b.ci_upper)};
    (*o)["pi95"] = {Number(b.pi_lower), Number(b.pi_upper)};
  };
  json ex = json::array();
  for (const auto& h : s.extrapolation) {
    json o = {{"n", h.n},
              {"t", h.t},
              {"observed", h.observed},
              {"predicted", Number(h.predicted)},
              {"relative_error", Number(h.relative_error)}};
    band_json(h.band, &o);
    ex.push_back(o);
  }
  j["extrapolation"] = ex;
  if (!s.curve_band.empty()) {
    json curve = json::array();
    for (const auto& bp : s.curve_band) {
      json o = {{"n", bp.n}, {"t", bp.t}, {"predicted", Number(bp.predicted)}};
      band_json(bp.band, &o);
      curve.push_back(o);
    }
    j["bands"] = {{"level", 0.95}, {"curve", curve}};
  } else {
    j["bands"] = nullptr;
  }
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
    law.name = GroupNameFromJson(fit["group"]);
  }
  if (fit.contains("text_tokens") && !fit["text_tokens"].is_null()) {
    VLM_ASSIGN_OR_RETURN(law.text_tokens, GetNumber(fit, "text_tokens", where));
    if (law.text_tokens < 0) return Status::InvalidInput(where + ": 'text_tokens' is negative");
  }
  if (law.model == Model::kCompute) {
    if (!std::isfinite(law.text_tokens)) {
      return Status::InvalidInput(where + ": a compute-law fit needs 'text_tokens' (Q defines C)");
    }
    law.params.q = law.text_tokens;
  }
  VLM_RETURN_IF_ERROR(ReadBootstrapParams(fit, where, &law));
  return law;
}

Result<std::vector<FittedLaw>> ReadFittedLaws(const std::string& path, const std::string& group) {
  std::ifstream in(path);
  if (!in)
    return Status::NotFound("cannot open fit JSON '" + path + "'; run vlmscale fit --json first");
  nlohmann::json doc;
  try {
    in >> doc;
  } catch (const nlohmann::json::exception& e) {
    return Status::InvalidInput(path + ": not valid JSON: " + e.what());
  }
  std::vector<FittedLaw> laws;
  if (doc.is_object() && doc.contains("fits")) {
    if (!doc["fits"].is_array() || doc["fits"].empty()) {
      return Status::InvalidInput(path + ": 'fits' is empty");
    }
    std::vector<std::string> names;
    for (size_t i = 0; i < doc["fits"].size(); ++i) {
      Result<FittedLaw> law = FittedLawFromJson(doc["fits"][i]);
      if (!law.ok()) return law.status().WithPrefix(path + ": fits[" + std::to_string(i) + "]");
      names.push_back(law->name);
      if (group.empty() || law->name == group) laws.push_back(std::move(*law));
    }
    if (laws.empty()) {
      return Status::InvalidInput(path + ": no fit for group '" + group +
                                  "' (groups: " + Join(names, ", ") + ")");
    }
    return laws;
  }
  Result<FittedLaw> law = FittedLawFromJson(doc);
  if (!law.ok()) return law.status().WithPrefix(path);
  laws.push_back(std::move(*law));
  return laws;
}

namespace {

nlohmann::json IntervalJson(const Interval& iv) { return {Number(iv.lower), Number(iv.upper)}; }

// Reads j[key] with `get`, or fails naming where and key.
template <typename T>
Status ReadKey(const nlohmann::json& j, const std::string& key, const std::string& where, T* out) {
  if (!j.is_object() || !j.contains(key)) {
    return Status::InvalidInput(where + ": missing key '" + key + "'");
  }
  try {
    *out = j.at(key).get<T>();
  } catch (const nlohmann::json::exception&) {
    return Status::InvalidInput(where + ": key '" + key + "' has the wrong type");
  }
  return Status::OK();
}

}  // namespace

nlohmann::json FitOptionsToJson(const FitOptions& o) {
  using nlohmann::json;
  json bounds = json::object();
  for (const auto& [name, iv] : o.bounds) bounds[name] = IntervalJson(iv);
  json starts = json::object();
  for (const auto& [name, values] : o.start_grid) starts[name] = values;
  nlohmann::json j = {{"model", ModelName(o.model)},
                      {"loss", LossName(o.loss)},
                      {"space", SpaceName(o.space)},
                      {"huber_delta", o.huber_delta},
                      {"bounds", bounds},
                      {"start_grid", starts},
                      {"max_iterations", o.max_iterations},
                      {"screen_iterations", o.screen_iterations},
                      {"polish_starts", o.polish_starts},
                      {"function_tolerance", o.function_tolerance},
                      {"gradient_tolerance", o.gradient_tolerance},
                      {"parameter_tolerance", o.parameter_tolerance},
                      {"per_point_residual_blocks", o.per_point_residual_blocks},
                      {"compute_stderr", o.compute_stderr},
                      {"bootstrap", o.bootstrap},
                      {"bootstrap_full_grid", o.bootstrap_full_grid},
                      {"seed", o.seed},
                      {"holdout_largest", o.holdout_largest}};
  // Only CSV fits of the compute law set it (results files record Q per group): absent otherwise.
  if (std::isfinite(o.text_tokens)) j["text_tokens"] = o.text_tokens;
  return j;
}

Result<FitOptions> FitOptionsFromJson(const nlohmann::json& j, const std::string& where) {
  FitOptions o;
  std::string model, loss, space;
  VLM_RETURN_IF_ERROR(ReadKey(j, "model", where, &model));
  VLM_RETURN_IF_ERROR(ReadKey(j, "loss", where, &loss));
  VLM_RETURN_IF_ERROR(ReadKey(j, "space", where, &space));
  {
    auto m = ParseModel(model);
    if (!m.ok()) return m.status().WithPrefix(where + ": model");
    o.model = *m;
    auto l = ParseLoss(loss);
    if (!l.ok()) return l.status().WithPrefix(where + ": loss");
    o.loss = *l;
    auto s = ParseSpace(space);
    if (!s.ok()) return s.status().WithPrefix(where + ": space");
    o.space = *s;
  }
  VLM_RETURN_IF_ERROR(ReadKey(j, "huber_delta", where, &o.huber_delta));
  nlohmann::json bounds, starts;
  VLM_RETURN_IF_ERROR(ReadKey(j, "bounds", where, &bounds));
  if (!bounds.is_object()) return Status::InvalidInput(where + ": 'bounds' is not an object");
  for (const auto& [name, pair] : bounds.items()) {
    if (!pair.is_array() || pair.size() != 2) {
      return Status::InvalidInput(where + ": bounds." + name + " is not [lo, hi]");
    }
    Interval iv;
    if (!pair[0].is_null()) iv.lower = pair[0].is_number() ? pair[0].get<double>() : NAN;
    if (!pair[1].is_null()) iv.upper = pair[1].is_number() ? pair[1].get<double>() : NAN;
    o.bounds[name] = iv;
  }
  VLM_RETURN_IF_ERROR(ReadKey(j, "start_grid", where, &starts));
  if (!starts.is_object()) return Status::InvalidInput(where + ": 'start_grid' is not an object");
  for (const auto& [name, values] : starts.items()) {
    std::vector<double> v;
    VLM_RETURN_IF_ERROR(ReadKey(starts, name, where + ": start_grid", &v));
    o.start_grid[name] = v;
  }
  VLM_RETURN_IF_ERROR(ReadKey(j, "max_iterations", where, &o.max_iterations));
  VLM_RETURN_IF_ERROR(ReadKey(j, "screen_iterations", where, &o.screen_iterations));
  VLM_RETURN_IF_ERROR(ReadKey(j, "polish_starts", where, &o.polish_starts));
  VLM_RETURN_IF_ERROR(ReadKey(j, "function_tolerance", where, &o.function_tolerance));
  VLM_RETURN_IF_ERROR(ReadKey(j, "gradient_tolerance", where, &o.gradient_tolerance));
  VLM_RETURN_IF_ERROR(ReadKey(j, "parameter_tolerance", where, &o.parameter_tolerance));
  VLM_RETURN_IF_ERROR(ReadKey(j, "per_point_residual_blocks", where, &o.per_point_residual_blocks));
  VLM_RETURN_IF_ERROR(ReadKey(j, "compute_stderr", where, &o.compute_stderr));
  VLM_RETURN_IF_ERROR(ReadKey(j, "bootstrap", where, &o.bootstrap));
  VLM_RETURN_IF_ERROR(ReadKey(j, "bootstrap_full_grid", where, &o.bootstrap_full_grid));
  VLM_RETURN_IF_ERROR(ReadKey(j, "seed", where, &o.seed));
  VLM_RETURN_IF_ERROR(ReadKey(j, "holdout_largest", where, &o.holdout_largest));
  if (j.contains("text_tokens")) {
    VLM_RETURN_IF_ERROR(ReadKey(j, "text_tokens", where, &o.text_tokens));
  }
  std::string error;
  if (!o.IsValid(&error)) return Status::InvalidInput(where + ": " + error);
  return o;
}

nlohmann::json GroupingOptionsToJson(const GroupingOptions& o) {
  nlohmann::json filters = nlohmann::json::array();
  for (const auto& [key, value] : o.filters) filters.push_back(key + "=" + value);
  nlohmann::json j = {{"filters", filters},
                      {"group_by", o.group_by},
                      {"average_seeds", o.average_seeds},
                      {"seed_weights", o.seed_weights},
                      {"stage", o.stage}};
  // Only a cut-off fit (status --fit's earlier rounds) has one: fit JSON of whole files is as
  // before.
  if (std::isfinite(o.ended_by)) j["ended_by"] = o.ended_by;
  return j;
}

std::string GroupNameFromJson(const nlohmann::json& group) {
  std::vector<std::pair<std::string, std::string>> settings;
  auto it = group.find("settings");
  if (it != group.end() && it->is_object()) {
    for (const auto& [k, v] : it->items()) {  // nlohmann::json objects iterate in key order.
      settings.emplace_back(k, v.is_string() ? v.get<std::string>() : v.dump());
    }
  }
  return GroupName(group.value("task", ""), group.value("method", ""), settings);
}

Result<GroupingOptions> GroupingOptionsFromJson(const nlohmann::json& j, const std::string& where) {
  GroupingOptions o;
  std::vector<std::string> filters;
  VLM_RETURN_IF_ERROR(ReadKey(j, "filters", where, &filters));
  for (const auto& f : filters) {
    auto kv = ParseFilter(f);
    if (!kv.ok()) return kv.status().WithPrefix(where + ": filters");
    o.filters.push_back(*kv);
  }
  if (j.is_object() && j.contains("group_by")) {  // Manifests before group_by have none.
    VLM_RETURN_IF_ERROR(ReadKey(j, "group_by", where, &o.group_by));
  }
  VLM_RETURN_IF_ERROR(ReadKey(j, "average_seeds", where, &o.average_seeds));
  VLM_RETURN_IF_ERROR(ReadKey(j, "seed_weights", where, &o.seed_weights));
  VLM_RETURN_IF_ERROR(ReadKey(j, "stage", where, &o.stage));
  if (j.is_object() && j.contains("ended_by")) {  // Cut-off fits only.
    VLM_RETURN_IF_ERROR(ReadKey(j, "ended_by", where, &o.ended_by));
  }
  return o;
}

std::vector<std::string> CompareFitNumbers(const nlohmann::json& recorded,
                                           const nlohmann::json& rederived, double rtol) {
  std::vector<std::string> diffs;
  // Walks both values in parallel; numbers compare with the tolerance, "inf"/null exactly.
  std::function<void(const std::string&, const nlohmann::json&, const nlohmann::json&)> walk =
      [&](const std::string& path, const nlohmann::json& a, const nlohmann::json& b) {
        if (a.is_number() && b.is_number()) {
          const double x = a.get<double>(), y = b.get<double>();
          if (std::abs(x - y) > rtol * std::max(std::abs(x), std::abs(y)) + 1e-12) {
            diffs.push_back(path + ": " + FormatNumber(x, 9) + " -> " + FormatNumber(y, 9));
          }
        } else if (a.is_object() && b.is_object()) {
          for (const auto& [k, v] : a.items()) {
            if (!b.contains(k)) {
              diffs.push_back(path + "." + k + ": missing in the re-derived fit");
            } else {
              walk(path + "." + k, v, b.at(k));
            }
          }
          for (const auto& [k, v] : b.items()) {
            if (!a.contains(k)) diffs.push_back(path + "." + k + ": new in the re-derived fit");
          }
        } else if (a.is_array() && b.is_array()) {
          if (a.size() != b.size()) {
            diffs.push_back(path + ": " + std::to_string(a.size()) + " entries -> " +
                            std::to_string(b.size()));
            return;
          }
          for (size_t i = 0; i < a.size(); ++i) {
            walk(path + "[" + std::to_string(i) + "]", a[i], b[i]);
          }
        } else if (a != b) {
          diffs.push_back(path + ": " + a.dump() + " -> " + b.dump());
        }
      };
  for (const char* key : {"model", "n_points", "params", "objective", "sse", "r2", "ci95",
                          "beta_over_alpha", "extrapolation", "points"}) {
    const bool in_a = recorded.contains(key), in_b = rederived.contains(key);
    if (!in_a && !in_b) continue;
    if (in_a != in_b) {
      diffs.push_back(std::string(key) +
                      (in_a ? ": missing in the re-derived fit" : ": missing in the recorded fit"));
      continue;
    }
    walk(key, recorded.at(key), rederived.at(key));
  }
  return diffs;
}

}  // namespace vlmscale::fit
