#include "vlm/compressor.h"

#include <gtest/gtest.h>

#include <cmath>

namespace vlmscale::vlm {
namespace {

constexpr int64_t kG = 8, kC = 32, kD = 24;

CompressorOptions Options(const std::string& method, int64_t v) {
  return CompressorOptions(method, kG, kC, v).question_width(kD);
}

TEST(Compressor, EveryMethodProducesVTokensForSeveralV) {
  const std::vector<std::pair<std::string, std::vector<int64_t>>> cases = {
      {"none", {64}},
      {"avgpool", {1, 4, 9, 16, 25, 36, 64}},
      {"tokenpacker", {1, 4, 16, 64}},
      {"quecc", {1, 4, 16, 64}},
      {"topk", {1, 5, 16, 63, 64}}};
  torch::manual_seed(0);
  auto features = torch::randn({3, kG * kG, kC});
  auto question = torch::randn({3, kD});
  for (const auto& [method, vs] : cases) {
    for (int64_t v : vs) {
      ASSERT_EQ(Options(method, v).Check(), "") << method << " V=" << v;
      auto compressor = MakeCompressor(Options(method, v));
      auto out = compressor->forward(features, question);
      EXPECT_EQ(out.sizes(), (std::vector<int64_t>{3, v, kC})) << method << " V=" << v;
      EXPECT_TRUE(out.isfinite().all().item<bool>()) << method;
      EXPECT_GE(compressor->flops_per_sample(), 0.0);
    }
  }
}

TEST(Compressor, TokenCountsTheMethodCannotProduceAreRejectedWithAReason) {
  struct Case {
    std::string method;
    int64_t v;
    std::string expected;
  };
  const std::vector<Case> cases = {{"none", 16, "keeps all G*G = 64"},
                                   {"avgpool", 10, "perfect square"},
                                   {"avgpool", 81, "at most G*G = 64"},
                                   {"tokenpacker", 9, "dividing model.grid_size = 8"},
                                   {"quecc", 36, "dividing model.grid_size = 8"},
                                   {"topk", 65, "at most G*G = 64"},
                                   {"topk", 0, "at least 1"},
                                   {"avgpol", 16, "unknown compression method 'avgpol'"}};
  for (const Case& c : cases) {
    const std::string error = Options(c.method, c.v).Check();
    EXPECT_NE(error.find(c.expected), std::string::npos) << c.method << " " << c.v << ": " << error;
  }
  EXPECT_NE(CompressorOptions("quecc", kG, kC, 16).Check().find("question_width"),
            std::string::npos);
}

TEST(Compressor, AvgpoolMatchesRegionMeansWhenVDividesTheGrid) {
  auto compressor = MakeCompressor(Options("avgpool", 4));
  auto features = torch::randn({2, kG * kG, kC});
  auto out = compressor->forward(features, {});
  auto grid = features.view({2, kG, kG, kC});
  // Token 1 is the top-right 4x4 block.
  auto expected = grid.slice(1, 0, 4).slice(2, 4, 8).mean({1, 2});
  EXPECT_TRUE(torch::allclose(out.select(1, 1), expected, 1e-5, 1e-6));
}

// Perturbing features outside query 0's k x k region leaves query 0 unchanged; inside changes it.
TEST(Compressor, TokenpackerAndQueccQueriesSeeOnlyTheirOwnRegion) {
  torch::manual_seed(1);
  for (const std::string method : {"tokenpacker", "quecc"}) {
    for (int64_t v : {4, 16}) {
      const int64_t k = kG / static_cast<int64_t>(std::sqrt(v));
      auto compressor = MakeCompressor(Options(method, v));
      auto features = torch::randn({2, kG * kG, kC});
      auto question = torch::randn({2, kD});
      auto base = compressor->forward(features, question);
      auto inside = torch::zeros({kG, kG}, torch::kBool);
      inside.slice(0, 0, k).slice(1, 0, k).fill_(true);
      auto mask = inside.flatten().view({1, kG * kG, 1}).to(torch::kFloat32);
      auto outside_noise = torch::randn_like(features) * (1 - mask);
      auto changed_outside = compressor->forward(features + outside_noise, question);
      EXPECT_TRUE(torch::allclose(changed_outside.select(1, 0), base.select(1, 0), 1e-5, 1e-6))
          << method << " V=" << v;
      EXPECT_FALSE(torch::allclose(changed_outside.select(1, 1), base.select(1, 1), 1e-3, 1e-3))
          << method << " V=" << v << ": other queries should see the noise";
      auto inside_noise = torch::randn_like(features) * mask;
      auto changed_inside = compressor->forward(features + inside_noise, question);
      EXPECT_FALSE(torch::allclose(changed_inside.select(1, 0), base.select(1, 0), 1e-3, 1e-3))
          << method;
    }
  }
}

TEST(Compressor, QueccStartedAsAvgpoolGivesAvgpoolsTokensThenLearnsFromTheQuestion) {
  for (int64_t v : {1, 4, 16, 64}) {
    torch::manual_seed(2);
    auto features = torch::randn({3, kG * kG, kC});
    auto question = torch::randn({3, kD});
    auto pooled = MakeCompressor(Options("avgpool", v))->forward(features, question);
    torch::manual_seed(3);
    auto random = MakeCompressor(Options("quecc", v));
    torch::manual_seed(3);
    auto started = MakeCompressor(Options("quecc", v).start_as_avgpool(true));
    EXPECT_TRUE(torch::allclose(started->forward(features, question), pooled, 1e-5, 1e-6))
        << "V=" << v;
    EXPECT_FALSE(torch::allclose(random->forward(features, question), pooled, 1e-2, 1e-2))
        << "V=" << v;
    // Only the residual branches and the convolution differ; every other layer has the same
    // random draw as the default initialisation.
    auto a = random->named_parameters(), b = started->named_parameters();
    ASSERT_EQ(a.size(), b.size());
    for (const auto& item : a) {
      const std::string& name = item.key();
      const bool reset = name.rfind("question_proj.", 0) == 0 || name.rfind("mlp.3.", 0) == 0 ||
                         name.rfind("downsample.", 0) == 0 || name.rfind("attention.out.", 0) == 0;
      EXPECT_EQ(torch::equal(item.value(), b[name]), !reset) << name << " V=" << v;
    }
    // Gradient reaches the question projection at the start, so the question can steer.
    auto out = started->forward(features, question);
    (out * torch::randn_like(out)).sum().backward();
    auto grad = b["question_proj.weight"].grad();
    ASSERT_TRUE(grad.defined());
    EXPECT_GT(grad.abs().sum().item<double>(), 0.0) << "V=" << v;
  }
}

TEST(Compressor, TopkKeepsTheHighestScoringTokensInOriginalOrderAndPassesGradient) {
  torch::manual_seed(2);
  auto compressor = MakeCompressor(Options("topk", 5));
  auto features = torch::randn({2, kG * kG, kC});
  auto out = compressor->forward(features, {});
  // Each output token is a positive multiple of a distinct input token, in increasing index order.
  for (int64_t b = 0; b < 2; ++b) {
    int64_t last = -1;
    for (int64_t i = 0; i < 5; ++i) {
      auto token = out[b][i];
      auto cos = torch::cosine_similarity(features[b], token.unsqueeze(0), 1);  // [G*G]
      const int64_t index = cos.argmax().item<int64_t>();
      EXPECT_NEAR(cos[index].item<double>(), 1.0, 1e-4);
      EXPECT_GT(index, last);
      last = index;
    }
  }
  out.sum().backward();
  bool query_has_grad = false;
  for (const auto& p : compressor->named_parameters()) {
    if (p.key() == "query")
      query_has_grad =
          p.value().grad().defined() && p.value().grad().abs().sum().item<double>() > 0;
  }
  EXPECT_TRUE(query_has_grad) << "the selection scores must receive gradient";
}

TEST(Compressor, FlopsGrowWithTheMachineryInvolved) {
  EXPECT_EQ(MakeCompressor(Options("none", 64))->flops_per_sample(), 0.0);
  const double avg = MakeCompressor(Options("avgpool", 16))->flops_per_sample();
  const double topk = MakeCompressor(Options("topk", 16))->flops_per_sample();
  const double packer = MakeCompressor(Options("tokenpacker", 16))->flops_per_sample();
  const double quecc = MakeCompressor(Options("quecc", 16))->flops_per_sample();
  EXPECT_EQ(avg, kG * kG * kC);
  EXPECT_LT(avg, topk);
  EXPECT_LT(topk, packer);
  EXPECT_LT(packer, quecc);
}

}  // namespace
}  // namespace vlmscale::vlm
