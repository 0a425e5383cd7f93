// Transformer building blocks shared by the vision encoder (bidirectional) and the LLM (causal):
// multi-head self-attention and a pre-LN block. Every Linear has a bias, so one block has
// 4d^2+4d (attention) + 2rd^2+rd+d (MLP) + 4d (two LayerNorms) parameters, which
// LlmNonEmbeddingParams (vlm_options.h) counts.
#ifndef VLMSCALE_VLM_TRANSFORMER_H_
#define VLMSCALE_VLM_TRANSFORMER_H_

#include <torch/torch.h>

#include <cstdint>

namespace vlmscale::vlm {

struct BlockOptions {
  BlockOptions(int64_t width, int64_t heads) : width_(width), heads_(heads) {}
  // Model width d. REQUIRES: width % heads == 0.
  TORCH_ARG(int64_t, width);
  // Attention heads. REQUIRES: heads >= 1.
  TORCH_ARG(int64_t, heads);
  // MLP hidden width = mlp_ratio * width. Default: 4. REQUIRES: mlp_ratio >= 1.
  TORCH_ARG(int64_t, mlp_ratio) = 4;
};

class SelfAttentionImpl : public torch::nn::Module {
 public:
  SelfAttentionImpl(int64_t width, int64_t heads);
  // x: [B, L, d]; mask: undefined or additive [L, L] (0 or -inf) -> [B, L, d].
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& mask = {});

 private:
  int64_t width_, heads_;
  torch::nn::Linear qkv_{nullptr};
  torch::nn::Linear out_{nullptr};
};
TORCH_MODULE(SelfAttention);

// x + Attn(LN1(x)), then x + MLP(LN2(x)) with a GELU MLP.
class TransformerBlockImpl : public torch::nn::Module {
 public:
  explicit TransformerBlockImpl(const BlockOptions& options);
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& mask = {});

 private:
  torch::nn::LayerNorm ln1_{nullptr}, ln2_{nullptr};
  SelfAttention attn_{nullptr};
  torch::nn::Linear fc1_{nullptr}, fc2_{nullptr};
};
TORCH_MODULE(TransformerBlock);

// Additive causal mask [length, length]: 0 on and below the diagonal, -inf above.
torch::Tensor CausalMask(int64_t length);

}  // namespace vlmscale::vlm

#endif  // VLMSCALE_VLM_TRANSFORMER_H_
