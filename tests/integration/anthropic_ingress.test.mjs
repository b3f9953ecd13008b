// Anthropic-format ingress: the official @anthropic-ai/sdk client calls POST /v1/messages on the proxy,
// which serves it from an OpenAI-compatible upstream. Needs the /v1/messages route wired in the server
// (src/server/api.cpp) to include/switchyard/providers/anthropic_ingress.hpp.
import Anthropic from '@anthropic-ai/sdk';
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { startAnsweringUpstream, startSwitchyard } from './lib/harness.mjs';

const frame = (o) => `data: ${JSON.stringify(o)}\n\n`;
const chunk = (delta, finish = null) => frame({ id: 'chatcmpl-in', object: 'chat.completion.chunk', created: 1700000000, model: 'gpt-4o-mini', choices: [{ index: 0, delta, finish_reason: finish }] });
const usageChunk = frame({ id: 'chatcmpl-in', object: 'chat.completion.chunk', created: 1700000000, model: 'gpt-4o-mini', choices: [], usage: { prompt_tokens: 40, completion_tokens: 6, total_tokens: 46, prompt_tokens_details: { cached_tokens: 8 } } });
const completion = (message, finish = 'stop') => ({
  id: 'chatcmpl-in', object: 'chat.completion', created: 1700000000, model: 'gpt-4o-mini',
  choices: [{ index: 0, message: { role: 'assistant', ...message }, finish_reason: finish, logprobs: null }],
  usage: { prompt_tokens: 20, completion_tokens: 4, total_tokens: 24, prompt_tokens_details: { cached_tokens: 0 } },
});
const weather = { name: 'get_weather', description: 'Weather for a city', input_schema: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] } };

