// Ecosystem client libraries from npm against the proxy: LangChain.js (`@langchain/openai` ChatOpenAI, chat
// completions and `useResponsesApi`) and the Vercel AI SDK (`ai` + `@ai-sdk/openai`: `openai.chat(...)` for
// chat completions, `openai(...)` for the Responses API). Plain chat, streaming, a function tool round trip
// and structured output through each; the fake upstream speaks chat completions and records what it got.
// Nothing reaches the internet: every fetch to a non-loopback host is refused and counted.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { createOpenAI } from '@ai-sdk/openai';
import { AIMessage, HumanMessage, SystemMessage } from '@langchain/core/messages';
import { tool as lcTool } from '@langchain/core/tools';
import { concat } from '@langchain/core/utils/stream';
import { ChatOpenAI, OpenAIEmbeddings } from '@langchain/openai';
import { APICallError, embedMany, generateText, Output, stepCountIs, streamText, tool as aiTool } from 'ai';
import { z } from 'zod';

import { startSwitchyard, startUpstream } from './lib/harness.mjs';

// No tracing, telemetry or credentials from the environment.
for (const k of ['LANGCHAIN_TRACING_V2', 'LANGSMITH_TRACING_V2', 'LANGCHAIN_TRACING', 'LANGSMITH_TRACING']) process.env[k] = 'false';
for (const k of ['LANGCHAIN_API_KEY', 'LANGSMITH_API_KEY', 'LANGCHAIN_ENDPOINT', 'LANGSMITH_ENDPOINT', 'OPENAI_API_KEY', 'OPENAI_BASE_URL', 'AI_GATEWAY_API_KEY']) delete process.env[k];
globalThis.AI_SDK_LOG_WARNINGS = false;

// Every fetch goes through here: loopback only.
const offline = [];
const realFetch = globalThis.fetch;
globalThis.fetch = (input, init) => {
  const url = new URL(typeof input === 'string' || input instanceof URL ? input : input.url);
  if (url.hostname !== '127.0.0.1' && url.hostname !== 'localhost') {
    offline.push(url.href);
    return Promise.reject(new TypeError(`test is offline: refused fetch to ${url.href}`));
  }
  return realFetch(input, init);
};

// What the clients sent to the proxy and the headers it answered with (the libraries take this as `fetch`).
const calls = [];
async function clientFetch(input, init) {
  const url = typeof input === 'string' || input instanceof URL ? String(input) : input.url;
  const res = await globalThis.fetch(input, init);
  calls.push({ path: new URL(url).pathname, body: typeof init?.body === 'string' ? JSON.parse(init.body) : undefined, status: res.status, headers: res.headers });
  return res;
}

const REPORT = { city: 'Paris', temperature: 18 };
const Report = z.object({ city: z.string(), temperature: z.number() });
const USAGE = { prompt_tokens: 11, completion_tokens: 7, total_tokens: 18 };
const weatherOf = async ({ city }) => `18C and sunny in ${city}`;

// The upstream's answer to a chat request: a final text once a tool result came back; a call of the
// (forced or first) tool when tools are offered, after a sentence when the prompt says "think aloud"; the
// report as JSON for a response_format; else a greeting.
function decide(body) {
  const results = body.messages.filter((m) => m.role === 'tool');
  if (results.length) return { content: `The weather: ${results.at(-1).content}` };
  if (body.tools?.length) {
    const name = body.tool_choice?.function?.name ?? body.tools[0].function.name;
    const preamble = JSON.stringify(body.messages[0]).includes('think aloud') ? 'Let me check.' : null;
    return { content: preamble, tool_calls: [{ id: 'call_1', name, arguments: JSON.stringify(name === 'get_weather' ? { city: 'Paris' } : REPORT) }] };
  }
  if (body.response_format && body.response_format.type !== 'text') return { content: JSON.stringify(REPORT) };
  return { content: 'Hello from upstream' };
}

