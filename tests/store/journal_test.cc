#include "store/journal.h"

#include <gtest/gtest.h>

#include <cmath>

#include "tests/store/store_test_util.h"

namespace vlmscale::store {
namespace {

TEST(Journal, Crc32MatchesTheStandardCheckValue) {
  EXPECT_EQ(Crc32("123456789"), 0xCBF43926u);  // The CRC-32/ISO-HDLC check value.
  EXPECT_EQ(Crc32(""), 0u);
}

TEST(Journal, EntriesDecodeInOrderUpToATornTail) {
  std::string data;
  for (int i = 1; i <= 3; ++i) {
    EncodeJournalEntry({{"t", "run_info"}, {"seq", i}, {"v", std::to_string(i)}}, &data);
  }
  DecodedJournal all = DecodeJournal(data);
  ASSERT_EQ(all.entries.size(), 3u);
  EXPECT_EQ(all.entries[2]["v"], "3");
  EXPECT_EQ(all.valid_bytes, data.size());
  EXPECT_FALSE(all.torn_tail);
  for (size_t cut = 1; cut < 12; ++cut) {
    DecodedJournal torn = DecodeJournal(std::string_view(data).substr(0, data.size() - cut));
    EXPECT_EQ(torn.entries.size(), 2u) << cut;
    EXPECT_TRUE(torn.torn_tail);
  }
}

TEST(Journal, RecordJsonRoundTripTurnsNanIntoNullAndBack) {
  JobRecord r = testing::MakeRecord(4, JobState::kFailed);
  r.accuracy = JobRecord::kNaN;
  r.curves = {{"loss", 3, 0.5}};
  nlohmann::json j = RecordToJson(r);
  EXPECT_TRUE(j["accuracy"].is_null());
  EXPECT_EQ(j["status"], "failed");
  JobRecord back;
  ASSERT_TRUE(RecordFromJson(j, &back).ok());
  EXPECT_TRUE(std::isnan(back.accuracy));
  EXPECT_EQ(back.state, JobState::kFailed);
  EXPECT_EQ(back.message, r.message);
  ASSERT_EQ(back.curves.size(), 1u);
  EXPECT_EQ(back.curves[0].step, 3);
  j["attempts"] = "two";
  EXPECT_TRUE(RecordFromJson(j, &back).IsInvalidInput());
}

TEST(Journal, FastJobEncodingMatchesTheJsonTreeEncoding) {
  JobRecord r = testing::MakeRecord(11, JobState::kFailed);
  r.message = "tab\there \"quoted\" back\\slash \x01 ctrl, ünïcödé 数, bad \xff\xc3 byte";
  r.accuracy = JobRecord::kNaN;
  r.eval_loss = 1.0;  // Integral doubles stay doubles.
  r.extra_metrics = {{"a\"b", 0.1}, {"nan", JobRecord::kNaN}};
  r.curves = {{"loss", 1, 0.5}, {"eval/acc", 2, 1e-300}};
  JobEvent ev{r.job_id, r.state, r.attempts, 1.7e9 + 0.125, "error"};
  std::string fast;
  EncodeJobEntry(42, r, &ev, &fast);
  DecodedJournal d = DecodeJournal(fast);
  ASSERT_EQ(d.entries.size(), 1u) << fast;
  EXPECT_FALSE(d.torn_tail);
  EXPECT_EQ(d.entries[0]["seq"], 42);
  JobRecord expected = r;
  expected.message =
      "tab\there \"quoted\" back\\slash \x01 ctrl, ünïcödé 数, bad \xEF\xBF\xBD\xEF\xBF\xBD byte";
  EXPECT_EQ(d.entries[0]["rec"], RecordToJson(expected));
  EXPECT_TRUE(d.entries[0]["rec"]["eval_loss"].is_number_float());
  EXPECT_EQ(d.entries[0]["ev"], EventToJson(ev));
  JobRecord back;
  ASSERT_TRUE(RecordFromJson(d.entries[0]["rec"], &back).ok());
  EXPECT_EQ(back.message, expected.message);
  EXPECT_EQ(back.curves[1].value, 1e-300);
  // Without an event there is no "ev" key.
  std::string plain;
  EncodeJobEntry(43, r, nullptr, &plain);
  EXPECT_FALSE(DecodeJournal(plain).entries.at(0).contains("ev"));
}

TEST(Journal, TruncateUtf8NeverSplitsACharacter) {
  const std::string s = "a€b";  // '€' is 3 bytes.
  EXPECT_EQ(TruncateUtf8(s, 10), s);
  EXPECT_EQ(TruncateUtf8(s, 1), "a");
  EXPECT_EQ(TruncateUtf8(s, 2), "a");
  EXPECT_EQ(TruncateUtf8(s, 3), "a");
  EXPECT_EQ(TruncateUtf8(s, 4), "a€");
}

TEST(JobRecord, StateNamesParseBack) {
  for (JobState s : {JobState::kPending, JobState::kRunning, JobState::kDone, JobState::kFailed}) {
    JobState parsed = JobState::kPending;
    ASSERT_TRUE(ParseJobState(JobStateName(s), &parsed));
    EXPECT_EQ(parsed, s);
  }
  JobState unchanged = JobState::kDone;
  EXPECT_FALSE(ParseJobState("finished", &unchanged));
  EXPECT_EQ(unchanged, JobState::kDone);
}

}  // namespace
}  // namespace vlmscale::store
