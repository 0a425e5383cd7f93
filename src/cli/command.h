// Subcommands of the `vlmscale` CLI. Each src/cli/<name>_command.cc defines one and registers it
// with VLMSCALE_REGISTER_COMMAND; main.cc lists and dispatches the registered ones, so only
// implemented subcommands appear in `vlmscale --help`.
//
// Contract of a command function: `args` are the arguments after the subcommand name. It parses
// them with Boost.Program_options, prints `--help` usage to stdout (returning 0), writes errors to
// stderr as one line "vlmscale <name>: error: ..." and returns an exit code:
// 0 success, 1 runtime failure, 2 usage/config/input error, 75 stopped by a signal.
#ifndef VLMSCALE_CLI_COMMAND_H_
#define VLMSCALE_CLI_COMMAND_H_

#include <string>
#include <vector>

#include "core/status.h"

namespace vlmscale::cli {

using CommandFn = int (*)(const std::vector<std::string>& args);

struct CommandInfo {
  std::string name;
  std::string summary;  // One line for `vlmscale --help`.
  CommandFn fn;
  int order;            // Position in the help listing.
};

bool RegisterCommand(const CommandInfo& info);
const std::vector<CommandInfo>& Commands();

// Prints "vlmscale <command>: error: <message>" to stderr and returns ExitCodeFor(status).
int ReportError(const std::string& command, const Status& status);

}  // namespace vlmscale::cli

#define VLMSCALE_REGISTER_COMMAND(name, order, summary, fn)                      \
  static const bool vlmscale_command_registered_##fn =                           \
      ::vlmscale::cli::RegisterCommand(::vlmscale::cli::CommandInfo{name, summary, fn, order})

#endif  // VLMSCALE_CLI_COMMAND_H_
