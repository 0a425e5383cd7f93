#include "store/journal.h"

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstring>

#include "store/job_columns.h"

namespace vlmscale::store {
namespace {

using nlohmann::json;

std::array<uint32_t, 256> MakeCrcTable() {
  std::array<uint32_t, 256> table{};
  for (uint32_t i = 0; i < 256; ++i) {
    uint32_t c = i;
    for (int k = 0; k < 8; ++k) c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
    table[i] = c;
  }
  return table;
}

json Num(double v) { return std::isfinite(v) ? json(v) : json(nullptr); }

uint32_t ReadLe32(const char* p) {
  const auto* u = reinterpret_cast<const unsigned char*>(p);
  return uint32_t{u[0]} | uint32_t{u[1]} << 8 | uint32_t{u[2]} << 16 | uint32_t{u[3]} << 24;
}

void WriteLe32(uint32_t v, char* p) {
  for (int i = 0; i < 4; ++i) p[i] = static_cast<char>((v >> (8 * i)) & 0xFF);
}

// ---- A minimal JSON writer for the hot path ----------------------------------------------------

// Length of the valid UTF-8 sequence starting at s[i], or 0 if it is invalid.
size_t Utf8SequenceLength(std::string_view s, size_t i) {
  const auto c = static_cast<unsigned char>(s[i]);
  size_t n = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 0;
  if (n == 0 || i + n > s.size()) return 0;
  for (size_t k = 1; k < n; ++k) {
    if ((static_cast<unsigned char>(s[i + k]) & 0xC0) != 0x80) return 0;
  }
  if (n == 2 && c < 0xC2) return 0;  // Overlong.
  if (n == 3) {
    const auto c1 = static_cast<unsigned char>(s[i + 1]);
    if ((c == 0xE0 && c1 < 0xA0) || (c == 0xED && c1 >= 0xA0)) return 0;  // Overlong, surrogate.
  }
  if (n == 4) {
    const auto c1 = static_cast<unsigned char>(s[i + 1]);
    if ((c == 0xF0 && c1 < 0x90) || c > 0xF4 || (c == 0xF4 && c1 >= 0x90)) return 0;
  }
  return n;
}

void PutString(std::string_view s, std::string* out) {
  out->push_back('"');
  for (size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c == '"' || c == '\\') {
      out->push_back('\\');
      out->push_back(static_cast<char>(c));
      ++i;
    } else if (c < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof(buf), "\\u%04x", c);
      out->append(buf);
      ++i;
    } else if (c < 0x80) {
      out->push_back(static_cast<char>(c));
      ++i;
    } else if (size_t n = Utf8SequenceLength(s, i); n > 0) {
      out->append(s.data() + i, n);
      i += n;
    } else {
      out->append("\xEF\xBF\xBD");  // U+FFFD for an invalid byte.
      ++i;
    }
  }
  out->push_back('"');
}

void PutDouble(double v, std::string* out) {
  if (!std::isfinite(v)) {
    out->append("null");
    return;
  }
  char buf[32];
  auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), v);  // Shortest round-trip form.
  out->append(buf, end);
  // Keep it a JSON float so it reads back as a double ("1" would parse as an integer; harmless,
  // but "1.0" keeps types stable for other readers).
  if (std::string_view(buf, end - buf).find_first_of(".eE") == std::string_view::npos) {
    out->append(".0");
  }
}

void PutInt(int64_t v, std::string* out) {
  char buf[24];
  auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), v);
  out->append(buf, end);
}

void PutKey(const char* key, std::string* out) {
  out->push_back(',');
  out->push_back('"');
  out->append(key);
  out->append("\":");
}

