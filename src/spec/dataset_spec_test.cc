#include "spec/dataset_spec.h"

#include <gtest/gtest.h>

#include <cstdlib>

#include "tests/testing/test_paths.h"

namespace pdm::spec {
namespace {

using ::pdm::testing::ReadFile;
using ::pdm::testing::SourceDir;

constexpr char kMinimal[] = R"(
version: 1
name: mini
data:
  file: data.csv
entity: machine
time: {column: ts, type: timestamp}
sensors:
  - {name: temp, unit: degC, range: [-40, 150]}
categoricals:
  - {name: mode, values: [a, b]}
)";

TEST(DatasetSpecTest, ParsesMinimalSpecAndResolvesPathsAgainstSpecDir) {
  auto spec = ParseDatasetSpec(kMinimal, "/etc/pdm/specs/mini.yaml");
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_EQ(spec->name, "mini");
  EXPECT_EQ(spec->data.path, "/etc/pdm/specs/data.csv");
  EXPECT_EQ(spec->data.entity_column, "machine");
  EXPECT_EQ(spec->data.time_type, TimeType::kTimestamp);
  ASSERT_EQ(spec->data.columns.size(), 2u);
  EXPECT_EQ(spec->data.columns[0].role, ColumnRole::kSensor);
  EXPECT_EQ(spec->data.columns[0].min, -40);
  EXPECT_EQ(spec->data.columns[0].max, 150);
  EXPECT_EQ(spec->data.columns[1].categories, (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(spec->validation.out_of_range, Policy::kReject);
}

TEST(DatasetSpecTest, ExpandsEnvironmentInPaths) {
  ::setenv("PDM_TEST_DIR", "/data/x", 1);
  EXPECT_EQ(ExpandEnvironment("${PDM_TEST_DIR}/a.csv"), "/data/x/a.csv");
  EXPECT_EQ(ExpandEnvironment("${PDM_TEST_UNSET_VAR:-fallback}/a.csv"), "fallback/a.csv");
  EXPECT_EQ(ExpandEnvironment("${PDM_TEST_DIR:-fallback}"), "/data/x");
  EXPECT_EQ(ExpandEnvironment("plain/${unterminated"), "plain/${unterminated");
}

// Each bad spec is refused with the key path and the reason.
TEST(DatasetSpecTest, RefusesWrongSpecsNamingKeyPathAndReason) {
  struct Case {
    const char* yaml;
    const char* expected;
  };
  const Case cases[] = {
      {"name: x\n", "data: missing required key"},
      {"data: {file: a.csv}\n", "name: missing required key"},
      {"name: x\ndata: {file: a.csv}\nsensorz: []\n", "sensorz: unknown key"},
      {"name: x\ndata: {file: a.csv}\nsensors:\n  - {name: t, rnage: [0, 1]}\n",
       "sensors[0].rnage: unknown key"},
      {"name: x\ndata: {file: a.csv}\nsensors:\n  - {name: t, range: [5, 1]}\n",
       "sensors[0].range: min must not exceed max"},
      {"name: x\ndata: {file: a.csv}\nsensors:\n  - {name: t, range: [a, 1]}\n",
       "sensors[0].range[0]: expected a number, got 'a'"},
      {"name: x\ndata: {file: a.csv}\nsensors:\n  - {name: t, range: [1]}\n",
       "sensors[0].range: expected [min, max]"},
      {"name: x\ndata: {file: a.csv}\ntime: {column: t, type: weekly}\n",
       "time.type: expected timestamp, cycle or unix_seconds, got 'weekly'"},
      {"name: x\ndata: {file: a.csv, format: {header: maybe}}\n",
       "data.format.header: expected true or false, got 'maybe'"},
      {"name: x\ndata: {file: a.csv, format: {header: false}}\n",
       "data.format.columns: required when header is false"},
      {"name: x\ndata: {file: a.csv, format: {delimiter: ';;'}}\n", "data.format.delimiter"},
      {"name: x\ndata: {file: a.csv, format: {header: false, columns: [a, b]}}\nsensors: [c]\n",
       "sensors[0]: unknown column 'c' (not in data.format.columns)"},
      {"name: x\ndata: {file: a.csv}\nsensors: [a]\nsettings: [a]\n",
       "settings[0]: column 'a' is declared more than once"},
      {"name: x\ndata: {file: a.csv}\nvalidation: {out_of_range: ignore}\n",
       "validation.out_of_range: expected reject or flag, got 'ignore'"},
      {"name: x\ndata: {file: a.csv}\nvalidation: {duplicate_key: flag}\n",
       "validation.duplicate_key: unknown key"},
      {"name: x\ndata: {file: a.csv}\nlabels: {source: events}\n",
       "labels.source: source: events needs events.failures"},
      {"name: x\ndata: {file: a.csv}\nlabels: {source: run_to_failure}\n",
       "labels.source: source: run_to_failure needs an entity and a time column"},
      {"name: x\ndata: {file: a.csv}\ncategoricals:\n  - {name: c}\n",
       "categoricals[0].values: a categorical column needs its list of values"},
      {"name: x\ndata: {file: a.csv}\nversion: 2\n", "version: this pdm reads spec version 1"},
      {"name: [x\n", "invalid YAML"},
      {"- a\n- b\n", "(document): expected a mapping"},
  };
  for (const Case& c : cases) {
    auto spec = ParseDatasetSpec(c.yaml, "bad.yaml");
    ASSERT_FALSE(spec.ok()) << c.yaml;
    EXPECT_NE(spec.status().message().find(c.expected), std::string::npos)
        << "yaml:\n"
        << c.yaml << "\nerror: " << spec.status().message();
    EXPECT_EQ(spec.status().message().rfind("bad.yaml", 0), 0u) << spec.status().message();
  }
}

TEST(DatasetSpecTest, MissingSpecFileIsNotFound) {
  auto spec = LoadDatasetSpec("/nonexistent/spec.yaml");
  ASSERT_FALSE(spec.ok());
  EXPECT_EQ(spec.status().code(), absl::StatusCode::kNotFound);
  EXPECT_NE(spec.status().message().find("/nonexistent/spec.yaml"), std::string::npos);
}

TEST(ShippedSpecsTest, Ai4iDeclaresModesAsLabelComponents) {
  auto spec = LoadDatasetSpec(SourceDir() / "specs/ai4i2020.yaml");
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_EQ(spec->labels.source, LabelSource::kColumn);
  EXPECT_EQ(spec->labels.column, "Machine failure");
  EXPECT_EQ(spec->labels.components, (std::vector<std::string>{"TWF", "HDF", "PWF", "OSF", "RNF"}));
  for (const char* mode : {"TWF", "HDF", "PWF", "OSF", "RNF"}) {
    ASSERT_NE(spec->data.FindColumn(mode), nullptr);
    EXPECT_EQ(spec->data.FindColumn(mode)->role, ColumnRole::kLabelComponent) << mode;
  }
  EXPECT_EQ(spec->data.FindColumn("UDI")->role, ColumnRole::kIdentifier);
  EXPECT_EQ(spec->data.FindColumn("Product ID")->role, ColumnRole::kIdentifier);
  EXPECT_TRUE(spec->data.entity_column.empty());
  EXPECT_TRUE(spec->data.time_column.empty());
}

TEST(ShippedSpecsTest, CmapssIsRunToFailureWithTestSet) {
  auto spec = LoadDatasetSpec(SourceDir() / "specs/cmapss-fd001.yaml");
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_EQ(spec->labels.source, LabelSource::kRunToFailure);
  EXPECT_TRUE(spec->data.format.whitespace);
  EXPECT_EQ(spec->data.format.columns.size(), 26u);
  EXPECT_EQ(spec->data.entity_column, "unit");
  EXPECT_EQ(spec->data.time_type, TimeType::kCycle);
  ASSERT_TRUE(spec->test.has_value());
  EXPECT_EQ(spec->test->rul_path.filename(), "RUL_FD001.txt");
  int settings = 0;
  for (const ColumnSpec& c : spec->data.columns) settings += c.role == ColumnRole::kSetting;
  EXPECT_EQ(settings, 3);
}

// A spec for another C-MAPSS subset differs from FD001's only in its file names (and name).
TEST(ShippedSpecsTest, CmapssSubsetSpecsDifferOnlyInFileNames) {
  const std::string fd001 = ReadFile(SourceDir() / "specs/cmapss-fd001.yaml");
  ASSERT_FALSE(fd001.empty());
  auto replace_all = [](std::string text, const std::string& from, const std::string& to) {
    for (size_t pos = text.find(from); pos != std::string::npos;
         pos = text.find(from, pos + to.size())) {
      text.replace(pos, from.size(), to);
    }
    return text;
  };
  for (const std::string subset : {"FD002", "FD003", "FD004"}) {
    std::string lower = subset;
    for (char& c : lower) c = static_cast<char>(std::tolower(c));
    const std::string text = ReadFile(SourceDir() / ("specs/cmapss-" + lower + ".yaml"));
    ASSERT_FALSE(text.empty()) << subset;
    const std::string other = replace_all(replace_all(text, subset, "FD001"), lower, "fd001");
    EXPECT_EQ(other, fd001) << subset;
  }
}

}  // namespace
}  // namespace pdm::spec