function chatStream(body, a) {
  const frame = (delta, finish = null) => `data: ${JSON.stringify({ id: 'chatcmpl-eco', object: 'chat.completion.chunk', created: 1700000000, model: body.model, choices: [{ index: 0, delta, finish_reason: finish }] })}\n\n`;
  let out = frame({ role: 'assistant', content: '' });
  for (const piece of a.content?.match(/\S+\s*/g) ?? []) out += frame({ content: piece });
  (a.tool_calls ?? []).forEach((c, index) => {
    out += frame({ tool_calls: [{ index, id: c.id, type: 'function', function: { name: c.name, arguments: '' } }] });
    const half = Math.floor(c.arguments.length / 2);
    out += frame({ tool_calls: [{ index, function: { arguments: c.arguments.slice(0, half) } }] });
    out += frame({ tool_calls: [{ index, function: { arguments: c.arguments.slice(half) } }] });
  });
  out += frame({}, a.tool_calls ? 'tool_calls' : 'stop');
  if (body.stream_options?.include_usage) out += `data: ${JSON.stringify({ id: 'chatcmpl-eco', object: 'chat.completion.chunk', created: 1700000000, model: body.model, choices: [], usage: USAGE })}\n\n`;
  return `${out}data: [DONE]\n\n`;
}

function chatCompletion(body, a) {
  const message = { role: 'assistant', content: a.content };
  if (a.tool_calls) message.tool_calls = a.tool_calls.map((c) => ({ id: c.id, type: 'function', function: { name: c.name, arguments: c.arguments } }));
  return { id: 'chatcmpl-eco', object: 'chat.completion', created: 1700000000, model: body.model,
    choices: [{ index: 0, message, finish_reason: a.tool_calls ? 'tool_calls' : 'stop', logprobs: null }], usage: USAGE };
}

let up, sy;
before(async () => {
  up = await startUpstream(async (req, res, rec) => {
    if (rec.url === '/v1/embeddings') {
      // Vectors [i, 1, 0.5] per input, as floats or (when asked) as base64 float32 like OpenAI's.
      const inputs = [rec.json.input].flat();
      const vector = (i) => (rec.json.encoding_format === 'base64' ? Buffer.from(new Float32Array([i, 1, 0.5]).buffer).toString('base64') : [i, 1, 0.5]);
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ object: 'list', model: rec.json.model, data: inputs.map((_, i) => ({ object: 'embedding', index: i, embedding: vector(i) })), usage: { prompt_tokens: 4, total_tokens: 4 } }));
      return;
    }
    const a = decide(rec.json);
    res.writeHead(200, { 'content-type': rec.json.stream ? 'text/event-stream' : 'application/json' });
    res.end(rec.json.stream ? chatStream(rec.json, a) : JSON.stringify(chatCompletion(rec.json, a)));
  });
  sy = await startSwitchyard(`server: {listen: "127.0.0.1:0", threads: 2}
providers: [{name: up, type: openai, base_url: "${up.url}/v1", api_key: sk-upstream}]
models:
  - {name: gpt-4o-mini, provider: up, model: up-small, input_price: 1, output_price: 2}
  - {name: gpt-4o, provider: up, model: up-large, input_price: 5, output_price: 10}
  - {name: gpt-5-mini, provider: up, model: up-reasoning, input_price: 1, output_price: 2}
  - {name: text-embedding-3-small, provider: up, model: up-embed, input_price: 0.02}
routers:
  - name: auto
    default: gpt-4o-mini
    tiers: {smart: gpt-4o}
    stages:
      - type: rule
        name: guard
        rules:
          - {name: tools, when: {has_tools: true}, route: smart}
`);
});
after(async () => { await sy?.stop(); await up?.close(); });

/** Runs `fn` and returns the upstream requests and client calls it made. */
async function recorded(fn) {
  const u = up.requests.length, c = calls.length;
  const value = await fn();
  return { value, sent: up.requests.slice(u), calls: calls.slice(c) };
}

/** The upstream request as a chat request for `model`, from the proxy's key, not the client's. */
function assertUpstream(rec, model) {
  assert.equal(rec.url, '/v1/chat/completions');
  assert.equal(rec.json.model, model);
  assert.equal(rec.headers.authorization, 'Bearer sk-upstream');
}

/**
 * The proxy's headers on a call answered by `model`. A stream's cost is not known when its headers go out
 * (README: "for streams it is in the access log"), so only whole answers carry x-switchyard-cost-usd.
 */
