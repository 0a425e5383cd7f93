// The options of the vlm component and the facts the planner needs about it, without libtorch:
// the compressors' names and token rules, the LLM's parameter count, the encoder's and the
// model's Options structs (each default written once, here). vision_encoder.h and vlm.h build
// the modules from them.
#ifndef VLMSCALE_VLM_VLM_OPTIONS_H_
#define VLMSCALE_VLM_VLM_OPTIONS_H_

#include <cstdint>
#include <string>
#include <vector>

#include "tasks/task_facts.h"

namespace vlmscale::vlm {

// Compression methods MakeCompressor knows: none, avgpool, tokenpacker, quecc, topk.
const std::vector<std::string>& CompressorNames();

// Checks that `method` can produce `visual_tokens` from a grid_size x grid_size feature grid.
// Returns "" if it can, or what is expected otherwise. Safe for any int64 inputs (no overflow).
std::string CheckMethodTokens(const std::string& method, int64_t visual_tokens, int64_t grid_size);

// Non-embedding parameters of the decoder VlmImpl builds (pre-LN blocks with biases: attention
// qkv + out, 2-layer MLP, two LayerNorms per block, one final LayerNorm). Token and position
// embeddings and the answer head are excluded (Kaplan et al. 2020 convention).
double LlmNonEmbeddingParams(int64_t width, int64_t depth, int64_t mlp_ratio);

struct EncoderOptions {
  // Input image side in pixels. Default: the tasks' default image size (48).
  // REQUIRES: a valid tasks::TaskOptions::image_size (48..1024) and a multiple of grid_size.
  int64_t image_size = tasks::TaskOptions{}.image_size;
  // G: the encoder emits G*G patch tokens (G = 24 gives the paper's 576). Default: 8.
  // REQUIRES: 1 <= grid_size <= 64, image_size % grid_size == 0.
  int64_t grid_size = 8;
  // Feature width C of each patch token. Default: 64. REQUIRES: 16 <= vision_width <= 1024,
  // vision_width % 16 == 0 (heads of width 16).
  int64_t vision_width = 64;
  // Transformer blocks after the patchify convolution. Default: 2. REQUIRES: 0 <= depth <= 24.
  int64_t depth = 2;
  // Pretext training steps (batch 32, Adam). Default: 300. REQUIRES: 0 <= pretrain_steps <= 1e6.
  int64_t pretrain_steps = 300;
  // Seed of the initialisation and of the pretext data. Default: 0.
  uint64_t seed = 0;

  // Returns true if valid; otherwise stores what is wrong in *error and the violated field's
  // name in *field (each if non-null).
  bool IsValid(std::string* error, std::string* field = nullptr) const;
  // Canonical "key=value;..." text of every field; its HexId names the cache file.
  std::string CanonicalText() const;
};

struct VlmOptions {
  // LLM (from the grid point's LLM preset). Defaults: 64, 2, 4, 4.
  // REQUIRES: width >= 1, depth >= 1, heads >= 1, width % heads == 0, mlp_ratio >= 1.
  int64_t width = 64, depth = 2, heads = 4, mlp_ratio = 4;
  // From the task (tasks::TaskShape). Defaults: 0. REQUIRES: vocab_size >= 2,
  // question_tokens >= 1, num_answers >= 2.
  int64_t vocab_size = 0, question_tokens = 0, num_answers = 0;
  // From EncoderOptions. Defaults: the encoder's. REQUIRES: grid_size >= 1, vision_width % 4 == 0.
  int64_t grid_size = EncoderOptions{}.grid_size, vision_width = EncoderOptions{}.vision_width;
  // Compressor and visual token count V. Defaults: "avgpool", 16.
  // REQUIRES: CheckMethodTokens(method, visual_tokens, grid_size) == "".
  std::string method = "avgpool";
  int64_t visual_tokens = 16;
  // Classes of the alignment head (VlmImpl::ForwardWithAlignment), which reads every encoder
  // patch's label (tasks/pretext.h) back from the projected visual tokens; 0: no head (the
  // model and its initialization are then exactly those without the feature). Default: 0.
  // REQUIRES: align_classes >= 0.
  int64_t align_classes = 0;
  // How quecc's layers start: "random" (PyTorch's defaults) or "avgpool" (residual branches at
  // zero, the strided convolution as the mean: the same tokens as avgpool before any step; see
  // CompressorOptions::start_as_avgpool). Other methods ignore it. Default: "random".
  // REQUIRES: "random" or "avgpool".
  std::string quecc_init = "random";

  // As EncoderOptions::IsValid. *field is one of the member names ("heads", "method", ...).
  bool IsValid(std::string* error, std::string* field = nullptr) const;
};

}  // namespace vlmscale::vlm

#endif  // VLMSCALE_VLM_VLM_OPTIONS_H_
