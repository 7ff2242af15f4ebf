// Business case: pdm roi with the served model's measured errors (recall and false alarms from
// its out-of-fold confusion matrix), the yearly cash flows, and the cost-optimal threshold curve
// over its out-of-fold scores. GET /api/v1/roi.
import { api, chart, errorText, h, money, num, pct, table } from './lib.js';

export async function render(view) {
  const charts = [];
  view.append(h('h1', {}, 'Business case'));
  let c;
  try {
    c = await api('/api/v1/roi');
  } catch (error) {
    view.append(h('p.error', {}, errorText(error)));
    return null;
  }
  const cur = c.currency;
  // Amounts in a unit such as "million RUB" are not an ISO code: shown as numbers with the unit.
  const amount = (v) => (/^[A-Z]{3}$/.test(cur) ? money(v, cur) : `${num(v, 1)} ${cur}`);
  const years = (v) => (v === null || v === undefined ? 'not within the horizon' : `${num(v, 2)} years`);
  view.append(
    h('p.summary', {}, `Model ${c.model.name} v${c.model.version}; detection from ${c.detection_from}; inputs from ${c.config}.`),
    h('dl.facts', {},
      h('dt', {}, 'ROI (simple)'), h('dd.big', {}, pct(c.roi_simple, 0)),
      h('dt', {}, 'ROI with ramp-up'), h('dd', {}, pct(c.roi_ramp_up, 0)),
      h('dt', {}, `NPV at ${pct(c.discount_rate, 0)}`), h('dd', {}, amount(c.npv)),
      h('dt', {}, 'Payback'), h('dd', {}, years(c.payback_years_ramp_up)),
      h('dt', {}, 'Recall (measured)'), h('dd', {}, pct(c.detection.recall)),
      h('dt', {}, 'False alarms a year'), h('dd', {}, num(c.detection.false_alarms_per_year, 0))));

  const flows = h('section', { 'aria-labelledby': 'flows-title' }, h('h2', { id: 'flows-title' }, `Cash flows over ${c.horizon_years} years`));
  view.append(flows);
  charts.push(chart(flows, {
    type: 'bar',
    data: {
      labels: c.years.map((y) => `year ${y.year}`),
      datasets: [
        { type: 'bar', label: 'net', data: c.years.map((y) => y.net), backgroundColor: 'rgba(31,119,180,0.6)' },
        { type: 'line', label: 'cumulative (discounted)', data: c.years.map((y) => y.discounted_cumulative), borderColor: '#d62728', pointRadius: 3 },
      ],
    },
    options: { scales: { y: { title: { display: true, text: cur } } } },
  }, { label: 'yearly net cash flow and discounted cumulative' }));
  flows.append(table(['Year', 'Benefits', 'Costs', 'Net', 'Cumulative'], c.years.map((y) => [String(y.year), amount(y.benefits_total), amount(y.costs_total), amount(y.net), amount(y.cumulative)])));

  const sweep = h('section', { 'aria-labelledby': 'sweep-title' }, h('h2', { id: 'sweep-title' }, 'Cost-optimal alarm threshold'));
  view.append(sweep);
  if (c.threshold) {
    const t = c.threshold;
    sweep.append(h('p', {}, `Best threshold ${num(t.best.threshold, 4)}: recall ${pct(t.best.recall)}, false-positive rate ${pct(t.best.false_positive_rate, 2)}, expected savings ${amount(t.best.yearly_savings)} a year`,
      c.served_threshold !== null ? ` (served threshold ${num(c.served_threshold, 4)})` : '', '.'));
    charts.push(chart(sweep, {
      type: 'line',
      data: { labels: t.curve.map((p) => num(p.threshold, 3)), datasets: [{ label: `expected yearly savings (${cur})`, data: t.curve.map((p) => p.yearly_savings), borderColor: '#2ca02c', pointRadius: 0 }] },
      options: { scales: { x: { title: { display: true, text: 'alarm threshold on the failure probability' }, ticks: { maxTicksLimit: 11 } } } },
    }, { label: 'expected yearly savings by alarm threshold' }));
  } else {
    sweep.append(h('p.muted', {}, `No threshold sweep: ${c.threshold_reason}.`));
  }
  return () => { for (const x of charts) x.destroy(); };
}
