#include "core/log.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace pdm::core {
namespace {

using ::testing::HasSubstr;

class LogTest : public ::testing::Test {
 protected:
  void SetUp() override { SetLogProgram("pdm serve"); }
  void TearDown() override {
    SetLogFormat(LogFormat::kText);
    SetLogProgram("pdm");
  }
};

TEST_F(LogTest, TextLinesKeepTheProgramPrefixAndAppendFields) {
  SetLogFormat(LogFormat::kText);
  EXPECT_EQ(FormatLogLine(LogLevel::kError, "--roi: no such file", {}, 0),
            "pdm serve: --roi: no such file");
  EXPECT_EQ(FormatLogLine(LogLevel::kInfo, "request",
                          {{"status", int64_t{200}},
                           {"route", "/api/v1/predict"},
                           {"latency_ms", 0.25},
                           {"id", "a b"}},
                          0),
            "pdm serve: request status=200 route=/api/v1/predict latency_ms=0.25 id=\"a b\"");
}

TEST_F(LogTest, JsonLinesAreOneObjectWithTimeLevelAndFieldsInOrder) {
  SetLogFormat(LogFormat::kJson);
  // 2026-12-07T23:59:59.045Z
  const int64_t millis = int64_t{1796687999} * 1000 + 45;
  const std::string line =
      FormatLogLine(LogLevel::kWarning, "say \"hi\"\n",
                    {{"status", int64_t{503}}, {"latency_ms", 1.5}, {"route", "/readyz"}}, millis);
  EXPECT_EQ(line.find('\n'), std::string::npos);
  const auto parsed = nlohmann::ordered_json::parse(line);
  EXPECT_EQ(parsed["time"], "2026-12-07T23:59:59.045Z");
  EXPECT_EQ(parsed["level"], "warning");
  EXPECT_EQ(parsed["program"], "pdm serve");
  EXPECT_EQ(parsed["msg"], "say \"hi\"\n");
  EXPECT_EQ(parsed["status"], 503);
  EXPECT_EQ(parsed["latency_ms"], 1.5);
  EXPECT_EQ(parsed["route"], "/readyz");
  std::vector<std::string> keys;
  for (const auto& item : parsed.items()) keys.push_back(item.key());
  EXPECT_THAT(keys, ::testing::ElementsAre("time", "level", "program", "msg", "status",
                                           "latency_ms", "route"));
}

TEST_F(LogTest, JsonStaysValidForBadBytesAndNonFiniteNumbers) {
  SetLogFormat(LogFormat::kJson);
  const std::string line =
      FormatLogLine(LogLevel::kError, std::string_view("\xff\x01", 2), {{"x", std::nan("")}}, 0);
  const auto parsed = nlohmann::json::parse(line);
  EXPECT_TRUE(parsed["x"].is_null());
  EXPECT_EQ(parsed["time"], "1970-01-01T00:00:00.000Z");
}

TEST_F(LogTest, OnlyTextAndJsonAreFormats) {
  EXPECT_EQ(*ParseLogFormat("json"), LogFormat::kJson);
  EXPECT_EQ(*ParseLogFormat("text"), LogFormat::kText);
  EXPECT_THAT(ParseLogFormat("JSON").status().message(), HasSubstr("expected text or json"));
}

}  // namespace
}  // namespace pdm::core
