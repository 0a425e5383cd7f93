// `vlmscale fit RESULTS.h5` end to end: a results file written with the real store, fit per
// (task, method) group by the real binary.
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <string>

#include "fit/scaling_law.h"
#include "gtest/gtest.h"
#include "store/results_store.h"

namespace vlmscale::fit {
namespace {

std::string TempDir() {
  char tmpl[] = "/tmp/vlmscale_fit_results_XXXXXX";
  const char* dir = mkdtemp(tmpl);
  EXPECT_NE(dir, nullptr);
  return dir;
}

int RunBinary(const std::string& args, const std::string& stderr_path) {
  std::string cmd =
      std::string(VLMSCALE_TEST_BINARY_DIR) + "/vlmscale " + args + " >/dev/null 2>" + stderr_path;
  int rc = std::system(cmd.c_str());
  return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

std::string ReadAll(const std::string& path) {
  std::ifstream in(path);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

TEST(FitResultsFile, FitsEachTaskMethodGroupOfAResultsFile) {
  const std::string dir = TempDir();
  const std::string path = dir + "/results.h5";
  const LawParams truth = {2.0, 0.3, 0.0, 0.2, 0.2};
  {
    store::StoreOptions so;
    so.path = path;
    so.sweep_name = "fit-test";
    auto st = store::ResultsStore::Open(so);
    ASSERT_TRUE(st.ok()) << st.status().ToString();
    int id = 0;
    for (const std::string task : {"glyphs", "shapes"}) {
      for (double n : {1e6, 4e6, 16e6, 64e6}) {
        for (int64_t t : {1, 4, 16, 64, 256}) {
          for (int64_t seed : {0, 1}) {
            store::JobRecord r;
            char buf[17];
            std::snprintf(buf, sizeof(buf), "%016x", id++);
            r.job_id = buf;
            r.llm = "llm" + std::to_string(static_cast<int>(n));
            r.n_params = n;
            r.visual_tokens = t;
            r.method = "pool";
            r.task = task;
            r.seed = seed;
            r.state = store::JobState::kDone;
            // Seeds at +-0.001 around the law: their mean is exactly on it.
            r.error = Predict(Model::kMultiplicative, truth, n / 1e6, t) + (seed ? 0.001 : -0.001);
            r.accuracy = 1 - r.error;
            ASSERT_TRUE((*st)->Append(r).ok());
          }
        }
      }
    }
    store::JobRecord failed;
    failed.job_id = "ffffffffffffffff";
    failed.task = "glyphs";
    failed.method = "pool";
    failed.n_params = 1e9;
    failed.visual_tokens = 1;
    failed.state = store::JobState::kFailed;
    ASSERT_TRUE((*st)->Append(failed).ok());
    ASSERT_TRUE((*st)->Close().ok());
  }
  const std::string json_path = dir + "/fit.json";
  const std::string err = dir + "/stderr.txt";
  ASSERT_EQ(RunBinary("fit " + path + " --json " + json_path, err), 0) << ReadAll(err);
  nlohmann::json doc = nlohmann::json::parse(ReadAll(json_path));
  ASSERT_EQ(doc["fits"].size(), 2u);
  EXPECT_EQ(doc["fits"][0]["group"]["task"], "glyphs");
  EXPECT_EQ(doc["fits"][1]["group"]["task"], "shapes");
  for (const auto& f : doc["fits"]) {
    EXPECT_EQ(f["n_points"], 20);  // Seeds averaged; the failed job left out.
    EXPECT_NEAR(f["params"]["alpha"].get<double>(), truth.alpha, 1e-6);
    EXPECT_NEAR(f["params"]["beta"].get<double>(), truth.beta, 1e-6);
    // N is in parameters here, not millions: only A changes (A * 1e6^alpha).
    EXPECT_NEAR(f["params"]["A"].get<double>(), truth.A * std::pow(1e6, truth.alpha), 1e-3);
  }
  // The frontier does every group of a multi-fit JSON, or the one --group names.
  const std::string front = dir + "/front.json";
  ASSERT_EQ(RunBinary("frontier " + json_path + " --text-tokens 50 --json " + front, err), 0)
      << ReadAll(err);
  nlohmann::json all = nlohmann::json::parse(ReadAll(front));
  ASSERT_EQ(all["frontiers"].size(), 2u);
  EXPECT_EQ(all["frontiers"][0]["group"], "glyphs/pool");
  EXPECT_EQ(all["frontiers"][1]["group"], "shapes/pool");
  EXPECT_EQ(all["frontiers"][1]["text_tokens"], 50);
  // These jobs record no inference FLOPs, so the fit has no Q: --text-tokens is needed.
  EXPECT_EQ(doc["fits"][0]["text_tokens"], nullptr);
  EXPECT_EQ(RunBinary("frontier " + json_path, err), 2);
  EXPECT_NE(ReadAll(err).find("(group glyphs/pool): the fit records no Q"), std::string::npos)
      << ReadAll(err);
  EXPECT_EQ(RunBinary("frontier " + json_path + " --group glyphs/nothing --text-tokens 5", err), 2);
  EXPECT_NE(ReadAll(err).find("no fit for group 'glyphs/nothing'"), std::string::npos)
      << ReadAll(err);
  ASSERT_EQ(
      RunBinary("frontier " + json_path + " --text-tokens 50 --group shapes/pool --json " + front,
                err),
      0)
      << ReadAll(err);
  nlohmann::json fr = nlohmann::json::parse(ReadAll(front));
  EXPECT_EQ(fr["group"], "shapes/pool");
  // alpha = 0.3 > beta = 0.2: T* = 0.2 * 50 / 0.1 = 100.
  EXPECT_NEAR(fr["closed_form_t"].get<double>(), 100.0, 1e-3);

  ASSERT_EQ(
      RunBinary("fit " + path + " --keep-seeds --filter task=shapes --json " + json_path, err), 0)
      << ReadAll(err);
  doc = nlohmann::json::parse(ReadAll(json_path));
  ASSERT_EQ(doc["fits"].size(), 1u);
  EXPECT_EQ(doc["fits"][0]["n_points"], 40);

  EXPECT_EQ(RunBinary("fit " + path + " --filter task=nothing", err), 2);
  EXPECT_NE(ReadAll(err).find("no done jobs match"), std::string::npos) << ReadAll(err);
  EXPECT_EQ(RunBinary("fit " + path + " --filter tsk=glyphs", err), 2);
  EXPECT_NE(ReadAll(err).find("did you mean 'task'"), std::string::npos) << ReadAll(err);
  std::system(("rm -rf " + dir).c_str());
}

// A store with one group whose errors follow a known law, seeds at +-0.002.
void WriteStore(const std::string& path, double bump_first_error) {
  store::StoreOptions so;
  so.path = path;
  so.sweep_name = "check-test";
  so.config_text = "[sweep]\nname = check-test\n";
  auto st = store::ResultsStore::Open(so);
  ASSERT_TRUE(st.ok()) << st.status().ToString();
  const LawParams truth = {2.0, 0.3, 0.0, 0.2, 0.2};
  int id = 0;
  for (double n : {1e6, 4e6, 16e6, 64e6}) {
    for (int64_t t : {1, 4, 16, 64}) {
      for (int64_t seed : {0, 1}) {
        store::JobRecord r;
        char buf[17];
        std::snprintf(buf, sizeof(buf), "%016x", id);
        r.job_id = buf;
        r.llm = "llm" + std::to_string(static_cast<int>(n));
        r.n_params = n;
        r.visual_tokens = t;
        r.method = "pool";
        r.task = "shapes";
        r.seed = seed;
        r.state = store::JobState::kDone;
        r.error = Predict(Model::kMultiplicative, truth, n / 1e6, t) + (seed ? 0.002 : -0.002) +
                  (id == 0 ? bump_first_error : 0.0);
        r.inference_flops = 2.0 * n * (8 + t);
        ++id;
        ASSERT_TRUE((*st)->Append(r).ok());
      }
    }
  }
  ASSERT_TRUE((*st)->Close().ok());
}

TEST(FitResultsFile, CheckReproducesAFitAndFailsWhenAResultChanges) {
  const std::string dir = TempDir();
  const std::string path = dir + "/results.h5";
  WriteStore(path, 0.0);
  const std::string json_path = dir + "/fit.json";
  const std::string err = dir + "/stderr.txt";
  ASSERT_EQ(RunBinary("fit " + path + " --bootstrap 20 --holdout-largest 1 --threads 2 --json " +
                          json_path,
                      err),
            0)
      << ReadAll(err);
  nlohmann::json doc = nlohmann::json::parse(ReadAll(json_path));
  const nlohmann::json& m = doc["manifest"];
  EXPECT_EQ(m["source_kind"], "results");
  EXPECT_EQ(m["config_hash"].get<std::string>().size(), 16u);
  EXPECT_EQ(m["sweep_name"], "check-test");
  EXPECT_EQ(m["fitter"]["bootstrap"], 20);
  EXPECT_EQ(m["fitter"]["seed"], 1);
  EXPECT_EQ(m["jobs_used"], 32);
  EXPECT_FALSE(m["vlmscale_version"].get<std::string>().empty());
  EXPECT_FALSE(m["vlmscale_commit"].get<std::string>().empty());
  ASSERT_EQ(doc["fits"].size(), 1u);
  EXPECT_EQ(doc["fits"][0]["jobs"].size(), 32u);
  EXPECT_EQ(doc["fits"][0]["text_tokens"], 8);
  // The checklist is filled in: seeds measured (sd 0.002 * sqrt(2)), bootstrap, holdout.
  std::map<std::string, nlohmann::json> items;
  for (const auto& it : m["checklist"]) items[it["item"].get<std::string>()] = it;
  for (const char* item : {"data", "grouping", "seed noise", "law and objective", "uncertainty",
                           "extrapolation check", "fit quality", "grid check", "reproduce"}) {
    EXPECT_TRUE(items.count(item)) << item;
  }
  EXPECT_EQ(items["seed noise"]["status"], "ok");
  EXPECT_NE(items["seed noise"]["answer"].get<std::string>().find("shapes/pool sd 0.00283"),
            std::string::npos)
      << items["seed noise"];
  EXPECT_EQ(items["uncertainty"]["status"], "ok");
  EXPECT_EQ(items["extrapolation check"]["status"], "ok") << items["extrapolation check"];
  EXPECT_NE(items["data"]["answer"].get<std::string>().find("32 jobs"), std::string::npos);
  // The frontier takes the sweep's Q from the fit: T* = 0.2 * 8 / 0.1 = 16.
  const std::string front = dir + "/front.json";
  ASSERT_EQ(RunBinary("frontier " + json_path + " --json " + front, err), 0) << ReadAll(err);
  nlohmann::json fr = nlohmann::json::parse(ReadAll(front));
  EXPECT_EQ(fr["text_tokens"], 8);
  EXPECT_NEAR(fr["closed_form_t"].get<double>(), 16.0, 0.5);

  // --per-seed: each seed fitted apart. The seeds sit at -+0.002 around the law, which E absorbs,
  // so both recover the exponents and the spread is ~0.
  const std::string per_seed = dir + "/per_seed.json";
  ASSERT_EQ(RunBinary("fit " + path + " --per-seed --json " + per_seed, err), 0) << ReadAll(err);
  nlohmann::json ps = nlohmann::json::parse(ReadAll(per_seed))["per_seed"]["shapes/pool"];
  ASSERT_EQ(ps["seeds"].size(), 2u) << ps.dump();
  EXPECT_EQ(ps["seeds"][1]["seed"], 1);
  EXPECT_EQ(ps["seeds"][0]["n_points"], 16);
  EXPECT_NEAR(ps["alpha"]["mean"].get<double>(), 0.3, 1e-4);
  EXPECT_NEAR(ps["beta"]["mean"].get<double>(), 0.2, 1e-4);
  EXPECT_LT(ps["alpha"]["sd"].get<double>(), 1e-4);

  // Same file, another thread count: reproduced.
  EXPECT_EQ(RunBinary("fit --check " + json_path + " " + path + " --threads 1", err), 0)
      << ReadAll(err);
  // The fit edited by hand: the numbers differ.
  nlohmann::json edited = doc;
  edited["fits"][0]["params"]["alpha"] = edited["fits"][0]["params"]["alpha"].get<double>() * 1.01;
  { std::ofstream(dir + "/edited.json") << edited.dump(); }
  EXPECT_EQ(RunBinary("fit --check " + dir + "/edited.json " + path, err), 1);
  EXPECT_NE(ReadAll(err).find("params.alpha"), std::string::npos) << ReadAll(err);

  // One job's result changed (a rerun gave another error): the check fails and names it.
  const std::string changed = dir + "/changed.h5";
  WriteStore(changed, 0.01);
  EXPECT_EQ(RunBinary("fit --check " + json_path + " " + changed, err), 1);
  const std::string text = ReadAll(err);
  EXPECT_NE(text.find("job 0000000000000000 has a different result"), std::string::npos) << text;
  EXPECT_NE(text.find("does not reproduce"), std::string::npos) << text;

  // Bad inputs exit 2 naming what is wrong.
  nlohmann::json no_manifest = doc;
  no_manifest.erase("manifest");
  { std::ofstream(dir + "/old.json") << no_manifest.dump(); }
  EXPECT_EQ(RunBinary("fit --check " + dir + "/old.json " + path, err), 2);
  EXPECT_NE(ReadAll(err).find("old.json: missing key 'manifest'"), std::string::npos)
      << ReadAll(err);
  nlohmann::json no_seed = doc;
  no_seed["manifest"]["fitter"].erase("seed");
  { std::ofstream(dir + "/noseed.json") << no_seed.dump(); }
  EXPECT_EQ(RunBinary("fit --check " + dir + "/noseed.json " + path, err), 2);
  EXPECT_NE(ReadAll(err).find("manifest: fitter: missing key 'seed'"), std::string::npos)
      << ReadAll(err);
  EXPECT_EQ(RunBinary("fit --check " + json_path + " " + path + " --bootstrap 50", err), 2);
  EXPECT_NE(ReadAll(err).find("cannot be combined"), std::string::npos) << ReadAll(err);
  std::system(("rm -rf " + dir).c_str());
}

}  // namespace
}  // namespace vlmscale::fit
