#include "train/blas_threads.h"

#include <dlfcn.h>

#include <cstdlib>

namespace vlmscale::train {

bool LimitBlasThreads(int threads) {
  if (threads < 1 || std::getenv("OPENBLAS_NUM_THREADS") != nullptr) return false;
  // Looked up at run time: the BLAS behind libblas.so.3 is chosen by the system (Debian's
  // alternatives), and only OpenBLAS has this entry point.
  using SetThreads = void (*)(int);
  auto set = reinterpret_cast<SetThreads>(dlsym(RTLD_DEFAULT, "openblas_set_num_threads"));
  if (set == nullptr) return false;
  set(threads);
  return true;
}

}  // namespace vlmscale::train
