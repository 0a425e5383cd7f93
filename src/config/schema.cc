#include "config/schema.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <set>

#include "core/check.h"
#include "core/strings.h"

namespace vlmscale::config {

namespace {

using K = KeyType;

KeySpec Key(const char* section, const char* key, KeyType type, std::optional<std::string> def,
            std::optional<double> min, std::string doc) {
  KeySpec k;
  k.section = section;
  k.key = key;
  k.type = type;
  k.default_value = std::move(def);
  k.min = min;
  k.doc = std::move(doc);
  k.owner = "sweep";
  return k;
}

// Upper bound of a number key (its lower bound is Key()'s `min`).
KeySpec Max(KeySpec k, double max) {
  k.max = max;
  return k;
}

KeySpec Required(KeySpec k) {
  k.required = true;
  return k;
}

KeySpec Choices(KeySpec k, std::vector<std::string> choices) {
  k.choices = std::move(choices);
  return k;
}

KeySpec Owner(KeySpec k, const char* owner) {
  k.owner = owner;
  return k;
}

constexpr std::nullopt_t kNone = std::nullopt;

std::string Escape(const std::string& s) {  // For a markdown table cell.
  std::string out;
  for (char c : s) out += c == '|' ? std::string("\\|") : std::string(1, c);
  return out;
}

}  // namespace

Schema::Schema(std::vector<KeySpec> keys) : keys_(std::move(keys)) {
  std::set<std::string> seen;
  for (const auto& k : keys_)
    CHECK(seen.insert(k.FullKey()).second) << "declared twice: " << k.FullKey();
}

bool Schema::StageMayOverride(const std::string& section) const {
  static const std::set<std::string> own = {"sweep", "grid",  "llm.*",   "job",
                                            "run",   "slurm", "stage.*", "adaptive"};
  if (own.count(section)) return false;
  for (const auto& k : keys_) {
    if (k.section == section) return true;
  }
  return false;
}

const KeySpec* Schema::Find(const std::string& full_key) const {
  size_t dot = full_key.rfind('.');
  if (dot == std::string::npos) return nullptr;
  std::string section = full_key.substr(0, dot);
  std::string key = full_key.substr(dot + 1);
  if (StartsWith(section, "grid.") && section.size() > 5) {
    // [grid] SECTION.KEY: a setting swept as a grid axis (a list of that key's values).
    const std::string inner = section.substr(5);
    if (!StageMayOverride(inner) || Find(inner + "." + key) == nullptr) return nullptr;
    for (const auto& k : keys_) {
      if (k.section == "grid" && k.key == "SECTION.KEY") return &k;
    }
    return nullptr;
  }
  if (StartsWith(section, "llm.") && section.size() > 4) section = "llm.*";
  if (StartsWith(section, "stage.") && section.size() > 6) {
    size_t name_end = section.find('.', 6);
    if (name_end == std::string::npos) {
      section = "stage.*";
    } else {
      std::string inner = section.substr(name_end + 1);
      if (inner == "axis") {
        section = "stage.*";
        key = "axis.*";
      } else {
        if (!StageMayOverride(inner)) return nullptr;
        return Find(inner + "." + key);
      }
    }
  }
  for (const auto& k : keys_) {
    if (section == k.section && key == k.key) return &k;
  }
  return nullptr;
}

std::vector<std::string> Schema::Sections() const {
  std::vector<std::string> out;
  for (const auto& k : keys_) {
    if (std::find(out.begin(), out.end(), k.section) == out.end()) out.push_back(k.section);
  }
  return out;
}

std::vector<std::string> Schema::SectionKeys(const std::string& section) const {
  std::string s = StartsWith(section, "llm.") ? "llm.*" : section;
  if (StartsWith(section, "grid.")) s = section.substr(5);  // [grid] SECTION.KEY: SECTION's keys.
  if (StartsWith(section, "stage.")) {
    size_t name_end = section.find('.', 6);
    s = name_end == std::string::npos ? "stage.*" : section.substr(name_end + 1);
  }
  std::vector<std::string> out;
  for (const auto& k : keys_) {
    if (s == k.section) out.push_back(k.key);
  }
  return out;
}

std::string Schema::Markdown() const {
  std::string out;
  for (const auto& section : Sections()) {
    out += "## [" + (section == "llm.*"     ? std::string("llm.NAME")
                     : section == "stage.*" ? std::string("stage.NAME")
                                            : section) +
           "]\n\n";
    out += "| key | type | default | declared by | meaning |\n|---|---|---|---|---|\n";
    for (const auto& k : keys_) {
      if (k.section != section) continue;
      std::string type;
      switch (k.type) {
        case K::kString:
          type = "string";
          break;
        case K::kInt:
          type = "integer";
          break;
        case K::kDouble:
          type = "number";
          break;
        case K::kBool:
          type = "true or false";
          break;
        case K::kEnum:
          type = "one of " + Join(k.choices, ", ");
          break;
        case K::kIntList:
          type = "integer list";
          break;
        case K::kStringList:
          type = "name list";
          break;
      }
      if (k.min && k.max) {
        type += " (in [" + ShortestNumber(*k.min) + ", " + ShortestNumber(*k.max) + "])";
      } else if (k.min) {
        type += " (>= " + ShortestNumber(*k.min) + ")";
      }
      std::string def = k.required                 ? "required"
                        : !k.default_value         ? "none"
                        : k.default_value->empty() ? "\"\""
                                                   : "`" + *k.default_value + "`";
      out += "| `" + k.key + "` | " + type + " | " + def + " | " + k.owner + " | " + Escape(k.doc) +
             " |\n";
    }
    out += "\n";
  }
  return out;
}

std::vector<KeySpec> SweepKeys(const SweepVocabulary& v) {
  return {
      // [sweep]
      Required(Key("sweep", "name", K::kString, kNone, kNone,
                   "Name of the sweep; a results file belongs to one sweep name. A file name: "
                   "printable UTF-8 text without '/' (the default output is results/<name>.h5).")),
      Key("sweep", "output", K::kString, "", kNone,
          "Results file (HDF5). Relative paths resolve against the directory the command runs "
          "in. Default: results/<name>.h5."),
      Key("sweep", "description", K::kString, "", kNone, "Free text, stored with results."),
      // [grid]
      Required(Key("grid", "llm", K::kStringList, kNone, kNone,
                   "LLM size presets: built-in (" + Join(v.llm_presets, ", ") +
                       ") or [llm.NAME] sections.")),
      Required(Max(Key("grid", "visual_tokens", K::kIntList, kNone, 1.0,
                       "Visual token counts V after compression."),
                   kMaxVisualTokens)),
      Key("grid", "method", K::kStringList, v.default_method, kNone,
          "Compression methods: " + Join(v.methods, ", ") + "."),
      Key("grid", "task", K::kStringList, v.default_task, kNone,
          "Tasks: " + Join(v.tasks, ", ") + "."),
      Max(Key("grid", "seed", K::kIntList, "0", 0.0, "Seeds; each seed is a separate job."),
          kMaxSeed),
      Key("grid", "exclude", K::kString, "", kNone,
          "Rules removing grid points, separated by ';'. A rule is comma-separated key=value "
          "conditions that must all hold, e.g. 'method=none,visual_tokens=1; "
          "llm=base,task=glyphs'."),
      Key("grid", "SECTION.KEY", K::kStringList, kNone, kNone,
          "Any key of a job type's sections as one more grid axis, e.g. `train.lr = 5e-4, 1e-3` "
          "or `train.steps = 300, 600`: one set of jobs per value, each value checked as that "
          "key's value when the config is loaded; exclusions and `--set grid.SECTION.KEY=...` "
          "work as for the built-in axes (docs/CONFIG.md, \"Sweeping any setting\")."),
      // [llm.NAME]
      Key("llm.*", "lr", K::kStringList, kNone, kNone,
          "`train.lr` for this preset's jobs; several values sweep them for this size only (the "
          "learning rate per size of a scaling study; a built-in preset keeps its shape)."),
      Max(Key("llm.*", "ranks", K::kInt, kNone, 1.0,
              "Ranks (data-parallel width) of this preset's jobs, unless their stage sets "
              "ranks; unset: run.ranks_per_job. Built-in presets set none (docs/CONFIG.md, "
              "\"Ranks per job\")."),
          1 << 20),
      Max(Key("llm.*", "width", K::kInt, kNone, 1.0, "Model dimension d."), 1 << 20),
      Max(Key("llm.*", "depth", K::kInt, kNone, 1.0, "Number of decoder blocks."), 1 << 16),
      Max(Key("llm.*", "heads", K::kInt, kNone, 1.0, "Attention heads (must divide width)."),
          1 << 20),
      Max(Key("llm.*", "mlp_ratio", K::kInt, "4", 1.0, "MLP hidden size / width."), 1024),
      Max(Key("llm.*", "n_params", K::kDouble, kNone, 1.0,
              "Non-embedding parameters N. Computed from width/depth/mlp_ratio when omitted; "
              "required for command jobs whose model is external (e.g. 0.5e9 for Qwen-1.5 0.5B)."),
          1e15),
      // [job]
      Choices(Key("job", "type", K::kEnum, v.default_job_type, kNone,
                  "Job type run for each grid point."),
              v.job_types),
      // [stage.NAME]
      Choices(Key("stage.*", "type", K::kEnum, kNone, kNone,
                  "Job type of the stage's jobs (required in every [stage.NAME]). The stage may "
                  "also set any key of its type's sections as SECTION.KEY (e.g. command.run, "
                  "train.steps), for this stage only (docs/STAGES.md)."),
              v.job_types),
      Key("stage.*", "over", K::kStringList, "llm, visual_tokens, method, task, seed", kNone,
          "Grid axes the stage varies: one job per distinct combination of them."),
      Key("stage.*", "needs", K::kString, "", kNone,
          "Comma-separated stages whose jobs this stage's jobs need: each job waits for the job of "
          "each needed "
          "stage that has its values on that stage's axes, and gets its run directory."),
      Max(Key("stage.*", "ranks", K::kInt, kNone, 1.0,
              "Ranks of this stage's jobs (e.g. 1 for evaluation), before the LLM preset's "
              "ranks and run.ranks_per_job."),
          1 << 20),
      Key("stage.*", "axis.*", K::kStringList, kNone, kNone,
          "axis.NAME = values: an axis of this stage only (e.g. axis.benchmark = gqa, textvqa), "
          "the placeholder {NAME} of command jobs."),
      // [run]
      Owner(Max(Key("run", "ranks_per_job", K::kInt, "1", 1.0,
                    "Ranks per job (data-parallel) unless [stage.NAME] or [llm.NAME] sets "
                    "ranks. The coordinator picks each job's ranks among the idle ones when it "
                    "starts (EASY backfill); a job needing more ranks than the run has is "
                    "refused at start (exit 2)."),
                1 << 20),
            "driver"),
      Owner(Key("run", "node_local_groups", K::kBool, "false", kNone,
                "Every job's ranks on one node (one shared-memory domain): a job needing more "
                "ranks than a node has is refused at start (exit 2)."),
            "driver"),
      Owner(Max(Key("run", "max_attempts", K::kInt, "2", 1.0, "Attempts per job before it fails."),
                1000),
            "driver"),
      Owner(Max(Key("run", "grace_seconds", K::kDouble, "30", 0.0,
                    "After a stop request, time jobs get to checkpoint and stop."),
                kMaxSeconds),
            "driver"),
      Owner(Max(Key("run", "stall_seconds", K::kDouble, "300", 1.0,
                    "A worker silent this long is reported as stalled."),
                kMaxSeconds),
            "driver"),
      Owner(Max(Key("run", "threads_per_rank", K::kInt, "0", 0.0,
                    "Torch threads per rank (0: cores on the node / ranks on the node)."),
                4096),
            "driver"),
      Owner(Max(Key("run", "snapshot_seconds", K::kDouble, "2", 0.0,
                    "Interval between HDF5 snapshots (results are durable in the journal at "
                    "once)."),
                kMaxSeconds),
            "driver"),
      Owner(Choices(Key("run", "order", K::kEnum, "cost", kNone,
                        "Dispatch order: cost (the job with the longest predicted remaining path "
                        "first: its duration plus its heaviest chain of descendants; shortest "
                        "makespan), grid (the grid's order) or stages (stage by stage, a barrier "
                        "between stages); the last two are baselines for benchmarks."),
                    {"cost", "grid", "stages"}),
            "driver"),
      Owner(Key("run", "artifact_dir", K::kString, "", kNone,
                "Directory of every job's run directory (<artifact_dir>/<job id>): logs, "
                "checkpoints, the artifacts later stages read. On a cluster it must be on a "
                "filesystem every node shares. Default: the results file without .h5, plus "
                "\".runs\"."),
            "driver"),
      Owner(Max(Key("run", "commit_ms", K::kDouble, "2", 0.0,
                    "Group-commit window: results are made durable at most this long after "
                    "arrival."),
                60000),
            "driver"),
      // [adaptive]
      Owner(Choices(Key("adaptive", "target", K::kEnum, "none", kNone,
                        "What an adaptive sweep narrows (docs/ADAPTIVE.md): none (run the whole "
                        "grid), frontier (T* at adaptive.budgets) or error (Y at adaptive.n, "
                        "adaptive.t). The candidates are the final stage's jobs (every job of a "
                        "one-stage study); one method and task."),
                    {"none", "frontier", "error"}),
            "driver"),
      Owner(Key("adaptive", "budgets", K::kString, "", kNone,
                "frontier: inference budgets 2 N (Q + T) in FLOPs, comma-separated; empty: "
                "adaptive.budget_points log-spaced over the grid."),
            "driver"),
      Owner(Max(Key("adaptive", "budget_points", K::kInt, "3", 1.0,
                    "frontier: budgets in the grid's range when adaptive.budgets is empty."),
                1000),
            "driver"),
      Owner(Max(Key("adaptive", "text_tokens", K::kDouble, "0", 0.0,
                    "frontier: Q, text tokens per query. Default: the grid's jobs' Q."),
                1e9),
            "driver"),
      Owner(Max(Key("adaptive", "n", K::kDouble, kNone, 0.0,
                    "error: N (parameters) where the error is wanted, e.g. beyond the grid."),
                1e15),
            "driver"),
      Owner(Max(Key("adaptive", "t", K::kDouble, kNone, 0.0,
                    "error: T (visual tokens) where the error is wanted."),
                1e9),
            "driver"),
      Owner(Max(Key("adaptive", "tolerance", K::kDouble, "0.5", 0.0,
                    "Stop when the target's 95% interval is this narrow: ln(upper / lower) of T* "
                    "(frontier) or upper - lower of Y (error). REQUIRES: > 0."),
                1e9),
            "driver"),
      Owner(Key("adaptive", "budget", K::kString, "", kNone,
                "The most to spend: '<x> flops' (the cost model's training FLOPs) or '<k> "
                "jobs'; empty: no limit."),
            "driver"),
      Owner(Key("adaptive", "initial", K::kString, "corners+4", kNone,
                "Initial design: 'corners+N', the grid's four corners in (log N, log T) plus N "
                "maximin spread points."),
            "driver"),
      Owner(Max(Key("adaptive", "batch", K::kInt, "2", 1.0, "The most points chosen per round."),
                100000),
            "driver"),
      Owner(Max(Key("adaptive", "seed", K::kInt, "1", 0.0, "Seed of every round's bootstrap."),
                kMaxSeed),
            "driver"),
      Owner(Max(Key("adaptive", "bootstrap", K::kInt, "200", 20.0,
                    "Bootstrap resamples of every round's fit."),
                100000),
            "driver"),
      // [slurm]
      Owner(Key("slurm", "partition", K::kString, "", kNone, "sbatch --partition."), "submit"),
      Owner(Key("slurm", "account", K::kString, "", kNone, "sbatch --account."), "submit"),
      Owner(Key("slurm", "qos", K::kString, "", kNone, "sbatch --qos."), "submit"),
      Owner(Key("slurm", "time", K::kString, "01:00:00", kNone, "sbatch --time (walltime)."),
            "submit"),
      Owner(Max(Key("slurm", "nodes", K::kInt, "1", 1.0, "sbatch --nodes."), 1 << 20), "submit"),
      Owner(Max(Key("slurm", "ntasks_per_node", K::kInt, "1", 1.0, "Ranks per node."), 4096),
            "submit"),
      Owner(Max(Key("slurm", "gpus_per_node", K::kInt, "0", 0.0, "GPUs per node (0: CPU nodes)."),
                1024),
            "submit"),
      Owner(Max(Key("slurm", "cpus_per_task", K::kInt, "1", 1.0, "CPU cores per rank."), 4096),
            "submit"),
      Owner(Max(Key("slurm", "max_requeues", K::kInt, "10", 0.0,
                    "Times the batch job requeues itself after preemption or walltime."),
                10000),
            "submit"),
  };
}

}  // namespace vlmscale::config
