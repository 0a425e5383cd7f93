// Visual token compressors: [B, G*G, C] patch features -> [B, V, C] visual tokens.
//
//   none         V = G*G, identity.
//   avgpool      adaptive 2-D average pooling to sqrt(V) x sqrt(V).         REQUIRES sqrt(V) <= G.
//   tokenpacker  sqrt(V) x sqrt(V) queries from bilinearly downsampling the grid (align_corners
//                false, as in the reference TokenPacker): each reads the centre of its k x k
//                region, the centre patch (odd k) or the mean of the 2 x 2 centre patches (even
//                k), which is the region mean (area interpolation) only for k <= 2. Each query
//                cross-attends to its own region (k = G / sqrt(V)).    REQUIRES sqrt(V) | G.
//   quecc        the question's last-layer LLM embedding is projected and added to every visual
//                token; an MLP and a depthwise strided conv (kernel k, stride k, groups C) make
//                sqrt(V) x sqrt(V) queries, each cross-attending to its own k x k region of keys
//                and values computed from the visual features.        REQUIRES sqrt(V) | G.
//   topk         query-agnostic: a learned query scores all G*G tokens; the V best are kept in
//                their original order, scaled by G*G * softmax score.     REQUIRES 1 <= V <= G*G.
//
// The constraints are those of CheckMethodTokens (vlm_options.h). FLOPs formulas: docs/MODEL.md.
#ifndef VLMSCALE_VLM_COMPRESSOR_H_
#define VLMSCALE_VLM_COMPRESSOR_H_

#include <torch/torch.h>

#include <cstdint>
#include <memory>
#include <string>

namespace vlmscale::vlm {

struct CompressorOptions {
  CompressorOptions(std::string method, int64_t grid_size, int64_t vision_width,
                    int64_t visual_tokens)
      : method_(std::move(method)),
        grid_size_(grid_size),
        vision_width_(vision_width),
        visual_tokens_(visual_tokens) {}
  TORCH_ARG(std::string, method);
  TORCH_ARG(int64_t, grid_size);      // G.
  TORCH_ARG(int64_t, vision_width);   // C.
  TORCH_ARG(int64_t, visual_tokens);  // V.
  // Width of the question embedding quecc receives (the LLM width). Default: 0 (unused).
  // REQUIRES: > 0 for quecc.
  TORCH_ARG(int64_t, question_width) = 0;
  // Attention heads of tokenpacker/quecc cross-attention. Default: 4. REQUIRES: C % heads == 0.
  TORCH_ARG(int64_t, heads) = 4;
  // quecc only: start as the average pooling it extends. The residual branches (question
  // projection, the MLP's output layer, the cross-attention's output projection) start at zero
  // and the strided convolution as the k x k mean, so that before any step quecc's tokens are
  // exactly avgpool's. False: PyTorch's default initialisation of every layer. Default: false.
  TORCH_ARG(bool, start_as_avgpool) = false;

 public:
  // "" if valid, else what is wrong (uses CheckMethodTokens (vlm_options.h)).
  std::string Check() const;
};

// Base class of every compressor.
class CompressorImpl : public torch::nn::Module {
 public:
  explicit CompressorImpl(const CompressorOptions& options) : options_(options) {}
  // features: [B, G*G, C]; question_embedding: [B, question_width] when needs_question(), else
  // ignored (may be undefined). Returns [B, V, C].
  virtual torch::Tensor forward(const torch::Tensor& features,
                                const torch::Tensor& question_embedding) = 0;
  // True if forward() uses the question embedding (quecc).
  virtual bool needs_question() const { return false; }
  // Forward FLOPs per sample of the compressor itself (a multiply-add counts 2), excluding the
  // LLM pass over the question that quecc needs (VlmImpl::compressor_flops_per_sample adds it).
  virtual double flops_per_sample() const = 0;
  const CompressorOptions& options() const { return options_; }

 protected:
  CompressorOptions options_;
};

// Builds the compressor for options.method(). REQUIRES: options.Check() == "".
std::shared_ptr<CompressorImpl> MakeCompressor(const CompressorOptions& options);

}  // namespace vlmscale::vlm

#endif  // VLMSCALE_VLM_COMPRESSOR_H_
