// Sweep planning: expands a validated Config into its grid of jobs, each with a stable id and a
// cost estimate. config knows the grid ([grid], [llm.NAME], exclusions, ids); what a job type adds
// (its validation, identity, cost, question length) comes through the JobTypePlanner interface,
// and what the other components know (compressor and task names, LLM parameter counts, built-in
// presets) through GridFacts. jobs::PlanSweep() supplies both; `vlmscale plan` prints the result
// and the driver runs it.
#ifndef VLMSCALE_CONFIG_SWEEP_H_
#define VLMSCALE_CONFIG_SWEEP_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "config/config.h"
#include "core/status.h"

namespace vlmscale::config {

// An LLM size preset: built in (GridFacts::builtin_llms) or [llm.NAME] in the config.
struct LlmPreset {
  std::string name;
  int64_t width = 0;  // Model dimension d.
  int64_t depth = 0;  // Decoder blocks.
  int64_t heads = 0;
  int64_t mlp_ratio = 4;  // MLP hidden = mlp_ratio * d.
  double n_params = 0.0;  // Non-embedding parameters (GridFacts::n_params, or given).
  bool builtin = false;
};

// The grid's axes, in grid (and identity) order.
const std::vector<std::string>& GridAxes();  // llm, visual_tokens, method, task, seed

// One job's coordinates. In a multi-stage study a stage varies only its `over` axes: the others
// are empty (0 for numbers) and mean "not varied". `axes` holds the stage's own axes (e.g.
// benchmark=gqa), in the stage's declared order.
struct GridPoint {
  std::string llm;
  double n_params = 0.0;
  int64_t visual_tokens = 0;
  std::string method;
  std::string task;
  int64_t seed = 0;
  std::vector<std::pair<std::string, std::string>> axes;
  // Values of the swept settings ([grid] SECTION.KEY, [llm.NAME] lr) that the job's stage sees
  // (StageSpec::swept), in Sweep::swept_keys order, e.g. {"train.lr", "0.001"}.
  std::vector<std::pair<std::string, std::string>> settings;
};

// The value of grid axis, own axis or swept setting `axis` in `p` as text ("" if the point has
// no such axis).
std::string AxisValue(const GridPoint& p, const std::string& axis);

// What the other components know that the grid needs.
struct GridFacts {
  std::vector<std::string> methods;     // Valid grid.method values.
  std::vector<std::string> tasks;       // Valid grid.task values.
  std::vector<LlmPreset> builtin_llms;  // With n_params filled.
  // N of a user preset given by its shape (width, depth, mlp_ratio).
  std::function<double(int64_t, int64_t, int64_t)> n_params;
};

// What a job type adds to planning. Implemented by each job type (jobs/job_type.h) from its typed
// options; every method sees the settings the type read from the config.
class JobTypePlanner {
 public:
  virtual ~JobTypePlanner() = default;
  // The grid axes a stage of this type must vary (its jobs read them). Default: all of them.
  virtual std::vector<std::string> RequiredAxes() const { return GridAxes(); }
  // Checks a user [llm.NAME] preset used by the grid (e.g. finetune_eval builds the model from
  // width, depth and heads). kInvalidInput naming the key on a problem.
  virtual Status CheckPreset(const Config& config, const LlmPreset& preset) const = 0;
  // Runs every check the job would run when it starts, for one grid point: a sweep on which a job
  // would fail its own checks is rejected before anything starts. kInvalidInput naming the key.
  virtual Status CheckPoint(const GridPoint& point, const LlmPreset& llm) const = 0;
  // The settings' part of every job id: each setting that affects results, as "key=value\n"
  // lines in a fixed order.
  virtual std::string IdentityText() const = 0;
  // Q, the question tokens of the point's task, for 2*N*(Q+V).
  virtual int64_t TextTokens(const GridPoint& point) const = 0;
  // V, the visual tokens the job's model reads, for 2*N*(Q+V). Default: the point's (0 in a stage
  // that does not vary visual_tokens); a type that reads its own V (pretrain_llm) returns that.
  virtual int64_t VisualTokens(const GridPoint& point) const { return point.visual_tokens; }
  // Estimated training cost of the point in FLOPs (relative cost for scheduling).
  virtual double EstimateCost(const GridPoint& point, int64_t text_tokens) const = 0;
};

// A stage of a study: one job type over some of the grid's axes, after the stages it needs
// (docs/STAGES.md). A config without [stage.NAME] sections is one stage named "" over every axis.
struct StageSpec {
  std::string name;      // "" for the implicit stage of a one-stage study.
  std::string job_type;  // [stage.NAME] type, or job.type.
  std::vector<std::string> over;  // Grid axes varied, in GridAxes() order.
  // Own axes (axis.NAME = values), in declared order.
  std::vector<std::pair<std::string, std::vector<std::string>>> axes;
  std::vector<std::string> needs;  // Names of the stages this one needs, as listed.
  // The stage's typed settings (read from the config with its [stage.NAME] overrides applied);
  // they also make its jobs (jobs::CreateJob).
  std::shared_ptr<const JobTypePlanner> planner;
  // With swept settings: the stage's settings at each distinct combination of swept values that
  // changes them (JobSpec::variant), and the swept keys that change them or its parents'.
  std::vector<std::shared_ptr<const JobTypePlanner>> variants;
  std::vector<std::string> swept;
  int64_t first_job = 0, job_count = 0;  // Its jobs: Sweep::jobs[first_job, first_job + count).

