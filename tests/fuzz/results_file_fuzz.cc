// libFuzzer target: the snapshot reader of the results store (store::ReadSnapshotBytes, what
// `vlmscale status`, `export`, `fit` and `run` read). Structure-aware: the input does not become
// the file's bytes (HDF5's own parser on arbitrary bytes is not what vlmscale can fix); it drives
// a generator that writes a valid HDF5 file with the HDF5 library, with hostile contents: root
// attributes of every type and shape, /jobs, /events and curve datasets with wrong member types,
// huge or zero string widths, declared extents far beyond the data (unwritten chunks, late
// allocation), every layout, deflate, soft and external links. The file gets a valid checksum
// trailer (or, rarely, none). Promises:
//   - no exception, no sanitizer finding, no allocation near the 2 GB limit (libFuzzer's
//     -malloc_limit_mb: the extent checks must refuse first);
//   - a rejection is kInvalidInput with one line of text (exit code 2);
//   - an accepted file yields at most ReadBudget's 1032 bytes of rows per byte of file, sequence
//     numbers within kMaxJournalSeq and run info within kMaxRunInfoDepth.
#include <fuzzer/FuzzedDataProvider.h>
#include <hdf5.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "store/job_columns.h"
#include "store/journal.h"
#include "store/snapshot.h"
#include "tests/fuzz/fuzz_util.h"

using namespace vlmscale::store;  // NOLINT: a fuzz target's few functions.

