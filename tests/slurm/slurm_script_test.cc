// Unit tests of the batch-script rendering of `vlmscale submit` (cli/slurm_script.h).
#include "cli/slurm_script.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace vlmscale::cli {
namespace {

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> out;
  std::stringstream ss(text);
  for (std::string l; std::getline(ss, l);) out.push_back(l);
  return out;
}

bool HasLine(const std::string& text, const std::string& line) {
  auto lines = Lines(text);
  return std::find(lines.begin(), lines.end(), line) != lines.end();
}

ScriptSettings Settings() {
  ScriptSettings s;
  s.vlmscale_bin = "/opt/vlmscale/bin/vlmscale";
  s.config = "/data/r.runs/submit/config-1.ini";
  s.results = "/data/r.h5";
  s.max_requeues = 3;
  return s;
}

TEST(SlurmScript, DefaultOptionsAreValid) {
  std::string error;
  EXPECT_TRUE(SlurmOptions().IsValid(&error)) << error;
}

TEST(SlurmScript, ParsesEverySlurmTimeForm) {
  EXPECT_EQ(*ParseSlurmTime("30"), 30 * 60);
  EXPECT_EQ(*ParseSlurmTime("30:15"), 30 * 60 + 15);
  EXPECT_EQ(*ParseSlurmTime("01:00:00"), 3600);
  EXPECT_EQ(*ParseSlurmTime("100:00:00"), 100 * 3600);
  EXPECT_EQ(*ParseSlurmTime("2-12"), 2 * 86400 + 12 * 3600);
  EXPECT_EQ(*ParseSlurmTime("1-00:30"), 86400 + 30 * 60);
  EXPECT_EQ(*ParseSlurmTime("1-02:03:04"), 86400 + 2 * 3600 + 3 * 60 + 4);
}

TEST(SlurmScript, RejectsMalformedTimesWithTheAcceptedForms) {
  for (const char* t : {"", "1h", "01:00:00:00", "1:60:00", "10:75", "-5", "1-", "1-24:00",
                        "UNLIMITED", "0", "00:00:00", "1:2:x", "1--2", "1::2"}) {
    Result<int64_t> r = ParseSlurmTime(t);
    ASSERT_FALSE(r.ok()) << "accepted '" << t << "'";
    EXPECT_TRUE(r.status().IsInvalidInput());
    EXPECT_NE(r.status().message().find("HH:MM:SS"), std::string::npos) << r.status().message();
  }
}

TEST(SlurmScript, InvalidOptionsNameTheFlag) {
  struct Case {
    void (*mutate)(SlurmOptions*);
    const char* flag;
  };
  const Case cases[] = {
      {[](SlurmOptions* o) { o->nodes = 0; }, "--nodes"},
      {[](SlurmOptions* o) { o->ntasks_per_node = 0; }, "--ntasks-per-node"},
      {[](SlurmOptions* o) { o->gpus_per_node = -1; }, "--gpus-per-node"},
      {[](SlurmOptions* o) { o->cpus_per_task = 0; }, "--cpus-per-task"},
      {[](SlurmOptions* o) { o->time = "1:99"; }, "--time"},
      {[](SlurmOptions* o) { o->time = "01:00"; }, "--time"},  // 60 s < 90 s signal lead.
      {[](SlurmOptions* o) { o->partition = "gpu; rm -rf /"; }, "--partition"},
      {[](SlurmOptions* o) { o->account = "a b"; }, "--account"},
      {[](SlurmOptions* o) { o->qos = "q\n#SBATCH --x"; }, "--qos"},
      {[](SlurmOptions* o) {
         o->gpus_per_node = 4;
         o->ntasks_per_node = 2;
       },
       "--gpus-per-node"},
  };
  for (const auto& c : cases) {
    SlurmOptions o;
    c.mutate(&o);
    std::string error;
    EXPECT_FALSE(o.IsValid(&error)) << c.flag;
    EXPECT_NE(error.find(c.flag), std::string::npos) << error;
  }
}

