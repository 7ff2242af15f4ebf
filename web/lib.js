// Shared helpers of the dashboard's pages: the API client, formatting, small DOM builders.
// Every number shown goes through a formatter here, so units and time zones are shown the
// same way on every page.

const TOKEN_KEY = 'pdm.token';

export function token() {
  return sessionStorage.getItem(TOKEN_KEY) || '';
}
export function setToken(value) {
  if (value) sessionStorage.setItem(TOKEN_KEY, value);
  else sessionStorage.removeItem(TOKEN_KEY);
}

// Opens the token dialog (the header's button).
export function askForToken() {
  document.getElementById('token-button').click();
}

// A mutating call: asks for the operator token first when none is set, and says so on 401/403.
export async function act(path, body) {
  if (!token()) {
    askForToken();
    throw new Error('an operator token is needed: enter it, then try again');
  }
  try {
    return await api(path, { method: 'POST', body, auth: true });
  } catch (error) {
    if (error instanceof ApiError && (error.status === 401 || error.status === 403)) askForToken();
    throw error;
  }
}

export class ApiError extends Error {
  constructor(status, body) {
    super(body && body.error ? body.error : `HTTP ${status}`);
    this.status = status;
    this.body = body;
  }
}

// GET or POST JSON; throws ApiError with the server's message on a non-2xx answer.
export async function api(path, { method = 'GET', body, auth = false, signal } = {}) {
  const headers = { Accept: 'application/json' };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (auth && token()) headers.Authorization = `Bearer ${token()}`;
  const response = await fetch(path, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    signal,
    credentials: 'same-origin',
  });
  const type = response.headers.get('Content-Type') || '';
  const data = type.includes('json') ? await response.json() : await response.text();
  if (!response.ok) throw new ApiError(response.status, data);
  return data;
}

// The message of an API error, with its field details.
export function errorText(error) {
  if (!(error instanceof ApiError)) return String(error.message || error);
  const details = (error.body && error.body.details) || [];
  const parts = details.slice(0, 3).map((d) => `${d.field ? d.field + ': ' : ''}${d.reason}`);
  return parts.length ? `${error.message} (${parts.join('; ')})` : error.message;
}

export function toast(message, kind = 'info') {
  const box = document.getElementById('toast');
  box.textContent = message;
  box.className = kind;
  box.hidden = false;
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => { box.hidden = true; }, 6000);
}

// --- formatting -----------------------------------------------------------------------------

const numberFormat = new Intl.NumberFormat(undefined, { maximumFractionDigits: 2 });
const integerFormat = new Intl.NumberFormat(undefined, { maximumFractionDigits: 0 });

export function num(value, digits = 2) {
  if (value === null || value === undefined || Number.isNaN(value)) return '–';
  if (digits === 2) return numberFormat.format(value);
  return new Intl.NumberFormat(undefined, { maximumFractionDigits: digits }).format(value);
}
export function int(value) {
  return value === null || value === undefined ? '–' : integerFormat.format(value);
}
export function pct(value, digits = 1) {
  if (value === null || value === undefined || Number.isNaN(value)) return '–';
  return `${(value * 100).toFixed(digits)} %`;
}
export function money(value, currency) {
  if (value === null || value === undefined) return '–';
  try {
    return new Intl.NumberFormat(undefined, { style: 'currency', currency, maximumFractionDigits: 0 })
      .format(value);
  } catch {
    return `${integerFormat.format(value)} ${currency}`;
  }
}

// Times from the API are UTC ("2025-03-17T00:00:00Z"); they are shown in UTC with the zone
// named, because the data's clock (a replay, a plant elsewhere) is not the viewer's.
export function time(value) {
  if (value === null || value === undefined || value === '') return '–';
  if (typeof value === 'number') return `cycle ${num(value, 0)}`;
  const d = new Date(value);
  if (Number.isNaN(d.getTime())) return String(value);
  return `${d.toISOString().slice(0, 16).replace('T', ' ')} UTC`;
}

// A short label of a time for chart axes ("03-14 01:00"; the axis title names UTC).
export function shortTime(value) {
  if (typeof value === 'number') return String(value);
  const d = new Date(value);
  if (Number.isNaN(d.getTime())) return String(value);
  return d.toISOString().slice(5, 16).replace('T', ' ');
}

// A duration in seconds (or cycles when the data has no clock), in the largest fitting unit.
export function duration(seconds, cycles = false) {
  if (seconds === null || seconds === undefined || Number.isNaN(seconds)) return '–';
  if (cycles) return `${num(seconds, 0)} cycles`;
  const s = Math.abs(seconds);
  if (s < 90) return `${num(seconds, 0)} s`;
  if (s < 5400) return `${num(seconds / 60, 0)} min`;
  if (s < 172800) return `${num(seconds / 3600, 1)} h`;
  return `${num(seconds / 86400, 1)} d`;
}

