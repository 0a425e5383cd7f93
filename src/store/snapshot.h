// HDF5 snapshots of the results store (the layout of docs/RESULTS.md). Internal to src/store.
// All HDF5 errors come back as Status; HDF5's own error printing is switched off.
#ifndef VLMSCALE_STORE_SNAPSHOT_H_
#define VLMSCALE_STORE_SNAPSHOT_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "core/status.h"
#include "store/job_record.h"
#include "store/results_store.h"

namespace vlmscale::store {

struct SnapshotHeader {
  std::string sweep_name;
  std::string config_text;
  std::string run_info_json;
  // The run records, {"runs": [objects]} (root attribute `runs`); "" in files without one.
  std::string runs_json;
  std::string vlmscale_version;
  std::string git_commit;
  int format_version = 0;
  double snapshot_time = 0.0;  // Unix seconds.
  int64_t journal_seq = 0;     // Last journal sequence number this snapshot contains.
};

// The /jobs rows of a snapshot, made one at a time (the writer keeps them packed).
struct SnapshotJobs {
  size_t count = 0;
  std::function<void(size_t i, JobRecord* job)> get;  // Fills *job with row i < count.
  // The curves alone: the points of all rows, and row i's id and curve (cheaper than get()).
  size_t curve_points = 0;
  std::function<void(size_t i, std::string* job_id, std::vector<CurvePoint>* curve)> curve;
};

// The /events rows of a snapshot, made one at a time (the writer keeps them packed).
struct SnapshotEvents {
  size_t count = 0;
  std::function<void(size_t i, JobEvent* event)> get;  // Fills *event with row i < count.
};

// Turns off HDF5's automatic error-stack printing on the calling thread (idempotent); the
// system error of a failed write is kept for WriteSnapshotFile()'s message instead.
void SilenceHdf5Errors();

// Writes a complete snapshot to `path` (truncating it) and fsyncs it. It does not rename
// anything: the caller writes to a temporary name and renames. HDF5 builds the file in memory and
// never writes the disk itself, so a full disk cannot leave the HDF5 library in a broken state:
// every write error (ENOSPC included) comes back as kIOError naming `path` and the system error
// ("No space left on device"). Rows are converted to the file's layout a slab at a time, so the
// memory it needs beyond the rows is the file image (taken over from HDF5, not copied) plus a few
// MiB. The HDF5 data is followed by a 16-byte CRC-32 trailer (docs/RESULTS.md) that
// ReadSnapshotFile() checks before HDF5 parses the file.
Status WriteSnapshotFile(const std::string& path, const SnapshotHeader& header,
                         const SnapshotJobs& jobs, const SnapshotEvents& events);

// Reads a snapshot. Jobs come back in file order, curves grouped by name in order of first
// appearance. The checksum trailer is mandatory: HDF5 parses only bytes whose checksum matched
// (from memory, so the file cannot change in between). Extents are checked against the file's
// size before anything is allocated (at most ReadBudget::kMaxExpansion = 1032 times the bytes the
// datasets occupy), and links to other files, external storage and unknown filters are refused.
// Errors: kNotFound if `path` does not exist; kIOError if it cannot be read; kInvalidInput (one
// line naming `path` and what to do) if it is not HDF5, not a vlmscale results file, or corrupt.
Status ReadSnapshotFile(const std::string& path, SnapshotHeader* header,
                        std::vector<JobRecord>* jobs, std::vector<JobEvent>* events);

// Appends the checksum trailer of `hdf5` (the bytes of an HDF5 file) to it: what
// WriteSnapshotFile() writes. For tests and fuzzers that craft results files.
void AppendChecksumTrailer(std::string* hdf5);

// ReadSnapshotFile() of the bytes `data` of a file called `path` (for messages).
Status ReadSnapshotBytes(const std::string& path, std::string data, SnapshotHeader* header,
                         std::vector<JobRecord>* jobs, std::vector<JobEvent>* events);

}  // namespace vlmscale::store

#endif  // VLMSCALE_STORE_SNAPSHOT_H_
