#include "fit/observations.h"

#include <cmath>
#include <functional>

#include "fit/report_json.h"
#include "gtest/gtest.h"

namespace vlmscale::fit {
namespace {

store::JobRecord Record(const std::string& task, const std::string& method, double n, int64_t t,
                        int64_t seed, double error,
                        store::JobState state = store::JobState::kDone) {
  store::JobRecord r;
  r.job_id = task + method + std::to_string(t) + std::to_string(seed);
  r.llm = "llm" + std::to_string(static_cast<int>(n));
  r.task = task;
  r.method = method;
  r.n_params = n;
  r.visual_tokens = t;
  r.seed = seed;
  r.state = state;
  r.error = error;
  return r;
}

TEST(GroupingOptions, DefaultsAreValid) {
  std::string error;
  EXPECT_TRUE(GroupingOptions().IsValid(&error)) << error;
}

TEST(GroupRecords, GroupsByTaskAndMethodAndAveragesSeeds) {
  std::vector<store::JobRecord> records = {
      Record("glyphs", "pool", 1e6, 16, 0, 0.5),
      Record("glyphs", "pool", 1e6, 16, 1, 0.7),
      Record("glyphs", "pool", 2e6, 16, 0, 0.4),
      Record("shapes", "pool", 1e6, 16, 0, 0.2),
      Record("glyphs", "prune", 1e6, 4, 0, 0.9),
      Record("glyphs", "pool", 4e6, 16, 0, 0.1, store::JobState::kFailed),
      Record("glyphs", "pool", 8e6, 16, 0, NAN, store::JobState::kPending)};
  auto groups = GroupRecords(records, GroupingOptions());
  ASSERT_TRUE(groups.ok()) << groups.status().ToString();
  ASSERT_EQ(groups->size(), 3u);
  const ObservationGroup& g = (*groups)[0];
  EXPECT_EQ(g.task, "glyphs");
  EXPECT_EQ(g.method, "pool");
  EXPECT_EQ(g.num_jobs, 3);  // Failed and pending jobs are left out.
  ASSERT_EQ(g.observations.size(), 2u);
  EXPECT_EQ(g.observations.n[0], 1e6);
  EXPECT_NEAR(g.observations.y[0], 0.6, 1e-15);  // Mean of the two seeds.
  EXPECT_EQ(g.observations.y[1], 0.4);
  EXPECT_EQ((*groups)[1].method, "prune");
  EXPECT_EQ((*groups)[2].task, "shapes");

  GroupingOptions keep;
  keep.average_seeds = false;
  groups = GroupRecords(records, keep);
  ASSERT_TRUE(groups.ok());
  EXPECT_EQ((*groups)[0].observations.size(), 3u);
}

TEST(GroupRecords, FiltersSelectRecords) {
  std::vector<store::JobRecord> records = {Record("glyphs", "pool", 1e6, 16, 0, 0.5),
                                           Record("shapes", "pool", 1e6, 16, 0, 0.2),
                                           Record("shapes", "pool", 1e6, 16, 1, 0.3)};
  GroupingOptions o;
  o.filters = {{"task", "shapes"}, {"seed", "1"}};
  auto groups = GroupRecords(records, o);
  ASSERT_TRUE(groups.ok());
  ASSERT_EQ(groups->size(), 1u);
  EXPECT_EQ((*groups)[0].observations.y[0], 0.3);

  o.filters = {{"task", "nothing"}};
  groups = GroupRecords(records, o);
  EXPECT_TRUE(groups.status().IsInvalidInput());
  EXPECT_NE(groups.status().message().find("no done jobs match"), std::string::npos);
}

TEST(GroupRecords, EndedByKeepsTheDoneJobsThatHadEndedThen) {
  std::vector<store::JobRecord> records = {Record("glyphs", "pool", 1e6, 16, 0, 0.5),
                                           Record("glyphs", "pool", 2e6, 16, 0, 0.4),
                                           Record("glyphs", "pool", 4e6, 16, 0, 0.3)};
  for (size_t i = 0; i < records.size(); ++i) records[i].end_time = 100.0 + 10.0 * i;
  GroupingOptions options;
  options.ended_by = 110.0;  // The first two (the bound is inclusive).
  auto groups = GroupRecords(records, options);
  ASSERT_TRUE(groups.ok()) << groups.status().ToString();
  ASSERT_EQ(groups->size(), 1u);
  EXPECT_EQ((*groups)[0].observations.size(), 2u);
  ASSERT_EQ((*groups)[0].jobs.size(), 2u);
  auto excluded = ExcludedRecords(records, options);
  ASSERT_EQ(excluded.size(), 1u);
  EXPECT_EQ(excluded[0].job_id, records[2].job_id);
  EXPECT_EQ(excluded[0].reason, "ended after 110");
  options.ended_by = 99.0;  // None had ended: the no-done-job error.
  EXPECT_FALSE(GroupRecords(records, options).ok());
  options.ended_by = NAN;
  std::string error;
  EXPECT_FALSE(options.IsValid(&error));
  EXPECT_NE(error.find("ended_by"), std::string::npos) << error;
}

TEST(GroupRecords, DoneJobWithoutAnErrorIsAnErrorNamingTheJob) {
  std::vector<store::JobRecord> records = {Record("glyphs", "pool", 1e6, 16, 0, NAN)};
  auto groups = GroupRecords(records, GroupingOptions());
  ASSERT_FALSE(groups.ok());
  EXPECT_NE(groups.status().message().find("job glyphspool160"), std::string::npos)
      << groups.status().message();
}

TEST(GroupRecords, NoRecordsIsAnEmptyGroupError) {
  auto groups = GroupRecords({}, GroupingOptions());
  ASSERT_FALSE(groups.ok());
  EXPECT_NE(groups.status().message().find("empty group"), std::string::npos);
}

TEST(ParseFilter, AcceptsKnownKeysAndSuggestsForTypos) {
  auto f = ParseFilter("task = glyphs");
  ASSERT_TRUE(f.ok());
  EXPECT_EQ(f->first, "task");
  EXPECT_EQ(f->second, "glyphs");
  auto bad = ParseFilter("methd=pool");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("did you mean 'method'"), std::string::npos);
  EXPECT_FALSE(ParseFilter("task").ok());
}

TEST(ObservationsFromCsv, LabelsPointsWithFileAndLine) {
  auto table = ParseCsv("N,T,Y\n1,2,0.5\n\n# comment\n2,4,0.4\n", "d.csv");
  ASSERT_TRUE(table.ok());
  auto obs = ObservationsFromCsv(*table, "N", "T", "Y");
  ASSERT_TRUE(obs.ok());
  ASSERT_EQ(obs->size(), 2u);
  EXPECT_EQ(obs->Where(1), "d.csv:5");
  auto missing = ObservationsFromCsv(*table, "N", "tokens", "Y");
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find("no column 'tokens'"), std::string::npos);
}

