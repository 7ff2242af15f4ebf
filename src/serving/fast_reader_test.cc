#include "serving/fast_reader.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

namespace pdm::serving {
namespace {

features::InputLayout Layout() {
  features::InputLayout layout;
  layout.time_type = spec::TimeType::kTimestamp;
  layout.has_entity = true;
  layout.numeric = {"vibration_rms", "pressure"};
  layout.numeric_min = {0, -std::numeric_limits<double>::infinity()};
  layout.numeric_max = {50, std::numeric_limits<double>::infinity()};
  layout.categorical = {{"mode", {"run", "idle"}}};
  return layout;
}

TEST(TelemetryReaderTest, ReadsEveryShapeOfAValidBody) {
  const features::InputLayout layout = Layout();
  std::vector<FastReading> out;
  ASSERT_TRUE(ReadTelemetryFast(
      R"({"readings": [{"machine": "m1", "time": "2025-03-01T01:00:00Z",
          "values": {"vibration_rms": 2.5, "pressure": null, "mode": "idle"}},
         {"values": {"pressure": -3}, "time": 1740790800, "machine": "m2"}]})",
      layout, false, 1000, &out));
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].reading.machine, "m1");
  EXPECT_EQ(out[0].reading.time, 1740790800.0);
  EXPECT_EQ(out[0].time_text, "2025-03-01T01:00:00Z");
  EXPECT_EQ(out[0].reading.numeric[0], 2.5);
  EXPECT_TRUE(std::isnan(out[0].reading.numeric[1]));  // null: missing
  EXPECT_EQ(out[0].reading.categorical[0], 1);
  EXPECT_EQ(out[1].reading.machine, "m2");
  EXPECT_EQ(out[1].reading.time, 1740790800.0);
  EXPECT_TRUE(std::isnan(out[1].reading.numeric[0]));
  EXPECT_EQ(out[1].reading.numeric[1], -3.0);  // an integer
  EXPECT_EQ(out[1].reading.categorical[0], -1);

  ASSERT_TRUE(ReadTelemetryFast(R"([{"machine": "m3", "time": 5, "values": {"pressure": 1e3}}])",
                                layout, false, 1000, &out));
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].reading.numeric[1], 1000.0);
  // A number's time has no text: none is left from the body before (its buffer is gone).
  EXPECT_TRUE(out[0].time_text.empty());
  ASSERT_TRUE(ReadTelemetryFast(R"({"machine": "m4", "time": 6, "values": {"pressure": 1}})",
                                layout, false, 1000, &out));
  EXPECT_EQ(out[0].reading.machine, "m4");
  // An unknown field, when allowed, is skipped.
  ASSERT_TRUE(
      ReadTelemetryFast(R"({"machine": "m5", "time": 7, "values": {"pressure": 1, "oil": 2}})",
                        layout, true, 1000, &out));
}

// A body not of the shape it reads is left to the full reader whole.
TEST(TelemetryReaderTest, LeavesBodiesOfOtherShapesToTheFullReader) {
  const features::InputLayout layout = Layout();
  std::vector<FastReading> out;
  const char* const others[] = {
      "",
      "{",
      "[]",
      "5",
      R"({"readings": []})",
      R"({"readings": [], "events": []})",
      R"({"readings": [{"machine": "m", "time": 1, "values": {"pressure": 1}}], "events": []})",
      R"({"readings": {"machine": "m"}})",
      R"({"events": [{"machine": "m", "time": 1, "type": "failure"}]})",
      // One reading that the fast reader does not take: the full reader answers for it alone.
      R"({"machine": "m", "time": 1, "values": {"pressure": 1}, "attributes": {}})",
      R"({"machine": "m", "time": 1, "values": {"vibration_rms": 51}})",
  };
  for (const char* body : others) {
    EXPECT_FALSE(ReadTelemetryFast(body, layout, false, 1000, &out)) << body;
  }
  const char* two = R"([{"machine": "a", "time": 1, "values": {"pressure": 1}},
                        {"machine": "b", "time": 1, "values": {"pressure": 1}}])";
  EXPECT_TRUE(ReadTelemetryFast(two, layout, false, 2, &out));
  EXPECT_FALSE(ReadTelemetryFast(two, layout, false, 1, &out));  // over the batch limit
}

