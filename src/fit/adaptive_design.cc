// The adaptive design rule (adaptive_design.h, docs/ADAPTIVE.md): initial design, the round's
// bootstrap fit and target interval, and the greedy delta-method choice of the next batch.
#include "fit/adaptive_design.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>
#include <set>

#include "core/strings.h"
#include "fit/report_json.h"
#include "fit/scaling_law_solver.h"

namespace vlmscale::fit {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();
using Matrix = std::vector<std::vector<double>>;

Status ValidateCandidates(const std::vector<DesignCandidate>& candidates) {
  if (candidates.empty()) return Status::InvalidInput("adaptive design: no candidate points");
  for (size_t i = 0; i < candidates.size(); ++i) {
    const DesignCandidate& c = candidates[i];
    if (!(c.n > 0) || !(c.t > 0) || !(c.cost > 0) || !std::isfinite(c.n) || !std::isfinite(c.t) ||
        !std::isfinite(c.cost)) {
      return Status::InvalidInput("adaptive design: candidate " + std::to_string(i) + " (N " +
                                  FormatNumber(c.n) + ", T " + FormatNumber(c.t) + ", cost " +
                                  FormatNumber(c.cost) + ") needs N, T and cost > 0 and finite");
    }
  }
  return Status::OK();
}

// Candidate coordinates in (log N, log T), each scaled to [0, 1] over the grid's range.
std::vector<std::pair<double, double>> UnitCoordinates(
    const std::vector<DesignCandidate>& candidates) {
  double n_lo = kInf, n_hi = -kInf, t_lo = kInf, t_hi = -kInf;
  for (const auto& c : candidates) {
    n_lo = std::min(n_lo, std::log(c.n));
    n_hi = std::max(n_hi, std::log(c.n));
    t_lo = std::min(t_lo, std::log(c.t));
    t_hi = std::max(t_hi, std::log(c.t));
  }
  std::vector<std::pair<double, double>> u;
  for (const auto& c : candidates) {
    u.emplace_back(n_hi > n_lo ? (std::log(c.n) - n_lo) / (n_hi - n_lo) : 0.0,
                   t_hi > t_lo ? (std::log(c.t) - t_lo) / (t_hi - t_lo) : 0.0);
  }
  return u;
}

double Distance2(const std::pair<double, double>& a, const std::pair<double, double>& b) {
  const double dx = a.first - b.first, dy = a.second - b.second;
  return dx * dx + dy * dy;
}

// What the budget still allows beyond `spent_cost` and `spent_jobs`.
struct Allowance {
  double cost = kInf;
  int jobs = std::numeric_limits<int>::max();
  bool Fits(double c) const { return jobs > 0 && c <= cost * (1 + 1e-12); }
  void Take(double c) {
    cost -= c;
    --jobs;
  }
};

Allowance AllowanceOf(const AdaptiveOptions& options, double spent_cost, int spent_jobs) {
  Allowance a;
  if (options.budget_cost > 0) a.cost = options.budget_cost - spent_cost;
  if (options.budget_jobs > 0) a.jobs = options.budget_jobs - spent_jobs;
  return a;
}

// Up to `count` maximin spread points among the `open` candidates, away from `taken`, within
// `allow` (consumed). Ties: lower cost, then lower index.
std::vector<size_t> SpreadPoints(const std::vector<DesignCandidate>& candidates,
                                 std::vector<size_t> taken, const std::vector<bool>& open,
                                 int count, Allowance* allow) {
  const auto u = UnitCoordinates(candidates);
  std::vector<size_t> out;
  std::vector<bool> used = open;
  for (int k = 0; k < count; ++k) {
    size_t best = candidates.size();
    double best_d = -1.0;
    for (size_t i = 0; i < candidates.size(); ++i) {
      if (!used[i] || !allow->Fits(candidates[i].cost)) continue;
      double d = kInf;
      for (size_t j : taken) d = std::min(d, Distance2(u[i], u[j]));
      const bool better = best == candidates.size() || d > best_d + 1e-12 ||
                          (d > best_d - 1e-12 && candidates[i].cost < candidates[best].cost);
      if (better) {
        best = i;
        best_d = d;
      }
    }
    if (best == candidates.size()) break;
    used[best] = false;
    taken.push_back(best);
    out.push_back(best);
    allow->Take(candidates[best].cost);
  }
  return out;
}

// The T limits of a kFrontierT target: its own, or the candidates' T range.
FrontierOptions FrontierOf(const AdaptiveTarget& target,
                           const std::vector<DesignCandidate>& candidates) {
  FrontierOptions f = target.frontier;
  double lo = kInf, hi = 0.0;
  for (const auto& c : candidates) {
    lo = std::min(lo, c.t);
    hi = std::max(hi, c.t);
  }
  if (f.t_min <= 0) f.t_min = lo;
  if (f.t_max <= 0) f.t_max = hi;
  return f;
}

// Evaluates the target of one parameter set: T* per budget or the one Y. NaN where undefined.
class TargetFunction {
 public:
  TargetFunction(Model model, const std::vector<DesignCandidate>& candidates,
                 const AdaptiveTarget& target)
      : target_(target) {
    law_.model = model;
    // ComputeFrontier reads the evaluated points for its defaults: the grid's, not the results'.
    for (const auto& c : candidates) law_.points.Add(c.n, c.t, 1.0);
    frontier_ = FrontierOf(target, candidates);
    if (frontier_.budgets.empty()) {  // The frontier's log-spaced range, fixed here by value.
      double lo = kInf, hi = 0.0;
      for (const auto& c : candidates) {
        const double cost = 2.0 * c.n * (frontier_.text_tokens + c.t);
        lo = std::min(lo, cost);
        hi = std::max(hi, cost);
      }
      if (frontier_.budget_min > 0) lo = frontier_.budget_min;
      if (frontier_.budget_max > 0) hi = std::max(frontier_.budget_max, lo);
      const int k = frontier_.num_budgets;
      for (int i = 0; i < k; ++i) {
        frontier_.budgets.push_back(
            k == 1 ? lo : std::exp(std::log(lo) + (std::log(hi) - std::log(lo)) * i / (k - 1)));
      }
    }
  }
  size_t size() const {
    return target_.kind == AdaptiveTargetKind::kError ? 1 : frontier_.budgets.size();
  }
  const std::vector<double>& budgets() const { return frontier_.budgets; }
  // The values at `p` (natural units: T* or Y).
  std::vector<double> Values(const LawParams& p) {
    if (target_.kind == AdaptiveTargetKind::kError) {
      return {Predict(law_.model, p, target_.n, target_.t)};
    }
    law_.params = p;
    std::vector<double> out(size(), std::numeric_limits<double>::quiet_NaN());
    auto fr = ComputeFrontier(law_, frontier_);
    if (!fr.ok()) return out;
    for (size_t b = 0; b < out.size(); ++b) {
      if (fr->points[b].feasible) out[b] = fr->points[b].t;
    }
    return out;
  }
  // The quantity whose interval width counts: ln T* or Y.
  double Scale(double v) const {
    return target_.kind == AdaptiveTargetKind::kError ? v : std::log(v);
  }
  double Unscale(double v) const {
    return target_.kind == AdaptiveTargetKind::kError ? v : std::exp(v);
  }

