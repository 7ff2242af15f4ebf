#include "validate/validator.h"

#include <gtest/gtest.h>

#include <random>

#include "sim/simulator.h"
#include "spec/dataset_spec.h"
#include "tests/testing/test_paths.h"
#include "validate/dataset_validation.h"

namespace pdm::validate {
namespace {

namespace fs = std::filesystem;
using testing::ReadFile;
using testing::TempDir;
using testing::WriteFile;

constexpr char kSpec[] = R"(
name: t
data: {file: data.csv}
entity: machine
time: {column: ts, type: timestamp}
sensors:
  - {name: temp, range: [-40, 150]}
  - {name: vib, range: [0, 50]}
categoricals:
  - {name: mode, values: [idle, run]}
identifiers: [note]
)";

constexpr char kHeader[] = "ts,machine,temp,vib,mode,note\n";

struct Collected : RowSink {
  std::vector<std::pair<int64_t, std::vector<double>>> rows;
  void Accept(const Row& row) override {
    rows.emplace_back(row.line, std::vector<double>(row.numeric.begin(), row.numeric.end()));
  }
};

class ValidatorTest : public ::testing::Test {
 protected:
  TableReport Run(const std::string& data, const std::string& policy_yaml = "") {
    dir_ = TempDir(::testing::UnitTest::GetInstance()->current_test_info()->name());
    WriteFile(dir_ / "data.csv", data);
    auto spec = spec::ParseDatasetSpec(std::string(kSpec) + policy_yaml, dir_ / "spec.yaml");
    EXPECT_TRUE(spec.ok()) << spec.status();
    spec_ = *spec;
    auto quarantine = QuarantineWriter::Open(dir_ / "q");
    EXPECT_TRUE(quarantine.ok());
    ValidateOptions options;
    options.quarantine = quarantine->get();
    options.sink = &sink_;
    auto report = ValidateTable(spec_.data, spec_.validation, options);
    EXPECT_TRUE(report.ok()) << report.status();
    EXPECT_TRUE((*quarantine)->Close().ok());
    EXPECT_EQ(report->rows_read, report->rows_accepted + report->rows_quarantined);
    EXPECT_EQ(static_cast<int64_t>(sink_.rows.size()), report->rows_accepted);
    return *report;
  }
  std::string Quarantine() { return ReadFile(dir_ / "q" / "quarantine.csv"); }
  std::string Flagged() { return ReadFile(dir_ / "q" / "flagged.csv"); }

