// Trainer: finetunes a Vlm on a task's generated training split, data-parallel over the ranks of a
// Communicator, then evaluates it on a fixed held-out set. One call is one grid point's work.
//
// Optimizer: AdamW (decoupled weight decay on matrices only; biases, LayerNorm and embeddings
// excluded), peak `lr` reached by linear warmup over `warmup_steps`, then cosine decay to 0 at
// `steps`; global-norm gradient clipping after the all-reduce.
//
// Data parallelism: at step s the global batch is the training examples with indices
// [s*B, (s+1)*B); rank r of n takes the contiguous slice [s*B + r*B/n, s*B + (r+1)*B/n) and
// generates only those. Each rank's loss is its examples' summed cross-entropy divided by B, so the
// all-reduced SUM of gradients is the gradient of the global mean loss (Horovod's "average", exact
// also when n does not divide B). Gradients live in flat buckets: every trainable parameter's
// .grad is a view into one of a few contiguous float buffers of at most `bucket_bytes`, each
// reduced with one Communicator::AllReduceSum. The last bucket carries three extra floats (the
// step's loss sum, a stop flag and a non-finite flag), so ranks agree on stopping and divergence at
// no extra collective. Parameters are broadcast from rank 0 before the first step.
//
// Checkpoints (`checkpoint_path` non-empty): on a stop request, after finishing the current step,
// rank 0 writes a torch archive (temp file + rename) with the model, the optimizer state, the step,
// the CPU RNG state, the curves so far and a fingerprint of the options; then every rank returns
// Status::Cancelled. A later call with the same options resumes from it and ends with the same
// result as an uninterrupted run (bitwise on one rank). A checkpoint whose fingerprint does not
// match the options is ignored (training starts over) and replaced at the next stop.
#ifndef VLMSCALE_TRAIN_TRAINER_H_
#define VLMSCALE_TRAIN_TRAINER_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "comm/communicator.h"
#include "core/status.h"
#include "store/job_record.h"
#include "train/step_data.h"
#include "train/train_options.h"
#include "tasks/task.h"
#include "vlm/vision_encoder.h"
#include "vlm/vlm.h"

namespace vlmscale::train {

struct TrainResult {
  // Evaluation (NaN until evaluated).
  double accuracy = store::JobRecord::kNaN;
  double error = store::JobRecord::kNaN;  // 1 - accuracy: the scaling law's Y.
  double eval_loss = store::JobRecord::kNaN;
  // Eval accuracy per question template (Task::question_types()), over the eval examples of that
  // template; NaN for a template with no eval example.
  std::map<std::string, double> type_accuracy;
  // With symbolic steps (TrainOptions::symbolic_steps > 0): the error on the same eval examples
  // read as symbolic scenes, what the model reaches with perfect perception; else NaN.
  double symbolic_error = store::JobRecord::kNaN;
  double inference_flops = 0.0;   // LLM FLOPs per sample: 2 * N * (Q + V).
  double compressor_flops = 0.0;  // The compressor's own forward FLOPs per sample.
  double latency_ms = 0.0;        // Eval forward (encoder + Vlm) milliseconds per sample.
  double llm_params = 0.0;        // N, the LLM's non-embedding parameters.
  double trainable_params = 0.0;  // Everything the optimizer updates.
  // Training.
  int64_t steps_done = 0;
  int64_t resumed_from_step = 0;  // 0 unless a checkpoint was loaded.
  double final_train_loss = store::JobRecord::kNaN;
  double train_seconds = 0.0;  // This call's training wall time (excludes eval).
  double eval_seconds = 0.0;
  double steps_per_second = 0.0;  // Over this call's steps.
  int num_buckets = 0;
  int64_t feature_cache_hits = 0;  // Batches (train and eval) served from the FeatureCache.
  // Sum of all trainable parameters after training (double accumulation): equal on every rank.
  double parameter_checksum = 0.0;
  // Curves: "train_loss" and "lr" every log_every steps; "eval_loss" and "eval_accuracy" at the
  // final step. Includes the points from before a resume.
  std::vector<store::CurvePoint> curves;
  // On failure: "error", "diverged" or "oom" (JobOutput::failure_class); "" otherwise.
  std::string failure_class;
};

// What a caller adds to the model TrainAndEvaluate builds (every member optional).
struct ModelHooks {
  // Called on every rank right after the model is initialized from the seed, when no checkpoint
  // is resumed (a checkpoint already holds what it set): e.g. copies pretrained weights in. If it
  // fails on any rank, every rank returns an error (the failing rank its own status).
  std::function<Status(vlm::VlmImpl&)> initialize;
  // Identifies what `initialize` puts in (e.g. the pretrained checkpoint's job id). Part of the
  // checkpoint fingerprint when non-empty, so a resumed run never mixes starts.
  std::string initialize_identity;
  // Called on every rank after training and evaluation succeeded (e.g. saves part of the model).
  // Its non-OK status is the call's, with failure_class "error".
  std::function<Status(vlm::VlmImpl&)> trained;
};

// Trains a Vlm built from `model_options` on `task` (features from the frozen `encoder`) and
// evaluates it. Every rank of `comm` calls this together with identical arguments. `stop` may be
// null; when it becomes true on any rank, the ranks checkpoint (see above) and return
// Status::Cancelled.
// Returns OK with *result filled; on failure a non-OK status and result->failure_class set:
// "diverged" for a non-finite loss or gradient, "oom" for std::bad_alloc, "error" for libtorch and
// communicator errors. Never throws. `hooks` may be null.
// REQUIRES: options.IsValid(); model_options matches the task and encoder (vocab_size,
// question_tokens, num_answers, grid_size, vision_width); comm and result non-null.
Status TrainAndEvaluate(const TrainOptions& options, const vlm::VlmOptions& model_options,
                        const tasks::Task& task, vlm::VisionEncoder encoder,
                        comm::Communicator* comm, const std::atomic<bool>* stop,
                        TrainResult* result, const ModelHooks* hooks = nullptr);

// The learning rate at 0-based `step`: lr * (step + 1) / warmup_steps during warmup, then
// lr * 0.5 * (1 + cos(pi * (step - warmup_steps) / (steps - warmup_steps))).
double LearningRateAt(const TrainOptions& options, int64_t step);

// The contiguous slice [*begin, *end) of `total` items that `rank` of `size` ranks owns:
// [rank * total / size, (rank + 1) * total / size). Slices are disjoint and cover [0, total).
void ShardRange(int64_t total, int rank, int size, int64_t* begin, int64_t* end);

}  // namespace vlmscale::train

#endif  // VLMSCALE_TRAIN_TRAINER_H_
