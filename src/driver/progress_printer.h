// Everything the coordinator prints (stdout): the start line, one line per acknowledged job,
// progress lines, log lines and the summary, as text or as one JSON object per line
// (--log-format json; docs/ describes both).
#ifndef VLMSCALE_DRIVER_PROGRESS_PRINTER_H_
#define VLMSCALE_DRIVER_PROGRESS_PRINTER_H_

#include <map>
#include <ostream>
#include <string>

#include "config/sweep.h"
#include "driver/control_channel.h"
#include "driver/driver_options.h"
#include "driver/messages.h"
#include "driver/scheduler.h"
#include "store/job_record.h"
#include "store/results_store.h"

namespace vlmscale::driver {

// "12.3s", "4m05s", "2h07m"; "?" for negative or non-finite seconds.
std::string FormatDuration(double seconds);
// The first line of `s` (with " ..." if more follow), cut at 300 characters.
std::string FirstLine(const std::string& s);

class ProgressPrinter {
 public:
  // REQUIRES: every argument outlives the printer. Uses options.quiet, log_format and
  // max_attempts. `start` is the monotonic time the run started (elapsed times count from it).
  ProgressPrinter(const config::Sweep* sweep, const Topology* topology,
                  const DriverOptions* options, const Scheduler* scheduler, std::ostream* out,
                  double start);

  // "vlmscale run: <line>", or {"event": "log", ...}.
  void Log(const std::string& line);
  void Start();
  // An acknowledged job result led by world rank `rank`; `failures` counts the job's failed
  // attempts in this run up to this result. Silent for jobs that never started and, when quiet, for
  // finished ones.
  void Job(const JobResultMessage& r, int rank, bool final_failure, int failures);
  // A progress line at most once a second (unless `force` or the sweep is settled); none when
  // quiet. `now` is monotonic seconds.
  void Progress(double now, bool force);
  double last_progress_time() const { return last_progress_print_; }
  // The final summary. `jobs` is the store's state (failed jobs are listed from it).
  void Summary(const store::ResultsStore& store, int exit_code, double now);

 private:
  // "jobs of 2 ranks", "jobs of 1-4 ranks": the rank counts of the sweep's jobs.
  std::string JobSizes() const;
  const config::Sweep& sweep_;
  const Topology& topology_;
  const DriverOptions& options_;
  const Scheduler& sched_;
  std::ostream& out_;
  double start_;
  double last_progress_print_ = 0;
};

}  // namespace vlmscale::driver

#endif  // VLMSCALE_DRIVER_PROGRESS_PRINTER_H_
