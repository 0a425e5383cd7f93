#include "store/packed_jobs.h"

#include <algorithm>
#include <cstring>
#include <utility>

#include "core/check.h"
#include "core/hash.h"
#include "store/job_columns.h"

namespace vlmscale::store {
namespace {

using JobColumn = Column<JobRecord>;

// The fixed head of every row: the job id and the curve's place in points_.
struct RowHead {
  uint64_t key = 0;      // The id's value (canonical ids) or Fnv1a64 of the id.
  uint32_t id_text = 0;  // 0 for a canonical id; else the interned id.
  uint32_t curve_count = 0;
  uint64_t curve_at = 0;
};

// Where the metrics of a kMetrics column are: (offset, count) into metrics_.
struct MetricsSlot {
  uint32_t at = 0;
  uint32_t count = 0;
};

size_t SlotSize(ColumnType type) {
  switch (type) {
    case ColumnType::kString:
      return sizeof(uint32_t);
    case ColumnType::kDouble:
    case ColumnType::kInt64:
      return 8;
    case ColumnType::kInt32:
      return 4;
    case ColumnType::kState:
      return 1;
    case ColumnType::kMetrics:
      return sizeof(MetricsSlot);
  }
  return 0;
}

// The row layout: every column of JobColumns() but job_id (kept in the head), at its offset.
struct Layout {
  std::vector<std::pair<const JobColumn*, size_t>> columns;
  size_t row_size = 0;
  size_t state_at = 0, attempts_at = 0;  // The offsets of the state and the attempts.
};

const Layout& RowLayout() {
  static const Layout layout = [] {
    Layout l;
    size_t at = sizeof(RowHead);
    for (const JobColumn& c : JobColumns()) {
      const auto* member = std::get_if<std::string JobRecord::*>(&c.member);
      if (member != nullptr && *member == &JobRecord::job_id) continue;
      l.columns.emplace_back(&c, at);
      if (c.type() == ColumnType::kState) l.state_at = at;
      const auto* number = std::get_if<int JobRecord::*>(&c.member);
      if (number != nullptr && *number == &JobRecord::attempts) l.attempts_at = at;
      at += SlotSize(c.type());
    }
    l.row_size = (at + 7) / 8 * 8;
    CHECK(l.state_at != 0 && l.attempts_at != 0) << "JobColumns() lacks the state or attempts";
    return l;
  }();
  return layout;
}

template <typename T>
void Store(unsigned char* p, const T& v) {
  std::memcpy(p, &v, sizeof(T));
}
template <typename T>
T Load(const unsigned char* p) {
  T v;
  std::memcpy(&v, p, sizeof(T));
  return v;
}

// Whether `id` is 16 lowercase hex digits (every id vlmscale makes); then *value is its value.
bool CanonicalId(std::string_view id, uint64_t* value) {
  if (id.size() != 16) return false;
  uint64_t v = 0;
  for (char ch : id) {
    const int d = ch >= '0' && ch <= '9' ? ch - '0' : ch >= 'a' && ch <= 'f' ? ch - 'a' + 10 : -1;
    if (d < 0) return false;
    v = v << 4 | static_cast<uint64_t>(d);
  }
  *value = v;
  return true;
}

uint64_t KeyOf(std::string_view id, bool* canonical) {
  uint64_t key = 0;
  *canonical = CanonicalId(id, &key);
  return *canonical ? key : Fnv1a64(id);
}

uint64_t Mix(uint64_t x) {  // splitmix64's finalizer: spreads keys over the index.
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ULL;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

// Replaces the block (*at, *count) of *data by `items`: in place when they fit or the block is
// last, else appended (the old entries become dead).
template <typename T>
void ReplaceBlock(const std::vector<T>& items, std::vector<T>* data, size_t* dead, uint64_t* at,
                  uint32_t* count) {
  CHECK_LT(items.size(), size_t{1} << 32);
  const auto n = static_cast<uint32_t>(items.size());
  if (n <= *count) {
    std::copy(items.begin(), items.end(), data->begin() + static_cast<ptrdiff_t>(*at));
    *dead += *count - n;
  } else if (*count > 0 && *at + *count == data->size()) {
    data->resize(*at + n);
    std::copy(items.begin(), items.end(), data->begin() + static_cast<ptrdiff_t>(*at));
  } else {
    *dead += *count;
    *at = data->size();
    data->insert(data->end(), items.begin(), items.end());
  }
  *count = n;
}

// Whether a side array is worth compacting: most of it dead, and more than a few hundred KB.
bool WorthCompacting(size_t dead, size_t size) { return dead > 16384 && dead * 2 > size; }

}  // namespace

StringPool::StringPool() { Intern(""); }

uint32_t StringPool::Intern(std::string_view text) {
  auto it = index_.find(text);
  if (it != index_.end()) return it->second;
  CHECK_LT(strings_.size(), size_t{0xFFFFFFFF}) << "too many distinct strings";
  const auto i = static_cast<uint32_t>(strings_.size());
  strings_.emplace_back(text);
  index_.emplace(strings_.back(), i);
  // The string, its heap block when longer than the inline buffer, and the index's node.
  bytes_ += sizeof(std::string) + (text.size() > 15 ? text.size() + 1 : 0) + 48;
  return i;
}

PackedJobs::PackedJobs() : row_size_(RowLayout().row_size) {}

int64_t PackedJobs::Find(std::string_view id) const {
  if (index_.empty()) return -1;
  bool canonical = false;
  const uint64_t key = KeyOf(id, &canonical);
  const size_t mask = index_.size() - 1;
  for (size_t slot = Mix(key) & mask; index_[slot] != 0; slot = (slot + 1) & mask) {
    const uint32_t row = index_[slot] - 1;
    const RowHead head = Load<RowHead>(RowAt(row));
    if (head.key != key) continue;
    if (canonical ? head.id_text == 0 : head.id_text != 0 && strings_.Get(head.id_text) == id) {
      return row;
    }
  }
  return -1;
}

void PackedJobs::Insert(uint64_t key, uint32_t row) {
  if ((count_ + 1) * 2 > index_.size()) {
    std::vector<uint32_t> old(std::max<size_t>(16, index_.size() * 2), 0);
    old.swap(index_);
    const size_t mask = index_.size() - 1;
    for (uint32_t r : old) {
      if (r == 0) continue;
      size_t slot = Mix(Load<RowHead>(RowAt(r - 1)).key) & mask;
      while (index_[slot] != 0) slot = (slot + 1) & mask;
      index_[slot] = r;
    }
  }
  const size_t mask = index_.size() - 1;
  size_t slot = Mix(key) & mask;
  while (index_[slot] != 0) slot = (slot + 1) & mask;
  index_[slot] = row + 1;
}

size_t PackedJobs::Put(const JobRecord& record) {
  CHECK(!record.job_id.empty()) << "PackedJobs::Put of a record without job_id";
  int64_t found = Find(record.job_id);
  size_t row = 0;
  if (found >= 0) {
    row = static_cast<size_t>(found);
  } else {
    CHECK_LT(count_, size_t{0xFFFFFFFE}) << "too many jobs";
    row = count_;
    if ((row & (kChunkRows - 1)) == 0) {
      chunks_.emplace_back(new unsigned char[kChunkRows * row_size_]());
    }
    RowHead head;
    bool canonical = false;
    head.key = KeyOf(record.job_id, &canonical);
    head.id_text = canonical ? 0 : strings_.Intern(record.job_id);
    Store(RowAt(row), head);
    Insert(head.key, static_cast<uint32_t>(row));
    ++count_;
  }
  Pack(record, RowAt(row));
  if (WorthCompacting(dead_points_, points_.size()) ||
      WorthCompacting(dead_metrics_, metrics_.size())) {
    Compact();
  }
  return row;
}

void PackedJobs::Pack(const JobRecord& record, unsigned char* row) {
  for (const auto& [c, at] : RowLayout().columns) {
    unsigned char* p = row + at;
    switch (c->type()) {
      case ColumnType::kString:
        Store(p, strings_.Intern(c->Get<std::string>(record)));
        break;
      case ColumnType::kDouble:
        Store(p, c->Get<double>(record));
        break;
      case ColumnType::kInt64:
        Store(p, c->Get<int64_t>(record));
        break;
      case ColumnType::kInt32:
        Store(p, static_cast<int32_t>(c->Get<int>(record)));
        break;
      case ColumnType::kState:
        Store(p, static_cast<uint8_t>(c->Get<JobState>(record)));
        break;
      case ColumnType::kMetrics: {
        std::vector<Entry> entries;
        entries.reserve(c->Get<MetricMap>(record).size());
        for (const auto& [name, value] : c->Get<MetricMap>(record)) {
          entries.push_back({strings_.Intern(name), value});
        }
        MetricsSlot slot = Load<MetricsSlot>(p);
        uint64_t slot_at = slot.at;
        ReplaceBlock(entries, &metrics_, &dead_metrics_, &slot_at, &slot.count);
        CHECK_LT(slot_at, uint64_t{1} << 32) << "too many metrics";
        slot.at = static_cast<uint32_t>(slot_at);
        Store(p, slot);
        break;
      }
    }
  }
  std::vector<Point> points;
  points.reserve(record.curves.size());
  for (const CurvePoint& cp : record.curves) {
    points.push_back({strings_.Intern(cp.name), cp.step, cp.value});
  }
  RowHead head = Load<RowHead>(row);
  ReplaceBlock(points, &points_, &dead_points_, &head.curve_at, &head.curve_count);
  Store(row, head);
}

void PackedJobs::Get(size_t row, JobRecord* record) const {
  CHECK_LT(row, count_);
  const unsigned char* r = RowAt(row);
  record->job_id = id(row);
  for (const auto& [c, at] : RowLayout().columns) {
    const unsigned char* p = r + at;
    switch (c->type()) {
      case ColumnType::kString:
        *c->Mutable<std::string>(record) = strings_.Get(Load<uint32_t>(p));
        break;
      case ColumnType::kDouble:
        *c->Mutable<double>(record) = Load<double>(p);
        break;
      case ColumnType::kInt64:
        *c->Mutable<int64_t>(record) = Load<int64_t>(p);
        break;
      case ColumnType::kInt32:
        *c->Mutable<int>(record) = Load<int32_t>(p);
        break;
      case ColumnType::kState:
        *c->Mutable<JobState>(record) = static_cast<JobState>(Load<uint8_t>(p));
        break;
      case ColumnType::kMetrics: {
        const MetricsSlot slot = Load<MetricsSlot>(p);
        MetricMap* metrics = c->Mutable<MetricMap>(record);
        metrics->clear();
        for (uint32_t i = 0; i < slot.count; ++i) {
          const Entry& e = metrics_[slot.at + i];
          metrics->emplace(strings_.Get(e.name), e.value);
        }
        break;
      }
    }
  }
  GetCurve(row, &record->curves);
}

void PackedJobs::GetCurve(size_t row, std::vector<CurvePoint>* curve) const {
  CHECK_LT(row, count_);
  const RowHead head = Load<RowHead>(RowAt(row));
  curve->clear();
  curve->reserve(head.curve_count);
  for (uint32_t i = 0; i < head.curve_count; ++i) {
    const Point& p = points_[head.curve_at + i];
    curve->push_back({strings_.Get(p.name), p.step, p.value});
  }
}

JobRecord PackedJobs::Get(size_t row) const {
  JobRecord record;
  Get(row, &record);
  return record;
}

std::string PackedJobs::id(size_t row) const {
  CHECK_LT(row, count_);
  const RowHead head = Load<RowHead>(RowAt(row));
  if (head.id_text != 0) return strings_.Get(head.id_text);
  static const char kHex[] = "0123456789abcdef";
  std::string out(16, '0');
  for (int i = 15; i >= 0; --i) out[static_cast<size_t>(15 - i)] = kHex[(head.key >> (4 * i)) & 15];
  return out;
}

JobState PackedJobs::state(size_t row) const {
  CHECK_LT(row, count_);
  return static_cast<JobState>(Load<uint8_t>(RowAt(row) + RowLayout().state_at));
}

int PackedJobs::attempts(size_t row) const {
  CHECK_LT(row, count_);
  return Load<int32_t>(RowAt(row) + RowLayout().attempts_at);
}

void PackedJobs::Compact() {
  std::vector<Entry> metrics;
  std::vector<Point> points;
  metrics.reserve(metrics_.size() - dead_metrics_);
  points.reserve(points_.size() - dead_points_);
  for (size_t row = 0; row < count_; ++row) {
    unsigned char* r = RowAt(row);
    for (const auto& [c, at] : RowLayout().columns) {
      if (c->type() != ColumnType::kMetrics) continue;
      MetricsSlot slot = Load<MetricsSlot>(r + at);
      const auto first = metrics_.begin() + slot.at;
      slot.at = static_cast<uint32_t>(metrics.size());
      metrics.insert(metrics.end(), first, first + slot.count);
      Store(r + at, slot);
    }
    RowHead head = Load<RowHead>(r);
    const auto first = points_.begin() + static_cast<ptrdiff_t>(head.curve_at);
    head.curve_at = points.size();
    points.insert(points.end(), first, first + head.curve_count);
    Store(r, head);
  }
  metrics_.swap(metrics);
  points_.swap(points);
  dead_metrics_ = dead_points_ = 0;
}

size_t PackedJobs::MemoryBytes() const {
  return chunks_.size() * kChunkRows * row_size_ + index_.capacity() * sizeof(uint32_t) +
         strings_.MemoryBytes() + metrics_.capacity() * sizeof(Entry) +
         points_.capacity() * sizeof(Point);
}

}  // namespace vlmscale::store
