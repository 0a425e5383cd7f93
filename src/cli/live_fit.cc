// The live fit of a sweep (cli/live_fit.h).
#include "cli/live_fit.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <limits>
#include <map>

#include "core/strings.h"
#include "fit/frontier.h"
#include "fit/report_json.h"

namespace vlmscale::cli {
namespace {

using nlohmann::json;

constexpr double kInf = std::numeric_limits<double>::infinity();

// One round: the fit of the done jobs that ended by `ended_by` (+inf: every done job, now).
struct Round {
  std::string label;
  double ended_by = kInf;
  size_t done_jobs = 0;
};

// The rounds, oldest first, from the sorted end times of the jobs the current fit uses.
std::vector<Round> MakeRounds(const LiveFitOptions& o, const std::vector<double>& ends) {
  const size_t n = ends.size();
  std::vector<size_t> counts;  // Jobs done at the end of each round, ascending; the last is n.
  const size_t r = static_cast<size_t>(o.rounds);
  if (o.round_size == 0) {
    for (size_t k = 1; k <= r; ++k) counts.push_back((k * n + r - 1) / r);
  } else {
    const size_t m = static_cast<size_t>(o.round_size);
    for (size_t k = r; k-- > 0;) {
      if (k * m < n) counts.push_back(n - k * m);
    }
  }
  std::vector<Round> out;
  for (size_t i = 0; i < counts.size(); ++i) {
    const size_t c = counts[i];
    if (c == 0) continue;
    Round round;
    if (c >= n) {
      round.label = "now";
      round.done_jobs = n;
    } else {
      round.ended_by = ends[c - 1];
      // Jobs that ended at the same second belong to the same round.
      round.done_jobs = static_cast<size_t>(
          std::upper_bound(ends.begin(), ends.end(), round.ended_by) - ends.begin());
      if (round.done_jobs >= n) continue;  // Ties with the last job: the current fit.
      round.label = o.round_size == 0
                        ? FormatNumber(100.0 * static_cast<double>(i + 1) / r, 3) + "%"
                        : "round -" + std::to_string(counts.size() - 1 - i);
    }
    if (!out.empty() && out.back().done_jobs == round.done_jobs) continue;
    out.push_back(round);
  }
  if (out.empty()) out.push_back({"now", kInf, n});
  return out;
}

// num_budgets log-spaced from the cheapest to the most expensive point, C = 2 N (Q + T).
std::vector<double> DefaultBudgets(const fit::Observations& obs, double q, int count) {
  double lo = kInf, hi = 0.0;
  for (size_t i = 0; i < obs.size(); ++i) {
    const double c = 2.0 * obs.n[i] * (q + obs.t[i]);
    lo = std::min(lo, c);
    hi = std::max(hi, c);
  }
  if (!(lo > 0 && std::isfinite(hi))) return {};
  std::vector<double> out;
  for (int k = 0; k < count; ++k) {
    const double f = count == 1 ? 0.0 : static_cast<double>(k) / (count - 1);
    out.push_back(std::exp(std::log(lo) + f * (std::log(hi) - std::log(lo))));
  }
  return out;
}

json Pair(const json& ci, const char* name) {
  if (ci.is_object() && ci.contains(name)) return ci[name];
  return nullptr;
}

json IntervalJson(const fit::Interval& i) { return {MaybeNumber(i.lower), MaybeNumber(i.upper)}; }

// One group's fit at one round.
json FitOne(const FitRequest& request, const LoadedInputs& loaded, const FitInput* in,
            const std::vector<double>& budgets) {
  json r = {{"status", "ok"}, {"message", nullptr}, {"n_points", 0}, {"n_jobs", 0}};
  if (in == nullptr) {
    r["status"] = "no_jobs";
    r["message"] = "no done job yet";
    r["jobs"] = json::array();
    return r;
  }
  json jobs = json::array();
  for (const auto& u : in->jobs)
    jobs.push_back({{"job_id", u.job_id}, {"result_hash", u.result_hash}});
  r["jobs"] = jobs;
  r["n_points"] = in->obs.size();
  r["n_jobs"] = in->jobs.size();
  const size_t need = MinimumPoints(request.options.model);
  if (in->obs.size() < need) {
    r["status"] = "too_few_points";
    r["message"] = std::to_string(in->obs.size()) + " points, need >= " + std::to_string(need);
    return r;
  }
  LoadedInputs one;
  one.stage = loaded.stage;
  one.source_facts = loaded.source_facts;
  one.inputs.push_back(*in);
  bool failed = false;
  Result<json> doc = RunFits(request, one, nullptr, /*brief=*/true, &failed);
  if (!doc.ok()) {
    r["status"] = "failed";
    r["message"] = doc.status().message();
    return r;
  }
  const json& f = (*doc)["fits"][0];
  if (failed) {
    r["status"] = "failed";
    r["message"] = f.value("message", std::string("the fit failed"));
    return r;
  }
  const json& ci = f["ci95"];
  r["alpha"] = f["params"]["alpha"];
  r["alpha_ci95"] = Pair(ci, "alpha");
  r["beta"] = f["params"]["beta"];
  r["beta_ci95"] = Pair(ci, "beta");
  r["beta_over_alpha"] = f["beta_over_alpha"]["value"];
  r["beta_over_alpha_ci95"] = f["beta_over_alpha"]["ci95"];
  r["r2"] = f["r2"];
  r["warnings"] = f["warnings"];
  r["t_star"] = json::array();
  r["t_star_closed_form"] = nullptr;
  r["t_star_closed_form_ci95"] = nullptr;
  if (budgets.empty() || !std::isfinite(in->text_tokens)) return r;
  Result<fit::FittedLaw> law = fit::FittedLawFromJson(f);
  if (!law.ok()) return r;
  fit::FrontierOptions fo;
  fo.text_tokens = in->text_tokens;
  fo.budgets = budgets;
  Result<fit::Frontier> frontier = fit::ComputeFrontier(*law, fo);
  if (!frontier.ok()) {
    r["warnings"].push_back("frontier: " + frontier.status().message());
    return r;
  }
  for (const auto& p : frontier->points) {
    r["t_star"].push_back({{"budget", p.budget},
                           {"feasible", p.feasible},
                           {"n", p.feasible ? MaybeNumber(p.n) : json(nullptr)},
                           {"t", p.feasible ? MaybeNumber(p.t) : json(nullptr)},
                           {"t_ci95", p.band.present ? IntervalJson(p.band.t) : json(nullptr)}});
  }
  if (frontier->closed_form_t) r["t_star_closed_form"] = MaybeNumber(*frontier->closed_form_t);
  if (frontier->closed_form_t_band) {
    r["t_star_closed_form_ci95"] = IntervalJson(*frontier->closed_form_t_band);
  }
  return r;
}

std::string Utc(double unix_seconds) {
  std::time_t t = static_cast<std::time_t>(unix_seconds);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof(buf), "%m-%d %H:%M:%S", &tm);
  return buf;
}

std::string WithInterval(const json& v, const json& ci) {
  if (!v.is_number()) return "-";
  std::string s = FormatNumber(v.get<double>(), 4);
  if (ci.is_array() && ci.size() == 2) {
    auto end = [](const json& x) {
      return x.is_number() ? FormatNumber(x.get<double>(), 3) : std::string("inf");
    };
    s += " [" + end(ci[0]) + ", " + end(ci[1]) + "]";
  }
  return s;
}

}  // namespace

