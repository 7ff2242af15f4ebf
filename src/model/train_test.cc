#include "model/train.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <numeric>
#include <random>

#include "gtest/gtest.h"
#include "tests/testing/test_paths.h"

namespace pdm::model {
namespace {

// 40 machines; failure risk rises with x0 * x1 (an interaction) and x2; x3 is noise; some values
// are missing.
TrainingTable Synthetic(Task task, uint64_t seed, size_t rows_per_entity = 60) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> normal;
  std::uniform_real_distribution<double> u(0, 1);
  TrainingTable t;
  t.feature_names = {"x0", "x1", "x2", "noise"};
  t.x.cols = 4;
  for (uint32_t e = 0; e < 40; ++e) {
    for (size_t r = 0; r < rows_per_entity; ++r) {
      double v[4];
      for (double& value : v) value = normal(rng);
      const double signal = 1.5 * v[0] * v[1] + 1.2 * v[2] - 2.5;
      for (double value : v) t.x.values.push_back(static_cast<float>(value));
      if (u(rng) < 0.02) t.x.values[t.x.values.size() - 1] = NAN;
      if (task == Task::kClassify) {
        t.target.push_back(u(rng) < 1 / (1 + std::exp(-2 * signal)));
      } else if (task == Task::kMode) {
        // A failure as above; its mode is 1 when the interaction drove it, 2 when x2 did.
        const bool failed = u(rng) < 1 / (1 + std::exp(-2 * signal));
        t.target.push_back(!failed ? 0 : (1.5 * v[0] * v[1] > 1.2 * v[2] ? 1 : 2));
      } else {
        t.target.push_back(std::max(0.0, 60 - 15 * signal + normal(rng) * 3));
      }
      t.entity.push_back(e);
      t.time.push_back(static_cast<double>(r));
    }
  }
  t.x.rows = t.target.size();
  return t;
}

TrainOptions Fast(Task task) {
  TrainOptions o;
  o.task = task;
  o.folds = 3;
  o.threads = 1;  // ctest runs tests in parallel: OpenMP teams would fight over the cores
  o.seed = 11;
  return o;
}

TEST(TrainTest, ClassifierLearnsAndReportsHonestOutOfFoldMetrics) {
  const TrainingTable table = Synthetic(Task::kClassify, 1);
  auto result = Train(table, Fast(Task::kClassify));
  ASSERT_TRUE(result.ok()) << result.status();
  const TrainReport& r = result->report;
  EXPECT_EQ(r.cv, CvMode::kGroup);
  EXPECT_EQ(r.oof_score.size(), table.target.size());
  EXPECT_GT(r.ensemble.binary.roc_auc, 0.85);
  EXPECT_GT(r.ensemble.binary.f1, 0.4);
  ASSERT_EQ(r.members.size(), 3u);
  for (const MemberSummary& m : r.members) EXPECT_GT(m.oof.binary.roc_auc, 0.75);
  ASSERT_EQ(r.folds.size(), 3u);
  int64_t tested = 0;
  for (const FoldResult& f : r.folds) tested += f.test_rows;
  EXPECT_EQ(tested, static_cast<int64_t>(table.target.size()));
  const BinaryMetrics& b = r.ensemble.binary;
  EXPECT_EQ(b.tn + b.fp + b.fn + b.tp, static_cast<int64_t>(table.target.size()));
  // The interaction features matter, the noise feature least.
  ASSERT_EQ(r.importance.size(), 4u);
  EXPECT_LT(r.importance[3], r.importance[0]);
  EXPECT_LT(r.importance[3], r.importance[2]);
  EXPECT_TRUE(r.warnings.empty());
  // The combined margin is a weighted mean of the members' margins (no intercept), and the
  // out-of-fold areas rank rows by it, not by the per-fold calibrated probabilities.
  const Combiner& c = result->model.combiner;
  EXPECT_EQ(c.intercept, 0);
  EXPECT_NEAR(std::accumulate(c.weights.begin(), c.weights.end(), 0.0), 1.0, 1e-12);
  for (double w : c.weights) EXPECT_GE(w, 0);
  ASSERT_EQ(r.oof_rank.size(), table.target.size());
  EXPECT_EQ(r.ensemble.binary.roc_auc, RocAuc(r.oof_rank, r.oof_target));
}

TEST(TrainTest, ContributionsSumToTheEnsembleMargin) {
  const TrainingTable table = Synthetic(Task::kClassify, 2);
  auto result = Train(table, Fast(Task::kClassify));
  ASSERT_TRUE(result.ok()) << result.status();
  const DenseMatrix sample = table.x.Select({0, 5, 17, 300, 1200, 2399});
  auto predictions = result->model.Predict(sample, 1);
  auto explained = result->model.Explain(sample, 1);
  ASSERT_TRUE(predictions.ok() && explained.ok());
  for (size_t r = 0; r < sample.rows; ++r) {
    double sum = 0;
    for (size_t j = 0; j <= sample.cols; ++j) sum += explained->contributions[r * 5 + j];
    EXPECT_LT(std::abs(sum - (*predictions)[r].margin), 1e-4) << "row " << r;
  }
}

TEST(TrainTest, SameSeedGivesAByteIdenticalModelAndLoadPredictsTheSame) {
  const TrainingTable table = Synthetic(Task::kClassify, 3, 30);
  TrainOptions options = Fast(Task::kClassify);
  options.search = 3;
  auto a = Train(table, options);
  auto b = Train(table, options);
  ASSERT_TRUE(a.ok() && b.ok());
  const auto dir = testing::TempDir("train_determinism");
  ASSERT_TRUE(a->model.Save(dir / "a", "").ok());
  ASSERT_TRUE(b->model.Save(dir / "b", "").ok());
  for (const char* file : {"model.json", "rf.json", "gbm.json", "xgb.json"}) {
    EXPECT_EQ(testing::ReadFile(dir / "a" / file), testing::ReadFile(dir / "b" / file)) << file;
  }
  options.seed = 12;
  auto c = Train(table, options);
  ASSERT_TRUE(c.ok());
  ASSERT_TRUE(c->model.Save(dir / "c", "").ok());
  EXPECT_NE(testing::ReadFile(dir / "a" / "rf.json"), testing::ReadFile(dir / "c" / "rf.json"));

  auto loaded = Ensemble::Load(dir / "a");
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  // The loaded ensemble predicts through the flat trees, the trained one through XGBoost.
  for (const Member& m : loaded->members) EXPECT_NE(m.flat, nullptr);
  for (const Member& m : a->model.members) EXPECT_EQ(m.flat, nullptr);
  auto before = a->model.Predict(table.x, 1);
  auto after = loaded->Predict(table.x, 1);
  ASSERT_TRUE(before.ok() && after.ok());
  for (size_t r = 0; r < table.target.size(); ++r) {
    ASSERT_DOUBLE_EQ((*before)[r].probability, (*after)[r].probability) << r;
  }
}

// A member the combiner weighs 0 is not run by Predict, and the predictions are those of the
// full combination of every member's outputs.
TEST(TrainTest, PredictSkipsMembersOfWeightZeroWithTheSameResult) {
  const TrainingTable table = Synthetic(Task::kClassify, 5);
  auto result = Train(table, Fast(Task::kClassify));
  ASSERT_TRUE(result.ok()) << result.status();
  Ensemble& model = result->model;
  ASSERT_GE(model.members.size(), 2u);
  model.combiner.weights[0] = 0;
  const DenseMatrix sample = table.x.Select({0, 1, 2, 3, 50, 400});
  auto all = model.MemberOutputs(sample, 1);
  auto weighted = model.MemberOutputs(sample, 1, /*weighted_only=*/true);
  auto predicted = model.Predict(sample, 1);
  ASSERT_TRUE(all.ok() && weighted.ok() && predicted.ok());
  const size_t m = model.members.size();
  const std::vector<Prediction> expected =
      ApplyCombiner(model.task, model.combiner, *all, m, model.horizon, 1);
  for (size_t r = 0; r < sample.rows; ++r) {
    EXPECT_NE((*all)[r * m], 0.0) << r;       // member 0 has outputs,
    EXPECT_EQ((*weighted)[r * m], 0.0) << r;  // which were not computed,
    for (size_t j = 1; j < m; ++j) EXPECT_EQ((*weighted)[r * m + j], (*all)[r * m + j]);
    EXPECT_DOUBLE_EQ((*predicted)[r].probability, expected[r].probability) << r;
    EXPECT_EQ((*predicted)[r].alarm, expected[r].alarm) << r;
  }
}

TEST(TrainTest, ClassifierMembersAreStandardisedOnTheirOwnTrainingRows) {
  const TrainingTable table = Synthetic(Task::kClassify, 5);
  auto result = Train(table, Fast(Task::kClassify));
  ASSERT_TRUE(result.ok()) << result.status();
  const Ensemble& model = result->model;
  auto outputs = model.MemberOutputs(table.x, 1);
  ASSERT_TRUE(outputs.ok()) << outputs.status();
  const size_t m = model.members.size(), n = table.target.size();
  ASSERT_EQ(outputs->size(), n * m);
  // The final members were fitted on every row: their outputs there have mean 0 and sd 1.
  for (size_t j = 0; j < m; ++j) {
    double mean = 0, square = 0;
    for (size_t r = 0; r < n; ++r) mean += (*outputs)[r * m + j];
    mean /= static_cast<double>(n);
    for (size_t r = 0; r < n; ++r) square += std::pow((*outputs)[r * m + j] - mean, 2);
    EXPECT_NEAR(mean, 0, 1e-4) << LearnerName(model.members[j].kind);
    EXPECT_NEAR(std::sqrt(square / static_cast<double>(n)), 1, 1e-4);
    EXPECT_NE(model.members[j].scale, 1);
    // Boosting started from XGBoost's 0.5, whose hessians its regularisation defaults are
    // sized for, not from the prior (ADR 0012).
    auto saved = model.members[j].booster.ToJson();
    ASSERT_TRUE(saved.ok());
    EXPECT_NE(saved->find("\"base_score\":\"5E-1\""), std::string::npos);
  }
  // A saved model keeps them; a model whose scale is not positive is refused.
  const auto dir = testing::TempDir("train_standardised");
  ASSERT_TRUE(model.Save(dir, "").ok());
  auto loaded = Ensemble::Load(dir);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  for (size_t j = 0; j < m; ++j) {
    EXPECT_EQ(loaded->members[j].offset, model.members[j].offset);
    EXPECT_EQ(loaded->members[j].scale, model.members[j].scale);
  }
  std::string manifest = testing::ReadFile(dir / "model.json");
  const size_t at = manifest.find("\"scale\"");
  ASSERT_NE(at, std::string::npos);
  manifest.replace(at, manifest.find_first_of(",}\n", at) - at, "\"scale\": 0");
  testing::WriteFile(dir / "model.json", manifest);
  auto refused = Ensemble::Load(dir);
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.status().message().find("scale positive"), std::string::npos)
      << refused.status();
}

