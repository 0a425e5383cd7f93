#include "config/config.h"

#include <dirent.h>
#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "config/schema.h"
#include "config/sweep.h"
#include "core/hash.h"
#include "core/strings.h"
#include "jobs/job_type.h"
#include "tasks/task_facts.h"
#include "vlm/vlm_options.h"

namespace vlmscale::config {
namespace {

using jobs::PlanSweep;
using vlm::CheckMethodTokens;
using vlm::LlmNonEmbeddingParams;

const char* kBase = R"(# a comment
[sweep]
name = demo   # trailing comment
[grid]
llm = nano, mini
visual_tokens = 1, 4, 16
method = avgpool, quecc
task = shapes
seed = 0, 1
exclude = method=quecc,visual_tokens=1
[train]
steps = 20
warmup_steps = 2
)";

Config MustLoad(const std::string& text, const std::vector<std::string>& sets = {}) {
  Result<Config> c = jobs::ConfigFromString(text, "demo.ini", sets);
  EXPECT_TRUE(c.ok()) << c.status().ToString();
  return *c;
}

TEST(Config, ParsesValuesWithOriginsAndDefaults) {
  Config c = MustLoad(kBase);
  EXPECT_EQ(c.GetString("sweep.name"), "demo");
  EXPECT_EQ(c.Get("sweep.name").origin, "demo.ini:3");
  EXPECT_EQ(c.GetInt("train.steps"), 20);
  EXPECT_EQ(c.Get("train.lr").origin, "default");
  EXPECT_DOUBLE_EQ(c.GetDouble("train.lr"), 0.003);
  EXPECT_EQ(c.GetString("sweep.output"), "results/demo.h5");
  EXPECT_EQ(c.GetList("grid.llm"), (std::vector<std::string>{"nano", "mini"}));
}

TEST(Config, SetOverridesApplyAfterTheFile) {
  Config c = MustLoad(kBase, {"train.steps=7", "train.steps=9", "run.max_attempts = 3"});
  EXPECT_EQ(c.GetInt("train.steps"), 9);
  EXPECT_EQ(c.GetInt("run.max_attempts"), 3);
  EXPECT_EQ(c.Get("train.steps").origin, "--set train.steps");
}

const char* kStages = R"([sweep]
name = dag
[grid]
llm = nano, micro
visual_tokens = 1, 4
method = avgpool, quecc
[stage.pretrain]
type = sleep
over = llm
sleep.seconds = 1
[stage.finetune]
type = sleep
over = llm, visual_tokens, method
needs = pretrain
[stage.eval]
type = sleep
over = llm, visual_tokens, method
needs = finetune
axis.benchmark = gqa, textvqa
[stage.probe]
type = sleep
over = llm, method
)";

std::map<std::string, std::vector<std::string>> IdsByStage(const Sweep& s) {
  std::map<std::string, std::vector<std::string>> ids;
  for (const auto& j : s.jobs) ids[s.stage_of(j).name].push_back(j.id);
  return ids;
}

TEST(Stages, JoinChildrenToParentsOnSharedAxes) {
  Result<Sweep> s = PlanSweep(MustLoad(kStages));
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  ASSERT_EQ(s->stages.size(), 4u);
  // Dependency order, ties by name: pretrain, finetune, eval; probe needs nothing.
  std::vector<std::string> order;
  for (const auto& st : s->stages) order.push_back(st.name);
  EXPECT_EQ(order, (std::vector<std::string>{"pretrain", "finetune", "eval", "probe"}));
  std::map<std::string, int64_t> count;
  for (const auto& j : s->jobs) {
    const StageSpec& st = s->stage_of(j);
    ++count[st.name];
    for (int64_t p : j.parents) {
      ASSERT_LT(p, j.index);  // Parents come first.
      const JobSpec& parent = s->jobs[p];
      for (const auto& axis : s->stage_of(parent).over) {
        EXPECT_EQ(AxisValue(parent.point, axis), AxisValue(j.point, axis)) << axis;
      }
    }
    if (st.name == "pretrain" || st.name == "probe") EXPECT_TRUE(j.parents.empty());
    if (st.name == "finetune") {
      ASSERT_EQ(j.parents.size(), 1u);
      EXPECT_EQ(s->stage_of(s->jobs[j.parents[0]]).name, "pretrain");
    }
    if (st.name == "eval") {
      ASSERT_EQ(j.parents.size(), 1u);
      EXPECT_EQ(s->stage_of(s->jobs[j.parents[0]]).name, "finetune");
      ASSERT_EQ(j.point.axes.size(), 1u);
    }
  }
  EXPECT_EQ(count["pretrain"], 2);  // One per llm.
  EXPECT_EQ(count["finetune"], 8);
  EXPECT_EQ(count["eval"], 16);     // x 2 benchmarks.
  EXPECT_EQ(count["probe"], 4);
}

