// The scaling law's vocabulary and bookkeeping, apart from the solver (scaling_law.cc): model,
// loss and space names, parameter access, Predict, Observations, option and data validation, and
// the FitSummary reports.
#include <algorithm>
#include <cmath>
#include <limits>
#include <sstream>

#include "core/strings.h"
#include "fit/scaling_law.h"

namespace vlmscale::fit {

namespace {

std::string Fmt(double v) { return FormatNumber(v, 6); }

}  // namespace

const char* ModelName(Model m) {
  switch (m) {
    case Model::kMultiplicative:
      return "multiplicative";
    case Model::kAdditive:
      return "additive";
    case Model::kCompute:
      return "compute";
    case Model::kBroken:
      return "broken";
  }
  return "?";
}

const char* ModelFormula(Model m) {
  switch (m) {
    case Model::kMultiplicative:
      return "Y = A * N^-alpha * T^-beta + E";
    case Model::kAdditive:
      return "Y = A * N^-alpha + B * T^-beta + E";
    case Model::kCompute:
      return "Y = A * C^-gamma + E, C = 2*N*(Q+T)";
    case Model::kBroken:
      return "Y = A * N^-alpha * T^-beta * (1 + (T/t_break)^(1/s))^(-(beta2-beta)*s) + E, s = 0.5";
  }
  return "?";
}
const char* LossName(Loss l) { return l == Loss::kSquared ? "squared" : "huber"; }
const char* SpaceName(Space s) { return s == Space::kLinear ? "linear" : "log"; }

Result<Model> ParseModel(std::string_view s) {
  if (s == "multiplicative") return Model::kMultiplicative;
  if (s == "additive") return Model::kAdditive;
  if (s == "compute") return Model::kCompute;
  if (s == "broken") return Model::kBroken;
  return Status::InvalidInput("unknown model '" + std::string(s) +
                              "'; use 'multiplicative', 'additive', 'compute' or 'broken'");
}
Result<Loss> ParseLoss(std::string_view s) {
  if (s == "squared") return Loss::kSquared;
  if (s == "huber") return Loss::kHuber;
  return Status::InvalidInput("unknown loss '" + std::string(s) + "'; use 'squared' or 'huber'");
}
Result<Space> ParseSpace(std::string_view s) {
  if (s == "linear") return Space::kLinear;
  if (s == "log") return Space::kLog;
  return Status::InvalidInput("unknown space '" + std::string(s) + "'; use 'linear' or 'log'");
}

const char* ParamName(int id) {
  static const char* const kNames[kNumParamIds] = {"A", "alpha", "B",     "beta",
                                                   "E", "gamma", "beta2", "t_break"};
  CHECK(id >= 0 && id < kNumParamIds) << "bad parameter id " << id;
  return kNames[id];
}

std::vector<int> ActiveParams(Model m) {
  switch (m) {
    case Model::kMultiplicative:
      return {kParamA, kParamAlpha, kParamBeta, kParamE};
    case Model::kAdditive:
      return {kParamA, kParamAlpha, kParamB, kParamBeta, kParamE};
    case Model::kCompute:
      return {kParamA, kParamGamma, kParamE};
    case Model::kBroken:
      return {kParamA, kParamAlpha, kParamBeta, kParamBeta2, kParamTBreak, kParamE};
  }
  return {};
}

double GetParam(const LawParams& p, int id) {
  switch (id) {
    case kParamA:
      return p.A;
    case kParamAlpha:
      return p.alpha;
    case kParamB:
      return p.B;
    case kParamBeta:
      return p.beta;
    case kParamE:
      return p.E;
    case kParamGamma:
      return p.gamma;
    case kParamBeta2:
      return p.beta2;
    case kParamTBreak:
      return p.t_break;
  }
  CHECK(false) << "bad parameter id " << id;
  return 0.0;
}

void SetParam(LawParams* p, int id, double v) {
  switch (id) {
    case kParamA:
      p->A = v;
      return;
    case kParamAlpha:
      p->alpha = v;
      return;
    case kParamB:
      p->B = v;
      return;
    case kParamBeta:
      p->beta = v;
      return;
    case kParamE:
      p->E = v;
      return;
    case kParamGamma:
      p->gamma = v;
      return;
    case kParamBeta2:
      p->beta2 = v;
      return;
    case kParamTBreak:
      p->t_break = v;
      return;
  }
  CHECK(false) << "bad parameter id " << id;
}

double BrokenLogBend(double log_t, double log_t_break, double beta, double beta2) {
  // -(beta2 - beta) * s * softplus(z), z = (log T - log t_break) / s, written so that it neither
  // overflows for large z nor loses the small term for very negative z.
  const double s = kBrokenSmoothness;
  const double z = (log_t - log_t_break) / s;
  const double softplus = z > 0 ? z + std::log1p(std::exp(-z)) : std::log1p(std::exp(z));
  return -(beta2 - beta) * s * softplus;
}

double Predict(Model m, const LawParams& p, double n, double t) {
  switch (m) {
    case Model::kMultiplicative:
      return p.A * std::pow(n, -p.alpha) * std::pow(t, -p.beta) + p.E;
    case Model::kAdditive:
      return p.A * std::pow(n, -p.alpha) + p.B * std::pow(t, -p.beta) + p.E;
    case Model::kCompute:
      return p.A * std::pow(2.0 * n * (p.q + t), -p.gamma) + p.E;
    case Model::kBroken: {
      const double log_t = std::log(t);
      return p.A * std::exp(-p.alpha * std::log(n) - p.beta * log_t +
                            BrokenLogBend(log_t, std::log(p.t_break), p.beta, p.beta2)) +
             p.E;
    }
  }
  return std::numeric_limits<double>::quiet_NaN();
}

void Observations::Add(double n_value, double t_value, double y_value, std::string label) {
  n.push_back(n_value);
  t.push_back(t_value);
  y.push_back(y_value);
  if (!label.empty() || !labels.empty()) {
    labels.resize(y.size() - 1);
    labels.push_back(std::move(label));
  }
}

std::string Observations::Where(size_t i) const {
  if (i < labels.size() && !labels[i].empty()) return labels[i];
  return "point " + std::to_string(i + 1);
}

bool FitOptions::IsValid(std::string* error) const {
  auto fail = [&](const std::string& msg) {
    if (error) *error = msg;
    return false;
  };
  if (!(huber_delta > 0) || !std::isfinite(huber_delta)) return fail("huber_delta must be > 0");
  if (num_threads < 0) return fail("num_threads must be >= 0");
  if (max_iterations <= 0) return fail("max_iterations must be > 0");
  if (screen_iterations < 0) return fail("screen_iterations must be >= 0");
  if (polish_starts <= 0) return fail("polish_starts must be > 0");
  if (!(function_tolerance > 0) || !(gradient_tolerance > 0) || !(parameter_tolerance > 0)) {
    return fail("Ceres tolerances must be > 0");
  }
  if (bootstrap < 0) return fail("bootstrap must be >= 0");
  if (bootstrap > 0 && bootstrap < 20) {
    return fail("bootstrap must be 0 or >= 20 resamples (percentile intervals need them)");
  }
  if (holdout_largest < 0) return fail("holdout_largest must be >= 0");
  if (!std::isnan(text_tokens) && !(std::isfinite(text_tokens) && text_tokens >= 0)) {
    return fail("text_tokens must be >= 0 and finite (or NaN: unknown)");
  }
  std::vector<std::string> names;
  for (int id : ActiveParams(model)) names.push_back(ParamName(id));
  auto check_name = [&](const std::string& name) -> std::string {
    if (std::find(names.begin(), names.end(), name) != names.end()) return "";
    std::string hint = ClosestMatch(name, names);
    return "unknown parameter '" + name + "' for the " + ModelName(model) + " law" +
           (hint.empty() ? "" : " (did you mean '" + hint + "'?)") + "; parameters are " +
           Join(names, ", ");
  };
  for (const auto& [name, interval] : bounds) {
    std::string bad = check_name(name);
    if (!bad.empty()) return fail("bounds: " + bad);
    if (std::isnan(interval.lower) || std::isnan(interval.upper) ||
        interval.lower > interval.upper) {
      return fail("bounds: " + name + " needs lower <= upper");
    }
    if (name == "t_break" && !(interval.lower > 0)) {
      return fail("bounds: t_break is solved for as log t_break and needs lower > 0");
    }
    if (space == Space::kLog && (name == "A" || name == "B" || name == "E")) {
      if (interval.lower < 0 || !(interval.upper > 0)) {
        return fail("bounds: in log space " + name + " is exp(" +
                    (name == "E" ? std::string("e") : std::string(name == "A" ? "a" : "b")) +
                    ") and needs lower >= 0 and upper > 0");
      }
    }
  }
  for (const auto& [name, values] : start_grid) {
    std::string bad = check_name(name);
    if (!bad.empty()) return fail("start grid: " + bad);
    if (values.empty()) return fail("start grid: " + name + " has no values");
    for (double v : values) {
      if (!std::isfinite(v)) return fail("start grid: " + name + " has a non-finite value");
    }
  }
  return true;
}

Status ValidateObservations(const FitOptions& options, const Observations& obs) {
  if (obs.n.size() != obs.y.size() || obs.t.size() != obs.y.size()) {
    return Status::InvalidInput("observations: n, t and y have different lengths");
  }
  if (obs.size() == 0) return Status::InvalidInput("no points to fit (empty group or file)");
  if (!obs.weights.empty() && obs.weights.size() != obs.size()) {
    return Status::InvalidInput("observations: weights must be empty or one per point");
  }
  for (size_t i = 0; i < obs.weights.size(); ++i) {
    if (!(obs.weights[i] > 0) || !std::isfinite(obs.weights[i])) {
      return Status::InvalidInput(obs.Where(i) + ": weight must be > 0 and finite (got " +
                                  Fmt(obs.weights[i]) + ")");
    }
  }
  for (size_t i = 0; i < obs.size(); ++i) {
    const std::string where = obs.Where(i);
    if (!std::isfinite(obs.n[i]) || !std::isfinite(obs.t[i]) || !std::isfinite(obs.y[i])) {
      return Status::InvalidInput(where + ": N, T and Y must be finite (got N=" + Fmt(obs.n[i]) +
                                  ", T=" + Fmt(obs.t[i]) + ", Y=" + Fmt(obs.y[i]) + ")");
    }
    if (obs.n[i] <= 0)
      return Status::InvalidInput(where + ": N must be > 0 (got " + Fmt(obs.n[i]) + ")");
    if (obs.t[i] <= 0)
      return Status::InvalidInput(where + ": T must be > 0 (got " + Fmt(obs.t[i]) + ")");
    if (options.space == Space::kLog && obs.y[i] <= 0) {
      return Status::InvalidInput(where + ": Y must be > 0 for a log-space fit (got " +
                                  Fmt(obs.y[i]) + "); use --space linear or drop the point");
    }
  }
  const size_t p = ActiveParams(options.model).size();
  if (obs.size() < p) {
    return Status::InvalidInput("only " + std::to_string(obs.size()) + " points for the " +
                                std::to_string(p) + " parameters of the " +
                                ModelName(options.model) + " law; fewer points than parameters");
  }
  const auto [lo, hi] = std::minmax_element(obs.y.begin(), obs.y.end());
  if (*lo == *hi) {
    return Status::InvalidInput("Y is constant (" + Fmt(*lo) + " at all " +
                                std::to_string(obs.size()) +
                                " points); there is no trend in N or T to fit");
  }
  return Status::OK();
}

double BetaOverAlpha(const LawParams& p) {
  if (p.alpha > 0.0) return p.beta / p.alpha;
  return p.beta > 0.0 ? std::numeric_limits<double>::infinity()
                      : std::numeric_limits<double>::quiet_NaN();
}

std::string FitSummary::BriefReport() const {
  std::ostringstream os;
  os << ModelName(model) << " fit (" << LossName(loss) << ", " << SpaceName(space) << "): ";
  if (termination == Termination::kFailure) {
    os << "FAILED: " << message;
    return os.str();
  }
  bool first = true;
  for (int id : ActiveParams(model)) {
    os << (first ? "" : ", ") << ParamName(id) << "=" << Fmt(GetParam(params, id));
    first = false;
  }
  os << "; objective=" << Fmt(objective) << ", sse=" << Fmt(sse) << ", r2=" << FormatNumber(r2, 5)
     << ", n=" << n_points;
  if (!at_bound.empty()) os << "; at bound: " << Join(at_bound, ", ");
  return os.str();
}

std::string FitSummary::FullReport() const {
  std::ostringstream os;
  os << "Scaling-law fit\n";
  os << "  model        " << ModelName(model) << ": " << ModelFormula(model) << "\n";
  if (model == Model::kCompute)
    os << "  Q            " << Fmt(params.q) << " text tokens per query\n";
  os << "  objective    " << LossName(loss)
     << (loss == Loss::kHuber ? " (delta=" + Fmt(huber_delta) + ")" : std::string()) << " loss, "
     << SpaceName(space) << " space\n";
  os << "  points       " << n_points << "\n";
  os << "  starts       " << num_starts << " (" << starts_at_best << " reached the best, "
     << starts_failed << " failed; " << num_threads << " threads, "
     << FormatNumber(solve_seconds * 1e3, 4) << " ms)\n";
  os << "  termination  "
     << (termination == Termination::kConvergence     ? "CONVERGENCE"
         : termination == Termination::kNoConvergence ? "NO_CONVERGENCE"
                                                      : "FAILURE")
     << ": " << message << "\n";
  if (termination == Termination::kFailure) return os.str();
  os << "\n  param        value          stderr         95% CI (bootstrap)       bounds\n";
  for (int id : ActiveParams(model)) {
    char line[256];
    std::string se = stderr_present[id] ? Fmt(GetParam(stderr_values, id)) : "-";
    std::string ci =
        has_ci ? "[" + Fmt(GetParam(ci_lower, id)) + ", " + Fmt(GetParam(ci_upper, id)) + "]" : "-";
    std::string bnd =
        id < static_cast<int>(bounds_used.size())
            ? "[" + Fmt(bounds_used[id].lower) + ", " + Fmt(bounds_used[id].upper) + "]"
            : "";
    bool pinned = std::find(at_bound.begin(), at_bound.end(), ParamName(id)) != at_bound.end();
    bool fixed =
        id < static_cast<int>(bounds_used.size()) && bounds_used[id].lower == bounds_used[id].upper;
    std::snprintf(line, sizeof(line), "  %-12s %-14s %-14s %-24s %s%s\n", ParamName(id),
                  Fmt(GetParam(params, id)).c_str(), se.c_str(), ci.c_str(), bnd.c_str(),
                  fixed    ? "  FIXED"
                  : pinned ? "  AT BOUND"
                           : "");
    os << line;
  }
  if (!has_stderr) os << "  stderr: none (" << stderr_reason << ")\n";
  if (model == Model::kMultiplicative || model == Model::kAdditive) {
    os << "  beta/alpha   " << Fmt(BetaOverAlpha(params));
    if (has_ci) {
      os << "  95% CI (bootstrap) [" << Fmt(beta_over_alpha_ci_lower) << ", "
         << Fmt(beta_over_alpha_ci_upper) << "]";
    }
    os << "\n";
  }
  if (has_ci) {
    os << "  bootstrap: " << bootstrap_resamples << " resamples";
    if (bootstrap_failures > 0) os << " (" << bootstrap_failures << " failed)";
    os << ", " << FormatNumber(bootstrap_seconds, 4) << " s\n";
  }
  os << "\n  objective    " << Fmt(objective) << "\n";
  os << "  sse          " << Fmt(sse) << "\n";
  os << "  rmse         " << Fmt(rmse) << "\n";
  os << "  r2           " << FormatNumber(r2, 6) << "\n";
  if (!extrapolation.empty()) {
    os << "\n  extrapolation (fit without the largest N, predict them)\n";
    os << "    N            T            observed     predicted    rel. error\n";
    for (const auto& h : extrapolation) {
      char line[200];
      std::snprintf(line, sizeof(line), "    %-12s %-12s %-12s %-12s %+.2f%%\n", Fmt(h.n).c_str(),
                    Fmt(h.t).c_str(), Fmt(h.observed).c_str(), Fmt(h.predicted).c_str(),
                    100.0 * h.relative_error);
      os << line;
    }
  }
  if (!warnings.empty()) {
    os << "\n  warnings\n";
    for (const auto& w : warnings) os << "    - " << w << "\n";
  }
  return os.str();
}

}  // namespace vlmscale::fit
