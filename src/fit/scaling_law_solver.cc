// The solver behind FitScalingLaw: the solver context (parameter spaces and bounds), the
// objective and its gradient, the Ceres problems, the start grid, the multi-start search,
// parameters at a bound and standard errors from the covariance.
// scaling_law_solver.h is its interface; scaling_law.cc (the fit itself) and
// scaling_law_bootstrap.cc use it.
#include "fit/scaling_law_solver.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <memory>
#include <random>
#include <sstream>
#include <thread>

#include "ceres/ceres.h"
#include "core/strings.h"
#include "fit/scaling_law.h"

namespace vlmscale::fit {
namespace internal {

// In log space the lower bound of E is at least this fraction of min(Y) (see MakeContext).
constexpr double kLogSpaceEFloor = 1e-6;

double ToSolver(const FitContext& ctx, int id, double natural) {
  if (SolvedAsLog(ctx.space, id)) return natural > 0 ? std::log(natural) : -kInf;
  return natural;
}

double FromSolver(const FitContext& ctx, int id, double solver) {
  if (SolvedAsLog(ctx.space, id)) return std::exp(solver);
  return solver;
}

LawParams ToLawParams(const FitContext& ctx, const std::vector<double>& x) {
  LawParams p;
  p.q = ctx.q;
  for (size_t k = 0; k < ctx.active.size(); ++k)
    SetParam(&p, ctx.active[k], FromSolver(ctx, ctx.active[k], x[k]));
  return p;
}

// The broken law's log shape (everything but A and E) at point i, and its derivatives with
// respect to alpha, beta, beta2 and log t_break (v in broken order: A, alpha, beta, beta2,
// log t_break, E).
double BrokenLogShape(const FitContext& ctx, size_t i, const double* v, double d[4]) {
  const double ln_n = ctx.log_n[i], ln_t = ctx.log_t[i];
  const double s = kBrokenSmoothness;
  const double z = (ln_t - v[4]) / s;
  const double softplus = z > 0 ? z + std::log1p(std::exp(-z)) : std::log1p(std::exp(z));
  const double sigmoid = z > 0 ? 1.0 / (1.0 + std::exp(-z)) : std::exp(z) / (1.0 + std::exp(z));
  d[0] = -ln_n;
  d[1] = -ln_t + s * softplus;
  d[2] = -s * softplus;
  d[3] = (v[3] - v[2]) * sigmoid;
  return -v[1] * ln_n - v[2] * ln_t - (v[3] - v[2]) * s * softplus;
}

namespace {

// log(exp(u1) + exp(u2)) without overflow; the weights exp(u_k) / (exp(u1) + exp(u2)) (the
// derivatives) into *w1 and *w2 when w1 != nullptr.
double LogSumExp2(double u1, double u2, double* w1, double* w2) {
  const double m = std::max(u1, u2);
  const double e1 = u1 == m ? 1.0 : std::exp(u1 - m);
  const double e2 = u2 == m ? 1.0 : std::exp(u2 - m);
  const double s = e1 + e2;
  if (w1 != nullptr) {
    *w1 = e1 / s;
    *w2 = e2 / s;
  }
  return m + std::log(s);
}

}  // namespace

// Unweighted residual of point i at solver-space parameters v (active order); its gradient into
// grad when grad != nullptr.
double RawResidual(const FitContext& ctx, size_t i, const double* v, double* grad) {
  const double ln_n = ctx.log_n[i];
  const double ln_t = ctx.log_t[i];
  if (ctx.model == Model::kCompute || ctx.model == Model::kBroken) {
    // Both are A * exp(shape) + E: the shape's log and its derivatives, then either space.
    double d[4];
    size_t nd;
    double ln_shape;
    if (ctx.model == Model::kCompute) {
      ln_shape = -v[1] * ctx.log_c[i];
      d[0] = -ctx.log_c[i];
      nd = 1;
    } else {
      ln_shape = BrokenLogShape(ctx, i, v, d);
      nd = 4;
    }
    const size_t e = nd + 1;  // Index of E (or log E).
    if (ctx.space == Space::kLinear) {
      const double g = std::exp(ln_shape);
      const double p = v[0] * g;
      if (grad) {
        grad[0] = g;
        for (size_t k = 0; k < nd; ++k) grad[k + 1] = d[k] * p;
        grad[e] = 1.0;
      }
      return p + v[e] - ctx.y[i];
    }
    double w1 = 0.0, w2 = 0.0;
    const double lse = LogSumExp2(v[0] + ln_shape, v[e], grad ? &w1 : nullptr, &w2);
    if (grad) {
      grad[0] = w1;
      for (size_t k = 0; k < nd; ++k) grad[k + 1] = d[k] * w1;
      grad[e] = w2;
    }
    return lse - ctx.log_y[i];
  }
  if (ctx.space == Space::kLinear) {
    if (ctx.model == Model::kMultiplicative) {
      const double g = std::exp(-v[1] * ln_n - v[2] * ln_t);
      const double p = v[0] * g;
      if (grad) {
        grad[0] = g;
        grad[1] = -ln_n * p;
        grad[2] = -ln_t * p;
        grad[3] = 1.0;
      }
      return p + v[3] - ctx.y[i];
    }
    const double g1 = std::exp(-v[1] * ln_n);
    const double g2 = std::exp(-v[3] * ln_t);
    if (grad) {
      grad[0] = g1;
      grad[1] = -ln_n * v[0] * g1;
      grad[2] = g2;
      grad[3] = -ln_t * v[2] * g2;
      grad[4] = 1.0;
    }
    return v[0] * g1 + v[2] * g2 + v[4] - ctx.y[i];
  }
  // Log space: log(prediction) as a log-sum-exp of the terms' logs.
  if (ctx.model == Model::kMultiplicative) {
    double w1 = 0.0, w2 = 0.0;
    const double lse =
        LogSumExp2(v[0] - v[1] * ln_n - v[2] * ln_t, v[3], grad ? &w1 : nullptr, &w2);
    if (grad) {
      grad[0] = w1;
      grad[1] = -ln_n * w1;
      grad[2] = -ln_t * w1;
      grad[3] = w2;
    }
    return lse - ctx.log_y[i];
  }
  const double u1 = v[0] - v[1] * ln_n;
  const double u2 = v[2] - v[3] * ln_t;
  const double u3 = v[4];
  const double m = std::max(u1, std::max(u2, u3));
  // The largest term is exp(0) = 1: two exp() calls instead of three.
  const double e1 = u1 == m ? 1.0 : std::exp(u1 - m);
  const double e2 = u2 == m ? 1.0 : std::exp(u2 - m);
  const double e3 = u3 == m ? 1.0 : std::exp(u3 - m);
  const double s = e1 + e2 + e3;
  if (grad) {
    grad[0] = e1 / s;
    grad[1] = -ln_n * e1 / s;
    grad[2] = e2 / s;
    grad[3] = -ln_t * e2 / s;
    grad[4] = e3 / s;
  }
  return m + std::log(s) - ctx.log_y[i];
}

// The residual the fit minimises: RawResidual times sqrt(w_i) when the points are weighted.
double Residual(const FitContext& ctx, size_t i, const double* v, double* grad) {
  const double r = RawResidual(ctx, i, v, grad);
  if (ctx.sqrt_w.empty()) return r;
  const double s = ctx.sqrt_w[i];
  if (grad) {
    for (size_t k = 0; k < ctx.active.size(); ++k) grad[k] *= s;
  }
  return r * s;
}

double PointLoss(const FitContext& ctx, double r) {
  if (ctx.loss == Loss::kSquared) return r * r;
  const double a = std::abs(r);
  const double d = ctx.huber_delta;
  return a <= d ? 0.5 * r * r : d * (a - 0.5 * d);
}

double Objective(const FitContext& ctx, const std::vector<double>& x) {
  double total = 0.0;
  for (size_t i = 0; i < ctx.y.size(); ++i)
    total += PointLoss(ctx, Residual(ctx, i, x.data(), nullptr));
  return total;
}

// One residual block per point (robust losses act per residual block in Ceres); each parameter is
// its own size-1 block so bounds, constancy and covariance work per parameter.
class PointCost : public ceres::CostFunction {
 public:
  PointCost(const FitContext* ctx, size_t i) : ctx_(ctx), i_(i) {
    set_num_residuals(1);
    mutable_parameter_block_sizes()->assign(ctx->active.size(), 1);
  }
  bool Evaluate(double const* const* x, double* residuals, double** jacobians) const override {
    double v[kNumParamIds];
    double g[kNumParamIds];
    const size_t p = ctx_->active.size();
    for (size_t k = 0; k < p; ++k) v[k] = x[k][0];
    residuals[0] = Residual(*ctx_, i_, v, jacobians ? g : nullptr);
    if (!std::isfinite(residuals[0])) return false;
    if (jacobians) {
      for (size_t k = 0; k < p; ++k) {
        if (jacobians[k]) jacobians[k][0] = g[k];
      }
    }
    return true;
  }

