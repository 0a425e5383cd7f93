// The trainer's options (no libtorch): what one finetune-and-evaluate call does, each default
// written once, here. train/trainer.h runs it.
#ifndef VLMSCALE_TRAIN_TRAIN_OPTIONS_H_
#define VLMSCALE_TRAIN_TRAIN_OPTIONS_H_

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "store/job_record.h"

namespace vlmscale::train {

// What the trainer reports after every optimizer step (TrainOptions::on_step).
struct StepInfo {
  int64_t step = 0;   // 0-based index of the step just applied.
  double loss = 0.0;  // Global mean training loss of the step.
  double lr = 0.0;
  double grad_norm = 0.0;  // Global gradient norm before clipping.
  // Every curve point of the training so far (this step's, if logged, last). Never null.
  const std::vector<store::CurvePoint>* curves = nullptr;
};

struct TrainOptions {
  // Seed of the parameter initialization and of the training data stream.
  // Default: 0.
  uint64_t seed = 0;
  // Seed of the evaluation set; fixed so every job of a sweep is scored on the same examples.
  // Default: 0.
  uint64_t eval_seed = 0;
  // Optimizer steps. Default: 300. REQUIRES: >= 1.
  int64_t steps = 300;
  // Global batch size (summed over ranks). Default: 32. REQUIRES: >= number of ranks.
  int64_t batch_size = 32;
  // Peak learning rate. Default: 0.003. REQUIRES: > 0.
  double lr = 0.003;
  // Learning rate per LLM width: the peak rate a model of width d trains with is
  // lr * (lr_reference_width / d)^lr_width_exponent (ScaledLearningRate), so one setting serves
  // a ladder of sizes: wider models need smaller Adam steps (muP's hidden-weight rule is exponent
  // 1). Default: 0 (every width trains with lr). REQUIRES: 0 <= lr_width_exponent <= 2.
  double lr_width_exponent = 0.0;
  // The width that trains with exactly lr. Default: 32. REQUIRES: >= 1.
  int64_t lr_reference_width = 32;
  // Linear warmup steps. Default: 30. REQUIRES: 0 <= warmup_steps <= steps.
  int64_t warmup_steps = 30;
  // The first steps are an alignment phase, as LLaVA's stage 1: only the compressor, the
  // projector and the visual token positions learn (the LLM's learning rate is 0 and its moments
  // untouched), so a pretrained LLM is not disturbed while the visual pathway learns to speak to
  // it. Then every parameter trains (align_steps = steps: the LLM stays frozen). Default: 0.
  // REQUIRES: 0 <= align_steps <= steps.
  int64_t align_steps = 0;
  // Peak learning rate of the visual pathway (compressor, projector, visual positions, alignment
  // head), with the same schedule; not scaled by lr_width_exponent, since the pathway's own width
  // is the encoder's, the same for every LLM size. 0: the LLM's rate. Default: 0.
  // REQUIRES: visual_lr >= 0.
  double visual_lr = 0.0;
  // Weight of the alignment loss: during the first align_steps steps the visual pathway also
  // learns to read every encoder patch's label (which object or character covers it) back from
  // the projected visual tokens (vlm::VlmImpl::ForwardWithAlignment), as LLaVA's stage 1 learns
  // from captions. 0: the answer loss alone. Default: 0.
  // REQUIRES: align_aux_weight >= 0; > 0 only with align_steps >= 1.
  double align_aux_weight = 0.0;
  // The first symbolic_steps steps read a symbolic scene instead of the image: each encoder
  // patch's features are replaced by the prototype of what covers its centre (which object or
  // character, or background; tasks/pretext.h), the mean frozen-encoder feature of that class
  // over pretext images (SymbolicPrototypes). The LLM then learns the question language and the
  // reasoning from perfect perception, through the same compressor and projector that later read
  // real features near those prototypes. Evaluation always reads images. Default: 0.
  // REQUIRES: 0 <= symbolic_steps <= steps.
  int64_t symbolic_steps = 0;
  // The first curriculum_steps steps follow a curriculum over the task's question templates
  // (tasks::Task::question_levels(), L levels): split evenly into L phases, phase k draws only
  // templates of level <= k, from a stream of train examples disjoint from the uncurricular
  // steps' (StepExamples). Default: 0. REQUIRES: 0 <= curriculum_steps <= steps.
  int64_t curriculum_steps = 0;
  // AdamW decoupled weight decay. Default: 0.01. REQUIRES: >= 0.
  double weight_decay = 0.01;
  // Maximum global gradient norm; 0 disables clipping. Default: 1.0. REQUIRES: >= 0.
  double grad_clip = 1.0;
  // Steps between train_loss / lr curve points (the last step is always logged). Default: 10.
  // REQUIRES: >= 1.
  int64_t log_every = 10;
  // Held-out evaluation examples. Default: 512. REQUIRES: >= number of ranks.
  int64_t eval_examples = 512;
  // Evaluation batch size per rank. Default: 128. REQUIRES: >= 1.
  int64_t eval_batch_size = 128;
  // Largest gradient bucket in bytes (a parameter larger than this gets a bucket of its own).
  // Default: 16 MiB. REQUIRES: >= 4.
  int64_t bucket_bytes = 16 << 20;
  // Checkpoint file written on a stop request and resumed from; "" disables checkpointing (a stop
  // request then just returns Cancelled). Default: "".
  std::string checkpoint_path;
  // Torch device: -1 for CPU, otherwise a CUDA device index. Default: -1.
  int device = -1;
  // Identity of the frozen encoder's weights (the job uses its cache file path). When non-empty,
  // each batch's encoder features, questions and answers are memoized in the process-wide
  // FeatureCache under (this key, task, image size, split, seed, index range): later trainings in
  // the same process with the same task and seed skip data generation and the encoder, with
  // bitwise the same features (stored in half precision, which every batch goes through, cached
  // or not). "" disables it. Not part of the checkpoint fingerprint.
  // Default: "".
  std::string feature_cache_key;
  // Budget of the process-wide feature cache in bytes (entries beyond it are not stored).
  // Default: 1 GiB (run.feature_cache_mb sets it in MiB). REQUIRES: >= 0.
  int64_t feature_cache_bytes = int64_t{1} << 30;
  // Called on every rank after every optimizer step (progress reports, heartbeats); may set the
  // stop flag. Not part of the checkpoint fingerprint. Default: none.
  std::function<void(const StepInfo&)> on_step;
  // Called on every rank when training is over and the evaluation begins. Not part of the
  // checkpoint fingerprint. Default: none.
  std::function<void()> on_evaluate;

  // Returns true if valid; otherwise stores what is wrong in *error and the violated field's
  // name in *field (each if non-null).
  bool IsValid(std::string* error, std::string* field = nullptr) const;
};

// The peak learning rate for an LLM of `width`: options.lr scaled by
// (lr_reference_width / width)^lr_width_exponent; options.lr when the exponent is 0 or width <= 0.
double ScaledLearningRate(const TrainOptions& options, int64_t width);

}  // namespace vlmscale::train

#endif  // VLMSCALE_TRAIN_TRAIN_OPTIONS_H_
