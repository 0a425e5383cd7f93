// The column tables (store/job_columns.h): every column survives the journal, the HDF5 snapshot
// and the export; docs/RESULTS.md lists exactly the table's columns; and the serializers have no
// per-column code left, so that adding a column is one line in the table.
#include "store/job_columns.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <set>
#include <sstream>

#include "core/csv.h"
#include "core/strings.h"
#include "store/results_store.h"
#include "tests/store/store_test_util.h"

namespace vlmscale::store {
namespace {

using nlohmann::json;
using testing::DistinctRecord;
using testing::RecordDiff;
using testing::ScratchDir;

std::string ReadSource(const std::string& relative) {
  std::ifstream in(std::string(VLMSCALE_TEST_SOURCE_DIR) + "/" + relative);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

TEST(JobColumns, NamesAreUniqueAndEveryColumnIsDocumentedInTheTable) {
  std::set<std::string> names;
  for (const Column<JobRecord>& c : JobColumns()) {
    EXPECT_TRUE(names.insert(c.name).second) << "duplicate column " << c.name;
    // Identifiers: the journal writes them unescaped, h5py and CSV readers use them as names.
    EXPECT_EQ(std::string(c.name).find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789_"),
              std::string::npos)
        << c.name;
    EXPECT_STRNE(c.doc, "") << c.name;
    EXPECT_EQ(std::string(c.doc).find('|'), std::string::npos) << c.name << ": breaks the docs";
    EXPECT_NE(c.where & kInHdf5, 0u) << c.name << ": every /jobs column is in the file";
  }
  for (const Column<JobEvent>& c : EventColumns()) EXPECT_EQ(c.where & kInExport, 0u) << c.name;
}

// The round trip of issue 15: one distinct value per column, journal -> replay, snapshot -> read,
// reopen for writing, export CSV and JSON; every column compared.
TEST(JobColumns, EveryColumnSurvivesJournalSnapshotAndExport) {
  const JobRecord want = DistinctRecord();
  // The test can fail: the record differs from a default one in every column and the curves.
  const std::string diff = RecordDiff(want, JobRecord{});
  EXPECT_EQ(static_cast<size_t>(std::count(diff.begin(), diff.end(), '\n')),
            JobColumns().size() + 1)
      << diff;

  ScratchDir dir;
  const std::string path = dir.File("r.h5");
  StoreOptions options;
  options.path = path;
  options.sweep_name = "s";
  options.snapshot_interval_seconds = 1000;
  {
    auto store = ResultsStore::Open(options);
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    ASSERT_TRUE(store.value()->Append(want).ok());
    ASSERT_TRUE(store.value()->Commit().ok());
    auto from_journal = ReadResults(path);
    ASSERT_TRUE(from_journal.ok()) << from_journal.status().ToString();
    ASSERT_EQ(from_journal->jobs.size(), 1u);
    EXPECT_EQ(from_journal->journal_entries, 1);
    EXPECT_EQ(RecordDiff(want, from_journal->jobs[0]), "") << "journal";
    ASSERT_TRUE(store.value()->Close().ok());
  }
  auto file = ReadResults(path);
  ASSERT_TRUE(file.ok()) << file.status().ToString();
  EXPECT_EQ(file->journal_entries, 0);
  ASSERT_EQ(file->jobs.size(), 1u);
  EXPECT_EQ(RecordDiff(want, file->jobs[0]), "") << "snapshot";
  {
    auto reopened = ResultsStore::Open(options);
    ASSERT_TRUE(reopened.ok()) << reopened.status().ToString();
    ASSERT_TRUE(reopened.value()->FindJob(want.job_id).has_value());
    EXPECT_EQ(RecordDiff(want, *reopened.value()->FindJob(want.job_id)), "") << "reopened";
  }

  std::ostringstream csv_text, json_text;
  ASSERT_TRUE(ExportCsv(*file, csv_text).ok());
  ASSERT_TRUE(ExportJson(*file, json_text).ok());
  auto csv = ParseCsv(csv_text.str());
  ASSERT_TRUE(csv.ok()) << csv.status().ToString() << "\n" << csv_text.str();
  ASSERT_EQ(csv->num_rows(), 1u);
  EXPECT_EQ(csv->header(), ExportColumns());
  const json doc = json::parse(json_text.str());
  EXPECT_EQ(doc["columns"], json(ExportColumns()));
  const json& row = doc["jobs"].at(0);
  size_t exported = 0;
  for (const Column<JobRecord>& c : JobColumns()) {
    if (!(c.where & kInExport)) continue;
    SCOPED_TRACE(c.name);
    ++exported;
    auto index = csv->ColumnIndex(c.name);
    ASSERT_TRUE(index.ok());
    const std::string& cell = csv->row(0)[index.value()];
    ASSERT_TRUE(row.contains(c.name));
    const json& v = row[c.name];
    switch (c.type()) {
      case ColumnType::kString:
        EXPECT_EQ(cell, c.Get<std::string>(want));
        EXPECT_EQ(v, c.Get<std::string>(want));
        break;
      case ColumnType::kDouble:
        EXPECT_EQ(std::strtod(cell.c_str(), nullptr), c.Get<double>(want));
        EXPECT_EQ(v.get<double>(), c.Get<double>(want));
        break;
      case ColumnType::kInt64:
        EXPECT_EQ(std::stoll(cell), c.Get<int64_t>(want));
        EXPECT_EQ(v.get<int64_t>(), c.Get<int64_t>(want));
        break;
      case ColumnType::kInt32:
        EXPECT_EQ(std::stoll(cell), c.Get<int>(want));
        EXPECT_EQ(v.get<int>(), c.Get<int>(want));
        break;
      case ColumnType::kState:
        EXPECT_EQ(cell, "failed");
        EXPECT_EQ(v, "failed");
        break;
      case ColumnType::kMetrics: {
        const json expected = {{c.name, c.Get<MetricMap>(want).at(c.name)}, {"nan", nullptr}};
        EXPECT_EQ(json::parse(cell), expected);
        EXPECT_EQ(v, expected);
        break;
      }
    }
  }
  EXPECT_EQ(exported, ExportColumns().size());
  EXPECT_EQ(row["curves"]["eval/acc"], json::parse("[[10, 0.75]]"));
}

// The rows of the markdown table under `heading` in `text`, as trimmed cells.
std::vector<std::vector<std::string>> MarkdownTable(const std::string& text,
                                                    const std::string& heading) {
  std::vector<std::vector<std::string>> rows;
  size_t at = text.find(heading);
  if (at == std::string::npos) return rows;
  at = text.find("\n|", at);
  if (at == std::string::npos) return rows;
  std::istringstream lines(text.substr(at + 1));
  std::string line;
  std::getline(lines, line);  // Header.
  std::getline(lines, line);  // |---|---|
  while (std::getline(lines, line) && StartsWith(line, "|")) {
    rows.push_back(SplitTrimmed(line.substr(1, line.rfind('|') - 1), '|'));
  }
  return rows;
}

template <typename Row>
void ExpectDocumented(const std::string& docs, const std::string& heading,
                      const std::vector<Column<Row>>& columns) {
  SCOPED_TRACE(heading);
  const auto rows = MarkdownTable(docs, heading);
  std::string expected;
  for (const Column<Row>& c : columns) {
    expected += std::string("| `") + c.name + "` | " + ColumnTypeName(c.type()) + " | " + c.unit +
                (*c.unit ? " | " : "| ") + c.doc + " |\n";
  }
  std::string actual;
  for (const auto& cells : rows) {
    actual += "|";
    for (const std::string& cell : cells) actual += " " + cell + (cell.empty() ? "|" : " |");
    actual += "\n";
  }
  EXPECT_EQ(actual, expected) << "docs/RESULTS.md must list the table's columns (name, type, "
                                 "unit, meaning) in order; expected rows:\n"
                              << expected;
}

TEST(JobColumns, DocsListEveryColumnWithItsTypeUnitAndMeaning) {
  const std::string docs = ReadSource("docs/RESULTS.md");
  ASSERT_FALSE(docs.empty());
  ExpectDocumented(docs, "### The `/jobs` table", JobColumns());
  ExpectDocumented(docs, "### The `/events` table", EventColumns());
  // The export's column list.
  const std::string intro = "The columns are stable, in this order:";
  size_t at = docs.find(intro);
  ASSERT_NE(at, std::string::npos);
  size_t open = docs.find('`', at), close = docs.find('`', open + 1);
  ASSERT_NE(close, std::string::npos);
  std::string listed = docs.substr(open + 1, close - open - 1);
  std::replace(listed.begin(), listed.end(), '\n', ' ');
  EXPECT_EQ(SplitTrimmed(listed, ','), ExportColumns());
}

// The serializers iterate the tables: none of them names a column. (Curves and the entry
// framing keep their own keys, which are not columns.)
TEST(JobColumns, NoSerializerSpellsOutAColumn) {
  for (const char* file :
       {"src/store/journal.cc", "src/store/snapshot.cc", "src/store/export.cc"}) {
    const std::string source = ReadSource(file);
    ASSERT_FALSE(source.empty()) << file;
    for (const Column<JobRecord>& c : JobColumns()) {
      EXPECT_EQ(source.find(std::string("\"") + c.name + "\""), std::string::npos)
          << file << " spells out column " << c.name;
    }
    for (const Column<JobEvent>& c : EventColumns()) {
      EXPECT_EQ(source.find(std::string("\"") + c.name + "\""), std::string::npos)
          << file << " spells out event column " << c.name;
    }
  }
}

}  // namespace
}  // namespace vlmscale::store