 private:
  const FitContext* ctx_;
  size_t i_;
};

// All points in one residual block (one Ceres block per point costs ~10x more per iteration).
// With the Huber loss, each point's residual r goes through ceres::HuberLoss as
// s = sign(r) * sqrt(rho(r^2)), so that Ceres minimises 1/2 sum s^2 = 1/2 sum rho(r_i^2) =
// sum Huber_delta(r_i): the same objective as a per-point residual block with that loss.
class AllPointsCost : public ceres::CostFunction {
 public:
  AllPointsCost(const FitContext* ctx, const ceres::LossFunction* loss) : ctx_(ctx), loss_(loss) {
    set_num_residuals(static_cast<int>(ctx->y.size()));
    mutable_parameter_block_sizes()->assign(ctx->active.size(), 1);
  }
  bool Evaluate(double const* const* x, double* residuals, double** jacobians) const override {
    double v[kNumParamIds];
    double g[kNumParamIds];
    const size_t p = ctx_->active.size();
    for (size_t k = 0; k < p; ++k) v[k] = x[k][0];
    const size_t n = ctx_->y.size();
    for (size_t i = 0; i < n; ++i) {
      const double r = Residual(*ctx_, i, v, jacobians ? g : nullptr);
      if (!std::isfinite(r)) return false;
      double s = r;
      double ds_dr = 1.0;
      if (loss_ != nullptr) {
        double rho[3];
        loss_->Evaluate(r * r, rho);
        s = std::copysign(std::sqrt(rho[0]), r);
        ds_dr = s != 0.0 ? rho[1] * r / s : rho[1];
      }
      residuals[i] = s;
      if (jacobians) {
        for (size_t k = 0; k < p; ++k) {
          if (jacobians[k]) jacobians[k][i] = ds_dr * g[k];
        }
      }
    }
    return true;
  }

