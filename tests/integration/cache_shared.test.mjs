// The answer cache's Redis backend (`cache: {backend: redis}` with `state:`): two replicas on one
// redis-server share answers — one replica's miss is the other's hit (exact and similar, streamed too),
// with the same guards against negations and numbers that differ, scoped per gateway key; entries expire
// with the ttl; and a Redis that is down makes the cache miss, never fail a request.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { completion, postJson, runSwitchyard, sseData, startAnsweringUpstream, startSwitchyard, until, writeConfig } from './lib/harness.mjs';
import { redisCommand, startRedis } from './lib/redis.mjs';

describe('answer cache shared through Redis', () => {
  let redis, upstream, a, b;
  const ALICE = 'sk-alice-shared-cache-1', BOB = 'sk-bob-shared-cache-001';
  const prefix = `sytest-cache-${process.pid}:`;
  const SECRET = 'upstream-secret-0123456789abcdef';
  const config = (ttl = '10m') => `server: {listen: "127.0.0.1:0", threads: 1}
admin: {open: true}
state:
  redis: {address: "${redis.address}", timeout: 200ms}
  prefix: "${prefix}"
auth:
  required: true
  keys: [{name: alice, key: "${ALICE}"}, {name: bob, key: "${BOB}"}]
providers: [{name: up, type: openai, base_url: "${upstream.url}/v1", api_key: "${SECRET}"}]
models: [{name: m, provider: up, input_price: 1, output_price: 2}]
routers:
  - name: auto
    default: m
    cache: {similarity: 0.9, ttl: ${ttl}, max_entries: 100, backend: redis}
  - name: short
    default: m
    cache: {ttl: 1s, backend: redis}
`;
  before(async () => {
    redis = await startRedis();
    upstream = await startAnsweringUpstream((rec) => ({ json: completion(`answer to: ${rec.json.messages.at(-1).content}`) }));
    a = await startSwitchyard(config());
    b = await startSwitchyard(config());
  });
  after(async () => {
    await a?.stop();
    await b?.stop();
    await upstream?.close();
    await redis?.stop();
  });

  const ask = (sy, content, { key = ALICE, model = 'auto', extra = {} } = {}) => postJson(`${sy.url}/v1/chat/completions`,
    { model, messages: [{ role: 'user', content }], ...extra }, { authorization: `Bearer ${key}` });

  /** The questions Redis holds answers to for a router (all contexts). */
  const sharedTexts = async (router) => {
    const out = [];
    for (const k of await redisCommand(redis.port, 'KEYS', `${prefix}cache:${router}:*`)) {
      for (const e of await redisCommand(redis.port, 'LRANGE', k, '0', '-1')) out.push(JSON.parse(e).text);
    }
    return out;
  };

  test("one replica's answer is the other's hit, exact and similar, also streamed", async () => {
    const first = await ask(a, 'What is the boiling point of water at sea level?');
    assert.equal(first.headers.get('x-switchyard-cache'), 'miss');
    const calls = upstream.requests.length;
    const keys = await until(async () => {
      const k = await redisCommand(redis.port, 'KEYS', `${prefix}cache:auto:*`);
      return k.length ? k : null;
    }, 'the answer in Redis');
    assert.equal(keys.length, 1);
    assert.match(keys[0], new RegExp(`^${prefix}cache:auto:[0-9a-f]{64}$`));
    const ttl = await redisCommand(redis.port, 'PTTL', keys[0]);
    assert.ok(ttl > 0 && ttl <= 600000, `pttl ${ttl}`);

    const exact = await ask(b, 'What is the boiling point of water at sea level?');
    assert.equal(exact.status, 200);
    assert.equal(exact.headers.get('x-switchyard-cache'), 'hit');
    assert.equal(exact.headers.get('x-switchyard-reason'), 'cache:exact shared');
    assert.equal(exact.json.choices[0].message.content, 'answer to: What is the boiling point of water at sea level?');
    // Kept locally now: the next hit on b does not need Redis.
    const local = await ask(b, 'What is the boiling point of water at sea level?');
    assert.equal(local.headers.get('x-switchyard-reason'), 'cache:exact');

    const similar = await ask(b, 'what is the boiling point of water at sea level', { extra: { stream: true } });
    assert.equal(similar.headers.get('x-switchyard-cache'), 'hit');
    const events = sseData(similar.text);
    assert.equal(events.at(-1), '[DONE]');
    const text = events.slice(0, -1).map((d) => JSON.parse(d).choices?.[0]?.delta?.content ?? '').join('');
    assert.equal(text, 'answer to: What is the boiling point of water at sea level?');
    assert.equal(upstream.requests.length, calls);
  });

  test('the guards hold across replicas, and another key never sees the answer', async () => {
    const first = await ask(a, 'Is 5 mg of melatonin safe for adults?');
    assert.equal(first.headers.get('x-switchyard-cache'), 'miss');
    await until(() => sharedTexts('auto').then((t) => t.includes('Is 5 mg of melatonin safe for adults?')), 'stored');
    for (const other of ['Is 50 mg of melatonin safe for adults?', 'Is 5 mg of melatonin not safe for adults?']) {
      const r = await ask(b, other);
      assert.equal(r.headers.get('x-switchyard-cache'), 'miss', other);
      assert.equal(r.json.choices[0].message.content, `answer to: ${other}`);
    }
    const bob = await ask(b, 'Is 5 mg of melatonin safe for adults?', { key: BOB });
    assert.equal(bob.headers.get('x-switchyard-cache'), 'miss');
  });

  test('a secret an upstream echoes is stored in Redis redacted', async () => {
    // The upstream repeats the question, so an answer that holds the upstream key is easy to provoke.
    const question = `Why does my call with ${SECRET} fail?`;
    const r = await ask(a, question);
    assert.equal(r.status, 200);
    const stored = await until(async () => {
      for (const k of await redisCommand(redis.port, 'KEYS', `${prefix}cache:auto:*`)) {
        const list = await redisCommand(redis.port, 'LRANGE', k, '0', '-1');
        const hit = list.find((e) => e.includes('Why does my call with'));
        if (hit) return hit;
      }
      return null;
    }, 'the answer in Redis');
    assert.ok(!stored.includes(SECRET), stored);
    assert.match(stored, /\[REDACTED\]/);
  });

  test('entries expire with the ttl', async () => {
    const first = await ask(a, 'Name a prime number above 100.', { model: 'short' });
    assert.equal(first.headers.get('x-switchyard-cache'), 'miss');
    // The store reaches Redis without the request waiting for it: first see it there (else "gone" could be
    // "not there yet"), then Redis drops the list once the ttl passed; b, which never had it, misses then.
    const shortKeys = async () => (await redisCommand(redis.port, 'KEYS', `${prefix}cache:short:*`)).length;
    await until(async () => (await shortKeys()) === 1 ? true : null, 'the entry in Redis', 5000, 20);
    await until(async () => (await shortKeys()) === 0 ? true : null, 'the entry expired in Redis', 5000, 50);
    const later = await ask(b, 'Name a prime number above 100.', { model: 'short' });
    assert.equal(later.headers.get('x-switchyard-cache'), 'miss');
  });

  test('what comes back from Redis is checked like any input', async () => {
    // Garbage and a forged entry of the wrong shape in the list of a real context: ignored, a miss.
    const first = await ask(a, 'How many legs does a spider have?');
    assert.equal(first.headers.get('x-switchyard-cache'), 'miss');
    const key = await until(async () => {
      for (const k of await redisCommand(redis.port, 'KEYS', `${prefix}cache:auto:*`)) {
        const list = await redisCommand(redis.port, 'LRANGE', k, '0', '-1');
        if (list.some((e) => e.includes('spider'))) return k;
      }
      return null;
    }, 'the spider answer in Redis');
    await redisCommand(redis.port, 'DEL', key);
    await redisCommand(redis.port, 'RPUSH', key, 'not json', '{"text":1}', '[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[',
      JSON.stringify({ text: 'How many legs does a spider have?', body: 'x', expires_ms: 1 }),  // expired
      // Live, for this very question, but not an answer: a body nested 100,000 deep, and one that is no object.
      JSON.stringify({ text: 'How many legs does a spider have?', body: `{"a":${'['.repeat(100000)}${']'.repeat(100000)}}`,
        expires_ms: Date.now() + 600000 }),
      JSON.stringify({ text: 'How many legs does a spider have?', body: '"eight"', expires_ms: Date.now() + 600000 }));
    const r = await ask(b, 'How many legs does a spider have?');
    assert.equal(r.status, 200);
    assert.equal(r.headers.get('x-switchyard-cache'), 'miss');
    assert.equal(r.json.choices[0].message.content, 'answer to: How many legs does a spider have?');
  });

  test('with Redis down the cache misses and every request is answered', async () => {
    await redis.stop();
    for (const sy of [a, b]) {
      const r = await ask(sy, 'What colour is the sky on Mars?');
      assert.equal(r.status, 200, r.text);
      assert.equal(r.json.choices[0].message.content, 'answer to: What colour is the sky on Mars?');
    }
    // a's own memory still answers what a stored.
    const again = await ask(a, 'What colour is the sky on Mars?');
    assert.equal(again.headers.get('x-switchyard-cache'), 'hit');
    assert.equal(again.headers.get('x-switchyard-reason'), 'cache:exact');
    redis = await redis.restart();
  });

  test('--check-config accepts it (without connecting to Redis)', async () => {
    const file = writeConfig(config());
    const r = await runSwitchyard(['--check-config', file]);
    assert.equal(r.code, 0, r.stderr + r.stdout);
    assert.match(r.stdout, /: ok \(/);
  });

  test('backend: redis without a state: section is a config error', async () => {
    await assert.rejects(startSwitchyard(`server: {listen: "127.0.0.1:0"}
providers: [{name: mock, type: mock}]
models: [{name: m, provider: mock}]
routers: [{name: auto, default: m, cache: {backend: redis}}]
`), /backend: redis needs the state: section/);
  });
});
