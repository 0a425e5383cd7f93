// Unit tests of the command job: its parsers, and real runs of tests/command/fake_trainer.py in
// this process through Job::Run with a single-rank communicator.
#include "jobs/command/command_job.h"

#include <errno.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>
#include <thread>

#include "comm/communicator.h"
#include "config/config.h"
#include "config/sweep.h"
#include "core/strings.h"
#include "jobs/job_type.h"

namespace vlmscale::jobs {
namespace {

using command::ExpandPlaceholders;
using command::ParseMetricsJson;
using command::SplitCommandLine;
using ::testing::HasSubstr;

const std::string kFake = std::string(VLMSCALE_TEST_SOURCE_DIR) + "/tests/command/fake_trainer.py";

std::string ReadFile(const std::string& path) {
  std::ifstream f(path);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

bool Exists(const std::string& path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0;
}

// ---- Parsers -----------------------------------------------------------------------------------

TEST(CommandLine, SplitsOnSpacesAndGroupsDoubleQuotes) {
  auto w = SplitCommandLine("  prog  -x \"two words\" a\"b c\"d \"\" \\\"q\\\" ", "argv", false);
  ASSERT_TRUE(w.ok()) << w.status().ToString();
  EXPECT_EQ(*w, (std::vector<std::string>{"prog", "-x", "two words", "ab cd", "", "\"q\""}));
}

TEST(CommandLine, KeepsShellMetacharactersLiteral) {
  auto w = SplitCommandLine("p a;b $(id) `id` 'x y' | > * ~", "argv", false);
  ASSERT_TRUE(w.ok());
  EXPECT_EQ(
      *w, (std::vector<std::string>{"p", "a;b", "$(id)", "`id`", "'x", "y'", "|", ">", "*", "~"}));
}

TEST(CommandLine, RejectsUnterminatedQuoteAndEmptyCommand) {
  auto w = SplitCommandLine("prog \"open", "command.argv (f.ini:3)", false);
  ASSERT_FALSE(w.ok());
  EXPECT_THAT(w.status().message(), HasSubstr("command.argv (f.ini:3)"));
  EXPECT_THAT(w.status().message(), HasSubstr("unterminated"));
  EXPECT_FALSE(SplitCommandLine("   ", "argv", false).ok());
  EXPECT_TRUE(SplitCommandLine("   ", "env", true).ok());
}

TEST(CommandLine, ExpandsPlaceholdersOnceWithoutRescanning) {
  std::map<std::string, std::string> v = {{"llm", "{seed}"}, {"seed", "7"}, {"sweep.name", "x"}};
  auto e = ExpandPlaceholders("--m={llm}/{seed}/{sweep.name}/{{lit}}", v, "argv");
  ASSERT_TRUE(e.ok()) << e.status().ToString();
  EXPECT_EQ(*e, "--m={seed}/7/x/{lit}");
}

TEST(CommandLine, UnknownPlaceholderNamesTheKeyAndTheClosestName) {
  std::map<std::string, std::string> v = {{"visual_tokens", "4"}, {"train.lr", "0.1"}};
  auto e = ExpandPlaceholders("--t={visual_token}", v, "command.argv (c.ini:9)");
  ASSERT_FALSE(e.ok());
  EXPECT_EQ(e.status().code(), Status::Code::kInvalidInput);
  EXPECT_THAT(e.status().message(), HasSubstr("command.argv (c.ini:9)"));
  EXPECT_THAT(e.status().message(), HasSubstr("{visual_token}"));
  EXPECT_THAT(e.status().message(), HasSubstr("did you mean {visual_tokens}"));
  EXPECT_FALSE(ExpandPlaceholders("{open", v, "argv").ok());
  EXPECT_FALSE(ExpandPlaceholders("close}", v, "argv").ok());
}

TEST(Metrics, ParsesAnObjectOfNumbers) {
  auto m = ParseMetricsJson(" {\"error\": 0.25, \"accuracy\": 0.75, \"steps\": 300} \n");
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  EXPECT_EQ(m->size(), 3u);
  EXPECT_DOUBLE_EQ(m->at("error"), 0.25);
  EXPECT_DOUBLE_EQ(m->at("steps"), 300.0);
}

TEST(Metrics, RejectsEveryMalformedInputWithAMessage) {
  const std::vector<std::string> bad = {
      "",
      "   ",
      "[0.25]",
      "0.25",
      "{\"error\": \"0.25\"}",
      "{\"error\": true}",
      "{\"error\": null}",
      "{\"error\": [1]}",
      "{\"error\": {\"x\": 1}}",
      "{\"error\": 1e999}",
      "{\"error\": NaN}",
      "{\"error\": 0.25",
      "{\"error\": 0.25} trailing",
      "{\"error\": 0.25,}",
      "{\"\": 1}",
      "{\"a b\": 1}",
      "{\"" + std::string(65, 'k') + "\": 1}",
      "{\"\xff\xfe\": 1}",
      "{\"error\": 0.25, \"x\": \"\xc3\x28\"}",
      std::string(100000, '['),
      "{" + std::string(50000, '[') + "}",
      std::string("{\"error\": 0.1\0}", 15),
  };
  for (const auto& text : bad) {
    auto m = ParseMetricsJson(text);
    ASSERT_FALSE(m.ok()) << "accepted: " << text.substr(0, 60);
    EXPECT_FALSE(m.status().message().empty());
  }
  std::string many = "{";
  for (int i = 0; i < 1001; ++i)
    many += (i ? "," : "") + std::string("\"k") + std::to_string(i) + "\":1";
  EXPECT_FALSE(ParseMetricsJson(many + "}").ok());
  EXPECT_FALSE(ParseMetricsJson("{\"e\": " + std::string(2 << 20, '1') + "}").ok());
}

TEST(Metrics, RandomMutationsNeverCrashAndOnlyYieldFiniteNumbers) {
  const std::string seed = "{\"error\": 0.25, \"accuracy\": 7.5e-1, \"n\": -3, \"x.y-z\": 1e3}";
  const std::string alphabet = "{}[]\":,.-+eE0123456789 \\ntrufalsN\x01\xff";
  std::mt19937 rng(12345);
  int accepted = 0;
  for (int i = 0; i < 3000; ++i) {
    std::string s = seed;
    int edits = 1 + static_cast<int>(rng() % 4);
    for (int k = 0; k < edits; ++k) {
      size_t pos = rng() % (s.size() + 1);
      switch (rng() % 3) {
        case 0:
          if (pos < s.size()) s.erase(pos, 1);
          break;
        case 1:
          s.insert(pos, 1, alphabet[rng() % alphabet.size()]);
          break;
        default:
          if (pos < s.size()) s[pos] = alphabet[rng() % alphabet.size()];
      }
    }
    auto m = ParseMetricsJson(s);
    if (m.ok()) {
      ++accepted;
      for (const auto& kv : *m) EXPECT_TRUE(std::isfinite(kv.second)) << s;
    } else {
      EXPECT_FALSE(m.status().message().empty());
    }
  }
  EXPECT_GT(accepted, 0);  // Some mutations (e.g. of digits) stay valid.
}

TEST(Progress, ALineGivesPhaseStepLossAndCurvePoints) {
  JobProgress p;
  Status s = command::ParseProgressLine(
      R"({"step": 120, "total": 1000, "loss": 1.5, "phase": "train", "lr": 0.001})", &p);
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(p.step, 120);
  EXPECT_EQ(p.total, 1000);
  EXPECT_EQ(p.phase, "train");
  EXPECT_EQ(p.loss, 1.5);
  ASSERT_EQ(p.new_points.size(), 2u);
  EXPECT_EQ(p.new_points[0].name, "train_loss");  // As the built-in jobs name it.
  EXPECT_EQ(p.new_points[0].step, 120);
  EXPECT_EQ(p.new_points[1].name, "lr");
  EXPECT_EQ(p.new_points[1].value, 0.001);
  // A phase-only line keeps the rest; 3.0 is an integer as Python may write it.
  ASSERT_TRUE(command::ParseProgressLine(R"({"phase": "eval", "step": 3.0})", &p).ok());
  EXPECT_EQ(p.phase, "eval");
  EXPECT_EQ(p.step, 3);
  EXPECT_EQ(p.total, 1000);
  EXPECT_TRUE(p.new_points.empty());
}

TEST(Progress, MalformedLinesAreRefusedWithAReasonAndLeaveTheStateAlone) {
  const std::vector<std::pair<std::string, std::string>> bad = {
      {"not json", "not valid JSON"},
      {"[1, 2]", "not a JSON object"},
      {R"({"step": -1})", "\"step\" must be an integer >= 0"},
      {R"({"step": 1.5})", "\"step\" must be an integer >= 0"},
      {R"({"total": "many"})", "\"total\" must be an integer >= 0"},
      {R"({"step": 1, "phase": 3})", "\"phase\" must be a string"},
      {R"({"step": 1, "loss": "low"})", "\"loss\" must be a finite number"},
      {R"({"step": 1, "bad name!": 1})", "is not a metric name"},
      {R"({"loss": 2.0})", "needs \"step\""},
  };
  for (const auto& [line, why] : bad) {
    JobProgress p;
    p.step = 7;
    Status s = command::ParseProgressLine(line, &p);
    EXPECT_FALSE(s.ok()) << line;
    EXPECT_THAT(s.message(), HasSubstr(why)) << line;
    EXPECT_EQ(p.step, 7) << line;
  }
}

TEST(Progress, RandomMutationsNeverCrashAndOnlyYieldValidProgress) {
  const std::string seed =
      "{\"step\": 12, \"total\": 100, \"loss\": 1.5e-1, \"phase\": \"train\", \"a.b\": -3}";
  const std::string alphabet = "{}[]\":,.-+eE0123456789 \\ntrufalsN\x01\xff";
  std::mt19937 rng(2026);
  int accepted = 0;
  for (int i = 0; i < 3000; ++i) {
    std::string s = seed;
    for (int k = 1 + static_cast<int>(rng() % 4); k > 0; --k) {
      size_t pos = rng() % (s.size() + 1);
      if (rng() % 2 == 0 && pos < s.size()) {
        s[pos] = alphabet[rng() % alphabet.size()];
      } else {
        s.insert(pos, 1, alphabet[rng() % alphabet.size()]);
      }
    }
    JobProgress p;
    if (command::ParseProgressLine(s, &p).ok()) {
      ++accepted;
      EXPECT_GE(p.step, 0) << s;
      EXPECT_GE(p.total, 0) << s;
      for (const auto& point : p.new_points) EXPECT_TRUE(std::isfinite(point.value)) << s;
    }
  }
  EXPECT_GT(accepted, 0);
}

TEST(Progress, TheReaderFollowsCompleteLinesFromWhereTheFileWasAndCountsSkips) {
  char tmpl[] = "/tmp/vlmscale-progress-XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  const std::string path = std::string(tmpl) + "/progress.jsonl";
  auto append = [&](const std::string& text) {
    std::ofstream f(path, std::ios::app);
    f << text;
  };
  append("{\"step\": 1, \"loss\": 9}\n");  // An earlier attempt's line: not read again.
  command::ProgressReader reader(path);
  JobProgress latest;
  EXPECT_FALSE(reader.Poll(&latest));
  append("{\"step\": 2, \"loss\": 2.0}\nnot json\n{\"step\": 3, \"lo");  // Last line partial.
  ASSERT_TRUE(reader.Poll(&latest));
  EXPECT_EQ(latest.step, 2);
  EXPECT_EQ(latest.loss, 2.0);
  ASSERT_EQ(latest.new_points.size(), 1u);
  append("ss\": 1.0, \"acc\": 0.5}\n");
  ASSERT_TRUE(reader.Poll(&latest));
  EXPECT_EQ(latest.step, 3);
  ASSERT_EQ(latest.new_points.size(), 2u);  // Only this poll's points.
  ASSERT_EQ(reader.curves().size(), 3u);
  EXPECT_EQ(reader.curves()[1].name + " " + reader.curves()[2].name, "acc train_loss");
  EXPECT_EQ(reader.curves()[1].step, 3);
  EXPECT_EQ(reader.skipped(), 1);
  // A line over 64 KiB is skipped whole, even when it arrives in pieces.
  append("{\"step\": 4, \"x\": \"" + std::string(70000, 'a'));
  EXPECT_FALSE(reader.Poll(&latest));
  append("\"}\n{\"step\": 5}\n");
  ASSERT_TRUE(reader.Poll(&latest));
  EXPECT_EQ(latest.step, 5);
  EXPECT_EQ(reader.skipped(), 2);
  std::string cmd = "rm -rf '" + std::string(tmpl) + "'";
  ASSERT_EQ(system(cmd.c_str()), 0);
}

TEST(Progress, AFifoIsNeverOpened) {
  char tmpl[] = "/tmp/vlmscale-progress-XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  const std::string path = std::string(tmpl) + "/progress.jsonl";
  ASSERT_EQ(mkfifo(path.c_str(), 0600), 0);
  command::ProgressReader reader(path);
  JobProgress latest;
  EXPECT_FALSE(reader.Poll(&latest));  // Returns at once: opening it would wait for a writer.
  std::string cmd = "rm -rf '" + std::string(tmpl) + "'";
  ASSERT_EQ(system(cmd.c_str()), 0);
}

TEST(Metrics, ErrorComesFromTheConfiguredMetric) {
  std::map<std::string, double> m = {{"accuracy", 0.8}};
  ASSERT_TRUE(command::ApplyErrorMetric("accuracy", &m).ok());
  EXPECT_NEAR(m.at("error"), 0.2, 1e-12);
  m = {{"val_err", 0.3}};
  ASSERT_TRUE(command::ApplyErrorMetric("val_err", &m).ok());
  EXPECT_DOUBLE_EQ(m.at("error"), 0.3);
  m = {{"accuracy", 0.8}};
  Status s = command::ApplyErrorMetric("error", &m);
  EXPECT_FALSE(s.ok());
  EXPECT_THAT(s.message(), HasSubstr("'error'"));
  m = {{"accuracy", 80.0}};
  EXPECT_FALSE(command::ApplyErrorMetric("accuracy", &m).ok());
}

TEST(Metrics, ReadingAMissingFileIsNotFound) {
  auto m = command::ReadMetricsFile("/nonexistent/metrics.json");
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(m.status().code(), Status::Code::kNotFound);
  EXPECT_FALSE(command::ReadMetricsFile("/").ok());  // A directory.
}

// A FIFO with no writer: a blocking open waited for ever (issue 23: the sweep hung).
TEST(Metrics, AFifoIsRefusedWithoutBlocking) {
  char tmpl[] = "/tmp/vlmscale-fifo-XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  const std::string fifo = std::string(tmpl) + "/metrics.json";
  ASSERT_EQ(mkfifo(fifo.c_str(), 0644), 0);
  alarm(60);  // A regression hangs: end the test instead of the suite.
  auto m = command::ReadMetricsFile(fifo);
  alarm(0);
  ASSERT_FALSE(m.ok());
  EXPECT_TRUE(m.status().IsInvalidInput()) << m.status().ToString();
  EXPECT_THAT(m.status().message(), HasSubstr("is a FIFO (named pipe), not a regular file"));
  unlink(fifo.c_str());
  rmdir(tmpl);
}

// ---- Running the fake trainer ------------------------------------------------------------------

class CommandJobRun : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/vlmscale-command-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    comm_ = comm::MakeSingleRankCommunicator();
  }
  void TearDown() override {
    std::string cmd = "rm -rf '" + dir_ + "'";
    ASSERT_EQ(system(cmd.c_str()), 0);
  }

