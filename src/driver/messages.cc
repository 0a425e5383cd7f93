#include "driver/messages.h"

#include <cmath>
#include <cstdint>
#include <cstring>
#include <nlohmann/json.hpp>

namespace vlmscale::driver {

const char* OutcomeName(Outcome outcome) {
  switch (outcome) {
    case Outcome::kDone:
      return "done";
    case Outcome::kFailed:
      return "failed";
    case Outcome::kCancelled:
      return "cancelled";
  }
  return "?";
}

bool ParseOutcome(const std::string& name, Outcome* outcome) {
  for (Outcome o : {Outcome::kDone, Outcome::kFailed, Outcome::kCancelled}) {
    if (name == OutcomeName(o)) {
      *outcome = o;
      return true;
    }
  }
  return false;
}

std::string EncodeAssign(const AssignMessage& m) {
  std::vector<int64_t> v = {m.shutdown ? 1 : 0, m.exit_code,
                            static_cast<int64_t>(m.batch.size())};
  for (const auto& a : m.batch) {
    v.push_back(a.index);
    v.push_back(a.attempt);
  }
  v.push_back(static_cast<int64_t>(m.ranks.size()));
  for (int r : m.ranks) v.push_back(r);
  return std::string(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(int64_t));
}

Result<AssignMessage> DecodeAssign(const std::string& bytes) {
  if (bytes.size() % sizeof(int64_t) != 0 || bytes.size() < 3 * sizeof(int64_t)) {
    return Status::Runtime("malformed assign message of " + std::to_string(bytes.size()) + " bytes");
  }
  std::vector<int64_t> v(bytes.size() / sizeof(int64_t));
  std::memcpy(v.data(), bytes.data(), bytes.size());
  AssignMessage m;
  m.shutdown = v[0] != 0;
  m.exit_code = static_cast<int>(v[1]);
  int64_t n = v[2];
  if (n < 0 || static_cast<size_t>(4 + 2 * n) > v.size()) {
    return Status::Runtime("malformed assign message (batch of " + std::to_string(n) + ")");
  }
  for (int64_t i = 0; i < n; ++i) {
    m.batch.push_back({v[3 + 2 * i], static_cast<int>(v[4 + 2 * i])});
  }
  const size_t at = 3 + 2 * n;
  const int64_t k = v[at];
  if (k < 0 || at + 1 + k != v.size()) {
    return Status::Runtime("malformed assign message (" + std::to_string(k) + " ranks)");
  }
  for (int64_t i = 0; i < k; ++i) {
    const int64_t r = v[at + 1 + i];
    if (r < 0 || r > INT32_MAX || (i > 0 && r <= m.ranks.back())) {
      return Status::Runtime("malformed assign message (rank " + std::to_string(r) +
                             " not ascending or out of range)");
    }
    m.ranks.push_back(static_cast<int>(r));
  }
  return m;
}

namespace {

// JSON has no NaN: non-finite metrics travel as strings.
nlohmann::json Num(double x) {
  if (std::isfinite(x)) return x;
  return std::isnan(x) ? "nan" : (x > 0 ? "inf" : "-inf");
}

double FromNum(const nlohmann::json& j) {
  if (j.is_number()) return j.get<double>();
  std::string s = j.get<std::string>();
  if (s == "inf") return INFINITY;
  if (s == "-inf") return -INFINITY;
  return NAN;
}

}  // namespace

std::string EncodeResults(const std::vector<JobResultMessage>& results) {
  nlohmann::json arr = nlohmann::json::array();
  for (const auto& r : results) {
    nlohmann::json metrics = nlohmann::json::object();
    for (const auto& [k, v] : r.metrics) metrics[k] = Num(v);
    nlohmann::json curves = nlohmann::json::array();
    for (const auto& c : r.curves) curves.push_back({c.name, c.step, Num(c.value)});
    arr.push_back({{"i", r.index},        {"a", r.attempt},       {"o", OutcomeName(r.outcome)},
                   {"fc", r.failure_class}, {"msg", r.message},    {"m", metrics},
                   {"c", curves},           {"ts", r.train_seconds}, {"es", r.eval_seconds},
                   {"t0", r.start_time},    {"t1", r.end_time},    {"st", r.started},
                   {"mp", r.missing_parents}});
  }
  // Replace invalid UTF-8 in messages rather than throwing.
  return arr.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

Result<std::vector<JobResultMessage>> DecodeResults(const std::string& bytes) {
  std::vector<JobResultMessage> out;
  try {
    nlohmann::json arr = nlohmann::json::parse(bytes);
    if (!arr.is_array()) return Status::Runtime("malformed results message: not a JSON array");
    for (const auto& j : arr) {
      JobResultMessage r;
      r.index = j.at("i").get<int64_t>();
      r.attempt = j.at("a").get<int>();
      std::string outcome = j.at("o").get<std::string>();
      if (!ParseOutcome(outcome, &r.outcome)) {
        return Status::Runtime("malformed results message: unknown outcome '" + outcome + "'");
      }
      r.failure_class = j.at("fc").get<std::string>();
      r.message = j.at("msg").get<std::string>();
      for (const auto& [k, v] : j.at("m").items()) r.metrics[k] = FromNum(v);
      for (const auto& c : j.at("c")) {
        r.curves.push_back({c.at(0).get<std::string>(), c.at(1).get<int64_t>(), FromNum(c.at(2))});
      }
      r.train_seconds = j.at("ts").get<double>();
      r.eval_seconds = j.at("es").get<double>();
      r.start_time = j.at("t0").get<double>();
      r.end_time = j.at("t1").get<double>();
      r.started = j.at("st").get<bool>();
      r.missing_parents = j.at("mp").get<std::vector<int64_t>>();
      out.push_back(std::move(r));
    }
  } catch (const std::exception& e) {
    return Status::Runtime(std::string("malformed results message: ") + e.what());
  }
  return out;
}

// Two doubles (progress age, stop flag 0 or 1), as before the struct existed, then, when the job
// reported progress, a JSON object {"j": index, "p": phase, "k": step, "n": total, "l": loss or
// null, "c": [[name, step, value], ...]}.
std::string EncodeHeartbeat(const HeartbeatMessage& m) {
  double v[2] = {m.progress_age, m.stop_requested ? 1.0 : 0.0};
  std::string bytes(reinterpret_cast<const char*>(v), sizeof(v));
  if (m.job_index < 0) return bytes;
  nlohmann::json points = nlohmann::json::array();
  for (const auto& c : m.new_points) points.push_back({c.name, c.step, Num(c.value)});
  nlohmann::json progress = {{"j", m.job_index}, {"p", m.phase},     {"k", m.step},
                             {"n", m.total},     {"l", Num(m.loss)}, {"c", points}};
  return bytes + progress.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

Result<HeartbeatMessage> DecodeHeartbeat(const std::string& bytes) {
  double v[2];
  if (bytes.size() < sizeof(v)) {
    return Status::Runtime("malformed heartbeat message of " + std::to_string(bytes.size()) +
                           " bytes (expected at least " + std::to_string(sizeof(v)) + ")");
  }
  std::memcpy(v, bytes.data(), sizeof(v));
  if (std::isnan(v[0]) || (v[1] != 0.0 && v[1] != 1.0)) {
    return Status::Runtime("malformed heartbeat message (progress age " + std::to_string(v[0]) +
                           ", stop flag " + std::to_string(v[1]) + ")");
  }
  HeartbeatMessage m;
  m.progress_age = v[0];
  m.stop_requested = v[1] != 0.0;
  if (bytes.size() == sizeof(v)) return m;
  try {
    nlohmann::json p = nlohmann::json::parse(bytes.begin() + sizeof(v), bytes.end());
    m.job_index = p.at("j").get<int64_t>();
    m.phase = p.at("p").get<std::string>();
    m.step = p.at("k").get<int64_t>();
    m.total = p.at("n").get<int64_t>();
    m.loss = FromNum(p.at("l"));
    for (const auto& c : p.at("c")) {
      m.new_points.push_back(
          {c.at(0).get<std::string>(), c.at(1).get<int64_t>(), FromNum(c.at(2))});
    }
  } catch (const std::exception& e) {
    return Status::Runtime(std::string("malformed heartbeat message (progress part): ") + e.what());
  }
  if (m.job_index < 0) {
    return Status::Runtime("malformed heartbeat message (progress of job index " +
                           std::to_string(m.job_index) + ")");
  }
  return m;
}

}  // namespace vlmscale::driver
