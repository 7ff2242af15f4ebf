// The feature workload of the feature benchmarks: hourly readings of 8 sensors, windows 3h / 24h /
// 7d, 6 statistics each = 144 features.
#ifndef PDM_BENCH_EIGHT_SENSOR_SPEC_H_
#define PDM_BENCH_EIGHT_SENSOR_SPEC_H_

inline constexpr char kEightSensorSpec[] = R"(
name: bench
data: {file: t.csv}
entity: machine
time: {column: ts, type: timestamp}
sensors: [s1, s2, s3, s4, s5, s6, s7, s8]
features:
  windows: [3h, 24h, 7d]
  stats: [mean, std, min, max, count, slope]
  raw: false
  events: {time_since: false}
)";

#endif  // PDM_BENCH_EIGHT_SENSOR_SPEC_H_