TEST(SlurmScript, DirectivesCarrySignalRequeueAndAppend) {
  SlurmOptions o;
  o.partition = "gpu";
  o.account = "proj1";
  o.qos = "high";
  o.time = "1-00:00:00";
  o.nodes = 2;
  o.ntasks_per_node = 4;
  o.gpus_per_node = 4;
  o.cpus_per_task = 8;
  o.signal_seconds = 150;
  o.output = "/data/r.runs/submit/slurm-%j.out";
  std::vector<std::string> d = SbatchDirectives(o);
  for (const char* want :
       {"#SBATCH --partition=gpu", "#SBATCH --account=proj1", "#SBATCH --qos=high",
        "#SBATCH --time=1-00:00:00", "#SBATCH --nodes=2", "#SBATCH --ntasks-per-node=4",
        "#SBATCH --gpus-per-node=4", "#SBATCH --cpus-per-task=8", "#SBATCH --signal=B:USR1@150",
        "#SBATCH --requeue", "#SBATCH --open-mode=append",
        "#SBATCH --output=/data/r.runs/submit/slurm-%j.out"}) {
    EXPECT_NE(std::find(d.begin(), d.end(), want), d.end()) << want;
  }
  // CPU nodes and empty names give no directive at all.
  std::vector<std::string> plain = SbatchDirectives(SlurmOptions());
  for (const auto& line : plain) {
    EXPECT_EQ(line.find("--gpus-per-node"), std::string::npos) << line;
    EXPECT_EQ(line.find("--partition"), std::string::npos) << line;
  }
}

TEST(SlurmScript, RendersTheBuiltInTemplate) {
  SlurmOptions o;
  o.nodes = 3;
  o.time = "02:00:00";
  Result<std::string> r = RenderBatchScript(SweepSbatchTemplate(), o, Settings());
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  const std::string& s = *r;
  EXPECT_EQ(s.rfind("#!/bin/bash\n", 0), 0u);
  EXPECT_TRUE(HasLine(s, "#SBATCH --nodes=3"));
  EXPECT_TRUE(HasLine(s, "#SBATCH --time=02:00:00"));
  EXPECT_TRUE(HasLine(s, "VLMSCALE_BIN='/opt/vlmscale/bin/vlmscale'"));
  EXPECT_TRUE(HasLine(s, "VLMSCALE_CONFIG='/data/r.runs/submit/config-1.ini'"));
  EXPECT_TRUE(HasLine(s, "VLMSCALE_RESULTS='/data/r.h5'"));
  EXPECT_TRUE(HasLine(s, "VLMSCALE_MAX_REQUEUES=3"));
  // The template's own defaults are gone: each directive appears once.
  auto lines = Lines(s);
  EXPECT_EQ(std::count_if(lines.begin(), lines.end(),
                          [](const std::string& l) { return l.rfind("#SBATCH --nodes", 0) == 0; }),
            1);
  EXPECT_FALSE(HasLine(s, "VLMSCALE_MAX_REQUEUES=${VLMSCALE_MAX_REQUEUES:-10}"));
  // The body (trap, requeue) is kept verbatim.
  EXPECT_NE(s.find("trap 'forward USR1' USR1"), std::string::npos);
  EXPECT_NE(s.find("scontrol requeue \"$SLURM_JOB_ID\""), std::string::npos);
}

TEST(SlurmScript, BuiltInTemplateMatchesTheSourceFile) {
  std::ifstream in(std::string(VLMSCALE_TEST_SOURCE_DIR) + "/slurm/sweep.sbatch");
  ASSERT_TRUE(in.good());
  std::stringstream ss;
  ss << in.rdbuf();
  EXPECT_EQ(SweepSbatchTemplate(), ss.str()) << "re-run cmake: slurm/sweep.sbatch changed";
}

TEST(SlurmScript, QuotesSettingsForTheShell) {
  EXPECT_EQ(ShellQuote("/a b/it's"), "'/a b/it'\\''s'");
  ScriptSettings s = Settings();
  s.config = "/data/it's here.ini";
  Result<std::string> r = RenderBatchScript(SweepSbatchTemplate(), SlurmOptions(), s);
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(HasLine(*r, "VLMSCALE_CONFIG='/data/it'\\''s here.ini'"));
}

TEST(SlurmScript, TemplatesWithoutDirectivesOrSettingsAreRejected) {
  const std::string no_settings = "#!/bin/bash\n#SBATCH --nodes=1\necho hi\n";
  Result<std::string> r = RenderBatchScript(no_settings, SlurmOptions(), Settings());
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("settings block"), std::string::npos);
  const std::string no_sbatch =
      "#!/bin/bash\n# >>> vlmscale settings\nX=1\n# <<< vlmscale settings\n";
  r = RenderBatchScript(no_sbatch, SlurmOptions(), Settings());
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("#SBATCH"), std::string::npos);
  ScriptSettings bad = Settings();
  bad.launcher = "ssh";
  r = RenderBatchScript(SweepSbatchTemplate(), SlurmOptions(), bad);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("--launcher"), std::string::npos);
}

}  // namespace
}  // namespace vlmscale::cli