function assertRouted(call, path, model = 'gpt-4o-mini') {
  assert.equal(call.path, path);
  assert.equal(call.status, 200);
  assert.equal(call.headers.get('x-switchyard-model'), model);
  assert.equal(call.headers.get('x-switchyard-deployment'), `${model}/up/0`);
  assert.match(call.headers.get('x-request-id') ?? '', /^req_/);
  if (call.body?.stream) {
    assert.equal(call.headers.get('content-type'), 'text/event-stream');
    assert.equal(call.headers.get('x-switchyard-cost-usd'), null);
  } else {
    assert.ok(Number(call.headers.get('x-switchyard-cost-usd')) > 0, `cost header: ${call.headers.get('x-switchyard-cost-usd')}`);
  }
}

/** The headers of a call routed by the `auto` router's tools rule. */
function assertToolsRule(call, path) {
  assertRouted(call, path, 'gpt-4o');
  assert.equal(call.headers.get('x-switchyard-router'), 'auto');
  assert.equal(call.headers.get('x-switchyard-stage'), 'guard');
  assert.match(call.headers.get('x-switchyard-reason'), /tools/);
}

const weatherParams = (params) => {
  assert.equal(params.type, 'object');
  assert.deepEqual(params.properties.city, { type: 'string', description: 'City name' });
  assert.deepEqual(params.required, ['city']);
};

// --- LangChain.js -----------------------------------------------------------------------------------