 private:
  AdaptiveTarget target_;
  FittedLaw law_;
  FrontierOptions frontier_;
};

// Inverse of a small symmetric positive-definite matrix by Gauss-Jordan with partial pivoting.
Matrix Inverse(Matrix a) {
  const size_t p = a.size();
  Matrix inv(p, std::vector<double>(p, 0.0));
  for (size_t i = 0; i < p; ++i) inv[i][i] = 1.0;
  for (size_t c = 0; c < p; ++c) {
    size_t piv = c;
    for (size_t r = c + 1; r < p; ++r) {
      if (std::abs(a[r][c]) > std::abs(a[piv][c])) piv = r;
    }
    std::swap(a[c], a[piv]);
    std::swap(inv[c], inv[piv]);
    const double d = a[c][c];
    for (size_t k = 0; k < p; ++k) {
      a[c][k] /= d;
      inv[c][k] /= d;
    }
    for (size_t r = 0; r < p; ++r) {
      if (r == c || a[r][c] == 0.0) continue;
      const double f = a[r][c];
      for (size_t k = 0; k < p; ++k) {
        a[r][k] -= f * a[c][k];
        inv[r][k] -= f * inv[c][k];
      }
    }
  }
  return inv;
}

std::vector<double> Times(const Matrix& m, const std::vector<double>& v) {
  std::vector<double> out(v.size(), 0.0);
  for (size_t i = 0; i < v.size(); ++i) {
    for (size_t k = 0; k < v.size(); ++k) out[i] += m[i][k] * v[k];
  }
  return out;
}

double Dot(const std::vector<double>& a, const std::vector<double>& b) {
  double s = 0.0;
  for (size_t i = 0; i < a.size(); ++i) s += a[i] * b[i];
  return s;
}

// The delta-method scorer of one round: the fit's information matrix over the points run so far
// (in flight included: their Y is not needed), the target's gradient, and the candidates'
// Jacobian rows, all in parameters scaled by their magnitude.
class DeltaScorer {
 public:
  DeltaScorer(Model model, const FitSummary& fit, const std::vector<DesignCandidate>& candidates,
              TargetFunction* target, size_t budget_index)
      : model_(model), fit_(fit), candidates_(candidates) {
    for (int id : ActiveParams(model)) {
      const std::string name = ParamName(id);
      if (std::find(fit.at_bound.begin(), fit.at_bound.end(), name) == fit.at_bound.end()) {
        free_.push_back(id);
      }
    }
    for (int id : free_) scale_.push_back(std::max(std::abs(GetParam(fit.params, id)), 1e-8));
    // The target's gradient by central secants over each parameter's bootstrap spread: the
    // scale on which the interval is measured, and robust to a clamp (T* at a T limit).
    for (size_t k = 0; k < free_.size(); ++k) {
      std::vector<double> draws;
      for (const LawParams& p : fit.bootstrap_params) draws.push_back(GetParam(p, free_[k]));
      double h = 0.5 * (internal::Percentile(draws, 0.84) - internal::Percentile(draws, 0.16));
      if (!(h > 0) || !std::isfinite(h)) h = 1e-4 * scale_[k];
      LawParams up = fit.params, down = fit.params;
      SetParam(&up, free_[k], GetParam(up, free_[k]) + h);
      SetParam(&down, free_[k], GetParam(down, free_[k]) - h);
      const double gu = target->Scale(target->Values(up)[budget_index]);
      const double gd = target->Scale(target->Values(down)[budget_index]);
      double g = (gu - gd) / (2 * h) * scale_[k];
      if (!std::isfinite(g)) g = 0.0;
      gradient_.push_back(g);
    }
  }

