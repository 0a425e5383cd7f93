#include "vlm/llm_checkpoint.h"

#include <filesystem>
#include <map>
#include <sstream>
#include <utility>
#include <vector>

#include "core/strings.h"

namespace vlmscale::vlm {

namespace {

constexpr const char* kFormat = "vlmscale.llm.v1";

// The fingerprint fields, in file order, with the model's values.
std::vector<std::pair<const char*, int64_t>> FingerprintOf(const VlmOptions& o) {
  return {{"width", o.width},
          {"depth", o.depth},
          {"heads", o.heads},
          {"mlp_ratio", o.mlp_ratio},
          {"vocab_size", o.vocab_size},
          {"num_answers", o.num_answers},
          {"question_tokens", o.question_tokens}};
}

// Whether a fingerprint field must equal the model's (the others only decide what is copied).
bool MustMatch(const std::string& field) {
  return field != "num_answers" && field != "question_tokens";
}

// The question rows of the learned positions [1, V + Q, d]: [1, Q, d] (a view).
torch::Tensor QuestionPositions(VlmImpl& model) {
  const VlmOptions& o = model.options();
  for (const auto& item : model.named_parameters(/*recurse=*/false)) {
    if (item.key() == "positions") {
      return item.value().slice(1, o.visual_tokens, o.visual_tokens + o.question_tokens);
    }
  }
  CHECK(false) << "Vlm has no positions parameter";
  return {};
}

std::string ShapeText(const torch::Tensor& t) {
  std::string s = "[";
  for (int64_t i = 0; i < t.dim(); ++i) s += (i ? ", " : "") + std::to_string(t.size(i));
  return s + "]";
}

Status SaveOrThrow(VlmImpl& model, const std::string& task, const std::string& path) {
  torch::serialize::OutputArchive archive;
  archive.write("format", c10::IValue(std::string(kFormat)));
  for (const auto& [name, value] : FingerprintOf(model.options())) {
    archive.write(name, c10::IValue(value));
  }
  archive.write("task", c10::IValue(task));
  std::string names;
  int64_t index = 0;
  for (const auto& item : model.named_parameters()) {
    if (!IsLlmParameter(item.key()) && !IsProjectorParameter(item.key())) continue;
    names += item.key() + "\n";
    archive.write("p" + std::to_string(index++),
                  item.value().detach().to(torch::kCPU, torch::kFloat32).contiguous());
  }
  archive.write("names", c10::IValue(names));
  archive.write("question_positions",
                QuestionPositions(model).detach().to(torch::kCPU, torch::kFloat32).contiguous());
  const std::string tmp = path + ".tmp";
  archive.save_to(tmp);
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) {
    return Status::IOError("cannot rename " + tmp + " to " + path + ": " + ec.message() +
                           "; check that the job directory is writable");
  }
  return Status::OK();
}

Status LoadOrThrow(const std::string& path, const std::string& task,
                   const LlmLoadOptions& options, VlmImpl& model, LlmLoadInfo* info) {
  torch::serialize::InputArchive archive;
  archive.load_from(path, torch::kCPU);
  c10::IValue value;
  if (!archive.try_read("format", value) || !value.isString() || value.toStringRef() != kFormat) {
    return Status::InvalidInput("pretrained LLM " + path + " is not a " + kFormat +
                                " checkpoint (written by a pretrain_llm job)");
  }
  // Fingerprint: the LLM's shape and vocabulary must match; the others decide what is copied.
  std::string differs;
  std::map<std::string, int64_t> stored_fields;
  for (const auto& [name, expected] : FingerprintOf(model.options())) {
    if (!archive.try_read(name, value) || !value.isInt()) {
      return Status::InvalidInput("pretrained LLM " + path + " has no '" + name +
                                  "' in its fingerprint; rerun its pretrain_llm job");
    }
    const int64_t stored = value.toInt();
    stored_fields[name] = stored;
    if (MustMatch(name) && stored != expected) {
      differs += std::string(differs.empty() ? "" : ", ") + name + " " + std::to_string(stored) +
                 " in the file vs " + std::to_string(expected) + " in the model";
    }
  }
  if (!differs.empty()) {
    return Status::InvalidInput("pretrained LLM " + path + " does not fit the model: " + differs +
                                "; pretrain the same llm preset on a task with the same "
                                "vocabulary");
  }
  archive.read("task", value);
  const std::string file_task = value.toStringRef();
  const bool load_head =
      file_task == task && stored_fields["num_answers"] == model.options().num_answers;
  const bool load_question_positions =
      stored_fields["question_tokens"] == model.options().question_tokens;
  archive.read("names", value);
  std::map<std::string, int64_t> index_of;
  int64_t index = 0;
  for (const std::string& name : SplitTrimmed(value.toStringRef(), '\n')) {
    if (!name.empty()) index_of[name] = index++;
  }
  // Read and check everything before changing the model.
  std::vector<std::pair<torch::Tensor, torch::Tensor>> copies;  // (model parameter, stored)
  for (const auto& item : model.named_parameters()) {
    const bool projector = IsProjectorParameter(item.key());
    if (!IsLlmParameter(item.key()) && !(projector && options.projector)) continue;
    if (!load_head && StartsWith(item.key(), "head.")) continue;
    auto it = index_of.find(item.key());
    if (it == index_of.end() && projector) {
      return Status::InvalidInput(
          "pretrained LLM " + path + " has no projector (parameter '" + item.key() +
          "'): it was written before vlmscale saved the pretraining's projector; set "
          "train.projector_init = fresh, or pretrain again into a new results file");
    }
    if (it == index_of.end()) {
      return Status::InvalidInput("pretrained LLM " + path + " has no parameter '" + item.key() +
                                  "'; rerun its pretrain_llm job");
    }
    torch::Tensor stored;
    archive.read("p" + std::to_string(it->second), stored);
    if (!stored.sizes().equals(item.value().sizes())) {
      return Status::InvalidInput("pretrained LLM " + path + ": parameter '" + item.key() +
                                  "' has shape " + ShapeText(stored) + " in the file vs " +
                                  ShapeText(item.value()) + " in the model");
    }
    copies.emplace_back(item.value(), stored);
  }
  if (load_question_positions) {
    torch::Tensor stored;
    archive.read("question_positions", stored);
    torch::Tensor target = QuestionPositions(model);
    if (!stored.sizes().equals(target.sizes())) {
      return Status::InvalidInput("pretrained LLM " + path + ": question positions have shape " +
                                  ShapeText(stored) + " in the file vs " + ShapeText(target) +
                                  " in the model");
    }
    copies.emplace_back(target, stored);
  }
  {
    torch::NoGradGuard no_grad;
    for (auto& [param, stored] : copies) param.copy_(stored);
  }
  if (info != nullptr) {
    info->task = file_task;
    info->tensors = static_cast<int64_t>(copies.size());
    info->head_loaded = load_head;
    info->question_positions_loaded = load_question_positions;
    info->projector_loaded = options.projector;
  }
  return Status::OK();
}

}  // namespace

