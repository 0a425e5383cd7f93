// HDF5 snapshots of the results store (the layout of docs/RESULTS.md). Internal to src/store.
// All HDF5 errors come back as Status; HDF5's own error printing is switched off.
#ifndef VLMSCALE_STORE_SNAPSHOT_H_
#define VLMSCALE_STORE_SNAPSHOT_H_

#include <cstdint>
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
  std::string vlmscale_version;
  std::string git_commit;
  int format_version = 0;
  double snapshot_time = 0.0;  // Unix seconds.
  int64_t journal_seq = 0;     // Last journal sequence number this snapshot contains.
};

// Turns off HDF5's automatic error-stack printing on the calling thread (idempotent); the
// system error of a failed write is kept for WriteSnapshotFile()'s message instead.
void SilenceHdf5Errors();

// Writes a complete snapshot to `path` (truncating it), closes it and fsyncs it. It does not
// rename anything: the caller writes to a temporary name and renames. kIOError on failure, with
// the system error ("No space left on device"). The HDF5 data is followed by a 16-byte CRC-32
// trailer (docs/RESULTS.md) that ReadSnapshotFile() checks before HDF5 parses the file.
Status WriteSnapshotFile(const std::string& path, const SnapshotHeader& header,
                         const std::vector<const JobRecord*>& jobs,
                         const std::vector<JobEvent>& events);

// Reads a snapshot read-only with HDF5 file locking disabled. Jobs come back in file order,
// curves grouped by name in order of first appearance. Errors: kNotFound if `path` does not exist;
// kInvalidInput if it is not HDF5, not a vlmscale results file, or corrupt.
Status ReadSnapshotFile(const std::string& path, SnapshotHeader* header,
                        std::vector<JobRecord>* jobs, std::vector<JobEvent>* events);

}  // namespace vlmscale::store

#endif  // VLMSCALE_STORE_SNAPSHOT_H_
