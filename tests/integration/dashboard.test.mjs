// The operations dashboard (GET /ui, ui/dashboard.html embedded in the binary) in a real browser: Debian's
// chromium, headless, driven by playwright-core. Known traffic goes through the real binary and a fake
// upstream with fixed token usage, so every number the page shows is known exactly: requests per router
// stage and per model/deployment (by status class, tokens, cost), per-key spend, the error count, the
// last decisions with their reasons, deployment health and the per-minute chart. The page must load
// nothing from anywhere but the proxy, log no console error, ask for the admin key when it has none, and
// need none when the config opts out. A full-page screenshot goes to tests/integration/artifacts/.
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';

import { chromium } from 'playwright-core';

import { chunk, completion, postJson, SOURCE_DIR, startSwitchyard, startUpstream, usageChunk } from './lib/harness.mjs';

const CHROMIUM = process.env.CHROMIUM_BIN ?? '/usr/bin/chromium';
const ARTIFACTS = path.join(import.meta.dirname, 'artifacts');
const PAGE_FILE = path.join(SOURCE_DIR, 'ui/dashboard.html');
const SVG_NS = 'http://www.w3.org/2000/svg';

const ADMIN_KEY = 'admin-secret-01';
const ALICE = 'sk-alice-0001';
const BOB = 'sk-bob-00000002';
const UPSTREAM_KEY = 'sk-upstream-dashboard-0001';

// Every upstream answer reports this usage, so cost = prompt * input_price / 1e6 + completion * output_price / 1e6.
const USAGE = { prompt_tokens: 1000, completion_tokens: 500, total_tokens: 1500 };
const PRICES = { small: [1.0, 2.0], big: [10.0, 20.0] };
const costOf = (model) => (USAGE.prompt_tokens * PRICES[model][0] + USAGE.completion_tokens * PRICES[model][1]) / 1e6;
const near = (a, b, what) => assert.ok(Math.abs(Number(a) - b) < 1e-9, `${what}: expected ${b}, got ${a}`);

/** The fake upstream: fixed usage; a prompt containing "fail" gets a 500; streams end with a usage chunk. */
function startFakeUpstream() {
  return startUpstream(async (req, res, rec) => {
    const model = rec.json?.model ?? 'unknown';
    const text = JSON.stringify(rec.json?.messages ?? []);
    if (text.includes('fail')) {
      res.writeHead(500, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: { message: 'upstream exploded on purpose', type: 'server_error', param: null, code: null } }));
      return;
    }
    if (rec.json?.stream) {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.end(chunk('', { model, role: 'assistant' }) + chunk('streamed answer', { model }) + chunk(null, { model, finish: 'stop' })
        + usageChunk(USAGE) + 'data: [DONE]\n\n');
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify(completion(`answer from ${model}`, model, USAGE)));
  });
}

function config(upstreamUrl, { open = false } = {}) {
  const common = `server: {listen: "127.0.0.1:0", threads: 2}
providers:
  - {name: up, type: openai, base_url: "${upstreamUrl}/v1", api_key: "${UPSTREAM_KEY}"}
models:
  - name: small
    deployments: [{provider: up, model: small-up, input_price: ${PRICES.small[0]}, output_price: ${PRICES.small[1]}}]
  - name: big
    deployments: [{provider: up, model: big-up, input_price: ${PRICES.big[0]}, output_price: ${PRICES.big[1]}}]
routers:
  - name: auto
    default: small
    stages:
      - type: rule
        name: rules
        rules:
          - {name: proofs, when: {keywords: [prove]}, route: big}
`;
  if (open) return common + 'admin: {open: true}\n';
  const bobHash = crypto.createHash('sha256').update(BOB).digest('hex');
  return common + `auth:
  required: true
  keys:
    - {name: alice, key: "${ALICE}", tier: pro}
    - {name: bob, key_sha256: "${bobHash}", tier: free, budget: {daily_usd: 100}}
admin:
  keys: [{name: ops, key: "${ADMIN_KEY}"}]
`;
}

/** Launches chromium; a missing browser fails (CI installs it with scripts/install-deps.sh), never skips. */
async function launchBrowser() {
  if (!fs.existsSync(CHROMIUM)) {
    throw new Error(`chromium not found at ${CHROMIUM}: the dashboard test needs Debian's chromium (scripts/install-deps.sh installs it; CHROMIUM_BIN overrides the path)`);
  }
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox', '--disable-dev-shm-usage', '--disable-gpu'] });
}