TEST(Stages, AChangedSettingRenamesItsStageAndEverythingDownstreamOnly) {
  Result<Sweep> a = PlanSweep(MustLoad(kStages));
  Result<Sweep> b = PlanSweep(MustLoad(kStages, {"stage.pretrain.sleep.seconds=2"}));
  Result<Sweep> c = PlanSweep(MustLoad(kStages, {"stage.eval.sleep.seconds=2"}));
  ASSERT_TRUE(a.ok() && b.ok() && c.ok());
  auto ia = IdsByStage(*a), ib = IdsByStage(*b), ic = IdsByStage(*c);
  for (const std::string st : {"pretrain", "finetune", "eval"}) {
    ASSERT_EQ(ia[st].size(), ib[st].size());
    for (size_t i = 0; i < ia[st].size(); ++i) EXPECT_NE(ia[st][i], ib[st][i]) << st;
  }
  EXPECT_EQ(ia["probe"], ib["probe"]);
  // A change in the last stage renames it alone.
  EXPECT_EQ(ia["pretrain"], ic["pretrain"]);
  EXPECT_EQ(ia["finetune"], ic["finetune"]);
  EXPECT_EQ(ia["probe"], ic["probe"]);
  EXPECT_NE(ia["eval"], ic["eval"]);
  // The stage sees its override, the others the base value.
  Config view = MustLoad(kStages, {"stage.pretrain.sleep.seconds=2"}).StageView("pretrain");
  EXPECT_EQ(view.GetDouble("sleep.seconds"), 2.0);
  EXPECT_EQ(view.Get("sleep.seconds").origin, "--set stage.pretrain.sleep.seconds");
}

TEST(Stages, SleepCostScaleAndTokensGiveAStageItsCost) {
  Result<Sweep> plain = PlanSweep(MustLoad(kStages));
  Result<Sweep> s = PlanSweep(MustLoad(
      kStages, {"stage.pretrain.sleep.cost_tokens=4", "stage.eval.sleep.cost_scale=0.5"}));
  ASSERT_TRUE(plain.ok() && s.ok()) << s.status().ToString();
  std::map<std::string, double> finetune_v4;  // llm -> cost of its V = 4 finetunes.
  for (const auto& j : s->jobs) {
    if (s->stage_of(j).name == "finetune" && j.point.visual_tokens == 4) {
      ASSERT_EQ(j.text_tokens, 0);
      finetune_v4[j.point.llm] = j.est_cost;
    }
  }
  for (const auto& j : s->jobs) {
    const std::string& st = s->stage_of(j).name;
    const double before = plain->jobs[j.index].est_cost;
    if (st == "pretrain") {
      EXPECT_EQ(before, 0.0);  // Over llm only: no tokens without cost_tokens.
      EXPECT_GT(j.est_cost, 0.0);
      EXPECT_DOUBLE_EQ(j.est_cost, finetune_v4[j.point.llm]);
    } else if (st == "eval") {
      EXPECT_DOUBLE_EQ(j.est_cost, 0.5 * s->jobs[j.parents[0]].est_cost);
    } else {
      EXPECT_DOUBLE_EQ(j.est_cost, before);
    }
  }
  // The keys at their defaults, written or not, keep the job ids; other values change them.
  Result<Sweep> defaults =
      PlanSweep(MustLoad(kStages, {"sleep.cost_scale=1.0", "sleep.cost_tokens=0"}));
  Result<Sweep> scaled = PlanSweep(MustLoad(kStages, {"sleep.cost_scale=2"}));
  ASSERT_TRUE(defaults.ok() && scaled.ok());
  EXPECT_EQ(IdsByStage(*defaults), IdsByStage(*plain));
  EXPECT_NE(IdsByStage(*scaled)["probe"], IdsByStage(*plain)["probe"]);
}

