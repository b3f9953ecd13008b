// A router's answer cache (`cache:`): a repeated or reworded question is answered without calling a model,
// streamed clients get the cached answer replayed as SSE, and the known false hits of semantic caches —
// negations and numbers that differ — go to the model. Hit, miss and bypass are in headers and metrics.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import OpenAI from 'openai';

import { completion, postJson, sseData, startAnsweringUpstream, startSwitchyard } from './lib/harness.mjs';
import { parseExposition } from './lib/metrics.mjs';

describe('answer cache', () => {
  let sy, upstream;
  const ALICE = 'sk-alice-cache-000001', BOB = 'sk-bob-cache-00000001';
  before(async () => {
    // The upstream answers with the question it was asked, so a reply shows which request it belongs to.
    upstream = await startAnsweringUpstream((rec) => ({ json: completion(`answer to: ${rec.json.messages.at(-1).content}`) }));
    sy = await startSwitchyard(`server: {listen: "127.0.0.1:0", threads: 1}
admin: {open: true}
auth:
  required: true
  keys: [{name: alice, key: "${ALICE}"}, {name: bob, key: "${BOB}"}]
providers: [{name: up, type: openai, base_url: "${upstream.url}/v1"}]
models: [{name: m, provider: up, input_price: 1, output_price: 2}]
routers:
  - name: auto
    default: m
    cache: {similarity: 0.9, ttl: 10m, max_entries: 100}
`);
  });
  after(async () => { await sy?.stop(); await upstream?.close(); });

  const ask = (content, key = ALICE, extra = {}) => postJson(`${sy.url}/v1/chat/completions`,
    { model: 'auto', messages: [{ role: 'user', content }], ...extra }, { authorization: `Bearer ${key}` });

  test('a repeated question is answered from the cache, at no cost and without an upstream call', async () => {
    const first = await ask('What is the capital of France?');
    assert.equal(first.status, 200);
    assert.equal(first.headers.get('x-switchyard-cache'), 'miss');
    const calls = upstream.requests.length;
    const again = await ask('What is the capital of France?');
    assert.equal(again.status, 200);
    assert.equal(again.headers.get('x-switchyard-cache'), 'hit');
    assert.equal(again.headers.get('x-switchyard-stage'), 'cache');
    assert.equal(again.headers.get('x-switchyard-reason'), 'cache:exact');
    assert.equal(Number(again.headers.get('x-switchyard-cost-usd')), 0);
    assert.equal(again.json.choices[0].message.content, 'answer to: What is the capital of France?');
    assert.equal(upstream.requests.length, calls);
    // Reworded the same way (case, punctuation): a similar hit.
    const similar = await ask('what is the capital of france');
    assert.equal(similar.headers.get('x-switchyard-cache'), 'hit');
    assert.match(similar.headers.get('x-switchyard-reason'), /^cache:similar similarity=/);
    assert.equal(upstream.requests.length, calls);
  });

  test('negations and numbers that differ are never served from the cache', async () => {
    for (const [asked, then] of [
      ['Can I take ibuprofen with alcohol?', "Can't I take ibuprofen with alcohol?"],
      ['Is 5 mg of melatonin safe for adults?', 'Is 50 mg of melatonin safe for adults?'],
      ['Should I water the plant daily?', 'Should I not water the plant daily?'],
    ]) {
      assert.equal((await ask(asked)).headers.get('x-switchyard-cache'), 'miss');
      const r = await ask(then);
      assert.equal(r.headers.get('x-switchyard-cache'), 'miss', then);
      assert.equal(r.json.choices[0].message.content, `answer to: ${then}`);
    }
  });

  test("one key never gets another key's cached answer", async () => {
    await ask('Tell me my account balance', ALICE);
    const bob = await ask('Tell me my account balance', BOB);
    assert.equal(bob.headers.get('x-switchyard-cache'), 'miss');
  });

  test('a streaming client gets the cached answer replayed as SSE (official SDK)', async () => {
    await ask('Name three primary colours');
    const client = new OpenAI({ apiKey: ALICE, baseURL: `${sy.url}/v1` });
    const calls = upstream.requests.length;
    const stream = await client.chat.completions.create({
      model: 'auto', stream: true, stream_options: { include_usage: true },
      messages: [{ role: 'user', content: 'Name three primary colours' }],
    });
    let text = '', usage;
    for await (const c of stream) {
      text += c.choices[0]?.delta?.content ?? '';
      if (c.usage) usage = c.usage;
    }
    assert.equal(text, 'answer to: Name three primary colours');
    assert.ok(usage, 'the usage chunk the client asked for');
    assert.equal(upstream.requests.length, calls);
    // And with plain fetch: the head says hit, the body ends with [DONE].
    const r = await fetch(`${sy.url}/v1/chat/completions`, {
      method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${ALICE}` },
      body: JSON.stringify({ model: 'auto', stream: true, messages: [{ role: 'user', content: 'Name three primary colours' }] }),
    });
    assert.equal(r.headers.get('x-switchyard-cache'), 'hit');
    assert.equal(sseData(await r.text()).at(-1), '[DONE]');
  });

  test('other client dialects get the cached answer in their own format (Anthropic Messages, Responses)', async () => {
    const auth = { authorization: `Bearer ${ALICE}` };
    const anthropic = () => postJson(`${sy.url}/v1/messages`, { model: 'auto', max_tokens: 50, messages: [{ role: 'user', content: 'Spell cat' }] }, auth);
    assert.equal((await anthropic()).headers.get('x-switchyard-cache'), 'miss');
    const calls = upstream.requests.length;
    const msg = await anthropic();
    assert.equal(msg.status, 200, msg.text);
    assert.equal(msg.headers.get('x-switchyard-cache'), 'hit');
    assert.equal(msg.json.type, 'message');
    assert.equal(msg.json.content[0].text, 'answer to: Spell cat');
    const responses = () => postJson(`${sy.url}/v1/responses`, { model: 'auto', input: 'Spell dog' }, auth);
    assert.equal((await responses()).headers.get('x-switchyard-cache'), 'miss');
    const resp = await responses();
    assert.equal(resp.status, 200, resp.text);
    assert.equal(resp.headers.get('x-switchyard-cache'), 'hit');
    assert.equal(resp.json.object, 'response');
    assert.equal(resp.json.output[0].content[0].text, 'answer to: Spell dog');
    assert.equal(upstream.requests.length, calls + 1);  // the Responses miss
  });

  test('requests with images bypass it; the metrics count hits, misses and bypasses', async () => {
    const img = await ask([{ type: 'text', text: 'what is this' }, { type: 'image_url', image_url: { url: 'data:image/png;base64,AAAA' } }]);
    assert.equal(img.headers.get('x-switchyard-cache'), 'bypass');
    const m = parseExposition(await (await fetch(`${sy.url}/metrics`)).text());
    const n = (result) => m.get('switchyard_cache_lookups_total', { router: 'auto', result });
    assert.equal(n('hit'), 6);
    assert.equal(n('miss'), 12);  // 1 + 6 + 2 + 1 + 2 above
    assert.equal(n('bypass'), 1);
    assert.equal(m.get('switchyard_routing_decisions_total', { router: 'auto', stage: 'cache' }), 6);
  });
});
