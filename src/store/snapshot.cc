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
#include "store/journal.h"
#include "store/snapshot_tables.h"

namespace vlmscale::store {

using namespace internal;  // NOLINT: the dataset layer (snapshot_tables.h).

namespace {

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

// Writes the root attributes, /jobs, /events and /curve_points of a snapshot into the open file
// `f`; *what names the part that failed.
bool WriteContents(hid_t f, const SnapshotHeader& header, const SnapshotJobs& jobs,
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
                                    static_cast<int64_t>(jobs.count));
  if (!ok) return false;
  *what = "writing /jobs";
  if (!WriteJobsTable(f, jobs)) return false;
  *what = "writing /events";
  if (!WriteEventsTable(f, events)) return false;
  *what = "writing /curve_points";
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
                         const SnapshotJobs& jobs, const SnapshotEvents& events) {
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
  Status s = ReadJobsTable(f, &budget, jobs);
  if (!s.ok()) return prefix(s);
  events->clear();
  if (H5Lexists(f, "events", H5P_DEFAULT) > 0) {
    s = ReadEventsTable(f, &budget, events);
    if (!s.ok()) return prefix(s);
  }
  s = ReadCurves(f, &budget, jobs);
  if (!s.ok()) return prefix(s);
  return Status::OK();
}

}  // namespace vlmscale::store
