#include "vlm/vision_encoder.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "core/check.h"
#include "core/hash.h"
#include "core/strings.h"
#include "tasks/pretext.h"
#include "tasks/task_facts.h"

namespace vlmscale::vlm {

namespace F = torch::nn::functional;

namespace {

constexpr int64_t kPretrainBatch = 32;
constexpr int64_t kPretextEvalImages = 256;
constexpr int64_t kPretextEvalOffset = int64_t{1} << 40;  // Held-out pretext indices.

// Saves the global CPU generator state and restores it on destruction.
class GeneratorStateGuard {
 public:
  GeneratorStateGuard() : generator_(at::detail::getDefaultCPUGenerator()) {
    std::lock_guard<std::mutex> lock(generator_.mutex());
    state_ = generator_.get_state();
  }
  ~GeneratorStateGuard() {
    std::lock_guard<std::mutex> lock(generator_.mutex());
    generator_.set_state(state_);
  }

 private:
  at::Generator generator_;
  at::Tensor state_;
};

// Sets the intra-op thread count and restores it on destruction.
class ThreadsGuard {
 public:
  explicit ThreadsGuard(int threads) : saved_(at::get_num_threads()) {
    at::set_num_threads(threads);
  }
  ~ThreadsGuard() { at::set_num_threads(saved_); }

 private:
  int saved_;
};

std::vector<int64_t> Indices(int64_t begin, int64_t count) {
  std::vector<int64_t> v(count);
  for (int64_t i = 0; i < count; ++i) v[i] = begin + i;
  return v;
}

}  // namespace



VisionEncoderImpl::VisionEncoderImpl(const EncoderOptions& options) : options_(options) {
  std::string error;
  CHECK(options.IsValid(&error)) << error;
  const int64_t c = options.vision_width, g = options.grid_size;
  // Overlapping patch embedding: each token sees its p x p patch plus a margin of q pixels on
  // every side (kernel p + 2q, stride p, padding q), enough to read a glyph split by a patch edge.
  const int64_t patch = options.image_size / g;
  const int64_t margin = std::max<int64_t>(1, patch / 2);
  patchify_ = register_module(
      "patchify",
      torch::nn::Conv2d(
          torch::nn::Conv2dOptions(3, c, patch + 2 * margin).stride(patch).padding(margin)));
  positions_ = register_parameter("positions", torch::randn({1, g * g, c}) * 0.02);
  blocks_ = register_module("blocks", torch::nn::ModuleList());
  for (int64_t i = 0; i < options.depth; ++i) {
    blocks_->push_back(TransformerBlock(BlockOptions(c, c / 16)));
  }
  norm_ = register_module("norm", torch::nn::LayerNorm(torch::nn::LayerNormOptions({c})));
}

torch::Tensor VisionEncoderImpl::forward(const torch::Tensor& images) {
  std::optional<torch::NoGradGuard> no_grad;
  if (frozen_) no_grad.emplace();
  CHECK(images.dim() == 4 && images.size(1) == 3 && images.size(2) == options_.image_size &&
        images.size(3) == options_.image_size)
      << "expected images [B, 3, " << options_.image_size << ", " << options_.image_size << "]";
  auto x = patchify_((images - 0.5) * 4.0).flatten(2).transpose(1, 2) + positions_;  // [B,G*G,C]
  for (const auto& block : *blocks_) x = block->as<TransformerBlock>()->forward(x);
  return norm_(x);
}

void VisionEncoderImpl::Freeze() {
  for (auto& p : parameters()) p.set_requires_grad(false);
  eval();
  frozen_ = true;
}

std::string PretrainSummary::BriefReport() const {
  char buffer[256];
  std::snprintf(buffer, sizeof(buffer),
                "encoder pretraining: %lld steps, loss %.3f -> %.3f, held-out patch accuracy "
                "%.3f, %.1f s",
                static_cast<long long>(steps), initial_loss, final_loss, eval_accuracy, seconds);
  return buffer;
}

PretrainSummary PretrainEncoder(VisionEncoder& encoder, int threads,
                                const PretrainProgress& on_step) {
  CHECK(!encoder->frozen()) << "PretrainEncoder needs a fresh, unfrozen encoder";
  CHECK_GE(threads, 1);
  const auto start = std::chrono::steady_clock::now();
  ThreadsGuard threads_guard(threads);
  GeneratorStateGuard generator_guard;
  const EncoderOptions& options = encoder->options();
  torch::manual_seed(options.seed ^ 0x5eed);
  tasks::TaskOptions task_options;
  task_options.image_size = options.image_size;
  torch::nn::Linear head(options.vision_width, tasks::kNumPretextClasses);

  std::vector<torch::Tensor> params = encoder->parameters();
  for (auto& p : head->parameters()) params.push_back(p);
  const double peak_lr = 3e-3;
  torch::optim::AdamW optimizer(params, torch::optim::AdamWOptions(peak_lr).weight_decay(1e-4));
  const int64_t steps = options.pretrain_steps;
  const int64_t warmup = std::max<int64_t>(1, std::min<int64_t>(20, steps / 10));

  PretrainSummary summary;
  summary.steps = steps;
  double tail_sum = 0.0;
  int64_t tail_count = 0;
  encoder->train();
  for (int64_t step = 0; step < steps; ++step) {
    const double lr =
        step < warmup
            ? peak_lr * (step + 1) / warmup
            : peak_lr * 0.5 *
                  (1.0 + std::cos(M_PI * (step - warmup) / std::max<int64_t>(1, steps - warmup)));
    for (auto& group : optimizer.param_groups()) group.options().set_lr(lr);
    tasks::PretextBatch batch =
        tasks::MakePretextBatch(task_options, options.grid_size, options.seed,
                                Indices(step * kPretrainBatch, kPretrainBatch));
    auto logits = head(encoder->forward(batch.images));  // [B, G*G, K]
    auto loss = F::cross_entropy(logits.flatten(0, 1), batch.labels.flatten());
    optimizer.zero_grad();
    loss.backward();
    optimizer.step();
    const double value = loss.item<double>();
    if (step == 0) summary.initial_loss = value;
    if (step >= steps - std::max<int64_t>(1, steps / 10)) tail_sum += value, ++tail_count;
    if (on_step) on_step(step + 1, steps, value);
  }
  summary.final_loss = tail_count > 0 ? tail_sum / tail_count : 0.0;
  encoder->Freeze();
  {
    torch::NoGradGuard no_grad;
    tasks::PretextBatch batch =
        tasks::MakePretextBatch(task_options, options.grid_size, options.seed,
                                Indices(kPretextEvalOffset, kPretextEvalImages));
    auto predicted = head(encoder->forward(batch.images)).argmax(-1);
    summary.eval_accuracy = predicted.eq(batch.labels).to(torch::kFloat64).mean().item<double>();
  }
  summary.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return summary;
}

std::string EncoderCachePath(const EncoderOptions& options, const std::string& cache_dir) {
  // The encoder is pretrained on generated images: a new generator version is a new encoder.
  const std::string text = options.CanonicalText() + tasks::TaskGeneratorsText();
  return (std::filesystem::path(cache_dir) / ("encoder-" + HexId(text) + ".pt")).string();
}

namespace {

// Holds an exclusive flock on a lock file while alive.
class FileLock {
 public:
  explicit FileLock(const std::string& path) {
    fd_ = ::open(path.c_str(), O_CREAT | O_RDWR | O_CLOEXEC, 0644);
    if (fd_ < 0) return;
    while (::flock(fd_, LOCK_EX) != 0) {
      if (errno != EINTR) {
        ::close(fd_);
        fd_ = -1;
        return;
      }
    }
  }
  ~FileLock() {
    if (fd_ >= 0) {
      ::flock(fd_, LOCK_UN);
      ::close(fd_);
    }
  }
  bool ok() const { return fd_ >= 0; }

