// libFuzzer target: the fitter's CSV reader (ParseCsv, CsvTable::NumericColumn) and
// fit::ObservationsFromCsv on arbitrary text. Promises:
//   - a rejection is kInvalidInput with one line of text (exit code 2);
//   - an accepted table has a non-empty header of distinct names, each found by ColumnIndex at its
//     own position, and every row has as many fields as the header, with increasing line numbers;
//   - a numeric column has one finite value per row; observations built from three columns have
//     one finite point per row.
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "core/csv.h"
#include "fit/observations.h"
#include "tests/fuzz/fuzz_util.h"

using vlmscale::CsvTable;
using vlmscale::Result;
using vlmscale::fuzz::CheckRejection;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  Result<CsvTable> table = vlmscale::ParseCsv(vlmscale::fuzz::ToString(data, size), "fuzz.csv");
  if (!table.ok()) {
    CheckRejection(table.status());
    return 0;
  }
  const std::vector<std::string>& header = table->header();
  FUZZ_CHECK(!header.empty());
  for (size_t i = 0; i < header.size(); ++i) {
    FUZZ_CHECK(!header[i].empty()) << i;
    Result<size_t> index = table->ColumnIndex(header[i]);
    FUZZ_CHECK(index.ok()) << "column '" << header[i] << "': " << index.status().ToString();
    FUZZ_CHECK(*index == i) << "column '" << header[i] << "' found at " << *index;
  }
  int previous_line = 0;
  for (size_t r = 0; r < table->num_rows(); ++r) {
    FUZZ_CHECK(table->row(r).size() == header.size()) << r;
    FUZZ_CHECK(table->line_number(r) > previous_line) << r;
    previous_line = table->line_number(r);
  }
  std::vector<size_t> numeric;
  for (size_t i = 0; i < header.size(); ++i) {
    Result<std::vector<double>> column = table->NumericColumn(header[i]);
    if (!column.ok()) {
      CheckRejection(column.status());
      continue;
    }
    FUZZ_CHECK(column->size() == table->num_rows());
    for (double v : *column) FUZZ_CHECK(std::isfinite(v)) << v;
    numeric.push_back(i);
  }
  if (header.size() >= 3) {
    Result<vlmscale::fit::Observations> obs =
        vlmscale::fit::ObservationsFromCsv(*table, header[0], header[1], header[2]);
    if (!obs.ok()) {
      CheckRejection(obs.status());
    } else {
      FUZZ_CHECK(obs->n.size() == table->num_rows());
      FUZZ_CHECK(obs->t.size() == obs->n.size() && obs->y.size() == obs->n.size());
      for (size_t r = 0; r < obs->n.size(); ++r) {
        FUZZ_CHECK(std::isfinite(obs->n[r]) && std::isfinite(obs->t[r]) && std::isfinite(obs->y[r]))
            << r;
      }
    }
  }
  return 0;
}