  size_t num_free() const { return free_.size(); }

  // The Jacobian row of the prediction at candidate i, scaled.
  std::vector<double> Row(size_t i) const {
    std::vector<double> row;
    const DesignCandidate& c = candidates_[i];
    for (size_t k = 0; k < free_.size(); ++k) {
      const double h = 1e-6 * scale_[k];
      LawParams up = fit_.params, down = fit_.params;
      SetParam(&up, free_[k], GetParam(up, free_[k]) + h);
      SetParam(&down, free_[k], GetParam(down, free_[k]) - h);
      row.push_back((Predict(model_, up, c.n, c.t) - Predict(model_, down, c.n, c.t)) / (2 * h) *
                    scale_[k]);
    }
    return row;
  }

  // Starts the information matrix from the points run or in flight.
  void SetPoints(const std::vector<size_t>& points) {
    const size_t p = free_.size();
    info_.assign(p, std::vector<double>(p, 0.0));
    for (size_t i : points) {
      const std::vector<double> row = Row(i);
      for (size_t a = 0; a < p; ++a) {
        for (size_t b = 0; b < p; ++b) info_[a][b] += row[a] * row[b];
      }
    }
    Invert();
  }
  void Add(const std::vector<double>& row) {
    for (size_t a = 0; a < row.size(); ++a) {
      for (size_t b = 0; b < row.size(); ++b) info_[a][b] += row[a] * row[b];
    }
    Invert();
  }
  // g' M^-1 g now, and after adding `row` (Sherman-Morrison).
  double Variance() const { return Dot(gradient_, Times(inv_, gradient_)); }
  double VarianceWith(const std::vector<double>& row) const {
    const std::vector<double> mr = Times(inv_, row);
    const double gmr = Dot(gradient_, mr);
    return Variance() - gmr * gmr / (1.0 + Dot(row, mr));
  }

