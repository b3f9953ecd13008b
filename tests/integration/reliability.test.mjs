// Fault injection: fake upstreams that throttle, fail, hang, reset, lie and trickle; the client's
// outcome, the number of upstream attempts, and what /admin/deployments says.
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';

import { chunk, completion, postJson, sseData, startSwitchyard, startUpstream, until } from './lib/harness.mjs';
import { closedWithin, collect, connectRaw, rawRequest, written } from './lib/raw_http.mjs';

const msg = (content = 'hi') => [{ role: 'user', content }];
const ok = (res, text = 'ok') => { res.writeHead(200, { 'content-type': 'application/json' }); res.end(JSON.stringify(completion(text))); };
const fail = (res, status, headers = {}, message = `failure ${status}`) => {
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(JSON.stringify({ error: { message, type: 'server_error' } }));
};

/** An upstream whose behaviour is a function of the request count (and can be swapped). */
async function scripted(behaviour) {
  const u = await startUpstream(async (req, res, rec) => u.behaviour(req, res, rec, u.requests.length));
  u.behaviour = behaviour;
  return u;
}

const ADMIN_KEY = 'admin-key-for-tests';

function config(ups, { model = '', reliability = '', extraModels = '', provider = '', server = '' } = {}) {
  const providers = ups.map((u, i) => `  - {name: p${i}, type: openai, base_url: "${u.url}/v1"${provider}}`).join('\n');
  const deps = ups.map((u, i) => `      - {provider: p${i}, model: up${i}}`).join('\n');
  return `server: {listen: "127.0.0.1:0", threads: 1${server}}
admin: {keys: [{name: ops, key: "${ADMIN_KEY}"}]}
reliability:
  backoff_base: 10ms
  backoff_max: 50ms
${reliability}
providers:
${providers}
models:
  - name: m
${model}
    deployments:
${deps}
${extraModels}`;
}

const started = [];
async function setup(ups, opts) {
  const sy = await startSwitchyard(config(ups, opts));
  started.push(sy, ...ups);
  return sy;
}
after(async () => { for (const s of started) await (s.stop ? s.stop() : s.close()); });

/** Asks until upstream `a` was tried once (ties are broken at random); every answer must come from b. */
async function askUntilTried(sy, a) {
  for (let i = 0; i < 30 && a.requests.length === 0; i++) {
    const r = await postJson(`${sy.url}/v1/chat/completions`, { model: 'm', messages: msg() });
    assert.equal(r.status, 200);
    assert.equal(r.json.choices[0].message.content, 'from b');
  }
}

const admin = async (sy) =>
  (await (await fetch(`${sy.url}/admin/deployments`, { headers: { authorization: `Bearer ${ADMIN_KEY}` } })).json()).data;