// Writes the journal columns of `row` as a JSON object, like ColumnToJson() would: {"a":1,...}
// (without the closing brace unless `close`, so that the caller can add keys).
template <typename Row>
void PutRow(const std::vector<Column<Row>>& columns, const Row& row, bool close, std::string* out) {
  out->push_back('{');
  bool first = true;
  for (const Column<Row>& c : columns) {
    if (!(c.where & kInJournal)) continue;
    out->append(first ? "\"" : ",\"").append(c.name).append("\":");  // Names need no escaping.
    first = false;
    switch (c.type()) {
      case ColumnType::kString:
        PutString(c.template Get<std::string>(row), out);
        break;
      case ColumnType::kDouble:
        PutDouble(c.template Get<double>(row), out);
        break;
      case ColumnType::kInt64:
        PutInt(c.template Get<int64_t>(row), out);
        break;
      case ColumnType::kInt32:
        PutInt(c.template Get<int>(row), out);
        break;
      case ColumnType::kState:
        PutString(JobStateName(c.template Get<JobState>(row)), out);
        break;
      case ColumnType::kMetrics: {
        out->push_back('{');
        bool first_metric = true;
        for (const auto& [k, v] : c.template Get<MetricMap>(row)) {
          if (!first_metric) out->push_back(',');
          first_metric = false;
          PutString(k, out);
          out->push_back(':');
          PutDouble(v, out);
        }
        out->push_back('}');
        break;
      }
    }
  }
  if (close) out->push_back('}');
}

template <typename Row>
json RowToJson(const std::vector<Column<Row>>& columns, const Row& row) {
  json j = json::object();
  for (const Column<Row>& c : columns) {
    if (c.where & kInJournal) j[c.name] = ColumnToJson(c, row);
  }
  return j;
}

// Missing keys keep the values *row has.
template <typename Row>
Status RowFromJson(const std::vector<Column<Row>>& columns, const json& j, Row* row) {
  for (const Column<Row>& c : columns) {
    if (!(c.where & kInJournal)) continue;
    if (auto it = j.find(c.name); it != j.end()) {
      VLM_RETURN_IF_ERROR(ColumnFromJson(c, *it, row));
    }
  }
  return Status::OK();
}

}  // namespace

uint32_t Crc32(std::string_view data) {
  static const std::array<uint32_t, 256> kTable = MakeCrcTable();
  uint32_t c = 0xFFFFFFFFu;
  for (unsigned char b : data) c = kTable[(c ^ b) & 0xFF] ^ (c >> 8);
  return c ^ 0xFFFFFFFFu;
}

json RecordToJson(const JobRecord& r) {
  json j = RowToJson(JobColumns(), r);
  if (!r.curves.empty()) {
    json curves = json::array();
    for (const auto& p : r.curves) curves.push_back(json::array({p.name, p.step, Num(p.value)}));
    j["curves"] = std::move(curves);
  }
  return j;
}

Status RecordFromJson(const json& j, JobRecord* r) {
  if (!j.is_object()) return Status::InvalidInput("job record is not a JSON object");
  VLM_RETURN_IF_ERROR(RowFromJson(JobColumns(), j, r));
  r->curves.clear();
  if (auto it = j.find("curves"); it != j.end() && !it->is_null()) {
    if (!it->is_array()) return Status::InvalidInput("field 'curves' is not an array");
    for (const auto& p : *it) {
      if (!p.is_array() || p.size() != 3 || !p[0].is_string() || !p[1].is_number_integer() ||
          (p[1].is_number_unsigned() && p[1].get<uint64_t>() > uint64_t{INT64_MAX}) ||
          !(p[2].is_number() || p[2].is_null())) {
        return Status::InvalidInput("a curve point is not [name, step, value]");
      }
      r->curves.push_back(CurvePoint{p[0].get<std::string>(), p[1].get<int64_t>(),
                                     p[2].is_null() ? JobRecord::kNaN : p[2].get<double>()});
    }
  }
  return Status::OK();
}

json EventToJson(const JobEvent& e) { return RowToJson(EventColumns(), e); }

Status EventFromJson(const json& j, JobEvent* e) {
  if (!j.is_object()) return Status::InvalidInput("event is not a JSON object");
  return RowFromJson(EventColumns(), j, e);
}

void EncodeJournalEntry(const json& entry, std::string* out) {
  // Invalid UTF-8 (e.g. a job's raw stderr in a message) is replaced rather than thrown on.
  std::string payload = entry.dump(-1, ' ', false, json::error_handler_t::replace);
  payload.push_back('\n');
  char header[8];
  WriteLe32(static_cast<uint32_t>(payload.size()), header);
  WriteLe32(Crc32(payload), header + 4);
  out->append(header, sizeof(header));
  out->append(payload);
}

