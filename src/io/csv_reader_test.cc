#include "io/csv_reader.h"

#include <gtest/gtest.h>

#include <random>

#include "tests/testing/test_paths.h"

namespace pdm::io {
namespace {

struct Parsed {
  int64_t line;
  std::vector<std::string> fields;
  std::string raw;
  std::string error;
  bool operator==(const Parsed&) const = default;
};

std::vector<Parsed> ParseText(const std::string& text, CsvReaderOptions options = {}) {
  static int counter = 0;
  const auto dir = testing::TempDir("csv");
  const auto path = dir / ("in" + std::to_string(counter++) + ".csv");
  testing::WriteFile(path, text);
  auto reader = CsvReader::Open(path, options);
  EXPECT_TRUE(reader.ok()) << reader.status();
  std::vector<Parsed> out;
  CsvRecord record;
  while ((*reader)->Next(&record)) {
    out.push_back({record.line,
                   std::vector<std::string>(record.fields.begin(), record.fields.end()),
                   std::string(record.raw), record.error});
  }
  EXPECT_TRUE((*reader)->status().ok());
  return out;
}

using Fields = std::vector<std::string>;

TEST(CsvReaderTest, SplitsPlainRecordsAndCountsLines) {
  auto rows = ParseText("a,b,c\n1,2,3\n\n4,,6\n");
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(rows[0].fields, (Fields{"a", "b", "c"}));
  EXPECT_EQ(rows[1].line, 2);
  EXPECT_EQ(rows[2].line, 4);  // the blank line 3 is skipped but counted
  EXPECT_EQ(rows[2].fields, (Fields{"4", "", "6"}));
  EXPECT_EQ(rows[2].raw, "4,,6");
}

TEST(CsvReaderTest, HandlesQuotesEscapedQuotesAndEmbeddedNewlines) {
  auto rows = ParseText("id,text\n1,\"a,b\"\n2,\"say \"\"hi\"\"\"\n3,\"two\nlines\"\n4,end\n");
  ASSERT_EQ(rows.size(), 5u);
  EXPECT_EQ(rows[1].fields, (Fields{"1", "a,b"}));
  EXPECT_EQ(rows[2].fields, (Fields{"2", "say \"hi\""}));
  EXPECT_EQ(rows[3].fields, (Fields{"3", "two\nlines"}));
  EXPECT_EQ(rows[3].line, 4);
  EXPECT_EQ(rows[4].line, 6);  // the record after a two-line record starts on line 6
  EXPECT_EQ(rows[4].fields, (Fields{"4", "end"}));
}

TEST(CsvReaderTest, StripsBomAndCrlfAndReadsLastLineWithoutNewline) {
  auto rows = ParseText("\xEF\xBB\xBFx,y\r\n1,\"2\"\r\n3,4");
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(rows[0].fields, (Fields{"x", "y"}));
  EXPECT_EQ(rows[1].fields, (Fields{"1", "2"}));
  EXPECT_EQ(rows[1].raw, "1,\"2\"");
  EXPECT_EQ(rows[2].fields, (Fields{"3", "4"}));
}

TEST(CsvReaderTest, SplitsWhitespaceSeparatedColumns) {
  CsvReaderOptions options;
  options.format.whitespace = true;
  auto rows = ParseText("1 1 -0.0007 100.0 518.67  \n  1\t2  3\n   \n", options);
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0].fields, (Fields{"1", "1", "-0.0007", "100.0", "518.67"}));
  EXPECT_EQ(rows[1].fields, (Fields{"1", "2", "3"}));
  EXPECT_EQ(rows[1].line, 2);
}

TEST(CsvReaderTest, OtherDelimiters) {
  CsvReaderOptions options;
  options.format.delimiter = ';';
  auto rows = ParseText("a;b\n\"x;y\";2\n", options);
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[1].fields, (Fields{"x;y", "2"}));
}

TEST(CsvReaderTest, ReportsMalformedRecordsAndResumes) {
  auto rows = ParseText("a,b\n1,\"x\"y\n2,ok\n3,\"never closed\n4,z\n");
  ASSERT_EQ(rows.size(), 4u);
  EXPECT_NE(rows[1].error.find("text after a closing quote"), std::string::npos);
  EXPECT_EQ(rows[1].line, 2);
  EXPECT_EQ(rows[2].fields, (Fields{"2", "ok"}));
  EXPECT_EQ(rows[2].line, 3);
  EXPECT_NE(rows[3].error.find("unterminated quoted field"), std::string::npos);
  EXPECT_EQ(rows[3].line, 4);
}