  fs::path dir_;
  spec::DatasetSpec spec_;
  Collected sink_;
};

TEST_F(ValidatorTest, AcceptsCleanRowsTyped) {
  auto report = Run(std::string(kHeader) +
                    "2025-01-01T00:00:00Z,m1,20.5,1.25,run,x\n"
                    "2025-01-01T01:00:00Z,m1,21,1.5,idle,\"a, b\"\n"
                    "2025-01-01T00:00:00Z,m2,-3,0,run,\n");
  EXPECT_EQ(report.rows_read, 3);
  EXPECT_EQ(report.rows_quarantined, 0);
  EXPECT_EQ(report.entities, 2);
  ASSERT_EQ(sink_.rows.size(), 3u);
  EXPECT_EQ(sink_.rows[1].first, 3);
  EXPECT_EQ(sink_.rows[1].second, (std::vector<double>{21, 1.5}));
  EXPECT_EQ(report.numeric[0].count, 3);
  EXPECT_DOUBLE_EQ(report.numeric[0].min, -3);
  EXPECT_DOUBLE_EQ(report.numeric[0].max, 21);
}

// Every rule, with the reason and line number the quarantine records.
TEST_F(ValidatorTest, QuarantinesEachRuleWithReasonAndLine) {
  struct Case {
    std::string row;
    Reason reason;
    std::string column;
  };
  const Case cases[] = {
      {"2025-01-01T05:00:00Z,m1,,1,run,x", Reason::kMissingValue, "temp"},
      {"2025-01-01T05:00:00Z,m1,NA,1,run,x", Reason::kMissingValue, "temp"},
      {"2025-01-01T05:00:00Z,m1,abc,1,run,x", Reason::kUnparseable, "temp"},
      {"2025-01-01T05:00:00Z,m1,20,nan,run,x", Reason::kNonFinite, "vib"},
      {"2025-01-01T05:00:00Z,m1,20,1e999,run,x", Reason::kNonFinite, "vib"},
      {"2025-01-01T05:00:00Z,m1,200,1,run,x", Reason::kOutOfRange, "temp"},
      {"2025-01-01T05:00:00Z,m1,20,-0.5,run,x", Reason::kOutOfRange, "vib"},
      {"2025-01-01T05:00:00Z,m1,20,1,fly,x", Reason::kUnknownCategory, "mode"},
      {"2025-01-01T05:00:00Z,m1,20,1,,x", Reason::kMissingValue, "mode"},
      {"2025-01-01T05:00:00Z,m1,20,1,run", Reason::kColumnCount, ""},
      {"2025-01-01T05:00:00Z,m1,20,1,run,x,extra", Reason::kColumnCount, ""},
      {"2025-01-01T05:00:00Z,m1,20,1,run,\"open", Reason::kMalformedRecord, ""},
      {"2025-01-01T05:00:00Z,,20,1,run,x", Reason::kMissingEntity, "machine"},
      {"2025-13-01T05:00:00Z,m1,20,1,run,x", Reason::kBadTime, "ts"},
      {",m1,20,1,run,x", Reason::kBadTime, "ts"},
      {"2025-01-01T00:00:00Z,m1,20,1,run,x", Reason::kDuplicateKey, "ts"},
      {"2024-12-31T23:00:00Z,m1,20,1,run,x", Reason::kTimeBackwards, "ts"},
  };
  for (const Case& c : cases) {
    const std::string data =
        std::string(kHeader) + "2025-01-01T00:00:00Z,m1,20,1,run,x\n" + c.row + "\n";
    sink_.rows.clear();
    auto report = Run(data);
    SCOPED_TRACE(c.row);
    EXPECT_EQ(report.rows_read, 2);
    EXPECT_EQ(report.rows_accepted, 1);
    EXPECT_EQ(report.rows_quarantined, 1);
    EXPECT_EQ(report.rows_by_reason[static_cast<int>(c.reason)], 1);
    const std::string quarantine = Quarantine();
    const std::string expected_prefix = (dir_ / "data.csv").string() + ",3," + c.column + ",";
    EXPECT_NE(quarantine.find(expected_prefix), std::string::npos) << quarantine;
    EXPECT_NE(quarantine.find(std::string(",") + ReasonName(c.reason) + ","), std::string::npos)
        << quarantine;
  }
}

TEST_F(ValidatorTest, FlagPolicyKeepsRowAndMarksValueMissing) {
  auto report =
      Run(std::string(kHeader) +
              "2025-01-01T00:00:00Z,m1,200,,run,x\n"
              "2025-01-01T01:00:00Z,m1,20,1,walk,x\n",
          "validation: {out_of_range: flag, missing_value: flag, unknown_category: flag}\n");
  EXPECT_EQ(report.rows_accepted, 2);
  EXPECT_EQ(report.rows_quarantined, 0);
  EXPECT_EQ(report.values_flagged, 3);
  EXPECT_EQ(report.flags_by_reason[static_cast<int>(Reason::kOutOfRange)], 1);
  EXPECT_EQ(report.flags_by_reason[static_cast<int>(Reason::kMissingValue)], 1);
  EXPECT_EQ(report.flags_by_reason[static_cast<int>(Reason::kUnknownCategory)], 1);
  ASSERT_EQ(sink_.rows.size(), 2u);
  EXPECT_TRUE(std::isnan(sink_.rows[0].second[0]));
  EXPECT_TRUE(std::isnan(sink_.rows[0].second[1]));
  EXPECT_EQ(report.numeric[0].missing, 1);
  EXPECT_NE(Flagged().find(",2,temp,200,out_of_range,"), std::string::npos) << Flagged();
}

TEST_F(ValidatorTest, RejectedRowDoesNotAdvanceEntityTime) {
  // Line 3 is rejected (bad value), so line 4 at the same time is not a duplicate.
  auto report = Run(std::string(kHeader) +
                    "2025-01-01T00:00:00Z,m1,20,1,run,x\n"
                    "2025-01-01T01:00:00Z,m1,999,1,run,x\n"
                    "2025-01-01T01:00:00Z,m1,20,1,run,x\n");
  EXPECT_EQ(report.rows_accepted, 2);
  EXPECT_EQ(report.rows_by_reason[static_cast<int>(Reason::kOutOfRange)], 1);
}

// The refused time is reported as written in its cell, unquoted, also for quoted records.
TEST_F(ValidatorTest, DuplicateReportsTheTimeCellUnquoted) {
  auto report = Run(std::string(kHeader) + "2025-01-01T00:00:00Z,m1,20,1,run,x\n" +
                    "\"2025-01-01T00:00:00Z\",m1,20,1,run,\"y\"\n");
  EXPECT_EQ(report.rows_by_reason[static_cast<int>(Reason::kDuplicateKey)], 1);
  ASSERT_EQ(report.examples[static_cast<int>(Reason::kDuplicateKey)].size(), 1u);
  EXPECT_EQ(report.examples[static_cast<int>(Reason::kDuplicateKey)][0].value,
            "2025-01-01T00:00:00Z");
}

TEST_F(ValidatorTest, QuarantineKeepsTheRawRecord) {
  Run(std::string(kHeader) + "2025-01-01T00:00:00Z,m1,20,1,run,\"a, \"\"b\"\"\"\n" +
      "2025-01-01T00:00:00Z,m1,20,1,run,\"a, \"\"b\"\"\"\n");
  const std::string quarantine = Quarantine();
  // The raw record is CSV-quoted inside the quarantine file.
  EXPECT_NE(quarantine.find("\"2025-01-01T00:00:00Z,m1,20,1,run,\"\"a, \"\"\"\"b\"\"\"\"\"\"\""),
            std::string::npos)
      << quarantine;
}

TEST(ValidatorHeaderTest, RefusesHeaderThatDoesNotMatchSpec) {
  const fs::path dir = TempDir("header");
  auto spec = spec::ParseDatasetSpec(kSpec, dir / "spec.yaml");
  ASSERT_TRUE(spec.ok());
  WriteFile(dir / "data.csv", "ts,machine,temp,vibration,mode,note\n");
  auto report = ValidateTable(spec->data, spec->validation, {});
  ASSERT_FALSE(report.ok());
  EXPECT_NE(report.status().message().find("sensors[1]: unknown column 'vib'"), std::string::npos)
      << report.status();
  WriteFile(dir / "data.csv", "ts,machine,temp,vib,mode,note,surprise\n");
  report = ValidateTable(spec->data, spec->validation, {});
  ASSERT_FALSE(report.ok());
  EXPECT_NE(report.status().message().find("column 'surprise'"), std::string::npos);
  WriteFile(dir / "data.csv", "");
  report = ValidateTable(spec->data, spec->validation, {});
  ASSERT_FALSE(report.ok());
  EXPECT_NE(report.status().message().find("empty file"), std::string::npos);
  fs::remove(dir / "data.csv");
  report = ValidateTable(spec->data, spec->validation, {});
  ASSERT_FALSE(report.ok());
  EXPECT_NE(report.status().message().find((dir / "data.csv").string()), std::string::npos);
}

// Corrupts random lines of a file: garbles a cell, drops a field, duplicates or truncates a line.
std::string Corrupt(const std::string& text, uint32_t seed, bool whitespace, int* corrupted) {
  std::mt19937 rng(seed);
  std::vector<std::string> lines;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    lines.push_back(text.substr(start, end - start));
    start = end + 1;
  }
  *corrupted = 0;
  std::string out;
  const char sep = whitespace ? ' ' : ',';
  for (size_t i = 0; i < lines.size(); ++i) {
    std::string line = lines[i];
    if (i > 0 && rng() % 50 == 0) {
      ++*corrupted;
      switch (rng() % 6) {
        case 0: {  // garble one cell
          size_t pos = line.find(sep, rng() % line.size());
          line.insert(pos == std::string::npos ? line.size() : pos, "x#");
          break;
        }
        case 1:
          line = line.substr(0, line.rfind(sep));
          break;  // drop the last field
        case 2:
          line += sep + std::string("7");
          break;  // extra field
        case 3:
          line += sep == ',' ? ",\"unterminated" : " nan";
          break;
        case 4:
          line = "\xFF\xFE garbage";
          break;
        case 5:
          line += "\n" + line;
          break;  // a duplicated record
      }
    }
    out += line;
    out += '\n';
  }
  return out;
}

