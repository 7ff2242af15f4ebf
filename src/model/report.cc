#include "model/report.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "core/strings.h"
#include "fmt/format.h"

namespace pdm::model {
namespace {

std::string Fixed(double v, int digits = 3) {
  return std::isfinite(v) ? fmt::format("{:.{}f}", v, digits) : "n/a";
}

struct Series {
  std::string name;
  std::string colour;
  std::vector<std::pair<double, double>> points;
  bool dots = false;  // scatter instead of a line
};

// A chart with axes from (x0, y0) to (x1, y1) in data units.
class Chart {
 public:
  Chart(std::string title, std::string x_label, std::string y_label, double x0, double x1,
        double y0, double y1)
      : title_(std::move(title)),
        x_label_(std::move(x_label)),
        y_label_(std::move(y_label)),
        x0_(x0),
        x1_(x1 > x0 ? x1 : x0 + 1),
        y0_(y0),
        y1_(y1 > y0 ? y1 : y0 + 1) {}

  void Add(Series s) { series_.push_back(std::move(s)); }
  void VerticalLine(double x, const std::string& label) { marks_.emplace_back(x, label); }

  std::string Svg() const {
    std::string svg = fmt::format(
        R"~(<svg xmlns="http://www.w3.org/2000/svg" width="{}" height="{}" role="img" aria-label="{}">)~",
        kWidth, kHeight, core::HtmlEscape(title_));
    svg += fmt::format(R"~(<text x="{}" y="16" class="t">{}</text>)~", kWidth / 2,
                       core::HtmlEscape(title_));
    svg += fmt::format(R"~(<rect x="{}" y="{}" width="{}" height="{}" class="frame"/>)~", kLeft,
                       kTop, kWidth - kLeft - kRight, kHeight - kTop - kBottom);
    for (int i = 0; i <= 4; ++i) {
      const double fx = x0_ + (x1_ - x0_) * i / 4, fy = y0_ + (y1_ - y0_) * i / 4;
      svg += fmt::format(R"~(<text x="{:.1f}" y="{}" class="tick">{}</text>)~", X(fx),
                         kHeight - kBottom + 14, Tick(fx));
      svg += fmt::format(R"~(<text x="{}" y="{:.1f}" class="tick end">{}</text>)~", kLeft - 4,
                         Y(fy) + 4, Tick(fy));
    }
    svg += fmt::format(R"~(<text x="{}" y="{}" class="axis">{}</text>)~", kWidth / 2, kHeight - 4,
                       core::HtmlEscape(x_label_));
    svg +=
        fmt::format(R"~(<text x="12" y="{}" class="axis" transform="rotate(-90 12 {})">{}</text>)~",
                    kHeight / 2, kHeight / 2, core::HtmlEscape(y_label_));
    int legend = 0;
    for (const Series& s : series_) {
      if (s.dots) {
        for (const auto& [x, y] : s.points) {
          svg +=
              fmt::format(R"~(<circle cx="{:.1f}" cy="{:.1f}" r="1.6" fill="{}" opacity="0.5"/>)~",
                          X(x), Y(y), s.colour);
        }
      } else if (!s.points.empty()) {
        std::string path;
        for (const auto& [x, y] : s.points) {
          path += fmt::format("{}{:.1f},{:.1f}", path.empty() ? "M" : " L", X(x), Y(y));
        }
        svg += fmt::format(R"~(<path d="{}" fill="none" stroke="{}" stroke-width="1.8"/>)~", path,
                           s.colour);
      }
      if (!s.name.empty()) {
        svg += fmt::format(R"~(<text x="{}" y="{}" class="legend" fill="{}">{}</text>)~", kLeft + 8,
                           kTop + 14 + 14 * legend++, s.colour, core::HtmlEscape(s.name));
      }
    }
    for (const auto& [x, label] : marks_) {
      svg += fmt::format(
          R"~(<line x1="{0:.1f}" x2="{0:.1f}" y1="{1}" y2="{2}" class="mark"/><text x="{0:.1f}" y="{3}" class="tick">{4}</text>)~",
          X(x), kTop, kHeight - kBottom, kTop - 2, core::HtmlEscape(label));
    }
    return svg + "</svg>";
  }

