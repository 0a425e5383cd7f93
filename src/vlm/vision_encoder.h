// The frozen vision encoder (the CLIP of this small world): an overlapping patchify convolution
// and a few bidirectional transformer blocks, giving a G x G grid of patch features. It is
// pretrained once per EncoderOptions on a dense pretext task over both tasks' images
// (tasks/pretext.h), cached on disk, and loaded frozen by every job. See docs/MODEL.md.
#ifndef VLMSCALE_VLM_VISION_ENCODER_H_
#define VLMSCALE_VLM_VISION_ENCODER_H_

#include <torch/torch.h>

#include <cstdint>
#include <functional>
#include <string>

#include "core/status.h"
#include "vlm/transformer.h"
#include "vlm/vlm_options.h"

namespace vlmscale::vlm {

class VisionEncoderImpl : public torch::nn::Module {
 public:
  // REQUIRES: options.IsValid(nullptr).
  explicit VisionEncoderImpl(const EncoderOptions& options);

  // images: [B, 3, S, S] float in [0, 1] -> [B, G*G, vision_width] (row-major patch order).
  // Once frozen, runs under torch::NoGradGuard and returns a tensor without grad.
  torch::Tensor forward(const torch::Tensor& images);

  // Stops gradients (requires_grad = false on every parameter) and switches to eval mode.
  void Freeze();
  bool frozen() const { return frozen_; }
  const EncoderOptions& options() const { return options_; }

 private:
  EncoderOptions options_;
  bool frozen_ = false;
  torch::nn::Conv2d patchify_{nullptr};
  torch::Tensor positions_;  // [1, G*G, C]
  torch::nn::ModuleList blocks_{nullptr};
  torch::nn::LayerNorm norm_{nullptr};
};
TORCH_MODULE(VisionEncoder);

// What pretraining did, for logs and the cache's side-car JSON file.
struct PretrainSummary {
  int64_t steps = 0;
  double initial_loss = 0.0;   // Pretext cross-entropy of the first step.
  double final_loss = 0.0;     // Mean over the last 10% of steps.
  double eval_accuracy = 0.0;  // Per-patch accuracy on 256 held-out pretext images.
  double seconds = 0.0;
  std::string BriefReport() const;
};

// Trains `encoder` (fresh, not frozen) on the pretext task for its options' pretrain_steps steps
// (batch 32, AdamW with warmup and cosine decay) using `threads` intra-op threads (restored
// afterwards), then freezes it. Uses its own torch generator state: the global RNG state is
// saved and restored. `on_step`, when set, is called after every step with (steps done, steps in
// all, the step's loss). REQUIRES: !encoder->frozen(), threads >= 1.
using PretrainProgress = std::function<void(int64_t step, int64_t steps, double loss)>;
PretrainSummary PretrainEncoder(VisionEncoder& encoder, int threads,
                                const PretrainProgress& on_step = {});

// What LoadOrPretrainEncoder did.
struct LoadInfo {
  std::string path;         // The cache file.
  bool pretrained = false;  // True if this call pretrained (and cached) the encoder.
  double seconds = 0.0;     // Wall time of the call, including waiting for the lock.
  PretrainSummary summary;  // Filled when pretrained.
};

// Loads the pretrained frozen encoder for `options` from `cache_dir` (file
// "encoder-<HexId(options.CanonicalText())>.pt"), pretraining it on both tasks' images and
// caching it first if absent (plus a ".json" side-car with the PretrainSummary). Safe when
// several processes call it at once: an flock on "<file>.lock" lets one train while the others
// wait, and the file is written to a temporary name and renamed. Creates cache_dir if needed.
// Returns kInvalidInput for invalid options, kIOError if the cache cannot be written or read.
// Fills *info when info is non-null; `on_step` goes to PretrainEncoder when this call pretrains.
// REQUIRES: threads >= 1.
Result<VisionEncoder> LoadOrPretrainEncoder(const EncoderOptions& options,
                                            const std::string& cache_dir, int threads,
                                            LoadInfo* info = nullptr,
                                            const PretrainProgress& on_step = {});

// The cache file path LoadOrPretrainEncoder uses for `options` in `cache_dir`.
std::string EncoderCachePath(const EncoderOptions& options, const std::string& cache_dir);

}  // namespace vlmscale::vlm

#endif  // VLMSCALE_VLM_VISION_ENCODER_H_