TEST(GroupRecords, ListsTheJobsUsedTheSeedNoiseAndTheSweepsQ) {
  std::vector<store::JobRecord> records = {
      Record("glyphs", "pool", 1e6, 16, 0, 0.5), Record("glyphs", "pool", 1e6, 16, 1, 0.7),
      Record("glyphs", "pool", 2e6, 16, 0, 0.40), Record("glyphs", "pool", 2e6, 16, 1, 0.44),
      Record("glyphs", "pool", 4e6, 16, 0, 0.3)};
  for (size_t i = 0; i < records.size(); ++i) {
    records[i].job_id = "job" + std::to_string(i);
    records[i].inference_flops = 2.0 * records[i].n_params * (12 + records[i].visual_tokens);
  }
  auto groups = GroupRecords(records, GroupingOptions());
  ASSERT_TRUE(groups.ok()) << groups.status().ToString();
  const ObservationGroup& g = (*groups)[0];
  ASSERT_EQ(g.jobs.size(), 5u);
  for (size_t i = 1; i < g.jobs.size(); ++i) EXPECT_LT(g.jobs[i - 1].job_id, g.jobs[i].job_id);
  for (const auto& u : g.jobs) EXPECT_EQ(u.result_hash.size(), 16u);
  EXPECT_EQ(g.text_tokens, 12.0);
  // Pooled over the two points with two seeds: (0.1^2 + 0.1^2 + 0.02^2 + 0.02^2) / 2 dof.
  EXPECT_EQ(g.seed_noise.dof, 2);
  EXPECT_EQ(g.seed_noise.points_with_replicates, 2);
  EXPECT_NEAR(g.seed_noise.sd, std::sqrt((0.02 + 0.0008) / 2), 1e-12);
  EXPECT_NEAR(g.seed_noise.mean_replicates, 5.0 / 3.0, 1e-12);
  // Jobs that disagree on Q leave it unknown.
  records[0].inference_flops = 2.0 * records[0].n_params * (13 + 16);
  groups = GroupRecords(records, GroupingOptions());
  ASSERT_TRUE(groups.ok());
  EXPECT_TRUE(std::isnan((*groups)[0].text_tokens));
}

