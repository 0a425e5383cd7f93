#include "driver/progress_printer.h"

#include <sys/resource.h>
#include <time.h>

#include <cmath>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <vector>

#include "core/status.h"
#include "core/strings.h"
#include "driver/timing.h"

namespace vlmscale::driver {

namespace {

double ThreadCpuSeconds() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}

double MaxRssMb() {
  rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return static_cast<double>(ru.ru_maxrss) / 1024.0;  // ru_maxrss is in KiB on Linux.
}

}  // namespace

std::string FormatDuration(double s) {
  if (!std::isfinite(s) || s < 0) return "?";
  char buf[64];
  long t = std::lround(s);
  if (t >= 3600) {
    std::snprintf(buf, sizeof(buf), "%ldh%02ldm", t / 3600, (t % 3600) / 60);
  } else if (t >= 60) {
    std::snprintf(buf, sizeof(buf), "%ldm%02lds", t / 60, t % 60);
  } else {
    std::snprintf(buf, sizeof(buf), "%.1fs", s);
  }
  return buf;
}

std::string FirstLine(const std::string& s) {
  size_t nl = s.find('\n');
  std::string first = nl == std::string::npos ? s : s.substr(0, nl) + " ...";
  return first.size() > 300 ? first.substr(0, 300) + "..." : first;
}

ProgressPrinter::ProgressPrinter(const config::Sweep* sweep, const Topology* topology,
                                 const DriverOptions* options, const Scheduler* scheduler,
                                 std::ostream* out, double start)
    : sweep_(*sweep),
      topology_(*topology),
      options_(*options),
      sched_(*scheduler),
      out_(*out),
      start_(start) {}

void ProgressPrinter::Log(const std::string& line) {
  if (options_.log_format == LogFormat::kJson) {
    out_ << nlohmann::json{{"event", "log"}, {"time", UnixNow()}, {"message", line}}.dump(
                -1, ' ', false, nlohmann::json::error_handler_t::replace)
         << std::endl;
  } else {
    out_ << "vlmscale run: " << line << std::endl;
  }
}

void ProgressPrinter::Start() {
  if (options_.log_format == LogFormat::kJson) {
    out_ << nlohmann::json{{"event", "start"},
                           {"sweep", sweep_.name},
                           {"output", sweep_.output},
                           {"jobs", sweep_.jobs.size()},
                           {"to_run", sched_.pending()},
                           {"already_done", sched_.skipped()},
                           {"ranks", topology_.world_size},
                           {"ranks_per_job", topology_.ranks_per_job}}
                .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace)
         << std::endl;
    return;
  }
  out_ << "vlmscale run: sweep '" << sweep_.name << "': " << sweep_.jobs.size() << " jobs ("
       << sched_.skipped() << " already done, " << sched_.pending() << " to run) on "
       << topology_.world_size << " ranks, " << JobSizes() << " -> " << sweep_.output << std::endl;
}

std::string ProgressPrinter::JobSizes() const {
  int lo = 0, hi = 0;
  for (const auto& j : sweep_.jobs) {
    lo = lo == 0 ? j.ranks : std::min(lo, j.ranks);
    hi = std::max(hi, j.ranks);
  }
  if (lo == 0) lo = hi = topology_.ranks_per_job;
  std::string sizes = lo == hi ? std::to_string(lo) : std::to_string(lo) + "-" + std::to_string(hi);
  return "jobs of " + sizes + (hi == 1 ? " rank" : " ranks");
}

void ProgressPrinter::Job(const JobResultMessage& r, int rank, bool final_failure, int failures) {
  if (!r.started || (options_.quiet && r.outcome == Outcome::kDone)) return;
  const config::JobSpec& spec = sweep_.jobs[r.index];
  const auto& p = spec.point;
  double seconds = r.end_time - r.start_time;
  int64_t finished = sched_.done() + sched_.failed() + sched_.skipped();
  if (options_.log_format == LogFormat::kJson) {
    nlohmann::json j = {{"event", "job"},
                        {"job_id", spec.id},
                        {"outcome", OutcomeName(r.outcome)},
                        {"final", r.outcome != Outcome::kFailed || final_failure},
                        {"attempt", r.attempt},
                        {"llm", p.llm},
                        {"n_params", p.n_params},
                        {"visual_tokens", p.visual_tokens},
                        {"method", p.method},
                        {"task", p.task},
                        {"seed", p.seed},
                        {"stage", sweep_.stage_of(spec).name},
                        {"seconds", seconds},
                        {"rank", rank}};
    auto e = r.metrics.find("error");
    if (e != r.metrics.end() && std::isfinite(e->second)) j["error"] = e->second;
    if (!r.failure_class.empty()) j["failure_class"] = r.failure_class;
    if (!r.message.empty()) j["message"] = r.message;
    out_ << j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << std::endl;
    return;
  }
  char head[128];
  std::snprintf(head, sizeof(head), "[%*lld/%zu] ",
                static_cast<int>(std::to_string(sweep_.jobs.size()).size()),
                static_cast<long long>(finished), sweep_.jobs.size());
  std::string point = p.llm + " N=" + HumanCount(p.n_params) +
                      " V=" + std::to_string(p.visual_tokens) + " " + p.method + " " + p.task +
                      " s" + std::to_string(p.seed);
  if (sweep_.multi_stage()) {  // The stage and the axes it varies.
    const config::StageSpec& st = sweep_.stage_of(spec);
    point = st.name + ":";
    if (st.Varies("llm")) point += " " + p.llm + " N=" + HumanCount(p.n_params);
    if (st.Varies("visual_tokens")) point += " V=" + std::to_string(p.visual_tokens);
    if (st.Varies("method")) point += " " + p.method;
    if (st.Varies("task")) point += " " + p.task;
    if (st.Varies("seed")) point += " s" + std::to_string(p.seed);
    for (const auto& [name, value] : p.axes) point += " " + name + "=" + value;
  }
  std::string line = head;
  if (r.outcome == Outcome::kDone) {
    auto e = r.metrics.find("error");
    line += "done    " + spec.id + "  " + point +
            "  error=" + (e != r.metrics.end() ? FormatNumber(e->second, 4) : std::string("-")) +
            "  " + FormatDuration(seconds) + "  rank " + std::to_string(rank);
  } else if (r.outcome == Outcome::kFailed) {
    line += std::string(final_failure ? "FAILED  " : "failed  ") + spec.id + "  " + point + "  [" +
            r.failure_class + "] attempt " + std::to_string(failures) + "/" +
            std::to_string(options_.max_attempts) + (final_failure ? "" : " (will retry)") + ": " +
            FirstLine(r.message);
  } else {
    line += "stopped " + spec.id + "  " + point + "  (will resume)";
  }
  out_ << line << std::endl;
}

