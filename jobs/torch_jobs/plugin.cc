// libvlmscale_torch_jobs.so: the libtorch job plugin (jobs/torch_jobs.h). Its only exported
// symbol is this entry point; everything else it links (vlmscale's static libraries) is hidden
// (-Wl,--exclude-libs,ALL in jobs/CMakeLists.txt), so its copies never interpose the binary's.
#include <string>
#include <type_traits>

#include "jobs/torch_jobs.h"
#include "jobs/torch_jobs/torch_jobs_impl.h"

extern "C" __attribute__((visibility("default"))) int vlmscale_torch_jobs_init(
    int abi, const char** build, vlmscale::jobs::TorchJobsApi* api) {
  static const std::string kBuild = vlmscale::jobs::TorchJobsBuild();
  *build = kBuild.c_str();
  if (abi == vlmscale::jobs::kTorchJobsAbi) *api = vlmscale::jobs::TorchJobsImpl();
  return vlmscale::jobs::kTorchJobsAbi;
}

static_assert(std::is_same_v<decltype(&vlmscale_torch_jobs_init), vlmscale::jobs::TorchJobsInitFn>,
              "the entry point must have the type the loader calls");
