// The operations surface, through HTTP only, against the real binary and fake upstreams on 127.0.0.1
// whose answers carry fixed token usage, so every cost and count is known exactly:
//   - /metrics after known traffic: exact counters (requests, tokens, cost, routing decisions, failed
//     attempts, fallbacks, per-key requests and spend, reloads), histogram counts, deployment and budget
//     gauges; the whole exposition through `promtool check metrics`;
//   - virtual keys (auth.keys): 401, 403 in both dialects, rpm and tpm 429s with retry-after, daily and
//     monthly budgets (and the overshoot of requests in flight), key_sha256, metadata rule routing,
//     requests that call no upstream cost nothing, /admin/keys spend = the sum of the cost headers;
//   - the admin API: admin_disabled, invalid_admin_key, open mode, /admin/decisions, /admin/usage,
//     /admin/config with every secret redacted, POST /admin/reload (and the file watcher) keeping spend;
//   - streams: the cost in the trailing `: switchyard-usage` comment, the decision log, /admin/decisions,
//     metrics and key spend, with the upstream's usage chunk shown only to clients that asked for it.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';

import { chunk, completion, postJson, sseData, startSwitchyard, startUpstream, until, usageChunk } from './lib/harness.mjs';
import { parseExposition } from './lib/metrics.mjs';

const PROMTOOL = process.env.PROMTOOL_BIN ?? '/usr/bin/promtool';
const ADMIN_KEY = 'admin-ops-secret-0001';
const UPSTREAM_KEY = 'sk-upstream-ops-secret-0001';

// Every upstream answer reports this usage: cost = (1000 * input_price + 500 * output_price) / 1e6.
const USAGE = { prompt_tokens: 1000, completion_tokens: 500, total_tokens: 1500 };
const PRICES = { small: [1, 2], big: [10, 20], flaky: [5, 5], broken: [3, 3], extra: [2, 4] };
const costOf = (model) => (USAGE.prompt_tokens * PRICES[model][0] + USAGE.completion_tokens * PRICES[model][1]) / 1e6;
const near = (actual, expected, what, eps = 1e-9) =>
  assert.ok(Math.abs(Number(actual) - expected) <= eps, `${what}: expected ${expected}, got ${actual}`);
const deployments = (model) => `{provider: up, model: ${model}-up, input_price: ${PRICES[model][0]}, output_price: ${PRICES[model][1]}}`;


/**
 * The fake upstream: fixed usage; an upstream model ending in "-fail" answers 500; a prompt containing
 * "hold" is held until `hold.want` such requests are waiting (proves they were all in flight at once);
 * streams end with a usage chunk whether or not it was asked for (the proxy must hide it).
 */
