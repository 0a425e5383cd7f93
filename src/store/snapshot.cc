#include "store/snapshot.h"

#include <fcntl.h>
#include <hdf5.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <map>
#include <mutex>
#include <string_view>
#include <utility>

#include "core/check.h"
#include "store/job_columns.h"
#include "store/journal.h"

namespace vlmscale::store {
namespace {

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

// The columns of `table` that the HDF5 snapshot stores, in file order.
template <typename Row>
std::vector<const Column<Row>*> FileColumns(const std::vector<Column<Row>>& table) {
  std::vector<const Column<Row>*> columns;
  for (const Column<Row>& c : table) {
    if (c.where & kInHdf5) columns.push_back(&c);
  }
  return columns;
}

// Bytes of a numeric column in a compound row (the C++ field has the same width); 0 for the
// string-like types, which are stored as fixed-length strings.
static_assert(sizeof(int) == 4 && sizeof(double) == 8, "kInt32 and kDouble fields are copied");
size_t NumberSize(ColumnType type) {
  return type == ColumnType::kDouble || type == ColumnType::kInt64 ? 8
         : type == ColumnType::kInt32                              ? 4
                                                                   : 0;
}

hid_t NativeType(ColumnType type) {
  return type == ColumnType::kDouble  ? H5T_NATIVE_DOUBLE
         : type == ColumnType::kInt64 ? H5T_NATIVE_INT64
                                      : H5T_NATIVE_INT32;
}

// The address of a numeric column's field in `row` (NumberSize() bytes).
template <typename Row>
const void* NumberField(const Column<Row>& c, const Row& row) {
  switch (c.type()) {
    case ColumnType::kDouble:
      return &c.template Get<double>(row);
    case ColumnType::kInt64:
      return &c.template Get<int64_t>(row);
    default:
      return &c.template Get<int>(row);
  }
}
template <typename Row>
void* NumberField(const Column<Row>& c, Row* row) {
  switch (c.type()) {
    case ColumnType::kDouble:
      return c.template Mutable<double>(row);
    case ColumnType::kInt64:
      return c.template Mutable<int64_t>(row);
    default:
      return c.template Mutable<int>(row);
  }
}

// ---- HDF5 helpers -------------------------------------------------------------------------------

Handle StringType(size_t width) {
  Handle t(H5Tcopy(H5T_C_S1), H5Tclose);
  H5Tset_size(t.get(), std::max<size_t>(width, 1));
  H5Tset_strpad(t.get(), H5T_STR_NULLPAD);
  H5Tset_cset(t.get(), H5T_CSET_UTF8);
  return t;
}

Handle VarStringType() {
  Handle t(H5Tcopy(H5T_C_S1), H5Tclose);
  H5Tset_size(t.get(), H5T_VARIABLE);
  H5Tset_cset(t.get(), H5T_CSET_UTF8);
  return t;
}

Handle FileAccessList() {
  Handle fapl(H5Pcreate(H5P_FILE_ACCESS), H5Pclose);
  // Readers must never block (or be blocked by) the writer; the rename protocol makes locks moot.
  H5Pset_file_locking(fapl.get(), false, true);
  H5Pset_libver_bounds(fapl.get(), H5F_LIBVER_V18, H5F_LIBVER_V18);
  H5Pset_fclose_degree(fapl.get(), H5F_CLOSE_STRONG);
  return fapl;
}

Handle TrackedOrderGroupList() {
  Handle gcpl(H5Pcreate(H5P_GROUP_CREATE), H5Pclose);
  H5Pset_link_creation_order(gcpl.get(), H5P_CRT_ORDER_TRACKED | H5P_CRT_ORDER_INDEXED);
  return gcpl;
}

bool WriteStringAttribute(hid_t loc, const char* name, const std::string& value) {
  Handle type = VarStringType();
  Handle space(H5Screate(H5S_SCALAR), H5Sclose);
  Handle attr(H5Acreate2(loc, name, type.get(), space.get(), H5P_DEFAULT, H5P_DEFAULT), H5Aclose);
  if (!attr.valid()) return false;
  const char* p = value.c_str();
  return H5Awrite(attr.get(), type.get(), &p) >= 0;
}

template <typename T>
bool WriteScalarAttribute(hid_t loc, const char* name, hid_t type, T value) {
  Handle space(H5Screate(H5S_SCALAR), H5Sclose);
  Handle attr(H5Acreate2(loc, name, type, space.get(), H5P_DEFAULT, H5P_DEFAULT), H5Aclose);
  return attr.valid() && H5Awrite(attr.get(), type, &value) >= 0;
}

// Reads a string attribute (variable or fixed length). Returns false if absent or not a string.
bool ReadStringAttribute(hid_t loc, const char* name, std::string* value) {
  if (H5Aexists(loc, name) <= 0) return false;
  Handle attr(H5Aopen(loc, name, H5P_DEFAULT), H5Aclose);
  if (!attr.valid()) return false;
  Handle ftype(H5Aget_type(attr.get()), H5Tclose);
  if (H5Tget_class(ftype.get()) != H5T_STRING) return false;
  if (H5Tis_variable_str(ftype.get()) > 0) {
    Handle mtype = VarStringType();
    char* p = nullptr;
    if (H5Aread(attr.get(), mtype.get(), &p) < 0) return false;
    *value = p == nullptr ? "" : p;
    if (p != nullptr) H5free_memory(p);
    return true;
  }
  size_t size = H5Tget_size(ftype.get());
  Handle mtype = StringType(size);
  std::string buf(size, '\0');
  if (H5Aread(attr.get(), mtype.get(), buf.data()) < 0) return false;
  value->assign(buf.c_str(), strnlen(buf.data(), size));
  return true;
}

template <typename T>
bool ReadScalarAttribute(hid_t loc, const char* name, hid_t type, T* value) {
  if (H5Aexists(loc, name) <= 0) return false;
  Handle attr(H5Aopen(loc, name, H5P_DEFAULT), H5Aclose);
  return attr.valid() && H5Aread(attr.get(), type, value) >= 0;
}

// Writes `rows` as the chunked, extendable compound dataset `name` under `loc`. String columns
// are fixed-length, as wide as their longest value in this snapshot (at least 1 byte).
template <typename Row>
bool WriteTable(hid_t loc, const char* name, const std::vector<Column<Row>>& table,
                const std::vector<const Row*>& rows) {
  const std::vector<const Column<Row>*> columns = FileColumns(table);
  const size_t n = rows.size();
  std::vector<std::vector<std::string>> strings(columns.size());
  std::vector<size_t> widths(columns.size(), 0), offsets(columns.size(), 0);
  size_t row_size = 0;
  for (size_t c = 0; c < columns.size(); ++c) {
    widths[c] = NumberSize(columns[c]->type());
    if (widths[c] == 0) {
      strings[c].reserve(n);
      widths[c] = 1;
      for (const Row* row : rows) {
        strings[c].push_back(ColumnToText(*columns[c], *row));
        widths[c] = std::max(widths[c], strings[c].back().size());
      }
    }
    offsets[c] = row_size;
    row_size += widths[c];
  }
  Handle type(H5Tcreate(H5T_COMPOUND, row_size), H5Tclose);
  std::vector<Handle> string_types;
  for (size_t c = 0; c < columns.size(); ++c) {
    hid_t member = NativeType(columns[c]->type());
    if (NumberSize(columns[c]->type()) == 0) {
      string_types.push_back(StringType(widths[c]));
      member = string_types.back().get();
    }
    if (H5Tinsert(type.get(), columns[c]->name, offsets[c], member) < 0) return false;
  }

  std::vector<char> buffer(n * row_size, '\0');
  for (size_t i = 0; i < n; ++i) {
    for (size_t c = 0; c < columns.size(); ++c) {
      char* p = buffer.data() + i * row_size + offsets[c];
      if (NumberSize(columns[c]->type()) == 0) {
        std::memcpy(p, strings[c][i].data(), strings[c][i].size());
      } else {
        std::memcpy(p, NumberField(*columns[c], *rows[i]), widths[c]);
      }
    }
  }

  hsize_t dims[1] = {n};
  hsize_t max_dims[1] = {H5S_UNLIMITED};
  Handle space(H5Screate_simple(1, dims, max_dims), H5Sclose);
  Handle dcpl(H5Pcreate(H5P_DATASET_CREATE), H5Pclose);
  // About 1 MiB per chunk, bounded by the row count so small sweeps make small files.
  hsize_t chunk_rows = std::max<hsize_t>(1, (1u << 20) / std::max<size_t>(row_size, 1));
  chunk_rows = std::min<hsize_t>(chunk_rows, std::max<hsize_t>(n, 16));
  hsize_t chunk[1] = {chunk_rows};
  if (H5Pset_chunk(dcpl.get(), 1, chunk) < 0) return false;
  if (H5Zfilter_avail(H5Z_FILTER_DEFLATE) > 0) {
    H5Pset_shuffle(dcpl.get());
    H5Pset_deflate(dcpl.get(), 1);
  }
  Handle dset(H5Dcreate2(loc, name, type.get(), space.get(), H5P_DEFAULT, dcpl.get(), H5P_DEFAULT),
              H5Dclose);
  if (!dset.valid()) return false;
  if (n > 0 && H5Dwrite(dset.get(), type.get(), H5S_ALL, H5S_ALL, H5P_DEFAULT, buffer.data()) < 0) {
    return false;
  }
  return dset.Close();
}

// Reads the compound dataset `name`; columns missing from the file keep their defaults (files
// of older versions), unknown file columns are ignored (files of newer versions).
template <typename Row>
Status ReadTable(hid_t loc, const char* name, const std::vector<Column<Row>>& table,
                 std::vector<Row>* rows) {
  const std::vector<const Column<Row>*> columns = FileColumns(table);
  Handle dset(H5Dopen2(loc, name, H5P_DEFAULT), H5Dclose);
  if (!dset.valid()) return Status::InvalidInput(std::string("cannot open dataset /") + name);
  Handle ftype(H5Dget_type(dset.get()), H5Tclose);
  if (H5Tget_class(ftype.get()) != H5T_COMPOUND) {
    return Status::InvalidInput(std::string("/") + name + " is not a compound (table) dataset");
  }
  Handle space(H5Dget_space(dset.get()), H5Sclose);
  if (H5Sget_simple_extent_ndims(space.get()) != 1) {
    return Status::InvalidInput(std::string("/") + name + " is not one-dimensional");
  }
  hsize_t dims[1] = {0};
  H5Sget_simple_extent_dims(space.get(), dims, nullptr);
  const size_t n = dims[0];

  std::vector<size_t> offsets(columns.size(), 0), widths(columns.size(), 0);
  std::vector<bool> present(columns.size(), false);
  size_t row_size = 0;
  std::vector<Handle> string_types;
  for (size_t c = 0; c < columns.size(); ++c) {
    int idx = H5Tget_member_index(ftype.get(), columns[c]->name);
    if (idx < 0) continue;
    const size_t number_size = NumberSize(columns[c]->type());
    H5T_class_t cls = H5Tget_member_class(ftype.get(), static_cast<unsigned>(idx));
    bool ok = number_size == 0                            ? cls == H5T_STRING
              : columns[c]->type() == ColumnType::kDouble ? (cls == H5T_FLOAT || cls == H5T_INTEGER)
                                                          : cls == H5T_INTEGER;
    if (!ok) {
      return Status::InvalidInput(std::string("column '") + columns[c]->name + "' of /" + name +
                                  " has an unexpected type");
    }
    widths[c] = number_size;
    if (number_size == 0) {
      Handle mtype(H5Tget_member_type(ftype.get(), static_cast<unsigned>(idx)), H5Tclose);
      if (H5Tis_variable_str(mtype.get()) > 0) {
        return Status::InvalidInput(std::string("column '") + columns[c]->name + "' of /" + name +
                                    " is a variable-length string; expected fixed-length");
      }
      widths[c] = H5Tget_size(mtype.get());
    }
    present[c] = true;
    offsets[c] = row_size;
    row_size += widths[c];
  }
  rows->assign(n, Row{});
  if (n == 0 || row_size == 0) return Status::OK();
  Handle mtype(H5Tcreate(H5T_COMPOUND, row_size), H5Tclose);
  for (size_t c = 0; c < columns.size(); ++c) {
    if (!present[c]) continue;
    hid_t member = NativeType(columns[c]->type());
    if (NumberSize(columns[c]->type()) == 0) {
      string_types.push_back(StringType(widths[c]));
      member = string_types.back().get();
    }
    H5Tinsert(mtype.get(), columns[c]->name, offsets[c], member);
  }
  std::vector<char> buffer(n * row_size, '\0');
  if (H5Dread(dset.get(), mtype.get(), H5S_ALL, H5S_ALL, H5P_DEFAULT, buffer.data()) < 0) {
    return Status::InvalidInput(std::string("cannot read /") + name + " (corrupt file?)");
  }
  for (size_t i = 0; i < n; ++i) {
    for (size_t c = 0; c < columns.size(); ++c) {
      if (!present[c]) continue;
      const char* p = buffer.data() + i * row_size + offsets[c];
      Row* row = &(*rows)[i];
      if (NumberSize(columns[c]->type()) == 0) {
        ColumnFromText(*columns[c], std::string(p, strnlen(p, widths[c])), row);
      } else {
        std::memcpy(NumberField(*columns[c], row), p, widths[c]);
      }
    }
  }
  return Status::OK();
}

// One curve point on disk.
struct CurveRow {
  int64_t step;
  double value;
};

Handle CurveType() {
  Handle t(H5Tcreate(H5T_COMPOUND, sizeof(CurveRow)), H5Tclose);
  H5Tinsert(t.get(), "step", HOFFSET(CurveRow, step), H5T_NATIVE_INT64);
  H5Tinsert(t.get(), "value", HOFFSET(CurveRow, value), H5T_NATIVE_DOUBLE);
  return t;
}

// A curve name usable as an HDF5 link name ('/' and a lone '.' are not).
std::string CurveLinkName(const std::string& name) {
  if (name.empty() || name == ".") return "_";
  std::string out = name;
  std::replace(out.begin(), out.end(), '/', '_');
  return out;
}

bool WriteCurves(hid_t file, const std::vector<const JobRecord*>& jobs) {
  Handle gcpl = TrackedOrderGroupList();
  Handle curves(H5Gcreate2(file, "curves", H5P_DEFAULT, gcpl.get(), H5P_DEFAULT), H5Gclose);
  if (!curves.valid()) return false;
  Handle type = CurveType();
  for (const JobRecord* job : jobs) {
    if (job->curves.empty()) continue;
    // Group the points by curve name in order of first appearance.
    std::vector<std::string> names;
    std::map<std::string, std::vector<CurveRow>> points;
    for (const CurvePoint& p : job->curves) {
      auto [it, inserted] = points.try_emplace(p.name);
      if (inserted) names.push_back(p.name);
      it->second.push_back(CurveRow{p.step, p.value});
    }
    Handle group(
        H5Gcreate2(curves.get(), job->job_id.c_str(), H5P_DEFAULT, gcpl.get(), H5P_DEFAULT),
        H5Gclose);
    if (!group.valid()) return false;
    for (const std::string& name : names) {
      const auto& rows = points[name];
      hsize_t dims[1] = {rows.size()};
      Handle space(H5Screate_simple(1, dims, nullptr), H5Sclose);
      // The link name cannot hold '/'; the attribute "name" keeps the curve's real name.
      std::string link = CurveLinkName(name);
      while (H5Lexists(group.get(), link.c_str(), H5P_DEFAULT) > 0) link += "_";
      Handle dset(H5Dcreate2(group.get(), link.c_str(), type.get(), space.get(), H5P_DEFAULT,
                             H5P_DEFAULT, H5P_DEFAULT),
                  H5Dclose);
      if (!dset.valid() ||
          H5Dwrite(dset.get(), type.get(), H5S_ALL, H5S_ALL, H5P_DEFAULT, rows.data()) < 0 ||
          !WriteStringAttribute(dset.get(), "name", name)) {
        return false;
      }
    }
  }
  return true;
}

herr_t CollectLinkName(hid_t, const char* name, const H5L_info_t*, void* data) {
  static_cast<std::vector<std::string>*>(data)->push_back(name);
  return 0;
}

// Link names of a group in creation order (name order if creation order is not tracked).
std::vector<std::string> LinkNames(hid_t group) {
  std::vector<std::string> names;
  hsize_t idx = 0;
  if (H5Literate(group, H5_INDEX_CRT_ORDER, H5_ITER_INC, &idx, CollectLinkName, &names) < 0) {
    names.clear();
    idx = 0;
    H5Literate(group, H5_INDEX_NAME, H5_ITER_INC, &idx, CollectLinkName, &names);
  }
  return names;
}

Status ReadCurves(hid_t file, std::vector<JobRecord>* jobs) {
  if (H5Lexists(file, "curves", H5P_DEFAULT) <= 0) return Status::OK();
  Handle curves(H5Gopen2(file, "curves", H5P_DEFAULT), H5Gclose);
  if (!curves.valid()) return Status::InvalidInput("cannot open group /curves");
  std::map<std::string, JobRecord*> by_id;
  for (JobRecord& job : *jobs) by_id[job.job_id] = &job;
  Handle type = CurveType();
  for (const std::string& job_id : LinkNames(curves.get())) {
    auto it = by_id.find(job_id);
    if (it == by_id.end()) continue;  // Curves of a job the table does not list: ignore.
    Handle group(H5Gopen2(curves.get(), job_id.c_str(), H5P_DEFAULT), H5Gclose);
    if (!group.valid()) return Status::InvalidInput("cannot open group /curves/" + job_id);
    for (const std::string& name : LinkNames(group.get())) {
      Handle dset(H5Dopen2(group.get(), name.c_str(), H5P_DEFAULT), H5Dclose);
      if (!dset.valid()) continue;
      Handle space(H5Dget_space(dset.get()), H5Sclose);
      hsize_t n = static_cast<hsize_t>(H5Sget_simple_extent_npoints(space.get()));
      std::vector<CurveRow> rows(n);
      if (n > 0 &&
          H5Dread(dset.get(), type.get(), H5S_ALL, H5S_ALL, H5P_DEFAULT, rows.data()) < 0) {
        return Status::InvalidInput("cannot read curve /curves/" + job_id + "/" + name);
      }
      std::string curve_name = name;
      ReadStringAttribute(dset.get(), "name", &curve_name);
      for (const CurveRow& r : rows) it->second->curves.push_back({curve_name, r.step, r.value});
    }
  }
  return Status::OK();
}

bool HasHdf5Signature(const std::string& path) {
  static const char kSignature[8] = {'\x89', 'H', 'D', 'F', '\r', '\n', '\x1a', '\n'};
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  char buf[8] = {};
  ssize_t got = ::pread(fd, buf, sizeof(buf), 0);
  ::close(fd);
  return got == 8 && std::memcmp(buf, kSignature, 8) == 0;
}

}  // namespace

// The checksum trailer appended after the HDF5 data (HDF5 ignores bytes past its end-of-file
// address): kTrailerMagic, u32 LE CRC-32 of every byte before the trailer, u32 LE that length
// modulo 2^32. Readers verify it before HDF5 parses anything: the HDF5 library does not checksum
// raw data and can crash on corrupt metadata.
constexpr char kTrailerMagic[8] = {'V', 'L', 'M', 'S', 'C', 'R', 'C', '1'};
constexpr size_t kTrailerSize = 16;

void PutLe32(uint32_t v, char* p) {
  for (int i = 0; i < 4; ++i) p[i] = static_cast<char>((v >> (8 * i)) & 0xFF);
}

uint32_t GetLe32(const char* p) {
  const auto* u = reinterpret_cast<const unsigned char*>(p);
  return uint32_t{u[0]} | uint32_t{u[1]} << 8 | uint32_t{u[2]} << 16 | uint32_t{u[3]} << 24;
}

// Reads all of `fd` into *data. False (errno set) on a read error.
bool ReadAll(int fd, std::string* data) {
  data->clear();
  char buf[1 << 16];
  for (off_t at = 0;;) {
    ssize_t got = ::pread(fd, buf, sizeof(buf), at);
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) return false;
    if (got == 0) return true;
    data->append(buf, static_cast<size_t>(got));
    at += got;
  }
}

