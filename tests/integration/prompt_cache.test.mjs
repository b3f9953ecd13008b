// Prompt caching end to end: Anthropic-format clients' cache_control breakpoints reach an Anthropic
// upstream on the same blocks, never an OpenAI-compatible one (which refuses the member), and cache
// reads and writes are priced at their own rates and reported back in the client's usage.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { completion, postJson, startSwitchyard, startUpstream } from './lib/harness.mjs';

const cached = { type: 'ephemeral' };
const request = (model) => ({
  model,
  max_tokens: 50,
  system: [{ type: 'text', text: 'A long, stable system prompt.', cache_control: cached }],
  tools: [{ name: 'lookup', input_schema: { type: 'object', properties: { q: { type: 'string' } } }, cache_control: cached }],
  messages: [{ role: 'user', content: [{ type: 'text', text: 'A long document.', cache_control: cached }, { type: 'text', text: 'The question?' }] }],
});

describe('prompt caching', () => {
  let sy, anthropic, openai;
  before(async () => {
    anthropic = await startUpstream(async (req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({
        id: 'msg_1', type: 'message', role: 'assistant', model: 'claude-x', content: [{ type: 'text', text: 'cached answer' }],
        stop_reason: 'end_turn', stop_sequence: null,
        usage: { input_tokens: 100, cache_read_input_tokens: 8000, cache_creation_input_tokens: 2000, output_tokens: 50 },
      }));
    });
    openai = await startUpstream(async (req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(completion('openai answer', 'gpt-x', { prompt_tokens: 10000, completion_tokens: 50, total_tokens: 10050, prompt_tokens_details: { cached_tokens: 6000 } })));
    });
    sy = await startSwitchyard(`server: {listen: "127.0.0.1:0", threads: 1}
providers:
  - {name: ant, type: anthropic, base_url: "${anthropic.url}", api_key: "test-key-123456"}
  - {name: oai, type: openai, base_url: "${openai.url}/v1"}
models:
  - {name: claude, provider: ant, model: claude-x, input_price: 3, output_price: 15}
  - {name: gpt, provider: oai, model: gpt-x, input_price: 2.5, output_price: 10}
`);
  });
  after(async () => { await sy?.stop(); await anthropic?.close(); await openai?.close(); });

  test('breakpoints reach an Anthropic upstream on the same blocks; reads and writes are priced and reported', async () => {
    const r = await postJson(`${sy.url}/v1/messages`, request('claude'));
    assert.equal(r.status, 200, r.text);
    const sent = anthropic.requests.at(-1).json;
    assert.deepEqual(sent.system, [{ type: 'text', text: 'A long, stable system prompt.', cache_control: cached }]);
    assert.deepEqual(sent.messages[0].content[0], { type: 'text', text: 'A long document.', cache_control: cached });
    assert.equal(sent.messages[0].content[1].cache_control, undefined);
    assert.deepEqual(sent.tools[0].cache_control, cached);
    // The client sees Anthropic's usage split again.
    assert.deepEqual(r.json.usage, { input_tokens: 100, output_tokens: 50, cache_creation_input_tokens: 2000, cache_read_input_tokens: 8000 });
    // 100 plain at $3, 8,000 reads at $0.30 (0.1x), 2,000 writes at $3.75 (1.25x), 50 out at $15 per 1M.
    const expected = (100 * 3 + 8000 * 0.3 + 2000 * 3.75 + 50 * 15) / 1e6;
    assert.ok(Math.abs(Number(r.headers.get('x-switchyard-cost-usd')) - expected) < 1e-9, r.headers.get('x-switchyard-cost-usd'));
  });

  test('an OpenAI-compatible upstream never sees cache_control; its cached tokens are priced at the discount', async () => {
    const r = await postJson(`${sy.url}/v1/messages`, request('gpt'));
    assert.equal(r.status, 200, r.text);
    const body = openai.requests.at(-1).body;
    assert.ok(!body.includes('cache_control'), body);
    const sent = JSON.parse(body);
    assert.equal(sent.messages[0].role, 'system');
    assert.equal(sent.tools[0].function.name, 'lookup');
    assert.equal(r.json.usage.cache_read_input_tokens, 6000);
    // 4,000 plain at $2.50, 6,000 cached at $1.25 (0.5x), 50 out at $10 per 1M.
    const expected = (4000 * 2.5 + 6000 * 1.25 + 50 * 10) / 1e6;
    assert.ok(Math.abs(Number(r.headers.get('x-switchyard-cost-usd')) - expected) < 1e-9, r.headers.get('x-switchyard-cost-usd'));
    // The same from an OpenAI-format client that marks parts with cache_control (LiteLLM's convention).
    const o = await postJson(`${sy.url}/v1/chat/completions`, { model: 'gpt', messages: [{ role: 'user', content: [{ type: 'text', text: 'doc', cache_control: cached }] }] });
    assert.equal(o.status, 200, o.text);
    assert.ok(!openai.requests.at(-1).body.includes('cache_control'));
  });
});
