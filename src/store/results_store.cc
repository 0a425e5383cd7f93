#include "store/results_store.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <ctime>
#include <nlohmann/json.hpp>
#include <utility>

#include "config.h"
#include "store/journal.h"
#include "store/snapshot.h"

namespace vlmscale::store {
namespace {

using nlohmann::json;

constexpr double kSnapshotCostFactor = 10.0;
constexpr int64_t kJournalGrowBytes = 4 << 20;  // The journal grows by zero-filled 4 MiB steps.
constexpr size_t kKeptBufferBytes = 1 << 20;    // Commit() keeps this much buffer capacity.

double NowUnix() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

double NowMonotonic() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

std::string Errno() { return std::strerror(errno); }

bool Exists(const std::string& path) {
  struct stat st;
  return ::lstat(path.c_str(), &st) == 0;
}

std::string DirName(const std::string& path) {
  size_t slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

Status FsyncDir(const std::string& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return Status::IOError("cannot open directory " + dir + ": " + Errno());
  int rc = ::fsync(fd);
  ::close(fd);
  if (rc != 0) return Status::IOError("fsync of directory " + dir + " failed: " + Errno());
  return Status::OK();
}

// Reads the whole file at `path` into *data ("" if it does not exist).
Status ReadWholeFile(const std::string& path, std::string* data) {
  data->clear();
  // O_NONBLOCK: a FIFO in the journal's place must not block the open.
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) {
    if (errno == ENOENT) return Status::OK();
    return Status::IOError("cannot read " + path + ": " + Errno());
  }
  struct stat st;
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    return Status::InvalidInput(path + " is not a regular file; move it aside");
  }
  char buf[1 << 16];
  while (true) {
    ssize_t got = ::read(fd, buf, sizeof(buf));
    if (got < 0) {
      if (errno == EINTR) continue;
      std::string err = Errno();
      ::close(fd);
      return Status::IOError("cannot read " + path + ": " + err);
    }
    if (got == 0) break;
    data->append(buf, static_cast<size_t>(got));
  }
  ::close(fd);
  return Status::OK();
}

Status WriteAllAt(int fd, const std::string& data, int64_t offset, const std::string& path) {
  size_t done = 0;
  while (done < data.size()) {
    ssize_t n = ::pwrite(fd, data.data() + done, data.size() - done,
                         static_cast<off_t>(offset + static_cast<int64_t>(done)));
    if (n < 0) {
      if (errno == EINTR) continue;
      return Status::IOError("writing " + path + " failed: " + Errno());
    }
    done += static_cast<size_t>(n);
  }
  return Status::OK();
}

Status WriteZeros(int fd, int64_t from, int64_t to, const std::string& path) {
  const std::string zeros(1 << 20, '\0');
  for (int64_t at = from; at < to;) {
    size_t n = static_cast<size_t>(std::min<int64_t>(to - at, static_cast<int64_t>(zeros.size())));
    VLM_RETURN_IF_ERROR(WriteAllAt(fd, zeros.substr(0, n), at, path));
    at += static_cast<int64_t>(n);
  }
  return Status::OK();
}

// Writes `data` to a new file at `path` and fsyncs it and its directory.
Status WriteFileDurably(const std::string& path, const std::string& data) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0) return Status::IOError("cannot create " + path + ": " + Errno());
  Status s = WriteAllAt(fd, data, 0, path);
  if (s.ok() && ::fsync(fd) != 0) s = Status::IOError("fsync of " + path + " failed: " + Errno());
  ::close(fd);
  if (!s.ok()) {
    ::unlink(path.c_str());
    return s;
  }
  return FsyncDir(DirName(path));
}

std::string UtcStamp() {
  std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof(buf), "%Y%m%dT%H%M%SZ", &tm);
  return buf;
}

// The run records of a snapshot's `runs` attribute ({"runs": [objects]}); none if it is empty or
// holds anything else (ReadSnapshotFile has checked it is a JSON object).
std::vector<std::string> RunsFromJson(const std::string& text) {
  std::vector<std::string> runs;
  if (text.empty()) return runs;
  json doc = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (!doc.is_object() || !doc.contains("runs") || !doc["runs"].is_array()) return runs;
  for (const json& r : doc["runs"]) {
    if (r.is_object()) runs.push_back(r.dump(-1, ' ', false, json::error_handler_t::replace));
  }
  return runs;
}