  bool Varies(const std::string& grid_axis) const;
};

struct JobSpec {
  int64_t index = 0;  // Position in Sweep::jobs (stages in dependency order, grid order within).
  std::string id;     // 16 hex digits: HexId(JobIdentityText()).
  GridPoint point;
  LlmPreset llm;                 // The point's LLM preset (shape and N).
  double est_cost = 0.0;         // Estimated training FLOPs (relative cost for scheduling).
  double inference_flops = 0.0;  // LLM inference FLOPs per sample: 2*N*(Q+V).
  int64_t text_tokens = 0;       // Q.
  int stage = 0;                 // Index into Sweep::stages.
  int variant = -1;              // Index into its stage's `variants`; -1: the stage's `planner`.
  // Jobs this one needs (indices into Sweep::jobs, all smaller than `index`), in the order of
  // the stage's `needs`, then grid order.
  std::vector<int64_t> parents;
  // Ranks the job runs on (the value of JobRanksKey()). Not part of its identity: changing it
  // keeps the job's id and result.
  int ranks = 1;
};

struct Sweep {
  std::string name;
  std::string output;  // Results file, absolute.
  // Where jobs' directories live (<artifact_dir>/<job id>), absolute: run.artifact_dir, default
  // the results file's path without .h5, plus ".runs".
  std::string artifact_dir;
  std::vector<StageSpec> stages;  // Dependency order: a stage comes after those it needs.
  std::vector<JobSpec> jobs;      // Stage by stage; a job's parents come before it.
  std::vector<LlmPreset> llms;    // Presets used by the grid, in grid order.
  double max_est_cost = 0.0;      // Largest JobSpec::est_cost.
  int max_ranks = 1;              // Largest JobSpec::ranks.
  // Setting keys ([grid] SECTION.KEY = values) the grid varies besides its built-in axes, in
  // declared order; their values differ between jobs by design (store::JobRecord::swept).
  std::vector<std::string> swept_keys;