// What to do about a snapshot that cannot be read.
constexpr char kCorruptAdvice[] =
    "restore it from a backup, or move it aside (`vlmscale run --fresh` does) and run the sweep "
    "again";

// The system error (strerror text) of the last failed HDF5 call on this thread, e.g. "No space
// left on device": HDF5's file drivers put it in the error stack, which the next call clears.
thread_local std::string g_hdf5_system_error;

herr_t RecordSystemError(unsigned, const H5E_error2_t* error, void*) {
  if (error->desc == nullptr) return 0;
  const std::string desc = error->desc;
  const std::string key = "error message = '";
  size_t at = desc.find(key);
  if (at == std::string::npos) return 0;
  at += key.size();
  g_hdf5_system_error = desc.substr(at, desc.find('\'', at) - at);
  return 0;
}

// Called by HDF5 when an API call fails, instead of printing the error stack.
herr_t OnHdf5Error(hid_t stack, void*) {
  H5Ewalk2(stack, H5E_WALK_DOWNWARD, RecordSystemError, nullptr);
  return 0;
}

void SilenceHdf5Errors() {
  // Per thread: with a thread-safe HDF5 the automatic error handler is per thread.
  thread_local bool installed = false;
  if (installed) return;
  H5Eset_auto2(H5E_DEFAULT, OnHdf5Error, nullptr);
  installed = true;
}

