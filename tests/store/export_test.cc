#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <sstream>

#include "core/strings.h"
#include "store/results_store.h"
#include "store/settings.h"
#include "tests/store/store_test_util.h"

namespace vlmscale::store {
namespace {

using ::testing::HasSubstr;

ResultsFile TwoJobs() {
  ResultsFile f;
  f.sweep_name = "s";
  f.run_info_json = R"({"ranks": 2})";
  JobRecord done = testing::MakeRecord(1, JobState::kDone);
  done.curves = {{"loss", 1, 0.5}, {"loss", 2, 0.25}};
  JobRecord failed = testing::MakeRecord(2, JobState::kFailed);
  failed.message = "bad \"value\", see\nlog";
  f.jobs = {done, failed};
  return f;
}

TEST(Export, CsvHasTheDocumentedColumnsAndEmptyCellsForNan) {
  std::ostringstream out;
  ASSERT_TRUE(ExportCsv(TwoJobs(), out).ok());
  const std::string csv = out.str();
  const std::string header = csv.substr(0, csv.find('\n'));
  EXPECT_EQ(header, Join(ExportColumns(), ","));
  EXPECT_TRUE(StartsWith(header,
                         "job_id,status,attempts,llm,n_params,visual_tokens,method,task,seed,"
                         "error,accuracy"));
  // The failed job has NaN error/accuracy: empty cells, and its message is quoted.
  JobRecord failed = testing::MakeRecord(2, JobState::kFailed);
  const std::string prefix =
      failed.job_id + ",failed,1,qwen-1.8b,500000002,3,token-pool,vqa-synth,2,,,";
  EXPECT_THAT(csv, HasSubstr(prefix));
  EXPECT_THAT(csv, HasSubstr("\"bad \"\"value\"\", see\nlog\""));
  JobRecord done = testing::MakeRecord(1);
  EXPECT_THAT(csv,
              HasSubstr(done.job_id + ",done,2,qwen-0.5b,500000001,2,token-pool,vqa-synth,1,0.49"));
}

TEST(Export, JsonWritesNullForNanAndKeepsCurves) {
  std::ostringstream out;
  ASSERT_TRUE(ExportJson(TwoJobs(), out).ok());
  auto doc = nlohmann::json::parse(out.str());
  EXPECT_EQ(doc["sweep_name"], "s");
  EXPECT_EQ(doc["run_info"]["ranks"], 2);
  ASSERT_EQ(doc["jobs"].size(), 2u);
  for (const std::string& column : ExportColumns()) {
    EXPECT_TRUE(doc["jobs"][0].contains(column)) << column;
  }
  EXPECT_DOUBLE_EQ(doc["jobs"][0]["accuracy"].get<double>(), 0.501);
  EXPECT_TRUE(doc["jobs"][1]["accuracy"].is_null());
  EXPECT_EQ(doc["jobs"][1]["status"], "failed");
  EXPECT_EQ(doc["jobs"][0]["curves"]["loss"][1][1], 0.25);
  EXPECT_DOUBLE_EQ(doc["jobs"][0]["extra_metrics"]["f1"].get<double>(), 0.1);
}

// Jobs made with different settings (issue 21): export gives each varied key a column and the
// settings hash, so rows that differ only in settings are told apart; keys that differ only
// between stages (different job types) are not varied.
TEST(Export, GivesEveryVariedSettingAColumnAndTheSettingsHash) {
  ResultsFile f = TwoJobs();
  f.jobs[0].settings = "job.type=sleep\nsleep.seconds=0\nsleep.mode=constant\n";
  f.jobs[0].settings_hash = "aaaaaaaaaaaaaaaa";
  f.jobs[1].settings = "job.type=sleep\nsleep.seconds=0.5\nsleep.mode=constant\n";
  f.jobs[1].settings_hash = "bbbbbbbbbbbbbbbb";
  JobRecord other_stage = testing::MakeRecord(3);
  other_stage.stage = "pretrain";
  other_stage.settings = "job.type=command\n";
  other_stage.settings_hash = "cccccccccccccccc";
  f.jobs.push_back(other_stage);
  EXPECT_EQ(VariedSettingKeys(f.jobs), std::vector<std::string>{"sleep.seconds"});

  std::ostringstream out;
  ASSERT_TRUE(ExportCsv(f, out).ok());
  const std::string csv = out.str();
  std::vector<std::string> lines = SplitTrimmed(csv, '\n');
  ASSERT_GE(lines.size(), 4u);
  EXPECT_EQ(lines[0], Join(ExportColumns(), ",") + ",sleep.seconds");
  EXPECT_THAT(lines[0], HasSubstr(",settings_hash,"));
  EXPECT_THAT(csv, HasSubstr("aaaaaaaaaaaaaaaa"));
  EXPECT_TRUE(EndsWith(lines[1], ",0")) << lines[1];
  EXPECT_THAT(csv, HasSubstr(",0.5\n"));

  std::ostringstream js;
  ASSERT_TRUE(ExportJson(f, js).ok());
  auto doc = nlohmann::json::parse(js.str());
  EXPECT_EQ(doc["varied_settings"], nlohmann::json::array({"sleep.seconds"}));
  EXPECT_EQ(doc["jobs"][1]["sleep.seconds"], "0.5");
  EXPECT_EQ(doc["jobs"][1]["settings_hash"], "bbbbbbbbbbbbbbbb");
  EXPECT_EQ(doc["jobs"][2]["sleep.seconds"], "");
}

}  // namespace
}  // namespace vlmscale::store