TEST(Stages, TheResolvedTextOfAStagedConfigPlansTheSameJobs) {
  // submit writes ResolvedText() for the batch job, and the config fuzzer re-plans it: it must
  // not carry job.type (an error next to stages) and must give the same ids.
  Config c = MustLoad(kStages);
  Result<Sweep> a = PlanSweep(c);
  Result<Config> again = jobs::ConfigFromString(c.ResolvedText(), "resolved.ini", {});
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  Result<Sweep> b = PlanSweep(*again);
  ASSERT_TRUE(a.ok() && b.ok()) << b.status().ToString();
  EXPECT_EQ(IdsByStage(*a), IdsByStage(*b));
}

TEST(Stages, AOneStageConfigIsOneUnnamedStageOverEveryAxis) {
  Result<Sweep> s = PlanSweep(MustLoad(kBase));
  ASSERT_TRUE(s.ok());
  ASSERT_EQ(s->stages.size(), 1u);
  EXPECT_FALSE(s->multi_stage());
  EXPECT_EQ(s->stages[0].name, "");
  EXPECT_EQ(s->stages[0].over, GridAxes());
  for (const auto& j : s->jobs) EXPECT_TRUE(j.parents.empty());
}

TEST(Sweep, ExpandsTheCartesianProductMinusExclusions) {
  Result<Sweep> s = PlanSweep(MustLoad(kBase));
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  // 2 llm x 3 V x 2 methods x 2 seeds = 24, minus quecc at V=1 (2 llm x 2 seeds) = 20.
  EXPECT_EQ(s->jobs.size(), 20u);
  for (const auto& j : s->jobs) {
    EXPECT_FALSE(j.point.method == "quecc" && j.point.visual_tokens == 1);
    EXPECT_EQ(j.id.size(), 16u);
    EXPECT_DOUBLE_EQ(j.inference_flops,
                     2.0 * j.point.n_params * (tasks::FindTaskShape("shapes")->question_tokens + j.point.visual_tokens));
  }
  EXPECT_EQ(s->output.front(), '/');
}

TEST(Sweep, JobIdsAreStableAndChangeWithResultSettingsOnly) {
  auto ids = [](const Config& c) {
    std::vector<std::string> out;
    Result<Sweep> s = PlanSweep(c);
    EXPECT_TRUE(s.ok()) << s.status().ToString();
    for (const auto& j : s->jobs) out.push_back(j.id);
    return out;
  };
  std::vector<std::string> base = ids(MustLoad(kBase));
  EXPECT_EQ(ids(MustLoad(kBase)), base);
  // Scheduling, output and naming do not change what a job computes.
  EXPECT_EQ(ids(MustLoad(kBase, {"run.max_attempts=5", "run.ranks_per_job=2",
                                 "run.feature_cache_mb=0", "sweep.output=/tmp/x.h5",
                                 "model.cache_dir=/tmp/c"})),
            base);
  // Training settings do.
  std::vector<std::string> changed = ids(MustLoad(kBase, {"train.lr=0.01"}));
  ASSERT_EQ(changed.size(), base.size());
  for (size_t i = 0; i < base.size(); ++i) EXPECT_NE(changed[i], base[i]);
  // Growing the grid keeps the ids of the existing points.
  std::vector<std::string> grown = ids(MustLoad(kBase, {"grid.seed=0,1,2"}));
  std::set<std::string> grown_set(grown.begin(), grown.end());
  for (const auto& id : base) EXPECT_TRUE(grown_set.count(id)) << id;
  EXPECT_GT(grown.size(), base.size());
}

