// Data-parallel training under mpiexec with 2 ranks (tests/train/CMakeLists.txt).
#include <gtest/gtest.h>
#include <mpi.h>

#include <atomic>
#include <cmath>
#include <filesystem>

#include "comm/mpi_communicator.h"
#include "tests/train/train_test_util.h"
#include "train/trainer.h"

namespace vlmscale::train {
namespace {

std::unique_ptr<comm::Communicator> World() {
  auto comm = comm::MakeMpiCommunicator(MPI_COMM_WORLD);
  CHECK(comm.ok()) << comm.status().ToString();
  return std::move(comm.value());
}

// The same value on every rank of `comm` (max - min over ranks == 0).
void ExpectSameOnEveryRank(comm::Communicator* comm, double value, const char* what) {
  double v[2] = {value, value * value};
  ASSERT_TRUE(comm->AllReduceSumHost(v, 2).ok());
  const double n = comm->size();
  EXPECT_NEAR(v[0] / n, value, 1e-12 * std::max(1.0, std::abs(value))) << what;
  EXPECT_NEAR(v[1] / n - (v[0] / n) * (v[0] / n), 0.0, 1e-9 * std::max(1.0, value * value)) << what;
}

TEST(TrainerMpi, TwoRanksFollowTheOneRankLossCurveAtTheSameGlobalBatch) {
  auto world = World();
  ASSERT_EQ(world->size(), 2);
  TestSetup setup = MakeTestSetup("shapes", "avgpool", 16, /*steps=*/40);
  setup.train.log_every = 1;
  TrainResult parallel;
  Status s = TrainAndEvaluate(setup.train, setup.model, *setup.task, setup.encoder, world.get(),
                              nullptr, &parallel);
  ASSERT_TRUE(s.ok()) << s.ToString();
  ExpectSameOnEveryRank(world.get(), parallel.parameter_checksum, "parameter checksum");
  ExpectSameOnEveryRank(world.get(), parallel.eval_loss, "eval loss");

  auto single = comm::MakeSingleRankCommunicator();
  TrainResult serial;
  ASSERT_TRUE(TrainAndEvaluate(setup.train, setup.model, *setup.task, setup.encoder, single.get(),
                               nullptr, &serial)
                  .ok());
  ASSERT_EQ(parallel.curves.size(), serial.curves.size());
  double max_rel = 0.0;
  for (size_t i = 0; i < serial.curves.size(); ++i) {
    if (serial.curves[i].name != "train_loss") continue;
    const double a = parallel.curves[i].value;
    const double b = serial.curves[i].value;
    max_rel = std::max(max_rel, std::abs(a - b) / std::abs(b));
  }
  // Float sums in another order: differences at the 1e-6 level that training may amplify a bit.
  EXPECT_LT(max_rel, 1e-3);
  EXPECT_NEAR(parallel.eval_loss, serial.eval_loss, 1e-3 * serial.eval_loss);
  EXPECT_NEAR(parallel.accuracy, serial.accuracy, 2.0 / setup.train.eval_examples);
}

TEST(TrainerMpi, AnUnevenBatchSplitStillMatchesOneRank) {
  auto world = World();
  TestSetup setup = MakeTestSetup("glyphs", "avgpool", 4, /*steps=*/10);
  setup.train.batch_size = 15;  // Ranks get 7 and 8 examples.
  setup.train.eval_examples = 33;
  setup.train.log_every = 1;
  TrainResult parallel;
  ASSERT_TRUE(TrainAndEvaluate(setup.train, setup.model, *setup.task, setup.encoder, world.get(),
                               nullptr, &parallel)
                  .ok());
  auto single = comm::MakeSingleRankCommunicator();
  TrainResult serial;
  ASSERT_TRUE(TrainAndEvaluate(setup.train, setup.model, *setup.task, setup.encoder, single.get(),
                               nullptr, &serial)
                  .ok());
  EXPECT_NEAR(parallel.final_train_loss, serial.final_train_loss, 1e-4 * serial.final_train_loss);
  EXPECT_NEAR(parallel.eval_loss, serial.eval_loss, 1e-4 * serial.eval_loss);
}

TEST(TrainerMpi, AStopOnOneRankStopsBothAndTheResumeMatchesAnUninterruptedRun) {
  auto world = World();
  TestSetup setup = MakeTestSetup("shapes", "tokenpacker", 4, /*steps=*/24);
  TrainResult uninterrupted;
  ASSERT_TRUE(TrainAndEvaluate(setup.train, setup.model, *setup.task, setup.encoder, world.get(),
                               nullptr, &uninterrupted)
                  .ok());

  // Rank 0 picks the directory; both ranks use it (a shared job_dir, as the driver gives).
  char dir[256] = {0};
  std::unique_ptr<TempDir> temp;
  if (world->rank() == 0) {
    temp = std::make_unique<TempDir>();
    std::snprintf(dir, sizeof(dir), "%s", temp->path().c_str());
  }
  ASSERT_TRUE(world->Broadcast(dir, sizeof(dir), 0).ok());
  setup.train.checkpoint_path = std::string(dir) + "/checkpoint.pt";
  std::atomic<bool> stop{false};
  const int stopper = world->size() - 1;
  setup.train.on_step = [&](const StepInfo& info) {
    if (world->rank() == stopper && info.step == 8) stop = true;
  };
  TrainResult first;
  Status s = TrainAndEvaluate(setup.train, setup.model, *setup.task, setup.encoder, world.get(),
                              &stop, &first);
  EXPECT_TRUE(s.IsCancelled()) << s.ToString();
  EXPECT_EQ(first.steps_done, 10);

  stop = false;
  setup.train.on_step = nullptr;
  TrainResult resumed;
  s = TrainAndEvaluate(setup.train, setup.model, *setup.task, setup.encoder, world.get(), &stop,
                       &resumed);
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(resumed.resumed_from_step, 10);
  EXPECT_DOUBLE_EQ(resumed.parameter_checksum, uninterrupted.parameter_checksum);
  EXPECT_DOUBLE_EQ(resumed.eval_loss, uninterrupted.eval_loss);
  ASSERT_TRUE(world->Barrier().ok());  // Rank 0 removes the directory only after both resumed.
}

}  // namespace
}  // namespace vlmscale::train