/**
 * A page in a fresh context that records every request it makes, console errors and uncaught
 * exceptions. `allowConsole` lists console error texts that are expected (e.g. a 401 while keyless).
 * The proxy serves /ui with a Content-Security-Policy (connect-src 'self'), so an attempt to reach
 * another origin may be blocked before it is a request: it is then a console error, caught here too.
 */
async function openPage(browser, origin) {
  const context = await browser.newContext({ viewport: { width: 1400, height: 900 } });
  const page = await context.newPage();
  const seen = { requests: [], consoleErrors: [], pageErrors: [] };
  page.on('request', (r) => seen.requests.push({ url: r.url(), headers: r.headers() }));
  page.on('console', (m) => { if (m.type() === 'error') seen.consoleErrors.push(m.text()); });
  page.on('pageerror', (e) => seen.pageErrors.push(String(e)));
  seen.assertClean = ({ allowConsole = [] } = {}) => {
    const foreign = seen.requests.filter((r) => new URL(r.url).origin !== origin).map((r) => r.url);
    assert.deepEqual(foreign, [], `the page requested something other than the proxy (${origin})`);
    assert.deepEqual(seen.pageErrors, [], 'uncaught exceptions in the page');
    assert.deepEqual(seen.consoleErrors.filter((t) => !allowConsole.some((re) => re.test(t))), [], 'console errors');
  };
  return { context, page, seen };
}

/** Everything the page shows that the test checks, read through the data-testid contract. */
function readPage(page) {
  return page.evaluate(() => {
    const q = (root, id) => root.querySelector(`[data-testid="${id}"]`);
    const val = (root, id) => { const e = q(root, id); return e ? { text: e.textContent.trim(), value: e.dataset.value === undefined ? undefined : Number(e.dataset.value) } : undefined; };
    const rows = (id) => [...document.querySelectorAll(`[data-testid="${id}"]`)];
    const tiles = Object.fromEntries(['total-requests', 'requests-per-second', 'error-rate', 'error-count', 'fallback-rate', 'cost-last-hour', 'total-cost']
      .map((id) => [id, val(document, id)]));
    return {
      tiles,
      routers: rows('router-row').map((r) => ({ router: r.dataset.router, stage: r.dataset.stage, count: val(r, 'router-count') })),
      models: rows('model-row').map((r) => ({
        model: r.dataset.model, deployment: r.dataset.deployment, requests: val(r, 'model-requests').value,
        codes: Object.fromEntries(['2xx', '4xx', '429', '5xx', '499'].map((c) => [c, val(r, 'model-code-' + c).value])),
        tokens: Object.fromEntries(['input', 'output', 'cached'].map((t) => [t, val(r, 'model-tokens-' + t).value])),
        cost: val(r, 'model-cost'),
      })),
      latency: rows('latency-row').map((r) => ({
        metric: r.dataset.metric, window: r.dataset.window, count: val(r, 'latency-count').value,
        p50: val(r, 'p50'), p95: val(r, 'p95'), p99: val(r, 'p99'),
      })),
      keys: rows('key-row').map((r) => ({
        name: r.dataset.key, tier: val(r, 'key-tier').text, requests: val(r, 'key-requests'), budget: val(r, 'key-budget').text,
        today: val(r, 'key-spend-today'), month: val(r, 'key-spend-month'), total: val(r, 'key-spend-total'),
      })),
      deployments: rows('deployment-row').map((r) => ({
        id: r.dataset.deployment, breaker: q(r, 'deployment-breaker').dataset.state, breakerText: val(r, 'deployment-breaker').text,
        authFailed: !!q(r, 'deployment-auth-failed'), inFlight: val(r, 'deployment-in-flight').value,
        cooldown: val(r, 'deployment-cooldown'), lastError: val(r, 'deployment-last-error').text,
      })),
      decisions: rows('decision-row').map((r) => Object.fromEntries(['key', 'router', 'stage', 'reason', 'model', 'status', 'cost', 'latency']
        .map((f) => [f, val(r, 'decision-' + f)]))),
      chart: (() => { const s = q(document, 'usage-chart'); return { requests: Number(s.dataset.requests), cost: Number(s.dataset.cost), minutes: s.querySelectorAll('[data-testid="chart-minute"]').length }; })(),
      authMessage: q(document, 'auth-message').hidden ? null : q(document, 'auth-message').textContent,
      lastUpdated: val(document, 'last-updated'),
    };
  });
}