// In a list, each reading the full reader would refuse, or reads otherwise, is handed on to it
// as JSON text, and the others are read.
TEST(TelemetryReaderTest, HandsOnEachReadingItDoesNotTake) {
  const features::InputLayout layout = Layout();
  const std::string valid = R"({"machine": "ok", "time": 1, "values": {"pressure": 1}})";
  const char* const others[] = {
      R"(5)",
      R"({"time": 1, "values": {"pressure": 1}})",                 // no machine
      R"({"machine": "", "time": 1, "values": {"pressure": 1}})",  // empty id
      R"({"machine": 7, "time": 1, "values": {"pressure": 1}})",   // not a string
      R"({"machine": "m", "values": {"pressure": 1}})",            // no time
      R"({"machine": "m", "time": "yesterday", "values": {"pressure": 1}})",
      R"({"machine": "m", "time": true, "values": {"pressure": 1}})",
      R"({"machine": "m", "time": 1})",  // no values
      R"({"machine": "m", "time": 1, "values": [1]})",
      R"({"machine": "m", "time": 1, "values": {}})",  // no known value
      R"({"machine": "m", "time": 1, "values": {"pressure": null}})",
      R"({"machine": "m", "time": 1, "values": {"vibration_rms": 51}})",  // out of range
      R"({"machine": "m", "time": 1, "values": {"vibration_rms": -0.1}})",
      R"({"machine": "m", "time": 1, "values": {"pressure": "3"}})",          // not a number
      R"({"machine": "m", "time": 1, "values": {"pressure": 1, "oil": 2}})",  // unknown field
      R"({"machine": "m", "time": 1, "values": {"mode": "off"}})",            // unknown category
      R"({"machine": "m", "time": 1, "values": {"mode": 1}})",
      R"({"machine": "m", "time": 1, "values": {"pressure": 1}, "attributes": {}})",
      R"({"machine": "m", "time": 1, "values": {"pressure": 1}, "note": "x"})",
      R"({"machine": "m", "machine": "n", "time": 1, "values": {"pressure": 1}})",
  };
  std::vector<FastReading> out;
  for (const char* reading : others) {
    const std::string body = "[" + valid + ", " + reading + ", " + valid + "]";
    ASSERT_TRUE(ReadTelemetryFast(body, layout, false, 1000, &out)) << reading;
    ASSERT_EQ(out.size(), 3u);
    EXPECT_TRUE(out[0].full_reader_json.empty()) << reading;
    EXPECT_FALSE(out[1].full_reader_json.empty()) << reading;
    EXPECT_TRUE(out[2].full_reader_json.empty()) << reading;
    EXPECT_EQ(out[2].reading.machine, "ok");
  }
  ASSERT_TRUE(ReadTelemetryFast(
      R"([{"machine": "m", "time": 1, "values": {"vibration_rms": 51, "pressure": 2}}])", layout,
      false, 1000, &out));
  EXPECT_EQ(out[0].full_reader_json,
            R"({"machine":"m","time":1,"values":{"vibration_rms":51,"pressure":2}})");
  const std::string long_id = R"([{"machine": ")" + std::string(kMaxMachineIdLength + 1, 'x') +
                              R"(", "time": 1, "values": {"pressure": 1}}])";
  ASSERT_TRUE(ReadTelemetryFast(long_id, layout, false, 1000, &out));
  EXPECT_FALSE(out[0].full_reader_json.empty());
  features::InputLayout cycles = layout;
  cycles.time_type = spec::TimeType::kCycle;
  ASSERT_TRUE(ReadTelemetryFast(
      R"([{"machine": "m", "time": "2025-03-01T00:00:00Z", "values": {"pressure": 1}}])", cycles,
      false, 1000, &out));
  EXPECT_FALSE(out[0].full_reader_json.empty());
}

ServedModel TwoFeatures() {
  ServedModel model;
  model.bundle.ensemble.feature_names = {"torque", "speed"};
  model.feature_index = {{"torque", 0}, {"speed", 1}};
  model.ranges = {{"torque", {0, 100}}};
  return model;
}

TEST(PredictReaderTest, ReadsValidRecordsIntoRows) {
  const ServedModel model = TwoFeatures();
  std::vector<float> rows;
  size_t records = 0;
  ASSERT_TRUE(ReadPredictFast(R"({"speed": 1500, "torque": 40.5})", false, model, false, 10, &rows,
                              &records));
  ASSERT_EQ(records, 1u);
  EXPECT_EQ(rows[0], 40.5f);
  EXPECT_EQ(rows[1], 1500.0f);
  ASSERT_TRUE(ReadPredictFast(R"({"features": {"speed": null, "torque": 1}, "id": "x"})", false,
                              model, false, 10, &rows, &records));
  EXPECT_TRUE(std::isnan(rows[1]));
  ASSERT_TRUE(ReadPredictFast(R"({"instances": [{"speed": 1, "torque": 2}, {"speed": 3,
                                 "torque": 4}]})",
                              true, model, false, 10, &rows, &records));
  ASSERT_EQ(records, 2u);
  EXPECT_EQ(rows, (std::vector<float>{2, 1, 4, 3}));
  ASSERT_TRUE(ReadPredictFast(R"([{"speed": 1, "torque": 2, "note": 1}])", true, model, true, 10,
                              &rows, &records));
}

TEST(PredictReaderTest, LeavesEveryOtherBodyToTheFullReader) {
  const ServedModel model = TwoFeatures();
  std::vector<float> rows;
  size_t records = 0;
  for (const char* single : {
           "", "[]", "5", R"({"speed": 1})",              // a feature missing
           R"({"speed": 1, "torque": 101})",              // out of range
           R"({"speed": 1, "torque": "2"})",              // not a number
           R"({"speed": 1e39, "torque": 2})",             // beyond float32
           R"({"speed": 1, "torque": 2, "note": 1})",     // unknown field
           R"({"features": 5, "speed": 1, "torque": 2})"  // "features" is then unknown
       }) {
    EXPECT_FALSE(ReadPredictFast(single, false, model, false, 10, &rows, &records)) << single;
  }
  for (const char* batch : {R"({"speed": 1, "torque": 2})", "[]", R"({"instances": 5})",
                            R"([{"speed": 1, "torque": 2}, {"speed": 1}])",
                            R"([{"speed": 1, "torque": 2}, {"speed": 1, "torque": 2},
                                {"speed": 1, "torque": 2}])"}) {
    EXPECT_FALSE(ReadPredictFast(batch, true, model, false, 2, &rows, &records)) << batch;
  }
}

}  // namespace
}  // namespace pdm::serving
