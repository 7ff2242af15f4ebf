#include "ingest/payload.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace pdm::ingest {
namespace {

using ::testing::HasSubstr;
using json = nlohmann::json;

TEST(LineProtocolTest, ParsesTagsFieldsTypesEscapesAndTimestamps) {
  auto p = ParseLine(
      R"(pump\ data,machine=p\,7,site=north vibration_rms=2.5,count=3i,ok=t,note="a \"b\"",n=1e3 1700000000000000000)");
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(p->measurement, "pump data");
  ASSERT_EQ(p->tags.size(), 2u);
  EXPECT_EQ(p->tags[0], (std::pair<std::string, std::string>{"machine", "p,7"}));
  ASSERT_EQ(p->fields.size(), 5u);
  EXPECT_DOUBLE_EQ(p->fields[0].second.get<double>(), 2.5);
  EXPECT_EQ(p->fields[1].second.get<int64_t>(), 3);
  EXPECT_EQ(p->fields[2].second.get<int>(), 1);
  EXPECT_EQ(p->fields[3].second.get<std::string>(), "a \"b\"");
  EXPECT_DOUBLE_EQ(p->fields[4].second.get<double>(), 1000);
  EXPECT_EQ(p->timestamp, 1700000000000000000);
  // No timestamp, no tags.
  p = ParseLine("m x=1");
  ASSERT_TRUE(p.ok());
  EXPECT_FALSE(p->timestamp.has_value());
}

TEST(LineProtocolTest, MalformedLinesSayWhereAndWhy) {
  for (const auto& [line, expected] :
       std::vector<std::pair<std::string, std::string>>{{"", "missing the measurement"},
                                                        {"m", "expected a space"},
                                                        {"m,tag x=1", "tag without '='"},
                                                        {"m x", "expected a field"},
                                                        {"m x=abc", "'abc' is not a number"},
                                                        {"m x=1.5i", "not an integer field value"},
                                                        {"m x=-1u", "not an integer field value"},
                                                        {"m x=\"open", "unterminated string"},
                                                        {"m x=1 12ab", "not an integer timestamp"},
                                                        {"m x=nan", "not a number"}}) {
    auto p = ParseLine(line);
    ASSERT_FALSE(p.ok()) << line;
    EXPECT_THAT(std::string(p.status().message()), HasSubstr(expected)) << line;
    EXPECT_THAT(std::string(p.status().message()), HasSubstr("column ")) << line;
  }
}

TEST(DecodePayloadTest, LineProtocolBecomesReadingsWithMachineAndSeconds) {
  DecodeOptions options;
  auto d = DecodePayload(
      "# a comment\n"
      "telemetry,machine=m1 vibration_rms=2.5,pressure=4 1700000000000000000\n"
      "\n"
      "telemetry vibration_rms=2.6 1700000060000000000\r\n"
      "telemetry,machine=m1 vibration_rms=oops 1700000120000000000\n",
      options, std::nullopt);
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_EQ(d->readings, 1u);
  const json& r = d->body["readings"][0];
  EXPECT_EQ(r["machine"], "m1");
  EXPECT_DOUBLE_EQ(r["time"].get<double>(), 1.7e9);
  EXPECT_DOUBLE_EQ(r["values"]["vibration_rms"].get<double>(), 2.5);
  ASSERT_EQ(d->errors.size(), 2u);
  EXPECT_THAT(d->errors[0], HasSubstr("line 4: no 'machine' tag and no machine in the topic"));
  EXPECT_THAT(d->errors[1], HasSubstr("line 5: column"));
  // The topic names the machine of lines without the tag; a line naming another is refused.
  d = DecodePayload("t vibration_rms=1 1\nt,machine=other vibration_rms=1 2\n", options,
                    std::string("m9"));
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->readings, 1u);
  EXPECT_EQ(d->body["readings"][0]["machine"], "m9");
  EXPECT_DOUBLE_EQ(d->body["readings"][0]["time"].get<double>(), 1e-9);
  ASSERT_EQ(d->errors.size(), 1u);
  EXPECT_THAT(d->errors[0], HasSubstr("machine 'other' is not the topic's ('m9')"));
  // Another timestamp unit.
  options.time_unit = 1;
  d = DecodePayload("t,machine=a x=1 1700000000", options, std::nullopt);
  ASSERT_TRUE(d.ok());
  EXPECT_DOUBLE_EQ(d->body["readings"][0]["time"].get<double>(), 1.7e9);
}

TEST(DecodePayloadTest, JsonInEveryShapeTheRestRouteTakes) {
  const DecodeOptions options;
  // One reading, without a machine: the topic's.
  auto d = DecodePayload(R"({"time": 1, "values": {"x": 1}})", options, std::string("m1"));
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_EQ(d->readings, 1u);
  EXPECT_EQ(d->body["readings"][0]["machine"], "m1");
  // An array, one of another machine.
  d = DecodePayload(R"([{"machine": "m1", "time": 1, "values": {}},
                        {"machine": "m2", "time": 1, "values": {}}])",
                    options, std::string("m1"));
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->readings, 1u);
  ASSERT_EQ(d->errors.size(), 1u);
  EXPECT_THAT(d->errors[0], HasSubstr("readings[1]: machine 'm2'"));
  // Readings and events, kept as they are without a topic machine.
  d = DecodePayload(
      R"({"readings": [{"machine": "a", "time": 1, "values": {}}],
          "events": [{"machine": "a", "time": 0, "type": "maintenance", "kind": "seal"}]})",
      options, std::nullopt);
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->readings, 1u);
  EXPECT_EQ(d->body["events"].size(), 1u);
  // Not JSON, or JSON of another shape.
  for (const char* bad : {"{not json", "[1, 2", R"({"readings": 5})", "\"text\""}) {
    PayloadFormat format = PayloadFormat::kJson;
    DecodeOptions json_only;
    json_only.format = format;
    EXPECT_FALSE(DecodePayload(bad, json_only, std::nullopt).ok()) << bad;
  }
}

TEST(DecodePayloadTest, TopicLevelsAndFormats) {
  EXPECT_EQ(TopicLevel("plant/north/pump-7/telemetry", 2), "pump-7");
  EXPECT_EQ(TopicLevel("plant/north/pump-7/telemetry", 0), "plant");
  EXPECT_EQ(TopicLevel("plant/north", 5), std::nullopt);
  EXPECT_EQ(TopicLevel("plant//x", 1), std::nullopt);
  EXPECT_EQ(*ParsePayloadFormat("line_protocol"), PayloadFormat::kLineProtocol);
  EXPECT_FALSE(ParsePayloadFormat("csv").ok());
}

}  // namespace
}  // namespace pdm::ingest
