#include "core/csv.h"

#include <cctype>
#include <cmath>
#include <fstream>
#include <sstream>
#include <unordered_map>

#include "core/strings.h"

namespace vlmscale {
namespace {

// Splits one line into fields, honouring double quotes. Returns false on an unterminated quote.
bool SplitCsvLine(std::string_view line, std::vector<std::string>* fields) {
  fields->clear();
  std::string cur;
  bool in_quotes = false;
  bool was_quoted = false;
  for (size_t i = 0; i < line.size(); ++i) {
    char c = line[i];
    if (in_quotes) {
      if (c == '"') {
        if (i + 1 < line.size() && line[i + 1] == '"') {
          cur.push_back('"');
          ++i;
        } else {
          in_quotes = false;
        }
      } else {
        cur.push_back(c);
      }
    } else if (c == '"') {
      in_quotes = true;
      was_quoted = true;
    } else if (c == ',') {
      fields->push_back(was_quoted ? cur : Trim(cur));
      cur.clear();
      was_quoted = false;
    } else {
      cur.push_back(c);
    }
  }
  if (in_quotes) return false;
  fields->push_back(was_quoted ? cur : Trim(cur));
  return true;
}

}  // namespace

const std::vector<std::string>& CsvTable::row(size_t row) const {
  CHECK_LT(row, rows_.size());
  return rows_[row];
}

int CsvTable::line_number(size_t row) const {
  CHECK_LT(row, line_numbers_.size());
  return line_numbers_[row];
}

Result<size_t> CsvTable::ColumnIndex(std::string_view name) const {
  // Exact first: a quoted header name keeps its spaces (" a " in quotes is not "a").
  for (size_t i = 0; i < header_.size(); ++i) {
    if (header_[i] == name) return i;
  }
  std::string want = Trim(name);
  for (size_t i = 0; i < header_.size(); ++i) {
    if (header_[i] == want) return i;
  }
  std::string hint = ClosestMatch(want, header_);
  // One line even for a header of 200,000 columns: the first kListed, then how many more.
  constexpr size_t kListed = 30;
  std::string columns;
  if (header_.size() <= kListed) {
    columns = Join(header_, ", ");
  } else {
    columns = Join(std::vector<std::string>(header_.begin(), header_.begin() + kListed), ", ") +
              ", ... (" + std::to_string(header_.size() - kListed) + " more)";
  }
  return Status::InvalidInput(source_ + ": no column '" + want + "'" +
                              (hint.empty() ? "" : " (did you mean '" + hint + "'?)") +
                              "; columns are: " + columns);
}

Result<std::vector<double>> CsvTable::NumericColumn(std::string_view name) const {
  VLM_ASSIGN_OR_RETURN(size_t col, ColumnIndex(name));
  std::vector<double> out;
  out.reserve(rows_.size());
  for (size_t r = 0; r < rows_.size(); ++r) {
    const std::string& field = rows_[r][col];
    std::string where =
        source_ + ":" + std::to_string(line_numbers_[r]) + ": column '" + header_[col] + "'";
    std::string lower;
    for (char c : field) lower.push_back(static_cast<char>(std::tolower(c)));
    if (field.empty()) return Status::InvalidInput(where + " is empty");
    if (lower.find("nan") != std::string::npos || lower.find("inf") != std::string::npos) {
      return Status::InvalidInput(where + " is '" + field + "'; values must be finite numbers");
    }
    std::optional<double> v = ParseDouble(field);
    if (!v || !std::isfinite(*v)) {
      return Status::InvalidInput(where + ": '" + field + "' is not a finite number");
    }
    out.push_back(*v);
  }
  return out;
}

Result<CsvTable> ParseCsv(std::string_view text, const std::string& source) {
  CsvTable table;
  table.source_ = source;
  bool have_header = false;
  int line_no = 0;
  size_t pos = 0;
  std::vector<std::string> fields;
  while (pos <= text.size()) {
    size_t end = text.find('\n', pos);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(pos, end - pos);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    ++line_no;
    pos = end + 1;
    std::string trimmed = Trim(line);
    if (trimmed.empty() || trimmed[0] == '#') {
      if (end == text.size()) break;
      continue;
    }
    std::string where = source + ":" + std::to_string(line_no);
    if (!SplitCsvLine(line, &fields)) {
      return Status::InvalidInput(where + ": unterminated double quote");
    }
    if (!have_header) {
      // A hash set, not a pairwise comparison: a header of 200,000 columns took 51 s.
      std::unordered_map<std::string_view, size_t> seen;
      seen.reserve(fields.size());
      for (size_t i = 0; i < fields.size(); ++i) {
        if (fields[i].empty()) {
          return Status::InvalidInput(where + ": header field " + std::to_string(i + 1) +
                                      " is empty; every column needs a name");
        }
        if (!seen.emplace(fields[i], i).second) {
          return Status::InvalidInput(where + ": duplicate column name '" + fields[i] + "'");
        }
      }
      table.header_ = fields;
      have_header = true;
    } else {
      if (fields.size() != table.header_.size()) {
        return Status::InvalidInput(where + ": " + std::to_string(fields.size()) +
                                    " fields but the header has " +
                                    std::to_string(table.header_.size()));
      }
      table.rows_.push_back(fields);
      table.line_numbers_.push_back(line_no);
    }
    if (end == text.size()) break;
  }
  if (!have_header) return Status::InvalidInput(source + ": empty CSV (no header line)");
  return table;
}

Result<CsvTable> ReadCsvFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::NotFound("cannot open CSV file '" + path + "'; check the path");
  std::ostringstream ss;
  ss << in.rdbuf();
  if (in.bad()) return Status::IOError("error reading '" + path + "'");
  return ParseCsv(ss.str(), path);
}

}  // namespace vlmscale
