// The adaptive sweep's rounds (issue 20, docs/ADAPTIVE.md): which of the grid's jobs run, chosen
// by the design rule of fit/adaptive_design.h from the results so far.
//
// Protocol, on rank 0 (the coordinator holds the controller and its Scheduler):
//   1. At start every runnable job is withheld (Scheduler::Withhold) except the released ones:
//      the initial design (InitialDesign: four corners plus spread points) and every job chosen
//      by a round journaled in the results file's run info ("adaptive.rounds", written by an
//      earlier run of the same sweep).
//   2. When every released job has settled (done or finally failed; nothing running), the
//      coordinator calls Decide(): NextRound on the done jobs' (N, T, error) with the finally
//      failed ones as spent (never chosen again). The round is appended to the journal (the run
//      info, committed before any chosen job is dispatched) and its chosen jobs are released.
//   3. A round that stops (tolerance, budget or exhausted) ends the sweep: the jobs still
//      withheld stay unrun, the run exits 0.
// Rounds are synchronous, so a decision depends only on the results, never on their timing;
// NextRound is pure, so a resumed run that re-decides a round lost before its commit chooses the
// same jobs, and the journaled rounds are replayed as released jobs.
#ifndef VLMSCALE_DRIVER_ADAPTIVE_CONTROLLER_H_
#define VLMSCALE_DRIVER_ADAPTIVE_CONTROLLER_H_

#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "config/adaptive.h"
#include "config/sweep.h"
#include "core/status.h"
#include "fit/adaptive_design.h"
#include "store/results_store.h"

namespace vlmscale::driver {

// The engine's options for the sweep's [adaptive] settings. REQUIRES: settings.enabled().
fit::AdaptiveOptions AdaptiveOptionsFor(const config::AdaptiveSettings& settings);

class AdaptiveController {
 public:
  // `previous_run_info`: the results file's run info before this run ("" or JSON; its
  // "adaptive" object holds the journaled rounds). kInvalidInput (exit 2) when the initial design
  // cannot be made (e.g. it exceeds adaptive.budget), naming both costs.
  // REQUIRES: settings.enabled() (config::ReadAdaptiveSettings for `sweep`); `sweep` outlives
  // the controller.
  static Result<std::unique_ptr<AdaptiveController>> Create(
      const config::Sweep& sweep, const config::AdaptiveSettings& settings,
      const std::string& previous_run_info);

  // Whether job `index` may run now (initial design or chosen by a round).
  bool released(int64_t index) const { return released_[index]; }
  // Whether a round has stopped the sweep in this run.
  bool stopped() const { return stopped_; }
  int rounds() const { return static_cast<int>(rounds_.size()); }

  // Step 2: the decision from the store's records with `failed` (job indices finally
  // failed in this run). Appends the round to the journal (Json()) and marks the chosen jobs
  // released; returns them (empty when it stopped). A failed fit is kRuntime (logged by the
  // caller, who then stops the sweep).
  Result<std::vector<int64_t>> Decide(const store::ResultsStore& store,
                                      const std::vector<int64_t>& failed, std::string* message);

  // The run info's "adaptive" object: settings, initial design, every round (results used,
  // chosen, width, spend, fit), stop reason (docs/ADAPTIVE.md, "Journal").
  nlohmann::json Json(int64_t withheld) const;

 private:
  AdaptiveController(const config::Sweep& sweep, const config::AdaptiveSettings& settings);

  const config::Sweep& sweep_;
  const config::AdaptiveSettings settings_;
  fit::AdaptiveOptions options_;
  std::vector<fit::DesignCandidate> candidates_;  // One per job, same index.
  std::vector<bool> released_;
  std::vector<int64_t> initial_;
  nlohmann::json rounds_ = nlohmann::json::array();
  bool stopped_ = false;
  std::string stop_reason_, stop_message_;
};

}  // namespace vlmscale::driver

#endif  // VLMSCALE_DRIVER_ADAPTIVE_CONTROLLER_H_