std::string RunsToJson(const std::vector<std::string>& runs) {
  if (runs.empty()) return "";
  json list = json::array();
  for (const std::string& r : runs) list.push_back(json::parse(r, nullptr, false));
  return json{{"runs", list}}.dump(-1, ' ', false, json::error_handler_t::replace);
}

// Loads snapshot + journal contents of `path` into *state. `journal_data` is the journal's bytes.
// *snapshot_seq receives the snapshot's journal_seq (0 without a snapshot).
Status LoadState(const std::string& path, const std::string& journal_data, StoreState* state,
                 SnapshotHeader* header, bool* have_snapshot, DecodedJournal* decoded,
                 ReplayReport* report) {
  std::vector<JobRecord> jobs;
  std::vector<JobEvent> events;
  Status s = ReadSnapshotFile(path, header, &jobs, &events);
  *have_snapshot = s.ok();
  if (!s.ok() && s.code() != Status::Code::kNotFound) return s;
  if (*have_snapshot) {
    state->sweep_name = header->sweep_name;
    state->run_info_json = header->run_info_json;
    state->runs = RunsFromJson(header->runs_json);
    state->last_seq = header->journal_seq;
    for (JobRecord& r : jobs) state->PutJob(std::move(r));
    state->events = std::move(events);
  }
  *decoded = DecodeJournal(journal_data);
  Status a = ReplayJournal(*decoded, header->journal_seq, state, report);
  if (!a.ok()) return a.WithPrefix("journal " + path + ".journal");
  return Status::OK();
}

}  // namespace

bool StoreOptions::IsValid(std::string* error) const {
  if (path.empty()) {
    *error = "StoreOptions.path must be non-empty";
    return false;
  }
  if (sweep_name.empty()) {
    *error = "StoreOptions.sweep_name must be non-empty";
    return false;
  }
  if (!(snapshot_interval_seconds >= 0)) {
    *error = "StoreOptions.snapshot_interval_seconds must be >= 0";
    return false;
  }
  return true;
}

ResultsStore::ResultsStore(StoreOptions options)
    : options_(std::move(options)), journal_path_(options_.path + ".journal") {}

ResultsStore::~ResultsStore() {
  if (journal_fd_ >= 0) ::close(journal_fd_);  // Also releases the writer lock.
}

Result<std::unique_ptr<ResultsStore>> ResultsStore::Open(const StoreOptions& options) {
  std::string error;
  if (!options.IsValid(&error)) return Status::InvalidInput(error);
  std::unique_ptr<ResultsStore> store(new ResultsStore(options));
  VLM_RETURN_IF_ERROR(store->OpenImpl());
  return store;
}

