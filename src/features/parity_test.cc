// Batch and online feature computation agree; features never look into the future.
#include <gtest/gtest.h>

#include <cmath>
#include <memory>
#include <random>

#include "features/batch_builder.h"
#include "features/online_state.h"
#include "features/test_fixtures.h"

namespace pdm::features {
namespace {

bool Same(double batch, double online) {
  if (std::isnan(batch) || std::isnan(online)) return std::isnan(batch) && std::isnan(online);
  return std::abs(batch - online) <= std::max(1e-12, 1e-9 * std::abs(batch));
}

struct Arrival {
  double time;
  uint32_t entity;
  bool is_event;
  size_t index;  // reading row or event index
};

// Every reading and event of the fleet in global time order, entities interleaved; events at
// the time of a reading come before it, as the batch builder applies them.
std::vector<Arrival> Interleave(const LoadedDataset& data) {
  std::vector<Arrival> arrivals;
  for (uint32_t e = 0; e < data.entities.size(); ++e) {
    const EntityHistory& h = data.entities[e];
    for (size_t i = 0; i < h.rows(); ++i) arrivals.push_back({h.time[i], e, false, i});
    for (size_t k = 0; k < h.events.size(); ++k) {
      if (h.events[k].time <= h.time.back()) arrivals.push_back({h.events[k].time, e, true, k});
    }
  }
  std::stable_sort(arrivals.begin(), arrivals.end(), [](const Arrival& a, const Arrival& b) {
    if (a.time != b.time) return a.time < b.time;
    return a.is_event && !b.is_event;
  });
  return arrivals;
}

// (seed, compact): compact online states (the server's) on readings rounded to a few decimals,
// which they keep as decimal mantissas, must agree with the batch's doubles too.
class ParityTest : public ::testing::TestWithParam<std::tuple<uint64_t, bool>> {};

TEST_P(ParityTest, OnlineStateFedReadingByReadingEqualsBatch) {
  const auto [seed, compact] = GetParam();
  const spec::DatasetSpec spec = testing::FleetSpec();
  absl::StatusOr<FeaturePipeline> pipeline = FeaturePipeline::Create(spec);
  ASSERT_TRUE(pipeline.ok()) << pipeline.status();
  const LoadedDataset data = testing::RandomFleet(seed, 4, 600, compact ? 1 : -1);
  ASSERT_TRUE(FitPipeline(data, &*pipeline).ok());
  ASSERT_GE(pipeline->regimes()->centres.size(), 2u);

  const BatchFeatureBuilder builder(&*pipeline, spec.labels, 2);
  absl::StatusOr<FeatureTable> batch = BuildFeatureTable(builder, *pipeline, data);
  ASSERT_TRUE(batch.ok()) << batch.status();
  const size_t width = pipeline->feature_count();
  std::vector<size_t> row_of_entity(data.entities.size(), 0);
  for (size_t e = 1; e < data.entities.size(); ++e) {
    row_of_entity[e] = row_of_entity[e - 1] + data.entities[e - 1].rows();
  }

  std::vector<std::unique_ptr<OnlineFeatureState>> states;
  for (const EntityHistory& h : data.entities) {
    states.push_back(std::make_unique<OnlineFeatureState>(&*pipeline, h.statics, compact));
  }
  std::mt19937_64 rng(seed);
  std::vector<double> out(width);
  int64_t compared = 0, refused = 0, restored = 0;
  const std::vector<Arrival> arrivals = Interleave(data);
  for (size_t a = 0; a < arrivals.size(); ++a) {
    const Arrival& arrival = arrivals[a];
    const EntityHistory& h = data.entities[arrival.entity];
    OnlineFeatureState& state = *states[arrival.entity];
    if (arrival.is_event) {
      ASSERT_TRUE(state.AddEvent(h.events[arrival.index]).ok());
      continue;
    }
    const size_t i = arrival.index;
    const size_t nw = pipeline->layout().numeric.size(), cw = pipeline->layout().categorical.size();
    auto reading_at = [&](size_t row) {
      return Reading{h.time[row], std::span<const double>(h.numeric).subspan(row * nw, nw),
                     std::span<const int32_t>(h.categorical).subspan(row * cw, cw)};
    };
    ASSERT_TRUE(state.Update(reading_at(i), out).ok());
    const double* expected = &batch->features[(row_of_entity[arrival.entity] + i) * width];
    for (size_t f = 0; f < width; ++f) {
      ASSERT_TRUE(Same(expected[f], out[f]))
          << "entity " << arrival.entity << " row " << i << " feature "
          << pipeline->feature_names()[f] << ": batch " << expected[f] << " online " << out[f];
    }
    ++compared;
    // A delivery repeated: a reading already applied comes again and is refused as a duplicate
    // (the last one always; an earlier one while the windows hold its time, else as out of
    // order), changing nothing (the comparisons that follow would catch a change).
    if (rng() % 13 == 0) {
      const size_t earlier = i - std::min<size_t>(i, rng() % 3);
      std::vector<double> scratch(width);
      const absl::Status late = state.Update(reading_at(earlier), scratch);
      if (earlier == i) {
        EXPECT_EQ(late.code(), absl::StatusCode::kAlreadyExists) << late;
      } else {
        EXPECT_TRUE(late.code() == absl::StatusCode::kAlreadyExists ||
                    late.code() == absl::StatusCode::kFailedPrecondition)
            << late;
      }
      ++refused;
      // A late event is refused too.
      EXPECT_FALSE(state.AddEvent({h.time[i] - 1, EventType::kError, 0}).ok());
    }
    // A restart: the state survives through its snapshot.
    if (rng() % 97 == 0) {
      const std::string bytes = state.Serialize();
      absl::StatusOr<OnlineFeatureState> back =
          OnlineFeatureState::Deserialize(&*pipeline, bytes, compact);
      ASSERT_TRUE(back.ok()) << back.status();
      *states[arrival.entity] = std::move(*back);
      ++restored;
    }
  }
  EXPECT_EQ(compared, data.rows);
  EXPECT_GT(refused, 0);
  EXPECT_GT(restored, 0);
}

INSTANTIATE_TEST_SUITE_P(RandomHistories, ParityTest,
                         ::testing::Combine(::testing::Values(1, 2, 3, 4, 5, 6),
                                            ::testing::Bool()));

TEST(PointInTimeTest, FeaturesAtTimeTIgnoreEverythingAfterT) {
  const spec::DatasetSpec spec = testing::FleetSpec();
  absl::StatusOr<FeaturePipeline> pipeline = FeaturePipeline::Create(spec);
  ASSERT_TRUE(pipeline.ok());
  LoadedDataset data = testing::RandomFleet(42, 3, 500);
  ASSERT_TRUE(FitPipeline(data, &*pipeline).ok());  // fitted once: the model's pipeline
  const BatchFeatureBuilder builder(&*pipeline, spec.labels, 2);
  absl::StatusOr<FeatureTable> before = BuildFeatureTable(builder, *pipeline, data);
  ASSERT_TRUE(before.ok());

  // Perturb every reading and event after a cut-off, add and drop events after it.
  std::mt19937_64 rng(9);
  std::vector<double> cut(data.entities.size());
  std::vector<size_t> kept_rows(data.entities.size());
  for (size_t e = 0; e < data.entities.size(); ++e) {
    EntityHistory& h = data.entities[e];
    const size_t keep = h.rows() / 2 + e * 37;
    cut[e] = h.time[keep - 1];
    kept_rows[e] = keep;
    const size_t nw = h.numeric.size() / h.rows();
    for (size_t i = keep; i < h.rows(); ++i) {
      for (size_t c = 0; c < nw; ++c) h.numeric[i * nw + c] = static_cast<double>(rng() % 1000);
    }
    std::vector<Event> events;
    for (const Event& ev : h.events) {
      if (ev.time <= cut[e]) events.push_back(ev);
    }
    for (int k = 0; k < 20; ++k) {
      const double when = cut[e] + 1 + static_cast<double>(rng() % 100000);
      events.push_back({when, static_cast<EventType>(rng() % 3), static_cast<int32_t>(rng() % 2)});
    }
    std::sort(events.begin(), events.end(),
              [](const Event& a, const Event& b) { return a.time < b.time; });
    h.events = events;
  }
  absl::StatusOr<FeatureTable> after = BuildFeatureTable(builder, *pipeline, data);
  ASSERT_TRUE(after.ok());
  const size_t width = pipeline->feature_count();
  size_t row = 0;
  int64_t checked = 0, changed_after = 0;
  for (size_t e = 0; e < data.entities.size(); ++e) {
    for (size_t i = 0; i < data.entities[e].rows(); ++i, ++row) {
      for (size_t f = 0; f < width; ++f) {
        const double x = before->features[row * width + f], y = after->features[row * width + f];
        const bool same = (std::isnan(x) && std::isnan(y)) || x == y;
        if (i < kept_rows[e]) {
          ASSERT_TRUE(same) << "entity " << e << " row " << i << " (at or before the cut) feature "
                            << pipeline->feature_names()[f] << " changed: " << x << " -> " << y;
          ++checked;
        } else {
          changed_after += same ? 0 : 1;
        }
      }
    }
  }
  EXPECT_GT(checked, 0);
  EXPECT_GT(changed_after, 0);  // the perturbation was real
}

}  // namespace
}  // namespace pdm::features
