#include "store/snapshot_tables.h"

#include <algorithm>
#include <cstring>
#include <map>
#include <string_view>
#include <unordered_map>

#include "core/check.h"
#include "store/job_columns.h"

namespace vlmscale::store::internal {
namespace {

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

bool MultiplyFits(uint64_t a, uint64_t b, uint64_t* out) {
  return !__builtin_mul_overflow(a, b, out);
}

}  // namespace

// A fixed-length string type. Readers pass the file's character set: HDF5 does not convert
// between ASCII and UTF-8 (h5py writes NumPy 'S' strings as ASCII).
Handle StringType(size_t width, H5T_cset_t cset) {
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

bool WriteStringAttribute(hid_t loc, const char* name, const std::string& value) {
  Handle type = VarStringType();
  Handle space(H5Screate(H5S_SCALAR), H5Sclose);
  Handle attr(H5Acreate2(loc, name, type.get(), space.get(), H5P_DEFAULT, H5P_DEFAULT), H5Aclose);
  if (!attr.valid()) return false;
  const char* p = value.c_str();
  return H5Awrite(attr.get(), type.get(), &p) >= 0;
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

namespace {

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

}  // namespace

bool WriteCurves(hid_t file, const SnapshotJobs& jobs) {
  // Rows in /jobs order; a job's points grouped by curve name in order of first appearance (the
  // order readers give them back in). WriteTable asks for rows 0..n-1 in order, twice: a cursor
  // walks the jobs, restarting at row 0.
  struct Cursor {
    size_t next = 0;  // The row it serves next.
    size_t job = 0;   // The next job to load.
    size_t k = 0;     // The next point of `points`.
    std::string id;
    std::vector<CurvePoint> curve, points;
  } cursor;
  auto row_at = [&](size_t i, CurveTableRow* row) -> const CurveTableRow& {
    if (i == 0) cursor = Cursor();
    CHECK_EQ(i, cursor.next) << "curve rows are written in order";
    while (cursor.k >= cursor.points.size()) {
      CHECK_LT(cursor.job, jobs.count) << "fewer curve points than counted";
      jobs.curve(cursor.job++, &cursor.id, &cursor.curve);
      cursor.points.clear();
      cursor.k = 0;
      std::vector<std::string> names;
      for (const CurvePoint& p : cursor.curve) {
        if (std::find(names.begin(), names.end(), p.name) == names.end()) names.push_back(p.name);
      }
      for (const std::string& name : names) {
        for (const CurvePoint& p : cursor.curve) {
          if (p.name == name) cursor.points.push_back(p);
        }
      }
    }
    const CurvePoint& p = cursor.points[cursor.k++];
    ++cursor.next;
    row->job_id = cursor.id;
    row->name = p.name;
    row->step = p.step;
    row->value = p.value;
    return *row;
  };
  return WriteTable(file, "curve_points", CurveColumns(), jobs.curve_points, row_at);
}

namespace {

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

}  // namespace

Status ReadCurves(hid_t file, ReadBudget* budget, std::vector<JobRecord>* jobs) {
  if (H5Lexists(file, "curve_points", H5P_DEFAULT) > 0) {
    std::vector<CurveTableRow> rows;
    VLM_RETURN_IF_ERROR(ReadTable(file, "curve_points", CurveColumns(), budget, &rows));
    std::unordered_map<std::string, JobRecord*> by_id;
    for (JobRecord& job : *jobs) by_id.emplace(job.job_id, &job);
    for (CurveTableRow& r : rows) {
      auto it = by_id.find(r.job_id);
      if (it == by_id.end()) continue;  // Curves of a job the table does not list: ignore.
      it->second->curves.push_back({std::move(r.name), r.step, r.value});
    }
    return Status::OK();
  }
  // Format version 1: /curves/<job_id>/<curve>.
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

bool WriteJobsTable(hid_t loc, const SnapshotJobs& jobs) {
  return WriteTable(loc, "jobs", JobColumns(), jobs.count,
                    [&](size_t i, JobRecord* job) -> const JobRecord& {
                      jobs.get(i, job);
                      return *job;
                    });
}

bool WriteEventsTable(hid_t loc, const SnapshotEvents& events) {
  return WriteTable(loc, "events", EventColumns(), events.count,
                    [&](size_t i, JobEvent* event) -> const JobEvent& {
                      events.get(i, event);
                      return *event;
                    });
}

Status ReadJobsTable(hid_t loc, ReadBudget* budget, std::vector<JobRecord>* jobs) {
  return ReadTable(loc, "jobs", JobColumns(), budget, jobs);
}

Status ReadEventsTable(hid_t loc, ReadBudget* budget, std::vector<JobEvent>* events) {
  return ReadTable(loc, "events", EventColumns(), budget, events);
}

}  // namespace vlmscale::store::internal