void ProgressPrinter::Progress(double now, bool force) {
  if (!force && now - last_progress_print_ < 1.0 && !sched_.Settled()) return;
  last_progress_print_ = now;
  if (options_.quiet) return;
  double eta = sched_.calibrated() ? sched_.EtaSeconds(topology_.default_slots()) : NAN;
  if (options_.log_format == LogFormat::kJson) {
    out_ << nlohmann::json{{"event", "progress"},
                           {"done", sched_.done() + sched_.skipped()},
                           {"failed", sched_.failed()},
                           {"blocked", sched_.blocked()},
                           {"running", sched_.running()},
                           {"pending", sched_.pending()},
                           {"elapsed_seconds", now - start_},
                           {"eta_seconds",
                            std::isfinite(eta) ? nlohmann::json(eta) : nlohmann::json(nullptr)}}
                .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace)
         << std::endl;
    return;
  }
  out_ << "progress: " << sched_.done() + sched_.skipped() << " done, " << sched_.failed()
       << " failed, " << sched_.running() << " running, " << sched_.pending()
       << " pending | elapsed " << FormatDuration(now - start_) << " | ETA "
       << (std::isfinite(eta) ? FormatDuration(eta) : std::string("(measuring)")) << std::endl;
}

void ProgressPrinter::Summary(const store::ResultsStore& store, int exit_code, double now) {
  double elapsed = now - start_;
  std::map<std::string, int> classes;
  std::vector<store::JobRecord> failed;
  for (const auto& j : sweep_.jobs) {
    const int64_t row = store.job_index(j.id);
    if (row >= 0 && store.job_state(static_cast<size_t>(row)) == store::JobState::kFailed) {
      failed.push_back(store.job(static_cast<size_t>(row)));
      classes[failed.back().failure_class]++;
    }
  }
  if (options_.log_format == LogFormat::kJson) {
    out_ << nlohmann::json{{"event", "summary"},
                           {"done", sched_.done() + sched_.skipped()},
                           {"done_this_run", sched_.done()},
                           {"failed", sched_.failed()},
                           {"blocked", sched_.blocked()},
                           {"withheld", sched_.withheld_count()},
                           {"pending", sched_.pending() + sched_.running()},
                           {"elapsed_seconds", elapsed},
                           {"coordinator_cpu_seconds", ThreadCpuSeconds()},
                           {"rank0_max_rss_mb", MaxRssMb()},
                           {"exit_code", exit_code},
                           {"output", sweep_.output}}
                .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace)
         << std::endl;
    return;
  }
  out_ << "\n== summary: sweep '" << sweep_.name << "' (" << sweep_.output << ")\n"
       << "  jobs            " << sweep_.jobs.size() << "\n"
       << "  done            " << sched_.done() + sched_.skipped() << " (" << sched_.done()
       << " this run)\n"
       << "  failed          " << sched_.failed() << "\n";
  if (sched_.withheld_count() > 0) {
    out_ << "  withheld        " << sched_.withheld_count()
         << " (adaptive design: not chosen, not run)\n";
  }
  if (sched_.blocked() > 0) {
    out_ << "  blocked         " << sched_.blocked()
         << " (need a failed job; the next run retries it, then runs them)\n";
  }
  out_ << "  not finished    " << sched_.pending() + sched_.running() << "\n"
       << "  elapsed         " << FormatDuration(elapsed) << "\n"
       << "  coordinator     " << FormatNumber(ThreadCpuSeconds(), 3) << " s CPU, rank 0 peak "
       << FormatNumber(MaxRssMb(), 4) << " MiB\n";
  for (const auto& [cls, n] : classes) {
    out_ << "  failed [" << cls << "]" << std::string(cls.size() < 6 ? 6 - cls.size() : 0, ' ')
         << "  " << n << "\n";
  }
  for (const store::JobRecord& r : failed) {
    out_ << "  - " << r.job_id << " " << r.llm << " V=" << r.visual_tokens << " " << r.method << " "
         << r.task << " s" << r.seed << " [" << r.failure_class << "] after " << r.attempts
         << " attempts: " << FirstLine(r.message) << "\n";
  }
  const char* verdict = exit_code == kExitOk        ? "complete"
                        : exit_code == kExitStopped ? "stopped; run the same command to resume"
                                                    : "finished with failures (exit 1)";
  out_ << "  status          " << verdict << std::endl;
}

}  // namespace vlmscale::driver