 private:
  void Invert() {
    // A relative ridge keeps M invertible while the design is still thin in some direction.
    Matrix m = info_;
    double top = 0.0;
    for (size_t a = 0; a < m.size(); ++a) top = std::max(top, m[a][a]);
    for (size_t a = 0; a < m.size(); ++a) m[a][a] += 1e-9 * top + 1e-300;
    inv_ = Inverse(m);
  }

  Model model_;
  const FitSummary& fit_;
  const std::vector<DesignCandidate>& candidates_;
  std::vector<int> free_;
  std::vector<double> scale_;
  std::vector<double> gradient_;
  Matrix info_, inv_;
};

}  // namespace

const char* AdaptiveTargetKindName(AdaptiveTargetKind k) {
  return k == AdaptiveTargetKind::kError ? "error" : "frontier_t";
}

const char* StopReasonName(StopReason r) {
  switch (r) {
    case StopReason::kContinue:
      return "continue";
    case StopReason::kTolerance:
      return "tolerance";
    case StopReason::kBudget:
      return "budget";
    case StopReason::kExhausted:
      return "exhausted";
  }
  return "?";
}

bool AdaptiveOptions::IsValid(std::string* error) const {
  auto fail = [&](const std::string& m) {
    if (error) *error = m;
    return false;
  };
  std::string e;
  if (!fit.IsValid(&e)) return fail("fit: " + e);
  if (fit.bootstrap < 20) return fail("fit.bootstrap must be >= 20 (the target's interval)");
  if (target.kind == AdaptiveTargetKind::kFrontierT) {
    if (!target.frontier.IsValid(&e)) return fail("target.frontier: " + e);
  } else if (!(target.n > 0) || !(target.t > 0) || !std::isfinite(target.n) ||
             !std::isfinite(target.t)) {
    return fail("target.n and target.t must be > 0 and finite");
  }
  if (!(tolerance > 0) || !std::isfinite(tolerance)) return fail("tolerance must be > 0");
  if (!(budget_cost >= 0) || !std::isfinite(budget_cost)) return fail("budget_cost must be >= 0");
  if (budget_jobs < 0) return fail("budget_jobs must be >= 0");
  if (initial_spread < 0) return fail("initial_spread must be >= 0");
  if (batch < 1) return fail("batch must be >= 1");
  return true;
}