FitRequest LiveFitOptions::DefaultRequest() {
  FitRequest r;
  r.options.bootstrap = 100;
  return r;
}

bool LiveFitOptions::IsValid(std::string* error) const {
  std::string e;
  if (request.csv) {
    e = "the live fit reads a results file, not a CSV";
  } else if (!request.grouping.IsValid(&e) || !request.options.IsValid(&e)) {
    // e says which.
  } else if (round_size < 0) {
    e = "round_size (--round) must be >= 0 jobs, got " + std::to_string(round_size);
  } else if (rounds < 1) {
    e = "rounds (--rounds) must be >= 1, got " + std::to_string(rounds);
  } else if (num_budgets < 1) {
    e = "num_budgets must be >= 1, got " + std::to_string(num_budgets);
  } else {
    for (double b : budgets) {
      if (!(b > 0 && std::isfinite(b))) {
        e = "budgets (--budget) must be positive and finite, got " + FormatNumber(b);
        break;
      }
    }
  }
  if (e.empty()) return true;
  if (error != nullptr) *error = e;
  return false;
}

size_t MinimumPoints(fit::Model model) { return fit::ActiveParams(model).size() + 1; }

json LiveFit(const LiveFitOptions& options, const store::ResultsFile& file) {
  std::string invalid;
  CHECK(options.IsValid(&invalid)) << invalid;
  FitRequest request = options.request;
  request.grouping.ended_by = kInf;
  json out = {{"bootstrap", request.options.bootstrap},
              {"model", fit::ModelName(request.options.model)},
              {"minimum_points", MinimumPoints(request.options.model)},
              {"grouping", fit::GroupingOptionsToJson(request.grouping)},
              {"fitter", fit::FitOptionsToJson(request.options)},
              {"rounds", json::array()},
              {"groups", json::array()},
              {"error", nullptr}};
  Result<LoadedInputs> now = LoadInputs(request, file);
  if (!now.ok()) {
    out["error"] = now.status().message();
    return out;
  }
  // The end times of the jobs the current fit uses: the rounds are cut from them.
  std::map<std::string, double> end_of;
  for (const auto& r : file.jobs) end_of[r.job_id] = r.end_time;
  std::vector<double> ends;
  for (const auto& in : now->inputs) {
    for (const auto& u : in.jobs) ends.push_back(end_of[u.job_id]);
  }
  std::sort(ends.begin(), ends.end());
  const std::vector<Round> rounds = MakeRounds(options, ends);
  for (const auto& round : rounds) {
    out["rounds"].push_back({{"label", round.label},
                             {"ended_by", MaybeNumber(round.ended_by)},
                             {"done_jobs", round.done_jobs}});
  }
  // Each round's inputs (the current one is `now`).
  std::vector<Result<LoadedInputs>> loaded;
  for (const auto& round : rounds) {
    if (!std::isfinite(round.ended_by)) {
      loaded.push_back(*now);
      continue;
    }
    FitRequest cut = request;
    cut.grouping.ended_by = round.ended_by;
    loaded.push_back(LoadInputs(cut, file));
  }
  for (const FitInput& current : now->inputs) {
    const std::string name = current.name();
    std::vector<double> budgets = options.budgets;
    if (budgets.empty() && std::isfinite(current.text_tokens)) {
      budgets = DefaultBudgets(current.obs, current.text_tokens, options.num_budgets);
    }
    json settings = json::object();
    for (const auto& [k, v] : current.settings) settings[k] = v;
    json g = {{"group", name},
              {"task", current.task},
              {"method", current.method},
              {"settings", settings},
              {"text_tokens", MaybeNumber(current.text_tokens)},
              {"budgets", budgets},
              {"rounds", json::array()}};
    for (size_t i = 0; i < rounds.size(); ++i) {
      FitRequest cut = request;
      cut.grouping.ended_by = rounds[i].ended_by;
      const FitInput* in = nullptr;
      if (loaded[i].ok()) {
        for (const auto& x : loaded[i]->inputs) {
          if (x.name() == name) in = &x;
        }
      }
      static const LoadedInputs kNone;
      json r = FitOne(cut, loaded[i].ok() ? *loaded[i] : kNone, in, budgets);
      r["label"] = rounds[i].label;
      r["ended_by"] = MaybeNumber(rounds[i].ended_by);
      // When the last job the round could use ended (the current round: the latest done job).
      r["as_of"] = std::isfinite(rounds[i].ended_by) ? json(rounds[i].ended_by)
                                                     : (ends.empty() ? json() : json(ends.back()));
      g["rounds"].push_back(std::move(r));
    }
    out["groups"].push_back(std::move(g));
  }
  return out;
}