 private:
  static constexpr int kWidth = 420, kHeight = 320, kLeft = 56, kRight = 12, kTop = 28,
                       kBottom = 40;
  double X(double x) const {
    return kLeft + (std::clamp(x, x0_, x1_) - x0_) / (x1_ - x0_) * (kWidth - kLeft - kRight);
  }
  double Y(double y) const {
    return kHeight - kBottom -
           (std::clamp(y, y0_, y1_) - y0_) / (y1_ - y0_) * (kHeight - kTop - kBottom);
  }
  static std::string Tick(double v) {
    if (std::abs(v) >= 1000) return fmt::format("{:.0f}", v);
    return fmt::format("{:.2g}", v);
  }
  std::string title_, x_label_, y_label_;
  double x0_, x1_, y0_, y1_;
  std::vector<Series> series_;
  std::vector<std::pair<double, std::string>> marks_;
};

constexpr const char* kBlue = "#1f77b4";
constexpr const char* kOrange = "#ff7f0e";
constexpr const char* kGrey = "#999999";
constexpr const char* kGreen = "#2ca02c";

std::string ImportanceBars(const TrainingFacts& facts) {
  const TrainReport& r = *facts.report;
  std::vector<size_t> order(r.importance.size());
  for (size_t j = 0; j < order.size(); ++j) order[j] = j;
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return r.importance[a] > r.importance[b]; });
  order.resize(std::min<size_t>(order.size(), 20));
  const double top = order.empty() ? 1 : std::max(r.importance[order[0]], 1e-12);
  // The labels' column fits the longest name shown (11 px text: about 6.5 px a character), so
  // that no name is cut or runs into its bar.
  size_t longest = 0;
  for (size_t j : order) longest = std::max(longest, facts.table->feature_names[j].size());
  const int row = 18, bar_width = 360;
  const int label_width =
      std::max(120, static_cast<int>(std::ceil(6.5 * static_cast<double>(longest))) + 12);
  std::string svg = fmt::format(
      R"~(<svg xmlns="http://www.w3.org/2000/svg" width="{}" height="{}" role="img" aria-label="feature importance">)~",
      label_width + bar_width + 80, row * static_cast<int>(order.size()) + 10);
  for (size_t i = 0; i < order.size(); ++i) {
    const double v = r.importance[order[i]];
    const int y = static_cast<int>(i) * row + 4;
    svg += fmt::format(
        R"~(<text x="{}" y="{}" class="label">{}</text><rect x="{}" y="{}" width="{:.1f}" height="{}" fill="{}"/><text x="{:.1f}" y="{}" class="value">{}</text>)~",
        label_width - 6, y + 12, core::HtmlEscape(facts.table->feature_names[order[i]]),
        label_width, y, v / top * bar_width, row - 5, kBlue, label_width + v / top * bar_width + 4,
        y + 12, fmt::format("{:.3g}", v));
  }
  return svg + "</svg>";
}

std::string MetricCells(Task task, const Scores& s) {
  if (task == Task::kMode && s.multiclass) {
    const MulticlassMetrics& m = *s.multiclass;
    return fmt::format(
        "<td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td>", m.rows,
        Fixed(m.accuracy), Fixed(m.balanced_accuracy), Fixed(m.macro_f1), Fixed(m.log_loss),
        Fixed(s.binary.roc_auc), Fixed(s.binary.f1));
  }
  if (task == Task::kClassify) {
    const BinaryMetrics& m = s.binary;
    return fmt::format(
        "<td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</"
        "td><td>{}</td>",
        m.rows, Fixed(m.roc_auc), Fixed(m.pr_auc), Fixed(m.f1), Fixed(m.precision), Fixed(m.recall),
        Fixed(m.balanced_accuracy), Fixed(m.brier, 4), Fixed(m.threshold));
  }
  const RegressionMetrics& m = s.regression;
  std::string cells =
      fmt::format("<td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td>", m.rows,
                  Fixed(m.rmse, 2), Fixed(m.mae, 2), Fixed(m.nasa_score, 1), Fixed(m.r2));
  cells += s.within_horizon ? fmt::format("<td>{}</td>", Fixed(s.within_horizon->f1)) : "<td></td>";
  return cells;
}

