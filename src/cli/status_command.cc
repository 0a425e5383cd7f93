// vlmscale status RESULTS.h5 [--json]: progress of a sweep, live while it runs (read-only).
#include <chrono>
#include <cmath>
#include <cstdio>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>

#include "cli/cli_util.h"
#include "cli/command.h"
#include "core/strings.h"
#include "store/results_store.h"

namespace vlmscale::cli {
namespace {

using nlohmann::json;

double NowUnix() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

std::string Duration(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) return "?";
  long long s = std::llround(seconds);
  char buf[64];
  if (s >= 86400) {
    std::snprintf(buf, sizeof(buf), "%lldd %02lldh", s / 86400, s % 86400 / 3600);
  } else if (s >= 3600) {
    std::snprintf(buf, sizeof(buf), "%lldh %02lldm", s / 3600, s % 3600 / 60);
  } else if (s >= 60) {
    std::snprintf(buf, sizeof(buf), "%lldm %02llds", s / 60, s % 60);
  } else {
    std::snprintf(buf, sizeof(buf), "%llds", s);
  }
  return buf;
}

// The first line of a message, cut to `max` characters.
std::string Brief(const std::string& message, size_t max = 160) {
  std::string line = message.substr(0, message.find('\n'));
  if (line.size() > max) line = line.substr(0, max) + "...";
  return line;
}

// A run-info value that may be a number or a numeric string; null if absent.
json NumberOrNull(const json& run_info, const char* key) {
  auto it = run_info.find(key);
  if (it == run_info.end() || it->is_null()) return nullptr;
  if (it->is_number()) return *it;
  if (it->is_string()) {
    if (auto v = ParseDouble(it->get<std::string>())) return *v;
  }
  return nullptr;
}

// The status summary as JSON; the text output is printed from it too.
json Summarize(const store::ResultsFile& file, double now) {
  json run_info = json::parse(file.run_info_json, nullptr, /*allow_exceptions=*/false);
  if (!run_info.is_object()) run_info = json::object();
  int64_t done = 0, failed = 0, running = 0, pending = 0, blocked = 0;
  // Per stage, in the order stages first appear (the plan's dependency order).
  std::vector<std::string> stage_order;
  std::map<std::string, std::map<std::string, int64_t>> per_stage;
  double done_seconds = 0;
  int64_t timed = 0;
  json failures = json::array(), running_jobs = json::array();
  for (const store::JobRecord& r : file.jobs) {
    json point = {{"job_id", r.job_id}, {"llm", r.llm},   {"visual_tokens", r.visual_tokens},
                  {"method", r.method}, {"task", r.task}, {"seed", r.seed}};
    if (!per_stage.count(r.stage)) stage_order.push_back(r.stage);
    auto& counts = per_stage[r.stage];
    ++counts["total"];
    ++counts[store::JobStateName(r.state)];
    switch (r.state) {
      case store::JobState::kBlocked:
        ++blocked;
        break;
      case store::JobState::kDone:
        ++done;
        if (r.start_time > 0 && r.end_time >= r.start_time) {
          done_seconds += r.end_time - r.start_time;
          ++timed;
        }
        break;
      case store::JobState::kFailed:
        ++failed;
        point["attempts"] = r.attempts;
        point["failure_class"] = r.failure_class;
        point["message"] = r.message;
        failures.push_back(std::move(point));
        break;
      case store::JobState::kRunning:
        ++running;
        point["rank"] = r.rank;
        point["host"] = r.host;
        point["attempts"] = r.attempts;
        point["elapsed_seconds"] = r.start_time > 0 ? json(now - r.start_time) : json(nullptr);
        running_jobs.push_back(std::move(point));
        break;
      case store::JobState::kPending:
        ++pending;
        break;
    }
  }
  int64_t total = static_cast<int64_t>(file.jobs.size());
  // The driver may announce the grid size before it has recorded every job.
  if (auto it = run_info.find("total_jobs"); it != run_info.end() && it->is_number_integer()) {
    int64_t announced = it->get<int64_t>();
    if (announced > total) {
      pending += announced - total;
      total = announced;
    }
  }
  json stages = json::array();
  if (stage_order.size() > 1 || (stage_order.size() == 1 && !stage_order[0].empty())) {
    for (const auto& name : stage_order) {
      json st = {{"stage", name}};
      for (const char* k : {"total", "done", "failed", "blocked", "running", "pending"}) {
        st[k] = per_stage[name][k];
      }
      stages.push_back(std::move(st));
    }
  }
  json eta = NumberOrNull(run_info, "eta_seconds");
  std::string eta_source = eta.is_null() ? "" : "driver";
  const int64_t remaining = pending + running;
  if (eta.is_null() && remaining == 0 && total > 0) {
    eta = 0.0;
    eta_source = "finished";
  } else if (eta.is_null() && timed > 0) {
    // Mean duration of the finished jobs, spread over the jobs running now (at least one).
    double mean = done_seconds / static_cast<double>(timed);
    eta =
        mean * static_cast<double>(remaining) / static_cast<double>(std::max<int64_t>(1, running));
    eta_source = "estimate";
  }
  json slurm = nullptr;
  if (auto it = run_info.find("slurm_job_id"); it != run_info.end() && !it->is_null()) {
    slurm = it->is_string() ? *it : json(it->dump());
  }
  json requeues = NumberOrNull(run_info, "requeue_count");
  if (requeues.is_null()) requeues = NumberOrNull(run_info, "requeues");
  if (requeues.is_number()) {  // A count; a value out of int64 range (hostile run info) is none.
    const double r = requeues.get<double>();
    requeues = std::isfinite(r) && std::fabs(r) < 9e18 ? json(static_cast<int64_t>(r)) : json();
  }
  json stalled = json::array();
  if (auto it = run_info.find("stalled_ranks"); it != run_info.end() && it->is_array()) {
    stalled = *it;
  }
  return json{{"path", file.path},
              {"sweep_name", file.sweep_name},
              {"vlmscale_version", file.vlmscale_version},
              {"git_commit", file.git_commit},
              {"total", total},
              {"done", done},
              {"failed", failed},
              {"running", running},
              {"pending", pending},
              {"blocked", blocked},
              {"stages", std::move(stages)},
              {"failures", std::move(failures)},
              {"running_jobs", std::move(running_jobs)},
              {"stalled_ranks", std::move(stalled)},
              {"eta_seconds", eta},
              {"eta_source", eta_source.empty() ? json(nullptr) : json(eta_source)},
              {"slurm_job_id", slurm},
              {"requeues", requeues},
              {"snapshot_time", file.snapshot_time > 0 ? json(file.snapshot_time) : json(nullptr)},
              {"run_info", run_info}};
}

void PrintText(const json& s) {
  std::printf("sweep %s  (%s; written by vlmscale %s, %s)\n",
              s["sweep_name"].get<std::string>().c_str(), s["path"].get<std::string>().c_str(),
              s["vlmscale_version"].get<std::string>().c_str(),
              s["git_commit"].get<std::string>().c_str());
  auto count = [](const json& j, const char* k) {
    return static_cast<long long>(j[k].get<int64_t>());
  };
  std::printf("jobs: %lld total: %lld done, %lld failed, %lld running, %lld pending",
              count(s, "total"), count(s, "done"), count(s, "failed"), count(s, "running"),
              count(s, "pending"));
  if (count(s, "blocked") > 0) {
    std::printf(", %lld blocked (a job they need failed)", count(s, "blocked"));
  }
  std::printf("\n");
  for (const json& st : s["stages"]) {
    std::printf("  stage %-12s %5lld jobs: %lld done, %lld failed, %lld blocked, %lld running, "
                "%lld pending\n",
                st["stage"].get<std::string>().c_str(), count(st, "total"), count(st, "done"),
                count(st, "failed"), count(st, "blocked"), count(st, "running"),
                count(st, "pending"));
  }
  if (!s["eta_seconds"].is_null()) {
    std::printf("eta: %s (%s)\n", Duration(s["eta_seconds"].get<double>()).c_str(),
                s["eta_source"].get<std::string>().c_str());
  } else {
    std::printf("eta: unknown (no finished job yet)\n");
  }
  if (!s["slurm_job_id"].is_null()) {
    std::printf("slurm job %s", s["slurm_job_id"].get<std::string>().c_str());
    if (!s["requeues"].is_null()) {
      std::printf(", requeued %lld times", static_cast<long long>(s["requeues"].get<int64_t>()));
    }
    std::printf("\n");
  } else if (!s["requeues"].is_null()) {
    std::printf("requeued %lld times\n", static_cast<long long>(s["requeues"].get<int64_t>()));
  }
  if (!s["stalled_ranks"].empty()) {
    std::printf("stalled ranks: %s  (no heartbeat; see the driver log)\n",
                s["stalled_ranks"].dump(-1, ' ', false, json::error_handler_t::replace).c_str());
  }
  if (!s["running_jobs"].empty()) {
    std::printf("\nrunning:\n");
    for (const json& r : s["running_jobs"]) {
      std::string elapsed =
          r["elapsed_seconds"].is_null() ? "?" : Duration(r["elapsed_seconds"].get<double>());
      std::printf("  %s  %s V=%lld %s %s seed=%lld  rank %d on %s, %s (attempt %d)\n",
                  r["job_id"].get<std::string>().c_str(), r["llm"].get<std::string>().c_str(),
                  static_cast<long long>(r["visual_tokens"].get<int64_t>()),
                  r["method"].get<std::string>().c_str(), r["task"].get<std::string>().c_str(),
                  static_cast<long long>(r["seed"].get<int64_t>()), r["rank"].get<int>(),
                  r["host"].get<std::string>().empty() ? "?" : r["host"].get<std::string>().c_str(),
                  elapsed.c_str(), r["attempts"].get<int>());
    }
  }
  if (!s["failures"].empty()) {
    std::printf("\nfailed:\n");
    for (const json& r : s["failures"]) {
      std::printf("  %s  %s V=%lld %s %s seed=%lld  [%s after %d attempts] %s\n",
                  r["job_id"].get<std::string>().c_str(), r["llm"].get<std::string>().c_str(),
                  static_cast<long long>(r["visual_tokens"].get<int64_t>()),
                  r["method"].get<std::string>().c_str(), r["task"].get<std::string>().c_str(),
                  static_cast<long long>(r["seed"].get<int64_t>()),
                  r["failure_class"].get<std::string>().c_str(), r["attempts"].get<int>(),
                  Brief(r["message"].get<std::string>()).c_str());
    }
  }
}

int RunStatusCommand(const std::vector<std::string>& args) {
  po::options_description options(
      "vlmscale status RESULTS.h5 [--json]\n\nShows the progress of a sweep from its results "
      "file; safe while the sweep is running (reads only)");
  std::string path;
  options.add_options()("results", po::value(&path)->required(),
                        "results file written by vlmscale run")(
      "json", po::bool_switch(),
      "print one JSON object (keys: total, done, failed, running, "
      "pending, blocked, stages, failures, running_jobs, stalled_ranks, eta_seconds, "
      "slurm_job_id, requeues)");
  po::positional_options_description positional;
  positional.add("results", 1);
  po::variables_map vm;
  bool help = false;
  Status s = ParseArgs("status", args, options, positional, &vm, &help);
  if (help) {
    std::cout << options << "\n";
    return kExitOk;
  }
  if (!s.ok()) return ReportError("status", s);
  Result<store::ResultsFile> file = store::ReadResults(path);
  if (!file.ok()) {
    if (file.status().code() == Status::Code::kNotFound) {
      ReportError("status", file.status().WithPrefix("nothing to show (has the sweep started? "
                                                     "check the results path)"));
      return kExitUsage;
    }
    return ReportError("status", file.status());
  }
  if (!file->warning.empty()) std::cerr << "vlmscale status: warning: " << file->warning << "\n";
  json summary = Summarize(*file, NowUnix());
  if (vm["json"].as<bool>()) {
    std::cout << summary.dump(2, ' ', false, json::error_handler_t::replace) << std::endl;
  } else {
    PrintText(summary);
  }
  return kExitOk;
}

}  // namespace

VLMSCALE_REGISTER_COMMAND("status", 40, "show the progress of a sweep from its results file",
                          RunStatusCommand);

}  // namespace vlmscale::cli
