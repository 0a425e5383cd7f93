// The bad-config corpus: every tests/config/bad/*.ini starts with "# expect: MESSAGE" (and
// optionally "# set: section.key=value" overrides); loading and planning it must fail with
// exactly MESSAGE ({file} stands for the file's path) and kInvalidInput (exit code 2).
#include <dirent.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>

#include "config/config.h"
#include "config/sweep.h"
#include "core/strings.h"
#include "jobs/job_type.h"

namespace vlmscale::config {
namespace {

struct Case {
  std::string path;
  std::string expect;
  std::vector<std::string> sets;
};

std::vector<Case> LoadCorpus() {
  std::vector<Case> cases;
  std::string dir = "tests/config/bad";
  DIR* d = opendir(dir.c_str());
  if (d == nullptr) return cases;
  while (dirent* e = readdir(d)) {
    std::string name = e->d_name;
    if (!EndsWith(name, ".ini")) continue;
    Case c;
    c.path = dir + "/" + name;
    std::ifstream in(c.path);
    std::string line;
    while (std::getline(in, line) && StartsWith(line, "# ")) {
      if (StartsWith(line, "# expect: ")) c.expect = line.substr(10);
      if (StartsWith(line, "# set: ")) c.sets.push_back(line.substr(7));
    }
    std::string placeholder = "{file}";
    size_t pos = c.expect.find(placeholder);
    if (pos != std::string::npos) c.expect.replace(pos, placeholder.size(), c.path);
    cases.push_back(c);
  }
  closedir(d);
  std::sort(cases.begin(), cases.end(), [](const Case& a, const Case& b) { return a.path < b.path; });
  return cases;
}

Status LoadAndPlan(const std::string& path, const std::vector<std::string>& sets) {
  Result<Config> c = jobs::LoadConfig(path, sets);
  if (!c.ok()) return c.status();
  return jobs::PlanSweep(*c).status();
}

TEST(BadConfigCorpus, EveryBadConfigGivesItsExactMessage) {
  ASSERT_EQ(chdir(VLMSCALE_TEST_SOURCE_DIR), 0);
  std::vector<Case> cases = LoadCorpus();
  ASSERT_GE(cases.size(), 25u) << "the corpus must hold at least 25 bad configs";
  for (const auto& c : cases) {
    SCOPED_TRACE(c.path);
    ASSERT_FALSE(c.expect.empty()) << "missing '# expect:' line";
    Status s = LoadAndPlan(c.path, c.sets);
    EXPECT_TRUE(s.IsInvalidInput()) << s.ToString();
    EXPECT_EQ(s.message(), c.expect);
    EXPECT_EQ(s.message().find('\n'), std::string::npos) << "errors are one line";
    EXPECT_EQ(ExitCodeFor(s), 2);
  }
}

TEST(BadConfigCorpus, DirectoryAndMissingFileAreRejected) {
  Status dir = LoadAndPlan(VLMSCALE_TEST_SOURCE_DIR "/configs", {});
  EXPECT_TRUE(dir.IsInvalidInput());
  EXPECT_EQ(dir.message(), std::string(VLMSCALE_TEST_SOURCE_DIR) +
                               "/configs: is a directory, expected a config file (.ini)");
  Status missing = LoadAndPlan("/nonexistent/x.ini", {});
  EXPECT_EQ(missing.message(),
            "/nonexistent/x.ini: cannot read config file: No such file or directory");
}

TEST(BadConfigCorpus, UnreadableFileIsRejected) {
  if (geteuid() == 0) {
    // Root reads any file; a FIFO-less way to get EACCES as root does not exist. A file whose
    // content is not text still must not crash.
    std::string path = std::string(VLMSCALE_TEST_BINARY_DIR) + "/binary_config.ini";
    std::ofstream(path) << std::string("\x01\x02\x00\xff", 4);
    Status s = LoadAndPlan(path, {});
    EXPECT_TRUE(s.IsInvalidInput()) << s.ToString();
    EXPECT_NE(s.message().find(path + ":1:"), std::string::npos) << s.message();
    return;
  }
  std::string path = std::string(VLMSCALE_TEST_BINARY_DIR) + "/unreadable.ini";
  std::ofstream(path) << "[sweep]\nname = x\n";
  chmod(path.c_str(), 0);
  Status s = LoadAndPlan(path, {});
  EXPECT_EQ(s.message(), path + ": cannot read config file: Permission denied");
}

}  // namespace
}  // namespace vlmscale::config
