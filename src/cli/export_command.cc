// vlmscale export RESULTS.h5 [--format csv|json] [-o FILE]: one row per job, stable columns
// (docs/RESULTS.md). Reads only; safe while the sweep is running.
#include <iostream>
#include <sstream>

#include "cli/cli_util.h"
#include "cli/command.h"
#include "store/results_store.h"

namespace vlmscale::cli {
namespace {

int RunExportCommand(const std::vector<std::string>& args) {
  po::options_description options(
      "vlmscale export RESULTS.h5 [--format csv|json] [-o FILE]\n\nWrites one row per job of a "
      "results file as CSV or JSON (columns in docs/RESULTS.md)");
  std::string path, format, output;
  options.add_options()("results", po::value(&path)->required(),
                        "results file written by vlmscale run")(
      "format", po::value(&format)->default_value("csv"), "csv or json")(
      "output,o", po::value(&output), "write to FILE atomically instead of stdout");
  po::positional_options_description positional;
  positional.add("results", 1);
  po::variables_map vm;
  bool help = false;
  Status s = ParseArgs("export", args, options, positional, &vm, &help);
  if (help) {
    std::cout << options << "\n";
    return kExitOk;
  }
  if (!s.ok()) return ReportError("export", s);
  if (format != "csv" && format != "json") {
    return ReportError("export",
                       Status::InvalidInput("--format must be csv or json, not '" + format + "'"));
  }
  Result<store::ResultsFile> file = store::ReadResults(path);
  if (!file.ok()) {
    ReportError("export", file.status());
    return file.status().code() == Status::Code::kNotFound ? kExitUsage
                                                           : ExitCodeFor(file.status());
  }
  if (!file->warning.empty()) std::cerr << "vlmscale export: warning: " << file->warning << "\n";
  std::ostringstream text;
  s = format == "csv" ? store::ExportCsv(*file, text) : store::ExportJson(*file, text);
  if (!s.ok()) return ReportError("export", s);
  if (output.empty() || output == "-") {
    std::cout << text.str();
    std::cout.flush();
    if (!std::cout) return ReportError("export", Status::IOError("writing to stdout failed"));
    return kExitOk;
  }
  s = WriteFileAtomically(output, text.str());
  if (!s.ok()) return ReportError("export", s);
  std::cerr << "wrote " << file->jobs.size() << " jobs to " << output << "\n";
  return kExitOk;
}

}  // namespace

VLMSCALE_REGISTER_COMMAND("export", 50, "export a results file as CSV or JSON (one row per job)",
                          RunExportCommand);

}  // namespace vlmscale::cli
