// Historical imports in the shapes plants export (docs/dataset-spec.md): one event table with a
// type column (a CMMS export) read as the failures, maintenance and errors tables. The same
// events declared both ways give the same features, and every row of the table is accepted or
// quarantined by exactly one of them.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <map>
#include <random>
#include <set>

#include "nlohmann/json.hpp"
#include "tests/testing/csv.h"
#include "tests/testing/pdm_cli.h"
#include "tests/testing/test_paths.h"

namespace pdm {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using json = nlohmann::json;

class ImportsTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new fs::path(testing::TempDir("imports"));
    ASSERT_EQ(testing::Pdm("simulate --machines 12 --duration 60d --interval 2h --seed 11 --out " +
                           (*dir_ / "sim").string())
                  .code,
              0);
  }

  // The simulator's spec with its `events:` block replaced by `events_yaml`.
  static fs::path SpecWithEvents(const std::string& name, const std::string& events_yaml) {
    const std::string spec = testing::ReadFile(*dir_ / "sim" / "spec.yaml");
    const size_t begin = spec.find("\nevents:\n");
    const size_t end = spec.find("\nmachines:\n");
    EXPECT_NE(begin, std::string::npos);
    EXPECT_NE(end, std::string::npos);
    const fs::path path = *dir_ / "sim" / name;
    std::ofstream(path) << spec.substr(0, begin + 1) << events_yaml << spec.substr(end);
    return path;
  }

  static inline fs::path* dir_ = nullptr;
};

TEST_F(ImportsTest, OneEventTableWithATypeColumnEqualsOneFilePerType) {
  const fs::path sim = *dir_ / "sim";
  // The CMMS export: every event of the three files, shuffled, with the plant's own words for
  // the types, and one row of a type the spec does not know.
  struct Source {
    std::string file, kind_column, type;
  };
  std::vector<std::string> rows;
  size_t per_type[3] = {0, 0, 0};
  const Source sources[] = {{"failures.csv", "mode", "BREAKDOWN"},
                            {"maintenance.csv", "component", "PM"},
                            {"errors.csv", "code", "alarm"}};
  for (size_t s = 0; s < 3; ++s) {
    for (const auto& row : testing::ReadCsv(sim / sources[s].file)) {
      rows.push_back(row.at("timestamp") + "," + row.at("machine_id") + "," + sources[s].type +
                     "," + row.at(sources[s].kind_column));
      ++per_type[s];
    }
  }
  for (size_t count : per_type) ASSERT_GT(count, 0u) << "choose a seed with every event type";
  rows.push_back("2025-01-05T00:00:00Z,M0001,inspection,visual");
  std::shuffle(rows.begin(), rows.end(), std::mt19937(7));
  {
    std::ofstream cmms(sim / "cmms.csv");
    cmms << "ts,asset,kind,mode\n";
    for (const std::string& row : rows) cmms << row << "\n";
  }
  const fs::path spec = SpecWithEvents("spec-cmms.yaml", R"(events:
  table:
    file: cmms.csv
    entity: asset
    time: ts
    type: kind
    types: {failure: [BREAKDOWN], maintenance: [PM, CM], error: [alarm]}
    kind: mode
    kinds:
      failure: [bearing, seal, motor, cooling, random]
      maintenance: [bearing, seal, motor, cooling]
      error: [E100, E110, E210, E220, E230, E240]
)");

  // The same features, row for row, as from the three files.
  const testing::Result separate = testing::Pdm("features --spec " + (sim / "spec.yaml").string() +
                                                " --out " + (sim / "separate.csv").string());
  ASSERT_EQ(separate.code, 0) << separate.err;
  const testing::Result combined = testing::Pdm("features --spec " + spec.string() + " --out " +
                                                (sim / "combined.csv").string());
  ASSERT_EQ(combined.code, 0) << combined.err;
  const std::string features = testing::ReadFile(sim / "separate.csv");
  EXPECT_GT(features.size(), 1000u);
  EXPECT_TRUE(features == testing::ReadFile(sim / "combined.csv"))
      << "the event table gives other features than the event files";

  // Every row of the table is read by exactly one table; the unknown type is quarantined.
  const testing::Result validated = testing::Pdm("validate --json --spec " + spec.string() +
                                                 " --quarantine " + (sim / "quarantine").string());
  EXPECT_EQ(validated.code, 1) << validated.err;  // one row quarantined
  const json report = json::parse(validated.out);
  std::map<std::string, json> by_role;
  for (const json& file : report["files"]) by_role[file["role"]] = file;
  ASSERT_EQ(by_role.count("failures") + by_role.count("maintenance") + by_role.count("errors"), 3u);
  EXPECT_EQ(by_role["failures"]["rows_read"], per_type[0] + 1);  // it owns unknown types
  EXPECT_EQ(by_role["failures"]["rows_quarantined"], 1);
  EXPECT_EQ(by_role["failures"]["by_reason"]["unknown_category"], 1);
  EXPECT_EQ(by_role["maintenance"]["rows_read"], per_type[1]);
  EXPECT_EQ(by_role["errors"]["rows_read"], per_type[2]);
  int64_t read = 0;
  for (const char* role : {"failures", "maintenance", "errors"}) {
    read += by_role[role]["rows_read"].get<int64_t>();
    EXPECT_EQ(by_role[role]["rows_read"].get<int64_t>() +
                  by_role[role]["rows_of_other_tables"].get<int64_t>(),
              static_cast<int64_t>(rows.size()))
        << role;
  }
  EXPECT_EQ(read, static_cast<int64_t>(rows.size()));
  const std::string quarantine = testing::ReadFile(sim / "quarantine" / "quarantine.csv");
  EXPECT_THAT(quarantine, HasSubstr("kind,inspection,unknown_category"));
  EXPECT_THAT(quarantine, HasSubstr("not an event type of the spec (BREAKDOWN, PM, CM, alarm)"));
}

