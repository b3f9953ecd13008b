// type: anthropic end to end: OpenAI clients -> switchyard -> a fake Anthropic Messages API that checks
// the exact request it receives and answers plain, streaming and with tool calls.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { completion, postJson, sseData, startAnsweringUpstream, startSwitchyard, startUpstream } from './lib/harness.mjs';

const sse = (events) => events.map(([name, data]) => `event: ${name}\ndata: ${JSON.stringify(data)}\n\n`).join('');

function message(content, { stop = 'end_turn', usage = { input_tokens: 10, output_tokens: 5 } } = {}) {
  return { id: 'msg_test', type: 'message', role: 'assistant', model: 'claude-sonnet-4-5', content, stop_reason: stop, stop_sequence: null, usage };
}

function streamEvents(blocks, { stop = 'end_turn', error } = {}) {
  const ev = [['message_start', { type: 'message_start', message: { id: 'msg_s', type: 'message', role: 'assistant', content: [], model: 'claude-sonnet-4-5', stop_reason: null, stop_sequence: null, usage: { input_tokens: 21, cache_read_input_tokens: 4, output_tokens: 1 } } }],
    ['ping', { type: 'ping' }]];
  blocks.forEach((b, index) => {
    if (b.text !== undefined) {
      ev.push(['content_block_start', { type: 'content_block_start', index, content_block: { type: 'text', text: '' } }]);
      for (const t of b.text) ev.push(['content_block_delta', { type: 'content_block_delta', index, delta: { type: 'text_delta', text: t } }]);
    } else {
      ev.push(['content_block_start', { type: 'content_block_start', index, content_block: { type: 'tool_use', id: b.id, name: b.name, input: {} } }]);
      for (const p of b.json) ev.push(['content_block_delta', { type: 'content_block_delta', index, delta: { type: 'input_json_delta', partial_json: p } }]);
    }
    ev.push(['content_block_stop', { type: 'content_block_stop', index }]);
  });
  if (error) {
    ev.push(['error', { type: 'error', error }]);
    return sse(ev);
  }
  ev.push(['message_delta', { type: 'message_delta', delta: { stop_reason: stop, stop_sequence: null }, usage: { output_tokens: 9 } }]);
  ev.push(['message_stop', { type: 'message_stop' }]);
  return sse(ev);
}

const weatherTool = { type: 'function', function: { name: 'get_weather', description: 'Weather for a city', parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] } } };

