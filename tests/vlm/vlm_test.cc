#include "vlm/vlm.h"

#include <gtest/gtest.h>

#include "config/sweep.h"
#include "jobs/job_type.h"
#include "core/strings.h"

namespace vlmscale::vlm {
namespace {

VlmOptions Tiny(const std::string& method = "avgpool", int64_t v = 16) {
  VlmOptions o;
  o.width = 32;
  o.depth = 2;
  o.heads = 2;
  o.vocab_size = 32;
  o.question_tokens = 8;
  o.num_answers = 21;
  o.grid_size = 8;
  o.vision_width = 32;
  o.method = method;
  o.visual_tokens = v;
  return o;
}

torch::Tensor Questions(int64_t b, int64_t seed) {
  torch::manual_seed(seed);
  return torch::randint(1, 32, {b, 8}, torch::kInt64);
}

TEST(VlmOptions, DefaultsAreValidOnceTheTaskFieldsAreSet) {
  VlmOptions o;
  std::string error;
  EXPECT_FALSE(o.IsValid(&error));
  EXPECT_NE(error.find("from the Task"), std::string::npos) << error;
  o.vocab_size = 32, o.question_tokens = 8, o.num_answers = 21;
  EXPECT_TRUE(o.IsValid(&error)) << error;
}

TEST(VlmOptions, ImpossibleVisualTokenCountsAreRejectedWithAClearMessage) {
  std::string error;
  EXPECT_FALSE(Tiny("quecc", 9).IsValid(&error));
  EXPECT_NE(error.find("method 'quecc' cannot produce 9 visual tokens from a 8x8 feature grid"),
            std::string::npos)
      << error;
  EXPECT_FALSE(Tiny("avgpool", 12).IsValid(&error));
  EXPECT_NE(error.find("perfect square"), std::string::npos) << error;
  EXPECT_FALSE(Tiny("none", 16).IsValid(&error));
  auto bad_heads = Tiny();
  bad_heads.heads = 3;
  EXPECT_FALSE(bad_heads.IsValid(&error));
  EXPECT_NE(error.find("multiple of heads"), std::string::npos) << error;
}

TEST(Vlm, ForwardGivesAnswerLogitsForEveryMethodAndSeveralV) {
  const std::vector<std::pair<std::string, std::vector<int64_t>>> cases = {
      {"none", {64}},
      {"avgpool", {1, 4, 16}},
      {"tokenpacker", {4, 16, 64}},
      {"quecc", {1, 4, 16}},
      {"topk", {3, 16}}};
  auto features = torch::randn({4, 64, 32});
  auto questions = Questions(4, 0);
  for (const auto& [method, vs] : cases) {
    for (int64_t v : vs) {
      Vlm model(Tiny(method, v));
      auto logits = model->forward(features, questions);
      EXPECT_EQ(logits.sizes(), (std::vector<int64_t>{4, 21})) << method << " V=" << v;
      EXPECT_EQ(model->Compress(features, questions).sizes(), (std::vector<int64_t>{4, v, 32}));
      EXPECT_EQ(model->HiddenStates(features, questions).sizes(),
                (std::vector<int64_t>{4, v + 8, 32}));
      EXPECT_TRUE(logits.isfinite().all().item<bool>());
      // Gradients reach the LLM, the projector and (if it has parameters) the compressor.
      logits.sum().backward();
      for (const auto& p : model->named_parameters()) {
        if (StartsWith(p.key(), "blocks.0.") || StartsWith(p.key(), "projector.") ||
            StartsWith(p.key(), "compressor.")) {
          ASSERT_TRUE(p.value().grad().defined()) << method << " " << p.key();
        }
      }
    }
  }
}

TEST(Vlm, ChangingALaterTokenDoesNotChangeEarlierOutputs) {
  torch::manual_seed(3);
  Vlm model(Tiny("avgpool", 16));
  model->eval();
  auto features = torch::randn({2, 64, 32});
  auto questions = Questions(2, 1);
  auto changed = questions.clone();
  changed.select(1, 5).fill_(7);  // Position V + 5 = 21 of 24.
  changed.select(1, 4).remainder_(31).add_(1);
  torch::NoGradGuard no_grad;
  auto a = model->HiddenStates(features, questions);
  auto b = model->HiddenStates(features, changed);
  const int64_t first_changed = 16 + 4;
  EXPECT_TRUE(
      torch::allclose(a.slice(1, 0, first_changed), b.slice(1, 0, first_changed), 1e-5, 1e-6));
  EXPECT_FALSE(torch::allclose(a.slice(1, first_changed), b.slice(1, first_changed), 1e-4, 1e-4));
}

TEST(Vlm, TheAnswerIsReadAtTheLastRealQuestionToken) {
  torch::manual_seed(5);
  auto features = torch::randn({3, 64, 32});
  // Questions of 3, 5 and 8 real tokens, right-padded with 0.
  auto questions = Questions(3, 2);
  questions[0].slice(0, 3).fill_(0);
  questions[1].slice(0, 5).fill_(0);
  const int64_t v = 4, last[3] = {v + 2, v + 4, v + 7};
  torch::NoGradGuard no_grad;
  for (const std::string method : {"avgpool", "quecc", "topk"}) {
    torch::manual_seed(6);
    Vlm model(Tiny(method, v));
    model->eval();
    auto logits = model->forward(features, questions);
    auto hidden = model->HiddenStates(features, questions);
    torch::nn::Linear head = nullptr;
    for (const auto& m : model->named_children()) {
      if (m.key() == "head") {
        head = torch::nn::Linear(std::dynamic_pointer_cast<torch::nn::LinearImpl>(m.value()));
      }
    }
    ASSERT_FALSE(head.is_empty());
    for (int64_t i = 0; i < 3; ++i) {
      EXPECT_TRUE(torch::allclose(logits[i], head(hidden[i][last[i]]), 1e-5, 1e-6))
          << method << " " << i;
      if (i < 2) {  // Not the padding position at the end.
        EXPECT_FALSE(torch::allclose(logits[i], head(hidden[i][v + 7]), 1e-4, 1e-4)) << method;
      }
    }
  }
}

TEST(Vlm, GridMethodsAddRowAndColumnEmbeddingsToTheVisualTokens) {
  for (const std::string method : {"avgpool", "none", "quecc", "tokenpacker"}) {
    Vlm model(Tiny(method, method == "none" ? 64 : 16));
    const int64_t side = method == "none" ? 8 : 4;
    bool row = false, column = false;
    for (const auto& p : model->named_parameters()) {
      if (p.key() == "row_positions") {
        row = true;
        EXPECT_EQ(p.value().sizes(), (std::vector<int64_t>{side, 1, 32})) << method;
      }
      if (p.key() == "column_positions") {
        column = true;
        EXPECT_EQ(p.value().sizes(), (std::vector<int64_t>{1, side, 32})) << method;
      }
    }
    EXPECT_TRUE(row && column) << method;
  }
  Vlm topk(Tiny("topk", 5));  // Selected tokens are not a grid: 1-D positions only.
  for (const auto& p : topk->named_parameters()) EXPECT_NE(p.key(), "row_positions");
}

TEST(Vlm, QueccTokensDependOnTheQuestionAndAvgpoolTokensDoNot) {
  torch::manual_seed(4);
  auto features = torch::randn({2, 64, 32});
  auto q1 = Questions(2, 10), q2 = Questions(2, 11);
  torch::NoGradGuard no_grad;
  Vlm quecc(Tiny("quecc", 4));
  EXPECT_FALSE(
      torch::allclose(quecc->Compress(features, q1), quecc->Compress(features, q2), 1e-4, 1e-4));
  for (const std::string method : {"avgpool", "tokenpacker", "topk", "none"}) {
    Vlm model(Tiny(method, method == "none" ? 64 : 4));
    EXPECT_TRUE(model->Compress(features, q1).equal(model->Compress(features, q2))) << method;
  }
}

TEST(Vlm, NonEmbeddingParametersMatchTheConfigFormulaForEveryPreset) {
  for (const config::LlmPreset& preset : jobs::BuiltinGridFacts().builtin_llms) {
    VlmOptions o = Tiny("quecc", 16);
    o.width = preset.width, o.depth = preset.depth, o.heads = preset.heads;
    o.mlp_ratio = preset.mlp_ratio;
    Vlm model(o);
    const double expected =
        LlmNonEmbeddingParams(preset.width, preset.depth, preset.mlp_ratio);
    EXPECT_EQ(model->llm_non_embedding_params(), expected) << preset.name;
    EXPECT_EQ(expected, preset.n_params) << preset.name;
    // Independently: everything minus embeddings, positions, projector, head and compressor.
    double rest = 0, excluded = 0;
    for (const auto& p : model->named_parameters()) {
      const bool excluded_part = StartsWith(p.key(), "token_embedding.") ||
                                 p.key() == "positions" || p.key() == "row_positions" ||
                                 p.key() == "column_positions" ||
                                 StartsWith(p.key(), "projector.") ||
                                 StartsWith(p.key(), "head.") || StartsWith(p.key(), "compressor.");
      (excluded_part ? excluded : rest) += static_cast<double>(p.value().numel());
    }
    EXPECT_EQ(rest, expected) << preset.name;
    EXPECT_GT(excluded, 0.0);
  }
}

TEST(Vlm, FixedSeedGivesIdenticalModelsAndOutputs) {
  auto features = torch::randn({2, 64, 32});
  auto questions = Questions(2, 5);
  torch::manual_seed(42);
  Vlm a(Tiny("quecc", 4));
  torch::manual_seed(42);
  Vlm b(Tiny("quecc", 4));
  EXPECT_TRUE(a->forward(features, questions).equal(b->forward(features, questions)));
  torch::manual_seed(43);
  Vlm c(Tiny("quecc", 4));
  EXPECT_FALSE(a->forward(features, questions).equal(c->forward(features, questions)));
}

TEST(Vlm, TheAlignmentHeadReadsEveryPatchAndLeavesTheRestOfTheModelAsItWas) {
  auto features = torch::randn({2, 64, 32});
  auto questions = Questions(2, 5);
  VlmOptions with_head = Tiny("quecc", 4);
  with_head.align_classes = 41;
  torch::manual_seed(42);
  Vlm plain(Tiny("quecc", 4));
  torch::manual_seed(42);
  Vlm aligned(with_head);
  // The head is created last: every other parameter starts from the same values.
  auto aligned_params = aligned->named_parameters();
  for (const auto& p : plain->named_parameters()) {
    ASSERT_NE(aligned_params.find(p.key()), nullptr) << p.key();
    EXPECT_TRUE(p.value().equal(aligned_params[p.key()])) << p.key();
  }
  EXPECT_EQ(plain->named_parameters().find("align_queries"), nullptr);
  EXPECT_GT(aligned_params.size(), plain->named_parameters().size());
  for (const auto& p : aligned_params) {
    if (p.key().rfind("align_", 0) == 0) EXPECT_TRUE(VlmImpl::IsVisualPathway(p.key())) << p.key();
  }
  VlmImpl::Outputs out = aligned->ForwardWithAlignment(features, questions);
  EXPECT_TRUE(out.answer_logits.equal(plain->forward(features, questions)));
  EXPECT_EQ(out.align_logits.sizes(), (std::vector<int64_t>{2, 64, 41}));
  // The patch logits depend on the image.
  EXPECT_FALSE(out.align_logits.equal(
      aligned->ForwardWithAlignment(torch::randn({2, 64, 32}), questions).align_logits));
  VlmOptions bad = Tiny();
  bad.align_classes = -1;
  std::string error, field;
  EXPECT_FALSE(bad.IsValid(&error, &field));
  EXPECT_EQ(field, "align_classes");
}

TEST(Vlm, QueccFlopsIncludeTheExtraQuestionPass) {
  Vlm quecc(Tiny("quecc", 16));
  Vlm packer(Tiny("tokenpacker", 16));
  const double n = quecc->llm_non_embedding_params();
  EXPECT_GT(quecc->compressor_flops_per_sample(),
            packer->compressor_flops_per_sample() + 2.0 * n * 8);
  Vlm none(Tiny("none", 64));
  EXPECT_EQ(none->compressor_flops_per_sample(), 0.0);
}

}  // namespace
}  // namespace vlmscale::vlm
