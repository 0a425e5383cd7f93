// libFuzzer target: the journal replay of the results store (store::DecodeJournal, ReplayJournal,
// the export writers). Structure-aware: the input is a list of payloads, one per line, each framed
// with its length and a valid CRC-32 as the writer frames entries, so the fuzzer reaches the JSON
// checks instead of failing the CRC; a line starting with '!' is copied raw (damage between
// entries). The first byte chooses the sequence number the "snapshot" holds. Promises:
//   - no exception, no sanitizer finding; ReplayJournal never fails (malformed entries are
//     skipped and reported);
//   - the state is consistent: one job per id in first-append order, non-empty ids, sequence
//     numbers and run info within the limits (kMaxJournalSeq, kMaxRunInfoDepth);
//   - the report is one line and counts no more entries than there are;
//   - every replayed record encodes (EncodeJobEntry) and replays back to the same record;
//   - ExportCsv and ExportJson of the state succeed, and the JSON parses back with every job.
#include <cstdint>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>

#include "store/journal.h"
#include "store/results_store.h"
#include "tests/fuzz/fuzz_util.h"

using nlohmann::json;
using namespace vlmscale::store;  // NOLINT: a fuzz target's one function.

namespace {

void PutLe32(uint32_t v, std::string* out) {
  for (int i = 0; i < 4; ++i) out->push_back(static_cast<char>((v >> (8 * i)) & 0xFF));
}

// The journal the input describes (see the file comment).
std::string BuildJournal(const std::string& text) {
  std::string journal;
  size_t start = 0;
  while (start <= text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    const std::string line = text.substr(start, end - start);
    if (!line.empty() && line[0] == '!') {
      journal += line.substr(1);
    } else if (!line.empty()) {
      const std::string payload = line + "\n";
      PutLe32(static_cast<uint32_t>(payload.size()), &journal);
      PutLe32(Crc32(payload), &journal);
      journal += payload;
    }
    start = end + 1;
  }
  return journal;
}

void CheckRoundTrip(const JobRecord& record) {
  std::string encoded;
  EncodeJobEntry(1, record, nullptr, &encoded);
  DecodedJournal decoded = DecodeJournal(encoded);
  FUZZ_CHECK(decoded.entries.size() == 1) << encoded;
  StoreState again;
  FUZZ_CHECK(again.Apply(decoded.entries[0], 0).ok()) << encoded;
  FUZZ_CHECK(again.jobs.count(record.job_id) == 1);
  FUZZ_CHECK(RecordToJson(again.jobs.at(record.job_id)) == RecordToJson(record)) << encoded;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const int64_t skip_through = data[0] % 8;
  const std::string journal = BuildJournal(vlmscale::fuzz::ToString(data + 1, size - 1));
  const DecodedJournal decoded = DecodeJournal(journal);
  FUZZ_CHECK(decoded.valid_bytes <= journal.size());
  StoreState state;
  ReplayReport report;
  FUZZ_CHECK(ReplayJournal(decoded, skip_through, &state, &report).ok());

  FUZZ_CHECK(state.order.size() == state.jobs.size());
  for (const std::string& id : state.order) {
    FUZZ_CHECK(!id.empty());
    FUZZ_CHECK(state.jobs.count(id) == 1) << id;
  }
  FUZZ_CHECK(state.last_seq >= 0 && state.last_seq <= kMaxJournalSeq) << state.last_seq;
  FUZZ_CHECK(state.run_info_json.empty() || IsAcceptableRunInfo(state.run_info_json));
  const int64_t entries = static_cast<int64_t>(decoded.entries.size() + decoded.beyond.size());
  FUZZ_CHECK(report.recovered <= report.replayed && report.replayed + report.malformed <= entries);
  const std::string warning = report.Describe("fuzz.h5.journal");
  FUZZ_CHECK(warning.find('\n') == std::string::npos) << warning;
  FUZZ_CHECK(warning.empty() == !report.damaged()) << warning;

  ResultsFile file;
  file.path = "fuzz.h5";
  file.sweep_name = state.sweep_name;
  file.run_info_json = state.run_info_json;
  file.events = state.events;
  for (const std::string& id : state.order) {
    CheckRoundTrip(state.jobs.at(id));
    file.jobs.push_back(state.jobs.at(id));
  }
  std::ostringstream csv, json_text;
  FUZZ_CHECK(ExportCsv(file, csv).ok());
  FUZZ_CHECK(ExportJson(file, json_text).ok());
  const json exported = json::parse(json_text.str(), nullptr, /*allow_exceptions=*/false);
  FUZZ_CHECK(exported.is_object() && exported["jobs"].size() == file.jobs.size());
  return 0;
}
