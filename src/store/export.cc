// ExportCsv / ExportJson (declared in store/results_store.h).
#include <cmath>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <ostream>

#include "store/journal.h"
#include "store/results_store.h"

namespace vlmscale::store {
namespace {

using nlohmann::json;

// Shortest text that reads back as the same double; "" for NaN/inf.
std::string CsvNumber(double v) {
  if (!std::isfinite(v)) return "";
  char buf[32];
  for (int precision = 15; precision <= 17; ++precision) {
    std::snprintf(buf, sizeof(buf), "%.*g", precision, v);
    if (std::strtod(buf, nullptr) == v) break;
  }
  return buf;
}

// RFC 4180: quote a cell containing a comma, quote, CR or LF; double the quotes inside.
std::string CsvCell(const std::string& s) {
  if (s.find_first_of(",\"\r\n") == std::string::npos) return s;
  std::string out = "\"";
  for (char c : s) {
    if (c == '"') out += '"';
    out += c;
  }
  out += '"';
  return out;
}

json Num(double v) { return std::isfinite(v) ? json(v) : json(nullptr); }

json ExtraJson(const JobRecord& r) {
  json extra = json::object();
  for (const auto& [k, v] : r.extra_metrics) extra[k] = Num(v);
  return extra;
}

// The value of every export column for one job, as JSON (strings, numbers, null).
json ExportRow(const JobRecord& r) {
  json row = json::object();
  row["job_id"] = r.job_id;
  row["status"] = JobStateName(r.state);
  row["attempts"] = r.attempts;
  row["llm"] = r.llm;
  row["n_params"] = Num(r.n_params);
  row["visual_tokens"] = r.visual_tokens;
  row["method"] = r.method;
  row["task"] = r.task;
  row["seed"] = r.seed;
  row["error"] = Num(r.error);
  row["accuracy"] = Num(r.accuracy);
  row["eval_loss"] = Num(r.eval_loss);
  row["inference_flops"] = Num(r.inference_flops);
  row["compressor_flops"] = Num(r.compressor_flops);
  row["latency_ms"] = Num(r.latency_ms);
  row["est_cost"] = Num(r.est_cost);
  row["train_seconds"] = Num(r.train_seconds);
  row["eval_seconds"] = Num(r.eval_seconds);
  row["rank"] = r.rank;
  row["host"] = r.host;
  row["start_time"] = Num(r.start_time);
  row["end_time"] = Num(r.end_time);
  row["failure_class"] = r.failure_class;
  row["message"] = r.message;
  row["extra_metrics"] = ExtraJson(r);
  return row;
}

constexpr auto kReplace = json::error_handler_t::replace;

}  // namespace

const std::vector<std::string>& ExportColumns() {
  static const std::vector<std::string> columns = {"job_id",
                                                   "status",
                                                   "attempts",
                                                   "llm",
                                                   "n_params",
                                                   "visual_tokens",
                                                   "method",
                                                   "task",
                                                   "seed",
                                                   "error",
                                                   "accuracy",
                                                   "eval_loss",
                                                   "inference_flops",
                                                   "compressor_flops",
                                                   "latency_ms",
                                                   "est_cost",
                                                   "train_seconds",
                                                   "eval_seconds",
                                                   "rank",
                                                   "host",
                                                   "start_time",
                                                   "end_time",
                                                   "failure_class",
                                                   "message",
                                                   "extra_metrics"};
  return columns;
}

Status ExportCsv(const ResultsFile& file, std::ostream& out) {
  const auto& columns = ExportColumns();
  for (size_t c = 0; c < columns.size(); ++c) out << (c ? "," : "") << columns[c];
  out << "\n";
  for (const JobRecord& r : file.jobs) {
    json row = ExportRow(r);
    for (size_t c = 0; c < columns.size(); ++c) {
      const json& v = row[columns[c]];
      std::string cell;
      if (v.is_string()) {
        cell = v.get<std::string>();
      } else if (v.is_number_integer()) {
        cell = std::to_string(v.get<int64_t>());
      } else if (v.is_number()) {
        cell = CsvNumber(v.get<double>());
      } else if (v.is_object()) {
        cell = v.dump(-1, ' ', false, kReplace);
      }  // null -> empty cell.
      out << (c ? "," : "") << CsvCell(cell);
    }
    out << "\n";
  }
  if (!out) return Status::IOError("writing the CSV export failed");
  return Status::OK();
}

Status ExportJson(const ResultsFile& file, std::ostream& out) {
  json doc = json::object();
  doc["format"] = kFormatName;
  doc["sweep_name"] = file.sweep_name;
  doc["vlmscale_version"] = file.vlmscale_version;
  doc["git_commit"] = file.git_commit;
  json run_info = json::parse(file.run_info_json, nullptr, /*allow_exceptions=*/false);
  doc["run_info"] = run_info.is_discarded() ? json(nullptr) : run_info;
  doc["columns"] = ExportColumns();
  json jobs = json::array();
  for (const JobRecord& r : file.jobs) {
    json row = ExportRow(r);
    json curves = json::object();
    for (const CurvePoint& p : r.curves)
      curves[p.name].push_back(json::array({p.step, Num(p.value)}));
    row["curves"] = std::move(curves);
    jobs.push_back(std::move(row));
  }
  doc["jobs"] = std::move(jobs);
  out << doc.dump(1, ' ', false, kReplace) << "\n";
  if (!out) return Status::IOError("writing the JSON export failed");
  return Status::OK();
}

}  // namespace vlmscale::store