TEST(SeedNoise, HoldoutErrorAboveTwiceThePointNoiseIsWarnedAbout) {
  SeedNoise noise;
  noise.sd = 0.01;
  noise.dof = 8;
  noise.points_with_replicates = 8;
  noise.mean_replicates = 4;  // A point's noise: 0.01 / 2 = 0.005.
  EXPECT_DOUBLE_EQ(PointNoise(noise), 0.005);
  FitSummary s;
  s.extrapolation.push_back({64, 1, 0.5, 0.508, 0.016});
  s.extrapolation.push_back({64, 4, 0.4, 0.392, -0.02});
  EXPECT_NEAR(CheckHoldoutAgainstSeedNoise(noise, &s), 0.008, 1e-12);
  EXPECT_TRUE(s.warnings.empty());  // 0.008 < 2 * 0.005.
  s.extrapolation[0].predicted = 0.52;
  s.extrapolation[1].predicted = 0.38;
  EXPECT_NEAR(CheckHoldoutAgainstSeedNoise(noise, &s), 0.02, 1e-12);
  ASSERT_EQ(s.warnings.size(), 1u);
  EXPECT_NE(s.warnings[0].find("does not extrapolate within noise"), std::string::npos);
  // Unknown noise (one seed per point): no verdict.
  FitSummary t = s;
  t.warnings.clear();
  CheckHoldoutAgainstSeedNoise(SeedNoise(), &t);
  EXPECT_TRUE(t.warnings.empty());
}

TEST(GroupRecords, WeightsPointsByTheInverseVarianceOfTheirSeedMean) {
  // Point 1: seeds 0.5, 0.7 (variance 0.02); point 2: 0.40, 0.44 (0.0008); point 3: one seed.
  std::vector<store::JobRecord> records = {
      Record("glyphs", "pool", 1e6, 16, 0, 0.5), Record("glyphs", "pool", 1e6, 16, 1, 0.7),
      Record("glyphs", "pool", 2e6, 16, 0, 0.40), Record("glyphs", "pool", 2e6, 16, 1, 0.44),
      Record("glyphs", "pool", 4e6, 16, 0, 0.3)};
  for (size_t i = 0; i < records.size(); ++i) records[i].job_id = "job" + std::to_string(i);
  auto groups = GroupRecords(records, GroupingOptions());
  ASSERT_TRUE(groups.ok()) << groups.status().ToString();
  const Observations& o = (*groups)[0].observations;
  const double pooled = (0.02 + 0.0008) / 2;
  ASSERT_EQ(o.weights.size(), 3u);
  EXPECT_NEAR(o.weights[0], 2 / 0.02, 1e-9);
  EXPECT_NEAR(o.weights[1], 2 / (0.25 * pooled), 1e-9);  // Floored: a quarter of the pooled.
  EXPECT_NEAR(o.weights[2], 1 / pooled, 1e-9);  // One seed: the pooled variance.
  GroupingOptions unweighted;
  unweighted.seed_weights = false;
  EXPECT_TRUE((*GroupRecords(records, unweighted))[0].observations.weights.empty());
  // One seed everywhere: nothing to weight by.
  records.erase(records.begin() + 3);
  records.erase(records.begin() + 1);
  EXPECT_TRUE((*GroupRecords(records, GroupingOptions()))[0].observations.weights.empty());
}