// The risk of a machine: a failure probability, or remaining useful life (RUL).
export function risk(row, kind) {
  if (kind === 'rul') return row.rul === undefined ? '–' : `${num(row.rul, 0)} RUL`;
  return row.probability === undefined ? '–' : pct(row.probability);
}

// --- DOM --------------------------------------------------------------------------------------

// h('tag.class', {attr: value, onclick: fn}, children...) -> element. Text is always set as
// text (never parsed as HTML): no data from the API can inject markup.
export function h(spec, attrs = {}, ...children) {
  const [tag, ...classes] = spec.split('.');
  const el = document.createElement(tag || 'div');
  if (classes.length) el.className = classes.join(' ');
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith('on') && typeof value === 'function') el.addEventListener(key.slice(2), value);
    else if (key === 'dataset') Object.assign(el.dataset, value);
    // Through the CSSOM: the Content-Security-Policy refuses style attributes in markup.
    else if (key === 'style') el.style.cssText = value;
    else if (value === true) el.setAttribute(key, '');
    else el.setAttribute(key, value);
  }
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

// A status badge: text and a symbol, so that colour is never the only signal.
export function badge(kind, text) {
  const symbols = { alarm: '▲', drift: '▲', critical: '▲', warning: '●', stale: '◷', ok: '✓',
    open: '●', acknowledged: '◐', resolved: '✓', info: 'ℹ' };
  return h(`span.badge.${kind}`, {}, `${symbols[kind] || ''} ${text}`.trim());
}

// A sparkline of `values` (oldest first) as an inline SVG; `threshold` draws a dashed line.
export function sparkline(values, { width = 120, height = 28, threshold, max = 1 } = {}) {
  const ns = 'http://www.w3.org/2000/svg';
  const svg = document.createElementNS(ns, 'svg');
  svg.setAttribute('width', width);
  svg.setAttribute('height', height);
  svg.setAttribute('viewBox', `0 0 ${width} ${height}`);
  svg.setAttribute('class', 'spark');
  svg.setAttribute('role', 'img');
  if (!values || values.length < 2) {
    svg.setAttribute('aria-label', 'not enough readings for a trend');
    return svg;
  }
  const top = Math.max(max, ...values);
  const y = (v) => height - 2 - (v / (top || 1)) * (height - 4);
  const step = (width - 2) / (values.length - 1);
  const points = values.map((v, i) => `${(1 + i * step).toFixed(1)},${y(v).toFixed(1)}`).join(' ');
  if (threshold !== undefined && threshold !== null) {
    const line = document.createElementNS(ns, 'line');
    line.setAttribute('x1', 0);
    line.setAttribute('x2', width);
    line.setAttribute('y1', y(threshold));
    line.setAttribute('y2', y(threshold));
    line.setAttribute('class', 'spark-threshold');
    svg.append(line);
  }
  const path = document.createElementNS(ns, 'polyline');
  path.setAttribute('points', points);
  path.setAttribute('class', 'spark-line');
  svg.append(path);
  svg.setAttribute('aria-label', `trend of the last ${values.length} scores, from ${num(values[0])} to ${num(values[values.length - 1])}`);
  return svg;
}

// A Chart.js chart in `parent`; returns the chart (destroyed with the page).
export function chart(parent, config, { label, height = 240 } = {}) {
  const box = h('div.chart', { style: `height:${height}px` });
  const canvas = h('canvas', { role: 'img', 'aria-label': label || 'chart' });
  box.append(canvas);
  parent.append(box);
  const options = config.options || (config.options = {});
  options.responsive = true;
  options.maintainAspectRatio = false;
  options.animation = false;
  return new window.Chart(canvas, config);
}

export function table(headers, rows, { caption, className = '' } = {}) {
  return h(`table${className ? '.' + className : ''}`, {},
    caption ? h('caption', {}, caption) : null,
    h('thead', {}, h('tr', {}, headers.map((c) => h('th', { scope: 'col' }, c)))),
    h('tbody', {}, rows.map((r) => h('tr', {}, r.map((c) => (c instanceof Node && c.tagName === 'TD' ? c : h('td', {}, c)))))));
}

// Debounced function: runs `fn` at most every `ms` (trailing).
export function throttle(fn, ms) {
  let timer = null;
  let pending = false;
  return (...args) => {
    if (timer) { pending = true; return; }
    fn(...args);
    timer = setTimeout(() => {
      timer = null;
      if (pending) { pending = false; fn(...args); }
    }, ms);
  };
}