 private:
  const FitContext* ctx_;
  const ceres::LossFunction* loss_;
};

// A Ceres problem over one FitContext, reused across starts (one per thread).
class StartSolver {
 public:
  StartSolver(const FitContext* ctx, const FitOptions& options, bool robust, int max_iterations)
      : ctx_(ctx), x_(ctx->active.size(), 0.0) {
    ceres::Problem::Options po;
    po.cost_function_ownership = ceres::DO_NOT_TAKE_OWNERSHIP;
    po.loss_function_ownership = ceres::DO_NOT_TAKE_OWNERSHIP;
    problem_ = std::make_unique<ceres::Problem>(po);
    if (robust && ctx->loss == Loss::kHuber)
      loss_ = std::make_unique<ceres::HuberLoss>(ctx->huber_delta);
    std::vector<double*> blocks;
    for (double& v : x_) blocks.push_back(&v);
    if (options.per_point_residual_blocks) {
      for (size_t i = 0; i < ctx->y.size(); ++i) {
        costs_.push_back(std::make_unique<PointCost>(ctx, i));
        problem_->AddResidualBlock(costs_.back().get(), loss_.get(), blocks);
      }
    } else {
      all_cost_ = std::make_unique<AllPointsCost>(ctx, loss_.get());
      problem_->AddResidualBlock(all_cost_.get(), nullptr, blocks);
    }
    for (size_t k = 0; k < x_.size(); ++k) {
      // Equal bounds hold the parameter fixed (a profile of the objective in it). Ceres takes
      // lower == upper for an infeasible problem, so the block is made constant instead; Solve
      // clamps it to that value.
      if (ctx->lower[k] == ctx->upper[k]) {
        problem_->SetParameterBlockConstant(&x_[k]);
        continue;
      }
      if (std::isfinite(ctx->lower[k])) problem_->SetParameterLowerBound(&x_[k], 0, ctx->lower[k]);
      if (std::isfinite(ctx->upper[k])) problem_->SetParameterUpperBound(&x_[k], 0, ctx->upper[k]);
    }
    so_.minimizer_type = ceres::TRUST_REGION;
    so_.trust_region_strategy_type = ceres::LEVENBERG_MARQUARDT;
    so_.linear_solver_type = ceres::DENSE_NORMAL_CHOLESKY;
    so_.max_num_iterations = max_iterations;
    so_.function_tolerance = options.function_tolerance;
    so_.gradient_tolerance = options.gradient_tolerance;
    so_.parameter_tolerance = options.parameter_tolerance;
    so_.num_threads = 1;
    so_.logging_type = ceres::SILENT;
    so_.minimizer_progress_to_stdout = false;
  }

