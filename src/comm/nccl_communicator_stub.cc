// The build has no NCCL backend (VLMSCALE_HAVE_NCCL is 0): MakeNcclCommunicator says so.
#include "comm/nccl_communicator.h"

namespace vlmscale::comm {

bool NcclBackendBuilt() { return false; }

int CudaDeviceCount() { return 0; }

Result<std::unique_ptr<Communicator>> MakeNcclCommunicator(MPI_Comm comm, int device) {
  return Status::InvalidInput(
      "this vlmscale was built without the NCCL backend: install the CUDA toolkit and NCCL and "
      "reconfigure with -DVLMSCALE_WITH_NCCL=ON, or use the MPI backend");
}

}  // namespace vlmscale::comm