TEST(TrainTest, RegressionCombinesInValueSpaceAndScoresTheHorizon) {
  const TrainingTable table = Synthetic(Task::kRul, 4);
  TrainOptions options = Fast(Task::kRul);
  options.horizon = 60;  // about a tenth of the rows fall within it
  auto result = Train(table, options);
  ASSERT_TRUE(result.ok()) << result.status();
  const TrainReport& r = result->report;
  double mean = 0, var = 0;
  for (double y : table.target) mean += y;
  mean /= static_cast<double>(table.target.size());
  for (double y : table.target) var += (y - mean) * (y - mean);
  const double sd = std::sqrt(var / static_cast<double>(table.target.size()));
  EXPECT_LT(r.ensemble.regression.rmse, 0.6 * sd);
  ASSERT_TRUE(r.ensemble.within_horizon.has_value());
  EXPECT_GT(r.ensemble.within_horizon->f1, 0.7);
  double weight_sum = 0;
  for (double w : result->model.combiner.weights) {
    EXPECT_GE(w, 0);
    weight_sum += w;
  }
  EXPECT_NEAR(weight_sum, 1, 1e-12);
  // Values stay in the target's unit: RUL members are not standardised.
  for (const Member& m : result->model.members) {
    EXPECT_EQ(m.offset, 0);
    EXPECT_EQ(m.scale, 1);
  }
}

