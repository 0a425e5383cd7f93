// Process-wide glibc malloc settings for training loops (docs/TRAINING.md, "Performance").
//
// libtorch allocates every activation and gradient with malloc. glibc serves blocks above
// M_MMAP_THRESHOLD with mmap and returns them to the kernel on free, and trims the heap top above
// M_TRIM_THRESHOLD; a training step that allocates and frees the same large buffers every step then
// page-faults them in again each time (high system time). Raising both thresholds keeps the memory
// mapped and reused.
#ifndef VLMSCALE_TRAIN_MALLOC_TUNING_H_
#define VLMSCALE_TRAIN_MALLOC_TUNING_H_

#include <cstddef>

namespace vlmscale::train {

struct MallocTuningOptions {
  // Blocks at least this large are mmapped (and unmapped when freed). Default: 32 MiB, glibc's
  // largest accepted value on 64-bit (larger values are clamped to it). REQUIRES: > 0.
  size_t mmap_threshold = size_t{32} << 20;
  // Free memory at the heap top beyond this is returned to the kernel. Default: 1 GiB.
  // REQUIRES: > 0 (clamped to 1 GiB).
  size_t trim_threshold = size_t{1} << 30;
};

// Applies `options` with mallopt (idempotent; affects the whole process). Returns false if glibc
// rejected a setting (the process keeps working with the previous setting).
bool TuneMallocForTraining(const MallocTuningOptions& options = MallocTuningOptions());

}  // namespace vlmscale::train

#endif  // VLMSCALE_TRAIN_MALLOC_TUNING_H_