void EncodeJobEntry(int64_t seq, const JobRecord& r, const JobEvent* event, std::string* out) {
  const size_t header_at = out->size();
  out->append(8, '\0');
  const size_t payload_at = out->size();
  out->append("{\"t\":\"job\",\"seq\":");
  PutInt(seq, out);
  out->append(",\"rec\":");
  PutRow(JobColumns(), r, /*close=*/false, out);
  if (!r.curves.empty()) {
    PutKey("curves", out);
    out->push_back('[');
    for (size_t i = 0; i < r.curves.size(); ++i) {
      if (i) out->push_back(',');
      out->push_back('[');
      PutString(r.curves[i].name, out);
      out->push_back(',');
      PutInt(r.curves[i].step, out);
      out->push_back(',');
      PutDouble(r.curves[i].value, out);
      out->push_back(']');
    }
    out->push_back(']');
  }
  out->push_back('}');
  if (event != nullptr) {
    out->append(",\"ev\":");
    PutRow(EventColumns(), *event, /*close=*/true, out);
  }
  out->append("}\n");
  std::string_view payload(out->data() + payload_at, out->size() - payload_at);
  WriteLe32(static_cast<uint32_t>(payload.size()), out->data() + header_at);
  WriteLe32(Crc32(payload), out->data() + header_at + 4);
}

namespace {

// Decodes the entry at `pos`: true with *entry and *size (header included) if it is intact.
bool DecodeEntryAt(std::string_view data, size_t pos, json* entry, size_t* size) {
  if (data.size() - pos < 8) return false;
  uint32_t length = ReadLe32(data.data() + pos);
  if (length < 2 || length > data.size() - pos - 8) return false;
  std::string_view payload = data.substr(pos + 8, length);
  if (Crc32(payload) != ReadLe32(data.data() + pos + 4)) return false;
  // The CRC matches, so these are the bytes that were written: an entry that is not a JSON
  // object and a line is kept (as null) for ReplayJournal() to report as malformed, not taken for
  // a torn tail.
  json parsed = payload.front() == '{' && payload.back() == '\n'
                    ? json::parse(payload, nullptr, /*allow_exceptions=*/false)
                    : json();
  *entry = parsed.is_object() ? std::move(parsed) : json();
  *size = 8 + length;
  return true;
}

}  // namespace

DecodedJournal DecodeJournal(std::string_view data) {
  DecodedJournal result;
  size_t pos = 0;
  json entry;
  size_t size = 0;
  while (pos < data.size() && DecodeEntryAt(data, pos, &entry, &size)) {
    result.entries.push_back(std::move(entry));
    result.offsets.push_back(pos);
    pos += size;
  }
  result.valid_bytes = pos;
  result.total_bytes = data.size();
  result.torn_tail = pos < data.size();
  result.damaged_start =
      pos == 0 && std::any_of(data.begin(), data.end(), [](char c) { return c != '\0'; });
  // Resynchronise past the prefix. Zero-filled capacity is skipped quickly: an entry's length
  // field is non-zero, so it starts at most 3 bytes before the next non-zero byte.
  for (size_t p = pos + 1; p + 8 <= data.size();) {
    if (DecodeEntryAt(data, p, &entry, &size)) {
      result.beyond.emplace_back(p, std::move(entry));
      p += size;
      continue;
    }
    size_t next = p + 1;
    if (data[p] == '\0') {
      const char* nz = std::find_if(data.data() + p, data.data() + data.size(),
                                    [](char c) { return c != '\0'; });
      size_t q = static_cast<size_t>(nz - data.data());
      next = std::max(next, q >= 3 ? q - 3 : 0);
    }
    p = next;
  }
  return result;
}

