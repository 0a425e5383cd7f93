// A process-wide memo of frozen-encoder outputs. The encoder is frozen and every batch is a pure
// function of (task, split, seed, index range), so the driver's later jobs on the same rank (other
// LLM sizes, token counts, methods of the same task and seed) can reuse the features instead of
// running the encoder again; the features are the very tensors computed the first time, so
// results are bitwise unchanged. Bounded: entries beyond the budget are simply not stored.
#ifndef VLMSCALE_TRAIN_FEATURE_CACHE_H_
#define VLMSCALE_TRAIN_FEATURE_CACHE_H_

#include <torch/torch.h>

#include <cstdint>
#include <mutex>
#include <string>
#include <unordered_map>

namespace vlmscale::train {

struct CachedBatch {
  torch::Tensor features;   // Encoder output [B, G*G, C], half precision (see trainer.cc).
  torch::Tensor questions;  // [B, Q] int64.
  torch::Tensor answers;    // [B] int64.
  torch::Tensor types;      // [B] int64 question template ids.
  torch::Tensor patch_labels;  // [B, G*G] int64 (tasks::Batch), only in alignment batches.
};

class FeatureCache {
 public:
  // The cache shared by every trainer in this process.
  static FeatureCache& Process();

  // Copies the entry for `key` into *batch and returns true, or returns false if absent.
  // Thread-safe.
  bool Get(const std::string& key, CachedBatch* batch);
  // Stores `batch` under `key` if the total stays within `budget_bytes`; returns whether it did.
  // Thread-safe. The tensors are kept by reference: callers must not modify them afterwards.
  bool Put(const std::string& key, const CachedBatch& batch, int64_t budget_bytes);
  int64_t bytes() const;
  void Clear();

 private:
  mutable std::mutex mu_;
  std::unordered_map<std::string, CachedBatch> entries_;
  int64_t bytes_ = 0;
};

}  // namespace vlmscale::train

#endif  // VLMSCALE_TRAIN_FEATURE_CACHE_H_
