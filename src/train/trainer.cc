#include "train/trainer.h"

#include <ATen/CPUGeneratorImpl.h>
#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <mutex>
#include <new>
#include <sstream>

#include "core/hash.h"
#include "core/strings.h"
#include "train/feature_cache.h"
#include "train/step_data.h"

namespace vlmscale::train {

double LearningRateAt(const TrainOptions& options, int64_t step) {
  if (step < options.warmup_steps) {
    return options.lr * static_cast<double>(step + 1) / static_cast<double>(options.warmup_steps);
  }
  const int64_t decay_steps = options.steps - options.warmup_steps;
  if (decay_steps <= 0) return options.lr;
  const double progress =
      std::min(1.0, static_cast<double>(step - options.warmup_steps) / decay_steps);
  return options.lr * 0.5 * (1.0 + std::cos(M_PI * progress));
}

void ShardRange(int64_t total, int rank, int size, int64_t* begin, int64_t* end) {
  CHECK(size >= 1 && rank >= 0 && rank < size) << "rank " << rank << " of " << size;
  *begin = total * rank / size;
  *end = total * (rank + 1) / size;
}

namespace {

// Floats appended after the gradients of the last bucket: the rank's loss sum, stop flag and
// alignment loss sum.
constexpr int64_t kExtraFloats = 3;

// A contiguous float buffer whose first `grad_numel` elements back the .grad of some parameters.
struct Bucket {
  torch::Tensor flat;
  int64_t grad_numel = 0;
};

// Makes every trainable parameter's .grad a view into a bucket (gradients accumulate in place,
// so the bucket needs no copy-in/copy-out around the all-reduce).
std::vector<Bucket> MakeBuckets(const std::vector<torch::Tensor>& params, int64_t bucket_bytes,
                                const torch::Device& device) {
  const int64_t cap = std::max<int64_t>(1, bucket_bytes / static_cast<int64_t>(sizeof(float)));
  std::vector<std::vector<torch::Tensor>> groups(1);
  std::vector<int64_t> sizes(1, 0);
  for (const torch::Tensor& p : params) {
    if (sizes.back() > 0 && sizes.back() + p.numel() > cap) {
      groups.emplace_back();
      sizes.push_back(0);
    }
    groups.back().push_back(p);
    sizes.back() += p.numel();
  }
  std::vector<Bucket> buckets(groups.size());
  for (size_t b = 0; b < groups.size(); ++b) {
    const int64_t extra = (b + 1 == groups.size()) ? kExtraFloats : 0;
    buckets[b].grad_numel = sizes[b];
    buckets[b].flat =
        torch::zeros({sizes[b] + extra}, torch::dtype(torch::kFloat32).device(device));
    int64_t offset = 0;
    for (torch::Tensor p : groups[b]) {
      p.mutable_grad() = buckets[b].flat.narrow(0, offset, p.numel()).view(p.sizes());
      offset += p.numel();
    }
  }
  return buckets;
}

// Copies rank 0's values of `tensors` to every rank (one broadcast of host memory).
Status BroadcastTensors(const std::vector<torch::Tensor>& tensors, comm::Communicator* comm) {
  if (comm->size() == 1 || tensors.empty()) return Status::OK();
  torch::NoGradGuard no_grad;
  std::vector<torch::Tensor> flat_parts;
  for (const torch::Tensor& t : tensors) {
    flat_parts.push_back(t.detach().to(torch::kCPU, torch::kFloat32).reshape({-1}));
  }
  torch::Tensor flat = torch::cat(flat_parts).contiguous();
  VLM_RETURN_IF_ERROR(comm->Broadcast(flat.data_ptr<float>(), flat.numel() * sizeof(float), 0));
  int64_t offset = 0;
  for (torch::Tensor t : tensors) {
    t.copy_(flat.narrow(0, offset, t.numel()).view(t.sizes()));
    offset += t.numel();
  }
  return Status::OK();
}

// Identity of everything that determines the training trajectory: a checkpoint is only resumed
// under the same fingerprint.
std::string Fingerprint(const TrainOptions& o, const vlm::VlmOptions& m, const tasks::Task& task,
                        const std::string& init_identity) {
  std::ostringstream s;
  s << "task=" << task.name() << " image_size=" << task.image_size() << " seed=" << o.seed
    << " steps=" << o.steps << " batch=" << o.batch_size << " lr=" << FormatNumber(o.lr, 17)
    << " warmup=" << o.warmup_steps
    << (o.align_steps > 0 ? " align=" + std::to_string(o.align_steps) : "")
    // Absent at their defaults, so older checkpoints resume.
    << (o.visual_lr > 0.0 ? " visual_lr=" + FormatNumber(o.visual_lr, 17) : "")
    << (o.align_aux_weight > 0.0 ? " align_aux=" + FormatNumber(o.align_aux_weight, 17) : "")
    << (o.symbolic_steps > 0 ? " symbolic=" + std::to_string(o.symbolic_steps) : "")
    << (o.curriculum_steps > 0 ? " curriculum=" + std::to_string(o.curriculum_steps) : "")
    << " wd=" << FormatNumber(o.weight_decay, 17) << " clip=" << FormatNumber(o.grad_clip, 17)
    << " log_every=" << o.log_every << " width=" << m.width << " depth=" << m.depth
    << " heads=" << m.heads << " mlp_ratio=" << m.mlp_ratio << " vocab=" << m.vocab_size
    << " q=" << m.question_tokens << " answers=" << m.num_answers << " grid=" << m.grid_size
    << " vision=" << m.vision_width << " method=" << m.method << " v=" << m.visual_tokens
    << (m.quecc_init != "random" ? " quecc_init=" + m.quecc_init : "");
  if (!init_identity.empty()) s << " init=" << init_identity;  // Absent: older checkpoints resume.
  return HexId(s.str());
}

std::string CurvesToText(const std::vector<store::CurvePoint>& curves) {
  std::string text;
  char line[128];
  for (const store::CurvePoint& p : curves) {
    std::snprintf(line, sizeof(line), "\t%lld\t%a\n", static_cast<long long>(p.step), p.value);
    text += p.name + line;
  }
  return text;
}

std::vector<store::CurvePoint> CurvesFromText(const std::string& text) {
  std::vector<store::CurvePoint> curves;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    std::vector<std::string> f = SplitTrimmed(line, '\t');
    if (f.size() != 3) continue;
    store::CurvePoint p;
    p.name = f[0];
    p.step = std::stoll(f[1]);
    p.value = std::strtod(f[2].c_str(), nullptr);
    curves.push_back(p);
  }
  return curves;
}

at::Generator CpuGenerator() { return at::detail::getDefaultCPUGenerator(); }

struct Checkpoint {
  int64_t next_step = 0;
  std::vector<store::CurvePoint> curves;
};

// Writes the checkpoint to a temp file next to `path`, then renames it over `path`.
Status SaveCheckpoint(const std::string& path, const std::string& fingerprint, int64_t next_step,
                      const std::vector<store::CurvePoint>& curves, vlm::Vlm& model,
                      torch::optim::Optimizer& optimizer) {
  torch::serialize::OutputArchive archive;
  archive.write("fingerprint", c10::IValue(fingerprint));
  archive.write("next_step", c10::IValue(next_step));
  archive.write("curves", c10::IValue(CurvesToText(curves)));
  torch::serialize::OutputArchive model_archive;
  model->save(model_archive);
  archive.write("model", model_archive);
  torch::serialize::OutputArchive optimizer_archive;
  optimizer.save(optimizer_archive);
  archive.write("optimizer", optimizer_archive);
  {
    at::Generator gen = CpuGenerator();
    std::lock_guard<std::mutex> lock(gen.mutex());
    archive.write("rng", gen.get_state(), /*is_buffer=*/true);
  }
  const std::string tmp = path + ".tmp";
  archive.save_to(tmp);
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) {
    return Status::IOError("cannot rename checkpoint " + tmp + " to " + path + ": " + ec.message() +
                           "; check that the job directory is writable");
  }
  return Status::OK();
}

