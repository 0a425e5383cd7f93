// The vision-language model trained by every finetune_eval job:
//   frozen encoder features [B, G*G, C] -> compressor -> V tokens [B, V, C] -> projector (2-layer
//   GELU MLP) -> [B, V, d] (+ learned row and column embeddings when the compressor emits an
//   s x s grid) ; question tokens -> embedding [B, Q, d] ; learned positions over the V + Q
//   sequence ; decoder-only causal LLM (pre-LN blocks) ; final LayerNorm ; linear answer head at
//   the last real (non-padding) question token, where an LLM would start its answer
//   -> logits [B, num_answers]. Padding after the question therefore never affects the answer.
// N (non-embedding LLM parameters) is exactly LlmNonEmbeddingParams(width, depth,
// mlp_ratio). See docs/MODEL.md.
#ifndef VLMSCALE_VLM_VLM_H_
#define VLMSCALE_VLM_VLM_H_

#include <torch/torch.h>

#include <cstdint>
#include <memory>
#include <string>

#include "vlm/compressor.h"
#include "vlm/transformer.h"
#include "vlm/vlm_options.h"

namespace vlmscale::vlm {

class VlmImpl : public torch::nn::Module {
 public:
  // REQUIRES: options.IsValid(nullptr).
  explicit VlmImpl(const VlmOptions& options);

  // visual_features: [B, G*G, vision_width] (frozen encoder output); questions: [B, Q] int64
  // -> logits [B, num_answers].
  torch::Tensor forward(const torch::Tensor& visual_features, const torch::Tensor& questions);

  // The answer logits [B, num_answers] (as forward) and, from the same projected visual tokens,
  // the alignment head's logits [B, G*G, align_classes]: for every encoder patch a learned query
  // attends over the V projected visual tokens and a linear layer reads the patch's label. The
  // alignment phase trains the visual pathway on both (train.align_aux_weight), so the tokens
  // learn to carry what the image shows before the LLM is trained on them.
  // REQUIRES: options().align_classes > 0.
  struct Outputs {
    torch::Tensor answer_logits, align_logits;
  };
  Outputs ForwardWithAlignment(const torch::Tensor& visual_features,
                               const torch::Tensor& questions);

  // The compressed visual tokens [B, V, vision_width] (before the projector).
  torch::Tensor Compress(const torch::Tensor& visual_features, const torch::Tensor& questions);
  // Final-LayerNorm hidden states of the LLM over [visual | question]: [B, V + Q, width].
  torch::Tensor HiddenStates(const torch::Tensor& visual_features, const torch::Tensor& questions);
  // The LLM's final-LayerNorm hidden state at the last real (non-padding) question token when the
  // question is run alone (positions V..V+Q-1): [B, width]. quecc's question embedding.
  torch::Tensor QuestionEmbedding(const torch::Tensor& questions);

  // N: parameters of the decoder blocks and final LayerNorm (no embeddings, projector, head or
  // compressor). == LlmNonEmbeddingParams(width, depth, mlp_ratio).
  double llm_non_embedding_params() const;
  // The compressor's own forward FLOPs per sample; for quecc including the extra LLM pass over
  // the question (about 2 * N * Q plus attention).
  double compressor_flops_per_sample() const;
  const VlmOptions& options() const { return options_; }

  // Whether the parameter named `name` (as named_parameters() gives it) belongs to the visual
  // pathway: the compressor, the projector, the visual row/column positions and the alignment
  // head. The rest (token embedding, positions, decoder blocks, final norm, head) is the LLM.
  static bool IsVisualPathway(const std::string& name);

 private:
  torch::Tensor RunLlm(torch::Tensor x);  // x: [B, L, d] with positions added -> final LN out.
  // The projected visual tokens [B, V, d] with their row/column positions.
  torch::Tensor VisualTokens(const torch::Tensor& visual_features, const torch::Tensor& questions);
  // The LLM's final-LayerNorm hidden states over [visual | question]: [B, V + Q, d].
  torch::Tensor LlmOver(const torch::Tensor& visual, const torch::Tensor& questions);
  // Answer logits from the projected visual tokens.
  torch::Tensor AnswerLogits(const torch::Tensor& visual, const torch::Tensor& questions);

  VlmOptions options_;
  std::shared_ptr<CompressorImpl> compressor_;
  torch::nn::Sequential projector_{nullptr};
  torch::nn::Embedding token_embedding_{nullptr};
  torch::Tensor positions_;         // [1, V + Q, d]
  torch::Tensor row_positions_;     // [s, 1, d] for grid methods (all but topk), else undefined.
  torch::Tensor column_positions_;  // [1, s, d]
  torch::nn::ModuleList blocks_{nullptr};
  torch::nn::LayerNorm final_norm_{nullptr};
  torch::nn::Linear head_{nullptr};
  torch::Tensor causal_mask_;  // Buffer [V + Q, V + Q].
  // Alignment head (align_classes > 0), else undefined/null.
  torch::Tensor align_queries_;  // [G*G, d]
  torch::nn::LayerNorm align_norm_{nullptr};
  torch::nn::Linear align_out_{nullptr};
};
TORCH_MODULE(Vlm);

}  // namespace vlmscale::vlm

#endif  // VLMSCALE_VLM_VLM_H_