/** histogram_quantile over the buckets of `family` in the exposition `text`, summed over all series. */
function histogramQuantile(text, family, q) {
  const byLe = new Map();
  let count = 0;
  for (const line of text.split('\n')) {
    if (line.startsWith(`${family}_count`)) count += Number(line.trim().split(/\s+/).at(-1));
    if (!line.startsWith(`${family}_bucket{`)) continue;
    const le = /le="([^"]*)"/.exec(line)[1];
    const bound = le === '+Inf' ? Infinity : Number(le);
    byLe.set(bound, (byLe.get(bound) ?? 0) + Number(line.trim().split(/\s+/).at(-1)));
  }
  const b = [...byLe].sort((x, y) => x[0] - y[0]);
  const total = b.at(-1)?.[1] ?? 0;
  if (!total) return { count, value: NaN };
  const rank = q * total;
  const i = b.findIndex(([, c]) => c >= rank);
  if (b[i][0] === Infinity) return { count, value: b[i - 1]?.[0] ?? NaN };
  const [lo, cLo] = i > 0 ? b[i - 1] : [0, 0];
  return { count, value: b[i][1] === cLo ? b[i][0] : lo + (b[i][0] - lo) * (rank - cLo) / (b[i][1] - cLo) };
}

test(`chromium is installed at ${CHROMIUM}`, () => {
  assert.ok(fs.existsSync(CHROMIUM), `chromium not found at ${CHROMIUM}: scripts/install-deps.sh installs Debian's chromium (CHROMIUM_BIN overrides the path)`);
});

// --- the page file itself ---------------------------------------------------------------------------