  bool multi_stage() const { return stages.size() > 1 || !stages.front().name.empty(); }
  const StageSpec& stage_of(const JobSpec& job) const { return stages[job.stage]; }
  // The settings the job runs with (its stage's, at its swept values).
  const JobTypePlanner& planner_of(const JobSpec& job) const {
    const StageSpec& s = stages[job.stage];
    return job.variant >= 0 ? *s.variants[job.variant] : *s.planner;
  }
};

// Rules selecting grid points, in grid.exclude's syntax: "k=v,k=v; k=v" (a point matches when
// all conditions of any rule hold).
class GridRules {
 public:
  // Parses the value of the rule-list key `key`. kInvalidInput naming the key if malformed.
  static Result<GridRules> Parse(const Config& config, const std::string& key);
  bool Matches(const GridPoint& p) const;
  bool empty() const { return rules_.empty(); }

 private:
  std::vector<std::vector<std::pair<std::string, std::string>>> rules_;
};

// The sweep-level settings planning needs ([sweep], [job], run.ranks_per_job).
struct SweepSettings {
  std::string name;
  std::string output;  // Results file, absolute.
  std::string job_type;  // job.type: the type of a one-stage study.
  int64_t ranks_per_job = 1;  // The default ranks of a job (JobRanksKey()).
  std::string artifact_dir;  // Absolute (see Sweep::artifact_dir).
};
SweepSettings ReadSweepSettings(const Config& config);

// Reads a stage's job type settings from `stage_config` (the config as the stage sees it: its
// [stage.NAME] overrides applied). Never returns null on success.
using PlannerFactory = std::function<Result<std::shared_ptr<const JobTypePlanner>>(
    const Config& stage_config, const StageSpec& stage)>;

// The names of the [stage.NAME] sections of `config`, their types, axes and needs, in
// dependency order (planners not yet made). kInvalidInput naming the key for a bad graph:
// unknown stage or axis, a cycle, a child not varying its parents' axes. Empty for a one-stage
// config.
Result<std::vector<StageSpec>> ReadStages(const Config& config);

// Validates the grid and the stages and expands them into jobs. kInvalidInput on any problem
// (naming the key).
Result<Sweep> PlanSweep(const Config& config, const GridFacts& facts,
                        const PlannerFactory& make_planner);

// The key that sets the ranks of a job of `stage` whose LLM preset is `llm` ("" when the stage
// does not vary llm): stage.NAME.ranks when set, else llm.LLM.ranks when set, else
// run.ranks_per_job (built-in presets set no ranks of their own). REQUIRES: `config` passed
// schema validation.
std::string JobRanksKey(const Config& config, const StageSpec& stage, const std::string& llm);

// The preset named `name` (user-defined first, then built-in).
Result<LlmPreset> FindLlmPreset(const Config& config, const GridFacts& facts,
                                const std::string& name);

// The text a job's id hashes: the grid point, the LLM preset, the job type and
// `settings_text` (JobTypePlanner::IdentityText()). Its format is pinned by tests.
std::string JobIdentityText(const GridPoint& point, const LlmPreset& llm,
                            const std::string& job_type, const std::string& settings_text);
// The same for a job of a multi-stage study: the stage's name, the axes it varies, its own axes,
// its type and settings, and the ids of the jobs it needs (so a change upstream changes every id
// downstream).
std::string StageJobIdentityText(const StageSpec& stage, const GridPoint& point,
                                 const LlmPreset& llm, const std::string& settings_text,
                                 const std::vector<std::string>& parent_ids);

// The setting keys swept as grid axes: [grid] SECTION.KEY keys in key order, then train.lr when
// an [llm.NAME] preset sets lr (and [grid] does not sweep it).
std::vector<std::string> SweptSettingKeys(const Config& config);

// The settings of `job` as the results store keeps them (store::JobRecord::settings):
// "job.type=TYPE\n" and its stage's JobTypePlanner::IdentityText(), "key=value" lines.
std::string JobSettingsText(const Sweep& sweep, const JobSpec& job);

// "ORIGIN: key 'KEY': MESSAGE" (ORIGIN is file:line, "--set KEY" or "default").
Status KeyError(const Config& config, const std::string& key, const std::string& message);

}  // namespace vlmscale::config

#endif  // VLMSCALE_CONFIG_SWEEP_H_
