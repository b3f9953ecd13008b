// POST /v1/responses through the official OpenAI SDK (client.responses.create, plain and streamed,
// with tools and structured output), translated to chat completions for the upstream; and the
// stored-response endpoints, which answer that nothing is stored.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import OpenAI from 'openai';

import { chunk, completion, startSwitchyard, startUpstream, usageChunk } from './lib/harness.mjs';

const weather = {
  type: 'function', name: 'get_weather', description: 'Weather for a city', strict: true,
  parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'], additionalProperties: false },
};

describe('responses API', () => {
  let sy, up, client;
  before(async () => {
    // The fake upstream speaks chat completions and records what it was sent.
    up = await startUpstream(async (req, res, rec) => {
      const body = rec.json;
      const wantsTool = (body.tools ?? []).length > 0 && !body.messages.some((m) => m.role === 'tool');
      if (body.stream) {
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        res.write(chunk('', { role: 'assistant' }));
        if (wantsTool) {
          const tc = (args, first) => `data: ${JSON.stringify({ id: 'c1', object: 'chat.completion.chunk', created: 1, model: 'up-model', choices: [{ index: 0, delta: { tool_calls: [{ index: 0, ...(first ? { id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: '' } } : { function: { arguments: args } }) }] }, finish_reason: null }] })}\n\n`;
          res.write(tc('', true));
          res.write(tc('{"city":'));
          res.write(tc('"Paris"}'));
          res.write(chunk(null, { finish: 'tool_calls' }));
        } else {
          for (const w of ['Hello', ' from', ' the', ' stream']) res.write(chunk(w));
          res.write(chunk(null, { finish: 'stop' }));
        }
        res.write(usageChunk({ prompt_tokens: 11, completion_tokens: 4, total_tokens: 15, prompt_tokens_details: { cached_tokens: 3 } }));
        res.end('data: [DONE]\n\n');
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json' });
      if (wantsTool) {
        const c = completion(null);
        c.choices[0].message = { role: 'assistant', content: null, tool_calls: [{ id: 'call_9', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Oslo"}' } }] };
        c.choices[0].finish_reason = 'tool_calls';
        res.end(JSON.stringify(c));
      } else if (body.response_format?.type === 'json_schema') {
        res.end(JSON.stringify(completion('{"answer":42}')));
      } else {
        res.end(JSON.stringify(completion('Plain answer', 'up-model', { prompt_tokens: 9, completion_tokens: 2, total_tokens: 11, prompt_tokens_details: { cached_tokens: 4 } })));
      }
    });
    sy = await startSwitchyard(`server: {listen: "127.0.0.1:0", threads: 1}
providers: [{name: up, type: openai, base_url: "${up.url}/v1"}]
models:
  - {name: gpt-4.1-mini, provider: up, model: up-model, input_price: 1, output_price: 2}
`);
    client = new OpenAI({ baseURL: `${sy.url}/v1`, apiKey: 'unused', maxRetries: 0 });
  });
  after(async () => { await sy?.stop(); await up?.close(); });

  test('responses.create with a string input answers a response object', async () => {
    const r = await client.responses.create({ model: 'gpt-4.1-mini', input: 'Hi there', instructions: 'Be brief.', max_output_tokens: 50 });
    assert.equal(r.object, 'response');
    assert.equal(r.status, 'completed');
    assert.match(r.id, /^resp_/);
    assert.equal(r.output_text, 'Plain answer');
    assert.equal(r.output[0].type, 'message');
    assert.equal(r.output[0].content[0].type, 'output_text');
    assert.equal(r.instructions, 'Be brief.');
    assert.equal(r.max_output_tokens, 50);
    assert.deepEqual(r.usage, { input_tokens: 9, input_tokens_details: { cached_tokens: 4 }, output_tokens: 2, output_tokens_details: { reasoning_tokens: 0 }, total_tokens: 11 });
    // The upstream got a chat request: instructions as the system message, the input as the user's.
    const sent = up.requests.at(-1).json;
    assert.equal(up.requests.at(-1).url, '/v1/chat/completions');
    assert.deepEqual(sent.messages, [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'Hi there' }]);
    assert.equal(sent.max_completion_tokens, 50);
    assert.equal(sent.model, 'up-model');
  });

  test('the routing headers and cost are there like on any request', async () => {
    const { response } = await client.responses.create({ model: 'gpt-4.1-mini', input: 'Hi' }).withResponse();
    assert.equal(response.headers.get('x-switchyard-model'), 'gpt-4.1-mini');
    assert.ok(Number(response.headers.get('x-switchyard-cost-usd')) > 0);
  });

  test('input items: messages, an earlier function call and its output', async () => {
    const r = await client.responses.create({
      model: 'gpt-4.1-mini',
      tools: [weather],
      input: [
        { role: 'developer', content: 'You are a weather bot.' },
        { role: 'user', content: [{ type: 'input_text', text: 'Weather in Oslo?' }] },
        { type: 'function_call', call_id: 'call_9', name: 'get_weather', arguments: '{"city":"Oslo"}' },
        { type: 'function_call_output', call_id: 'call_9', output: '{"temp":3}' },
      ],
    });
    assert.equal(r.output_text, 'Plain answer');
    const sent = up.requests.at(-1).json;
    assert.deepEqual(sent.messages, [
      { role: 'system', content: 'You are a weather bot.' },
      { role: 'user', content: 'Weather in Oslo?' },
      { role: 'assistant', content: null, tool_calls: [{ id: 'call_9', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Oslo"}' } }] },
      { role: 'tool', tool_call_id: 'call_9', content: '{"temp":3}' },
    ]);
    assert.deepEqual(sent.tools, [{ type: 'function', function: { name: 'get_weather', description: 'Weather for a city', parameters: weather.parameters, strict: true } }]);
  });

  test('a function call comes back as a function_call output item', async () => {
    const r = await client.responses.create({ model: 'gpt-4.1-mini', tools: [weather], input: 'Weather in Oslo?' });
    const call = r.output.find((o) => o.type === 'function_call');
    assert.ok(call, JSON.stringify(r.output));
    assert.equal(call.name, 'get_weather');
    assert.equal(call.call_id, 'call_9');
    assert.deepEqual(JSON.parse(call.arguments), { city: 'Oslo' });
    assert.equal(r.tools[0].name, 'get_weather');
  });

  test('text.format json_schema becomes response_format', async () => {
    const format = { type: 'json_schema', name: 'answer', strict: true, schema: { type: 'object', properties: { answer: { type: 'number' } }, required: ['answer'], additionalProperties: false } };
    const r = await client.responses.create({ model: 'gpt-4.1-mini', input: 'The answer?', text: { format } });
    assert.deepEqual(JSON.parse(r.output_text), { answer: 42 });
    const sent = up.requests.at(-1).json;
    assert.deepEqual(sent.response_format, { type: 'json_schema', json_schema: { name: 'answer', schema: format.schema, strict: true } });
  });

  test('stream: true gives the typed event sequence', async () => {
    const stream = await client.responses.create({ model: 'gpt-4.1-mini', input: 'Stream it', stream: true });
    const types = [];
    let text = '';
    let completed;
    for await (const e of stream) {
      types.push(e.type);
      if (e.type === 'response.output_text.delta') text += e.delta;
      if (e.type === 'response.completed') completed = e.response;
    }
    assert.equal(text, 'Hello from the stream');
    assert.deepEqual(types.slice(0, 4), ['response.created', 'response.in_progress', 'response.output_item.added', 'response.content_part.added']);
    assert.deepEqual(types.slice(-4), ['response.output_text.done', 'response.content_part.done', 'response.output_item.done', 'response.completed']);
    assert.equal(completed.status, 'completed');
    assert.equal(completed.output[0].content[0].text, 'Hello from the stream');
    assert.deepEqual(completed.usage.input_tokens_details, { cached_tokens: 3 });
    assert.equal(completed.usage.output_tokens, 4);
  });

  test('the SDK stream helper collects a streamed function call', async () => {
    const stream = client.responses.stream({ model: 'gpt-4.1-mini', input: 'Weather in Paris?', tools: [weather] });
    const args = [];
    stream.on('response.function_call_arguments.delta', (e) => args.push(e.delta));
    const final = await stream.finalResponse();
    const call = final.output.find((o) => o.type === 'function_call');
    assert.equal(call.name, 'get_weather');
    assert.equal(call.call_id, 'call_1');
    assert.deepEqual(JSON.parse(call.arguments), { city: 'Paris' });
    assert.equal(args.join(''), '{"city":"Paris"}');
  });

  test('previous_response_id is a clear 400: nothing is stored', async () => {
    await assert.rejects(client.responses.create({ model: 'gpt-4.1-mini', input: 'And then?', previous_response_id: 'resp_123' }), (e) => {
      assert.equal(e.status, 400);
      assert.equal(e.code, 'stored_state_not_configured');
      assert.match(e.message, /input items/);
      return true;
    });
  });

  test('retrieve and delete of a stored response answer 404 saying nothing is stored', async () => {
    for (const call of [() => client.responses.retrieve('resp_abc'), () => client.responses.delete('resp_abc')]) {
      await assert.rejects(call(), (e) => {
        assert.equal(e.status, 404);
        assert.equal(e.code, 'stored_state_not_configured');
        return true;
      });
    }
  });

  test('bad input is a 400 naming the field', async () => {
    await assert.rejects(client.responses.create({ model: 'gpt-4.1-mini', input: [{ type: 'function_call_output', output: 'x' }] }), (e) => {
      assert.equal(e.status, 400);
      assert.equal(e.param, 'input[0].call_id');
      return true;
    });
    await assert.rejects(client.responses.create({ model: 'gpt-4.1-mini', input: 'x', tools: [{ type: 'web_search' }] }), (e) => {
      assert.equal(e.status, 400);
      assert.equal(e.param, 'tools[0].type');
      return true;
    });
  });
});