 private:
  int fd_ = -1;
};

Result<VisionEncoder> LoadCached(const EncoderOptions& options, const std::string& path) {
  try {
    GeneratorStateGuard generator_guard;  // Construction draws initial weights; keep RNG as is.
    VisionEncoder encoder(options);
    torch::load(encoder, path);
    encoder->Freeze();
    return encoder;
  } catch (const std::exception& e) {
    return Status::IOError("cannot load the cached vision encoder " + path + ": " + e.what() +
                           "; delete the file to pretrain it again");
  }
}

}  // namespace

Result<VisionEncoder> LoadOrPretrainEncoder(const EncoderOptions& options,
                                            const std::string& cache_dir, int threads,
                                            LoadInfo* info, const PretrainProgress& on_step) {
  CHECK_GE(threads, 1);
  const auto start = std::chrono::steady_clock::now();
  std::string error;
  if (!options.IsValid(&error)) return Status::InvalidInput("encoder options: " + error);
  const std::string path = EncoderCachePath(options, cache_dir);
  LoadInfo local_info;
  LoadInfo& out = info != nullptr ? *info : local_info;
  out = LoadInfo();
  out.path = path;
  auto finish = [&](Result<VisionEncoder> result) {
    out.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    return result;
  };
  // Fast path: the file appears only by an atomic rename, so if it exists it is complete.
  if (std::filesystem::exists(path)) return finish(LoadCached(options, path));

  std::error_code ec;
  std::filesystem::create_directories(cache_dir, ec);
  if (ec) {
    return Status::IOError("cannot create the encoder cache directory " + cache_dir + ": " +
                           ec.message() + " (set model.cache_dir to a writable directory)");
  }
  FileLock lock(path + ".lock");
  if (!lock.ok()) {
    return Status::IOError("cannot lock " + path + ".lock: " + std::strerror(errno) +
                           " (set model.cache_dir to a writable directory)");
  }
  if (std::filesystem::exists(path)) return finish(LoadCached(options, path));  // Another won.

  try {
    GeneratorStateGuard generator_guard;
    torch::manual_seed(options.seed);
    VisionEncoder encoder(options);
    out.summary = PretrainEncoder(encoder, threads, on_step);
    out.pretrained = true;
    const std::string tmp = path + ".tmp." + std::to_string(::getpid());
    torch::save(encoder, tmp);
    nlohmann::json side_car = {{"options", options.CanonicalText()},
                               {"steps", out.summary.steps},
                               {"initial_loss", out.summary.initial_loss},
                               {"final_loss", out.summary.final_loss},
                               {"eval_accuracy", out.summary.eval_accuracy},
                               {"seconds", out.summary.seconds},
                               {"threads", threads}};
    std::ofstream(path.substr(0, path.size() - 3) + ".json") << side_car.dump(2) << "\n";
    if (std::rename(tmp.c_str(), path.c_str()) != 0) {
      const std::string reason = std::strerror(errno);
      std::remove(tmp.c_str());
      return Status::IOError("cannot rename " + tmp + " to " + path + ": " + reason);
    }
    return finish(std::move(encoder));
  } catch (const std::exception& e) {
    return Status::IOError("cannot pretrain or cache the vision encoder at " + path + ": " +
                           e.what());
  }
}

}  // namespace vlmscale::vlm