TEST(Sweep, RanksPerJobComeFromThePresetOrTheRunAndKeepIds) {
  Result<Sweep> base = PlanSweep(MustLoad(kBase));
  ASSERT_TRUE(base.ok()) << base.status().ToString();
  for (const auto& j : base->jobs) EXPECT_EQ(j.ranks, 1);
  EXPECT_EQ(base->max_ranks, 1);
  // A section that only sets ranks for a built-in preset keeps its shape (and so its ids).
  Config c = MustLoad(std::string(kBase) + "[llm.mini]\nranks = 4\n[run]\nranks_per_job = 2\n");
  EXPECT_EQ(c.GetString("run.node_local_groups"), "false");
  EXPECT_EQ(c.Get("llm.mini.ranks").origin, "demo.ini:15");
  Result<Sweep> s = PlanSweep(c);
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  ASSERT_EQ(s->jobs.size(), base->jobs.size());
  for (size_t i = 0; i < s->jobs.size(); ++i) {
    EXPECT_EQ(s->jobs[i].id, base->jobs[i].id);
    EXPECT_EQ(s->jobs[i].llm.width, base->jobs[i].llm.width);
    EXPECT_EQ(s->jobs[i].ranks, s->jobs[i].point.llm == "mini" ? 4 : 2) << s->jobs[i].point.llm;
  }
  EXPECT_EQ(s->max_ranks, 4);
}

TEST(Sweep, JobIdIsAPinnedHashOfTheIdentityText) {
  // Pins the id of one job: if this changes, every existing results file stops resuming.
  Config c = MustLoad(kBase);
  Result<Sweep> s = PlanSweep(c);
  ASSERT_TRUE(s.ok());
  const JobSpec& j = s->jobs.front();
  Result<LlmPreset> p = FindLlmPreset(c, jobs::BuiltinGridFacts(), j.point.llm);
  ASSERT_TRUE(p.ok());
  std::string text = JobIdentityText(j.point, *p, "finetune_eval", s->stages.back().planner->IdentityText());
  EXPECT_EQ(HexId(text), j.id);
  EXPECT_NE(text.find("train.steps=20\n"), std::string::npos);
  EXPECT_NE(text.find("llm=nano\n"), std::string::npos);
  // A new generator version is a new job (issue 17).
  EXPECT_NE(text.find("tasks.generators=shapes:2,glyphs:2\n"), std::string::npos);
  EXPECT_EQ(text.find("run."), std::string::npos);
  EXPECT_EQ(text.find("cache_dir"), std::string::npos);
}

TEST(Sweep, KeysAddedLaterEnterJobIdsOnlyAwayFromTheirDefault) {
  // KeySpec::identity: kUnlessDefault keys (train.visual_lr, train.lr_width_exponent, ...) keep
  // the ids of results made before they existed; any other value is a new job.
  auto first_id = [](const Config& c) {
    Result<Sweep> s = PlanSweep(c);
    EXPECT_TRUE(s.ok()) << s.status().ToString();
    return s->jobs.front().id;
  };
  const std::string base = first_id(MustLoad(kBase));
  EXPECT_EQ(first_id(MustLoad(kBase, {"train.visual_lr=0"})), base);
  EXPECT_EQ(first_id(MustLoad(kBase, {"train.visual_lr=0.0"})), base);  // Compared as numbers.
  EXPECT_EQ(first_id(MustLoad(kBase, {"train.lr_reference_width=32"})), base);
  EXPECT_NE(first_id(MustLoad(kBase, {"train.visual_lr=0.001"})), base);
  EXPECT_NE(first_id(MustLoad(kBase, {"train.align_steps=5", "train.align_aux_weight=1"})),
            first_id(MustLoad(kBase, {"train.align_steps=5"})));
  EXPECT_NE(MustLoad(kBase, {"train.visual_lr=0.002"})
                .IdentityText({"train"})
                .find("train.visual_lr=0.002\n"),
            std::string::npos);
  EXPECT_EQ(MustLoad(kBase).IdentityText({"model"}).find("cache_dir"), std::string::npos);
}

