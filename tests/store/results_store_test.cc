#include "store/results_store.h"

#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <hdf5.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <csignal>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "store/journal.h"
#include "tests/store/store_test_util.h"

namespace vlmscale::store {
namespace {

using ::testing::HasSubstr;
using testing::MakeRecord;
using testing::ReadFile;
using testing::ScratchDir;
using testing::WriteFile;

StoreOptions Options(const std::string& path, const std::string& sweep = "sweep-a") {
  StoreOptions o;
  o.path = path;
  o.sweep_name = sweep;
  o.config_text = "sweep: " + sweep + "\n";
  o.snapshot_interval_seconds = 1000;  // Tests snapshot explicitly.
  return o;
}

std::unique_ptr<ResultsStore> OpenOrDie(const StoreOptions& o) {
  auto store = ResultsStore::Open(o);
  CHECK(store.ok()) << store.status().ToString();
  return std::move(store.value());
}

// Every column of JobColumns() and the curves equal, NaN == NaN.
void ExpectSameRecord(const JobRecord& a, const JobRecord& b) {
  EXPECT_EQ(testing::RecordDiff(a, b), "");
}

JobRecord FullRecord() {
  JobRecord r = MakeRecord(7);
  r.state = JobState::kFailed;
  r.failure_class = "diverged";
  r.message = "loss became NaN at step 12 — größer als 1e6, 数值溢出; \"quoted\", comma\nnewline";
  r.error = JobRecord::kNaN;
  r.accuracy = 0.123456789012345678;
  r.eval_loss = -1e-300;
  r.latency_ms = JobRecord::kNaN;
  r.extra_metrics = {{"bleu", 0.25}, {"nan_metric", JobRecord::kNaN}, {"ünï", 1e300}};
  r.curves = {{"train_loss", 1, 2.5},
              {"train_loss", 2, 2.25},
              {"train_loss", 3, JobRecord::kNaN},
              {"eval/acc", 10, 0.5}};
  return r;
}

TEST(StoreOptions, DefaultsWithPathAndSweepAreValid) {
  StoreOptions o;
  std::string error;
  EXPECT_FALSE(o.IsValid(&error));
  EXPECT_THAT(error, HasSubstr("path"));
  o.path = "x.h5";
  EXPECT_FALSE(o.IsValid(&error));
  EXPECT_THAT(error, HasSubstr("sweep_name"));
  o.sweep_name = "s";
  EXPECT_TRUE(o.IsValid(&error)) << error;
  o.snapshot_interval_seconds = -1;
  EXPECT_FALSE(o.IsValid(&error));
  EXPECT_THAT(error, HasSubstr("snapshot_interval_seconds"));
}

TEST(ResultsStore, OpenCreatesAReadableEmptyFileAtOnce) {
  ScratchDir dir;
  auto store = OpenOrDie(Options(dir.File("r.h5")));
  auto file = ReadResults(dir.File("r.h5"));
  ASSERT_TRUE(file.ok()) << file.status().ToString();
  EXPECT_EQ(file->sweep_name, "sweep-a");
  EXPECT_EQ(file->config_text, "sweep: sweep-a\n");
  EXPECT_FALSE(file->vlmscale_version.empty());
  EXPECT_FALSE(file->git_commit.empty());
  EXPECT_EQ(file->format_version, kFormatVersion);
  EXPECT_TRUE(file->jobs.empty());
}

TEST(ResultsStore, RoundTripKeepsEveryFieldFromJournalAndFromSnapshot) {
  ScratchDir dir;
  const std::string path = dir.File("r.h5");
  JobRecord full = FullRecord();
  {
    auto store = OpenOrDie(Options(path));
    ASSERT_TRUE(store->Append(full).ok());
    ASSERT_TRUE(store->Commit().ok());
    // Only in the journal so far.
    auto from_journal = ReadResults(path);
    ASSERT_TRUE(from_journal.ok()) << from_journal.status().ToString();
    ASSERT_EQ(from_journal->jobs.size(), 1u);
    EXPECT_EQ(from_journal->journal_entries, 1);
    ExpectSameRecord(full, from_journal->jobs[0]);
    ASSERT_TRUE(store->Close().ok());
  }
  EXPECT_EQ(ReadFile(path + ".journal").size(), 0u);  // Close() leaves an empty journal.
  auto from_snapshot = ReadResults(path);
  ASSERT_TRUE(from_snapshot.ok()) << from_snapshot.status().ToString();
  EXPECT_EQ(from_snapshot->journal_entries, 0);
  ASSERT_EQ(from_snapshot->jobs.size(), 1u);
  ExpectSameRecord(full, from_snapshot->jobs[0]);
  // And through a writer reopening it.
  auto store = OpenOrDie(Options(path));
  ASSERT_TRUE(store->FindJob(full.job_id).has_value());
  ExpectSameRecord(full, *store->FindJob(full.job_id));
}

TEST(ResultsStore, LongMessagesAreCutOnAUtf8Boundary) {
  ScratchDir dir;
  const std::string path = dir.File("r.h5");
  JobRecord r = MakeRecord(1, JobState::kFailed);
  r.message = "x";
  for (int i = 0; i < 3000; ++i) r.message += "é";  // 2 bytes each: 6001 bytes.
  {
    auto store = OpenOrDie(Options(path));
    ASSERT_TRUE(store->Append(r).ok());
    ASSERT_TRUE(store->Close().ok());
  }
  auto file = ReadResults(path);
  ASSERT_TRUE(file.ok());
  const std::string& m = file->jobs.at(0).message;
  EXPECT_LE(m.size(), kMaxMessageBytes);
  EXPECT_GE(m.size(), kMaxMessageBytes - 3);
  EXPECT_EQ(r.message.compare(0, m.size(), m), 0);
  // Valid UTF-8: 'x' then whole two-byte characters.
  EXPECT_EQ((m.size() - 1) % 2, 0u);
  EXPECT_NE(static_cast<unsigned char>(m.back()), 0xC3);
}

TEST(ResultsStore, LatestRecordWinsAndGridOrderIsKept) {
  ScratchDir dir;
  const std::string path = dir.File("r.h5");
  auto store = OpenOrDie(Options(path));
  for (int i : {5, 3, 9}) ASSERT_TRUE(store->Append(MakeRecord(i, JobState::kRunning)).ok());
  ASSERT_TRUE(store->Append(MakeRecord(3, JobState::kDone)).ok());
  ASSERT_TRUE(store->Snapshot().ok());
  ASSERT_TRUE(store->Append(MakeRecord(5, JobState::kFailed)).ok());
  ASSERT_TRUE(store->Commit().ok());
  auto file = ReadResults(path);
  ASSERT_TRUE(file.ok());
  ASSERT_EQ(file->jobs.size(), 3u);
  EXPECT_EQ(file->jobs[0].job_id, MakeRecord(5).job_id);
  EXPECT_EQ(file->jobs[1].job_id, MakeRecord(3).job_id);
  EXPECT_EQ(file->jobs[2].job_id, MakeRecord(9).job_id);
  EXPECT_EQ(file->jobs[0].state, JobState::kFailed);
  EXPECT_EQ(file->jobs[1].state, JobState::kDone);
  EXPECT_EQ(file->jobs[2].state, JobState::kRunning);
  // Events: 3 x running, 3 -> done, 5 -> failed; from snapshot + journal without duplicates.
  ASSERT_EQ(file->events.size(), 5u);
  EXPECT_EQ(file->events[3].job_id, MakeRecord(3).job_id);
  EXPECT_EQ(file->events[3].state, JobState::kDone);
  EXPECT_EQ(file->events[4].state, JobState::kFailed);
  EXPECT_EQ(file->events[4].failure_class, "error");
}

TEST(ResultsStore, AppendingTheSameStateAddsNoEvent) {
  ScratchDir dir;
  auto store = OpenOrDie(Options(dir.File("r.h5")));
  JobRecord r = MakeRecord(1, JobState::kRunning);
  ASSERT_TRUE(store->Append(r).ok());
  r.train_seconds = 99;  // Progress update, same state and attempt.
  ASSERT_TRUE(store->Append(r).ok());
  EXPECT_EQ(store->event_count(), 1u);
  r.attempts += 1;  // A retry is a transition.
  ASSERT_TRUE(store->Append(r).ok());
  EXPECT_EQ(store->event_count(), 2u);
  EXPECT_EQ(store->FindJob(r.job_id)->train_seconds, 99);
}

TEST(ResultsStore, GrowingTheSweepKeepsExistingResults) {
  ScratchDir dir;
  const std::string path = dir.File("r.h5");
  {
    auto store = OpenOrDie(Options(path));
    for (int i = 0; i < 3; ++i) ASSERT_TRUE(store->Append(MakeRecord(i)).ok());
    ASSERT_TRUE(store->Close().ok());
  }
  StoreOptions bigger = Options(path);
  bigger.config_text = "sweep: sweep-a\nseeds: [0, 1, 2, 3]\n";
  {
    auto store = OpenOrDie(bigger);
    EXPECT_EQ(store->job_count(), 3u);
    for (int i = 3; i < 6; ++i) ASSERT_TRUE(store->Append(MakeRecord(i)).ok());
    ASSERT_TRUE(store->Close().ok());
  }
  auto file = ReadResults(path);
  ASSERT_TRUE(file.ok());
  ASSERT_EQ(file->jobs.size(), 6u);
  for (int i = 0; i < 6; ++i) ExpectSameRecord(MakeRecord(i), file->jobs[i]);
  EXPECT_EQ(file->config_text, bigger.config_text);
}

TEST(ResultsStore, AFileOfAnotherSweepIsRefusedWithBothNames) {
  ScratchDir dir;
  const std::string path = dir.File("r.h5");
  {
    auto store = OpenOrDie(Options(path, "alpha"));
    ASSERT_TRUE(store->Append(MakeRecord(1)).ok());
    ASSERT_TRUE(store->Commit().ok());  // Leave it in the journal: no Close.
  }
  const std::string before = ReadFile(path);
  auto other = ResultsStore::Open(Options(path, "beta"));
  ASSERT_FALSE(other.ok());
  EXPECT_TRUE(other.status().IsInvalidInput());
  EXPECT_THAT(other.status().message(), HasSubstr("'alpha'"));
  EXPECT_THAT(other.status().message(), HasSubstr("'beta'"));
  EXPECT_THAT(other.status().message(), HasSubstr("--fresh"));
  EXPECT_EQ(ReadFile(path), before);
  auto file = ReadResults(path);
  ASSERT_TRUE(file.ok());
  EXPECT_EQ(file->jobs.size(), 1u);
}

TEST(ResultsStore, FreshMovesTheOldFileAndJournalAside) {
  ScratchDir dir;
  const std::string path = dir.File("r.h5");
  {
    auto store = OpenOrDie(Options(path, "alpha"));
    ASSERT_TRUE(store->Append(MakeRecord(1)).ok());
    ASSERT_TRUE(store->Snapshot().ok());
    ASSERT_TRUE(store->Append(MakeRecord(2)).ok());
    ASSERT_TRUE(store->Commit().ok());
  }
  StoreOptions o = Options(path, "beta");
  o.fresh = true;
  auto store = OpenOrDie(o);
  const std::string aside = store->moved_aside_path();
  ASSERT_FALSE(aside.empty());
  EXPECT_THAT(aside, HasSubstr(path + ".old-"));
  EXPECT_EQ(store->job_count(), 0u);
  auto old = ReadResults(aside);
  ASSERT_TRUE(old.ok()) << old.status().ToString();
  EXPECT_EQ(old->sweep_name, "alpha");
  EXPECT_EQ(old->jobs.size(), 2u);  // The snapshot and the journal entry both moved.
  auto fresh = ReadResults(path);
  ASSERT_TRUE(fresh.ok());
  EXPECT_EQ(fresh->sweep_name, "beta");
  EXPECT_TRUE(fresh->jobs.empty());
}

TEST(ResultsStore, ANonHdf5FileIsRefusedNamingTheFile) {
  ScratchDir dir;
  const std::string path = dir.File("notes.h5");
  WriteFile(path, "these are my notes, not results\n");
  auto store = ResultsStore::Open(Options(path));
  ASSERT_FALSE(store.ok());
  EXPECT_TRUE(store.status().IsInvalidInput());
  EXPECT_THAT(store.status().message(), HasSubstr(path));
  EXPECT_EQ(ReadFile(path), "these are my notes, not results\n");
  auto read = ReadResults(path);
  ASSERT_FALSE(read.ok());
  EXPECT_THAT(read.status().message(), HasSubstr("not a vlmscale results file"));
}

TEST(ResultsStore, AnHdf5FileOfAnotherProgramIsRefused) {
  ScratchDir dir;
  const std::string path = dir.File("other.h5");
  hid_t f = H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  ASSERT_GE(f, 0);
  hid_t g = H5Gcreate2(f, "data", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  H5Gclose(g);
  H5Fclose(f);
  auto read = ReadResults(path);
  ASSERT_FALSE(read.ok());
  EXPECT_TRUE(read.status().IsInvalidInput());
  EXPECT_THAT(read.status().message(), HasSubstr("not a vlmscale results file"));
  EXPECT_FALSE(ResultsStore::Open(Options(path)).ok());
}

TEST(ResultsStore, ATruncatedResultsFileIsReportedAsCorrupt) {
  ScratchDir dir;
  const std::string path = dir.File("r.h5");
  {
    auto store = OpenOrDie(Options(path));
    for (int i = 0; i < 50; ++i) ASSERT_TRUE(store->Append(MakeRecord(i)).ok());
    ASSERT_TRUE(store->Close().ok());
  }
  std::string data = ReadFile(path);
  WriteFile(path, data.substr(0, data.size() / 3));
  auto read = ReadResults(path);
  ASSERT_FALSE(read.ok());
  EXPECT_TRUE(read.status().IsInvalidInput()) << read.status().ToString();
  EXPECT_THAT(read.status().message(), HasSubstr(path));
  auto store = ResultsStore::Open(Options(path));
  ASSERT_FALSE(store.ok());
  EXPECT_THAT(store.status().message(), HasSubstr(path));
}

TEST(ResultsStore, ATornJournalTailIsIgnoredAndCutOffOnReopen) {
  ScratchDir dir;
  const std::string path = dir.File("r.h5");
  const std::string journal = path + ".journal";
  {
    auto store = OpenOrDie(Options(path));
    for (int i = 0; i < 5; ++i) {
      ASSERT_TRUE(store->Append(MakeRecord(i)).ok());
      ASSERT_TRUE(store->Commit().ok());
    }
  }  // Destroyed without Close(): like a crash after the commits.
  const size_t valid = DecodeJournal(ReadFile(journal)).valid_bytes;
  ASSERT_GT(valid, 0u);
  // A torn entry right after the valid ones: a header promising more bytes than were written.
  std::string torn;
  EncodeJournalEntry({{"t", "job"}, {"seq", 99}, {"rec", RecordToJson(MakeRecord(99))}}, &torn);
  std::string with_torn = ReadFile(journal).substr(0, valid) + torn.substr(0, torn.size() / 2);
  WriteFile(journal, with_torn);
  auto read = ReadResults(path);
  ASSERT_TRUE(read.ok()) << read.status().ToString();
  EXPECT_EQ(read->jobs.size(), 5u);
  // A corrupted byte inside an entry is caught by the CRC.
  std::string flipped = with_torn;
  flipped[valid - 10] ^= 0x20;
  WriteFile(journal, flipped);
  read = ReadResults(path);
  ASSERT_TRUE(read.ok());
  EXPECT_EQ(read->jobs.size(), 4u);
  EXPECT_EQ(read->warning, "");  // The damaged entry is the last one: a torn tail, no warning.
  flipped[valid - 10] ^= 0x20;   // Repair the byte; the torn tail stays.
  WriteFile(journal, flipped);
  {
    auto store = OpenOrDie(Options(path));
    EXPECT_EQ(store->job_count(), 5u);
    ASSERT_TRUE(store->Append(MakeRecord(5)).ok());
    ASSERT_TRUE(store->Commit().ok());
  }
  read = ReadResults(path);
  ASSERT_TRUE(read.ok());
  ASSERT_EQ(read->jobs.size(), 6u);
  ExpectSameRecord(MakeRecord(5), read->jobs[5]);
}

TEST(ResultsStore, JournalEntriesAlreadyInTheSnapshotAreNotReplayedTwice) {
  ScratchDir dir;
  const std::string path = dir.File("r.h5");
  const std::string journal = path + ".journal";
  auto store = OpenOrDie(Options(path));
  ASSERT_TRUE(store->Append(MakeRecord(1, JobState::kRunning)).ok());
  ASSERT_TRUE(store->Append(MakeRecord(1, JobState::kDone)).ok());
  ASSERT_TRUE(store->Commit().ok());
  const std::string before_snapshot = ReadFile(journal);
  ASSERT_TRUE(store->Snapshot().ok());
  EXPECT_EQ(ReadResults(path)->journal_entries, 0);
  // As if the writer died after the rename but before truncating the journal.
  WriteFile(journal, before_snapshot);
  auto read = ReadResults(path);
  ASSERT_TRUE(read.ok());
  EXPECT_EQ(read->jobs.size(), 1u);
  EXPECT_EQ(read->events.size(), 2u);
  EXPECT_EQ(read->journal_entries, 0);
}

TEST(ResultsStore, OlderEntriesLeftBehindARestartedJournalAreIgnored) {
  ScratchDir dir;
  const std::string path = dir.File("r.h5");
  const std::string journal = path + ".journal";
  std::string epoch1;
  {
    auto store = OpenOrDie(Options(path));
    for (int k = 0; k < 20; ++k) {
      JobRecord r = MakeRecord(k % 2, JobState::kRunning);
      r.train_seconds = k;
      ASSERT_TRUE(store->Append(r).ok());
      ASSERT_TRUE(store->Commit().ok());
    }
    epoch1 = ReadFile(journal);
    ASSERT_TRUE(store->Snapshot().ok());  // Holds seq 1..20.
  }
  // After the restart, epoch 2's entries overwrite the start; when they end exactly on an
  // epoch-1 entry boundary, the old entries decode as valid and must be skipped by seq.
  const size_t epoch1_valid = DecodeJournal(epoch1).valid_bytes;
  std::string meta_and_first;
  EncodeJournalEntry({{"t", "meta"}, {"sweep", "sweep-a"}}, &meta_and_first);
  uint32_t epoch1_meta_payload = 0;
  std::memcpy(&epoch1_meta_payload, epoch1.data(), 4);  // Little-endian length (x86).
  const size_t meta_size = 8 + epoch1_meta_payload;
  std::string epoch2 = meta_and_first;
  EncodeJobEntry(21, MakeRecord(0, JobState::kDone), nullptr, &epoch2);
  WriteFile(journal, epoch2 + epoch1.substr(meta_size, epoch1_valid - meta_size));
  const DecodedJournal decoded = DecodeJournal(ReadFile(journal));
  ASSERT_EQ(decoded.entries.size(), 2u + 20u);
  auto read = ReadResults(path);
  ASSERT_TRUE(read.ok()) << read.status().ToString();
  ASSERT_EQ(read->jobs.size(), 2u);
  EXPECT_EQ(read->jobs[0].state, JobState::kDone);
  EXPECT_EQ(read->jobs[1].state, JobState::kRunning);
  EXPECT_EQ(read->jobs[1].train_seconds, 19);
  EXPECT_EQ(read->journal_entries, 1);
  EXPECT_EQ(read->warning, "");        // Old entries past the prefix are not damage.
  EXPECT_EQ(read->events.size(), 2u);  // 2 x running; the done entry carried no event here.
  auto store = OpenOrDie(Options(path));
  EXPECT_EQ(store->FindJob(MakeRecord(0).job_id)->state, JobState::kDone);
  EXPECT_EQ(store->FindJob(MakeRecord(1).job_id)->train_seconds, 19);
}

TEST(ResultsStore, ALeftoverSnapshotTempFileIsIgnoredAndRemoved) {
  ScratchDir dir;
  const std::string path = dir.File("r.h5");
  {
    auto store = OpenOrDie(Options(path));
    ASSERT_TRUE(store->Append(MakeRecord(1)).ok());
    ASSERT_TRUE(store->Close().ok());
  }
  WriteFile(path + ".tmp", std::string("\x89HDF\r\n\x1a\n half a snapshot", 24));
  auto read = ReadResults(path);
  ASSERT_TRUE(read.ok());
  EXPECT_EQ(read->jobs.size(), 1u);
  auto store = OpenOrDie(Options(path));
  EXPECT_EQ(store->job_count(), 1u);
  EXPECT_FALSE(std::filesystem::exists(path + ".tmp"));
}

TEST(ResultsStore, ASecondWriterIsRefused) {
  ScratchDir dir;
  auto first = OpenOrDie(Options(dir.File("r.h5")));
  auto second = ResultsStore::Open(Options(dir.File("r.h5")));
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), Status::Code::kIOError);
  EXPECT_THAT(second.status().message(), HasSubstr("another process"));
  StoreOptions fresh = Options(dir.File("r.h5"));
  fresh.fresh = true;
  auto third = ResultsStore::Open(fresh);
  ASSERT_FALSE(third.ok());
  EXPECT_THAT(third.status().message(), HasSubstr("another process"));
  EXPECT_TRUE(std::filesystem::exists(dir.File("r.h5")));  // Not moved aside under the writer.
}

// Runs `fn` in a child process without root privileges (root ignores permission bits) and
// returns its exit status.
template <typename Fn>
int RunUnprivileged(Fn fn) {
  pid_t pid = fork();
  if (pid == 0) {
    if (geteuid() == 0 && (setgid(65534) != 0 || setuid(65534) != 0)) _exit(90);
    _exit(fn());
  }
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 99;
}

TEST(ResultsStore, AReadOnlyDirectoryGivesAnIOErrorAndWritesNothing) {
  ScratchDir dir;
  const std::string sub = dir.File("ro");
  ASSERT_EQ(mkdir(sub.c_str(), 0555), 0);
  ASSERT_EQ(chmod(dir.path().c_str(), 0755), 0);
  int rc = RunUnprivileged([&] {
    auto store = ResultsStore::Open(Options(sub + "/r.h5"));
    if (store.ok()) return 1;
    if (store.status().code() != Status::Code::kIOError) return 2;
    if (store.status().message().find("not writable") == std::string::npos) return 3;
    return 0;
  });
  EXPECT_EQ(rc, 0);
  EXPECT_TRUE(std::filesystem::is_empty(sub));
}

TEST(ResultsStore, AReadOnlyResultsFileGivesAnIOErrorAndStaysIntact) {
  ScratchDir dir;
  const std::string path = dir.File("r.h5");
  {
    auto store = OpenOrDie(Options(path));
    ASSERT_TRUE(store->Append(MakeRecord(1)).ok());
    ASSERT_TRUE(store->Close().ok());
  }
  ASSERT_EQ(chmod(dir.path().c_str(), 0777), 0);
  ASSERT_EQ(chmod(path.c_str(), 0444), 0);
  ASSERT_EQ(chmod((path + ".journal").c_str(), 0444), 0);
  const std::string before = ReadFile(path);
  int rc = RunUnprivileged([&] {
    auto store = ResultsStore::Open(Options(path));
    if (store.ok()) return 1;
    if (store.status().code() != Status::Code::kIOError) return 2;
    // Reading still works.
    auto read = ReadResults(path);
    return read.ok() && read->jobs.size() == 1 ? 0 : 4;
  });
  EXPECT_EQ(rc, 0);
  EXPECT_EQ(ReadFile(path), before);
  EXPECT_FALSE(std::filesystem::exists(path + ".tmp"));
}

TEST(ResultsStore, ReadingAMissingFileIsNotFound) {
  ScratchDir dir;
  auto read = ReadResults(dir.File("nope.h5"));
  ASSERT_FALSE(read.ok());
  EXPECT_EQ(read.status().code(), Status::Code::kNotFound);
  EXPECT_THAT(read.status().message(), HasSubstr("nope.h5"));
}

TEST(ResultsStore, RunInfoMustBeJsonAndIsReadBack) {
  ScratchDir dir;
  const std::string path = dir.File("r.h5");
  auto store = OpenOrDie(Options(path));
  EXPECT_TRUE(store->SetRunInfo("{not json").IsInvalidInput());
  ASSERT_TRUE(store->SetRunInfo(R"({"ranks":4,"slurm_job_id":"123"})").ok());
  ASSERT_TRUE(store->Commit().ok());
  auto read = ReadResults(path);
  ASSERT_TRUE(read.ok());
  EXPECT_EQ(nlohmann::json::parse(read->run_info_json)["ranks"], 4);
  ASSERT_TRUE(store->Close().ok());
  read = ReadResults(path);
  ASSERT_TRUE(read.ok());
  EXPECT_EQ(nlohmann::json::parse(read->run_info_json)["slurm_job_id"], "123");
}

TEST(ResultsStore, MaybeSnapshotWaitsForTheInterval) {
  ScratchDir dir;
  StoreOptions o = Options(dir.File("r.h5"));
  o.snapshot_interval_seconds = 0.2;
  auto store = OpenOrDie(o);
  const int64_t initial = store->snapshots();
  ASSERT_TRUE(store->Append(MakeRecord(1)).ok());
  ASSERT_TRUE(store->MaybeSnapshot().ok());
  EXPECT_EQ(store->snapshots(), initial);
  usleep(250 * 1000);
  ASSERT_TRUE(store->MaybeSnapshot().ok());
  EXPECT_EQ(store->snapshots(), initial + 1);
  usleep(250 * 1000);
  ASSERT_TRUE(store->MaybeSnapshot().ok());  // Nothing changed: no new snapshot.
  EXPECT_EQ(store->snapshots(), initial + 1);
}

TEST(ResultsStore, DamageInTheMiddleOfTheJournalIsReportedAndTheEntriesAfterItRecovered) {
  ScratchDir dir;
  const std::string path = dir.File("r.h5");
  const std::string journal = path + ".journal";
  {
    auto store = OpenOrDie(Options(path));
    for (int i = 0; i < 10; ++i) {
      ASSERT_TRUE(store->Append(MakeRecord(i)).ok());
      ASSERT_TRUE(store->Commit().ok());
    }
  }  // A crash: the ten acknowledged records are in the journal only.
  std::string data = ReadFile(journal);
  DecodedJournal decoded = DecodeJournal(data);
  ASSERT_EQ(decoded.entries.size(), 11u);  // meta + 10.
  size_t entry3 = 0;  // Offset of record 3's entry (entry 4, after meta and records 0-2).
  for (int k = 0; k < 4; ++k) {
    uint32_t length = 0;
    std::memcpy(&length, data.data() + entry3, 4);
    entry3 += 8 + length;
  }
  data[entry3 + 30] ^= 0x55;  // Inside record 3's payload.
  WriteFile(journal, data);
  const std::string damaged = data;

  auto read = ReadResults(path);
  ASSERT_TRUE(read.ok()) << read.status().ToString();
  ASSERT_EQ(read->jobs.size(), 9u);  // Only record 3 is lost; 4-9 come from after the damage.
  for (const JobRecord& r : read->jobs) EXPECT_NE(r.job_id, MakeRecord(3).job_id);
  ExpectSameRecord(MakeRecord(9), read->jobs.back());
  EXPECT_THAT(read->warning, HasSubstr("journal " + journal + " is damaged: bytes " +
                                       std::to_string(entry3) + "-"));
  EXPECT_THAT(read->warning, HasSubstr("recovered the 6 entries after them"));

  {
    auto store = OpenOrDie(Options(path));
    EXPECT_EQ(store->job_count(), 9u);
    EXPECT_THAT(store->warning(), HasSubstr("is damaged"));
    EXPECT_THAT(store->warning(), HasSubstr("copied to " + journal + ".damaged-"));
    const std::string copy = store->warning().substr(store->warning().rfind(' ') + 1);
    EXPECT_EQ(ReadFile(copy), damaged);
    ASSERT_TRUE(store->Append(MakeRecord(3)).ok());  // The lost job runs again.
    ASSERT_TRUE(store->Close().ok());
  }
  read = ReadResults(path);
  ASSERT_TRUE(read.ok());
  EXPECT_EQ(read->jobs.size(), 10u);
  EXPECT_EQ(read->warning, "");
}

// Runs `fn` in a child process whose files may not grow beyond `bytes` (RLIMIT_FSIZE; SIGXFSZ
// ignored, so writes fail with EFBIG as on a full disk); returns its exit code.
template <typename Fn>
int RunWithFileSizeLimit(rlim_t bytes, Fn fn) {
  pid_t pid = fork();
  if (pid == 0) {
    std::signal(SIGXFSZ, SIG_IGN);
    struct rlimit limit = {bytes, bytes};
    if (setrlimit(RLIMIT_FSIZE, &limit) != 0) _exit(90);
    _exit(fn());
  }
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 99;
}

TEST(ResultsStore, OnAFullDiskCommitFailsNamingTheJournalAndKeepsWhatWasAcknowledged) {
  ScratchDir dir;
  const std::string path = dir.File("r.h5");
  int acknowledged = 0;
  const int rc = RunWithFileSizeLimit(1 << 20, [&] {
    auto store = ResultsStore::Open(Options(path));
    if (!store.ok()) return 1;
    // The 4 MiB zero-filled journal step does not fit under the limit; the entries still do.
    for (int i = 0; i < 100; ++i) {
      if (!(*store)->Append(MakeRecord(i)).ok() || !(*store)->Commit().ok()) return 2;
    }
    // Then the "disk" fills up: Commit fails with a message naming the journal and the cause,
    // and keeps failing (the buffer stays for a retry) without corrupting the journal.
    for (int i = 100; i < 100000; ++i) {
      if (!(*store)->Append(MakeRecord(i)).ok()) return 3;
      Status s = (*store)->Commit();
      if (s.ok()) continue;
      if (s.code() != Status::Code::kIOError) return 4;
      if (s.message().find(path + ".journal") == std::string::npos) return 5;
      if (s.message().find("File too large") == std::string::npos) return 6;
      if ((*store)->Commit().ok()) return 7;
      return i >= 200 ? 100 + (i - 100) / 100 : 8;  // Hundreds acknowledged; reported below.
    }
    return 9;
  });
  ASSERT_GE(rc, 100) << "child failed at step " << rc;
  acknowledged = 100 + (rc - 100) * 100;  // A lower bound on the committed records.
  auto read = ReadResults(path);
  ASSERT_TRUE(read.ok()) << read.status().ToString();
  ASSERT_GE(static_cast<int>(read->jobs.size()), acknowledged);
  for (int i = 0; i < acknowledged; ++i) ExpectSameRecord(MakeRecord(i), read->jobs[i]);
  EXPECT_EQ(read->warning, "");
}

}  // namespace
}  // namespace vlmscale::store
