#include "fit/frontier.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <sstream>

#include "core/strings.h"
#include "fit/scaling_law_solver.h"

namespace vlmscale::fit {
namespace {

double Cost(double n, double t, double q) { return 2.0 * n * (q + t); }

// Minimises f over log T in [lo, hi]: a 256-point log grid, then golden-section search around
// the best grid point. Returns the minimising T.
template <typename F>
double MinimiseOverLogT(F f, double lo, double hi) {
  if (hi <= lo) return lo;
  const int kGrid = 256;
  const double a = std::log(lo), b = std::log(hi);
  int best = 0;
  double best_f = f(lo);
  for (int i = 1; i <= kGrid; ++i) {
    double v = f(std::exp(a + (b - a) * i / kGrid));
    if (v < best_f) {
      best_f = v;
      best = i;
    }
  }
  double l = a + (b - a) * std::max(0, best - 1) / kGrid;
  double r = a + (b - a) * std::min(kGrid, best + 1) / kGrid;
  const double g = (std::sqrt(5.0) - 1.0) / 2.0;
  double x1 = r - g * (r - l), x2 = l + g * (r - l);
  double f1 = f(std::exp(x1)), f2 = f(std::exp(x2));
  for (int it = 0; it < 100 && r - l > 1e-13; ++it) {
    if (f1 < f2) {
      r = x2;
      x2 = x1;
      f2 = f1;
      x1 = r - g * (r - l);
      f1 = f(std::exp(x1));
    } else {
      l = x1;
      x1 = x2;
      f1 = f2;
      x2 = l + g * (r - l);
      f2 = f(std::exp(x2));
    }
  }
  double t = std::exp(0.5 * (l + r));
  // Keep an end point if it is at least as good (the optimum often sits at a limit).
  if (f(lo) <= f(t)) t = lo;
  if (f(hi) < f(t)) t = hi;
  return t;
}

// The feasible range [*lo, *hi] of T at budget c: within fr's T limits and with
// N = c / (2 (q + T)) within its N limits. Empty (*lo > *hi) when no T meets the budget.
void FeasibleT(const Frontier& fr, double c, double* lo, double* hi) {
  const double q = fr.text_tokens;
  *lo = fr.t_min;
  *hi = fr.t_max;
  if (std::isfinite(fr.n_max)) *lo = std::max(*lo, c / (2.0 * fr.n_max) - q);
  if (fr.n_min > 0) *hi = std::min(*hi, c / (2.0 * fr.n_min) - q);
  *lo = std::max(*lo, 1e-12);
}

// The T in [lo, hi] minimising the law on the budget curve N = c / (2 (q + T)). `flat`: the
// compute law with the fit's own Q, flat along the budget: the T limit rather than whatever
// rounding favours. REQUIRES: lo <= hi.
double OptimalT(Model model, const LawParams& params, double c, double q, double lo, double hi,
                bool flat) {
  if (flat) return lo;
  return MinimiseOverLogT([&](double t) { return Predict(model, params, c / (2.0 * (q + t)), t); },
                          lo, hi);
}

// The 2.5/97.5 percentiles of v, or nullopt when v is empty.
std::optional<Interval> Band95(const std::vector<double>& v) {
  if (v.empty()) return std::nullopt;
  return Interval{internal::Percentile(v, 0.025), internal::Percentile(v, 0.975)};
}

// The bands of fr's feasible points and closed form from law.bootstrap_params (each resample's
// own optimum at the same budgets and limits).
void AddBands(const FittedLaw& law, Frontier* fr) {
  if (law.bootstrap_params.empty()) return;
  const double q = fr->text_tokens;
  const bool flat = law.model == Model::kCompute && law.params.q == q;
  fr->band_resamples = static_cast<int>(law.bootstrap_params.size());
  for (FrontierPoint& p : fr->points) {
    if (!p.feasible) continue;
    double lo, hi;
    FeasibleT(*fr, p.budget, &lo, &hi);
    std::vector<double> ns, ts, ys;
    for (const LawParams& bp : law.bootstrap_params) {
      const double t = OptimalT(law.model, bp, p.budget, q, lo, hi, flat);
      const double n = p.budget / (2.0 * (q + t));
      const double y = Predict(law.model, bp, n, t);
      if (!std::isfinite(y)) continue;
      ns.push_back(n);
      ts.push_back(t);
      ys.push_back(y);
    }
    if (ys.empty()) continue;
    p.band.present = true;
    p.band.n = *Band95(ns);
    p.band.t = *Band95(ts);
    p.band.predicted = *Band95(ys);
  }
  if (fr->closed_form_t) {
    std::vector<double> ts;
    for (const LawParams& bp : law.bootstrap_params) {
      ts.push_back(MultiplicativeOptimalT(bp.alpha, bp.beta, q, fr->t_min, fr->t_max));
    }
    fr->closed_form_t_band = Band95(ts);
  }
}

// "[lo, hi]" of an interval.
std::string IntervalText(const Interval& iv, int digits) {
  return "[" + FormatNumber(iv.lower, digits) + ", " + FormatNumber(iv.upper, digits) + "]";
}

}  // namespace

bool FrontierOptions::IsValid(std::string* error) const {
  auto fail = [&](const std::string& m) {
    if (error) *error = m;
    return false;
  };
  if (!(text_tokens >= 0) || !std::isfinite(text_tokens)) return fail("text_tokens must be >= 0");
  if (!(budget_min >= 0) || !(budget_max >= 0)) return fail("budgets must be >= 0");
  if (budget_min > 0 && budget_max > 0 && budget_min > budget_max) {
    return fail("budget_min must be <= budget_max");
  }
  if (num_budgets < 1) return fail("num_budgets must be >= 1");
  for (double b : budgets) {
    if (!(b > 0) || !std::isfinite(b)) return fail("each budget must be > 0 and finite");
  }
  if (!(t_min >= 0) || !(t_max >= 0)) return fail("T limits must be >= 0");
  if (t_min > 0 && t_max > 0 && t_min > t_max) return fail("t_min must be <= t_max");
  if (!(n_min >= 0) || !(n_max >= n_min)) return fail("N limits need 0 <= n_min <= n_max");
  return true;
}

double MultiplicativeOptimalT(double alpha, double beta, double text_tokens, double t_min,
                              double t_max) {
  if (alpha > beta) return std::clamp(beta * text_tokens / (alpha - beta), t_min, t_max);
  return t_max;
}

Result<Frontier> ComputeFrontier(const FittedLaw& law, const FrontierOptions& options) {
  std::string error;
  if (!options.IsValid(&error)) return Status::InvalidInput("frontier options: " + error);
  if (law.points.size() == 0) {
    return Status::InvalidInput("the fit has no evaluated points; refit with vlmscale fit --json");
  }
  const double q = options.text_tokens;
  const auto& pts = law.points;
  const auto [n_lo_it, n_hi_it] = std::minmax_element(pts.n.begin(), pts.n.end());
  const auto [t_lo_it, t_hi_it] = std::minmax_element(pts.t.begin(), pts.t.end());
  const double fit_n_lo = *n_lo_it, fit_n_hi = *n_hi_it;
  const double fit_t_lo = *t_lo_it, fit_t_hi = *t_hi_it;

  Frontier fr;
  fr.text_tokens = q;
  fr.t_min = options.t_min > 0 ? options.t_min : fit_t_lo;
  fr.t_max = options.t_max > 0 ? options.t_max : fit_t_hi;
  if (fr.t_min > fr.t_max) {
    return Status::InvalidInput("T limits are empty: t_min " + FormatNumber(fr.t_min) +
                                " > t_max " + FormatNumber(fr.t_max));
  }
  fr.n_min = options.n_min;
  fr.n_max = options.n_max;

  double c_lo = options.budget_min, c_hi = options.budget_max;
  if (c_lo <= 0 || c_hi <= 0) {
    double lo = std::numeric_limits<double>::infinity(), hi = 0;
    for (size_t i = 0; i < pts.size(); ++i) {
      lo = std::min(lo, Cost(pts.n[i], pts.t[i], q));
      hi = std::max(hi, Cost(pts.n[i], pts.t[i], q));
    }
    if (c_lo <= 0) c_lo = lo;
    if (c_hi <= 0) c_hi = std::max(hi, c_lo);
  }

  auto predict = [&](double n, double t) { return Predict(law.model, law.params, n, t); };
  const double tol = 1e-9;
  std::vector<double> budgets = options.budgets;
  for (int k = 0; options.budgets.empty() && k < options.num_budgets; ++k) {
    budgets.push_back(options.num_budgets == 1
                          ? c_lo
                          : std::exp(std::log(c_lo) + (std::log(c_hi) - std::log(c_lo)) * k /
                                                          (options.num_budgets - 1)));
  }
  for (double budget : budgets) {
    FrontierPoint p;
    p.budget = budget;
    const double c = p.budget;
    double lo, hi;
    FeasibleT(fr, c, &lo, &hi);
    if (lo <= hi) {
      p.feasible = true;
      const bool flat = law.model == Model::kCompute && law.params.q == q;
      p.t = OptimalT(law.model, law.params, c, q, lo, hi, flat);
      p.n = c / (2.0 * (q + p.t));
      p.predicted = predict(p.n, p.t);
      p.extrapolation = p.n < fit_n_lo * (1 - tol) || p.n > fit_n_hi * (1 + tol) ||
                        p.t < fit_t_lo * (1 - tol) || p.t > fit_t_hi * (1 + tol);
    }
    for (size_t i = 0; i < pts.size(); ++i) {
      const double cost = Cost(pts.n[i], pts.t[i], q);
      if (cost > c * (1 + tol)) continue;
      const double y = predict(pts.n[i], pts.t[i]);
      if (!p.grid_found || y < p.grid_predicted) {
        p.grid_found = true;
        p.grid_n = pts.n[i];
        p.grid_t = pts.t[i];
        p.grid_predicted = y;
        p.grid_observed = pts.y[i];
        p.grid_cost = cost;
      }
    }
    fr.points.push_back(p);
  }
  fr.grid_warnings = GridChecks(pts, fr.points);

  if (law.model == Model::kCompute) {
    fr.closed_form_note =
        "compute law: Y depends on C = 2*N*(Q+T) alone, so every split of a budget between N and "
        "T gives the same Y; the T* shown is the smallest allowed and is not determined by the fit";
  }
  if (law.model == Model::kMultiplicative) {
    const double a = law.params.alpha, b = law.params.beta;
    fr.closed_form_t = MultiplicativeOptimalT(a, b, q, fr.t_min, fr.t_max);
    if (a > b) {
      fr.closed_form_note =
          "alpha > beta: T* = beta*Q/(alpha-beta) = " + FormatNumber(b * q / (a - b)) +
          " at every budget (clamped to the T limits" +
          (std::isfinite(fr.n_max) || fr.n_min > 0 ? "; N limits may bind" : "") + ")";
    } else {
      fr.closed_form_note =
          "beta >= alpha: Y falls with T at every budget, so T* is the largest T allowed";
    }
  }
  AddBands(law, &fr);
  return fr;
}

std::vector<GridWarning> GridChecks(const Observations& points,
                                    const std::vector<FrontierPoint>& frontier) {
  std::vector<GridWarning> out;
  for (const bool is_t : {false, true}) {
    std::vector<double> g = is_t ? points.t : points.n;
    std::sort(g.begin(), g.end());
    g.erase(std::unique(g.begin(), g.end()), g.end());
    if (g.empty()) continue;
    const size_t k = g.size() - 1;
    const double tol = 1e-9;
    for (const bool above : {true, false}) {
      GridWarning w;
      w.axis = is_t ? "T" : "N";
      w.side = above ? "above" : "below";
      w.grid_edge = above ? g[k] : g[0];
      // The outer half-step: closer to the edge than to the next sampled value, in log space.
      const double inner =
          k == 0 ? w.grid_edge : (above ? std::sqrt(g[k - 1] * g[k]) : std::sqrt(g[0] * g[1]));
      for (const auto& p : frontier) {
        if (!p.feasible) continue;
        const double x = is_t ? p.t : p.n;
        const bool at_edge = k == 0 || (above ? x > inner : x < inner);
        if (!at_edge) continue;
        // With one value, count each optimum on one side only.
        if (k == 0 && (above ? x < w.grid_edge : x >= w.grid_edge)) continue;
        const bool beyond = above ? x > w.grid_edge * (1 + tol) : x < w.grid_edge * (1 - tol);
        w.beyond = w.beyond || beyond;
        if (w.budgets.empty() || (above ? x > w.worst_optimum : x < w.worst_optimum)) {
          w.worst_optimum = x;
        }
        w.budgets.push_back(p.budget);
      }
      if (w.budgets.empty()) continue;
      // Continue the grid with its outer ratio (4 when there is one value).
      const double ratio = k == 0 ? 4.0 : (above ? g[k] / g[k - 1] : g[1] / g[0]);
      double v = w.grid_edge;
      for (int i = 0; i < 20; ++i) {
        v = above ? v * ratio : v / ratio;
        double shown = is_t ? std::round(v) : v;
        if (is_t && shown < 1) {
          if (w.grid_edge > 1) w.add.push_back(1);
          break;
        }
        if (!w.add.empty() && shown == w.add.back()) continue;
        w.add.push_back(shown);
        // Far enough: the furthest optimum is at least half a step inside the new edge.
        if (above ? shown > w.worst_optimum * std::sqrt(ratio)
                  : shown < w.worst_optimum / std::sqrt(ratio)) {
          break;
        }
      }
      std::ostringstream os;
      os << "grid: the inference-optimal " << w.axis << " at " << w.budgets.size()
         << (w.budgets.size() == 1 ? " budget" : " budgets")
         << " (C = " << FormatNumber(w.budgets.front(), 4)
         << (w.budgets.size() > 1 ? " to " + FormatNumber(w.budgets.back(), 4) : "") << ") is "
         << (w.beyond ? "beyond" : "at") << " the " << (above ? "largest" : "smallest")
         << " sampled " << w.axis << " (" << FormatNumber(w.grid_edge, 6) << "; optimum " << w.axis
         << "* up to " << FormatNumber(w.worst_optimum, 4) << "), so the grid does not "
         << "bracket it";
      if (w.add.empty()) {
        os << "; no smaller T exists, so T = " << FormatNumber(w.grid_edge) << " is the answer";
      } else {
        std::vector<std::string> values;
        for (double a : w.add) values.push_back(FormatNumber(a, 4));
        os << "; add " << w.axis << " = " << Join(values, ", ");
      }
      w.message = os.str();
      out.push_back(std::move(w));
    }
  }
  return out;
}

std::string FrontierReport(const FittedLaw& law, const Frontier& fr) {
  std::ostringstream os;
  os << "Inference-optimal frontier" << (law.name.empty() ? "" : " for " + law.name) << " ("
     << ModelName(law.model)
     << " law), cost C = 2*N*(Q+T) with Q = " << FormatNumber(fr.text_tokens) << "\n";
  os << "  T limits [" << FormatNumber(fr.t_min) << ", " << FormatNumber(fr.t_max)
     << "], N limits [" << FormatNumber(fr.n_min) << ", " << FormatNumber(fr.n_max) << "]\n";
  if (fr.closed_form_t) {
    os << "  closed form: T* = " << FormatNumber(*fr.closed_form_t) << " (" << fr.closed_form_note
       << ")\n";
    if (fr.closed_form_t_band) {
      os << "  closed form T* bootstrap 95% band " << IntervalText(*fr.closed_form_t_band, 4)
         << " (" << fr.band_resamples << " resamples)\n";
    }
  }
  if (!fr.closed_form_t && !fr.closed_form_note.empty())
    os << "  note: " << fr.closed_form_note << "\n";
  os << "\n  budget C      N*           T*           predicted Y   | grid N     grid T     grid "
        "Y(fit)  grid Y(obs)\n";
  for (const auto& p : fr.points) {
    char line[320];
    std::string cont = p.feasible ? FormatNumber(p.n, 5) + (p.extrapolation ? "*" : "")
                                  : std::string("infeasible");
    std::snprintf(line, sizeof(line), "  %-13s %-12s %-12s %-13s | %-10s %-10s %-12s %s\n",
                  FormatNumber(p.budget, 5).c_str(), cont.c_str(),
                  p.feasible ? FormatNumber(p.t, 5).c_str() : "-",
                  p.feasible ? FormatNumber(p.predicted, 5).c_str() : "-",
                  p.grid_found ? FormatNumber(p.grid_n, 5).c_str() : "-",
                  p.grid_found ? FormatNumber(p.grid_t, 5).c_str() : "-",
                  p.grid_found ? FormatNumber(p.grid_predicted, 5).c_str() : "-",
                  p.grid_found ? FormatNumber(p.grid_observed, 5).c_str() : "-");
    os << line;
  }
  os << "  (* = outside the fitted range of N or T: extrapolation)\n";
  if (fr.band_resamples == 0) {
    os << "\n  bands: none (the fit has no bootstrap resamples; refit with vlmscale fit "
          "--bootstrap K --json for 95% bands of N*, T* and Y)\n";
  } else {
    os << "\n  bootstrap 95% bands (" << fr.band_resamples
       << " resamples, each resample's own optimum at the budget)\n"
       << "  budget C      N* band                   T* band                   predicted Y band\n";
    for (const auto& p : fr.points) {
      if (!p.band.present) continue;
      char line[320];
      std::snprintf(line, sizeof(line), "  %-13s %-25s %-25s %s\n",
                    FormatNumber(p.budget, 5).c_str(), IntervalText(p.band.n, 4).c_str(),
                    IntervalText(p.band.t, 4).c_str(), IntervalText(p.band.predicted, 4).c_str());
      os << line;
    }
  }
  if (!fr.grid_warnings.empty()) {
    os << "\n  warnings\n";
    for (const auto& w : fr.grid_warnings) os << "    - " << w.message << "\n";
  }
  return os.str();
}

nlohmann::json FrontierToJson(const FittedLaw& law, const Frontier& fr) {
  using nlohmann::json;
  json j;
  j["model"] = ModelName(law.model);
  if (!law.name.empty()) j["group"] = law.name;
  j["text_tokens"] = fr.text_tokens;
  j["t_limits"] = {fr.t_min, fr.t_max};
  j["n_limits"] = {fr.n_min, std::isfinite(fr.n_max) ? json(fr.n_max) : json(nullptr)};
  j["closed_form_t"] = fr.closed_form_t ? json(*fr.closed_form_t) : json(nullptr);
  j["closed_form_note"] = fr.closed_form_note;
  j["bands"] =
      fr.band_resamples == 0
          ? json(nullptr)
          : json{{"level", 0.95},
                 {"resamples", fr.band_resamples},
                 {"closed_form_t", fr.closed_form_t_band ? json{fr.closed_form_t_band->lower,
                                                                fr.closed_form_t_band->upper}
                                                         : json(nullptr)}};
  json pts = json::array();
  for (const auto& p : fr.points) {
    json o;
    o["budget"] = p.budget;
    o["continuous"] = p.feasible ? json{{"n", p.n},
                                        {"t", p.t},
                                        {"predicted", p.predicted},
                                        {"extrapolation", p.extrapolation}}
                                 : json(nullptr);
    if (p.band.present) {
      o["continuous"]["ci95"] = {{"n", {p.band.n.lower, p.band.n.upper}},
                                 {"t", {p.band.t.lower, p.band.t.upper}},
                                 {"predicted", {p.band.predicted.lower, p.band.predicted.upper}}};
    }
    o["grid"] = p.grid_found ? json{{"n", p.grid_n},
                                    {"t", p.grid_t},
                                    {"cost", p.grid_cost},
                                    {"predicted", p.grid_predicted},
                                    {"observed", p.grid_observed}}
                             : json(nullptr);
    pts.push_back(o);
  }
  j["frontier"] = pts;
  json warnings = json::array();
  for (const auto& w : fr.grid_warnings) {
    warnings.push_back({{"axis", w.axis},
                        {"side", w.side},
                        {"beyond", w.beyond},
                        {"grid_edge", w.grid_edge},
                        {"worst_optimum", w.worst_optimum},
                        {"budgets", w.budgets},
                        {"add", w.add},
                        {"message", w.message}});
  }
  j["grid_warnings"] = warnings;
  return j;
}

}  // namespace vlmscale::fit
