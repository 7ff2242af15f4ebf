// Drift and data quality: per feature its status and statistics against the training
// reference, the reference and current histograms of a chosen feature, the refusal share per
// input field, and the label-free performance estimate. GET /api/v1/drift, /api/v1/performance.
import { api, badge, chart, errorText, h, int, num, pct, table, throttle, time } from './lib.js';

const ORDER = { drift: 0, warning: 1, ok: 2, not_monitored: 3 };

export async function render(view) {
  const content = h('div');
  view.append(h('h1', {}, 'Drift & data quality'), content);
  let histogram = null;
  let selected = null;

  function showHistogram(feature, host) {
    if (histogram) histogram.destroy();
    host.replaceChildren(h('h2', {}, `${feature.name}: reference against current`));
    const hist = feature.histogram;
    if (!hist) return;
    const total = (xs) => xs.reduce((a, b) => a + b, 0) || 1;
    const ref = hist.reference.map((x) => x / total(hist.reference));
    const cur = hist.current.length ? hist.current.map((x) => x / total(hist.current)) : ref.map(() => 0);
    const edges = hist.upper_edges;
    const labels = ref.map((_, i) => (i < edges.length ? `≤ ${num(edges[i], 3)}` : `> ${num(edges[edges.length - 1], 3)}`));
    histogram = chart(host, {
      type: 'bar',
      data: { labels, datasets: [
        { label: 'reference (training)', data: ref, backgroundColor: 'rgba(31,119,180,0.55)' },
        { label: 'current window', data: cur, backgroundColor: 'rgba(214,39,40,0.55)' },
      ] },
      options: { scales: { y: { title: { display: true, text: 'share of rows' } }, x: { ticks: { autoSkip: true, maxRotation: 60 } } } },
    }, { label: `histograms of ${feature.name}`, height: 280 });
  }

  async function load() {
    let drift;
    try {
      drift = await api('/api/v1/drift');
    } catch (error) {
      content.replaceChildren(h('p.error', {}, errorText(error)));
      return;
    }
    if (!drift.features.length) {
      content.replaceChildren(h('p.muted', {}, `No evaluation yet: the drift window fills as telemetry arrives (every ${drift.every}, from ${int(drift.min_rows)} rows).`));
      return;
    }
    const perf = await api('/api/v1/performance').catch(() => null);
    const features = drift.features.slice().sort((a, b) => (ORDER[a.status] - ORDER[b.status]) || ((b.statistics.psi || 0) - (a.statistics.psi || 0)));
    const histHost = h('section.histogram');
    const summary = h('p.summary', {},
      drift.dataset_drift ? badge('drift', 'dataset drift') : badge('ok', 'no dataset drift'), ' ',
      `${int(drift.features_in_drift)} features in drift, ${int(drift.features_in_warning)} in warning, of ${int(drift.features_monitored)} monitored`,
      ` · window ${drift.window.span} (${int(drift.window.rows)} rows), evaluated every ${drift.every}`,
      drift.evaluated_at ? ` · last evaluation at data time ${time(drift.evaluated_at)}` : '',
      drift.warming_up ? ` · warming up (fewer than ${int(drift.min_rows)} rows)` : '');
    const quality = drift.data_quality;
    const qualitySection = h('section', { 'aria-labelledby': 'dq-title' }, h('h2', { id: 'dq-title' }, 'Data quality'),
      h('p', {}, `${int(quality.refused)} of ${int(quality.readings)} readings refused in the window (${pct(quality.refusal_share, 2)}).`),
      quality.fields.length ? table(['Field', 'Refused', 'Share', 'Status'], quality.fields.map((f) => [f.field, int(f.refused), pct(f.share, 2), badge(f.status, f.status)])) : h('p.muted', {}, 'No field refused.'));
    const perfSection = h('section', { 'aria-labelledby': 'perf-title' }, h('h2', { id: 'perf-title' }, 'Model performance'));
    if (perf && perf.estimated) {
      const e = perf.estimated;
      perfSection.append(table(['', 'Precision', 'Recall', 'Alarm rate', 'Rows'], [
        ['Estimated (from calibrated probabilities)', pct(e.precision), pct(e.recall), pct(e.alarm_rate), int(e.rows || e.window_rows)],
        perf.realised ? ['Realised (from failures and alert resolutions)', pct(perf.realised.precision), pct(perf.realised.recall), pct(perf.realised.alarm_rate), int(perf.realised.rows)] : null,
      ].filter(Boolean)));
    } else {
      perfSection.append(h('p.muted', {}, perf && perf.reason ? perf.reason : 'No estimate for this model.'));
    }
    const rows = features.map((f) => {
      const s = f.statistics;
      const tr = h('tr', { tabindex: '0', dataset: { feature: f.name } },
        h('td', {}, h('button.link', { type: 'button', onclick: () => { selected = f.name; showHistogram(f, histHost); } }, f.name)),
        h('td', {}, f.kind || ''), h('td', {}, f.status === 'not_monitored' ? h('span.muted', {}, 'not monitored') : badge(f.status, f.status)),
        h('td.numeric', {}, num(s.psi, 3)), h('td.numeric', {}, num(s.ks, 3)), h('td.numeric', {}, num(s.jensen_shannon, 3)),
        h('td.numeric', {}, num(s.wasserstein, 3)), h('td.numeric', {}, num(s.median_shift, 3)), h('td.numeric', {}, pct(f.missing_share)),
        h('td', {}, f.trigger || ''));
      return tr;
    });
    const featureTable = h('table.drift', {},
      h('caption', {}, 'Statistics of the window against the training reference (Wasserstein in reference standard deviations; median shift in reference quantiles)'),
      h('thead', {}, h('tr', {}, ['Feature', 'Kind', 'Status', 'PSI', 'KS', 'Jensen-Shannon', 'Wasserstein', 'Median shift', 'Missing', 'Set by'].map((c) => h('th', { scope: 'col' }, c)))),
      h('tbody', {}, rows));
    content.replaceChildren(summary, perfSection, qualitySection, histHost, h('section', {}, h('h2', {}, 'Features'), featureTable));
    const first = features.find((f) => f.name === selected) || features.find((f) => f.status !== 'not_monitored') || features[0];
    if (first) showHistogram(first, histHost);
  }
  await load();
  const refresh = throttle(load, 10000);
  render.onEvent = (type) => { if (type === 'poll' || type === 'model') refresh(); };
  return () => {
    render.onEvent = null;
    if (histogram) histogram.destroy();
  };
}

export function onEvent(type, data) {
  if (render.onEvent) render.onEvent(type, data);
}