namespace {

// The in-memory file's bytes, handed over by HDF5's core driver when the file is closed.
struct Sink {
  size_t size = 0;
  std::string image;
};
// The generator's files stay small: HDF5 allocates a contiguous dataset's whole extent when the
// first row is written, which for a lying extent fails here (the write fails; the file is kept).
constexpr size_t kMaxImageBytes = size_t{64} << 20;
void* Malloc(size_t n, H5FD_file_image_op_t, void* u) {
  if (n > kMaxImageBytes) return nullptr;
  static_cast<Sink*>(u)->size = n;
  return std::malloc(n);
}
void* Memcpy(void* d, const void* s, size_t n, H5FD_file_image_op_t, void*) {
  return std::memcpy(d, s, n);
}
void* Realloc(void* p, size_t n, H5FD_file_image_op_t, void* u) {
  if (n > kMaxImageBytes) return nullptr;
  void* q = std::realloc(p, n);
  if (q != nullptr) static_cast<Sink*>(u)->size = n;
  return q;
}
herr_t Free(void* p, H5FD_file_image_op_t op, void* u) {
  auto* sink = static_cast<Sink*>(u);
  if (op == H5FD_FILE_IMAGE_OP_FILE_CLOSE && p != nullptr) {
    sink->image.assign(static_cast<char*>(p), sink->size);
  }
  std::free(p);
  return 0;
}
void* UdataCopy(void* u) { return u; }
herr_t UdataFree(void*) { return 0; }

// An HDF5 datatype chosen by the input: fixed or variable strings of any width, integers and
// floats of every size, nested compounds, arrays.
hid_t PickType(FuzzedDataProvider* in, bool number_wanted) {
  switch (in->ConsumeIntegralInRange(0, 9)) {
    case 0:
    case 1: {
      hid_t t = H5Tcopy(H5T_C_S1);
      const size_t widths[] = {1, 3, 16, 64, 4096, size_t{1} << 20, size_t{1} << 26};
      H5Tset_size(t, widths[in->ConsumeIntegralInRange<size_t>(0, number_wanted ? 3 : 6)]);
      H5Tset_cset(t, in->ConsumeBool() ? H5T_CSET_UTF8 : H5T_CSET_ASCII);
      return t;
    }
    case 2: {
      hid_t t = H5Tcopy(H5T_C_S1);
      H5Tset_size(t, H5T_VARIABLE);
      H5Tset_cset(t, H5T_CSET_UTF8);
      return t;
    }
    case 3: {
      const hid_t ints[] = {H5T_STD_I8LE,  H5T_STD_U8LE,  H5T_STD_I16BE, H5T_STD_I32LE,
                            H5T_STD_U32LE, H5T_STD_I64LE, H5T_STD_U64BE};
      return H5Tcopy(ints[in->ConsumeIntegralInRange(0, 6)]);
    }
    case 4:
      return H5Tcopy(in->ConsumeBool() ? H5T_IEEE_F32LE : H5T_IEEE_F64BE);
    case 5: {
      hid_t t = H5Tcreate(H5T_COMPOUND, 16);
      H5Tinsert(t, "a", 0, H5T_NATIVE_INT64);
      H5Tinsert(t, "b", 8, H5T_NATIVE_DOUBLE);
      return t;
    }
    case 6: {
      hsize_t dims[1] = {in->ConsumeIntegralInRange<hsize_t>(1, 8)};
      return H5Tarray_create2(H5T_NATIVE_INT32, 1, dims);
    }
    default:
      return H5Tcopy(number_wanted ? H5T_NATIVE_DOUBLE : H5T_NATIVE_INT64);
  }
}

// Whether `type` holds a variable-length string (its data cannot come from input bytes).
bool HasVarString(hid_t type) {
  if (H5Tget_class(type) == H5T_STRING) return H5Tis_variable_str(type) > 0;
  if (H5Tget_class(type) != H5T_COMPOUND) return false;
  for (int i = 0; i < H5Tget_nmembers(type); ++i) {
    hid_t member = H5Tget_member_type(type, static_cast<unsigned>(i));
    const bool var = HasVarString(member);
    H5Tclose(member);
    if (var) return true;
  }
  return false;
}

// The native type a column of `type` is written with (numbers as the store writes them).
hid_t ColumnType(FuzzedDataProvider* in, ColumnType type) {
  const bool right = in->ConsumeIntegralInRange(0, 3) != 0;
  if (right) {
    switch (type) {
      case ColumnType::kDouble:
        return H5Tcopy(H5T_NATIVE_DOUBLE);
      case ColumnType::kInt64:
        return H5Tcopy(H5T_NATIVE_INT64);
      case ColumnType::kInt32:
        return H5Tcopy(H5T_NATIVE_INT32);
      default: {
        hid_t t = H5Tcopy(H5T_C_S1);
        H5Tset_size(t, in->ConsumeIntegralInRange<size_t>(1, 40));
        H5Tset_cset(t, H5T_CSET_UTF8);
        return t;
      }
    }
  }
  return PickType(
      in, type == ColumnType::kDouble || type == ColumnType::kInt64 || type == ColumnType::kInt32);
}

// A compound table `name` under `loc` with some of `columns` (and unknown ones), a declared
// extent, layout and filters from the input, and at most a few KB of real data.
template <typename Row>
void WriteTable(FuzzedDataProvider* in, hid_t loc, const char* name,
                const std::vector<Column<Row>>& columns) {
  std::vector<hid_t> types;
  std::vector<std::string> names;
  const int members = in->ConsumeIntegralInRange(0, 8);
  for (int i = 0; i < members; ++i) {
    const Column<Row>& c = columns[in->ConsumeIntegralInRange<size_t>(0, columns.size() - 1)];
    names.push_back(in->ConsumeIntegralInRange(0, 7) == 0 ? "unknown" + std::to_string(i)
                                                          : std::string(c.name));
    types.push_back(ColumnType(in, c.type()));
  }
  size_t row_size = 0;
  for (hid_t t : types) row_size += H5Tget_size(t);
  hid_t type = H5Tcreate(H5T_COMPOUND, std::max<size_t>(row_size, 1));
  size_t offset = 0;
  for (size_t i = 0; i < types.size(); ++i) {
    H5Tinsert(type, names[i].c_str(), offset, types[i]);  // Duplicates fail: fine.
    offset += H5Tget_size(types[i]);
  }
  const hsize_t huge[] = {1000, 1ull << 32, 1000000000000ull, 1ull << 60};
  const bool lie = in->ConsumeIntegralInRange(0, 3) == 0;
  const hsize_t rows =
      lie ? huge[in->ConsumeIntegralInRange(0, 3)] : in->ConsumeIntegralInRange<hsize_t>(0, 6);
  const int layout = in->ConsumeIntegralInRange(0, 2);  // Contiguous, chunked, compact.
  hsize_t dims[1] = {rows}, max_dims[1] = {H5S_UNLIMITED};
  hid_t space = H5Screate_simple(1, dims, layout == 1 ? max_dims : nullptr);
  hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
  if (layout == 1) {
    hsize_t chunk[1] = {in->ConsumeIntegralInRange<hsize_t>(1, 64)};
    H5Pset_chunk(dcpl, 1, chunk);
    if (in->ConsumeBool()) H5Pset_shuffle(dcpl);
    if (in->ConsumeBool()) H5Pset_deflate(dcpl, 1);
  } else if (layout == 2) {
    H5Pset_layout(dcpl, H5D_COMPACT);
  }
  hid_t dset = H5Dcreate2(loc, name, type, space, H5P_DEFAULT, dcpl, H5P_DEFAULT);
  // A lying contiguous extent gets no rows: HDF5 would allocate all of it at the first write.
  const hsize_t written = !lie ? rows : layout == 1 ? std::min<hsize_t>(rows, 2) : 0;
  if (dset >= 0 && written > 0 && row_size * written <= 65536 && !HasVarString(type)) {
    std::string bytes = in->ConsumeBytesAsString(row_size * written);
    bytes.resize(row_size * written, '\0');
    hsize_t start[1] = {0}, count[1] = {written};
    hid_t file_space = H5Dget_space(dset);
    H5Sselect_hyperslab(file_space, H5S_SELECT_SET, start, nullptr, count, nullptr);
    hid_t mem_space = H5Screate_simple(1, count, nullptr);
    H5Dwrite(dset, type, mem_space, file_space, H5P_DEFAULT, bytes.data());
    H5Sclose(mem_space);
    H5Sclose(file_space);
  }
  if (dset >= 0) H5Dclose(dset);
  H5Pclose(dcpl);
  H5Sclose(space);
  H5Tclose(type);
  for (hid_t t : types) H5Tclose(t);
}

// A root attribute `name` of a type and shape the input chooses (`good` is the right value).
void WriteAttribute(FuzzedDataProvider* in, hid_t f, const char* name, const std::string& good) {
  const int kind = in->ConsumeIntegralInRange(0, 6);
  if (kind == 0) return;  // Absent.
  hsize_t dims[1] = {in->ConsumeIntegralInRange<hsize_t>(2, 300)};
  hid_t space = kind == 5 || kind == 6 ? H5Screate_simple(1, dims, nullptr) : H5Screate(H5S_SCALAR);
  hid_t type = -1;
  std::vector<char> value(16, '\0');
  std::string text = in->ConsumeBool() ? good : in->ConsumeRandomLengthString(80);
  std::vector<const char*> pointers(dims[0], text.c_str());
  const void* buffer = pointers.data();
  if (kind == 1 || kind == 5) {
    type = H5Tcopy(H5T_C_S1);
    H5Tset_size(type, H5T_VARIABLE);
    H5Tset_cset(type, H5T_CSET_UTF8);
  } else if (kind == 2) {
    type = H5Tcopy(H5T_C_S1);
    H5Tset_size(type, std::max<size_t>(text.size(), 1));
    buffer = text.c_str();
  } else {
    const int64_t numbers[] = {0, 1, 2, -1, INT64_MAX, INT64_MIN, int64_t{1} << 62};
    const int64_t n = numbers[in->ConsumeIntegralInRange(0, 6)];
    type = H5Tcopy(kind == 4 ? H5T_NATIVE_DOUBLE : H5T_NATIVE_INT64);
    value.assign(dims[0] * 8, '\0');
    for (size_t i = 0; i < (kind == 6 ? dims[0] : 1); ++i) {
      if (kind == 4) {
        const double d = static_cast<double>(n);
        std::memcpy(value.data() + 8 * i, &d, 8);
      } else {
        std::memcpy(value.data() + 8 * i, &n, 8);
      }
    }
    buffer = value.data();
  }
  hid_t attr = H5Acreate2(f, name, type, space, H5P_DEFAULT, H5P_DEFAULT);
  if (attr >= 0) {
    H5Awrite(attr, type, buffer);
    H5Aclose(attr);
  }
  H5Tclose(type);
  H5Sclose(space);
}

// /curves/<job>/<name> datasets, for job ids the /jobs table may hold.
void WriteCurves(FuzzedDataProvider* in, hid_t f) {
  hid_t curves = H5Gcreate2(f, "curves", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  const int jobs = in->ConsumeIntegralInRange(0, 3);
  for (int j = 0; j < jobs; ++j) {
    const std::string id = in->ConsumeBool() ? std::string("") : in->ConsumeRandomLengthString(4);
    hid_t group =
        H5Gcreate2(curves, id.empty() ? "_" : id.c_str(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    if (group < 0) continue;
    const int sets = in->ConsumeIntegralInRange(0, 3);
    for (int k = 0; k < sets; ++k) {
      hid_t type = H5Tcreate(H5T_COMPOUND, 16);
      H5Tinsert(type, "step", 0, H5T_NATIVE_INT64);
      H5Tinsert(type, "value", 8, H5T_NATIVE_DOUBLE);
      if (in->ConsumeIntegralInRange(0, 4) == 0) {
        H5Tclose(type);
        type = PickType(in, true);
      }
      const bool lie = in->ConsumeIntegralInRange(0, 2) == 0;
      hsize_t dims[1] = {lie ? 4000000000ull : in->ConsumeIntegralInRange<hsize_t>(0, 5)};
      hid_t space = H5Screate_simple(1, dims, nullptr);
      const std::string name = "c" + std::to_string(k);
      hid_t dset =
          H5Dcreate2(group, name.c_str(), type, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
      const size_t bytes = H5Tget_size(type) * dims[0];
      if (dset >= 0 && !lie && bytes > 0 && bytes <= 4096 && !HasVarString(type)) {
        std::string data = in->ConsumeBytesAsString(bytes);
        data.resize(bytes, '\0');
        H5Dwrite(dset, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data.data());
      }
      if (dset >= 0) {
        if (in->ConsumeBool()) WriteAttribute(in, dset, "name", "loss");
        H5Dclose(dset);
      }
      H5Sclose(space);
      H5Tclose(type);
    }
    if (in->ConsumeIntegralInRange(0, 5) == 0) {
      H5Lcreate_external("/dev/zero", "/x", group, "ext", H5P_DEFAULT, H5P_DEFAULT);
    }
    H5Gclose(group);
  }
  H5Gclose(curves);
}

// /jobs (or /events): a table, nothing, a link elsewhere or a group.
template <typename Row>
void WriteObject(FuzzedDataProvider* in, hid_t f, const char* name,
                 const std::vector<Column<Row>>& columns) {
  switch (in->ConsumeIntegralInRange(0, 7)) {
    case 0:
      return;
    case 1:
      H5Lcreate_soft("/nowhere", f, name, H5P_DEFAULT, H5P_DEFAULT);
      return;
    case 2:
      H5Lcreate_external("/dev/zero", "/jobs", f, name, H5P_DEFAULT, H5P_DEFAULT);
      return;
    case 3:
      H5Gclose(H5Gcreate2(f, name, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT));
      return;
    default:
      WriteTable(in, f, name, columns);
  }
}

std::string BuildFile(FuzzedDataProvider* in) {
  Sink sink;
  hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
  H5Pset_libver_bounds(fapl, H5F_LIBVER_V18, H5F_LIBVER_V18);  // Superblock 2, as the store.
  H5Pset_fapl_core(fapl, 1 << 16, false);
  H5FD_file_image_callbacks_t callbacks = {Malloc,    Memcpy,    Realloc, Free,
                                           UdataCopy, UdataFree, &sink};
  H5Pset_file_image_callbacks(fapl, &callbacks);
  static uint64_t counter = 0;
  const std::string name = "/dev/null/fuzz-" + std::to_string(counter++);
  hid_t f = H5Fcreate(name.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
  H5Pclose(fapl);
  if (f < 0) return "";
  WriteAttribute(in, f, "format", kFormatName);
  WriteAttribute(in, f, "format_version", "1");
  WriteAttribute(in, f, "sweep_name", "fuzz");
  WriteAttribute(in, f, "run_info", "{\"state\":\"running\"}");
  WriteAttribute(in, f, "journal_seq", "7");
  WriteAttribute(in, f, "snapshot_time", "1");
  WriteObject(in, f, "jobs", JobColumns());
  WriteObject(in, f, "events", EventColumns());
  if (in->ConsumeBool()) WriteCurves(in, f);
  H5Fclose(f);
  return sink.image;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const bool silenced = (H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr), true);
  (void)silenced;
  FuzzedDataProvider in(data, size);
  std::string file = BuildFile(&in);
  // Trim the driver's spare capacity: the file ends where its superblock says (as the writer).
  if (file.size() >= 48 && file[8] == 2) {
    uint64_t eof = 0;
    std::memcpy(&eof, file.data() + 12 + 2 * 8, 8);
    if (eof <= file.size()) file.resize(eof);
  }
  if (in.ConsumeIntegralInRange(0, 15) != 0) AppendChecksumTrailer(&file);
  const size_t file_size = file.size();
  SnapshotHeader header;
  std::vector<JobRecord> jobs;
  std::vector<JobEvent> events;
  vlmscale::Status s = ReadSnapshotBytes("fuzz.h5", std::move(file), &header, &jobs, &events);
  if (!s.ok()) {
    vlmscale::fuzz::CheckRejection(s);
    return 0;
  }
  size_t curve_points = 0;
  for (const JobRecord& j : jobs) curve_points += j.curves.size();
  FUZZ_CHECK((jobs.size() + events.size() + curve_points) <= 1032 * file_size)
      << jobs.size() << " " << events.size() << " " << curve_points << " " << file_size;
  FUZZ_CHECK(header.journal_seq >= 0 && header.journal_seq <= kMaxJournalSeq);
  FUZZ_CHECK(header.run_info_json.empty() || IsAcceptableRunInfo(header.run_info_json));
  return 0;
}
