// Communicator: how bytes move between the ranks of one job (Horovod's ops/ split from its
// controller). Backends: single-rank (no-op), MPI (CPU tensors), NCCL (CUDA tensors, built when
// VLMSCALE_HAVE_NCCL). The driver creates one per job group; jobs only see this interface.
#ifndef VLMSCALE_COMM_COMMUNICATOR_H_
#define VLMSCALE_COMM_COMMUNICATOR_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "core/status.h"

namespace vlmscale::comm {

class Communicator {
 public:
  virtual ~Communicator() = default;

  virtual int rank() const = 0;  // 0 .. size()-1 within the job.
  virtual int size() const = 0;
  // "single", "mpi" or "nccl".
  virtual std::string backend() const = 0;

  // In-place sum of `count` floats across all ranks. For the NCCL backend `data` is device memory.
  // REQUIRES: every rank calls with the same count, in the same order.
  virtual Status AllReduceSum(float* data, size_t count) = 0;
  // In-place sum of doubles (host memory on every backend): metrics, counters.
  virtual Status AllReduceSumHost(double* data, size_t count) = 0;
  // Copies `bytes` bytes of host memory from `root` to every rank.
  virtual Status Broadcast(void* data, size_t bytes, int root) = 0;
  virtual Status Barrier() = 0;
};

// A communicator of one rank: every collective is a no-op.
std::unique_ptr<Communicator> MakeSingleRankCommunicator();

}  // namespace vlmscale::comm

#endif  // VLMSCALE_COMM_COMMUNICATOR_H_