void ExpectAccountingOnCorruptedCopies(const spec::DatasetSpec& original, const std::string& name) {
  const std::string text = ReadFile(original.data.path);
  ASSERT_FALSE(text.empty()) << original.data.path;
  const fs::path dir = TempDir("corrupt_" + name);
  for (uint32_t seed = 1; seed <= 3; ++seed) {
    int corrupted = 0;
    const fs::path copy = dir / ("copy" + std::to_string(seed));
    WriteFile(copy, Corrupt(text, seed, original.data.format.whitespace, &corrupted));
    DatasetValidateOptions options;
    options.data_override = copy;
    options.quarantine_dir = dir / ("q" + std::to_string(seed));
    options.main_table_only = true;
    auto report = ValidateDataset(original, options);
    ASSERT_TRUE(report.ok()) << report.status();
    SCOPED_TRACE(name + " seed " + std::to_string(seed));
    EXPECT_GT(corrupted, 10);
    EXPECT_EQ(report->rows_read, report->rows_accepted + report->rows_quarantined);
    EXPECT_GT(report->rows_quarantined, corrupted / 3);
    int64_t by_reason = 0;
    for (int64_t n : report->rows_by_reason) by_reason += n;
    EXPECT_EQ(by_reason, report->rows_quarantined);
    // One quarantine line per refused row (CSV-quoted records may span lines, so count rows by
    // the reason column appearing after a line number).
    const std::string quarantine = ReadFile(options.quarantine_dir / "quarantine.csv");
    int64_t lines = 0;
    for (size_t pos = quarantine.find(copy.string() + ","); pos != std::string::npos;
         pos = quarantine.find(copy.string() + ",", pos + 1)) {
      ++lines;
    }
    EXPECT_EQ(lines, report->rows_quarantined);
  }
}

