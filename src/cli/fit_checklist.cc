// The docs/FIT.md checklist of a fit (cli/fit_checklist.h).
#include "cli/fit_checklist.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <map>
#include <sstream>
#include <vector>

#include "core/strings.h"
#include "fit/observations.h"
#include "fit/report_json.h"
#include "fit/scaling_law.h"

namespace vlmscale::cli {

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

}  // namespace vlmscale::cli
