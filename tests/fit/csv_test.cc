// Tests of core/csv.h (kept with the fit tests, its first user).
#include "core/csv.h"

#include <algorithm>
#include <chrono>
#include <string>

#include "gtest/gtest.h"

namespace vlmscale {
namespace {

TEST(Csv, ParsesHeaderRowsQuotesAndLineNumbers) {
  auto t = ParseCsv("a, b ,\"c,d\"\r\n1,2,\"x \"\"y\"\"\"\n# skipped\n\n3,4,5\n", "in.csv");
  ASSERT_TRUE(t.ok()) << t.status().ToString();
  EXPECT_EQ(t->header(), (std::vector<std::string>{"a", "b", "c,d"}));
  ASSERT_EQ(t->num_rows(), 2u);
  EXPECT_EQ(t->row(0)[2], "x \"y\"");
  EXPECT_EQ(t->line_number(0), 2);
  EXPECT_EQ(t->line_number(1), 5);
  auto col = t->NumericColumn("b");
  ASSERT_TRUE(col.ok());
  EXPECT_EQ(*col, (std::vector<double>{2, 4}));
}

// Found by tests/fuzz (corpus/csv/crash-abaae9e6...): a header name with a quote keeps its
// spaces, and ColumnIndex used to look only for the trimmed name, so the column could not be
// selected at all ("no column 'T x' (did you mean ' T x '?)").
TEST(Csv, QuotedHeaderNamesWithSpacesAreFoundByTheirName) {
  auto t = ParseCsv("\" N \",T,\"a\"\"b \"\n1,2,3\n", "q.csv");
  ASSERT_TRUE(t.ok()) << t.status().ToString();
  EXPECT_EQ(t->header(), (std::vector<std::string>{" N ", "T", "a\"b "}));
  for (size_t i = 0; i < t->header().size(); ++i) {
    auto index = t->ColumnIndex(t->header()[i]);
    ASSERT_TRUE(index.ok()) << index.status().ToString();
    EXPECT_EQ(*index, i);
  }
  EXPECT_EQ(*t->ColumnIndex(" T "), 1u);  // Unquoted names still match trimmed.
  auto n = t->NumericColumn(" N ");
  ASSERT_TRUE(n.ok()) << n.status().ToString();
  EXPECT_EQ(*n, (std::vector<double>{1}));
}

TEST(Csv, NonFiniteOrBadNumbersNameFileLineAndColumn) {
  auto t = ParseCsv("N,Y\n1,0.5\n2,nan\n3,inf\n4,\n5,1x\n", "d.csv");
  ASSERT_TRUE(t.ok());
  auto y = t->NumericColumn("Y");
  ASSERT_FALSE(y.ok());
  EXPECT_TRUE(y.status().IsInvalidInput());
  EXPECT_NE(y.status().message().find("d.csv:3: column 'Y'"), std::string::npos)
      << y.status().message();
  auto t2 = ParseCsv("N,Y\n5,1x\n", "e.csv");
  auto y2 = t2->NumericColumn("Y");
  EXPECT_NE(y2.status().message().find("e.csv:2"), std::string::npos);
  EXPECT_NE(y2.status().message().find("not a finite number"), std::string::npos);
}

TEST(Csv, StructuralErrorsAreInvalidInput) {
  EXPECT_NE(ParseCsv("a,b\n1,2,3\n", "r.csv").status().message().find("r.csv:2"),
            std::string::npos);
  EXPECT_NE(ParseCsv("a,a\n", "x").status().message().find("duplicate"), std::string::npos);
  EXPECT_NE(ParseCsv("", "x").status().message().find("empty"), std::string::npos);
  EXPECT_NE(ParseCsv("a,\"b\n", "x").status().message().find("quote"), std::string::npos);
  auto t = ParseCsv("alpha,beta\n1,2\n", "x");
  auto c = t->ColumnIndex("alhpa");
  EXPECT_NE(c.status().message().find("did you mean 'alpha'"), std::string::npos);
  EXPECT_EQ(ReadCsvFile("/nonexistent/file.csv").status().code(), Status::Code::kNotFound);
}

// A header of `columns` names c0, c1, ... (the last one `last`) and one data row.
std::string WideCsv(int columns, const std::string& last) {
  std::string text;
  for (int i = 0; i + 1 < columns; ++i) text += "c" + std::to_string(i) + ",";
  text += last + "\n";
  for (int i = 0; i + 1 < columns; ++i) text += "1,";
  return text + "2\n";
}

// Seconds to parse and select a column of a `columns`-wide CSV (the best of three).
double ParseSeconds(int columns) {
  const std::string text = WideCsv(columns, "last");
  double best = 1e9;
  for (int t = 0; t < 3; ++t) {
    auto t0 = std::chrono::steady_clock::now();
    auto table = ParseCsv(text, "wide.csv");
    EXPECT_TRUE(table.ok()) << table.status().ToString();
    if (table.ok()) EXPECT_EQ(*table->NumericColumn("last"), std::vector<double>{2});
    best = std::min(best,
                    std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  return best;
}

// Issue 23: a header of 200,000 columns took 51 s (every name compared with every other).
TEST(Csv, AWideHeaderParsesInLinearTime) {
  // The quadratic parser took 51 s for 200,000 columns, so about 200 s for 400,000; the linear
  // one takes well under a second. Only this wide margin is asserted: a ratio of two timings
  // (tried before) failed on a loaded 2-core machine, and speed goals belong in bench/.
  const double large = ParseSeconds(400000);
  EXPECT_LT(large, 10.0) << large << " s for 400,000 columns";
  // The duplicate is still found, at the far end of the header, and an unknown column's
  // message stays one short line.
  auto dup = ParseCsv(WideCsv(200000, "c0"), "wide.csv");
  ASSERT_FALSE(dup.ok());
  EXPECT_EQ(dup.status().message(), "wide.csv:1: duplicate column name 'c0'");
  auto table = ParseCsv(WideCsv(200000, "last"), "wide.csv");
  ASSERT_TRUE(table.ok());
  auto missing = table->ColumnIndex("nope");
  ASSERT_FALSE(missing.ok());
  EXPECT_LT(missing.status().message().size(), 400u) << missing.status().message();
  EXPECT_NE(missing.status().message().find("c29, ... (199970 more)"), std::string::npos)
      << missing.status().message();
}

}  // namespace
}  // namespace vlmscale
