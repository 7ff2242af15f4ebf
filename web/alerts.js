// Alerts: open / acknowledged / resolved, acknowledged and resolved from here with a resolution
// (POST /api/v1/alerts/{id}/ack|resolve, with the operator token), and each alert's history.
import { act, api, badge, errorText, h, int, table, throttle, time, toast } from './lib.js';

const RESOLUTIONS = [
  ['failure_confirmed', 'Failure confirmed'],
  ['no_fault_found', 'No fault found'],
  ['maintenance_done', 'Maintenance done'],
];

// The resolution chosen per alert, kept across the live re-renders of the lists.
const chosen = new Map();

// The ack / resolve controls of one alert; `done` runs after a change.
export function alertActions(alert, done) {
  if (alert.state === 'resolved') return h('span.muted', {}, alert.resolution || '');
  const box = h('div.alert-actions');
  if (alert.state === 'open') {
    box.append(h('button.secondary', {
      type: 'button',
      'aria-label': `Acknowledge alert ${alert.id}`,
      onclick: async () => {
        try {
          await act(`/api/v1/alerts/${alert.id}/ack`, { by: 'dashboard' });
          toast(`Alert #${alert.id} acknowledged`);
          done();
        } catch (error) { toast(errorText(error), 'error'); }
      },
    }, 'Acknowledge'));
  }
  if (alert.kind === 'drift') return box;  // drift alerts resolve themselves when drift ends
  const select = h('select', {
    'aria-label': `Resolution of alert ${alert.id}`,
    onchange: (e) => chosen.set(alert.id, e.target.value),
  }, RESOLUTIONS.map(([v, t]) => h('option', { value: v }, t)));
  if (chosen.has(alert.id)) select.value = chosen.get(alert.id);
  box.append(select, h('button', {
    type: 'button',
    'aria-label': `Resolve alert ${alert.id}`,
    onclick: async () => {
      try {
        await act(`/api/v1/alerts/${alert.id}/resolve`, { by: 'dashboard', resolution: select.value });
        toast(`Alert #${alert.id} resolved: ${select.value}`);
        chosen.delete(alert.id);
        done();
      } catch (error) { toast(errorText(error), 'error'); }
    },
  }, 'Resolve'));
  return box;
}

export async function render(view) {
  let filter = 'active';
  const tabs = h('div.tabs', { role: 'tablist', 'aria-label': 'Alert state' });
  const list = h('div');
  const detail = h('section.detail', { 'aria-live': 'polite' });
  view.append(h('h1', {}, 'Alerts'), tabs, list, detail);
  const states = [['active', 'Open & acknowledged'], ['open', 'Open'], ['acknowledged', 'Acknowledged'], ['resolved', 'Resolved'], ['', 'All']];
  for (const [value, label] of states) {
    tabs.append(h('button.tab', {
      type: 'button', role: 'tab', 'aria-selected': value === filter ? 'true' : 'false', dataset: { state: value },
      onclick: (e) => {
        filter = value;
        for (const t of tabs.children) t.setAttribute('aria-selected', t === e.currentTarget ? 'true' : 'false');
        load();
      },
    }, label));
  }

  async function showHistory(id) {
    try {
      const a = await api(`/api/v1/alerts/${id}`);
      detail.replaceChildren(h('h2', {}, `Alert #${a.id}: ${a.machine || 'fleet'} (${a.kind})`),
        h('p', {}, a.message),
        table(['Time', 'Event', 'By', 'Note'], (a.history || []).map((e) => [time(e.time), e.event + (e.resolution ? `: ${e.resolution}` : ''), e.actor || '', e.note || ''])));
    } catch (error) {
      detail.replaceChildren(h('p.error', {}, errorText(error)));
    }
  }

  async function load() {
    try {
      const data = await api(`/api/v1/alerts?limit=500${filter ? `&state=${filter}` : ''}`);
      list.replaceChildren(h('p.summary', {}, `${int(data.alerts.length)} alerts`),
        data.alerts.length ? table(['Id', 'Machine', 'Kind', 'Severity', 'State', 'Data time', 'Message', 'Actions'], data.alerts.map((a) => [
          h('button.link', { type: 'button', onclick: () => showHistory(a.id), 'aria-label': `History of alert ${a.id}` }, `#${a.id}`),
          a.machine ? h('a', { href: `#/machine/${encodeURIComponent(a.machine)}` }, a.machine) : 'fleet',
          a.kind, badge(a.severity === 'critical' ? 'critical' : 'warning', a.severity), badge(a.state, a.state),
          time(a.time), a.message, alertActions(a, load)]), { className: 'alerts' })
          : h('p.muted', {}, 'No alert in this state.'));
    } catch (error) {
      list.replaceChildren(h('p.error', {}, errorText(error)));
    }
  }
  await load();
  const refresh = throttle(load, 2000);
  render.onEvent = (type) => { if (type === 'alert' || type === 'poll') refresh(); };
  return () => { render.onEvent = null; };
}

export function onEvent(type, data) {
  if (render.onEvent) render.onEvent(type, data);
}
