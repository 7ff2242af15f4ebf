#include "model/learner.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <optional>

#include "core/status.h"
#include "core/strings.h"
#include "fmt/format.h"

namespace pdm::model {
namespace {

std::string Num(double v) { return fmt::format("{:.6g}", v); }

double LogUniform(std::mt19937_64& rng, double lo, double hi) {
  std::uniform_real_distribution<double> u(std::log(lo), std::log(hi));
  return std::exp(u(rng));
}
double Uniform(std::mt19937_64& rng, double lo, double hi) {
  std::uniform_real_distribution<double> u(lo, hi);
  return u(rng);
}
int Choice(std::mt19937_64& rng, std::initializer_list<int> values) {
  std::uniform_int_distribution<size_t> u(0, values.size() - 1);
  return *(values.begin() + u(rng));
}

}  // namespace

const char* TaskName(Task task) {
  switch (task) {
    case Task::kRul:
      return "rul";
    case Task::kMode:
      return "mode";
    case Task::kClassify:
      break;
  }
  return "classify";
}

absl::StatusOr<Task> ParseTask(const std::string& name) {
  if (name == "classify") return Task::kClassify;
  if (name == "rul") return Task::kRul;
  if (name == "mode") return Task::kMode;
  return absl::InvalidArgumentError(
      core::StrCat("task: expected classify, rul or mode, got '", name, "'"));
}

absl::StatusOr<LearnerKind> ParseLearnerKind(const std::string& name) {
  if (name == "rf") return LearnerKind::kRf;
  if (name == "gbm") return LearnerKind::kGbm;
  if (name == "xgb") return LearnerKind::kXgb;
  return absl::InvalidArgumentError(
      core::StrCat("models: expected rf, gbm or xgb, got '", name, "'"));
}

const char* LearnerName(LearnerKind kind) {
  switch (kind) {
    case LearnerKind::kRf:
      return "rf";
    case LearnerKind::kGbm:
      return "gbm";
    case LearnerKind::kXgb:
      break;
  }
  return "xgb";
}

LearnerParams DefaultParams(LearnerKind kind, size_t rows, size_t features) {
  LearnerParams p;
  switch (kind) {
    case LearnerKind::kRf: {
      // One round of 100 parallel trees on bootstrap-like row samples and sqrt(p) columns per
      // split: XGBoost's random-forest mode.
      const double columns = std::sqrt(static_cast<double>(features));
      p.xgb = {{"tree_method", "hist"},
               {"num_parallel_tree", "100"},
               {"learning_rate", "1"},
               {"subsample", "0.632"},
               {"colsample_bynode", Num(std::min(1.0, columns / static_cast<double>(features)))},
               {"max_depth", "8"},
               {"min_child_weight", "1"}};
      p.rounds = 1;
      break;
    }
    case LearnerKind::kGbm:
      // Friedman's gradient boosting: shallow trees, shrinkage, exact greedy splits, no penalty.
      // The leaf limit is on the hessian, p(1 - p) per row of a classifier: 0.1 lets a leaf hold
      // the few rows of a rare failure (1 would demand ~30 rows at p = 0.03), as scikit-learn's
      // one-sample leaves do.
      p.xgb = {{"tree_method", "exact"},
               {"max_depth", "3"},
               {"learning_rate", "0.1"},
               {"lambda", "0"},
               {"alpha", "0"},
               {"gamma", "0"},
               {"min_child_weight", "0.1"},
               {"subsample", "1"}};
      if (rows * features > kExactSplitCells) {
        p.xgb["tree_method"] = "hist";
        p.xgb["max_bin"] = "1024";
      }
      p.rounds = 100;
      break;
    case LearnerKind::kXgb:
      p.xgb = {{"tree_method", "hist"}, {"max_depth", "6"},          {"learning_rate", "0.05"},
               {"subsample", "0.8"},    {"colsample_bytree", "0.8"}, {"min_child_weight", "1"},
               {"lambda", "1"}};
      p.rounds = 1000;
      p.early_stopping = 30;
      break;
  }
  return p;
}

LearnerParams SampleParams(LearnerKind kind, size_t rows, size_t features, std::mt19937_64& rng) {
  LearnerParams p = DefaultParams(kind, rows, features);
  switch (kind) {
    case LearnerKind::kRf:
      p.xgb["max_depth"] = std::to_string(Choice(rng, {6, 8, 10, 12, 16}));
      p.xgb["colsample_bynode"] = Num(Uniform(rng, 0.1, 0.8));
      p.xgb["subsample"] = Num(Uniform(rng, 0.5, 0.9));
      p.xgb["min_child_weight"] = Num(LogUniform(rng, 0.5, 20));
      break;
    case LearnerKind::kGbm:
      p.xgb["max_depth"] = std::to_string(Choice(rng, {2, 3, 4, 5}));
      p.xgb["learning_rate"] = Num(LogUniform(rng, 0.03, 0.3));
      p.rounds = Choice(rng, {100, 150, 250, 400});
      break;
    case LearnerKind::kXgb:
      p.xgb["max_depth"] = std::to_string(Choice(rng, {3, 4, 5, 6, 8, 10}));
      p.xgb["learning_rate"] = Num(LogUniform(rng, 0.01, 0.2));
      p.xgb["subsample"] = Num(Uniform(rng, 0.5, 1.0));
      p.xgb["colsample_bytree"] = Num(Uniform(rng, 0.3, 1.0));
      p.xgb["min_child_weight"] = Num(LogUniform(rng, 0.5, 30));
      p.xgb["lambda"] = Num(LogUniform(rng, 0.1, 20));
      p.xgb["alpha"] = Num(LogUniform(rng, 1e-3, 5));
      break;
  }
  return p;
}

absl::StatusOr<DMatrix> MakeDMatrix(const LearningData& data, const std::vector<uint32_t>& rows,
                                    int threads) {
  const DenseMatrix x = data.x->Select(rows);
  std::vector<float> target(rows.size()), weight;
  for (size_t i = 0; i < rows.size(); ++i) target[i] = data.target[rows[i]];
  if (!data.weight.empty()) {
    weight.resize(rows.size());
    for (size_t i = 0; i < rows.size(); ++i) weight[i] = data.weight[rows[i]];
  }
  return DMatrix::Create(x, target, weight, threads);
}

absl::StatusOr<FittedLearner> FitLearner(const LearnerParams& params, const LearningData& data,
                                         const std::vector<uint32_t>& train,
                                         const std::vector<uint32_t>& valid,
                                         const FitOptions& options) {
  PDM_ASSIGN_OR_RETURN(DMatrix dtrain, MakeDMatrix(data, train, options.threads));
  std::optional<DMatrix> dvalid;
  if (!valid.empty()) {
    PDM_ASSIGN_OR_RETURN(dvalid, MakeDMatrix(data, valid, options.threads));
  }
  std::vector<const DMatrix*> cache = {&dtrain};
  if (dvalid) cache.push_back(&*dvalid);
  PDM_ASSIGN_OR_RETURN(Booster booster, Booster::Create(cache));

  const bool classify = options.task == Task::kClassify;
  PDM_RETURN_IF_ERROR(booster.SetParam("verbosity", "0"));
  if (options.task == Task::kMode) {
    if (options.classes < 2) return absl::InvalidArgumentError("mode: fewer than two classes");
    PDM_RETURN_IF_ERROR(booster.SetParam("objective", "multi:softprob"));
    PDM_RETURN_IF_ERROR(booster.SetParam("num_class", std::to_string(options.classes)));
    PDM_RETURN_IF_ERROR(booster.SetParam("eval_metric", "mlogloss"));
  } else {
    PDM_RETURN_IF_ERROR(
        booster.SetParam("objective", classify ? "binary:logistic" : "reg:squarederror"));
    PDM_RETURN_IF_ERROR(booster.SetParam("eval_metric", classify ? "logloss" : "rmse"));
  }
  PDM_RETURN_IF_ERROR(booster.SetParam("seed", std::to_string(options.seed % 2147483647)));
  PDM_RETURN_IF_ERROR(booster.SetParam("nthread", std::to_string(options.threads)));
  if (options.task == Task::kRul) {
    // A regressor starts from the (weighted) mean target. A classifier keeps XGBoost's 0.5:
    // L2 (`lambda`) and `min_child_weight` are sums of hessians, p(1 - p) per row, and XGBoost's
    // defaults are sized for p = 0.5. Starting a rare class at its prior (p = 0.01-0.03) makes
    // the same values 8-25 times stronger: leaves then need dozens of rows and their values
    // count failures rather than rate them. On a simulated fleet that cost every member a third
    // of its PR-AUC (ADR 0012).
    double sum = 0, weight_sum = 0;
    for (uint32_t r : train) {
      const double w = data.weight.empty() ? 1.0 : data.weight[r];
      sum += w * data.target[r];
      weight_sum += w;
    }
    PDM_RETURN_IF_ERROR(
        booster.SetParam("base_score", Num(weight_sum > 0 ? sum / weight_sum : 0.0)));
  }
  for (const auto& [name, value] : params.xgb) PDM_RETURN_IF_ERROR(booster.SetParam(name, value));

  const bool stop_early = params.early_stopping > 0 && dvalid.has_value();
  double best = std::numeric_limits<double>::infinity();
  int best_rounds = 0;
  for (int round = 0; round < params.rounds; ++round) {
    PDM_RETURN_IF_ERROR(booster.UpdateOneIter(round, dtrain));
    if (options.on_round) options.on_round(round + 1, params.rounds);
    if (stop_early) {
      PDM_ASSIGN_OR_RETURN(const double loss, booster.Evaluate(round, *dvalid, "valid"));
      if (loss < best) {
        best = loss;
        best_rounds = round + 1;
      } else if (round + 1 - best_rounds >= params.early_stopping) {
        break;
      }
    }
  }
  FittedLearner fitted{std::move(booster), params.rounds, std::numeric_limits<double>::quiet_NaN()};
  if (stop_early) {
    PDM_ASSIGN_OR_RETURN(const int done, fitted.booster.BoostedRounds());
    if (best_rounds < done) {
      PDM_ASSIGN_OR_RETURN(fitted.booster, fitted.booster.Slice(best_rounds));
    }
    fitted.rounds = best_rounds;
    fitted.validation_loss = best;
  } else if (dvalid) {
    PDM_ASSIGN_OR_RETURN(fitted.validation_loss,
                         fitted.booster.Evaluate(params.rounds - 1, *dvalid, "valid"));
  }
  return fitted;
}

}  // namespace pdm::model
