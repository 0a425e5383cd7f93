#include "train/malloc_tuning.h"

#include <malloc.h>

#include <algorithm>

namespace vlmscale::train {

bool TuneMallocForTraining(const MallocTuningOptions& options) {
  // glibc's maximum mmap threshold on 64-bit (DEFAULT_MMAP_THRESHOLD_MAX): mallopt rejects more.
  constexpr size_t kMaxMmapThreshold = size_t{32} << 20;
  const int mmap_value = static_cast<int>(std::min(options.mmap_threshold, kMaxMmapThreshold));
  const int trim_value = static_cast<int>(std::min<size_t>(options.trim_threshold, 1u << 30));
  const bool mmap_ok = mallopt(M_MMAP_THRESHOLD, mmap_value) == 1;
  const bool trim_ok = mallopt(M_TRIM_THRESHOLD, trim_value) == 1;
  return mmap_ok && trim_ok;
}

}  // namespace vlmscale::train
