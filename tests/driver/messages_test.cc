#include "driver/messages.h"

#include <gtest/gtest.h>

#include <cmath>

namespace vlmscale::driver {
namespace {

TEST(Messages, AssignRoundTrips) {
  AssignMessage m;
  m.batch = {{3, 1}, {7, 2}};
  m.ranks = {1, 4, 5};
  Result<AssignMessage> d = DecodeAssign(EncodeAssign(m));
  ASSERT_TRUE(d.ok());
  EXPECT_FALSE(d->shutdown);
  ASSERT_EQ(d->batch.size(), 2u);
  EXPECT_EQ(d->batch[1].index, 7);
  EXPECT_EQ(d->batch[1].attempt, 2);
  EXPECT_EQ(d->ranks, (std::vector<int>{1, 4, 5}));
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
  m.ranks = {3, 2};  // Not ascending.
  EXPECT_FALSE(DecodeAssign(EncodeAssign(m)).ok());
}

TEST(Messages, ResultsRoundTripIncludingNonFiniteMetrics) {
  JobResultMessage r;
  r.index = 4;
  r.attempt = 2;
  r.outcome = Outcome::kFailed;
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
  EXPECT_EQ(x.outcome, Outcome::kFailed);
  EXPECT_EQ(x.failure_class, "diverged");
  EXPECT_TRUE(std::isnan(x.metrics.at("error")));
  EXPECT_TRUE(std::isinf(x.metrics.at("x")));
  EXPECT_DOUBLE_EQ(x.metrics.at("accuracy"), 0.25);
  EXPECT_EQ(x.curves.at(0).step, 10);
  EXPECT_DOUBLE_EQ(x.end_time, 101.5);
  EXPECT_FALSE(DecodeResults("[{\"i\":1}]").ok());
}

TEST(Messages, EveryOutcomeRoundTripsAndUnknownOnesAreRejected) {
  for (Outcome o : {Outcome::kDone, Outcome::kFailed, Outcome::kCancelled}) {
    JobResultMessage r;
    r.outcome = o;
    r.started = o != Outcome::kCancelled;
    if (o == Outcome::kCancelled) r.missing_parents = {3, 17};
    Result<std::vector<JobResultMessage>> d = DecodeResults(EncodeResults({r}));
    ASSERT_TRUE(d.ok()) << d.status().ToString();
    EXPECT_EQ((*d)[0].outcome, o) << OutcomeName(o);
    EXPECT_EQ((*d)[0].started, r.started);
    EXPECT_EQ((*d)[0].missing_parents, r.missing_parents);
  }
  std::string bytes = EncodeResults({JobResultMessage()});
  size_t at = bytes.find("\"done\"");
  ASSERT_NE(at, std::string::npos) << bytes;
  bytes.replace(at, 6, "\"dune\"");
  Result<std::vector<JobResultMessage>> d = DecodeResults(bytes);
  ASSERT_FALSE(d.ok());
  EXPECT_NE(d.status().message().find("unknown outcome 'dune'"), std::string::npos)
      << d.status().message();
  Outcome o = Outcome::kDone;
  EXPECT_FALSE(ParseOutcome("", &o));
  EXPECT_TRUE(ParseOutcome("cancelled", &o));
  EXPECT_EQ(o, Outcome::kCancelled);
}

TEST(Messages, ResultsThatAreNotAJsonArrayAreAnError) {
  EXPECT_FALSE(DecodeResults("").ok());
  EXPECT_FALSE(DecodeResults("{\"i\": 1}").ok());
  EXPECT_FALSE(DecodeResults("7").ok());
  EXPECT_FALSE(DecodeResults("[1, 2]").ok());
  Result<std::vector<JobResultMessage>> empty = DecodeResults(EncodeResults({}));
  ASSERT_TRUE(empty.ok());
  EXPECT_TRUE(empty->empty());
}

TEST(Messages, HeartbeatRoundTrips) {
  HeartbeatMessage idle;  // No job running: negative age.
  Result<HeartbeatMessage> a = DecodeHeartbeat(EncodeHeartbeat(idle));
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  EXPECT_LT(a->progress_age, 0);
  EXPECT_FALSE(a->stop_requested);
  HeartbeatMessage busy;
  busy.progress_age = 12.5;
  busy.stop_requested = true;
  Result<HeartbeatMessage> b = DecodeHeartbeat(EncodeHeartbeat(busy));
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  EXPECT_DOUBLE_EQ(b->progress_age, 12.5);
  EXPECT_TRUE(b->stop_requested);
}

TEST(Messages, HeartbeatCarriesTheRunningJobsProgress) {
  HeartbeatMessage h;
  h.progress_age = 0.5;
  h.job_index = 7;
  h.phase = "train";
  h.step = 120;
  h.total = 500;
  h.loss = 0.8125;
  h.new_points = {{"train_loss", 100, 0.85}, {"lr", 100, 1e-3}, {"align_loss", 110, NAN}};
  Result<HeartbeatMessage> d = DecodeHeartbeat(EncodeHeartbeat(h));
  ASSERT_TRUE(d.ok()) << d.status().ToString();
  EXPECT_EQ(d->job_index, 7);
  EXPECT_EQ(d->phase, "train");
  EXPECT_EQ(d->step, 120);
  EXPECT_EQ(d->total, 500);
  EXPECT_DOUBLE_EQ(d->loss, 0.8125);
  ASSERT_EQ(d->new_points.size(), 3u);
  EXPECT_EQ(d->new_points[1].name, "lr");
  EXPECT_EQ(d->new_points[1].step, 100);
  EXPECT_DOUBLE_EQ(d->new_points[1].value, 1e-3);
  EXPECT_TRUE(std::isnan(d->new_points[2].value));
  // No loss yet (NaN) survives too; a heartbeat without progress has job index -1.
  h.loss = NAN;
  d = DecodeHeartbeat(EncodeHeartbeat(h));
  ASSERT_TRUE(d.ok());
  EXPECT_TRUE(std::isnan(d->loss));
  d = DecodeHeartbeat(EncodeHeartbeat(HeartbeatMessage()));
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->job_index, -1);
  EXPECT_TRUE(d->new_points.empty());
}

TEST(Messages, MalformedHeartbeatIsAnError) {
  EXPECT_FALSE(DecodeHeartbeat("").ok());
  std::string bytes = EncodeHeartbeat(HeartbeatMessage());
  EXPECT_FALSE(DecodeHeartbeat(bytes.substr(0, 8)).ok());
  EXPECT_FALSE(DecodeHeartbeat(bytes + "x").ok());
  double nan_age[2] = {NAN, 0.0};
  EXPECT_FALSE(DecodeHeartbeat(std::string(reinterpret_cast<const char*>(nan_age), 16)).ok());
  double bad_flag[2] = {1.0, 0.5};
  Result<HeartbeatMessage> d =
      DecodeHeartbeat(std::string(reinterpret_cast<const char*>(bad_flag), 16));
  ASSERT_FALSE(d.ok());
  EXPECT_NE(d.status().message().find("malformed heartbeat"), std::string::npos);
  // A damaged progress part: not JSON, wrong types, a negative job index.
  for (const std::string& tail :
       {std::string("{\"j\":1"),
        std::string("{\"j\":\"x\",\"p\":\"\",\"k\":0,\"n\":0,"
                    "\"l\":null,\"c\":[]}"),
        std::string("{\"j\":-3,\"p\":\"train\",\"k\":0,\"n\":0,\"l\":1,\"c\":[]}")}) {
    d = DecodeHeartbeat(bytes + tail);
    ASSERT_FALSE(d.ok()) << tail;
    EXPECT_NE(d.status().message().find("malformed heartbeat message (progress"), std::string::npos)
        << d.status().ToString();
  }
}

}  // namespace
}  // namespace vlmscale::driver