  // Plans a one-point command sweep with `extra` config lines and runs its job once.
  Status RunOnce(const std::string& extra, JobOutput* out, int device = -1,
                 std::atomic<bool>* stop = nullptr) {
    std::string text = "[sweep]\nname = unit\noutput = " + dir_ +
                       "/r.h5\n[grid]\nllm = q\nvisual_tokens = 16\nmethod = avgpool\n"
                       "[llm.q]\nn_params = 2e9\n[job]\ntype = command\n" +
                       extra;
    auto config = ConfigFromString(text, "unit.ini", {});
    if (!config.ok()) return config.status();
    config_ = *config;
    auto sweep = PlanSweep(config_);
    if (!sweep.ok()) return sweep.status();
    sweep_ = *sweep;
    run_dir_ = dir_ + "/run-" + std::to_string(++runs_);
    EXPECT_EQ(mkdir(run_dir_.c_str(), 0755), 0);
    if (before_run_) before_run_();
    JobInput in;
    in.config = &config_;
    in.spec = &sweep_.jobs[0];
    in.sweep = &sweep_;
    in.attempt = 2;
    in.run_dir = run_dir_;
    in.job_dir = dir_;
    JobEnv env;
    env.comm = comm_.get();
    env.device = device;
    env.stop_requested = stop != nullptr ? stop : &no_stop_;
    env.heartbeat = [this] { ++heartbeats_; };
    env.progress = [this](const JobProgress& p) {
      progress_.push_back(p);
      ++heartbeats_;
    };
    env.grace_seconds = config_.GetDouble("run.grace_seconds");  // As the driver passes it.
    auto job = CreateJob(sweep_);
    return job->Run(in, env, out);
  }

