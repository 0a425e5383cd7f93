#include "train/feature_cache.h"

namespace vlmscale::train {

namespace {
int64_t Bytes(const torch::Tensor& t) { return t.defined() ? t.numel() * t.element_size() : 0; }
}  // namespace

FeatureCache& FeatureCache::Process() {
  static FeatureCache* cache = new FeatureCache();  // Never destroyed: no exit-order issues.
  return *cache;
}

bool FeatureCache::Get(const std::string& key, CachedBatch* batch) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = entries_.find(key);
  if (it == entries_.end()) return false;
  *batch = it->second;
  return true;
}

bool FeatureCache::Put(const std::string& key, const CachedBatch& batch, int64_t budget_bytes) {
  const int64_t size =
      Bytes(batch.features) + Bytes(batch.questions) + Bytes(batch.answers) + Bytes(batch.types);
  std::lock_guard<std::mutex> lock(mu_);
  if (entries_.count(key) > 0 || bytes_ + size > budget_bytes) return false;
  entries_.emplace(key, batch);
  bytes_ += size;
  return true;
}

int64_t FeatureCache::bytes() const {
  std::lock_guard<std::mutex> lock(mu_);
  return bytes_;
}

void FeatureCache::Clear() {
  std::lock_guard<std::mutex> lock(mu_);
  entries_.clear();
  bytes_ = 0;
}

}  // namespace vlmscale::train
