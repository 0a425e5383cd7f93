// PackedJobs: the results store writer's latest record of every job, packed. Rank 0 keeps one
// per job of the sweep (10^6 for a large grid), so a JobRecord with its dozen std::strings, its
// metrics map and its curve vector (~1.2 KB each with their heap blocks) is made only at the
// edges: Put() packs a record, Get() makes one back.
//
// A row is fixed-size plain bytes whose layout follows the column table (store/job_columns.h),
// so a column added to JobRecord is packed with no change here: strings as 32-bit indices into a
// pool that holds each distinct string once (settings, llm, method, task, host, ...), numbers and
// the state as themselves, the metrics and the curve as (offset, count) into two shared arrays of
// (interned name, value) entries. The job id, 16 hex digits for every id vlmscale makes, is kept
// as its 64-bit value (other ids, which tests and hand-made files use, are interned), and found
// through an open-addressing index of 4 bytes per slot. Internal to src/store and its tests.
#ifndef VLMSCALE_STORE_PACKED_JOBS_H_
#define VLMSCALE_STORE_PACKED_JOBS_H_

#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "store/job_record.h"

namespace vlmscale::store {

// Distinct strings, each stored once and named by a 32-bit index; index 0 is "".
class StringPool {
 public:
  StringPool();
  StringPool(const StringPool&) = delete;
  StringPool& operator=(const StringPool&) = delete;

  // The index of `text`, adding it if it is new.
  uint32_t Intern(std::string_view text);
  // REQUIRES: index was returned by Intern().
  const std::string& Get(uint32_t index) const { return strings_[index]; }
  size_t size() const { return strings_.size(); }
  size_t MemoryBytes() const { return bytes_; }

 private:
  std::deque<std::string> strings_;  // Never move: the keys of index_ view into them.
  std::unordered_map<std::string_view, uint32_t> index_;
  size_t bytes_ = 0;
};

class PackedJobs {
 public:
  PackedJobs();
  PackedJobs(const PackedJobs&) = delete;
  PackedJobs& operator=(const PackedJobs&) = delete;

  // Jobs stored, and their rows 0 .. size() - 1 in first-Put order.
  size_t size() const { return count_; }
  bool empty() const { return count_ == 0; }
  // The row of the job `id`, or -1 if it has none.
  int64_t Find(std::string_view id) const;
  // Stores `record` as its job's latest record: replaces the row of its job_id, or adds a row at
  // the end. Returns the row. REQUIRES: !record.job_id.empty().
  size_t Put(const JobRecord& record);
  // The record of `row` (every field as Put() received it). REQUIRES: row < size().
  JobRecord Get(size_t row) const;
  void Get(size_t row, JobRecord* record) const;
  // Parts of a row without making the record. REQUIRES: row < size().
  std::string id(size_t row) const;
  JobState state(size_t row) const;
  int attempts(size_t row) const;
  // The curve of `row` (its points in Put() order). REQUIRES: row < size().
  void GetCurve(size_t row, std::vector<CurvePoint>* curve) const;
  // Points of all rows' curves.
  size_t curve_points() const { return points_.size() - dead_points_; }

  // Bytes of memory held: rows, index, string pool, metrics and curve points (unused ones that a
  // later compaction gives back included).
  size_t MemoryBytes() const;

 private:
  // A metric or a curve point, its name interned.
  struct Entry {
    uint32_t name;
    double value;
  };
  struct Point {
    uint32_t name;
    int64_t step;
    double value;
  };
  // Rows live in chunks of kChunkRows: growing never copies (or doubles) the rows.
  static constexpr size_t kChunkShift = 12;
  static constexpr size_t kChunkRows = size_t{1} << kChunkShift;
  // The bytes of `row`.
  unsigned char* RowAt(size_t row) {
    return chunks_[row >> kChunkShift].get() + (row & (kChunkRows - 1)) * row_size_;
  }
  const unsigned char* RowAt(size_t row) const {
    return chunks_[row >> kChunkShift].get() + (row & (kChunkRows - 1)) * row_size_;
  }
  void Pack(const JobRecord& record, unsigned char* row);
  void Insert(uint64_t key, uint32_t row);  // Into index_ (grown as needed).
  // Moves the live metrics and points to the front, dropping those that replaced ones left.
  void Compact();

  size_t row_size_ = 0;
  size_t count_ = 0;
  std::vector<std::unique_ptr<unsigned char[]>> chunks_;
  std::vector<uint32_t> index_;  // Open addressing: 0 = empty, else row + 1. Power-of-2 size.
  StringPool strings_;
  std::vector<Entry> metrics_;
  std::vector<Point> points_;
  size_t dead_metrics_ = 0;  // Entries of metrics_ that no row refers to any more.
  size_t dead_points_ = 0;
};

}  // namespace vlmscale::store

#endif  // VLMSCALE_STORE_PACKED_JOBS_H_
