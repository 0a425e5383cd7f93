#include "comm/communicator.h"

namespace vlmscale::comm {
namespace {

class SingleRankCommunicator : public Communicator {
 public:
  int rank() const override { return 0; }
  int size() const override { return 1; }
  std::string backend() const override { return "single"; }
  // The sum over one rank is the data itself; a broadcast from rank 0 to rank 0 copies nothing.
  Status AllReduceSum(float* data, size_t count) override { return Status::OK(); }
  Status AllReduceSumHost(double* data, size_t count) override { return Status::OK(); }
  Status Broadcast(void* data, size_t bytes, int root) override {
    if (root != 0) {
      return Status::InvalidInput("Broadcast root " + std::to_string(root) +
                                  " is not a rank of a single-rank communicator (only 0 is)");
    }
    return Status::OK();
  }
  Status Barrier() override { return Status::OK(); }
};

}  // namespace

std::unique_ptr<Communicator> MakeSingleRankCommunicator() {
  return std::make_unique<SingleRankCommunicator>();
}

}  // namespace vlmscale::comm