Result<std::vector<size_t>> InitialDesign(const std::vector<DesignCandidate>& candidates,
                                          const AdaptiveOptions& options) {
  std::string error;
  if (!options.IsValid(&error)) return Status::InvalidInput("adaptive options: " + error);
  VLM_RETURN_IF_ERROR(ValidateCandidates(candidates));
  const auto u = UnitCoordinates(candidates);
  std::vector<size_t> design;
  for (const auto& corner : {std::make_pair(0.0, 0.0), std::make_pair(0.0, 1.0),
                             std::make_pair(1.0, 0.0), std::make_pair(1.0, 1.0)}) {
    size_t best = 0;
    for (size_t i = 1; i < candidates.size(); ++i) {
      const double d = Distance2(u[i], corner), bd = Distance2(u[best], corner);
      if (d < bd - 1e-12 || (d < bd + 1e-12 && candidates[i].cost < candidates[best].cost)) {
        best = i;
      }
    }
    if (std::find(design.begin(), design.end(), best) == design.end()) design.push_back(best);
  }
  std::vector<bool> open(candidates.size(), true);
  for (size_t i : design) open[i] = false;
  // Spread points only at distinct coordinates: a repeat adds nothing to the shape of the design.
  for (size_t i = 0; i < candidates.size(); ++i) {
    for (size_t j : design) {
      if (Distance2(u[i], u[j]) < 1e-24) open[i] = false;
    }
  }
  Allowance unlimited;
  std::vector<size_t> spread =
      SpreadPoints(candidates, design, open, options.initial_spread, &unlimited);
  design.insert(design.end(), spread.begin(), spread.end());
  double cost = 0.0;
  for (size_t i : design) cost += candidates[i].cost;
  if (options.budget_cost > 0 && cost > options.budget_cost) {
    return Status::InvalidInput("adaptive design: the budget of " +
                                FormatNumber(options.budget_cost) +
                                " is below the initial design's cost " + FormatNumber(cost) +
                                " (4 corners + " + std::to_string(options.initial_spread) +
                                " spread points); raise the budget or lower initial_spread");
  }
  if (options.budget_jobs > 0 && static_cast<int>(design.size()) > options.budget_jobs) {
    return Status::InvalidInput(
        "adaptive design: the budget of " + std::to_string(options.budget_jobs) +
        " jobs is below the initial design's " + std::to_string(design.size()) + " points");
  }
  return design;
}

Result<std::vector<TargetEstimate>> EstimateTarget(const FitSummary& summary,
                                                   const std::vector<DesignCandidate>& candidates,
                                                   const AdaptiveTarget& target) {
  if (!summary.has_ci || summary.bootstrap_params.empty()) {
    return Status::InvalidInput("the target's interval needs a fit with a bootstrap");
  }
  VLM_RETURN_IF_ERROR(ValidateCandidates(candidates));
  TargetFunction f(summary.model, candidates, target);
  const std::vector<double> best = f.Values(summary.params);
  std::vector<std::vector<double>> draws(f.size());
  for (const LawParams& p : summary.bootstrap_params) {
    const std::vector<double> v = f.Values(p);
    for (size_t b = 0; b < v.size(); ++b) {
      if (std::isfinite(v[b])) draws[b].push_back(v[b]);
    }
  }
  std::vector<TargetEstimate> out;
  for (size_t b = 0; b < f.size(); ++b) {
    TargetEstimate e;
    if (target.kind == AdaptiveTargetKind::kFrontierT) e.budget = f.budgets()[b];
    e.value = best[b];
    if (!std::isfinite(e.value) || draws[b].size() < 20) {
      return Status::Runtime(
          "the target is undefined at " +
          (target.kind == AdaptiveTargetKind::kFrontierT
               ? "budget " + FormatNumber(e.budget) + " (no feasible (N, T) within the limits)"
               : std::string("the fit")));
    }
    // The percentile interval, widened about the estimate (in the width's scale: ln T* or Y) by
    // sqrt(n / (n - p)), the small-sample factor the fitter's bands apply to residuals: the
    // pairs bootstrap of a few points undercovers, and an adaptive design stops on few points.
    const double lo = f.Scale(internal::Percentile(draws[b], 0.025));
    const double hi = f.Scale(internal::Percentile(draws[b], 0.975));
    const double mid = f.Scale(e.value);
    const double np = static_cast<double>(summary.n_points);
    const double p = static_cast<double>(ActiveParams(summary.model).size());
    const double c = np > p ? std::sqrt(np / (np - p)) : 1.0;
    e.lower = f.Unscale(mid - c * std::max(mid - lo, 0.0));
    e.upper = f.Unscale(mid + c * std::max(hi - mid, 0.0));
    e.width = f.Scale(e.upper) - f.Scale(e.lower);
    out.push_back(e);
  }
  return out;
}

