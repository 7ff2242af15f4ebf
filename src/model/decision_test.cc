#include "model/decision.h"

#include <cmath>
#include <random>

#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

namespace pdm::model {
namespace {

TEST(DecisionTest, LogisticRecoversCoefficients) {
  std::mt19937_64 rng(7);
  std::normal_distribution<double> normal;
  std::uniform_real_distribution<double> u(0, 1);
  const size_t n = 20000;
  std::vector<double> x(n * 2), y(n);
  for (size_t i = 0; i < n; ++i) {
    x[2 * i] = normal(rng);
    x[2 * i + 1] = normal(rng);
    const double p = 1 / (1 + std::exp(-(0.5 + 2 * x[2 * i] - 1 * x[2 * i + 1])));
    y[i] = u(rng) < p;
  }
  const LogisticFit free = FitLogistic(x, 2, y, false);
  EXPECT_NEAR(free.coef[0], 2, 0.1);
  EXPECT_NEAR(free.coef[1], -1, 0.1);
  EXPECT_NEAR(free.intercept, 0.5, 0.1);
  // Non-negative: the negative coefficient is fixed at zero.
  const LogisticFit nonneg = FitLogistic(x, 2, y, true);
  EXPECT_EQ(nonneg.coef[1], 0);
  EXPECT_GT(nonneg.coef[0], 1);
}

TEST(DecisionTest, PlattAndIsotonicAreMonotoneAndCalibrated) {
  std::mt19937_64 rng(3);
  std::normal_distribution<double> normal;
  std::uniform_real_distribution<double> u(0, 1);
  std::vector<double> margin(20000), label(20000);
  for (size_t i = 0; i < margin.size(); ++i) {
    margin[i] = normal(rng) * 2;
    label[i] = u(rng) < 1 / (1 + std::exp(-(margin[i] / 2 - 1)));  // true a=0.5, b=-1
  }
  const Calibration platt = FitCalibration(CalibrationKind::kPlatt, margin, label);
  EXPECT_NEAR(platt.a, 0.5, 0.05);
  EXPECT_NEAR(platt.b, -1, 0.07);
  const Calibration iso = FitCalibration(CalibrationKind::kIsotonic, margin, label);
  double previous = -1;
  for (double z = -8; z <= 8; z += 0.01) {
    const double p = iso.Apply(z);
    EXPECT_GE(p, previous);
    EXPECT_GE(p, 0);
    EXPECT_LE(p, 1);
    previous = p;
  }
  EXPECT_NEAR(iso.Apply(2), 0.5, 0.06);  // sigmoid(0.5 * 2 - 1) = 0.5
  // Both survive a JSON round trip.
  for (const Calibration& c : {platt, iso}) {
    auto back = Calibration::FromJson(c.ToJson());
    ASSERT_TRUE(back.ok()) << back.status();
    EXPECT_DOUBLE_EQ(back->Apply(0.7), c.Apply(0.7));
  }
  EXPECT_FALSE(Calibration::FromJson(nlohmann::json{{"kind", "magic"}}).ok());
}

TEST(DecisionTest, ThresholdMaximisesF1OrMinimisesCost) {
  const std::vector<double> p = {0.95, 0.9, 0.7, 0.6, 0.4, 0.3, 0.2, 0.1};
  const std::vector<double> y = {1, 1, 0, 1, 0, 0, 0, 0};
  // F1: alarming the top 4 gives tp 3, fp 1 (F1 0.857) and beats the top 2 (F1 0.8).
  const double f1 = ChooseThreshold(p, y, std::nullopt);
  EXPECT_GT(f1, 0.4);
  EXPECT_LE(f1, 0.6);
  // A false alarm costing far more than a miss: alarm only where it is sure.
  const double strict = ChooseThreshold(p, y, Costs{1, 100});
  EXPECT_GT(strict, 0.7);
  EXPECT_LE(strict, 0.9);
  // A miss costing far more: alarm on everything positive-looking down to the last positive.
  const double eager = ChooseThreshold(p, y, Costs{100, 1});
  EXPECT_LE(eager, 0.6);
  EXPECT_GT(eager, 0.4);
}

}  // namespace
}  // namespace pdm::model