// Loads `path` into model, optimizer and the CPU RNG if it exists and matches `fingerprint`.
// Returns false in *loaded when there is nothing to resume.
Status LoadCheckpoint(const std::string& path, const std::string& fingerprint, vlm::Vlm& model,
                      torch::optim::Optimizer& optimizer, const torch::Device& device,
                      Checkpoint* checkpoint, bool* loaded) {
  *loaded = false;
  if (path.empty() || !std::filesystem::exists(path)) return Status::OK();
  torch::serialize::InputArchive archive;
  archive.load_from(path, device);
  c10::IValue value;
  archive.read("fingerprint", value);
  if (value.toStringRef() != fingerprint) return Status::OK();  // Other settings: start over.
  archive.read("next_step", value);
  checkpoint->next_step = value.toInt();
  archive.read("curves", value);
  checkpoint->curves = CurvesFromText(value.toStringRef());
  torch::serialize::InputArchive model_archive;
  archive.read("model", model_archive);
  model->load(model_archive);
  torch::serialize::InputArchive optimizer_archive;
  archive.read("optimizer", optimizer_archive);
  optimizer.load(optimizer_archive);
  torch::Tensor rng;
  archive.read("rng", rng, /*is_buffer=*/true);
  {
    at::Generator gen = CpuGenerator();
    std::lock_guard<std::mutex> lock(gen.mutex());
    gen.set_state(rng.to(torch::kCPU));
  }
  *loaded = true;
  return Status::OK();
}

