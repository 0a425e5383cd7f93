// ExportCsv / ExportJson (declared in store/results_store.h).
#include <cmath>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <ostream>

#include "store/job_columns.h"
#include "store/results_store.h"
#include "store/settings.h"

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

// The exported columns of JobColumns() in export order (see ExportPlace).
const std::vector<const Column<JobRecord>*>& ExportedColumns() {
  static const std::vector<const Column<JobRecord>*> columns = [] {
    std::vector<const Column<JobRecord>*> v;
    for (ExportPlace place : {ExportPlace::kV1Head, ExportPlace::kV1Body, ExportPlace::kV1Tail,
                              ExportPlace::kAppended}) {
      for (const Column<JobRecord>& c : JobColumns()) {
        if ((c.where & kInExport) && c.export_place == place) v.push_back(&c);
      }
    }
    return v;
  }();
  return columns;
}

// The value of every export column for one job, as JSON (strings, numbers, null, objects), then
// its value of each varied setting key (a string).
json ExportRow(const JobRecord& r, const std::vector<std::string>& varied) {
  json row = json::object();
  for (const Column<JobRecord>* c : ExportedColumns()) row[c->name] = ColumnToJson(*c, r);
  for (const std::string& key : varied) row[key] = SettingValue(r, key);
  return row;
}

// ExportColumns() and the file's varied setting keys.
std::vector<std::string> FileColumns(const std::vector<std::string>& varied) {
  std::vector<std::string> columns = ExportColumns();
  columns.insert(columns.end(), varied.begin(), varied.end());
  return columns;
}

constexpr auto kReplace = json::error_handler_t::replace;

}  // namespace

const std::vector<std::string>& ExportColumns() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> v;
    for (const Column<JobRecord>* c : ExportedColumns()) v.push_back(c->name);
    return v;
  }();
  return names;
}

Status ExportCsv(const ResultsFile& file, std::ostream& out) {
  const std::vector<std::string> varied = VariedSettingKeys(file.jobs);
  const std::vector<std::string> columns = FileColumns(varied);
  for (size_t c = 0; c < columns.size(); ++c) out << (c ? "," : "") << columns[c];
  out << "\n";
  for (const JobRecord& r : file.jobs) {
    json row = ExportRow(r, varied);
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
  const std::vector<std::string> varied = VariedSettingKeys(file.jobs);
  doc["columns"] = FileColumns(varied);
  doc["varied_settings"] = varied;
  json jobs = json::array();
  for (const JobRecord& r : file.jobs) {
    json row = ExportRow(r, varied);
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