std::string MetricHeader(Task task) {
  if (task == Task::kMode) {
    return "<th>rows</th><th>accuracy</th><th>balanced acc.</th><th>macro F1</th><th>log-loss</th>"
           "<th>any failure ROC-AUC</th><th>any failure F1</th>";
  }
  return task == Task::kClassify
             ? "<th>rows</th><th>ROC-AUC</th><th>PR-AUC</th><th>F1</th><th>precision</th>"
               "<th>recall</th><th>balanced acc.</th><th>Brier</th><th>threshold</th>"
             : "<th>rows</th><th>RMSE</th><th>MAE</th><th>NASA score</th><th>R&sup2;</th>"
               "<th>F1 within horizon</th>";
}

// The mode task: the classes' confusion matrix and per-class scores (out of fold).
std::string ModeTables(const TrainReport& r, const std::vector<std::string>& classes) {
  if (!r.ensemble.multiclass) return "";
  const MulticlassMetrics& m = *r.ensemble.multiclass;
  std::string html = "<h2>Failure modes (out of fold)</h2><table><tr><th>true \\ predicted</th>";
  for (const std::string& c : classes) html += fmt::format("<th>{}</th>", core::HtmlEscape(c));
  html += "<th>support</th><th>precision</th><th>recall</th><th>F1</th></tr>";
  for (size_t t = 0; t < m.confusion.size(); ++t) {
    html += fmt::format("<tr><th>{}</th>", core::HtmlEscape(t < classes.size() ? classes[t] : ""));
    for (int64_t v : m.confusion[t]) html += fmt::format("<td>{}</td>", v);
    const ClassMetrics& k = m.classes[t];
    html += fmt::format("<td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>", k.support,
                        Fixed(k.precision), Fixed(k.recall), Fixed(k.f1));
  }
  return html +
         "</table><p>The curves below score \"any failure\" (every mode against none) by "
         "1 - P(none).</p>";
}

std::string ClassificationCharts(const TrainingFacts& facts, const Ensemble& ensemble) {
  const TrainReport& r = *facts.report;
  const BinaryMetrics& m = r.ensemble.binary;
  std::string html = "<h2>Out-of-fold curves</h2><div class=\"charts\">";
  Chart roc(fmt::format("ROC (AUC {})", Fixed(m.roc_auc)), "false-positive rate", "recall", 0, 1, 0,
            1);
  Series diagonal{"", kGrey, {{0, 0}, {1, 1}}};
  roc.Add(diagonal);
  Series roc_line{"ensemble", kBlue, {}};
  // Ranked as the metrics rank them (by the combined margin: see ScoreDecisions).
  const std::vector<double>& rank = r.oof_rank.empty() ? r.oof_score : r.oof_rank;
  for (const CurvePoint& p : RocCurve(rank, r.oof_target)) {
    roc_line.points.emplace_back(p.x, p.y);
  }
  roc.Add(roc_line);
  html += roc.Svg();

  Chart pr(fmt::format("Precision-recall (AP {})", Fixed(m.pr_auc)), "recall", "precision", 0, 1, 0,
           1);
  Series pr_line{"ensemble", kBlue, {}};
  for (const CurvePoint& p : PrCurve(rank, r.oof_target)) {
    pr_line.points.emplace_back(p.x, p.y);
  }
  pr.Add(pr_line);
  html += pr.Svg();

  // Calibration: 10 equal-width probability bins, observed failure frequency in each.
  Chart calibration("Calibration", "predicted probability", "observed frequency", 0, 1, 0, 1);
  calibration.Add(diagonal);
  Series observed{"ensemble (bins with rows)", kBlue, {}};
  std::vector<double> sum_p(10, 0), sum_y(10, 0), count(10, 0);
  for (size_t i = 0; i < r.oof_score.size(); ++i) {
    const size_t b = std::min<size_t>(9, static_cast<size_t>(r.oof_score[i] * 10));
    sum_p[b] += r.oof_score[i];
    sum_y[b] += r.oof_target[i];
    count[b] += 1;
  }
  for (size_t b = 0; b < 10; ++b) {
    if (count[b] > 0) observed.points.emplace_back(sum_p[b] / count[b], sum_y[b] / count[b]);
  }
  calibration.Add(observed);
  html += calibration.Svg();

  // The decision curve: expected cost with costs, else F1, precision and recall by threshold.
  const std::vector<CurvePoint> pr_points = PrCurve(r.oof_score, r.oof_target, 400);
  const std::optional<Costs>& costs = facts.options->costs;
  if (costs) {
    double positives = 0;
    for (double y : r.oof_target) positives += y;
    const double negatives = static_cast<double>(r.oof_target.size()) - positives;
    Series cost{"expected cost per scored row", kOrange, {}};
    double max_cost = 0;
    for (const CurvePoint& p : RocCurve(r.oof_score, r.oof_target, 400)) {
      if (!std::isfinite(p.threshold)) continue;
      const double c =
          (costs->missed_failure * (1 - p.y) * positives + costs->false_alarm * p.x * negatives) /
          static_cast<double>(r.oof_target.size());
      cost.points.emplace_back(p.threshold, c);
      max_cost = std::max(max_cost, c);
    }
    std::sort(cost.points.begin(), cost.points.end());
    Chart chart("Cost curve", "threshold", "expected cost per row", 0, 1, 0, max_cost * 1.05);
    chart.Add(cost);
    chart.VerticalLine(ensemble.combiner.threshold, "chosen");
    html += chart.Svg();
  } else {
    Series f1{"F1", kOrange, {}}, precision{"precision", kBlue, {}}, recall{"recall", kGreen, {}};
    for (const CurvePoint& p : pr_points) {
      const double f = p.x + p.y > 0 ? 2 * p.x * p.y / (p.x + p.y) : 0;
      f1.points.emplace_back(p.threshold, f);
      precision.points.emplace_back(p.threshold, p.y);
      recall.points.emplace_back(p.threshold, p.x);
    }
    for (Series* s : {&f1, &precision, &recall}) std::sort(s->points.begin(), s->points.end());
    Chart chart("Threshold curve (no costs given: maximum F1)", "threshold", "", 0, 1, 0, 1);
    chart.Add(f1);
    chart.Add(precision);
    chart.Add(recall);
    chart.VerticalLine(ensemble.combiner.threshold, "chosen");
    html += chart.Svg();
  }
  html += "</div>";

  html += fmt::format(
      "<h2>Confusion matrix (out of fold, threshold chosen on other folds)</h2>"
      "<table class=\"cm\"><tr><th></th><th>predicted no failure</th><th>predicted "
      "failure</th></tr>"
      "<tr><th>no failure</th><td class=\"ok\">{}</td><td class=\"bad\">{}</td></tr>"
      "<tr><th>failure</th><td class=\"bad\">{}</td><td class=\"ok\">{}</td></tr></table>",
      m.tn, m.fp, m.fn, m.tp);
  return html;
}

