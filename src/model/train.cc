#include "model/train.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>
#include <numeric>
#include <random>

#include "core/status.h"
#include "core/strings.h"

namespace pdm::model {
namespace {

using Clock = std::chrono::steady_clock;
double Since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// Per-row weights from the class balance of `rows` (other rows get 1; they are not read).
std::vector<float> ClassWeights(const std::vector<double>& target,
                                const std::vector<uint32_t>& rows, ClassWeight mode) {
  if (mode == ClassWeight::kNone) return {};
  double positives = 0;
  for (uint32_t r : rows) positives += target[r] > 0.5;
  const double n = static_cast<double>(rows.size()), negatives = n - positives;
  if (positives == 0 || negatives == 0) return {};
  double wp = n / (2 * positives), wn = n / (2 * negatives);  // scikit-learn "balanced"
  if (mode == ClassWeight::kSqrt) {
    wp = std::sqrt(negatives / positives);
    wn = 1;
  }
  std::vector<float> w(target.size(), 1.0F);
  for (uint32_t r : rows) w[r] = static_cast<float>(target[r] > 0.5 ? wp : wn);
  return w;
}

// All weight vectors on the simplex with steps of 1/`steps` (members <= 3 keeps this small).
void SimplexGrid(size_t members, int steps, std::vector<std::vector<double>>* out,
                 std::vector<double>* current, int left) {
  if (current->size() + 1 == members) {
    current->push_back(static_cast<double>(left) / steps);
    out->push_back(*current);
    current->pop_back();
    return;
  }
  for (int i = 0; i <= left; ++i) {
    current->push_back(static_cast<double>(i) / steps);
    SimplexGrid(members, steps, out, current, left - i);
    current->pop_back();
  }
}

struct Decider {
  Task task;
  CalibrationKind calibration;
  std::optional<Costs> costs;
  size_t classes = 1;  // outputs per member and row (the mode task's classes)

  // Mode task: member weights on the simplex (steps of 0.1) with the least out-of-fold log-loss
  // of the combined classes, and the threshold on P(any failure).
  Combiner FitModes(const std::vector<double>& x, size_t m, const std::vector<double>& y) const {
    const size_t k = classes, n = y.size();
    std::vector<std::vector<double>> grid;
    std::vector<double> current;
    SimplexGrid(m, 10, &grid, &current, 10);
    Combiner c;
    c.weights.assign(m, 1.0 / static_cast<double>(m));
    // Each member's class log-probabilities, once: a candidate then costs one softmax a row.
    std::vector<double> member_log_p(x.size());
    for (size_t i = 0; i < n * m; ++i) {
      const double norm = LogSumExp(x.data() + i * k, k);
      for (size_t cls = 0; cls < k; ++cls) member_log_p[i * k + cls] = x[i * k + cls] - norm;
    }
    double best = std::numeric_limits<double>::infinity();
    std::vector<double> z(k);
    for (const std::vector<double>& w : grid) {
      double loss = 0;
      for (size_t i = 0; i < n; ++i) {
        std::fill(z.begin(), z.end(), 0.0);
        for (size_t j = 0; j < m; ++j) {
          const double* lp = member_log_p.data() + (i * m + j) * k;
          for (size_t cls = 0; cls < k; ++cls) z[cls] += w[j] * lp[cls];
        }
        const double log_p = z[static_cast<size_t>(y[i])] - LogSumExp(z.data(), k);
        loss -= std::max(log_p, std::log(1e-15));
      }
      if (loss < best) {
        best = loss;
        c.weights = w;
      }
    }
    const std::vector<Prediction> p = ApplyCombiner(Task::kMode, c, x, m, std::nullopt, k);
    std::vector<double> any(n), failed(n);
    for (size_t i = 0; i < n; ++i) {
      any[i] = p[i].probability;
      failed[i] = y[i] > 0 ? 1 : 0;
    }
    c.threshold = ChooseThreshold(any, failed, costs);
    return c;
  }

