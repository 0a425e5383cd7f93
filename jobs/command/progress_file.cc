// command jobs' progress lines: parsing one, and following the file (command_job.h).
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cmath>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>

#include "jobs/command/command_job.h"

namespace vlmscale::jobs {
namespace command {

namespace {

constexpr size_t kMaxLineBytes = 64 << 10;
constexpr size_t kMaxCurvePoints = 200000;
constexpr size_t kMaxPhase = 64;

// A JSON integer >= 0 (a float with an integral value is accepted, as Python writes 3.0).
bool NonNegativeInteger(const nlohmann::json& v, int64_t* out) {
  if (v.is_number_unsigned()) {
    const uint64_t u = v.get<uint64_t>();
    if (u > static_cast<uint64_t>(INT64_MAX)) return false;
    *out = static_cast<int64_t>(u);
    return true;
  }
  if (v.is_number_integer()) {
    const int64_t i = v.get<int64_t>();
    if (i < 0) return false;
    *out = i;
    return true;
  }
  if (v.is_number_float()) {
    double d = v.get<double>();
    if (!(d >= 0) || d > 9e15 || d != std::floor(d)) return false;
    *out = static_cast<int64_t>(d);
    return true;
  }
  return false;
}

}  // namespace

Status ParseProgressLine(const std::string& line, JobProgress* progress) {
  nlohmann::json j = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return Status::InvalidInput("not valid JSON: " + Excerpt(line));
  if (!j.is_object()) return Status::InvalidInput("not a JSON object: " + Excerpt(line));
  JobProgress p = *progress;
  p.new_points.clear();
  bool has_step = false;
  std::vector<std::pair<std::string, double>> values;
  for (const auto& [key, v] : j.items()) {
    if (key == "step" || key == "total") {
      int64_t n = 0;
      if (!NonNegativeInteger(v, &n)) {
        return Status::InvalidInput("\"" + key + "\" must be an integer >= 0, got " +
                                    Excerpt(v.dump()));
      }
      (key == "step" ? p.step : p.total) = n;
      has_step = has_step || key == "step";
    } else if (key == "phase") {
      if (!v.is_string() || v.get<std::string>().size() > kMaxPhase) {
        return Status::InvalidInput("\"phase\" must be a string of at most 64 characters");
      }
      p.phase = v.get<std::string>();
    } else {
      if (!IsMetricName(key)) {
        return Status::InvalidInput("\"" + Excerpt(key) +
                                    "\" is not a metric name (1-64 characters of [A-Za-z0-9_.-])");
      }
      if (!v.is_number() || !std::isfinite(v.get<double>())) {
        return Status::InvalidInput("\"" + key + "\" must be a finite number, got " +
                                    Excerpt(v.dump()));
      }
      values.emplace_back(key == "loss" ? "train_loss" : key, v.get<double>());
      if (key == "loss") p.loss = v.get<double>();
    }
  }
  if (!values.empty() && !has_step) {
    return Status::InvalidInput("a line with values (\"" + values[0].first +
                                "\") needs \"step\"");
  }
  for (auto& [name, value] : values) p.new_points.push_back({name, p.step, value});
  *progress = std::move(p);
  return Status::OK();
}

ProgressReader::ProgressReader(std::string path) : path_(std::move(path)) {
  struct stat st;
  if (stat(path_.c_str(), &st) == 0 && S_ISREG(st.st_mode)) offset_ = st.st_size;
}

bool ProgressReader::Poll(JobProgress* latest) {
  // A stat first: polled every 50 ms, the file has usually not grown.
  struct stat st;
  if (stat(path_.c_str(), &st) != 0 || st.st_size <= offset_) return false;
  std::string why;
  int fd = OpenRegularFile(path_, &why);
  if (fd < 0) return false;
  std::string chunk;
  char buf[1 << 16];
  while (chunk.size() < (4u << 20)) {  // The rest on the next poll.
    ssize_t n = pread(fd, buf, sizeof(buf), offset_);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    chunk.append(buf, static_cast<size_t>(n));
    offset_ += n;
  }
  close(fd);
  std::vector<store::CurvePoint> fresh;  // This poll's points.
  bool parsed = false;
  size_t pos = 0;
  while (pos < chunk.size()) {
    size_t nl = chunk.find('\n', pos);
    if (nl == std::string::npos) {
      if (!discarding_) partial_.append(chunk, pos, std::string::npos);
      if (partial_.size() > kMaxLineBytes) {
        partial_.clear();
        discarding_ = true;
        ++skipped_;
      }
      break;
    }
    std::string line = partial_ + chunk.substr(pos, nl - pos);
    partial_.clear();
    pos = nl + 1;
    if (discarding_) {
      discarding_ = false;
      continue;
    }
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    if (line.size() > kMaxLineBytes || !ParseProgressLine(line, &state_).ok()) {
      ++skipped_;
      continue;
    }
    parsed = true;
    for (store::CurvePoint& point : state_.new_points) {
      if (curves_.size() >= kMaxCurvePoints) {
        ++skipped_;
        break;
      }
      curves_.push_back(point);
      fresh.push_back(std::move(point));
    }
    state_.new_points.clear();
  }
  if (parsed) {
    *latest = state_;
    latest->new_points = std::move(fresh);
  }
  return parsed;
}

}  // namespace command
}  // namespace vlmscale::jobs