std::vector<int64_t> Iota(int64_t begin, int64_t end) {
  std::vector<int64_t> v;
  v.reserve(static_cast<size_t>(std::max<int64_t>(0, end - begin)));
  for (int64_t i = begin; i < end; ++i) v.push_back(i);
  return v;
}

// Runs the frozen encoder on `batch`'s images and moves its questions and answers to `device`.
// The features are kept in half precision (kFeatureStorage), as LLaVA-style pipelines keep the
// frozen CLIP encoder's output: it halves the FeatureCache's memory, so a whole quickstart job's
// training set fits in it. Every consumer reads them through ForModel, cached or not, so a
// result never depends on whether a batch came from the cache.
constexpr torch::ScalarType kFeatureStorage = torch::kHalf;

CachedBatch Encode(const tasks::Batch& batch, vlm::VisionEncoder& encoder,
                   const torch::Device& device) {
  CachedBatch encoded;
  {
    torch::NoGradGuard no_grad;
    encoded.features = encoder->forward(batch.images.to(device)).to(kFeatureStorage);
  }
  encoded.questions = batch.questions.to(device);
  encoded.answers = batch.answers.to(device);
  encoded.types = batch.types;
  if (batch.patch_labels.defined()) encoded.patch_labels = batch.patch_labels.to(device);
  return encoded;
}

// The batch as the model takes it: the stored half-precision features widened to float (a new
// tensor; the cached entry is never modified).
CachedBatch ForModel(CachedBatch stored) {
  stored.features = stored.features.to(torch::kFloat);
  return stored;
}

// The encoder features, questions and answers of examples [begin, end) of a split (with the
// patch labels of a label_grid x label_grid grid when label_grid > 0), as the model takes them
// (ForModel), from the process FeatureCache when options.feature_cache_key is set and the entry
// exists.
CachedBatch EncodedBatch(const TrainOptions& options, const tasks::Task& task,
                         vlm::VisionEncoder& encoder, const torch::Device& device,
                         tasks::Split split, uint64_t seed, int64_t begin, int64_t end,
                         int64_t label_grid, TrainResult* result) {
  std::string key;
  CachedBatch cached;
  if (!options.feature_cache_key.empty()) {
    key = options.feature_cache_key + "|" + task.name() + "|" + std::to_string(task.image_size()) +
          "|" + (split == tasks::Split::kTrain ? "train" : "eval") + "|" + std::to_string(seed) +
          "|" + std::to_string(begin) + "|" + std::to_string(end) + "|" + device.str() +
          (label_grid > 0 ? "|labels" + std::to_string(label_grid) : "");
    if (FeatureCache::Process().Get(key, &cached)) {
      ++result->feature_cache_hits;
      return ForModel(cached);
    }
  }
  cached = Encode(task.MakeBatch(split, seed, Iota(begin, end), label_grid), encoder, device);
  if (!key.empty()) FeatureCache::Process().Put(key, cached, options.feature_cache_bytes);
  return ForModel(cached);
}