std::string ReplayReport::Describe(const std::string& journal_path) const {
  std::vector<std::string> parts;
  if (recovered > 0) {
    parts.push_back("journal " + journal_path + " is damaged: bytes " +
                    std::to_string(damaged_from) + "-" + std::to_string(damaged_to) +
                    " fail their checksum; recovered the " + std::to_string(recovered) +
                    " entries after them (results recorded only in the damaged bytes are lost "
                    "and those jobs will run again)");
  } else if (damaged_start) {
    parts.push_back("journal " + journal_path + " is damaged: none of its " +
                    std::to_string(journal_bytes) +
                    " bytes holds an intact entry, so it was ignored (results recorded only in "
                    "it are lost and those jobs will run again)");
  }
  if (malformed > 0) {
    parts.push_back("journal " + journal_path + " has " + std::to_string(malformed) +
                    " entries that pass their checksum but are malformed (the first at byte " +
                    std::to_string(malformed_at) + ": " + malformed_reason +
                    "); they were skipped");
  }
  std::string out;
  for (const std::string& p : parts) out += (out.empty() ? "" : "; ") + p;
  return out;
}

Status ReplayJournal(const DecodedJournal& journal, int64_t skip_through, StoreState* state,
                     ReplayReport* report) {
  *report = ReplayReport{};
  report->damaged_start = journal.damaged_start;
  report->journal_bytes = journal.total_bytes;
  auto note_malformed = [&](size_t offset, const Status& why) {
    if (report->malformed++ == 0) {
      report->malformed_at = offset;
      report->malformed_reason = TruncateUtf8(why.message(), 200);
    }
  };
  auto counts = [&](const json& entry) {
    auto seq = entry.find("seq");
    return seq != entry.end() && seq->is_number_integer() && seq->get<int64_t>() > skip_through;
  };
  for (size_t i = 0; i < journal.entries.size(); ++i) {
    const json& entry = journal.entries[i];
    Status s = state->Apply(entry, skip_through);
    if (!s.ok()) {
      note_malformed(i < journal.offsets.size() ? journal.offsets[i] : 0, s);
      continue;
    }
    if (counts(entry)) ++report->replayed;
  }
  int64_t newest = std::max(state->last_seq, skip_through);
  for (const auto& [offset, entry] : journal.beyond) {
    if (!entry.is_object() || !entry.contains("t") || !entry["t"].is_string()) {
      note_malformed(offset, Status::InvalidInput("not a JSON object with a string 't'"));
      continue;
    }
    auto seq = entry.find("seq");
    if (seq == entry.end() || !seq->is_number_integer() || seq->get<int64_t>() <= newest) {
      continue;  // A meta entry, or an older epoch's entry the snapshot holds.
    }
    Status s = state->Apply(entry, skip_through);
    if (!s.ok()) {
      note_malformed(offset, s);
      continue;
    }
    if (report->recovered == 0) {
      report->damaged_from = journal.valid_bytes;
      report->damaged_to = offset;
    }
    newest = seq->get<int64_t>();
    ++report->recovered;
    ++report->replayed;
  }
  return Status::OK();
}

bool IsAcceptableRunInfo(const std::string& text) {
  // Nesting depth outside strings; the text must also parse (nlohmann's parser does not recurse).
  int depth = 0, deepest = 0;
  bool in_string = false, escaped = false;
  for (char c : text) {
    if (in_string) {
      if (escaped) {
        escaped = false;
      } else if (c == '\\') {
        escaped = true;
      } else if (c == '"') {
        in_string = false;
      }
    } else if (c == '"') {
      in_string = true;
    } else if (c == '{' || c == '[') {
      deepest = std::max(deepest, ++depth);
      if (deepest > kMaxRunInfoDepth) return false;
    } else if (c == '}' || c == ']') {
      --depth;
    }
  }
  return json::parse(text, nullptr, /*allow_exceptions=*/false).is_object();
}

std::string TruncateUtf8(const std::string& message, size_t max_bytes) {
  if (message.size() <= max_bytes) return message;
  size_t end = max_bytes;
  // Step back over continuation bytes (10xxxxxx) so the cut lands before a lead byte.
  while (end > 0 && (static_cast<unsigned char>(message[end]) & 0xC0) == 0x80) --end;
  return message.substr(0, end);
}

