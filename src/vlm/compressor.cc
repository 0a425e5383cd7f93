#include "vlm/compressor.h"

#include <cmath>

#include "vlm/vlm_options.h"
#include "core/check.h"

namespace vlmscale::vlm {

namespace F = torch::nn::functional;

std::string CompressorOptions::Check() const {
  const auto& known = CompressorNames();
  if (std::find(known.begin(), known.end(), method()) == known.end()) {
    return "unknown compression method '" + method() +
           "' (known: none, avgpool, tokenpacker, quecc, topk)";
  }
  const std::string expected = CheckMethodTokens(method(), visual_tokens(), grid_size());
  if (!expected.empty()) {
    return "method '" + method() + "' cannot produce " + std::to_string(visual_tokens()) +
           " visual tokens from a " + std::to_string(grid_size()) + "x" +
           std::to_string(grid_size()) + " feature grid: expected " + expected;
  }
  if (heads() < 1 || vision_width() % heads() != 0) {
    return "vision_width (" + std::to_string(vision_width()) + ") must be a multiple of the " +
           std::to_string(heads()) + " compressor attention heads";
  }
  if (method() == "quecc" && question_width() < 1) {
    return "quecc needs question_width (the LLM width) >= 1";
  }
  return "";
}

namespace {

int64_t Side(int64_t v) {
  return static_cast<int64_t>(std::llround(std::sqrt(static_cast<double>(v))));
}

// [B, G*G, C] -> [B, C, G, G]
torch::Tensor ToGrid(const torch::Tensor& tokens, int64_t g) {
  return tokens.transpose(1, 2).reshape({tokens.size(0), tokens.size(2), g, g});
}
// [B, C, s, s] -> [B, s*s, C]
torch::Tensor ToTokens(const torch::Tensor& grid) { return grid.flatten(2).transpose(1, 2); }

class NoneCompressor : public CompressorImpl {
 public:
  using CompressorImpl::CompressorImpl;
  torch::Tensor forward(const torch::Tensor& features, const torch::Tensor&) override {
    return features;
  }
  double flops_per_sample() const override { return 0.0; }
};

class AvgPoolCompressor : public CompressorImpl {
 public:
  using CompressorImpl::CompressorImpl;
  torch::Tensor forward(const torch::Tensor& features, const torch::Tensor&) override {
    const int64_t s = Side(options_.visual_tokens());
    return ToTokens(F::adaptive_avg_pool2d(ToGrid(features, options_.grid_size()),
                                           F::AdaptiveAvgPool2dFuncOptions({s, s})));
  }
  double flops_per_sample() const override {
    const double g = options_.grid_size(), c = options_.vision_width();
    return g * g * c;  // One add per input element.
  }
};

// Each of the s x s queries attends to the k x k region of the G x G grid under it
// (k = G / s), with `heads` heads: y = q + Wo(Attn(Wq LN(q), Wk LN(r), Wv LN(r))).
class RegionCrossAttentionImpl : public torch::nn::Module {
 public:
  RegionCrossAttentionImpl(int64_t width, int64_t heads) : width_(width), heads_(heads) {
    ln_q_ = register_module("ln_q", torch::nn::LayerNorm(torch::nn::LayerNormOptions({width})));
    ln_kv_ = register_module("ln_kv", torch::nn::LayerNorm(torch::nn::LayerNormOptions({width})));
    q_ = register_module("q", torch::nn::Linear(width, width));
    k_ = register_module("k", torch::nn::Linear(width, width));
    v_ = register_module("v", torch::nn::Linear(width, width));
    out_ = register_module("out", torch::nn::Linear(width, width));
  }
  // Zeroes the output projection: the block then returns its queries unchanged.
  void ZeroOutput() {
    torch::NoGradGuard no_grad;
    out_->weight.zero_();
    out_->bias.zero_();
  }
  // queries: [B, s*s, C]; features: [B, G*G, C] -> [B, s*s, C].
  torch::Tensor forward(const torch::Tensor& queries, const torch::Tensor& features, int64_t g,
                        int64_t s) {
    const int64_t b = features.size(0), k = g / s, dh = width_ / heads_, n = b * s * s;
    // Regions: [B, G, G, C] -> [B, s, k, s, k, C] -> [B, s, s, k, k, C] -> [N, k*k, C].
    auto regions = ln_kv_(features)
                       .view({b, s, k, s, k, width_})
                       .permute({0, 1, 3, 2, 4, 5})
                       .reshape({n, k * k, width_});
    auto q = q_(ln_q_(queries)).reshape({n, 1, heads_, dh}).transpose(1, 2);  // [N, H, 1, dh]
    auto key = k_(regions).view({n, k * k, heads_, dh}).transpose(1, 2);      // [N, H, k2, dh]
    auto value = v_(regions).view({n, k * k, heads_, dh}).transpose(1, 2);
    auto scores = torch::matmul(q, key.transpose(-2, -1)) / std::sqrt(static_cast<double>(dh));
    auto attended = torch::matmul(torch::softmax(scores, -1), value);  // [N, H, 1, dh]
    return queries + out_(attended.reshape({b, s * s, width_}));
  }
  // Forward FLOPs per sample for G*G features and V queries of width C.
  static double Flops(double g2, double v, double c) {
    return 4.0 * v * c * c + 4.0 * g2 * c * c + 4.0 * g2 * c;  // Wq+Wo, Wk+Wv, scores+sum.
  }