std::string RulCharts(const TrainingFacts& facts) {
  const TrainReport& r = *facts.report;
  std::string html = "<h2>Out-of-fold predictions</h2><div class=\"charts\">";
  double top = 0;
  for (double v : r.oof_target) top = std::max(top, v);
  for (double v : r.oof_score) top = std::max(top, v);
  Chart scatter(fmt::format("Predicted vs true (RMSE {})", Fixed(r.ensemble.regression.rmse, 2)),
                "true", "predicted", 0, top, 0, top);
  scatter.Add(Series{"", kGrey, {{0, 0}, {top, top}}});
  Series dots{"", kBlue, {}, true};
  const size_t stride = std::max<size_t>(1, r.oof_score.size() / 2000);
  for (size_t i = 0; i < r.oof_score.size(); i += stride) {
    dots.points.emplace_back(r.oof_target[i], r.oof_score[i]);
  }
  scatter.Add(dots);
  html += scatter.Svg();

  // Residual histogram.
  std::vector<double> residual;
  for (size_t i = 0; i < r.oof_score.size(); ++i)
    residual.push_back(r.oof_score[i] - r.oof_target[i]);
  double lo = 0, hi = 0;
  for (double d : residual) {
    lo = std::min(lo, d);
    hi = std::max(hi, d);
  }
  if (hi <= lo) hi = lo + 1;
  std::vector<double> bins(30, 0);
  for (double d : residual) {
    ++bins[std::min<size_t>(29, static_cast<size_t>((d - lo) / (hi - lo) * 30))];
  }
  const double most = *std::max_element(bins.begin(), bins.end());
  Chart histogram("Residuals (predicted - true)", "residual", "rows", lo, hi, 0, most);
  Series steps{"", kBlue, {}};
  for (size_t b = 0; b < 30; ++b) {
    const double x0 = lo + (hi - lo) * static_cast<double>(b) / 30;
    const double x1 = lo + (hi - lo) * static_cast<double>(b + 1) / 30;
    steps.points.emplace_back(x0, bins[b]);
    steps.points.emplace_back(x1, bins[b]);
  }
  histogram.Add(steps);
  html += histogram.Svg();
  html += "</div>";
  return html;
}

}  // namespace

