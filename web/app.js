// The dashboard's shell: the hash router (#/fleet, #/machine/<id>, #/alerts, #/models, #/drift,
// #/roi), the live event stream (GET /api/v1/stream, Server-Sent Events) with polling as the
// fallback, the served model and open alerts in the header, the operator token dialog.
import { api, setToken, token, toast } from './lib.js';
import * as fleet from './fleet.js';
import * as machine from './machine.js';
import * as alerts from './alerts.js';
import * as models from './models.js';
import * as drift from './drift.js';
import * as roi from './roi.js';

const pages = { fleet, machine, alerts, models, drift, roi };
let current = null; // { page, cleanup }
const view = document.getElementById('view');

// --- live updates -----------------------------------------------------------------------------

const live = document.getElementById('live');
let source = null;
let pollTimer = null;

function setLive(state, text) {
  live.className = `live ${state}`;
  live.textContent = text;
}

function dispatch(type, data) {
  if (type === 'model' || type === 'alert') refreshHeader();
  if (type === 'model') toast(`Now serving ${data.name} v${data.version}`);
  if (current && current.page.onEvent) current.page.onEvent(type, data);
}

function startPolling() {
  if (pollTimer) return;
  setLive('poll', 'polling every 10 s');
  pollTimer = setInterval(() => dispatch('poll', {}), 10000);
}

function connect() {
  if (!window.EventSource) return startPolling();
  source = new EventSource('/api/v1/stream');
  source.onopen = () => {
    if (pollTimer) { clearInterval(pollTimer); pollTimer = null; }
    setLive('on', 'live');
  };
  source.onerror = () => {
    // The browser reconnects by itself (the server asks for 3 s); poll meanwhile.
    startPolling();
  };
  for (const type of ['risk', 'alert', 'model', 'reset']) {
    source.addEventListener(type, (e) => {
      let data = {};
      try { data = JSON.parse(e.data); } catch { /* a malformed event is ignored */ }
      dispatch(type === 'reset' ? 'poll' : type, data);
    });
  }
}

// --- header -----------------------------------------------------------------------------------

export const served = { name: null, version: null, task: null };

async function refreshHeader() {
  try {
    const { models: list } = await api('/api/v1/models');
    const m = list[0];
    const label = document.getElementById('served-model');
    if (m) {
      Object.assign(served, { name: m.name, version: m.version, task: m.task });
      label.textContent = `${m.name} v${m.version} (${m.alias})`;
    } else {
      label.textContent = 'no model loaded';
    }
    const open = await api('/api/v1/alerts?state=active&limit=1000');
    const count = document.getElementById('open-alerts');
    const n = open.alerts.length;
    count.hidden = n === 0;
    count.textContent = n >= 1000 ? '1000+' : String(n);
    count.setAttribute('aria-label', `${n} active alerts`);
  } catch {
    /* the header is best effort: the page shows the error */
  }
}

// --- router -----------------------------------------------------------------------------------

async function route() {
  const hash = location.hash || '#/fleet';
  const [, name = 'fleet', ...rest] = hash.split('/');
  const page = pages[name] || fleet;
  if (current && current.cleanup) current.cleanup();
  current = { page, cleanup: null };
  for (const a of document.querySelectorAll('nav a')) {
    if (a.dataset.page === name) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  view.replaceChildren();
  const mine = current;
  try {
    const cleanup = await page.render(view, rest.map(decodeURIComponent), { served });
    if (mine === current) mine.cleanup = cleanup || null;
    else if (cleanup) cleanup();
  } catch (error) {
    view.replaceChildren();
    const p = document.createElement('p');
    p.className = 'error';
    p.textContent = `Could not load this page: ${error.message || error}`;
    view.append(p);
  }
}

// --- token dialog -----------------------------------------------------------------------------

function setupToken() {
  const dialog = document.getElementById('token-dialog');
  const input = document.getElementById('token-input');
  const button = document.getElementById('token-button');
  const label = () => { button.textContent = token() ? 'Operator token ✓' : 'Operator token'; };
  label();
  button.addEventListener('click', () => { input.value = ''; dialog.showModal(); });
  document.getElementById('token-cancel').addEventListener('click', () => dialog.close());
  document.getElementById('token-clear').addEventListener('click', () => {
    setToken('');
    label();
    dialog.close();
  });
  document.getElementById('token-form').addEventListener('submit', () => {
    setToken(input.value.trim());
    input.value = '';
    label();
  });
}

setupToken();
window.addEventListener('hashchange', route);
refreshHeader();
connect();
route();
