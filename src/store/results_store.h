// The durable results store of a sweep: one writer (the MPI coordinator on rank 0), any number of
// read-only readers (`vlmscale status`, `vlmscale export`, the fitter, h5py), live while it runs.
//
// Durability protocol (docs/RESULTS.md has the file layout):
//   1. Append()/SetRunInfo() serialise the change into an in-memory buffer (microseconds).
//   2. Commit() writes the buffer to `<path>.journal` with one pwrite() and fdatasync(): a change
//   is
//      "acknowledged" once Commit() returned OK, and is never lost afterwards, even on SIGKILL.
//      Each journal entry is self-delimiting and checksummed (u32 length, u32 CRC-32, JSON line)
//      and carries a sequence number; a torn tail is detected and ignored.
//   3. Snapshot() writes the whole state to `<path>.tmp` as HDF5, fsyncs it, rename()s it over
//      `<path>` and fsyncs the directory, so readers always see a complete file. The snapshot
//      records the last journal sequence number it contains; then the journal restarts at offset 0
//      (the file is kept, zero-filled, so that overwrites need no metadata update and fdatasync
//      stays cheap). Entries the snapshot already holds are skipped by sequence number on replay,
//      so neither a crash before the restart nor stale entries after the new ones count twice.
//   4. Open() and ReadResults() read the snapshot and replay the journal (latest record per job
//      wins). Readers open HDF5 read-only with file locking disabled and never write anything.
#ifndef VLMSCALE_STORE_RESULTS_STORE_H_
#define VLMSCALE_STORE_RESULTS_STORE_H_

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <ostream>
#include <set>
#include <string>
#include <vector>

#include "core/status.h"
#include "store/job_record.h"
#include "store/packed_jobs.h"

namespace vlmscale::store {

// Identifies vlmscale results files (root attributes `format` and `format_version`).
inline constexpr char kFormatName[] = "vlmscale-results";
// Version 2 keeps curves in one /curve_points table (version 1: a /curves group per job, still
// read); docs/RESULTS.md.
inline constexpr int kFormatVersion = 2;
// Failure messages longer than this many bytes are cut (on a UTF-8 character boundary) by Append().
inline constexpr size_t kMaxMessageBytes = 4096;

struct StoreState;    // store/journal.h
struct ReplayReport;  // store/journal.h

struct StoreOptions {
  std::string path;         // REQUIRES: non-empty. Results file.
  std::string sweep_name;   // REQUIRES: non-empty.
  std::string config_text;  // Resolved config, stored as an attribute. Default: "".
  bool fresh = false;       // Move an existing file aside and start anew. Default: false.
  // Seconds between snapshots in MaybeSnapshot() (stretched for very large sweeps, see there).
  double snapshot_interval_seconds = 2.0;  // Default: 2. REQUIRES: >= 0.
  bool IsValid(std::string* error) const;
};

// One state transition of a job (the append-only event log, `/events` in the file).
struct JobEvent {
  std::string job_id;
  JobState state = JobState::kPending;
  int attempt = 0;
  double time = 0.0;  // Unix seconds when the store saw the transition.
  std::string failure_class;
};

class ResultsStore {
 public:
  // Opens (or creates) the results file for writing: reads the snapshot, replays and repairs the
  // journal (a torn tail is cut off), removes a stale `<path>.tmp`. On a new file, writes an empty
  // snapshot at once so readers can open it. Errors:
  //   kInvalidInput: the file belongs to another sweep (unless options.fresh), is not a vlmscale
  //                  results file, or is corrupt; or options are invalid.
  //   kIOError:      the file or its directory is not writable, or another process holds it open
  //                  for writing.
  static Result<std::unique_ptr<ResultsStore>> Open(const StoreOptions& options);

  ~ResultsStore();  // Does not Close(): uncommitted appends are dropped, like on a crash.
  ResultsStore(const ResultsStore&) = delete;
  ResultsStore& operator=(const ResultsStore&) = delete;