  std::string Argv(const std::string& extra_args = "") {
    return "[command]\nargv = /usr/bin/python3 " + kFake +
           " --llm {llm} --n-params {n_params} --visual-tokens {visual_tokens} --method {method}"
           " --seed {seed} --attempt {attempt} --run-dir {run_dir} " +
           extra_args + "\n";
  }

  nlohmann::json Seen() { return nlohmann::json::parse(ReadFile(run_dir_ + "/seen.rank0.json")); }

  std::string dir_, run_dir_;
  std::function<void()> before_run_;  // Called once the run directory exists.
  int runs_ = 0;
  std::atomic<int> heartbeats_{0};
  std::vector<JobProgress> progress_;  // What the job reported, in order.
  std::atomic<bool> no_stop_{false};
  std::unique_ptr<comm::Communicator> comm_;
  config::Config config_;
  config::Sweep sweep_;
};

TEST_F(CommandJobRun, RecordsTheMetricsTheProgramWrites) {
  JobOutput out;
  Status s = RunOnce(Argv("--seconds 0.3"), &out);
  ASSERT_TRUE(s.ok()) << s.ToString();
  const double expected = 5.0 * std::pow(2e9, -0.12) * std::pow(16.0, -0.25) + 0.15;
  EXPECT_NEAR(out.metrics.at("error"), expected, 1e-12);
  EXPECT_NEAR(out.metrics.at("accuracy"), 1 - expected, 1e-12);
  EXPECT_GT(out.metrics.at("train_steps"), 0.0);
  EXPECT_DOUBLE_EQ(out.metrics.at("inference_flops"), sweep_.jobs[0].inference_flops);
  EXPECT_GE(out.train_seconds, 0.3);
  EXPECT_GE(heartbeats_.load(), 3);  // The progress lines count as progress.
  nlohmann::json seen = Seen();
  EXPECT_EQ(seen["argv"][1], "q");
  EXPECT_EQ(seen["argv"][3], "2000000000");
  EXPECT_EQ(seen["env"]["CUDA_VISIBLE_DEVICES"], "");  // CPU binding: no GPU visible.
  EXPECT_TRUE(seen["env"]["WORLD_SIZE"].is_null());    // Single rank: no torchrun variables.
  EXPECT_TRUE(seen["env"]["OMPI_COMM_WORLD_RANK"].is_null());
  EXPECT_EQ(seen["env"]["VLMSCALE_ATTEMPT"], "2");
  EXPECT_TRUE(seen["pgid_is_pid"].get<bool>());
  EXPECT_THAT(ReadFile(run_dir_ + "/stdout.log"), HasSubstr("step 0"));
}

TEST_F(CommandJobRun, ProgressLinesBecomeLiveProgressAndTheJobsCurves) {
  JobOutput out;
  Status s = RunOnce(Argv("--seconds 0.4"), &out);
  ASSERT_TRUE(s.ok()) << s.ToString();
  const int64_t steps = static_cast<int64_t>(out.metrics.at("train_steps"));
  ASSERT_GE(steps, 3);
  // Every step's line is a train_loss and an lr point, in order, as the program wrote them.
  std::vector<store::CurvePoint> loss;
  for (const auto& p : out.curves) {
    if (p.name == "train_loss") loss.push_back(p);
  }
  ASSERT_EQ(static_cast<int64_t>(loss.size()), steps);
  ASSERT_EQ(out.curves.size(), 2 * loss.size());
  for (int64_t i = 0; i < steps; ++i) {
    EXPECT_EQ(loss[i].step, i);
    EXPECT_DOUBLE_EQ(loss[i].value, 1.0 / (i + 1));
  }
  // Live: reported while it ran, the last with the last step and its loss.
  ASSERT_FALSE(progress_.empty());
  EXPECT_EQ(progress_.back().step, steps - 1);
  EXPECT_DOUBLE_EQ(progress_.back().loss, 1.0 / steps);
  EXPECT_EQ(progress_.back().phase, "train");
  size_t points = 0;
  for (const auto& p : progress_) points += p.new_points.size();
  EXPECT_EQ(points, out.curves.size());  // Each point reported live exactly once.
  EXPECT_EQ(out.metrics.count("progress_lines_skipped"), 0u);
  EXPECT_EQ(Seen()["vlmscale_env"]["VLMSCALE_PROGRESS"], run_dir_ + "/progress.jsonl");
}

TEST_F(CommandJobRun, MalformedProgressLinesAreCountedNotFatal) {
  JobOutput out;
  Status s = RunOnce(Argv("--seconds 0.2") + "env = FAKE_HOW=bad-progress\n", &out);
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(out.metrics.at("progress_lines_skipped"), 3.0);
  EXPECT_FALSE(out.curves.empty());
  EXPECT_EQ(out.curves.front().step, 0);
}

TEST_F(CommandJobRun, ShellMetacharactersReachTheProgramAsLiteralArguments) {
  const std::string marker = dir_ + "/pwned";
  const std::string evil = "a; touch " + marker + " $(touch " + marker + ") `touch " + marker +
                           "` | > ../../x && rm -rf /nonexistent";
  JobOutput out;
  Status s = RunOnce("[sweep]\ndescription = " + evil + "\n" +
                         Argv("--echo \"" + evil + "\" --echo {sweep.description} --echo '$HOME'"),
                     &out);
  ASSERT_TRUE(s.ok()) << s.ToString();
  nlohmann::json seen = Seen();
  ASSERT_EQ(seen["echo"].size(), 3u);
  EXPECT_EQ(seen["echo"][0], evil);
  EXPECT_EQ(seen["echo"][1], evil);
  EXPECT_EQ(seen["echo"][2], "'$HOME'");
  EXPECT_FALSE(Exists(marker)) << "a shell ran the command";
}

TEST_F(CommandJobRun, EnvAdditionsAndDeviceBindingReachTheProgram) {
  JobOutput out;
  Status s = RunOnce(Argv() + "env = FAKE_EXTRA=\"{llm} and {visual_tokens}; $(id)\"\n", &out,
                     /*device=*/3);
  ASSERT_TRUE(s.ok()) << s.ToString();
  nlohmann::json seen = Seen();
  EXPECT_EQ(seen["env"]["FAKE_EXTRA"], "q and 16; $(id)");
  EXPECT_EQ(seen["env"]["CUDA_VISIBLE_DEVICES"], "3");
}

TEST_F(CommandJobRun, UnknownPlaceholderIsRejectedAtPlanTimeAndFailsAJobWithClassError) {
  JobOutput out;
  // Planning rejects it (exit 2 from plan, run and submit), naming the placeholder.
  Status s = RunOnce(Argv("--lr {train.lrate}"), &out);
  ASSERT_FALSE(s.ok());
  EXPECT_TRUE(s.IsInvalidInput()) << s.ToString();
  EXPECT_THAT(s.message(), HasSubstr("{train.lrate}"));
  EXPECT_THAT(s.message(), HasSubstr("did you mean {train.lr}"));
  EXPECT_FALSE(command::ValidateCommandConfig(config_).ok());
  // A job given such options anyway fails with class error and runs nothing.
  ASSERT_TRUE(RunOnce(Argv(), &out).ok());
  JobInput in;
  in.config = &config_;
  in.spec = &sweep_.jobs[0];
  in.run_dir = run_dir_;
  in.job_dir = dir_;
  JobEnv env;
  env.comm = comm_.get();
  env.stop_requested = &no_stop_;
  env.heartbeat = [] {};
  CommandOptions options = command::ReadCommandOptions(config_);
  options.argv += " --lr {train.lrate}";
  JobOutput bad;
  s = MakeCommandJob(options)->Run(in, env, &bad);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(bad.failure_class, "error");
  EXPECT_THAT(s.message(), HasSubstr("{train.lrate}"));
}

TEST_F(CommandJobRun, MissingProgramIsAClearError) {
  JobOutput out;
  Status s = RunOnce("[command]\nargv = no-such-trainer-xyz --x\n", &out);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(out.failure_class, "error");
  EXPECT_THAT(s.message(), HasSubstr("no-such-trainer-xyz"));
  s = RunOnce("[command]\nargv = " + dir_ + "\n", &out);
  ASSERT_FALSE(s.ok());
  EXPECT_THAT(s.message(), HasSubstr("cannot execute"));
}

TEST_F(CommandJobRun, FailuresAreClassifiedWithTheLogTail) {
  struct Case {
    std::string how, failure_class, in_message;
  };
  const std::vector<Case> cases = {
      {"exit", "error", "out of patience (told to fail)"},
      {"crash", "killed", "Segmentation fault"},
      {"no-metrics", "no-metrics", "does not exist"},
      {"bad-metrics", "no-metrics", "must be a number"},
      {"accuracy", "no-metrics", "no 'error'"},
  };
  for (const auto& c : cases) {
    JobOutput out;
    Status s = RunOnce(Argv() + "env = FAKE_HOW=" + c.how + "\n", &out);
    ASSERT_FALSE(s.ok()) << c.how;
    EXPECT_FALSE(s.IsCancelled()) << c.how;
    EXPECT_EQ(out.failure_class, c.failure_class) << c.how;
    EXPECT_THAT(s.message(), HasSubstr(c.in_message)) << c.how;
    EXPECT_THAT(s.message(), HasSubstr(run_dir_)) << c.how;
  }
  JobOutput out;
  Status s = RunOnce(Argv() + "env = FAKE_HOW=accuracy\nmetric = accuracy\n", &out);
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_NEAR(out.metrics.at("error") + out.metrics.at("accuracy"), 1.0, 1e-12);
}

TEST_F(CommandJobRun, TimeoutKillsTheProcessGroup) {
  JobOutput out;
  auto t0 = std::chrono::steady_clock::now();
  Status s = RunOnce(Argv() +
                         "env = FAKE_HOW=deaf FAKE_SECONDS=30\ntimeout_seconds = 0.5\n"
                         "[run]\ngrace_seconds = 0.5\n",
                     &out);
  double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(out.failure_class, "timeout");
  EXPECT_THAT(s.message(), HasSubstr("timed out"));
  EXPECT_THAT(s.message(), HasSubstr("signal 9"));  // Deaf to SIGTERM: needed SIGKILL.
  EXPECT_LT(took, 5.0);
}

// The program makes metrics.json a FIFO and exits 0: the attempt fails at once (class
// no-metrics) instead of waiting for a writer for ever, timeout_seconds or not.
TEST_F(CommandJobRun, AFifoForMetricsFailsTheAttemptInsteadOfHangingTheSweep) {
  for (const char* timeout : {"0", "3"}) {
    SCOPED_TRACE(timeout);
    JobOutput out;
    alarm(60);
    auto t0 = std::chrono::steady_clock::now();
    Status s = RunOnce(std::string("[command]\nargv = /bin/sh -c \"mkfifo "
                                   "$VLMSCALE_RUN_DIR/metrics.json\"\ntimeout_seconds = ") +
                           timeout + "\n",
                       &out);
    double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    alarm(0);
    ASSERT_FALSE(s.ok());
    EXPECT_EQ(out.failure_class, "no-metrics");
    EXPECT_THAT(s.message(), HasSubstr("metrics.json is a FIFO (named pipe), not a regular file"));
    EXPECT_LT(took, 10.0);
  }
}

// A FIFO where a log file goes (left in a resumed run directory) fails the attempt; opening it
// for writing would have waited for a reader.
TEST_F(CommandJobRun, AFifoForALogFileIsAnErrorNotAHang) {
  before_run_ = [this] { ASSERT_EQ(mkfifo((run_dir_ + "/stderr.log").c_str(), 0644), 0); };
  JobOutput out;
  alarm(60);
  Status s = RunOnce("[command]\nargv = /bin/true\n", &out);
  alarm(0);
  ASSERT_FALSE(s.ok());
  EXPECT_THAT(s.message(), HasSubstr("a log file there is not a regular file"));
}

// The pid the orphan wrote to `path`, once it is there.
pid_t ReadPid(const std::string& path) {
  std::ifstream f(path);
  long pid = 0;
  f >> pid;
  return static_cast<pid_t>(pid);
}

// A process the trainer starts in a new session (out of reach of a kill of its process group)
// is killed and reaped when the trainer exits, whether it succeeded or failed; the job's own
// process adopts nothing and is left with no child.
TEST_F(CommandJobRun, ProcessesTheProgramLeavesInANewSessionDieWithTheAttempt) {
  for (const char* exit_code : {"0", "3"}) {
    SCOPED_TRACE(exit_code);
    JobOutput out;
    // The orphan writes its own pid (setsid may fork), then the trainer writes metrics and exits.
    const std::string argv =
        "[command]\nargv = /bin/sh -c \"setsid /bin/sh -c 'echo $$ > "
        "$VLMSCALE_RUN_DIR/orphan.pid.tmp && mv $VLMSCALE_RUN_DIR/orphan.pid.tmp "
        "$VLMSCALE_RUN_DIR/orphan.pid && exec sleep 300' & "
        "while [ ! -s $VLMSCALE_RUN_DIR/orphan.pid ]; do sleep 0.01; done; "
        "echo '{{\\\"error\\\": 0.25}}' > $VLMSCALE_RUN_DIR/metrics.json; exit " +
        std::string(exit_code) + "\"\n";
    auto t0 = std::chrono::steady_clock::now();
    Status s = RunOnce(argv, &out);
    double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    EXPECT_EQ(s.ok(), std::string(exit_code) == "0") << s.ToString();
    if (s.ok()) EXPECT_DOUBLE_EQ(out.metrics.at("error"), 0.25);
    const pid_t orphan = ReadPid(run_dir_ + "/orphan.pid");
    ASSERT_GT(orphan, 1);
    EXPECT_EQ(kill(orphan, 0), -1) << "pid " << orphan << " outlived its job";
    EXPECT_EQ(errno, ESRCH);
    EXPECT_LT(took, 10.0);
  }
  int subreaper = -1;
  ASSERT_EQ(prctl(PR_GET_CHILD_SUBREAPER, &subreaper), 0);
  EXPECT_EQ(subreaper, 0) << "the job's own process must not adopt the trainer's orphans";
  EXPECT_EQ(waitpid(-1, nullptr, WNOHANG), -1) << "a child of the job's process is left";
  EXPECT_EQ(errno, ECHILD);
}

TEST_F(CommandJobRun, StopRequestIsForwardedAndReturnsCancelled) {
  for (bool deaf : {false, true}) {
    std::atomic<bool> stop{false};
    std::thread t([&] {
      std::this_thread::sleep_for(std::chrono::milliseconds(700));
      stop = true;
    });
    JobOutput out;
    auto t0 = std::chrono::steady_clock::now();
    Status s = RunOnce(Argv() + "env = FAKE_SECONDS=30" + (deaf ? " FAKE_HOW=deaf" : "") +
                           "\n[run]\ngrace_seconds = 1\n",
                       &out, -1, &stop);
    double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    t.join();
    EXPECT_TRUE(s.IsCancelled()) << deaf << " " << s.ToString();
    EXPECT_LT(took, 5.0);
    if (deaf) {
      EXPECT_GT(took, 1.6);  // Waited the grace period before SIGKILL.
      EXPECT_FALSE(Exists(run_dir_ + "/stopped.rank0"));
    } else {
      EXPECT_EQ(ReadFile(run_dir_ + "/stopped.rank0"), "SIGUSR1");
    }
  }
}

TEST_F(CommandJobRun, StaleMetricsOfAStoppedAttemptAreNeverRead) {
  JobOutput out;
  // Run once so run_dir_ exists, then plant metrics and rerun in the same directory.
  ASSERT_TRUE(RunOnce(Argv(), &out).ok());
  std::string planted = run_dir_ + "/metrics.json";
  { std::ofstream(planted) << "{\"error\": 0.01}"; }
  // Same directory again: a program that writes nothing must fail, not reuse 0.01.
  JobInput in;
  in.config = &config_;
  in.spec = &sweep_.jobs[0];
  in.sweep = &sweep_;
  in.run_dir = run_dir_;
  in.job_dir = dir_;
  auto config = ConfigFromString(
      "[sweep]\nname = unit\noutput = " + dir_ +
          "/r.h5\n[grid]\nllm = q\nvisual_tokens = 16\n"
          "method = avgpool\n[llm.q]\nn_params = 2e9\n[job]\ntype = command\n" +
          Argv() + "env = FAKE_HOW=no-metrics\n",
      "unit.ini", {});
  ASSERT_TRUE(config.ok());
  in.config = &*config;
  JobEnv env;
  env.comm = comm_.get();
  env.stop_requested = &no_stop_;
  env.heartbeat = [] {};
  JobOutput out2;
  Status s = MakeCommandJob(command::ReadCommandOptions(*config))->Run(in, env, &out2);
  EXPECT_FALSE(s.ok());
  EXPECT_EQ(out2.failure_class, "no-metrics");
}

// ---- Stages: placeholders and environment of a job that needs another stage's job -----------

class CommandStageRun : public CommandJobRun {
 protected:
  // A two-stage study: `fine-tune` over (llm, visual_tokens, method), then `ev`, which needs it
  // and has its own axis benchmark; `ev_argv` is ev's command.argv (line 17 of unit.ini).
  Status Plan(const std::string& ev_argv, const std::string& extra = "") {
    std::string text = "[sweep]\nname = unit\noutput = " + dir_ +
                       "/r.h5\n[grid]\nllm = q\nvisual_tokens = 16\nmethod = avgpool\n"
                       "[llm.q]\nn_params = 2e9\n"
                       "[stage.fine-tune]\ntype = command\nover = llm, visual_tokens, method\n"
                       "command.argv = /bin/true\n"
                       "[stage.ev]\ntype = command\nover = llm, visual_tokens, method\n"
                       "command.argv = " +
                       ev_argv + "\n" + "needs = fine-tune\naxis.benchmark = gqa, pope\n" + extra;
    auto config = ConfigFromString(text, "unit.ini", {});
    if (!config.ok()) return config.status();
    config_ = *config;
    auto sweep = PlanSweep(config_);
    if (!sweep.ok()) return sweep.status();
    sweep_ = *sweep;
    return Status::OK();
  }

