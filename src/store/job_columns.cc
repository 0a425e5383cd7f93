#include "store/job_columns.h"

#include <cmath>
#include <cstdint>
#include <limits>

namespace vlmscale::store {
namespace {

using nlohmann::json;

json Num(double v) { return std::isfinite(v) ? json(v) : json(nullptr); }

json MetricsToJson(const MetricMap& metrics) {
  json j = json::object();
  for (const auto& [k, v] : metrics) j[k] = Num(v);
  return j;
}

}  // namespace

const char* ColumnTypeName(ColumnType type) {
  switch (type) {
    case ColumnType::kString:
    case ColumnType::kState:
    case ColumnType::kMetrics:
      return "string";
    case ColumnType::kDouble:
      return "float64";
    case ColumnType::kInt64:
      return "int64";
    case ColumnType::kInt32:
      return "int32";
  }
  return "";
}

// The /jobs table. One line per column, in file order: a new column goes at the end (files and
// h5py readers keep their field order) and takes the default export place, kAppended (after every
// existing export column). docs/RESULTS.md repeats name, type, unit and doc.
const std::vector<Column<JobRecord>>& JobColumns() {
  using R = JobRecord;
  constexpr unsigned kAll = kEverywhere;
  constexpr auto kHead = ExportPlace::kV1Head, kBody = ExportPlace::kV1Body,
                 kTail = ExportPlace::kV1Tail;
  static const std::vector<Column<R>> columns = {
      {"job_id", &R::job_id, "",
       "16 hex digits, stable id of the grid point (`config::JobSpec::id`).", kAll, kHead},
      {"llm", &R::llm, "", "LLM name.", kAll, kBody},
      {"n_params", &R::n_params, "parameters", "Non-embedding LLM parameters N.", kAll, kBody},
      {"visual_tokens", &R::visual_tokens, "tokens", "Visual tokens V after compression.", kAll,
       kBody},
      {"method", &R::method, "", "Token compression method.", kAll, kBody},
      {"task", &R::task, "", "Task name.", kAll, kBody},
      {"seed", &R::seed, "", "Seed.", kAll, kBody},
      {"status", &R::state, "",
       "`pending`, `running`, `done`, `failed` or `blocked` (a job it needs failed).", kAll, kHead},
      {"attempts", &R::attempts, "", "Attempts started so far (a stopped one is not counted).",
       kAll, kHead},
      {"failure_class", &R::failure_class, "",
       "`\"\"`, `error`, `diverged`, `oom`, `timeout`, `killed`, `no-metrics`.", kAll, kTail},
      {"message", &R::message, "",
       "Failure message of the last attempt, at most 4096 bytes (cut on a UTF-8 character "
       "boundary).",
       kAll, kTail},
      {"error", &R::error, "fraction", "Y of the scaling law, 1 - accuracy.", kAll, kBody},
      {"accuracy", &R::accuracy, "fraction", "Eval accuracy.", kAll, kBody},
      {"eval_loss", &R::eval_loss, "nats", "Eval loss (mean cross-entropy on the eval set).", kAll,
       kBody},
      {"inference_flops", &R::inference_flops, "FLOP/sample",
       "LLM inference FLOPs per sample, 2·N·(Q+V).", kAll, kBody},
      {"compressor_flops", &R::compressor_flops, "FLOP/sample",
       "The compressor's own FLOPs per sample.", kAll, kBody},
      {"latency_ms", &R::latency_ms, "ms/sample", "Measured eval latency per sample.", kAll, kBody},
      {"extra_metrics", &R::extra_metrics, "",
       "JSON object of other per-task metrics (`{}` if none; NaN as null).", kAll, kTail},
      {"est_cost", &R::est_cost, "FLOP",
       "Estimated training cost (the plan's cost model; relative, for scheduling).", kAll, kBody},
      {"train_seconds", &R::train_seconds, "s", "Training wall time.", kAll, kBody},
      {"eval_seconds", &R::eval_seconds, "s", "Evaluation wall time.", kAll, kBody},
      {"rank", &R::rank, "", "First world rank of the group that ran it (-1: not started).", kAll,
       kBody},
      {"host", &R::host, "", "Host of that rank.", kAll, kBody},
      {"start_time", &R::start_time, "Unix s", "When the last attempt started.", kAll, kBody},
      {"end_time", &R::end_time, "Unix s", "When it ended (0 while running).", kAll, kBody},
      {"stage", &R::stage, "", "The job's stage (`\"\"` in a one-stage study).", kAll},
      {"needs", &R::needs, "", "Ids of the jobs it needs, comma-separated.", kAll},
      {"axes", &R::axes, "",
       "The stage's own axes of the job, `name=value` comma-separated (e.g. `benchmark=gqa`).",
       kAll},
      {"settings_hash", &R::settings_hash, "",
       "16 hex digits: hash of the job's settings (`settings`); `\"\"` in files written before "
       "vlmscale kept settings.",
       kAll},
      {"settings", &R::settings, "",
       "The job's settings, `key=value` lines (every key that enters its id); export shows the "
       "keys that vary between jobs as columns instead.",
       kInJournal | kInHdf5},
      {"swept", &R::swept, "",
       "Setting keys its config varies as grid axes, comma-separated (`[grid] train.lr = ...`).",
       kAll},
      // New columns here: {"name", &R::name, "unit", "Meaning."},
  };
  return columns;
}

// The /events table (the job eventlog).
const std::vector<Column<JobEvent>>& EventColumns() {
  using E = JobEvent;
  constexpr unsigned kNotExported = kInJournal | kInHdf5;
  static const std::vector<Column<E>> columns = {
      {"job_id", &E::job_id, "", "The job.", kNotExported},
      {"state", &E::state, "", "The new state.", kNotExported},
      {"attempt", &E::attempt, "", "The job's attempt count at that moment.", kNotExported},
      {"time", &E::time, "Unix s", "When the writer recorded it.", kNotExported},
      {"failure_class", &E::failure_class, "", "For `failed`: why.", kNotExported},
  };
  return columns;
}

const std::vector<Column<CurveTableRow>>& CurveColumns() {
  using C = CurveTableRow;
  static const std::vector<Column<C>> columns = {
      {"job_id", &C::job_id, "", "The job (a row of /jobs).", kInHdf5},
      {"name", &C::name, "", "The curve's name, e.g. `train_loss` or `eval/acc`.", kInHdf5},
      {"step", &C::step, "", "Training step.", kInHdf5},
      {"value", &C::value, "", "The value at that step.", kInHdf5},
  };
  return columns;
}

template <typename Row>
json ColumnToJson(const Column<Row>& c, const Row& row) {
  switch (c.type()) {
    case ColumnType::kString:
      return c.template Get<std::string>(row);
    case ColumnType::kDouble:
      return Num(c.template Get<double>(row));
    case ColumnType::kInt64:
      return c.template Get<int64_t>(row);
    case ColumnType::kInt32:
      return c.template Get<int>(row);
    case ColumnType::kState:
      return JobStateName(c.template Get<JobState>(row));
    case ColumnType::kMetrics:
      return MetricsToJson(c.template Get<MetricMap>(row));
  }
  return nullptr;
}

template <typename Row>
Status ColumnFromJson(const Column<Row>& c, const json& v, Row* row) {
  auto wrong = [&](const char* what) {
    return Status::InvalidInput(std::string("field '") + c.name + "' is not " + what);
  };
  switch (c.type()) {
    case ColumnType::kString:
      if (!v.is_string()) return wrong("a string");
      *c.template Mutable<std::string>(row) = v.get<std::string>();
      break;
    case ColumnType::kDouble:
      if (!v.is_null() && !v.is_number()) return wrong("a number");
      *c.template Mutable<double>(row) = v.is_null() ? JobRecord::kNaN : v.get<double>();
      break;
    case ColumnType::kInt64:
      if (!v.is_number_integer() ||
          (v.is_number_unsigned() &&
           v.get<uint64_t>() > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))) {
        return wrong("a 64-bit integer");
      }
      *c.template Mutable<int64_t>(row) = v.get<int64_t>();
      break;
    case ColumnType::kInt32:
      if (!v.is_number_integer() || (v.is_number_unsigned() && v.get<uint64_t>() > INT32_MAX) ||
          (!v.is_number_unsigned() &&
           (v.get<int64_t>() < INT32_MIN || v.get<int64_t>() > INT32_MAX))) {
        return wrong("a 32-bit integer");
      }
      *c.template Mutable<int>(row) = v.get<int>();
      break;
    case ColumnType::kState: {
      if (!v.is_string()) return wrong("a string");
      const std::string name = v.get<std::string>();
      if (!name.empty() && !ParseJobState(name, c.template Mutable<JobState>(row))) {
        return Status::InvalidInput("unknown job state '" + name + "'");
      }
      break;
    }
    case ColumnType::kMetrics: {
      MetricMap* metrics = c.template Mutable<MetricMap>(row);
      metrics->clear();
      if (v.is_null()) break;
      if (!v.is_object()) return wrong("an object");
      for (const auto& [k, x] : v.items()) {
        if (!x.is_number() && !x.is_null()) {
          return Status::InvalidInput(std::string("field '") + c.name + "' has '" + k +
                                      "', which is not a number");
        }
        (*metrics)[k] = x.is_number() ? x.template get<double>() : JobRecord::kNaN;
      }
      break;
    }
  }
  return Status::OK();
}