describe('Anthropic SDK against POST /v1/messages', () => {
  let up, sy, client, answer;
  before(async () => {
    up = await startAnsweringUpstream((rec) => answer(rec));
    sy = await startSwitchyard(`server: {listen: "127.0.0.1:0", threads: 2}
providers:
  - {name: oai, type: openai, base_url: "${up.url}/v1", api_key: sk-upstream}
models:
  - {name: claude-house, provider: oai, model: gpt-4o-mini}
`);
    client = new Anthropic({ baseURL: sy.url, apiKey: 'sk-ant-client', maxRetries: 0 });
  });
  after(async () => { await sy?.stop(); await up?.close(); });

  test('messages.create: the upstream gets an OpenAI chat request, the client an Anthropic message', async () => {
    answer = () => ({ json: completion({ content: 'Bonjour !' }) });
    const msg = await client.messages.create({
      model: 'claude-house', max_tokens: 256, system: 'Answer in French.', temperature: 0.5, stop_sequences: ['END'],
      messages: [{ role: 'user', content: 'Hello' }],
    });
    const got = up.requests.at(-1);
    assert.equal(got.url, '/v1/chat/completions');
    assert.deepEqual(got.json, {
      model: 'gpt-4o-mini',
      messages: [{ role: 'system', content: 'Answer in French.' }, { role: 'user', content: 'Hello' }],
      max_tokens: 256, stop: ['END'], temperature: 0.5,
    });
    assert.equal(msg.type, 'message');
    assert.equal(msg.role, 'assistant');
    assert.deepEqual(msg.content, [{ type: 'text', text: 'Bonjour !' }]);
    assert.equal(msg.stop_reason, 'end_turn');
    assert.equal(msg.usage.input_tokens, 20);
    assert.equal(msg.usage.output_tokens, 4);
  });

  test('messages.stream: text deltas, final message with stop_reason and usage', async () => {
    answer = (rec) => {
      assert.equal(rec.json.stream, true);
      assert.deepEqual(rec.json.stream_options, { include_usage: true });
      return { sse: chunk({ role: 'assistant', content: '' }) + chunk({ content: 'Hel' }) + chunk({ content: 'lo!' }) + chunk({}, 'length') + usageChunk + 'data: [DONE]\n\n' };
    };
    const stream = client.messages.stream({ model: 'claude-house', max_tokens: 5, messages: [{ role: 'user', content: 'Hi' }] });
    const deltas = [];
    stream.on('text', (t) => deltas.push(t));
    const final = await stream.finalMessage();
    assert.deepEqual(deltas, ['Hel', 'lo!']);
    assert.deepEqual(final.content, [{ type: 'text', text: 'Hello!' }]);
    assert.equal(final.stop_reason, 'max_tokens');
    assert.equal(final.usage.output_tokens, 6);
    assert.equal(final.usage.input_tokens, 32);
    assert.equal(final.usage.cache_read_input_tokens, 8);
  });

  test('tool use round trip, plain and streaming', async () => {
    answer = (rec) => {
      assert.deepEqual(rec.json.tools, [{ type: 'function', function: { name: 'get_weather', description: 'Weather for a city', parameters: weather.input_schema } }]);
      assert.equal(rec.json.tool_choice, 'auto');
      return { json: completion({ content: 'Checking.', tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } }] }, 'tool_calls') };
    };
    const ask = { model: 'claude-house', max_tokens: 100, tools: [weather], tool_choice: { type: 'auto' }, messages: [{ role: 'user', content: 'Weather in Paris?' }] };
    const first = await client.messages.create(ask);
    assert.equal(first.stop_reason, 'tool_use');
    assert.deepEqual(first.content, [{ type: 'text', text: 'Checking.' }, { type: 'tool_use', id: 'call_1', name: 'get_weather', input: { city: 'Paris' } }]);

    answer = (rec) => {
      assert.deepEqual(rec.json.messages.slice(1), [
        { role: 'assistant', content: 'Checking.', tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } }] },
        { role: 'tool', tool_call_id: 'call_1', content: '18C' },
      ]);
      return { json: completion({ content: 'It is 18C.' }) };
    };
    const second = await client.messages.create({ ...ask, messages: [...ask.messages, { role: 'assistant', content: first.content },
      { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'call_1', content: '18C' }] }] });
    assert.deepEqual(second.content, [{ type: 'text', text: 'It is 18C.' }]);

    answer = () => ({ sse: chunk({ role: 'assistant', content: null, tool_calls: [{ index: 0, id: 'call_2', type: 'function', function: { name: 'get_weather', arguments: '' } }] })
      + chunk({ tool_calls: [{ index: 0, function: { arguments: '{"city":' } }] }) + chunk({ tool_calls: [{ index: 0, function: { arguments: '"Oslo"}' } }] })
      + chunk({}, 'tool_calls') + usageChunk + 'data: [DONE]\n\n' });
    const final = await client.messages.stream(ask).finalMessage();
    assert.equal(final.stop_reason, 'tool_use');
    assert.deepEqual(final.content, [{ type: 'tool_use', id: 'call_2', name: 'get_weather', input: { city: 'Oslo' } }]);
  });

  test('errors come back as Anthropic errors the SDK types', async () => {
    answer = () => ({ status: 429, json: { error: { message: 'Rate limit reached', type: 'requests', code: 'rate_limit_exceeded' } } });
    await assert.rejects(client.messages.create({ model: 'claude-house', max_tokens: 10, messages: [{ role: 'user', content: 'x' }] }), (e) => {
      assert.ok(e instanceof Anthropic.RateLimitError);
      assert.equal(e.status, 429);
      assert.equal(e.error.type, 'error');
      assert.equal(e.error.error.type, 'rate_limit_error');
      assert.match(e.error.error.message, /Rate limit reached/);
      return true;
    });
    await assert.rejects(client.messages.create({ model: 'no-such-model', max_tokens: 10, messages: [{ role: 'user', content: 'x' }] }), (e) => {
      assert.ok(e instanceof Anthropic.NotFoundError);
      assert.equal(e.error.error.type, 'not_found_error');
      return true;
    });
  });
});
