// Job types: each registers one JobType descriptor that owns everything vlmscale knows about it:
// its name, its config keys bound to the fields of its Options struct (config::OptionsTable), the
// checks its jobs would run (at plan time, for every grid point), its part of the job id, its
// cost estimate and the factory of its jobs. The config schema, docs/CONFIG.md's key table,
// `plan` validation and the driver's job creation all come from these descriptors, so a new job
// type is one folder under jobs/ and one line in registry.cc.
#ifndef VLMSCALE_JOBS_JOB_TYPE_H_
#define VLMSCALE_JOBS_JOB_TYPE_H_

#include <memory>
#include <string>
#include <vector>

#include "config/config.h"
#include "config/schema.h"
#include "config/sweep.h"
#include "core/status.h"
#include "jobs/job.h"

namespace vlmscale::jobs {

// One sweep's typed settings of a job type, read from its config keys: plans the sweep
// (config::JobTypePlanner) and makes its jobs.
class JobSettings : public config::JobTypePlanner {
 public:
  // A new job with these settings. Never null.
  virtual std::unique_ptr<Job> MakeJob() const = 0;
};

// What the planner reads besides the job type's own keys.
struct PlanContext {
  int64_t ranks_per_job = 1;  // run.ranks_per_job: a job's data-parallel width.
  std::string results_path;   // sweep.output, absolute (default directories live beside it).
  // The stage whose settings these are (its name, axes and needs; planner not yet set). Never
  // null during Parse; its name is "" in a one-stage study.
  const config::StageSpec* stage = nullptr;
  // The job types of the stages this stage needs (stage->needs, in order).
  std::vector<std::string> needed_job_types;
};

class JobType {
 public:
  virtual ~JobType() = default;
  virtual std::string name() const = 0;
  // The keys this type owns (their sections are documented as declared by it).
  virtual std::vector<config::KeySpec> Keys() const = 0;
  // Reads and checks the type's options (sweep-wide checks; per-point checks run in
  // JobSettings::CheckPoint). kInvalidInput naming the key and where its value came from.
  virtual Result<std::shared_ptr<const JobSettings>> Parse(const config::Config& config,
                                                           const PlanContext& context) const = 0;
  // Whether its jobs run libtorch code, which lives in the plugin of jobs/torch_jobs.h: `run`
  // loads it first (LoadJobTypesOf). Planning never needs it.
  virtual bool NeedsTorch() const { return false; }
};

// Registers every built-in type (idempotent, thread-safe). The functions below call it.
void RegisterBuiltinJobTypes();
// Registers (or replaces) a type by its name.
void RegisterJobType(std::shared_ptr<const JobType> type);
// The registered type named `name`, or nullptr.
std::shared_ptr<const JobType> FindJobType(const std::string& name);
// Registered type names in registration order.
std::vector<std::string> JobTypeNames();

// The full config schema: config's sweep keys (with the registered job types, the compressors,
// the tasks and the built-in LLM presets as their vocabulary) plus every job type's keys.
const config::Schema& ConfigSchema();
// What the grid needs from vlm and tasks: method and task names, built-in presets, N.
const config::GridFacts& BuiltinGridFacts();

// Config::Load / Config::FromString with ConfigSchema().
Result<config::Config> LoadConfig(const std::string& path,
                                  const std::vector<std::string>& overrides);
Result<config::Config> ConfigFromString(const std::string& text, const std::string& name,
                                        const std::vector<std::string>& overrides);

// Plans the sweep of a loaded config: parses the job type's settings and checks every grid point
// as its job would when it starts. kInvalidInput (exit 2) on any problem, naming the key.
Result<config::Sweep> PlanSweep(const config::Config& config);

// A job of `spec`'s stage with that stage's settings. REQUIRES: `sweep` came from PlanSweep and
// `spec` is one of its jobs.
std::unique_ptr<Job> CreateJob(const config::Sweep& sweep, const config::JobSpec& spec);
// A job of the sweep's last stage (the only one of a one-stage study).
std::unique_ptr<Job> CreateJob(const config::Sweep& sweep);

}  // namespace vlmscale::jobs

#endif  // VLMSCALE_JOBS_JOB_TYPE_H_