describe('LangChain ChatOpenAI', () => {
  const chat = (fields = {}) => new ChatOpenAI({
    model: 'gpt-4o-mini', apiKey: 'sk-dummy-client', maxRetries: 0,
    configuration: { baseURL: `${sy.url}/v1`, fetch: clientFetch }, ...fields,
  });
  const weather = lcTool(weatherOf, { name: 'get_weather', description: 'Weather for a city', schema: z.object({ city: z.string().describe('City name') }) });

  for (const api of ['chat completions', 'responses']) {
    const useResponsesApi = api === 'responses';
    const path = useResponsesApi ? '/v1/responses' : '/v1/chat/completions';

    describe(api, () => {
      test('invoke', async () => {
        const { value: ai, sent, calls: cs } = await recorded(() => chat({ useResponsesApi }).invoke([new SystemMessage('Be brief.'), new HumanMessage('Hi')]));
        assert.equal(ai.text, 'Hello from upstream');
        assert.equal(ai.usage_metadata.input_tokens, 11);
        assert.equal(ai.usage_metadata.output_tokens, 7);
        assert.equal(ai.usage_metadata.total_tokens, 18);
        assert.equal(sent.length, 1);
        assertUpstream(sent[0], 'up-small');
        assert.deepEqual(sent[0].json.messages, [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'Hi' }]);
        assert.equal(cs.length, 1);
        assertRouted(cs[0], path);
      });

      test('stream', async () => {
        const { value: chunks, sent, calls: cs } = await recorded(async () => {
          const out = [];
          for await (const c of await chat({ useResponsesApi }).stream('Stream please')) out.push(c);
          return out;
        });
        const final = chunks.reduce((a, b) => concat(a, b));
        assert.equal(final.text, 'Hello from upstream');
        assert.ok(chunks.filter((c) => c.text).length >= 3, `text arrived in pieces: ${JSON.stringify(chunks.map((c) => c.text))}`);
        assert.equal(final.usage_metadata?.output_tokens, 7);
        assertUpstream(sent[0], 'up-small');
        assert.equal(sent[0].json.stream, true);
        assert.deepEqual(sent[0].json.stream_options, { include_usage: true });
        assert.deepEqual(sent[0].json.messages, [{ role: 'user', content: 'Stream please' }]);
        assertRouted(cs[0], path);
      });

      test('a tool call, its result and the final answer (through the auto router)', async () => {
        const model = chat({ model: 'auto', useResponsesApi }).bindTools([weather]);
        const question = new HumanMessage('Weather in Paris?');
        const { value: first, sent: s1, calls: c1 } = await recorded(() => model.invoke([question]));
        assert.equal(first.tool_calls.length, 1);
        assert.equal(first.tool_calls[0].name, 'get_weather');
        assert.equal(first.tool_calls[0].id, 'call_1');
        assert.deepEqual(first.tool_calls[0].args, { city: 'Paris' });
        assertUpstream(s1[0], 'up-large');
        assert.equal(s1[0].json.tools.length, 1);
        assert.equal(s1[0].json.tools[0].type, 'function');
        assert.equal(s1[0].json.tools[0].function.name, 'get_weather');
        assert.equal(s1[0].json.tools[0].function.description, 'Weather for a city');
        weatherParams(s1[0].json.tools[0].function.parameters);
        assertToolsRule(c1[0], path);

        const result = await weather.invoke(first.tool_calls[0]);
        const { value: final, sent: s2 } = await recorded(() => model.invoke([question, first, result]));
        assert.equal(final.text, 'The weather: 18C and sunny in Paris');
        assert.deepEqual(final.tool_calls, []);
        assertUpstream(s2[0], 'up-large');
        assert.deepEqual(s2[0].json.messages, [
          { role: 'user', content: 'Weather in Paris?' },
          { role: 'assistant', content: useResponsesApi ? null : '', tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } }] },
          // Chat completions mode also names the tool on the tool message (an extra field upstreams accept).
          { role: 'tool', tool_call_id: 'call_1', content: '18C and sunny in Paris', ...(useResponsesApi ? {} : { name: 'get_weather' }) },
        ]);
      });

      test('a streamed tool call', async () => {
        const model = chat({ model: 'auto', useResponsesApi }).bindTools([weather]);
        const { value: chunks, sent, calls: cs } = await recorded(async () => {
          const out = [];
          for await (const c of await model.stream('Weather in Paris?')) out.push(c);
          return out;
        });
        const final = chunks.reduce((a, b) => concat(a, b));
        assert.equal(final.tool_calls.length, 1);
        assert.equal(final.tool_calls[0].name, 'get_weather');
        assert.equal(final.tool_calls[0].id, 'call_1');
        assert.deepEqual(final.tool_calls[0].args, { city: 'Paris' });
        assert.equal(sent[0].json.stream, true);
        assertToolsRule(cs[0], path);
      });

      test('withStructuredOutput (json_schema, the default)', async () => {
        const { value, sent, calls: cs } = await recorded(() => chat({ useResponsesApi }).withStructuredOutput(Report, { name: 'weather_report' }).invoke('Weather in Paris as JSON'));
        assert.deepEqual(value, REPORT);
        assertUpstream(sent[0], 'up-small');
        const rf = sent[0].json.response_format;
        assert.equal(rf.type, 'json_schema');
        assert.equal(rf.json_schema.name, 'weather_report');
        assert.deepEqual(rf.json_schema.schema.required, ['city', 'temperature']);
        assert.equal(rf.json_schema.schema.properties.city.type, 'string');
        assert.equal(rf.json_schema.schema.properties.temperature.type, 'number');
        assertRouted(cs[0], path);
      });

      test('withStructuredOutput via function calling', async () => {
        const { value, sent } = await recorded(() => chat({ useResponsesApi }).withStructuredOutput(Report, { name: 'weather_report', method: 'functionCalling' }).invoke('Weather in Paris as JSON'));
        assert.deepEqual(value, REPORT);
        assertUpstream(sent[0], 'up-small');
        assert.equal(sent[0].json.tools[0].function.name, 'weather_report');
        assert.deepEqual(sent[0].json.tool_choice, { type: 'function', function: { name: 'weather_report' } });
      });
    });
  }

  test('a multi-turn conversation through the Responses API (earlier assistant turn sent back)', async () => {
    const model = chat({ useResponsesApi: true });
    const first = await model.invoke([new HumanMessage('Hi')]);
    const { value: second, sent } = await recorded(() => model.invoke([new HumanMessage('Hi'), first, new HumanMessage('Again?')]));
    assert.equal(second.text, 'Hello from upstream');
    assert.deepEqual(sent[0].json.messages, [
      { role: 'user', content: 'Hi' }, { role: 'assistant', content: 'Hello from upstream' }, { role: 'user', content: 'Again?' },
    ]);
    // An AIMessage written by hand (no Responses item ids) as well.
    const { value: third } = await recorded(() => model.invoke([new HumanMessage('Hi'), new AIMessage('Earlier'), new HumanMessage('Again?')]));
    assert.equal(third.text, 'Hello from upstream');
  });

  test('Responses API: text written before a tool call goes back as a message item, and the round trip works', async () => {
    const model = chat({ useResponsesApi: true }).bindTools([weather]);
    const question = new HumanMessage('Weather in Paris? (think aloud)');
    const chunks = [];
    for await (const c of await model.stream([question])) chunks.push(c);
    const first = chunks.reduce((a, b) => concat(a, b));
    assert.equal(first.text, 'Let me check.');
    assert.deepEqual(first.tool_calls.map((c) => [c.id, c.name, c.args]), [['call_1', 'get_weather', { city: 'Paris' }]]);
    const result = await weather.invoke(first.tool_calls[0]);
    const { value: final, sent, calls: cs } = await recorded(() => model.invoke([question, first, result]));
    assert.equal(final.text, 'The weather: 18C and sunny in Paris');
    assert.deepEqual(cs[0].body.input.map((i) => i.type), ['message', 'message', 'function_call', 'function_call_output']);
    assert.deepEqual(sent[0].json.messages.slice(1), [
      { role: 'assistant', content: 'Let me check.', tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } }] },
      { role: 'tool', tool_call_id: 'call_1', content: '18C and sunny in Paris' },
    ]);
  });

  test('a reasoning model through the Responses API: effort becomes reasoning_effort, developer the system role', async () => {
    const model = chat({ model: 'gpt-5-mini', useResponsesApi: true, reasoning: { effort: 'low' } });
    const { value: ai, sent, calls: cs } = await recorded(() => model.invoke([new SystemMessage('Be brief.'), new HumanMessage('Hi')]));
    assert.equal(ai.text, 'Hello from upstream');
    assert.deepEqual(cs[0].body.input[0], { type: 'message', role: 'developer', content: 'Be brief.' });
    assert.deepEqual(cs[0].body.reasoning, { effort: 'low' });
    assertUpstream(sent[0], 'up-reasoning');
    assert.equal(sent[0].json.reasoning_effort, 'low');
    assert.deepEqual(sent[0].json.messages, [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'Hi' }]);
  });

  test('an unknown model is a 404 error, in both modes', async () => {
    for (const useResponsesApi of [false, true]) {
      await assert.rejects(chat({ model: 'no-such-model', useResponsesApi }).invoke('Hi'), (e) => {
        assert.equal(e.status, 404);
        assert.equal(e.code, 'model_not_found');
        return true;
      });
    }
  });

  test('OpenAIEmbeddings', async () => {
    const embeddings = new OpenAIEmbeddings({ model: 'text-embedding-3-small', apiKey: 'sk-dummy-client', maxRetries: 0, configuration: { baseURL: `${sy.url}/v1`, fetch: clientFetch } });
    const { value, sent, calls: cs } = await recorded(() => embeddings.embedDocuments(['alpha', 'beta']));
    assert.deepEqual(value, [[0, 1, 0.5], [1, 1, 0.5]]);
    assert.equal(sent[0].url, '/v1/embeddings');
    assert.equal(sent[0].json.model, 'up-embed');
    assert.deepEqual(sent[0].json.input, ['alpha', 'beta']);
    assertRouted(cs[0], '/v1/embeddings', 'text-embedding-3-small');
  });
});