TEST(LlmPresets, AtLeastFiveBuiltinsSpanningThirtyTimes) {
  const auto& p = jobs::BuiltinGridFacts().builtin_llms;
  ASSERT_GE(p.size(), 5u);
  double lo = 1e300, hi = 0;
  for (const auto& x : p) {
    lo = std::min(lo, x.n_params);
    hi = std::max(hi, x.n_params);
    EXPECT_EQ(x.width % x.heads, 0) << x.name;
  }
  EXPECT_GE(hi / lo, 30.0);
}

TEST(LlmPresets, NonEmbeddingParamsFollowTheFormula) {
  // One block of width 2, mlp_ratio 1: attn 4*4+4*2=24, mlp 2*4+2+2=12, norms 8 -> 44; final 4.
  EXPECT_DOUBLE_EQ(LlmNonEmbeddingParams(2, 1, 1), 48.0);
  EXPECT_DOUBLE_EQ(LlmNonEmbeddingParams(64, 4, 4), 4 * (12.0 * 64 * 64 + 13.0 * 64) + 128);
}

TEST(LlmPresets, UserPresetsWithExplicitParameterCount) {
  Config c = MustLoad(std::string(kBase) + "[llm.qwen-0.5b]\nn_params = 0.5e9\n",
                      {"grid.llm=qwen-0.5b", "job.type=sleep"});
  Result<Sweep> s = PlanSweep(c);
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_DOUBLE_EQ(s->jobs.front().point.n_params, 0.5e9);
}

TEST(MethodTokens, GridMethodsNeedSquaresThatFit) {
  EXPECT_EQ(CheckMethodTokens("avgpool", 36, 24), "");
  EXPECT_EQ(CheckMethodTokens("quecc", 576, 24), "");
  EXPECT_EQ(CheckMethodTokens("none", 576, 24), "");
  EXPECT_EQ(CheckMethodTokens("topk", 7, 8), "");
  EXPECT_NE(CheckMethodTokens("avgpool", 7, 8), "");
  EXPECT_NE(CheckMethodTokens("tokenpacker", 9, 8), "");
  EXPECT_NE(CheckMethodTokens("avgpool", 81, 8), "");
  for (int v : {1, 4, 16, 36, 64, 144, 576}) {
    EXPECT_EQ(CheckMethodTokens("quecc", v, 24), "") << v;
    EXPECT_EQ(CheckMethodTokens("tokenpacker", v, 24), "") << v;
  }
}

TEST(Schema, DefaultsAreValidValues) {
  for (const auto& spec : jobs::ConfigSchema().keys()) {
    if (!spec.default_value || spec.section == "llm.*") continue;
    std::string key = spec.FullKey();
    std::string text = "[sweep]\nname = d\n[grid]\nllm = nano\nvisual_tokens = 4\n";
    if (spec.section == "stage.*") {
      key = "stage.s." + spec.key;
      text += "[stage.s]\ntype = sleep\n";
    }
    // A config setting every key to its own default must load.
    Result<Config> c = jobs::ConfigFromString(text, "d.ini", {key + "=" + *spec.default_value});
    EXPECT_TRUE(c.ok()) << key << ": " << c.status().ToString();
  }
}

TEST(Schema, ConfigMdKeyTablesAreTheSchemas) {
  std::ifstream in(VLMSCALE_TEST_SOURCE_DIR "/docs/CONFIG.md");
  ASSERT_TRUE(in.good());
  std::stringstream ss;
  ss << in.rdbuf();
  const std::string doc = ss.str();
  const std::string begin = "<!-- keys: generated by `vlmscale keys --markdown`; do not edit by "
                            "hand -->\n";
  const std::string end = "<!-- keys end -->";
  const size_t b = doc.find(begin), e = doc.find(end);
  ASSERT_NE(b, std::string::npos);
  ASSERT_NE(e, std::string::npos);
  const std::string tables = doc.substr(b + begin.size(), e - b - begin.size());
  EXPECT_EQ(tables, jobs::ConfigSchema().Markdown())
      << "docs/CONFIG.md is out of step with the schema: regenerate its key tables with "
         "build/vlmscale keys --markdown";
  // Every key appears in its section's table, with the component that declares it.
  for (const auto& spec : jobs::ConfigSchema().keys()) {
    EXPECT_NE(tables.find("| `" + spec.key + "` |"), std::string::npos) << spec.FullKey();
    EXPECT_FALSE(spec.owner.empty()) << spec.FullKey();
  }
}

