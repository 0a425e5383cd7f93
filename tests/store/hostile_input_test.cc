// Hostile and damaged results files (issue 23, part A): every crafted input is built here. Each
// test names the defect it guards against: the readers must answer with one clear error or a
// warning, never a crash, an exception or an allocation as large as a lying header asks for.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <hdf5.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <sstream>

#include "store/journal.h"
#include "store/results_store.h"
#include "tests/store/store_test_util.h"

namespace vlmscale::store {
namespace {

using nlohmann::json;
using ::testing::HasSubstr;
using testing::MakeRecord;
using ::testing::Not;
using testing::ReadFile;
using testing::ScratchDir;
using testing::WriteFile;

StoreOptions Options(const std::string& path, const std::string& sweep = "sweep-a") {
  StoreOptions o;
  o.path = path;
  o.sweep_name = sweep;
  o.snapshot_interval_seconds = 1000;
  return o;
}

// Files in `dir` whose name contains `part`.
std::vector<std::string> FilesWith(const std::string& dir, const std::string& part) {
  std::vector<std::string> out;
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    if (e.path().filename().string().find(part) != std::string::npos) out.push_back(e.path());
  }
  return out;
}

// A sweep whose records 0..n-1 are in the journal only (the writer "crashed" after committing).
void JournalOnlyRecords(const std::string& path, int n, const std::string& sweep = "sweep-a") {
  auto store = ResultsStore::Open(Options(path, sweep));
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  for (int i = 0; i < n; ++i) ASSERT_TRUE((*store)->Append(MakeRecord(i)).ok());
  ASSERT_TRUE((*store)->Commit().ok());
}

// ---- Journal entries with a valid CRC and hostile JSON (item 3) --------------------------------

// The journal of `path` with `entry` (correctly framed and checksummed) written after its valid
// entries.
void AppendCraftedEntry(const std::string& path, const json& entry) {
  const std::string journal = path + ".journal";
  std::string data = ReadFile(journal);
  data.resize(DecodeJournal(data).valid_bytes);
  EncodeJournalEntry(entry, &data);
  WriteFile(journal, data);
}

TEST(HostileJournal, AnEntryWithAValidCrcButAWrongFieldTypeIsSkippedAndReported) {
  // Was: nlohmann type_error.302 escaping status, export and fit (exit 134).
  const std::vector<std::pair<json, std::string>> cases = {
      {{{"t", "run_info"}, {"seq", 999999}, {"v", 5}}, "field 'v' is not a string"},
      {{{"t", "run_info"}, {"seq", 999999}, {"v", std::string(100, '[') + std::string(100, ']')}},
       "nested at most 64 deep"},
      {{{"t", "job"}, {"seq", 999999}, {"rec", {{"job_id", 7}}}}, "field 'job_id' is not a string"},
      {{{"t", "job"}, {"seq", 999999}, {"rec", {{"job_id", "x"}, {"attempts", int64_t{1} << 40}}}},
       "field 'attempts' is not a 32-bit integer"},
      {{{"t", "job"}, {"seq", 999999}, {"rec", "text"}}, "job record is not a JSON object"},
      {{{"t", "job"}, {"seq", 9223372036854775807}, {"rec", {{"job_id", "x"}}}},
       "field 'seq' is not an integer"},
      {{{"t", "job"}, {"seq", "7"}, {"rec", {{"job_id", "x"}}}}, "field 'seq' is not an integer"},
      {{{"t", "meta"}, {"sweep", 5}}, "field 'sweep' is not a string"},
      {{{"t", 5}}, "field 't' is not a string"},
      {json::array({1, 2}), "not a JSON object"},
  };
  for (const auto& [entry, reason] : cases) {
    SCOPED_TRACE(entry.dump());
    ScratchDir dir;
    const std::string path = dir.File("r.h5");
    JournalOnlyRecords(path, 3);
    AppendCraftedEntry(path, entry);
    auto read = ReadResults(path);
    ASSERT_TRUE(read.ok()) << read.status().ToString();
    EXPECT_EQ(read->jobs.size(), 3u);  // The intact entries all count; the bad one changes nothing.
    EXPECT_EQ(read->run_info_json, "");
    EXPECT_THAT(read->warning, HasSubstr("1 entries that pass their checksum but are malformed"));
    EXPECT_THAT(read->warning, HasSubstr(reason));
    // The writer reports it, keeps a copy, and numbers new entries after the intact ones (a
    // skipped seq of 999999 or 2^63-1 must not be taken over).
    auto store = ResultsStore::Open(Options(path));
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    EXPECT_THAT((*store)->warning(), HasSubstr("malformed"));
    EXPECT_EQ(FilesWith(dir.path(), ".journal.damaged-").size(), 1u);
    ASSERT_TRUE((*store)->Append(MakeRecord(3)).ok());
    ASSERT_TRUE((*store)->Close().ok());
    read = ReadResults(path);
    ASSERT_TRUE(read.ok());
    EXPECT_EQ(read->jobs.size(), 4u);
    EXPECT_EQ(read->warning, "");
  }
}

TEST(HostileJournal, AMalformedEntryInTheMiddleDoesNotHideTheEntriesAfterIt) {
  ScratchDir dir;
  const std::string path = dir.File("r.h5");
  JournalOnlyRecords(path, 2);
  AppendCraftedEntry(path, {{"t", "run_info"}, {"seq", 3}, {"v", 5}});
  {
    auto store = ResultsStore::Open(Options(path));  // Reads (and reports) it, appends after it.
    ASSERT_TRUE(store.ok()) << store.status().ToString();
  }
  const std::string journal = path + ".journal";
  std::string data;
  EncodeJournalEntry({{"t", "meta"}, {"sweep", "sweep-a"}}, &data);
  for (int i = 0; i < 2; ++i) EncodeJobEntry(1 + i, MakeRecord(i), nullptr, &data);
  EncodeJournalEntry({{"t", "run_info"}, {"seq", 3}, {"v", 5}}, &data);
  EncodeJobEntry(4, MakeRecord(7), nullptr, &data);
  std::filesystem::remove(path);  // Journal only, with the bad entry between good ones.
  WriteFile(journal, data);
  auto read = ReadResults(path);
  ASSERT_TRUE(read.ok()) << read.status().ToString();
  ASSERT_EQ(read->jobs.size(), 3u);
  EXPECT_EQ(read->jobs[2].job_id, MakeRecord(7).job_id);
  EXPECT_THAT(read->warning, HasSubstr("malformed (the first at byte "));
}

// ---- A journal that is all garbage (item 10) ---------------------------------------------------

TEST(HostileJournal, AJournalOfOnlyGarbageIsQuarantinedAndReported) {
  // Was: dropped silently, no warning and no copy; its results were run again.
  ScratchDir dir;
  const std::string path = dir.File("r.h5");
  JournalOnlyRecords(path, 5);
  const std::string journal = path + ".journal";
  std::string garbage(DecodeJournal(ReadFile(journal)).valid_bytes, '\0');
  for (size_t i = 0; i < garbage.size(); ++i) garbage[i] = static_cast<char>(1 + (i * 37) % 251);
  WriteFile(journal, garbage);
  auto read = ReadResults(path);
  ASSERT_TRUE(read.ok()) << read.status().ToString();
  EXPECT_TRUE(read->jobs.empty());
  EXPECT_THAT(read->warning,
              HasSubstr("journal " + journal + " is damaged: none of its " +
                        std::to_string(garbage.size()) + " bytes holds an intact entry"));
  auto store = ResultsStore::Open(Options(path));  // The snapshot names the sweep: accepted.
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  EXPECT_THAT((*store)->warning(), HasSubstr("none of its"));
  const auto copies = FilesWith(dir.path(), ".journal.damaged-");
  ASSERT_EQ(copies.size(), 1u);
  EXPECT_EQ(ReadFile(copies[0]), garbage);
}

TEST(HostileJournal, AZeroFilledJournalIsNotDamage) {
  ScratchDir dir;
  const std::string path = dir.File("r.h5");
  JournalOnlyRecords(path, 1);
  WriteFile(path + ".journal", std::string(1 << 16, '\0'));
  auto read = ReadResults(path);
  ASSERT_TRUE(read.ok());
  EXPECT_EQ(read->warning, "");
  auto store = ResultsStore::Open(Options(path));
  ASSERT_TRUE(store.ok());
  EXPECT_EQ((*store)->warning(), "");
  EXPECT_TRUE(FilesWith(dir.path(), ".damaged-").empty());
}

TEST(HostileJournal, AFifoInPlaceOfTheJournalOrTheSnapshotIsRefusedWithoutBlocking) {
  ScratchDir dir;
  const std::string path = dir.File("r.h5");
  { auto store = ResultsStore::Open(Options(path)); }
  std::filesystem::remove(path + ".journal");
  ASSERT_EQ(mkfifo((path + ".journal").c_str(), 0644), 0);
  auto read = ReadResults(path);
  ASSERT_FALSE(read.ok());
  EXPECT_THAT(read.status().message(), HasSubstr(path + ".journal is not a regular file"));
  std::filesystem::remove(path + ".journal");
  std::filesystem::remove(path);
  ASSERT_EQ(mkfifo(path.c_str(), 0644), 0);
  read = ReadResults(path);
  ASSERT_FALSE(read.ok());
  EXPECT_THAT(read.status().message(), HasSubstr(path + " is not a regular file"));
}

// ---- Whose journal is it (item 6) ---------------------------------------------------------------

TEST(HostileJournal, AJournalOnlyFileWhoseFirstEntryIsDamagedIsNotAdopted) {
  // Was: the damaged meta entry (the sweep name) let another sweep merge its jobs into the file.
  ScratchDir dir;
  const std::string path = dir.File("r.h5");
  JournalOnlyRecords(path, 10, "alpha");
  std::filesystem::remove(path);  // Journal only.
  const std::string journal = path + ".journal";
  std::string data = ReadFile(journal);
  data[12] ^= 0x5A;  // Inside the meta entry's payload: its CRC fails.
  WriteFile(journal, data);
  for (const std::string sweep : {"beta", "alpha"}) {
    auto store = ResultsStore::Open(Options(path, sweep));
    ASSERT_FALSE(store.ok()) << sweep;
    EXPECT_TRUE(store.status().IsInvalidInput());
    EXPECT_THAT(store.status().message(), HasSubstr("results journal " + journal));
    EXPECT_THAT(store.status().message(), HasSubstr("does not say which sweep it belongs to"));
    EXPECT_THAT(store.status().message(), HasSubstr("expected sweep '" + sweep + "'"));
    EXPECT_THAT(store.status().message(), HasSubstr("--fresh"));
    EXPECT_EQ(ReadFile(journal), data);  // Untouched.
    EXPECT_FALSE(std::filesystem::exists(path));
  }
  // --fresh moves it aside and starts anew.
  StoreOptions fresh = Options(path, "beta");
  fresh.fresh = true;
  auto store = ResultsStore::Open(fresh);
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  EXPECT_EQ((*store)->job_count(), 0u);
}

TEST(HostileJournal, AJournalNamingAnotherSweepIsRefusedEvenNextToThisSweepsSnapshot) {
  ScratchDir dir;
  const std::string path = dir.File("r.h5");
  { auto store = ResultsStore::Open(Options(path, "beta")); }  // beta's snapshot, empty journal.
  const std::string beta_snapshot = ReadFile(path);
  JournalOnlyRecords(dir.File("a.h5"), 4, "alpha");
  WriteFile(path + ".journal", ReadFile(dir.File("a.h5.journal")));  // alpha's journal.
  auto store = ResultsStore::Open(Options(path, "beta"));
  ASSERT_FALSE(store.ok());
  EXPECT_THAT(store.status().message(), HasSubstr("belongs to sweep 'alpha'"));
  EXPECT_EQ(ReadFile(path), beta_snapshot);
}

// ---- The snapshot checksum is mandatory (item 4) ------------------------------------------------

std::string ClosedStoreWith(const ScratchDir& dir, int jobs) {
  const std::string path = dir.File("r.h5");
  auto store = ResultsStore::Open(Options(path));
  CHECK(store.ok());
  for (int i = 0; i < jobs; ++i) CHECK((*store)->Append(MakeRecord(i)).ok());
  CHECK((*store)->Close().ok());
  return path;
}

TEST(HostileSnapshot, AFileWithoutItsChecksumTrailerIsRefusedNotReadUnchecked) {
  // Was: read as an old unchecked file; with damaged bytes status/export/fit/run segfaulted.
  ScratchDir dir;
  const std::string path = ClosedStoreWith(dir, 40);
  const std::string original = ReadFile(path);
  std::string stripped = original.substr(0, original.size() - 16);
  for (bool damaged : {false, true}) {
    std::string data = stripped;
    if (damaged) {
      for (size_t i = data.size() / 3; i < data.size() / 3 + 512; ++i) data[i] = '\xA5';
    }
    WriteFile(path, data);
    auto read = ReadResults(path);
    ASSERT_FALSE(read.ok());
    EXPECT_TRUE(read.status().IsInvalidInput());
    EXPECT_THAT(read.status().message(), HasSubstr(path + " is a vlmscale results file without "
                                                          "its checksum trailer"));
    auto store = ResultsStore::Open(Options(path));
    ASSERT_FALSE(store.ok());
    EXPECT_EQ(ReadFile(path), data);
  }
  // Only the magic damaged: the HDF5 data ends 16 bytes before the file does.
  std::string bad_magic = original;
  bad_magic[bad_magic.size() - 16] = 'X';
  WriteFile(path, bad_magic);
  auto read = ReadResults(path);
  ASSERT_FALSE(read.ok());
  EXPECT_THAT(read.status().message(), HasSubstr("corrupt or truncated"));
}

// ---- Hostile HDF5 structure behind a valid checksum (item 3)
// -------------------------------------

// Creates an HDF5 file at `path` with the root attributes of a results file, lets `fill` add to
// it, and appends a valid checksum trailer: everything the reader trusts is hostile only inside.
void CraftResultsFile(const std::string& path, const std::function<void(hid_t)>& fill) {
  hid_t f = H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  ASSERT_GE(f, 0);
  auto string_attr = [&](const char* name, const std::string& value) {
    hid_t type = H5Tcopy(H5T_C_S1);
    H5Tset_size(type, H5T_VARIABLE);
    hid_t space = H5Screate(H5S_SCALAR);
    hid_t attr = H5Acreate2(f, name, type, space, H5P_DEFAULT, H5P_DEFAULT);
    const char* p = value.c_str();
    H5Awrite(attr, type, &p);
    H5Aclose(attr);
    H5Sclose(space);
    H5Tclose(type);
  };
  string_attr("format", kFormatName);
  string_attr("sweep_name", "sweep-a");
  fill(f);
  ASSERT_GE(H5Fclose(f), 0);
  std::string data = ReadFile(path);
  char trailer[16] = {'V', 'L', 'M', 'S', 'C', 'R', 'C', '1'};
  const uint32_t crc = Crc32(data), size = static_cast<uint32_t>(data.size());
  for (int i = 0; i < 4; ++i) {
    trailer[8 + i] = static_cast<char>((crc >> (8 * i)) & 0xFF);
    trailer[12 + i] = static_cast<char>((size >> (8 * i)) & 0xFF);
  }
  WriteFile(path, data + std::string(trailer, 16));
}

// A one-dimensional compound dataset `name` of `rows` rows that were never written (no data in
// the file), chunked and extendable (like /jobs) or contiguous (like a curve).
void DeclareRows(hid_t loc, const char* name, hsize_t rows, bool chunked) {
  hid_t type = H5Tcreate(H5T_COMPOUND, 16);
  H5Tinsert(type, chunked ? "job_id" : "step", 0, chunked ? H5T_NATIVE_INT64 : H5T_NATIVE_INT64);
  H5Tinsert(type, chunked ? "error" : "value", 8, H5T_NATIVE_DOUBLE);
  if (chunked) {
    H5Tclose(type);
    type = H5Tcreate(H5T_COMPOUND, 24);
    hid_t str = H5Tcopy(H5T_C_S1);
    H5Tset_size(str, 16);
    H5Tset_cset(str, H5T_CSET_UTF8);
    H5Tinsert(type, "job_id", 0, str);
    H5Tinsert(type, "error", 16, H5T_NATIVE_DOUBLE);
    H5Tclose(str);
  }
  hsize_t dims[1] = {rows}, max_dims[1] = {H5S_UNLIMITED}, chunk[1] = {1024};
  hid_t space = H5Screate_simple(1, dims, chunked ? max_dims : nullptr);
  hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
  if (chunked) H5Pset_chunk(dcpl, 1, chunk);
  hid_t dset = H5Dcreate2(loc, name, type, space, H5P_DEFAULT, dcpl, H5P_DEFAULT);
  ASSERT_GE(dset, 0) << name;
  H5Dclose(dset);
  H5Pclose(dcpl);
  H5Sclose(space);
  H5Tclose(type);
}

// A valid /jobs table of one job "j1" (so that curves have a job to belong to).
void OneJob(hid_t f) {
  hid_t type = H5Tcreate(H5T_COMPOUND, 16);
  hid_t str = H5Tcopy(H5T_C_S1);
  H5Tset_size(str, 16);
  H5Tset_cset(str, H5T_CSET_UTF8);
  H5Tinsert(type, "job_id", 0, str);
  hsize_t dims[1] = {1};
  hid_t space = H5Screate_simple(1, dims, nullptr);
  hid_t dset = H5Dcreate2(f, "jobs", type, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  char row[16] = {'j', '1'};
  H5Dwrite(dset, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, row);
  H5Dclose(dset);
  H5Sclose(space);
  H5Tclose(str);
  H5Tclose(type);
}

void ExpectRefusedSaying(const std::string& path, const std::string& what) {
  auto read = ReadResults(path);
  ASSERT_FALSE(read.ok());
  EXPECT_TRUE(read.status().IsInvalidInput()) << read.status().ToString();
  EXPECT_THAT(read.status().message(), HasSubstr(path));
  EXPECT_THAT(read.status().message(), HasSubstr(what));
  EXPECT_EQ(read.status().message().find('\n'), std::string::npos);
  auto store = ResultsStore::Open(Options(path));
  ASSERT_FALSE(store.ok());
  EXPECT_TRUE(store.status().IsInvalidInput()) << store.status().ToString();
}

TEST(HostileSnapshot, ExtentsLargerThanTheFileCanHoldAreRefusedBeforeAllocating) {
  // Was: std::bad_alloc in status, export and fit from a 10 KB file (exit 134).
  ScratchDir dir;
  const std::string path = dir.File("r.h5");
  CraftResultsFile(path, [](hid_t f) { DeclareRows(f, "jobs", 1000000000000ull, true); });
  ASSERT_LT(std::filesystem::file_size(path), 20000u);
  ExpectRefusedSaying(path, "/jobs declares 1000000000000 rows");

  CraftResultsFile(path, [](hid_t f) {
    OneJob(f);
    DeclareRows(f, "events", 3000000000ull, true);
  });
  ExpectRefusedSaying(path, "/events declares 3000000000 rows");

  CraftResultsFile(path, [](hid_t f) {
    OneJob(f);
    hid_t curves = H5Gcreate2(f, "curves", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    hid_t job = H5Gcreate2(curves, "j1", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    DeclareRows(job, "loss", 4000000000ull, false);
    H5Gclose(job);
    H5Gclose(curves);
  });
  ExpectRefusedSaying(path, "curve /curves/j1/loss declares 4000000000 rows");
}

TEST(HostileSnapshot, AttributesOfTheWrongShapeOrTypeAreNotReadIntoOneValue) {
  // An array where one value is expected made H5Aread write past the end of the buffer.
  ScratchDir dir;
  const std::string path = dir.File("r.h5");
  CraftResultsFile(path, [](hid_t f) {
    OneJob(f);
    hsize_t dims[1] = {4096};
    hid_t space = H5Screate_simple(1, dims, nullptr);
    for (const char* name : {"format_version", "journal_seq", "snapshot_time"}) {
      hid_t attr = H5Acreate2(f, name, H5T_NATIVE_INT64, space, H5P_DEFAULT, H5P_DEFAULT);
      std::vector<int64_t> values(4096, 7);
      H5Awrite(attr, H5T_NATIVE_INT64, values.data());
      H5Aclose(attr);
    }
    hid_t str = H5Tcopy(H5T_C_S1);
    H5Tset_size(str, H5T_VARIABLE);
    hid_t attr = H5Acreate2(f, "run_info", str, space, H5P_DEFAULT, H5P_DEFAULT);
    std::vector<const char*> values(4096, "{}");
    H5Awrite(attr, str, values.data());
    H5Aclose(attr);
    H5Tclose(str);
    H5Sclose(space);
  });
  auto read = ReadResults(path);
  ASSERT_TRUE(read.ok()) << read.status().ToString();  // The arrays are ignored.
  EXPECT_EQ(read->jobs.size(), 1u);
  EXPECT_EQ(read->run_info_json, "");

  CraftResultsFile(path, [](hid_t f) {
    OneJob(f);
    hid_t space = H5Screate(H5S_SCALAR);
    hid_t attr = H5Acreate2(f, "journal_seq", H5T_NATIVE_INT64, space, H5P_DEFAULT, H5P_DEFAULT);
    const int64_t seq = INT64_MAX;
    H5Awrite(attr, H5T_NATIVE_INT64, &seq);
    H5Aclose(attr);
    H5Sclose(space);
  });
  ExpectRefusedSaying(path, "journal_seq 9223372036854775807 is not in [0, 2^62]");
}

TEST(HostileSnapshot, LinksToOtherFilesAreNeverFollowed) {
  ScratchDir dir;
  const std::string path = dir.File("r.h5");
  CraftResultsFile(path, [](hid_t f) {
    H5Lcreate_external("/dev/zero", "/jobs", f, "jobs", H5P_DEFAULT, H5P_DEFAULT);
  });
  ExpectRefusedSaying(path, "/jobs is not a dataset stored in the file");
}

// ---- A snapshot that hits a full disk (item 2)
// ---------------------------------------------------

TEST(HostileSnapshot, ASnapshotThatCannotBeWrittenFailsCleanlyAndTheProcessExitsNormally) {
  // Was: the error was printed, then SIGSEGV in H5F__close_cb / H5_term_library at exit. The
  // child writes under RLIMIT_FSIZE (EFBIG, as ENOSPC: the write fails) and exits with exit(), so
  // HDF5's exit handlers run; it must end with the status it chose, not a signal.
  ScratchDir dir;
  const std::string path = dir.File("r.h5");
  pid_t pid = fork();
  if (pid == 0) {
    std::signal(SIGXFSZ, SIG_IGN);
    auto store = ResultsStore::Open(Options(path));
    if (!store.ok()) std::exit(10);
    for (int i = 0; i < 2000; ++i) {
      JobRecord r = MakeRecord(i);
      r.message = std::string(1000, static_cast<char>('a' + i % 26));  // Snapshot: > 64 KB.
      if (!(*store)->Append(r).ok()) std::exit(11);
    }
    if (!(*store)->Commit().ok()) std::exit(12);
    struct rlimit limit = {1 << 16, 1 << 16};
    if (setrlimit(RLIMIT_FSIZE, &limit) != 0) std::exit(13);
    Status s = (*store)->Snapshot();
    if (s.ok() || s.code() != Status::Code::kIOError) std::exit(14);
    if (s.message().find(path + ".tmp") == std::string::npos) std::exit(15);
    if (s.message().find("File too large") == std::string::npos) std::exit(16);
    if ((*store)->Close().ok()) std::exit(17);  // Still failing, still no crash.
    std::exit(42);
  }
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  ASSERT_FALSE(WIFSIGNALED(status)) << "killed by signal " << WTERMSIG(status);
  ASSERT_EQ(WEXITSTATUS(status), 42);
  EXPECT_FALSE(std::filesystem::exists(path + ".tmp"));
  // Everything committed is there for the next run.
  auto store = ResultsStore::Open(Options(path));
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  EXPECT_EQ((*store)->job_count(), 2000u);
  EXPECT_EQ((*store)->warning(), "");
}

}  // namespace
}  // namespace vlmscale::store
