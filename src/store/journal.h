// The write-ahead journal of the results store: encoding, decoding and replay of its entries.
// Internal to src/store (results_store.cc and the tests); docs/RESULTS.md describes the format.
//
// An entry is an 8-byte header followed by a payload:
//   u32 little-endian  payload length in bytes
//   u32 little-endian  CRC-32 (IEEE, as zlib) of the payload
//   payload            one JSON object and a '\n'
// Payload objects ("t" is the type):
//   {"t":"meta","sweep":..., "format":"vlmscale-results","format_version":1}  first in a journal
//   {"t":"job","seq":n,"rec":{...JobRecord...},"ev":{...JobEvent...}}          "ev" only on change
//   {"t":"run_info","seq":n,"v":"<json text>"}
//   {"t":"run","seq":n,"v":"<json object text>"}     one per `vlmscale run` (ResultsStore::AddRun)
// A header or payload that is cut short, fails its CRC or is not such an object ends the valid
// prefix: everything from there on is a torn tail and is ignored (the writer cuts it off). An
// entry that passes its CRC but whose fields have the wrong types or values (which the writer
// never produces: damage that the CRC missed, or a crafted file) is skipped and reported, never
// applied in part.
#ifndef VLMSCALE_STORE_JOURNAL_H_
#define VLMSCALE_STORE_JOURNAL_H_

#include <cstddef>
#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/status.h"
#include "store/job_record.h"
#include "store/results_store.h"

namespace vlmscale::store {

// CRC-32 (IEEE 802.3 polynomial, the one of zlib and PNG) of `data`.
uint32_t Crc32(std::string_view data);

// JobRecord <-> JSON: one key per journal column of JobColumns() (store/job_columns.h) plus
// "curves" ([[name, step, value], ...], only when there are curves); EncodeJobEntry() writes the
// keys in table order. NaN (and infinities) become null and come back as NaN. JobEvent likewise,
// with EventColumns().
nlohmann::json RecordToJson(const JobRecord& record);
// Fills *record from `j`; missing keys keep their defaults. kInvalidInput on a wrong type.
Status RecordFromJson(const nlohmann::json& j, JobRecord* record);
nlohmann::json EventToJson(const JobEvent& event);
Status EventFromJson(const nlohmann::json& j, JobEvent* event);

// Appends one encoded entry (header + payload) for `entry` to *out.
void EncodeJournalEntry(const nlohmann::json& entry, std::string* out);

// Appends the encoded entry {"t":"job","seq":seq,"rec":RecordToJson(record),"ev":...} to *out
// without building a JSON tree (the writer's hot path; a few microseconds). `event` may be null.
// Invalid UTF-8 in strings is replaced by U+FFFD, as EncodeJournalEntry does.
void EncodeJobEntry(int64_t seq, const JobRecord& record, const JobEvent* event, std::string* out);

// Decodes the valid prefix of `data`: its entries in order, and its length in bytes. Past the
// prefix, it scans for intact entries (header, CRC and JSON all valid) and lists them in `beyond`
// with their byte offsets: normally old entries of an earlier epoch (the journal restarts at
// offset 0 after each snapshot), but after damage in the middle of the journal also newer ones,
// which ReplayJournal() recovers.
struct DecodedJournal {
  std::vector<nlohmann::json> entries;
  std::vector<size_t> offsets;  // Byte offset of each of `entries`.
  size_t valid_bytes = 0;
  size_t total_bytes = 0;  // Size of the data decoded.
  bool torn_tail = false;  // Bytes after the valid prefix exist.
  // The data holds a non-zero byte but no intact entry at offset 0. A journal the writer left
  // (even one cut by a crash) starts with an intact entry or with zeros, so this is damage.
  bool damaged_start = false;
  std::vector<std::pair<size_t, nlohmann::json>> beyond;
};
DecodedJournal DecodeJournal(std::string_view data);

// Cuts `message` to at most `max_bytes` bytes without splitting a UTF-8 character.
std::string TruncateUtf8(const std::string& message, size_t max_bytes);

// Sequence numbers above this are refused as malformed (the writer counts up from 1, and the next
// number must not overflow).
inline constexpr int64_t kMaxJournalSeq = int64_t{1} << 62;

// Deepest nesting of the run info JSON that readers accept (they copy and print it recursively).
inline constexpr int kMaxRunInfoDepth = 64;

// True if `text` is a JSON object nested at most kMaxRunInfoDepth deep (checked without
// recursion, so hostile text cannot exhaust the stack).
bool IsAcceptableRunInfo(const std::string& text);

// The in-memory state that snapshots hold and journal entries change.
struct StoreState {
  std::string sweep_name;     // From the snapshot or a journal "meta" entry.
  std::string journal_sweep;  // From the first journal "meta" entry applied ("" if none).
  std::map<std::string, JobRecord> jobs;
  std::vector<std::string> order;  // First-append order of job ids.
  std::vector<JobEvent> events;
  std::string run_info_json;
  std::vector<std::string> runs;  // Run records (JSON object texts), oldest first.
  int64_t last_seq = 0;  // Highest sequence number applied.

  // Applies one decoded entry whose "seq" is greater than `skip_through` (others are ignored:
  // the snapshot already holds them). kInvalidInput on a malformed entry (wrong field types or
  // values), which leaves the state unchanged.
  Status Apply(const nlohmann::json& entry, int64_t skip_through);
  // Replaces (or adds) a job's record, keeping first-append order.
  void PutJob(JobRecord record);
};

// What ReplayJournal() applied, and the damage it found.
struct ReplayReport {
  int64_t replayed = 0;   // Entries applied (newer than the snapshot), recovered ones included.
  int64_t recovered = 0;  // Entries applied from past the valid prefix (damage in the middle).
  size_t damaged_from = 0, damaged_to = 0;  // Undecodable bytes before them, if recovered > 0.
  // Entries with a valid CRC that were skipped because they are malformed; the first one's
  // offset and what is wrong with it.
  int64_t malformed = 0;
  size_t malformed_at = 0;
  std::string malformed_reason;
  bool damaged_start = false;  // DecodedJournal::damaged_start.
  size_t journal_bytes = 0;    // Size of the journal that was replayed.
  // Whether any of the damage above was found (the writer then keeps a copy of the journal).
  bool damaged() const { return recovered > 0 || malformed > 0 || damaged_start; }
  // One line for users naming the journal, the damaged bytes and the consequence; "" if none.
  std::string Describe(const std::string& journal_path) const;
};

// Applies the valid prefix of `journal` to *state (entries with seq <= skip_through are in the
// snapshot and skipped), then each entry of `journal.beyond` whose seq is greater than all applied
// so far: such an entry was written after the prefix in the same epoch, so the bytes before it are
// damage in the middle of the journal, not a torn tail, and the entries after the damage are
// acknowledged results that must not be dropped. Older entries beyond the prefix are skipped.
// Malformed entries are skipped and counted in *report; this never fails.
Status ReplayJournal(const DecodedJournal& journal, int64_t skip_through, StoreState* state,
                     ReplayReport* report);

}  // namespace vlmscale::store

#endif  // VLMSCALE_STORE_JOURNAL_H_