  // Fits a combiner on member outputs (rows x m x classes) of `rows` of the out-of-fold set.
  Combiner Fit(const std::vector<double>& outputs, size_t m, const std::vector<double>& target,
               const std::vector<uint32_t>& rows) const {
    const size_t stride = m * classes;
    std::vector<double> x(rows.size() * stride), y(rows.size());
    for (size_t i = 0; i < rows.size(); ++i) {
      std::copy_n(outputs.data() + rows[i] * stride, stride, x.data() + i * stride);
      y[i] = target[rows[i]];
    }
    if (task == Task::kMode) return FitModes(x, m, y);
    Combiner c;
    if (task == Task::kClassify) {
      // The members' weights are the stacking regression's coefficients scaled to sum to 1, with
      // no intercept: the combined margin stays on the members' scale whichever rows fitted it,
      // and the calibration (fitted next) takes the scale and offset. Folds' margins are then
      // comparable, which the out-of-fold ranking metrics rely on. ADR 0004.
      const LogisticFit fit = FitLogistic(x, m, y, /*non_negative=*/true);
      const double total = std::accumulate(fit.coef.begin(), fit.coef.end(), 0.0);
      c.weights.assign(m, 1.0 / static_cast<double>(m));  // no member helps: plain average
      if (total > 0) {
        for (size_t j = 0; j < m; ++j) c.weights[j] = fit.coef[j] / total;
      }
      c.intercept = 0;
      std::vector<double> z(rows.size());
      for (size_t i = 0; i < rows.size(); ++i) z[i] = c.Combine(x.data() + i * m);
      c.calibration = FitCalibration(calibration, z, y);
      std::vector<double> p(rows.size());
      for (size_t i = 0; i < rows.size(); ++i) p[i] = c.calibration.Apply(z[i]);
      c.threshold = ChooseThreshold(p, y, costs);
    } else {
      std::vector<std::vector<double>> grid;
      std::vector<double> current;
      SimplexGrid(m, 20, &grid, &current, 20);
      double best = std::numeric_limits<double>::infinity();
      for (const std::vector<double>& w : grid) {
        double se = 0;
        for (size_t i = 0; i < rows.size(); ++i) {
          double v = 0;
          for (size_t j = 0; j < m; ++j) v += w[j] * x[i * m + j];
          se += (v - y[i]) * (v - y[i]);
        }
        if (se < best) {
          best = se;
          c.weights = w;
        }
      }
    }
    return c;
  }
};

}  // namespace

Scores ScorePredictions(Task task, const std::vector<Prediction>& predictions,
                        const std::vector<double>& target, const std::vector<uint32_t>& rows,
                        double threshold, std::optional<double> horizon) {
  Scores s;
  std::vector<double> score(rows.size()), y(rows.size());
  std::vector<char> alarm(rows.size());
  for (size_t i = 0; i < rows.size(); ++i) {
    const Prediction& p = predictions[rows[i]];
    score[i] = task == Task::kRul ? p.margin : p.probability;
    y[i] = target[rows[i]];
    alarm[i] = p.alarm;
  }
  if (task == Task::kMode) {
    const size_t classes = rows.empty() ? 0 : predictions[rows[0]].mode_probability.size();
    std::vector<double> failed(rows.size()), probability(rows.size() * classes);
    std::vector<int> mode(rows.size());
    for (size_t i = 0; i < rows.size(); ++i) {
      const Prediction& p = predictions[rows[i]];
      failed[i] = y[i] > 0 ? 1 : 0;
      mode[i] = p.mode;
      std::copy_n(p.mode_probability.data(), classes, probability.data() + i * classes);
    }
    s.binary = ScoreDecisions(score, failed, alarm, threshold);
    s.multiclass = ScoreMulticlass(probability, classes, y, mode);
  } else if (task == Task::kClassify) {
    // Ranked by the combined margin: out-of-fold rows get their fold's calibration, and
    // per-fold maps would rank rows of different folds against each other by the maps.
    std::vector<double> margin(rows.size());
    for (size_t i = 0; i < rows.size(); ++i) margin[i] = predictions[rows[i]].margin;
    s.binary = ScoreDecisions(score, y, alarm, threshold, &margin);
  } else {
    s.regression = ScoreRegression(score, y);
    if (horizon) {
      std::vector<double> within(rows.size()), risk(rows.size());
      for (size_t i = 0; i < rows.size(); ++i) {
        within[i] = y[i] <= *horizon ? 1 : 0;
        risk[i] = -score[i];  // a shorter predicted life ranks riskier
      }
      BinaryMetrics b = ScoreDecisions(risk, within, alarm, *horizon);
      b.brier = std::numeric_limits<double>::quiet_NaN();  // no probability to score
      s.within_horizon = b;
    }
  }
  return s;
}

namespace {

// Cross-fitted decisions: each fold's rows get a combiner fitted on the other folds' rows.
std::vector<Prediction> CrossFit(const Decider& decider, const std::vector<double>& outputs,
                                 size_t m, const std::vector<double>& target,
                                 const std::vector<int>& fold, int folds,
                                 const std::vector<uint32_t>& scored, std::optional<double> horizon,
                                 std::vector<double>* thresholds) {
  std::vector<Prediction> predictions(target.size());
  thresholds->assign(folds, 0);
  const size_t stride = m * decider.classes;
  for (int f = 0; f < folds; ++f) {
    std::vector<uint32_t> fit_rows, test_rows;
    for (uint32_t r : scored) (fold[r] == f ? test_rows : fit_rows).push_back(r);
    if (test_rows.empty()) continue;
    const Combiner c = decider.Fit(outputs, m, target, fit_rows);
    (*thresholds)[f] = c.threshold;
    std::vector<double> sub(test_rows.size() * stride);
    for (size_t i = 0; i < test_rows.size(); ++i) {
      std::copy_n(outputs.data() + test_rows[i] * stride, stride, sub.data() + i * stride);
    }
    const std::vector<Prediction> p =
        ApplyCombiner(decider.task, c, sub, m, horizon, decider.classes);
    for (size_t i = 0; i < test_rows.size(); ++i) predictions[test_rows[i]] = p[i];
  }
  return predictions;
}

class Trainer {
 public:
  Trainer(const TrainingTable& table, const TrainOptions& options, CvMode cv)
      : table_(table), options_(options), cv_(cv) {
    target_f_.assign(table.target.begin(), table.target.end());
    inputs_.entity = table.entity;
    inputs_.time = table.time;
    inputs_.label = table.target;
    inputs_.classification = options.task != Task::kRul;
    inputs_.embargo = options.embargo;
  }
  const FoldInputs& inputs() const { return inputs_; }

