// Helpers shared by the store tests: a scratch directory and deterministic records.
#ifndef VLMSCALE_TESTS_STORE_STORE_TEST_UTIL_H_
#define VLMSCALE_TESTS_STORE_STORE_TEST_UTIL_H_

#include <stdlib.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "core/check.h"
#include "core/hash.h"
#include "store/job_columns.h"
#include "store/job_record.h"

namespace vlmscale::store::testing {

// A fresh directory under $TMPDIR (or /tmp), removed with its contents on destruction.
class ScratchDir {
 public:
  ScratchDir() {
    const char* base = std::getenv("TMPDIR");
    std::string templ = std::string(base ? base : "/tmp") + "/vlmscale_store_XXXXXX";
    CHECK(mkdtemp(templ.data()) != nullptr) << "mkdtemp failed";
    path_ = templ;
  }
  ~ScratchDir() {
    std::error_code ec;
    std::filesystem::permissions(path_, std::filesystem::perms::owner_all, ec);
    std::filesystem::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }
  std::string File(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

// A record of job number `i` whose every field is derived from `i` (so readers can check it).
inline JobRecord MakeRecord(int i, JobState state = JobState::kDone) {
  JobRecord r;
  r.job_id = HexId("job-" + std::to_string(i));
  r.llm = i % 2 ? "qwen-0.5b" : "qwen-1.8b";
  r.n_params = 5e8 + i;
  r.visual_tokens = 1 + i % 576;
  r.method = i % 3 ? "token-pool" : "none";
  r.task = "vqa-synth";
  r.seed = i % 5;
  r.state = state;
  r.attempts = 1 + i % 2;
  if (state == JobState::kFailed) {
    r.failure_class = "error";
    r.message = "job " + std::to_string(i) + " failed";
  }
  if (state == JobState::kDone) {
    r.accuracy = 0.5 + (i % 100) / 1000.0;
    r.error = 1.0 - r.accuracy;
    r.eval_loss = 0.25 * i;
    r.extra_metrics["f1"] = 0.1 * (i % 7);
  }
  r.inference_flops = 2.0 * r.n_params * (32 + r.visual_tokens);
  r.compressor_flops = 1e6 * i;
  r.latency_ms = 0.5 + i;
  r.est_cost = 3.0 * i;
  r.train_seconds = 1.5 * i;
  r.eval_seconds = 0.25 * i;
  r.rank = i % 4;
  r.host = "node" + std::to_string(i % 3);
  r.start_time = 1.7e9 + i;
  r.end_time = state == JobState::kRunning ? 0.0 : 1.7e9 + i + 2;
  return r;
}

// A record whose every column (and the curves) holds a value distinct from its default and from
// every other column: strings carry the column name and characters that need escaping, numbers
// the column's index. A serializer that drops or swaps a column fails a comparison with it.
inline JobRecord DistinctRecord() {
  JobRecord r;
  const auto& columns = JobColumns();
  for (size_t i = 0; i < columns.size(); ++i) {
    const Column<JobRecord>& c = columns[i];
    switch (c.type()) {
      case ColumnType::kString:
        *c.Mutable<std::string>(&r) = std::string(c.name) + " ü, \"q\" " + std::to_string(i);
        break;
      case ColumnType::kDouble:
        *c.Mutable<double>(&r) = 1e9 + 0.125 * static_cast<double>(i + 1);
        break;
      case ColumnType::kInt64:
        *c.Mutable<int64_t>(&r) = int64_t{1} << 40 | static_cast<int64_t>(i);
        break;
      case ColumnType::kInt32:
        *c.Mutable<int>(&r) = 1000 + static_cast<int>(i);
        break;
      case ColumnType::kState:
        *c.Mutable<JobState>(&r) = JobState::kFailed;
        break;
      case ColumnType::kMetrics:
        *c.Mutable<MetricMap>(&r) = {{c.name, 0.5 + static_cast<double>(i)},
                                     {"nan", JobRecord::kNaN}};
        break;
    }
  }
  // Grouped by name, as snapshots return them.
  r.curves = {{"train_loss", 1, 2.5}, {"train_loss", 2, JobRecord::kNaN}, {"eval/acc", 10, 0.75}};
  return r;
}

// The columns (and curves) in which `a` and `b` differ, one line each; "" if none. NaN equals NaN.
inline std::string RecordDiff(const JobRecord& a, const JobRecord& b) {
  auto same = [](double x, double y) { return (std::isnan(x) && std::isnan(y)) || x == y; };
  std::ostringstream out;
  out.precision(17);
  for (const Column<JobRecord>& c : JobColumns()) {
    bool equal = true;
    switch (c.type()) {
      case ColumnType::kString:
        equal = c.Get<std::string>(a) == c.Get<std::string>(b);
        break;
      case ColumnType::kDouble:
        equal = same(c.Get<double>(a), c.Get<double>(b));
        break;
      case ColumnType::kInt64:
        equal = c.Get<int64_t>(a) == c.Get<int64_t>(b);
        break;
      case ColumnType::kInt32:
        equal = c.Get<int>(a) == c.Get<int>(b);
        break;
      case ColumnType::kState:
        equal = c.Get<JobState>(a) == c.Get<JobState>(b);
        break;
      case ColumnType::kMetrics: {
        const MetricMap &x = c.Get<MetricMap>(a), &y = c.Get<MetricMap>(b);
        equal = x.size() == y.size();
        for (auto i = x.begin(), j = y.begin(); equal && i != x.end(); ++i, ++j) {
          equal = i->first == j->first && same(i->second, j->second);
        }
        break;
      }
    }
    if (!equal) {
      out << c.name << ": " << ColumnToJson(c, a).dump() << " vs " << ColumnToJson(c, b).dump()
          << "\n";
    }
  }
  bool curves_equal = a.curves.size() == b.curves.size();
  for (size_t i = 0; curves_equal && i < a.curves.size(); ++i) {
    curves_equal = a.curves[i].name == b.curves[i].name && a.curves[i].step == b.curves[i].step &&
                   same(a.curves[i].value, b.curves[i].value);
  }
  if (!curves_equal) out << "curves differ\n";
  return out.str();
}

// The whole of a file's bytes ("" when it cannot be read).
inline std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Replaces a file's bytes with `data`.
inline void WriteFile(const std::string& path, const std::string& data) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << data;
}

}  // namespace vlmscale::store::testing

#endif  // VLMSCALE_TESTS_STORE_STORE_TEST_UTIL_H_
