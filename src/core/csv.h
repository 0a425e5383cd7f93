// A small strict CSV reader for numeric tables (published scaling-law data, exported results).
//
// Format: the first non-empty line is the header; fields are separated by commas; a field may be
// double-quoted ("a,b" or "say ""hi"""); blank lines and lines starting with '#' are skipped.
// Every data row must have as many fields as the header.
#ifndef VLMSCALE_CORE_CSV_H_
#define VLMSCALE_CORE_CSV_H_

#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace vlmscale {

class CsvTable {
 public:
  // `source` names the input in error messages (a path, or "<string>").
  const std::string& source() const { return source_; }
  const std::vector<std::string>& header() const { return header_; }
  size_t num_rows() const { return rows_.size(); }
  // The fields of data row `row` (0-based). REQUIRES: row < num_rows().
  const std::vector<std::string>& row(size_t row) const;
  // The 1-based line number of data row `row` in the source. REQUIRES: row < num_rows().
  int line_number(size_t row) const;

  // Index of the column called `name` (an exact match, else a match of `name` trimmed), or a
  // kInvalidInput status that lists the available columns and suggests the closest name.
  Result<size_t> ColumnIndex(std::string_view name) const;

  // The column parsed as finite doubles. A field that is empty, not a number, NaN or infinite
  // gives a kInvalidInput status naming source, line and column.
  Result<std::vector<double>> NumericColumn(std::string_view name) const;

 private:
  friend Result<CsvTable> ParseCsv(std::string_view text, const std::string& source);
  std::string source_;
  std::vector<std::string> header_;
  std::vector<std::vector<std::string>> rows_;
  std::vector<int> line_numbers_;
};

// Parses CSV text. Fails with kInvalidInput (naming source and line) on a ragged row, an
// unterminated quote, a duplicate or empty header name, or an input without a header.
Result<CsvTable> ParseCsv(std::string_view text, const std::string& source = "<string>");

// Reads and parses the file at `path`. kNotFound if it cannot be opened.
Result<CsvTable> ReadCsvFile(const std::string& path);

}  // namespace vlmscale

#endif  // VLMSCALE_CORE_CSV_H_