// Blocks are checked on worker threads; the result must not depend on how many.
TEST(ParallelValidationTest, ThreadCountAndBlockSizeDoNotChangeTheResult) {
  const fs::path dir = TempDir("parallel");
  sim::SimulationOptions sim_options;
  sim_options.machines = 6;
  sim_options.duration_seconds = 30 * 86400;
  sim_options.duplicate_rate = 0.01;
  auto summary = sim::Simulate(sim_options, dir);
  ASSERT_TRUE(summary.ok());
  auto spec = spec::LoadDatasetSpec(summary->spec_path);
  ASSERT_TRUE(spec.ok());
  int corrupted = 0;
  WriteFile(dir / "corrupt.csv", Corrupt(ReadFile(dir / "telemetry.csv"), 7, false, &corrupted));
  spec->data.path = dir / "corrupt.csv";
  std::string expected_quarantine, expected_json;
  for (int threads : {1, 2, 3}) {
    for (size_t block : {size_t{4} << 20, size_t{1000}, size_t{100000}}) {
      auto quarantine = QuarantineWriter::Open(dir / "q");
      ASSERT_TRUE(quarantine.ok());
      Collected sink;
      ValidateOptions options;
      options.threads = threads;
      options.buffer_bytes = block;
      options.quarantine = quarantine->get();
      options.sink = &sink;
      auto report = ValidateTable(spec->data, spec->validation, options);
      ASSERT_TRUE(report.ok()) << report.status();
      ASSERT_TRUE((*quarantine)->Close().ok());
      DatasetReport dataset;
      report->seconds = 0;
      report->bytes = 0;
      dataset.tables.push_back(*report);
      const std::string json = ReportToJson(dataset, 0);
      const std::string text =
          ReadFile(dir / "q" / "quarantine.csv") + ReadFile(dir / "q" / "flagged.csv");
      EXPECT_EQ(static_cast<int64_t>(sink.rows.size()), report->rows_accepted);
      if (expected_json.empty()) {
        expected_json = json;
        expected_quarantine = text;
        EXPECT_GT(report->rows_quarantined, 20);
        continue;
      }
      EXPECT_EQ(json, expected_json) << threads << " threads, block " << block;
      EXPECT_EQ(text, expected_quarantine) << threads << " threads, block " << block;
    }
  }
}