async function startFakeUpstream() {
  const hold = { want: 0, waiting: [] };
  const up = await startUpstream(async (req, res, rec) => {
    const model = rec.json?.model ?? '';
    if (model.endsWith('-fail')) {
      res.writeHead(500, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: { message: 'upstream exploded on purpose', type: 'server_error', param: null, code: null } }));
      return;
    }
    if (JSON.stringify(rec.json?.messages ?? []).includes('hold')) {
      await new Promise((resolve) => {
        hold.waiting.push(resolve);
        if (hold.waiting.length >= hold.want) for (const r of hold.waiting.splice(0)) r();
      });
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
  up.hold = hold;
  return up;
}

// --- the exposition format -------------------------------------------------------------------------


/** Every histogram's buckets are cumulative and end in +Inf = _count. */
function checkHistograms(m) {
  for (const [family, t] of m.type) {
    if (t !== 'histogram') continue;
    const groups = new Map();
    for (const s of m.series(`${family}_bucket`)) {
      const { le, ...rest } = s.labels;
      const key = JSON.stringify(rest);
      if (!groups.has(key)) groups.set(key, { labels: rest, buckets: [] });
      groups.get(key).buckets.push([le === '+Inf' ? Infinity : Number(le), s.value]);
    }
    for (const { labels, buckets } of groups.values()) {
      for (let i = 1; i < buckets.length; i++) {
        assert.ok(buckets[i][0] > buckets[i - 1][0] && buckets[i][1] >= buckets[i - 1][1], `${family}${JSON.stringify(labels)} buckets`);
      }
      assert.equal(buckets.at(-1)[0], Infinity, `${family} has no +Inf bucket`);
      assert.equal(buckets.at(-1)[1], m.get(`${family}_count`, labels), `${family}${JSON.stringify(labels)}: +Inf != _count`);
    }
  }
}

// --- known traffic, then metrics, decisions, usage -------------------------------------------------

describe('metrics, decisions and usage after known traffic', () => {
  const ALICE = 'sk-alice-metrics-0001', BOB = 'sk-bob-metrics-0002';
  let up, sy;
  const sent = [];  // {n, key, status, id, cost, stage, reason}

  async function send(n, key, body, { expectStatus = 200 } = {}) {
    const r = await postJson(`${sy.url}/v1/chat/completions`, body, { authorization: `Bearer ${key === 'alice' ? ALICE : BOB}` });
    assert.equal(r.status, expectStatus, `request #${n}: ${r.text}`);
    // What the answer said it cost: the header, or for a stream the trailing comment (null: nothing said).
    const comment = /^: switchyard-usage (.*)$/m.exec(r.text);
    const cost = r.headers.get('x-switchyard-cost-usd') ?? (comment ? JSON.parse(comment[1]).cost_usd : null);
    sent.push({ n, key, status: r.status, id: r.headers.get('x-request-id'), cost: cost === null ? null : Number(cost),
      stage: r.headers.get('x-switchyard-stage') ?? '', reason: r.headers.get('x-switchyard-reason') ?? '', r });
    return r;
  }
  const say = (content) => [{ role: 'user', content }];
  const metrics = async () => {
    const r = await fetch(`${sy.url}/metrics`, { headers: { authorization: `Bearer ${ADMIN_KEY}` } });
    assert.equal(r.status, 200);
    assert.equal(r.headers.get('content-type'), 'text/plain; version=0.0.4; charset=utf-8');
    return r.text();
  };
  const admin = async (p) => {
    const r = await fetch(sy.url + p, { headers: { authorization: `Bearer ${ADMIN_KEY}` } });
    assert.equal(r.status, 200, `${p}: ${r.status}`);
    return r.json();
  };

  before(async () => {
    up = await startFakeUpstream();
    sy = await startSwitchyard(`server: {listen: "127.0.0.1:0", threads: 2}
providers:
  - {name: up, type: openai, base_url: "${up.url}/v1", api_key: "${UPSTREAM_KEY}"}
models:
  - {name: small, deployments: [${deployments('small')}]}
  - {name: big, deployments: [${deployments('big')}]}
  - {name: flaky, fallbacks: [small], deployments: [{provider: up, model: flaky-fail, input_price: 5, output_price: 5}]}
  - {name: broken, deployments: [{provider: up, model: broken-fail, input_price: 3, output_price: 3}]}
routers:
  - name: auto
    default: small
    stages:
      - type: rule
        name: rules
        rules:
          - {name: proofs, when: {keywords: [prove]}, route: big}
reliability: {backoff_base: 1ms, backoff_max: 2ms}
auth:
  required: true
  keys:
    - {name: alice, key: "${ALICE}", tier: pro, budget: {daily_usd: 100, monthly_usd: 1000}}
    - {name: bob, key: "${BOB}", rpm: 4}
admin:
  keys: [{name: ops, key: "${ADMIN_KEY}"}]
`);
    // Nothing yet: the reload counters exist at zero.
    const m0 = parseExposition(await metrics());
    assert.equal(m0.get('switchyard_config_reloads_total', { result: 'ok' }), 0);
    assert.equal(m0.get('switchyard_config_reloads_total', { result: 'failed' }), 0);

    // The traffic, one request at a time, so that the decisions' order is known.
    await send(1, 'alice', { model: 'small', messages: say('hello') });
    await send(2, 'alice', { model: 'auto', messages: say('please prove this') });                 // rules -> big
    await send(3, 'bob', { model: 'auto', messages: say('hi there') });                           // default -> small
    const fb = await send(4, 'bob', { model: 'flaky', messages: say('hi') });                     // 500, 500, then small
    assert.equal(fb.headers.get('x-switchyard-model'), 'small');
    assert.equal(fb.headers.get('x-switchyard-attempts'), '3');
    await send(5, 'alice', { model: 'broken', messages: say('hi') }, { expectStatus: 502 });      // 500, 500, no fallback
    const s6 = await send(6, 'alice', { model: 'small', stream: true, stream_options: { include_usage: true }, messages: say('stream one') });
    assert.match(s6.text, /streamed answer/);
    const s7 = await send(7, 'bob', { model: 'big', stream: true, messages: say('stream two') });
    assert.match(s7.text, /streamed answer/);
    await send(8, 'bob', { model: 'nope', messages: say('hi') }, { expectStatus: 404 });         // admitted, no model
    const limited = await send(9, 'bob', { model: 'small', messages: say('hi') }, { expectStatus: 429 });  // rpm 4
    assert.equal(limited.json.error.code, 'rate_limit_exceeded');
    await send(10, 'alice', '{"model":"small","messages":[', { expectStatus: 400 });            // never parsed
    // The counters are written after the answer is sent: wait until all ten requests are counted.
    await until(async () => parseExposition(await metrics()).sum('switchyard_requests_total') === 10, 'ten requests in /metrics');
  });
  after(async () => {
    await sy?.stop();
    await up?.close();
  });

  test('the counters hold exactly the traffic sent', async () => {
    const m = parseExposition(await metrics());
    const S = 'small/up/0', B = 'big/up/0', F = 'flaky/up/0', X = 'broken/up/0';
    // switchyard_requests_total: by the model and deployment that answered (a failure: that failed last).
    const requests = {
      [`small|${S}|2xx`]: 4, [`big|${B}|2xx`]: 2, [`broken|${X}|5xx`]: 1,
      '||4xx': 2,            // #8 unknown model, #10 unparsable body
      'small||429': 1,       // #9 refused by bob's rpm before anything was routed
    };
    for (const s of m.series('switchyard_requests_total')) {
      const k = `${s.labels.model}|${s.labels.deployment}|${s.labels.code}`;
      assert.equal(s.value, requests[k] ?? 0, `switchyard_requests_total ${k}`);
    }
    for (const k of Object.keys(requests)) {
      const [model, deployment, code] = k.split('|');
      assert.equal(m.get('switchyard_requests_total', { model, deployment, code }), requests[k], k);
    }
    // Tokens: 4 answers from small, 2 from big (2 of them streamed), nothing cached.
    for (const [model, dep, n] of [['small', S, 4], ['big', B, 2], ['flaky', F, 0], ['broken', X, 0]]) {
      assert.equal(m.get('switchyard_tokens_total', { model, deployment: dep, type: 'input' }), n * USAGE.prompt_tokens, `${model} input`);
      assert.equal(m.get('switchyard_tokens_total', { model, deployment: dep, type: 'output' }), n * USAGE.completion_tokens, `${model} output`);
      assert.equal(m.get('switchyard_tokens_total', { model, deployment: dep, type: 'cached' }), 0, `${model} cached`);
      near(m.get('switchyard_cost_usd_total', { model, deployment: dep }), n ? n * costOf(model) : 0, `${model} cost`, 1e-12);
      // Histograms: one observation per request answered (or failed) by the deployment.
      const answered = { small: 4, big: 2, flaky: 0, broken: 1 }[model];
      const hl = { gen_ai_request_model: model, gen_ai_provider_name: 'openai', deployment: dep };
      assert.equal(m.get('gen_ai_client_operation_duration_seconds_count', hl), answered, `${model} duration count`);
      assert.equal(m.get('switchyard_upstream_duration_seconds_count', { deployment: dep }), answered, `${model} upstream count`);
      assert.equal(m.get('gen_ai_server_time_to_first_token_seconds_count', hl), { small: 1, big: 1 }[model] ?? 0, `${model} ttft count`);
      for (const t of ['input', 'output']) {
        const tl = { ...hl, gen_ai_token_type: t };
        assert.equal(m.get('gen_ai_client_token_usage_count', tl), n, `${model} ${t} token usage count`);
        assert.equal(m.get('gen_ai_client_token_usage_sum', tl), n * (t === 'input' ? USAGE.prompt_tokens : USAGE.completion_tokens), `${model} ${t} token usage sum`);
      }
    }
    assert.equal(m.get('gen_ai_client_operation_duration_seconds_count', { gen_ai_request_model: '', gen_ai_provider_name: '', deployment: '' }), 2);
    assert.equal(m.get('gen_ai_client_operation_duration_seconds_count', { gen_ai_request_model: 'small', gen_ai_provider_name: '', deployment: '' }), 1);
    assert.equal(m.get('switchyard_proxy_overhead_seconds_count'), 10);
    // Routing: the rule sent one request to big, the default one to small; direct model requests are not routed.
    assert.equal(m.get('switchyard_routing_decisions_total', { router: 'auto', stage: 'rules' }), 1);
    assert.equal(m.get('switchyard_routing_decisions_total', { router: 'auto', stage: 'default' }), 1);
    assert.equal(m.get('switchyard_cascade_escalations_total', { router: 'auto' }), 0);
    // Failed attempts: flaky and broken each failed twice (first try and one retry), as the upstream saw.
    const calls = (upstreamModel) => up.requests.filter((r) => r.json?.model === upstreamModel).length;
    assert.equal(calls('flaky-fail'), 2);
    assert.equal(calls('broken-fail'), 2);
    for (const s of m.series('switchyard_failed_attempts_total')) {
      const expected = s.labels.reason === 'server_error' ? { [F]: 2, [X]: 2 }[s.labels.deployment] ?? 0 : 0;
      assert.equal(s.value, expected, `failed attempts ${JSON.stringify(s.labels)}`);
    }
    assert.equal(m.get('switchyard_failed_attempts_total', { deployment: F, reason: 'server_error' }), 2);
    // Fallbacks: counted under the model that answered instead.
    assert.equal(m.get('switchyard_fallbacks_total', { model: 'small' }), 1);
    assert.equal(m.get('switchyard_fallbacks_total', { model: 'big' }), 0);
    assert.equal(m.get('switchyard_fallbacks_total', { model: 'flaky' }), 0);
    // Per key: #10 never parsed, so it belongs to no key.
    const keyRequests = { alice: { '2xx': 3, '5xx': 1 }, bob: { '2xx': 3, '4xx': 1, 429: 1 } };
    for (const key of ['alice', 'bob']) {
      for (const code of ['2xx', '4xx', '429', '5xx', '499']) {
        assert.equal(m.get('switchyard_key_requests_total', { key, code }), keyRequests[key][code] ?? 0, `${key} ${code}`);
      }
    }
    const aliceSpend = costOf('small') + costOf('big') + costOf('small');
    const bobSpend = costOf('small') + costOf('small') + costOf('big');
    near(m.get('switchyard_key_spend_usd_total', { key: 'alice' }), aliceSpend, 'alice spend', 1e-12);
    near(m.get('switchyard_key_spend_usd_total', { key: 'bob' }), bobSpend, 'bob spend', 1e-12);
    // Budget gauges: only keys with a budget, per period.
    near(m.get('switchyard_key_budget_remaining_usd', { key: 'alice', period: 'day' }), 100 - aliceSpend, 'alice day left', 1e-9);
    near(m.get('switchyard_key_budget_remaining_usd', { key: 'alice', period: 'month' }), 1000 - aliceSpend, 'alice month left', 1e-9);
    assert.deepEqual(m.series('switchyard_key_budget_remaining_usd').map((s) => s.labels.key), ['alice', 'alice']);
    // Deployment gauges, one series per deployment; nothing in flight, no breaker open (2 errors < min_requests).
    for (const g of ['switchyard_deployment_breaker_state', 'switchyard_deployment_cooldown_seconds', 'switchyard_deployment_auth_failed', 'switchyard_deployment_in_flight']) {
      assert.equal(m.type.get(g), 'gauge', `${g} type`);
      assert.deepEqual(m.series(g).map((s) => s.labels.deployment).sort(), [B, X, F, S].sort(), `${g} series`);
      for (const s of m.series(g)) assert.equal(s.value, 0, `${g} ${s.labels.deployment}`);
    }
    assert.equal(m.get('switchyard_config_reloads_total', { result: 'ok' }), 0);
    checkHistograms(m);
  });

  test('promtool check metrics accepts the whole exposition', async () => {
    assert.ok(fs.existsSync(PROMTOOL), `promtool not found at ${PROMTOOL}: scripts/install-deps.sh installs Debian's prometheus package (PROMTOOL_BIN overrides the path)`);
    const text = await metrics();
    const p = spawnSync(PROMTOOL, ['check', 'metrics'], { input: text, encoding: 'utf8' });
    assert.equal(p.error, undefined);
    // Lint problems we accept: none. promtool's naming lints (counters without _total, non-base units,
    // camelCase) do not fire on these names, so anything it prints is a real problem. Exit status: 0 clean,
    // 1 unparsable, 3 lint problems.
    const ACCEPTED_LINTS = [];
    const problems = `${p.stdout}${p.stderr}`.split('\n').map((l) => l.trim()).filter((l) => l && !ACCEPTED_LINTS.some((re) => re.test(l)));
    // Regression: counters were once declared `# TYPE switchyard_requests counter` for samples named
    // `switchyard_requests_total` (OpenMetrics' spelling); in text format 0.0.4 TYPE and HELP name the
    // sample, and promtool reported every counter as "<name>_total no help text".
    assert.deepEqual(problems, [], `promtool check metrics (exit ${p.status}):\n${p.stdout}${p.stderr}`);
    assert.equal(p.status, 0);
  });

  test('/admin/decisions: newest first, limit, reasons, costs; 400 for a bad limit', async () => {
    const parsed = sent.filter((s) => s.n !== 10);  // the unparsable body has no decision
    const all = (await admin('/admin/decisions')).data;
    assert.deepEqual(all.map((d) => d.request_id), parsed.map((s) => s.id).reverse());
    for (const d of all) {
      const s = parsed.find((x) => x.id === d.request_id);
      assert.equal(d.status, s.status, `#${s.n} status`);
      assert.equal(d.key, s.key, `#${s.n} key`);
      assert.equal(d.stage, s.stage, `#${s.n} stage`);
      assert.equal(d.reason, s.reason, `#${s.n} reason`);
      near(d.cost_usd, s.cost ?? 0, `#${s.n} cost`, 1e-8);
      if (s.status === 200) assert.deepEqual([d.prompt_tokens, d.completion_tokens], [1000, 500], `#${s.n} tokens`);
    }
    const byN = (n) => all.find((d) => d.request_id === sent[n - 1].id);
    assert.equal(byN(2).router, 'auto');
    assert.match(byN(2).reason, /^rule:proofs/);
    assert.equal(byN(2).model, 'big');
    assert.equal(byN(3).reason, sent[2].reason);
    assert.equal(byN(3).model, 'small');
    assert.deepEqual([byN(4).model_requested, byN(4).model, byN(4).deployment, byN(4).attempts], ['flaky', 'small', 'small/up/0', 3]);
    assert.deepEqual([byN(5).model, byN(5).attempts, byN(5).cost_usd], ['broken', 2, 0]);
    assert.ok(byN(5).error, 'the failed request has no error text');
    assert.deepEqual([byN(6).stream, byN(7).stream, byN(1).stream], [true, true, false]);
    near(byN(7).cost_usd, costOf('big'), 'stream #7 cost', 1e-12);
    assert.deepEqual([byN(9).status, byN(9).attempts, byN(9).cost_usd], [429, 0, 0]);
    assert.deepEqual([byN(8).status, byN(8).model, byN(8).cost_usd], [404, 'nope', 0]);
    // limit
    const three = (await admin('/admin/decisions?limit=3')).data;
    assert.deepEqual(three.map((d) => d.request_id), all.slice(0, 3).map((d) => d.request_id));
    assert.equal((await admin('/admin/decisions?limit=1')).data.length, 1);
    assert.equal((await admin('/admin/decisions?limit=500')).data.length, all.length);
    for (const bad of ['0', '501', 'abc', '', '-1', '1.5', '3x', '99999999999999999999999']) {
      const r = await fetch(`${sy.url}/admin/decisions?limit=${bad}`, { headers: { authorization: `Bearer ${ADMIN_KEY}` } });
      assert.equal(r.status, 400, `limit=${bad}`);
      const j = await r.json();
      assert.equal(j.error.type, 'invalid_request_error', `limit=${bad}`);
      assert.equal(j.error.param, 'limit', `limit=${bad}`);
    }
  });

  test('/admin/usage: the per-minute rows add up to the traffic', async () => {
    const { minutes } = await admin('/admin/usage');
    assert.equal(minutes.length, 60);
    for (let i = 1; i < minutes.length; i++) assert.equal(minutes[i].t - minutes[i - 1].t, 60000);
    const total = (f) => minutes.reduce((a, m) => a + m[f], 0);
    assert.equal(total('requests'), 10);
    assert.equal(total('errors'), 4);  // #5 502, #8 404, #9 429, #10 400
    assert.equal(total('fallbacks'), 1);
    near(total('cost_usd'), 4 * costOf('small') + 2 * costOf('big'), 'usage cost', 1e-12);
  });

  test('/admin/keys: spend equals the sum of the x-switchyard-cost-usd headers, per key', async () => {
    const keys = (await admin('/admin/keys')).data;
    assert.deepEqual(keys.map((k) => k.name), ['alice', 'bob']);
    for (const k of keys) {
      const reported = sent.filter((s) => s.key === k.name && s.cost !== null);
      assert.deepEqual(reported.map((s) => s.status), [200, 200, 200], k.name);  // errors report no cost
      const sum = reported.reduce((a, s) => a + s.cost, 0);
      near(k.spend.today_usd, sum, `${k.name} today`, 1e-8);
      near(k.spend.month_usd, sum, `${k.name} month`, 1e-8);
      near(k.spend.total_usd, sum, `${k.name} total`, 1e-8);
    }
    const bob = keys.find((k) => k.name === 'bob');
    assert.equal(bob.requests, 4);  // admitted: #3 #4 #7 #8; #9 was refused
    assert.equal(bob.rpm, 4);
    assert.deepEqual(keys.find((k) => k.name === 'alice').budget, { daily_usd: 100, monthly_usd: 1000 });
  });
});

// --- virtual keys ----------------------------------------------------------------------------------

describe('virtual keys: authentication, permissions, rpm, tpm, budgets', () => {
  const K = {
    alice: 'sk-alice-keys-0001', bob: 'sk-bob-keys-00002', limited: 'sk-limited-keys-03', tokeny: 'sk-tokeny-keys-004',
    spender: 'sk-spender-keys-05', monthly: 'sk-monthly-keys-06', crowd: 'sk-crowd-keys-0007', hashed: 'sk-hashed-keys-008',
    dave: 'sk-dave-keys-00009',
  };
  const hashedSha = crypto.createHash('sha256').update(K.hashed).digest('hex');
  let up, sy;
  const costs = {};  // key name -> costs the answers reported

  const chat = async (key, body, p = '/v1/chat/completions') => {
    const r = await postJson(sy.url + p, body, key === undefined ? {} : { authorization: `Bearer ${K[key] ?? key}` });
    if (r.status === 200 && K[key]) {
      const c = r.headers.get('x-switchyard-cost-usd') ?? JSON.parse(/^: switchyard-usage (.*)$/m.exec(r.text)[1]).cost_usd;
      (costs[key] ??= []).push(Number(c));
    }
    return r;
  };
  const ask = (model, content = 'hello', extra = {}) => ({ model, messages: [{ role: 'user', content }], ...extra });
  const askAnthropic = (model, content = 'hello') => ({ model, max_tokens: 64, messages: [{ role: 'user', content }] });
  const keyInfo = async (name) => {
    const r = await fetch(`${sy.url}/admin/keys`, { headers: { authorization: `Bearer ${ADMIN_KEY}` } });
    assert.equal(r.status, 200);
    return (await r.json()).data.find((k) => k.name === name);
  };
  /** Spend (and tokens) are settled after the answer is sent: waits until the key's spend reached `usd`. */
  const settled = (name, usd) => until(async () => {
    const k = await keyInfo(name);
    return Math.abs(k.spend.today_usd - usd) < 1e-12 ? k : null;
  }, `${name} spend ${usd}`);

  before(async () => {
    up = await startFakeUpstream();
    sy = await startSwitchyard(`server: {listen: "127.0.0.1:0", threads: 4}
providers:
  - {name: up, type: openai, base_url: "${up.url}/v1", api_key: "${UPSTREAM_KEY}"}
models:
  - {name: small, deployments: [${deployments('small')}]}
  - {name: big, deployments: [${deployments('big')}]}
  - {name: broken, deployments: [{provider: up, model: broken-fail, input_price: 3, output_price: 3}]}
routers:
  - name: teams
    default: small
    stages:
      - type: rule
        name: by-team
        rules:
          - {name: search-team, when: {metadata: {team: [search]}}, route: big}
  - name: guarded
    default: small
    stages:
      - type: rule
        name: guard
        rules:
          - {name: no-secrets, when: {keywords: [password]}, reject: {status: 422, code: sensitive_data, message: "no passwords"}}
reliability: {backoff_base: 1ms, backoff_max: 2ms}
auth:
  required: true
  keys:
    - {name: alice, key: "${K.alice}", tier: pro, metadata: {team: search}, models: [teams, small]}
    - {name: bob, key: "${K.bob}", metadata: {team: ads}}
    - {name: limited, key: "${K.limited}", rpm: 2}
    - {name: tokeny, key: "${K.tokeny}", tpm: 2000}
    - {name: spender, key: "${K.spender}", budget: {daily_usd: 0.005}}
    - {name: monthly, key: "${K.monthly}", budget: {monthly_usd: 0.003}}
    - {name: crowd, key: "${K.crowd}", budget: {daily_usd: 0.001}}
    - {name: hashed, key_sha256: "${hashedSha}", tier: free}
    - {name: dave, key: "${K.dave}"}
admin:
  keys: [{name: ops, key: "${ADMIN_KEY}"}]
`);
  });
  after(async () => {
    await sy?.stop();
    await up?.close();
  });

  test('401 invalid_api_key: no key, a wrong key, an admin key; in both dialects', async () => {
    const before = up.requests.length;
    for (const key of [undefined, 'sk-not-a-real-key-000', ADMIN_KEY]) {
      const r = await chat(key, ask('small'));
      assert.equal(r.status, 401, r.text);
      assert.deepEqual([r.json.error.code, r.json.error.type], ['invalid_api_key', 'authentication_error']);
      const a = await chat(key, askAnthropic('small'), '/v1/messages');
      assert.equal(a.status, 401, a.text);
      assert.equal(a.json.type, 'error');
      assert.equal(a.json.error.type, 'authentication_error');
    }
    // The key also works as x-api-key (Anthropic clients) and with a lowercase "bearer".
    const x = await postJson(`${sy.url}/v1/messages`, askAnthropic('small'), { 'x-api-key': K.bob });
    assert.equal(x.status, 200, x.text);
    const lower = await postJson(`${sy.url}/v1/chat/completions`, ask('small'), { authorization: `bearer ${K.bob}` });
    assert.equal(lower.status, 200, lower.text);
    assert.equal(up.requests.length, before + 2);
    (costs.bob ??= []).push(...[x, lower].map((r) => Number(r.headers.get('x-switchyard-cost-usd'))));
    near(costs.bob.at(-1), costOf('small'), 'cost header', 1e-8);
  });

  test('403 model_not_allowed for a model or router outside the key\'s list, in both dialects', async () => {
    const before = up.requests.length;
    const r = await chat('alice', ask('big'));
    assert.equal(r.status, 403, r.text);
    assert.deepEqual(r.json.error, { message: r.json.error.message, type: 'permission_error', param: 'model', code: 'model_not_allowed' });
    assert.match(r.json.error.message, /alice.*big/);
    const a = await chat('alice', askAnthropic('big'), '/v1/messages');
    assert.equal(a.status, 403, a.text);
    assert.equal(a.json.type, 'error');
    assert.equal(a.json.error.type, 'permission_error');
    // A router named by header, by the `switchyard` extension or as `router@threshold` is checked too.
    const viaHeader = await postJson(`${sy.url}/v1/chat/completions`, ask('small'), { authorization: `Bearer ${K.alice}`, 'x-switchyard-router': 'guarded' });
    assert.equal(viaHeader.status, 403, viaHeader.text);
    const viaBody = await chat('alice', ask('small', 'hi', { switchyard: { router: 'guarded' } }));
    assert.equal(viaBody.status, 403, viaBody.text);
    const viaAt = await chat('alice', ask('guarded@0.5'));
    assert.equal(viaAt.status, 403, viaAt.text);
    assert.equal(up.requests.length, before, 'a refused request reached the upstream');
    // What is allowed works; the refusals were not counted against anything.
    const ok = await chat('alice', ask('small'));
    assert.equal(ok.status, 200, ok.text);
    const info = await keyInfo('alice');
    assert.deepEqual(info.models, ['teams', 'small']);
    assert.equal(info.requests, 1);
  });

  test('rpm: the third request in a minute is a 429 rate_limit_exceeded with retry-after', async () => {
    for (let i = 0; i < 2; i++) {
      const r = await chat('limited', ask('small'));
      assert.equal(r.status, 200, r.text);
    }
    const before = up.requests.length;
    const r = await chat('limited', ask('small'));
    assert.equal(r.status, 429, r.text);
    assert.deepEqual([r.json.error.code, r.json.error.type], ['rate_limit_exceeded', 'rate_limit_error']);
    assert.match(r.json.error.message, /2 requests per minute/);
    const secs = Number(r.headers.get('retry-after'));
    const ms = Number(r.headers.get('retry-after-ms'));
    assert.ok(Number.isInteger(secs) && secs >= 1 && secs <= 60, `retry-after ${secs}`);
    assert.ok(ms > 0 && ms <= 60001 && Math.ceil(ms / 1000) === secs, `retry-after-ms ${ms} vs retry-after ${secs}`);
    assert.equal(r.headers.get('x-should-retry'), null, 'a rate limit passes: retrying later is right');
    const a = await chat('limited', askAnthropic('small'), '/v1/messages');
    assert.equal(a.status, 429, a.text);
    assert.deepEqual([a.json.type, a.json.error.type], ['error', 'rate_limit_error']);
    assert.ok(Number(a.headers.get('retry-after')) >= 1);
    assert.equal(up.requests.length, before);
    const info = await keyInfo('limited');
    assert.deepEqual([info.requests, info.requests_last_minute, info.rpm], [2, 2, 2]);
  });

  test('tpm: once the usage of earlier requests has settled, the next one is a 429', async () => {
    // tpm 2000, 1500 tokens an answer: the second is admitted (1500 < 2000), the third is not (3000).
    assert.equal((await chat('tokeny', ask('small'))).status, 200);
    assert.equal((await chat('tokeny', ask('small'))).status, 200);
    await until(async () => (await keyInfo('tokeny')).tokens_last_minute === 3000, 'tokeny tokens_last_minute 3000');
    const r = await chat('tokeny', ask('small'));
    assert.equal(r.status, 429, r.text);
    assert.equal(r.json.error.code, 'rate_limit_exceeded');
    assert.match(r.json.error.message, /2000 tokens per minute/);
    assert.ok(Number(r.headers.get('retry-after')) >= 1 && Number(r.headers.get('retry-after')) <= 60);
    const info = await keyInfo('tokeny');
    assert.deepEqual([info.requests, info.tokens_last_minute, info.tpm], [2, 3000, 2000]);
  });

  test('daily budget: requests pass until the spend reaches it, then 429 budget_exceeded, x-should-retry: false', async () => {
    // $0.005 a day at $0.002 a request: the third is still admitted (0.004 < 0.005) and overshoots to 0.006.
    for (let i = 1; i <= 3; i++) {
      const r = await chat('spender', ask('small'));
      assert.equal(r.status, 200, `request ${i}: ${r.text}`);
      await settled('spender', i * costOf('small'));
    }
    const before = up.requests.length;
    const r = await chat('spender', ask('small'));
    assert.equal(r.status, 429, r.text);
    assert.deepEqual([r.json.error.code, r.json.error.type], ['budget_exceeded', 'rate_limit_error']);
    assert.equal(r.headers.get('x-should-retry'), 'false');
    assert.match(r.json.error.message, /daily budget/);
    const a = await chat('spender', askAnthropic('small'), '/v1/messages');
    assert.equal(a.status, 429, a.text);
    assert.deepEqual([a.json.type, a.json.error.type], ['error', 'rate_limit_error']);
    assert.equal(a.headers.get('x-should-retry'), 'false');
    assert.equal(up.requests.length, before, 'a request over budget reached the upstream');
    const info = await keyInfo('spender');
    near(info.spend.today_usd, 3 * costOf('small'), 'spender today');
    assert.equal(info.requests, 3);
    const m = parseExposition(await (await fetch(`${sy.url}/metrics`, { headers: { authorization: `Bearer ${ADMIN_KEY}` } })).text());
    assert.equal(m.get('switchyard_key_budget_remaining_usd', { key: 'spender', period: 'day' }), 0);
    assert.equal(m.get('switchyard_key_requests_total', { key: 'spender', code: '429' }), 2);
    // Regression: the message once rounded the budget to cents ($0.005 reported as "$0.01").
    assert.match(r.json.error.message, /\$0\.0050*\b/, r.json.error.message);
  });

  test('monthly budget: refused with budget_exceeded once the month\'s spend reached it', async () => {
    assert.equal((await chat('monthly', ask('small'))).status, 200);
    assert.equal((await chat('monthly', ask('small'))).status, 200);  // 0.002 < 0.003: admitted
    await settled('monthly', 2 * costOf('small'));
    const r = await chat('monthly', ask('small'));
    assert.equal(r.status, 429, r.text);
    assert.equal(r.json.error.code, 'budget_exceeded');
    assert.match(r.json.error.message, /monthly budget/);
    assert.equal(r.headers.get('x-should-retry'), 'false');
  });

  test('requests in flight when the budget runs out all finish: spend overshoots, the next is refused', async () => {
    // Four requests held at the upstream until all four arrived: all were admitted at spend 0.
    up.hold.want = 4;
    const rs = await Promise.all([1, 2, 3, 4].map(() => chat('crowd', ask('small', 'hold on'))));
    assert.deepEqual(rs.map((r) => r.status), [200, 200, 200, 200]);
    const info = await settled('crowd', 4 * costOf('small'));
    assert.ok(info.spend.today_usd > info.budget.daily_usd);
    const r = await chat('crowd', ask('small'));
    assert.equal(r.status, 429, r.text);
    assert.equal(r.json.error.code, 'budget_exceeded');
  });

  test('key_sha256: the key whose digest is configured authenticates, under its name', async () => {
    const r = await chat('hashed', ask('small'));
    assert.equal(r.status, 200, r.text);
    // One character off is another key.
    const wrong = await chat(K.hashed.slice(0, -1) + 'X', ask('small'));
    assert.equal(wrong.status, 401);
    const d = await until(async () => {
      const j = await (await fetch(`${sy.url}/admin/decisions?limit=5`, { headers: { authorization: `Bearer ${ADMIN_KEY}` } })).json();
      return j.data.find((x) => x.request_id === r.headers.get('x-request-id'));
    }, 'the decision of the hashed key\'s request');
    assert.equal(d.key, 'hashed');
    const info = await settled('hashed', costOf('small'));
    assert.equal(info.tier, 'free');
    assert.ok(!JSON.stringify(info).includes(hashedSha), '/admin/keys shows the digest');
  });

  test('a rule on key metadata routes by the caller\'s key', async () => {
    const a = await chat('alice', ask('teams'));
    assert.equal(a.status, 200, a.text);
    assert.deepEqual([a.headers.get('x-switchyard-stage'), a.headers.get('x-switchyard-model')], ['by-team', 'big']);
    assert.match(a.headers.get('x-switchyard-reason'), /^rule:search-team/);
    assert.match(a.headers.get('x-switchyard-reason'), /metadata\.team=search/);
    assert.equal(up.requests.at(-1).json.model, 'big-up');
    for (const key of ['bob', 'hashed']) {  // team ads; no metadata at all
      const r = await chat(key, ask('teams'));
      assert.equal(r.status, 200, r.text);
      assert.deepEqual([r.headers.get('x-switchyard-stage'), r.headers.get('x-switchyard-model')], ['default', 'small'], key);
      assert.equal(up.requests.at(-1).json.model, 'small-up');
    }
  });

  test('a request that calls no upstream (or gets no usage back) costs nothing', async () => {
    // Metrics are recorded after an answer is sent: the baseline is taken once every earlier answer's
    // cost is in (slow builds otherwise race the last test's bookkeeping).
    const reported = () => Object.values(costs).flat().reduce((a, b) => a + b, 0);
    const m0 = await until(async () => {
      const x = parseExposition(await (await fetch(`${sy.url}/metrics`, { headers: { authorization: `Bearer ${ADMIN_KEY}` } })).text());
      return Math.abs(x.sum('switchyard_cost_usd_total') - reported()) < 1e-9 && x;
    }, 'every earlier answer priced in /metrics');
    const before = up.requests.length;
    const unknown = await chat('dave', ask('nope'));
    assert.equal(unknown.status, 404, unknown.text);
    const rejected = await chat('dave', ask('guarded', 'my password is hunter2'));
    assert.equal(rejected.status, 422, rejected.text);
    assert.equal(rejected.json.error.code, 'sensitive_data');
    const unparsable = await postJson(`${sy.url}/v1/chat/completions`, '{"model":', { authorization: `Bearer ${K.dave}` });
    assert.equal(unparsable.status, 400);
    assert.equal(up.requests.length, before, 'the upstream was called');
    const failed = await chat('dave', ask('broken'));  // upstream called, 500s, no usage: no cost either
    assert.equal(failed.status, 502, failed.text);
    for (const r of [unknown, rejected, unparsable, failed]) assert.equal(r.headers.get('x-switchyard-cost-usd'), null);
    // Settled once the decisions of the admitted ones (404, 422, 502) are there.
    const ids = [unknown, rejected, failed].map((r) => r.headers.get('x-request-id'));
    const ds = await until(async () => {
      const j = await (await fetch(`${sy.url}/admin/decisions?limit=20`, { headers: { authorization: `Bearer ${ADMIN_KEY}` } })).json();
      const found = ids.map((id) => j.data.find((d) => d.request_id === id));
      return found.every(Boolean) && found;
    }, 'dave\'s decisions');
    for (const d of ds) assert.equal(d.cost_usd, 0, `${d.status} cost`);
    const info = await keyInfo('dave');
    assert.deepEqual(info.spend, { today_usd: 0, month_usd: 0, total_usd: 0 });
    assert.equal(info.requests, 3);  // admitted: the 404, the 422 and the 502; the 400 never got to the key
    const m = await until(async () => {
      const x = parseExposition(await (await fetch(`${sy.url}/metrics`, { headers: { authorization: `Bearer ${ADMIN_KEY}` } })).text());
      return x.sum('switchyard_key_requests_total', { key: 'dave' }) === 3 && x;
    }, 'dave\'s three requests in /metrics');
    assert.equal(m.get('switchyard_key_spend_usd_total', { key: 'dave' }), 0);
    assert.equal(m.get('switchyard_key_requests_total', { key: 'dave', code: '4xx' }), 2);
    assert.equal(m.get('switchyard_key_requests_total', { key: 'dave', code: '5xx' }), 1);
    near(m.sum('switchyard_cost_usd_total'), m0.sum('switchyard_cost_usd_total'), 'total cost unchanged', 1e-15);
  });

  test('/admin/keys: every key\'s spend equals the sum of the costs its answers reported', async () => {
    const keys = await until(async () => {
      const r = await fetch(`${sy.url}/admin/keys`, { headers: { authorization: `Bearer ${ADMIN_KEY}` } });
      const data = (await r.json()).data;
      const done = data.every((k) => Math.abs(k.spend.total_usd - (costs[k.name] ?? []).reduce((a, b) => a + b, 0)) < 1e-8);
      return done ? data : null;
    }, 'every key\'s spend to match its reported costs', 3000).catch(async (e) => {
      const r = await fetch(`${sy.url}/admin/keys`, { headers: { authorization: `Bearer ${ADMIN_KEY}` } });
      throw new Error(`${e.message}\nreported: ${JSON.stringify(costs)}\n/admin/keys: ${await r.text()}`);
    });
    assert.deepEqual(keys.map((k) => k.name), Object.keys(K));
    for (const k of keys) {
      const reported = (costs[k.name] ?? []).reduce((a, b) => a + b, 0);
      near(k.spend.total_usd, reported, `${k.name} total`, 1e-8);
      near(k.spend.today_usd, reported, `${k.name} today`, 1e-8);
    }
    assert.ok(costs.spender.length === 3 && costs.crowd.length === 4 && costs.alice.length >= 2);
  });
});

// --- admin access ----------------------------------------------------------------------------------

describe('admin access', () => {
  const GATEWAY = 'sk-gateway-admin-test-01';
  let up;
  before(async () => { up = await startFakeUpstream(); });
  after(async () => { await up?.close(); });
  const base = () => `server: {listen: "127.0.0.1:0", threads: 2}
providers:
  - {name: up, type: openai, base_url: "${up.url}/v1", api_key: "${UPSTREAM_KEY}"}
models:
  - {name: small, deployments: [${deployments('small')}]}
auth:
  required: true
  keys: [{name: gw, key: "${GATEWAY}"}]
`;
  const ADMIN_PATHS = ['/metrics', '/admin/deployments', '/admin/keys', '/admin/decisions', '/admin/usage', '/admin/config'];
  const get = (sy, p, key, header = 'authorization') =>
    fetch(sy.url + p, { headers: key === undefined ? {} : { [header]: header === 'authorization' ? `Bearer ${key}` : key } });

  test('without admin keys the admin API is 403 admin_disabled, whatever key; /ui and health stay open', async () => {
    const sy = await startSwitchyard(base());
    try {
      for (const p of ADMIN_PATHS) {
        for (const key of [undefined, GATEWAY, 'admin-whatever-key']) {
          const r = await get(sy, p, key);
          assert.equal(r.status, 403, `${p} with ${key}`);
          const j = await r.json();
          assert.deepEqual([j.error.code, j.error.type], ['admin_disabled', 'permission_error'], p);
        }
      }
      const reload = await fetch(`${sy.url}/admin/reload`, { method: 'POST', headers: { authorization: `Bearer ${GATEWAY}` } });
      assert.equal(reload.status, 403);
      assert.equal((await reload.json()).error.code, 'admin_disabled');
      assert.equal((await fetch(`${sy.url}/ui`)).status, 200);
      for (const p of ['/healthz', '/readyz']) assert.equal((await fetch(sy.url + p)).status, 200, p);
      // The gateway key still works for inference.
      assert.equal((await postJson(`${sy.url}/v1/chat/completions`, { model: 'small', messages: [{ role: 'user', content: 'hi' }] }, { authorization: `Bearer ${GATEWAY}` })).status, 200);
    } finally {
      await sy.stop();
    }
  });

  test('with admin keys: 401 invalid_admin_key without one, with a gateway key or a wrong key', async () => {
    const hashedAdmin = 'admin-hashed-secret-02';
    const sy = await startSwitchyard(base() + `admin:
  keys:
    - {name: ops, key: "${ADMIN_KEY}"}
    - {name: ops2, key_sha256: "${crypto.createHash('sha256').update(hashedAdmin).digest('hex')}"}
`);
    try {
      for (const p of [...ADMIN_PATHS, '/admin/decisions?limit=5']) {
        for (const key of [undefined, GATEWAY, ADMIN_KEY + 'x', ADMIN_KEY.slice(0, -1), '']) {
          const r = await get(sy, p, key);
          assert.equal(r.status, 401, `${p} with ${JSON.stringify(key)}`);
          const j = await r.json();
          assert.deepEqual([j.error.code, j.error.type], ['invalid_admin_key', 'authentication_error'], p);
        }
        assert.equal((await get(sy, p, ADMIN_KEY)).status, 200, `${p} with the admin key`);
        assert.equal((await get(sy, p, hashedAdmin)).status, 200, `${p} with the hashed admin key`);
        assert.equal((await get(sy, p, ADMIN_KEY, 'x-api-key')).status, 200, `${p} with the admin key as x-api-key`);
      }
      const reload = await fetch(`${sy.url}/admin/reload`, { method: 'POST', headers: { authorization: `Bearer ${GATEWAY}` } });
      assert.equal(reload.status, 401);
      assert.equal((await reload.json()).error.code, 'invalid_admin_key');
      // /ui and health need no key; an unknown /admin path is still an admin path.
      assert.equal((await fetch(`${sy.url}/ui`)).status, 200);
      assert.equal((await fetch(`${sy.url}/healthz`)).status, 200);
      assert.equal((await get(sy, '/admin/nothing-here')).status, 401);
      assert.equal((await get(sy, '/admin/nothing-here', ADMIN_KEY)).status, 404);
      // Only GET on the read endpoints.
      const post = await fetch(`${sy.url}/admin/keys`, { method: 'POST', headers: { authorization: `Bearer ${ADMIN_KEY}` } });
      assert.equal(post.status, 405);
      assert.equal(post.headers.get('allow'), 'GET');
    } finally {
      await sy.stop();
    }
  });

  test('admin.open: every admin endpoint answers without a key', async () => {
    const sy = await startSwitchyard(base() + 'admin: {open: true}\n');
    try {
      assert.equal((await postJson(`${sy.url}/v1/chat/completions`, { model: 'small', messages: [{ role: 'user', content: 'hi' }] }, { authorization: `Bearer ${GATEWAY}` })).status, 200);
      for (const p of ADMIN_PATHS) assert.equal((await get(sy, p)).status, 200, p);
      await until(async () => parseExposition(await (await get(sy, '/metrics')).text()).get('switchyard_key_requests_total', { key: 'gw', code: '2xx' }) === 1, 'gw counted in the open /metrics');
      const reload = await fetch(`${sy.url}/admin/reload`, { method: 'POST' });
      assert.equal(reload.status, 200);
      assert.deepEqual(await reload.json(), { status: 'reloaded', generation: 2 });
      // Inference still needs the gateway key: admin.open opens the admin API only.
      assert.equal((await postJson(`${sy.url}/v1/chat/completions`, { model: 'small', messages: [{ role: 'user', content: 'hi' }] })).status, 401);
    } finally {
      await sy.stop();
    }
  });
});

// --- /admin/config ---------------------------------------------------------------------------------

test('/admin/config shows the running config with every secret "[redacted]", and no admin answer holds a secret', async () => {
  const secrets = {
    upstream: 'sk-upstream-from-env-77aa',
    header: 'hdr-tenant-secret-value-88bb',
    gateway: 'sk-gateway-config-test-99cc',
    admin: 'admin-config-test-secret-00dd',
    hashedKey: 'sk-hashed-config-test-11ee',
  };
  const digest = crypto.createHash('sha256').update(secrets.hashedKey).digest('hex');
  const up = await startFakeUpstream();
  const sy = await startSwitchyard(`server: {listen: "127.0.0.1:0", threads: 2}
providers:
  - name: up
    type: openai
    base_url: "${up.url}/v1"
    api_key: \${OPS_TEST_UPSTREAM_KEY}
    headers: {x-tenant-secret: "${secrets.header}", x-plain: "also-hidden"}
models:
  - {name: small, deployments: [${deployments('small')}]}
auth:
  required: true
  keys:
    - {name: gw, key: "${secrets.gateway}", tier: pro, metadata: {team: search}}
    - {name: hashed, key_sha256: "${digest}"}
admin:
  keys: [{name: ops, key: "${secrets.admin}"}]
`, { env: { OPS_TEST_UPSTREAM_KEY: secrets.upstream } });
  try {
    // Some traffic, so that every admin answer has content; the upstream got the key from the environment.
    const r = await postJson(`${sy.url}/v1/chat/completions`, { model: 'small', messages: [{ role: 'user', content: 'hi' }] }, { authorization: `Bearer ${secrets.gateway}` });
    assert.equal(r.status, 200, r.text);
    assert.equal(up.requests.at(-1).headers.authorization, `Bearer ${secrets.upstream}`);
    assert.equal(up.requests.at(-1).headers['x-tenant-secret'], secrets.header);
    const res = await fetch(`${sy.url}/admin/config`, { headers: { authorization: `Bearer ${secrets.admin}` } });
    assert.equal(res.status, 200);
    const text = await res.text();
    const j = JSON.parse(text);
    assert.equal(j.source, sy.configFile);
    assert.equal(j.generation, 1);
    const c = j.config;
    assert.equal(c.providers[0].api_key, '[redacted]');
    assert.deepEqual(c.providers[0].headers, { 'x-tenant-secret': '[redacted]', 'x-plain': '[redacted]' });
    assert.equal(c.providers[0].base_url, `${up.url}/v1`);
    assert.deepEqual(c.auth.keys[0], { name: 'gw', key: '[redacted]', tier: 'pro', metadata: { team: 'search' } });
    assert.deepEqual(c.auth.keys[1], { name: 'hashed', key_sha256: '[redacted]' });
    assert.deepEqual(c.admin.keys, [{ name: 'ops', key: '[redacted]' }]);
    assert.equal(c.models[0].name, 'small');
    // No admin answer holds any secret, nor the digest, nor the header value.
    for (const p of ['/admin/config', '/admin/keys', '/admin/deployments', '/admin/decisions', '/admin/usage', '/metrics']) {
      const body = await (await fetch(sy.url + p, { headers: { authorization: `Bearer ${secrets.admin}` } })).text();
      for (const [name, s] of Object.entries({ ...secrets, digest, plain: 'also-hidden' })) {
        assert.ok(!body.includes(s), `${p} shows the ${name} secret`);
      }
    }
  } finally {
    await sy.stop();
    await up.close();
  }
});

// --- reload ----------------------------------------------------------------------------------------

/**
 * One request on a new connection, closed after it: {status, headers, text, json}. The reload tests
 * use it because a connection that sat idle across a reload answers its next request with the old
 * config (the keep-alive test below).
 */
function fresh(url, { method = 'GET', headers = {}, body } = {}) {
  return new Promise((resolve, reject) => {
    const data = body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body);
    const req = http.request(url, { method, agent: false, headers: { connection: 'close', ...(data ? { 'content-type': 'application/json' } : {}), ...headers } }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d) => { text += d; });
      res.on('end', () => {
        let json;
        try { json = JSON.parse(text); } catch { json = undefined; }
        resolve({ status: res.statusCode, headers: new Headers(Object.entries(res.headers).map(([k, v]) => [k, String(v)])), text, json });
      });
    });
    req.on('error', reject);
    req.end(data);
  });
}