double Seconds(std::chrono::steady_clock::time_point since) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - since).count();
}

Status Evaluate(const TrainOptions& options, const tasks::Task& task, vlm::VisionEncoder& encoder,
                vlm::Vlm& model, const torch::Device& device, comm::Communicator* comm,
                TrainResult* result) {
  const auto start = std::chrono::steady_clock::now();
  torch::NoGradGuard no_grad;
  model->eval();
  int64_t begin = 0;
  int64_t end = 0;
  ShardRange(options.eval_examples, comm->rank(), comm->size(), &begin, &end);
  // correct, loss sum, examples, timed forward seconds, timed examples, then (correct, examples)
  // per question type.
  const std::vector<std::string>& type_names = task.question_types();
  const int64_t num_types = static_cast<int64_t>(type_names.size());
  std::vector<double> sums(5 + 2 * num_types, 0.0);
  for (int64_t lo = begin; lo < end; lo += options.eval_batch_size) {
    const int64_t hi = std::min(end, lo + options.eval_batch_size);
    // Latency is timed on the first batch, from images (encoder + Vlm); the other batches' encoder
    // features may come from the process FeatureCache (the eval set is the same for every job).
    const bool timed = lo == begin;
    CachedBatch batch;
    std::chrono::steady_clock::time_point forward_start;
    if (timed) {
      tasks::Batch raw = task.MakeBatch(tasks::Split::kEval, options.eval_seed, Iota(lo, hi), 0);
      forward_start = std::chrono::steady_clock::now();
      batch = ForModel(Encode(raw, encoder, device));
    } else {
      batch = EncodedBatch(options, task, encoder, device, tasks::Split::kEval, options.eval_seed,
                           lo, hi, /*label_grid=*/0, result);
    }
    torch::Tensor logits = model->forward(batch.features, batch.questions);
    if (timed) {
      (void)logits.sum().item<float>();  // Wait for the device before stopping the clock.
      sums[3] += Seconds(forward_start);
      sums[4] += static_cast<double>(hi - lo);
    }
    torch::Tensor hits = logits.argmax(1).eq(batch.answers).to(torch::kCPU, torch::kFloat64);
    sums[0] += hits.sum().item<double>();
    sums[1] += torch::nn::functional::cross_entropy(
                   logits, batch.answers,
                   torch::nn::functional::CrossEntropyFuncOptions().reduction(torch::kSum))
                   .item<double>();
    sums[2] += static_cast<double>(hi - lo);
    // Per type: hits and examples, by a weighted bincount over the template ids.
    CHECK(batch.types.min().item<int64_t>() >= 0 && batch.types.max().item<int64_t>() < num_types)
        << "question type out of range";
    torch::Tensor type_hits = torch::bincount(batch.types, hits, num_types);
    torch::Tensor type_counts = torch::bincount(batch.types, {}, num_types);
    for (int64_t t = 0; t < num_types; ++t) {
      sums[5 + 2 * t] += type_hits[t].item<double>();
      sums[6 + 2 * t] += static_cast<double>(type_counts[t].item<int64_t>());
    }
  }
  VLM_RETURN_IF_ERROR(comm->AllReduceSumHost(sums.data(), sums.size()));
  result->accuracy = sums[0] / sums[2];
  result->error = 1.0 - result->accuracy;
  result->eval_loss = sums[1] / sums[2];
  result->latency_ms = 1000.0 * sums[3] / sums[4];
  for (int64_t t = 0; t < num_types; ++t) {
    const double n = sums[6 + 2 * t];
    result->type_accuracy[type_names[t]] = n > 0 ? sums[5 + 2 * t] / n : store::JobRecord::kNaN;
  }
  result->eval_seconds = Seconds(start);
  return Status::OK();
}

