#include "vlm/vlm_options.h"

#include <algorithm>
#include <cmath>

namespace vlmscale::vlm {

namespace {

// Bump when the architecture or pretraining recipe changes: it invalidates cached encoders.
constexpr const char* kEncoderVersion = "vlmscale-encoder-v2";

// Stores the message and field and returns false.
bool Fail(std::string* error, std::string* field, const char* name, const std::string& message) {
  if (error != nullptr) *error = message;
  if (field != nullptr) *field = name;
  return false;
}

}  // namespace

const std::vector<std::string>& CompressorNames() {
  static const std::vector<std::string> m = {"none", "avgpool", "tokenpacker", "quecc", "topk"};
  return m;
}

std::string CheckMethodTokens(const std::string& method, int64_t v, int64_t g) {
  if (v < 1) return "at least 1 visual token";
  if (g < 1 || g > (int64_t{1} << 31)) return "a feature grid side G in [1, 2^31]";
  const int64_t all = g * g;  // No overflow: g <= 2^31.
  if (method == "none") {
    if (v != all) {
      return "method 'none' keeps all G*G = " + std::to_string(all) +
             " encoder tokens (model.grid_size = " + std::to_string(g) +
             "), so visual_tokens = " + std::to_string(all);
    }
    return "";
  }
  if (v > all) {
    return "at most G*G = " + std::to_string(all) +
           " visual tokens (model.grid_size = " + std::to_string(g) + ")";
  }
  if (method == "topk") return "";
  int64_t s = static_cast<int64_t>(std::llround(std::sqrt(static_cast<double>(v))));
  if (s * s != v) {
    return "a perfect square for grid-based method '" + method + "' (1, 4, 9, 16, ...)";
  }
  if ((method == "tokenpacker" || method == "quecc") && g % s != 0) {
    return "sqrt(visual_tokens) dividing model.grid_size = " + std::to_string(g) + " for method '" +
           method + "' (each query covers a k x k region, k = G / sqrt(V))";
  }
  return "";
}

double LlmNonEmbeddingParams(int64_t width, int64_t depth, int64_t mlp_ratio) {
  const double d = static_cast<double>(width);
  const double r = static_cast<double>(mlp_ratio);
  const double attention = 4.0 * d * d + 4.0 * d;  // qkv (3d^2+3d) + out (d^2+d)
  const double mlp = 2.0 * r * d * d + r * d + d;  // d->rd (rd^2+rd) + rd->d (rd^2+d)
  const double norms = 4.0 * d;                    // two LayerNorms (weight+bias)
  return static_cast<double>(depth) * (attention + mlp + norms) + 2.0 * d;  // + final LayerNorm
}

bool EncoderOptions::IsValid(std::string* error, std::string* field) const {
  tasks::TaskOptions task;
  task.image_size = image_size;
  std::string task_error;
  if (!task.IsValid(&task_error)) return Fail(error, field, "image_size", task_error);
  if (grid_size < 1 || grid_size > 64) {
    return Fail(error, field, "grid_size",
                "grid_size must be in [1, 64], got " + std::to_string(grid_size));
  }
  if (image_size % grid_size != 0) {
    return Fail(error, field, "image_size",
                "image_size (" + std::to_string(image_size) +
                    ") must be a multiple of grid_size (" + std::to_string(grid_size) +
                    ") so patches tile the image");
  }
  if (vision_width < 16 || vision_width > 1024 || vision_width % 16 != 0) {
    return Fail(
        error, field, "vision_width",
        "vision_width must be a multiple of 16 in [16, 1024], got " + std::to_string(vision_width));
  }
  if (depth < 0 || depth > 24) {
    return Fail(error, field, "depth", "depth must be in [0, 24], got " + std::to_string(depth));
  }
  if (pretrain_steps < 0 || pretrain_steps > 1000000) {
    return Fail(error, field, "pretrain_steps",
                "pretrain_steps must be in [0, 1000000], got " + std::to_string(pretrain_steps));
  }
  return true;
}

std::string EncoderOptions::CanonicalText() const {
  return std::string(kEncoderVersion) + ";image_size=" + std::to_string(image_size) +
         ";grid_size=" + std::to_string(grid_size) +
         ";vision_width=" + std::to_string(vision_width) + ";depth=" + std::to_string(depth) +
         ";pretrain_steps=" + std::to_string(pretrain_steps) + ";seed=" + std::to_string(seed);
}

bool VlmOptions::IsValid(std::string* error, std::string* field) const {
  if (width < 1 || depth < 1 || heads < 1 || mlp_ratio < 1) {
    const char* name = width < 1   ? "width"
                       : depth < 1 ? "depth"
                       : heads < 1 ? "heads"
                                   : "mlp_ratio";
    return Fail(error, field, name,
                "LLM width, depth, heads and mlp_ratio must all be >= 1 (got width=" +
                    std::to_string(width) + ", depth=" + std::to_string(depth) + ", heads=" +
                    std::to_string(heads) + ", mlp_ratio=" + std::to_string(mlp_ratio) + ")");
  }
  if (width % heads != 0) {
    return Fail(error, field, "heads",
                "LLM width (" + std::to_string(width) + ") must be a multiple of heads (" +
                    std::to_string(heads) + ")");
  }
  if (vocab_size < 2 || question_tokens < 1 || num_answers < 2) {
    return Fail(error, field, "vocab_size",
                "vocab_size >= 2, question_tokens >= 1 and num_answers >= 2 are required; set "
                "them from the Task (got " +
                    std::to_string(vocab_size) + ", " + std::to_string(question_tokens) + ", " +
                    std::to_string(num_answers) + ")");
  }
  if (grid_size < 1 || vision_width < 4 || vision_width % 4 != 0) {
    return Fail(error, field, grid_size < 1 ? "grid_size" : "vision_width",
                "grid_size must be >= 1 and vision_width a positive multiple of 4 (got " +
                    std::to_string(grid_size) + ", " + std::to_string(vision_width) + ")");
  }
  const auto& known = CompressorNames();
  if (std::find(known.begin(), known.end(), method) == known.end()) {
    return Fail(error, field, "method",
                "unknown compression method '" + method + "' (known: none, avgpool, " +
                    "tokenpacker, quecc, topk)");
  }
  const std::string expected = CheckMethodTokens(method, visual_tokens, grid_size);
  if (!expected.empty()) {
    return Fail(error, field, "visual_tokens",
                "method '" + method + "' cannot produce " + std::to_string(visual_tokens) +
                    " visual tokens from a " + std::to_string(grid_size) + "x" +
                    std::to_string(grid_size) + " feature grid: expected " + expected);
  }
  if (align_classes < 0) {
    return Fail(error, field, "align_classes",
                "align_classes must be >= 0 (got " + std::to_string(align_classes) + ")");
  }
  if (quecc_init != "random" && quecc_init != "avgpool") {
    return Fail(error, field, "quecc_init",
                "quecc_init must be random or avgpool (got '" + quecc_init + "')");
  }
  return true;
}

}  // namespace vlmscale::vlm
