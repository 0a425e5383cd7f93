// Helpers shared by the subcommands: config loading from the common flags, JSON output.
#ifndef VLMSCALE_CLI_CLI_UTIL_H_
#define VLMSCALE_CLI_CLI_UTIL_H_

#include <boost/program_options.hpp>
#include <string>
#include <vector>

#include "core/status.h"

namespace vlmscale::cli {

namespace po = boost::program_options;

// Parses `args` against `options` (plus positional names, in order). On a usage error returns
// kInvalidInput with Boost's message. Sets *help when --help was given.
Status ParseArgs(const std::string& command, const std::vector<std::string>& args,
                 const po::options_description& options,
                 const po::positional_options_description& positional, po::variables_map* vm,
                 bool* help);

// Writes `text` to `path` atomically (temp file + rename). kIOError on failure.
Status WriteFileAtomically(const std::string& path, const std::string& text);

}  // namespace vlmscale::cli

#endif  // VLMSCALE_CLI_CLI_UTIL_H_