Status WriteSnapshotFile(const std::string& path, const SnapshotHeader& header,
                         const std::vector<const JobRecord*>& jobs,
                         const std::vector<JobEvent>& events) {
  SilenceHdf5Errors();
  g_hdf5_system_error.clear();
  auto fail = [&](const std::string& what) {
    return Status::IOError(
        "writing results snapshot " + path + ": " + what + " failed: " +
        (g_hdf5_system_error.empty() ? "disk full or not writable?" : g_hdf5_system_error));
  };
  Handle fapl = FileAccessList();
  Handle file(H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, fapl.get()), H5Fclose);
  if (!file.valid()) return fail("creating the file");
  hid_t f = file.get();
  bool ok =
      WriteStringAttribute(f, "format", kFormatName) &&
      WriteScalarAttribute<int32_t>(f, "format_version", H5T_NATIVE_INT32, header.format_version) &&
      WriteStringAttribute(f, "sweep_name", header.sweep_name) &&
      WriteStringAttribute(f, "config_text", header.config_text) &&
      WriteStringAttribute(f, "vlmscale_version", header.vlmscale_version) &&
      WriteStringAttribute(f, "git_commit", header.git_commit) &&
      WriteStringAttribute(f, "run_info", header.run_info_json) &&
      WriteScalarAttribute<double>(f, "snapshot_time", H5T_NATIVE_DOUBLE, header.snapshot_time) &&
      WriteScalarAttribute<int64_t>(f, "journal_seq", H5T_NATIVE_INT64, header.journal_seq) &&
      WriteScalarAttribute<int64_t>(f, "job_count", H5T_NATIVE_INT64,
                                    static_cast<int64_t>(jobs.size()));
  if (!ok) return fail("writing the file attributes");
  if (!WriteTable(f, "jobs", JobColumns(), jobs)) return fail("writing /jobs");
  std::vector<const JobEvent*> event_rows;
  event_rows.reserve(events.size());
  for (const JobEvent& e : events) event_rows.push_back(&e);
  if (!WriteTable(f, "events", EventColumns(), event_rows)) return fail("writing /events");
  if (!WriteCurves(f, jobs)) return fail("writing /curves");
  if (H5Fflush(f, H5F_SCOPE_GLOBAL) < 0) return fail("flushing");
  if (!file.Close()) return fail("closing");
  // The checksum trailer, computed over the file as written, then fsync.
  int fd = ::open(path.c_str(), O_RDWR | O_CLOEXEC);
  std::string data;
  if (fd < 0 || !ReadAll(fd, &data)) {
    g_hdf5_system_error = std::strerror(errno);
    if (fd >= 0) ::close(fd);
    return fail("reading it back");
  }
  char trailer[kTrailerSize];
  std::memcpy(trailer, kTrailerMagic, sizeof(kTrailerMagic));
  PutLe32(Crc32(data), trailer + 8);
  PutLe32(static_cast<uint32_t>(data.size()), trailer + 12);
  ssize_t wrote = ::pwrite(fd, trailer, kTrailerSize, static_cast<off_t>(data.size()));
  if (wrote != static_cast<ssize_t>(kTrailerSize)) {
    g_hdf5_system_error = wrote < 0 ? std::strerror(errno) : "short write";
    ::close(fd);
    return fail("writing the checksum");
  }
  int rc = ::fsync(fd);
  if (rc != 0) g_hdf5_system_error = std::strerror(errno);
  ::close(fd);
  if (rc != 0) return fail("fsync");
  return Status::OK();
}

