// vlmscale status RESULTS.h5|CONFIG [--watch [S]] [--json] [--fit]: progress of a sweep, live
// while it runs (read-only). The sweep's state comes from the driver's run info (its `state`, and
// the age of its `updated` heartbeat, rewritten every second while the driver lives, with the
// running jobs' phase, step and loss) and the job records. --fit adds the live fit of the done
// jobs and how it moved over the last rounds (cli/live_fit.h).
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>

#include "cli/cli_util.h"
#include "cli/command.h"
#include "cli/live_fit.h"
#include "config/sweep.h"
#include "core/strings.h"
#include "fit/observations.h"
#include "jobs/job_type.h"
#include "store/results_store.h"
#include "store/settings.h"

namespace vlmscale::cli {
namespace {

using nlohmann::json;

// A driver ETA above this is not shown (an uncalibrated or absurd prediction).
constexpr double kMaxEtaSeconds = 366.0 * 86400.0;

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

// "2026-12-03 20:10:05 UTC".
std::string UtcTime(double unix_seconds) {
  std::time_t t = static_cast<std::time_t>(unix_seconds);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[64];
  std::strftime(buf, sizeof(buf), "%Y-%m-%d %H:%M:%S UTC", &tm);
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

// The sweep's state: {"state", "detail", "heartbeat_age_seconds", "stop_reason", "stopped_at"}.
//   running / stopping: the driver says so and its heartbeat is younger than `dead_after`;
//   dead: it says running or stopping but has not updated the run info for `dead_after` seconds
//         (killed, or its machine went away);
//   stopped: it stopped on a signal (or a store failure) and saved everything;
//   complete: it finished with every job done; failed: it finished, some jobs failed finally;
//   unknown: no driver state in the file (written by a vlmscale without one, or never run).
json SweepState(const json& run_info, int64_t total, int64_t done, int64_t failed, int64_t blocked,
                int64_t withheld, double now, double dead_after) {
  std::string driver_state;
  if (auto it = run_info.find("state"); it != run_info.end() && it->is_string()) {
    driver_state = it->get<std::string>();
  }
  json updated = NumberOrNull(run_info, "updated");
  json age = updated.is_number() ? json(now - updated.get<double>()) : json(nullptr);
  json stop_reason = nullptr;
  if (auto it = run_info.find("stop_reason"); it != run_info.end() && it->is_string()) {
    stop_reason = *it;
  }
  json stop_at = NumberOrNull(run_info, "stop_requested_at");
  std::string state, detail;
  const std::string why = stop_reason.is_string() ? stop_reason.get<std::string>() : "a stop";
  const std::string when =
      stop_at.is_number() ? " at " + UtcTime(stop_at.get<double>()) + ", " +
                                Duration(now - stop_at.get<double>()) + " ago"
                          : "";
  if (driver_state == "finished" && withheld > 0 && done + withheld == total) {
    // An adaptive sweep that stopped for its stated reason; the rest of the grid was not needed.
    state = "complete";
    std::string reason = "?";
    if (auto a = run_info.find("adaptive"); a != run_info.end() && a->is_object() &&
                                            a->contains("stop_reason") &&
                                            (*a)["stop_reason"].is_string()) {
      reason = (*a)["stop_reason"].get<std::string>();
    }
    detail = "the adaptive design stopped (" + reason + "); " + std::to_string(withheld) +
             " candidate(s) withheld, not run";
  } else if (driver_state == "finished") {
    state = done == total ? "complete" : "failed";
    detail = done == total ? "every job is done"
                           : std::to_string(failed) + " failed, " + std::to_string(blocked) +
                                 " blocked; run the same command to retry them";
  } else if (driver_state == "stopped") {
    state = "stopped";
    detail = why + when + "; run the same command to resume";
  } else if (driver_state == "running" || driver_state == "stopping") {
    if (age.is_number() && age.get<double>() > dead_after) {
      state = "dead";
      detail = "no driver heartbeat for " + Duration(age.get<double>()) + " (last " +
               UtcTime(updated.get<double>()) + ") while the store says " + driver_state +
               ": the driver is gone; run the same command to resume";
    } else {
      state = driver_state;
      detail = driver_state == "stopping"
                   ? why + when + "; running jobs checkpoint and stop"
                   : (age.is_number() ? "driver heartbeat " + Duration(age.get<double>()) + " ago"
                                      : "no heartbeat time recorded");
    }
  } else {
    state = "unknown";
    detail = "no driver state in this file";
  }
  return json{{"state", state},
              {"detail", detail},
              {"heartbeat_age_seconds", age},
              {"stop_reason", stop_reason},
              {"stop_requested_at", stop_at}};
}

// The adaptive sweep's journal (the run info's "adaptive", driver/adaptive_controller.h) as
// status shows it, or null for a full sweep: the rounds (results used, chosen, width, spend,
// alpha and beta), the latest width against the tolerance, spend against the budget, the stop
// reason, and the candidates withheld (pending jobs that neither the initial design nor a round
// released), counted from the job records.
json AdaptiveSummary(const json& run_info, const store::ResultsFile& file) {
  auto it = run_info.find("adaptive");
  if (it == run_info.end() || !it->is_object()) return nullptr;
  const json& a = *it;
  std::set<std::string> released;
  auto add = [&](const json& ids) {
    if (!ids.is_array()) return;
    for (const auto& id : ids) {
      if (id.is_string()) released.insert(id.get<std::string>());
    }
  };
  add(a.value("initial", json()));
  add(a.value("released_ancestors", json()));
  json rounds = json::array();
  if (a.contains("rounds") && a["rounds"].is_array()) {
    for (const json& r : a["rounds"]) {
      if (!r.is_object()) continue;
      add(r.value("chosen", json()));
      json brief = r;
      brief["n_results"] = r.value("results", json::array()).size();
      rounds.push_back(std::move(brief));
    }
  }
  int64_t withheld = 0;
  json by_stage = json::object();
  for (const store::JobRecord& r : file.jobs) {
    if (r.state != store::JobState::kPending || released.count(r.job_id)) continue;
    ++withheld;
    by_stage[r.stage] = by_stage.value(r.stage, 0) + 1;
  }
  json last = rounds.empty() ? json() : rounds.back();
  json out = a;
  out["withheld"] = withheld;
  out["withheld_by_stage"] = std::move(by_stage);
  out["rounds"] = rounds;
  out["width"] = last.is_object() ? last.value("width", json()) : json();
  out["spent_flops"] = last.is_object() ? last.value("spent_flops", json()) : json();
  out["spent_jobs"] = last.is_object() ? last.value("spent_jobs", json()) : json();
  return out;
}

void PrintAdaptive(const json& a) {
  if (a.is_null()) return;
  auto num = [](const json& j, int digits = 4) {
    return j.is_number() ? FormatNumber(j.get<double>(), digits) : std::string("-");
  };
  std::printf(
      "\nadaptive design: target %s, tolerance %s, batch %lld; %zu round(s), %lld "
      "candidate(s) of %lld withheld\n",
      a.value("target", std::string("?")).c_str(), num(a["tolerance"]).c_str(),
      static_cast<long long>(a.value("batch", 0)), a["rounds"].size(),
      static_cast<long long>(a["withheld"].get<int64_t>()),
      static_cast<long long>(a.value("candidates", 0)));
  std::printf("  width %s (tolerance %s); spent %s FLOPs%s, %s jobs%s\n", num(a["width"]).c_str(),
              num(a["tolerance"]).c_str(), num(a["spent_flops"]).c_str(),
              a["budget_flops"].is_number() ? (" of " + num(a["budget_flops"])).c_str() : "",
              num(a["spent_jobs"], 6).c_str(),
              a["budget_jobs"].is_number() ? (" of " + num(a["budget_jobs"], 6)).c_str() : "");
  if (!a["rounds"].empty()) {
    const json& last = a["rounds"].back();
    const bool frontier = a.value("target", std::string()) == "frontier";
    for (const json& t : last.value("target", json::array())) {
      std::string where = frontier ? "T* at budget " + num(t["budget"]) : "Y at the target";
      std::printf("  %s: %s [%s, %s] (round %lld)\n", where.c_str(), num(t["value"]).c_str(),
                  num(t["ci95"][0]).c_str(), num(t["ci95"][1]).c_str(),
                  static_cast<long long>(last.value("round", 0)));
    }
  }
  std::printf("  stop: %s\n", a["stop_reason"].is_string()
                                  ? (a["stop_reason"].get<std::string>() + ": " +
                                     a.value("stop_message", std::string()))
                                        .c_str()
                                  : "not yet (running rounds)");
  std::printf("  %5s  %7s  %6s  %9s  %-26s  %-26s  %s\n", "round", "results", "chosen", "width",
              "alpha [95%]", "beta [95%]", "stop");
  const json& rounds = a["rounds"];
  const size_t first = rounds.size() > 8 ? rounds.size() - 8 : 0;
  for (size_t i = first; i < rounds.size(); ++i) {
    const json& r = rounds[i];
    auto param = [&](const char* k) {
      if (!r.contains(k) || !r[k].is_object()) return std::string("-");
      const json& p = r[k];
      std::string s = num(p["value"]);
      if (p["ci95"].is_array()) s += " [" + num(p["ci95"][0]) + ", " + num(p["ci95"][1]) + "]";
      return s;
    };
    std::printf("  %5lld  %7lld  %6zu  %9s  %-26s  %-26s  %s\n",
                static_cast<long long>(r.value("round", 0)),
                static_cast<long long>(r["n_results"].get<int64_t>()),
                r.value("chosen", json::array()).size(), num(r["width"]).c_str(),
                param("alpha").c_str(), param("beta").c_str(),
                r.value("stop", std::string("?")).c_str());
  }
}

// The status summary as JSON; the text output is printed from it too. A driver that said running
// but has not updated its run info for `dead_after` seconds is dead.
json Summarize(const store::ResultsFile& file, double now, double dead_after) {
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
  // Counts per combination of the varied settings (jobs made with different settings).
  const std::vector<std::string> varied = store::VariedSettingKeys(file.jobs);
  json settings = json::array();
  if (!varied.empty()) {
    std::vector<std::string> order;
    std::map<std::string, std::map<std::string, int64_t>> counts;
    std::map<std::string, json> values;
    for (const store::JobRecord& r : file.jobs) {
      const std::string key = store::DescribeSettings(r, varied);
      if (!counts.count(key)) {
        order.push_back(key);
        json v = json::object();
        for (const std::string& k : varied) v[k] = store::SettingValue(r, k);
        values[key] = std::move(v);
      }
      ++counts[key]["total"];
      ++counts[key][store::JobStateName(r.state)];
    }
    for (const std::string& key : order) {
      json g = {{"settings", values[key]}, {"label", key}};
      for (const char* k : {"total", "done", "failed", "blocked", "running", "pending"}) {
        g[k] = counts[key][k];
      }
      settings.push_back(std::move(g));
    }
  }
  // An adaptive sweep: pending jobs no round has released are withheld, not pending.
  json adaptive = AdaptiveSummary(run_info, file);
  int64_t withheld = adaptive.is_null() ? 0 : adaptive["withheld"].get<int64_t>();
  pending -= withheld;
  if (!adaptive.is_null()) {
    for (auto& st : stages) {
      const int64_t w = adaptive["withheld_by_stage"].value(st["stage"].get<std::string>(), 0);
      st["pending"] = st["pending"].get<int64_t>() - w;
      st["withheld"] = w;
    }
  }
  json state = SweepState(run_info, total, done, failed, blocked, withheld, now, dead_after);
  const std::string state_name = state["state"].get<std::string>();
  // With the driver gone or stopped, the store's running jobs run no more: interrupted (the next
  // run runs them again).
  int64_t interrupted = 0;
  if (state_name == "dead" || state_name == "stopped") {
    interrupted = running;
    pending += running;
    running = 0;
    for (auto& st : stages) {
      st["pending"] = st["pending"].get<int64_t>() + st["running"].get<int64_t>();
      st["running"] = 0;
    }
  }
  // An ETA only while the sweep runs (or when the file cannot say), from the driver once it
  // measured job durations (eta_calibrated; files without the flag are trusted), never absurd.
  const bool live = state_name == "running" || state_name == "stopping" || state_name == "unknown";
  json eta = NumberOrNull(run_info, "eta_seconds");
  if (auto it = run_info.find("eta_calibrated"); it != run_info.end() && it->is_boolean() &&
                                                 !it->get<bool>()) {
    eta = nullptr;
  }
  if (eta.is_number() && !(eta.get<double>() >= 0 && eta.get<double>() <= kMaxEtaSeconds)) {
    eta = nullptr;
  }
  if (!live) eta = nullptr;
  std::string eta_source = eta.is_null() ? "" : "driver";
  const int64_t remaining = pending + running;
  if (state_name == "complete" || (state_name == "unknown" && remaining == 0 && total > 0)) {
    eta = 0.0;
    eta_source = "finished";
  } else if (live && eta.is_null() && timed > 0) {
    // Mean duration of the finished jobs, spread over the jobs running now (at least one).
    double mean = done_seconds / static_cast<double>(timed);
    eta =
        mean * static_cast<double>(remaining) / static_cast<double>(std::max<int64_t>(1, running));
    eta_source = "estimate";
    if (!(eta.get<double>() <= kMaxEtaSeconds)) {
      eta = nullptr;
      eta_source.clear();
    }
  }
  // Rank-seconds the ranks spent idle so far (driver: RankPacker), and their share of all the
  // run's rank-seconds (ranks x seconds since it started).
  json idle = NumberOrNull(run_info, "idle_rank_seconds");
  if (idle.is_number() && !(idle.get<double>() >= 0 && std::isfinite(idle.get<double>()))) {
    idle = nullptr;
  }
  json idle_share = nullptr;
  {
    const json ranks = NumberOrNull(run_info, "ranks"), started = NumberOrNull(run_info, "started"),
               updated = NumberOrNull(run_info, "updated");
    if (idle.is_number() && ranks.is_number() && started.is_number() && updated.is_number()) {
      const double all = ranks.get<double>() * (updated.get<double>() - started.get<double>());
      if (all > 0 && std::isfinite(all)) idle_share = std::min(1.0, idle.get<double>() / all);
    }
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
  // The driver writes "stalled"; "stalled_ranks" is read too (what this reader looked for
  // before 2026-12-04, when it missed the driver's key).
  json stalled = json::array();
  for (const char* key : {"stalled", "stalled_ranks"}) {
    if (auto it = run_info.find(key); it != run_info.end() && it->is_array() && !it->empty()) {
      stalled = *it;
      break;
    }
  }
  // The live progress of running jobs (the driver's run info, rewritten every second).
  if (live) {
    std::map<std::string, const json*> progress;
    if (auto it = run_info.find("running_jobs"); it != run_info.end() && it->is_array()) {
      for (const json& j : *it) {
        if (j.is_object() && j.contains("job_id") && j["job_id"].is_string()) {
          progress[j["job_id"].get<std::string>()] = &j;
        }
      }
    }
    for (json& r : running_jobs) {
      auto it = progress.find(r["job_id"].get<std::string>());
      if (it == progress.end()) continue;
      const json& p = *it->second;
      if (p.contains("ranks") && p["ranks"].is_array()) r["ranks"] = p["ranks"];
      if (p.contains("phase") && p["phase"].is_string()) r["phase"] = p["phase"];
      for (const char* k : {"step", "total"}) {
        if (p.contains(k) && p[k].is_number_integer()) r[k] = p[k];
      }
      for (const char* k : {"loss", "phase_eta_seconds"}) {
        if (p.contains(k) && p[k].is_number()) r[k] = p[k];
      }
    }
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
              {"withheld", withheld},
              {"interrupted", interrupted},
              {"adaptive", adaptive},
              {"state", state["state"]},
              {"state_detail", state["detail"]},
              {"heartbeat_age_seconds", state["heartbeat_age_seconds"]},
              {"stop_reason", state["stop_reason"]},
              {"stop_requested_at", state["stop_requested_at"]},
              {"stages", std::move(stages)},
              {"varied_settings", varied},
              {"settings", std::move(settings)},
              {"failures", std::move(failures)},
              {"running_jobs", std::move(running_jobs)},
              {"stalled_ranks", std::move(stalled)},
              {"eta_seconds", eta},
              {"eta_source", eta_source.empty() ? json(nullptr) : json(eta_source)},
              {"idle_rank_seconds", idle},
              {"idle_rank_share", idle_share},
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
  std::printf("state: %s (%s)\n", s["state"].get<std::string>().c_str(),
              s["state_detail"].get<std::string>().c_str());
  std::printf("jobs: %lld total: %lld done, %lld failed, %lld running, %lld pending",
              count(s, "total"), count(s, "done"), count(s, "failed"), count(s, "running"),
              count(s, "pending"));
  if (count(s, "withheld") > 0) {
    std::printf(", %lld withheld (adaptive design: not chosen)", count(s, "withheld"));
  }
  if (count(s, "interrupted") > 0) {
    std::printf(" (%lld of them interrupted: they run again on resume)", count(s, "interrupted"));
  }
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
    if (const int64_t w = st.value("withheld", int64_t{0}); w > 0) {
      std::printf("  %-18s %5lld withheld (adaptive design: not chosen)\n", "",
                  static_cast<long long>(w));
    }
  }
  if (!s["settings"].empty()) {
    std::vector<std::string> keys = s["varied_settings"].get<std::vector<std::string>>();
    std::printf("settings that differ between jobs: %s\n", Join(keys, ", ").c_str());
    for (const json& g : s["settings"]) {
      std::printf(
          "  %s: %lld jobs: %lld done, %lld failed, %lld blocked, %lld running, "
          "%lld pending\n",
          g["label"].get<std::string>().c_str(), count(g, "total"), count(g, "done"),
          count(g, "failed"), count(g, "blocked"), count(g, "running"), count(g, "pending"));
    }
  }
  const std::string state = s["state"].get<std::string>();
  if (!s["eta_seconds"].is_null()) {
    std::printf("eta: %s (%s)\n", Duration(s["eta_seconds"].get<double>()).c_str(),
                s["eta_source"].get<std::string>().c_str());
  } else if (state == "running" || state == "stopping" || state == "unknown") {
    std::printf("eta: unknown (no job duration measured yet)\n");
  }
  if (!s["idle_rank_seconds"].is_null()) {
    std::printf("idle rank-seconds: %s",
                FormatNumber(s["idle_rank_seconds"].get<double>(), 4).c_str());
    if (!s["idle_rank_share"].is_null()) {
      std::printf(" (%.1f%% of the run's rank-seconds)",
                  100.0 * s["idle_rank_share"].get<double>());
    }
    std::printf("\n");
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
    std::printf(count(s, "interrupted") > 0 ? "\ninterrupted (were running when the driver "
                                              "ended; they run again on resume):\n"
                                            : "\nrunning:\n");
    std::printf("  %-16s  %-34s %-7s %-13s %-8s %-22s %-9s %s\n", "job", "point", "ranks", "host",
                "elapsed", "progress", "loss", "phase eta");
    for (const json& r : s["running_jobs"]) {
      std::string elapsed =
          r["elapsed_seconds"].is_null() ? "?" : Duration(r["elapsed_seconds"].get<double>());
      char point[256];
      std::snprintf(point, sizeof(point), "%s V=%lld %s %s seed=%lld",
                    r["llm"].get<std::string>().c_str(),
                    static_cast<long long>(r["visual_tokens"].get<int64_t>()),
                    r["method"].get<std::string>().c_str(), r["task"].get<std::string>().c_str(),
                    static_cast<long long>(r["seed"].get<int64_t>()));
      // The job's world ranks (picked per job, not necessarily consecutive).
      std::string ranks = std::to_string(r["rank"].get<int>());
      if (r.contains("ranks") && r["ranks"].size() > 1) {
        ranks.clear();
        for (const json& k : r["ranks"]) {
          ranks += (ranks.empty() ? "" : ",") + (k.is_number_integer() ? k.dump() : "?");
        }
      }
      std::string progress = "-", loss = "-", eta = "-";
      if (r.contains("phase")) {
        progress = r["phase"].get<std::string>();
        if (progress.size() > 14) progress = progress.substr(0, 14);
        if (r.contains("total") && r["total"].get<int64_t>() > 0) {
          progress += " " + std::to_string(r["step"].get<int64_t>()) + "/" +
                      std::to_string(r["total"].get<int64_t>());
        }
      }
      if (r.contains("loss")) loss = FormatNumber(r["loss"].get<double>(), 4);
      if (r.contains("phase_eta_seconds")) eta = Duration(r["phase_eta_seconds"].get<double>());
      const std::string host = r["host"].get<std::string>().empty() ? "?" : r["host"];
      std::printf("  %-16s  %-34s %-7s %-13s %-8s %-22s %-9s %s  (attempt %d)\n",
                  r["job_id"].get<std::string>().c_str(), point, ranks.c_str(),
                  host.substr(0, 13).c_str(), elapsed.c_str(), progress.c_str(), loss.c_str(),
                  eta.c_str(), r["attempts"].get<int>());
    }
  }
  PrintAdaptive(s["adaptive"]);
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

// The runs of `status --history`, one line each (older files have none: says so).
void PrintHistory(const json& runs, size_t count) {
  if (count == 0) {
    std::printf("\nhistory: no run records (the file was written by a vlmscale that kept none)\n");
    return;
  }
  std::printf("\nhistory: %zu runs\n", count);
  int i = 0;
  for (const json& r : runs) {
    std::string when = r.contains("time") && r["time"].is_number()
                           ? UtcTime(r["time"].get<double>())
                           : std::string("?");
    std::string sets;
    if (r.contains("overrides") && r["overrides"].is_array()) {
      for (const json& o : r["overrides"]) {
        if (o.is_string()) sets += " --set " + o.get<std::string>();
      }
    }
    auto text = [&](const char* k) {
      return r.contains(k) && r[k].is_string() ? r[k].get<std::string>() : std::string("?");
    };
    auto number = [&](const char* k) {
      return r.contains(k) && r[k].is_number_integer() ? std::to_string(r[k].get<int64_t>())
                                                       : std::string("?");
    };
    const bool mixed =
        r.contains("allow_mixed") && r["allow_mixed"].is_boolean() && r["allow_mixed"].get<bool>();
    std::printf("  %d  %s  on %s  vlmscale %s (%s)  %s%s%s: %s jobs, %s new\n", ++i, when.c_str(),
                text("host").c_str(), text("vlmscale_version").c_str(), text("git_commit").c_str(),
                text("config").c_str(), sets.c_str(), mixed ? " --allow-mixed" : "",
                number("jobs").c_str(), number("new_jobs").c_str());
  }
}

// Whether `path` starts with the HDF5 signature (a results snapshot). False if unreadable.
bool LooksLikeHdf5(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  char magic[8] = {};
  return f.read(magic, sizeof(magic)) && std::string(magic, 8) == "\x89HDF\r\n\x1a\n";
}

int RunStatusCommand(const std::vector<std::string>& args) {
  po::options_description options(
      "vlmscale status RESULTS.h5|CONFIG [--set k=v]... [--history] [--watch [SECONDS]] "
      "[--json] [--fit [--bootstrap K] [--budget C]... [--rounds R] [--round M]]\n\nShows the "
      "state and progress "
      "of a sweep from its results file (or from the config `vlmscale run` takes, which names "
      "it); safe while the sweep is running (reads only). --fit adds the fit of the done jobs "
      "(alpha, beta, beta/alpha with bootstrap 95% intervals, T* at budgets) per group, now and "
      "after earlier rounds");
  std::string path;
  std::vector<std::string> sets;
  double dead_after = 30.0;
  options.add_options()("results", po::value(&path)->required(),
                        "results file written by vlmscale run, or the sweep's config (.ini)")(
      "set", po::value(&sets)->composing(),
      "with a config: override section.key=value as given to run (repeatable)")(
      "dead-after", po::value(&dead_after),
      "seconds without a driver heartbeat (run info `updated`, rewritten every second) after "
      "which a sweep the file says is running is reported dead (default 30)")(
      "history", po::bool_switch(),
      "also list the runs that wrote to the file: time, host, vlmscale version, config, --set "
      "overrides, jobs added (JSON key runs, with each run's resolved config)")(
      "watch", po::value<double>()->implicit_value(2.0),
      "redraw every SECONDS (default 2) until the sweep is no longer running or stopping "
      "(complete, stopped, dead or failed), then print it once more and exit 0; with --json, one "
      "JSON object a line per redraw")(
      "json", po::bool_switch(),
      "print one JSON object (keys: state, state_detail, heartbeat_age_seconds, stop_reason, "
      "stop_requested_at, total, done, failed, running, pending, blocked, interrupted, stages, "
      "varied_settings, settings, failures, running_jobs, stalled_ranks, eta_seconds, "
      "eta_source, idle_rank_seconds, idle_rank_share, slurm_job_id, requeues; with --fit also "
      "fit)")(
      "fit", po::bool_switch(),
      "also fit the done jobs as `vlmscale fit` groups them, and show the fit after earlier "
      "rounds (each round: the done jobs that had ended by then) to see whether it settled; "
      "JSON key fit with each fit's job ids and result hashes (docs/OPERATING.md)")(
      "bootstrap", po::value<int>()->default_value(100),
      "with --fit: bootstrap resamples for the 95% intervals (0 = none, else >= 20)")(
      "budget", po::value<std::vector<double>>()->composing(),
      "with --fit: a budget C = 2*N*(Q+T) at which to give T*, repeatable (default: 3 "
      "log-spaced from the cheapest to the most expensive done point of each group)")(
      "rounds", po::value<int>()->default_value(4),
      "with --fit: rounds shown, the current fit included (default 4: after 25%, 50%, 75% and "
      "all of the done jobs)")(
      "round", po::value<int>()->default_value(0),
      "with --fit: jobs per round (the last --rounds rounds of M finished jobs each; default 0: "
      "equal fractions of the done jobs)")(
      "filter", po::value<std::vector<std::string>>()->composing(),
      "with --fit: key=value as for vlmscale fit (repeatable)")(
      "group-by", po::value<std::vector<std::string>>()->composing(),
      "with --fit: setting keys to group by, as for vlmscale fit");
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
  if (!(dead_after > 0) || !std::isfinite(dead_after)) {
    return ReportError("status", Status::InvalidInput("--dead-after: expected a positive number "
                                                      "of seconds, got " +
                                                      FormatNumber(dead_after)));
  }
  // A config (anything that is not an HDF5 file but exists, or any path with --set): its results
  // file, resolved as `vlmscale run` resolves it (sweep.output after the --set overrides).
  std::ifstream probe(path);
  const bool is_config = !sets.empty() || (probe.good() && !LooksLikeHdf5(path) &&
                                           !EndsWith(path, ".h5") && !EndsWith(path, ".hdf5"));
  probe.close();
  if (is_config) {
    Result<config::Config> cfg = jobs::LoadConfig(path, sets);
    if (!cfg.ok()) return ReportError("status", cfg.status());
    Result<config::Sweep> sweep = jobs::PlanSweep(*cfg);
    if (!sweep.ok()) return ReportError("status", sweep.status());
    path = sweep->output;
  }
  const bool as_json = vm["json"].as<bool>();
  const bool history = vm["history"].as<bool>();
  const bool with_fit = vm["fit"].as<bool>();
  LiveFitOptions fit_options;
  if (with_fit) {
    fit_options.request.source = path;
    fit_options.request.options.bootstrap = vm["bootstrap"].as<int>();
    fit_options.rounds = vm["rounds"].as<int>();
    fit_options.round_size = vm["round"].as<int>();
    if (vm.count("budget")) fit_options.budgets = vm["budget"].as<std::vector<double>>();
    if (vm.count("filter")) {
      for (const auto& f : vm["filter"].as<std::vector<std::string>>()) {
        auto kv = fit::ParseFilter(f);
        if (!kv.ok()) return ReportError("status", kv.status().WithPrefix("--filter"));
        fit_options.request.grouping.filters.push_back(*kv);
      }
    }
    if (vm.count("group-by")) {
      for (const auto& g : vm["group-by"].as<std::vector<std::string>>()) {
        for (const auto& key : SplitTrimmed(g, ',')) {
          fit_options.request.grouping.group_by.push_back(key);
        }
      }
    }
    std::string error;
    if (!fit_options.IsValid(&error)) {
      return ReportError("status", Status::InvalidInput("--fit: " + error));
    }
  } else {
    for (const char* k : {"budget", "filter", "group-by", "bootstrap", "rounds", "round"}) {
      if (vm.count(k) && !vm[k].defaulted()) {
        return ReportError("status", Status::InvalidInput(std::string("--") + k +
                                                          " needs --fit (it sets up the fit)"));
      }
    }
  }
  // The fit is recomputed only when the done jobs changed (--watch redraws).
  std::string fitted_jobs;
  json live_fit;
  const bool watch = vm.count("watch") > 0;
  const double every = watch ? vm["watch"].as<double>() : 0.0;
  if (watch && !(every >= 0.1 && every <= 86400.0)) {
    return ReportError("status", Status::InvalidInput("--watch: expected seconds in [0.1, 86400], "
                                                      "got " +
                                                      FormatNumber(every)));
  }
  // A terminal is redrawn in place; anything else (a log, a pipe) gets one report after another.
  const bool redraw = watch && !as_json && isatty(STDOUT_FILENO);
  while (true) {
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
    json summary = Summarize(*file, NowUnix(), dead_after);
    json runs = json::array();
    for (const std::string& text : file->runs) {
      json r = json::parse(text, nullptr, /*allow_exceptions=*/false);
      if (r.is_object()) runs.push_back(std::move(r));
    }
    if (history) summary["runs"] = runs;
    if (with_fit) {
      std::string done_jobs;
      for (const store::JobRecord& r : file->jobs) {
        if (r.state == store::JobState::kDone) {
          done_jobs += r.job_id + "@" + FormatNumber(r.end_time, 17) + "\n";
        }
      }
      if (live_fit.is_null() || done_jobs != fitted_jobs) {
        live_fit = LiveFit(fit_options, *file);
        fitted_jobs = std::move(done_jobs);
      }
      summary["fit"] = live_fit;
    }
    const std::string state = summary["state"].get<std::string>();
    const bool ongoing = state == "running" || state == "stopping";
    if (redraw) std::fputs("\033[H\033[2J", stdout);
    if (as_json) {
      std::cout << summary.dump(watch ? -1 : 2, ' ', false, json::error_handler_t::replace)
                << std::endl;
    } else {
      PrintText(summary);
      if (history) PrintHistory(runs, file->runs.size());
      if (with_fit) PrintLiveFit(live_fit, std::cout);
      if (watch && ongoing) {
        std::printf("\n(every %s; Ctrl-C to quit)\n", FormatNumber(every).c_str());
      } else if (watch) {
        std::printf("\n");
      }
      std::fflush(stdout);
    }
    if (!watch || !ongoing) return kExitOk;
    std::this_thread::sleep_for(std::chrono::duration<double>(every));
  }
}

}  // namespace

VLMSCALE_REGISTER_COMMAND("status", 40,
                          "show the state and progress of a sweep (its results file or config)",
                          RunStatusCommand);

}  // namespace vlmscale::cli