test('ui/dashboard.html is one self-contained file that can be embedded as a raw string', () => {
  const html = fs.readFileSync(PAGE_FILE, 'utf8');
  assert.ok(Buffer.byteLength(html) < 40 * 1024, `${PAGE_FILE} is ${Buffer.byteLength(html)} bytes (keep it under 40 KB)`);
  assert.ok(!html.includes(')SYUI"'), 'the page contains the raw-string delimiter )SYUI"');
  // No URL of any kind but the SVG namespace name (an identifier, never fetched) and the empty data: icon.
  const urls = [...html.matchAll(/(?:https?:|ftp:|wss?:)?\/\/[\w.-]+\.[a-z]{2,}[^\s'"`)]*/gi)].map((m) => m[0]).filter((u) => u !== SVG_NS);
  assert.deepEqual(urls, [], 'external URLs in the page');
  assert.doesNotMatch(html, /<script[^>]+src=|<link(?![^>]*href="data:,")[^>]*href=|@import|url\(|<img|<iframe/i, 'an external resource reference');
});

// --- with gateway keys and an admin key ------------------------------------------------------------

describe('the dashboard, against known traffic', () => {
  let up, sy, browser, deployments;
  const sent = [];  // {who, content, stream, expect: {model, stage, status}, headers}

  const admin = async (p) => {
    const r = await fetch(sy.url + p, { headers: { authorization: `Bearer ${ADMIN_KEY}` } });
    assert.equal(r.status, 200, `${p}: ${r.status}`);
    return p === '/metrics' ? r.text() : r.json();
  };
  /** One chat request to the `auto` router, recorded with what it must show up as. */
  async function send(who, content, { stream = false } = {}) {
    const key = who === 'alice' ? ALICE : BOB;
    const r = await postJson(`${sy.url}/v1/chat/completions`, { model: 'auto', stream, messages: [{ role: 'user', content }] }, { authorization: `Bearer ${key}` });
    const model = /prove/.test(content) ? 'big' : 'small';
    const failed = content.includes('fail');
    sent.push({ who, content, stream, model, stage: model === 'big' ? 'rules' : 'default', failed, status: r.status, reason: r.headers.get('x-switchyard-reason'), cost: failed ? 0 : costOf(model) });
    if (failed) assert.ok(r.status >= 500, `"${content}" should fail upstream: ${r.status} ${r.text}`);
    else assert.equal(r.status, 200, r.text);
    if (stream && !failed) assert.match(r.text, /streamed answer/);
    return r;
  }

  before(async () => {
    browser = await launchBrowser();
    fs.mkdirSync(ARTIFACTS, { recursive: true });
    up = await startFakeUpstream();
    sy = await startSwitchyard(config(up.url));
    // The traffic, one request at a time so that the decision log's order is known.
    await send('alice', 'hello one');
    await send('alice', 'please prove the theorem');
    await send('bob', 'hello two');
    await send('alice', 'hello three');
    await send('alice', 'this one will fail upstream');
    await send('bob', 'prove it');
    await send('bob', 'stream please', { stream: true });
    await send('alice', 'hello four');
    deployments = (await admin('/admin/deployments')).data;
  });
  after(async () => {
    await browser?.close();
    await sy?.stop();
    await up?.close();
  });

  const depOf = (model) => deployments.find((d) => d.upstream_model === `${model}-up`)?.id;

  test('/ui is served without a key, byte for byte the page in ui/', async () => {
    const r = await fetch(`${sy.url}/ui`);
    assert.equal(r.status, 200);
    assert.match(r.headers.get('content-type') ?? '', /^text\/html/);
    assert.equal(await r.text(), fs.readFileSync(PAGE_FILE, 'utf8'));
    for (const p of ['/metrics', '/admin/deployments', '/admin/keys', '/admin/decisions?limit=20', '/admin/usage']) {
      assert.equal((await fetch(sy.url + p)).status, 401, `${p} without a key`);
    }
  });

  test('without a key the page asks for the admin key; Connect with it loads the data', async () => {
    const { context, page, seen } = await openPage(browser, sy.url);
    try {
      await page.goto(`${sy.url}/ui`);
      await page.getByTestId('auth-message').waitFor({ state: 'visible' });
      assert.match(await page.getByTestId('auth-message').textContent(), /admin key/i);
      assert.equal(await page.evaluate(() => document.body.dataset.ready), undefined);
      // A gateway key is not an admin key.
      await page.fill('#admin-key', ALICE);
      await page.click('#connect');
      await page.waitForFunction(() => /rejected/i.test(document.querySelector('[data-testid="auth-message"]').textContent));
      await page.fill('#admin-key', ADMIN_KEY);
      await page.click('#connect');
      await page.waitForSelector('body[data-ready="1"]');
      assert.equal(await page.getByTestId('auth-message').isHidden(), true);
      // The key is kept for the tab (sessionStorage): a reload needs no typing.
      await page.reload();
      await page.waitForSelector('body[data-ready="1"]');
      assert.equal(await page.getByTestId('auth-message').isHidden(), true);
      // Chromium logs every 401/403 response; those are the point of this test.
      seen.assertClean({ allowConsole: [/Failed to load resource: the server responded with a status of 40[13]/] });
    } finally {
      await context.close();
    }
  });

  test('the page shows exactly the traffic sent', async () => {
    const { context, page, seen } = await openPage(browser, sy.url);
    try {
      await page.goto(`${sy.url}/ui#key=${ADMIN_KEY}`);
      await page.waitForSelector('body[data-ready="1"]');
      assert.equal(await page.evaluate(() => location.hash), '', 'the key stays in the address bar');
      // Accounting may land just after the responses: wait (bounded) for the last of it, then assert.
      await page.waitForFunction(() => document.querySelector('[data-testid="total-requests"]').dataset.value === '8'
        && document.querySelectorAll('[data-testid="decision-row"]').length === 8
        && Math.abs(Number(document.querySelector('[data-testid="total-cost"]').dataset.value) - 0.05) < 1e-9, null, { timeout: 10000 }).catch(() => {});
      const shown = await readPage(page);
      const small = depOf('small'), big = depOf('big');
      assert.ok(small && big, `deployments: ${JSON.stringify(deployments)}`);

      // Summary tiles: 8 requests, one of them a 5xx, no fallback; $0.05 in all, all of it this hour.
      const total = sent.length, errors = sent.filter((s) => s.failed).length;
      const spend = sent.reduce((t, s) => t + s.cost, 0);
      assert.equal(shown.tiles['total-requests'].value, total);
      assert.equal(shown.tiles['total-requests'].text, String(total));
      assert.equal(shown.tiles['error-count'].value, errors);
      assert.equal(shown.tiles['error-rate'].text, `${(100 * errors / total).toFixed(1)}%`);
      assert.equal(shown.tiles['fallback-rate'].text, '0.0%');
      near(shown.tiles['total-cost'].value, spend, 'total cost');
      assert.equal(shown.tiles['total-cost'].text, '$0.05');
      near(shown.tiles['cost-last-hour'].value, spend, 'cost in the last hour');

      // Requests per router and stage.
      const byStage = (stage) => sent.filter((s) => s.stage === stage).length;
      assert.deepEqual(shown.routers.map((r) => [r.router, r.stage, r.count.value]).sort(),
        [['auto', 'default', byStage('default')], ['auto', 'rules', byStage('rules')]].sort());

      // Requests per model and deployment, by status class, with tokens and cost.
      const models = Object.fromEntries(shown.models.map((m) => [`${m.model}|${m.deployment}`, m]));
      assert.deepEqual(Object.keys(models).sort(), [`big|${big}`, `small|${small}`]);
      for (const [model, dep] of [['small', small], ['big', big]]) {
        const mine = sent.filter((s) => s.model === model), ok = mine.filter((s) => !s.failed);
        const m = models[`${model}|${dep}`];
        assert.equal(m.requests, mine.length, `${model} requests`);
        assert.deepEqual(m.codes, { '2xx': ok.length, '4xx': 0, '429': 0, '5xx': mine.length - ok.length, '499': 0 }, `${model} by code`);
        assert.deepEqual(m.tokens, { input: ok.length * USAGE.prompt_tokens, output: ok.length * USAGE.completion_tokens, cached: 0 }, `${model} tokens`);
        near(m.cost.value, ok.length * costOf(model), `${model} cost`);
      }

      // Latency percentiles: the page's histogram_quantile over all data equals ours over /metrics.
      const metrics = await admin('/metrics');
      const lat = Object.fromEntries(shown.latency.map((l) => [l.metric, l]));
      for (const [metric, family] of [['total', 'gen_ai_client_operation_duration_seconds'], ['upstream', 'switchyard_upstream_duration_seconds'],
        ['ttft', 'gen_ai_server_time_to_first_token_seconds'], ['overhead', 'switchyard_proxy_overhead_seconds']]) {
        const l = lat[metric];
        assert.ok(l, `latency row ${metric}`);
        assert.equal(l.window, 'all', `${metric}: no traffic since the page opened, so over all data`);
        assert.ok(l.count > 0, `${metric}: no observation`);
        assert.equal(l.count, histogramQuantile(metrics, family, 0.5).count, `${metric} count`);
        for (const q of ['p50', 'p95', 'p99']) {
          const want = histogramQuantile(metrics, family, Number(q.slice(1)) / 100).value;
          assert.ok(Number.isFinite(l[q].value) && l[q].value >= 0, `${metric} ${q}: ${JSON.stringify(l[q])}`);
          assert.ok(Math.abs(l[q].value - want) < 1e-9, `${metric} ${q}: page ${l[q].value}, histogram_quantile ${want}`);
          assert.match(l[q].text, /^\d+(\.\d+)? (ms|s)$/);
        }
        assert.ok(l.p50.value <= l.p95.value && l.p95.value <= l.p99.value, `${metric} percentiles out of order`);
      }
      assert.ok(lat.total.count >= total - errors, 'every answered request has a duration');

      // Cost per key: spend today and this month, requests, tier and budget.
      const keys = Object.fromEntries(shown.keys.map((k) => [k.name, k]));
      assert.deepEqual(Object.keys(keys).sort(), ['alice', 'bob']);
      for (const [name, tier, budget] of [['alice', 'pro', 'none'], ['bob', 'free', '$100.00/day']]) {
        const mine = sent.filter((s) => s.who === name);
        const k = keys[name];
        const want = mine.reduce((t, s) => t + s.cost, 0);
        assert.equal(k.tier, tier);
        assert.equal(k.budget, budget);
        assert.equal(k.requests.value, mine.length, `${name} requests`);
        near(k.today.value, want, `${name} spend today`);
        near(k.month.value, want, `${name} spend this month`);
        near(k.total.value, want, `${name} total spend`);
        assert.equal(k.today.text, `$${want.toFixed(3)}`, `${name} spend as shown`);
      }

      // The last decisions, newest first, with the reason each response carried.
      assert.equal(shown.decisions.length, sent.length);
      shown.decisions.forEach((d, i) => {
        const s = sent[sent.length - 1 - i];
        const what = `decision ${i} ("${s.content}")`;
        assert.equal(d.key.text, s.who, what);
        assert.equal(d.router.text, 'auto', what);
        assert.equal(d.stage.text, s.stage, what);
        if (s.reason) assert.equal(d.reason.text, s.reason, what);
        assert.match(d.reason.text, s.stage === 'rules' ? /^rule:proofs/ : /^default/, what);
        assert.equal(d.model.text, s.model, what);
        assert.equal(d.status.value, s.status, what);
        near(d.cost.value, s.cost, `${what} cost`);
        assert.ok(d.latency.value >= 0, `${what} latency`);
      });

      // Deployment health: as /admin/deployments says; the failure is the small deployment's last error.
      const deps = Object.fromEntries(shown.deployments.map((d) => [d.id, d]));
      assert.deepEqual(Object.keys(deps).sort(), [big, small].sort());
      const api = Object.fromEntries((await admin('/admin/deployments')).data.map((d) => [d.id, d]));
      for (const id of [small, big]) {
        assert.ok(['closed', 'open', 'half_open'].includes(deps[id].breaker), `${id} breaker ${deps[id].breaker}`);
        if (deps[id].breaker === api[id].breaker) assert.equal(deps[id].breakerText, api[id].breaker.replace('_', '-'));
        assert.equal(deps[id].inFlight, 0, `${id} in flight`);
        assert.equal(deps[id].authFailed, false);
        assert.equal(deps[id].lastError, api[id].last_error || '–', `${id} last error`);
      }
      assert.equal(deps[big].breaker, 'closed');
      assert.equal(deps[big].cooldown.text, '–');
      assert.ok(api[small].last_error, 'the failed request left no last_error on the small deployment');

      // The per-minute chart holds all of it.
      assert.equal(shown.chart.minutes, 60);
      assert.equal(shown.chart.requests, total);
      near(shown.chart.cost, spend, 'chart cost');

      // The running config, fetched when opened, with every secret redacted.
      await page.click('#config summary');
      await page.waitForFunction(() => /"small"/.test(document.querySelector('[data-testid="config-json"]').textContent));
      const cfg = await page.getByTestId('config-json').textContent();
      for (const secret of [ADMIN_KEY, ALICE, UPSTREAM_KEY]) assert.ok(!cfg.includes(secret), `the config view shows ${secret}`);

      // Live: one more request shows up within a poll or two, with a request rate.
      await send('alice', 'hello five');
      await page.waitForFunction(() => document.querySelector('[data-testid="total-requests"]').dataset.value === '9'
        && Number(document.querySelector('[data-testid="requests-per-second"]').dataset.value) > 0
        && document.querySelector('[data-testid="decision-row"] [data-testid="decision-key"]').textContent === 'alice'
        && document.querySelectorAll('[data-testid="decision-row"]').length === 9, null, { timeout: 10000 });
      const live = await readPage(page);
      assert.equal(live.models.find((m) => m.model === 'small').requests, sent.filter((s) => s.model === 'small').length);
      assert.equal(live.decisions[0].reason.text, sent.at(-1).reason ?? 'default');

      await page.screenshot({ path: path.join(ARTIFACTS, 'dashboard.png'), fullPage: true });

      // Only the proxy was asked, always with the admin key as a Bearer header and never in a URL.
      seen.assertClean();
      const data = seen.requests.filter((r) => !new URL(r.url).pathname.startsWith('/ui'));
      assert.ok(data.length >= 5);
      for (const r of data) assert.equal(r.headers.authorization, `Bearer ${ADMIN_KEY}`, r.url);
      for (const r of seen.requests) assert.ok(!r.url.includes(ADMIN_KEY) || r.url.endsWith(`/ui#key=${ADMIN_KEY}`), `key in ${r.url}`);
    } finally {
      await context.close();
    }
  });
});

// --- admin: {open: true} ----------------------------------------------------------------------------

describe('the dashboard when the admin API is open', () => {
  let up, sy, browser;
  before(async () => {
    browser = await launchBrowser();
    up = await startFakeUpstream();
    sy = await startSwitchyard(config(up.url, { open: true }));
    const r = await postJson(`${sy.url}/v1/chat/completions`, { model: 'auto', messages: [{ role: 'user', content: 'prove it' }] });
    assert.equal(r.status, 200, r.text);
  });
  after(async () => {
    await browser?.close();
    await sy?.stop();
    await up?.close();
  });

  test('no key is asked for, and the data shows', async () => {
    const { context, page, seen } = await openPage(browser, sy.url);
    try {
      await page.goto(`${sy.url}/ui`);
      await page.waitForSelector('body[data-ready="1"]');
      const shown = await readPage(page);
      assert.equal(shown.authMessage, null);
      assert.equal(shown.tiles['total-requests'].value, 1);
      assert.deepEqual(shown.routers.map((r) => [r.router, r.stage, r.count.value]), [['auto', 'rules', 1]]);
      assert.deepEqual(shown.keys, []);
      near(shown.tiles['total-cost'].value, costOf('big'), 'total cost');
      seen.assertClean();
    } finally {
      await context.close();
    }
  });
});
