// vlmscale fit --check (cli/fit_check.h).
#include "cli/fit_check.h"

#include <fstream>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <vector>

#include "cli/command.h"
#include "cli/fit_run.h"
#include "core/strings.h"
#include "fit/observations.h"
#include "fit/report_json.h"

namespace vlmscale::cli {
namespace {

constexpr char kName[] = "fit";
// Relative tolerance on every number of the re-derived fit. The fit is deterministic for any
// thread count; this leaves room for another compiler or libm.
constexpr double kCheckRtol = 1e-6;

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

}  // namespace

int RunFitCheck(const std::string& fit_path, const std::string& data_path, int threads) {
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

}  // namespace vlmscale::cli