describe('throttling', () => {
  test('a 429 with retry-after fails over invisibly and cools that deployment down until then', async () => {
    const a = await scripted((req, res) => fail(res, 429, { 'retry-after': '30' }, 'slow down'));
    const b = await scripted((req, res) => ok(res, 'from b'));
    const sy = await setup([a, b], { model: '    strategy: least-busy' });
    // Ties are broken at random: ask until the throttled deployment has been tried once. Whatever is
    // picked, the client always sees b's answer.
    await askUntilTried(sy, a);
    for (let i = 0; i < 4; i++) {
      const r = await postJson(`${sy.url}/v1/chat/completions`, { model: 'm', messages: msg() });
      assert.equal(r.json.choices[0].message.content, 'from b');
    }
    assert.equal(a.requests.length, 1, 'the throttled deployment was asked once, then left alone');
    const st = (await admin(sy)).find((d) => d.id === 'm/p0/0');
    assert.ok(st.cooldown_remaining_ms > 25000 && st.cooldown_remaining_ms <= 30000, JSON.stringify(st));
    const r = await postJson(`${sy.url}/v1/chat/completions`, { model: 'm', messages: msg() });
    assert.match(r.headers.get('x-switchyard-skipped'), /m\/p0\/0=cooldown/);
    assert.equal(r.headers.get('x-switchyard-attempts'), '1');
  });

  test('headers announcing exhaustion move traffic before any 429', async () => {
    const a = await scripted((req, res) => {
      res.writeHead(200, { 'content-type': 'application/json', 'x-ratelimit-limit-requests': '100', 'x-ratelimit-remaining-requests': '0', 'x-ratelimit-reset-requests': '20s' });
      res.end(JSON.stringify(completion('from a')));
    });
    const b = await scripted((req, res) => ok(res, 'from b'));
    const sy = await setup([a, b], { model: '    strategy: least-busy' });
    // Until a has answered once, either may be chosen; after that a is known to be exhausted.
    for (let i = 0; i < 30 && a.requests.length === 0; i++) await postJson(`${sy.url}/v1/chat/completions`, { model: 'm', messages: msg() });
    assert.equal(a.requests.length, 1);
    for (let i = 0; i < 5; i++) {
      const r = await postJson(`${sy.url}/v1/chat/completions`, { model: 'm', messages: msg() });
      assert.equal(r.json.choices[0].message.content, 'from b');
    }
    assert.equal(a.requests.length, 1, 'no request went to the exhausted deployment');
    const st = (await admin(sy)).find((d) => d.id === 'm/p0/0');
    assert.equal(st.learned.remaining_requests, 0);
    assert.equal(st.learned.limit_requests, 100);
  });

  test('low learned headroom steers weighted traffic away before it runs out', async () => {
    const a = await scripted((req, res) => {
      res.writeHead(200, { 'content-type': 'application/json', 'x-ratelimit-limit-requests': '1000', 'x-ratelimit-remaining-requests': '10', 'x-ratelimit-reset-requests': '1m0s' });
      res.end(JSON.stringify(completion('from a')));
    });
    const b = await scripted((req, res) => {
      res.writeHead(200, { 'content-type': 'application/json', 'x-ratelimit-limit-requests': '1000', 'x-ratelimit-remaining-requests': '900', 'x-ratelimit-reset-requests': '1m0s' });
      res.end(JSON.stringify(completion('from b')));
    });
    const sy = await setup([a, b]);
    for (let i = 0; i < 60; i++) await postJson(`${sy.url}/v1/chat/completions`, { model: 'm', messages: msg() });
    // a has 1 % of its limit left (< headroom 10 %): its weight shrinks ~10x, so it gets far less.
    assert.ok(a.requests.length < 15, `a got ${a.requests.length} of 60`);
    assert.ok(b.requests.length > 45);
  });

  test('all deployments rate-limited: 429 with Retry-After at the earliest recovery', async () => {
    const a = await scripted((req, res) => fail(res, 429, { 'retry-after-ms': '4000' }));
    const b = await scripted((req, res) => fail(res, 429, { 'retry-after-ms': '2000' }));
    const sy = await setup([a, b]);
    const r = await postJson(`${sy.url}/v1/chat/completions`, { model: 'm', messages: msg() });
    assert.equal(r.status, 429);
    assert.equal(r.json.error.type, 'rate_limit_error');
    const ra = Number(r.headers.get('retry-after'));
    assert.ok(ra >= 1 && ra <= 4, `retry-after ${ra}`);
    assert.equal(a.requests.length + b.requests.length, 2);
    const again = await postJson(`${sy.url}/v1/chat/completions`, { model: 'm', messages: msg() });
    assert.equal(again.status, 429);
    assert.equal(a.requests.length + b.requests.length, 2, 'cooling deployments are not called');
    assert.ok(Number(again.headers.get('retry-after-ms')) <= 2001);
  });

  test('wait_for_recovery waits for the earliest recovery instead of failing', async () => {
    let n = 0;
    const a = await scripted((req, res) => (n++ === 0 ? fail(res, 429, { 'retry-after-ms': '300' }) : ok(res, 'after the wait')));
    const sy = await setup([a], { reliability: '  wait_for_recovery: 2s' });
    const r = await postJson(`${sy.url}/v1/chat/completions`, { model: 'm', messages: msg() });
    assert.equal(r.status, 200);
    assert.equal(r.json.choices[0].message.content, 'after the wait');
    assert.equal(a.requests.length, 2);
  });
});

