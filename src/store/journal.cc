#include "store/journal.h"

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstring>

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

// Reads an optional key of `j` into *out; null means NaN for doubles.
Status GetDouble(const json& j, const char* key, double* out) {
  auto it = j.find(key);
  if (it == j.end()) return Status::OK();
  if (it->is_null()) {
    *out = JobRecord::kNaN;
  } else if (it->is_number()) {
    *out = it->get<double>();
  } else {
    return Status::InvalidInput(std::string("field '") + key + "' is not a number");
  }
  return Status::OK();
}

template <typename Int>
Status GetInt(const json& j, const char* key, Int* out) {
  auto it = j.find(key);
  if (it == j.end()) return Status::OK();
  if (!it->is_number_integer()) {
    return Status::InvalidInput(std::string("field '") + key + "' is not an integer");
  }
  *out = it->get<Int>();
  return Status::OK();
}

Status GetString(const json& j, const char* key, std::string* out) {
  auto it = j.find(key);
  if (it == j.end()) return Status::OK();
  if (!it->is_string()) {
    return Status::InvalidInput(std::string("field '") + key + "' is not a string");
  }
  *out = it->get<std::string>();
  return Status::OK();
}

Status GetState(const json& j, const char* key, JobState* out) {
  std::string name;
  VLM_RETURN_IF_ERROR(GetString(j, key, &name));
  if (name.empty()) return Status::OK();
  if (!ParseJobState(name, out)) return Status::InvalidInput("unknown job state '" + name + "'");
  return Status::OK();
}

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

}  // namespace

uint32_t Crc32(std::string_view data) {
  static const std::array<uint32_t, 256> kTable = MakeCrcTable();
  uint32_t c = 0xFFFFFFFFu;
  for (unsigned char b : data) c = kTable[(c ^ b) & 0xFF] ^ (c >> 8);
  return c ^ 0xFFFFFFFFu;
}

json RecordToJson(const JobRecord& r) {
  json j;
  j["job_id"] = r.job_id;
  j["llm"] = r.llm;
  j["n_params"] = Num(r.n_params);
  j["visual_tokens"] = r.visual_tokens;
  j["method"] = r.method;
  j["task"] = r.task;
  j["seed"] = r.seed;
  j["status"] = JobStateName(r.state);
  j["attempts"] = r.attempts;
  j["failure_class"] = r.failure_class;
  j["message"] = r.message;
  j["error"] = Num(r.error);
  j["accuracy"] = Num(r.accuracy);
  j["eval_loss"] = Num(r.eval_loss);
  j["inference_flops"] = Num(r.inference_flops);
  j["compressor_flops"] = Num(r.compressor_flops);
  j["latency_ms"] = Num(r.latency_ms);
  json extra = json::object();
  for (const auto& [k, v] : r.extra_metrics) extra[k] = Num(v);
  j["extra_metrics"] = std::move(extra);
  j["est_cost"] = Num(r.est_cost);
  j["train_seconds"] = Num(r.train_seconds);
  j["eval_seconds"] = Num(r.eval_seconds);
  j["rank"] = r.rank;
  j["host"] = r.host;
  j["start_time"] = Num(r.start_time);
  j["end_time"] = Num(r.end_time);
  if (!r.curves.empty()) {
    json curves = json::array();
    for (const auto& p : r.curves) curves.push_back(json::array({p.name, p.step, Num(p.value)}));
    j["curves"] = std::move(curves);
  }
  return j;
}

