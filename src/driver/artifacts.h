// Job artifacts: every job of a type that uses directories has a durable job directory,
// <run.artifact_dir>/<job id>, kept across attempts and runs. When the job succeeds, the worker
// writes <job dir>/result.json (its id, stage and metrics; atomically, by rename) next to what
// the job left there. A job that needs it reads that file before it starts: a missing or
// unreadable result.json means the artifacts are gone (e.g. a purged scratch directory) and the
// parent must run again (docs/STAGES.md).
#ifndef VLMSCALE_DRIVER_ARTIFACTS_H_
#define VLMSCALE_DRIVER_ARTIFACTS_H_

#include <map>
#include <string>

#include "config/sweep.h"
#include "core/status.h"

namespace vlmscale::driver {

// <sweep.artifact_dir>/<job id>.
std::string JobDir(const config::Sweep& sweep, const config::JobSpec& job);

// Writes <job_dir>/result.json for `job` (tmp file + rename; non-finite metrics as null).
// kIOError naming the path on failure.
Status WriteResultFile(const std::string& job_dir, const config::Sweep& sweep,
                       const config::JobSpec& job, const std::map<std::string, double>& metrics);

// The metrics in <job_dir>/result.json, checking it belongs to `job_id`. kNotFound when the
// file is missing, kIOError (naming the path and what is wrong) when it cannot be used.
Result<std::map<std::string, double>> ReadResultFile(const std::string& job_dir,
                                                     const std::string& job_id);

}  // namespace vlmscale::driver

#endif  // VLMSCALE_DRIVER_ARTIFACTS_H_
