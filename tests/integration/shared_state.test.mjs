// Limits shared across replicas through Redis (`state:` in the config), tested with a real redis-server
// and two real Switchyard processes on 127.0.0.1:
//   - combined key and deployment rpm limits under concurrent load on both replicas (±5 %; exact when
//     the limit is too small for a lease), as counted by the clients and as held in Redis;
//   - a 429 cooldown and an open breaker learned by one replica are obeyed by the other (pub/sub), also
//     after Redis restarted;
//   - Redis killed mid-run: each on_redis_error policy (rate limits open/closed, budgets open/closed) for
//     key and deployment limits, the shared_state metrics, reconnection after a restart on the same port,
//     and a Redis that stalls (DEBUG SLEEP) under load without any request hanging;
//   - a replica SIGKILLed under load loses nothing the other replica accepted;
//   - a daily budget, a key tpm and a deployment tpm used on both replicas: each replica refuses once the
//     combined use reaches the limit.
// Every prefix is unique per test, so tests never share a window. Nothing sleeps to wait for something:
// conditions are polled with a deadline. redis-server is a test dependency (scripts/install-deps.sh): a
// machine without it fails here rather than skipping the acceptance tests of shared state.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { after, afterEach, before, describe, test } from 'node:test';

import { completion, startSwitchyard, startUpstream, until as pollUntil } from './lib/harness.mjs';
import { parseExposition } from './lib/metrics.mjs';
import { REDIS_BIN, redisCommand, startRedis } from './lib/redis.mjs';

const skip = false;
test('redis-server is installed', () => {
  assert.ok(fs.existsSync(REDIS_BIN), `${REDIS_BIN} is missing: run scripts/install-deps.sh (package redis-server)`);
});
const RUN = `${process.pid}-${Date.now()}`;
let prefixes = 0;
const uniquePrefix = (what) => `sytest-${RUN}-${++prefixes}-${what}:`;

// ---- small utilities ----------------------------------------------------------------------------

/** harness's until, with this file's 5 s default. */
const until = (fn, what, ms = 5000) => pollUntil(fn, what, ms);

/** Runs `total` jobs `job(i)` on `concurrency` workers; resolves with the results in order. */
async function load(total, concurrency, job) {
  const results = new Array(total);
  let next = 0;
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (next < total) {
      const i = next++;
      results[i] = await job(i);
    }
  }));
  return results;
}

/**
 * POSTs a chat completion; resolves {status, json, headers, ms}, or {error, ms} when the connection
 * failed. Never hangs: the request is aborted after `timeoutMs` (reported as error.name TimeoutError).
 */