// --- Vercel AI SDK --------------------------------------------------------------------------------

describe('Vercel AI SDK', () => {
  let openai;
  before(() => { openai = createOpenAI({ baseURL: `${sy.url}/v1`, apiKey: 'sk-dummy-client', fetch: clientFetch }); });
  const weatherTool = () => aiTool({ description: 'Weather for a city', inputSchema: z.object({ city: z.string().describe('City name') }), execute: weatherOf });

  /** streamText reports errors through onError, not by rejecting: collect them. */
  function streamed(options) {
    const errors = [];
    const result = streamText({ ...options, onError: ({ error }) => { errors.push(error); } });
    return { result, errors };
  }

  for (const api of ['chat', 'responses']) {
    const path = api === 'chat' ? '/v1/chat/completions' : '/v1/responses';
    const model = (id) => (api === 'chat' ? openai.chat(id) : openai(id));

    describe(api === 'chat' ? 'openai.chat(...) (chat completions)' : 'openai(...) (Responses API, the default)', () => {
      test('generateText', async () => {
        const { value: r, sent, calls: cs } = await recorded(() => generateText({ model: model('gpt-4o-mini'), system: 'Be brief.', prompt: 'Hi', maxRetries: 0 }));
        assert.equal(r.text, 'Hello from upstream');
        assert.equal(r.finishReason, 'stop');
        assert.equal(r.usage.inputTokens, 11);
        assert.equal(r.usage.outputTokens, 7);
        assert.equal(r.usage.totalTokens, 18);
        assert.deepEqual(r.warnings, []);
        // The library's own view of the raw response carries the routing headers.
        assert.equal(r.response.headers['x-switchyard-model'], 'gpt-4o-mini');
        assert.ok(Number(r.response.headers['x-switchyard-cost-usd']) > 0);
        // The answer names the model that produced it: the upstream's (as OpenAI names its snapshot).
        assert.equal(r.response.modelId, 'up-small');
        if (api === 'responses') assert.match(r.providerMetadata.openai.responseId, /^resp_/);
        assertUpstream(sent[0], 'up-small');
        assert.deepEqual(sent[0].json.messages, [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'Hi' }]);
        assert.equal(cs.length, 1);
        assertRouted(cs[0], path);
      });

      test('streamText', async () => {
        const { value, sent, calls: cs } = await recorded(async () => {
          const { result, errors } = streamed({ model: model('gpt-4o-mini'), prompt: 'Stream please', maxRetries: 0 });
          const pieces = [];
          for await (const t of result.textStream) pieces.push(t);
          return { pieces, errors, usage: await result.usage, finishReason: await result.finishReason, response: await result.response };
        });
        assert.deepEqual(value.errors, []);
        assert.equal(value.pieces.join(''), 'Hello from upstream');
        assert.ok(value.pieces.length >= 3, JSON.stringify(value.pieces));
        assert.equal(value.finishReason, 'stop');
        assert.equal(value.usage.inputTokens, 11);
        assert.equal(value.usage.outputTokens, 7);
        assert.equal(value.response.headers['x-switchyard-model'], 'gpt-4o-mini');
        assertUpstream(sent[0], 'up-small');
        assert.equal(sent[0].json.stream, true);
        assert.deepEqual(sent[0].json.stream_options, { include_usage: true });
        assertRouted(cs[0], path);
      });

      test('generateText with a tool: the SDK runs it and asks again (through the auto router)', async () => {
        const { value: r, sent, calls: cs } = await recorded(() => generateText({
          model: model('auto'), tools: { get_weather: weatherTool() }, stopWhen: stepCountIs(3), prompt: 'Weather in Paris?', maxRetries: 0,
        }));
        assert.equal(r.steps.length, 2);
        assert.equal(r.steps[0].finishReason, 'tool-calls');
        assert.deepEqual(r.steps[0].toolCalls.map((c) => [c.toolCallId, c.toolName, c.input]), [['call_1', 'get_weather', { city: 'Paris' }]]);
        assert.deepEqual(r.steps[0].toolResults.map((c) => c.output), ['18C and sunny in Paris']);
        assert.equal(r.text, 'The weather: 18C and sunny in Paris');
        assert.equal(r.finishReason, 'stop');
        assert.equal(sent.length, 2);
        assertUpstream(sent[0], 'up-large');
        assert.equal(sent[0].json.tools.length, 1);
        assert.equal(sent[0].json.tools[0].function.name, 'get_weather');
        assert.equal(sent[0].json.tools[0].function.description, 'Weather for a city');
        weatherParams(sent[0].json.tools[0].function.parameters);
        assertUpstream(sent[1], 'up-large');
        assert.deepEqual(sent[1].json.messages, [
          { role: 'user', content: 'Weather in Paris?' },
          { role: 'assistant', content: null, tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } }] },
          { role: 'tool', tool_call_id: 'call_1', content: '18C and sunny in Paris' },
        ]);
        assert.equal(cs.length, 2);
        for (const c of cs) assertToolsRule(c, path);
      });

      test('streamText with a tool', async () => {
        const { value, sent } = await recorded(async () => {
          const { result, errors } = streamed({ model: model('auto'), tools: { get_weather: weatherTool() }, stopWhen: stepCountIs(3), prompt: 'Weather in Paris?', maxRetries: 0 });
          const parts = [];
          for await (const p of result.fullStream) parts.push(p);
          return { parts, errors, text: await result.text, steps: await result.steps };
        });
        assert.deepEqual(value.errors, []);
        const types = value.parts.map((p) => p.type);
        assert.ok(types.includes('tool-input-delta'), types.join(' '));
        const call = value.parts.find((p) => p.type === 'tool-call');
        assert.deepEqual([call.toolCallId, call.toolName, call.input], ['call_1', 'get_weather', { city: 'Paris' }]);
        assert.equal(value.parts.find((p) => p.type === 'tool-result').output, '18C and sunny in Paris');
        assert.equal(value.text, 'The weather: 18C and sunny in Paris');
        assert.equal(value.steps.length, 2);
        assert.equal(sent.length, 2);
        assert.ok(sent.every((s) => s.json.stream === true && s.json.model === 'up-large'));
      });

      test('structured output (Output.object)', async () => {
        const { value: r, sent, calls: cs } = await recorded(() => generateText({
          model: model('gpt-4o-mini'), output: Output.object({ schema: Report, name: 'weather_report' }), prompt: 'Weather in Paris as JSON', maxRetries: 0,
        }));
        assert.deepEqual(r.output, REPORT);
        assertUpstream(sent[0], 'up-small');
        const rf = sent[0].json.response_format;
        assert.equal(rf.type, 'json_schema');
        assert.equal(rf.json_schema.name, 'weather_report');
        assert.equal(rf.json_schema.strict, true);
        assert.deepEqual(rf.json_schema.schema.properties, { city: { type: 'string' }, temperature: { type: 'number' } });
        assertRouted(cs[0], path);
      });

      test('streamed structured output (Output.object)', async () => {
        const { value } = await recorded(async () => {
          const { result, errors } = streamed({ model: model('gpt-4o-mini'), output: Output.object({ schema: Report }), prompt: 'Weather in Paris as JSON', maxRetries: 0 });
          const partials = [];
          for await (const p of result.partialOutputStream) partials.push(p);
          return { partials, errors, output: await result.output };
        });
        assert.deepEqual(value.errors, []);
        assert.deepEqual(value.output, REPORT);
        assert.deepEqual(value.partials.at(-1), REPORT);
      });
    });
  }

  test('Responses API, multi-turn: the earlier assistant turn sent back as an item_reference resolves', async () => {
    const first = await generateText({ model: openai('gpt-4o-mini'), prompt: 'Hi', maxRetries: 0 });
    const messages = [{ role: 'user', content: 'Hi' }, ...first.response.messages, { role: 'user', content: 'Again?' }];
    // By default (store: true) the SDK refers to the output item by id: the gateway remembers the items
    // it produced, so the reference resolves to the turn's text.
    const { value: again, calls: cs, sent: sentAgain } = await recorded(() => generateText({ model: openai('gpt-4o-mini'), messages, maxRetries: 0 }));
    assert.deepEqual(cs[0].body.input[1], { type: 'item_reference', id: first.response.messages[0].content[0].providerOptions.openai.itemId });
    assert.equal(again.text, 'Hello from upstream');
    assert.deepEqual(sentAgain[0].json.messages, [
      { role: 'user', content: 'Hi' }, { role: 'assistant', content: 'Hello from upstream' }, { role: 'user', content: 'Again?' },
    ]);
    // A reference to an item the gateway never produced is a clear 400.
    const unknown = await fetch(`${sy.url}/v1/responses`, { method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'gpt-4o-mini', input: [{ role: 'user', content: 'Hi' }, { type: 'item_reference', id: 'msg_never' }] }) });
    assert.equal(unknown.status, 400);
    const body = await unknown.json();
    assert.equal(body.error.code, 'stored_state_not_configured');
    assert.equal(body.error.param, 'input[1].type');
    // With store: false the whole turn is sent, and it works.
    const { value: r, sent } = await recorded(() => generateText({ model: openai('gpt-4o-mini'), messages, providerOptions: { openai: { store: false } }, maxRetries: 0 }));
    assert.equal(r.text, 'Hello from upstream');
    assert.deepEqual(sent[0].json.messages, [
      { role: 'user', content: 'Hi' }, { role: 'assistant', content: 'Hello from upstream' }, { role: 'user', content: 'Again?' },
    ]);
  });

  test('Responses API tool loop when the model writes text before its tool call: the item_reference resolves', async () => {
    const ask = { model: openai('gpt-4o-mini'), tools: { get_weather: weatherTool() }, stopWhen: stepCountIs(3), prompt: 'Weather in Paris? (think aloud)', maxRetries: 0 };
    // Step 2 refers to step 1's message item by id (the SDK's default is store: true, without sending
    // `store`); the gateway remembers its own output items, so the loop completes.
    const { value: looped, calls: cs } = await recorded(() => generateText(ask));
    assert.equal(cs.length, 2);
    assert.equal(cs[0].body.store, undefined);
    const messageItem = cs[1].body.input[1];
    assert.equal(messageItem.type, 'item_reference');
    assert.match(messageItem.id, /^msg_/);
    assert.equal(looped.text, 'The weather: 18C and sunny in Paris');
    // With store: false the SDK sends the text back, and the loop completes.
    const { value: r, sent } = await recorded(() => generateText({ ...ask, providerOptions: { openai: { store: false } } }));
    assert.equal(r.steps.length, 2);
    assert.equal(r.steps[0].text, 'Let me check.');
    assert.equal(r.text, 'The weather: 18C and sunny in Paris');
    assert.deepEqual(sent[1].json.messages.slice(1), [
      { role: 'assistant', content: 'Let me check.', tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } }] },
      { role: 'tool', tool_call_id: 'call_1', content: '18C and sunny in Paris' },
    ]);
  });

  test('a reasoning model through the Responses API: effort, the developer role and `include` are accepted', async () => {
    const { value: r, sent, calls: cs } = await recorded(() => generateText({
      model: openai('gpt-5-mini'), system: 'Be brief.', prompt: 'Hi', maxRetries: 0,
      providerOptions: { openai: { reasoningEffort: 'low', store: false } },
    }));
    assert.equal(r.text, 'Hello from upstream');
    assert.deepEqual(cs[0].body.input[0], { role: 'developer', content: 'Be brief.' });
    assert.deepEqual(cs[0].body.include, ['reasoning.encrypted_content']);
    assertUpstream(sent[0], 'up-reasoning');
    assert.equal(sent[0].json.reasoning_effort, 'low');
    assert.deepEqual(sent[0].json.messages, [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'Hi' }]);
  });

  test('an unknown model is an APICallError with the status, for both APIs', async () => {
    for (const model of [openai.chat('no-such-model'), openai('no-such-model')]) {
      await assert.rejects(generateText({ model, prompt: 'Hi', maxRetries: 0 }), (e) => {
        assert.ok(APICallError.isInstance(e), String(e));
        assert.equal(e.statusCode, 404);
        assert.equal(e.isRetryable, false);
        assert.equal(JSON.parse(e.responseBody).error.code, 'model_not_found');
        return true;
      });
    }
  });

  test('embedMany', async () => {
    const { value: r, sent, calls: cs } = await recorded(() => embedMany({ model: openai.embedding('text-embedding-3-small'), values: ['alpha', 'beta'], maxRetries: 0 }));
    assert.deepEqual(r.embeddings, [[0, 1, 0.5], [1, 1, 0.5]]);
    assert.equal(r.usage.tokens, 4);
    assert.equal(sent[0].url, '/v1/embeddings');
    assert.equal(sent[0].json.model, 'up-embed');
    assert.deepEqual(sent[0].json.input, ['alpha', 'beta']);
    assertRouted(cs[0], '/v1/embeddings', 'text-embedding-3-small');
  });
});

test('nothing tried to reach the internet', () => {
  assert.deepEqual(offline, []);
});