  // Runs the ev job with benchmark = pope, its parent handed over with `metrics`.
  Status RunEval(const std::map<std::string, double>& metrics, JobOutput* out) {
    const config::JobSpec* spec = nullptr;
    for (const auto& j : sweep_.jobs) {
      if (sweep_.stage_of(j).name == "ev" && config::AxisValue(j.point, "benchmark") == "pope") {
        spec = &j;
      }
    }
    EXPECT_NE(spec, nullptr);
    EXPECT_EQ(spec->parents.size(), 1u);
    parent_ = sweep_.jobs[spec->parents[0]];
    run_dir_ = dir_ + "/run-" + std::to_string(++runs_);
    EXPECT_EQ(mkdir(run_dir_.c_str(), 0755), 0);
    if (before_run_) before_run_();
    JobInput in;
    in.config = &config_;
    in.spec = spec;
    in.sweep = &sweep_;
    in.run_dir = run_dir_;
    in.job_dir = dir_;
    in.parents.push_back({"fine-tune", parent_.id, dir_ + "/parent dir", metrics});
    JobEnv env;
    env.comm = comm_.get();
    env.stop_requested = &no_stop_;
    env.heartbeat = [] {};
    return CreateJob(sweep_, *spec)->Run(in, env, out);
  }

  std::string Fake(const std::string& extra) {
    return "/usr/bin/python3 " + kFake +
           " --llm {llm} --n-params {n_params} --visual-tokens {visual_tokens} --run-dir "
           "{run_dir} " +
           extra;
  }

