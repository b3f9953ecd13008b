// /metrics scraped by a real Prometheus (Debian's /usr/bin/prometheus, installed by
// scripts/install-deps.sh): it starts on 127.0.0.1 with a temp config (scrape every second, the admin key
// as a Bearer token) and temp storage, scrapes the proxy while known traffic goes through it, and its
// HTTP API must then answer with the values that traffic implies: the 2xx count, the cost, `up`, a
// latency quantile from the histogram buckets, and a healthy target.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';

import { completion, freePort, postJson, startSwitchyard, startUpstream } from './lib/harness.mjs';

const PROMETHEUS = process.env.PROMETHEUS_BIN ?? '/usr/bin/prometheus';
const ADMIN_KEY = 'admin-prometheus-scrape-01';
const GATEWAY_KEY = 'sk-gateway-prometheus-01';
const USAGE = { prompt_tokens: 1000, completion_tokens: 500, total_tokens: 1500 };
const COST = (1000 * 1 + 500 * 2) / 1e6;  // small: input 1, output 2 USD per 1M tokens


/** Resolves with fn()'s first truthy result, polling every 200 ms; throws with `what` after `ms`. */
async function until(fn, what, ms = 30000) {
  const deadline = Date.now() + ms;
  let last;
  for (;;) {
    try {
      last = await fn();
      if (last?.ok ?? last) return last?.value ?? last;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}; last: ${last instanceof Error ? last.message : JSON.stringify(last)}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** Starts Prometheus scraping `target` (host:port) and resolves once it is ready. */
async function startPrometheus(target) {
  if (!fs.existsSync(PROMETHEUS)) {
    throw new Error(`prometheus not found at ${PROMETHEUS}: this test needs Debian's prometheus package (scripts/install-deps.sh installs it; PROMETHEUS_BIN overrides the path)`);
  }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'switchyard-prometheus-'));
  const configFile = path.join(dir, 'prometheus.yml');
  fs.writeFileSync(configFile, `global:
  scrape_interval: 1s
  scrape_timeout: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: switchyard
    metrics_path: /metrics
    authorization: {type: Bearer, credentials: "${ADMIN_KEY}"}
    static_configs:
      - targets: ["${target}"]
`);
  const port = await freePort();
  const proc = spawn(PROMETHEUS, [
    `--config.file=${configFile}`, `--storage.tsdb.path=${path.join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${port}`,
  ], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  proc.stdout.on('data', (d) => { output += d; });
  proc.stderr.on('data', (d) => { output += d; });
  const closed = once(proc, 'close');
  const url = `http://127.0.0.1:${port}`;
  const prom = {
    url,
    output: () => output,
    async stop() {
      if (proc.exitCode === null && proc.signalCode === null) {
        proc.kill('SIGTERM');
        const t = setTimeout(() => proc.kill('SIGKILL'), 10000);
        await closed;
        clearTimeout(t);
      }
      fs.rmSync(dir, { recursive: true, force: true });
      return { code: proc.exitCode, signal: proc.signalCode };
    },
    /** GET on the HTTP API; resolves with `data` of a successful answer. */
    async api(p) {
      const r = await fetch(url + p);
      const j = await r.json();
      assert.equal(j.status, 'success', `${p}: ${JSON.stringify(j)}`);
      return j.data;
    },
    /** An instant query; resolves with its vector. */
    query(expr) { return prom.api(`/api/v1/query?query=${encodeURIComponent(expr)}`).then((d) => d.result); },
  };
  try {
    await until(async () => {
      if (proc.exitCode !== null) throw new Error(`prometheus exited (${proc.exitCode}):\n${output}`);
      return (await fetch(`${url}/-/ready`)).status === 200;
    }, `prometheus on ${url} to be ready`, 20000);
  } catch (e) {
    await prom.stop();
    throw new Error(`${e.message}\n${output}`);
  }
  return prom;
}

test(`prometheus is installed at ${PROMETHEUS}`, () => {
  assert.ok(fs.existsSync(PROMETHEUS), `prometheus not found at ${PROMETHEUS}: scripts/install-deps.sh installs Debian's prometheus package (PROMETHEUS_BIN overrides the path)`);
});

describe('Prometheus scraping /metrics', () => {
  let up, sy, prom;
  let sent2xx = 0;
  const chat = async (model, expectStatus = 200) => {
    const r = await postJson(`${sy.url}/v1/chat/completions`, { model, messages: [{ role: 'user', content: 'hello' }] }, { authorization: `Bearer ${GATEWAY_KEY}` });
    assert.equal(r.status, expectStatus, r.text);
    if (r.status === 200) sent2xx += 1;
  };
  /** The single value of an instant query, as a number (undefined while the vector is empty). */
  const scalar = async (expr) => {
    const v = await prom.query(expr);
    assert.ok(v.length <= 1, `${expr}: ${JSON.stringify(v)}`);
    return v.length ? Number(v[0].value[1]) : undefined;
  };

  before(async () => {
    up = await startUpstream(async (req, res, rec) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(completion('hi', rec.json?.model, USAGE)));
    });
    sy = await startSwitchyard(`server: {listen: "127.0.0.1:0", threads: 2}
providers:
  - {name: up, type: openai, base_url: "${up.url}/v1", api_key: sk-upstream-prometheus-01}
models:
  - {name: small, deployments: [{provider: up, model: small-up, input_price: 1, output_price: 2}]}
auth:
  required: true
  keys: [{name: gw, key: "${GATEWAY_KEY}"}]
admin:
  keys: [{name: prometheus, key: "${ADMIN_KEY}"}]
`);
    // Traffic before the first scrape: three answers and a 404 (counted under 4xx, not 2xx).
    for (let i = 0; i < 3; i++) await chat('small');
    await chat('nope', 404);
    prom = await startPrometheus(`127.0.0.1:${sy.port}`);
  });
  after(async () => {
    await prom?.stop();
    await sy?.stop();
    await up?.close();
  });

  test('the scraped counters match the traffic, before and after more of it; a quantile comes out of the buckets', async () => {
    const q2xx = 'sum(switchyard_requests_total{code="2xx"})';
    await until(async () => (await scalar(q2xx)) === 3, `${q2xx} == 3 (the first scrape)`);
    assert.equal(await scalar('sum(switchyard_requests_total{code="4xx"})'), 1);
    // More traffic between two scrapes: the counters move and the rate over the buckets is not zero.
    await chat('small');
    await chat('small');
    assert.equal(sent2xx, 5);
    await until(async () => (await scalar(q2xx)) === sent2xx, `${q2xx} == ${sent2xx}`);
    const cost = await scalar('switchyard_cost_usd_total{model="small",deployment="small/up/0"}');
    assert.ok(Math.abs(cost - 5 * COST) < 1e-12, `switchyard_cost_usd_total: expected ${5 * COST}, got ${cost}`);
    assert.equal(await scalar('sum(switchyard_tokens_total{model="small",type="input"})'), 5 * USAGE.prompt_tokens);
    assert.equal(await scalar('switchyard_key_requests_total{key="gw",code="2xx"}'), 5);
    assert.equal(await scalar('up{job="switchyard"}'), 1);
    const quantile = 'histogram_quantile(0.5, sum by (le) (rate(gen_ai_client_operation_duration_seconds_bucket[1m])))';
    const p50 = await until(async () => {
      const v = await scalar(quantile);
      return { ok: Number.isFinite(v), value: v };
    }, `${quantile} to be a number`);
    assert.ok(p50 >= 0 && p50 <= 120, `p50 ${p50}`);
  });

  test('the target is up with no scrape error', async () => {
    const { activeTargets } = await prom.api('/api/v1/targets');
    assert.equal(activeTargets.length, 1);
    const [t] = activeTargets;
    assert.equal(t.labels.job, 'switchyard');
    assert.equal(t.scrapeUrl, `http://127.0.0.1:${sy.port}/metrics`);
    assert.equal(t.health, 'up', `target health ${t.health}: ${t.lastError}`);
    assert.equal(t.lastError, '');
  });

  test('Prometheus knows the type and help of the counters under their series names', async () => {
    const meta = await prom.api('/api/v1/metadata?metric=switchyard_requests_total');
    // Regression: TYPE/HELP once named the family without _total, so Prometheus filed the metadata
    // under `switchyard_requests` and had none for the series that exist.
    assert.equal(meta.switchyard_requests_total?.[0]?.type, 'counter', `metadata: ${JSON.stringify(meta)}`);
    assert.match(meta.switchyard_requests_total[0].help, /Requests answered/);
  });
});