TEST(ResultHash, ChangesWithTheErrorAndThePointButNotWithBookkeeping) {
  store::JobRecord r = Record("glyphs", "pool", 1e6, 16, 0, 0.5);
  const std::string h = ResultHash(r);
  store::JobRecord same = r;
  same.train_seconds = 99;  // Not a result.
  same.host = "elsewhere";
  EXPECT_EQ(ResultHash(same), h);
  store::JobRecord changed = r;
  changed.error = std::nextafter(0.5, 1.0);  // One ulp.
  EXPECT_NE(ResultHash(changed), h);
  changed = r;
  changed.visual_tokens = 64;
  EXPECT_NE(ResultHash(changed), h);
  changed = r;
  changed.seed = 3;
  EXPECT_NE(ResultHash(changed), h);
}

TEST(ExcludedRecords, NamesEveryRecordLeftOutAndWhy) {
  std::vector<store::JobRecord> records = {
      Record("glyphs", "pool", 1e6, 16, 0, 0.5),
      Record("glyphs", "pool", 2e6, 16, 0, 0.1, store::JobState::kFailed),
      Record("shapes", "pool", 1e6, 16, 0, 0.2)};
  GroupingOptions options;
  options.filters.push_back({"task", "glyphs"});
  std::vector<ExcludedJob> ex = ExcludedRecords(records, options);
  ASSERT_EQ(ex.size(), 2u);
  EXPECT_EQ(ex[0].job_id, records[1].job_id);
  EXPECT_EQ(ex[0].reason, "state failed");
  EXPECT_EQ(ex[1].job_id, records[2].job_id);
  EXPECT_EQ(ex[1].reason, "filter task=glyphs");
  auto groups = GroupRecords(records, options);
  ASSERT_TRUE(groups.ok());
  EXPECT_EQ((*groups)[0].jobs.size() + ex.size(), records.size());
}

TEST(Manifest, FitterAndGroupingOptionsRoundTripThroughJson) {
  FitOptions o;
  o.model = Model::kAdditive;
  o.loss = Loss::kHuber;
  o.space = Space::kLog;
  o.bounds["E"] = {0.0, 0.3};
  o.bounds["alpha"] = {0.0, std::numeric_limits<double>::infinity()};
  o.start_grid["beta"] = {0.1, 0.7};
  o.bootstrap = 40;
  o.seed = 12345678901ull;
  o.holdout_largest = 2;
  o.screen_iterations = 7;
  auto back = FitOptionsFromJson(nlohmann::json::parse(FitOptionsToJson(o).dump()), "m");
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(FitOptionsToJson(*back), FitOptionsToJson(o));
  EXPECT_EQ(back->seed, o.seed);
  EXPECT_EQ(back->bounds["alpha"].upper, o.bounds["alpha"].upper);
  nlohmann::json broken = FitOptionsToJson(o);
  broken.erase("seed");
  auto bad = FitOptionsFromJson(broken, "f.json: manifest: fitter");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().message(), "f.json: manifest: fitter: missing key 'seed'");
  broken = FitOptionsToJson(o);
  broken["bootstrap"] = 5;  // Not a valid option.
  EXPECT_FALSE(FitOptionsFromJson(broken, "m").ok());

  GroupingOptions g;
  g.filters.push_back({"task", "glyphs"});
  g.average_seeds = false;
  g.stage = "eval";
  auto gb = GroupingOptionsFromJson(GroupingOptionsToJson(g), "m");
  ASSERT_TRUE(gb.ok()) << gb.status().ToString();
  EXPECT_EQ(GroupingOptionsToJson(*gb), GroupingOptionsToJson(g));
}

TEST(Manifest, CompareFitNumbersNamesEachNumberThatMoved) {
  nlohmann::json a = {{"model", "multiplicative"},
                      {"params", {{"A", 1.0}, {"alpha", 0.3}}},
                      {"sse", 1e-3},
                      {"ci95", {{"alpha", {0.2, 0.4}}}},
                      {"warnings", {"ignored"}}};
  nlohmann::json b = a;
  b["warnings"] = {"other text"};  // Not a number the check compares.
  b["params"]["alpha"] = 0.3 * (1 + 1e-9);
  EXPECT_TRUE(CompareFitNumbers(a, b, 1e-6).empty());
  b["params"]["alpha"] = 0.31;
  b["ci95"]["alpha"][1] = 0.5;
  std::vector<std::string> d = CompareFitNumbers(a, b, 1e-6);
  ASSERT_EQ(d.size(), 2u);
  EXPECT_EQ(d[0], "params.alpha: 0.3 -> 0.31");
  EXPECT_EQ(d[1], "ci95.alpha[1]: 0.4 -> 0.5");
  b = a;
  b.erase("ci95");
  EXPECT_EQ(CompareFitNumbers(a, b, 1e-6).size(), 1u);
}

}  // namespace
}  // namespace vlmscale::fit