void PrintLiveFit(const json& live, std::ostream& out) {
  out << "\nfit";
  if (!live["error"].is_null()) {
    out << ": none yet: " << live["error"].get<std::string>() << "\n";
    return;
  }
  const int k = live["bootstrap"].get<int>();
  out << " of the done jobs (grouped as `vlmscale fit` groups them; "
      << live["model"].get<std::string>() << " law; "
      << (k > 0 ? "95% intervals from " + std::to_string(k) + " bootstrap resamples"
                : std::string("no intervals (--bootstrap 0)"))
      << "; T* = the best visual tokens per query at a budget C = 2 N (Q + T); each round is the "
         "fit of the jobs that had ended by then):\n";
  for (const json& g : live["groups"]) {
    out << "== " << g["group"].get<std::string>() << " ==";
    if (g["text_tokens"].is_number()) {
      out << "  (Q = " << FormatNumber(g["text_tokens"].get<double>()) << ")";
    } else {
      out << "  (no T*: the jobs record no Q, text tokens per query)";
    }
    out << "\n";
    char line[512];
    std::string header;
    std::snprintf(line, sizeof(line), "  %-8s %-15s %5s %6s  %-24s %-24s %-22s", "round",
                  "as of (UTC)", "jobs", "points", "alpha [95%]", "beta [95%]", "beta/alpha");
    header = line;
    std::vector<size_t> widths;  // Of each T* column, for the values below.
    for (const json& b : g["budgets"]) {
      const std::string h = " T*@" + FormatNumber(b.get<double>(), 3);
      header += h;
      widths.push_back(h.size() - 1);
    }
    out << header << "\n";
    for (const json& r : g["rounds"]) {
      const std::string when = r["as_of"].is_number() ? Utc(r["as_of"].get<double>()) : "-";
      std::snprintf(line, sizeof(line), "  %-8s %-15s %5lld %6lld  ",
                    r["label"].get<std::string>().c_str(), when.c_str(),
                    static_cast<long long>(r["n_jobs"].get<int64_t>()),
                    static_cast<long long>(r["n_points"].get<int64_t>()));
      std::string row = line;
      if (r["status"] != "ok") {
        row += r["status"] == "failed" ? "fit failed: " : "";
        row += r["message"].get<std::string>();
      } else {
        std::snprintf(line, sizeof(line), "%-24s %-24s %-22s",
                      WithInterval(r["alpha"], r["alpha_ci95"]).c_str(),
                      WithInterval(r["beta"], r["beta_ci95"]).c_str(),
                      WithInterval(r["beta_over_alpha"], r["beta_over_alpha_ci95"]).c_str());
        row += line;
        for (size_t i = 0; i < r["t_star"].size(); ++i) {
          const json& t = r["t_star"][i];
          std::string cell =
              t["t"].is_number() ? FormatNumber(t["t"].get<double>(), 4) : std::string("none");
          if (i < widths.size() && cell.size() < widths[i]) cell.resize(widths[i], ' ');
          row += " " + cell;
        }
        while (!row.empty() && row.back() == ' ') row.pop_back();
      }
      out << row << "\n";
    }
    const json& last = g["rounds"].back();
    if (last.contains("warnings")) {
      for (const json& w : last["warnings"]) out << "  note: " << w.get<std::string>() << "\n";
    }
  }
}

}  // namespace vlmscale::cli
