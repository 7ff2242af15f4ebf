#include "model/ensemble.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <thread>

#include "core/file.h"
#include "core/status.h"
#include "core/strings.h"
#include "nlohmann/json.hpp"

namespace pdm::model {
namespace fs = std::filesystem;
using nlohmann::json;

double Combiner::Combine(const double* member_outputs) const {
  double z = intercept;
  for (size_t m = 0; m < weights.size(); ++m) z += weights[m] * member_outputs[m];
  return z;
}

double LogSumExp(const double* x, size_t n) {
  if (n == 0) return -std::numeric_limits<double>::infinity();
  const double top = *std::max_element(x, x + n);
  if (!std::isfinite(top)) return top;
  double sum = 0;
  for (size_t i = 0; i < n; ++i) sum += std::exp(x[i] - top);
  return top + std::log(sum);
}

void CombineModes(const Combiner& combiner, const double* member_outputs, size_t members,
                  size_t classes, double* out) {
  std::fill(out, out + classes, 0.0);
  for (size_t m = 0; m < members; ++m) {
    const double* x = member_outputs + m * classes;
    const double norm = LogSumExp(x, classes);
    for (size_t c = 0; c < classes; ++c) out[c] += combiner.weights[m] * (x[c] - norm);
  }
  const double norm = LogSumExp(out, classes);
  for (size_t c = 0; c < classes; ++c) out[c] -= norm;
}

std::vector<Prediction> ApplyCombiner(Task task, const Combiner& combiner,
                                      const std::vector<double>& outputs, size_t members,
                                      std::optional<double> horizon, size_t classes) {
  const size_t stride = members * std::max<size_t>(classes, 1);
  const size_t rows = stride == 0 ? 0 : outputs.size() / stride;
  std::vector<Prediction> out(rows);
  if (task == Task::kMode) {
    std::vector<double> log_p(classes);
    for (size_t r = 0; r < rows; ++r) {
      Prediction& p = out[r];
      CombineModes(combiner, outputs.data() + r * stride, members, classes, log_p.data());
      p.mode_probability.resize(classes);
      for (size_t c = 0; c < classes; ++c) p.mode_probability[c] = std::exp(log_p[c]);
      p.mode = static_cast<int>(std::max_element(log_p.begin(), log_p.end()) - log_p.begin());
      // Log-odds of any failure: log P(classes 1..) - log P(class 0), without 1 - p cancelling.
      p.margin = LogSumExp(log_p.data() + 1, classes - 1) - log_p[0];
      p.probability = 1 / (1 + std::exp(-p.margin));
      p.alarm = p.probability >= combiner.threshold;
    }
    return out;
  }
  for (size_t r = 0; r < rows; ++r) {
    Prediction& p = out[r];
    p.margin = combiner.Combine(outputs.data() + r * members);
    if (task == Task::kClassify) {
      p.probability = combiner.calibration.Apply(p.margin);
      p.alarm = p.probability >= combiner.threshold;
    } else {
      p.alarm = horizon.has_value() && p.margin <= *horizon;
    }
  }
  return out;
}

absl::StatusOr<std::vector<double>> Ensemble::MemberOutputs(const DenseMatrix& x, int threads,
                                                            bool weighted_only) const {
  if (x.cols != feature_names.size()) {
    return absl::InvalidArgumentError(
        core::StrCat("the model takes ", feature_names.size(), " features, the data has ", x.cols));
  }
  const size_t k = width();
  std::vector<double> out(x.rows * members.size() * k);
  const auto skipped = [&](size_t m) {
    return weighted_only && task != Task::kMode && m < combiner.weights.size() &&
           combiner.weights[m] == 0;
  };
  const bool flat = !members.empty() && k == 1 &&
                    std::all_of(members.begin(), members.end(), [&](const Member& m) {
                      return m.flat != nullptr && m.flat->features() == x.cols;
                    });
  if (flat) {
    // Margins equal XGBoost's (kMargin); RUL members are reg:squarederror, whose value is the
    // margin.
    auto score = [&](size_t begin, size_t end) {
      std::vector<float> margins(end - begin);
      for (size_t m = 0; m < members.size(); ++m) {
        if (skipped(m)) continue;
        members[m].flat->Margins(x.row(begin), end - begin, margins.data());
        for (size_t r = begin; r < end; ++r) {
          out[r * members.size() + m] = members[m].Output(margins[r - begin]);
        }
      }
    };
    constexpr size_t kRowsPerThread = 4096;
    const size_t workers =
        std::min<size_t>(threads > 0 ? static_cast<size_t>(threads)
                                     : std::max(1u, std::thread::hardware_concurrency()),
                         (x.rows + kRowsPerThread - 1) / kRowsPerThread);
    if (workers <= 1) {
      score(0, x.rows);
      return out;
    }
    std::vector<std::thread> pool;
    const size_t per = (x.rows + workers - 1) / workers;
    for (size_t w = 0; w < workers; ++w) {
      const size_t begin = w * per, end = std::min(x.rows, begin + per);
      if (begin < end) pool.emplace_back(score, begin, end);
    }
    for (std::thread& t : pool) t.join();
    return out;
  }
  PDM_ASSIGN_OR_RETURN(DMatrix data, DMatrix::Create(x, {}, {}, threads));
  for (size_t m = 0; m < members.size(); ++m) {
    if (skipped(m)) continue;
    const PredictKind kind = task == Task::kRul ? PredictKind::kValue : PredictKind::kMargin;
    PDM_ASSIGN_OR_RETURN(const std::vector<float> values, members[m].booster.Predict(data, kind));
    if (values.size() != x.rows * k) return absl::InternalError("unexpected prediction shape");
    for (size_t r = 0; r < x.rows; ++r) {
      for (size_t c = 0; c < k; ++c) {
        out[(r * members.size() + m) * k + c] = members[m].Output(values[r * k + c]);
      }
    }
  }
  return out;
}

absl::StatusOr<std::vector<Prediction>> Ensemble::Predict(const DenseMatrix& x, int threads) const {
  PDM_ASSIGN_OR_RETURN(const std::vector<double> outputs,
                       MemberOutputs(x, threads, /*weighted_only=*/true));
  return ApplyCombiner(task, combiner, outputs, members.size(), horizon, width());
}

absl::StatusOr<Explanation> Ensemble::Explain(const DenseMatrix& x, int threads) const {
  if (x.cols != feature_names.size()) {
    return absl::InvalidArgumentError(
        core::StrCat("the model takes ", feature_names.size(), " features, the data has ", x.cols));
  }
  // The mode task explains each row's predicted class.
  std::vector<int> mode(x.rows, 0);
  if (task == Task::kMode) {
    PDM_ASSIGN_OR_RETURN(const std::vector<Prediction> predicted, Predict(x, threads));
    for (size_t r = 0; r < x.rows; ++r) mode[r] = predicted[r].mode;
  }
  PDM_ASSIGN_OR_RETURN(DMatrix data, DMatrix::Create(x, {}, {}, threads));
  Explanation e;
  e.features = x.cols;
  const size_t width = x.cols + 1, k = this->width();
  e.contributions.assign(x.rows * width, 0);
  for (size_t m = 0; m < members.size(); ++m) {
    PDM_ASSIGN_OR_RETURN(const std::vector<float> c,
                         members[m].booster.Predict(data, PredictKind::kContributions));
    if (c.size() != x.rows * k * width) {
      return absl::InternalError("unexpected contribution shape");
    }
    // The member's standardisation scales its contributions and moves its offset into the bias.
    const double w = combiner.weights[m] / members[m].scale;
    for (size_t r = 0; r < x.rows; ++r) {
      const float* row = c.data() + (r * k + static_cast<size_t>(mode[r])) * width;
      for (size_t i = 0; i < width; ++i) e.contributions[r * width + i] += w * row[i];
      e.contributions[r * width + x.cols] -= w * members[m].offset;
    }
  }
  for (size_t r = 0; r < x.rows; ++r) e.contributions[r * width + x.cols] += combiner.intercept;
  return e;
}

absl::Status Ensemble::Save(const fs::path& dir, const std::string& extra_json) const {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return absl::PermissionDeniedError(core::StrCat(dir.string(), ": ", ec.message()));
  json manifest = extra_json.empty() ? json::object() : json::parse(extra_json);
  manifest["format"] = "pdm-model";
  manifest["format_version"] = 1;
  manifest["task"] = TaskName(task);
  manifest["feature_names"] = feature_names;
  json list = json::array();
  for (const Member& member : members) {
    const std::string file = core::StrCat(LearnerName(member.kind), ".json");
    PDM_ASSIGN_OR_RETURN(const std::string text, member.booster.ToJson());
    PDM_RETURN_IF_ERROR(core::WriteStringToFile(dir / file, text));
    list.push_back({{"name", LearnerName(member.kind)},
                    {"file", file},
                    {"rounds", member.rounds},
                    {"offset", member.offset},
                    {"scale", member.scale},
                    {"params", member.params.xgb}});
  }
  manifest["members"] = list;
  auto combiner_json = [](const Combiner& c) {
    return json{{"weights", c.weights},
                {"intercept", c.intercept},
                {"calibration", c.calibration.ToJson()},
                {"threshold", c.threshold}};
  };
  manifest["combiner"] = combiner_json(combiner);
  json own = json::array();
  for (const Combiner& c : member_combiners) own.push_back(combiner_json(c));
  manifest["member_combiners"] = own;
  if (horizon) manifest["horizon"] = *horizon;
  if (task == Task::kMode) manifest["classes"] = classes;
  return core::WriteStringToFile(dir / "model.json", manifest.dump(2) + "\n");
}

absl::StatusOr<Ensemble> Ensemble::Load(const fs::path& dir) {
  const fs::path path = dir / "model.json";
  PDM_ASSIGN_OR_RETURN(const std::string text, core::ReadFileToString(path, "model"));
  Ensemble e;
  try {
    const json manifest = json::parse(text);
    if (manifest.value("format", "") != "pdm-model") {
      return absl::InvalidArgumentError(core::StrCat(path.string(), ": not a pdm model"));
    }
    if (manifest.at("format_version").get<int>() != 1) {
      return absl::InvalidArgumentError(core::StrCat(path.string(), ": model format version ",
                                                     manifest.at("format_version").get<int>(),
                                                     " is newer than this pdm"));
    }
    PDM_ASSIGN_OR_RETURN(e.task, ParseTask(manifest.at("task").get<std::string>()));
    if (e.task == Task::kMode) {
      e.classes = manifest.at("classes").get<std::vector<std::string>>();
      if (e.classes.size() < 2) {
        return absl::InvalidArgumentError(
            core::StrCat(path.string(), ": a failure-mode model needs at least two classes"));
      }
    }
    e.feature_names = manifest.at("feature_names").get<std::vector<std::string>>();
    for (const json& m : manifest.at("members")) {
      Member member;
      PDM_ASSIGN_OR_RETURN(member.kind, ParseLearnerKind(m.at("name").get<std::string>()));
      member.rounds = m.at("rounds").get<int>();
      member.params.xgb = m.at("params").get<std::map<std::string, std::string>>();
      member.offset = m.value("offset", 0.0);  // models saved before standardisation: raw
      member.scale = m.value("scale", 1.0);
      if (!std::isfinite(member.offset) || !std::isfinite(member.scale) || !(member.scale > 0)) {
        return absl::InvalidArgumentError(
            core::StrCat(path.string(), ": member '", m.at("name").get<std::string>(),
                         "': offset must be finite and scale positive"));
      }
      const fs::path file = dir / m.at("file").get<std::string>();
      PDM_ASSIGN_OR_RETURN(const std::string model_text,
                           core::ReadFileToString(file, "member model"));
      auto booster = Booster::FromJson(model_text);
      if (!booster.ok()) {
        return absl::InvalidArgumentError(
            core::StrCat(file.string(), ": ", booster.status().message()));
      }
      member.booster = std::move(*booster);
      // Models XGBoost can evaluate but the flat evaluator cannot stay on XGBoost.
      if (auto flat = FlatTrees::FromXgboostJson(model_text); flat.ok()) {
        member.flat = std::make_shared<const FlatTrees>(std::move(*flat));
      }
      e.members.push_back(std::move(member));
    }
    auto read_combiner = [](const json& c) -> absl::StatusOr<Combiner> {
      Combiner out;
      out.weights = c.at("weights").get<std::vector<double>>();
      out.intercept = c.at("intercept").get<double>();
      out.threshold = c.at("threshold").get<double>();
      PDM_ASSIGN_OR_RETURN(out.calibration, Calibration::FromJson(c.at("calibration")));
      return out;
    };
    PDM_ASSIGN_OR_RETURN(e.combiner, read_combiner(manifest.at("combiner")));
    for (const json& c : manifest.value("member_combiners", json::array())) {
      PDM_ASSIGN_OR_RETURN(Combiner own, read_combiner(c));
      if (own.weights.size() != 1) {
        return absl::InvalidArgumentError(
            core::StrCat(path.string(), ": a member combiner needs one weight"));
      }
      e.member_combiners.push_back(std::move(own));
    }
    if (manifest.contains("horizon")) e.horizon = manifest.at("horizon").get<double>();
    if (e.combiner.weights.size() != e.members.size() || e.members.empty() ||
        (!e.member_combiners.empty() && e.member_combiners.size() != e.members.size())) {
      return absl::InvalidArgumentError(
          core::StrCat(path.string(), ": combiner weights do not match the members"));
    }
  } catch (const json::exception& ex) {
    return absl::InvalidArgumentError(core::StrCat(path.string(), ": ", ex.what()));
  }
  return e;
}

}  // namespace pdm::model
