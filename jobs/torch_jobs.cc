#include "jobs/torch_jobs.h"

#include <dlfcn.h>

#include <filesystem>
#include <mutex>
#include <optional>
#include <system_error>

#include "config.h"
#include "core/check.h"
#include "jobs/job_type.h"

namespace vlmscale::jobs {

namespace {

struct Loaded {
  std::mutex mutex;
  std::optional<TorchJobsApi> api;    // Set once, never changed after.
  std::optional<Status> load_status;  // The first LoadTorchJobs result.
};

Loaded& TheLoaded() {
  static Loaded l;
  return l;
}

Status Refuse(const std::string& path, const std::string& why) {
  return Status::InvalidInput("the libtorch job plugin '" + path + "' " + why +
                              "; rebuild it with the vlmscale binary (cmake --build BUILD "
                              "--target vlmscale) and keep it beside the binary");
}

Status Load(TorchJobsApi* api) {
  const std::string path = TorchJobsPluginPath();
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) return Refuse(path, "does not exist");
  // RTLD_LOCAL: the plugin's copies of vlmscale's libraries stay its own (it exports only its
  // entry point). libtorch's BLAS calls still bind to the libblas.so.3 the binary links first
  // (src/cli/CMakeLists.txt), which the global scope puts before the plugin's own libraries.
  void* handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (handle == nullptr) {
    const char* error = dlerror();
    return Refuse(path, std::string("cannot be loaded: ") + (error ? error : "unknown error"));
  }
  auto init = reinterpret_cast<TorchJobsInitFn>(dlsym(handle, kTorchJobsInitSymbol));
  if (init == nullptr) {
    return Refuse(path, std::string("has no entry point ") + kTorchJobsInitSymbol);
  }
  const char* build = nullptr;
  TorchJobsApi table;
  const int abi = init(kTorchJobsAbi, &build, &table);
  const std::string plugin_build = build ? build : "?";
  if (abi != kTorchJobsAbi || plugin_build != TorchJobsBuild()) {
    return Refuse(path, "comes from another build (" + plugin_build + ", interface " +
                            std::to_string(abi) + "; this binary: " + TorchJobsBuild() +
                            ", interface " + std::to_string(kTorchJobsAbi) + ")");
  }
  if (!table.make_finetune_eval || !table.make_pretrain_llm || !table.dump_tasks) {
    return Refuse(path, "returned an incomplete table");
  }
  *api = table;
  return Status::OK();  // The handle stays open for the life of the process.
}

// This build's job without a plugin: plans, validates, cannot run.
class UnavailableJob : public Job {
 public:
  explicit UnavailableJob(std::string type) : type_(std::move(type)) {}
  Status Run(const JobInput&, const JobEnv&, JobOutput* output) override {
    output->failure_class = "error";
    return Status::Runtime(type_ + " jobs need the libtorch job plugin, which is not loaded (" +
                           TorchJobsPluginPath() + ")");
  }
  bool UsesDirectories() const override { return false; }

 private:
  std::string type_;
};

}  // namespace

std::string TorchJobsBuild() { return std::string(VLMSCALE_VERSION) + " " + VLMSCALE_GIT_COMMIT; }

std::string TorchJobsPluginPath() {
  std::error_code ec;
  std::filesystem::path exe = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (ec) return kTorchJobsPluginName;  // No /proc: the name alone (dlopen's search).
  return (exe.parent_path() / kTorchJobsPluginName).string();
}

Status LoadTorchJobs() {
  Loaded& l = TheLoaded();
  std::lock_guard<std::mutex> lock(l.mutex);
  if (l.api) return Status::OK();
  if (!l.load_status) {
#if VLMSCALE_HAVE_TORCH_JOBS
    TorchJobsApi api;
    l.load_status = Load(&api);
    if (l.load_status->ok()) l.api = api;
#else
    l.load_status = Status::InvalidInput(
        "this vlmscale was built without libtorch (VLMSCALE_WITH_TORCH=OFF): it has no libtorch "
        "job plugin");
#endif
  }
  return *l.load_status;
}

void InstallTorchJobs(const TorchJobsApi& api) {
  Loaded& l = TheLoaded();
  std::lock_guard<std::mutex> lock(l.mutex);
  CHECK(!l.api) << "a libtorch job table is installed already";
  l.api = api;
}

const TorchJobsApi* TorchJobs() {
  Loaded& l = TheLoaded();
  std::lock_guard<std::mutex> lock(l.mutex);
  return l.api ? &*l.api : nullptr;
}

Status LoadJobTypesOf(const config::Sweep& sweep) {
  for (const config::StageSpec& stage : sweep.stages) {
    std::shared_ptr<const JobType> type = FindJobType(stage.job_type);
    if (type != nullptr && type->NeedsTorch()) {
      return LoadTorchJobs().WithPrefix("job type " + stage.job_type);
    }
  }
  return Status::OK();
}

std::unique_ptr<Job> MakeTorchJobUnavailable(const std::string& type) {
  return std::make_unique<UnavailableJob>(type);
}

}  // namespace vlmscale::jobs
