#include "cli/cli_util.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

namespace vlmscale::cli {

namespace {

// Whether `arg` is an option of `options` that takes a value ("--set", "-o"; not "--set=x").
bool TakesValue(const po::options_description& options, const std::string& arg) {
  if (arg.size() < 2 || arg[0] != '-' || arg.find('=') != std::string::npos) return false;
  // Boost keys long options by name ("set") and short ones with their dash ("-o").
  const std::string name = arg[1] == '-' ? arg.substr(2) : arg;
  const po::option_description* d = options.find_nothrow(name, false);
  return d != nullptr && d->semantic()->max_tokens() > 0;
}

}  // namespace

Status ParseArgs(const std::string& command, const std::vector<std::string>& args,
                 const po::options_description& options,
                 const po::positional_options_description& positional, po::variables_map* vm,
                 bool* help) {
  *help = false;
  for (const auto& a : args) {
    if (a == "--help" || a == "-h") {
      *help = true;
      return Status::OK();
    }
  }
  try {
    po::store(po::command_line_parser(args).options(options).positional(positional).run(), *vm);
    po::notify(*vm);
  } catch (const po::too_many_positional_options_error& e) {
    // `plan CONFIG train.steps=50`: an override without --set.
    if (options.find_nothrow("set", false) != nullptr) {
      for (size_t i = 0; i < args.size(); ++i) {
        const std::string& a = args[i];
        if (a.empty() || a[0] == '-' || a.find('=') == std::string::npos) continue;
        if (i > 0 && TakesValue(options, args[i - 1])) continue;
        return Status::InvalidInput("unexpected argument '" + a +
                                    "': to override a config key, write --set " + a +
                                    " (see vlmscale " + command + " --help)");
      }
    }
    return Status::InvalidInput(std::string(e.what()) + " (see vlmscale " + command + " --help)");
  } catch (const po::error& e) {
    return Status::InvalidInput(std::string(e.what()) + " (see vlmscale " + command + " --help)");
  }
  return Status::OK();
}

Status WriteFileAtomically(const std::string& path, const std::string& text) {
  std::string tmp = path + ".tmp." + std::to_string(getpid());
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd < 0) return Status::IOError("cannot write " + path + ": " + std::strerror(errno));
  size_t off = 0;
  while (off < text.size()) {
    ssize_t n = ::write(fd, text.data() + off, text.size() - off);
    if (n < 0) {
      if (errno == EINTR) continue;
      std::string err = std::strerror(errno);
      ::close(fd);
      ::unlink(tmp.c_str());
      return Status::IOError("cannot write " + path + ": " + err);
    }
    off += static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0 || ::close(fd) != 0) {
    std::string err = std::strerror(errno);
    ::unlink(tmp.c_str());
    return Status::IOError("cannot write " + path + ": " + err);
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    std::string err = std::strerror(errno);
    ::unlink(tmp.c_str());
    return Status::IOError("cannot write " + path + ": " + err);
  }
  return Status::OK();
}

}  // namespace vlmscale::cli
