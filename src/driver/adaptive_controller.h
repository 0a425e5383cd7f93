// The adaptive sweep's rounds (issue 20, docs/ADAPTIVE.md): which of the grid's jobs run, chosen
// by the design rule of fit/adaptive_design.h from the results so far.
//
// Protocol, on rank 0 (the coordinator holds the controller and its Scheduler):
//   1. The candidates are the jobs of the final stage (AdaptiveSettings::stage; every job in a
//      one-stage study). At start every job is withheld (Scheduler::Withhold) except the released
//      ones: the initial design (InitialDesign: four corners plus spread points), every candidate
//      chosen by a round journaled in the results file's run info ("adaptive.rounds", written by
//      an earlier run of the same sweep), and every ancestor of a released candidate (e.g. the
//      pretrain_llm job of its LLM size), which runs once however many candidates need it.
//   2. When every released job has settled (done or finally failed; nothing running), the
//      coordinator calls Decide(): NextRound on the done candidates' (N, T, error) with the
//      finally failed ones as spent (never chosen again). A candidate's cost is its own estimate
//      plus that of its ancestors not released yet (what running it would add); a released
//      ancestor's cost is charged to the first released candidate that needs it, so the spend
//      is what the released jobs of every stage cost. The round is appended to the journal (the
//      run info, committed before any chosen job is dispatched) and the chosen candidates and
//      their ancestors are released.
//   3. A round that stops (tolerance, budget or exhausted) ends the sweep: the jobs still
//      withheld stay unrun, the run exits 0. A finally failed ancestor (its candidates can never
//      run) ends it with an error instead.
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

  // Whether job `index` may run now (initial design or chosen by a round, or an ancestor of
  // such a candidate).
  bool released(int64_t index) const { return released_[index]; }
  // Whether a round has stopped the sweep in this run.
  bool stopped() const { return stopped_; }
  int rounds() const { return static_cast<int>(rounds_.size()); }

  // Step 2: the decision from the store's records with `failed` (job indices finally
  // failed in this run). Appends the round to the journal (Json()) and marks the chosen
  // candidates and their ancestors released; returns the jobs newly released, ascending (so
  // ancestors come first; empty when it stopped). A failed fit, or a finally failed job that
  // is not a candidate, is kRuntime (logged by the caller, who then stops the sweep).
  Result<std::vector<int64_t>> Decide(const store::ResultsStore& store,
                                      const std::vector<int64_t>& failed, std::string* message);

  // The run info's "adaptive" object: settings, initial design, every round (results used,
  // chosen, width, spend, fit), the released ancestors, stop reason (docs/ADAPTIVE.md,
  // "Journal").
  nlohmann::json Json(int64_t withheld) const;

 private:
  AdaptiveController(const config::Sweep& sweep, const config::AdaptiveSettings& settings);

  // The candidates' costs for this round (see the protocol, step 2).
  std::vector<fit::DesignCandidate> Costed() const;
  // Marks candidate `c` and its ancestors released; appends the jobs newly released.
  void ReleaseCandidate(size_t c, std::vector<int64_t>* newly);

  const config::Sweep& sweep_;
  const config::AdaptiveSettings settings_;
  fit::AdaptiveOptions options_;
  std::vector<fit::DesignCandidate> candidates_;  // Own cost only.
  std::vector<int64_t> job_of_;                   // Candidate -> job index.
  std::vector<int64_t> candidate_of_;             // Job index -> candidate, or -1.
  std::vector<std::vector<int64_t>> ancestors_;   // Per candidate: job indices, ascending.
  std::vector<bool> released_;                    // Per job.
  std::vector<int64_t> initial_;                  // Job indices of the initial design.
  nlohmann::json rounds_ = nlohmann::json::array();
  bool stopped_ = false;
  std::string stop_reason_, stop_message_;
};

}  // namespace vlmscale::driver

#endif  // VLMSCALE_DRIVER_ADAPTIVE_CONTROLLER_H_