bool IsLlmParameter(const std::string& name) {
  for (const char* prefix : {"token_embedding.", "blocks.", "final_norm.", "head."}) {
    if (StartsWith(name, prefix)) return true;
  }
  return false;
}

bool IsProjectorParameter(const std::string& name) { return StartsWith(name, "projector."); }

Status SaveLlmCheckpoint(VlmImpl& model, const std::string& task, const std::string& path) {
  try {
    return SaveOrThrow(model, task, path);
  } catch (const c10::Error& e) {
    return Status::IOError("cannot write pretrained LLM " + path + ": " +
                           e.what_without_backtrace());
  } catch (const std::exception& e) {
    return Status::IOError("cannot write pretrained LLM " + path + ": " + e.what());
  }
}

Status LoadLlmCheckpoint(const std::string& path, const std::string& task,
                         const LlmLoadOptions& options, VlmImpl& model, LlmLoadInfo* info) {
  if (!std::filesystem::exists(path)) {
    return Status::IOError("pretrained LLM " + path + " does not exist");
  }
  try {
    return LoadOrThrow(path, task, options, model, info);
  } catch (const c10::Error& e) {
    return Status::IOError("cannot read pretrained LLM " + path + " (" +
                           e.what_without_backtrace() +
                           "); the file is damaged: delete it and rerun its pretrain_llm job");
  } catch (const std::exception& e) {
    return Status::IOError("cannot read pretrained LLM " + path + " (" + e.what() +
                           "); the file is damaged: delete it and rerun its pretrain_llm job");
  }
}

}  // namespace vlmscale::vlm