describe('POST /admin/reload and the file watcher', () => {
  const ALICE = 'sk-alice-reload-0001';
  let up, sy;
  const config = ({ extra = false, daily = 100, later = false } = {}) => `server: {listen: "127.0.0.1:0", threads: 2}
providers:
  - {name: up, type: openai, base_url: "${up.url}/v1", api_key: "${UPSTREAM_KEY}"}
models:
  - {name: small, deployments: [${deployments('small')}]}
${extra ? `  - {name: extra, deployments: [${deployments('extra')}]}\n` : ''}${later ? `  - {name: later, deployments: [${deployments('small')}]}\n` : ''}auth:
  required: true
  keys:
    - {name: alice, key: "${ALICE}", budget: {daily_usd: ${daily}}}
admin:
  keys: [{name: ops, key: "${ADMIN_KEY}"}]
`;
  const admin = (p, method = 'GET') => fresh(sy.url + p, { method, headers: { authorization: `Bearer ${ADMIN_KEY}` } });
  const metrics = async () => parseExposition((await admin('/metrics')).text);
  const reloads = async () => {
    const m = await metrics();
    return { ok: m.get('switchyard_config_reloads_total', { result: 'ok' }), failed: m.get('switchyard_config_reloads_total', { result: 'failed' }) };
  };
  const alice = async () => (await admin('/admin/keys')).json.data.find((k) => k.name === 'alice');
  const chat = (model) => fresh(`${sy.url}/v1/chat/completions`, { method: 'POST', body: { model, messages: [{ role: 'user', content: 'hi' }] }, headers: { authorization: `Bearer ${ALICE}` } });
  /** Replaces the config file the way editors save: a new file renamed over it (never half-written). */
  const edit = (text) => {
    const tmp = `${sy.configFile}.tmp-${process.pid}`;
    fs.writeFileSync(tmp, text);
    fs.renameSync(tmp, sy.configFile);
  };

  before(async () => {
    up = await startFakeUpstream();
    sy = await startSwitchyard(config());
  });
  after(async () => {
    await sy?.stop();
    await up?.close();
  });

  test('GET is 405; without the admin key or with a gateway key it is 401', async () => {
    const r = await admin('/admin/reload');
    assert.equal(r.status, 405);
    assert.equal(r.headers.get('allow'), 'POST');
    assert.equal(r.json.error.code, 'method_not_allowed');
    for (const headers of [{}, { authorization: `Bearer ${ALICE}` }]) {
      const x = await fresh(`${sy.url}/admin/reload`, { method: 'POST', headers });
      assert.equal(x.status, 401);
      assert.equal(x.json.error.code, 'invalid_admin_key');
    }
    assert.deepEqual(await reloads(), { ok: 0, failed: 0 });
  });

  test('an edit applies: new model answers, limits change, the key\'s spend and the counters survive', async () => {
    const first = await chat('small');
    assert.equal(first.status, 200, first.text);
    assert.equal((await chat('extra')).status, 404);
    await until(async () => Math.abs((await alice()).spend.total_usd - costOf('small')) < 1e-12, 'alice spend settled');

    // Saving the file reloads it by itself within about a second (the watcher); POST reloads it now.
    // Both read the same file, so the end state is the same whichever comes first: exactly two
    // successful reloads, generation 3. The POST answers with the generation it published (2, or 3 when
    // the watcher was first).
    edit(config({ extra: true, daily: 50 }));
    const r = await admin('/admin/reload', 'POST');
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.status, 'reloaded');
    assert.ok(r.json.generation === 2 || r.json.generation === 3, `generation ${r.json.generation}`);
    assert.deepEqual(Object.keys(r.json), ['status', 'generation']);
    // The new config serves as soon as the POST answered.
    const extra = await chat('extra');
    assert.equal(extra.status, 200, extra.text);
    assert.equal(extra.headers.get('x-switchyard-deployment'), 'extra/up/0');
    near(Number(extra.headers.get('x-switchyard-cost-usd')), costOf('extra'), 'extra cost', 1e-8);
    assert.equal(up.requests.at(-1).json.model, 'extra-up');

    await until(async () => (await reloads()).ok === 2, 'the watcher\'s reload of the edit (ok = 2)');
    const cfg = (await admin('/admin/config')).json;
    assert.equal(cfg.generation, 3);
    assert.deepEqual(cfg.config.models.map((m) => m.name), ['small', 'extra']);

    // Spend survives (by key name), the new budget applies to it; counters keep counting.
    const k = await until(async () => {
      const x = await alice();
      return Math.abs(x.spend.total_usd - (costOf('small') + costOf('extra'))) < 1e-12 && x;
    }, 'alice spend after the reload');
    assert.equal(k.budget.daily_usd, 50);
    near(k.spend.today_usd, costOf('small') + costOf('extra'), 'today');
    assert.equal(k.requests, 3);  // 2 before the reload (the 404 was admitted too), 1 after
    const m = await metrics();
    near(m.get('switchyard_key_spend_usd_total', { key: 'alice' }), costOf('small') + costOf('extra'), 'key spend metric', 1e-12);
    near(m.get('switchyard_key_budget_remaining_usd', { key: 'alice', period: 'day' }), 50 - costOf('small') - costOf('extra'), 'budget left', 1e-9);
    assert.equal(m.get('switchyard_requests_total', { model: 'small', deployment: 'small/up/0', code: '2xx' }), 1);
    assert.equal(m.get('switchyard_requests_total', { model: 'extra', deployment: 'extra/up/0', code: '2xx' }), 1);
    assert.equal(m.get('switchyard_key_requests_total', { key: 'alice', code: '2xx' }), 2);
  });

  test('an invalid edit is a 400 invalid_config and the running config keeps serving', async () => {
    const before = await reloads();
    edit(config({ extra: true }).replace('provider: up, model: extra-up', 'provider: nowhere, model: extra-up'));
    const r = await admin('/admin/reload', 'POST');
    assert.equal(r.status, 400, r.text);
    assert.deepEqual([r.json.error.code, r.json.error.type], ['invalid_config', 'invalid_request_error']);
    assert.match(r.json.error.message, /running one stays/);
    assert.match(r.json.error.message, /nowhere/);
    // The watcher fails on the same file: two failed reloads, no successful one, generation unchanged.
    await until(async () => (await reloads()).failed === before.failed + 2, 'the watcher\'s failed reload');
    assert.deepEqual(await reloads(), { ok: before.ok, failed: before.failed + 2 });
    assert.deepEqual(await reloads(), { ok: 2, failed: 2 });
    const cfg = (await admin('/admin/config')).json;
    assert.equal(cfg.generation, 3);
    assert.equal(cfg.config.models[1].deployments[0].provider, 'up');
    for (const model of ['small', 'extra']) {
      const x = await chat(model);
      assert.equal(x.status, 200, `${model}: ${x.text}`);
    }
  });

  test('a keep-alive connection idle across a reload serves its next request with the new config', async () => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    const onAgent = (model) => new Promise((resolve, reject) => {
      const req = http.request(`${sy.url}/v1/chat/completions`, { method: 'POST', agent, headers: { authorization: `Bearer ${ALICE}`, 'content-type': 'application/json' } }, (res) => {
        let text = '';
        res.on('data', (d) => { text += d; });
        res.on('end', () => resolve({ status: res.statusCode, text, socket: res.socket }));
      });
      req.on('error', reject);
      req.end(JSON.stringify({ model, messages: [{ role: 'user', content: 'hi' }] }));
    });
    let gen = Infinity;
    try {
      const before = await onAgent('small');
      assert.equal(before.status, 200, before.text);
      assert.equal((await onAgent('later')).status, 404);
      gen = (await admin('/admin/config')).json.generation;
      edit(config({ extra: true, later: true }));
      const r = await admin('/admin/reload', 'POST');
      assert.equal(r.status, 200, r.text);
      assert.ok(r.json.generation > gen);
      // Regression: the session once took its config snapshot before waiting for the next request, so
      // the first request on a keep-alive connection that sat idle through a reload ran on the old
      // config (a 404 for the model just added; a removed key working once more).
      const after = await onAgent('later');
      assert.equal(after.status, 200, `first request on the idle connection after the reload: ${after.text}`);
      assert.equal((await onAgent('later')).status, 200);
    } finally {
      agent.destroy();
      // Leave no reload behind: the watcher sees this edit too.
      await until(async () => (await admin('/admin/config')).json.generation >= gen + 2, 'the watcher\'s reload').catch(() => {});
    }
  });
});