TEST(TrainTest, FailureModesAreLearnedAsClassesAndExplainedPerPredictedClass) {
  const TrainingTable table = Synthetic(Task::kMode, 7);
  TrainOptions options = Fast(Task::kMode);
  options.classes = {"none", "interaction", "x2"};
  auto result = Train(table, options);
  ASSERT_TRUE(result.ok()) << result.status();
  const TrainReport& r = result->report;
  ASSERT_TRUE(r.ensemble.multiclass.has_value());
  const MulticlassMetrics& m = *r.ensemble.multiclass;
  std::vector<int64_t> count(3, 0);
  for (double y : table.target) ++count[static_cast<size_t>(y)];
  ASSERT_GT(count[1], 50);
  ASSERT_GT(count[2], 50);
  const double majority = static_cast<double>(*std::max_element(count.begin(), count.end())) /
                          static_cast<double>(table.target.size());
  EXPECT_GT(m.accuracy, majority + 0.02);
  // The modes are told apart, not only failure from none: of the true failures predicted as a
  // failure, far more get their own mode than the other one.
  const int64_t right = m.confusion[1][1] + m.confusion[2][2];
  const int64_t swapped = m.confusion[1][2] + m.confusion[2][1];
  EXPECT_GT(right, 4 * swapped) << right << " right, " << swapped << " swapped";
  EXPECT_GT(m.classes[1].f1, 0.3);
  EXPECT_GT(m.classes[2].f1, 0.3);
  EXPECT_GT(r.ensemble.binary.roc_auc, 0.85);  // any failure: 1 - P(none)
  int64_t total = 0;
  for (size_t t = 0; t < 3; ++t) {
    EXPECT_EQ(m.classes[t].support, count[t]);
    for (int64_t v : m.confusion[t]) total += v;
  }
  EXPECT_EQ(total, static_cast<int64_t>(table.target.size()));

  const Ensemble& model = result->model;
  EXPECT_EQ(model.classes, options.classes);
  const DenseMatrix sample = table.x.Select({0, 5, 17, 300, 1200, 2399});
  auto predictions = model.Predict(sample, 1);
  auto outputs = model.MemberOutputs(sample, 1);
  auto explained = model.Explain(sample, 1);
  ASSERT_TRUE(predictions.ok() && outputs.ok() && explained.ok());
  const size_t members = model.members.size();
  for (size_t row = 0; row < sample.rows; ++row) {
    const Prediction& p = (*predictions)[row];
    ASSERT_EQ(p.mode_probability.size(), 3u);
    double sum = 0;
    for (double q : p.mode_probability) sum += q;
    EXPECT_NEAR(sum, 1, 1e-9);
    EXPECT_NEAR(p.probability, 1 - p.mode_probability[0], 1e-9);
    EXPECT_EQ(p.mode, std::max_element(p.mode_probability.begin(), p.mode_probability.end()) -
                          p.mode_probability.begin());
    // Contributions sum to the predicted class's combined raw margin.
    double margin = 0;
    for (size_t j = 0; j < members; ++j) {
      margin += model.combiner.weights[j] *
                (*outputs)[(row * members + j) * 3 + static_cast<size_t>(p.mode)];
    }
    double contributions = 0;
    for (size_t j = 0; j <= sample.cols; ++j)
      contributions += explained->contributions[row * 5 + j];
    EXPECT_LT(std::abs(contributions - margin), 1e-4) << "row " << row;
  }

  const auto dir = testing::TempDir("train_modes");
  ASSERT_TRUE(model.Save(dir, "").ok());
  auto loaded = Ensemble::Load(dir);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_EQ(loaded->task, Task::kMode);
  EXPECT_EQ(loaded->classes, options.classes);
  auto again = loaded->Predict(sample, 1);
  ASSERT_TRUE(again.ok());
  for (size_t row = 0; row < sample.rows; ++row) {
    EXPECT_EQ((*again)[row].mode, (*predictions)[row].mode);
    EXPECT_DOUBLE_EQ((*again)[row].probability, (*predictions)[row].probability);
  }
}

