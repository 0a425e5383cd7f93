#include "comm/mpi_communicator.h"

#include <algorithm>
#include <climits>
#include <string>

namespace vlmscale::comm {

Status MpiError(const char* what, int code) {
  char text[MPI_MAX_ERROR_STRING] = {0};
  int length = 0;
  if (MPI_Error_string(code, text, &length) != MPI_SUCCESS) {
    return Status::Runtime(std::string(what) + " failed with MPI error code " +
                           std::to_string(code));
  }
  return Status::Runtime(std::string(what) + " failed: " + std::string(text, length));
}

namespace {

// MPI counts are int: large buffers go in chunks of at most this many elements.
constexpr size_t kMaxChunk = static_cast<size_t>(INT_MAX) / 2;

class MpiCommunicator : public Communicator {
 public:
  MpiCommunicator(MPI_Comm comm, int rank, int size) : comm_(comm), rank_(rank), size_(size) {}
  ~MpiCommunicator() override {
    int finalized = 0;
    MPI_Finalized(&finalized);
    if (!finalized) MPI_Comm_free(&comm_);
  }

  int rank() const override { return rank_; }
  int size() const override { return size_; }
  std::string backend() const override { return "mpi"; }

  Status AllReduceSum(float* data, size_t count) override {
    for (size_t done = 0; done < count; done += kMaxChunk) {
      const int n = static_cast<int>(std::min(kMaxChunk, count - done));
      MPI_CHECK(MPI_Allreduce(MPI_IN_PLACE, data + done, n, MPI_FLOAT, MPI_SUM, comm_));
    }
    return Status::OK();
  }

  Status AllReduceSumHost(double* data, size_t count) override {
    for (size_t done = 0; done < count; done += kMaxChunk) {
      const int n = static_cast<int>(std::min(kMaxChunk, count - done));
      MPI_CHECK(MPI_Allreduce(MPI_IN_PLACE, data + done, n, MPI_DOUBLE, MPI_SUM, comm_));
    }
    return Status::OK();
  }

  Status Broadcast(void* data, size_t bytes, int root) override {
    if (root < 0 || root >= size_) {
      return Status::InvalidInput("Broadcast root " + std::to_string(root) +
                                  " is not a rank of this " + std::to_string(size_) +
                                  "-rank communicator");
    }
    char* bytes_ptr = static_cast<char*>(data);
    for (size_t done = 0; done < bytes; done += kMaxChunk) {
      const int n = static_cast<int>(std::min(kMaxChunk, bytes - done));
      MPI_CHECK(MPI_Bcast(bytes_ptr + done, n, MPI_BYTE, root, comm_));
    }
    return Status::OK();
  }

  Status Barrier() override {
    MPI_CHECK(MPI_Barrier(comm_));
    return Status::OK();
  }

 private:
  MPI_Comm comm_;
  int rank_;
  int size_;
};

}  // namespace

Result<std::unique_ptr<Communicator>> MakeMpiCommunicator(MPI_Comm comm) {
  int initialized = 0;
  MPI_Initialized(&initialized);
  if (!initialized) {
    return Status::Runtime("MakeMpiCommunicator called before MPI_Init: initialize MPI first");
  }
  if (comm == MPI_COMM_NULL) {
    return Status::InvalidInput(
        "MakeMpiCommunicator got MPI_COMM_NULL: pass a communicator "
        "this rank belongs to");
  }
  MPI_Comm dup = MPI_COMM_NULL;
  MPI_CHECK(MPI_Comm_dup(comm, &dup));
  MPI_CHECK(MPI_Comm_set_errhandler(dup, MPI_ERRORS_RETURN));
  int rank = 0;
  int size = 0;
  MPI_CHECK(MPI_Comm_rank(dup, &rank));
  MPI_CHECK(MPI_Comm_size(dup, &size));
  return std::unique_ptr<Communicator>(new MpiCommunicator(dup, rank, size));
}

}  // namespace vlmscale::comm