// The error on the same eval examples read as symbolic scenes (TrainResult::symbolic_error).
Status EvaluateSymbolic(const TrainOptions& options, const tasks::Task& task, int64_t grid_size,
                        const torch::Tensor& prototypes, vlm::Vlm& model,
                        const torch::Device& device, comm::Communicator* comm,
                        TrainResult* result) {
  torch::NoGradGuard no_grad;
  model->eval();
  int64_t begin = 0;
  int64_t end = 0;
  ShardRange(options.eval_examples, comm->rank(), comm->size(), &begin, &end);
  double sums[2] = {0.0, 0.0};  // Correct, examples.
  for (int64_t lo = begin; lo < end; lo += options.eval_batch_size) {
    const int64_t hi = std::min(end, lo + options.eval_batch_size);
    const CachedBatch batch = SymbolicBatch(
        task.MakeBatch(tasks::Split::kEval, options.eval_seed, Iota(lo, hi), grid_size),
        prototypes, device);
    torch::Tensor logits = model->forward(batch.features, batch.questions);
    sums[0] += logits.argmax(1).eq(batch.answers).sum().item<double>();
    sums[1] += static_cast<double>(hi - lo);
  }
  VLM_RETURN_IF_ERROR(comm->AllReduceSumHost(sums, 2));
  result->symbolic_error = 1.0 - sums[0] / sums[1];
  return Status::OK();
}