void StoreState::PutJob(JobRecord record) {
  auto it = jobs.find(record.job_id);
  if (it == jobs.end()) {
    order.push_back(record.job_id);
    std::string id = record.job_id;
    jobs.emplace(std::move(id), std::move(record));
  } else {
    it->second = std::move(record);
  }
}

// The entry's "seq": kInvalidInput unless it is an integer in [0, kMaxJournalSeq].
Status EntrySeq(const json& entry, int64_t* seq) {
  auto it = entry.find("seq");
  if (it == entry.end()) return Status::InvalidInput("entry without a sequence number");
  if (!it->is_number_integer() ||
      (it->is_number_unsigned() && it->get<uint64_t>() > kMaxJournalSeq) ||
      it->get<int64_t>() < 0 || it->get<int64_t>() > kMaxJournalSeq) {
    return Status::InvalidInput("field 'seq' is not an integer in [0, 2^62]");
  }
  *seq = it->get<int64_t>();
  return Status::OK();
}

Status StoreState::Apply(const json& entry, int64_t skip_through) {
  if (!entry.is_object()) return Status::InvalidInput("not a JSON object");
  auto t = entry.find("t");
  if (t == entry.end() || !t->is_string()) return Status::InvalidInput("field 't' is not a string");
  const std::string type = t->get<std::string>();
  if (type == "meta") {
    auto sweep = entry.find("sweep");
    if (sweep == entry.end() || !sweep->is_string()) {
      return Status::InvalidInput("meta entry: field 'sweep' is not a string");
    }
    if (journal_sweep.empty()) journal_sweep = sweep->get<std::string>();
    if (sweep_name.empty()) sweep_name = sweep->get<std::string>();
    return Status::OK();
  }
  int64_t seq = 0;
  Status s = EntrySeq(entry, &seq);
  if (!s.ok()) {
    // Unknown types come from a newer writer; skipping them keeps old readers working.
    if (type != "job" && type != "run_info" && type != "run" && entry.find("seq") == entry.end()) {
      return Status::OK();
    }
    return s.WithPrefix(type + " entry");
  }
  if (type == "job") {
    // Everything is checked before the state changes: a malformed entry changes nothing.
    auto rec = entry.find("rec");
    if (rec == entry.end()) return Status::InvalidInput("job entry without 'rec'");
    JobRecord record;
    VLM_RETURN_IF_ERROR(RecordFromJson(*rec, &record).WithPrefix("job entry"));
    if (record.job_id.empty()) return Status::InvalidInput("job entry without job_id");
    JobEvent event;
    auto ev = entry.find("ev");
    const bool has_event = ev != entry.end();
    if (has_event) VLM_RETURN_IF_ERROR(EventFromJson(*ev, &event).WithPrefix("job entry"));
    if (seq <= skip_through) return Status::OK();
    if (has_event) events.push_back(std::move(event));
    PutJob(std::move(record));
  } else if (type == "run_info") {
    auto v = entry.find("v");
    if (v == entry.end() || !v->is_string()) {
      return Status::InvalidInput("run_info entry: field 'v' is not a string");
    }
    if (!IsAcceptableRunInfo(v->get<std::string>())) {
      return Status::InvalidInput("run_info entry: field 'v' is not a JSON object nested at most " +
                                  std::to_string(kMaxRunInfoDepth) + " deep");
    }
    if (seq <= skip_through) return Status::OK();
    run_info_json = v->get<std::string>();
  } else if (type == "run") {
    auto v = entry.find("v");
    if (v == entry.end() || !v->is_string() || !IsAcceptableRunInfo(v->get<std::string>())) {
      return Status::InvalidInput("run entry: field 'v' is not a JSON object nested at most " +
                                  std::to_string(kMaxRunInfoDepth) + " deep");
    }
    if (seq <= skip_through) return Status::OK();
    runs.push_back(v->get<std::string>());
  } else if (seq <= skip_through) {
    return Status::OK();
  }
  if (seq > last_seq) last_seq = seq;
  return Status::OK();
}

}  // namespace vlmscale::store