  ceres::Problem* problem() { return problem_.get(); }
  std::vector<double>& x() { return x_; }

  // Solves from `start` (solver space, clamped into the bounds). Returns Ceres' verdict.
  ceres::TerminationType Solve(const std::vector<double>& start) {
    for (size_t k = 0; k < x_.size(); ++k)
      x_[k] = std::clamp(start[k], ctx_->lower[k], ctx_->upper[k]);
    ceres::Solver::Summary summary;
    ceres::Solve(so_, problem_.get(), &summary);
    return summary.termination_type;
  }

 private:
  const FitContext* ctx_;
  std::vector<double> x_;
  std::unique_ptr<ceres::Problem> problem_;
  std::unique_ptr<ceres::LossFunction> loss_;
  std::vector<std::unique_ptr<PointCost>> costs_;
  std::unique_ptr<AllPointsCost> all_cost_;
  ceres::Solver::Options so_;
};

// Runs every start (in parallel over `threads` threads) for at most `max_iterations` Ceres
// iterations and returns all results in start order. A start given as `resume` continues from
// that result's parameters.
std::vector<StartResult> RunStarts(const FitContext& ctx, const FitOptions& options,
                                   const std::vector<std::vector<double>>& starts, int threads,
                                   int max_iterations) {
  std::vector<StartResult> results(starts.size());
  std::atomic<size_t> next{0};
  auto worker = [&]() {
    StartSolver solver(&ctx, options, /*robust=*/true, max_iterations);
    for (size_t s = next++; s < starts.size(); s = next++) {
      ceres::TerminationType t = solver.Solve(starts[s]);
      StartResult& r = results[s];
      r.x = solver.x();
      r.usable = t != ceres::FAILURE;
      r.converged = t == ceres::CONVERGENCE;
      r.objective = r.usable ? Objective(ctx, r.x) : kInf;
      if (!std::isfinite(r.objective)) r.usable = false;
    }
  };
  threads = std::max(1, std::min<int>(threads, static_cast<int>(starts.size())));
  if (threads == 1) {
    worker();
  } else {
    std::vector<std::thread> pool;
    for (int i = 0; i < threads; ++i) pool.emplace_back(worker);
    for (auto& th : pool) th.join();
  }
  return results;
}

// The multi-start: when there are more than 4 * polish_starts starts, every start runs for
// options.screen_iterations; starts that converged are
// final; of the others, the options.polish_starts with the lowest objective (ties: lower index)
// continue from where they stopped for up to options.max_iterations more. Deterministic.
std::vector<StartResult> MultiStart(const FitContext& ctx, const FitOptions& options,
                                    const std::vector<std::vector<double>>& starts, int threads) {
  const bool screening = options.screen_iterations > 0 &&
                         starts.size() > 4 * static_cast<size_t>(options.polish_starts);
  const int screen = screening ? std::min(options.screen_iterations, options.max_iterations)
                               : options.max_iterations;
  std::vector<StartResult> results = RunStarts(ctx, options, starts, threads, screen);
  if (screen >= options.max_iterations) return results;
  std::vector<size_t> open;
  for (size_t s = 0; s < results.size(); ++s) {
    if (results[s].usable && !results[s].converged) open.push_back(s);
  }
  std::stable_sort(open.begin(), open.end(),
                   [&](size_t a, size_t b) { return results[a].objective < results[b].objective; });
  if (open.size() > static_cast<size_t>(options.polish_starts)) open.resize(options.polish_starts);
  std::sort(open.begin(), open.end());
  std::vector<std::vector<double>> resume;
  for (size_t s : open) resume.push_back(results[s].x);
  std::vector<StartResult> polished =
      RunStarts(ctx, options, resume, threads, options.max_iterations);
  for (size_t k = 0; k < open.size(); ++k) {
    if (polished[k].usable) results[open[k]] = polished[k];
  }
  return results;
}

// Index of the best usable start (lowest objective, ties to the lowest index), or -1.
int BestStart(const std::vector<StartResult>& results) {
  int best = -1;
  for (size_t s = 0; s < results.size(); ++s) {
    if (!results[s].usable) continue;
    if (best < 0 || results[s].objective < results[best].objective) best = static_cast<int>(s);
  }
  return best;
}

std::vector<Interval> DefaultBounds(const FitOptions& options, const Observations& obs) {
  std::vector<Interval> b(kNumParamIds);
  const double min_y = *std::min_element(obs.y.begin(), obs.y.end());
  b[kParamA] = {0.0, kInf};
  b[kParamB] = {0.0, kInf};
  b[kParamAlpha] = {0.0, 3.0};
  b[kParamBeta] = {0.0, 3.0};
  b[kParamE] = {0.0, min_y};
  b[kParamGamma] = {0.0, 3.0};
  b[kParamBeta2] = {0.0, 3.0};
  // The break inside the sampled range: outside it, it is not determined by the points.
  const auto [t_lo, t_hi] = std::minmax_element(obs.t.begin(), obs.t.end());
  b[kParamTBreak] = {*t_lo, *t_hi};
  for (const auto& [name, interval] : options.bounds) {
    for (int id = 0; id < kNumParamIds; ++id) {
      if (name == ParamName(id)) b[id] = interval;
    }
  }
  return b;
}

FitContext MakeContext(const FitOptions& options, const Observations& obs) {
  FitContext ctx;
  ctx.model = options.model;
  ctx.space = options.space;
  ctx.loss = options.loss;
  ctx.huber_delta = options.huber_delta;
  ctx.active = ActiveParams(options.model);
  for (size_t i = 0; i < obs.size(); ++i) {
    ctx.log_n.push_back(std::log(obs.n[i]));
    ctx.log_t.push_back(std::log(obs.t[i]));
    ctx.y.push_back(obs.y[i]);
    ctx.log_y.push_back(obs.y[i] > 0 ? std::log(obs.y[i]) : -kInf);
    if (options.model == Model::kCompute) {
      ctx.log_c.push_back(std::log(2.0 * obs.n[i] * (options.text_tokens + obs.t[i])));
    }
  }
  if (options.model == Model::kCompute) ctx.q = options.text_tokens;
  if (!obs.weights.empty()) {
    double mean_w = 0.0;
    for (double w : obs.weights) mean_w += w;
    mean_w /= obs.weights.size();
    for (double w : obs.weights) ctx.sqrt_w.push_back(std::sqrt(w / mean_w));
  }
  ctx.natural_bounds = DefaultBounds(options, obs);
  const double ctx_min_y = *std::min_element(obs.y.begin(), obs.y.end());
  for (int id : ctx.active) {
    const Interval& nb = ctx.natural_bounds[id];
    if (IsAlwaysLogParam(id)) {
      ctx.lower.push_back(std::log(nb.lower));
      ctx.upper.push_back(std::isfinite(nb.upper) ? std::log(nb.upper) : kInf);
    } else if (options.space == Space::kLog && IsLogParam(id)) {
      // E >= 0 becomes e >= log(kLogSpaceEFloor * min Y): with e unbounded below, an optimum at
      // E = 0 makes Ceres walk e towards -inf one trust-region step at a time (about one unit
      // per iteration, with a geometrically shrinking gain); the floor changes log predictions by
      // at most 1e-6, far below any useful Huber delta.
      double lower = nb.lower;
      if (id == kParamE) lower = std::max(lower, kLogSpaceEFloor * ctx_min_y);
      ctx.lower.push_back(lower > 0 ? std::log(lower) : -kInf);
      ctx.upper.push_back(std::isfinite(nb.upper) ? std::log(nb.upper) : kInf);
    } else {
      ctx.lower.push_back(nb.lower);
      ctx.upper.push_back(nb.upper);
    }
  }
  return ctx;
}

// The default start values of one parameter in solver space, or empty when the parameter is
// derived from the others (A and B in linear space).
std::vector<double> DefaultGrid(const FitContext& ctx, int id, double min_y) {
  if (id == kParamTBreak) {
    // A quarter, half and three quarters of the way through the sampled log T range.
    const auto [lo, hi] = std::minmax_element(ctx.log_t.begin(), ctx.log_t.end());
    return {*lo + 0.25 * (*hi - *lo), *lo + 0.5 * (*hi - *lo), *lo + 0.75 * (*hi - *lo)};
  }
  if (ctx.model == Model::kBroken && (id == kParamBeta || id == kParamBeta2)) {
    // Two slopes make the grid a product of both; three values each keep it near the others'.
    return ctx.space == Space::kLog ? std::vector<double>{0, 0.5, 1}
                                    : std::vector<double>{0.05, 0.3, 1.0};
  }
  if (ctx.space == Space::kLog) {
    switch (id) {
      case kParamA:
      case kParamB:
        return {0, 5, 10, 15, 20, 25};
      case kParamAlpha:
      case kParamBeta:
      case kParamGamma:
        return {0, 0.5, 1, 1.5, 2};
      default:
        return {-1, -0.5, 0, 0.5, 1};
    }
  }
  switch (id) {
    case kParamA:
    case kParamB:
      return {};
    case kParamAlpha:
    case kParamBeta:
    case kParamGamma:
      return {0.05, 0.25, 0.5, 1.0};
    default:
      return {0.0, 0.5 * min_y, 0.9 * min_y};
  }
}

std::vector<std::vector<double>> MakeStarts(const FitContext& ctx, const FitOptions& options) {
  const size_t p = ctx.active.size();
  const double min_y = *std::min_element(ctx.y.begin(), ctx.y.end());
  double mean_y = 0, mean_ln_n = 0, mean_ln_t = 0, mean_ln_c = 0;
  for (size_t i = 0; i < ctx.y.size(); ++i) {
    mean_y += ctx.y[i];
    mean_ln_n += ctx.log_n[i];
    mean_ln_t += ctx.log_t[i];
    if (!ctx.log_c.empty()) mean_ln_c += ctx.log_c[i];
  }
  mean_y /= ctx.y.size();
  mean_ln_n /= ctx.y.size();
  mean_ln_t /= ctx.y.size();
  mean_ln_c /= ctx.y.size();

  std::vector<std::vector<double>> grids(p);
  for (size_t k = 0; k < p; ++k) {
    auto it = options.start_grid.find(ParamName(ctx.active[k]));
    grids[k] = it != options.start_grid.end() ? it->second : DefaultGrid(ctx, ctx.active[k], min_y);
  }
  std::vector<std::vector<double>> starts;
  std::vector<size_t> idx(p, 0);
  while (true) {
    std::vector<double> x(p, 0.0);
    for (size_t k = 0; k < p; ++k) x[k] = grids[k].empty() ? 0.0 : grids[k][idx[k]];
    // Derived amplitudes: the law passes through the mean Y at the geometric-mean (N, T).
    auto value = [&](int id) {
      for (size_t k = 0; k < p; ++k) {
        if (ctx.active[k] == id) return std::clamp(x[k], ctx.lower[k], ctx.upper[k]);
      }
      return 0.0;
    };
    const double rest = std::max(mean_y - value(kParamE), 1e-3 * mean_y);
    for (size_t k = 0; k < p; ++k) {
      if (!grids[k].empty()) continue;
      const int id = ctx.active[k];
      if (ctx.model == Model::kMultiplicative) {
        x[k] = rest * std::exp(value(kParamAlpha) * mean_ln_n + value(kParamBeta) * mean_ln_t);
      } else if (ctx.model == Model::kCompute) {
        x[k] = rest * std::exp(value(kParamGamma) * mean_ln_c);
      } else if (ctx.model == Model::kBroken) {
        const double bend =
            BrokenLogBend(mean_ln_t, value(kParamTBreak), value(kParamBeta), value(kParamBeta2));
        x[k] =
            rest * std::exp(value(kParamAlpha) * mean_ln_n + value(kParamBeta) * mean_ln_t - bend);
      } else if (id == kParamA) {
        x[k] = 0.5 * rest * std::exp(value(kParamAlpha) * mean_ln_n);
      } else {
        x[k] = 0.5 * rest * std::exp(value(kParamBeta) * mean_ln_t);
      }
    }
    for (size_t k = 0; k < p; ++k) x[k] = std::clamp(x[k], ctx.lower[k], ctx.upper[k]);
    starts.push_back(std::move(x));
    size_t k = 0;
    for (; k < p; ++k) {
      if (grids[k].empty()) continue;
      if (++idx[k] < grids[k].size()) break;
      idx[k] = 0;
    }
    if (k == p) break;
  }
  return starts;
}

int ResolveThreads(int requested) {
  if (requested > 0) return requested;
  unsigned hc = std::thread::hardware_concurrency();
  return hc == 0 ? 1 : static_cast<int>(hc);
}

// True when parameter k of x sits at one of its bounds (in log space, A, B or E effectively 0
// also counts: their log has no finite lower bound).
bool AtBound(const FitContext& ctx, const std::vector<double>& x, size_t k, double min_y,
             double mean_y) {
  const double tol = 1e-6;
  const double lo = ctx.lower[k], hi = ctx.upper[k];
  if (std::isfinite(lo) && std::abs(x[k] - lo) <= tol * std::max(1.0, std::abs(lo))) return true;
  if (std::isfinite(hi) && std::abs(x[k] - hi) <= tol * std::max(1.0, std::abs(hi))) return true;
  const int id = ctx.active[k];
  if (ctx.space == Space::kLog && IsLogParam(id) && !std::isfinite(lo)) {
    const double natural = std::exp(x[k]);
    if (id == kParamE && natural < 1e-6 * min_y) return true;
    if (id != kParamE && natural < 1e-12 * mean_y) return true;
  }
  return false;
}

// Fills stderr fields from the Ceres covariance at x, holding parameters at bounds fixed.
void ComputeStderr(const FitContext& ctx, const FitOptions& options, const std::vector<double>& x,
                   const std::vector<bool>& pinned, FitSummary* summary) {
  StartSolver solver(&ctx, options, /*robust=*/false, options.max_iterations);
  solver.x() = x;
  ceres::Problem* problem = solver.problem();
  std::vector<const double*> free_blocks;
  for (size_t k = 0; k < x.size(); ++k) {
    if (pinned[k]) {
      problem->SetParameterBlockConstant(&solver.x()[k]);
    } else {
      free_blocks.push_back(&solver.x()[k]);
    }
  }
  const size_t n = ctx.y.size();
  if (free_blocks.empty()) {
    summary->stderr_reason = "every parameter is at a bound";
    return;
  }
  if (n <= free_blocks.size()) {
    summary->stderr_reason = "no residual degrees of freedom (" + std::to_string(n) +
                             " points for " + std::to_string(free_blocks.size()) +
                             " free parameters)";
    return;
  }
  ceres::Covariance::Options co;
  co.algorithm_type = ceres::DENSE_SVD;
  co.min_reciprocal_condition_number = 1e-14;
  co.null_space_rank = 0;
  co.num_threads = 1;
  ceres::Covariance covariance(co);
  std::vector<std::pair<const double*, const double*>> pairs;
  for (const double* b : free_blocks) pairs.emplace_back(b, b);
  if (!covariance.Compute(pairs, problem)) {
    summary->stderr_reason =
        "the Ceres covariance is singular (Jacobian rank deficient at the optimum): some "
        "parameters are not identifiable from these points";
    return;
  }
  double rss = 0.0;
  for (size_t i = 0; i < n; ++i) {
    double r = Residual(ctx, i, x.data(), nullptr);
    rss += r * r;
  }
  const double s2 = rss / static_cast<double>(n - free_blocks.size());
  for (size_t k = 0; k < x.size(); ++k) {
    if (pinned[k]) continue;
    double var = 0.0;
    covariance.GetCovarianceBlock(&solver.x()[k], &solver.x()[k], &var);
    double se = std::sqrt(std::max(0.0, var) * s2);
    const int id = ctx.active[k];
    if (SolvedAsLog(ctx.space, id)) se *= std::exp(x[k]);  // Delta method.
    SetParam(&summary->stderr_values, id, se);
    summary->stderr_present[id] = true;
  }
  summary->has_stderr = true;
}

}  // namespace internal
}  // namespace vlmscale::fit
