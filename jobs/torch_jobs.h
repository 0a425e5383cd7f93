// The libtorch half of the job types (issue 22, "instant read-only commands").
//
// Loading libtorch costs a start of vlmscale most of a second (its operator registry and the
// hundreds of shared libraries it pulls in), which `plan`, `status`, `fit` and the other read-only
// commands never use. So the vlmscale binary does not link libtorch: the jobs of the types that
// need it (finetune_eval, pretrain_llm) and the task generators behind `vlmscale tasks dump` are
// built into a plugin, libvlmscale_torch_jobs.so, next to the binary. Their descriptors (keys,
// plan-time checks, job ids, cost) stay here, torch-free, so planning a sweep needs no plugin;
// `run` loads it (LoadJobTypesOf) only when the sweep has a stage of such a type.
//
// The plugin exports one C function, kTorchJobsInitSymbol (TorchJobsInitFn), which hands back
// the TorchJobsApi table. Both sides are built from the same sources in the same build: the
// table carries kTorchJobsAbi and the build string, and a plugin of another build is refused.
#ifndef VLMSCALE_JOBS_TORCH_JOBS_H_
#define VLMSCALE_JOBS_TORCH_JOBS_H_

#include <iosfwd>
#include <memory>
#include <string>

#include "config/sweep.h"
#include "core/status.h"
#include "jobs/job.h"
#include "tasks/task_dump.h"

namespace vlmscale::jobs {

struct FinetuneEvalOptions;
struct PretrainLlmOptions;

// Changes whenever TorchJobsApi, or a type passed through it, changes.
inline constexpr int kTorchJobsAbi = 1;
// The file name of the plugin, looked up in the directory of the running executable.
inline constexpr char kTorchJobsPluginName[] = "libvlmscale_torch_jobs.so";
inline constexpr char kTorchJobsInitSymbol[] = "vlmscale_torch_jobs_init";

// What the plugin provides. Every pointer is non-null in a loaded table.
struct TorchJobsApi {
  std::unique_ptr<Job> (*make_finetune_eval)(const FinetuneEvalOptions& options) = nullptr;
  std::unique_ptr<Job> (*make_pretrain_llm)(const PretrainLlmOptions& options) = nullptr;
  // `vlmscale tasks dump` (tasks/task_dump.h).
  Status (*dump_tasks)(const tasks::DumpRequest& request, std::ostream& out) = nullptr;
};

// The plugin's entry point. Stores its build string (VLMSCALE_VERSION " " VLMSCALE_GIT_COMMIT)
// in *build and returns its kTorchJobsAbi; fills *api only when `abi` equals it.
extern "C" {
typedef int (*TorchJobsInitFn)(int abi, const char** build, TorchJobsApi* api);
}

// "<version> <commit>" of this build, which a plugin must report to be used.
std::string TorchJobsBuild();

// <directory of /proc/self/exe>/libvlmscale_torch_jobs.so: found beside the binary (build/ or the
// install's bin/), wherever it is started from, under mpirun too; not via LD_LIBRARY_PATH.
std::string TorchJobsPluginPath();

// Loads the plugin once per process (thread-safe; later calls return the first result).
// kInvalidInput (exit 2) naming the path when it is missing, cannot be loaded, lacks the entry
// point or comes from another build. OK without loading when a table is already installed.
Status LoadTorchJobs();

// Installs a table directly: the plugin loader does, and so do tests that link the libtorch jobs
// into their own binary (jobs/torch_jobs/torch_jobs_impl.h).
void InstallTorchJobs(const TorchJobsApi& api);

// The installed table, or nullptr before LoadTorchJobs / InstallTorchJobs succeeded.
const TorchJobsApi* TorchJobs();

// Loads what the job types of `sweep`'s stages need (the plugin when one of them says
// JobType::NeedsTorch); OK with nothing to load. The error of LoadTorchJobs, prefixed with the
// job type that needs it.
Status LoadJobTypesOf(const config::Sweep& sweep);

// A job that fails at once saying that `type`'s jobs need the plugin, which is not loaded: what
// MakeJob makes when nobody called LoadJobTypesOf.
std::unique_ptr<Job> MakeTorchJobUnavailable(const std::string& type);

}  // namespace vlmscale::jobs

#endif  // VLMSCALE_JOBS_TORCH_JOBS_H_