namespace vlmscale::fit {
namespace {

store::JobRecord StageRecord(const std::string& id, const std::string& stage, double n, int64_t t,
                             int64_t seed, double error, const std::string& needs,
                             const std::string& axes) {
  store::JobRecord r = Record("shapes", "pool", n, t, seed, error);
  r.job_id = id;
  r.stage = stage;
  r.needs = needs;
  r.axes = axes;
  return r;
}

TEST(GroupRecords, FitsTheFinalStageAveragingItsOwnAxesPerSeed) {
  std::vector<store::JobRecord> records = {
      StageRecord("p1", "pre", 1e6, 0, 0, 0.9, "", ""),
      StageRecord("f1", "fine", 1e6, 16, 0, 0.8, "p1", ""),
      StageRecord("f2", "fine", 1e6, 16, 1, 0.6, "p1", ""),
      StageRecord("e1", "eval", 1e6, 16, 0, 0.2, "f1", "benchmark=gqa"),
      StageRecord("e2", "eval", 1e6, 16, 0, 0.4, "f1", "benchmark=pope"),
      StageRecord("e3", "eval", 1e6, 16, 1, 0.6, "f2", "benchmark=gqa"),
      StageRecord("e4", "eval", 1e6, 16, 1, 0.8, "f2", "benchmark=pope"),
  };
  EXPECT_EQ(*FinalStage(records, ""), "eval");
  GroupingOptions options;
  auto g = GroupRecords(records, options);
  ASSERT_TRUE(g.ok()) << g.status().ToString();
  ASSERT_EQ(g->size(), 1u);
  EXPECT_EQ((*g)[0].num_jobs, 4);
  ASSERT_EQ((*g)[0].observations.size(), 1u);
  // Benchmarks first (0.3 and 0.7 per seed), then seeds: 0.5.
  EXPECT_DOUBLE_EQ((*g)[0].observations.y[0], 0.5);
  options.average_seeds = false;  // One point per seed, each a mean over benchmarks.
  g = GroupRecords(records, options);
  ASSERT_TRUE(g.ok());
  ASSERT_EQ((*g)[0].observations.size(), 2u);
  options.stage = "fine";
  options.average_seeds = true;
  g = GroupRecords(records, options);
  ASSERT_TRUE(g.ok());
  EXPECT_DOUBLE_EQ((*g)[0].observations.y[0], 0.7);
  options.stage = "nope";
  EXPECT_FALSE(GroupRecords(records, options).ok());
  // Two final stages: the caller must choose.
  records.push_back(StageRecord("x1", "probe", 1e6, 16, 0, 0.1, "", ""));
  Result<std::string> s = FinalStage(records, "");
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.status().message().find("several final stages (eval, probe)"), std::string::npos)
      << s.status().message();
}

// A done record made with `settings` ("key=value\n" lines); `swept` lists the keys its config
// varied in [grid].
store::JobRecord WithSettings(store::JobRecord r, const std::string& settings,
                              const std::string& swept = "") {
  r.settings = "job.type=sleep\n" + settings;
  r.settings_hash = "h" + std::to_string(std::hash<std::string>()(r.settings));
  r.swept = swept;
  r.job_id += r.settings_hash;
  return r;
}

// Two runs of one grid with train.steps 50 and 60 (issue 21): fitted as one group they would
// average the two as if they were seeds.
std::vector<store::JobRecord> TwoStepCounts(const std::string& swept) {
  std::vector<store::JobRecord> records;
  for (const char* steps : {"50", "60"}) {
    for (double n : {1e6, 2e6, 4e6}) {
      const double offset = std::string(steps) == "50" ? 0.1 : 0.0;
      records.push_back(WithSettings(Record("shapes", "pool", n, 16, 0, 0.3 + offset / n * 1e6),
                                     std::string("train.lr=0.001\ntrain.steps=") + steps + "\n",
                                     swept));
    }
  }
  return records;
}

TEST(GroupRecords, KeepsSettingsTheGridVariesInSeparateGroups) {
  auto groups = GroupRecords(TwoStepCounts("train.steps"), GroupingOptions());
  ASSERT_TRUE(groups.ok()) << groups.status().ToString();
  ASSERT_EQ(groups->size(), 2u);
  for (const ObservationGroup& g : *groups) {
    ASSERT_EQ(g.settings.size(), 1u);
    EXPECT_EQ(g.settings[0].first, "train.steps");
    EXPECT_EQ(g.num_jobs, 3);
    EXPECT_EQ(g.observations.size(), 3u);
    EXPECT_TRUE(g.pooled_settings.empty());
  }
  EXPECT_EQ((*groups)[0].settings[0].second, "50");
  EXPECT_NEAR((*groups)[0].observations.y[0], 0.4, 1e-12);  // Not averaged with steps=60's 0.3.
  EXPECT_EQ((*groups)[1].settings[0].second, "60");
  EXPECT_EQ(GroupName("shapes", "pool", (*groups)[1].settings), "shapes/pool/train.steps=60");
}

TEST(GroupRecords, RefusesToFitAMixedFileWithoutAChoiceAndListsTheGroups) {
  // Not swept: the two step counts come from two runs into one file (--allow-mixed).
  const auto records = TwoStepCounts("");
  auto groups = GroupRecords(records, GroupingOptions());
  ASSERT_FALSE(groups.ok());
  EXPECT_EQ(groups.status().code(), Status::Code::kInvalidInput);
  const std::string& m = groups.status().message();
  EXPECT_NE(m.find("train.steps=50 (3 jobs)"), std::string::npos) << m;
  EXPECT_NE(m.find("train.steps=60 (3 jobs)"), std::string::npos) << m;
  EXPECT_NE(m.find("--group-by train.steps"), std::string::npos) << m;
  EXPECT_EQ(m.find("train.lr"), std::string::npos) << m << ": train.lr does not vary";

  GroupingOptions by;
  by.group_by = {"train.steps"};
  groups = GroupRecords(records, by);
  ASSERT_TRUE(groups.ok()) << groups.status().ToString();
  EXPECT_EQ(groups->size(), 2u);

  GroupingOptions one;
  one.filters = {*ParseFilter("train.steps=60")};
  groups = GroupRecords(records, one);
  ASSERT_TRUE(groups.ok()) << groups.status().ToString();
  ASSERT_EQ(groups->size(), 1u);
  EXPECT_EQ((*groups)[0].num_jobs, 3);
  EXPECT_TRUE((*groups)[0].settings.empty());  // Nothing varies among the jobs left.

  // --group-by a key that does not vary pools the one that does, and says so.
  GroupingOptions pooled;
  pooled.group_by = {"train.lr"};
  groups = GroupRecords(records, pooled);
  ASSERT_TRUE(groups.ok()) << groups.status().ToString();
  ASSERT_EQ(groups->size(), 1u);
  EXPECT_EQ((*groups)[0].pooled_settings, std::vector<std::string>{"train.steps"});
  EXPECT_EQ((*groups)[0].num_jobs, 6);
}

TEST(GroupRecords, FiltersAcceptListsAndSettingValuesCompareAsNumbers) {
  std::vector<store::JobRecord> records;
  for (double n : {1e6, 2e6, 4e6}) {
    records.push_back(WithSettings(Record("shapes", "pool", n, 16, 0, 0.5), "train.lr=1e-3\n"));
  }
  GroupingOptions two;
  two.filters = {*ParseFilter("llm=llm1000000,llm4000000"), *ParseFilter("train.lr=0.001")};
  auto groups = GroupRecords(records, two);
  ASSERT_TRUE(groups.ok()) << groups.status().ToString();
  ASSERT_EQ(groups->size(), 1u);
  EXPECT_EQ((*groups)[0].num_jobs, 2);
  EXPECT_FALSE(ParseFilter("llm=nano,").ok());
  EXPECT_FALSE(ParseFilter("bogus=1").ok());
  GroupingOptions bad;
  bad.group_by = {"llm"};
  EXPECT_FALSE(GroupRecords(records, bad).ok()) << "llm is not a setting key";
}

}  // namespace
}  // namespace vlmscale::fit