Result<AdaptiveDecision> NextRound(const std::vector<DesignCandidate>& candidates,
                                   const std::vector<DesignResult>& results_in,
                                   const std::vector<size_t>& in_flight,
                                   const AdaptiveOptions& options) {
  std::string error;
  if (!options.IsValid(&error)) return Status::InvalidInput("adaptive options: " + error);
  VLM_RETURN_IF_ERROR(ValidateCandidates(candidates));
  // Arrival order must not matter: fit the results in candidate order.
  std::vector<DesignResult> results = results_in;
  std::sort(results.begin(), results.end(),
            [](const DesignResult& a, const DesignResult& b) { return a.candidate < b.candidate; });
  std::vector<bool> open(candidates.size(), true);
  AdaptiveDecision d;
  std::vector<size_t> taken;
  auto take = [&](size_t i, const char* what) -> Status {
    if (i >= candidates.size()) {
      return Status::InvalidInput("adaptive design: " + std::string(what) + " candidate " +
                                  std::to_string(i) + " is out of range (" +
                                  std::to_string(candidates.size()) + " candidates)");
    }
    if (!open[i]) {
      return Status::InvalidInput("adaptive design: candidate " + std::to_string(i) +
                                  " appears twice among the results and points in flight");
    }
    open[i] = false;
    taken.push_back(i);
    d.spent_cost += candidates[i].cost;
    ++d.spent_jobs;
    return Status::OK();
  };
  Observations obs;
  for (const DesignResult& r : results) {
    VLM_RETURN_IF_ERROR(take(r.candidate, "result"));
    if (!std::isfinite(r.y)) {
      return Status::InvalidInput("adaptive design: the result of candidate " +
                                  std::to_string(r.candidate) + " is not finite");
    }
    obs.Add(candidates[r.candidate].n, candidates[r.candidate].t, r.y);
  }
  for (size_t i : in_flight) VLM_RETURN_IF_ERROR(take(i, "in-flight"));
  Allowance allow = AllowanceOf(options, d.spent_cost, d.spent_jobs);
  const bool any_open = std::find(open.begin(), open.end(), true) != open.end();
  bool any_affordable = false;
  for (size_t i = 0; i < candidates.size(); ++i) {
    any_affordable = any_affordable || (open[i] && allow.Fits(candidates[i].cost));
  }
  auto budget_line = [&]() {
    std::string s = "spent " + FormatNumber(d.spent_cost, 4) + " cost, " +
                    std::to_string(d.spent_jobs) + " jobs";
    if (options.budget_cost > 0) s += " of " + FormatNumber(options.budget_cost, 4) + " cost";
    if (options.budget_jobs > 0) s += " of " + std::to_string(options.budget_jobs) + " jobs";
    return s;
  };
  auto stop_unless_open = [&]() {
    if (!any_open) {
      d.stop = StopReason::kExhausted;
      d.message += "; every candidate is run or in flight (" + budget_line() + ")";
    } else if (!any_affordable) {
      d.stop = StopReason::kBudget;
      d.message += "; budget spent: no candidate left fits (" + budget_line() + ")";
    }
    return d.stop != StopReason::kContinue;
  };
  auto spread_batch = [&]() {
    d.chosen = SpreadPoints(candidates, taken, open, options.batch, &allow);
  };

  // The round's fit.
  const size_t p = ActiveParams(options.fit.model).size();
  Status fit_status = Status::OK();
  if (obs.size() > p) {
    fit_status = FitScalingLaw(options.fit, obs, &d.fit);
  }
  d.width = kInf;
  if (obs.size() <= p || !fit_status.ok() || !d.fit.IsSolutionUsable() || !d.fit.has_ci) {
    d.message = obs.size() <= p ? std::to_string(obs.size()) + " results cannot fit " +
                                      std::to_string(p) + " parameters"
                : !fit_status.ok()          ? "no fit: " + fit_status.message()
                : !d.fit.IsSolutionUsable() ? "the fit failed: " + d.fit.message
                                            : std::string("the bootstrap gave no interval");
    if (stop_unless_open()) return d;
    d.message += "; spread points chosen";
    spread_batch();
    return d;
  }
  d.fitted = true;
  auto estimate = EstimateTarget(d.fit, candidates, options.target);
  if (!estimate.ok()) {
    d.fitted = false;
    d.message = estimate.status().message();
    if (stop_unless_open()) return d;
    d.message += "; spread points chosen";
    spread_batch();
    return d;
  }
  d.target = *estimate;
  size_t worst = 0;
  d.width = 0.0;
  for (size_t b = 0; b < d.target.size(); ++b) {
    if (d.target[b].width > d.width) {
      d.width = d.target[b].width;
      worst = b;
    }
  }
  d.message = std::string("width ") + FormatNumber(d.width, 4) + " (" +
              AdaptiveTargetKindName(options.target.kind) + ") vs tolerance " +
              FormatNumber(options.tolerance, 4);
  if (d.width <= options.tolerance) {
    d.stop = StopReason::kTolerance;
    d.message += ": within tolerance (" + budget_line() + ")";
    return d;
  }
  if (stop_unless_open()) return d;

  // Greedy batch by predicted width reduction per unit cost.
  const auto t0 = std::chrono::steady_clock::now();
  TargetFunction f(options.fit.model, candidates, options.target);
  DeltaScorer scorer(options.fit.model, d.fit, candidates, &f, worst);
  scorer.SetPoints(taken);
  const double v0 = scorer.Variance();
  std::vector<std::vector<double>> rows(candidates.size());
  for (size_t i = 0; i < candidates.size(); ++i) {
    if (open[i]) rows[i] = scorer.Row(i);
  }
  auto width_at = [&](double v) { return d.width * std::sqrt(std::max(v, 0.0) / v0); };
  bool flat = !(v0 > 0) || !std::isfinite(v0);
  while (!flat && static_cast<int>(d.chosen.size()) < options.batch) {
    const double now = width_at(scorer.Variance());
    size_t best = candidates.size();
    double best_score = 0.0, best_width = now;
    for (size_t i = 0; i < candidates.size(); ++i) {
      if (!open[i] || !allow.Fits(candidates[i].cost)) continue;
      const double w = width_at(scorer.VarianceWith(rows[i]));
      const double score = (now - w) / candidates[i].cost;
      if (score > best_score * (1 + 1e-12) ||
          (best < candidates.size() && score >= best_score * (1 - 1e-12) &&
           candidates[i].cost < candidates[best].cost)) {
        best = i;
        best_score = score;
        best_width = w;
      }
    }
    if (best == candidates.size()) break;  // Nothing affordable reduces the width.
    d.chosen.push_back(best);
    d.scores.push_back({best, best_width, best_score});
    open[best] = false;
    taken.push_back(best);
    allow.Take(candidates[best].cost);
    scorer.Add(rows[best]);
  }
  d.score_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (d.chosen.empty()) {
    d.message +=
        "; the linearised target is flat in every affordable candidate: spread points "
        "chosen";
    spread_batch();
  } else {
    d.message += "; " + std::to_string(d.chosen.size()) + " chosen, predicted width " +
                 FormatNumber(d.scores.back().expected_width, 4) + " (" + budget_line() + ")";
  }
  return d;
}

}  // namespace vlmscale::fit
