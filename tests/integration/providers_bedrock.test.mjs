// type: bedrock end to end: a fake Bedrock runtime that recomputes the SigV4 signature of every request
// (node:crypto, written from the spec independently of the C++ signer), checks the Converse body, and
// answers plain JSON or binary AWS event-stream frames.
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { after, before, describe, test } from 'node:test';

import { postJson, sseData, startSwitchyard, startUpstream } from './lib/harness.mjs';
import { awsException, awsFrame } from './lib/aws_event_stream.mjs';

const CREDS = { id: 'AKIDEXAMPLE', secret: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY', token: 'FwoGZXIvYXdzEXAMPLETOKEN//8=' };
const REGION = 'eu-central-1';
const MODEL = 'anthropic.claude-3-5-sonnet-20240620-v1:0';

// --- SigV4 -----------------------------------------------------------------------------------------
const sha256 = (data) => crypto.createHash('sha256').update(data).digest('hex');
const hmac = (key, data) => crypto.createHmac('sha256', key).update(data).digest();
function uriEncode(s, keepSlash) {
  let out = '';
  for (const b of Buffer.from(s, 'utf8')) {
    const c = String.fromCharCode(b);
    out += /[A-Za-z0-9\-._~]/.test(c) || (keepSlash && c === '/') ? c : `%${b.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}
/** The Authorization header AWS would expect for the request the fake received. */
function expectedAuthorization(rec) {
  const names = ['content-type', 'host', 'x-amz-date', 'x-amz-security-token'].filter((h) => rec.headers[h] !== undefined).sort();
  const [path] = rec.url.split('?');
  const canonical = [rec.method, uriEncode(path, true), '', ...names.map((h) => `${h}:${rec.headers[h].trim()}`), '', names.join(';'), sha256(rec.body)].join('\n');
  const date = rec.headers['x-amz-date'];
  const scope = `${date.slice(0, 8)}/${REGION}/bedrock/aws4_request`;
  const toSign = ['AWS4-HMAC-SHA256', date, scope, sha256(canonical)].join('\n');
  let key = hmac(`AWS4${CREDS.secret}`, date.slice(0, 8));
  for (const part of [REGION, 'bedrock', 'aws4_request']) key = hmac(key, part);
  return `AWS4-HMAC-SHA256 Credential=${CREDS.id}/${scope}, SignedHeaders=${names.join(';')}, Signature=${hmac(key, toSign).toString('hex')}`;
}

// --- AWS event-stream frames (lib/aws_event_stream.mjs) ----------------------------------------------
const event = (type, payload) => awsFrame({ ':event-type': type, ':content-type': 'application/json', ':message-type': 'event' }, { ...payload, p: 'abcdefgh' });
const exception = awsException;
const meta = event('metadata', { usage: { inputTokens: 30, outputTokens: 7, totalTokens: 37, cacheReadInputTokens: 5 }, metrics: { latencyMs: 100 } });

const weatherTool = { type: 'function', function: { name: 'get_weather', description: 'Weather for a city', parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] } } };

describe('bedrock provider', () => {
  let up, sy, answer;
  before(async () => {
    up = await startUpstream(async (req, res, rec) => {
      // Every request must carry a valid signature, whatever the test answers.
      if (rec.headers.authorization !== expectedAuthorization(rec)) {
        res.writeHead(403, { 'content-type': 'application/json', 'x-amzn-errortype': 'InvalidSignatureException:http://internal.amazon.com/coral/com.amazon.coral.service/' });
        res.end(JSON.stringify({ message: 'The request signature we calculated does not match the signature you provided.' }));
        return;
      }
      const a = answer(rec);
      if (a.frames) {
        res.writeHead(200, { 'content-type': 'application/vnd.amazon.eventstream' });
        for (const f of a.frames) res.write(f);
        res.end();
        return;
      }
      res.writeHead(a.status ?? 200, { 'content-type': 'application/json', ...(a.headers ?? {}) });
      res.end(JSON.stringify(a.json));
    });
    sy = await startSwitchyard(`server: {listen: "127.0.0.1:0", threads: 2}
providers:
  - name: aws
    type: bedrock
    base_url: ${up.url}
    options: {region: ${REGION}}
models:
  - {name: claude, provider: aws, model: "${MODEL}"}
  # Error scenarios get models of their own: a 429 cools its deployment down.
  - {name: claude-throttled, provider: aws, model: "${MODEL}"}
  - {name: claude-midstream, provider: aws, model: "${MODEL}"}
`, { env: { AWS_ACCESS_KEY_ID: CREDS.id, AWS_SECRET_ACCESS_KEY: CREDS.secret, AWS_SESSION_TOKEN: CREDS.token } });
  });
  after(async () => { await sy?.stop(); await up?.close(); });

  test('plain chat: Converse path, valid SigV4 with session token, translated body and answer', async () => {
    answer = () => ({ json: { output: { message: { role: 'assistant', content: [{ text: 'Hallo!' }] } }, stopReason: 'end_turn', usage: { inputTokens: 12, outputTokens: 3, totalTokens: 15 }, metrics: { latencyMs: 200 } } });
    const r = await postJson(`${sy.url}/v1/chat/completions`, {
      model: 'claude', max_tokens: 200, temperature: 0.4, stop: 'END',
      messages: [{ role: 'system', content: 'Answer in German.' }, { role: 'user', content: 'Hello' }],
    });
    assert.equal(r.status, 200, r.text);
    const got = up.requests.at(-1);
    assert.equal(got.method, 'POST');
    assert.equal(got.url, '/model/anthropic.claude-3-5-sonnet-20240620-v1%3A0/converse');
    assert.equal(got.headers['content-type'], 'application/json');
    assert.equal(got.headers['x-amz-security-token'], CREDS.token);
    assert.match(got.headers['x-amz-date'], /^\d{8}T\d{6}Z$/);
    assert.equal(got.headers.authorization, expectedAuthorization(got));
    assert.match(got.headers.authorization, /SignedHeaders=content-type;host;x-amz-date;x-amz-security-token,/);
    assert.deepEqual(got.json, {
      messages: [{ role: 'user', content: [{ text: 'Hello' }] }],
      system: [{ text: 'Answer in German.' }],
      inferenceConfig: { maxTokens: 200, temperature: 0.4, stopSequences: ['END'] },
    });
    assert.equal(r.json.object, 'chat.completion');
    assert.equal(r.json.model, 'claude');
    assert.equal(r.json.choices[0].message.content, 'Hallo!');
    assert.equal(r.json.choices[0].finish_reason, 'stop');
    assert.deepEqual(r.json.usage, { prompt_tokens: 12, completion_tokens: 3, total_tokens: 15, prompt_tokens_details: { cached_tokens: 0 } });
  });

  test('streaming: event-stream frames become chunks; usage only when asked', async () => {
    answer = (rec) => {
      assert.equal(rec.url, '/model/anthropic.claude-3-5-sonnet-20240620-v1%3A0/converse-stream');
      return { frames: [event('messageStart', { role: 'assistant' }), event('contentBlockDelta', { contentBlockIndex: 0, delta: { text: 'Hel' } }),
        event('contentBlockDelta', { contentBlockIndex: 0, delta: { text: 'lo' } }), event('contentBlockStop', { contentBlockIndex: 0 }),
        event('messageStop', { stopReason: 'max_tokens' }), meta] };
    };
    for (const include of [false, true]) {
      const body = { model: 'claude', stream: true, messages: [{ role: 'user', content: 'hi' }] };
      if (include) body.stream_options = { include_usage: true };
      const r = await postJson(`${sy.url}/v1/chat/completions`, body);
      assert.equal(r.status, 200, r.text);
      const data = sseData(r.text);
      assert.equal(data.at(-1), '[DONE]');
      const chunks = data.slice(0, -1).map((d) => JSON.parse(d));
      assert.equal(chunks.map((c) => c.choices[0]?.delta?.content ?? '').join(''), 'Hello');
      assert.equal(chunks.find((c) => c.choices[0]?.finish_reason).choices[0].finish_reason, 'length');
      const usage = chunks.find((c) => c.usage)?.usage;
      if (include) assert.deepEqual(usage, { prompt_tokens: 35, completion_tokens: 7, total_tokens: 42, prompt_tokens_details: { cached_tokens: 5 } });
      else assert.equal(usage, undefined);
    }
  });

  test('tool calls survive the round trip, plain and streaming', async () => {
    answer = (rec) => {
      assert.deepEqual(rec.json.toolConfig, { tools: [{ toolSpec: { name: 'get_weather', description: 'Weather for a city', inputSchema: { json: weatherTool.function.parameters } } }], toolChoice: { auto: {} } });
      return { json: { output: { message: { role: 'assistant', content: [{ text: 'Checking.' }, { toolUse: { toolUseId: 'tooluse_1', name: 'get_weather', input: { city: 'Paris' } } }] } }, stopReason: 'tool_use', usage: { inputTokens: 40, outputTokens: 20, totalTokens: 60 } } };
    };
    const ask = { model: 'claude', tools: [weatherTool], tool_choice: 'auto', messages: [{ role: 'user', content: 'Weather in Paris?' }] };
    const r1 = await postJson(`${sy.url}/v1/chat/completions`, ask);
    assert.equal(r1.status, 200, r1.text);
    const msg = r1.json.choices[0].message;
    assert.equal(r1.json.choices[0].finish_reason, 'tool_calls');
    assert.deepEqual(msg.tool_calls, [{ id: 'tooluse_1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } }]);

    answer = (rec) => {
      assert.deepEqual(rec.json.messages, [
        { role: 'user', content: [{ text: 'Weather in Paris?' }] },
        { role: 'assistant', content: [{ text: 'Checking.' }, { toolUse: { toolUseId: 'tooluse_1', name: 'get_weather', input: { city: 'Paris' } } }] },
        { role: 'user', content: [{ toolResult: { toolUseId: 'tooluse_1', content: [{ text: '18C' }] } }] },
      ]);
      return { json: { output: { message: { role: 'assistant', content: [{ text: 'It is 18C.' }] } }, stopReason: 'end_turn', usage: { inputTokens: 60, outputTokens: 5, totalTokens: 65 } } };
    };
    const r2 = await postJson(`${sy.url}/v1/chat/completions`, { ...ask, messages: [...ask.messages, msg, { role: 'tool', tool_call_id: 'tooluse_1', content: '18C' }] });
    assert.equal(r2.status, 200, r2.text);
    assert.equal(r2.json.choices[0].message.content, 'It is 18C.');

    answer = () => ({ frames: [event('messageStart', { role: 'assistant' }),
      event('contentBlockStart', { contentBlockIndex: 0, start: { toolUse: { toolUseId: 'tooluse_2', name: 'get_weather' } } }),
      event('contentBlockDelta', { contentBlockIndex: 0, delta: { toolUse: { input: '{"city":' } } }),
      event('contentBlockDelta', { contentBlockIndex: 0, delta: { toolUse: { input: ' "Paris"}' } } }),
      event('contentBlockStop', { contentBlockIndex: 0 }), event('messageStop', { stopReason: 'tool_use' }), meta] });
    const r3 = await postJson(`${sy.url}/v1/chat/completions`, { ...ask, stream: true });
    const chunks = sseData(r3.text).filter((d) => d !== '[DONE]').map((d) => JSON.parse(d));
    const calls = chunks.flatMap((c) => c.choices[0]?.delta?.tool_calls ?? []);
    assert.deepEqual(calls[0], { index: 0, id: 'tooluse_2', type: 'function', function: { name: 'get_weather', arguments: '' } });
    assert.equal(calls.map((c) => c.function.arguments).join(''), '{"city": "Paris"}');
  });

  test('errors: throttling is a 429, an exception mid-stream ends the stream with an error', async () => {
    answer = () => ({ status: 429, headers: { 'x-amzn-errortype': 'ThrottlingException:http://internal.amazon.com/coral/com.amazon.bedrock/' }, json: { message: 'Too many requests, please wait before trying again.' } });
    const r1 = await postJson(`${sy.url}/v1/chat/completions`, { model: 'claude-throttled', messages: [{ role: 'user', content: 'x' }] });
    assert.equal(r1.status, 429);
    assert.match(r1.json.error.message, /Too many requests/);

    answer = () => ({ frames: [event('messageStart', { role: 'assistant' }), event('contentBlockDelta', { contentBlockIndex: 0, delta: { text: 'Part' } }),
      exception('modelStreamErrorException', 'The model stream failed.')] });
    const r2 = await postJson(`${sy.url}/v1/chat/completions`, { model: 'claude-midstream', stream: true, messages: [{ role: 'user', content: 'x' }] });
    assert.equal(r2.status, 200);
    const data = sseData(r2.text);
    const last = JSON.parse(data.at(-1));
    assert.match(last.error.message, /model stream failed/);
    assert.equal(last.error.type, 'upstream_error');
  });
});
