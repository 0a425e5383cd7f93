// The MPI backend of Communicator (CPU memory) and the MPI_CHECK macro.
#ifndef VLMSCALE_COMM_MPI_COMMUNICATOR_H_
#define VLMSCALE_COMM_MPI_COMMUNICATOR_H_

#include <mpi.h>

#include <memory>
#include <string>

#include "comm/communicator.h"
#include "core/status.h"

namespace vlmscale::comm {

// A Status::Runtime whose message is "<what> failed: <MPI_Error_string(code)>".
Status MpiError(const char* what, int code);

// Creates a communicator over a duplicate of `comm` (MPI_Comm_dup, collective over `comm`), so
// its traffic never mixes with the caller's. The duplicate returns errors instead of aborting
// (MPI_ERRORS_RETURN) and is freed by the destructor.
// REQUIRES: MPI is initialized (the caller owns MPI_Init/MPI_Finalize; destroy the communicator
// before MPI_Finalize); every rank of `comm` calls this together.
// Returns a non-OK status if MPI is not initialized or the duplication fails.
Result<std::unique_ptr<Communicator>> MakeMpiCommunicator(MPI_Comm comm);

}  // namespace vlmscale::comm

// Evaluates an MPI call; on failure returns (from the enclosing function, which must return
// Status or Result<T>) a Status naming the call and MPI_Error_string's text.
#define MPI_CHECK(call)                                                                    \
  do {                                                                                     \
    int _vlm_mpi_rc = (call);                                                              \
    if (_vlm_mpi_rc != MPI_SUCCESS) return ::vlmscale::comm::MpiError(#call, _vlm_mpi_rc); \
  } while (0)

#endif  // VLMSCALE_COMM_MPI_COMMUNICATOR_H_
