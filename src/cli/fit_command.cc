// vlmscale fit: fit the scaling law Y(N, T) to a results file or a CSV (docs/FIT.md).
#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <iterator>
#include <limits>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "cli/cli_util.h"
#include "cli/command.h"
#include "config.h"
#include "core/csv.h"
#include "core/hash.h"
#include "core/strings.h"
#include "fit/model_selection.h"
#include "fit/observations.h"
#include "fit/report_json.h"
#include "fit/scaling_law.h"
#include "store/results_store.h"

namespace vlmscale::cli {
namespace {

constexpr char kName[] = "fit";
// --check: relative tolerance on every number of the re-derived fit. The fit is deterministic for
// any thread count; this leaves room for another compiler or libm.
constexpr double kCheckRtol = 1e-6;

// "alpha=0:1", "E=0:", "A=1e-3:inf".
Status ParseBound(const std::string& text, fit::FitOptions* options) {
  const size_t eq = text.find('=');
  const size_t colon = text.find(':', eq == std::string::npos ? 0 : eq);
  if (eq == std::string::npos || colon == std::string::npos) {
    return Status::InvalidInput("--bound '" + text +
                                "' is not NAME=LO:HI (e.g. E=0:0.3, alpha=0:)");
  }
  const std::string name = Trim(text.substr(0, eq));
  auto parse_end = [&](std::string s, double dflt) -> Result<double> {
    s = Trim(s);
    if (s.empty()) return dflt;
    if (s == "inf" || s == "+inf") return std::numeric_limits<double>::infinity();
    if (s == "-inf") return -std::numeric_limits<double>::infinity();
    auto v = ParseDouble(s);
    if (!v) return Status::InvalidInput("--bound " + text + ": '" + s + "' is not a number");
    return *v;
  };
  fit::Interval iv;
  VLM_ASSIGN_OR_RETURN(iv.lower, parse_end(text.substr(eq + 1, colon - eq - 1), iv.lower));
  VLM_ASSIGN_OR_RETURN(iv.upper, parse_end(text.substr(colon + 1), iv.upper));
  options->bounds[name] = iv;
  return Status::OK();
}

// "alpha=0,0.5,1".
Status ParseStart(const std::string& text, fit::FitOptions* options) {
  const size_t eq = text.find('=');
  if (eq == std::string::npos) {
    return Status::InvalidInput("--start '" + text +
                                "' is not NAME=V1,V2,... (e.g. alpha=0,0.5,1)");
  }
  std::vector<double> values;
  for (const std::string& s : SplitTrimmed(text.substr(eq + 1), ',')) {
    auto v = ParseDouble(s);
    if (!v) return Status::InvalidInput("--start " + text + ": '" + s + "' is not a number");
    values.push_back(*v);
  }
  options->start_grid[Trim(text.substr(0, eq))] = values;
  return Status::OK();
}

// What one `vlmscale fit` computes: the data, how they are grouped, the fitter's options. The
// manifest of the fit JSON records it, so that `--check` can compute it again.
struct FitRequest {
  std::string source;  // Results file or CSV.
  bool csv = false;
  std::string n_col = "N", t_col = "T", y_col = "Y";  // CSV only.
  fit::GroupingOptions grouping;                      // Results file only.
  // --model auto: every form is fit and ranked (fit/model_selection.h); options.model is then
  // set per group to the winner.
  bool auto_model = false;
  // options.text_tokens: Q for the compute law; --text-tokens for CSV fits, per group (from the
  // results file) otherwise.
  fit::FitOptions options;
};

// One set of points to fit, with where they came from.
struct FitInput {
  std::string task, method;  // Empty for a CSV.
  std::vector<std::pair<std::string, std::string>> settings;  // The group's setting values.
  std::vector<std::string> pooled_settings;
  fit::Observations obs;
  std::vector<fit::UsedJob> jobs;
  fit::SeedNoise seed_noise;
  double text_tokens = std::numeric_limits<double>::quiet_NaN();
  std::string name() const { return task.empty() ? "" : fit::GroupName(task, method, settings); }
};

struct LoadedInputs {
  std::vector<FitInput> inputs;
  std::string stage;
  nlohmann::json source_facts;  // config_hash, sweep_name, source_hash.
  std::vector<fit::ExcludedJob> excluded;
};

Result<std::string> ReadWholeFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::InvalidInput("cannot open '" + path + "'");
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
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
  auto grouped = fit::GroupRecords(file->jobs, request.grouping);
  if (!grouped.ok()) return grouped.status().WithPrefix(request.source);
  loaded.stage = *fit::FinalStage(file->jobs, request.grouping.stage);
  loaded.excluded = fit::ExcludedRecords(file->jobs, request.grouping);
  loaded.source_facts = {{"config_hash", HexId(file->config_text)},
                         {"sweep_name", file->sweep_name},
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

nlohmann::json MaybeNumber(double v) {
  return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(nullptr);
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

nlohmann::json Checklist(const nlohmann::json& doc);

// Fits every input; `out` (may be null) gets the text reports. Returns the JSON document
// `--json` writes. *any_failed is set when a fit failed numerically.
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

// The "how this fit was made" checklist of docs/FIT.md, filled in from a fit JSON document (its
// manifest and fits): [{item, status ("ok", "missing" or "warn"), answer}].
nlohmann::json Checklist(const nlohmann::json& doc) {
  using nlohmann::json;
  const json& m = doc["manifest"];
  std::vector<json> fits;
  if (doc.contains("fits")) {
    for (const auto& f : doc["fits"]) fits.push_back(f);
  } else {
    fits.push_back(doc);
  }
  auto name_of = [](const json& f) {
    return f.contains("group") && f["group"].is_object() ? fit::GroupNameFromJson(f["group"])
                                                         : std::string("fit");
  };
  json items = json::array();
  auto add = [&](const std::string& item, const std::string& status, const std::string& answer) {
    items.push_back({{"item", item}, {"status", status}, {"answer", answer}});
  };
  const bool csv = m.value("source_kind", "") == "csv";
  if (csv) {
    add("data", "ok",
        "CSV " + m.value("source", "") + " (FNV-1a " + m.value("source_hash", "") +
            "), columns N=" + m["csv_columns"].value("n", "") +
            ", T=" + m["csv_columns"].value("t", "") + ", Y=" + m["csv_columns"].value("y", ""));
  } else {
    std::map<std::string, int> reasons;
    for (const auto& e : m["excluded"]) {
      std::string r = e.value("reason", "");
      reasons[r.substr(0, r.find(' '))] += 1;
    }
    std::vector<std::string> why;
    for (const auto& [r, k] : reasons) why.push_back(std::to_string(k) + " " + r);
    add("data", "ok",
        "results file " + m.value("source", "") + " (sweep " + m.value("sweep_name", "") +
            ", config hash " + m.value("config_hash", "") + "); " +
            std::to_string(m.value("jobs_used", 0)) + " jobs in " + std::to_string(fits.size()) +
            " group(s), each listed with its result hash; " + std::to_string(m["excluded"].size()) +
            " records left out" + (why.empty() ? std::string() : " (" + Join(why, ", ") + ")"));
    const json& g = m["grouping"];
    std::vector<std::string> filters;
    for (const auto& f : g["filters"]) filters.push_back(f.get<std::string>());
    std::vector<std::string> by = {"task", "method"};
    for (const auto& f : fits) {
      if (!f.contains("group") || !f["group"].is_object() || !f["group"].contains("settings") ||
          !f["group"]["settings"].is_object()) {
        continue;
      }
      for (const auto& [k, v] : f["group"]["settings"].items()) {
        if (std::find(by.begin(), by.end(), k) == by.end()) by.push_back(k);
      }
    }
    add("grouping", "ok",
        "groups by " + Join(by, ", ") + "; stage " +
            (doc.value("stage", "").empty() ? "(one-stage study)" : doc.value("stage", "")) + "; " +
            (g.value("average_seeds", true)
                 ? std::string("seeds averaged per (N, T)") +
                       (g.value("seed_weights", true)
                            ? ", points weighted by 1 / variance of their seed mean when the "
                              "seed noise is known"
                            : ", points unweighted")
                 : std::string("seeds kept apart")) +
            (filters.empty() ? std::string("; no filter") : "; filters " + Join(filters, ", ")));
    std::vector<std::string> noise;
    bool known = true;
    for (const auto& f : fits) {
      const json& sn = f["seed_noise"];
      if (sn["sd"].is_null()) {
        known = false;
        noise.push_back(name_of(f) + " unknown");
      } else {
        noise.push_back(name_of(f) + " sd " + FormatNumber(sn["sd"].get<double>(), 3));
      }
    }
    add("seed noise", known ? "ok" : "missing",
        Join(noise, "; ") + (known ? "" : " (run 2+ seeds per point to measure it)"));
  }
  const json& o = m["fitter"];
  std::string model = o.value("model", "") + " law";
  if (model == "auto law") {
    std::vector<std::string> winners;
    for (const auto& f : fits) {
      if (f.contains("model_selection")) winners.push_back(name_of(f) + " " + f.value("model", ""));
    }
    model =
        "law chosen by --model auto (every form fit, lowest AIC kept: " + Join(winners, "; ") + ")";
  }
  std::string law =
      model + ", " + o.value("loss", "") + " loss in " + o.value("space", "") + " space; bounds " +
      (o["bounds"].empty() ? std::string("default") : "overridden: " + o["bounds"].dump()) +
      "; start grid " +
      (o["start_grid"].empty() ? std::string("default") : "overridden: " + o["start_grid"].dump());
  add("law and objective", "ok", law);
  const int boot = o.value("bootstrap", 0);
  add("uncertainty", boot > 0 ? "ok" : "missing",
      boot > 0 ? std::to_string(boot) + " bootstrap resamples (points with replacement), seed " +
                     std::to_string(o.value("seed", 0ull)) + ", percentile 95% intervals"
               : std::string("standard errors only; add --bootstrap 1000 for intervals"));
  const int holdout = o.value("holdout_largest", 0);
  if (holdout == 0) {
    add("extrapolation check", "missing",
        "not done; add --holdout-largest 1 to predict the largest N from the others");
  } else {
    std::vector<std::string> parts;
    bool above = false;
    for (const auto& f : fits) {
      std::string p = name_of(f);
      if (f.contains("holdout_rms") && f["holdout_rms"].is_number()) {
        p += " RMS " + FormatNumber(f["holdout_rms"].get<double>(), 3);
        const json& sn = f["seed_noise"];
        if (sn["point_sd"].is_number()) {
          const double ratio = f["holdout_rms"].get<double>() / sn["point_sd"].get<double>();
          p += " (" + FormatNumber(ratio, 3) + "x a point's seed noise)";
          above = above || ratio > fit::kHoldoutNoiseFactor;
        }
      } else {
        double worst = 0.0;
        for (const auto& h : f["extrapolation"]) {
          if (h["relative_error"].is_number()) {
            worst = std::max(worst, std::abs(h["relative_error"].get<double>()));
          }
        }
        p += " worst relative error " + FormatNumber(100.0 * worst, 3) + "%";
      }
      parts.push_back(p);
    }
    add("extrapolation check", above ? "warn" : "ok",
        std::to_string(holdout) + " largest N held out: " + Join(parts, "; "));
  }
  std::vector<std::string> quality;
  bool poor = false;
  size_t warnings = 0;
  for (const auto& f : fits) {
    const double r2 = f["r2"].is_number() ? f["r2"].get<double>() : std::nan("");
    poor = poor || !(r2 >= 0.5);
    warnings += f["warnings"].size();
    quality.push_back(name_of(f) + " R2 " + FormatNumber(r2, 4) + ", " +
                      std::to_string(f["n_points"].get<int>()) + " points");
  }
  add("fit quality", poor || warnings > 0 ? "warn" : "ok",
      Join(quality, "; ") + "; " + std::to_string(warnings) + " warning(s) in the report");
  add("grid check", "next",
      "vlmscale frontier FIT.json names grid values to add when an optimum is at the grid's edge");
  add("reproduce", "ok",
      "vlmscale " + m.value("vlmscale_version", "") + " (" + m.value("vlmscale_commit", "") +
          "); vlmscale fit --check FIT.json " + m.value("source", ""));
  return items;
}

std::string ChecklistText(const nlohmann::json& items) {
  std::ostringstream os;
  os << "How this fit was made (docs/FIT.md checklist)\n";
  for (const auto& it : items) {
    std::string status = it.value("status", "");
    for (auto& c : status) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    char head[64];
    std::snprintf(head, sizeof(head), "  %-9s %-20s ", ("[" + status + "]").c_str(),
                  it.value("item", "").c_str());
    os << head << it.value("answer", "") << "\n";
  }
  return os.str();
}

// --per-seed: each seed's points fitted apart, per group, and the spread of alpha and beta over
// seeds. Returns {"group": {"seeds": [{seed, params, r2, n_points}], "alpha": {mean, sd, min,
// max}, "beta": {...}}}; the text goes to `out`.
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

// The fits of a fit JSON document by group name ("" for a CSV fit).
std::map<std::string, nlohmann::json> FitsByName(const nlohmann::json& doc) {
  std::map<std::string, nlohmann::json> out;
  if (doc.contains("fits") && doc["fits"].is_array()) {
    for (const auto& f : doc["fits"]) {
      std::string name;
      if (f.contains("group") && f["group"].is_object()) {
        name = fit::GroupNameFromJson(f["group"]);
      }
      out[name] = f;
    }
  } else {
    out[""] = doc;
  }
  return out;
}

// vlmscale fit --check FIT.json [DATA]: recompute the fit the manifest describes from DATA
// (default: the manifest's source) and compare the inputs (job result hashes, config or CSV hash)
// and the numbers. 0: reproduced; 1: something differs (each difference on stderr); 2: bad input.
int RunCheck(const std::string& fit_path, const std::string& data_path, int threads) {
  std::ifstream in(fit_path);
  if (!in) {
    return ReportError(kName,
                       Status::InvalidInput("--check: cannot open fit JSON '" + fit_path + "'"));
  }
  nlohmann::json recorded;
  try {
    in >> recorded;
  } catch (const nlohmann::json::exception& e) {
    return ReportError(kName, Status::InvalidInput(fit_path + ": not valid JSON: " + e.what()));
  }
  const std::string where = fit_path + ": manifest";
  if (!recorded.is_object() || !recorded.contains("manifest") ||
      !recorded["manifest"].is_object()) {
    return ReportError(
        kName, Status::InvalidInput(fit_path + ": missing key 'manifest' (fit JSONs written before "
                                               "manifests existed cannot be checked; refit with "
                                               "--json)"));
  }
  const nlohmann::json& m = recorded["manifest"];
  FitRequest request;
  std::string kind;
  if (!m.contains("source_kind") || !m["source_kind"].is_string() ||
      ((kind = m["source_kind"].get<std::string>()) != "csv" && kind != "results")) {
    return ReportError(kName, Status::InvalidInput(where + ": 'source_kind' must be \"csv\" or "
                                                           "\"results\""));
  }
  request.csv = kind == "csv";
  if (!data_path.empty()) {
    request.source = data_path;
  } else if (m.contains("source") && m["source"].is_string()) {
    request.source = m["source"].get<std::string>();
  } else {
    return ReportError(kName, Status::InvalidInput(where + ": missing string key 'source'"));
  }
  if (request.csv) {
    const auto& c = m.value("csv_columns", nlohmann::json());
    if (!c.is_object() || !c.contains("n") || !c.contains("t") || !c.contains("y")) {
      return ReportError(kName, Status::InvalidInput(where + ": 'csv_columns' needs n, t, y"));
    }
    request.n_col = c["n"].get<std::string>();
    request.t_col = c["t"].get<std::string>();
    request.y_col = c["y"].get<std::string>();
  } else {
    auto g =
        fit::GroupingOptionsFromJson(m.value("grouping", nlohmann::json()), where + ": grouping");
    if (!g.ok()) return ReportError(kName, g.status());
    request.grouping = *g;
  }
  nlohmann::json fitter = m.value("fitter", nlohmann::json());
  if (fitter.is_object() && fitter.value("model", "") == "auto") {
    request.auto_model = true;
    fitter["model"] = "multiplicative";  // Replaced per group by the selection's winner.
  }
  auto o = fit::FitOptionsFromJson(fitter, where + ": fitter");
  if (!o.ok()) return ReportError(kName, o.status());
  request.options = *o;
  request.options.num_threads = threads;

  auto loaded = LoadInputs(request);
  if (!loaded.ok()) return ReportError(kName, loaded.status());
  std::vector<std::string> diffs;
  for (const char* key : {"config_hash", "source_hash"}) {
    const nlohmann::json was = m.value(key, nlohmann::json());
    const nlohmann::json now = loaded->source_facts.value(key, nlohmann::json());
    if (was != now) {
      diffs.push_back(std::string(key) + ": " + was.dump() + " -> " + now.dump() +
                      (std::string(key) == "config_hash" ? " (the sweep's config changed)"
                                                         : " (the CSV file changed)"));
    }
  }
  const auto recorded_fits = FitsByName(recorded);
  std::map<std::string, const FitInput*> now_inputs;
  for (const auto& input : loaded->inputs) now_inputs[input.name()] = &input;
  for (const auto& [name, f] : recorded_fits) {
    const std::string label = name.empty() ? "fit" : "group " + name;
    auto it = now_inputs.find(name);
    if (it == now_inputs.end()) {
      diffs.push_back(label + ": no longer in " + request.source);
      continue;
    }
    if (request.csv) continue;
    std::map<std::string, std::string> was, now;
    if (f.contains("jobs") && f["jobs"].is_array()) {
      for (const auto& u : f["jobs"]) {
        was[u.value("job_id", "")] = u.value("result_hash", "");
      }
    } else {
      diffs.push_back(label + ": the recorded fit has no 'jobs' list");
    }
    for (const auto& u : it->second->jobs) now[u.job_id] = u.result_hash;
    for (const auto& [id, hash] : was) {
      auto n = now.find(id);
      if (n == now.end()) {
        diffs.push_back(label + ": job " + id +
                        " was used and is not now (not done, filtered "
                        "or gone)");
      } else if (n->second != hash) {
        diffs.push_back(label + ": job " + id + " has a different result (hash " + hash + " -> " +
                        n->second + ")");
      }
    }
    for (const auto& [id, hash] : now) {
      if (!was.count(id)) diffs.push_back(label + ": job " + id + " is new (not in the fit)");
    }
  }
  for (const auto& [name, input] : now_inputs) {
    if (!recorded_fits.count(name)) {
      diffs.push_back("group " + name + ": new in " + request.source + " (not in the fit)");
    }
  }
  bool any_failed = false;
  auto rederived = RunFits(request, *loaded, nullptr, true, &any_failed);
  if (!rederived.ok()) {
    diffs.push_back("the re-derived fit failed: " + rederived.status().message());
  } else {
    const auto now_fits = FitsByName(*rederived);
    for (const auto& [name, f] : recorded_fits) {
      auto it = now_fits.find(name);
      if (it == now_fits.end()) continue;
      for (const auto& d : fit::CompareFitNumbers(f, it->second, kCheckRtol)) {
        diffs.push_back((name.empty() ? std::string("fit") : "group " + name) + ": " + d);
      }
    }
  }
  if (!diffs.empty()) {
    for (const auto& d : diffs) std::cerr << "  " << d << "\n";
    std::cerr << "vlmscale fit: error: --check: " << fit_path << " does not reproduce from "
              << request.source << " (" << diffs.size() << " difference"
              << (diffs.size() == 1 ? "" : "s") << ", listed above)\n";
    return kExitFailure;
  }
  size_t jobs = 0;
  for (const auto& input : loaded->inputs) jobs += input.jobs.size();
  std::cout << "check: " << fit_path << " reproduces from " << request.source << ": "
            << loaded->inputs.size() << " fit" << (loaded->inputs.size() == 1 ? "" : "s")
            << (request.csv ? ", same CSV bytes"
                            : ", " + std::to_string(jobs) + " job results unchanged")
            << ", numbers within " << FormatNumber(kCheckRtol) << " relative\n";
  return kExitOk;
}

void PrintUsage(const po::options_description& desc) {
  std::cout << "Usage: vlmscale fit RESULTS.h5 [options]\n"
               "       vlmscale fit --csv FILE --n-col NAME --t-col NAME --y-col NAME [options]\n"
               "       vlmscale fit --check FIT.json [RESULTS.h5 | FILE.csv]\n\n"
               "Fits Y = A*N^-alpha*T^-beta + E (multiplicative), A*N^-alpha + B*T^-beta + E\n"
               "(additive), A*C^-gamma + E with C = 2*N*(Q+T) (compute) or a power law in T with\n"
               "one smooth break (broken) with Ceres; --model auto fits every form and keeps the\n"
               "lowest AIC. A results file is fit per group: task, method and every setting that\n"
               "varies between its jobs (or --group-by), done jobs only, the seeds of one (N, T)\n"
               "point averaged. --check recomputes a fit from its manifest and exits 1 if\n"
               "the results or the numbers differ. See docs/FIT.md.\n\n"
            << desc
            << "\nExit codes: 0 ok, 1 a fit failed numerically (or --check found a difference),\n"
               "2 bad input or usage.\n";
}

int Run(const std::vector<std::string>& args) {
  po::options_description desc("Options");
  std::string results, csv, model = "multiplicative", loss = "squared", space = "linear", json_path,
                            check_path;
  std::vector<std::string> bounds, starts, filters, group_by;
  std::string stage;
  FitRequest request;
  fit::FitOptions& options = request.options;
  int seed = 1;
  // clang-format off
  desc.add_options()
      ("results", po::value(&results), "results file (HDF5) of a sweep")
      ("csv", po::value(&csv), "fit the columns of this CSV file instead")
      ("n-col", po::value(&request.n_col)->default_value(request.n_col),
       "CSV column of N (LLM parameters)")
      ("t-col", po::value(&request.t_col)->default_value(request.t_col),
       "CSV column of T (visual tokens)")
      ("y-col", po::value(&request.y_col)->default_value(request.y_col),
       "CSV column of Y (error)")
      ("model", po::value(&model)->default_value(model),
       "multiplicative | additive | compute | broken | auto (fit every form, rank them by AIC "
       "and hold-out error, keep the winner)")
      ("text-tokens", po::value(&options.text_tokens),
       "CSV fits: Q, text tokens per query, for the compute law's C = 2*N*(Q+T) (results files "
       "record Q per group)")
      ("loss", po::value(&loss)->default_value(loss), "squared | huber")
      ("space", po::value(&space)->default_value(space),
       "linear | log (residual log(pred) - log(Y))")
      ("huber-delta", po::value(&options.huber_delta)->default_value(options.huber_delta),
       "Huber threshold on the residual")
      ("bound", po::value(&bounds)->composing(),
       "NAME=LO:HI bound override, repeatable (e.g. E=0:0.3, alpha=0:1; empty end = default)")
      ("start", po::value(&starts)->composing(),
       "NAME=V1,V2,... start-grid override in solver space, repeatable")
      ("screen-iterations",
       po::value(&options.screen_iterations)->default_value(options.screen_iterations),
       "large start grids: Ceres iterations per start before the best --polish-starts "
       "continue (0 = run every start to convergence)")
      ("polish-starts", po::value(&options.polish_starts)->default_value(options.polish_starts),
       "unconverged starts that continue after screening")
      ("bootstrap", po::value(&options.bootstrap)->default_value(0),
       "K bootstrap resamples for 95% percentile intervals (0 = none)")
      ("bootstrap-full-grid", po::bool_switch(&options.bootstrap_full_grid),
       "refit each resample from the full start grid (default: from the full-data optimum)")
      ("seed", po::value(&seed)->default_value(1), "bootstrap seed")
      ("holdout-largest", po::value(&options.holdout_largest)->default_value(0),
       "refit without the K largest N values and report how well they are predicted")
      ("threads", po::value(&options.num_threads)->default_value(0), "threads (0 = all cores)")
      ("stage", po::value(&stage),
       "multi-stage studies: fit this stage's jobs (default: the final stage, the one no other "
       "stage needs; a stage's own axes such as benchmark are averaged)")
      ("filter", po::value(&filters)->composing(),
       "key=value or key=v1,v2 (any of them) on task, method, llm, seed, visual_tokens, "
       "n_params or a setting SECTION.KEY such as train.lr (results file; repeatable)")
      ("group-by", po::value(&group_by)->composing(),
       "KEY[,KEY...]: group by these setting keys besides task and method (default: every "
       "setting that varies between the fitted jobs; required, or a --filter, when a file mixes "
       "runs made with different settings); varied keys left out are pooled, with a warning")
      ("keep-seeds", "keep one point per job instead of averaging seeds (results file)")
      ("per-seed",
       "results file: also fit each seed's points apart and report the spread of alpha and beta "
       "over seeds (JSON key per_seed)")
      ("unweighted",
       "count every seed-averaged point the same (default: weight by the inverse variance of "
       "its seed mean when the seed noise is known)")
      ("brief", "print one line per fit instead of the full report")
      ("json", po::value(&json_path), "write the report as JSON to this file")
      ("check", po::value(&check_path),
       "FIT.json: recompute that fit from its manifest (on the data file given, else the "
       "manifest's source) and exit 1 if the job results, the config or the numbers differ");
  // clang-format on
  po::positional_options_description pos;
  pos.add("results", 1);
  po::variables_map vm;
  bool help = false;
  Status st = ParseArgs(kName, args, desc, pos, &vm, &help);
  if (!st.ok()) return ReportError(kName, st);
  if (help) {
    PrintUsage(desc);
    return kExitOk;
  }
  if (!check_path.empty()) {
    for (const auto& [key, value] : vm) {
      if (!value.defaulted() && key != "check" && key != "results" && key != "threads") {
        return ReportError(
            kName, Status::InvalidInput("--check takes the fit's options from its manifest; --" +
                                        key + " cannot be combined with it (only --threads)"));
      }
    }
    return RunCheck(check_path, results, options.num_threads);
  }
  if (results.empty() == csv.empty()) {
    return ReportError(
        kName,
        Status::InvalidInput("give either a results file or --csv FILE (see vlmscale fit --help)"));
  }
  request.csv = !csv.empty();
  request.source = request.csv ? csv : results;
  if (seed < 0) return ReportError(kName, Status::InvalidInput("--seed must be >= 0"));
  options.seed = static_cast<uint64_t>(seed);
  {
    request.auto_model = model == "auto";
    auto m = request.auto_model ? Result<fit::Model>(fit::Model::kMultiplicative)
                                : fit::ParseModel(model);
    if (!m.ok()) {
      return ReportError(kName, Status::InvalidInput("--model: unknown model '" + model +
                                                     "'; use multiplicative, additive, compute, "
                                                     "broken or auto"));
    }
    options.model = *m;
    auto l = fit::ParseLoss(loss);
    if (!l.ok()) return ReportError(kName, l.status().WithPrefix("--loss"));
    options.loss = *l;
    auto s = fit::ParseSpace(space);
    if (!s.ok()) return ReportError(kName, s.status().WithPrefix("--space"));
    options.space = *s;
  }
  for (const auto& b : bounds) {
    st = ParseBound(b, &options);
    if (!st.ok()) return ReportError(kName, st);
  }
  for (const auto& s : starts) {
    st = ParseStart(s, &options);
    if (!st.ok()) return ReportError(kName, st);
  }
  std::string error;
  if (!options.IsValid(&error)) return ReportError(kName, Status::InvalidInput(error));

  if (request.csv) {
    if (!filters.empty() || !group_by.empty() || vm.count("keep-seeds") || vm.count("stage") ||
        vm.count("unweighted")) {
      return ReportError(kName, Status::InvalidInput("--filter, --group-by, --keep-seeds, "
                                                     "--unweighted and --stage apply to results "
                                                     "files, not --csv"));
    }
  } else {
    if (vm.count("text-tokens")) {
      return ReportError(
          kName, Status::InvalidInput("--text-tokens applies to --csv fits; a results file records "
                                      "Q per group"));
    }
    request.grouping.average_seeds = vm.count("keep-seeds") == 0;
    request.grouping.seed_weights = vm.count("unweighted") == 0;
    request.grouping.stage = stage;
    for (const auto& f : filters) {
      auto kv = fit::ParseFilter(f);
      if (!kv.ok()) return ReportError(kName, kv.status().WithPrefix("--filter"));
      request.grouping.filters.push_back(*kv);
    }
    for (const auto& g : group_by) {
      for (const auto& key : SplitTrimmed(g, ',')) request.grouping.group_by.push_back(key);
    }
  }
  auto loaded = LoadInputs(request);
  if (!loaded.ok()) return ReportError(kName, loaded.status());
  bool any_failed = false;
  auto doc = RunFits(request, *loaded, &std::cout, vm.count("brief") > 0, &any_failed);
  if (!doc.ok()) return ReportError(kName, doc.status());
  if (vm.count("per-seed")) {
    auto per_seed = PerSeedFits(request, std::cout);
    if (!per_seed.ok()) return ReportError(kName, per_seed.status());
    (*doc)["per_seed"] = *per_seed;
  }
  if (!vm.count("brief")) std::cout << "\n" << ChecklistText((*doc)["manifest"]["checklist"]);
  if (!json_path.empty()) {
    st = WriteFileAtomically(
        json_path, doc->dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n");
    if (!st.ok()) return ReportError(kName, st);
  }
  return any_failed ? kExitFailure : kExitOk;
}

}  // namespace

int RunFitCommand(const std::vector<std::string>& args) { return Run(args); }

VLMSCALE_REGISTER_COMMAND("fit", 60, "fit the scaling law Y(N, T) to results or a CSV",
                          RunFitCommand);

}  // namespace vlmscale::cli
