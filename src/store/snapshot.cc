#include "store/snapshot.h"

#include <fcntl.h>
#include <hdf5.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
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

// A fixed-length string type. Readers pass the file's character set: HDF5 does not convert
// between ASCII and UTF-8 (h5py writes NumPy 'S' strings as ASCII).
Handle StringType(size_t width, H5T_cset_t cset = H5T_CSET_UTF8) {
  Handle t(H5Tcopy(H5T_C_S1), H5Tclose);
  H5Tset_size(t.get(), std::max<size_t>(width, 1));
  H5Tset_strpad(t.get(), H5T_STR_NULLPAD);
  H5Tset_cset(t.get(), cset == H5T_CSET_ASCII ? H5T_CSET_ASCII : H5T_CSET_UTF8);
  return t;
}

Handle VarStringType() {
  Handle t(H5Tcopy(H5T_C_S1), H5Tclose);
  H5Tset_size(t.get(), H5T_VARIABLE);
  H5Tset_cset(t.get(), H5T_CSET_UTF8);
  return t;
}

// A file access list for HDF5 files that live in memory (the core driver without a backing
// store): HDF5 never reads or writes the disk itself. The writer hands the finished image to
// WriteImage(), which reports a full disk as a Status; HDF5's own handling of a failed write left
// the library in a state that crashed at exit (H5F__close_cb). The readers parse exactly the bytes
// whose checksum they verified.
Handle MemoryFileAccessList() {
  Handle fapl(H5Pcreate(H5P_FILE_ACCESS), H5Pclose);
  H5Pset_libver_bounds(fapl.get(), H5F_LIBVER_V18, H5F_LIBVER_V18);
  H5Pset_fclose_degree(fapl.get(), H5F_CLOSE_STRONG);
  H5Pset_fapl_core(fapl.get(), size_t{1} << 20, /*backing_store=*/false);
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

// The attribute `name` of `loc` if it exists and holds exactly one element; invalid otherwise.
// (H5Aread writes every element: an array where one value is expected would overrun the buffer.)
Handle OpenSingleAttribute(hid_t loc, const char* name) {
  if (H5Aexists(loc, name) <= 0) return Handle();
  Handle attr(H5Aopen(loc, name, H5P_DEFAULT), H5Aclose);
  if (!attr.valid()) return Handle();
  Handle space(H5Aget_space(attr.get()), H5Sclose);
  if (!space.valid() || H5Sget_simple_extent_npoints(space.get()) != 1) return Handle();
  return attr;
}

// Reads a string attribute (variable or fixed length). Returns false if absent or not a string.
bool ReadStringAttribute(hid_t loc, const char* name, std::string* value) {
  Handle attr = OpenSingleAttribute(loc, name);
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
  // A fixed-length string is stored in the file: it cannot be longer than the data stored.
  if (size == 0 || size > H5Aget_storage_size(attr.get())) return false;
  Handle mtype = StringType(size, H5Tget_cset(ftype.get()));
  std::string buf(size, '\0');
  if (H5Aread(attr.get(), mtype.get(), buf.data()) < 0) return false;
  value->assign(buf.c_str(), strnlen(buf.data(), size));
  return true;
}

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

bool MultiplyFits(uint64_t a, uint64_t b, uint64_t* out) {
  return !__builtin_mul_overflow(a, b, out);
}

// Checks that reading `rows` rows of `file_row_bytes` each into `memory_row_bytes` each (including
// the objects they become) is backed by data in the file, and claims the dataset's storage.
// kInvalidInput naming `what` otherwise (also for layouts and filters vlmscale never writes:
// external or virtual storage would read other files, unknown filters would load plugins).
Status CheckDatasetRead(hid_t dset, const std::string& what, uint64_t rows, uint64_t file_row_bytes,
                        uint64_t memory_row_bytes, ReadBudget* budget) {
  Handle dcpl(H5Dget_create_plist(dset), H5Pclose);
  if (!dcpl.valid()) return Status::InvalidInput("cannot read the layout of " + what);
  const H5D_layout_t layout = H5Pget_layout(dcpl.get());
  if (layout != H5D_COMPACT && layout != H5D_CONTIGUOUS && layout != H5D_CHUNKED) {
    return Status::InvalidInput(what + " has a storage layout vlmscale does not write");
  }
  if (H5Pget_external_count(dcpl.get()) != 0) {
    return Status::InvalidInput(what + " keeps its data in external files");
  }
  const int filters = H5Pget_nfilters(dcpl.get());
  if (filters < 0) return Status::InvalidInput("cannot read the filters of " + what);
  for (int i = 0; i < filters; ++i) {
    unsigned flags = 0, config = 0;
    size_t nelem = 0;
    const H5Z_filter_t id = H5Pget_filter2(dcpl.get(), static_cast<unsigned>(i), &flags, &nelem,
                                           nullptr, 0, nullptr, &config);
    if (id != H5Z_FILTER_DEFLATE && id != H5Z_FILTER_SHUFFLE && id != H5Z_FILTER_FLETCHER32) {
      return Status::InvalidInput(what + " uses HDF5 filter " + std::to_string(id) +
                                  ", which vlmscale does not write");
    }
  }
  const uint64_t storage = H5Dget_storage_size(dset);
  if (storage > budget->storage_left) {
    return Status::InvalidInput(what + " claims more storage than the file holds");
  }
  budget->storage_left -= storage;
  uint64_t per_row = 0, need = 0, allowed = 0;
  if (__builtin_add_overflow(file_row_bytes, memory_row_bytes, &per_row) ||
      !MultiplyFits(rows, per_row, &need) ||
      !MultiplyFits(storage, ReadBudget::kMaxExpansion, &allowed) || need > allowed ||
      (filters == 0 && !MultiplyFits(rows, file_row_bytes, &need)) ||
      (filters == 0 && need > storage)) {
    return Status::InvalidInput(what + " declares " + std::to_string(rows) +
                                " rows, more than the " + std::to_string(storage) +
                                " bytes it stores can hold");
  }
  return Status::OK();
}

// Whether `name` in `loc` is a hard link (an object stored in this file). Soft and external
// links are never followed: an external link would make HDF5 open another file.
bool IsHardLink(hid_t loc, const char* name) {
  if (H5Lexists(loc, name, H5P_DEFAULT) <= 0) return false;
  H5L_info_t info;
  return H5Lget_info(loc, name, &info, H5P_DEFAULT) >= 0 && info.type == H5L_TYPE_HARD;
}

// The text of string-like column `c` of `row` as HDF5 stores it: a view of the field itself for
// kString (no copy), else ColumnToText() kept in *scratch.
template <typename Row>
std::string_view FieldText(const Column<Row>& c, const Row& row, std::string* scratch) {
  if (c.type() == ColumnType::kString) return c.template Get<std::string>(row);
  *scratch = ColumnToText(c, row);
  return *scratch;
}

// Rows converted to the file's layout per H5Dwrite() call: the writer's transient memory is one
// slab of this many rows (a few MiB), not the whole table.
constexpr size_t kSlabRows = 8192;

// Writes `n` rows as the chunked, extendable compound dataset `name` under `loc`. String columns
// are fixed-length, as wide as their longest value in this snapshot (at least 1 byte). Row i is
// `row_at(i, &scratch)` (a reference valid until the next call; `scratch` is there for sources
// that build rows on demand); each row is asked for twice: once to size the string columns, then
// slab by slab to write it.
template <typename Row, typename RowAt>
bool WriteTable(hid_t loc, const char* name, const std::vector<Column<Row>>& table, size_t n,
                RowAt row_at) {
  const std::vector<const Column<Row>*> columns = FileColumns(table);
  std::vector<size_t> widths(columns.size(), 0), offsets(columns.size(), 0);
  std::vector<bool> is_text(columns.size(), false);
  size_t row_size = 0;
  for (size_t c = 0; c < columns.size(); ++c) {
    widths[c] = NumberSize(columns[c]->type());
    is_text[c] = widths[c] == 0;
    if (is_text[c]) widths[c] = 1;
  }
  Row scratch_row;
  std::string scratch_text;
  for (size_t i = 0; i < n; ++i) {
    const Row& row = row_at(i, &scratch_row);
    for (size_t c = 0; c < columns.size(); ++c) {
      if (!is_text[c]) continue;
      widths[c] = std::max(widths[c], FieldText(*columns[c], row, &scratch_text).size());
    }
  }
  for (size_t c = 0; c < columns.size(); ++c) {
    offsets[c] = row_size;
    row_size += widths[c];
  }
  Handle type(H5Tcreate(H5T_COMPOUND, row_size), H5Tclose);
  std::vector<Handle> string_types;
  for (size_t c = 0; c < columns.size(); ++c) {
    hid_t member = NativeType(columns[c]->type());
    if (is_text[c]) {
      string_types.push_back(StringType(widths[c]));
      member = string_types.back().get();
    }
    if (H5Tinsert(type.get(), columns[c]->name, offsets[c], member) < 0) return false;
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

  std::vector<char> buffer(std::min(n, kSlabRows) * row_size);
  for (size_t first = 0; first < n; first += kSlabRows) {
    const size_t count = std::min(kSlabRows, n - first);
    std::fill(buffer.begin(), buffer.end(), '\0');
    for (size_t i = 0; i < count; ++i) {
      const Row& row = row_at(first + i, &scratch_row);
      char* base = buffer.data() + i * row_size;
      for (size_t c = 0; c < columns.size(); ++c) {
        if (is_text[c]) {
          const std::string_view text = FieldText(*columns[c], row, &scratch_text);
          std::memcpy(base + offsets[c], text.data(), std::min(text.size(), widths[c]));
        } else {
          std::memcpy(base + offsets[c], NumberField(*columns[c], row), widths[c]);
        }
      }
    }
    hsize_t start[1] = {first}, slab[1] = {count};
    Handle file_space(H5Dget_space(dset.get()), H5Sclose);
    Handle memory_space(H5Screate_simple(1, slab, nullptr), H5Sclose);
    if (!file_space.valid() || !memory_space.valid() ||
        H5Sselect_hyperslab(file_space.get(), H5S_SELECT_SET, start, nullptr, slab, nullptr) < 0 ||
        H5Dwrite(dset.get(), type.get(), memory_space.get(), file_space.get(), H5P_DEFAULT,
                 buffer.data()) < 0) {
      return false;
    }
  }
  return dset.Close();
}

// Reads the compound dataset `name`; columns missing from the file keep their defaults (files
// of older versions), unknown file columns are ignored (files of newer versions).
template <typename Row>
Status ReadTable(hid_t loc, const char* name, const std::vector<Column<Row>>& table,
                 ReadBudget* budget, std::vector<Row>* rows) {
  const std::vector<const Column<Row>*> columns = FileColumns(table);
  if (!IsHardLink(loc, name)) {
    return Status::InvalidInput(std::string("/") + name + " is not a dataset stored in the file");
  }
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
  if (H5Sget_simple_extent_dims(space.get(), dims, nullptr) < 0) {
    return Status::InvalidInput(std::string("cannot read the extent of /") + name);
  }
  const uint64_t n = dims[0];

  std::vector<size_t> offsets(columns.size(), 0), widths(columns.size(), 0);
  std::vector<bool> present(columns.size(), false);
  std::vector<H5T_cset_t> csets(columns.size(), H5T_CSET_UTF8);
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
      csets[c] = H5Tget_cset(mtype.get());
      if (widths[c] == 0) {
        return Status::InvalidInput(std::string("column '") + columns[c]->name + "' of /" + name +
                                    " has no width");
      }
    }
    present[c] = true;
    offsets[c] = row_size;
    if (__builtin_add_overflow(row_size, widths[c], &row_size)) {
      return Status::InvalidInput(std::string("/") + name + " has rows too wide to read");
    }
  }
  VLM_RETURN_IF_ERROR(CheckDatasetRead(dset.get(), std::string("/") + name, n,
                                       H5Tget_size(ftype.get()), row_size + sizeof(Row), budget));
  rows->assign(n, Row{});
  if (n == 0 || row_size == 0) return Status::OK();
  Handle mtype(H5Tcreate(H5T_COMPOUND, row_size), H5Tclose);
  for (size_t c = 0; c < columns.size(); ++c) {
    if (!present[c]) continue;
    hid_t member = NativeType(columns[c]->type());
    if (NumberSize(columns[c]->type()) == 0) {
      string_types.push_back(StringType(widths[c], csets[c]));
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

herr_t CollectLinkName(hid_t, const char* name, const H5L_info_t* info, void* data) {
  if (info->type == H5L_TYPE_HARD) static_cast<std::vector<std::string>*>(data)->push_back(name);
  return 0;
}

// Names of the hard links of a group in creation order (name order if creation order is not
// tracked).
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

// Reads one curve dataset into *rows.
Status ReadCurve(hid_t dset, const std::string& what, ReadBudget* budget,
                 std::vector<CurveRow>* rows) {
  Handle ftype(H5Dget_type(dset), H5Tclose);
  if (H5Tget_class(ftype.get()) != H5T_COMPOUND) {
    return Status::InvalidInput(what + " is not a compound (step, value) dataset");
  }
  Handle space(H5Dget_space(dset), H5Sclose);
  const hssize_t points = H5Sget_simple_extent_npoints(space.get());
  if (points < 0) return Status::InvalidInput("cannot read the extent of " + what);
  const uint64_t n = static_cast<uint64_t>(points);
  VLM_RETURN_IF_ERROR(CheckDatasetRead(dset, what, n, H5Tget_size(ftype.get()),
                                       sizeof(CurveRow) + sizeof(CurvePoint), budget));
  rows->assign(n, CurveRow{0, 0.0});
  Handle type = CurveType();
  if (n > 0 && H5Dread(dset, type.get(), H5S_ALL, H5S_ALL, H5P_DEFAULT, rows->data()) < 0) {
    return Status::InvalidInput("cannot read curve " + what);
  }
  return Status::OK();
}

Status ReadCurves(hid_t file, ReadBudget* budget, std::vector<JobRecord>* jobs) {
  if (H5Lexists(file, "curves", H5P_DEFAULT) <= 0) return Status::OK();
  if (!IsHardLink(file, "curves")) return Status::InvalidInput("/curves is not a group");
  Handle curves(H5Gopen2(file, "curves", H5P_DEFAULT), H5Gclose);
  if (!curves.valid()) return Status::InvalidInput("cannot open group /curves");
  std::map<std::string, JobRecord*> by_id;
  for (JobRecord& job : *jobs) by_id[job.job_id] = &job;
  std::vector<CurveRow> rows;
  for (const std::string& job_id : LinkNames(curves.get())) {
    auto it = by_id.find(job_id);
    if (it == by_id.end()) continue;  // Curves of a job the table does not list: ignore.
    Handle group(H5Gopen2(curves.get(), job_id.c_str(), H5P_DEFAULT), H5Gclose);
    if (!group.valid()) return Status::InvalidInput("cannot open group /curves/" + job_id);
    for (const std::string& name : LinkNames(group.get())) {
      Handle dset(H5Dopen2(group.get(), name.c_str(), H5P_DEFAULT), H5Dclose);
      if (!dset.valid()) continue;
      VLM_RETURN_IF_ERROR(
          ReadCurve(dset.get(), "curve /curves/" + job_id + "/" + name, budget, &rows));
      std::string curve_name = name;
      ReadStringAttribute(dset.get(), "name", &curve_name);
      for (const CurveRow& r : rows) it->second->curves.push_back({curve_name, r.step, r.value});
    }
  }
  return Status::OK();
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

// Called by HDF5 when an API call fails, instead of printing the error stack: the callers turn
// the failure into a Status with their own message.
herr_t OnHdf5Error(hid_t, void*) { return 0; }

void SilenceHdf5Errors() {
  // Per thread: with a thread-safe HDF5 the automatic error handler is per thread.
  thread_local bool installed = false;
  if (installed) return;
  H5Eset_auto2(H5E_DEFAULT, OnHdf5Error, nullptr);
  installed = true;
}

namespace {

constexpr char kHdf5Signature[8] = {'\x89', 'H', 'D', 'F', '\r', '\n', '\x1a', '\n'};

// Writes the whole of `data` at `offset`; false (errno set) on failure.
bool WriteAllAt(int fd, std::string_view data, off_t offset) {
  for (size_t done = 0; done < data.size();) {
    ssize_t n =
        ::pwrite(fd, data.data() + done, data.size() - done, offset + static_cast<off_t>(done));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return false;
    done += static_cast<size_t>(n);
  }
  return true;
}

// The checksum trailer of `image`.
std::string TrailerOf(std::string_view image) {
  char trailer[kTrailerSize];
  std::memcpy(trailer, kTrailerMagic, sizeof(kTrailerMagic));
  PutLe32(Crc32(image), trailer + 8);
  PutLe32(static_cast<uint32_t>(image.size()), trailer + 12);
  return std::string(trailer, kTrailerSize);
}

// Writes `image` and its checksum trailer to a new file `path` and fsyncs it. Every failure
// (ENOSPC included) comes back as kIOError naming `path` and the system error.
Status WriteImage(const std::string& path, std::string_view image) {
  auto fail = [&](const char* what) {
    return Status::IOError("writing results snapshot " + path + ": " + what +
                           " failed: " + std::strerror(errno));
  };
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return fail("creating the file");
  Status s = Status::OK();
  if (!WriteAllAt(fd, image, 0)) {
    s = fail("writing the data");
  } else if (!WriteAllAt(fd, TrailerOf(image), static_cast<off_t>(image.size()))) {
    s = fail("writing the checksum");
  } else if (::fsync(fd) != 0) {
    s = fail("fsync");
  }
  if (::close(fd) != 0 && s.ok()) s = fail("closing");
  return s;
}

// A name for an in-memory HDF5 file. The core driver refuses to open an image under the name of
// a file that exists, and treats two open files of the same name as one: the name is unique and
// can never exist (a path below /dev/null).
std::string ImageName() {
  static std::atomic<uint64_t> counter{0};
  return "/dev/null/vlmscale-image-" + std::to_string(::getpid()) + "-" +
         std::to_string(counter.fetch_add(1));
}

// The end-of-file address the HDF5 superblock at the start of `data` records (superblock versions
// 0-3), or 0 if there is none.
uint64_t Hdf5EndOfFile(std::string_view data) {
  if (data.size() < 16 || std::memcmp(data.data(), kHdf5Signature, 8) != 0) return 0;
  const auto byte = [&](size_t i) { return static_cast<unsigned char>(data[i]); };
  const unsigned version = byte(8);
  size_t offset_size = 0, eof_at = 0;
  if (version <= 1) {
    offset_size = byte(13);
    eof_at = (version == 0 ? 24 : 28) + 2 * offset_size;
  } else if (version <= 3) {
    offset_size = byte(9);
    eof_at = 12 + 2 * offset_size;
  }
  if (offset_size == 0 || offset_size > 8 || eof_at + offset_size > data.size()) return 0;
  uint64_t eof = 0;
  for (size_t i = 0; i < offset_size; ++i) eof |= uint64_t{byte(eof_at + i)} << (8 * i);
  return eof;
}

// Why a file without a checksum trailer is refused (every vlmscale results file has one).
Status MissingTrailer(const std::string& path, std::string_view data) {
  if (data.size() < 8 || std::memcmp(data.data(), kHdf5Signature, 8) != 0) {
    return Status::InvalidInput(path + " is not a vlmscale results file (not HDF5)");
  }
  if (Hdf5EndOfFile(data) != data.size()) {
    return Status::InvalidInput(path + " is an HDF5 file that is corrupt or truncated (its " +
                                "checksum trailer is missing or damaged): " + kCorruptAdvice);
  }
  if (data.find(kFormatName) == std::string_view::npos) {
    return Status::InvalidInput(path +
                                " is an HDF5 file but not a vlmscale results file (it has no "
                                "vlmscale checksum trailer and no 'format' attribute '" +
                                std::string(kFormatName) + "')");
  }
  return Status::InvalidInput(
      path +
      " is a vlmscale results file without its checksum trailer (cut off, or written by "
      "a vlmscale of before 2026-12-01, which did not write one); it is not read "
      "unchecked: " +
      kCorruptAdvice);
}

// Checks the checksum trailer of the file `path` whose bytes are *image; on success *image keeps
// the HDF5 bytes before the trailer.
Status CheckTrailer(const std::string& path, std::string* image) {
  if (image->size() < kTrailerSize || std::memcmp(image->data() + image->size() - kTrailerSize,
                                                  kTrailerMagic, sizeof(kTrailerMagic)) != 0) {
    return MissingTrailer(path, *image);
  }
  const char* t = image->data() + image->size() - kTrailerSize;
  const std::string_view body(image->data(), image->size() - kTrailerSize);
  if (GetLe32(t + 12) != static_cast<uint32_t>(body.size()) || GetLe32(t + 8) != Crc32(body)) {
    return Status::InvalidInput(
        path + " is corrupt (its checksum does not match its contents): " + kCorruptAdvice);
  }
  image->resize(body.size());
  return Status::OK();
}

// Reads the file at `path` into *image.
Status ReadWholeFile(const std::string& path, std::string* image) {
  // O_NONBLOCK: a FIFO in the results file's place must not block the open.
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) {
    if (errno == ENOENT) return Status::NotFound("results file " + path + " does not exist");
    return Status::IOError("cannot read " + path + ": " + std::strerror(errno));
  }
  struct stat st;
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    return Status::InvalidInput(path + " is not a regular file");
  }
  bool read_ok = ReadAll(fd, image);
  int read_errno = errno;
  ::close(fd);
  if (!read_ok) return Status::IOError("cannot read " + path + ": " + std::strerror(read_errno));
  return Status::OK();
}

// Opens the HDF5 file image `image` read-only (HDF5 keeps its own copy).
Handle OpenImage(const std::string& image) {
  Handle fapl = MemoryFileAccessList();
  if (image.empty() ||
      H5Pset_file_image(fapl.get(), const_cast<char*>(image.data()), image.size()) < 0) {
    return Handle();
  }
  return Handle(H5Fopen(ImageName().c_str(), H5F_ACC_RDONLY, fapl.get()), H5Fclose);
}

// Receives the memory of an in-memory HDF5 file (H5Pset_file_image_callbacks): the core driver
// allocates it through these callbacks and hands it to ImageFree() when the file is closed.
struct ImageSink {
  size_t size = 0;  // Bytes of the driver's current buffer.
  // The buffer itself once the file was closed (taken over, not copied: for a large sweep it is
  // hundreds of MiB).
  std::unique_ptr<char, decltype(&std::free)> image{nullptr, &std::free};
  bool closed = false;
  std::string_view view() const { return {image.get(), image ? size : 0}; }
};

void* ImageMalloc(size_t size, H5FD_file_image_op_t, void* udata) {
  static_cast<ImageSink*>(udata)->size = size;
  return std::malloc(size);
}
void* ImageMemcpy(void* dest, const void* src, size_t size, H5FD_file_image_op_t, void*) {
  return std::memcpy(dest, src, size);
}
void* ImageRealloc(void* ptr, size_t size, H5FD_file_image_op_t, void* udata) {
  void* p = std::realloc(ptr, size);
  if (p != nullptr || size == 0) static_cast<ImageSink*>(udata)->size = size;
  return p;
}
herr_t ImageFree(void* ptr, H5FD_file_image_op_t op, void* udata) {
  auto* sink = static_cast<ImageSink*>(udata);
  if (op == H5FD_FILE_IMAGE_OP_FILE_CLOSE && ptr != nullptr) {
    sink->image.reset(static_cast<char*>(ptr));
    sink->closed = true;
    return 0;
  }
  std::free(ptr);
  return 0;
}
void* ImageUdataCopy(void* udata) { return udata; }  // Shared: the sink outlives the file.
herr_t ImageUdataFree(void*) { return 0; }

H5FD_file_image_callbacks_t ImageSinkCallbacks(ImageSink* sink) {
  return H5FD_file_image_callbacks_t{ImageMalloc,    ImageMemcpy,    ImageRealloc, ImageFree,
                                     ImageUdataCopy, ImageUdataFree, sink};
}

// Writes the root attributes, /jobs, /events and /curves of a snapshot into the open file `f`;
// *what names the part that failed.
bool WriteContents(hid_t f, const SnapshotHeader& header, const std::vector<const JobRecord*>& jobs,
                   const SnapshotEvents& events, const char** what) {
  *what = "writing the file attributes";
  bool ok =
      WriteStringAttribute(f, "format", kFormatName) &&
      WriteScalarAttribute<int32_t>(f, "format_version", H5T_NATIVE_INT32, header.format_version) &&
      WriteStringAttribute(f, "sweep_name", header.sweep_name) &&
      WriteStringAttribute(f, "config_text", header.config_text) &&
      WriteStringAttribute(f, "vlmscale_version", header.vlmscale_version) &&
      WriteStringAttribute(f, "git_commit", header.git_commit) &&
      WriteStringAttribute(f, "run_info", header.run_info_json) &&
      WriteStringAttribute(f, "runs", header.runs_json) &&
      WriteScalarAttribute<double>(f, "snapshot_time", H5T_NATIVE_DOUBLE, header.snapshot_time) &&
      WriteScalarAttribute<int64_t>(f, "journal_seq", H5T_NATIVE_INT64, header.journal_seq) &&
      WriteScalarAttribute<int64_t>(f, "job_count", H5T_NATIVE_INT64,
                                    static_cast<int64_t>(jobs.size()));
  if (!ok) return false;
  *what = "writing /jobs";
  if (!WriteTable(f, "jobs", JobColumns(), jobs.size(),
                  [&](size_t i, JobRecord*) -> const JobRecord& { return *jobs[i]; })) {
    return false;
  }
  *what = "writing /events";
  if (!WriteTable(f, "events", EventColumns(), events.count,
                  [&](size_t i, JobEvent* event) -> const JobEvent& {
                    events.get(i, event);
                    return *event;
                  })) {
    return false;
  }
  *what = "writing /curves";
  return WriteCurves(f, jobs);
}

// Reads the root attributes into *header and checks that the file is a vlmscale results file of
// a version this build reads.
Status ReadHeader(hid_t f, const std::string& path, SnapshotHeader* header) {
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
  ReadStringAttribute(f, "runs", &header->runs_json);  // Absent in older files.
  ReadScalarAttribute(f, "snapshot_time", H5T_NATIVE_DOUBLE, &header->snapshot_time);
  ReadScalarAttribute(f, "journal_seq", H5T_NATIVE_INT64, &header->journal_seq);
  auto corrupt = [&](const std::string& why) {
    return Status::InvalidInput(path + " is corrupt (" + why + "): " + kCorruptAdvice);
  };
  if (header->journal_seq < 0 || header->journal_seq > kMaxJournalSeq) {
    return corrupt("its journal_seq " + std::to_string(header->journal_seq) +
                   " is not in [0, 2^62]");
  }
  if (!header->runs_json.empty() && !IsAcceptableRunInfo(header->runs_json)) {
    return corrupt("its runs attribute is not a JSON object nested at most " +
                   std::to_string(kMaxRunInfoDepth) + " deep");
  }
  if (!header->run_info_json.empty() && !IsAcceptableRunInfo(header->run_info_json)) {
    return corrupt("its run_info attribute is not a JSON object nested at most " +
                   std::to_string(kMaxRunInfoDepth) + " deep");
  }
  return Status::OK();
}

}  // namespace

void AppendChecksumTrailer(std::string* hdf5) { hdf5->append(TrailerOf(*hdf5)); }

Status WriteSnapshotFile(const std::string& path, const SnapshotHeader& header,
                         const std::vector<const JobRecord*>& jobs, const SnapshotEvents& events) {
  SilenceHdf5Errors();
  // The file is built in memory (HDF5 touches no disk) and handed over when HDF5 closes it
  // (H5Fget_file_image of an open file gave a stale superblock checksum in HDF5 1.10.8); then
  // WriteImage() writes it.
  ImageSink sink;
  {
    Handle fapl = MemoryFileAccessList();
    H5FD_file_image_callbacks_t callbacks = ImageSinkCallbacks(&sink);
    if (H5Pset_file_image_callbacks(fapl.get(), &callbacks) < 0) {
      return Status::IOError("writing results snapshot " + path +
                             ": HDF5 refused the in-memory "
                             "file driver");
    }
    Handle file(H5Fcreate(ImageName().c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, fapl.get()), H5Fclose);
    const char* what = "creating the file";
    if (!file.valid() || !WriteContents(file.get(), header, jobs, events, &what)) {
      return Status::IOError("writing results snapshot " + path + ": " + what +
                             " failed (in memory: out of memory?)");
    }
    if (!file.Close()) {
      return Status::IOError("writing results snapshot " + path + ": closing the in-memory " +
                             "file failed (out of memory?)");
    }
  }
  const uint64_t eof = Hdf5EndOfFile(sink.view());
  if (!sink.closed || eof == 0 || eof > sink.view().size()) {
    return Status::IOError("writing results snapshot " + path +
                           ": HDF5 did not produce a complete file image");
  }
  return WriteImage(path, sink.view().substr(0, eof));
}

Status ReadSnapshotFile(const std::string& path, SnapshotHeader* header,
                        std::vector<JobRecord>* jobs, std::vector<JobEvent>* events) {
  std::string image;
  VLM_RETURN_IF_ERROR(ReadWholeFile(path, &image));
  return ReadSnapshotBytes(path, std::move(image), header, jobs, events);
}

Status ReadSnapshotBytes(const std::string& path, std::string image, SnapshotHeader* header,
                         std::vector<JobRecord>* jobs, std::vector<JobEvent>* events) {
  SilenceHdf5Errors();
  VLM_RETURN_IF_ERROR(CheckTrailer(path, &image));
  ReadBudget budget;
  budget.file_size = budget.storage_left = image.size();
  Handle file = OpenImage(image);
  std::string().swap(image);  // HDF5 holds its own copy.
  if (!file.valid()) {
    return Status::InvalidInput(path + " is an HDF5 file that cannot be opened (corrupt or " +
                                "truncated): " + kCorruptAdvice);
  }
  hid_t f = file.get();
  VLM_RETURN_IF_ERROR(ReadHeader(f, path, header));
  auto prefix = [&](const Status& s) {
    return Status::InvalidInput(path + " is corrupt (" + s.message() + "): " + kCorruptAdvice);
  };
  if (H5Lexists(f, "jobs", H5P_DEFAULT) <= 0) {
    return Status::InvalidInput(path +
                                " has no /jobs table (corrupt results file): " + kCorruptAdvice);
  }
  Status s = ReadTable(f, "jobs", JobColumns(), &budget, jobs);
  if (!s.ok()) return prefix(s);
  events->clear();
  if (H5Lexists(f, "events", H5P_DEFAULT) > 0) {
    s = ReadTable(f, "events", EventColumns(), &budget, events);
    if (!s.ok()) return prefix(s);
  }
  s = ReadCurves(f, &budget, jobs);
  if (!s.ok()) return prefix(s);
  return Status::OK();
}

}  // namespace vlmscale::store
