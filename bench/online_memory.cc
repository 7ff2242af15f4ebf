// Memory of the online feature state at fleet scale (issue 6: RSS with 10,000 machines' online
// state < 200 MB): N OnlineFeatureStates (8 sensors, windows 3h / 24h / 7d, 6 statistics = 144
// features), each fed hourly readings until its 7-day windows are full, then the process's
// resident set before and after, and the serialised size of one state.
// `decimals` rounds the readings to that many digits after the point, as sensors report them
// (-1: full double precision, the worst case for the value rows: see ValueRows).
// `compact` keeps the values as the server does (OnlineFeatureState's compact_values).
//   build/release/bench/online_memory [machines=10000] [hours=200] [decimals=-1] [compact]
#include <malloc.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "bench/eight_sensor_spec.h"
#include "features/online_state.h"
#include "features/pipeline.h"
#include "spec/dataset_spec.h"

namespace {

double ResidentMegabytes() {
  std::ifstream statm("/proc/self/statm");
  long pages = 0, resident = 0;
  statm >> pages >> resident;
  return static_cast<double>(resident) * static_cast<double>(::sysconf(_SC_PAGESIZE)) / 1048576.0;
}

}  // namespace

int main(int argc, char** argv) {
  const size_t machines = argc > 1 ? std::strtoul(argv[1], nullptr, 10) : 10'000;
  const size_t hours = argc > 2 ? std::strtoul(argv[2], nullptr, 10) : 200;
  const int decimals = argc > 3 ? std::atoi(argv[3]) : -1;
  const bool compact = argc > 4 && std::string_view(argv[4]) == "compact";
  const double scale = decimals >= 0 ? std::pow(10.0, decimals) : 0;
  auto spec = pdm::spec::ParseDatasetSpec(kEightSensorSpec, "/tmp/fleet.yaml");
  auto pipeline = pdm::features::FeaturePipeline::Create(*spec);
  if (!spec.ok() || !pipeline.ok()) return 1;
  std::vector<double> out(pipeline->feature_count());
  const double before = ResidentMegabytes();
  const size_t heap_before = ::mallinfo2().uordblks;
  std::vector<pdm::features::OnlineFeatureState> states;
  states.reserve(machines);
  std::mt19937_64 rng(1);
  std::normal_distribution<double> noise(0, 1);
  double values[8];
  for (size_t m = 0; m < machines; ++m) {
    states.emplace_back(&*pipeline, pdm::features::EntityStatic{}, compact);
    for (size_t h = 0; h < hours; ++h) {
      for (double& v : values) {
        v = 50 + noise(rng);
        if (decimals >= 0) v = std::round(v * scale) / scale;
      }
      const pdm::features::Reading reading{1.7e9 + 3600.0 * static_cast<double>(h), values, {}};
      if (!states.back().Update(reading, out).ok()) return 1;
    }
  }
  const double after = ResidentMegabytes();
  const size_t heap = ::mallinfo2().uordblks - heap_before;
  std::printf(
      "machines %zu, hours each %zu, features %zu, readings with %s%s\n", machines, hours,
      out.size(),
      (decimals >= 0 ? std::to_string(decimals) + " decimals" : std::string("full precision"))
          .c_str(),
      compact ? ", compact values" : "");
  std::printf(
      "resident set: %.1f MB before the states, %.1f MB after: %.1f MB for the states "
      "(%.1f KB per machine)\n",
      before, after, after - before, (after - before) * 1024.0 / static_cast<double>(machines));
  std::printf("heap in use by the states: %.1f MB (%.1f KB per machine), sizeof(state) %zu\n",
              static_cast<double>(heap) / 1048576.0,
              static_cast<double>(heap) / 1024.0 / static_cast<double>(machines),
              sizeof(pdm::features::OnlineFeatureState));
  std::printf("serialised state of one machine: %zu bytes\n", states.front().Serialize().size());
  return 0;
}
