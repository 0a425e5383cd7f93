// NCCL backend (compiled only when VLMSCALE_HAVE_NCCL; see CMakeLists.txt).
#include "comm/nccl_communicator.h"

#include <cuda_runtime.h>
#include <nccl.h>

#include <string>
#include <utility>

#include "comm/mpi_communicator.h"

// Evaluate an NCCL / CUDA runtime call; on failure return (from a function returning Status or
// Result<T>) a Status naming the call and ncclGetErrorString / cudaGetErrorString's text.
#define NCCL_CHECK(call)                                                                  \
  do {                                                                                    \
    ncclResult_t _vlm_nccl_rc = (call);                                                   \
    if (_vlm_nccl_rc != ncclSuccess) {                                                    \
      return ::vlmscale::Status::Runtime(std::string(#call) +                             \
                                         " failed: " + ncclGetErrorString(_vlm_nccl_rc)); \
    }                                                                                     \
  } while (0)
#define CUDA_CHECK(call)                                                                  \
  do {                                                                                    \
    cudaError_t _vlm_cuda_rc = (call);                                                    \
    if (_vlm_cuda_rc != cudaSuccess) {                                                    \
      return ::vlmscale::Status::Runtime(std::string(#call) +                             \
                                         " failed: " + cudaGetErrorString(_vlm_cuda_rc)); \
    }                                                                                     \
  } while (0)

namespace vlmscale::comm {

bool NcclBackendBuilt() { return true; }

int CudaDeviceCount() {
  int count = 0;
  if (cudaGetDeviceCount(&count) != cudaSuccess) {
    cudaGetLastError();  // Clear the sticky "no driver" error.
    return 0;
  }
  return count;
}

namespace {

class NcclCommunicator : public Communicator {
 public:
  // Takes ownership of `host` (the MPI communicator for host-memory collectives), `nccl` and
  // `stream`.
  NcclCommunicator(std::unique_ptr<Communicator> host, ncclComm_t nccl, cudaStream_t stream,
                   int device)
      : host_(std::move(host)), nccl_(nccl), stream_(stream), device_(device) {}
  ~NcclCommunicator() override {
    cudaSetDevice(device_);
    ncclCommDestroy(nccl_);
    cudaStreamDestroy(stream_);
  }

  int rank() const override { return host_->rank(); }
  int size() const override { return host_->size(); }
  std::string backend() const override { return "nccl"; }

  Status AllReduceSum(float* data, size_t count) override {
    CUDA_CHECK(cudaSetDevice(device_));
    NCCL_CHECK(ncclAllReduce(data, data, count, ncclFloat, ncclSum, nccl_, stream_));
    CUDA_CHECK(cudaStreamSynchronize(stream_));
    return Status::OK();
  }
  Status AllReduceSumHost(double* data, size_t count) override {
    return host_->AllReduceSumHost(data, count);
  }
  Status Broadcast(void* data, size_t bytes, int root) override {
    return host_->Broadcast(data, bytes, root);
  }
  Status Barrier() override { return host_->Barrier(); }

 private:
  std::unique_ptr<Communicator> host_;
  ncclComm_t nccl_;
  cudaStream_t stream_;
  int device_;
};

}  // namespace

Result<std::unique_ptr<Communicator>> MakeNcclCommunicator(MPI_Comm comm, int device) {
  VLM_ASSIGN_OR_RETURN(std::unique_ptr<Communicator> host, MakeMpiCommunicator(comm));
  const int devices = CudaDeviceCount();
  // Every rank agrees on whether all of them can proceed before any enters ncclCommInitRank,
  // which would otherwise hang waiting for a rank that gave up.
  double bad_device = (device < 0 || device >= devices) ? 1.0 : 0.0;
  VLM_RETURN_IF_ERROR(host->AllReduceSumHost(&bad_device, 1));
  if (bad_device > 0) {
    return Status::InvalidInput("MakeNcclCommunicator: CUDA device " + std::to_string(device) +
                                " is not available on every rank (this rank sees " +
                                std::to_string(devices) +
                                " devices); use the MPI backend on CPU-only nodes");
  }
  ncclUniqueId id;
  if (host->rank() == 0) NCCL_CHECK(ncclGetUniqueId(&id));
  VLM_RETURN_IF_ERROR(host->Broadcast(&id, sizeof(id), 0));
  CUDA_CHECK(cudaSetDevice(device));
  cudaStream_t stream = nullptr;
  CUDA_CHECK(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking));
  ncclComm_t nccl = nullptr;
  const ncclResult_t rc = ncclCommInitRank(&nccl, host->size(), id, host->rank());
  if (rc != ncclSuccess) {
    cudaStreamDestroy(stream);
    return Status::Runtime(std::string("ncclCommInitRank failed: ") + ncclGetErrorString(rc));
  }
  return std::unique_ptr<Communicator>(new NcclCommunicator(std::move(host), nccl, stream, device));
}

}  // namespace vlmscale::comm
