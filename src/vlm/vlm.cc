#include "vlm/vlm.h"

#include <cmath>

#include "core/check.h"

namespace vlmscale::vlm {

namespace {

CompressorOptions MakeCompressorOptions(const VlmOptions& o) {
  return CompressorOptions(o.method, o.grid_size, o.vision_width, o.visual_tokens)
      .question_width(o.width)
      .heads(4)
      .start_as_avgpool(o.quecc_init == "avgpool");
}

}  // namespace


VlmImpl::VlmImpl(const VlmOptions& options) : options_(options) {
  std::string error;
  CHECK(options.IsValid(&error)) << error;
  const int64_t d = options.width, length = options.visual_tokens + options.question_tokens;
  compressor_ = register_module("compressor", MakeCompressor(MakeCompressorOptions(options)));
  projector_ = register_module("projector",
                               torch::nn::Sequential(torch::nn::Linear(options.vision_width, d),
                                                     torch::nn::GELU(), torch::nn::Linear(d, d)));
  token_embedding_ =
      register_module("token_embedding", torch::nn::Embedding(options.vocab_size, d));
  {
    torch::NoGradGuard no_grad;
    token_embedding_->weight.normal_(0.0, 0.02);
  }
  positions_ = register_parameter("positions", torch::randn({1, length, d}) * 0.02);
  if (options.method != "topk") {  // Every other method emits a row-major s x s token grid.
    const int64_t side = static_cast<int64_t>(std::llround(std::sqrt(options.visual_tokens)));
    CHECK(side * side == options.visual_tokens) << "grid methods emit a square token grid";
    row_positions_ = register_parameter("row_positions", torch::randn({side, 1, d}) * 0.02);
    column_positions_ = register_parameter("column_positions", torch::randn({1, side, d}) * 0.02);
  }
  blocks_ = register_module("blocks", torch::nn::ModuleList());
  for (int64_t i = 0; i < options.depth; ++i) {
    blocks_->push_back(
        TransformerBlock(BlockOptions(d, options.heads).mlp_ratio(options.mlp_ratio)));
  }
  final_norm_ =
      register_module("final_norm", torch::nn::LayerNorm(torch::nn::LayerNormOptions({d})));
  head_ = register_module("head", torch::nn::Linear(d, options.num_answers));
  causal_mask_ = register_buffer("causal_mask", CausalMask(length));
  if (options.align_classes > 0) {  // Last, so every other parameter draws the same values.
    const int64_t patches = options.grid_size * options.grid_size;
    align_queries_ = register_parameter("align_queries", torch::randn({patches, d}) * 0.02);
    align_norm_ =
        register_module("align_norm", torch::nn::LayerNorm(torch::nn::LayerNormOptions({d})));
    align_out_ = register_module("align_out", torch::nn::Linear(d, options.align_classes));
  }
}

torch::Tensor VlmImpl::RunLlm(torch::Tensor x) {
  const int64_t l = x.size(1);
  const auto mask = causal_mask_.slice(0, 0, l).slice(1, 0, l);
  for (const auto& block : *blocks_) x = block->as<TransformerBlock>()->forward(x, mask);
  return final_norm_(x);
}

namespace {

// [B] index of the last non-padding token of each right-padded question (0 if all padding).
torch::Tensor LastTokenIndex(const torch::Tensor& questions) {
  return questions.ne(0).sum(1).sub(1).clamp_min(0);
}

// Rows of hidden [B, L, d] at per-sample positions index [B] -> [B, d].
torch::Tensor GatherRows(const torch::Tensor& hidden, const torch::Tensor& index) {
  auto i = index.view({-1, 1, 1}).expand({hidden.size(0), 1, hidden.size(2)});
  return hidden.gather(1, i).squeeze(1);
}

}  // namespace

torch::Tensor VlmImpl::QuestionEmbedding(const torch::Tensor& questions) {
  const int64_t v = options_.visual_tokens, q = options_.question_tokens;
  CHECK(questions.dim() == 2 && questions.size(1) == q) << "expected questions [B, " << q << "]";
  auto x = token_embedding_(questions) + positions_.slice(1, v, v + q);
  return GatherRows(RunLlm(x), LastTokenIndex(questions));
}

torch::Tensor VlmImpl::Compress(const torch::Tensor& visual_features,
                                const torch::Tensor& questions) {
  const int64_t g2 = options_.grid_size * options_.grid_size;
  CHECK(visual_features.dim() == 3 && visual_features.size(1) == g2 &&
        visual_features.size(2) == options_.vision_width)
      << "expected visual features [B, " << g2 << ", " << options_.vision_width << "]";
  torch::Tensor question_embedding;
  if (compressor_->needs_question()) question_embedding = QuestionEmbedding(questions);
  return compressor_->forward(visual_features, question_embedding);
}

torch::Tensor VlmImpl::VisualTokens(const torch::Tensor& visual_features,
                                    const torch::Tensor& questions) {
  CHECK(questions.dim() == 2 && questions.size(1) == options_.question_tokens)
      << "expected questions [B, " << options_.question_tokens << "]";
  auto visual = projector_->forward(Compress(visual_features, questions));  // [B, V, d]
  if (row_positions_.defined()) {
    visual = visual + (row_positions_ + column_positions_).reshape({1, options_.visual_tokens, -1});
  }
  return visual;
}

torch::Tensor VlmImpl::LlmOver(const torch::Tensor& visual, const torch::Tensor& questions) {
  return RunLlm(torch::cat({visual, token_embedding_(questions)}, 1) + positions_);
}

torch::Tensor VlmImpl::HiddenStates(const torch::Tensor& visual_features,
                                    const torch::Tensor& questions) {
  return LlmOver(VisualTokens(visual_features, questions), questions);
}

torch::Tensor VlmImpl::AnswerLogits(const torch::Tensor& visual, const torch::Tensor& questions) {
  return head_(
      GatherRows(LlmOver(visual, questions), LastTokenIndex(questions) + options_.visual_tokens));
}

torch::Tensor VlmImpl::forward(const torch::Tensor& visual_features,
                               const torch::Tensor& questions) {
  return AnswerLogits(VisualTokens(visual_features, questions), questions);
}

VlmImpl::Outputs VlmImpl::ForwardWithAlignment(const torch::Tensor& visual_features,
                                               const torch::Tensor& questions) {
  CHECK(align_out_) << "the model has no alignment head (align_classes = 0)";
  auto visual = VisualTokens(visual_features, questions);  // [B, V, d]
  auto keys = align_norm_(visual);
  auto scores = torch::matmul(align_queries_, keys.transpose(1, 2)) /
                std::sqrt(static_cast<double>(options_.width));  // [B, G*G, V]
  auto read = torch::matmul(torch::softmax(scores, -1), keys);    // [B, G*G, d]
  return {AnswerLogits(visual, questions), align_out_(read)};
}

double VlmImpl::llm_non_embedding_params() const {
  double n = 0;
  for (const auto& p : blocks_->parameters()) n += static_cast<double>(p.numel());
  for (const auto& p : final_norm_->parameters()) n += static_cast<double>(p.numel());
  return n;
}

bool VlmImpl::IsVisualPathway(const std::string& name) {
  return name.rfind("compressor.", 0) == 0 || name.rfind("projector.", 0) == 0 ||
         name == "row_positions" || name == "column_positions" || name.rfind("align_", 0) == 0;
}

double VlmImpl::compressor_flops_per_sample() const {
  double flops = compressor_->flops_per_sample();
  if (compressor_->needs_question()) {
    // The extra LLM pass over the Q question tokens: 2 N Q for the weights plus causal attention
    // (scores and weighted sum, about Q^2 / 2 pairs, 2 d FLOPs each, twice) in every block.
    const double q = static_cast<double>(options_.question_tokens);
    flops += 2.0 * llm_non_embedding_params() * q + 2.0 * static_cast<double>(options_.depth) * q *
                                                        q * static_cast<double>(options_.width);
  }
  return flops;
}

}  // namespace vlmscale::vlm
