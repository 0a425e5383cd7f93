#include "config/schema.h"

#include <algorithm>

#include "core/strings.h"

namespace vlmscale::config {

namespace {

using K = KeyType;
constexpr bool kReq = true;
constexpr bool kOpt = false;

std::vector<KeySpec> BuildSchema() {
  return {
      // [sweep]
      {"sweep", "name", K::kString, nullptr, kReq, {}, {},
       "Name of the sweep; a results file belongs to one sweep name."},
      {"sweep", "output", K::kString, "", kOpt, {}, {},
       "Results file (HDF5). Relative paths resolve against the directory the command runs in. "
       "Default: results/<name>.h5."},
      {"sweep", "description", K::kString, "", kOpt, {}, {}, "Free text, stored with results."},
      // [grid]
      {"grid", "llm", K::kStringList, nullptr, kReq, {}, {},
       "LLM size presets: built-in (nano, micro, mini, small, base) or [llm.NAME] sections."},
      {"grid", "visual_tokens", K::kIntList, nullptr, kReq, 1.0, {},
       "Visual token counts V after compression."},
      {"grid", "method", K::kStringList, "avgpool", kOpt, {}, {},
       "Compression methods: none, avgpool, tokenpacker, quecc, topk."},
      {"grid", "task", K::kStringList, "shapes", kOpt, {}, {}, "Tasks: shapes, glyphs."},
      {"grid", "seed", K::kIntList, "0", kOpt, 0.0, {}, "Seeds; each seed is a separate job."},
      {"grid", "exclude", K::kString, "", kOpt, {}, {},
       "Rules removing grid points, separated by ';'. A rule is comma-separated key=value "
       "conditions that must all hold, e.g. 'method=none,visual_tokens=1; llm=base,task=glyphs'."},
      // [llm.NAME]
      {"llm.*", "width", K::kInt, nullptr, kOpt, 1.0, {}, "Model dimension d."},
      {"llm.*", "depth", K::kInt, nullptr, kOpt, 1.0, {}, "Number of decoder blocks."},
      {"llm.*", "heads", K::kInt, nullptr, kOpt, 1.0, {}, "Attention heads (must divide width)."},
      {"llm.*", "mlp_ratio", K::kInt, "4", kOpt, 1.0, {}, "MLP hidden size / width."},
      {"llm.*", "n_params", K::kDouble, nullptr, kOpt, 1.0, {},
       "Non-embedding parameters N. Computed from width/depth/mlp_ratio when omitted; required "
       "for command jobs whose model is external (e.g. 0.5e9 for Qwen-1.5 0.5B)."},
      // [job]
      {"job", "type", K::kEnum, "finetune_eval", kOpt, {}, {"sleep", "finetune_eval", "command"},
       "Job type run for each grid point."},
      // [sleep]
      {"sleep", "mode", K::kEnum, "constant", kOpt, {}, {"constant", "cost"},
       "constant: every job sleeps `seconds`; cost: jobs sleep in proportion to their estimated "
       "cost, the largest job of the grid sleeping `seconds`."},
      {"sleep", "seconds", K::kDouble, "0", kOpt, 0.0, {}, "Sleep duration (see mode)."},
      {"sleep", "fail", K::kString, "", kOpt, {}, {},
       "Grid points that fail, as exclude-style rules (e.g. 'llm=nano,visual_tokens=4')."},
      {"sleep", "fail_probability", K::kDouble, "0", kOpt, 0.0, {},
       "Probability that an attempt fails, drawn from a hash of (fail_seed, job id, attempt)."},
      {"sleep", "fail_seed", K::kInt, "0", kOpt, 0.0, {}, "Seed of fail_probability draws."},
      {"sleep", "fail_attempts", K::kInt, "0", kOpt, 0.0, {},
       "If > 0, failing points fail only on attempts <= this (then succeed): retry tests."},
      {"sleep", "fail_class", K::kEnum, "error", kOpt, {}, {"error", "diverged", "oom"},
       "How failing points fail: error (returns an error), diverged (NaN metric), oom "
       "(throws std::bad_alloc)."},
      {"sleep", "hang", K::kString, "", kOpt, {}, {},
       "Grid points whose job stops reporting (sleeps ignoring stop requests for hang_seconds)."},
      {"sleep", "hang_seconds", K::kDouble, "3600", kOpt, 0.0, {}, "Duration of a hang."},
      // [model]
      {"model", "image_size", K::kInt, "48", kOpt, 8.0, {}, "Image side in pixels."},
      {"model", "grid_size", K::kInt, "8", kOpt, 1.0, {},
       "G: the vision encoder yields G x G patch features (24 gives the paper's 576 tokens)."},
      {"model", "vision_width", K::kInt, "64", kOpt, 1.0, {}, "Vision feature channels."},
      {"model", "encoder_depth", K::kInt, "2", kOpt, 1.0, {}, "Vision encoder blocks."},
      {"model", "encoder_pretrain_steps", K::kInt, "300", kOpt, 0.0, {},
       "Steps of the encoder's one-time pretraining (cached by settings)."},
      {"model", "cache_dir", K::kString, "", kOpt, {}, {},
       "Where the pretrained encoder is cached. Default: <directory of sweep.output>/cache."},
      // [train]
      {"train", "steps", K::kInt, "300", kOpt, 1.0, {}, "Optimizer steps."},
      {"train", "batch_size", K::kInt, "32", kOpt, 1.0, {},
       "Global batch size (split across the job's ranks)."},
      {"train", "lr", K::kDouble, "0.003", kOpt, 0.0, {}, "Peak learning rate (AdamW)."},
      {"train", "warmup_steps", K::kInt, "30", kOpt, 0.0, {}, "Linear warmup steps."},
      {"train", "weight_decay", K::kDouble, "0.01", kOpt, 0.0, {}, "AdamW weight decay."},
      {"train", "grad_clip", K::kDouble, "1.0", kOpt, 0.0, {},
       "Global gradient-norm clip (0 disables)."},
      {"train", "log_every", K::kInt, "10", kOpt, 1.0, {}, "Steps between training-curve points."},
      // [eval]
      {"eval", "examples", K::kInt, "512", kOpt, 1.0, {}, "Held-out evaluation examples."},
      {"eval", "batch_size", K::kInt, "128", kOpt, 1.0, {}, "Evaluation batch size."},
      // [command]
      {"command", "argv", K::kString, nullptr, kOpt, {}, {},
       "Program and arguments (space-separated, double quotes group), with {placeholders}. "
       "Required for command jobs."},
      {"command", "env", K::kString, "", kOpt, {}, {},
       "Extra environment, 'NAME=value' pairs separated by spaces (placeholders allowed)."},
      {"command", "metric", K::kString, "error", kOpt, {}, {},
       "Key of metrics.json holding the error Y (or 'accuracy': error = 1 - accuracy)."},
      {"command", "timeout_seconds", K::kDouble, "0", kOpt, 0.0, {},
       "Kill an attempt after this long (0: no limit)."},
      {"command", "text_tokens", K::kInt, "0", kOpt, 0.0, {},
       "Q used for inference FLOPs 2*N*(Q+V) of command jobs."},
      // [run]
      {"run", "ranks_per_job", K::kInt, "1", kOpt, 1.0, {},
       "Ranks per job (data-parallel); the world size must be a multiple."},
      {"run", "max_attempts", K::kInt, "2", kOpt, 1.0, {}, "Attempts per job before it fails."},
      {"run", "grace_seconds", K::kDouble, "30", kOpt, 0.0, {},
       "After a stop request, time jobs get to checkpoint and stop."},
      {"run", "stall_seconds", K::kDouble, "300", kOpt, 1.0, {},
       "A worker silent this long is reported as stalled."},
      {"run", "threads_per_rank", K::kInt, "0", kOpt, 0.0, {},
       "Torch threads per rank (0: cores on the node / ranks on the node)."},
      {"run", "feature_cache_mb", K::kInt, "1024", kOpt, 0.0, {},
       "Per-rank memory for frozen-encoder features reused by later finetune_eval jobs of the "
       "same task and seed (half precision; 0 disables). Does not change results."},
      {"run", "snapshot_seconds", K::kDouble, "2", kOpt, 0.0, {},
       "Interval between HDF5 snapshots (results are durable in the journal at once)."},
      {"run", "order", K::kEnum, "cost", kOpt, {}, {"cost", "grid"},
       "Dispatch order: cost (largest predicted job first, shortest makespan) or grid (the "
       "grid's order; a baseline for benchmarks)."},
      {"run", "commit_ms", K::kDouble, "2", kOpt, 0.0, {},
       "Group-commit window: results are made durable at most this long after arrival."},
      // [slurm]
      {"slurm", "partition", K::kString, "", kOpt, {}, {}, "sbatch --partition."},
      {"slurm", "account", K::kString, "", kOpt, {}, {}, "sbatch --account."},
      {"slurm", "qos", K::kString, "", kOpt, {}, {}, "sbatch --qos."},
      {"slurm", "time", K::kString, "01:00:00", kOpt, {}, {}, "sbatch --time (walltime)."},
      {"slurm", "nodes", K::kInt, "1", kOpt, 1.0, {}, "sbatch --nodes."},
      {"slurm", "ntasks_per_node", K::kInt, "1", kOpt, 1.0, {}, "Ranks per node."},
      {"slurm", "gpus_per_node", K::kInt, "0", kOpt, 0.0, {}, "GPUs per node (0: CPU nodes)."},
      {"slurm", "cpus_per_task", K::kInt, "1", kOpt, 1.0, {}, "CPU cores per rank."},
      {"slurm", "max_requeues", K::kInt, "10", kOpt, 0.0, {},
       "Times the batch job requeues itself after preemption or walltime."},
  };
}

}  // namespace

const std::vector<KeySpec>& Schema() {
  static const std::vector<KeySpec> schema = BuildSchema();
  return schema;
}

std::vector<std::string> SchemaSections() {
  std::vector<std::string> out;
  for (const auto& k : Schema()) {
    if (std::find(out.begin(), out.end(), k.section) == out.end()) out.push_back(k.section);
  }
  return out;
}

const KeySpec* FindKeySpec(const std::string& full_key) {
  size_t dot = full_key.rfind('.');
  if (dot == std::string::npos) return nullptr;
  std::string section = full_key.substr(0, dot);
  std::string key = full_key.substr(dot + 1);
  if (StartsWith(section, "llm.") && section.size() > 4) section = "llm.*";
  for (const auto& k : Schema()) {
    if (section == k.section && key == k.key) return &k;
  }
  return nullptr;
}

std::vector<std::string> SectionKeys(const std::string& section) {
  std::string s = StartsWith(section, "llm.") ? "llm.*" : section;
  std::vector<std::string> out;
  for (const auto& k : Schema()) {
    if (s == k.section) out.push_back(k.key);
  }
  return out;
}

}  // namespace vlmscale::config