  // Current state: the latest record of each job (appends not yet committed included), in
  // first-append order (the grid order of the file). The records are kept packed
  // (store/packed_jobs.h, ~0.3 KB per job) and made on demand: job(i) builds one.
  size_t job_count() const { return jobs_.size(); }
  JobRecord job(size_t i) const { return jobs_.Get(i); }  // REQUIRES: i < job_count().
  void job(size_t i, JobRecord* record) const { jobs_.Get(i, record); }
  // The position of job `id` in that order, or -1 if the store has no record of it.
  int64_t job_index(const std::string& id) const { return jobs_.Find(id); }
  // The latest record of job `id`, or nullopt if the store has none.
  std::optional<JobRecord> FindJob(const std::string& id) const;
  JobState job_state(size_t i) const { return jobs_.state(i); }   // REQUIRES: i < job_count().
  std::string job_id(size_t i) const { return jobs_.id(i); }      // REQUIRES: i < job_count().
  int job_attempts(size_t i) const { return jobs_.attempts(i); }  // REQUIRES: i < job_count().
  // The state transitions seen so far, oldest first: event(i) for i < event_count(). The writer
  // keeps them packed (24 bytes each) and makes each JobEvent on demand.
  size_t event_count() const { return events_.size(); }
  JobEvent event(size_t i) const;
  const std::string& run_info_json() const { return run_info_json_; }
  // The run records (JSON objects: the `vlmscale run` that wrote to the file, its time, host,
  // version, config and overrides), oldest first.
  const std::vector<std::string>& runs() const { return runs_; }

  // Buffers `record` as the job's new state (REQUIRES: non-empty job_id). A change of state or
  // attempt count also appends a JobEvent. Not durable until Commit().
  Status Append(const JobRecord& record);
  // Buffers the run info (a JSON object the driver defines; see docs/RESULTS.md). REQUIRES: valid
  // JSON, else kInvalidInput.
  Status SetRunInfo(const std::string& json);
  // Buffers one run record (a JSON object text; kInvalidInput otherwise), kept for good: the
  // history `vlmscale status --history` lists.
  Status AddRun(const std::string& json);
  // Writes the buffered changes with one write() + fdatasync(). After OK they are acknowledged.
  // On error (kIOError) the journal is rolled back to its previous length and the buffer is kept.
  Status Commit();
  // Snapshot() if something changed and max(snapshot_interval_seconds, 10 x the duration of the
  // last snapshot) elapsed since it (so snapshots of huge sweeps take under ~10% of the time).
  Status MaybeSnapshot();
  // Commit(), then write an HDF5 snapshot atomically and truncate the journal.
  Status Snapshot();
  // Commit + snapshot + truncate the journal; the store accepts no more changes afterwards.
  Status Close();

  // A problem Open() recovered from that users must hear about (damage in the middle of the
  // journal: what was recovered and where the damaged journal was copied), or "".
  const std::string& warning() const { return warning_; }
  // Where `fresh` moved the old file, or "".
  const std::string& moved_aside_path() const { return moved_aside_path_; }
  // Statistics for benchmarks and logs.
  int64_t commits() const { return commits_; }
  size_t buffered_bytes() const { return buffer_.size(); }  // Encoded, not yet committed.
  int64_t snapshots() const { return snapshots_; }
  double last_snapshot_seconds() const { return last_snapshot_seconds_; }

 private:
  explicit ResultsStore(StoreOptions options);
  Status OpenImpl();
  // kInvalidInput unless the loaded file is this sweep's (by its snapshot's or its journal's
  // sweep name), or is empty.
  Status CheckOwner(const StoreState& state, bool have_snapshot, const ReplayReport& report) const;
  Status WriteSnapshotNow();
  // Appends an event of `job`: a row of jobs_, or kOrphan | an index into orphan_ids_.
  void AddEvent(uint32_t job, JobState state, int attempt, double time,
                const std::string& failure_class);
  // The id of an event's `job`.
  std::string EventJobId(uint32_t job) const;
  static constexpr uint32_t kOrphan = 0x80000000u;