TEST(AccountingTest, HoldsOnCorruptedAi4i) {
  auto spec = spec::LoadDatasetSpec(testing::SourceDir() / "specs/ai4i2020.yaml");
  ASSERT_TRUE(spec.ok()) << spec.status();
  spec->data.path = testing::DataDir() / "ai4i2020/ai4i2020.csv";
  ExpectAccountingOnCorruptedCopies(*spec, "ai4i");
}

TEST(AccountingTest, HoldsOnCorruptedCmapss) {
  auto spec = spec::LoadDatasetSpec(testing::SourceDir() / "specs/cmapss-fd001.yaml");
  ASSERT_TRUE(spec.ok()) << spec.status();
  spec->data.path = testing::DataDir() / "cmapss/train_FD001.txt";
  ExpectAccountingOnCorruptedCopies(*spec, "cmapss");
}

TEST(AccountingTest, HoldsOnCorruptedSimulatorOutput) {
  const fs::path dir = TempDir("sim_for_corruption");
  sim::SimulationOptions options;
  options.machines = 5;
  options.duration_seconds = 20 * 86400;
  auto summary = sim::Simulate(options, dir);
  ASSERT_TRUE(summary.ok()) << summary.status();
  auto spec = spec::LoadDatasetSpec(summary->spec_path);
  ASSERT_TRUE(spec.ok()) << spec.status();
  ExpectAccountingOnCorruptedCopies(*spec, "sim");
}

TEST(RealDataTest, Ai4iAndCmapssValidateCleanly) {
  for (const char* name : {"ai4i2020.yaml", "cmapss-fd001.yaml"}) {
    auto spec = spec::LoadDatasetSpec(testing::SourceDir() / "specs" / name);
    ASSERT_TRUE(spec.ok()) << spec.status();
    auto report = ValidateDataset(*spec, {});
    ASSERT_TRUE(report.ok()) << report.status();
    EXPECT_EQ(report->rows_quarantined, 0) << name;
    if (std::string(name) == "ai4i2020.yaml") {
      EXPECT_EQ(report->rows_read, 10000);
    } else {
      EXPECT_EQ(report->tables[0].rows_read, 20631);
      EXPECT_EQ(report->tables[0].entities, 100);
      EXPECT_EQ(report->tables[1].rows_read, 13096);
      EXPECT_EQ(report->tables[2].rows_read, 100);
    }
  }
}

TEST(DatasetReportTest, RulFileMustMatchTestUnits) {
  auto spec = spec::LoadDatasetSpec(testing::SourceDir() / "specs/cmapss-fd001.yaml");
  ASSERT_TRUE(spec.ok());
  const fs::path dir = TempDir("rul");
  std::string rul = ReadFile(spec->test->rul_path);
  WriteFile(dir / "rul.txt", rul.substr(0, rul.rfind('\n', rul.size() - 2) + 1));  // drop one
  spec->test->rul_path = dir / "rul.txt";
  auto report = ValidateDataset(*spec, {});
  ASSERT_FALSE(report.ok());
  EXPECT_NE(report.status().message().find("99 valid RUL values but"), std::string::npos)
      << report.status();
}

TEST(DatasetReportTest, JsonHasContractKeys) {
  auto spec = spec::LoadDatasetSpec(testing::SourceDir() / "specs/ai4i2020.yaml");
  ASSERT_TRUE(spec.ok());
  auto report = ValidateDataset(*spec, {});
  ASSERT_TRUE(report.ok());
  const std::string json = ReportToJson(*report, 0);
  for (const char* key :
       {"\"rows_read\":10000", "\"rows_accepted\":10000", "\"rows_quarantined\":0",
        "\"by_reason\":{}", "\"files\":[", "\"Machine failure\":{\"role\":\"label\""}) {
    EXPECT_NE(json.find(key), std::string::npos) << key << "\n" << json;
  }
}

}  // namespace
}  // namespace pdm::validate
