// type: gemini end to end, through Gemini's OpenAI-compatible endpoint: path, Bearer key, streaming
// with usage, tool calls, and Google's array-wrapped error bodies.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { postJson, sseData, startAnsweringUpstream, startSwitchyard } from './lib/harness.mjs';

const frame = (o) => `data: ${JSON.stringify(o)}\n\n`;
const chunk = (delta, finish = null, usage) => frame({ id: 'g1', object: 'chat.completion.chunk', created: 1750000000, model: 'gemini-2.5-flash', choices: [{ index: 0, delta, finish_reason: finish }], ...(usage ? { usage } : {}) });
const tool = { type: 'function', function: { name: 'get_weather', parameters: { type: 'object', properties: { city: { type: 'string' } } } } };

describe('gemini provider (OpenAI-compatible endpoint)', () => {
  let up, sy, answer;
  before(async () => {
    up = await startAnsweringUpstream((rec) => answer(rec));
    // A base_url without a path gets /v1beta/openai, as for https://generativelanguage.googleapis.com.
    sy = await startSwitchyard(`server: {listen: "127.0.0.1:0", threads: 2}
providers:
  - {name: google, type: gemini, base_url: "${up.url}", api_key: "\${GEMINI_API_KEY}"}
models:
  - {name: flash, provider: google, model: gemini-2.5-flash}
  # Error scenarios get models of their own: a 429 cools its deployment down, a refused key takes it out.
  - {name: flash-limited, provider: google, model: gemini-2.5-flash}
  - {name: flash-bad-key, provider: google, model: gemini-2.5-flash}
`, { env: { GEMINI_API_KEY: 'AIza-secret' } });
  });
  after(async () => { await sy?.stop(); await up?.close(); });

  test('plain chat and tool calls in OpenAI shape at /v1beta/openai', async () => {
    answer = (rec) => {
      assert.equal(rec.url, '/v1beta/openai/chat/completions');
      assert.equal(rec.headers.authorization, 'Bearer AIza-secret');
      assert.equal(rec.json.model, 'gemini-2.5-flash');
      assert.deepEqual(rec.json.tools, [tool]);
      return { json: { id: 'g0', object: 'chat.completion', created: 1, model: 'gemini-2.5-flash',
        choices: [{ index: 0, finish_reason: 'tool_calls', message: { role: 'assistant', tool_calls: [{ id: 'call_g', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } }] } }],
        usage: { prompt_tokens: 10, completion_tokens: 5, total_tokens: 15 } } };
    };
    const r = await postJson(`${sy.url}/v1/chat/completions`, { model: 'flash', tools: [tool], messages: [{ role: 'user', content: 'Weather?' }] });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.choices[0].message.tool_calls[0].function.arguments, '{"city":"Paris"}');
    answer = (rec) => {
      assert.deepEqual(rec.json.messages.at(-1), { role: 'tool', tool_call_id: 'call_g', content: '18C' });
      return { json: { id: 'g1', object: 'chat.completion', created: 1, model: 'gemini-2.5-flash', choices: [{ index: 0, finish_reason: 'stop', message: { role: 'assistant', content: '18C in Paris.' } }] } };
    };
    const r2 = await postJson(`${sy.url}/v1/chat/completions`, { model: 'flash', tools: [tool], messages: [{ role: 'user', content: 'Weather?' }, r.json.choices[0].message, { role: 'tool', tool_call_id: 'call_g', content: '18C' }] });
    assert.equal(r2.json.choices[0].message.content, '18C in Paris.');
  });

  test('streaming asks for usage and hides it from clients that did not', async () => {
    answer = (rec) => {
      assert.deepEqual(rec.json.stream_options, { include_usage: true });
      return { sse: chunk({ role: 'assistant', content: 'Hel' }) + chunk({ content: 'lo' }, 'stop') + frame({ id: 'g1', object: 'chat.completion.chunk', created: 1, model: 'gemini-2.5-flash', choices: [], usage: { prompt_tokens: 3, completion_tokens: 2, total_tokens: 5 } }) + 'data: [DONE]\n\n' };
    };
    const r = await postJson(`${sy.url}/v1/chat/completions`, { model: 'flash', stream: true, messages: [{ role: 'user', content: 'hi' }] });
    const data = sseData(r.text);
    assert.equal(data.at(-1), '[DONE]');
    assert.equal(data.slice(0, -1).map((d) => JSON.parse(d).choices[0]?.delta?.content ?? '').join(''), 'Hello');
    assert.ok(!data.some((d) => d.includes('"usage"')));
  });

  test("Google's error arrays are classified, with the retry delay kept", async () => {
    answer = () => ({ status: 429, json: [{ error: { code: 429, message: 'Resource has been exhausted (e.g. check quota).', status: 'RESOURCE_EXHAUSTED',
      details: [{ '@type': 'type.googleapis.com/google.rpc.RetryInfo', retryDelay: '12s' }] } }] });
    const r = await postJson(`${sy.url}/v1/chat/completions`, { model: 'flash-limited', messages: [{ role: 'user', content: 'x' }] });
    assert.equal(r.status, 429);
    assert.equal(r.json.error.message, 'Resource has been exhausted (e.g. check quota).');
    assert.equal(r.headers.get('retry-after'), '12');

    answer = () => ({ status: 400, json: [{ error: { code: 400, message: 'API key not valid. Please pass a valid API key.', status: 'INVALID_ARGUMENT' } }] });
    const bad = await postJson(`${sy.url}/v1/chat/completions`, { model: 'flash-bad-key', messages: [{ role: 'user', content: 'x' }] });
    assert.equal(bad.status, 502, 'our key being refused is a gateway fault');
    assert.equal(bad.json.error.code, 'upstream_auth_failed');
  });
});