describe('failures and the circuit breaker', () => {
  for (const status of [500, 502, 503]) {
    test(`${status} fails over with zero client-visible errors`, async () => {
      const a = await scripted((req, res) => fail(res, status));
      const b = await scripted((req, res) => ok(res, 'healthy'));
      const sy = await setup([a, b]);
      for (let i = 0; i < 6; i++) {
        const r = await postJson(`${sy.url}/v1/chat/completions`, { model: 'm', messages: msg() });
        assert.equal(r.status, 200);
        assert.equal(r.json.choices[0].message.content, 'healthy');
      }
    });
  }

  test('the breaker opens after repeated failures, half-opens after its cooldown, closes on success', async () => {
    let healthy = false;
    const a = await scripted((req, res) => (healthy ? ok(res, 'a is back') : fail(res, 500)));
    const b = await scripted((req, res) => ok(res, 'b'));
    const sy = await setup([a, b], { model: '    strategy: least-busy', reliability: '  breaker: {window: 10s, min_requests: 3, error_ratio: 0.5, cooldown: 400ms}' });
    for (let i = 0; i < 60 && a.requests.length < 3; i++) {
      const r = await postJson(`${sy.url}/v1/chat/completions`, { model: 'm', messages: msg() });
      assert.equal(r.status, 200);
    }
    let st = (await admin(sy)).find((d) => d.id === 'm/p0/0');
    assert.equal(st.breaker, 'open');
    const callsWhenOpen = a.requests.length;
    for (let i = 0; i < 5; i++) await postJson(`${sy.url}/v1/chat/completions`, { model: 'm', messages: msg() });
    assert.equal(a.requests.length, callsWhenOpen, 'no calls while open');
    healthy = true;
    // After the cooldown (wall-clock time in the binary; tests/pipeline/dispatcher_test.cpp drives it with
    // a manual clock) the deployment says half-open, and a probe goes through; least-busy ties are broken
    // randomly, so ask until it does.
    await until(async () => (await admin(sy)).find((d) => d.id === 'm/p0/0').breaker === 'half_open', 'the breaker to half-open');
    for (let i = 0; i < 40 && a.requests.length === callsWhenOpen; i++) await postJson(`${sy.url}/v1/chat/completions`, { model: 'm', messages: msg() });
    assert.equal(a.requests.length, callsWhenOpen + 1);
    st = (await admin(sy)).find((d) => d.id === 'm/p0/0');
    assert.equal(st.breaker, 'closed');
  });

  test('all deployments down: 503 with Retry-After', async () => {
    const a = await scripted((req, res) => fail(res, 503));
    const sy = await setup([a], { reliability: '  breaker: {min_requests: 2, cooldown: 5s}' });
    const r1 = await postJson(`${sy.url}/v1/chat/completions`, { model: 'm', messages: msg() });
    assert.equal(r1.status, 502);  // the upstream's failure, after a retry with backoff
    assert.equal(r1.headers.get('x-switchyard-attempts'), '2');
    const r2 = await postJson(`${sy.url}/v1/chat/completions`, { model: 'm', messages: msg() });
    assert.equal(r2.status, 503);
    assert.equal(r2.json.error.code, 'no_deployment_available');
    assert.ok(Number(r2.headers.get('retry-after')) >= 4);
    assert.match(r2.headers.get('x-switchyard-skipped'), /breaker_open/);
    assert.equal(a.requests.length, 2);
  });

  test('a single deployment is retried after a backoff', async () => {
    let n = 0;
    const a = await scripted((req, res) => (n++ === 0 ? fail(res, 502) : ok(res, 'second try')));
    const sy = await setup([a]);
    const r = await postJson(`${sy.url}/v1/chat/completions`, { model: 'm', messages: msg() });
    assert.equal(r.status, 200);
    assert.equal(r.headers.get('x-switchyard-attempts'), '2');
    assert.equal(a.requests.length, 2);
  });

  test('401 takes a deployment out until its config changes, and says so once', async () => {
    const a = await scripted((req, res) => fail(res, 401, {}, 'bad key'));
    const b = await scripted((req, res) => ok(res, 'b'));
    const sy = await setup([a, b]);
    for (let i = 0; i < 6; i++) assert.equal((await postJson(`${sy.url}/v1/chat/completions`, { model: 'm', messages: msg() })).status, 200);
    assert.ok(a.requests.length <= 1);
    assert.equal((await admin(sy)).find((d) => d.id === 'm/p0/0').auth_failed, a.requests.length === 1);
    if (a.requests.length === 1) {
      await sy.waitForOutput(/refused our credentials/);
      assert.equal(sy.output().match(/refused our credentials/g).length, 1);
    }
  });

  test('a 404 from a deployment (model or deployment missing upstream) fails over; alone, the client gets it', async () => {
    const notThere = (req, res) => {
      res.writeHead(404, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: { code: 'DeploymentNotFound', message: 'The API deployment for this resource does not exist.' } }));
    };
    const a = await scripted(notThere);
    const b = await scripted((req, res) => ok(res, 'from b'));
    const sy = await setup([a, b], { model: '    strategy: least-busy' });
    await askUntilTried(sy, a);
    assert.ok(a.requests.length >= 1, 'the missing deployment was tried');

    const alone = await setup([await scripted(notThere)]);
    const r = await postJson(`${alone.url}/v1/chat/completions`, { model: 'm', messages: msg() });
    assert.equal(r.status, 404);
    assert.equal(r.json.error.code, 'DeploymentNotFound');
    assert.match(r.json.error.message, /deployment for this resource does not exist/);
  });
});