TEST(CsvReaderTest, BoundsRecordLength) {
  CsvReaderOptions options;
  options.buffer_bytes = 64;
  options.max_record_bytes = 100;
  const std::string long_field(500, 'x');
  auto rows =
      ParseText("a,b\n1," + long_field + "\n2,short\n3,\"" + long_field + "\"\n4,end\n", options);
  ASSERT_EQ(rows.size(), 5u);
  EXPECT_NE(rows[1].error.find("record longer than 100 bytes"), std::string::npos);
  EXPECT_LE(rows[1].raw.size(), 4096u);
  EXPECT_EQ(rows[2].fields, (Fields{"2", "short"}));
  EXPECT_EQ(rows[2].line, 3);
  EXPECT_NE(rows[3].error.find("record longer than"), std::string::npos);
  EXPECT_EQ(rows[4].fields, (Fields{"4", "end"}));
  EXPECT_EQ(rows[4].line, 5);
}

// The records must not depend on where buffer refills fall.
TEST(CsvReaderTest, RecordsDoNotDependOnBufferSize) {
  std::mt19937 rng(5);
  const char* pieces[] = {"a",          "12.5", "",  "\"q,1\"", "\"line\nbreak\"",
                          "\"x\"\"y\"", "zz z", "-3"};
  std::string text = "c1,c2,c3\n";
  for (int row = 0; row < 400; ++row) {
    for (int f = 0; f < 3; ++f) {
      if (f > 0) text += ',';
      text += pieces[rng() % 8];
    }
    text += rng() % 5 == 0 ? "\r\n" : "\n";
    if (rng() % 17 == 0) text += "\n";
  }
  CsvReaderOptions big;
  big.buffer_bytes = 1 << 20;
  const auto expected = ParseText(text, big);
  ASSERT_GT(expected.size(), 400u);
  for (const Parsed& row : expected)
    ASSERT_TRUE(row.error.empty()) << row.line << ": " << row.error;
  for (size_t buffer : {64, 65, 100, 257, 1000, 4096}) {
    CsvReaderOptions small;
    small.buffer_bytes = buffer;
    EXPECT_EQ(ParseText(text, small), expected) << "buffer " << buffer;
  }
}

// Field splitting looks at eight bytes at a time: check every alignment, empty fields, and bytes
// next to the delimiter's value (',' is 0x2C; '+' 0x2B and '-' 0x2D must not match).
TEST(CsvReaderTest, SplitsAtEveryAlignment) {
  std::mt19937 rng(9);
  const std::string alphabet = "+-.0123456789ab\xAC\xFF";
  std::string text;
  std::vector<Fields> expected;
  for (int row = 0; row < 300; ++row) {
    Fields fields;
    const int count = 1 + static_cast<int>(rng() % 12);
    for (int f = 0; f < count; ++f) {
      std::string field;
      const int length = static_cast<int>(rng() % 11);
      for (int i = 0; i < length; ++i) field += alphabet[rng() % alphabet.size()];
      fields.push_back(field);
      text += (f > 0 ? "," : "") + field;
    }
    if (count == 1 && fields[0].empty()) {  // a blank line is skipped, not a record
      fields[0] = "x";
      text += "x";
    }
    text += '\n';
    expected.push_back(fields);
  }
  const auto rows = ParseText(text);
  ASSERT_EQ(rows.size(), expected.size());
  for (size_t i = 0; i < rows.size(); ++i) EXPECT_EQ(rows[i].fields, expected[i]) << "row " << i;
}

TEST(CsvReaderTest, MissingFileIsAnErrorNamingIt) {
  auto reader = CsvReader::Open("/nonexistent/x.csv", {});
  ASSERT_FALSE(reader.ok());
  EXPECT_NE(reader.status().message().find("/nonexistent/x.csv"), std::string::npos);
}

TEST(AppendCsvFieldTest, QuotesOnlyWhenNeeded) {
  std::string out;
  AppendCsvField("plain", ',', &out);
  out += '|';
  AppendCsvField("a,b", ',', &out);
  out += '|';
  AppendCsvField("say \"x\"", ',', &out);
  EXPECT_EQ(out, "plain|\"a,b\"|\"say \"\"x\"\"\"");
}

}  // namespace
}  // namespace pdm::io
