#include "model/flat_trees.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "features/batch_builder.h"
#include "features/dataset.h"
#include "model/bundle.h"
#include "model/learner.h"
#include "spec/dataset_spec.h"
#include "tests/testing/test_paths.h"

namespace pdm::model {
namespace {

// Rows with a nonlinear target, 10% missing values and a constant column.
LearningData Data(Task task, size_t rows, DenseMatrix* x, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> normal;
  std::uniform_real_distribution<float> uniform(0, 1);
  x->rows = rows;
  x->cols = 6;
  x->values.resize(rows * x->cols);
  LearningData data;
  data.x = x;
  for (size_t r = 0; r < rows; ++r) {
    float* row = x->values.data() + r * x->cols;
    for (size_t c = 0; c < x->cols; ++c) row[c] = normal(rng);
    row[5] = 1.0f;
    const float signal = row[0] * row[1] + std::sin(3 * row[2]) + 0.5f * row[3];
    for (size_t c = 0; c < 4; ++c) {
      if (uniform(rng) < 0.1f) row[c] = std::nanf("");
    }
    data.target.push_back(task == Task::kClassify
                              ? (signal + 0.3f * normal(rng) > 0.8f ? 1.0f : 0.0f)
                              : 100.0f + 40.0f * signal);
  }
  return data;
}

class FlatTreesTest : public ::testing::TestWithParam<std::tuple<LearnerKind, Task>> {};

TEST_P(FlatTreesTest, MarginsEqualXgboostOnEveryRow) {
  const auto [kind, task] = GetParam();
  DenseMatrix x;
  const LearningData data = Data(task, 3000, &x, 7);
  std::vector<uint32_t> train, valid;
  for (uint32_t r = 0; r < 3000; ++r) (r % 5 == 0 ? valid : train).push_back(r);
  FitOptions options;
  options.task = task;
  options.seed = 3;
  options.threads = 1;
  auto fitted = FitLearner(DefaultParams(kind, train.size(), x.cols), data, train, valid, options);
  ASSERT_TRUE(fitted.ok()) << fitted.status();
  auto json = fitted->booster.ToJson();
  ASSERT_TRUE(json.ok());
  auto flat = FlatTrees::FromXgboostJson(*json);
  ASSERT_TRUE(flat.ok()) << flat.status();
  EXPECT_EQ(flat->features(), x.cols);
  EXPECT_GT(flat->trees(), 0u);

  auto matrix = DMatrix::Create(x, {}, {}, 1);
  ASSERT_TRUE(matrix.ok());
  auto expected = fitted->booster.Predict(
      *matrix, task == Task::kClassify ? PredictKind::kMargin : PredictKind::kValue);
  ASSERT_TRUE(expected.ok()) << expected.status();
  std::vector<float> margins(x.rows);
  flat->Margins(x.values.data(), x.rows, margins.data());
  double worst = 0;
  for (size_t r = 0; r < x.rows; ++r) {
    const double diff = std::fabs(static_cast<double>(margins[r]) - (*expected)[r]);
    worst = std::max(worst, diff / std::max(1.0, std::fabs(static_cast<double>((*expected)[r]))));
    ASSERT_LE(diff, 1e-6 * std::max(1.0, std::fabs(static_cast<double>((*expected)[r]))))
        << "row " << r << ": flat " << margins[r] << ", XGBoost " << (*expected)[r];
    // The single-row path (trees walked four at a time) gives the batch path's float exactly.
    ASSERT_EQ(flat->Margin(x.row(r)), margins[r]) << "row " << r;
  }
  RecordProperty("worst_relative_difference", std::to_string(worst));
}

INSTANTIATE_TEST_SUITE_P(EveryLearner, FlatTreesTest,
                         ::testing::Combine(::testing::Values(LearnerKind::kRf, LearnerKind::kGbm,
                                                              LearnerKind::kXgb),
                                            ::testing::Values(Task::kClassify, Task::kRul)),
                         [](const auto& info) {
                           return std::string(LearnerName(std::get<0>(info.param))) + "_" +
                                  TaskName(std::get<1>(info.param));
                         });

// The same check on real data: every AI4I 2020 row (its feature table as pdm train builds it),
// every member trained with its defaults on the first 8,000 rows.
TEST(FlatTreesModelTest, EqualsXgboostOnEveryAi4iRow) {
  auto spec = spec::LoadDatasetSpec(pdm::testing::SourceDir() / "specs" / "ai4i2020.yaml");
  ASSERT_TRUE(spec.ok()) << spec.status();
  auto pipeline = features::FeaturePipeline::Create(*spec);
  ASSERT_TRUE(pipeline.ok()) << pipeline.status();
  features::LoadOptions load;
  load.threads = 1;
  auto data = features::LoadDataset(*spec, *pipeline, load);
  ASSERT_TRUE(data.ok()) << data.status();
  const features::BatchFeatureBuilder builder(&*pipeline, spec->labels, 1);
  auto table = features::BuildFeatureTable(builder, *pipeline, *data);
  ASSERT_TRUE(table.ok()) << table.status();
  auto rows = TrainingRows(*table, Task::kClassify, false);
  ASSERT_TRUE(rows.ok()) << rows.status();
  ASSERT_EQ(rows->x.rows, 10000u);
  LearningData learning;
  learning.x = &rows->x;
  learning.target.assign(rows->target.begin(), rows->target.end());
  std::vector<uint32_t> train, valid;
  for (uint32_t r = 0; r < 8000; ++r) (r % 8 == 0 ? valid : train).push_back(r);
  auto matrix = DMatrix::Create(rows->x, {}, {}, 1);
  ASSERT_TRUE(matrix.ok());
  for (LearnerKind kind : {LearnerKind::kRf, LearnerKind::kGbm, LearnerKind::kXgb}) {
    FitOptions options;
    options.threads = 1;
    auto fitted = FitLearner(DefaultParams(kind, train.size(), rows->x.cols), learning, train,
                             valid, options);
    ASSERT_TRUE(fitted.ok()) << fitted.status();
    auto flat = FlatTrees::FromXgboostJson(*fitted->booster.ToJson());
    ASSERT_TRUE(flat.ok()) << flat.status();
    auto expected = fitted->booster.Predict(*matrix, PredictKind::kMargin);
    ASSERT_TRUE(expected.ok());
    for (size_t r = 0; r < rows->x.rows; ++r) {
      const double want = (*expected)[r];
      ASSERT_NEAR(flat->Margin(rows->x.row(r)), want, 1e-6 * std::max(1.0, std::fabs(want)))
          << LearnerName(kind) << " row " << r;
    }
  }
}

TEST(FlatTreesModelTest, RefusesWhatItCannotEvaluate) {
  EXPECT_EQ(FlatTrees::FromXgboostJson("not json").status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(FlatTrees::FromXgboostJson(R"({"learner": {}})").status().code(),
            absl::StatusCode::kInvalidArgument);
  const std::string multiclass = R"({"learner": {"objective": {"name": "multi:softprob"},
      "learner_model_param": {"base_score": "5E-1", "num_class": "3", "num_feature": "2"},
      "gradient_booster": {"name": "gbtree", "model": {"trees": []}}}})";
  EXPECT_EQ(FlatTrees::FromXgboostJson(multiclass).status().code(),
            absl::StatusCode::kUnimplemented);
  const std::string bad_child = R"({"learner": {"objective": {"name": "binary:logistic"},
      "learner_model_param": {"base_score": "5E-1", "num_feature": "2"},
      "gradient_booster": {"name": "gbtree", "model": {"trees": [{"left_children": [5, -1, -1],
      "right_children": [2, -1, -1], "split_indices": [0, 0, 0], "split_conditions": [0.5, 1, 2],
      "default_left": [0, 0, 0], "split_type": [0, 0, 0]}]}}}})";
  EXPECT_EQ(FlatTrees::FromXgboostJson(bad_child).status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace pdm::model
