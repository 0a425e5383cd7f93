// vlmscale: scaling-law studies of vision-language models. Dispatches to the registered
// subcommands (src/cli/*_command.cc).
#include <algorithm>
#include <cstdio>
#include <exception>
#include <iostream>
#include <new>
#include <string>
#include <vector>

#include "cli/command.h"
#include "config.h"
#include "core/strings.h"

namespace vlmscale::cli {

std::vector<CommandInfo>& MutableCommands() {
  static std::vector<CommandInfo> commands;
  return commands;
}

bool RegisterCommand(const CommandInfo& info) {
  MutableCommands().push_back(info);
  return true;
}

const std::vector<CommandInfo>& Commands() {
  auto& c = MutableCommands();
  std::sort(c.begin(), c.end(),
            [](const CommandInfo& a, const CommandInfo& b) { return a.order < b.order; });
  return c;
}

int ReportError(const std::string& command, const Status& status) {
  std::cerr << "vlmscale " << command << ": error: " << status.message() << std::endl;
  return ExitCodeFor(status);
}

// The command boundary: runs a command and turns an exception that escaped it (a bug: commands
// report errors as a Status) into one error line and exit 1 instead of an abort (exit 134).
int RunCommand(const CommandInfo& command, const std::vector<std::string>& args) {
  try {
    return command.fn(args);
  } catch (const std::bad_alloc&) {
    return ReportError(command.name, Status::Runtime("out of memory"));
  } catch (const std::exception& e) {
    return ReportError(command.name, Status::Runtime(std::string("internal error: ") + e.what() +
                                                     " (please report this as a bug)"));
  } catch (...) {
    return ReportError(command.name,
                       Status::Runtime("internal error: unknown exception (please report this "
                                       "as a bug)"));
  }
}

namespace {

void PrintUsage(std::ostream& os) {
  os << "vlmscale " << VLMSCALE_VERSION << " (" << VLMSCALE_GIT_COMMIT
     << "): scaling-law studies of vision-language models\n\n"
     << "Usage: vlmscale <command> [options]   (vlmscale <command> --help for details)\n\n"
     << "Commands:\n";
  for (const auto& c : Commands()) {
    std::string pad(c.name.size() < 10 ? 10 - c.name.size() : 1, ' ');
    os << "  " << c.name << pad << c.summary << "\n";
  }
  os << "\nExit codes: 0 success, 1 runtime failure (e.g. jobs failed), 2 usage/config/input "
        "error,\n            75 stopped by a signal before completion (run again to resume).\n";
}

}  // namespace
}  // namespace vlmscale::cli

int main(int argc, char** argv) {
  using namespace vlmscale::cli;
  if (argc < 2) {
    PrintUsage(std::cerr);
    return vlmscale::kExitUsage;
  }
  std::string name = argv[1];
  if (name == "--help" || name == "-h" || name == "help") {
    PrintUsage(std::cout);
    return 0;
  }
  if (name == "--version") {
    std::cout << "vlmscale " << VLMSCALE_VERSION << " (" << VLMSCALE_GIT_COMMIT << ")\n";
    return 0;
  }
  std::vector<std::string> args(argv + 2, argv + argc);
  std::vector<std::string> names;
  for (const auto& c : Commands()) {
    if (c.name == name) return RunCommand(c, args);
    names.push_back(c.name);
  }
  std::string hint = vlmscale::ClosestMatch(name, names);
  std::cerr << "vlmscale: error: unknown command '" << name << "'"
            << (hint.empty() ? "" : "; did you mean '" + hint + "'?")
            << " (see vlmscale --help)" << std::endl;
  return vlmscale::kExitUsage;
}
