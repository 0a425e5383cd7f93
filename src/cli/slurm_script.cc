#include "cli/slurm_script.h"

#include <sstream>

#include "cli/sweep_sbatch.h"  // Generated from slurm/sweep.sbatch by src/cli/CMakeLists.txt.
#include "core/strings.h"

namespace vlmscale::cli {
namespace {

constexpr const char* kSettingsBegin = "# >>> vlmscale settings";
constexpr const char* kSettingsEnd = "# <<< vlmscale settings";

// Names SLURM accepts for partitions, accounts and QOS, and nothing a shell would interpret.
bool IsPlainName(const std::string& s) {
  for (char c : s) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-' || c == '.' || c == ',' || c == '+';
    if (!ok) return false;
  }
  return true;
}

// A directive value must stay on its line and be one word for sbatch's #SBATCH parser.
bool IsOneWord(const std::string& s) {
  for (char c : s) {
    if (c == '\n' || c == '\r' || c == ' ' || c == '\t' || c == '"' || c == '\'') return false;
  }
  return true;
}

std::optional<int64_t> Field(const std::string& s) {
  if (s.empty() || s.size() > 9) return std::nullopt;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
  }
  return ParseInt(s);
}

}  // namespace

Result<int64_t> ParseSlurmTime(const std::string& text) {
  const std::string t = Trim(text);
  auto bad = [&](const std::string& why) {
    return Status::InvalidInput("--time '" + text + "': " + why +
                                "; expected MM, MM:SS, HH:MM:SS, D-HH, D-HH:MM or D-HH:MM:SS "
                                "(e.g. 04:00:00 or 1-12:00:00)");
  };
  int64_t days = 0;
  std::string rest = t;
  bool has_days = false;
  if (auto dash = t.find('-'); dash != std::string::npos) {
    auto d = Field(t.substr(0, dash));
    if (!d) return bad("malformed days");
    days = *d;
    rest = t.substr(dash + 1);
    has_days = true;
  }
  std::vector<std::string> parts;
  std::stringstream ss(rest);
  for (std::string p; std::getline(ss, p, ':');) parts.push_back(p);
  if (!rest.empty() && rest.back() == ':') parts.push_back("");
  if (parts.empty() || parts.size() > 3) return bad("malformed time");
  std::vector<int64_t> v;
  for (const auto& p : parts) {
    auto x = Field(p);
    if (!x) return bad("malformed time");
    v.push_back(*x);
  }
  for (size_t i = 1; i < v.size(); ++i) {
    if (v[i] >= 60) return bad("minutes and seconds must be below 60");
  }
  int64_t seconds = 0;
  if (has_days) {  // D-HH, D-HH:MM, D-HH:MM:SS
    if (v[0] >= 24) return bad("hours after a day count must be below 24");
    seconds =
        days * 86400 + v[0] * 3600 + (v.size() > 1 ? v[1] * 60 : 0) + (v.size() > 2 ? v[2] : 0);
  } else if (v.size() == 1) {  // MM
    seconds = v[0] * 60;
  } else if (v.size() == 2) {  // MM:SS
    seconds = v[0] * 60 + v[1];
  } else {  // HH:MM:SS
    seconds = v[0] * 3600 + v[1] * 60 + v[2];
  }
  if (seconds <= 0) return bad("the time limit must be positive");
  return seconds;
}

bool SlurmOptions::IsValid(std::string* error) const {
  auto fail = [&](const std::string& msg) {
    if (error) *error = msg;
    return false;
  };
  if (job_name.empty() || !IsOneWord(job_name)) {
    return fail("--job-name must be one non-empty word, got '" + job_name + "'");
  }
  if (!IsPlainName(partition)) {
    return fail("--partition '" + partition + "': use letters, digits, '_', '-', '.' or ','");
  }
  if (!IsPlainName(account)) {
    return fail("--account '" + account + "': use letters, digits, '_', '-', '.' or ','");
  }
  if (!IsPlainName(qos)) {
    return fail("--qos '" + qos + "': use letters, digits, '_', '-', '.' or ','");
  }
  if (nodes < 1) return fail("--nodes must be >= 1, got " + std::to_string(nodes));
  if (ntasks_per_node < 1) {
    return fail("--ntasks-per-node must be >= 1, got " + std::to_string(ntasks_per_node));
  }
  if (gpus_per_node < 0) {
    return fail("--gpus-per-node must be >= 0, got " + std::to_string(gpus_per_node));
  }
  if (gpus_per_node > 0 && gpus_per_node != ntasks_per_node) {
    return fail("--ntasks-per-node (" + std::to_string(ntasks_per_node) +
                ") must equal --gpus-per-node (" + std::to_string(gpus_per_node) +
                "): the sweep runs one rank per GPU (leave --ntasks-per-node out to follow it)");
  }
  if (cpus_per_task < 1) {
    return fail("--cpus-per-task must be >= 1, got " + std::to_string(cpus_per_task));
  }
  Result<int64_t> limit = ParseSlurmTime(time);
  if (!limit.ok()) return fail(limit.status().message());
  if (signal_seconds < 1) {
    return fail("the drain signal lead must be >= 1 s, got " + std::to_string(signal_seconds));
  }
  if (signal_seconds >= *limit) {
    return fail("--time " + time + " (" + std::to_string(*limit) +
                " s) leaves no time to work: the driver is told to drain " +
                std::to_string(signal_seconds) +
                " s before the walltime (run.grace_seconds + margin); ask for more time");
  }
  if (!IsOneWord(chdir)) return fail("--chdir '" + chdir + "' must not contain spaces or quotes");
  if (!IsOneWord(output)) {
    return fail("the log path '" + output +
                "' must not contain spaces or quotes (move the "
                "results file to a path without them)");
  }
  return true;
}