describe('anthropic provider', () => {
  let up, sy, backup;
  // The next answer of the fake Anthropic API: a function of the received request.
  let answer;
  before(async () => {
    up = await startAnsweringUpstream((rec) => answer(rec));
    backup = await startUpstream(async (req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(completion('from the backup')));
    });
    sy = await startSwitchyard(`server: {listen: "127.0.0.1:0", threads: 2}
providers:
  - {name: claude, type: anthropic, base_url: "${up.url}", api_key: "\${ANTHROPIC_KEY}"}
  - {name: backup, type: openai, base_url: "${backup.url}/v1", api_key: sk-backup}
models:
  - name: claude
    deployments: [{provider: claude, model: claude-sonnet-4-5}]
  # Error scenarios get models of their own: a 429 cools its deployment down.
  - {name: claude-overloaded, provider: claude, model: claude-sonnet-4-5}
  - {name: claude-too-long, provider: claude, model: claude-sonnet-4-5}
  - {name: claude-midstream, provider: claude, model: claude-sonnet-4-5}
  - name: with-failover
    deployments:
      - {provider: claude, model: claude-sonnet-4-5, weight: 1000000}
      - {provider: backup, model: gpt-4o-mini, weight: 0.000001}
`, { env: { ANTHROPIC_KEY: 'sk-ant-secret' } });
  });
  after(async () => { await sy?.stop(); await up?.close(); await backup?.close(); });

  test('plain chat: the Messages request is exact and the answer is a chat.completion', async () => {
    answer = () => ({ json: message([{ type: 'text', text: 'Bonjour.' }], { usage: { input_tokens: 10, cache_read_input_tokens: 90, cache_creation_input_tokens: 0, output_tokens: 3 } }) });
    const r = await postJson(`${sy.url}/v1/chat/completions`, {
      model: 'claude', temperature: 0.3, stop: ['STOP'],
      messages: [{ role: 'system', content: 'Answer in French.' }, { role: 'user', content: 'Hello' }],
    });
    assert.equal(r.status, 200, r.text);
    const got = up.requests.at(-1);
    assert.equal(got.method, 'POST');
    assert.equal(got.url, '/v1/messages');
    assert.equal(got.headers['x-api-key'], 'sk-ant-secret');
    assert.equal(got.headers['anthropic-version'], '2023-06-01');
    assert.equal(got.headers['content-type'], 'application/json');
    assert.equal(got.headers.authorization, undefined);
    assert.deepEqual(got.json, {
      model: 'claude-sonnet-4-5', system: 'Answer in French.', messages: [{ role: 'user', content: 'Hello' }],
      max_tokens: 4096, stop_sequences: ['STOP'], temperature: 0.3,
    });
    assert.equal(r.json.object, 'chat.completion');
    assert.equal(r.json.choices[0].message.content, 'Bonjour.');
    assert.equal(r.json.choices[0].finish_reason, 'stop');
    assert.deepEqual(r.json.usage, { prompt_tokens: 100, completion_tokens: 3, total_tokens: 103, prompt_tokens_details: { cached_tokens: 90 } });
  });

  test('streaming: events become chunks; usage only when asked; ends with [DONE]', async () => {
    answer = (rec) => {
      assert.equal(rec.json.stream, true);
      assert.equal(rec.json.stream_options, undefined);
      return { sse: streamEvents([{ text: ['Hel', 'lo'] }]) };
    };
    for (const include of [false, true]) {
      const body = { model: 'claude', stream: true, messages: [{ role: 'user', content: 'hi' }] };
      if (include) body.stream_options = { include_usage: true };
      const r = await postJson(`${sy.url}/v1/chat/completions`, body);
      assert.equal(r.status, 200);
      const data = sseData(r.text);
      assert.equal(data.at(-1), '[DONE]');
      const chunks = data.slice(0, -1).map((d) => JSON.parse(d));
      assert.ok(chunks.every((c) => c.object === 'chat.completion.chunk'));
      assert.equal(chunks[0].choices[0].delta.role, 'assistant');
      assert.equal(chunks.map((c) => c.choices[0]?.delta?.content ?? '').join(''), 'Hello');
      assert.equal(chunks.find((c) => c.choices[0]?.finish_reason).choices[0].finish_reason, 'stop');
      const usage = chunks.find((c) => c.usage);
      if (include) assert.deepEqual(usage.usage, { prompt_tokens: 25, completion_tokens: 9, total_tokens: 34, prompt_tokens_details: { cached_tokens: 4 } });
      else assert.equal(usage, undefined);
    }
  });

  test('tool calls survive the round trip, plain and streaming', async () => {
    // 1. The client offers a tool; the upstream sees it in Anthropic's shape and calls it.
    answer = (rec) => {
      assert.deepEqual(rec.json.tools, [{ name: 'get_weather', description: 'Weather for a city', input_schema: weatherTool.function.parameters }]);
      assert.deepEqual(rec.json.tool_choice, { type: 'auto' });
      return { json: message([{ type: 'text', text: 'Checking.' }, { type: 'tool_use', id: 'toolu_01', name: 'get_weather', input: { city: 'Paris' } }], { stop: 'tool_use' }) };
    };
    const ask = { model: 'claude', tools: [weatherTool], tool_choice: 'auto', messages: [{ role: 'user', content: 'Weather in Paris?' }] };
    const r1 = await postJson(`${sy.url}/v1/chat/completions`, ask);
    assert.equal(r1.status, 200, r1.text);
    const choice = r1.json.choices[0];
    assert.equal(choice.finish_reason, 'tool_calls');
    assert.deepEqual(choice.message.tool_calls, [{ id: 'toolu_01', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } }]);

    // 2. The client sends the result back; the upstream gets tool_use and tool_result blocks.
    answer = (rec) => {
      assert.deepEqual(rec.json.messages, [
        { role: 'user', content: 'Weather in Paris?' },
        { role: 'assistant', content: [{ type: 'text', text: 'Checking.' }, { type: 'tool_use', id: 'toolu_01', name: 'get_weather', input: { city: 'Paris' } }] },
        { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'toolu_01', content: '18C and sunny' }] },
      ]);
      return { json: message([{ type: 'text', text: 'It is 18C.' }]) };
    };
    const r2 = await postJson(`${sy.url}/v1/chat/completions`, {
      ...ask, messages: [...ask.messages, choice.message, { role: 'tool', tool_call_id: 'toolu_01', content: '18C and sunny' }],
    });
    assert.equal(r2.status, 200, r2.text);
    assert.equal(r2.json.choices[0].message.content, 'It is 18C.');

    // 3. Streamed: input_json_delta pieces arrive as tool_calls argument deltas.
    answer = () => ({ sse: streamEvents([{ text: ['Let me see.'] }, { id: 'toolu_02', name: 'get_weather', json: ['{"city": ', '"Paris"}'] }], { stop: 'tool_use' }) });
    const r3 = await postJson(`${sy.url}/v1/chat/completions`, { ...ask, stream: true });
    const chunks = sseData(r3.text).filter((d) => d !== '[DONE]').map((d) => JSON.parse(d));
    const calls = chunks.flatMap((c) => c.choices[0]?.delta?.tool_calls ?? []);
    assert.deepEqual(calls[0], { index: 0, id: 'toolu_02', type: 'function', function: { name: 'get_weather', arguments: '' } });
    assert.equal(calls.map((c) => c.function.arguments).join(''), '{"city": "Paris"}');
    assert.equal(chunks.find((c) => c.choices[0]?.finish_reason).choices[0].finish_reason, 'tool_calls');
  });

  test('errors are classified: overloaded is a rate limit, a long prompt a context-length error', async () => {
    answer = () => ({ status: 529, json: { type: 'error', error: { type: 'overloaded_error', message: 'Overloaded' } } });
    const r1 = await postJson(`${sy.url}/v1/chat/completions`, { model: 'claude-overloaded', messages: [{ role: 'user', content: 'x' }] });
    assert.equal(r1.status, 429);
    assert.equal(r1.json.error.type, 'rate_limit_error');
    assert.equal(r1.json.error.message, 'Overloaded');
    assert.equal(r1.json.error.code, 'rate_limit_exceeded');
    answer = () => ({ status: 400, json: { type: 'error', error: { type: 'invalid_request_error', message: 'prompt is too long: 210000 tokens > 200000 maximum' } } });
    const r2 = await postJson(`${sy.url}/v1/chat/completions`, { model: 'claude-too-long', messages: [{ role: 'user', content: 'x' }] });
    assert.equal(r2.status, 400);
    assert.match(r2.json.error.message, /prompt is too long/);
    assert.equal(r2.json.error.code, 'context_length_exceeded');
  });

  test('an overloaded Anthropic deployment fails over to the next one', async () => {
    answer = () => ({ status: 529, json: { type: 'error', error: { type: 'overloaded_error', message: 'Overloaded' } } });
    const r = await postJson(`${sy.url}/v1/chat/completions`, { model: 'with-failover', messages: [{ role: 'user', content: 'x' }] });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.choices[0].message.content, 'from the backup');
    assert.equal(r.headers.get('x-switchyard-attempts'), '2');
  });

  test('an error event mid-stream ends the stream with an error', async () => {
    answer = () => ({ sse: streamEvents([{ text: ['Partial'] }], { error: { type: 'overloaded_error', message: 'Overloaded' } }) });
    const r = await postJson(`${sy.url}/v1/chat/completions`, { model: 'claude-midstream', stream: true, messages: [{ role: 'user', content: 'x' }] });
    assert.equal(r.status, 200);
    const data = sseData(r.text);
    assert.equal(data.map((d) => (d.startsWith('{') ? JSON.parse(d).choices?.[0]?.delta?.content ?? '' : '')).join(''), 'Partial');
    const last = JSON.parse(data.at(-1));
    assert.equal(last.error.type, 'rate_limit_error');
    assert.match(last.error.message, /Overloaded/);
  });
});
