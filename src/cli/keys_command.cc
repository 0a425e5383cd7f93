// vlmscale keys [--markdown]: every config key, its type, default and owner, from the schema the
// job types and config declare (the key tables of docs/CONFIG.md are this command's output).
#include <iostream>

#include "cli/cli_util.h"
#include "cli/command.h"
#include "jobs/job_type.h"

namespace vlmscale::cli {
namespace {

int RunKeysCommand(const std::vector<std::string>& args) {
  po::options_description options(
      "vlmscale keys [options]\n\nPrints every config key with its "
      "type, default, the component that declares it and its meaning");
  options.add_options()("markdown", po::bool_switch(), "markdown tables (docs/CONFIG.md)");
  po::variables_map vm;
  bool help = false;
  Status s = ParseArgs("keys", args, options, po::positional_options_description(), &vm, &help);
  if (help) {
    std::cout << options << "\n";
    return kExitOk;
  }
  if (!s.ok()) return ReportError("keys", s);
  const config::Schema& schema = jobs::ConfigSchema();
  if (vm["markdown"].as<bool>()) {
    std::cout << schema.Markdown();
    return kExitOk;
  }
  for (const auto& k : schema.keys()) {
    std::cout << k.FullKey() << " = "
              << (k.required        ? "(required)"
                  : k.default_value ? *k.default_value
                                    : "(none)")
              << "    [" << k.owner << "]\n";
  }
  return kExitOk;
}

}  // namespace

VLMSCALE_REGISTER_COMMAND("keys", 15, "list every config key with its type, default and owner",
                          RunKeysCommand);

}  // namespace vlmscale::cli