Status RecordFromJson(const json& j, JobRecord* r) {
  if (!j.is_object()) return Status::InvalidInput("job record is not a JSON object");
  VLM_RETURN_IF_ERROR(GetString(j, "job_id", &r->job_id));
  VLM_RETURN_IF_ERROR(GetString(j, "llm", &r->llm));
  VLM_RETURN_IF_ERROR(GetDouble(j, "n_params", &r->n_params));
  VLM_RETURN_IF_ERROR(GetInt(j, "visual_tokens", &r->visual_tokens));
  VLM_RETURN_IF_ERROR(GetString(j, "method", &r->method));
  VLM_RETURN_IF_ERROR(GetString(j, "task", &r->task));
  VLM_RETURN_IF_ERROR(GetInt(j, "seed", &r->seed));
  VLM_RETURN_IF_ERROR(GetState(j, "status", &r->state));
  VLM_RETURN_IF_ERROR(GetInt(j, "attempts", &r->attempts));
  VLM_RETURN_IF_ERROR(GetString(j, "failure_class", &r->failure_class));
  VLM_RETURN_IF_ERROR(GetString(j, "message", &r->message));
  VLM_RETURN_IF_ERROR(GetDouble(j, "error", &r->error));
  VLM_RETURN_IF_ERROR(GetDouble(j, "accuracy", &r->accuracy));
  VLM_RETURN_IF_ERROR(GetDouble(j, "eval_loss", &r->eval_loss));
  VLM_RETURN_IF_ERROR(GetDouble(j, "inference_flops", &r->inference_flops));
  VLM_RETURN_IF_ERROR(GetDouble(j, "compressor_flops", &r->compressor_flops));
  VLM_RETURN_IF_ERROR(GetDouble(j, "latency_ms", &r->latency_ms));
  r->extra_metrics.clear();
  if (auto it = j.find("extra_metrics"); it != j.end() && !it->is_null()) {
    if (!it->is_object()) return Status::InvalidInput("field 'extra_metrics' is not an object");
    for (const auto& [k, v] : it->items()) {
      double d = JobRecord::kNaN;
      if (v.is_number()) {
        d = v.get<double>();
      } else if (!v.is_null()) {
        return Status::InvalidInput("extra metric '" + k + "' is not a number");
      }
      r->extra_metrics[k] = d;
    }
  }
  VLM_RETURN_IF_ERROR(GetDouble(j, "est_cost", &r->est_cost));
  VLM_RETURN_IF_ERROR(GetDouble(j, "train_seconds", &r->train_seconds));
  VLM_RETURN_IF_ERROR(GetDouble(j, "eval_seconds", &r->eval_seconds));
  VLM_RETURN_IF_ERROR(GetInt(j, "rank", &r->rank));
  VLM_RETURN_IF_ERROR(GetString(j, "host", &r->host));
  VLM_RETURN_IF_ERROR(GetDouble(j, "start_time", &r->start_time));
  VLM_RETURN_IF_ERROR(GetDouble(j, "end_time", &r->end_time));
  r->curves.clear();
  if (auto it = j.find("curves"); it != j.end() && !it->is_null()) {
    if (!it->is_array()) return Status::InvalidInput("field 'curves' is not an array");
    for (const auto& p : *it) {
      if (!p.is_array() || p.size() != 3 || !p[0].is_string() || !p[1].is_number_integer() ||
          !(p[2].is_number() || p[2].is_null())) {
        return Status::InvalidInput("a curve point is not [name, step, value]");
      }
      r->curves.push_back(CurvePoint{p[0].get<std::string>(), p[1].get<int64_t>(),
                                     p[2].is_null() ? JobRecord::kNaN : p[2].get<double>()});
    }
  }
  return Status::OK();
}

json EventToJson(const JobEvent& e) {
  return json{{"job_id", e.job_id},
              {"state", JobStateName(e.state)},
              {"attempt", e.attempt},
              {"time", Num(e.time)},
              {"failure_class", e.failure_class}};
}