  // Fits one member on `rows` (with random search when asked).
  absl::StatusOr<Member> Fit(LearnerKind kind, const std::vector<uint32_t>& rows, uint64_t seed,
                             const std::string& label) {
    LearningData data;
    data.x = &table_.x;
    data.target = target_f_;
    if (options_.task != Task::kRul) {
      data.weight = ClassWeights(table_.target, rows, options_.class_weight);
    }
    FitOptions fit;
    fit.task = options_.task;
    fit.classes = static_cast<int>(options_.classes.size());
    fit.seed = seed;
    fit.threads = options_.threads;
    if (options_.on_round) {
      fit.on_round = [this, &label](int round, int rounds) {
        options_.on_round(label, round, rounds);
      };
    }
    const LearnerParams defaults = DefaultParams(kind, rows.size(), table_.x.cols);
    const bool needs_inner = options_.search > 0 || defaults.early_stopping > 0;
    Fold inner;
    if (needs_inner) inner = InnerSplit(cv_, inputs_, rows, 0.15, seed);

    LearnerParams chosen = defaults;
    // The rounds early stopping found for the chosen candidate when the search fitted it so
    // (0: not known yet).
    int chosen_rounds = 0;
    if (options_.search > 0) {
      std::mt19937_64 rng(seed);
      double best = std::numeric_limits<double>::infinity();
      for (int candidate = 0; candidate < options_.search; ++candidate) {
        const LearnerParams params =
            candidate == 0 ? defaults : SampleParams(kind, rows.size(), table_.x.cols, rng);
        PDM_ASSIGN_OR_RETURN(FittedLearner fitted,
                             FitLearner(params, data, inner.train, inner.test, fit));
        if (fitted.validation_loss < best) {
          best = fitted.validation_loss;
          chosen = params;
          chosen_rounds = params.early_stopping > 0 ? fitted.rounds : 0;
        }
      }
    }
    Member member;
    member.kind = kind;
    member.params = chosen;
    LearnerParams final_params = chosen;
    if (chosen.early_stopping > 0) {
      // Early stopping finds the number of rounds on the inner split; the member is then refit
      // on every training row for that many rounds (the inner split's 15% are not lost).
      if (chosen_rounds == 0) {
        PDM_ASSIGN_OR_RETURN(FittedLearner fitted,
                             FitLearner(chosen, data, inner.train, inner.test, fit));
        chosen_rounds = fitted.rounds;
      }
      final_params.rounds = std::max(1, chosen_rounds);
      final_params.early_stopping = 0;
    }
    PDM_ASSIGN_OR_RETURN(FittedLearner fitted, FitLearner(final_params, data, rows, {}, fit));
    member.booster = std::move(fitted.booster);
    member.rounds = fitted.rounds;
    if (options_.task == Task::kClassify) {
      // Standardised by its margins on its own training rows (Member::offset, ADR 0012).
      PDM_ASSIGN_OR_RETURN(const std::vector<double> margin, Outputs(member, rows));
      double mean = 0, square = 0;
      for (double v : margin) mean += v;
      mean /= static_cast<double>(margin.size());
      for (double v : margin) square += (v - mean) * (v - mean);
      const double sd = std::sqrt(square / static_cast<double>(margin.size()));
      member.offset = mean;
      member.scale = sd > 1e-9 ? sd : 1.0;  // a constant margin ranks nothing: left unscaled
    }
    return member;
  }