describe('broken transports', () => {
  test('connection refused fails over', async () => {
    const dead = await startUpstream(async () => {});
    await dead.close();
    const b = await scripted((req, res) => ok(res, 'b'));
    const sy = await setup([dead, b]);
    for (let i = 0; i < 4; i++) assert.equal((await postJson(`${sy.url}/v1/chat/completions`, { model: 'm', messages: msg() })).status, 200);
  });

  test('accept-then-hang times out (first byte) and fails over', async () => {
    const hang = await scripted(() => {});  // never answers
    const b = await scripted((req, res) => ok(res, 'b'));
    const sy = await setup([hang, b], { provider: ', first_byte_timeout: 200ms' });
    for (let i = 0; i < 3; i++) {
      const r = await postJson(`${sy.url}/v1/chat/completions`, { model: 'm', messages: msg() });
      assert.equal(r.status, 200);
    }
  });

  test('a reset mid-body, malformed JSON, and a stream dying before its first event all fail over', async () => {
    const reset = await scripted((req, res) => { res.writeHead(200, { 'content-type': 'application/json', 'content-length': '500' }); res.write('{"id":"x",'); setImmediate(() => res.socket.destroy()); });
    const garbage = await scripted((req, res) => { res.writeHead(200, { 'content-type': 'application/json' }); res.end('{"id": nope'); });
    const deadStream = await scripted((req, res) => { res.writeHead(200, { 'content-type': 'text/event-stream' }); res.write(': keepalive\n\n'); setImmediate(() => res.socket.destroy()); });
    const good = await scripted((req, res, rec) => {
      if (rec.json.stream) { res.writeHead(200, { 'content-type': 'text/event-stream' }); res.write(chunk('fine', { role: 'assistant' })); res.end('data: [DONE]\n\n'); return; }
      ok(res, 'fine');
    });
    const sy = await setup([reset, garbage, deadStream, good], { reliability: '  max_attempts: 6' });
    for (let i = 0; i < 4; i++) {
      const r = await postJson(`${sy.url}/v1/chat/completions`, { model: 'm', messages: msg() });
      assert.equal(r.status, 200, r.text);
      assert.equal(r.json.choices[0].message.content, 'fine');
      const s = await postJson(`${sy.url}/v1/chat/completions`, { model: 'm', stream: true, messages: msg() });
      assert.equal(s.status, 200);
      assert.ok(s.text.includes('fine'), s.text);
    }
  });

  test('upstream documents that fail the JSON guard (too deep, repeated keys, invalid UTF-8, oversized) fail over', async () => {
    const deep = '['.repeat(300) + ']'.repeat(300);  // deeper than the default 128 levels
    const bodies = [
      `{"id":"x","choices":${deep}}`,
      '{"id":"x","id":"y","choices":[]}',
      Buffer.concat([Buffer.from('{"id":"x","choices":[{"message":{"content":"'), Buffer.from([0xff, 0xfe]), Buffer.from('"}}]}')]),
      `{"id":"x","pad":"${'x'.repeat(3000)}"}`,
    ];
    const events = [`data: {"choices":${deep}}\n\n`, 'data: {"a":1,"a":2}\n\n', `data: {"pad":"${'x'.repeat(3000)}"}\n\n`];
    const bad = await Promise.all([
      ...bodies.map((b) => scripted((req, res) => { res.writeHead(200, { 'content-type': 'application/json' }); res.end(b); })),
      ...events.map((e) => scripted((req, res) => { res.writeHead(200, { 'content-type': 'text/event-stream' }); res.write(e); res.end('data: [DONE]\n\n'); })),
    ]);
    const good = await scripted((req, res, rec) => {
      if (rec.json.stream) { res.writeHead(200, { 'content-type': 'text/event-stream' }); res.write(chunk('fine', { role: 'assistant' })); res.end('data: [DONE]\n\n'); return; }
      ok(res, 'fine');
    });
    // 2 KiB upstream documents at most: the 3,000-byte ones fail on size.
    const sy = await setup([...bad, good], { model: '    strategy: least-busy', reliability: '  max_attempts: 10', server: ', max_upstream_body_bytes: 2KiB' });
    for (let i = 0; i < 6; i++) {
      const r = await postJson(`${sy.url}/v1/chat/completions`, { model: 'm', messages: msg() });
      assert.equal(r.status, 200, r.text);
      assert.equal(r.json.choices[0].message.content, 'fine');
      const s = await postJson(`${sy.url}/v1/chat/completions`, { model: 'm', stream: true, messages: msg() });
      assert.equal(s.status, 200);
      assert.ok(s.text.includes('fine'), s.text);
    }
    const tried = bad.filter((u) => u.requests.length > 0).length;
    assert.ok(tried >= 4, `only ${tried} bad upstreams were tried`);
    const states = await admin(sy);
    assert.ok(states.some((d) => /connection/.test(d.last_error)), JSON.stringify(states));
  });

  test('a truncated stream (no [DONE]) ends with an error event, never silently', async () => {
    const a = await scripted((req, res) => { res.writeHead(200, { 'content-type': 'text/event-stream' }); res.write(chunk('partial', { role: 'assistant' })); res.end(); });
    const sy = await setup([a]);
    const r = await postJson(`${sy.url}/v1/chat/completions`, { model: 'm', stream: true, messages: msg() });
    const data = sseData(r.text);
    assert.ok(data[0].includes('partial'));
    assert.ok(JSON.parse(data.at(-1)).error, 'last event is an error');
  });

  test('after a stream that failed midway and ended with an error event, the connection serves the next request', async () => {
    const a = await scripted((req, res, rec) => {
      if (!rec.json?.stream) return ok(res, 'next on the same connection');
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write(chunk('partial', { role: 'assistant' }));
      res.end();  // no [DONE]: the stream fails after its first event
    });
    const sy = await setup([a]);
    const sock = await connectRaw(sy.port);
    const post = (body) => rawRequest('POST', '/v1/chat/completions', { body: JSON.stringify(body), headers: ['Content-Type: application/json'] });
    let answered = collect(sock, { n: 1 });
    await written(sock, post({ model: 'm', stream: true, messages: msg() }));
    const streamed = await answered;
    assert.equal(streamed.responses[0]?.status, 200);
    assert.ok(JSON.parse(sseData(streamed.responses[0].body.toString()).at(-1)).error, 'the stream ends with an error event');
    assert.equal(streamed.closed, false, 'the connection stays open');
    answered = collect(sock, { n: 1 });
    await written(sock, post({ model: 'm', messages: msg() }));
    const next = await answered;
    assert.equal(next.responses[0]?.status, 200);
    assert.equal(JSON.parse(next.responses[0].body.toString()).choices[0].message.content, 'next on the same connection');
    sock.destroy();
  });

  test('a slow trickle below the idle timeout is not cut off', async () => {
    const a = await scripted(async (req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      for (const w of ['one', ' two', ' three', ' four']) {
        res.write(chunk(w));
        await new Promise((r) => setTimeout(r, 120));  // the trickle itself: the upstream's pace, not a wait in the test
      }
      res.end('data: [DONE]\n\n');
    });
    const sy = await setup([a], { provider: ', idle_timeout: 400ms' });
    const r = await postJson(`${sy.url}/v1/chat/completions`, { model: 'm', stream: true, messages: msg() });
    const text = sseData(r.text).filter((d) => d !== '[DONE]').map((d) => JSON.parse(d).choices?.[0]?.delta?.content ?? '').join('');
    assert.equal(text, 'one two three four');
  });

  test('no connections leak: keep-alive reuse, closed on failure', async () => {
    const a = await scripted((req, res) => ok(res, 'a'));
    const sy = await setup([a]);
    for (let i = 0; i < 20; i++) await postJson(`${sy.url}/v1/chat/completions`, { model: 'm', messages: msg() });
    assert.equal(a.requests.length, 20);
    assert.ok(a.openSockets() <= 2, `upstream sockets open: ${a.openSockets()}`);
  });
});