std::string TrainingReportHtml(const TrainingFacts& facts, const Ensemble& ensemble) {
  const TrainReport& r = *facts.report;
  const Task task = facts.options->task;
  std::string html = fmt::format(
      R"~(<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>pdm training report: {0}</title>
<style>
body{{font:14px/1.4 system-ui,sans-serif;margin:24px;color:#222;max-width:1400px}}
h1{{font-size:22px}} h2{{font-size:17px;margin-top:28px}}
table{{border-collapse:collapse;margin:8px 0}} td,th{{border:1px solid #ccc;padding:4px 8px;text-align:right}}
th{{background:#f3f3f3}} .charts{{display:flex;flex-wrap:wrap;gap:12px}}
svg{{background:#fff;border:1px solid #e3e3e3}} .t{{font-size:13px;text-anchor:middle;font-weight:600}}
.tick{{font-size:10px;fill:#555;text-anchor:middle}} .axis{{font-size:11px;text-anchor:middle}}
.end{{text-anchor:end}} .label{{font-size:11px;fill:#222;text-anchor:end}} .value{{font-size:10px;fill:#555;text-anchor:start}}
.legend{{font-size:11px}} .frame{{fill:none;stroke:#bbb}} .mark{{stroke:#d62728;stroke-dasharray:4 3}}
.cm td{{min-width:90px;font-size:16px}} .ok{{background:#e6f4ea}} .bad{{background:#fdecea}}
.warn{{background:#fff4e5;border-left:4px solid #ff9800;padding:6px 10px}}
</style></head><body>
<h1>Training report: {0}</h1>
)~",
      core::HtmlEscape(facts.spec->name));
  html += fmt::format(
      "<p>Task <b>{}</b>; {} rows, {} features; cross-validation <b>{}</b> with {} folds; seed "
      "{}; search budget {}; trained in {:.1f} s. Feature spec hash <code>{}</code>.</p>",
      TaskName(task), facts.table->target.size(), facts.table->feature_names.size(),
      CvModeName(r.cv), r.folds.size(), facts.options->seed, facts.options->search, r.seconds,
      facts.pipeline->hash());
  for (const std::string& w : r.warnings) {
    html += fmt::format("<p class=\"warn\">Warning: {}</p>", core::HtmlEscape(w));
  }
  html += "<h2>Ensemble and members (out of fold)</h2><table><tr><th>model</th><th>weight</th>" +
          MetricHeader(task) + "</tr>";
  html += "<tr><th>ensemble</th><td></td>" + MetricCells(task, r.ensemble) + "</tr>";
  for (size_t j = 0; j < r.members.size(); ++j) {
    html += fmt::format("<tr><th>{}</th><td>{}</td>", LearnerName(r.members[j].kind),
                        Fixed(ensemble.combiner.weights[j])) +
            MetricCells(task, r.members[j].oof) + "</tr>";
  }
  html += "</table>";
  if (task == Task::kMode) html += ModeTables(r, ensemble.classes);
  html += task != Task::kRul ? ClassificationCharts(facts, ensemble) : RulCharts(facts);
  html += "<h2>Feature importance (mean |contribution| to the ensemble margin)</h2>" +
          ImportanceBars(facts);
  html += "<h2>Folds</h2><table><tr><th>fold</th><th>train rows</th><th>seconds</th>" +
          MetricHeader(task) + "</tr>";
  for (size_t f = 0; f < r.folds.size(); ++f) {
    html += fmt::format("<tr><th>{}</th><td>{}</td><td>{:.1f}</td>", f + 1, r.folds[f].train_rows,
                        r.folds[f].seconds) +
            MetricCells(task, r.folds[f].scores) + "</tr>";
  }
  html +=
      "</table><p>Each fold's threshold, ensemble weights and calibration were fitted on the "
      "other folds' out-of-fold predictions, never on the rows they score.</p></body></html>\n";
  return html;
}

}  // namespace pdm::model