template <typename Row>
std::string ColumnToText(const Column<Row>& c, const Row& row) {
  switch (c.type()) {
    case ColumnType::kString:
      return c.template Get<std::string>(row);
    case ColumnType::kState:
      return JobStateName(c.template Get<JobState>(row));
    case ColumnType::kMetrics:
      return MetricsToJson(c.template Get<MetricMap>(row))
          .dump(-1, ' ', false, json::error_handler_t::replace);
    default:
      return ColumnToJson(c, row).dump();
  }
}

template <typename Row>
void ColumnFromText(const Column<Row>& c, const std::string& text, Row* row) {
  switch (c.type()) {
    case ColumnType::kString:
      *c.template Mutable<std::string>(row) = text;
      break;
    case ColumnType::kState:
      ParseJobState(text, c.template Mutable<JobState>(row));
      break;
    case ColumnType::kMetrics: {
      MetricMap* metrics = c.template Mutable<MetricMap>(row);
      metrics->clear();
      json j = json::parse(text, nullptr, /*allow_exceptions=*/false);
      if (!j.is_object()) break;
      for (const auto& [k, v] : j.items()) {
        (*metrics)[k] = v.is_number() ? v.template get<double>() : JobRecord::kNaN;
      }
      break;
    }
    default:
      break;  // Numbers are binary in HDF5, never text.
  }
}

#define VLM_INSTANTIATE(Row)                                                  \
  template json ColumnToJson<Row>(const Column<Row>&, const Row&);            \
  template Status ColumnFromJson<Row>(const Column<Row>&, const json&, Row*); \
  template std::string ColumnToText<Row>(const Column<Row>&, const Row&);     \
  template void ColumnFromText<Row>(const Column<Row>&, const std::string&, Row*);
VLM_INSTANTIATE(JobRecord)
VLM_INSTANTIATE(JobEvent)
VLM_INSTANTIATE(CurveTableRow)
#undef VLM_INSTANTIATE

}  // namespace vlmscale::store