// --- streams ---------------------------------------------------------------------------------------

describe('streams: the cost of a streamed request', () => {
  const ALICE = 'sk-alice-streams-0001';
  let up, sy, dir, logFile;
  const results = [];  // {name, r, model, cost, usageShown}

  const admin = async (p) => (await fetch(sy.url + p, { headers: { authorization: `Bearer ${ADMIN_KEY}` } })).json();
  const comment = (text) => {
    const m = /\n\n: switchyard-usage (\{[^\n]*\})\n\n$/.exec(text);
    assert.ok(m, `no trailing switchyard-usage comment in:\n${text}`);
    return JSON.parse(m[1]);
  };

  before(async () => {
    up = await startFakeUpstream();
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'switchyard-ops-streams-'));
    logFile = path.join(dir, 'decisions.jsonl');
    sy = await startSwitchyard(`server: {listen: "127.0.0.1:0", threads: 2}
providers:
  - {name: up, type: openai, base_url: "${up.url}/v1", api_key: "${UPSTREAM_KEY}"}
models:
  - {name: small, deployments: [${deployments('small')}]}
  - {name: big, deployments: [${deployments('big')}]}
decision_log: {path: "${logFile}"}
auth:
  required: true
  keys: [{name: alice, key: "${ALICE}"}]
admin:
  keys: [{name: ops, key: "${ADMIN_KEY}"}]
`);
    const send = async (name, model, extra) => {
      const r = await postJson(`${sy.url}/v1/chat/completions`, { model, stream: true, messages: [{ role: 'user', content: name }], ...extra }, { authorization: `Bearer ${ALICE}` });
      assert.equal(r.status, 200, r.text);
      results.push({ name, r, model, cost: costOf(model), upstream: up.requests.at(-1) });
    };
    await send('asked for usage', 'small', { stream_options: { include_usage: true } });
    await send('did not ask', 'big', {});
    await send('said no', 'small', { stream_options: { include_usage: false } });
  });
  after(async () => {
    await sy?.stop();
    await up?.close();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  test('the upstream is always asked for usage; the client sees the usage chunk only if it asked', () => {
    for (const { name, r, upstream } of results) {
      assert.equal(upstream.json.stream_options?.include_usage, true, `${name}: upstream stream_options ${JSON.stringify(upstream.json.stream_options)}`);
      assert.match(r.headers.get('content-type'), /^text\/event-stream/);
      const data = sseData(r.text);
      assert.equal(data.at(-1), '[DONE]', name);
      const chunks = data.slice(0, -1).map((d) => JSON.parse(d));
      assert.equal(chunks.map((c) => c.choices[0]?.delta?.content ?? '').join(''), 'streamed answer', name);
      const usage = chunks.filter((c) => c.usage);
      if (name === 'asked for usage') {
        assert.equal(usage.length, 1, `${name}: usage chunks`);
        assert.deepEqual(usage[0].choices, []);
        assert.deepEqual([usage[0].usage.prompt_tokens, usage[0].usage.completion_tokens], [1000, 500]);
      } else {
        assert.deepEqual(usage, [], `${name}: the client got a usage chunk it did not ask for`);
        assert.ok(chunks.every((c) => c.choices.length > 0), `${name}: a chunk with empty choices`);
      }
    }
  });

  test('the stream ends with a `: switchyard-usage` comment after [DONE], with the cost and tokens', () => {
    for (const { name, r, cost } of results) {
      assert.ok(r.text.indexOf('data: [DONE]') < r.text.indexOf(': switchyard-usage'), name);
      const c = comment(r.text);
      assert.deepEqual(Object.keys(c), ['cost_usd', 'prompt_tokens', 'completion_tokens', 'cached_tokens']);
      near(c.cost_usd, cost, `${name} cost`, 1e-8);
      assert.deepEqual([c.prompt_tokens, c.completion_tokens, c.cached_tokens], [1000, 500, 0], name);
      assert.equal(r.headers.get('x-switchyard-cost-usd'), null, `${name}: a stream's cost cannot be a header`);
    }
  });

  test('the cost is in /admin/decisions, the decision log, metrics and the key\'s spend', async () => {
    const total = results.reduce((a, x) => a + x.cost, 0);
    const decisions = await until(async () => {
      const d = (await admin('/admin/decisions')).data;
      return d.length === results.length && d;
    }, 'three decisions');
    assert.deepEqual(decisions.map((d) => d.request_id), results.map((x) => x.r.headers.get('x-request-id')).reverse());
    for (const d of decisions) {
      const x = results.find((y) => y.r.headers.get('x-request-id') === d.request_id);
      assert.deepEqual([d.stream, d.status, d.model, d.key, d.prompt_tokens, d.completion_tokens], [true, 200, x.model, 'alice', 1000, 500], x.name);
      near(d.cost_usd, x.cost, `${x.name} decision cost`, 1e-12);
    }
    const lines = (await until(() => {
      const t = fs.existsSync(logFile) ? fs.readFileSync(logFile, 'utf8') : '';
      return t.split('\n').filter(Boolean).length === results.length && t;
    }, 'three lines in the decision log')).split('\n').filter(Boolean).map((l) => JSON.parse(l));
    for (const [i, l] of lines.entries()) {
      const x = results[i];
      assert.equal(l.request_id, x.r.headers.get('x-request-id'), `log line ${i}`);
      assert.deepEqual([l.stream, l.status, l.key, l.model, l.prompt_tokens, l.completion_tokens], [true, 200, 'alice', x.model, 1000, 500]);
      near(l.cost_usd, x.cost, `${x.name} logged cost`, 1e-12);
      assert.ok(!('prompt' in l) && /^[0-9a-f]{64}$/.test(l.prompt_sha256), 'the prompt is hashed by default');
    }
    const m = parseExposition(await (await fetch(`${sy.url}/metrics`, { headers: { authorization: `Bearer ${ADMIN_KEY}` } })).text());
    near(m.get('switchyard_cost_usd_total', { model: 'small', deployment: 'small/up/0' }), 2 * costOf('small'), 'small cost', 1e-12);
    near(m.get('switchyard_cost_usd_total', { model: 'big', deployment: 'big/up/0' }), costOf('big'), 'big cost', 1e-12);
    near(m.get('switchyard_key_spend_usd_total', { key: 'alice' }), total, 'key spend metric', 1e-12);
    assert.equal(m.get('switchyard_tokens_total', { model: 'small', deployment: 'small/up/0', type: 'output' }), 1000);
    assert.equal(m.get('gen_ai_server_time_to_first_token_seconds_count', { gen_ai_request_model: 'small', gen_ai_provider_name: 'openai', deployment: 'small/up/0' }), 2);
    assert.equal(m.get('gen_ai_server_time_to_first_token_seconds_count', { gen_ai_request_model: 'big', gen_ai_provider_name: 'openai', deployment: 'big/up/0' }), 1);
    const k = (await admin('/admin/keys')).data[0];
    near(k.spend.total_usd, total, 'alice spend', 1e-12);
    near(k.spend.total_usd, results.reduce((a, x) => a + comment(x.r.text).cost_usd, 0), 'alice spend = the comments', 1e-8);
    const minutes = (await admin('/admin/usage')).minutes;
    near(minutes.reduce((a, x) => a + x.cost_usd, 0), total, 'usage cost', 1e-12);
  });

  test('/v1/messages streams end with the same comment and count the same way', async () => {
    const r = await postJson(`${sy.url}/v1/messages`, { model: 'small', max_tokens: 64, stream: true, messages: [{ role: 'user', content: 'anthropic' }] }, { authorization: `Bearer ${ALICE}` });
    assert.equal(r.status, 200, r.text);
    assert.equal(up.requests.at(-1).json.stream_options?.include_usage, true);
    assert.match(r.text, /event: message_stop\ndata: \{"type":"message_stop"\}\n\n: switchyard-usage /);
    const c = comment(r.text);
    near(c.cost_usd, costOf('small'), 'anthropic stream cost', 1e-8);
    const id = r.headers.get('x-request-id');
    const d = await until(async () => (await admin('/admin/decisions?limit=1')).data.find((x) => x.request_id === id), 'the decision');
    near(d.cost_usd, costOf('small'), 'decision cost', 1e-12);
  });
});