// Long-format telemetry (machine, time, sensor, value, as historians and InfluxDB export it),
// sorted by sensor as a historian writes it, with an extra column listed under `ignore`:
// pivoted into the readings of the wide file, it gives the same features, and every row is
// accounted for.
TEST_F(ImportsTest, LongFormatTelemetryPivotsIntoTheWideReadings) {
  const fs::path sim = *dir_ / "sim";
  const auto wide = testing::ReadCsv(sim / "telemetry.csv");
  std::map<std::string, std::vector<std::string>> by_sensor;  // one historian tag after another
  size_t values = 0;
  for (const auto& row : wide) {
    for (const auto& [column, text] : row) {
      if (column == "timestamp" || column == "machine_id" || text.empty()) continue;
      by_sensor[column].push_back(row.at("machine_id") + "," + row.at("timestamp") + "," + column +
                                  "," + text + ",good");
      ++values;
    }
  }
  // Refused rows: a tag the spec does not declare, a value given twice, a bad time.
  const std::string first = wide.front().at("machine_id") + "," + wide.front().at("timestamp");
  by_sensor["zz"] = {first + ",oil_level,3.5,good", first + ",torque,1.0,good",
                     wide.front().at("machine_id") + ",yesterday,torque,2.0,good"};
  {
    std::ofstream out(sim / "long.csv");
    out << "machine,time,tag,value,quality\n";
    for (const auto& [sensor, rows] : by_sensor) {
      for (const std::string& row : rows) out << row << "\n";
    }
  }
  std::string spec_text = testing::ReadFile(sim / "spec.yaml");
  const std::string data =
      "data:\n  file: telemetry.csv\nentity: machine_id\ntime:\n  column: timestamp\n";
  ASSERT_NE(spec_text.find(data), std::string::npos);
  spec_text.replace(spec_text.find(data), data.size(),
                    "data:\n  file: long.csv\n  long: {sensor: tag, value: value}\n"
                    "entity: machine\nignore: [quality]\ntime:\n  column: time\n");
  const fs::path spec = sim / "spec-long.yaml";
  std::ofstream(spec) << spec_text;

  const testing::Result from_wide = testing::Pdm("features --spec " + (sim / "spec.yaml").string() +
                                                 " --out " + (sim / "wide.csv").string());
  ASSERT_EQ(from_wide.code, 0) << from_wide.err;
  const testing::Result from_long = testing::Pdm("features --spec " + spec.string() + " --out " +
                                                 (sim / "from-long.csv").string());
  ASSERT_EQ(from_long.code, 0) << from_long.err;
  // The feature files name their entity and time columns after the spec: compare the rows.
  std::string wide_features = testing::ReadFile(sim / "wide.csv");
  std::string long_features = testing::ReadFile(sim / "from-long.csv");
  wide_features = wide_features.substr(wide_features.find('\n'));
  long_features = long_features.substr(long_features.find('\n'));
  EXPECT_GT(wide_features.size(), 100'000u);
  EXPECT_TRUE(wide_features == long_features) << "the pivoted readings give other features";

  const testing::Result validated = testing::Pdm("validate --json --spec " + spec.string() +
                                                 " --quarantine " + (sim / "q-long").string());
  EXPECT_EQ(validated.code, 1) << validated.err;
  const json report = json::parse(validated.out);
  const json& file = report["files"][0];
  EXPECT_EQ(file["role"], "data");
  const int64_t rows = static_cast<int64_t>(values + 3);
  EXPECT_EQ(file["rows_read"], rows);
  EXPECT_EQ(file["rows_accepted"].get<int64_t>() + file["rows_quarantined"].get<int64_t>(), rows);
  EXPECT_EQ(file["by_reason"]["unknown_category"], 1);
  EXPECT_EQ(file["by_reason"]["bad_time"], 1);
  // The wide file's duplicate readings are duplicate values here, one row each, plus ours.
  EXPECT_GE(file["by_reason"]["duplicate_key"].get<int64_t>(), 1);
  std::set<std::string> readings;  // one per machine and time of the wide file
  for (const auto& row : wide) readings.insert(row.at("machine_id") + "," + row.at("timestamp"));
  EXPECT_EQ(file["readings"], readings.size());
  const std::string quarantine = testing::ReadFile(sim / "q-long" / "quarantine.csv");
  EXPECT_THAT(quarantine, HasSubstr("tag,oil_level,unknown_category"));
  EXPECT_THAT(quarantine, HasSubstr("time,yesterday,bad_time"));
  EXPECT_THAT(quarantine, HasSubstr("already has a value of this sensor at this time"));

  // A wrong long layout is refused before any row is read, naming the key or the column.
  const struct {
    std::string from, to, expected;
  } cases[] = {
      {"long: {sensor: tag, value: value}", "long: {sensor: tag}",
       "data.long.value: missing required key"},
      {"long: {sensor: tag, value: value}", "long: {sensor: name, value: value}",
       "data.long.sensor: unknown column 'name'"},
      {"ignore: [quality]\n", "", "column 'quality' is not declared in data"},
  };
  for (const auto& c : cases) {
    std::string text = spec_text;
    text.replace(text.find(c.from), c.from.size(), c.to);
    std::ofstream(sim / "spec-bad-long.yaml") << text;
    const testing::Result r =
        testing::Pdm("validate --spec " + (sim / "spec-bad-long.yaml").string());
    EXPECT_EQ(r.code, 3) << c.to;
    EXPECT_THAT(r.err, HasSubstr(c.expected)) << c.to;
  }
}

TEST_F(ImportsTest, EventTableSpecErrorsNameTheKey) {
  const struct {
    std::string yaml, expected;
  } cases[] = {
      {"events:\n  table: {file: cmms.csv, entity: asset, time: ts}\n",
       "events.table.type: missing required key"},
      {"events:\n  table: {file: cmms.csv, entity: asset, time: ts, type: kind, types: {fault: "
       "[x]}}\n",
       "events.table.types.fault: unknown key"},
      {"events:\n  table: {file: cmms.csv, entity: asset, time: ts, type: kind, types: {failure: "
       "[x], error: [x]}}\n",
       "events.table.types: 'x' is listed twice"},
      {"events:\n  table: {file: cmms.csv, entity: asset, time: ts, type: kind}\n  failures: "
       "{file: f.csv, time: ts}\n",
       "events.failures: unknown key (allowed here: table)"},
  };
  for (const auto& c : cases) {
    const fs::path spec = SpecWithEvents("spec-bad.yaml", c.yaml);
    const testing::Result r = testing::Pdm("validate --spec " + spec.string());
    EXPECT_EQ(r.code, 3) << c.yaml;
    EXPECT_THAT(r.err, HasSubstr(c.expected)) << c.yaml;
  }
}

}  // namespace
}  // namespace pdm