  // A JobEvent as the writer keeps it: the job by its row (or orphan index), the failure class as
  // an index into failure_classes_.
  struct PackedEvent {
    double time = 0.0;
    uint32_t job = 0;
    int32_t attempt = 0;
    uint32_t failure_class : 24;
    uint32_t state : 8;
  };

  StoreOptions options_;
  std::string journal_path_;
  int journal_fd_ = -1;
  int64_t journal_size_ = 0;      // Bytes of valid entries in the journal (the write offset).
  int64_t journal_capacity_ = 0;  // Size of the journal file (zero-filled beyond journal_size_).
  int64_t next_seq_ = 1;          // Sequence number of the next journal entry.
  int64_t snapshot_seq_ = 0;      // Last sequence number the on-disk snapshot holds.
  std::string buffer_;            // Encoded entries not yet committed.
  int64_t buffered_last_seq_ = 0;
  PackedJobs jobs_;
  std::vector<PackedEvent> events_;
  std::vector<std::string> failure_classes_;  // Distinct failure classes of events_, "" first.
  std::map<std::string, uint32_t> failure_class_index_;
  // Ids of events read from a file whose job has no record there (a damaged or crafted file).
  std::vector<std::string> orphan_ids_;
  std::string run_info_json_;
  std::vector<std::string> runs_;
  std::string moved_aside_path_;
  std::string warning_;
  double last_snapshot_time_ = 0.0;  // Monotonic seconds.
  int64_t committed_seq_ = 0;        // Last sequence number that is durable in the journal.
  bool closed_ = false;
  int64_t commits_ = 0;
  int64_t snapshots_ = 0;
  double last_snapshot_seconds_ = 0.0;
};

// Everything a results file holds, as readers see it.
struct ResultsFile {
  std::string path, sweep_name, config_text, vlmscale_version, git_commit, run_info_json;
  std::vector<JobRecord> jobs;  // In first-append (grid) order, one per job id.
  // Added beyond the original interface:
  std::vector<JobEvent> events;   // State transitions, oldest first.
  std::vector<std::string> runs;  // Run records (JSON object texts), oldest first.
  int format_version = 0;
  double snapshot_time = 0.0;   // Unix seconds of the snapshot; 0 if only the journal exists.
  int64_t journal_entries = 0;  // Entries replayed from the journal on top of the snapshot.
  // Damage in the middle of the journal that the read skipped (entries after it were recovered),
  // or "". Readers print it as a warning; the next `vlmscale run` repairs the file.
  std::string warning;
};

// Reads snapshot + journal without writing anything (safe while a writer runs; retries when a
// snapshot replaces the file mid-read). Errors: kNotFound if neither `path` nor its journal
// exists; kInvalidInput if `path` is not a vlmscale results file or is corrupt.
Result<ResultsFile> ReadResults(const std::string& path);

// Export columns, in order (stable; docs/RESULTS.md describes them). The export adds one column
// per varied setting key of the file after them (store/settings.h: VariedSettingKeys).
const std::vector<std::string>& ExportColumns();
// One CSV row per job with a header line of ExportColumns() and the varied setting keys; NaN is
// written as an empty cell, extra_metrics as a JSON object string. Curves are not exported to CSV.
Status ExportCsv(const ResultsFile& file, std::ostream& out);
// A JSON object {"sweep_name", "vlmscale_version", "git_commit", "run_info", "columns",
// "varied_settings", "jobs": [...]} with one object per job keyed by "columns" (ExportColumns()
// and the varied setting keys; NaN as null, extra_metrics as an object) plus "curves".
Status ExportJson(const ResultsFile& file, std::ostream& out);

}  // namespace vlmscale::store

#endif  // VLMSCALE_STORE_RESULTS_STORE_H_
