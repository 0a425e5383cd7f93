// The [adaptive] section: an adaptive (fit-driven) sweep runs the grid's points in rounds chosen
// by the design rule of fit/adaptive_design.h instead of the whole grid at once
// (docs/ADAPTIVE.md). Config reads and checks the keys against the planned sweep; the driver
// turns them into fit::AdaptiveOptions and runs the rounds.
#ifndef VLMSCALE_CONFIG_ADAPTIVE_H_
#define VLMSCALE_CONFIG_ADAPTIVE_H_

#include <cstdint>
#include <string>
#include <vector>

#include "config/config.h"
#include "core/status.h"

namespace vlmscale::config {

struct Sweep;

enum class AdaptiveTargetKind { kNone, kFrontier, kError };

// adaptive.* as planned. Defaults here are the schema's (src/config/schema.cc), which the
// reader always resolves.
struct AdaptiveSettings {
  // adaptive.target: none (a full sweep), frontier (T* at `budgets`) or error (Y at n, t).
  AdaptiveTargetKind target = AdaptiveTargetKind::kNone;
  // frontier: budgets by value (inference FLOPs 2 N (Q + T)); empty = `budget_points`
  // log-spaced over the grid's range. text_tokens: Q (adaptive.text_tokens, or the sweep's Q).
  std::vector<double> budgets;
  int budget_points = 3;
  double text_tokens = 0.0;
  // error: where the error is wanted.
  double n = 0.0, t = 0.0;
  double tolerance = 0.5;
  // adaptive.budget: "<x> flops" (the cost model's training FLOPs, summed) or "<k> jobs";
  // 0 = none.
  double budget_flops = 0.0;
  int64_t budget_jobs = 0;
  int initial_spread = 4;  // adaptive.initial = corners+N.
  int batch = 2;
  int64_t seed = 1;
  int bootstrap = 200;
  // The stage whose jobs are the candidates (an index into Sweep::stages): the final stage, the
  // one no other stage needs (the stage `vlmscale fit` reads); 0 in a one-stage study. Jobs of
  // the other stages run only as the ancestors of chosen candidates.
  int stage = 0;

  bool enabled() const { return target != AdaptiveTargetKind::kNone; }
};

// Reads [adaptive] for the planned `sweep` (config::PlanSweep calls it, so a bad section fails
// planning; the driver calls it again to run the sweep). kInvalidInput naming the key (file:line)
// when a value cannot be parsed or the sweep cannot be adaptive: several final stages, more than
// one method or task among the final stage's jobs, fewer than two LLM sizes or visual token
// counts, several Q without adaptive.text_tokens, an error target without n and t.
Result<AdaptiveSettings> ReadAdaptiveSettings(const Config& config, const Sweep& sweep);

}  // namespace vlmscale::config

#endif  // VLMSCALE_CONFIG_ADAPTIVE_H_
