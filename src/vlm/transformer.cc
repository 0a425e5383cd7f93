#include "vlm/transformer.h"

#include <cmath>
#include <limits>

#include "core/check.h"

namespace vlmscale::vlm {

namespace F = torch::nn::functional;

SelfAttentionImpl::SelfAttentionImpl(int64_t width, int64_t heads) : width_(width), heads_(heads) {
  CHECK(heads >= 1 && width % heads == 0) << "width " << width << " heads " << heads;
  qkv_ = register_module("qkv", torch::nn::Linear(torch::nn::LinearOptions(width, 3 * width)));
  out_ = register_module("out", torch::nn::Linear(torch::nn::LinearOptions(width, width)));
}

torch::Tensor SelfAttentionImpl::forward(const torch::Tensor& x, const torch::Tensor& mask) {
  const int64_t b = x.size(0), l = x.size(1), dh = width_ / heads_;
  // [B, L, 3, H, dh] -> [3, B, H, L, dh]
  auto qkv = qkv_(x).view({b, l, 3, heads_, dh}).permute({2, 0, 3, 1, 4});
  auto q = qkv[0], k = qkv[1], v = qkv[2];
  auto scores = torch::matmul(q, k.transpose(-2, -1)) * (1.0 / std::sqrt(static_cast<double>(dh)));
  if (mask.defined()) scores = scores + mask;
  auto y = torch::matmul(torch::softmax(scores, -1), v);  // [B, H, L, dh]
  return out_(y.transpose(1, 2).reshape({b, l, width_}));
}

TransformerBlockImpl::TransformerBlockImpl(const BlockOptions& options) {
  const int64_t d = options.width();
  CHECK_GE(options.mlp_ratio(), 1);
  ln1_ = register_module("ln1", torch::nn::LayerNorm(torch::nn::LayerNormOptions({d})));
  attn_ = register_module("attn", SelfAttention(d, options.heads()));
  ln2_ = register_module("ln2", torch::nn::LayerNorm(torch::nn::LayerNormOptions({d})));
  fc1_ = register_module("fc1", torch::nn::Linear(d, options.mlp_ratio() * d));
  fc2_ = register_module("fc2", torch::nn::Linear(options.mlp_ratio() * d, d));
}

torch::Tensor TransformerBlockImpl::forward(const torch::Tensor& x, const torch::Tensor& mask) {
  auto h = x + attn_(ln1_(x), mask);
  return h + fc2_(F::gelu(fc1_(ln2_(h))));
}

torch::Tensor CausalMask(int64_t length) {
  return torch::full({length, length}, -std::numeric_limits<float>::infinity()).triu(1);
}

}  // namespace vlmscale::vlm
