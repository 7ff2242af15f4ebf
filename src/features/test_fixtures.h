// Specs and histories shared by the feature tests.
#ifndef PDM_FEATURES_TEST_FIXTURES_H_
#define PDM_FEATURES_TEST_FIXTURES_H_

#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "core/strings.h"
#include "features/dataset.h"
#include "features/pipeline.h"
#include "spec/dataset_spec.h"

namespace pdm::features::testing {

// A fleet with timestamps, two sensors and one setting, every event table, a machines table,
// and every feature kind switched on.
inline constexpr char kFleetSpec[] = R"(
name: fleet
data: {file: data.csv}
entity: machine
time: {column: ts, type: timestamp}
settings:
  - {name: load, range: [0, 100]}
sensors:
  - {name: temp, range: [-40, 200]}
  - {name: vib, range: [0, 100]}
categoricals:
  - {name: mode, values: [idle, run]}
labels:
  source: events
  horizon: 24h
  rul_clip: 30d
events:
  failures: {file: failures.csv, entity: machine, time: ts, kind: mode, kinds: [bearing, seal]}
  maintenance: {file: maintenance.csv, entity: machine, time: ts, kind: component, kinds: [bearing, seal]}
  errors: {file: errors.csv, entity: machine, time: ts, kind: code, kinds: [E1, E2]}
machines:
  file: machines.csv
  entity: machine
  categoricals: [{name: model, values: [A, B]}]
  attributes: [{name: rated_kw}]
features:
  windows: [3h, 24h, 5r]
  stats: [mean, std, min, max, last, slope, ewma, range, delta, count]
  baseline: 7d
  events: {windows: [24h]}
  regimes: {settings: [load], max: 4, min_separation: 0.05}
  reset_on_maintenance: {bearing: [vib]}
)";

inline spec::DatasetSpec FleetSpec() {
  absl::StatusOr<spec::DatasetSpec> spec = spec::ParseDatasetSpec(kFleetSpec, "/tmp/fleet.yaml");
  if (!spec.ok()) std::abort();
  return *spec;
}

// Random histories: irregular sampling with gaps, missing (refused) values, two load regimes,
// maintenance (with resets), failures and error events. With `decimals` >= 0 the readings are
// rounded as sensors report them: vibration to `decimals` digits, temperature to `decimals` at
// first and more digits later (up to decimals + 2), and machine 0 sends one full-precision
// vibration half-way (the compact value rings widen, then fall back to doubles: ValueRows).
inline LoadedDataset RandomFleet(uint64_t seed, int machines, int readings, int decimals = -1) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> unit(0, 1);
  LoadedDataset data;
  for (int m = 0; m < machines; ++m) {
    EntityHistory h;
    h.name = core::StrCat("M", m);
    double t = 1.75e9 + 600.0 * m;
    double wear = 0;
    for (int i = 0; i < readings; ++i) {
      const double u = unit(rng);
      t += u < 0.9 ? 3600 : (u < 0.97 ? 60 : 86400 * 2 * unit(rng) + 1);
      const double load = (i / 50) % 2 == 0 ? 40 + unit(rng) : 80 + unit(rng);
      wear += unit(rng) * 0.1;
      double temp = 20 + load * 0.5 + wear + unit(rng);
      double vib = 1 + wear * 0.2 + unit(rng) * 0.3;
      if (decimals >= 0) {
        const auto round_to = [](double v, int digits) {
          const double scale = std::pow(10.0, digits);
          return std::round(v * scale) / scale;
        };
        temp = round_to(temp, decimals + std::min(2, 3 * i / readings));
        if (!(m == 0 && i == readings / 2)) vib = round_to(vib, decimals);
      }
      if (unit(rng) < 0.05) temp = std::nan("");
      if (unit(rng) < 0.05) vib = std::nan("");
      h.time.push_back(t);
      h.numeric.insert(h.numeric.end(), {temp, vib, unit(rng) < 0.02 ? std::nan("") : load});
      h.categorical.push_back(unit(rng) < 0.1 ? -1 : static_cast<int32_t>(i % 2));
      if (unit(rng) < 0.03) {
        h.events.push_back(
            {t + 1 + unit(rng) * 1000, EventType::kError, static_cast<int32_t>(i % 3) - 1});
      }
      if (unit(rng) < 0.01) {
        const double when = t + 1800;
        h.events.push_back({when, EventType::kFailure, static_cast<int32_t>(i % 2)});
        h.all_failures.push_back(when);
        h.label_failures.push_back(when);
        h.events.push_back({when + 3600 * 5, EventType::kMaintenance, 0});
        h.repairs.push_back(when + 3600 * 5);
        wear = 0;
      } else if (unit(rng) < 0.01) {
        h.events.push_back({t + 60, EventType::kMaintenance, static_cast<int32_t>(i % 2)});
        h.repairs.push_back(t + 60);
      }
    }
    h.end_time = h.time.back();
    std::sort(h.events.begin(), h.events.end(),
              [](const Event& a, const Event& b) { return a.time < b.time; });
    h.statics.numeric = {10.0 + m};
    h.statics.categorical = {m % 2};
    data.rows += static_cast<int64_t>(h.rows());
    data.entities.push_back(std::move(h));
  }
  return data;
}

}  // namespace pdm::features::testing

#endif  // PDM_FEATURES_TEST_FIXTURES_H_
