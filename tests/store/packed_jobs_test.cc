// PackedJobs (store/packed_jobs.h): the writer's packed latest record per job gives back every
// field it was given, finds every id (vlmscale's 16-hex-digit ids and any other), replaces rows
// in place, and stays small.
#include "store/packed_jobs.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <string>

#include "tests/store/store_test_util.h"

namespace vlmscale::store {
namespace {

using testing::DistinctRecord;
using testing::RecordDiff;

std::string HexId(uint64_t i) {
  char buf[17];
  std::snprintf(buf, sizeof(buf), "%016llx",
                static_cast<unsigned long long>(i * 0x9E3779B97F4A7C15ULL));
  return buf;
}

TEST(PackedJobs, EveryColumnAndTheCurvesComeBack) {
  PackedJobs jobs;
  const JobRecord want = DistinctRecord();
  ASSERT_NE(RecordDiff(want, JobRecord{}), "");
  EXPECT_EQ(jobs.Put(want), 0u);
  EXPECT_EQ(RecordDiff(want, jobs.Get(0)), "");
  EXPECT_EQ(jobs.id(0), want.job_id);
  EXPECT_EQ(jobs.state(0), want.state);
  EXPECT_EQ(jobs.attempts(0), want.attempts);
  // A default record (NaN metrics, empty strings, no curves) replaces it in place.
  JobRecord empty;
  empty.job_id = want.job_id;
  EXPECT_EQ(jobs.Put(empty), 0u);
  EXPECT_EQ(jobs.size(), 1u);
  EXPECT_EQ(RecordDiff(empty, jobs.Get(0)), "");
  EXPECT_EQ(jobs.Put(want), 0u);
  EXPECT_EQ(RecordDiff(want, jobs.Get(0)), "");
}

TEST(PackedJobs, FindsHexAndOtherIdsInFirstPutOrder) {
  PackedJobs jobs;
  const std::string odd[] = {"job-1", "0123456789ABCDEF", "0123456789abcde", "g123456789abcdef",
                             ""};
  JobRecord r;
  for (int i = 0; i < 3000; ++i) {
    r.job_id = HexId(static_cast<uint64_t>(i));
    r.seed = i;
    ASSERT_EQ(jobs.Put(r), static_cast<size_t>(i));
  }
  for (int i = 0; i < 4; ++i) {
    r.job_id = odd[i];
    r.seed = 10000 + i;
    ASSERT_EQ(jobs.Put(r), 3000u + i);
  }
  EXPECT_EQ(jobs.Find(""), -1);
  EXPECT_EQ(jobs.Find("0123456789abcdef"), -1);  // Not the upper-case one.
  EXPECT_EQ(jobs.Find(HexId(3000)), -1);
  for (int i = 0; i < 3000; ++i) {
    ASSERT_EQ(jobs.Find(HexId(static_cast<uint64_t>(i))), i);
    ASSERT_EQ(jobs.id(static_cast<size_t>(i)), HexId(static_cast<uint64_t>(i)));
    ASSERT_EQ(jobs.Get(static_cast<size_t>(i)).seed, i);
  }
  for (int i = 0; i < 4; ++i) {
    EXPECT_EQ(jobs.Find(odd[i]), 3000 + i) << odd[i];
    EXPECT_EQ(jobs.id(3000u + i), odd[i]);
    EXPECT_EQ(jobs.Get(3000u + i).seed, 10000 + i);
  }
  EXPECT_EQ(jobs.size(), 3004u);
}

// Curves that grow while jobs run (the coordinator journals them every few seconds) are
// rewritten many times; the dead points are compacted away, and the rows stay small.
TEST(PackedJobs, GrowingCurvesAreCompactedAndRowsStaySmall) {
  PackedJobs jobs;
  JobRecord r;
  r.extra_metrics = {{"a", 1}, {"b", 2}, {"c", 3}};
  r.settings = std::string(400, 's');
  const int kJobs = 20000;
  for (int i = 0; i < kJobs; ++i) {
    r.job_id = HexId(static_cast<uint64_t>(i));
    r.curves = {{"loss", 1, 0.5}};
    jobs.Put(r);
  }
  // Under 0.4 KB per job with three metrics and a one-point curve, spare vector capacity included
  // (a JobRecord alone is 616 bytes, ~1.2 KB with its strings, map and curve).
  EXPECT_LT(jobs.MemoryBytes(), size_t{kJobs} * 400) << jobs.MemoryBytes();
  // Two jobs' curves grow alternately to 2,000 points: each growth moves the curve to the end.
  JobRecord a = jobs.Get(0), b = jobs.Get(1);
  for (int step = 2; step <= 2000; ++step) {
    a.curves.push_back({"loss", step, 1.0 / step});
    b.curves.push_back({"acc", step, static_cast<double>(step)});
    jobs.Put(a);
    jobs.Put(b);
  }
  EXPECT_EQ(RecordDiff(a, jobs.Get(0)), "");
  EXPECT_EQ(RecordDiff(b, jobs.Get(1)), "");
  for (size_t row : {size_t{2}, size_t{kJobs - 1}}) {
    const JobRecord other = jobs.Get(row);
    ASSERT_EQ(other.curves.size(), 1u);
    EXPECT_EQ(other.curves[0].name, "loss");
    EXPECT_EQ(other.curves[0].value, 0.5);
    EXPECT_EQ(other.extra_metrics, r.extra_metrics);
  }
  // Without compaction the points would take ~2,000 * 2,000 * 24 bytes (96 MB).
  EXPECT_LT(jobs.MemoryBytes(), size_t{kJobs} * 400 + (size_t{16} << 20)) << jobs.MemoryBytes();
}

}  // namespace
}  // namespace vlmscale::store
