// The cost of forming a job's communicator per job (issue 18): 2-rank groups running 0-s jobs
// (a job is its communicator plus one barrier on it), with the group built for every job
// (GroupComms::Get after Forget: MPI_Comm_create_group and the backend's duplicate) against the
// same groups reused (GroupComms::Get finds them) and against a fixed communicator (the barrier
// alone). The groups change between jobs: with 4 or more ranks, jobs alternate between the
// pairings {0,1},{2,3},... and {1,2},{3,4},...,{W-1,0}.
//   mpirun --oversubscribe -np 4 build/bench/driver/group_bench [jobs per mode, default 2000]
// Prints microseconds per job (the slowest rank's wall time / jobs) for each mode side by side.
#include <mpi.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "driver/group_comms.h"

namespace {

using vlmscale::driver::GroupComms;

// This rank's pair in round `job`: {r, partner} sorted.
std::vector<int> PairOf(int rank, int world, int job) {
  int partner;
  if (world < 4 || job % 2 == 0) {
    partner = rank % 2 == 0 ? rank + 1 : rank - 1;
  } else {
    partner = rank % 2 == 1 ? (rank + 1) % world : (rank - 1 + world) % world;
  }
  return {std::min(rank, partner), std::max(rank, partner)};
}

enum class Mode { kFormPerJob, kReuse, kFixed };

double SecondsPerJob(Mode mode, int jobs) {
  int rank = 0, world = 1;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &world);
  GroupComms groups(/*device=*/-1);
  // The fixed communicator: the first pairing, built once.
  vlmscale::comm::Communicator* fixed = *groups.Get(PairOf(rank, world, 0));
  MPI_Barrier(MPI_COMM_WORLD);
  const double start = MPI_Wtime();
  for (int j = 0; j < jobs; ++j) {
    vlmscale::comm::Communicator* c = fixed;
    std::vector<int> members;
    if (mode != Mode::kFixed) {
      members = PairOf(rank, world, j);
      auto got = groups.Get(members);
      if (!got.ok()) {
        std::fprintf(stderr, "rank %d: %s\n", rank, got.status().ToString().c_str());
        MPI_Abort(MPI_COMM_WORLD, 1);
      }
      c = *got;
    }
    if (!c->Barrier().ok()) MPI_Abort(MPI_COMM_WORLD, 1);
    if (mode == Mode::kFormPerJob) groups.Forget(members);
  }
  double mine = MPI_Wtime() - start, slowest = 0;
  MPI_Allreduce(&mine, &slowest, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
  return slowest / jobs;
}

}  // namespace

int main(int argc, char** argv) {
  int provided = 0;
  MPI_Init_thread(&argc, &argv, MPI_THREAD_MULTIPLE, &provided);
  int rank = 0, world = 1;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &world);
  const int jobs = argc > 1 ? std::atoi(argv[1]) : 2000;
  if (world % 2 != 0 || jobs < 1) {
    if (rank == 0) std::fprintf(stderr, "usage: mpirun -np EVEN group_bench [jobs >= 1]\n");
    MPI_Finalize();
    return 2;
  }
  SecondsPerJob(Mode::kReuse, std::min(jobs, 100));  // Warm-up.
  const double form = SecondsPerJob(Mode::kFormPerJob, jobs);
  const double reuse = SecondsPerJob(Mode::kReuse, jobs);
  const double fixed = SecondsPerJob(Mode::kFixed, jobs);
  if (rank == 0) {
    std::printf("forming a group per job: %d ranks, 2-rank groups, 0-s jobs, %d jobs per mode\n",
                world, jobs);
    std::printf("  %-46s %10.1f us/job\n", "group built per job (MPI_Comm_create_group)",
                form * 1e6);
    std::printf("  %-46s %10.1f us/job\n", "same groups reused (GroupComms::Get)", reuse * 1e6);
    std::printf("  %-46s %10.1f us/job\n", "fixed communicator (barrier only)", fixed * 1e6);
    std::printf("  building costs %.1f us per job over reuse\n", (form - reuse) * 1e6);
  }
  MPI_Finalize();
  return 0;
}
