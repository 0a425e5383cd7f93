#include "train/train_options.h"

#include <cmath>

#include "core/strings.h"

namespace vlmscale::train {

bool TrainOptions::IsValid(std::string* error, std::string* field) const {
  auto fail = [error, field](const char* name, const std::string& message) {
    if (error != nullptr) *error = message;
    if (field != nullptr) *field = name;
    return false;
  };
  if (steps < 1) return fail("steps", "train steps must be >= 1, got " + std::to_string(steps));
  if (batch_size < 1)
    return fail("batch_size", "train batch_size must be >= 1, got " + std::to_string(batch_size));
  if (!(lr > 0.0) || !std::isfinite(lr))
    return fail("lr", "train lr must be > 0, got " + FormatNumber(lr));
  if (!(lr_width_exponent >= 0.0 && lr_width_exponent <= 2.0)) {
    return fail("lr_width_exponent",
                "train lr_width_exponent must be in [0, 2], got " + FormatNumber(lr_width_exponent));
  }
  if (lr_reference_width < 1) {
    return fail("lr_reference_width",
                "train lr_reference_width must be >= 1, got " + std::to_string(lr_reference_width));
  }
  if (warmup_steps < 0 || warmup_steps > steps) {
    return fail("warmup_steps", "train warmup_steps must be in [0, steps=" + std::to_string(steps) +
                                    "], got " + std::to_string(warmup_steps));
  }
  if (align_steps < 0 || align_steps > steps) {
    return fail("align_steps", "train align_steps must be in [0, steps=" + std::to_string(steps) +
                                   "], got " + std::to_string(align_steps));
  }
  if (symbolic_steps < 0 || symbolic_steps > steps) {
    return fail("symbolic_steps", "train symbolic_steps must be in [0, steps=" +
                                      std::to_string(steps) + "], got " +
                                      std::to_string(symbolic_steps));
  }
  if (curriculum_steps < 0 || curriculum_steps > steps) {
    return fail("curriculum_steps", "train curriculum_steps must be in [0, steps=" +
                                        std::to_string(steps) + "], got " +
                                        std::to_string(curriculum_steps));
  }
  if (!(visual_lr >= 0.0) || !std::isfinite(visual_lr)) {
    return fail("visual_lr", "train visual_lr must be >= 0, got " + FormatNumber(visual_lr));
  }
  if (!(align_aux_weight >= 0.0) || !std::isfinite(align_aux_weight)) {
    return fail("align_aux_weight",
                "train align_aux_weight must be >= 0, got " + FormatNumber(align_aux_weight));
  }
  if (align_aux_weight > 0.0 && align_steps < 1) {
    return fail("align_aux_weight",
                "train align_aux_weight > 0 needs an alignment phase (align_steps >= 1)");
  }
  if (!(weight_decay >= 0.0)) {
    return fail("weight_decay",
                "train weight_decay must be >= 0, got " + FormatNumber(weight_decay));
  }
  if (!(grad_clip >= 0.0))
    return fail("grad_clip", "train grad_clip must be >= 0, got " + FormatNumber(grad_clip));
  if (log_every < 1)
    return fail("log_every", "train log_every must be >= 1, got " + std::to_string(log_every));
  if (eval_examples < 1) {
    return fail("eval_examples",
                "eval examples must be >= 1, got " + std::to_string(eval_examples));
  }
  if (eval_batch_size < 1) {
    return fail("eval_batch_size",
                "eval batch_size must be >= 1, got " + std::to_string(eval_batch_size));
  }
  if (bucket_bytes < 4) {
    return fail("bucket_bytes", "bucket_bytes must be >= 4, got " + std::to_string(bucket_bytes));
  }
  if (device < -1)
    return fail("device", "device must be -1 (CPU) or a CUDA index, got " + std::to_string(device));
  return true;
}

double ScaledLearningRate(const TrainOptions& options, int64_t width) {
  if (options.lr_width_exponent == 0.0 || width <= 0) return options.lr;
  return options.lr * std::pow(static_cast<double>(options.lr_reference_width) /
                                   static_cast<double>(width),
                               options.lr_width_exponent);
}

}  // namespace vlmscale::train
