// The NCCL backend of Communicator: float all-reduce on CUDA device memory. Built when
// VLMSCALE_HAVE_NCCL (generated config.h); otherwise MakeNcclCommunicator returns an error that
// says how to get it.
#ifndef VLMSCALE_COMM_NCCL_COMMUNICATOR_H_
#define VLMSCALE_COMM_NCCL_COMMUNICATOR_H_

#include <mpi.h>

#include <memory>

#include "comm/communicator.h"
#include "core/status.h"

namespace vlmscale::comm {

// True when this build contains the NCCL backend.
bool NcclBackendBuilt();

// Number of CUDA devices visible to this process (0 without CUDA, a driver, or NCCL support).
int CudaDeviceCount();

// Creates an NCCL communicator over the ranks of `comm`: rank 0 makes an ncclUniqueId, MPI
// broadcasts it, every rank binds CUDA device `device` and calls ncclCommInitRank. AllReduceSum
// takes device memory and runs ncclAllReduce on the communicator's own stream, synchronizing
// before it returns. AllReduceSumHost, Broadcast and Barrier (host memory) use a duplicate of
// `comm` (see MakeMpiCommunicator).
// REQUIRES: MPI is initialized; every rank of `comm` calls this together; 0 <= device <
// CudaDeviceCount().
// Returns a non-OK status (with ncclGetErrorString / cudaGetErrorString text) on any failure, and
// always when the build has no NCCL backend.
Result<std::unique_ptr<Communicator>> MakeNcclCommunicator(MPI_Comm comm, int device);

}  // namespace vlmscale::comm

#endif  // VLMSCALE_COMM_NCCL_COMMUNICATOR_H_