std::vector<std::string> SbatchDirectives(const SlurmOptions& o) {
  std::string error;
  CHECK(o.IsValid(&error)) << error;
  std::vector<std::string> d;
  d.push_back("--job-name=" + o.job_name);
  if (!o.partition.empty()) d.push_back("--partition=" + o.partition);
  if (!o.account.empty()) d.push_back("--account=" + o.account);
  if (!o.qos.empty()) d.push_back("--qos=" + o.qos);
  d.push_back("--time=" + Trim(o.time));
  d.push_back("--nodes=" + std::to_string(o.nodes));
  d.push_back("--ntasks-per-node=" + std::to_string(o.ntasks_per_node));
  if (o.gpus_per_node > 0) d.push_back("--gpus-per-node=" + std::to_string(o.gpus_per_node));
  d.push_back("--cpus-per-task=" + std::to_string(o.cpus_per_task));
  d.push_back("--signal=B:USR1@" + std::to_string(o.signal_seconds));
  d.push_back("--requeue");
  d.push_back("--open-mode=append");
  if (!o.chdir.empty()) d.push_back("--chdir=" + o.chdir);
  if (!o.output.empty()) d.push_back("--output=" + o.output);
  for (auto& s : d) s = "#SBATCH " + s;
  return d;
}

std::string ShellQuote(const std::string& s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'') {
      out += "'\\''";
    } else {
      out += c;
    }
  }
  return out + "'";
}

Result<std::string> RenderBatchScript(const std::string& tmpl, const SlurmOptions& options,
                                      const ScriptSettings& settings) {
  std::string error;
  if (!options.IsValid(&error)) return Status::InvalidInput(error);
  if (settings.vlmscale_bin.empty() || settings.config.empty()) {
    return Status::InvalidInput("the batch script needs the vlmscale binary and the config path");
  }
  if (settings.max_requeues < 0) {
    return Status::InvalidInput("slurm.max_requeues must be >= 0");
  }
  if (settings.launcher != "mpirun" && settings.launcher != "srun") {
    return Status::InvalidInput("--launcher: expected mpirun or srun, got '" + settings.launcher +
                                "'");
  }
  std::vector<std::string> lines;
  {
    std::stringstream ss(tmpl);
    for (std::string line; std::getline(ss, line);) lines.push_back(line);
  }
  std::ostringstream out;
  bool wrote_directives = false, in_settings = false, saw_settings = false;
  for (const auto& line : lines) {
    if (in_settings) {
      if (StartsWith(line, kSettingsEnd)) {
        in_settings = false;
        out << line << "\n";
      }
      continue;
    }
    if (StartsWith(line, "#SBATCH")) {
      if (!wrote_directives) {
        for (const auto& d : SbatchDirectives(options)) out << d << "\n";
        wrote_directives = true;
      }
      continue;
    }
    if (StartsWith(line, kSettingsBegin)) {
      if (!wrote_directives) {
        return Status::InvalidInput(
            "batch script template: the settings block comes before any "
            "#SBATCH line");
      }
      saw_settings = in_settings = true;
      out << line << "\n";
      out << "# Written by vlmscale submit.\n";
      out << "VLMSCALE_BIN=" << ShellQuote(settings.vlmscale_bin) << "\n";
      out << "VLMSCALE_CONFIG=" << ShellQuote(settings.config) << "\n";
      out << "VLMSCALE_RESULTS=" << ShellQuote(settings.results) << "\n";
      out << "VLMSCALE_MAX_REQUEUES=" << settings.max_requeues << "\n";
      out << "VLMSCALE_LAUNCHER=" << settings.launcher << "\n";
      continue;
    }
    out << line << "\n";
  }
  if (!wrote_directives) {
    return Status::InvalidInput("batch script template has no #SBATCH line to replace");
  }
  if (!saw_settings || in_settings) {
    return Status::InvalidInput(std::string("batch script template lacks a settings block "
                                            "between '") +
                                kSettingsBegin + "' and '" + kSettingsEnd + "' lines");
  }
  return out.str();
}

const std::string& SweepSbatchTemplate() {
  static const std::string* text = new std::string(kSweepSbatchTemplate);
  return *text;
}

}  // namespace vlmscale::cli
