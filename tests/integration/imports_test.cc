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