Status TrainAndEvaluateImpl(const TrainOptions& options, const vlm::VlmOptions& model_options,
                            const tasks::Task& task, vlm::VisionEncoder encoder,
                            comm::Communicator* comm, const std::atomic<bool>* stop,
                            TrainResult* result, const ModelHooks& hooks) {
  const torch::Device device =
      options.device < 0 ? torch::Device(torch::kCPU) : torch::Device(torch::kCUDA, options.device);
  const int rank = comm->rank();
  const int world = comm->size();
  if (options.batch_size < world || options.eval_examples < world) {
    return Status::InvalidInput("train batch_size (" + std::to_string(options.batch_size) +
                                ") and eval examples (" + std::to_string(options.eval_examples) +
                                ") must be at least the job's rank count " + std::to_string(world) +
                                "; lower run.ranks_per_job");
  }

  // Frozen encoder.
  encoder->to(device);
  encoder->Freeze();
  torch::Tensor prototypes;  // For the symbolic steps; before the seed (they draw no randomness).
  if (options.symbolic_steps > 0) {
    prototypes =
        SymbolicPrototypes(encoder, task.image_size(), model_options.grid_size, device);
  }

  // Model: the same seed on every rank, then rank 0's values broadcast (bitwise identical start).
  torch::manual_seed(options.seed);
  vlm::Vlm model(model_options);
  model->to(device);
  model->train();
  std::vector<torch::Tensor> params;
  // Optimizer groups: [visual pathway, LLM] x [decay, no decay]. Without an alignment phase or a
  // visual learning rate the two pathways share groups (the layout of earlier checkpoints).
  const bool two_pathways = options.align_steps > 0 || options.visual_lr > 0.0;
  std::vector<torch::Tensor> decay[2], no_decay[2];
  std::vector<torch::Tensor> frozen_while_aligning;
  for (const auto& item : model->named_parameters()) {
    const torch::Tensor& p = item.value();
    if (!p.requires_grad()) continue;
    if (p.scalar_type() != torch::kFloat32 || !p.is_contiguous()) {
      return Status::Runtime("trainer requires contiguous float32 parameters");
    }
    params.push_back(p);
    const bool llm = two_pathways && !vlm::VlmImpl::IsVisualPathway(item.key());
    if (llm && options.align_steps > 0) frozen_while_aligning.push_back(p);
    (p.dim() >= 2 ? decay : no_decay)[llm ? 1 : 0].push_back(p);
  }
  result->llm_params = model->llm_non_embedding_params();
  result->compressor_flops = model->compressor_flops_per_sample();
  result->inference_flops =
      2.0 * result->llm_params *
      static_cast<double>(task.question_tokens() + model_options.visual_tokens);
  double trainable = 0.0;
  for (const torch::Tensor& p : params) trainable += static_cast<double>(p.numel());
  result->trainable_params = trainable;

  std::vector<torch::optim::OptimizerParamGroup> groups;
  for (int pathway = 0; pathway < (two_pathways ? 2 : 1); ++pathway) {
    groups.emplace_back(
        decay[pathway],
        std::make_unique<torch::optim::AdamWOptions>(
            torch::optim::AdamWOptions(options.lr).weight_decay(options.weight_decay)));
    groups.emplace_back(no_decay[pathway],
                        std::make_unique<torch::optim::AdamWOptions>(
                            torch::optim::AdamWOptions(options.lr).weight_decay(0.0)));
  }
  torch::optim::AdamW optimizer(
      std::move(groups), torch::optim::AdamWOptions(options.lr).weight_decay(options.weight_decay));

  // Resume.
  const std::string fingerprint =
      Fingerprint(options, model_options, task, hooks.initialize_identity);
  Checkpoint checkpoint;
  bool loaded = false;
  VLM_RETURN_IF_ERROR(LoadCheckpoint(options.checkpoint_path, fingerprint, model, optimizer, device,
                                     &checkpoint, &loaded));
  int64_t start_step = loaded ? checkpoint.next_step : 0;
  Status initialized = Status::OK();
  if (!loaded && hooks.initialize) initialized = hooks.initialize(*model);
  {
    // Every rank must resume from the same step (the checkpoint must be on a shared filesystem),
    // and every rank's initialize hook must have succeeded.
    double agree[3] = {static_cast<double>(start_step),
                       static_cast<double>(start_step) * start_step, initialized.ok() ? 0.0 : 1.0};
    VLM_RETURN_IF_ERROR(comm->AllReduceSumHost(agree, 3));
    VLM_RETURN_IF_ERROR(initialized);
    if (agree[2] > 0.0) {
      return Status::Runtime("initializing the model failed on another rank (see its log)");
    }
    if (agree[0] * agree[0] != agree[1] * world) {
      return Status::Runtime("ranks disagree on the checkpoint step to resume from (rank " +
                             std::to_string(rank) + " has " + std::to_string(start_step) +
                             "); put run directories on a filesystem every rank can read");
    }
  }
  result->resumed_from_step = start_step;
  if (loaded) result->curves = checkpoint.curves;
  VLM_RETURN_IF_ERROR(BroadcastTensors(params, comm));

  std::vector<Bucket> buckets = MakeBuckets(params, options.bucket_bytes, device);
  result->num_buckets = static_cast<int>(buckets.size());
  Bucket& last = buckets.back();
  const double global_batch = static_cast<double>(options.batch_size);
  int64_t shard_begin = 0;
  int64_t shard_end = 0;
  ShardRange(options.batch_size, rank, world, &shard_begin, &shard_end);
  namespace F = torch::nn::functional;
  const auto sum_loss = F::CrossEntropyFuncOptions().reduction(torch::kSum);

  const auto train_start = std::chrono::steady_clock::now();
  int64_t step = start_step;
  bool stopping = false;
  for (; step < options.steps; ++step) {
    const double lr = LearningRateAt(options, step);
    // The visual pathway's rate follows the same schedule from its own peak.
    const double visual_lr = options.visual_lr > 0.0 ? lr * (options.visual_lr / options.lr) : lr;
    const bool aligning = step < options.align_steps;
    for (size_t g = 0; g < optimizer.param_groups().size(); ++g) {
      // Groups 2 and 3 hold the LLM (only with two pathways): frozen while aligning.
      const bool llm_group = two_pathways && g >= 2;
      static_cast<torch::optim::AdamWOptions&>(optimizer.param_groups()[g].options())
          .lr(llm_group ? (aligning ? 0.0 : lr) : (two_pathways ? visual_lr : lr));
    }
    for (Bucket& b : buckets) b.flat.zero_();

    const int64_t base = step * options.batch_size;
    const bool align_loss = aligning && options.align_aux_weight > 0.0;
    const bool symbolic = step < options.symbolic_steps;
    CachedBatch batch;
    if (symbolic || step < options.curriculum_steps) {
      // Not memoized: these examples are drawn once, by one pretraining job per size.
      const std::vector<int64_t> all = StepExamples(options, task, step);
      const std::vector<int64_t> mine(all.begin() + shard_begin, all.begin() + shard_end);
      const tasks::Batch raw =
          task.MakeBatch(tasks::Split::kTrain, options.seed, mine,
                         symbolic || align_loss ? model_options.grid_size : 0);
      batch = symbolic ? SymbolicBatch(raw, prototypes, device)
                       : ForModel(Encode(raw, encoder, device));
    } else {
      batch = EncodedBatch(options, task, encoder, device, tasks::Split::kTrain, options.seed,
                           base + shard_begin, base + shard_end,
                           align_loss ? model_options.grid_size : 0, result);
    }
    torch::Tensor loss_sum;
    torch::Tensor align_sum;  // Per-example mean patch cross-entropy, summed over the batch.
    if (align_loss) {
      vlm::VlmImpl::Outputs out = model->ForwardWithAlignment(batch.features, batch.questions);
      loss_sum = F::cross_entropy(out.answer_logits, batch.answers, sum_loss);
      align_sum = F::cross_entropy(out.align_logits.reshape({-1, out.align_logits.size(-1)}),
                                   batch.patch_labels.reshape({-1}), sum_loss) /
                  static_cast<double>(batch.patch_labels.size(1));
      ((loss_sum + options.align_aux_weight * align_sum) / global_batch).backward();
    } else {
      torch::Tensor logits = model->forward(batch.features, batch.questions);
      loss_sum = F::cross_entropy(logits, batch.answers, sum_loss);
      (loss_sum / global_batch).backward();
    }

    // Piggyback the loss and the stop flag on the last bucket.
    {
      torch::NoGradGuard no_grad;
      last.flat.narrow(0, last.grad_numel, 1).copy_(loss_sum.detach().reshape({1}));
      const bool stop_here = stop != nullptr && stop->load(std::memory_order_relaxed);
      last.flat.narrow(0, last.grad_numel + 1, 1).fill_(stop_here ? 1.0f : 0.0f);
      last.flat.narrow(0, last.grad_numel + 2, 1)
          .fill_(align_loss ? align_sum.detach().item<float>() : 0.0f);
    }
    for (Bucket& b : buckets) {
      VLM_RETURN_IF_ERROR(comm->AllReduceSum(b.flat.data_ptr<float>(), b.flat.numel()));
    }
    torch::Tensor extras = last.flat.narrow(0, last.grad_numel, kExtraFloats).to(torch::kCPU);
    const double loss = static_cast<double>(extras[0].item<float>()) / global_batch;
    stopping = extras[1].item<float>() > 0.0f;
    const double align_loss_value = static_cast<double>(extras[2].item<float>()) / global_batch;

    if (aligning) {
      // The frozen LLM's gradients (views into the buckets) are zeroed: they neither count in
      // the clipping norm nor feed its AdamW moments; its learning rate is 0, so it stays put.
      for (torch::Tensor& p : frozen_while_aligning) p.mutable_grad().zero_();
    }
    // Global gradient norm of the reduced gradients, then clipping (torch's clip_grad_norm_).
    double norm_sq = 0.0;
    for (Bucket& b : buckets) {
      norm_sq += b.flat.narrow(0, 0, b.grad_numel).pow(2).sum().item<double>();
    }
    const double norm = std::sqrt(norm_sq);
    if (!std::isfinite(loss) || !std::isfinite(norm)) {
      result->failure_class = "diverged";
      result->steps_done = step;
      return Status::Runtime("training diverged at step " + std::to_string(step) + " (loss " +
                             FormatNumber(loss) + ", gradient norm " + FormatNumber(norm) +
                             "); lower train.lr or raise train.warmup_steps");
    }
    if (options.grad_clip > 0.0) {
      const double coef = options.grad_clip / (norm + 1e-6);
      if (coef < 1.0) {
        for (Bucket& b : buckets) b.flat.narrow(0, 0, b.grad_numel).mul_(coef);
      }
    }
    optimizer.step();

    if (step % options.log_every == 0 || step + 1 == options.steps) {
      result->curves.push_back({"train_loss", step, loss});
      result->curves.push_back({"lr", step, lr});
      if (align_loss) result->curves.push_back({"align_loss", step, align_loss_value});
    }
    result->final_train_loss = loss;
    if (options.on_step) options.on_step(StepInfo{step, loss, lr, norm, &result->curves});
    if (stopping && step + 1 < options.steps) {
      ++step;
      break;
    }
    stopping = false;
  }
  result->steps_done = step;
  result->train_seconds = Seconds(train_start);
  {
    torch::NoGradGuard no_grad;
    double checksum = 0.0;
    for (const torch::Tensor& p : params) checksum += p.sum().to(torch::kFloat64).item<double>();
    result->parameter_checksum = checksum;
  }
  if (step > start_step) result->steps_per_second = (step - start_step) / result->train_seconds;

  if (stopping) {
    Status saved = Status::OK();
    if (!options.checkpoint_path.empty() && rank == 0) {
      saved = SaveCheckpoint(options.checkpoint_path, fingerprint, step, result->curves, model,
                             optimizer);
    }
    VLM_RETURN_IF_ERROR(comm->Barrier());
    VLM_RETURN_IF_ERROR(saved);
    return Status::Cancelled(
        "stopped at step " + std::to_string(step) + " of " + std::to_string(options.steps) +
        (options.checkpoint_path.empty() ? " (no checkpoint)"
                                         : "; checkpoint " + options.checkpoint_path));
  }

  if (options.on_evaluate) options.on_evaluate();
  VLM_RETURN_IF_ERROR(Evaluate(options, task, encoder, model, device, comm, result));
  if (prototypes.defined()) {
    VLM_RETURN_IF_ERROR(EvaluateSymbolic(options, task, model_options.grid_size, prototypes, model,
                                         device, comm, result));
  }
  result->curves.push_back({"eval_loss", options.steps, result->eval_loss});
  result->curves.push_back({"eval_accuracy", options.steps, result->accuracy});
  if (hooks.trained) VLM_RETURN_IF_ERROR(hooks.trained(*model));
  return Status::OK();
}

}  // namespace