TEST(ShippedConfigs, EveryConfigInConfigsPlans) {
  std::string dir = VLMSCALE_TEST_SOURCE_DIR "/configs";
  DIR* d = opendir(dir.c_str());
  ASSERT_NE(d, nullptr);
  int n = 0;
  while (dirent* e = readdir(d)) {
    std::string name = e->d_name;
    if (!EndsWith(name, ".ini")) continue;
    Result<Config> c = jobs::LoadConfig(dir + "/" + name, {});
    ASSERT_TRUE(c.ok()) << name << ": " << c.status().ToString();
    Result<Sweep> s = PlanSweep(*c);
    EXPECT_TRUE(s.ok()) << name << ": " << s.status().ToString();
    ++n;
  }
  closedir(d);
  EXPECT_GE(n, 1);
}

// Issue 21: any setting is a grid axis ([grid] SECTION.KEY = values).
const char* kLrSweep = R"([sweep]
name = lr
[grid]
llm = nano, mini
visual_tokens = 4, 16
method = avgpool
seed = 0
train.lr = 1e-3, 3e-3
exclude = llm=mini,train.lr=0.001
[train]
steps = 20
warmup_steps = 2
)";

TEST(SweptSettings, AnyKeyIsAGridAxisWithItsOwnIdsAndExclusions) {
  Result<Sweep> s = PlanSweep(MustLoad(kLrSweep));
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_EQ(s->swept_keys, std::vector<std::string>{"train.lr"});
  // 2 llm x 2 lr x 2 V = 8, minus mini at lr 1e-3 (written 0.001 in the rule: numbers compare).
  ASSERT_EQ(s->jobs.size(), 6u);
  std::set<std::string> ids;
  std::map<std::string, int> per_lr;
  for (const auto& j : s->jobs) {
    ids.insert(j.id);
    const std::string lr = AxisValue(j.point, "train.lr");
    ++per_lr[lr];
    EXPECT_FALSE(j.point.llm == "mini" && lr == "1e-3");
    // The job runs with its value: its settings say so.
    EXPECT_NE(JobSettingsText(*s, j).find("train.lr=" + lr + "\n"), std::string::npos) << lr;
  }
  EXPECT_EQ(ids.size(), 6u);
  EXPECT_EQ(per_lr["1e-3"], 2);
  EXPECT_EQ(per_lr["3e-3"], 4);
  // A job of the sweep has the id of the same point planned with --set train.lr=VALUE.
  Result<Sweep> fixed = PlanSweep(MustLoad(kLrSweep, {"grid.train.lr=3e-3", "grid.exclude="}));
  ASSERT_TRUE(fixed.ok()) << fixed.status().ToString();
  std::string text = kLrSweep;
  for (const std::string line :
       {"train.lr = 1e-3, 3e-3\n", "exclude = llm=mini,train.lr=0.001\n"}) {
    text.erase(text.find(line), line.size());
  }
  Result<Sweep> plain = PlanSweep(MustLoad(text, {"train.lr=3e-3"}));
  ASSERT_TRUE(plain.ok()) << plain.status().ToString();
  std::set<std::string> plain_ids;
  for (const auto& j : plain->jobs) plain_ids.insert(j.id);
  int found = 0;
  for (const auto& j : s->jobs) found += plain_ids.count(j.id);
  EXPECT_EQ(found, 4) << "the lr=3e-3 jobs keep the ids of a config that sets train.lr=3e-3";
}

