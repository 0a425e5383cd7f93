// Where a sweep's results and run directories live, and how rank 0 prepares the results store
// before the coordinator starts (protocol step 1 in driver.h).
#ifndef VLMSCALE_DRIVER_PREPARE_STORE_H_
#define VLMSCALE_DRIVER_PREPARE_STORE_H_

#include <memory>
#include <string>
#include <vector>

#include "config/sweep.h"
#include "driver/driver_options.h"
#include "store/results_store.h"

namespace vlmscale::driver {

// Creates `path` and its missing parents (mode 0755). Returns false with errno set on failure.
bool MakeDirs(const std::string& path);


// Opens sweep.output (creating its directory; options.fresh moves an old file aside;
// options.snapshot_seconds), marks jobs done in it as not runnable, turns jobs left running by a
// crash back into pending, appends the sweep's new jobs as pending and commits. `config_text` is
// the resolved config stored with the results. Prints errors and warnings (stderr) and the
// --fresh note (stdout) like `vlmscale run`. Returns kExitOk and fills *store and *runnable
// (one entry per sweep job), or the exit code of the failure.
int PrepareStore(const std::string& config_text, const config::Sweep& sweep,
                 const DriverOptions& options, std::unique_ptr<store::ResultsStore>* store,
                 std::vector<bool>* runnable);

}  // namespace vlmscale::driver

#endif  // VLMSCALE_DRIVER_PREPARE_STORE_H_
