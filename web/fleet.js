// Fleet: every machine followed, riskiest first, in a virtualised table: the server sorts,
// filters and pages (GET /api/v1/machines?sort&order&offset&limit&state&q&<attribute>), the page
// fetches only the rows in view, so 10,000 machines scroll as smoothly as 10.
import { api, badge, duration, errorText, h, int, num, risk, sparkline, throttle, time } from './lib.js';

const ROW_HEIGHT = 40;
const PAGE = 100;

export async function render(view) {
  const state = {
    sort: 'risk', order: '', filter: 'all', q: '', attributes: {},
    total: 0, pages: new Map(), loading: new Set(), info: null, generation: 0,
  };
  const summary = h('p.summary', { 'aria-live': 'polite' });
  const filters = h('form.filters', { role: 'search', onsubmit: (e) => e.preventDefault() });
  const columns = [
    ['machine', 'Machine', 'machine'], ['risk', 'Risk', 'risk'], ['', 'Trend', null],
    ['', 'Status', null], ['age', 'Last reading', 'age'], ['readings', 'Readings', 'readings'],
    ['', 'Attributes', null],
  ];
  const header = h('div.vrow.vhead', { role: 'row' }, columns.map(([, label, sort]) =>
    sort
      ? h('div', { role: 'columnheader', 'aria-sort': 'none', dataset: { sort } },
        h('button.sort', { type: 'button', onclick: () => setSort(sort) }, label))
      : h('div', { role: 'columnheader' }, label)));
  const spacer = h('div.vspacer');
  const body = h('div.vbody', { role: 'rowgroup' });
  const scroller = h('div.vscroll', { tabindex: '0', 'aria-label': 'machines, scroll for more' }, spacer, body);
  const grid = h('div.vtable', { role: 'table', 'aria-label': 'Machines', 'aria-rowcount': '0' }, header, scroller);
  view.append(h('h1', {}, 'Fleet'), summary, filters, grid);

  function query(offset) {
    const p = new URLSearchParams({ offset, limit: PAGE, sort: state.sort, state: state.filter });
    if (state.order) p.set('order', state.order);
    if (state.q) p.set('q', state.q);
    for (const [k, v] of Object.entries(state.attributes)) if (v) p.set(k, v);
    return `/api/v1/machines?${p}`;
  }

  async function loadPage(index, generation) {
    if (state.loading.has(index)) return;
    state.loading.add(index);
    try {
      const data = await api(query(index * PAGE));
      if (generation !== state.generation) return;
      state.info = data;
      state.total = data.matched;
      state.pages.set(index, data.machines);
      if (index === 0) { renderChrome(data); showSort(); }
      draw();
    } catch (error) {
      summary.textContent = `Could not load machines: ${errorText(error)}`;
    } finally {
      state.loading.delete(index);
    }
  }

  function reset() {
    state.generation += 1;
    state.pages.clear();
    state.loading.clear();
    scroller.scrollTop = 0;
    loadPage(0, state.generation);
  }

  function setSort(sort) {
    if (state.sort === sort) state.order = state.order === 'asc' ? 'desc' : 'asc';
    else { state.sort = sort; state.order = ''; }
    showSort();
    reset();
  }

  // The header's sort state; without an explicit order, the server's default for the column
  // (names A-Z, everything else largest first; risk is riskiest first, shown as descending).
  function showSort() {
    const rul = state.info && state.info.score === 'rul';
    const order = state.order || (state.sort === 'machine' || (state.sort === 'risk' && rul) ? 'asc' : 'desc');
    for (const th of header.querySelectorAll('[data-sort]')) {
      th.setAttribute('aria-sort', th.dataset.sort !== state.sort ? 'none'
        : order === 'asc' ? 'ascending' : 'descending');
    }
  }
  showSort();

  let chromeBuilt = false;
  function renderChrome(data) {
    const kind = data.score;
    summary.replaceChildren(
      h('strong', {}, int(data.count)), ' machines followed · ',
      badge(data.alarms ? 'alarm' : 'info', `${int(data.alarms)} in alarm`), ' ',
      badge(data.stale ? 'stale' : 'info', `${int(data.stale)} late`), ' · ',
      `${int(data.matched)} shown`,
      data.newest ? ` · newest reading ${time(data.newest)}` : '',
      kind === 'probability' && data.threshold !== undefined ? ` · alarm threshold ${num(data.threshold, 3)}` : '');
    if (chromeBuilt) return;
    chromeBuilt = true;
    const stateSelect = h('select', { id: 'filter-state', onchange: (e) => { state.filter = e.target.value; reset(); } },
      [['all', 'All machines'], ['alarm', 'In alarm'], ['stale', 'Late'], ['ok', 'OK'], ['unscored', 'Not scored yet']]
        .map(([v, t]) => h('option', { value: v }, t)));
    const search = h('input', { id: 'filter-q', type: 'search', placeholder: 'machine id', autocomplete: 'off' });
    search.addEventListener('input', throttle(() => { state.q = search.value.trim(); reset(); }, 300));
    filters.append(
      h('label', {}, 'State ', stateSelect),
      h('label', {}, 'Search ', search),
      ...Object.entries(data.facets || {}).map(([name, counts]) => h('label', {}, `${name} `,
        h('select', { dataset: { attribute: name }, onchange: (e) => { state.attributes[name] = e.target.value; reset(); } },
          h('option', { value: '' }, 'any'),
          Object.entries(counts).map(([v, n]) => h('option', { value: v }, `${v} (${int(n)})`))))));
  }

  function row(m, index) {
    const kind = state.info ? state.info.score : 'probability';
    const status = m.alarm ? badge('alarm', 'alarm') : m.stale ? badge('stale', 'late')
      : m.probability !== undefined || m.rul !== undefined ? badge('ok', 'ok') : badge('info', 'not scored');
    const attrs = Object.entries(m.attributes || {}).map(([k, v]) => `${k} ${typeof v === 'number' ? num(v) : v}`).join(', ');
    const link = h('a', { href: `#/machine/${encodeURIComponent(m.machine)}` }, m.machine);
    const el = h('div.vrow', { role: 'row', 'aria-rowindex': String(index + 2), style: `top:${index * ROW_HEIGHT}px`, dataset: { machine: m.machine } },
      h('div', { role: 'cell' }, link),
      h('div.risk', { role: 'cell' }, risk(m, kind)),
      h('div', { role: 'cell' }, sparkline(m.trend, { threshold: kind === 'probability' ? state.info.threshold : undefined, max: kind === 'probability' ? Math.min(1, 1.5 * (state.info.threshold || 0.5)) : 0 })),
      h('div', { role: 'cell' }, status),
      h('div', { role: 'cell' }, m.time === undefined ? '–' : m.age > 0 ? `${duration(m.age, typeof m.time === 'number')} behind` : 'latest'),
      h('div.numeric', { role: 'cell' }, int(m.readings)),
      h('div.attrs', { role: 'cell' }, attrs));
    if (m.alarm) el.classList.add('alarm');
    return el;
  }

  function draw() {
    spacer.style.height = `${state.total * ROW_HEIGHT}px`;
    grid.setAttribute('aria-rowcount', String(state.total + 1));
    const first = Math.max(0, Math.floor(scroller.scrollTop / ROW_HEIGHT) - 10);
    const last = Math.min(state.total, Math.ceil((scroller.scrollTop + scroller.clientHeight) / ROW_HEIGHT) + 10);
    const rows = [];
    for (let i = first; i < last; i += 1) {
      const page = state.pages.get(Math.floor(i / PAGE));
      if (!page) { loadPage(Math.floor(i / PAGE), state.generation); continue; }
      const m = page[i % PAGE];
      if (m) rows.push(row(m, i));
    }
    body.replaceChildren(...rows);
    if (state.total === 0 && state.info) {
      body.replaceChildren(h('p.muted.empty', {}, state.info.count === 0
        ? 'No machine has sent a reading yet. Telemetry arrives through POST /api/v1/telemetry (or scripts/demo.sh replays a fleet).'
        : 'No machine matches these filters.'));
    }
  }

  scroller.addEventListener('scroll', () => requestAnimationFrame(draw), { passive: true });
  // Live: the pages in view are refetched, at most every 2 s.
  const refresh = throttle(() => {
    const generation = state.generation;
    const first = Math.floor(scroller.scrollTop / ROW_HEIGHT / PAGE);
    const last = Math.floor((scroller.scrollTop + scroller.clientHeight) / ROW_HEIGHT / PAGE);
    for (let p = first; p <= last; p += 1) { state.loading.delete(p); loadPage(p, generation); }
  }, 2000);
  render.onEvent = (type) => { if (type === 'risk' || type === 'poll' || type === 'model') refresh(); };
  loadPage(0, state.generation);
  return () => { render.onEvent = null; };
}

export function onEvent(type, data) {
  if (render.onEvent) render.onEvent(type, data);
}
