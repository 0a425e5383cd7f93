#include "driver/messages.h"

#include <gtest/gtest.h>

#include <cmath>

namespace vlmscale::driver {
namespace {

TEST(Messages, AssignRoundTrips) {
  AssignMessage m;
  m.batch = {{3, 1}, {7, 2}};
  Result<AssignMessage> d = DecodeAssign(EncodeAssign(m));
  ASSERT_TRUE(d.ok());
  EXPECT_FALSE(d->shutdown);
  ASSERT_EQ(d->batch.size(), 2u);
  EXPECT_EQ(d->batch[1].index, 7);
  EXPECT_EQ(d->batch[1].attempt, 2);
  AssignMessage bye;
  bye.shutdown = true;
  bye.exit_code = 75;
  Result<AssignMessage> b = DecodeAssign(EncodeAssign(bye));
  ASSERT_TRUE(b.ok());
  EXPECT_TRUE(b->shutdown);
  EXPECT_EQ(b->exit_code, 75);
}

TEST(Messages, MalformedAssignIsAnError) {
  EXPECT_FALSE(DecodeAssign("abc").ok());
  AssignMessage m;
  m.batch = {{1, 1}};
  std::string bytes = EncodeAssign(m);
  bytes.resize(bytes.size() - 8);
  EXPECT_FALSE(DecodeAssign(bytes).ok());
}

TEST(Messages, ResultsRoundTripIncludingNonFiniteMetrics) {
  JobResultMessage r;
  r.index = 4;
  r.attempt = 2;
  r.outcome = "failed";
  r.failure_class = "diverged";
  r.message = "loss is nan \xff (bad utf-8)";
  r.metrics = {{"error", NAN}, {"x", INFINITY}, {"accuracy", 0.25}};
  r.curves = {{"train_loss", 10, 1.5}};
  r.start_time = 100;
  r.end_time = 101.5;
  Result<std::vector<JobResultMessage>> d = DecodeResults(EncodeResults({r}));
  ASSERT_TRUE(d.ok()) << d.status().ToString();
  ASSERT_EQ(d->size(), 1u);
  const auto& x = (*d)[0];
  EXPECT_EQ(x.index, 4);
  EXPECT_EQ(x.failure_class, "diverged");
  EXPECT_TRUE(std::isnan(x.metrics.at("error")));
  EXPECT_TRUE(std::isinf(x.metrics.at("x")));
  EXPECT_DOUBLE_EQ(x.metrics.at("accuracy"), 0.25);
  EXPECT_EQ(x.curves.at(0).step, 10);
  EXPECT_DOUBLE_EQ(x.end_time, 101.5);
  EXPECT_FALSE(DecodeResults("[{\"i\":1}]").ok());
}

}  // namespace
}  // namespace vlmscale::driver
