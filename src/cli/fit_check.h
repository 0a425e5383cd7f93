// vlmscale fit --check FIT.json [DATA]: re-derive a fit from its manifest (docs/FIT.md).
#ifndef VLMSCALE_CLI_FIT_CHECK_H_
#define VLMSCALE_CLI_FIT_CHECK_H_

#include <string>

namespace vlmscale::cli {

// Recomputes the fit the manifest of `fit_path` describes from `data_path` (empty: the
// manifest's source) with `threads` threads and compares the inputs (job result hashes, config or
// CSV hash) and the numbers. Returns the exit code: 0 reproduced; 1 something differs (each
// difference on stderr); 2 bad input.
int RunFitCheck(const std::string& fit_path, const std::string& data_path, int threads);

}  // namespace vlmscale::cli

#endif  // VLMSCALE_CLI_FIT_CHECK_H_