Status EventFromJson(const json& j, JobEvent* e) {
  if (!j.is_object()) return Status::InvalidInput("event is not a JSON object");
  VLM_RETURN_IF_ERROR(GetString(j, "job_id", &e->job_id));
  VLM_RETURN_IF_ERROR(GetState(j, "state", &e->state));
  VLM_RETURN_IF_ERROR(GetInt(j, "attempt", &e->attempt));
  VLM_RETURN_IF_ERROR(GetDouble(j, "time", &e->time));
  VLM_RETURN_IF_ERROR(GetString(j, "failure_class", &e->failure_class));
  return Status::OK();
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
  out->append(",\"rec\":{\"job_id\":");
  PutString(r.job_id, out);
  PutKey("llm", out), PutString(r.llm, out);
  PutKey("n_params", out), PutDouble(r.n_params, out);
  PutKey("visual_tokens", out), PutInt(r.visual_tokens, out);
  PutKey("method", out), PutString(r.method, out);
  PutKey("task", out), PutString(r.task, out);
  PutKey("seed", out), PutInt(r.seed, out);
  PutKey("status", out), PutString(JobStateName(r.state), out);
  PutKey("attempts", out), PutInt(r.attempts, out);
  PutKey("failure_class", out), PutString(r.failure_class, out);
  PutKey("message", out), PutString(r.message, out);
  PutKey("error", out), PutDouble(r.error, out);
  PutKey("accuracy", out), PutDouble(r.accuracy, out);
  PutKey("eval_loss", out), PutDouble(r.eval_loss, out);
  PutKey("inference_flops", out), PutDouble(r.inference_flops, out);
  PutKey("compressor_flops", out), PutDouble(r.compressor_flops, out);
  PutKey("latency_ms", out), PutDouble(r.latency_ms, out);
  PutKey("extra_metrics", out);
  out->push_back('{');
  bool first = true;
  for (const auto& [k, v] : r.extra_metrics) {
    if (!first) out->push_back(',');
    first = false;
    PutString(k, out);
    out->push_back(':');
    PutDouble(v, out);
  }
  out->push_back('}');
  PutKey("est_cost", out), PutDouble(r.est_cost, out);
  PutKey("train_seconds", out), PutDouble(r.train_seconds, out);
  PutKey("eval_seconds", out), PutDouble(r.eval_seconds, out);
  PutKey("rank", out), PutInt(r.rank, out);
  PutKey("host", out), PutString(r.host, out);
  PutKey("start_time", out), PutDouble(r.start_time, out);
  PutKey("end_time", out), PutDouble(r.end_time, out);
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
    out->append(",\"ev\":{\"job_id\":");
    PutString(event->job_id, out);
    PutKey("state", out), PutString(JobStateName(event->state), out);
    PutKey("attempt", out), PutInt(event->attempt, out);
    PutKey("time", out), PutDouble(event->time, out);
    PutKey("failure_class", out), PutString(event->failure_class, out);
    out->push_back('}');
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
  if (payload.front() != '{' || payload.back() != '\n') return false;
  if (Crc32(payload) != ReadLe32(data.data() + pos + 4)) return false;
  json parsed = json::parse(payload, nullptr, /*allow_exceptions=*/false);
  if (!parsed.is_object() || !parsed.contains("t") || !parsed["t"].is_string()) return false;
  *entry = std::move(parsed);
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
    pos += size;
  }
  result.valid_bytes = pos;
  result.torn_tail = pos < data.size();
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
  if (recovered == 0) return "";
  return "journal " + journal_path + " is damaged: bytes " + std::to_string(damaged_from) + "-" +
         std::to_string(damaged_to) + " fail their checksum; recovered the " +
         std::to_string(recovered) +
         " entries after them (results recorded only in the damaged bytes are lost and those "
         "jobs will run again)";
}

Status ReplayJournal(const DecodedJournal& journal, int64_t skip_through, StoreState* state,
                     ReplayReport* report) {
  *report = ReplayReport{};
  auto counts = [&](const json& entry) {
    auto seq = entry.find("seq");
    return seq != entry.end() && seq->is_number_integer() && seq->get<int64_t>() > skip_through;
  };
  for (const json& entry : journal.entries) {
    if (counts(entry)) ++report->replayed;
    VLM_RETURN_IF_ERROR(state->Apply(entry, skip_through));
  }
  int64_t newest = std::max(state->last_seq, skip_through);
  for (const auto& [offset, entry] : journal.beyond) {
    auto seq = entry.find("seq");
    if (seq == entry.end() || !seq->is_number_integer() || seq->get<int64_t>() <= newest) {
      continue;  // A meta entry, or an older epoch's entry the snapshot holds.
    }
    if (report->recovered == 0) {
      report->damaged_from = journal.valid_bytes;
      report->damaged_to = offset;
    }
    VLM_RETURN_IF_ERROR(state->Apply(entry, skip_through));
    newest = seq->get<int64_t>();
    ++report->recovered;
    ++report->replayed;
  }
  return Status::OK();
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

Status StoreState::Apply(const json& entry, int64_t skip_through) {
  const std::string type = entry.value("t", "");
  if (type == "meta") {
    if (sweep_name.empty()) sweep_name = entry.value("sweep", "");
    return Status::OK();
  }
  auto seq_it = entry.find("seq");
  if (seq_it == entry.end() || !seq_it->is_number_integer()) {
    return Status::InvalidInput("journal entry without a sequence number");
  }
  int64_t seq = seq_it->get<int64_t>();
  if (seq <= skip_through) return Status::OK();
  if (seq > last_seq) last_seq = seq;
  if (type == "job") {
    auto rec = entry.find("rec");
    if (rec == entry.end()) return Status::InvalidInput("journal job entry without 'rec'");
    JobRecord record;
    VLM_RETURN_IF_ERROR(RecordFromJson(*rec, &record));
    if (record.job_id.empty()) return Status::InvalidInput("journal job entry without job_id");
    if (auto ev = entry.find("ev"); ev != entry.end()) {
      JobEvent event;
      VLM_RETURN_IF_ERROR(EventFromJson(*ev, &event));
      events.push_back(std::move(event));
    }
    PutJob(std::move(record));
  } else if (type == "run_info") {
    run_info_json = entry.value("v", "");
  }
  // Unknown types come from a newer writer; skipping them keeps old readers working.
  return Status::OK();
}

}  // namespace vlmscale::store