describe('timeouts (one timer per connection, re-armed as deadlines move)', () => {
  test('a body that stalls past the upstream idle timeout is cut off as a timeout, and the request is retried', async () => {
    const a = await scripted((req, res, rec, i) => {
      if (i > 1) return ok(res, 'after the stall');  // i counts this request
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': '500' });
      res.write('{"id":"x",');  // and nothing more
    });
    const sy = await setup([a], { provider: ', idle_timeout: 300ms' });
    const r = await postJson(`${sy.url}/v1/chat/completions`, { model: 'm', messages: msg() });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.choices[0].message.content, 'after the stall');
    assert.equal(a.requests.length, 2);
    const st = (await admin(sy)).find((d) => d.id === 'm/p0/0');
    assert.equal(st.last_error, 'timeout', JSON.stringify(st));
  });

  test('an answer with no body on a connection the upstream closes: a clean error, then the next request is served', async () => {
    // The head completes the exchange (Content-Length: 0) and the connection is not pooled: it is
    // destroyed while the exchange's first step ends, under the step's deadline (the sanitizer build
    // checks nothing touches it after).
    const a = await scripted((req, res, rec, i) => {
      if (i > 1) return ok(res, 'next');
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': '0', connection: 'close' });
      res.end();
    });
    const sy = await setup([a], { reliability: '  max_attempts: 1' });
    const r = await postJson(`${sy.url}/v1/chat/completions`, { model: 'm', messages: msg() });
    assert.ok(r.status >= 500 && r.status < 600, `${r.status} ${r.text}`);
    assert.ok(r.json?.error?.message, r.text);
    const next = await postJson(`${sy.url}/v1/chat/completions`, { model: 'm', messages: msg() });
    assert.equal(next.status, 200, next.text);
    assert.equal(next.json.choices[0].message.content, 'next');
  });

  test('an upstream response head over 64 KiB is refused (a clean error), and the next request is served', async () => {
    const a = await scripted((req, res, rec, i) => {
      if (i > 1) return ok(res, 'after the big head');
      res.writeHead(200, { 'content-type': 'application/json', 'x-padding': 'p'.repeat(70 * 1024) });
      res.end(JSON.stringify(completion('never read')));
    });
    const sy = await setup([a], { reliability: '  max_attempts: 1' });
    const r = await postJson(`${sy.url}/v1/chat/completions`, { model: 'm', messages: msg() });
    assert.equal(r.status, 502, r.text);
    assert.equal(r.json.error.code, 'upstream_connection_error', r.text);
    assert.ok(!r.text.includes('never read'), r.text);
    const next = await postJson(`${sy.url}/v1/chat/completions`, { model: 'm', messages: msg() });
    assert.equal(next.status, 200, next.text);
    assert.equal(next.json.choices[0].message.content, 'after the big head');
  });

  test('a keep-alive connection busy for longer than server.idle_timeout stays open; idle past it, it is closed', async () => {
    const a = await scripted((req, res) => ok(res, 'a'));
    const sy = await setup([a], { server: ', idle_timeout: 400ms' });
    const sock = await connectRaw(sy.port);
    const request = rawRequest('POST', '/v1/chat/completions',
                               { body: JSON.stringify({ model: 'm', messages: msg() }), headers: ['Content-Type: application/json'] });
    // Five requests 150 ms apart: the connection is in use for longer than its idle timeout, never idle
    // for that long, so the timer first set for the first wait fires early and waits again.
    for (let i = 0; i < 5; i++) {
      const answered = collect(sock, { n: 1 });
      await written(sock, request);
      const r = await answered;
      assert.equal(r.closed, false, `request ${i}: the connection closed`);
      assert.equal(r.responses[0]?.status, 200, `request ${i}`);
      await new Promise((resolve) => setTimeout(resolve, 150));  // the client's pace, not a wait for the server
    }
    assert.equal(await closedWithin(sock, 5000), 'close', 'the idle connection was not closed');
    sock.destroy();
  });
});