Status TrainAndEvaluate(const TrainOptions& options, const vlm::VlmOptions& model_options,
                        const tasks::Task& task, vlm::VisionEncoder encoder,
                        comm::Communicator* comm, const std::atomic<bool>* stop,
                        TrainResult* result, const ModelHooks* hooks) {
  CHECK(comm != nullptr && result != nullptr);
  *result = TrainResult();
  std::string error;
  if (!options.IsValid(&error)) {
    result->failure_class = "error";
    return Status::InvalidInput(error);
  }
  if (!model_options.IsValid(&error)) {
    result->failure_class = "error";
    return Status::InvalidInput(error);
  }
  Status status;
  try {
    status = TrainAndEvaluateImpl(options, model_options, task, std::move(encoder), comm, stop,
                                  result, hooks != nullptr ? *hooks : ModelHooks());
  } catch (const c10::OutOfMemoryError& e) {
    result->failure_class = "oom";
    status = Status::Runtime(std::string("out of memory: ") + e.what_without_backtrace());
  } catch (const c10::Error& e) {
    result->failure_class = "error";
    status = Status::Runtime(std::string("libtorch error: ") + e.what_without_backtrace());
  } catch (const std::bad_alloc& e) {
    result->failure_class = "oom";
    status = Status::Runtime(std::string("out of memory (std::bad_alloc): ") + e.what() +
                             "; lower train.batch_size or eval.batch_size");
  } catch (const std::exception& e) {
    result->failure_class = "error";
    status = Status::Runtime(std::string("training failed: ") + e.what());
  }
  if (!status.ok() && !status.IsCancelled() && result->failure_class.empty()) {
    result->failure_class = "error";
  }
  return status;
}

}  // namespace vlmscale::train
