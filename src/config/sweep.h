// Sweep planning: expands a validated Config into its grid of jobs, each with a stable id and a
// cost estimate. `vlmscale plan` prints this; the driver runs it.
#ifndef VLMSCALE_CONFIG_SWEEP_H_
#define VLMSCALE_CONFIG_SWEEP_H_

#include <cstdint>
#include <string>
#include <vector>

#include "config/config.h"
#include "core/status.h"

namespace vlmscale::config {

// An LLM size preset: built in (config/presets.cc) or [llm.NAME] in the config.
struct LlmPreset {
  std::string name;
  int64_t width = 0;      // Model dimension d.
  int64_t depth = 0;      // Decoder blocks.
  int64_t heads = 0;
  int64_t mlp_ratio = 4;  // MLP hidden = mlp_ratio * d.
  double n_params = 0.0;  // Non-embedding parameters (LlmNonEmbeddingParams, or given).
  bool builtin = false;
};

// Non-embedding parameters of the decoder the vlm component builds (pre-LN blocks with biases:
// attention qkv + out, 2-layer MLP, two LayerNorms per block, one final LayerNorm). Token and
// position embeddings and the answer head are excluded (Kaplan et al. 2020 convention).
double LlmNonEmbeddingParams(int64_t width, int64_t depth, int64_t mlp_ratio);

const std::vector<LlmPreset>& BuiltinLlmPresets();

// Known compression methods and tasks.
const std::vector<std::string>& KnownMethods();  // none, avgpool, tokenpacker, quecc, topk
const std::vector<std::string>& KnownTasks();    // shapes, glyphs
const std::vector<std::string>& KnownJobTypes(); // sleep, finetune_eval, command
// Question length Q in tokens of a built-in task (used in 2*N*(Q+V)).
int64_t TaskQuestionTokens(const std::string& task);

// Checks that `method` can produce `visual_tokens` from a grid_size x grid_size feature grid.
// Returns "" if it can, or what is expected otherwise.
std::string CheckMethodTokens(const std::string& method, int64_t visual_tokens, int64_t grid_size);

struct GridPoint {
  std::string llm;
  double n_params = 0.0;
  int64_t visual_tokens = 0;
  std::string method;
  std::string task;
  int64_t seed = 0;
};

struct JobSpec {
  int64_t index = 0;       // Position in grid order.
  std::string id;          // 16 hex digits: HexId(IdentityText()).
  GridPoint point;
  double est_cost = 0.0;          // Estimated training FLOPs (relative cost for scheduling).
  double inference_flops = 0.0;   // LLM inference FLOPs per sample: 2*N*(Q+V).
  int64_t text_tokens = 0;        // Q.
};

struct Sweep {
  std::string name;
  std::string output;     // Results file, absolute.
  std::string job_type;
  std::vector<JobSpec> jobs;
  std::vector<LlmPreset> llms;  // Presets used by the grid, in grid order.
  double max_est_cost = 0.0;    // Largest JobSpec::est_cost.
};

// True if `p` matches any rule of the rule-list key `key` (grid.exclude syntax:
// "k=v,k=v; k=v"). kInvalidInput if the rules are malformed.
Result<bool> PointMatchesRules(const Config& config, const std::string& key, const GridPoint& p);

// Validates the grid and expands it. kInvalidInput on any problem (naming the key).
Result<Sweep> PlanSweep(const Config& config);

// The preset named `name` (user-defined first, then built-in).
Result<LlmPreset> FindLlmPreset(const Config& config, const std::string& name);

// The text a job's id hashes: the grid point plus every setting that affects its result (the
// job type, its section, [model], [train], [eval] for finetune_eval, and the LLM preset).
std::string JobIdentityText(const Config& config, const GridPoint& point, const LlmPreset& llm);

}  // namespace vlmscale::config

#endif  // VLMSCALE_CONFIG_SWEEP_H_
