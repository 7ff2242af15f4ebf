// The dashboard in a real browser: Debian's Chromium, headless, driven by playwright-core,
// against a real `pdm demo --serve` (a simulated fleet trained on its first part, the rest
// replayed through the telemetry route). Every page loads without console errors; the fleet
// lists the replayed machines riskiest first; a machine page draws its charts with data; an
// alert is acknowledged and resolved from the UI and the API shows it; a promotion from the
// Models page swaps the served version. Each test saves a screenshot under $PDM_TEST_OUT.
//
// Run: tests/browser/run.sh (installs playwright-core, needs build/<preset>/src/cli/pdm).
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { chromium } from 'playwright-core';

const PDM = process.env.PDM_BIN;
const OUT = process.env.PDM_TEST_OUT || mkdtempSync(join(tmpdir(), 'pdm-browser-out-'));
const TOKEN = 'browser-test-token';
assert.ok(PDM, 'PDM_BIN must name the pdm binary');
mkdirSync(OUT, { recursive: true });

let work;
let server;
let base;
let browser;
const consoleErrors = [];

function pdm(args) {
  const r = spawnSync(PDM, args, { encoding: 'utf8', timeout: 600_000 });
  assert.equal(r.status, 0, `pdm ${args.join(' ')}\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

async function get(path) {
  const r = await fetch(base + path);
  assert.equal(r.status, 200, `${path}: ${r.status}`);
  return r.json();
}

// Waits until `check` returns a truthy value (polled), or fails after `ms`.
async function until(check, ms, what) {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

async function newPage(name) {
  const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  page.on('console', (m) => { if (m.type() === 'error') consoleErrors.push(`${name}: ${m.text()}`); });
  page.on('pageerror', (e) => consoleErrors.push(`${name}: ${e.message}`));
  // The operator token, as the token dialog stores it.
  await page.addInitScript((t) => sessionStorage.setItem('pdm.token', t), TOKEN);
  return page;
}

before(async () => {
  work = mkdtempSync(join(tmpdir(), 'pdm-browser-'));
  // Serve the demo: 24 machines over 90 days, trained on the first 70, the last 20 replayed at
  // once (the replay is done within seconds of the server starting).
  server = spawn(PDM, ['demo', '--out', join(work, 'demo'), '--machines', '24', '--duration', '90d',
    '--models', 'xgb', '--threads', '2', '--serve', '--port', '0', '--replay', '20d', '--speed', '1e9'],
  { env: { ...process.env, PDM_SERVE_TOKEN: TOKEN }, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  server.stdout.on('data', (d) => { output += d; });
  server.stderr.on('data', (d) => { output += d; });
  base = await until(() => {
    const m = output.match(/dashboard: (http:\/\/127\.0\.0\.1:\d+)\//);
    if (server.exitCode !== null) assert.fail(`pdm demo exited:\n${output}`);
    return m && m[1];
  }, 600_000, 'the dashboard URL');
  await until(() => output.includes('replay: done'), 120_000, 'the replay');
  // A second version to promote from the Models page (another seed, not promoted).
  pdm(['train', '--spec', join(work, 'demo', 'fleet-train', 'spec.yaml'), '--models', 'xgb', '--cv', '2',
    '--seed', '11', '--threads', '2', '--out', join(work, 'v2'), '--register', '--name', 'fleet',
    '--registry', join(work, 'demo', 'registry')]);
  browser = await chromium.launch({
    executablePath: process.env.PDM_CHROMIUM || '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
});

after(async () => {
  if (browser) await browser.close();
  if (server && server.exitCode === null) {
    server.kill('SIGTERM');
    await new Promise((r) => server.once('exit', r));
  }
  if (work) rmSync(work, { recursive: true, force: true });
});

test('every page answers with the security headers and the assets are served', async () => {
  const r = await fetch(`${base}/`);
  assert.equal(r.status, 200);
  assert.match(r.headers.get('content-type'), /text\/html/);
  assert.match(r.headers.get('content-security-policy'), /script-src 'self'/);
  assert.equal(r.headers.get('x-content-type-options'), 'nosniff');
  assert.equal(r.headers.get('x-frame-options'), 'DENY');
  const js = await fetch(`${base}/ui/app.js`);
  assert.match(js.headers.get('content-type'), /javascript/);
  assert.equal((await fetch(`${base}/ui/missing.js`)).status, 404);
});

test('the fleet page lists the replayed machines, riskiest first', async () => {
  const page = await newPage('fleet');
  await page.goto(`${base}/#/fleet`);
  await page.waitForSelector('.vbody .vrow');
  const rows = await page.$$eval('.vbody .vrow', (els) => els.map((e) => ({
    machine: e.dataset.machine, risk: e.querySelector('.risk').textContent })));
  assert.equal(rows.length, 24, JSON.stringify(rows));
  const api = await get('/api/v1/machines?limit=100');
  assert.equal(api.count, 24);
  // The page shows the API's order, and that order is by falling probability.
  assert.deepEqual(rows.map((r) => r.machine), api.machines.map((m) => m.machine));
  for (let i = 1; i < api.machines.length; i += 1) {
    assert.ok(api.machines[i - 1].probability >= api.machines[i].probability);
  }
  assert.ok(await page.$('.vbody .vrow svg.spark polyline'), 'a sparkline is drawn');
  // Live: the page follows the event stream; a new reading of the top machine shows up in its
  // row (the reading count) without a reload.
  await page.waitForFunction(() => document.getElementById('live').textContent === 'live');
  const top = await get(`/api/v1/machines/${api.machines[0].machine}`);
  const next = new Date(Date.parse(top.time) + 3600_000).toISOString().replace('.000Z', 'Z');
  const posted = await fetch(`${base}/api/v1/telemetry`, {
    method: 'POST', headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ readings: [{ machine: top.machine, time: next, values: top.last_readings }] }),
  });
  assert.equal(posted.status, 200, await posted.text());
  await page.waitForFunction(([m, n]) => {
    const row = document.querySelector(`.vbody .vrow[data-machine="${m}"]`);
    return row && row.querySelector('.numeric').textContent.replace(/\D/g, '') === String(n);
  }, [top.machine, top.readings + 1], { timeout: 10_000 });
  // Sorting by name from the header, through the server.
  await page.click('[data-sort="machine"] button');
  await page.waitForFunction(() => document.querySelector('.vbody .vrow')?.dataset.machine === 'M0001');
  await page.screenshot({ path: join(OUT, 'fleet.png'), fullPage: true });
  // On a tablet the page fits its width (no sideways scrolling).
  await page.setViewportSize({ width: 820, height: 1180 });
  await page.waitForTimeout(200);
  const overflow = await page.evaluate(() => document.scrollingElement.scrollWidth - window.innerWidth);
  assert.ok(overflow <= 0, `${overflow} px wider than a tablet`);
  await page.screenshot({ path: join(OUT, 'fleet-tablet.png') });
  await page.close();
});

