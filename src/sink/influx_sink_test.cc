#include "sink/influx_sink.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>

#include "sink/redis_sink.h"

namespace pdm::sink {
namespace {

TEST(LineProtocolTest, OnePointPerMachineAndTimeWithEscapes) {
  Batch batch;
  batch.readings = {{"m 1", 1'740'787'200'000'000, "vibration_rms", 2.5},
                    {"m 1", 1'740'787'200'000'000, "temp,C", -3},
                    {"m 1", 1'740'787'260'000'000, "vibration_rms", 2.75},
                    {"m=2", 1'740'787'200'000'000, "vibration_rms", std::nan("")}};
  batch.risks = {{"m 1", 1'740'787'260'000'000, "fleet", 3, 0.125, true}};
  store::AlertRow alert;
  alert.id = 7;
  alert.machine = "m 1";
  alert.kind = "failure_risk";
  alert.severity = "critical";
  alert.state = "acknowledged";
  alert.score = 0.9;
  alert.time_us = 1'740'787'260'000'000;
  batch.alerts = {alert};
  EXPECT_EQ(EncodeLineProtocol(batch, /*readings=*/true),
            "pdm_reading,machine=m\\ 1 vibration_rms=2.5,temp\\,C=-3 1740787200000\n"
            "pdm_reading,machine=m\\ 1 vibration_rms=2.75 1740787260000\n"
            // m=2's only value is missing: no point
            "pdm_risk,machine=m\\ 1,model=fleet score=0.125,alarm=true,version=3i 1740787260000\n"
            "pdm_alert,machine=m\\ 1,kind=failure_risk,severity=critical "
            "id=7i,state=\"acknowledged\",score=0.9 1740787260000\n");
  // Risks and alerts only.
  EXPECT_EQ(EncodeLineProtocol(batch, /*readings=*/false).rfind("pdm_risk", 0), 0u);
}

TEST(LineProtocolTest, QuotesAndBackslashesInStrings) {
  Batch batch;
  store::AlertRow alert;
  alert.machine = "a\\b";
  alert.kind = "drift";
  alert.severity = "warning";
  alert.state = "say \"hi\"";
  batch.alerts = {alert};
  EXPECT_THAT(EncodeLineProtocol(batch, true), ::testing::HasSubstr("state=\"say \\\"hi\\\"\""));
}

TEST(SinkOptionsTest, RefusesUrlsItCannotWriteTo) {
  InfluxSinkOptions influx;
  influx.url = "udp://x:8089";
  EXPECT_THAT(std::string(ValidateInfluxOptions(influx).message()),
              ::testing::HasSubstr("expected http://host:8086"));
  RedisSinkOptions redis;
  for (const char* bad : {"http://x", "redis://", "redis://x:0", "redis://x:1/y"}) {
    redis.url = bad;
    EXPECT_FALSE(ValidateRedisOptions(redis).ok()) << bad;
  }
  redis.url = "redis://127.0.0.1:6379/2";
  EXPECT_TRUE(ValidateRedisOptions(redis).ok());
}

}  // namespace
}  // namespace pdm::sink
