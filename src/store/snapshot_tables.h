// The HDF5 dataset layer of the results snapshots (store/snapshot.cc keeps the file image, the
// checksum trailer and the public API): owned HDF5 handles, attributes, the /jobs and /events
// compound tables, the /curves groups, and the budget that checks every read of a (possibly
// hostile) file against the bytes the file holds. Internal to src/store.
#ifndef VLMSCALE_STORE_SNAPSHOT_TABLES_H_
#define VLMSCALE_STORE_SNAPSHOT_TABLES_H_

#include <hdf5.h>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "core/status.h"
#include "store/job_record.h"
#include "store/results_store.h"
#include "store/snapshot.h"

namespace vlmscale::store::internal {

// Owns an HDF5 identifier and closes it with the matching H5?close function.
class Handle {
 public:
  Handle() = default;
  Handle(hid_t id, herr_t (*closer)(hid_t)) : id_(id), closer_(closer) {}
  Handle(Handle&& o) noexcept : id_(o.id_), closer_(o.closer_) { o.id_ = -1; }
  Handle& operator=(Handle&& o) noexcept {
    std::swap(id_, o.id_);
    std::swap(closer_, o.closer_);
    return *this;
  }
  Handle(const Handle&) = delete;
  Handle& operator=(const Handle&) = delete;
  ~Handle() {
    if (id_ >= 0 && closer_ != nullptr) closer_(id_);
  }
  hid_t get() const { return id_; }
  bool valid() const { return id_ >= 0; }
  // Closes now and reports whether closing succeeded.
  bool Close() {
    if (id_ < 0) return true;
    herr_t rc = closer_(id_);
    id_ = -1;
    return rc >= 0;
  }

 private:
  hid_t id_ = -1;
  herr_t (*closer_)(hid_t) = nullptr;
};

// A fixed-length string type. Readers pass the file's character set: HDF5 does not convert
// between ASCII and UTF-8 (h5py writes NumPy 'S' strings as ASCII).
Handle StringType(size_t width, H5T_cset_t cset = H5T_CSET_UTF8);
// A variable-length UTF-8 string type.
Handle VarStringType();

// Writes the scalar variable-length string attribute `name` of `loc`; false on failure.
bool WriteStringAttribute(hid_t loc, const char* name, const std::string& value);

template <typename T>
bool WriteScalarAttribute(hid_t loc, const char* name, hid_t type, T value) {
  Handle space(H5Screate(H5S_SCALAR), H5Sclose);
  Handle attr(H5Acreate2(loc, name, type, space.get(), H5P_DEFAULT, H5P_DEFAULT), H5Aclose);
  return attr.valid() && H5Awrite(attr.get(), type, &value) >= 0;
}

// The attribute `name` of `loc` if it exists and holds exactly one element; invalid otherwise.
// (H5Aread writes every element: an array where one value is expected would overrun the buffer.)
Handle OpenSingleAttribute(hid_t loc, const char* name);

// Reads a string attribute (variable or fixed length). Returns false if absent or not a string.
bool ReadStringAttribute(hid_t loc, const char* name, std::string* value);

// Reads a numeric attribute (integer or float in the file) converted to `type`.
template <typename T>
bool ReadScalarAttribute(hid_t loc, const char* name, hid_t type, T* value) {
  Handle attr = OpenSingleAttribute(loc, name);
  if (!attr.valid()) return false;
  Handle ftype(H5Aget_type(attr.get()), H5Tclose);
  const H5T_class_t cls = H5Tget_class(ftype.get());
  if (cls != H5T_INTEGER && cls != H5T_FLOAT) return false;
  T v{};
  if (H5Aread(attr.get(), type, &v) < 0) return false;
  *value = v;
  return true;
}

// How much a reader may allocate for one results file. HDF5 does not check a dataset's declared
// extent against the data the file holds (a 10 KB file may declare 10^12 rows); every read is
// checked first: the storage the datasets occupy must fit in the file, and their rows (as read,
// and as objects) in kMaxExpansion times that storage (deflate expands at most ~1032 times).
struct ReadBudget {
  static constexpr uint64_t kMaxExpansion = 1032;
  uint64_t file_size = 0;
  uint64_t storage_left = 0;  // File bytes not yet claimed by a dataset read so far.
};

// Checks that reading `rows` rows of `file_row_bytes` each into `memory_row_bytes` each (including
// the objects they become) is backed by data in the file, and claims the dataset's storage.
// kInvalidInput naming `what` otherwise (also for layouts and filters vlmscale never writes:
// external or virtual storage would read other files, unknown filters would load plugins).
Status CheckDatasetRead(hid_t dset, const std::string& what, uint64_t rows, uint64_t file_row_bytes,
                        uint64_t memory_row_bytes, ReadBudget* budget);

// Whether `name` in `loc` is a hard link (an object stored in this file). Soft and external
// links are never followed: an external link would make HDF5 open another file.
bool IsHardLink(hid_t loc, const char* name);

// Write the /jobs and /events tables under `loc`: chunked, extendable compound datasets of the
// columns JobColumns() / EventColumns() keep in HDF5, string columns fixed-length as wide as their
// longest value, converted a slab of rows at a time. False on any HDF5 failure.
bool WriteJobsTable(hid_t loc, const SnapshotJobs& jobs);
bool WriteEventsTable(hid_t loc, const SnapshotEvents& events);

// Read the /jobs and /events tables of `loc` (REQUIRES: the link exists); columns missing from the
// file keep their defaults (files of older versions), unknown file columns are ignored (files of
// newer versions). kInvalidInput (without the file's path) for anything unexpected.
Status ReadJobsTable(hid_t loc, ReadBudget* budget, std::vector<JobRecord>* jobs);
Status ReadEventsTable(hid_t loc, ReadBudget* budget, std::vector<JobEvent>* events);

// Writes the /curve_points table of `file` (format version 2): one row (job_id, name, step, value)
// per point, in /jobs order, a job's points grouped by curve name in order of first appearance.
// False on any HDF5 failure.
bool WriteCurves(hid_t file, const SnapshotJobs& jobs);
// Reads the curves into those of *jobs (matched by job id; curves of a job the table does not
// list are ignored): from /curve_points, or from the /curves groups of format version 1 (one
// group per job, one (step, value) dataset per curve, its `name` attribute the curve's name).
Status ReadCurves(hid_t file, ReadBudget* budget, std::vector<JobRecord>* jobs);

}  // namespace vlmscale::store::internal

#endif  // VLMSCALE_STORE_SNAPSHOT_TABLES_H_
