#include "monitor/batch_drift.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "core/strings.h"
#include "fmt/format.h"
#include "monitor/calibration.h"

namespace pdm::monitor {
namespace {

using json = nlohmann::json;

ColumnThresholds ThresholdsOf(const ColumnProfile& column, const ReferenceProfile& profile,
                              const BatchDriftOptions& o) {
  if (o.calibrated_thresholds && profile.calibration_window) {
    return ThresholdsFor(column.null_psi.full, o.warning_psi, o.drift_psi, o.calibration_margin);
  }
  return {o.warning_psi, o.drift_psi, false};
}

DriftStatus StatusOf(const ColumnDrift& d) {
  if (!d.monitored || d.rows == 0) return DriftStatus::kOk;
  if (d.psi >= d.thresholds.drift) return DriftStatus::kDrift;
  if (d.psi >= d.thresholds.warning) return DriftStatus::kWarning;
  return DriftStatus::kOk;
}

}  // namespace

DriftReport CompareWithProfile(const ReferenceProfile& profile, const BatchRows& rows,
                               const BatchDriftOptions& options) {
  // The streaming monitor's statistics over one window that holds every row.
  DriftOptions o;
  o.window = {core::Span::Kind::kRecords, std::max<int64_t>(1, static_cast<int64_t>(rows.rows))};
  o.every = {core::Span::Kind::kRecords, std::numeric_limits<int64_t>::max() / 2};
  o.buckets = 1;
  o.min_rows = 1;
  o.consecutive = 1;
  o.calibrated_thresholds = false;
  o.sample_above = 0;  // a batch is counted in full
  o.dataset_drift_share = options.dataset_drift_share;
  // The model's features and the score: level columns (level.h) need each machine's readings
  // in time order, which a batch of feature rows does not carry.
  ReferenceProfile features_only = profile;
  features_only.levels.clear();
  features_only.level_features.clear();
  DriftMonitor monitor(std::move(features_only), o);
  std::vector<ObservedRow> observed(rows.rows);
  for (size_t r = 0; r < rows.rows; ++r) {
    observed[r].features = std::span<const float>(rows.x + r * rows.cols, rows.cols);
    observed[r].score =
        rows.score.empty() ? std::numeric_limits<double>::quiet_NaN() : rows.score[r];
    if (!rows.since_start.empty()) observed[r].since_start = rows.since_start[r];
  }
  monitor.Observe(observed);
  DriftReport report = *monitor.EvaluateNow();
  // One look, no hysteresis: each column's status from its PSI and thresholds.
  report.warming_up = false;
  report.features_in_drift = report.features_in_warning = report.features_monitored = 0;
  for (size_t c = 0; c < report.features.size(); ++c) {
    ColumnDrift& d = report.features[c];
    d.thresholds = ThresholdsOf(profile.features[c], profile, options);
    d.fast_psi.reset();
    d.status = StatusOf(d);
    if (!d.monitored) continue;
    ++report.features_monitored;
    if (d.status == DriftStatus::kDrift) ++report.features_in_drift;
    if (d.status == DriftStatus::kWarning) ++report.features_in_warning;
  }
  report.score.thresholds = ThresholdsOf(profile.score, profile, options);
  report.score.status = StatusOf(report.score);
  report.drifted_share = report.features_monitored > 0
                             ? static_cast<double>(report.features_in_drift) /
                                   static_cast<double>(report.features_monitored)
                             : 0;
  report.dataset_drift = report.drifted_share >= options.dataset_drift_share;
  return report;
}

std::vector<RegimeDrift> CompareByRegime(const ReferenceProfile& profile, const BatchRows& rows,
                                         const BatchDriftOptions& options) {
  std::vector<RegimeDrift> out;
  if (!profile.regime_feature) return out;
  for (int g = 0; g < profile.regimes; ++g) {
    // The regime's own reference: each column's histogram in it (the pooled one for a column
    // without regime counts), no mixing.
    ReferenceProfile own = profile;
    own.regime_feature.reset();
    own.regimes = 0;
    int64_t reference_rows = 0;
    auto restrict = [&](ColumnProfile* c) {
      if (static_cast<size_t>(g) < c->regime_counts.size()) {
        c->counts = c->regime_counts[static_cast<size_t>(g)];
        double values = 0;
        for (double n : c->counts) values += n;
        c->values = static_cast<int64_t>(values);
        reference_rows = std::max(reference_rows, c->values);
      }
      c->regime_counts.clear();
      DeriveCoarseBins(c);
    };
    for (ColumnProfile& c : own.features) restrict(&c);
    restrict(&own.score);
    std::vector<float> x;
    std::vector<double> score, since_start;
    for (size_t r = 0; r < rows.rows; ++r) {
      const std::span<const float> row(rows.x + r * rows.cols, rows.cols);
      if (profile.RegimeOf(row) != g) continue;
      x.insert(x.end(), row.begin(), row.end());
      if (!rows.score.empty()) score.push_back(rows.score[r]);
      if (!rows.since_start.empty()) since_start.push_back(rows.since_start[r]);
    }
    if (x.empty()) continue;
    BatchRows in_regime{x.size() / rows.cols, rows.cols, x.data(), score, since_start};
    out.push_back({g,
                   static_cast<size_t>(g) < profile.regime_names.size()
                       ? profile.regime_names[static_cast<size_t>(g)]
                       : std::string(),
                   static_cast<int64_t>(in_regime.rows), reference_rows,
                   CompareWithProfile(own, in_regime, options)});
  }
  return out;
}

json BatchDriftJson(const DriftReport& report, const ReferenceProfile& profile,
                    const BatchDriftOptions& options, const std::vector<RegimeDrift>& regimes) {
  DriftOptions shown;
  shown.window = {core::Span::Kind::kRecords, std::max<int64_t>(1, report.window_rows)};
  shown.warning_psi = options.warning_psi;
  shown.drift_psi = options.drift_psi;
  shown.calibrated_thresholds = options.calibrated_thresholds;
  shown.calibration_margin = options.calibration_margin;
  shown.dataset_drift_share = options.dataset_drift_share;
  shown.buckets = 1;
  shown.consecutive = 1;
  shown.min_rows = 1;
  json out = DriftReportJson(report, profile, shown, /*histograms=*/true);
  // A batch has no window or schedule: drop what only the server's report means.
  for (const char* key : {"evaluations", "every", "late_rows", "warming_up", "min_rows"}) {
    out.erase(key);
  }
  out["rows"] = report.window_rows;
  out.erase("window");
  out["thresholds"].erase("exit_factor");
  out["thresholds"].erase("consecutive");
  out["thresholds"].erase("fast_window_buckets");
  if (!regimes.empty()) {
    json by_regime = json::array();
    for (const RegimeDrift& r : regimes) {
      json features = json::array();
      for (const ColumnDrift& d : r.report.features) {
        features.push_back({{"name", d.name},
                            {"status", d.monitored ? DriftStatusName(d.status) : "not_monitored"},
                            {"psi", d.psi},
                            {"median_shift", std::isfinite(d.median_shift) ? json(d.median_shift)
                                                                           : json(nullptr)}});
      }
      by_regime.push_back({{"regime", r.regime},
                           {"name", r.name},
                           {"rows", r.rows},
                           {"reference_rows", r.reference_rows},
                           {"features_in_drift", r.report.features_in_drift},
                           {"features_in_warning", r.report.features_in_warning},
                           {"features", std::move(features)}});
    }
    out["by_regime"] = std::move(by_regime);
  }
  return out;
}

namespace {

std::string Fixed(double v, int digits = 3) {
  return std::isfinite(v) ? fmt::format("{:.{}f}", v, digits) : "n/a";
}

// Reference against current shares of one column's coarse bins, as paired bars.
std::string HistogramSvg(const ColumnDrift& d, const ColumnProfile& ref) {
  constexpr int kWidth = 460, kHeight = 190, kLeft = 44, kBottom = 34, kTop = 22;
  const size_t bins = ref.coarse_bins();
  double ref_total = 0, cur_total = 0, top = 0;
  // The reference the column was compared against (mixed in the file's regime shares).
  const std::vector<double>& reference =
      d.reference.size() == bins ? d.reference : ref.coarse_counts;
  for (double c : reference) ref_total += c;
  for (double c : d.current) cur_total += c;
  std::vector<double> p(bins, 0), q(bins, 0);
  for (size_t b = 0; b < bins; ++b) {
    if (ref_total > 0) p[b] = reference[b] / ref_total;
    if (cur_total > 0 && b < d.current.size()) q[b] = d.current[b] / cur_total;
    top = std::max({top, p[b], q[b]});
  }
  if (top <= 0) top = 1;
  const double slot = static_cast<double>(kWidth - kLeft - 8) / static_cast<double>(bins);
  const double plot = kHeight - kTop - kBottom;
  std::string svg = fmt::format(
      R"~(<svg xmlns="http://www.w3.org/2000/svg" width="{}" height="{}" role="img" aria-label="{}: reference and current share per bin">)~",
      kWidth, kHeight, core::HtmlEscape(d.name));
  svg += fmt::format(R"~(<text x="{}" y="14" class="t">{} (PSI {})</text>)~", kWidth / 2,
                     core::HtmlEscape(d.name), Fixed(d.psi, 2));
  for (int i = 0; i <= 2; ++i) {
    const double v = top * i / 2;
    const double y = kTop + plot - plot * i / 2;
    svg += fmt::format(R"~(<text x="{}" y="{:.1f}" class="tick" text-anchor="end">{:.0f}%</text>)~",
                       kLeft - 4, y + 4, v * 100);
  }
  for (size_t b = 0; b < bins; ++b) {
    const double x = kLeft + slot * static_cast<double>(b);
    const double hp = plot * p[b] / top, hq = plot * q[b] / top;
    svg += fmt::format(
        R"~(<rect x="{:.1f}" y="{:.1f}" width="{:.1f}" height="{:.1f}" class="ref"><title>bin {}: reference {:.1f}%</title></rect>)~",
        x + 1, kTop + plot - hp, slot / 2 - 1, hp, b + 1, p[b] * 100);
    svg += fmt::format(
        R"~(<rect x="{:.1f}" y="{:.1f}" width="{:.1f}" height="{:.1f}" class="cur"><title>bin {}: current {:.1f}%</title></rect>)~",
        x + slot / 2, kTop + plot - hq, slot / 2 - 1, hq, b + 1, q[b] * 100);
  }
  // The lowest and highest finite edges under the axis, so the range is readable.
  if (!ref.edges.empty()) {
    svg += fmt::format(R"~(<text x="{}" y="{}" class="tick">{:.4g}</text>)~", kLeft,
                       kHeight - kBottom + 14, ref.edges.front());
    svg += fmt::format(R"~(<text x="{}" y="{}" class="tick" text-anchor="end">{:.4g}</text>)~",
                       kWidth - 8, kHeight - kBottom + 14, ref.edges.back());
  }
  svg += fmt::format(
      R"~(<text x="{}" y="{}" class="legend"><tspan class="refl">&#9632; training</tspan> <tspan class="curl">&#9632; this file</tspan> (bins of equal training mass)</text>)~",
      kLeft, kHeight - 6);
  return svg + "</svg>";
}

const char* StatusClass(const ColumnDrift& d) {
  if (!d.monitored) return "nm";
  switch (d.status) {
    case DriftStatus::kDrift:
      return "drift";
    case DriftStatus::kWarning:
      return "warning";
    case DriftStatus::kOk:
      break;
  }
  return "ok";
}

std::string StatusText(const ColumnDrift& d) {
  return d.monitored ? DriftStatusName(d.status) : "not monitored";
}

}  // namespace

std::string BatchDriftHtml(const DriftReport& report, const ReferenceProfile& profile,
                           const BatchDriftSource& source, const BatchDriftOptions& options,
                           const std::vector<RegimeDrift>& regimes) {
  std::vector<size_t> order(report.features.size());
  for (size_t j = 0; j < order.size(); ++j) order[j] = j;
  // Drift first, then warning, then by PSI over the drift threshold.
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    const ColumnDrift &x = report.features[a], &y = report.features[b];
    if (x.monitored != y.monitored) return x.monitored;
    if (x.status != y.status) return x.status > y.status;
    return x.psi / x.thresholds.drift > y.psi / y.thresholds.drift;
  });
  std::string html =
      "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">"
      "<title>pdm drift report</title><style>"
      "body{font-family:system-ui,sans-serif;margin:24px;color:#222;max-width:1100px}"
      "table{border-collapse:collapse;font-size:13px}td,th{padding:3px 8px;text-align:right;"
      "border-bottom:1px solid #ddd}td:first-child,th:first-child{text-align:left}"
      ".drift{color:#b00020;font-weight:600}.warning{color:#a15c00;font-weight:600}"
      ".ok{color:#2a7a2a}.nm{color:#777}"
      "svg{margin:6px 12px 6px 0}.t{font-size:12px;text-anchor:middle;font-weight:600}"
      ".tick{font-size:10px;fill:#555}.legend{font-size:10px}.ref{fill:#1f77b4}"
      ".cur{fill:#ff7f0e}.refl{fill:#1f77b4}.curl{fill:#ff7f0e}"
      ".charts{display:flex;flex-wrap:wrap}</style></head><body>";
  html += "<h1>Drift report</h1>";
  html += fmt::format(
      "<p>Model <code>{}</code>, data <code>{}</code> (spec <code>{}</code>): {} rows read, {} "
      "quarantined, {} compared with the {} training rows of the model's reference profile.</p>",
      core::HtmlEscape(source.model), core::HtmlEscape(source.data), core::HtmlEscape(source.spec),
      source.rows_read, source.rows_quarantined, report.window_rows, profile.rows);
  html += fmt::format(
      "<p class=\"{}\">{} of {} monitored features in drift, {} in warning{}.</p>",
      report.dataset_drift ? "drift" : (report.features_in_drift > 0 ? "warning" : "ok"),
      report.features_in_drift, report.features_monitored, report.features_in_warning,
      report.dataset_drift ? fmt::format(": dataset drift (at least {:.0f}% of the features)",
                                         options.dataset_drift_share * 100)
                           : "");
  html += fmt::format(
      "<p>Status on PSI over 20 bins of equal training mass: thresholds {} (warning from {}, "
      "drift from {}{}). Each column leaves out the rows within its warm-up, as the profile did. "
      "KS and Wasserstein are binned estimates (docs/monitoring.md); Wasserstein is in training "
      "standard deviations. Clocks (age, time since maintenance) grow by construction and are "
      "not monitored.</p>",
      options.calibrated_thresholds && profile.calibration_window
          ? fmt::format("calibrated on the training data's own {} windows",
                        core::FormatSpan(*profile.calibration_window))
          : std::string("fixed"),
      options.warning_psi, options.drift_psi,
      options.calibrated_thresholds && profile.calibration_window
          ? fmt::format(", or {} x the training windows' 95th percentile and maximum when higher",
                        options.calibration_margin)
          : "");
  // Charts: the score, then the features not ok, then the highest PSI, up to 24 in all.
  html += "<h2>Distributions</h2><div class=\"charts\">";
  if (report.score.rows > 0) html += HistogramSvg(report.score, profile.score);
  int charts = 0;
  for (size_t j : order) {
    if (charts >= 24) break;
    html += HistogramSvg(report.features[j], profile.features[j]);
    ++charts;
  }
  html +=
      "</div><h2>Every feature</h2><table><tr><th>feature</th><th>kind</th><th>status</th>"
      "<th>PSI</th><th>drift threshold</th><th>Jensen-Shannon</th><th>KS</th>"
      "<th>Wasserstein</th><th>values</th><th>missing</th><th>missing in training</th></tr>";
  auto row = [&](const ColumnDrift& d, const ColumnProfile& ref) {
    html += fmt::format(
        "<tr><td>{}</td><td>{}</td><td class=\"{}\">{}</td><td>{}</td><td>{}{}</td><td>{}</td>"
        "<td>{}</td><td>{}</td><td>{}</td><td>{:.1f}%</td><td>{:.1f}%</td></tr>",
        core::HtmlEscape(d.name), core::HtmlEscape(ref.kind), StatusClass(d), StatusText(d),
        Fixed(d.psi), Fixed(d.thresholds.drift, 2), d.thresholds.calibrated ? "" : " (fixed)",
        Fixed(d.jensen_shannon), Fixed(d.ks), Fixed(d.wasserstein), d.rows, d.missing_share * 100,
        d.reference_missing_share * 100);
  };
  row(report.score, profile.score);
  for (size_t j : order) row(report.features[j], profile.features[j]);
  html += "</table>";
  if (!regimes.empty()) {
    html +=
        "<h2>By operating regime</h2><p>Each regime's rows against that regime's own training "
        "rows (the table above compares the whole file against the training rows mixed in the "
        "file's shares of the regimes). The ten features with the highest PSI against their "
        "drift threshold in each.</p>";
    for (const RegimeDrift& r : regimes) {
      html += fmt::format(
          "<h3>Regime {}{}: {} rows ({} in training), {} features in drift, {} in warning</h3>"
          "<table><tr><th>feature</th><th>status</th><th>PSI</th><th>drift threshold</th>"
          "<th>median shift</th></tr>",
          r.regime, r.name.empty() ? "" : " (" + core::HtmlEscape(r.name) + ")", r.rows,
          r.reference_rows, r.report.features_in_drift, r.report.features_in_warning);
      std::vector<const ColumnDrift*> top;
      for (const ColumnDrift& d : r.report.features) {
        if (d.monitored) top.push_back(&d);
      }
      std::stable_sort(top.begin(), top.end(), [](const ColumnDrift* a, const ColumnDrift* b) {
        return a->psi / a->thresholds.drift > b->psi / b->thresholds.drift;
      });
      if (top.size() > 10) top.resize(10);
      for (const ColumnDrift* d : top) {
        html += fmt::format(
            "<tr><td>{}</td><td class=\"{}\">{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            core::HtmlEscape(d->name), StatusClass(*d), StatusText(*d), Fixed(d->psi),
            Fixed(d->thresholds.drift, 2), Fixed(d->median_shift, 3));
      }
      html += "</table>";
    }
  }
  html += "</body></html>\n";
  return html;
}

}  // namespace pdm::monitor
