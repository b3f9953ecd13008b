// type: azure end to end: deployment URLs, api-key auth, filter annotations, content-filter errors.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { postJson, sseData, startAnsweringUpstream, startSwitchyard } from './lib/harness.mjs';

const SAFE = { hate: { filtered: false, severity: 'safe' }, violence: { filtered: false, severity: 'safe' } };
const HIT = { hate: { filtered: false, severity: 'safe' }, violence: { filtered: true, severity: 'high' } };
const promptFilter = [{ prompt_index: 0, content_filter_results: SAFE }];

function azureCompletion(message, finish = 'stop', cfr = SAFE) {
  return {
    id: 'chatcmpl-az', object: 'chat.completion', created: 1730000000, model: 'gpt-4o-2024-08-06', prompt_filter_results: promptFilter,
    choices: [{ index: 0, finish_reason: finish, logprobs: null, message: { role: 'assistant', ...message }, content_filter_results: cfr }],
    usage: { prompt_tokens: 9, completion_tokens: 4, total_tokens: 13 },
  };
}
const frame = (o) => `data: ${JSON.stringify(o)}\n\n`;
const chunk = (delta, finish = null, cfr = SAFE) => frame({ id: 'chatcmpl-az', object: 'chat.completion.chunk', created: 1730000000, model: 'gpt-4o-2024-08-06', choices: [{ index: 0, delta, finish_reason: finish, content_filter_results: cfr }] });
const filterChunk = frame({ id: '', object: '', created: 0, model: '', choices: [], prompt_filter_results: promptFilter });

const tool = { type: 'function', function: { name: 'lookup', parameters: { type: 'object', properties: { q: { type: 'string' } } } } };