  config::JobSpec parent_;
};

TEST_F(CommandStageRun, NeedsAxesAndStagePlaceholdersAndEnvironmentReachTheProgram) {
  ASSERT_TRUE(Plan(Fake("--echo {stage} --echo {benchmark} --echo {needs.fine-tune.run_dir} "
                        "--echo {needs.fine-tune.job_dir} --echo {needs.fine-tune.job_id} "
                        "--echo {needs.fine-tune.metric.eval_loss} "
                        "--echo {needs.fine-tune.metric.steps}"))
                  .ok());
  JobOutput out;
  Status s = RunEval({{"eval_loss", 0.1}, {"steps", 3e9}, {"error", 1.0 / 3}}, &out);
  ASSERT_TRUE(s.ok()) << s.ToString();
  nlohmann::json seen = Seen();
  EXPECT_EQ(seen["echo"], nlohmann::json({"ev", "pope", dir_ + "/parent dir", dir_ + "/parent dir",
                                          parent_.id, "0.1", "3000000000"}));
  const nlohmann::json& env = seen["vlmscale_env"];
  EXPECT_EQ(env["VLMSCALE_STAGE"], "ev");
  EXPECT_EQ(env["VLMSCALE_AXIS_BENCHMARK"], "pope");
  EXPECT_EQ(env["VLMSCALE_NEEDS_FINE_TUNE_RUN_DIR"], dir_ + "/parent dir");
  EXPECT_EQ(env["VLMSCALE_NEEDS_FINE_TUNE_JOB_ID"], parent_.id);
  EXPECT_EQ(env["VLMSCALE_RUN_DIR"], run_dir_);
}

TEST_F(CommandStageRun, MetricsAreFormattedExactly) {
  ASSERT_TRUE(Plan(Fake("--echo={needs.fine-tune.metric.a} --echo={needs.fine-tune.metric.b} "
                        "--echo={needs.fine-tune.metric.c}"))
                  .ok());
  JobOutput out;
  Status s = RunEval({{"a", 1.0 / 3}, {"b", -2.5e-7}, {"c", 576}}, &out);
  ASSERT_TRUE(s.ok()) << s.ToString();
  nlohmann::json seen = Seen();
  EXPECT_EQ(std::stod(seen["echo"][0].get<std::string>()), 1.0 / 3);  // Reads back exactly.
  EXPECT_EQ(seen["echo"][0], ShortestNumber(1.0 / 3));
  EXPECT_EQ(seen["echo"][1], ShortestNumber(-2.5e-7));
  EXPECT_EQ(seen["echo"][2], "576");
}

TEST_F(CommandStageRun, AMetricTheParentDidNotRecordFailsTheAttemptNamingTheParent) {
  ASSERT_TRUE(Plan(Fake("--loss {needs.fine-tune.metric.eval_loss}")).ok());  // Plan accepts it.
  JobOutput out;
  Status s = RunEval({{"error", 0.25}, {"train_loss", 1.5}}, &out);
  ASSERT_FALSE(s.ok());
  EXPECT_FALSE(s.IsCancelled());
  EXPECT_EQ(out.failure_class, "error");
  EXPECT_THAT(s.message(), HasSubstr("stage.ev.command.argv (unit.ini:17)"));
  EXPECT_THAT(s.message(), HasSubstr("{needs.fine-tune.metric.eval_loss}"));
  EXPECT_THAT(s.message(), HasSubstr("job " + parent_.id + " of stage 'fine-tune'"));
  EXPECT_THAT(s.message(), HasSubstr("recorded no metric 'eval_loss'"));
  EXPECT_THAT(s.message(), HasSubstr("(it recorded: error, train_loss)"));
  EXPECT_FALSE(Exists(run_dir_ + "/seen.rank0.json")) << "the program ran";
}

TEST_F(CommandStageRun, PlanRejectsWhatNoJobOfTheStageCouldExpand) {
  struct Case {
    std::string argv, extra, message;
  };
  const std::vector<Case> cases = {
      {"/bin/true {seed}", "",
       "stage.ev.command.argv (unit.ini:17): placeholder {seed} names grid axis 'seed', which "
       "stage 'ev' does not vary (over = llm, visual_tokens, method); add seed to stage.ev.over "
       "or remove the placeholder"},
      {"/bin/true {task}", "", "names grid axis 'task', which stage 'ev' does not vary"},
      {"/bin/true {needs.ev.run_dir}", "",
       "stage.ev.command.argv (unit.ini:17): placeholder {needs.ev.run_dir} names stage 'ev', "
       "which stage 'ev' does not need (needs = fine-tune)"},
      {"/bin/true {needs.fine_tune.job_id}", "",
       "names stage 'fine_tune', which stage 'ev' does not need (needs = fine-tune); did you "
       "mean {needs.fine-tune.job_id}?"},
      {"/bin/true {benchmarks}", "",
       "stage.ev.command.argv (unit.ini:17): unknown placeholder {benchmarks}; did you mean "
       "{benchmark}? (known: llm, n_params, visual_tokens, method, job_id, run_dir, job_dir, "
       "attempt, text_tokens, stage, benchmark, needs.fine-tune.run_dir, needs.fine-tune.job_dir, "
       "needs.fine-tune.job_id, needs.fine-tune.metric.KEY, or any section.key of the config)"},
      {"/bin/true {needs.fine-tune}", "",
       "stage.ev.command.argv (unit.ini:17): malformed placeholder {needs.fine-tune}; expected "
       "{needs.STAGE.run_dir}, {needs.STAGE.job_dir}, {needs.STAGE.job_id} or "
       "{needs.STAGE.metric.KEY}"},
      {"/bin/true {needs.fine-tune.dir}", "", "malformed placeholder {needs.fine-tune.dir}"},
      {"/bin/true {needs.fine-tune.metric.}", "", "malformed placeholder"},
      {"/bin/true {needs.fine-tune.metric.a/b}", "", "malformed placeholder"},
      {"/bin/true {needs..run_dir}", "", "malformed placeholder {needs..run_dir}"},
      {"/bin/true", "axis.run_dir = a\n",
       "key 'stage.ev.axis.run_dir': 'run_dir' is a placeholder of every command job ({run_dir}); "
       "name the axis differently"},
      {"/bin/true", "axis.Benchmark = a\n",
       "axes 'benchmark' and 'Benchmark' would both be VLMSCALE_AXIS_BENCHMARK"},
      {"/bin/true", "command.env = X={seed}\n",
       "stage.ev.command.env (unit.ini:20): placeholder {seed} names grid axis 'seed'"},
  };
  for (const auto& c : cases) {
    Status s = Plan(c.argv, c.extra);
    ASSERT_FALSE(s.ok()) << c.argv << " " << c.extra;
    EXPECT_TRUE(s.IsInvalidInput()) << s.ToString();
    EXPECT_THAT(s.message(), HasSubstr(c.message)) << c.argv << " " << c.extra;
    EXPECT_EQ(s.message().find('\n'), std::string::npos) << s.message();
  }
  // A stage that does not vary llm has no {n_params}.
  config::StageSpec narrow;
  narrow.name = "a";
  narrow.over = {"visual_tokens"};
  command::Placeholders p;
  p.scope = command::ScopeOf(narrow);
  auto e = command::ExpandPlaceholders("{n_params}", p, "argv");
  ASSERT_FALSE(e.ok());
  EXPECT_THAT(e.status().message(), HasSubstr("{n_params} belongs to grid axis 'llm', which stage "
                                              "'a' does not vary (over = visual_tokens)"));
}

TEST_F(CommandStageRun, PlanAcceptsEveryPlaceholderOfTheStage) {
  Status s = Plan(Fake("{stage} {benchmark} {needs.fine-tune.run_dir} {needs.fine-tune.job_dir} "
                       "{needs.fine-tune.job_id} {needs.fine-tune.metric.any-key.v2} {job_id} "
                       "{attempt} {text_tokens} {sweep.name}"),
                  "command.env = B={benchmark} D={needs.fine-tune.run_dir}\n");
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(sweep_.jobs.size(), 3u);
  EXPECT_TRUE(sweep_.stages[0].planner->RequiredAxes().empty());
}

TEST(CommandStageEnv, NamesAreUpperCasedWithOtherCharactersAsUnderscores) {
  EXPECT_EQ(command::EnvNamePart("fine-tune_2"), "FINE_TUNE_2");
  EXPECT_EQ(command::EnvNamePart("benchmark"), "BENCHMARK");
}

}  // namespace
}  // namespace vlmscale::jobs
