// The column tables of the results store: one row per scalar field of JobRecord (and of JobEvent),
// with its name, type, unit, meaning and the serializations it appears in. The journal (JSON
// encoding and decoding), the HDF5 snapshot (/jobs and /events compound types, writing and
// reading) and `vlmscale export` (CSV and JSON) iterate these tables and switch only on the column
// type, never on a column name; docs/RESULTS.md lists the same rows (a test compares them).
// Variable-length parts of a record (curves) keep their own code in each serializer.
// Internal to src/store and its tests.
#ifndef VLMSCALE_STORE_JOB_COLUMNS_H_
#define VLMSCALE_STORE_JOB_COLUMNS_H_

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <variant>
#include <vector>

#include "core/status.h"
#include "store/job_record.h"
#include "store/results_store.h"

namespace vlmscale::store {

using MetricMap = std::map<std::string, double>;

// The value types of columns, in the order of Column::Member's alternatives. Encodings:
//   journal + export JSON   HDF5 compound field            export CSV cell
//   kString   string        fixed-length NUL-padded UTF-8  the text
//   kDouble   number; NaN/inf as null   float64 (NaN kept)  shortest exact text; NaN empty
//   kInt64    integer       int64                          decimal
//   kInt32    integer       int32                          decimal
//   kState    JobStateName()  fixed-length string          JobStateName()
//   kMetrics  object of numbers (NaN as null)   that object as JSON text (a string field)
enum class ColumnType { kString, kDouble, kInt64, kInt32, kState, kMetrics };

// The HDF5 type name docs/RESULTS.md uses for a column type ("string", "float64", ...).
const char* ColumnTypeName(ColumnType type);

// Where a column appears (a bit set).
enum ColumnWhere : unsigned {
  kInJournal = 1u << 0,  // Key of the journal's "rec" (or "ev") object.
  kInHdf5 = 1u << 1,     // Field of the /jobs (or /events) compound type.
  kInExport = 1u << 2,   // Column of `vlmscale export` (CSV and JSON).
  kEverywhere = kInJournal | kInHdf5 | kInExport,
};

// The order of `vlmscale export`: the columns of format version 1 in three groups (kV1Head, then
// kV1Body, then kV1Tail: the order the export had before this table), then the later columns
// (kAppended, the default), each group in table order. Scripts that read the CSV by position keep
// working when a column is added.
enum class ExportPlace { kV1Head, kV1Body, kV1Tail, kAppended };

template <typename Row>
struct Column {
  // The field; its C++ type is the column type (type()), so the two cannot disagree.
  using Member = std::variant<std::string Row::*, double Row::*, int64_t Row::*, int Row::*,
                              JobState Row::*, MetricMap Row::*>;

  const char* name;  // Journal key, HDF5 field name and export column. Files keep it: never rename.
  Member member;
  const char* unit;  // "" when the value has none (text, ids, counts).
  const char* doc;   // One line; docs/RESULTS.md repeats it.
  unsigned where = kEverywhere;
  ExportPlace export_place = ExportPlace::kAppended;

  ColumnType type() const { return static_cast<ColumnType>(member.index()); }
  // The field of `row`. REQUIRES: T is the field's type.
  template <typename T>
  const T& Get(const Row& row) const {
    return row.*std::get<T Row::*>(member);
  }
  template <typename T>
  T* Mutable(Row* row) const {
    return &(row->*std::get<T Row::*>(member));
  }
};

// The job record's columns in file order (journal keys, /jobs fields). How to add one: see
// store/job_record.h.
const std::vector<Column<JobRecord>>& JobColumns();
// The event's columns in file order (journal "ev" keys, /events fields). Not exported.
const std::vector<Column<JobEvent>>& EventColumns();

// One row of the /curve_points table (format version 2): a point of a job's curve.
struct CurveTableRow {
  std::string job_id;
  std::string name;
  int64_t step = 0;
  double value = 0.0;
};
// Its columns in file order. Only in HDF5 (the journal keeps curves in the record).
const std::vector<Column<CurveTableRow>>& CurveColumns();

// ---- Encodings shared by the serializers -------------------------------------------------------

// The column's value as JSON (the journal's tree encoding and the export): see ColumnType.
template <typename Row>
nlohmann::json ColumnToJson(const Column<Row>& column, const Row& row);
// Sets the column of *row from the JSON value `v` (the journal). kInvalidInput naming the column
// when `v` has the wrong type or is an unknown state; null is NaN for doubles; a null or empty
// state leaves the state alone.
template <typename Row>
Status ColumnFromJson(const Column<Row>& column, const nlohmann::json& v, Row* row);

// The text of a string-like column (kString, kState, kMetrics) as HDF5 stores it.
template <typename Row>
std::string ColumnToText(const Column<Row>& column, const Row& row);
// Inverse of ColumnToText. Lenient, as snapshot readers always were: an unknown state leaves the
// state alone, unparsable metrics text gives no metrics, a non-number metric is NaN.
template <typename Row>
void ColumnFromText(const Column<Row>& column, const std::string& text, Row* row);

}  // namespace vlmscale::store

#endif  // VLMSCALE_STORE_JOB_COLUMNS_H_