TEST(TrainTest, WarnsAboutAFeatureThatIsTheLabel) {
  TrainingTable table = Synthetic(Task::kClassify, 5, 20);
  table.feature_names.push_back("failure_copy");
  DenseMatrix x;
  x.cols = 5;
  x.rows = table.x.rows;
  for (size_t r = 0; r < x.rows; ++r) {
    for (size_t j = 0; j < 4; ++j) x.values.push_back(table.x.row(r)[j]);
    x.values.push_back(static_cast<float>(table.target[r]) * 3 + 1);
  }
  table.x = x;
  TrainOptions options = Fast(Task::kClassify);
  options.members = {LearnerKind::kXgb};
  auto result = Train(table, options);
  ASSERT_TRUE(result.ok()) << result.status();
  ASSERT_EQ(result->report.warnings.size(), 1u);
  EXPECT_NE(result->report.warnings[0].find("'failure_copy'"), std::string::npos);
}

TEST(TrainTest, RefusesOneClass) {
  TrainingTable table = Synthetic(Task::kClassify, 6, 10);
  for (double& y : table.target) y = 0;
  auto result = Train(table, Fast(Task::kClassify));
  ASSERT_FALSE(result.ok());
  EXPECT_NE(result.status().message().find("both classes"), std::string::npos);
}

}  // namespace
}  // namespace pdm::model