Status ResultsStore::OpenImpl() {
  SilenceHdf5Errors();
  const std::string& path = options_.path;
  const std::string dir = DirName(path);
  struct stat st;
  if (::stat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    return Status::IOError("cannot create results file " + path + ": directory " + dir +
                           " does not exist");
  }
  if (::access(dir.c_str(), W_OK) != 0) {
    return Status::IOError("cannot write results file " + path + ": directory " + dir +
                           " is not writable (" + Errno() + "); choose another results path");
  }
  for (const std::string& p : {path, journal_path_}) {
    if (Exists(p) && ::access(p.c_str(), W_OK) != 0) {
      return Status::IOError("results file " + p + " is not writable (" + Errno() +
                             "); fix its permissions or choose another results path");
    }
  }

  if (options_.fresh && (Exists(path) || Exists(journal_path_))) {
    // Never move the files of a live writer aside: take its lock first.
    int old_fd = ::open(journal_path_.c_str(), O_RDWR | O_CLOEXEC);
    if (old_fd >= 0 && ::flock(old_fd, LOCK_EX | LOCK_NB) != 0) {
      ::close(old_fd);
      return Status::IOError("another process is writing " + path +
                             " (its journal is locked); stop it before using --fresh");
    }
    struct OldFdCloser {
      int fd;
      ~OldFdCloser() {
        if (fd >= 0) ::close(fd);
      }
    } old_fd_closer{old_fd};
    std::string aside = path + ".old-" + UtcStamp();
    for (int i = 2; Exists(aside) || Exists(aside + ".journal"); ++i) {
      aside = path + ".old-" + UtcStamp() + "-" + std::to_string(i);
    }
    if (Exists(path) && ::rename(path.c_str(), aside.c_str()) != 0) {
      return Status::IOError("cannot move " + path + " aside to " + aside + ": " + Errno());
    }
    if (Exists(journal_path_) &&
        ::rename(journal_path_.c_str(), (aside + ".journal").c_str()) != 0) {
      return Status::IOError("cannot move " + journal_path_ + " aside: " + Errno());
    }
    VLM_RETURN_IF_ERROR(FsyncDir(dir));
    moved_aside_path_ = aside;
  }

  // Take the writer lock on an existing journal before reading it.
  bool journal_existed = Exists(journal_path_);
  if (journal_existed) {
    journal_fd_ = ::open(journal_path_.c_str(), O_RDWR | O_CLOEXEC);
    if (journal_fd_ < 0) return Status::IOError("cannot open " + journal_path_ + ": " + Errno());
    if (::flock(journal_fd_, LOCK_EX | LOCK_NB) != 0) {
      return Status::IOError("another process is writing " + path +
                             " (its journal is locked); stop it or use another results path");
    }
  }
  std::string journal_data;
  if (journal_existed) VLM_RETURN_IF_ERROR(ReadWholeFile(journal_path_, &journal_data));

  StoreState state;
  SnapshotHeader header;
  bool have_snapshot = false;
  DecodedJournal decoded;
  ReplayReport report;
  VLM_RETURN_IF_ERROR(
      LoadState(path, journal_data, &state, &header, &have_snapshot, &decoded, &report));
  VLM_RETURN_IF_ERROR(CheckOwner(state, have_snapshot, report));

  if (!journal_existed) {
    journal_fd_ = ::open(journal_path_.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (journal_fd_ < 0) return Status::IOError("cannot create " + journal_path_ + ": " + Errno());
    if (::flock(journal_fd_, LOCK_EX | LOCK_NB) != 0) {
      return Status::IOError("another process is writing " + path);
    }
  }
  if (report.damaged()) {
    // The snapshot below absorbs the recovered entries and new ones then overwrite the journal:
    // keep the damaged bytes for inspection first.
    const std::string copy = journal_path_ + ".damaged-" + UtcStamp();
    VLM_RETURN_IF_ERROR(WriteFileDurably(copy, journal_data));
    warning_ = report.Describe(journal_path_) + "; the damaged journal was copied to " + copy;
  }
  // New entries overwrite whatever follows the valid prefix (a torn tail, zeros, or entries of an
  // older epoch that the snapshot holds); see "Journal format" in docs/RESULTS.md.
  journal_size_ = static_cast<int64_t>(decoded.valid_bytes);
  struct stat journal_stat;
  if (::fstat(journal_fd_, &journal_stat) != 0) {
    return Status::IOError("cannot stat " + journal_path_ + ": " + Errno());
  }
  journal_capacity_ = static_cast<int64_t>(journal_stat.st_size);
  ::unlink((path + ".tmp").c_str());  // A snapshot that never completed.

  // Pack the records, freeing each loaded one as it goes.
  for (const std::string& id : state.order) {
    auto node = state.jobs.extract(id);
    if (!node.empty()) jobs_.Put(node.mapped());
  }
  state.order = {};
  state.jobs.clear();
  events_.clear();
  events_.reserve(state.events.size());
  std::map<std::string, uint32_t> orphans;
  for (const JobEvent& e : state.events) {
    const int64_t row = jobs_.Find(e.job_id);
    uint32_t job = static_cast<uint32_t>(row);
    if (row < 0) {
      auto [it, inserted] = orphans.try_emplace(e.job_id, orphan_ids_.size());
      if (inserted) orphan_ids_.push_back(e.job_id);
      job = kOrphan | it->second;
    }
    AddEvent(job, e.state, e.attempt, e.time, e.failure_class);
  }
  state.events = {};
  run_info_json_ = std::move(state.run_info_json);
  runs_ = std::move(state.runs);
  snapshot_seq_ = header.journal_seq;
  committed_seq_ = std::max(state.last_seq, header.journal_seq);
  next_seq_ = committed_seq_ + 1;
  buffered_last_seq_ = committed_seq_;
  // Record the (possibly new) config and absorb the replayed journal into a fresh snapshot.
  return WriteSnapshotNow();
}

Status ResultsStore::CheckOwner(const StoreState& state, bool have_snapshot,
                                const ReplayReport& report) const {
  const std::string& path = options_.path;
  const std::string& want = options_.sweep_name;
  const std::string advice =
      "; use another results path, or pass --fresh to move the old file aside and start anew";
  // The snapshot's name and the journal's must both be this sweep's. The journal holds the name
  // as JSON, with invalid UTF-8 replaced (EncodeJournalEntry): compare it in that form.
  const std::string want_in_journal =
      json::parse(json(want).dump(-1, ' ', false, json::error_handler_t::replace))
          .get<std::string>();
  if (!state.sweep_name.empty() && state.sweep_name != want &&
      state.sweep_name != want_in_journal) {
    return Status::InvalidInput("results file " + path + " belongs to sweep '" + state.sweep_name +
                                "', not '" + want + "'" + advice);
  }
  if (!state.journal_sweep.empty() && state.journal_sweep != want_in_journal) {
    return Status::InvalidInput("results file " + path + " belongs to sweep '" +
                                state.journal_sweep + "' (its journal says so), not '" + want +
                                "'" + advice);
  }
  // Without a snapshot only the journal's first entry names the sweep. If it is damaged, the
  // entries that remain could be another sweep's: refuse rather than merge them.
  if (!have_snapshot && state.sweep_name.empty() && report.replayed > 0) {
    return Status::InvalidInput(
        "results journal " + journal_path_ + " (there is no snapshot " + path +
        ") does not say which sweep it belongs to: its first entry, which records the sweep "
        "name, is damaged or missing; expected sweep '" +
        want + "'" + advice);
  }
  return Status::OK();
}

Status ResultsStore::Append(const JobRecord& record) {
  CHECK(!closed_) << "ResultsStore::Append after Close";
  if (record.job_id.empty()) return Status::InvalidInput("JobRecord.job_id must be non-empty");
  const JobRecord* r = &record;
  JobRecord cut;
  if (record.message.size() > kMaxMessageBytes) {
    cut = record;
    cut.message = TruncateUtf8(cut.message, kMaxMessageBytes);
    r = &cut;
  }
  const int64_t found = jobs_.Find(r->job_id);
  const bool changed = found < 0 || jobs_.state(static_cast<size_t>(found)) != r->state ||
                       jobs_.attempts(static_cast<size_t>(found)) != r->attempts;
  JobEvent event;
  if (changed) {
    event = JobEvent{r->job_id, r->state, r->attempts, NowUnix(), r->failure_class};
    EncodeJobEntry(next_seq_, *r, &event, &buffer_);
  } else {
    EncodeJobEntry(next_seq_, *r, nullptr, &buffer_);
  }
  buffered_last_seq_ = next_seq_++;
  const size_t row = jobs_.Put(*r);
  CHECK_LT(row, size_t{kOrphan}) << "too many jobs";
  if (changed) {
    AddEvent(static_cast<uint32_t>(row), event.state, event.attempt, event.time,
             event.failure_class);
  }
  return Status::OK();
}

std::optional<JobRecord> ResultsStore::FindJob(const std::string& id) const {
  const int64_t row = jobs_.Find(id);
  if (row < 0) return std::nullopt;
  return jobs_.Get(static_cast<size_t>(row));
}

std::string ResultsStore::EventJobId(uint32_t job) const {
  return (job & kOrphan) != 0 ? orphan_ids_[job & ~kOrphan] : jobs_.id(job);
}

void ResultsStore::AddEvent(uint32_t job, JobState state, int attempt, double time,
                            const std::string& failure_class) {
  auto [it, inserted] = failure_class_index_.try_emplace(
      failure_class, static_cast<uint32_t>(failure_classes_.size()));
  if (inserted) {
    CHECK_LT(failure_classes_.size(), size_t{1} << 24) << "too many distinct failure classes";
    failure_classes_.push_back(failure_class);
  }
  PackedEvent e;
  e.time = time;
  e.job = job;
  e.attempt = attempt;
  e.failure_class = it->second;
  e.state = static_cast<uint32_t>(state);
  events_.push_back(e);
}

JobEvent ResultsStore::event(size_t i) const {
  const PackedEvent& e = events_[i];
  return JobEvent{EventJobId(e.job), static_cast<JobState>(e.state), e.attempt, e.time,
                  failure_classes_[e.failure_class]};
}

Status ResultsStore::AddRun(const std::string& json_text) {
  CHECK(!closed_) << "ResultsStore::AddRun after Close";
  if (!IsAcceptableRunInfo(json_text)) {
    return Status::InvalidInput("run record is not a JSON object: " + json_text.substr(0, 200));
  }
  EncodeJournalEntry({{"t", "run"}, {"seq", next_seq_}, {"v", json_text}}, &buffer_);
  buffered_last_seq_ = next_seq_++;
  runs_.push_back(json_text);
  return Status::OK();
}

Status ResultsStore::SetRunInfo(const std::string& json_text) {
  CHECK(!closed_) << "ResultsStore::SetRunInfo after Close";
  if (!json::accept(json_text)) {
    return Status::InvalidInput("run info is not valid JSON: " + json_text.substr(0, 200));
  }
  EncodeJournalEntry({{"t", "run_info"}, {"seq", next_seq_}, {"v", json_text}}, &buffer_);
  buffered_last_seq_ = next_seq_++;
  run_info_json_ = json_text;
  return Status::OK();
}

Status ResultsStore::Commit() {
  if (buffer_.empty()) return Status::OK();
  CHECK_GE(journal_fd_, 0);
  std::string data;
  if (journal_size_ == 0) {
    EncodeJournalEntry({{"t", "meta"},
                        {"sweep", options_.sweep_name},
                        {"format", kFormatName},
                        {"format_version", kFormatVersion}},
                       &data);
  }
  data.append(buffer_);
  const int64_t end = journal_size_ + static_cast<int64_t>(data.size());
  if (end > journal_capacity_) {
    // Grow with real zeros (not fallocate): later overwrites of written blocks need no metadata
    // update, which makes fdatasync several times cheaper than appending. On a nearly full disk
    // the step may not fit while the entries do: then they are written without it.
    int64_t capacity = std::max(end, journal_capacity_ + kJournalGrowBytes);
    if (WriteZeros(journal_fd_, journal_capacity_, capacity, journal_path_).ok()) {
      journal_capacity_ = capacity;
    } else {
      (void)::ftruncate(journal_fd_, journal_capacity_);  // Give the partial step's space back.
    }
  }
  Status s = WriteAllAt(journal_fd_, data, journal_size_, journal_path_);
  if (s.ok() && ::fdatasync(journal_fd_) != 0) {
    s = Status::IOError("fdatasync of " + journal_path_ + " failed: " + Errno());
  }
  // On failure the buffer stays for a retry, which rewrites the same bytes at the same place.
  if (!s.ok()) return s;
  journal_size_ += static_cast<int64_t>(data.size());
  journal_capacity_ = std::max(journal_capacity_, journal_size_);
  committed_seq_ = buffered_last_seq_;
  // A large buffer (PrepareStore journals a grid in 8 MiB pieces) gives its memory back rather
  // than holding its capacity, 16 MiB, for the rest of the run; small ones keep it.
  if (buffer_.capacity() > kKeptBufferBytes) {
    std::string().swap(buffer_);
  } else {
    buffer_.clear();
  }
  ++commits_;
  return Status::OK();
}

Status ResultsStore::MaybeSnapshot() {
  if (closed_) return Status::OK();
  // Snapshots rewrite the whole file; spacing them by at least 10x their own duration keeps the
  // writer's time in snapshots under ~10% however large the sweep grows.
  const double interval =
      std::max(options_.snapshot_interval_seconds, kSnapshotCostFactor * last_snapshot_seconds_);
  if (NowMonotonic() - last_snapshot_time_ < interval) return Status::OK();
  if (buffer_.empty() && committed_seq_ == snapshot_seq_) return Status::OK();  // Nothing new.
  return Snapshot();
}

Status ResultsStore::Snapshot() {
  CHECK(!closed_) << "ResultsStore::Snapshot after Close";
  return WriteSnapshotNow();
}

Status ResultsStore::WriteSnapshotNow() {
  VLM_RETURN_IF_ERROR(Commit());
  const double t0 = NowMonotonic();
  SnapshotHeader header;
  header.sweep_name = options_.sweep_name;
  header.config_text = options_.config_text;
  header.run_info_json = run_info_json_;
  header.runs_json = RunsToJson(runs_);
  header.vlmscale_version = VLMSCALE_VERSION;
  header.git_commit = VLMSCALE_GIT_COMMIT;
  header.format_version = kFormatVersion;
  header.snapshot_time = NowUnix();
  header.journal_seq = committed_seq_;
  SnapshotJobs rows;
  rows.count = jobs_.size();
  rows.get = [this](size_t i, JobRecord* job) { jobs_.Get(i, job); };
  rows.curve_points = jobs_.curve_points();
  rows.curve = [this](size_t i, std::string* job_id, std::vector<CurvePoint>* curve) {
    *job_id = jobs_.id(i);
    jobs_.GetCurve(i, curve);
  };
  SnapshotEvents events;
  events.count = events_.size();
  events.get = [this](size_t i, JobEvent* event) {
    const PackedEvent& e = events_[i];
    event->job_id = EventJobId(e.job);
    event->state = static_cast<JobState>(e.state);
    event->attempt = e.attempt;
    event->time = e.time;
    event->failure_class = failure_classes_[e.failure_class];
  };

  const std::string tmp = options_.path + ".tmp";
  Status s = WriteSnapshotFile(tmp, header, rows, events);
  if (!s.ok()) {
    ::unlink(tmp.c_str());
    return s;
  }
  if (::rename(tmp.c_str(), options_.path.c_str()) != 0) {
    Status err = Status::IOError("cannot rename " + tmp + " to " + options_.path + ": " + Errno());
    ::unlink(tmp.c_str());
    return err;
  }
  VLM_RETURN_IF_ERROR(FsyncDir(DirName(options_.path)));
  snapshot_seq_ = committed_seq_;
  // Every journal entry is in the snapshot now. If we crash before (or during) the truncation,
  // replay skips the entries by sequence number.
  // The journal restarts at offset 0 ("truncated"): entries after the new ones are older than the
  // snapshot and are skipped by sequence number. A journal grown very large is shrunk.
  if (journal_capacity_ > 16 * kJournalGrowBytes) {
    if (::ftruncate(journal_fd_, 0) != 0) {
      return Status::IOError("cannot truncate " + journal_path_ + ": " + Errno());
    }
    journal_capacity_ = 0;
  }
  journal_size_ = 0;
  ++snapshots_;
  last_snapshot_time_ = NowMonotonic();
  last_snapshot_seconds_ = last_snapshot_time_ - t0;
  return Status::OK();
}

Status ResultsStore::Close() {
  if (closed_) return Status::OK();
  VLM_RETURN_IF_ERROR(WriteSnapshotNow());
  // A cleanly closed file needs no journal: leave it empty.
  if (::ftruncate(journal_fd_, 0) != 0) {
    return Status::IOError("cannot truncate " + journal_path_ + ": " + Errno());
  }
  journal_capacity_ = 0;
  closed_ = true;
  ::close(journal_fd_);
  journal_fd_ = -1;
  return Status::OK();
}

namespace {

// True when the journal's entries newer than the snapshot are numbered snapshot_seq + 1, + 2, ...
// in file order, as the writer numbers and appends them. A gap means the journal was read while
// the writer replaced the snapshot and rewrote the journal from its start (older entries are
// overwritten in place), so the two reads belong to different moments. Meta entries have no seq;
// older entries the snapshot holds are skipped.
bool JournalContinuesSnapshot(const DecodedJournal& decoded, int64_t snapshot_seq) {
  int64_t expected = snapshot_seq + 1;
  auto continues = [&](const nlohmann::json& entry) {
    if (!entry.is_object()) return true;
    auto seq = entry.find("seq");
    if (seq == entry.end() || !seq->is_number_integer()) return true;
    const int64_t value = seq->get<int64_t>();
    if (value < expected) return true;  // Held by the snapshot, or an older epoch's remnant.
    if (value != expected) return false;
    ++expected;
    return true;
  };
  for (const auto& entry : decoded.entries) {
    if (!continues(entry)) return false;
  }
  // Entries recovered after a torn stretch (what a read racing the writer sees) count too.
  for (const auto& [offset, entry] : decoded.beyond) {
    if (!continues(entry)) return false;
  }
  return true;
}

}  // namespace

Result<ResultsFile> ReadResults(const std::string& path) {
  SilenceHdf5Errors();
  const std::string journal_path = path + ".journal";
  for (int attempt = 0;; ++attempt) {
    struct stat before {};
    bool had_file = ::stat(path.c_str(), &before) == 0;
    if (!had_file && !Exists(journal_path)) {
      return Status::NotFound("results file " + path + " does not exist");
    }
    StoreState state;
    SnapshotHeader header;
    bool have_snapshot = false;
    DecodedJournal decoded;
    std::string journal_data;
    Status s = Status::OK();
    std::vector<JobRecord> jobs;
    std::vector<JobEvent> events;
    s = ReadSnapshotFile(path, &header, &jobs, &events);
    have_snapshot = s.ok();
    if (!s.ok() && s.code() != Status::Code::kNotFound) return s;
    if (s.ok()) {
      state.sweep_name = header.sweep_name;
      state.run_info_json = header.run_info_json;
      state.runs = RunsFromJson(header.runs_json);
      state.last_seq = header.journal_seq;
      for (JobRecord& r : jobs) state.PutJob(std::move(r));
      state.events = std::move(events);
    }
    VLM_RETURN_IF_ERROR(ReadWholeFile(journal_path, &journal_data));
    struct stat after {};
    bool has_file = ::stat(path.c_str(), &after) == 0;
    bool replaced =
        had_file != has_file || (had_file && (before.st_ino != after.st_ino ||
                                              before.st_mtim.tv_sec != after.st_mtim.tv_sec ||
                                              before.st_mtim.tv_nsec != after.st_mtim.tv_nsec));
    if (replaced && attempt < 20) continue;  // A snapshot replaced the file mid-read: again.
    decoded = DecodeJournal(journal_data);
    // A live writer can replace the snapshot and rewrite the journal between (or during) the two
    // reads without the stat above seeing it: read both again, after a short pause.
    if (attempt < 20 && !JournalContinuesSnapshot(decoded, header.journal_seq)) {
      ::usleep(1000 * (attempt + 1));
      continue;
    }
    ReplayReport report;
    Status a = ReplayJournal(decoded, header.journal_seq, &state, &report);
    if (!a.ok()) return a.WithPrefix("journal " + journal_path);
    ResultsFile file;
    file.path = path;
    file.sweep_name = state.sweep_name;
    file.config_text = header.config_text;
    file.vlmscale_version = header.vlmscale_version;
    file.git_commit = header.git_commit;
    file.run_info_json = state.run_info_json;
    file.runs = std::move(state.runs);
    file.format_version = have_snapshot ? header.format_version : kFormatVersion;
    file.snapshot_time = have_snapshot ? header.snapshot_time : 0.0;
    file.journal_entries = report.replayed;
    file.warning = report.Describe(journal_path);
    file.events = std::move(state.events);
    file.jobs.reserve(state.order.size());
    for (const std::string& id : state.order) file.jobs.push_back(std::move(state.jobs.at(id)));
    return file;
  }
}

}  // namespace vlmscale::store
