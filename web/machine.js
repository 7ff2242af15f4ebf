// Machine: its risk over time with the threshold, its sensors' recent trends, what drives the
// current risk (TreeSHAP contributions), its events timeline and its alerts.
// GET /api/v1/machines/{id} and GET /api/v1/alerts?machine=.
import { api, badge, chart, errorText, h, int, num, risk, shortTime, table, throttle, time } from './lib.js';
import { alertActions } from './alerts.js';

const PALETTE = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#8c564b', '#e377c2', '#7f7f7f', '#bcbd22'];

export async function render(view, [id]) {
  let charts = [];
  const content = h('div');
  view.append(h('p', {}, h('a', { href: '#/fleet' }, '← Fleet')), content);

  async function load() {
    let m;
    try {
      m = await api(`/api/v1/machines/${encodeURIComponent(id)}`);
    } catch (error) {
      content.replaceChildren(h('h1', {}, id), h('p.error', {}, errorText(error)));
      return;
    }
    const alerts = await api(`/api/v1/alerts?machine=${encodeURIComponent(id)}&limit=50`).catch(() => ({ alerts: [] }));
    for (const c of charts) c.destroy();
    charts = [];
    const kind = m.rul !== undefined ? 'rul' : 'probability';
    const status = m.alarm ? badge('alarm', 'alarm') : badge('ok', 'ok');
    content.replaceChildren(
      h('h1', {}, `Machine ${m.machine} `, status),
      h('dl.facts', {},
        h('dt', {}, kind === 'rul' ? 'Remaining useful life' : 'Failure probability'), h('dd.big', {}, risk(m, kind)),
        h('dt', {}, 'Last reading'), h('dd', {}, time(m.time)),
        h('dt', {}, 'Readings'), h('dd', {}, `${int(m.readings)} accepted, ${int(m.refused)} refused`),
        m.threshold !== undefined ? [h('dt', {}, 'Alarm threshold'), h('dd', {}, num(m.threshold, 3))] : null,
        Object.entries(m.attributes || {}).map(([k, v]) => [h('dt', {}, k), h('dd', {}, typeof v === 'number' ? num(v) : v)])));

    // Risk over time, with the served threshold.
    const riskSection = h('section', { 'aria-labelledby': 'risk-title' }, h('h2', { id: 'risk-title' }, 'Risk over time'));
    content.append(riskSection);
    const history = m.history && m.history.length ? m.history : (m.trend || []).map((v, i) => ({ time: i, [kind]: v }));
    if (history.length) {
      const labels = history.map((p) => shortTime(p.time));
      const axis = typeof history[0].time === 'number' ? 'cycle' : 'time (UTC)';
      const datasets = [{ label: kind === 'rul' ? 'RUL' : 'failure probability', data: history.map((p) => p[kind]), borderColor: PALETTE[0], pointRadius: 0, borderWidth: 2 }];
      if (m.threshold !== undefined) datasets.push({ label: 'alarm threshold', data: history.map(() => m.threshold), borderColor: PALETTE[1], borderDash: [6, 4], pointRadius: 0, borderWidth: 1 });
      charts.push(chart(riskSection, { type: 'line', data: { labels, datasets }, options: { scales: { x: { title: { display: true, text: axis }, ticks: { maxTicksLimit: 8, maxRotation: 0 } }, y: kind === 'rul' ? { title: { display: true, text: 'remaining useful life' } } : { min: 0, suggestedMax: Math.min(1, 2 * (m.threshold || 0.5)), title: { display: true, text: 'failure probability' } } } } }, { label: `risk of ${m.machine} over time` }));
    } else {
      riskSection.append(h('p.muted', {}, 'No scored reading yet.'));
    }

    // Contributions of the current risk.
    const why = h('section', { 'aria-labelledby': 'why-title' }, h('h2', { id: 'why-title' }, 'What drives the current risk'));
    content.append(why);
    if (m.contributions) {
      const top = m.contributions.top;
      const largest = Math.max(...top.map((c) => Math.abs(c.contribution)), 1e-9);
      why.append(h('p.muted', {}, 'TreeSHAP contributions to the model\'s margin (log-odds for a probability): positive raises the risk.'),
        table(['Feature', 'Value', 'Contribution', ''], top.map((c) => [
          h('td.feature', {}, c.feature), h('td.numeric', {}, num(c.value, 3)), h('td.numeric', {}, `${c.contribution >= 0 ? '+' : ''}${num(c.contribution, 3)}`),
          h('td', {}, h(`span.bar.${c.contribution >= 0 ? 'up' : 'down'}`, { style: `width:${Math.round((Math.abs(c.contribution) / largest) * 100)}%`, 'aria-hidden': 'true' })),
        ]), { className: 'contributions' }));
    } else {
      why.append(h('p.muted', {}, m.alarm !== undefined
        ? 'Explanations are kept for machines at risk (in alarm, or at least half the alarm threshold); start pdm serve with --explain-all to keep them for every machine.'
        : 'No explanation: the machine has no reading scored by the served model yet.'));
    }

    // Sensors.
    const sensors = h('section', { 'aria-labelledby': 'sensors-title' }, h('h2', { id: 'sensors-title' }, 'Sensors'));
    content.append(sensors);
    const series = Object.entries(m.sensors || {});
    if (series.length) {
      const grid = h('div.grid');
      sensors.append(grid);
      series.forEach(([name, points], i) => {
        const windows = Object.entries((m.windows || {})[name] || {});
        const cell = h('div.card', {}, h('h3', {}, name), h('p.muted', {}, `last ${num(points[points.length - 1][1], 3)}`));
        grid.append(cell);
        charts.push(chart(cell, {
          type: 'line',
          data: { labels: points.map((p) => shortTime(p[0])), datasets: [{ label: name, data: points.map((p) => p[1]), borderColor: PALETTE[i % PALETTE.length], pointRadius: 0, borderWidth: 1.5 }] },
          options: { plugins: { legend: { display: false } }, scales: { x: { ticks: { maxTicksLimit: 4, maxRotation: 0 } } } },
        }, { label: `${name} of ${m.machine}`, height: 160 }));
        if (windows.length) {
          cell.append(h('details', {}, h('summary', {}, `${windows.length} window features now`),
            h('dl.windows', {}, windows.map(([f, v]) => [h('dt', {}, f.startsWith(`${name}_`) ? f.slice(name.length + 1) : f), h('dd', {}, num(v, 3))]))));
        }
      });
    } else {
      sensors.append(h('p.muted', {}, 'Sensor history is kept when the server stores telemetry (not with --no-store-telemetry).'),
        table(['Sensor', 'Last value'], Object.entries(m.last_readings || {}).map(([k, v]) => [k, v === null ? '–' : (typeof v === 'number' ? num(v, 3) : v)])));
    }

    // Events.
    const events = h('section', { 'aria-labelledby': 'events-title' }, h('h2', { id: 'events-title' }, 'Events'));
    content.append(events);
    const list = (m.events || []).slice().reverse();
    events.append(list.length
      ? h('ol.timeline', {}, list.map((e) => h('li', {}, badge(e.type === 'failure' ? 'alarm' : e.type === 'maintenance' ? 'ok' : 'warning', e.type), ` ${time(e.time)}`, e.kind ? ` · ${e.kind}` : '')))
      : h('p.muted', {}, 'No maintenance, failure or error event since this server started.'));

    // Alerts.
    const alertSection = h('section', { 'aria-labelledby': 'alerts-title' }, h('h2', { id: 'alerts-title' }, 'Alerts'));
    content.append(alertSection);
    alertSection.append(alerts.alerts.length
      ? table(['Id', 'Opened', 'Severity', 'State', 'Message', ''], alerts.alerts.map((a) => [
        `#${a.id}`, time(a.time), badge(a.severity === 'critical' ? 'critical' : 'warning', a.severity), badge(a.state, a.state), a.message, alertActions(a, load)]))
      : h('p.muted', {}, 'No alert for this machine.'));
  }

  await load();
  const refresh = throttle(load, 3000);
  render.onEvent = (type, data) => {
    if (type === 'poll' || type === 'model') refresh();
    if (type === 'alert' && data.machine === id) refresh();
    if (type === 'risk' && (data.machines || []).some((x) => x.machine === id)) refresh();
  };
  return () => {
    render.onEvent = null;
    for (const c of charts) c.destroy();
  };
}

export function onEvent(type, data) {
  if (render.onEvent) render.onEvent(type, data);
}
