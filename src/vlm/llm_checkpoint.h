// The LLM checkpoint (llm.pt): the language-model part of a Vlm, saved by a pretrain_llm job and
// loaded by the finetune_eval jobs that need it.
//
// The LLM part is the token embedding, the decoder blocks, the final LayerNorm, the answer head
// (the parameters named token_embedding.*, blocks.*, final_norm.*, head.*) and the learned
// positions of the Q question tokens (the last Q rows of `positions`, the same for every V). The
// compressor and the positions of the visual tokens are not: they depend on the compression method
// and V, which a finetuning job chooses itself. The projector (encoder width -> LLM width, the same
// shape for every method and V) is saved too, and loaded only when asked (LlmLoadOptions): a
// finetuning job may start from it (train.projector_init = pretrained) or from a fresh one.
//
// File format: a torch archive (torch::serialize) with
//   format      "vlmscale.llm.v1"
//   width, depth, heads, mlp_ratio, vocab_size, num_answers, question_tokens
//               int64: the fingerprint
//   task        string: the task the head was trained on
//   question_positions   tensor [1, Q, width]
//   names       string: the parameter names, one a line, in Vlm::named_parameters() order
//               (files written before the projector was saved, 2026-12-04, have no projector.*)
//   p0, p1, ... tensors (float32, CPU), in the order of `names`
// written to PATH.tmp and renamed over PATH.
#ifndef VLMSCALE_VLM_LLM_CHECKPOINT_H_
#define VLMSCALE_VLM_LLM_CHECKPOINT_H_

#include <string>

#include "core/status.h"
#include "vlm/vlm.h"

namespace vlmscale::vlm {

// What LoadLlmCheckpoint did.
struct LlmLoadInfo {
  std::string task;                        // The task the checkpoint was trained on.
  int64_t tensors = 0;                     // Parameter tensors copied into the model.
  bool head_loaded = false;                // Whether the answer head was copied (same task only).
  bool question_positions_loaded = false;  // Whether Q matched (then they were copied).
  bool projector_loaded = false;           // Whether the projector was copied.
};

// What LoadLlmCheckpoint copies besides the LLM part.
struct LlmLoadOptions {
  bool projector = false;  // The pretraining's projector (train.projector_init = pretrained).
};

// Whether the parameter `name` of a Vlm (as in named_parameters()) belongs to the LLM part.
bool IsLlmParameter(const std::string& name);

// Whether the parameter `name` belongs to the projector.
bool IsProjectorParameter(const std::string& name);

// Writes the LLM part and the projector of `model`, trained on `task`, to `path` atomically (temp file + rename).
// kIOError naming the file when it cannot be written. Never throws.
Status SaveLlmCheckpoint(VlmImpl& model, const std::string& task, const std::string& path);

// Copies the LLM part stored in `path` into `model`, which is about to be trained on `task`. The
// fingerprint (width, depth, heads, mlp_ratio, vocab_size) must equal the model's. The answer
// head is copied only when the checkpoint's task is `task` (its answers are the same), the
// question positions only when Q is the model's; otherwise the model keeps its fresh ones. The
// projector is copied when options.projector (kInvalidInput when the file has none). Returns
// kIOError naming the file when it is missing or unreadable, kInvalidInput naming the file and each
// differing field when it does not fit the model; the model is unchanged on error. `info` may be
// null. Never throws.
Status LoadLlmCheckpoint(const std::string& path, const std::string& task,
                         const LlmLoadOptions& options, VlmImpl& model, LlmLoadInfo* info);

}  // namespace vlmscale::vlm

#endif  // VLMSCALE_VLM_LLM_CHECKPOINT_H_
