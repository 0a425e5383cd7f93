// command jobs' metrics.json: parsing, reading and the error metric (command_job.h).
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>

#include "core/strings.h"
#include "jobs/command/command_job.h"

namespace vlmscale::jobs {
namespace command {

namespace {

constexpr size_t kMaxMetricsBytes = 1 << 20;
constexpr size_t kMaxMetrics = 1000;
constexpr size_t kMaxMetricName = 64;

}  // namespace

bool IsMetricName(const std::string& s) {
  if (s.empty() || s.size() > kMaxMetricName) return false;
  for (char c : s) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == '-')) {
      return false;
    }
  }
  return true;
}

Result<std::map<std::string, double>> ParseMetricsJson(const std::string& text) {
  if (text.size() > kMaxMetricsBytes) {
    return Status::InvalidInput("metrics.json is larger than 1 MiB");
  }
  size_t first = text.find_first_not_of(" \t\r\n");
  if (first == std::string::npos) return Status::InvalidInput("metrics.json is empty");
  if (text[first] != '{') {
    return Status::InvalidInput(
        "metrics.json must hold a JSON object like {\"error\": 0.25}, "
        "it starts with '" +
        Excerpt(text.substr(first), 10) + "'");
  }
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  } catch (const std::exception& e) {  // Not expected with allow_exceptions = false.
    return Status::InvalidInput(std::string("metrics.json is not valid JSON: ") + e.what());
  }
  if (j.is_discarded()) {
    // Re-parse with exceptions only to get the position of the error for the message.
    std::string why = "syntax error";
    try {
      nlohmann::json again = nlohmann::json::parse(text);
      (void)again;
    } catch (const nlohmann::json::exception& e) {
      why = e.what();
    } catch (const std::exception& e) {
      why = e.what();
    }
    return Status::InvalidInput("metrics.json is not valid JSON: " + why);
  }
  if (!j.is_object()) return Status::InvalidInput("metrics.json must hold a JSON object");
  if (j.size() > kMaxMetrics) {
    return Status::InvalidInput("metrics.json has " + std::to_string(j.size()) +
                                " keys; at most 1000 are allowed");
  }
  std::map<std::string, double> out;
  for (auto it = j.begin(); it != j.end(); ++it) {
    const std::string& key = it.key();
    if (!IsMetricName(key)) {
      return Status::InvalidInput("metrics.json: key '" + Excerpt(key) +
                                  "' is not a metric name (1-64 characters of letters, digits, "
                                  "'_', '.', '-')");
    }
    if (!it.value().is_number()) {
      return Status::InvalidInput("metrics.json: value of '" + key + "' must be a number, got " +
                                  std::string(it.value().type_name()));
    }
    double v = it.value().get<double>();
    if (!std::isfinite(v)) {
      return Status::InvalidInput("metrics.json: value of '" + key + "' is not finite");
    }
    out[key] = v;
  }
  return out;
}

std::string NotRegularFileReason(unsigned mode) {
  if (S_ISFIFO(mode)) return "is a FIFO (named pipe)";
  if (S_ISDIR(mode)) return "is a directory";
  if (S_ISSOCK(mode)) return "is a socket";
  if (S_ISCHR(mode) || S_ISBLK(mode)) return "is a device";
  return "is not a regular file";
}

int OpenRegularFile(const std::string& path, std::string* why) {
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
  if (fd < 0) {
    *why = std::strerror(errno);
    return -1;
  }
  struct stat st;
  if (fstat(fd, &st) != 0) {
    *why = std::strerror(errno);
    close(fd);
    return -1;
  }
  if (!S_ISREG(st.st_mode)) {
    *why = NotRegularFileReason(st.st_mode);
    close(fd);
    return -1;
  }
  return fd;
}

Result<std::map<std::string, double>> ReadMetricsFile(const std::string& path) {
  // O_NONBLOCK: opening a FIFO for reading would otherwise wait for a writer, for ever (a trainer
  // that made metrics.json a FIFO hung the sweep). Regular files ignore the flag.
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
  if (fd < 0) {
    if (errno == ENOENT) return Status::NotFound(path + " does not exist");
    return Status::IOError("cannot open " + path + ": " + std::strerror(errno));
  }
  struct stat st;
  if (fstat(fd, &st) != 0) {
    const int e = errno;
    close(fd);
    return Status::IOError("cannot stat " + path + ": " + std::strerror(e));
  }
  if (!S_ISREG(st.st_mode)) {
    close(fd);
    return Status::InvalidInput(path + " " + NotRegularFileReason(st.st_mode) +
                                ", not a regular file; write metrics.json as a file (to a "
                                "temporary name, then rename it)");
  }
  std::string text;
  char buf[65536];
  while (true) {
    ssize_t n = read(fd, buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int e = errno;
      close(fd);
      return Status::IOError("cannot read " + path + ": " + std::strerror(e));
    }
    if (n == 0) break;
    text.append(buf, static_cast<size_t>(n));
    if (text.size() > kMaxMetricsBytes) {
      close(fd);
      return Status::InvalidInput(path + " is larger than 1 MiB");
    }
  }
  close(fd);
  return ParseMetricsJson(text);
}

Status ApplyErrorMetric(const std::string& metric, std::map<std::string, double>* metrics) {
  auto it = metrics->find(metric);
  if (it == metrics->end()) {
    return Status::InvalidInput("metrics.json has no '" + metric +
                                "' (command.metric); it must contain it as a number");
  }
  if (metric == "accuracy") {
    if (it->second < 0.0 || it->second > 1.0) {
      return Status::InvalidInput("metrics.json: accuracy " + FormatNumber(it->second) +
                                  " is outside [0, 1]");
    }
    (*metrics)["error"] = 1.0 - it->second;
  } else if (metric != "error") {
    (*metrics)["error"] = it->second;
  }
  return Status::OK();
}

}  // namespace command
}  // namespace vlmscale::jobs
