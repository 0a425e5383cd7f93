// Helpers shared by the store tests: a scratch directory and deterministic records.
#ifndef VLMSCALE_TESTS_STORE_STORE_TEST_UTIL_H_
#define VLMSCALE_TESTS_STORE_STORE_TEST_UTIL_H_

#include <stdlib.h>

#include <cstdio>
#include <filesystem>
#include <string>

#include "core/check.h"
#include "core/hash.h"
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

}  // namespace vlmscale::store::testing

#endif  // VLMSCALE_TESTS_STORE_STORE_TEST_UTIL_H_
