// The `command` job type: runs an external trainer program once per grid point and attempt
// (docs/COMMAND_JOBS.md). The program is executed directly with execve (never through a shell),
// in its own process group, with stdout/stderr captured to files in the attempt's run directory;
// it reports its result by writing {run_dir}/metrics.json.
//
// The helpers below are the job's building blocks, exposed so that tests (and a future plan-time
// check) can use them on their own.
#ifndef VLMSCALE_JOBS_COMMAND_COMMAND_JOB_H_
#define VLMSCALE_JOBS_COMMAND_COMMAND_JOB_H_

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/status.h"
#include "jobs/job_type.h"

namespace vlmscale::jobs {

struct CommandOptions {
  // Program and arguments (space-separated, double quotes group), with {placeholders}.
  // Default: none. REQUIRES: set, at least one word, a non-empty program name.
  std::string argv;
  // Extra environment, "NAME=value" pairs separated by spaces (placeholders allowed). Default: "".
  std::string env;
  // Key of metrics.json holding the error Y (or "accuracy": error = 1 - accuracy).
  // Default: "error".
  std::string metric = "error";
  // Kill an attempt after this long (0: no limit). Default: 0. REQUIRES: >= 0.
  double timeout_seconds = 0.0;
  // Q used for inference FLOPs 2*N*(Q+V) of command jobs. Default: 0. REQUIRES: >= 0.
  int64_t text_tokens = 0;
  // Where argv and env came from ("file:line", "--set command.argv", "default"), for messages.
  std::string argv_origin, env_origin;
};

// The descriptor registered as "command".
std::shared_ptr<const JobType> CommandJobType();
// A command job with `options` (tests; the driver makes jobs through CreateJob).
std::unique_ptr<Job> MakeCommandJob(const CommandOptions& options);

namespace command {

// Splits a command line into words: words are separated by spaces or tabs; a double-quoted
// part groups characters (spaces included) into the current word; `\"` and `\\` stand for a
// literal quote and backslash (inside or outside quotes); any other character, including shell
// metacharacters (; | & $ ` ' < > * ?), is literal. An empty quoted string ("") is an empty word.
// Returns kInvalidInput (naming `what`) on an unterminated quote or when there are no words and
// `allow_empty` is false.
Result<std::vector<std::string>> SplitCommandLine(const std::string& text, const std::string& what,
                                                  bool allow_empty);

// Replaces every {name} in `word` by values.at(name). `{{` and `}}` stand for literal braces.
// Returns kInvalidInput naming `what`, the placeholder and the closest known name when a name is
// unknown, and on an unmatched brace. Substituted values are never re-scanned.
Result<std::string> ExpandPlaceholders(const std::string& word,
                                       const std::map<std::string, std::string>& values,
                                       const std::string& what);

// The placeholder values of one job attempt: llm, n_params, visual_tokens, method, task, seed,
// job_id, run_dir, job_dir, attempt, text_tokens, plus every resolved key "section.key" of the
// config. REQUIRES: input.config and input.spec are non-null.
std::map<std::string, std::string> PlaceholderValues(const JobInput& input);

// The expanded argv and environment additions ("NAME", "value") of one attempt.
struct CommandLine {
  std::vector<std::string> argv;
  std::vector<std::pair<std::string, std::string>> env;
};
// Expands `options`' argv and env with the placeholder `values`. kInvalidInput naming the key
// (and where it was set) on a malformed command line or an unknown placeholder.
Result<CommandLine> ExpandCommand(const CommandOptions& options,
                                  const std::map<std::string, std::string>& values);

// A printable excerpt of untrusted text (at most n characters) for messages.
std::string Excerpt(const std::string& s, size_t n = 40);

// The [command] keys, bound to CommandOptions' fields.
std::vector<config::KeySpec> CommandKeys();

// Reads [command] of `config` (validated by the schema) into options.
CommandOptions ReadCommandOptions(const config::Config& config);

// Checks [command] argv and env of `config` against the placeholders any job of it would have
// (grid fields plus config keys). Returns kInvalidInput naming the key on any problem.
Status ValidateCommandConfig(const config::Config& config);

// Parses the text of a metrics.json: a JSON object whose keys are metric names (1-64 characters
// of [A-Za-z0-9_.-]) and whose values are finite numbers; at most 1000 keys. Never throws;
// returns kInvalidInput describing the first problem.
Result<std::map<std::string, double>> ParseMetricsJson(const std::string& text);

// Reads and parses `path` (at most 1 MiB). kNotFound if it does not exist; kInvalidInput if it is
// malformed; kIOError if it cannot be read.
Result<std::map<std::string, double>> ReadMetricsFile(const std::string& path);

// Derives the recorded "error" from the metric named `metric` (command.metric): for "accuracy",
// error = 1 - accuracy (accuracy must be in [0, 1]); for "error", the value itself; for any other
// name, that value becomes "error". kInvalidInput if the metric is missing.
Status ApplyErrorMetric(const std::string& metric, std::map<std::string, double>* metrics);

}  // namespace command
}  // namespace vlmscale::jobs

#endif  // VLMSCALE_JOBS_COMMAND_COMMAND_JOB_H_