test('a machine page draws its risk, sensor and contribution charts with data', async () => {
  const { machines: [riskiest] } = await get('/api/v1/machines?limit=1');
  const page = await newPage('machine');
  await page.goto(`${base}/#/fleet`);
  await page.click(`.vbody .vrow[data-machine="${riskiest.machine}"] a`);
  await page.waitForSelector('#risk-title');
  await page.waitForFunction(() => document.querySelectorAll('canvas').length >= 2);
  const points = await page.$$eval('canvas', (canvases) => canvases.map((c) => {
    const chart = window.Chart.getChart(c);
    return chart ? chart.data.datasets[0].data.length : 0;
  }));
  assert.ok(points.length >= 2 && points.every((n) => n > 1), `points per chart: ${points}`);
  assert.ok(await page.$$eval('.contributions tbody tr', (r) => r.length) > 0, 'contributions listed');
  assert.ok(await page.$$eval('dl.windows dd', (d) => d.length) > 0, 'window features listed');
  await page.screenshot({ path: join(OUT, 'machine.png'), fullPage: true });
  await page.close();
});

test('an alert is acknowledged and resolved from the alerts page', async () => {
  const open = await get('/api/v1/alerts?state=open&kind=failure_risk&limit=100');
  assert.ok(open.alerts.length > 0, 'the replay opened maintenance alerts');
  const id = open.alerts[0].id;
  const page = await newPage('alerts');
  await page.goto(`${base}/#/alerts`);
  await page.click(`button[aria-label="Acknowledge alert ${id}"]`);
  await until(async () => (await get(`/api/v1/alerts/${id}`)).state === 'acknowledged', 10_000, 'the acknowledgement');
  // The list shows the new state (its Acknowledge button gone) before the resolution is chosen.
  await page.waitForSelector(`button[aria-label="Acknowledge alert ${id}"]`, { state: 'detached' });
  await page.selectOption(`select[aria-label="Resolution of alert ${id}"]`, 'no_fault_found');
  await page.click(`button[aria-label="Resolve alert ${id}"]`);
  const resolved = await until(async () => {
    const a = await get(`/api/v1/alerts/${id}`);
    return a.state === 'resolved' && a;
  }, 10_000, 'the resolution');
  assert.equal(resolved.resolution, 'no_fault_found');
  assert.equal(resolved.resolved_by, 'dashboard');
  await page.screenshot({ path: join(OUT, 'alerts.png'), fullPage: true });
  await page.close();
});