describe('azure provider', () => {
  let up, sy, answer;
  before(async () => {
    up = await startAnsweringUpstream((rec) => answer(rec));
    sy = await startSwitchyard(`server: {listen: "127.0.0.1:0", threads: 2}
providers:
  - name: contoso
    type: azure
    base_url: ${up.url}
    api_key: \${AZURE_OPENAI_API_KEY}
  - name: contoso-preview
    type: azure
    base_url: ${up.url}/openai
    api_key: \${AZURE_OPENAI_API_KEY}
    options: {api_version: 2025-04-01-preview}
models:
  - {name: gpt-4o, provider: contoso, model: gpt-4o-prod}
  # A 429 cools its deployment down: the rate-limit scenario gets a model of its own.
  - {name: gpt-4o-limited, provider: contoso, model: gpt-4o-prod}
  - {name: embed, provider: contoso-preview, model: text-embedding-3-large}
`, { env: { AZURE_OPENAI_API_KEY: 'azure-secret' } });
  });
  after(async () => { await sy?.stop(); await up?.close(); });

  test('plain chat: deployment URL, api-version, api-key; the answer passes through', async () => {
    answer = () => ({ json: azureCompletion({ content: 'Hello from Azure' }) });
    const r = await postJson(`${sy.url}/v1/chat/completions`, { model: 'gpt-4o', messages: [{ role: 'user', content: 'Hi' }], temperature: 0.1 });
    assert.equal(r.status, 200, r.text);
    const got = up.requests.at(-1);
    assert.equal(got.url, '/openai/deployments/gpt-4o-prod/chat/completions?api-version=2024-10-21');
    assert.equal(got.headers['api-key'], 'azure-secret');
    assert.equal(got.headers.authorization, undefined);
    assert.deepEqual(got.json, { model: 'gpt-4o-prod', messages: [{ role: 'user', content: 'Hi' }], temperature: 0.1 });
    assert.equal(r.json.choices[0].message.content, 'Hello from Azure');
    assert.equal(Number(r.headers.get('x-switchyard-attempts')), 1);
  });

  test('streaming: usage requested upstream, filter-only chunks dropped, [DONE] at the end', async () => {
    answer = (rec) => {
      assert.deepEqual(rec.json.stream_options, { include_usage: true });
      return { sse: filterChunk + chunk({ role: 'assistant', content: '' }, null, {}) + chunk({ content: 'Hel' }) + chunk({ content: 'lo' }) + chunk({}, 'stop', {})
        + frame({ id: 'chatcmpl-az', object: 'chat.completion.chunk', created: 1, model: 'gpt-4o', choices: [], usage: { prompt_tokens: 9, completion_tokens: 2, total_tokens: 11 } }) + 'data: [DONE]\n\n' };
    };
    const r = await postJson(`${sy.url}/v1/chat/completions`, { model: 'gpt-4o', stream: true, messages: [{ role: 'user', content: 'Hi' }] });
    assert.equal(r.status, 200);
    const data = sseData(r.text);
    assert.equal(data.at(-1), '[DONE]');
    const chunks = data.slice(0, -1).map((d) => JSON.parse(d));
    assert.ok(chunks.every((c) => c.choices.length === 1), 'no empty-choices chunks reach the client');
    assert.equal(chunks.map((c) => c.choices[0].delta.content ?? '').join(''), 'Hello');
  });

  test('tool calls and results pass through in OpenAI shape', async () => {
    answer = (rec) => {
      assert.deepEqual(rec.json.tools, [tool]);
      return { json: azureCompletion({ content: null, tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'lookup', arguments: '{"q":"x"}' } }] }, 'tool_calls') };
    };
    const ask = { model: 'gpt-4o', tools: [tool], messages: [{ role: 'user', content: 'look up x' }] };
    const r1 = await postJson(`${sy.url}/v1/chat/completions`, ask);
    const msg = r1.json.choices[0].message;
    assert.equal(msg.tool_calls[0].function.arguments, '{"q":"x"}');
    answer = (rec) => {
      assert.deepEqual(rec.json.messages.at(-1), { role: 'tool', tool_call_id: 'call_1', content: 'found' });
      return { json: azureCompletion({ content: 'done' }) };
    };
    const r2 = await postJson(`${sy.url}/v1/chat/completions`, { ...ask, messages: [...ask.messages, msg, { role: 'tool', tool_call_id: 'call_1', content: 'found' }] });
    assert.equal(r2.json.choices[0].message.content, 'done');
  });

  test('a filtered prompt (400 content_filter) and a fully filtered completion are content_filter errors', async () => {
    answer = () => ({ status: 400, json: { error: { message: "The response was filtered due to the prompt triggering Azure OpenAI's content management policy.", type: null, param: 'prompt', code: 'content_filter', status: 400,
      innererror: { code: 'ResponsibleAIPolicyViolation', content_filter_result: HIT } } } });
    const r1 = await postJson(`${sy.url}/v1/chat/completions`, { model: 'gpt-4o', messages: [{ role: 'user', content: 'bad' }] });
    assert.equal(r1.status, 400);
    assert.equal(r1.json.error.code, 'content_filter');
    assert.match(r1.json.error.message, /content management policy/);

    answer = () => ({ json: azureCompletion({ content: null }, 'content_filter', HIT) });
    const r2 = await postJson(`${sy.url}/v1/chat/completions`, { model: 'gpt-4o', messages: [{ role: 'user', content: 'bad' }] });
    assert.equal(r2.status, 400);
    assert.equal(r2.json.error.code, 'content_filter');
    assert.match(r2.json.error.message, /violence \(high\)/);

    answer = () => ({ sse: filterChunk + chunk({ role: 'assistant', content: '' }, null, {}) + chunk({}, 'content_filter', HIT) + 'data: [DONE]\n\n' });
    const r3 = await postJson(`${sy.url}/v1/chat/completions`, { model: 'gpt-4o', stream: true, messages: [{ role: 'user', content: 'bad' }] });
    assert.equal(r3.status, 400, 'a stream blocked before any content fails before committing');
    assert.equal(r3.json.error.code, 'content_filter');
  });

  test('rate limits keep the retry hint; embeddings use the configured api-version', async () => {
    answer = () => ({ status: 429, headers: { 'retry-after-ms': '1500', 'retry-after': '2' }, json: { error: { code: '429', message: 'Requests to the ChatCompletions_Create Operation have exceeded token rate limit.' } } });
    const r = await postJson(`${sy.url}/v1/chat/completions`, { model: 'gpt-4o-limited', messages: [{ role: 'user', content: 'x' }] });
    assert.equal(r.status, 429);
    assert.equal(r.headers.get('retry-after-ms'), '1500');
    assert.equal(r.json.error.type, 'rate_limit_error');
    assert.match(r.json.error.message, /token rate limit/);

    answer = () => ({ json: { object: 'list', data: [{ object: 'embedding', index: 0, embedding: [0.5] }], model: 'text-embedding-3-large', usage: { prompt_tokens: 1, total_tokens: 1 } } });
    const e = await postJson(`${sy.url}/v1/embeddings`, { model: 'embed', input: 'hi' });
    assert.equal(e.status, 200, e.text);
    assert.equal(up.requests.at(-1).url, '/openai/deployments/text-embedding-3-large/embeddings?api-version=2025-04-01-preview');
    assert.deepEqual(e.json.data[0].embedding, [0.5]);
  });
});