Status ReadSnapshotFile(const std::string& path, SnapshotHeader* header,
                        std::vector<JobRecord>* jobs, std::vector<JobEvent>* events) {
  SilenceHdf5Errors();
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) return Status::NotFound("results file " + path + " does not exist");
    return Status::IOError("cannot stat " + path + ": " + std::strerror(errno));
  }
  if (!S_ISREG(st.st_mode)) return Status::InvalidInput(path + " is not a regular file");
  {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return Status::IOError("cannot read " + path + ": " + std::strerror(errno));
    std::string data;
    bool read_ok = ReadAll(fd, &data);
    int read_errno = errno;
    ::close(fd);
    if (!read_ok) return Status::IOError("cannot read " + path + ": " + std::strerror(read_errno));
    // Files of vlmscale before the trailer have none; HDF5 alone checks those.
    if (data.size() >= kTrailerSize && std::memcmp(data.data() + data.size() - kTrailerSize,
                                                   kTrailerMagic, sizeof(kTrailerMagic)) == 0) {
      const char* t = data.data() + data.size() - kTrailerSize;
      const std::string_view body(data.data(), data.size() - kTrailerSize);
      if (GetLe32(t + 12) != static_cast<uint32_t>(body.size()) || GetLe32(t + 8) != Crc32(body)) {
        return Status::InvalidInput(
            path + " is corrupt (its checksum does not match its contents): " + kCorruptAdvice);
      }
    }
  }
  Handle fapl = FileAccessList();
  Handle file(H5Fopen(path.c_str(), H5F_ACC_RDONLY, fapl.get()), H5Fclose);
  if (!file.valid()) {
    if (::access(path.c_str(), R_OK) != 0) {
      return Status::IOError("cannot read " + path + ": " + std::strerror(errno));
    }
    if (!HasHdf5Signature(path)) {
      return Status::InvalidInput(path + " is not a vlmscale results file (not HDF5)");
    }
    return Status::InvalidInput(path + " is an HDF5 file that cannot be opened (corrupt or " +
                                "truncated): " + kCorruptAdvice);
  }
  hid_t f = file.get();
  std::string format;
  if (!ReadStringAttribute(f, "format", &format) || format != kFormatName) {
    return Status::InvalidInput(path +
                                " is an HDF5 file but not a vlmscale results file (its "
                                "'format' attribute is not '" +
                                std::string(kFormatName) + "')");
  }
  int32_t version = 0;
  ReadScalarAttribute(f, "format_version", H5T_NATIVE_INT32, &version);
  header->format_version = version;
  if (version > kFormatVersion) {
    return Status::InvalidInput(path + " has results format version " + std::to_string(version) +
                                "; this vlmscale reads up to " + std::to_string(kFormatVersion) +
                                ": use a newer vlmscale");
  }
  ReadStringAttribute(f, "sweep_name", &header->sweep_name);
  ReadStringAttribute(f, "config_text", &header->config_text);
  ReadStringAttribute(f, "vlmscale_version", &header->vlmscale_version);
  ReadStringAttribute(f, "git_commit", &header->git_commit);
  ReadStringAttribute(f, "run_info", &header->run_info_json);
  ReadScalarAttribute(f, "snapshot_time", H5T_NATIVE_DOUBLE, &header->snapshot_time);
  ReadScalarAttribute(f, "journal_seq", H5T_NATIVE_INT64, &header->journal_seq);
  auto prefix = [&](const Status& s) {
    return Status::InvalidInput(path + " is corrupt (" + s.message() + "): " + kCorruptAdvice);
  };
  if (H5Lexists(f, "jobs", H5P_DEFAULT) <= 0) {
    return Status::InvalidInput(path +
                                " has no /jobs table (corrupt results file): " + kCorruptAdvice);
  }
  Status s = ReadTable(f, "jobs", JobColumns(), jobs);
  if (!s.ok()) return prefix(s);
  events->clear();
  if (H5Lexists(f, "events", H5P_DEFAULT) > 0) {
    s = ReadTable(f, "events", EventColumns(), events);
    if (!s.ok()) return prefix(s);
  }
  s = ReadCurves(f, jobs);
  if (!s.ok()) return prefix(s);
  return Status::OK();
}

}  // namespace vlmscale::store
