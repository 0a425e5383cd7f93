// The fits of one `vlmscale fit` (cli/fit_run.h).
#include "cli/fit_run.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <iterator>
#include <map>

#include "cli/fit_checklist.h"
#include "config.h"
#include "core/check.h"
#include "core/csv.h"
#include "core/hash.h"
#include "core/strings.h"
#include "fit/model_selection.h"
#include "fit/report_json.h"
#include "store/results_store.h"

namespace vlmscale::cli {
namespace {

Result<std::string> ReadWholeFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::InvalidInput("cannot open '" + path + "'");
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

nlohmann::json FitterJson(const FitRequest& request) {
  nlohmann::json j = fit::FitOptionsToJson(request.options);
  if (request.auto_model) j["model"] = "auto";
  return j;
}

nlohmann::json Manifest(const FitRequest& request, const LoadedInputs& loaded) {
  using nlohmann::json;
  json excluded = json::array();
  for (const auto& e : loaded.excluded) {
    excluded.push_back({{"job_id", e.job_id}, {"reason", e.reason}});
  }
  size_t jobs = 0;
  for (const auto& in : loaded.inputs) jobs += in.jobs.size();
  json m = {
      {"vlmscale_version", VLMSCALE_VERSION},
      {"vlmscale_commit", VLMSCALE_GIT_COMMIT},
      {"source", request.source},
      {"source_kind", request.csv ? "csv" : "results"},
      {"csv_columns", request.csv
                          ? json{{"n", request.n_col}, {"t", request.t_col}, {"y", request.y_col}}
                          : json(nullptr)},
      {"grouping", request.csv ? json(nullptr) : fit::GroupingOptionsToJson(request.grouping)},
      {"fitter", FitterJson(request)},
      {"threads", request.options.num_threads},
      {"jobs_used", jobs},
      {"excluded", excluded}};
  for (const auto& [k, v] : loaded.source_facts.items()) m[k] = v;
  return m;
}

}  // namespace

nlohmann::json MaybeNumber(double v) {
  return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(nullptr);
}

Result<LoadedInputs> LoadInputs(const FitRequest& request) {
  LoadedInputs loaded;
  if (request.csv) {
    auto table = ReadCsvFile(request.source);
    if (table.status().code() == Status::Code::kNotFound) {
      return Status::InvalidInput(table.status().message());
    }
    if (!table.ok()) return table.status();
    auto obs = fit::ObservationsFromCsv(*table, request.n_col, request.t_col, request.y_col);
    if (!obs.ok()) return obs.status();
    VLM_ASSIGN_OR_RETURN(std::string bytes, ReadWholeFile(request.source));
    loaded.source_facts = {{"source_hash", HexId(bytes)}, {"config_hash", nullptr}};
    FitInput in;
    in.obs = std::move(*obs);
    loaded.inputs.push_back(std::move(in));
    return loaded;
  }
  auto file = store::ReadResults(request.source);
  if (file.status().code() == Status::Code::kNotFound) {
    return Status::InvalidInput(file.status().message() + " (check the results file path)");
  }
  if (!file.ok()) return file.status();
  return LoadInputs(request, *file);
}

Result<LoadedInputs> LoadInputs(const FitRequest& request, const store::ResultsFile& file) {
  CHECK(!request.csv);
  LoadedInputs loaded;
  auto grouped = fit::GroupRecords(file.jobs, request.grouping);
  if (!grouped.ok()) return grouped.status().WithPrefix(request.source);
  loaded.stage = *fit::FinalStage(file.jobs, request.grouping.stage);
  loaded.excluded = fit::ExcludedRecords(file.jobs, request.grouping);
  loaded.source_facts = {{"config_hash", HexId(file.config_text)},
                         {"sweep_name", file.sweep_name},
                         {"source_hash", nullptr}};
  for (auto& g : *grouped) {
    FitInput in;
    in.task = g.task;
    in.method = g.method;
    in.settings = g.settings;
    in.pooled_settings = g.pooled_settings;
    in.obs = std::move(g.observations);
    in.jobs = std::move(g.jobs);
    in.seed_noise = g.seed_noise;
    in.text_tokens = g.text_tokens;
    loaded.inputs.push_back(std::move(in));
  }
  return loaded;
}

Result<nlohmann::json> RunFits(const FitRequest& request, const LoadedInputs& loaded,
                               std::ostream* out, bool brief, bool* any_failed) {
  nlohmann::json fits = nlohmann::json::array();
  *any_failed = false;
  for (const FitInput& in : loaded.inputs) {
    const std::string name = in.name();
    fit::FitSummary summary;
    fit::FitOptions options = request.options;
    if (!request.csv) options.text_tokens = in.text_tokens;
    fit::ModelSelection selection;
    if (request.auto_model) {
      Status st = fit::SelectModel(options, in.obs, &selection);
      if (!st.ok()) return name.empty() ? st : st.WithPrefix("group " + name);
      if (selection.winner >= 0) {
        options.model = selection.forms[selection.winner].model;
        // Bounds and start grids apply to the forms that have those parameters.
        const std::vector<int> ids = fit::ActiveParams(options.model);
        auto mine = [&](const std::string& p) {
          return std::any_of(ids.begin(), ids.end(),
                             [&](int id) { return p == fit::ParamName(id); });
        };
        for (auto it = options.bounds.begin(); it != options.bounds.end();) {
          it = mine(it->first) ? std::next(it) : options.bounds.erase(it);
        }
        for (auto it = options.start_grid.begin(); it != options.start_grid.end();) {
          it = mine(it->first) ? std::next(it) : options.start_grid.erase(it);
        }
      }
    }
    Status st = fit::FitScalingLaw(options, in.obs, &summary);
    if (!st.ok()) return name.empty() ? st : st.WithPrefix("group " + name);
    *any_failed = *any_failed || !summary.IsSolutionUsable();
    const double holdout_rms = fit::CheckHoldoutAgainstSeedNoise(in.seed_noise, &summary);
    if (out != nullptr) {
      if (!name.empty()) *out << "== " << name << " ==\n";
      if (!in.pooled_settings.empty()) {
        *out << "  warning: --group-by pools jobs with different " << Join(in.pooled_settings, ", ")
             << " in this group (averaged like seeds)\n";
      }
      if (request.auto_model)
        *out << (brief ? selection.verdict + "\n" : selection.Report() + "\n");
      *out << (brief ? summary.BriefReport() + "\n" : summary.FullReport());
      if (!brief && !name.empty()) {
        *out << "  seed noise   "
             << (in.seed_noise.dof > 0
                     ? "sd " + FormatNumber(in.seed_noise.sd, 4) + " between seeds (" +
                           std::to_string(in.seed_noise.points_with_replicates) +
                           " points with 2+ seeds, " + std::to_string(in.seed_noise.dof) +
                           " dof); a fitted point's noise " +
                           FormatNumber(fit::PointNoise(in.seed_noise), 4)
                     : std::string("unknown (no point has two seeds)"))
             << (in.obs.weights.empty() ? std::string()
                                        : "; points weighted by 1 / variance of their seed mean")
             << (std::isfinite(holdout_rms) ? "; holdout RMS error " + FormatNumber(holdout_rms, 4)
                                            : std::string())
             << "\n";
      }
      if (!summary.IsSolutionUsable()) {
        std::cerr << "vlmscale fit: error: " << (name.empty() ? "" : name + ": ")
                  << "fit failed: " << summary.message << "\n";
      }
    }
    nlohmann::json j = fit::FitSummaryToJson(summary, in.obs);
    if (request.auto_model) j["model_selection"] = selection.ToJson();
    if (!name.empty()) {
      nlohmann::json settings = nlohmann::json::object();
      for (const auto& [k, v] : in.settings) settings[k] = v;
      j["group"] = {{"task", in.task}, {"method", in.method}, {"settings", settings}};
      if (!in.pooled_settings.empty()) j["pooled_settings"] = in.pooled_settings;
      nlohmann::json jobs = nlohmann::json::array();
      for (const auto& u : in.jobs) {
        jobs.push_back({{"job_id", u.job_id}, {"result_hash", u.result_hash}});
      }
      j["jobs"] = jobs;
      j["text_tokens"] = MaybeNumber(in.text_tokens);
      j["seed_noise"] = {{"sd", MaybeNumber(in.seed_noise.sd)},
                         {"dof", in.seed_noise.dof},
                         {"points_with_replicates", in.seed_noise.points_with_replicates},
                         {"mean_replicates", in.seed_noise.mean_replicates},
                         {"point_sd", MaybeNumber(fit::PointNoise(in.seed_noise))}};
      j["holdout_rms"] = MaybeNumber(holdout_rms);
      j["weighted"] = !in.obs.weights.empty();
    }
    fits.push_back(std::move(j));
  }
  nlohmann::json doc =
      request.csv
          ? fits[0]
          : nlohmann::json{{"fits", fits}, {"source", request.source}, {"stage", loaded.stage}};
  if (request.csv) doc["source"] = request.source;
  doc["manifest"] = Manifest(request, loaded);
  doc["manifest"]["checklist"] = Checklist(doc);
  return doc;
}

Result<nlohmann::json> PerSeedFits(const FitRequest& request, std::ostream& out) {
  auto file = store::ReadResults(request.source);
  if (!file.ok()) return file.status();
  std::vector<int64_t> seeds;
  for (const auto& r : file->jobs) {
    if (r.state == store::JobState::kDone) seeds.push_back(r.seed);
  }
  std::sort(seeds.begin(), seeds.end());
  seeds.erase(std::unique(seeds.begin(), seeds.end()), seeds.end());
  fit::FitOptions options = request.options;
  options.bootstrap = 0;  // One fit per seed is the spread; no intervals within a seed.
  options.holdout_largest = 0;
  std::map<std::string, nlohmann::json> by_group;
  for (int64_t seed : seeds) {
    FitRequest one = request;
    one.options = options;
    one.grouping.filters.push_back({"seed", std::to_string(seed)});
    auto loaded = LoadInputs(one);
    if (!loaded.ok()) continue;  // Filtered down to nothing at this seed.
    for (const auto& in : loaded->inputs) {
      fit::FitSummary summary;
      fit::FitOptions o = options;
      o.text_tokens = in.text_tokens;
      Status st = fit::FitScalingLaw(o, in.obs, &summary);
      nlohmann::json& g = by_group[in.name()];
      if (!st.ok() || !summary.IsSolutionUsable()) {
        g["failed"].push_back({{"seed", seed}, {"why", st.ok() ? summary.message : st.message()}});
        continue;
      }
      g["seeds"].push_back({{"seed", seed},
                            {"alpha", summary.params.alpha},
                            {"beta", summary.params.beta},
                            {"r2", summary.r2},
                            {"n_points", summary.n_points}});
    }
  }
  nlohmann::json result = nlohmann::json::object();
  out << "\nPer-seed fits (each seed's points apart; the spread shows the seed noise in the "
         "exponents)\n";
  for (auto& [name, g] : by_group) {
    out << "== " << name << " ==\n    seed       alpha        beta         r2\n";
    for (const char* key : {"alpha", "beta"}) {
      std::vector<double> v;
      for (const auto& e : g["seeds"]) v.push_back(e[key].get<double>());
      if (v.empty()) continue;
      double mean = 0.0;
      for (double x : v) mean += x;
      mean /= v.size();
      double ss = 0.0;
      for (double x : v) ss += (x - mean) * (x - mean);
      const double sd = v.size() > 1 ? std::sqrt(ss / (v.size() - 1)) : std::nan("");
      g[key] = {{"mean", mean},
                {"sd", MaybeNumber(sd)},
                {"min", *std::min_element(v.begin(), v.end())},
                {"max", *std::max_element(v.begin(), v.end())}};
    }
    for (const auto& e : g["seeds"]) {
      char line[160];
      std::snprintf(line, sizeof(line), "    %-10lld %-12s %-12s %s\n",
                    static_cast<long long>(e["seed"].get<int64_t>()),
                    FormatNumber(e["alpha"].get<double>(), 5).c_str(),
                    FormatNumber(e["beta"].get<double>(), 5).c_str(),
                    FormatNumber(e["r2"].get<double>(), 4).c_str());
      out << line;
    }
    for (const char* key : {"alpha", "beta"}) {
      if (!g.contains(key)) continue;
      out << "    " << key << " over " << g["seeds"].size() << " seeds: mean "
          << FormatNumber(g[key]["mean"].get<double>(), 4) << ", sd "
          << (g[key]["sd"].is_null() ? std::string("-")
                                     : FormatNumber(g[key]["sd"].get<double>(), 3))
          << ", range [" << FormatNumber(g[key]["min"].get<double>(), 4) << ", "
          << FormatNumber(g[key]["max"].get<double>(), 4) << "]\n";
    }
    if (g.contains("failed")) out << "    failed: " << g["failed"].dump() << "\n";
    result[name] = g;
  }
  return result;
}

}  // namespace vlmscale::cli
