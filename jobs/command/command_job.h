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
#include "jobs/job.h"
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
  // The keys that set them: "command.argv", or "stage.NAME.command.argv" when a stage overrides
  // it (likewise env), for messages.
  std::string argv_key = "command.argv", env_key = "command.env";
};

namespace command {

// What the placeholders and environment of one stage's jobs can name besides the fixed names
// and the config's keys (docs/COMMAND_JOBS.md, "Stages"). The default is a one-stage study.
struct StageScope {
  std::string stage;  // The stage's name; "" in a one-stage study (no {stage}, no VLMSCALE_STAGE).
  std::vector<std::string> over = config::GridAxes();  // Grid axes the stage varies.
  std::vector<std::string> own_axes;  // Its own axes ({benchmark}), in declared order.
  std::vector<std::string> needs;     // The stages it needs ({needs.STAGE.*}).
};
StageScope ScopeOf(const config::StageSpec& stage);

}  // namespace command

// The descriptor registered as "command".
std::shared_ptr<const JobType> CommandJobType();
// A command job with `options` for the jobs of `scope` (tests; the driver makes jobs through
// CreateJob).
std::unique_ptr<Job> MakeCommandJob(const CommandOptions& options,
                                    const command::StageScope& scope = {});

namespace command {

// Splits a command line into words: words are separated by spaces or tabs; a double-quoted
// part groups characters (spaces included) into the current word; `\"` and `\\` stand for a
// literal quote and backslash (inside or outside quotes); any other character, including shell
// metacharacters (; | & $ ` ' < > * ?), is literal. An empty quoted string ("") is an empty word.
// Returns kInvalidInput (naming `what`) on an unterminated quote or when there are no words and
// `allow_empty` is false.
Result<std::vector<std::string>> SplitCommandLine(const std::string& text, const std::string& what,
                                                  bool allow_empty);

// The placeholders of one job (or, at plan time, of any job of a stage).
struct Placeholders {
  // Name -> value: the grid axes the stage varies, the fixed names, every config key
  // "section.key"; in a multi-stage study also "stage", the own axes, and per needed stage S
  // "needs.S.run_dir", "needs.S.job_dir", "needs.S.job_id" and "needs.S.metric.KEY".
  std::map<std::string, std::string> values;
  StageScope scope;  // For messages about names the stage cannot use.
  // Plan time: {needs.S.metric.KEY} is accepted for any well-formed KEY of a needed stage S (the
  // parents' metrics are not known yet). Run time (false): KEY must be one the parent recorded.
  bool any_metric = false;
};

// Replaces every {name} in `word` by its value. `{{` and `}}` stand for literal braces.
// Returns kInvalidInput naming `what`, the placeholder and the closest known name when a name is
// unknown; naming the stage and its `over` for a grid axis the stage does not vary; naming the
// stage's needs for {needs.S...} of a stage S it does not need, or malformed; and on an
// unmatched brace. Returns kRuntime naming the parent job, its stage and the metrics it
// recorded for {needs.S.metric.KEY} with a KEY the parent did not record (run time only).
// Substituted values are never re-scanned.
Result<std::string> ExpandPlaceholders(const std::string& word, const Placeholders& placeholders,
                                       const std::string& what);
// The same in a one-stage study with `values`.
Result<std::string> ExpandPlaceholders(const std::string& word,
                                       const std::map<std::string, std::string>& values,
                                       const std::string& what);

// The placeholders of one job attempt of a stage with `scope`: the grid axes it varies (llm with
// n_params, visual_tokens, method, task, seed), job_id, run_dir, job_dir, attempt, text_tokens,
// every resolved key "section.key" of the config; in a multi-stage study also stage, each own
// axis by name, and for each parent in input.parents needs.S.run_dir and needs.S.job_dir (its
// directory), needs.S.job_id, needs.S.metric.KEY (each recorded metric, ShortestNumber).
// REQUIRES: input.config and input.spec are non-null.
Placeholders PlaceholderValues(const JobInput& input, const StageScope& scope = {});

// The environment a job of a multi-stage study adds for its program (empty in a one-stage
// study): VLMSCALE_STAGE; VLMSCALE_AXIS_<AXIS> per own axis; VLMSCALE_NEEDS_<STAGE>_RUN_DIR and
// VLMSCALE_NEEDS_<STAGE>_JOB_ID per parent. <AXIS> and <STAGE> are the names upper-cased with
// each character other than a letter or digit replaced by '_' (EnvNamePart).
std::vector<std::pair<std::string, std::string>> StageEnvironment(const JobInput& input,
                                                                  const StageScope& scope);
// `name` upper-cased, each character other than a letter or digit replaced by '_'.
std::string EnvNamePart(const std::string& name);

// The expanded argv and environment additions ("NAME", "value") of one attempt.
struct CommandLine {
  std::vector<std::string> argv;
  std::vector<std::pair<std::string, std::string>> env;
};
// Expands `options`' argv and env with `placeholders`. kInvalidInput naming the key (and where
// it was set) on a malformed command line or a placeholder ExpandPlaceholders rejects (its
// kRuntime for an unrecorded parent metric likewise).
Result<CommandLine> ExpandCommand(const CommandOptions& options, const Placeholders& placeholders);
Result<CommandLine> ExpandCommand(const CommandOptions& options,
                                  const std::map<std::string, std::string>& values);

// A printable excerpt of untrusted text (at most n characters) for messages.
std::string Excerpt(const std::string& s, size_t n = 40);

// The [command] keys, bound to CommandOptions' fields.
std::vector<config::KeySpec> CommandKeys();

// Reads [command] of `config` (validated by the schema) into options. For a stage, `config` is
// the stage's view (Config::StageView) and `stage` its name, so messages name
// stage.NAME.command.argv when the stage sets it.
CommandOptions ReadCommandOptions(const config::Config& config, const std::string& stage = "");

// Checks [command] argv and env of `config` against the placeholders any job of it would have
// (grid fields plus config keys). Returns kInvalidInput naming the key on any problem.
Status ValidateCommandConfig(const config::Config& config);
// The same for the jobs of `stage` (config: the stage's view): placeholders of grid axes it does
// not vary, of stages it does not need, of unknown own axes, malformed {needs...}; also own axes
// named like a fixed placeholder (job_id, run_dir, job_dir, attempt, text_tokens) and needed
// stages or own axes whose environment names (EnvNamePart) collide. kInvalidInput naming the
// key and its origin.
Status ValidateCommandConfig(const config::Config& config, const config::StageSpec& stage);

// Whether `s` is a valid metric name: 1-64 characters of [A-Za-z0-9_.-].
bool IsMetricName(const std::string& s);

// Parses the text of a metrics.json: a JSON object whose keys are metric names (1-64 characters
// of [A-Za-z0-9_.-]) and whose values are finite numbers; at most 1000 keys. Never throws;
// returns kInvalidInput describing the first problem.
Result<std::map<std::string, double>> ParseMetricsJson(const std::string& text);

// Reads and parses `path` (at most 1 MiB). kNotFound if it does not exist; kInvalidInput if it is
// malformed or not a regular file (a FIFO, a directory, a device: refused without blocking, since
// opening a FIFO would wait for a writer); kIOError if it cannot be read.
Result<std::map<std::string, double>> ReadMetricsFile(const std::string& path);

// "is a FIFO (named pipe)", "is a directory", ...: why a file of type `mode` (st_mode) is not a
// regular file, for messages.
std::string NotRegularFileReason(unsigned mode);

// Opens `path` for reading without ever blocking (a FIFO left in the run directory would block a
// plain open until a writer comes: the sweep hung). Returns the descriptor of a regular file, or
// -1 with *why set ("is a FIFO (named pipe)", "No such file or directory", ...).
int OpenRegularFile(const std::string& path, std::string* why);

// Derives the recorded "error" from the metric named `metric` (command.metric): for "accuracy",
// error = 1 - accuracy (accuracy must be in [0, 1]); for "error", the value itself; for any other
// name, that value becomes "error". kInvalidInput if the metric is missing.
Status ApplyErrorMetric(const std::string& metric, std::map<std::string, double>* metrics);

// ---- Progress lines (docs/COMMAND_JOBS.md, "Progress and curves") ----
//
// A program may append one JSON object per line to $VLMSCALE_PROGRESS ({run_dir}/progress.jsonl),
// e.g. {"step": 120, "total": 1000, "loss": 1.84, "phase": "train", "lr": 0.0009}: "step" and
// "total" non-negative integers, "phase" a string of at most 64 characters, "loss" and every
// other key (a metric name) a finite number. Each number other than step and total becomes a
// curve point at that step ("loss" as the curve train_loss, as built-in jobs name it), which
// needs "step"; a line's points come in the order of their names.

// Parses one line into `progress` (phase, step, total, loss when given; new_points). Never
// throws; kInvalidInput describing the first problem, with `progress` unchanged.
Status ParseProgressLine(const std::string& line, JobProgress* progress);

// Follows a progress file from its size at construction (what an earlier attempt wrote there is
// not read again): Poll reads the complete lines appended since the last call. A line that does
// not parse, or is longer than 64 KiB, is skipped and counted, as are points past 200,000 curve
// points. A path that is not a regular file (a FIFO...) is never opened for reading.
class ProgressReader {
 public:
  explicit ProgressReader(std::string path);
  // Reads what was appended; returns true and fills `latest` (the last phase, step, total and
  // loss seen so far; new_points: the points of these lines) when a line parsed.
  bool Poll(JobProgress* latest);
  // Every curve point read, in order.
  const std::vector<store::CurvePoint>& curves() const { return curves_; }
  int64_t skipped() const { return skipped_; }

 private:
  std::string path_;
  int64_t offset_ = 0;
  std::string partial_;      // An incomplete last line.
  bool discarding_ = false;  // Inside a line already skipped as too long.
  JobProgress state_;        // Phase, step, total and loss so far (no new_points).
  std::vector<store::CurvePoint> curves_;
  int64_t skipped_ = 0;
};

}  // namespace command
}  // namespace vlmscale::jobs

#endif  // VLMSCALE_JOBS_COMMAND_COMMAND_JOB_H_