async function chat(sy, { key, model = 'm', timeoutMs = 10000, extra = {} } = {}) {
  const t0 = performance.now();
  try {
    const res = await fetch(`${sy.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(key ? { authorization: `Bearer ${key}` } : {}) },
      body: JSON.stringify({ model, messages: [{ role: 'user', content: 'hello there' }], ...extra }),
      signal: AbortSignal.timeout(timeoutMs),
    });
    const text = await res.text();
    let json;
    try { json = JSON.parse(text); } catch { json = undefined; }
    return { status: res.status, json, text, headers: res.headers, ms: performance.now() - t0 };
  } catch (error) {
    return { error, ms: performance.now() - t0 };
  }
}

const countBy = (results, f) => results.reduce((m, r) => { const k = f(r); m[k] = (m[k] ?? 0) + 1; return m; }, {});

async function metrics(sy) {
  const r = await fetch(`${sy.url}/metrics`, { signal: AbortSignal.timeout(5000) });
  assert.equal(r.status, 200);
  return parseExposition(await r.text());
}
const sharedUp = async (sy) => (await metrics(sy)).get('switchyard_shared_state_up');
const unavailable = async (sy, policy) => (await metrics(sy)).get('switchyard_shared_state_unavailable_total', { policy });

async function deployment(sy, id) {
  const r = await fetch(`${sy.url}/admin/deployments`, { signal: AbortSignal.timeout(5000) });
  assert.equal(r.status, 200);
  const d = (await r.json()).data.find((x) => x.id === id);
  assert.ok(d, `no deployment ${id}`);
  return d;
}

/** The total of a shared window (a hash of per-second counts) as Redis holds it. */
const windowSum = async (redis, key) => (await redisCommand(redis.port, 'HVALS', key)).reduce((a, v) => a + Number(v), 0);
/** How many connections are subscribed to `channel`. */
const subscribers = async (port, channel) => (await redisCommand(port, 'PUBSUB', 'NUMSUB', channel))[1];

// ---- fixtures ---------------------------------------------------------------------------------

const started = [];  // replicas, upstreams and redis servers, stopped in reverse order
async function stopAll() {
  const errors = [];
  for (const s of started.splice(0).reverse()) {
    try { await (s.close ? s.close() : s.stop()); } catch (e) { errors.push(e); }
  }
  if (errors.length) throw errors[0];
}
after(stopAll);

function stateSection(redis, prefix, { policy = '', lease } = {}) {
  return `state:
  redis: {address: "${redis.address}", timeout: 100ms}
  prefix: "${prefix}"
${policy ? `  on_redis_error: {${policy}}\n` : ''}${lease !== undefined ? `  lease: ${lease}\n` : ''}`;
}

/** Two replicas of `yaml` (each may get its own extra text) sharing Redis; resolves once both are up on it. */
async function startReplicas(yaml, extra = ['', '']) {
  const replicas = [];
  for (const x of extra) {
    const sy = await startSwitchyard(`${yaml}${x}`);
    started.push(sy);
    replicas.push(sy);
  }
  for (const sy of replicas) await until(async () => (await sharedUp(sy)) === 1, `shared state up on :${sy.port}`);
  return replicas;
}

const COMMON = `server: {listen: "127.0.0.1:0", threads: 2}
logging: {level: info, access_log: false}
admin: {open: true}
`;

/** The built-in mock provider: no network, so the load is on the replicas and Redis, not on node. */
const MOCK_MODELS = (latency = '0ms', deployment = '') => `providers:
  - {name: mock, type: mock, mock: {latency: ${latency}, reply: "ok"}}
models:
  - {name: m, deployments: [{provider: mock, model: mock-m${deployment}}]}
`;

// ---- 1. combined rate limits under concurrent load --------------------------------------------------

describe('rate limits shared by two replicas under concurrent load', { skip, timeout: 30000 }, () => {
  let redis;
  before(async () => {
    redis = await startRedis();
    started.push(redis);
  });
  after(stopAll);

  /** Sends `total` requests with `concurrency` workers alternating between the replicas. */
  async function hammer(replicas, total, concurrency, key) {
    const results = await load(total, concurrency, async (i) => ({ replica: i % 2, ...(await chat(replicas[i % 2], { key })) }));
    for (const r of results) assert.ok(!r.error, `a request failed: ${r.error}`);
    return results;
  }

  test('a key rpm of 200 holds within ±5 % over both replicas (default lease)', async () => {
    const prefix = uniquePrefix('key200');
    const replicas = await startReplicas(COMMON + stateSection(redis, prefix) + MOCK_MODELS() + `auth:
  required: true
  keys: [{name: team, key: sk-team-200, rpm: 200}]
`);
    const results = await hammer(replicas, 400, 32, 'sk-team-200');
    const ok = results.filter((r) => r.status === 200);
    const refused = results.filter((r) => r.status !== 200);
    console.log(`key rpm 200: admitted ${ok.length} of 400 (replica 1: ${ok.filter((r) => r.replica === 0).length}, replica 2: ${ok.filter((r) => r.replica === 1).length})`);
    assert.ok(ok.length >= 190 && ok.length <= 210, `admitted ${ok.length}, limit 200`);
    assert.ok(ok.some((r) => r.replica === 0) && ok.some((r) => r.replica === 1), 'both replicas admitted some');
    for (const r of refused) {
      assert.equal(r.status, 429, r.text);
      assert.equal(r.json?.error?.code, 'rate_limit_exceeded', r.text);
      assert.ok(Number(r.headers.get('retry-after')) >= 1, 'a 429 says when to retry');
    }
    // Redis holds what was granted: the admitted requests plus leases not used up, never over the limit.
    const granted = await windowSum(redis, `${prefix}w:key:team:rpm`);
    assert.ok(granted >= ok.length && granted <= 200, `window ${granted}, admitted ${ok.length}`);
    const m = await Promise.all(replicas.map(metrics));
    assert.ok(m.every((x) => x.get('switchyard_shared_state_commands_total') > 0));
    assert.ok(m.every((x) => x.get('switchyard_shared_state_unavailable_total', { policy: 'open' }) === 0));
  });

  test('a key rpm of 10 (too small for a lease) is exact', async () => {
    const replicas = await startReplicas(COMMON + stateSection(redis, uniquePrefix('key10')) + MOCK_MODELS() + `auth:
  required: true
  keys: [{name: small, key: sk-small-10, rpm: 10}]
`);
    const results = await hammer(replicas, 40, 16, 'sk-small-10');
    const ok = results.filter((r) => r.status === 200);
    console.log(`key rpm 10: admitted ${ok.length} of 40`);
    assert.equal(ok.length, 10);
    for (const r of results.filter((x) => x.status !== 200)) {
      assert.equal(r.status, 429, r.text);
      assert.equal(r.json?.error?.code, 'rate_limit_exceeded', r.text);
    }
  });

  test('a deployment rpm of 100 holds within ±5 % over both replicas', async () => {
    const replicas = await startReplicas(COMMON + stateSection(redis, uniquePrefix('dep100')) + MOCK_MODELS('0ms', ', rpm: 100'));
    const results = await hammer(replicas, 200, 32);
    const ok = results.filter((r) => r.status === 200);
    console.log(`deployment rpm 100: admitted ${ok.length} of 200 (replica 1: ${ok.filter((r) => r.replica === 0).length}, replica 2: ${ok.filter((r) => r.replica === 1).length})`);
    assert.ok(ok.length >= 95 && ok.length <= 105, `admitted ${ok.length}, limit 100`);
    const refused = results.filter((r) => r.status !== 200);
    for (const r of refused) {
      // The only deployment is at its shared limit: the dispatcher's "every deployment is at its rate limit".
      assert.equal(r.status, 429, r.text);
      assert.equal(r.json?.error?.code, 'rate_limit_exceeded', r.text);
      assert.match(r.json.error.message, /at its rate limit/);
      assert.match(r.headers.get('x-switchyard-skipped') ?? '', /m\/mock\/0=shared_limit/);
      assert.ok(Number(r.headers.get('retry-after')) >= 1);
    }
  });
});

// ---- 2. health events -------------------------------------------------------------------------------

describe('deployment health learned by one replica is obeyed by the other', { skip, timeout: 30000 }, () => {
  afterEach(stopAll);
  const ok = (res, text) => { res.writeHead(200, { 'content-type': 'application/json' }); res.end(JSON.stringify(completion(text))); };
  const fail = (res, status, headers = {}) => {
    res.writeHead(status, { 'content-type': 'application/json', ...headers });
    res.end(JSON.stringify({ error: { message: `failure ${status}`, type: 'server_error' } }));
  };

  async function setup(aHandler, reliability = '') {
    const redis = await startRedis();
    started.push(redis);
    const a = await startUpstream(aHandler);
    const b = await startUpstream(async (req, res) => ok(res, 'from b'));
    started.push(a, b);
    const prefix = uniquePrefix('health');
    const replicas = await startReplicas(COMMON + stateSection(redis, prefix) + `reliability:
  backoff_base: 1ms
  backoff_max: 2ms
${reliability}
providers:
  - {name: pa, type: openai, base_url: "${a.url}/v1", api_key: sk-a}
  - {name: pb, type: openai, base_url: "${b.url}/v1", api_key: sk-b}
models:
  - name: m
    deployments:
      - {provider: pa, model: up-a}
      - {provider: pb, model: up-b}
`);
    return { a, b, replicas, redis, prefix };
  }

  /** Asks replica `sy` until `a` was called `n` times (the pick is random); every answer is b's. */
  async function askUntilCalled(sy, a, n) {
    for (let i = 0; i < 60 && a.requests.length < n; i++) {
      const r = await chat(sy);
      assert.equal(r.status, 200, r.text);
      assert.equal(r.json.choices[0].message.content, 'from b');
    }
    assert.equal(a.requests.length, n, `deployment a called ${a.requests.length} times`);
  }

  test('a 429 cooldown learned on replica 1 keeps replica 2 away from that deployment', async () => {
    const { a, replicas: [r1, r2] } = await setup(async (req, res) => fail(res, 429, { 'retry-after': '30' }));
    await askUntilCalled(r1, a, 1);
    assert.ok((await deployment(r1, 'm/pa/0')).cooldown_remaining_ms > 25000);
    // The event reaches replica 2 through Redis pub/sub.
    const st = await until(async () => { const d = await deployment(r2, 'm/pa/0'); return d.cooldown_remaining_ms > 0 && d; },
      'the cooldown on replica 2');
    assert.ok(st.cooldown_remaining_ms > 25000 && st.cooldown_remaining_ms <= 30000, JSON.stringify(st));
    for (let i = 0; i < 20; i++) {
      const r = await chat(r2);
      assert.equal(r.status, 200, r.text);
      assert.equal(r.json.choices[0].message.content, 'from b');
      assert.equal(r.headers.get('x-switchyard-attempts'), '1');
    }
    assert.equal(a.requests.length, 1, 'replica 2 never called the cooling deployment');
  });

  test('a breaker opened on replica 1 is open on replica 2', async () => {
    const { a, replicas: [r1, r2] } = await setup(async (req, res) => fail(res, 500),
      '  breaker: {window: 10s, min_requests: 2, error_ratio: 0.5, cooldown: 30s}');
    await askUntilCalled(r1, a, 2);
    assert.equal((await deployment(r1, 'm/pa/0')).breaker, 'open');
    const st = await until(async () => { const d = await deployment(r2, 'm/pa/0'); return d.breaker === 'open' && d; },
      'the breaker open on replica 2');
    assert.ok(st.half_open_in_ms > 25000, JSON.stringify(st));
    assert.equal(st.failures, 0, 'replica 2 learned it without a failure of its own');
    for (let i = 0; i < 20; i++) {
      const r = await chat(r2);
      assert.equal(r.status, 200, r.text);
      assert.equal(r.json.choices[0].message.content, 'from b');
    }
    assert.equal(a.requests.length, 2, 'replica 2 never called the failing deployment');
  });

  test('events reach the other replica again after Redis restarted', async () => {
    const { a, redis, prefix, replicas: [r1, r2] } = await setup(async (req, res) => fail(res, 429, { 'retry-after': '30' }));
    assert.equal(await subscribers(redis.port, `${prefix}health`), 2);
    await redis.stop('SIGKILL');
    for (const sy of [r1, r2]) await until(async () => (await sharedUp(sy)) === 0, 'shared_state_up 0');
    const again = await redis.restart();
    started.push(again);
    for (const sy of [r1, r2]) await until(async () => (await sharedUp(sy)) === 1, 'shared_state_up 1 after the restart', 8000);
    // Both subscriber connections come back (on their own backoff: awaited, not assumed).
    await until(async () => (await subscribers(again.port, `${prefix}health`)) === 2, 'both replicas subscribed again', 8000);
    await askUntilCalled(r1, a, 1);
    const st = await until(async () => { const d = await deployment(r2, 'm/pa/0'); return d.cooldown_remaining_ms > 0 && d; },
      'the cooldown on replica 2');
    assert.ok(st.cooldown_remaining_ms > 25000, JSON.stringify(st));
    for (let i = 0; i < 10; i++) assert.equal((await chat(r2)).json.choices[0].message.content, 'from b');
    assert.equal(a.requests.length, 1);
  });
});

// ---- 3. Redis down, back, and slow ------------------------------------------------------------------

describe('Redis killed, restarted and stalled: the on_redis_error policies', { skip, timeout: 30000 }, () => {
  after(stopAll);

  test('each policy while Redis is down; shared again after a restart; no hang while Redis stalls', async () => {
    let redis = await startRedis();
    started.push(redis);
    // Replica 1 fails open on rate limits and closed on budgets (the defaults); replica 2 the opposite.
    // No lease: every request with an rpm key asks Redis, so the metrics count each one. Model d's
    // deployment has a shared rpm of its own.
    const prefix = uniquePrefix('policy');
    const base = COMMON + `providers:
  - {name: mock, type: mock, mock: {latency: 0ms, reply: "ok"}}
models:
  - {name: m, deployments: [{provider: mock, model: mock-m}]}
  - {name: d, deployments: [{provider: mock, model: mock-d, rpm: 100000}]}
auth:
  required: true
  keys:
    - {name: limited, key: sk-limited, rpm: 100000}
    - {name: budgeted, key: sk-budgeted, budget: {daily_usd: 1000}}
    - {name: local, key: sk-local-3, rpm: 3}
    - {name: tight, key: sk-tight, rpm: 6}
`;
    const [r1, r2] = await startReplicas(base, [
      stateSection(redis, prefix, { policy: 'rate_limits: open, budgets: closed', lease: 0 }),
      stateSection(redis, prefix, { policy: 'rate_limits: closed, budgets: open', lease: 0 }),
    ]);
    for (const sy of [r1, r2]) {
      for (const key of ['sk-limited', 'sk-budgeted']) assert.equal((await chat(sy, { key })).status, 200);
    }

    // -- Redis dies.
    const killedAt = Date.now();
    await redis.stop('SIGKILL');
    for (const sy of [r1, r2]) await until(async () => (await sharedUp(sy)) === 0, 'shared_state_up 0');
    const m1 = await metrics(r1), m2 = await metrics(r2);
    assert.ok(m1.get('switchyard_shared_state_failures_total') >= 1 && m2.get('switchyard_shared_state_failures_total') >= 1);
    const open0 = m1.get('switchyard_shared_state_unavailable_total', { policy: 'open' });
    const closed0 = m2.get('switchyard_shared_state_unavailable_total', { policy: 'closed' });

    // rate_limits open: served, each decision counted as made on local state...
    for (let i = 0; i < 10; i++) {
      const r = await chat(r1, { key: 'sk-limited' });
      assert.equal(r.status, 200, r.text);
      assert.ok(r.ms < 300, `answered in ${r.ms.toFixed(0)} ms`);
    }
    assert.equal(await unavailable(r1, 'open'), open0 + 10);
    // ... the deployment's shared rpm too (one decision for the key, one for the deployment) ...
    assert.equal((await chat(r1, { key: 'sk-limited', model: 'd' })).status, 200);
    assert.equal(await unavailable(r1, 'open'), open0 + 12);
    // ... and a key's rpm is then enforced on this replica's own window.
    const local = [];
    for (let i = 0; i < 4; i++) local.push(await chat(r1, { key: 'sk-local-3' }));
    assert.deepEqual(local.map((r) => r.status), [200, 200, 200, 429]);
    assert.equal(local[3].json.error.code, 'rate_limit_exceeded');
    // budgets closed: 503 at once, never a hang.
    for (let i = 0; i < 5; i++) {
      const r = await chat(r1, { key: 'sk-budgeted' });
      assert.equal(r.status, 503, r.text);
      assert.equal(r.json.error.code, 'shared_state_unavailable');
      assert.ok(Number(r.headers.get('retry-after')) >= 1);
      assert.ok(r.ms < 300, `answered in ${r.ms.toFixed(0)} ms`);
    }
    // rate_limits closed: 503 for a key with an rpm, counted as closed...
    for (let i = 0; i < 5; i++) {
      const r = await chat(r2, { key: 'sk-limited' });
      assert.equal(r.status, 503, r.text);
      assert.equal(r.json.error.code, 'shared_state_unavailable');
      assert.ok(r.ms < 300, `answered in ${r.ms.toFixed(0)} ms`);
    }
    assert.equal(await unavailable(r2, 'closed'), closed0 + 5);
    // ... and the dispatcher skips a deployment with a shared rpm: nothing else can serve model d.
    const skipped = await chat(r2, { key: 'sk-budgeted', model: 'd' });
    assert.equal(skipped.status, 503, skipped.text);
    assert.equal(skipped.json.error.code, 'no_deployment_available');
    assert.match(skipped.headers.get('x-switchyard-skipped') ?? '', /d\/mock\/0=shared_state_unavailable/);
    assert.equal(await unavailable(r2, 'closed'), closed0 + 6);
    // budgets open: admitted on replica 2's own view of the spend.
    assert.equal((await chat(r2, { key: 'sk-budgeted' })).status, 200);
    // Reconnecting is refused a few times (backoff 100, 200, 400 ms, ...) before Redis is back.
    const failures0 = m1.get('switchyard_shared_state_failures_total');
    await until(async () => (await metrics(r1)).get('switchyard_shared_state_failures_total') >= failures0 + 3, 'refused reconnects');

    // -- Redis comes back on the same port (empty): both replicas reconnect (backoff at most 5 s).
    console.log(`Redis down for ${Date.now() - killedAt} ms`);
    const restartedAt = Date.now();
    redis = await redis.restart();
    started.push(redis);
    for (const sy of [r1, r2]) await until(async () => (await sharedUp(sy)) === 1, 'shared_state_up 1 after the restart', 8000);
    console.log(`both replicas up on Redis again ${Date.now() - restartedAt} ms after its restart`);
    const open1 = await unavailable(r1, 'open'), closed1 = await unavailable(r2, 'closed');
    for (const [sy, key, model] of [[r1, 'sk-budgeted', 'm'], [r1, 'sk-limited', 'm'], [r1, 'sk-limited', 'd'], [r2, 'sk-limited', 'm'], [r2, 'sk-budgeted', 'd']]) {
      const r = await chat(sy, { key, model });
      assert.equal(r.status, 200, `${key} ${model}: ${r.text}`);
    }
    assert.equal(await unavailable(r1, 'open'), open1, 'decided through Redis again');
    assert.equal(await unavailable(r2, 'closed'), closed1, 'decided through Redis again');
    // And the limit is shared again: 6 per minute over both replicas.
    const tight = [];
    for (let i = 0; i < 6; i++) tight.push(await chat(i % 2 ? r2 : r1, { key: 'sk-tight' }));
    assert.deepEqual(tight.map((r) => r.status), [200, 200, 200, 200, 200, 200]);
    for (const sy of [r1, r2]) {
      const r = await chat(sy, { key: 'sk-tight' });
      assert.equal(r.status, 429, r.text);
      assert.equal(r.json.error.code, 'rate_limit_exceeded');
    }

    // -- Redis stalls for 2 s (DEBUG SLEEP) under load: slower than the 100 ms timeout counts as down.
    // Four workers keep sending, so requests are waiting on Redis when it stops answering.
    const results = [];
    let stop = false;
    const workers = Promise.all([0, 1, 2, 3].map(async (w) => {
      const sy = w % 2 ? r2 : r1;
      const key = w < 2 ? 'sk-limited' : 'sk-budgeted';
      while (!stop) results.push({ sy: w % 2 ? 'r2' : 'r1', key, at: Date.now(), ...(await chat(sy, { key, timeoutMs: 3000 })) });
    }));
    let sleeping, sleepStarted;
    try {
      await until(() => results.length >= 20, 'requests before the stall');
      sleepStarted = Date.now();
      sleeping = redisCommand(redis.port, 'DEBUG', 'SLEEP', '2');
      for (const sy of [r1, r2]) await until(async () => (await sharedUp(sy)) === 0, 'shared_state_up 0 while Redis stalls', 1500);
      const seen = results.length;
      await until(() => results.length >= seen + 40, 'requests while Redis stalls', 1500);
    } finally {
      stop = true;
      await workers;
    }
    const stallMs = Date.now() - sleepStarted;
    assert.ok(stallMs < 2000, `the requests ran while Redis slept (${stallMs} ms)`);
    const during = results.filter((r) => r.at >= sleepStarted - 50);
    for (const r of results) {
      assert.ok(!r.error, `${r.sy} ${r.key}: ${r.error}`);
      assert.ok(r.ms < 500, `${r.sy} ${r.key} took ${r.ms.toFixed(0)} ms`);
      // Open policies serve; closed ones may refuse (or serve while the replica still believes Redis is up).
      const open = (r.sy === 'r1' && r.key === 'sk-limited') || (r.sy === 'r2' && r.key === 'sk-budgeted');
      if (open) assert.equal(r.status, 200, `${r.sy} ${r.key}: ${r.text}`);
      else assert.ok(r.status === 200 || (r.status === 503 && r.json.error.code === 'shared_state_unavailable'), `${r.sy} ${r.key}: ${r.text}`);
    }
    assert.ok(during.some((r) => r.sy === 'r2' && r.key === 'sk-limited' && r.status === 503), 'replica 2 refused while Redis stalled');
    assert.ok(await unavailable(r1, 'open') > open1, 'replica 1 decided on local state while Redis stalled');
    console.log(`while Redis slept: ${during.length} requests, slowest ${Math.max(...during.map((r) => r.ms)).toFixed(0)} ms; ${JSON.stringify(countBy(during, (r) => `${r.sy}/${r.key}/${r.status}`))}`);
    assert.equal(await sleeping, 'OK');
    for (const sy of [r1, r2]) await until(async () => (await sharedUp(sy)) === 1, 'shared_state_up 1 after the stall', 8000);
    assert.equal((await chat(r2, { key: 'sk-limited' })).status, 200);
  });
});

// ---- 4. a replica dies under load --------------------------------------------------------------------

describe('a replica killed under load', { skip, timeout: 20000 }, () => {
  after(stopAll);

  test('every request sent to the surviving replica completes; those to the dead one fail cleanly', async () => {
    const redis = await startRedis();
    started.push(redis);
    const [r1, r2] = await startReplicas(COMMON + stateSection(redis, uniquePrefix('kill')) + MOCK_MODELS('20ms', ', rpm: 100000') + `auth:
  required: true
  keys: [{name: busy, key: sk-busy-key-0001, rpm: 100000, budget: {daily_usd: 1000}}]
`);
    let done = 0, killed;
    const killedAt = new Promise((resolve) => { killed = resolve; });
    const results = load(200, 16, async (i) => {
      const replica = i % 2;
      const r = await chat(replica ? r2 : r1, { key: 'sk-busy-key-0001', timeoutMs: 5000 });
      if (++done === 60) killed(r1.stop('SIGKILL'));
      return { replica, ...r };
    });
    const [all] = await Promise.all([results, killedAt]);
    assert.equal(r1.proc.signalCode, 'SIGKILL');
    const toR2 = all.filter((r) => r.replica === 1), toR1 = all.filter((r) => r.replica === 0);
    for (const r of toR2) assert.equal(r.status, 200, r.error ? String(r.error) : r.text);
    for (const r of toR1) {
      if (r.error) assert.notEqual(r.error.name, 'TimeoutError', 'a request to the dead replica hung');
      else assert.equal(r.status, 200, r.text);
    }
    const failed = toR1.filter((r) => r.error).length;
    console.log(`replica killed after 60 of 200: replica 2 answered ${toR2.length}/${toR2.length} with 200; replica 1 ${toR1.length - failed} ok, ${failed} connection errors`);
    assert.ok(failed > 0, 'some requests reached replica 1 after it died');
    assert.equal(await sharedUp(r2), 1);
  });
});

// ---- 5. budgets ----------------------------------------------------------------------------------------

describe('spend and tokens counted on two replicas', { skip, timeout: 20000 }, () => {
  afterEach(stopAll);

  test('both replicas refuse once the combined spend reaches the budget', async () => {
    const redis = await startRedis();
    started.push(redis);
    // Each answer costs (1000 * 125 + 500 * 250) / 1e6 = $0.25 exactly; the budget is $1 = 4 answers.
    const up = await startUpstream(async (req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(completion('paid', 'up-m', { prompt_tokens: 1000, completion_tokens: 500, total_tokens: 1500 })));
    });
    started.push(up);
    const prefix = uniquePrefix('budget');
    const [r1, r2] = await startReplicas(COMMON + stateSection(redis, prefix) + `providers:
  - {name: fake, type: openai, base_url: "${up.url}/v1", api_key: sk-up}
models:
  - {name: m, deployments: [{provider: fake, model: up-m, input_price: 125, output_price: 250}]}
auth:
  required: true
  keys: [{name: payer, key: sk-payer, budget: {daily_usd: 1}}]
`);
    // $0.50 on each replica: neither reached $1 on its own.
    for (const sy of [r1, r1, r2, r2]) {
      const r = await chat(sy, { key: 'sk-payer' });
      assert.equal(r.status, 200, r.text);
      assert.equal(Number(r.headers.get('x-switchyard-cost-usd')), 0.25);
    }
    // Both replicas learn the other's spend with their next flush (every 100 ms). A request for a model
    // that does not exist costs nothing when admitted (404), so polling with it spends nothing.
    for (const sy of [r1, r2]) {
      const r = await until(async () => { const x = await chat(sy, { key: 'sk-payer', model: 'no-such-model' }); return x.status !== 404 && x; },
        'the budget refused on both replicas', 3000);
      assert.equal(r.status, 429, r.text);
      assert.equal(r.json.error.code, 'budget_exceeded');
    }
    for (const sy of [r1, r2]) {
      const r = await chat(sy, { key: 'sk-payer' });
      assert.equal(r.status, 429, r.text);
      assert.equal(r.json.error.code, 'budget_exceeded');
      assert.equal(r.headers.get('x-should-retry'), 'false');
    }
    assert.equal(up.requests.length, 4, 'nothing past the budget reached the upstream');
    const day = new Date().toISOString().slice(0, 10);
    assert.equal(Number(await redisCommand(redis.port, 'GET', `${prefix}spend:payer:${day}`)), 1);
    // Each replica's own /admin/keys shows what it spent itself.
    for (const sy of [r1, r2]) {
      const keys = await (await fetch(`${sy.url}/admin/keys`)).json();
      assert.equal(keys.data.find((k) => k.name === 'payer').spend.today_usd, 0.5);
    }
  });

  // Every answer of this upstream is a long one: 10 prompt and 1490 completion tokens, far more than a
  // request without max_tokens reserves before it is sent (its prompt and reliability.default_max_tokens,
  // 256): token windows learn the real numbers when each replica settles (flushed every 100 ms).
  async function tokenSetup(lease) {
    const redis = await startRedis();
    started.push(redis);
    const up = await startUpstream(async (req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(completion('tokens', 'up', { prompt_tokens: 10, completion_tokens: 1490, total_tokens: 1500 })));
    });
    started.push(up);
    const prefix = uniquePrefix('tokens');
    const replicas = await startReplicas(COMMON + stateSection(redis, prefix, { lease }) + `providers:
  - {name: fake, type: openai, base_url: "${up.url}/v1", api_key: sk-up}
models:
  - {name: m, deployments: [{provider: fake, model: up-m}]}
  - {name: d, deployments: [{provider: fake, model: up-d, tpm: 15000}]}
auth:
  required: true
  keys:
    - {name: tok, key: sk-tok-3000, tpm: 3000}
    - {name: free, key: sk-free-key, budget: {daily_usd: 1000}}
`);
    return { redis, up, prefix, replicas };
  }
  /** Resolves once `sy` flushed to Redis twice more (its command count grew twice, 100 ms apart), so it
   * has read back what Redis held when called. The budget of key free is read back on every flush. */
  async function flushed(sy) {
    for (let i = 0; i < 2; i++) {
      const c = (await metrics(sy)).get('switchyard_shared_state_commands_total');
      await until(async () => (await metrics(sy)).get('switchyard_shared_state_commands_total') > c, `a flush on :${sy.port}`, 2000);
    }
  }
  /** Whether the key is refused for its tpm on `sy`: a request for a model that does not exist costs no
   * tokens when admitted (404), so probing with it changes nothing. */
  const tpmRefused = async (sy) => {
    const r = await chat(sy, { key: 'sk-tok-3000', model: 'no-such-model' });
    if (r.status === 404) return false;
    assert.equal(r.status, 429, r.text);
    assert.match(r.json.error.message, /tokens per minute/);
    return true;
  };

  test('key tpm: each replica counts the tokens the other used', async () => {
    const { up, replicas: [r1, r2] } = await tokenSetup();
    // 1500 on each replica: 3000, the key's limit, together.
    assert.equal((await chat(r1, { key: 'sk-tok-3000' })).status, 200);
    assert.equal((await chat(r2, { key: 'sk-tok-3000' })).status, 200);
    await until(() => tpmRefused(r2), 'replica 2 refusing the key', 3000);
    // Replica 1 has nothing to settle: it learns replica 2's tokens only because a key's tpm window is
    // read back on every flush (it once was not: replica 1 admitted on its own last total, 1500).
    await until(() => tpmRefused(r1), 'replica 1 refusing the key (3000 tokens used over both replicas)', 3000);
    assert.equal(up.requests.length, 2);
  });

  test('key tpm: a replica that refused the key admits it again once the window emptied', async () => {
    const { redis, prefix, replicas: [r1, r2] } = await tokenSetup();
    // Replica 2 uses 1500, then replica 1 1500: replica 1's settlement reads back 3000 and it refuses.
    assert.equal((await chat(r2, { key: 'sk-tok-3000' })).status, 200);
    await until(async () => (await windowSum(redis, `${prefix}w:key:tok:tpm`)) >= 1500,
      'replica 2 tokens in Redis', 3000);
    assert.equal((await chat(r1, { key: 'sk-tok-3000' })).status, 200);
    await until(() => tpmRefused(r1), 'replica 1 refusing the key', 3000);
    // A minute later the window in Redis is empty (its fields age out and the hash expires after 61 s);
    // deleting it is that minute without waiting for it. Replica 1's own window holds its 1500 tokens
    // only, under the limit.
    assert.equal(await redisCommand(redis.port, 'DEL', `${prefix}w:key:tok:tpm`), 1);
    // A refused key settles nothing: only the read-back on every flush tells replica 1 (it once refused
    // the key until a restart: 63 s later, without the DEL, it still answered 429).
    await until(async () => !(await tpmRefused(r1)), 'replica 1 admitting the key again', 3000);
  });

  for (const lease of [0, undefined]) {
    test(`deployment tpm: the window holds the tokens both replicas used (lease ${lease ?? 'default'})`, async () => {
      const { redis, prefix, up, replicas: [r1, r2] } = await tokenSetup(lease);
      // tpm 15000 = 10 answers. Alternating replicas, each request once the previous one's tokens
      // reached Redis and both replicas flushed since: ten fit, then both replicas refuse.
      const depWindow = `${prefix}w:dep:d/fake/0:tpm`;
      const statuses = [];
      for (let i = 0; i < 14; i++) {
        const r = await chat(i % 2 ? r2 : r1, { key: 'sk-free-key', model: 'd' });
        statuses.push(r.status);
        if (r.status !== 200) {
          assert.equal(r.status, 429, r.text);
          assert.match(r.headers.get('x-switchyard-skipped') ?? '', /d\/fake\/0=shared_limit/);
          continue;
        }
        const admitted = statuses.filter((x) => x === 200).length;
        await until(async () => (await windowSum(redis, depWindow)) >= 1500 * admitted, `${1500 * admitted} tokens in the deployment's window`, 3000);
        await Promise.all([r1, r2].map(flushed));
      }
      const admitted = statuses.filter((x) => x === 200).length;
      console.log(`deployment tpm 15000, lease ${lease ?? 'default'}, 1500 tokens an answer: admitted ${admitted} (${1500 * admitted} tokens); window ${await windowSum(redis, depWindow)}`);
      // With a lease a replica may be ahead by its lease (2 % of 15000 = 300 tokens): at most 15600
      // tokens, i.e. still 10 answers.
      // Regression: a lease once outlived the window going over its limit (12, then 11 answers): a
      // leased request reserves its estimate (~266 tokens) but uses 1500, and a replica must see the other
      // replica's settlements (tpm windows are read back with every flush) to drop its lease.
      assert.deepEqual(statuses, [...Array(10).fill(200), ...Array(4).fill(429)]);
      assert.equal(up.requests.length, 10);
    });
  }
});