describe('special fallbacks', () => {
  test('context window: a prompt too long for the model goes to its larger-context fallback before any call', async () => {
    const small = await scripted((req, res) => ok(res, 'small'));
    const big = await scripted((req, res) => ok(res, 'big'));
    const sy = await startSwitchyard(`server: {listen: "127.0.0.1:0", threads: 1}
providers: [{name: s, type: openai, base_url: "${small.url}/v1"}, {name: b, type: openai, base_url: "${big.url}/v1"}]
models:
  - {name: m, provider: s, model: gpt-4o-mini, context_window: 1000, context_fallback: huge}
  - {name: huge, provider: b, model: gpt-4.1, context_window: 1000000}
`);
    started.push(sy, small, big);
    const shortR = await postJson(`${sy.url}/v1/chat/completions`, { model: 'm', messages: msg('short'), max_tokens: 100 });
    assert.equal(shortR.json.choices[0].message.content, 'small');
    const longR = await postJson(`${sy.url}/v1/chat/completions`, { model: 'm', messages: msg('lorem ipsum '.repeat(1000)), max_tokens: 100 });
    assert.equal(longR.status, 200);
    assert.equal(longR.json.choices[0].message.content, 'big');
    assert.equal(longR.headers.get('x-switchyard-model'), 'huge');
    assert.match(longR.headers.get('x-switchyard-skipped'), /m\/s\/0=context_window/);
    assert.equal(small.requests.length, 1);
  });

  test('content policy: an upstream content filter goes to the configured alternative', async () => {
    const strict = await scripted((req, res) => {
      res.writeHead(400, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: { message: 'The response was filtered due to the prompt triggering content management policy.', code: 'content_filter', type: null } }));
    });
    const lenient = await scripted((req, res) => ok(res, 'lenient'));
    const sy = await startSwitchyard(`server: {listen: "127.0.0.1:0", threads: 1}
providers: [{name: s, type: openai, base_url: "${strict.url}/v1"}, {name: l, type: openai, base_url: "${lenient.url}/v1"}]
models:
  - {name: m, provider: s, model: x, content_policy_fallback: alt}
  - {name: alt, provider: l, model: y}
`);
    started.push(sy, strict, lenient);
    const r = await postJson(`${sy.url}/v1/chat/completions`, { model: 'm', messages: msg() });
    assert.equal(r.status, 200);
    assert.equal(r.json.choices[0].message.content, 'lenient');
    assert.equal(r.headers.get('x-switchyard-attempts'), '2');
  });

  test('model fallbacks after every deployment failed', async () => {
    const a = await scripted((req, res) => fail(res, 500));
    const b = await scripted((req, res) => ok(res, 'fallback model'));
    const sy = await startSwitchyard(`server: {listen: "127.0.0.1:0", threads: 1}
reliability: {backoff_base: 5ms}
providers: [{name: a, type: openai, base_url: "${a.url}/v1"}, {name: b, type: openai, base_url: "${b.url}/v1"}]
models:
  - {name: m, provider: a, model: x, fallbacks: [n]}
  - {name: n, provider: b, model: y}
`);
    started.push(sy, a, b);
    const r = await postJson(`${sy.url}/v1/chat/completions`, { model: 'm', messages: msg() });
    assert.equal(r.status, 200);
    assert.equal(r.json.choices[0].message.content, 'fallback model');
    assert.equal(r.headers.get('x-switchyard-model'), 'n');
  });
});