test('the training report\'s importance labels are whole and clear of their bars', async () => {
  const page = await newPage('report');
  await page.goto(`${base}/api/v1/models/fleet/versions/1/report`);
  const boxes = await page.$$eval('svg[aria-label="feature importance"] text.label', (labels) => labels.map((t) => {
    const box = t.getBBox();
    const bar = t.nextElementSibling.getBBox();
    return { name: t.textContent, left: box.x, right: box.x + box.width, bar: bar.x };
  }));
  assert.ok(boxes.length >= 10, `${boxes.length} labels`);
  for (const b of boxes) {
    assert.ok(b.left >= 0, `${b.name} is cut at the left (${b.left})`);
    assert.ok(b.right <= b.bar, `${b.name} runs into its bar (${b.right} > ${b.bar})`);
  }
  await page.screenshot({ path: join(OUT, 'report.png'), fullPage: true });
  await page.close();
});

// Before the promotion: the drift window then holds the replay, scored by version 1.
test('the drift and business-case pages load', async () => {
  for (const [name, selector] of [['drift', 'table.drift tbody tr'], ['roi', '#flows-title']]) {
    const page = await newPage(name);
    await page.goto(`${base}/#/${name}`);
    await page.waitForSelector(selector);
    assert.equal(await page.$('.error'), null, `${name} shows an error`);
    // Each page draws a chart with data: the histograms of a feature, the cash flows.
    await page.waitForFunction(() => [...document.querySelectorAll('canvas')]
      .some((c) => window.Chart.getChart(c)?.data.datasets[0].data.length > 0));
    await page.screenshot({ path: join(OUT, `${name}.png`), fullPage: true });
    await page.close();
  }
});

test('a promotion from the models page swaps the served version', async () => {
  assert.equal((await get('/api/v1/models')).models[0].version, 1);
  const page = await newPage('models');
  await page.goto(`${base}/#/models`);
  await page.click('#promote-challenger');
  await until(async () => (await get('/api/v1/models')).models[0].version === 2, 20_000, 'version 2 served');
  await page.waitForFunction(() => document.querySelector('#served-version')?.textContent.includes('v2'));
  const versions = await get('/api/v1/models/fleet/versions');
  assert.equal(versions.aliases.production, 2);
  assert.equal(versions.audit[0].actor, 'dashboard');
  await page.screenshot({ path: join(OUT, 'models.png'), fullPage: true });
  await page.close();
});

test('no page logged a console error', () => {
  assert.deepEqual(consoleErrors, []);
});