TEST(SweptSettings, EveryValueIsCheckedWhenTheConfigLoads) {
  Result<Config> bad = jobs::ConfigFromString(kLrSweep, "lr.ini", {"grid.train.lr=1e-3, fast"});
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(ExitCodeFor(bad.status()), 2);
  EXPECT_NE(bad.status().message().find("key 'grid.train.lr': value 'fast'"), std::string::npos)
      << bad.status().message();
  Result<Config> range = jobs::ConfigFromString(kLrSweep, "lr.ini", {"grid.train.steps=10, -5"});
  ASSERT_FALSE(range.ok());
  EXPECT_NE(range.status().message().find("value '-5'"), std::string::npos)
      << range.status().message();
  Result<Config> twice = jobs::ConfigFromString(kLrSweep, "lr.ini", {"grid.train.lr=1e-3,0.001"});
  ASSERT_FALSE(twice.ok());
  EXPECT_NE(twice.status().message().find("same value"), std::string::npos);
  Result<Config> where = jobs::ConfigFromString(kLrSweep, "lr.ini", {"grid.model.cache_dir=a,b"});
  ASSERT_FALSE(where.ok());
  EXPECT_NE(where.status().message().find("does not enter job ids"), std::string::npos);
  Result<Config> unknown = jobs::ConfigFromString(kLrSweep, "lr.ini", {"grid.train.lrr=1"});
  ASSERT_FALSE(unknown.ok());
  EXPECT_NE(unknown.status().message().find("did you mean 'lr'"), std::string::npos)
      << unknown.status().message();
  // In the file: the message names the line.
  std::string text = kLrSweep;
  text.replace(text.find("1e-3, 3e-3"), 10, "1e-3, 3e-3x");
  Result<Config> line = jobs::ConfigFromString(text, "lr.ini", {});
  ASSERT_FALSE(line.ok());
  EXPECT_NE(line.status().message().find("lr.ini:8: key 'grid.train.lr': value '3e-3x'"),
            std::string::npos)
      << line.status().message();
}

TEST(SweptSettings, APresetsLrListSweepsItsOwnRatesAndTheResolvedTextPlansTheSame) {
  const std::string text = std::string(kLrSweep) + "[llm.nano]\nlr = 1e-2, 2e-2, 4e-2\n";
  Config c = MustLoad(text, {"grid.exclude="});
  Result<Sweep> s = PlanSweep(c);
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  std::map<std::string, std::set<std::string>> lrs;
  for (const auto& j : s->jobs) lrs[j.point.llm].insert(AxisValue(j.point, "train.lr"));
  EXPECT_EQ(lrs["nano"], (std::set<std::string>{"1e-2", "2e-2", "4e-2"}));
  EXPECT_EQ(lrs["mini"], (std::set<std::string>{"1e-3", "3e-3"}));
  EXPECT_EQ(s->jobs.size(), 10u);  // (3 + 2) x 2 V.
  // The built-in nano keeps its shape (the section only sets lr).
  EXPECT_GT(s->jobs.front().llm.width, 0);
  Result<Sweep> again = PlanSweep(MustLoad(c.ResolvedText()));
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  ASSERT_EQ(again->jobs.size(), s->jobs.size());
  for (size_t i = 0; i < s->jobs.size(); ++i) EXPECT_EQ(again->jobs[i].id, s->jobs[i].id);
}

TEST(SweptSettings, AStageThatDoesNotReadTheKeyKeepsOneJobPerPoint) {
  Result<Sweep> base = PlanSweep(MustLoad(kStages));
  Result<Sweep> s = PlanSweep(MustLoad(kStages, {"grid.sleep.seconds=0,0.5"}));
  ASSERT_TRUE(base.ok() && s.ok()) << s.status().ToString();
  std::map<std::string, int> before, after;
  for (const auto& j : base->jobs) ++before[base->stage_of(j).name];
  for (const auto& j : s->jobs) ++after[s->stage_of(j).name];
  // Every stage of kStages reads [sleep] unless it overrides sleep.seconds itself.
  for (const auto& st : s->stages) {
    const bool overrides = MustLoad(kStages).IsSet("stage." + st.name + ".sleep.seconds");
    EXPECT_EQ(after[st.name], (overrides && st.needs.empty() ? 1 : 2) * before[st.name]) << st.name;
  }
}

}  // namespace
}  // namespace vlmscale::config