 private:
  int64_t width_, heads_;
  torch::nn::LayerNorm ln_q_{nullptr}, ln_kv_{nullptr};
  torch::nn::Linear q_{nullptr}, k_{nullptr}, v_{nullptr}, out_{nullptr};
};
TORCH_MODULE(RegionCrossAttention);

class TokenPackerCompressor : public CompressorImpl {
 public:
  explicit TokenPackerCompressor(const CompressorOptions& options) : CompressorImpl(options) {
    attention_ =
        register_module("attention", RegionCrossAttention(options.vision_width(), options.heads()));
  }
  torch::Tensor forward(const torch::Tensor& features, const torch::Tensor&) override {
    const int64_t g = options_.grid_size(), s = Side(options_.visual_tokens());
    // Downsampled queries: bilinear interpolation (align_corners false) at the integer factor k
    // samples the centre of the query's own k x k region: its centre patch (odd k) or the mean
    // of its 2 x 2 centre patches (even k); not the region mean unless k <= 2.
    auto queries =
        ToTokens(F::interpolate(ToGrid(features, g), F::InterpolateFuncOptions()
                                                         .size(std::vector<int64_t>{s, s})
                                                         .mode(torch::kBilinear)
                                                         .align_corners(false)));
    return attention_(queries, features, g, s);
  }
  double flops_per_sample() const override {
    const double g2 = std::pow(options_.grid_size(), 2), v = options_.visual_tokens(),
                 c = options_.vision_width();
    return 8.0 * v * c + RegionCrossAttentionImpl::Flops(g2, v, c);  // + 4-tap interpolation.
  }