  // Member outputs (Member::Output of margins or values) on `rows`.
  absl::StatusOr<std::vector<double>> Outputs(const Member& member,
                                              const std::vector<uint32_t>& rows) const {
    PDM_ASSIGN_OR_RETURN(DMatrix d,
                         DMatrix::Create(table_.x.Select(rows), {}, {}, options_.threads));
    PDM_ASSIGN_OR_RETURN(
        const std::vector<float> raw,
        member.booster.Predict(
            d, options_.task == Task::kRul ? PredictKind::kValue : PredictKind::kMargin));
    std::vector<double> out(raw.size());
    for (size_t i = 0; i < raw.size(); ++i) out[i] = member.Output(raw[i]);
    return out;
  }

 private:
  const TrainingTable& table_;
  const TrainOptions& options_;
  CvMode cv_;
  std::vector<float> target_f_;
  FoldInputs inputs_;
};

void Stage(const TrainOptions& options, const std::string& line) {
  if (options.on_stage) options.on_stage(line);
}

}  // namespace

absl::StatusOr<ClassWeight> ParseClassWeight(const std::string& name) {
  if (name == "none" || name.empty()) return ClassWeight::kNone;
  if (name == "balanced") return ClassWeight::kBalanced;
  if (name == "sqrt") return ClassWeight::kSqrt;
  return absl::InvalidArgumentError(
      core::StrCat("class_weight: expected balanced, sqrt or none, got '", name, "'"));
}

const char* ClassWeightName(ClassWeight weight) {
  switch (weight) {
    case ClassWeight::kSqrt:
      return "sqrt";
    case ClassWeight::kBalanced:
      return "balanced";
    case ClassWeight::kNone:
      break;
  }
  return "none";
}

std::vector<std::pair<std::string, double>> SeparatingFeatures(const TrainingTable& table,
                                                               Task task, double limit) {
  std::vector<std::pair<std::string, double>> out;
  const size_t n = table.target.size();
  const size_t stride = std::max<size_t>(1, n / 50000);  // a sample is enough to see a leak
  for (size_t j = 0; j < table.x.cols; ++j) {
    std::vector<double> value, y;
    for (size_t r = 0; r < n; r += stride) {
      const float v = table.x.row(r)[j];
      if (std::isnan(v)) continue;
      value.push_back(v);
      y.push_back(task == Task::kMode ? (table.target[r] > 0 ? 1 : 0) : table.target[r]);
    }
    if (value.size() < 20) continue;
    double measure = 0;
    if (task != Task::kRul) {
      const double auc = RocAuc(value, y);
      if (std::isnan(auc)) continue;
      measure = std::max(auc, 1 - auc);
    } else {
      double mx = 0, my = 0;
      for (size_t i = 0; i < value.size(); ++i) {
        mx += value[i];
        my += y[i];
      }
      mx /= static_cast<double>(value.size());
      my /= static_cast<double>(value.size());
      double sxy = 0, sxx = 0, syy = 0;
      for (size_t i = 0; i < value.size(); ++i) {
        sxy += (value[i] - mx) * (y[i] - my);
        sxx += (value[i] - mx) * (value[i] - mx);
        syy += (y[i] - my) * (y[i] - my);
      }
      if (sxx == 0 || syy == 0) continue;
      measure = std::abs(sxy / std::sqrt(sxx * syy));
    }
    if (measure >= limit) out.emplace_back(table.feature_names[j], measure);
  }
  return out;
}

absl::StatusOr<TrainResult> Train(const TrainingTable& table, const TrainOptions& options) {
  const auto start = Clock::now();
  const size_t n = table.target.size();
  if (n == 0 || table.x.rows != n || table.x.cols != table.feature_names.size()) {
    return absl::InvalidArgumentError("no labelled rows to train on");
  }
  if (options.members.empty()) return absl::InvalidArgumentError("models: none chosen");
  if (options.task == Task::kMode) {
    const size_t k = options.classes.size();
    std::vector<int64_t> count(k, 0);
    for (double y : table.target) {
      if (!(y >= 0 && y < static_cast<double>(k)) || y != std::floor(y)) {
        return absl::InvalidArgumentError(
            core::StrCat("mode: target ", y, " is not a class index below ", k));
      }
      ++count[static_cast<size_t>(y)];
    }
    if (k < 2 || count[0] == 0 || count[0] == static_cast<int64_t>(n)) {
      return absl::InvalidArgumentError(
          "mode: the labelled rows need both rows without a failure and rows with a failure mode");
    }
  }
  if (options.task == Task::kClassify) {
    size_t positives = 0;
    for (double y : table.target) positives += y > 0.5;
    if (positives == 0 || positives == n) {
      return absl::InvalidArgumentError(core::StrCat("all ", n, " labelled rows are ",
                                                     positives == 0 ? "negative" : "positive",
                                                     ": a classifier needs both classes"));
    }
  }
  TrainResult result;
  TrainReport& report = result.report;
  for (const auto& [name, value] : SeparatingFeatures(table, options.task)) {
    report.warnings.push_back(core::StrCat(
        "feature '", name, "' alone separates the training labels (",
        options.task != Task::kRul ? "ROC-AUC " : "|correlation| ", fmt::format("{:.4f}", value),
        "): check that it is not derived from the label"));
  }

  FoldInputs probe;
  probe.entity = table.entity;
  probe.time = table.time;
  probe.label = table.target;
  probe.classification = options.task != Task::kRul;
  probe.embargo = options.embargo;
  CvMode cv = options.cv;
  PDM_ASSIGN_OR_RETURN(const std::vector<Fold> folds,
                       MakeFolds(options.cv, options.folds, probe, options.seed, &cv));
  report.cv = cv;
  Trainer trainer(table, options, cv);

  const size_t m = options.members.size();
  const int k = static_cast<int>(folds.size());
  const size_t width = options.task == Task::kMode ? options.classes.size() : 1;
  std::vector<double> outputs(n * m * width, 0);
  std::vector<int> fold_of(n, -1);
  report.members.resize(m);
  report.folds.resize(k);
  for (int f = 0; f < k; ++f) {
    const auto fold_start = Clock::now();
    for (uint32_t r : folds[f].test) fold_of[r] = f;
    for (size_t j = 0; j < m; ++j) {
      const auto member_start = Clock::now();
      const std::string label =
          core::StrCat("fold ", f + 1, "/", k, ": ", LearnerName(options.members[j]));
      Stage(options, label);
      const uint64_t seed = options.seed + 1000 * static_cast<uint64_t>(f) + j;
      PDM_ASSIGN_OR_RETURN(const Member member,
                           trainer.Fit(options.members[j], folds[f].train, seed, label));
      PDM_ASSIGN_OR_RETURN(const std::vector<double> out, trainer.Outputs(member, folds[f].test));
      for (size_t i = 0; i < folds[f].test.size(); ++i) {
        std::copy_n(out.data() + i * width, width,
                    outputs.data() + (folds[f].test[i] * m + j) * width);
      }
      report.members[j].seconds += Since(member_start);
    }
    report.folds[f].train_rows = static_cast<int64_t>(folds[f].train.size());
    report.folds[f].test_rows = static_cast<int64_t>(folds[f].test.size());
    report.folds[f].seconds = Since(fold_start);
  }

  // Decisions for the out-of-fold rows, each fold's from the other folds' predictions.
  std::vector<uint32_t> scored;
  for (uint32_t r = 0; r < n; ++r) {
    if (fold_of[r] >= 0) scored.push_back(r);
  }
  const Decider decider{options.task, options.calibration, options.costs, width};
  std::vector<double> thresholds;
  const std::vector<Prediction> ensemble_oof =
      CrossFit(decider, outputs, m, table.target, fold_of, k, scored, options.horizon, &thresholds);
  const Combiner final_combiner = decider.Fit(outputs, m, table.target, scored);
  const bool classifies = options.task != Task::kRul;
  const double threshold = classifies ? final_combiner.threshold : options.horizon.value_or(0);
  report.ensemble = ScorePredictions(options.task, ensemble_oof, table.target, scored, threshold,
                                     options.horizon);
  for (int f = 0; f < k; ++f) {
    report.folds[f].scores =
        ScorePredictions(options.task, ensemble_oof, table.target, folds[f].test,
                         classifies ? thresholds[f] : threshold, options.horizon);
  }
  for (uint32_t r : scored) {
    // The mode task's out-of-fold rows are scored as "any failure" (class > 0).
    report.oof_target.push_back(options.task == Task::kMode ? (table.target[r] > 0 ? 1 : 0)
                                                            : table.target[r]);
    report.oof_score.push_back(classifies ? ensemble_oof[r].probability : ensemble_oof[r].margin);
    report.oof_row.push_back(r);
    report.oof_rank.push_back(ensemble_oof[r].margin);
    report.oof_alarm.push_back(ensemble_oof[r].alarm);
    report.oof_fold.push_back(fold_of[r]);
    if (width == 1) {
      report.oof_member_output.insert(report.oof_member_output.end(),
                                      outputs.begin() + static_cast<ptrdiff_t>(r * m),
                                      outputs.begin() + static_cast<ptrdiff_t>((r + 1) * m));
    }
  }
  for (size_t j = 0; j < m; ++j) {
    std::vector<double> own(n * width);
    for (size_t r = 0; r < n; ++r) {
      std::copy_n(outputs.data() + (r * m + j) * width, width, own.data() + r * width);
    }
    std::vector<double> member_thresholds;
    const std::vector<Prediction> p = CrossFit(decider, own, 1, table.target, fold_of, k, scored,
                                               options.horizon, &member_thresholds);
    const Combiner c = decider.Fit(own, 1, table.target, scored);
    result.model.member_combiners.push_back(c);
    report.members[j].kind = options.members[j];
    report.members[j].oof = ScorePredictions(options.task, p, table.target, scored,
                                             classifies ? c.threshold : threshold, options.horizon);
  }

  // The final model: every member on all rows, the combiner fitted on all out-of-fold rows.
  std::vector<uint32_t> all(n);
  std::iota(all.begin(), all.end(), 0);
  Ensemble& model = result.model;
  model.task = options.task;
  model.feature_names = table.feature_names;
  model.combiner = final_combiner;
  model.horizon = options.horizon;
  if (options.task == Task::kMode) model.classes = options.classes;
  for (size_t j = 0; j < m; ++j) {
    const auto member_start = Clock::now();
    const std::string label = core::StrCat("final: ", LearnerName(options.members[j]));
    Stage(options, label);
    const uint64_t seed = options.seed + 1000 * static_cast<uint64_t>(k) + j;
    PDM_ASSIGN_OR_RETURN(Member member, trainer.Fit(options.members[j], all, seed, label));
    report.members[j].params = member.params;
    report.members[j].rounds = member.rounds;
    report.members[j].seconds += Since(member_start);
    model.members.push_back(std::move(member));
  }

  // Global importance: mean |contribution| over evenly spaced rows.
  const size_t sample = std::min<size_t>(n, 500);  // exact TreeSHAP costs trees x leaves x depth^2
  std::vector<uint32_t> rows(sample);
  for (size_t i = 0; i < sample; ++i) rows[i] = static_cast<uint32_t>(i * n / sample);
  PDM_ASSIGN_OR_RETURN(const Explanation explained,
                       model.Explain(table.x.Select(rows), options.threads));
  report.importance.assign(table.x.cols, 0);
  for (size_t r = 0; r < sample; ++r) {
    for (size_t j = 0; j < table.x.cols; ++j) {
      report.importance[j] += std::abs(explained.contributions[r * (table.x.cols + 1) + j]);
    }
  }
  for (double& v : report.importance) v /= static_cast<double>(sample);
  report.seconds = Since(start);
  return result;
}

}  // namespace pdm::model
