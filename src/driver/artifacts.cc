#include "driver/artifacts.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

namespace vlmscale::driver {

std::string JobDir(const config::Sweep& sweep, const config::JobSpec& job) {
  return sweep.artifact_dir + "/" + job.id;
}

Status WriteResultFile(const std::string& job_dir, const config::Sweep& sweep,
                       const config::JobSpec& job, const std::map<std::string, double>& metrics) {
  nlohmann::json m = nlohmann::json::object();
  for (const auto& [k, v] : metrics) m[k] = std::isfinite(v) ? nlohmann::json(v) : nullptr;
  nlohmann::json doc = {{"job_id", job.id}, {"stage", sweep.stage_of(job).name}, {"metrics", m}};
  const std::string text = doc.dump(1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
  const std::string path = job_dir + "/result.json";
  const std::string tmp = path + ".tmp";
  // No fsync: a result.json lost in a crash only makes a child re-run this job (the recovery
  // path for missing artifacts), and 100,000 fsyncs would cost more than the jobs.
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return Status::IOError("cannot write " + tmp + ": " + std::strerror(errno));
  size_t off = 0;
  while (off < text.size()) {
    ssize_t n = ::write(fd, text.data() + off, text.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      int e = errno;
      ::close(fd);
      ::unlink(tmp.c_str());
      return Status::IOError("cannot write " + tmp + ": " + std::strerror(e));
    }
    off += static_cast<size_t>(n);
  }
  if (::close(fd) != 0 || std::rename(tmp.c_str(), path.c_str()) != 0) {
    int e = errno;
    ::unlink(tmp.c_str());
    return Status::IOError("cannot write " + path + ": " + std::strerror(e));
  }
  return Status::OK();
}

Result<std::map<std::string, double>> ReadResultFile(const std::string& job_dir,
                                                     const std::string& job_id) {
  const std::string path = job_dir + "/result.json";
  if (::access(path.c_str(), F_OK) != 0) {
    if (errno == ENOENT || errno == ENOTDIR) return Status::NotFound(path + " is missing");
    return Status::IOError("cannot read " + path + ": " + std::strerror(errno));
  }
  std::ifstream in(path);
  if (!in) return Status::IOError("cannot read " + path + ": " + std::strerror(errno));
  std::stringstream buf;
  buf << in.rdbuf();
  std::map<std::string, double> metrics;
  try {
    nlohmann::json doc = nlohmann::json::parse(buf.str());
    if (!doc.is_object() || !doc.contains("job_id") || !doc["job_id"].is_string() ||
        doc["job_id"].get<std::string>() != job_id) {
      return Status::IOError(path + " does not belong to job " + job_id);
    }
    const nlohmann::json& m = doc.at("metrics");
    if (!m.is_object()) return Status::IOError(path + ": 'metrics' is not an object");
    for (const auto& [k, v] : m.items()) {
      if (v.is_number()) {
        metrics[k] = v.get<double>();
      } else if (v.is_null()) {
        metrics[k] = std::nan("");
      } else {
        return Status::IOError(path + ": metric '" + k + "' is not a number");
      }
    }
  } catch (const std::exception& e) {
    return Status::IOError(path + " is not a vlmscale result file: " + e.what());
  }
  return metrics;
}

}  // namespace vlmscale::driver