 private:
  RegionCrossAttention attention_{nullptr};
};

class QueccCompressor : public CompressorImpl {
 public:
  explicit QueccCompressor(const CompressorOptions& options) : CompressorImpl(options) {
    const int64_t c = options.vision_width();
    const int64_t k = options.grid_size() / Side(options.visual_tokens());
    question_proj_ =
        register_module("question_proj", torch::nn::Linear(options.question_width(), c));
    mlp_ = register_module(
        "mlp",
        torch::nn::Sequential(torch::nn::LayerNorm(torch::nn::LayerNormOptions({c})),
                              torch::nn::Linear(c, c), torch::nn::GELU(), torch::nn::Linear(c, c)));
    downsample_ = register_module(
        "downsample", torch::nn::Conv2d(torch::nn::Conv2dOptions(c, c, k).stride(k).groups(c)));
    attention_ = register_module("attention", RegionCrossAttention(c, options.heads()));
    if (options.start_as_avgpool()) {
      // After every layer is built, so that the random draws of the others are unchanged.
      torch::NoGradGuard no_grad;
      question_proj_->weight.zero_();
      question_proj_->bias.zero_();
      auto& last = *mlp_[3]->as<torch::nn::Linear>();
      last.weight.zero_();
      last.bias.zero_();
      downsample_->weight.fill_(1.0 / static_cast<double>(k * k));
      downsample_->bias.zero_();
      attention_->ZeroOutput();
    }
  }
  bool needs_question() const override { return true; }
  torch::Tensor forward(const torch::Tensor& features,
                        const torch::Tensor& question_embedding) override {
    CHECK(question_embedding.defined()) << "quecc needs the question embedding";
    const int64_t g = options_.grid_size(), s = Side(options_.visual_tokens());
    auto x = features + question_proj_(question_embedding).unsqueeze(1);  // [B, G*G, C]
    x = x + mlp_->forward(x);
    auto queries = ToTokens(downsample_(ToGrid(x, g)));  // [B, s*s, C]
    return attention_(queries, features, g, s);
  }
  double flops_per_sample() const override {
    const double g2 = std::pow(options_.grid_size(), 2), v = options_.visual_tokens(),
                 c = options_.vision_width(), dq = options_.question_width();
    return 2.0 * dq * c + g2 * c  // question projection, broadcast add
           + 4.0 * g2 * c * c     // MLP (two C x C layers on G*G tokens)
           + 2.0 * g2 * c         // depthwise k x k stride-k convolution
           + RegionCrossAttentionImpl::Flops(g2, v, c);
  }

 private:
  torch::nn::Linear question_proj_{nullptr};
  torch::nn::Sequential mlp_{nullptr};
  torch::nn::Conv2d downsample_{nullptr};
  RegionCrossAttention attention_{nullptr};
};

class TopKCompressor : public CompressorImpl {
 public:
  explicit TopKCompressor(const CompressorOptions& options) : CompressorImpl(options) {
    const int64_t c = options.vision_width();
    norm_ = register_module("norm", torch::nn::LayerNorm(torch::nn::LayerNormOptions({c})));
    query_ = register_parameter("query", torch::randn({c}) * 0.02);
  }
  torch::Tensor forward(const torch::Tensor& features, const torch::Tensor&) override {
    const int64_t g2 = features.size(1), c = features.size(2), v = options_.visual_tokens();
    auto logits = torch::matmul(norm_(features), query_) / std::sqrt(static_cast<double>(c));
    auto scores = torch::softmax(logits, -1);                            // [B, G*G]
    auto index = std::get<0>(std::get<1>(scores.topk(v, -1)).sort(-1));  // Original order.
    auto kept = features.gather(1, index.unsqueeze(-1).expand({-1, -1, c}));
    // Scaled so that uniform scores give weight 1; the score carries the gradient.
    auto weight = scores.gather(1, index) * static_cast<double>(g2);
    return kept * weight.unsqueeze(-1);
  }
  double flops_per_sample() const override {
    const double g2 = std::pow(options_.grid_size(), 2), v = options_.visual_tokens(),
                 c = options_.vision_width();
    return 2.0 * g2 * c + v * c;  // Scores, then scaling the kept tokens.
  }

 private:
  torch::nn::LayerNorm norm_{nullptr};
  torch::Tensor query_;
};

}  // namespace

std::shared_ptr<CompressorImpl> MakeCompressor(const CompressorOptions& options) {
  const std::string error = options.Check();
  CHECK(error.empty()) << error;
  const std::string& m = options.method();
  if (m == "none") return std::make_shared<NoneCompressor>(options);
  if (m == "avgpool") return std::make_shared<AvgPoolCompressor>(options);
  if (m == "tokenpacker") return std::make_shared<TokenPackerCompressor>(options);
  if (m == "quecc") return std::make_shared<QueccCompressor>(options);
  CHECK(m == "topk") << m;
  return std::make_shared<TopKCompressor>(options);
}

}  // namespace vlmscale::vlm
