// Pins the on-disk formats of the results store: the journal's encoding of a job record (byte for
// byte), reading an entry of that format back, the names, order and types of the /jobs and
// /events compound fields, and the export column order. Files written by earlier vlmscale
// versions must keep reading back identically, and h5py readers (analysis/,
// tests/store/h5py_layout_test.py) index these fields by name.
//
// The pins are of format version 1. Columns added to store/job_columns.cc later must come after
// them (the tests accept extra fields at the end and expect extra journal keys before "curves"),
// so adding a column changes nothing here; any other change breaks existing files or readers.
#include <gtest/gtest.h>
#include <hdf5.h>

#include <cmath>
#include <string>
#include <vector>

#include "store/job_columns.h"
#include "store/journal.h"
#include "store/results_store.h"
#include "tests/store/store_test_util.h"

namespace vlmscale::store {
namespace {

using testing::ScratchDir;

// A record whose every field differs from its default.
JobRecord FixedRecord() {
  JobRecord r;
  r.job_id = "0123456789abcdef";
  r.llm = "llm-a";
  r.n_params = 1.25e8;
  r.visual_tokens = 64;
  r.method = "avgpool";
  r.task = "shapes";
  r.seed = 3;
  r.state = JobState::kFailed;
  r.attempts = 2;
  r.failure_class = "diverged";
  r.message = "loss, \"NaN\"\n";
  r.error = 0.375;
  r.accuracy = 0.625;
  r.eval_loss = 1.0;
  r.inference_flops = 2.5e12;
  r.compressor_flops = 3.5e6;
  r.latency_ms = 4.25;
  r.extra_metrics = {{"f1", 0.5}, {"nan", JobRecord::kNaN}};
  r.est_cost = 7.75;
  r.train_seconds = 8.5;
  r.eval_seconds = 9.25;
  r.rank = 5;
  r.host = "node7";
  r.start_time = 1700000000.5;
  r.end_time = 1700000010.5;
  r.curves = {{"loss", 1, 0.5}, {"eval/acc", 2, 0.25}};
  return r;
}

// The payload (after the 8-byte header) of EncodeJobEntry(9, FixedRecord(), &event) as vlmscale
// wrote it before the column table (commit a97038e): format version 1.
constexpr char kV1JobEntry[] =
    R"({"t":"job","seq":9,"rec":{"job_id":"0123456789abcdef","llm":"llm-a","n_params":1.25e+08,)"
    R"("visual_tokens":64,"method":"avgpool","task":"shapes","seed":3,"status":"failed",)"
    R"("attempts":2,"failure_class":"diverged","message":"loss, \"NaN\"\u000a","error":0.375,)"
    R"("accuracy":0.625,"eval_loss":1.0,"inference_flops":2.5e+12,)"
    R"("compressor_flops":3500000.0,"latency_ms":4.25,"extra_metrics":{"f1":0.5,"nan":null},)"
    R"("est_cost":7.75,"train_seconds":8.5,"eval_seconds":9.25,"rank":5,"host":"node7",)"
    R"("start_time":1700000000.5,"end_time":1700000010.5,)"
    R"("curves":[["loss",1,0.5],["eval/acc",2,0.25]]},)"
    R"("ev":{"job_id":"0123456789abcdef","state":"failed","attempt":2,"time":1700000011.25,)"
    R"("failure_class":"diverged"}})"
    "\n";

JobEvent FixedEvent() {
  return JobEvent{"0123456789abcdef", JobState::kFailed, 2, 1700000011.25, "diverged"};
}

// kV1JobEntry plus the record columns added since (FixedRecord() leaves them at their defaults),
// which the encoder writes after the version 1 keys, before "curves".
std::string CurrentJobEntry() {
  const std::string v1 = kV1JobEntry;
  std::string added;
  const JobRecord defaults;
  for (const Column<JobRecord>& c : JobColumns()) {
    const std::string key = std::string("\"") + c.name + "\":";
    if ((c.where & kInJournal) && v1.find(key) == std::string::npos) {
      added += "," + key + ColumnToJson(c, defaults).dump();
    }
  }
  std::string entry = v1;
  entry.insert(entry.find(",\"curves\":"), added);
  return entry;
}

TEST(FileFormat, TheJournalEncodingOfAJobIsByteForByteUnchanged) {
  std::string entry;
  const JobEvent event = FixedEvent();
  EncodeJobEntry(9, FixedRecord(), &event, &entry);
  ASSERT_GT(entry.size(), 8u);
  EXPECT_EQ(entry.substr(8), CurrentJobEntry()) << "actual payload:\n" << entry.substr(8);
}

TEST(FileFormat, AJournalEntryOfFormatVersion1ReadsBackIdentically) {
  std::string data;
  EncodeJournalEntry(nlohmann::json::parse(kV1JobEntry), &data);
  StoreState state;
  ReplayReport report;
  ASSERT_TRUE(ReplayJournal(DecodeJournal(data), 0, &state, &report).ok());
  ASSERT_EQ(state.jobs.size(), 1u);
  EXPECT_EQ(testing::RecordDiff(FixedRecord(), state.jobs.begin()->second), "");
  ASSERT_EQ(state.events.size(), 1u);
  EXPECT_EQ(EventToJson(state.events[0]), EventToJson(FixedEvent()));
  EXPECT_EQ(state.events[0].time, 1700000011.25);
}

// One field of an HDF5 compound type as vlmscale writes it. size 0: a fixed-length string, as
// wide as the longest value of the snapshot.
struct Field {
  const char* name;
  H5T_class_t cls;
  size_t size;
};
constexpr H5T_class_t kStr = H5T_STRING, kF = H5T_FLOAT, kI = H5T_INTEGER;

// The /jobs fields of format version 1, in file order.
const std::vector<Field> kJobsV1 = {
    {"job_id", kStr, 0},
    {"llm", kStr, 0},
    {"n_params", kF, 8},
    {"visual_tokens", kI, 8},
    {"method", kStr, 0},
    {"task", kStr, 0},
    {"seed", kI, 8},
    {"status", kStr, 0},
    {"attempts", kI, 4},
    {"failure_class", kStr, 0},
    {"message", kStr, 0},
    {"error", kF, 8},
    {"accuracy", kF, 8},
    {"eval_loss", kF, 8},
    {"inference_flops", kF, 8},
    {"compressor_flops", kF, 8},
    {"latency_ms", kF, 8},
    {"extra_metrics", kStr, 0},
    {"est_cost", kF, 8},
    {"train_seconds", kF, 8},
    {"eval_seconds", kF, 8},
    {"rank", kI, 4},
    {"host", kStr, 0},
    {"start_time", kF, 8},
    {"end_time", kF, 8},
};
const std::vector<Field> kEventsV1 = {
    {"job_id", kStr, 0}, {"state", kStr, 0},         {"attempt", kI, 4},
    {"time", kF, 8},     {"failure_class", kStr, 0},
};

// Checks that dataset `name` of `file` is a packed compound of exactly `fields`.
void ExpectCompound(hid_t file, const char* name, const std::vector<Field>& fields) {
  SCOPED_TRACE(name);
  hid_t dset = H5Dopen2(file, name, H5P_DEFAULT);
  ASSERT_GE(dset, 0);
  hid_t type = H5Dget_type(dset);
  ASSERT_EQ(H5Tget_class(type), H5T_COMPOUND);
  // Version 1 fields first, in order; later columns may follow.
  ASSERT_GE(H5Tget_nmembers(type), static_cast<int>(fields.size()));
  size_t offset = 0;
  for (size_t i = 0; i < fields.size(); ++i) {
    const unsigned m = static_cast<unsigned>(i);
    char* member_name = H5Tget_member_name(type, m);
    EXPECT_STREQ(member_name, fields[i].name) << "field " << i;
    H5free_memory(member_name);
    EXPECT_EQ(H5Tget_member_offset(type, m), offset) << fields[i].name << " is not packed";
    hid_t member = H5Tget_member_type(type, m);
    EXPECT_EQ(H5Tget_class(member), fields[i].cls) << fields[i].name;
    if (fields[i].cls == H5T_STRING) {
      EXPECT_EQ(H5Tis_variable_str(member), 0) << fields[i].name;
      EXPECT_EQ(H5Tget_strpad(member), H5T_STR_NULLPAD) << fields[i].name;
      EXPECT_EQ(H5Tget_cset(member), H5T_CSET_UTF8) << fields[i].name;
    } else {
      EXPECT_EQ(H5Tget_size(member), fields[i].size) << fields[i].name;
      EXPECT_EQ(H5Tget_order(member), H5T_ORDER_LE) << fields[i].name;
      if (fields[i].cls == H5T_INTEGER) {
        EXPECT_EQ(H5Tget_sign(member), H5T_SGN_2) << fields[i].name;
      }
    }
    offset += H5Tget_size(member);
    H5Tclose(member);
  }
  EXPECT_GE(H5Tget_size(type), offset);
  H5Tclose(type);
  H5Dclose(dset);
}

TEST(FileFormat, TheJobsAndEventsCompoundFieldsKeepTheirNamesOrderAndTypes) {
  ScratchDir dir;
  const std::string path = dir.File("r.h5");
  {
    StoreOptions o;
    o.path = path;
    o.sweep_name = "s";
    auto store = ResultsStore::Open(o);
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    ASSERT_TRUE(store.value()->Append(FixedRecord()).ok());
    ASSERT_TRUE(store.value()->Close().ok());
  }
  hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
  H5Pset_file_locking(fapl, false, true);
  hid_t file = H5Fopen(path.c_str(), H5F_ACC_RDONLY, fapl);
  H5Pclose(fapl);
  ASSERT_GE(file, 0);
  ExpectCompound(file, "jobs", kJobsV1);
  ExpectCompound(file, "events", kEventsV1);
  H5Fclose(file);
}

// The column table (store/job_columns.h) starts with the pinned fields, and the journal's keys
// are the table's, in its order: the compound types and the encoder are generated from it.
template <typename Row>
void ExpectTableMatches(const std::vector<Column<Row>>& table, const std::vector<Field>& pinned) {
  std::vector<const Column<Row>*> in_file;
  for (const Column<Row>& c : table) {
    if (c.where & kInHdf5) in_file.push_back(&c);
  }
  ASSERT_GE(in_file.size(), pinned.size());
  for (size_t i = 0; i < pinned.size(); ++i) {
    EXPECT_STREQ(in_file[i]->name, pinned[i].name) << "field " << i;
    const char* want = pinned[i].cls == H5T_STRING  ? "string"
                       : pinned[i].cls == H5T_FLOAT ? "float64"
                       : pinned[i].size == 8        ? "int64"
                                                    : "int32";
    EXPECT_STREQ(ColumnTypeName(in_file[i]->type()), want) << pinned[i].name;
  }
}

TEST(FileFormat, TheColumnTablesDescribeThePinnedFieldsAndJournalKeys) {
  ExpectTableMatches(JobColumns(), kJobsV1);
  ExpectTableMatches(EventColumns(), kEventsV1);
  // The journal's keys, in the order of the encoding: the /jobs fields, then "curves".
  std::string entry;
  const JobEvent event = FixedEvent();
  EncodeJobEntry(9, FixedRecord(), &event, &entry);
  const auto parsed = nlohmann::ordered_json::parse(entry.substr(8));
  std::vector<std::string> keys, want;
  for (const auto& item : parsed["rec"].items()) keys.push_back(item.key());
  for (const Column<JobRecord>& c : JobColumns()) {
    if (c.where & kInJournal) want.push_back(c.name);
  }
  want.push_back("curves");
  EXPECT_EQ(keys, want);
  keys.clear(), want.clear();
  for (const auto& item : parsed["ev"].items()) keys.push_back(item.key());
  for (const Column<JobEvent>& c : EventColumns()) want.push_back(c.name);
  EXPECT_EQ(keys, want);
}

// `vlmscale export` columns, in order (docs/RESULTS.md; CSV headers that scripts read); later
// columns are appended.
TEST(FileFormat, TheExportColumnsKeepTheirOrder) {
  const std::vector<std::string> v1 = {"job_id",
                                       "status",
                                       "attempts",
                                       "llm",
                                       "n_params",
                                       "visual_tokens",
                                       "method",
                                       "task",
                                       "seed",
                                       "error",
                                       "accuracy",
                                       "eval_loss",
                                       "inference_flops",
                                       "compressor_flops",
                                       "latency_ms",
                                       "est_cost",
                                       "train_seconds",
                                       "eval_seconds",
                                       "rank",
                                       "host",
                                       "start_time",
                                       "end_time",
                                       "failure_class",
                                       "message",
                                       "extra_metrics"};
  const std::vector<std::string>& now = ExportColumns();
  ASSERT_GE(now.size(), v1.size());
  EXPECT_EQ(std::vector<std::string>(now.begin(), now.begin() + v1.size()), v1);
}

}  // namespace
}  // namespace vlmscale::store
