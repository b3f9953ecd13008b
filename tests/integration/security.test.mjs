// Security properties through HTTP against the real binary:
//   - escaped-key smuggling: a key spelled with \u escapes is the same key, for the duplicate check, the
//     model rewrite, the rule stage and the `switchyard` extension, judged by what the upstream receives;
//   - upstream credentials never leak: for every provider type, upstreams that echo the credential
//     they received (401, a 400 repeating the request headers, 500, an error code, a mid-stream error
//     event) or a key-shaped token they were never given; checked in every response body and header,
//     in the process output (text and JSON logging), the decision log and /admin/deployments;
//   - auth.required covers the admin API, the model list and unknown paths; public_paths opens exactly
//     the paths it names;
//   - protocol edges: invalid UTF-8 is a 400 invalid_utf8 in both dialects; HEAD responses carry no body.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';

import { completion, postJson, sseData, startSwitchyard, startUpstream } from './lib/harness.mjs';
import { awsEvent, awsException } from './lib/aws_event_stream.mjs';
import { exchange, rawRequest } from './lib/raw_http.mjs';

const benign = [{ role: 'user', content: 'hello there' }];
const CARD = '4111 1111 1111 1111';  // passes the Luhn check
const withCard = [{ role: 'user', content: `charge ${CARD} please` }];

/**
 * The keys of the top-level object of the JSON text `text`, in order, as [raw spelling, decoded].
 * JSON.parse would keep only the last of a repeated key; this sees every member.
 */
function topLevelKeys(text) {
  const keys = [];
  let depth = 0;
  let expectKey = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '"') {
      let j = i + 1;
      while (text[j] !== '"') j += text[j] === '\\' ? 2 : 1;
      if (depth === 1 && expectKey) {
        const raw = text.slice(i, j + 1);
        keys.push([raw, JSON.parse(raw)]);
        expectKey = false;
      }
      i = j;
    } else if (c === '{' || c === '[') {
      depth += 1;
      if (c === '{' && depth === 1) expectKey = true;
    } else if (c === '}' || c === ']') {
      depth -= 1;
    } else if (c === ',' && depth === 1) {
      expectKey = true;
    }
  }
  return keys;
}

/** Polls `file` (written asynchronously by the server) until `done(text)` holds or `ms` pass. */
async function pollFile(file, done, ms = 5000) {
  const deadline = Date.now() + ms;
  for (;;) {
    const text = fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : '';
    if (done(text)) return text;
    if (Date.now() > deadline) return text;
    await new Promise((r) => setTimeout(r, 20));
  }
}

// --- a. escaped-key smuggling ---------------------------------------------------------------------

describe('escaped-key smuggling, judged by what the upstream receives', () => {
  let up, sy;
  before(async () => {
    up = await startUpstream(async (req, res, rec) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(completion(`answered by ${rec.json?.model}`, rec.json?.model)));
    });
    sy = await startSwitchyard(`server: {listen: "127.0.0.1:0", threads: 2}
providers: [{name: up, type: openai, base_url: "${up.url}/v1", api_key: sk-smuggling-test-key-0000}]
models:
  - {name: m-echo, provider: up, model: up-m-echo}
  - {name: gpt-4-32k-EXPENSIVE, provider: up, model: up-expensive}
routers:
  - name: guarded
    default: m-echo
    stages:
      - type: rule
        name: guard
        rules:
          - name: cards
            when: {detect: [credit_card], in: all}
            reject: {status: 422, code: sensitive_data, message: "no card numbers"}
`);
  });
  after(async () => { await sy?.stop(); await up?.close(); });

  const send = (p, body, headers) => postJson(`${sy.url}${p}`, body, headers);
  /** Sends `body` and asserts nothing reached the upstream; returns the response. */
  async function refused(p, body) {
    const before = up.requests.length;
    const r = await send(p, body);
    assert.equal(up.requests.length, before, `the upstream received: ${up.requests.at(-1)?.body}`);
    return r;
  }
  const expectDuplicate = (r, key) => {
    assert.equal(r.status, 400, r.text);
    assert.equal(r.json.error.code, 'duplicate_key', r.text);
    assert.equal(r.json.error.type, 'invalid_request_error');
    assert.match(r.json.error.message, new RegExp(`'${key}'`));
  };
  const expectAnthropicDuplicate = (r, key) => {
    assert.equal(r.status, 400, r.text);
    assert.equal(r.json.type, 'error', r.text);
    assert.equal(r.json.error.type, 'invalid_request_error');
    assert.match(r.json.error.message, new RegExp(`'${key}'`));
  };
  const expectCardRejected = (r) => {
    assert.equal(r.status, 422, r.text);
    assert.equal(r.json.error.code, 'sensitive_data');
    assert.equal(r.json.error.message, 'no card numbers');
    assert.equal(r.headers.get('x-switchyard-stage'), 'guard');
    assert.match(r.headers.get('x-switchyard-reason'), /^rule:cards/);
  };
  const expectAnthropicCardRejected = (r) => {
    assert.equal(r.status, 422, r.text);
    assert.equal(r.json.type, 'error', r.text);
    assert.equal(r.json.error.message, 'no card numbers');
  };

  test('"mod\\u0065l" next to "model" (either order) is a 400 duplicate_key and the upstream gets nothing', async () => {
    const m = JSON.stringify(benign);
    for (const body of [
      `{"model":"m-echo","mod\\u0065l":"gpt-4-32k-EXPENSIVE","messages":${m}}`,
      `{"mod\\u0065l":"gpt-4-32k-EXPENSIVE","model":"m-echo","messages":${m}}`,
      `{"model":"m-echo","messages":${m},"\\u006d\\u006f\\u0064\\u0065\\u006c":"gpt-4-32k-EXPENSIVE"}`,
    ]) {
      expectDuplicate(await refused('/v1/chat/completions', body), 'model');
    }
    for (const body of [
      `{"model":"m-echo","mod\\u0065l":"gpt-4-32k-EXPENSIVE","max_tokens":16,"messages":${m}}`,
      `{"mod\\u0065l":"gpt-4-32k-EXPENSIVE","model":"m-echo","max_tokens":16,"messages":${m}}`,
    ]) {
      expectAnthropicDuplicate(await refused('/v1/messages', body), 'model');
    }
  });

  test('a card number in "mess\\u0061ges" next to "messages" is a 400 duplicate_key, in either order', async () => {
    const b = JSON.stringify(benign), c = JSON.stringify(withCard);
    for (const [plain, escaped] of [[b, c], [c, b]]) {
      expectDuplicate(await refused('/v1/chat/completions', `{"model":"guarded","messages":${plain},"mess\\u0061ges":${escaped}}`), 'messages');
      expectDuplicate(await refused('/v1/chat/completions', `{"model":"guarded","mess\\u0061ges":${escaped},"messages":${plain}}`), 'messages');
      expectAnthropicDuplicate(await refused('/v1/messages', `{"model":"guarded","max_tokens":16,"messages":${plain},"mess\\u0061ges":${escaped}}`), 'messages');
    }
    // One level down: "c\\u006fntent" next to "content" inside the message.
    expectDuplicate(await refused('/v1/chat/completions',
      `{"model":"guarded","messages":[{"role":"user","content":"hello","c\\u006fntent":"charge ${CARD}"}]}`), 'content');
  });

  test('a card number in a lone "mess\\u0061ges" is seen by the reject rule', async () => {
    const c = JSON.stringify(withCard);
    expectCardRejected(await refused('/v1/chat/completions', `{"model":"guarded","mess\\u0061ges":${c}}`));
    expectCardRejected(await refused('/v1/chat/completions', `{"mod\\u0065l":"guarded","mess\\u0061ges":${c}}`));
    // An escaped key inside the message, and escaped digits in the value.
    expectCardRejected(await refused('/v1/chat/completions', `{"model":"guarded","messages":[{"r\\u006fle":"user","c\\u006fntent":"charge ${CARD}"}]}`));
    expectCardRejected(await refused('/v1/chat/completions', '{"model":"guarded","messages":[{"role":"user","content":"charge \\u0034111\\u00201111 1111 111\\u0031"}]}'));
    expectAnthropicCardRejected(await refused('/v1/messages', `{"model":"guarded","max_tokens":16,"mess\\u0061ges":${c}}`));
    expectAnthropicCardRejected(await refused('/v1/messages', `{"model":"guarded","max_tokens":16,"messages":[{"role":"user","c\\u006fntent":"charge ${CARD}"}]}`));
    // The same prompt without a card goes through: the rule, not the escaping, refused the others.
    const ok = await send('/v1/chat/completions', `{"model":"guarded","mess\\u0061ges":${JSON.stringify(benign)}}`);
    assert.equal(ok.status, 200, ok.text);
  });

  test('an escaped "switchy\\u0061rd" is the extension: honoured, checked, and never forwarded', async () => {
    // Honoured: it selects the router whose rule then refuses the card.
    expectCardRejected(await refused('/v1/chat/completions',
      `{"model":"m-echo","messages":${JSON.stringify(withCard)},"switchy\\u0061rd":{"router":"guarded"}}`));
    // Checked like the plain key.
    const bad = await refused('/v1/chat/completions', `{"model":"m-echo","messages":${JSON.stringify(benign)},"switchy\\u0061rd":{"bogus":1}}`);
    assert.equal(bad.status, 400, bad.text);
    assert.equal(bad.json.error.param, 'switchyard.bogus');
    // Stripped: the upstream body has no member by that name, however spelled.
    const before = up.requests.length;
    const r = await send('/v1/chat/completions', `{"model":"m-echo","messages":${JSON.stringify(benign)},"switchy\\u0061rd":{"router":"guarded","debug":true}}`);
    assert.equal(r.status, 200, r.text);
    assert.equal(r.headers.get('x-switchyard-router'), 'guarded');
    assert.ok(r.headers.get('x-switchyard-debug'), 'the debug control in the escaped extension was not honoured');
    assert.equal(up.requests.length, before + 1);
    const got = up.requests.at(-1);
    assert.deepEqual(topLevelKeys(got.body).map(([, k]) => k).filter((k) => k.toLowerCase() === 'switchyard'), [], got.body);
    assert.doesNotMatch(got.body, /switchy/i);
    // /v1/messages: the extension is not part of the Anthropic translation, escaped or not: never forwarded.
    const m = await send('/v1/messages', `{"model":"m-echo","max_tokens":16,"messages":${JSON.stringify(benign)},"switchy\\u0061rd":{"debug":true}}`);
    assert.ok(m.status === 200 || m.status === 400, `${m.status} ${m.text}`);
    if (m.status === 200) assert.doesNotMatch(up.requests.at(-1).body, /switchy/i);
  });

  test('a lone "mod\\u0065l" routes as that model and the upstream body holds the model once, rewritten', async () => {
    for (const [p, body] of [
      ['/v1/chat/completions', `{"mod\\u0065l":"m-echo","messages":${JSON.stringify(benign)}}`],
      ['/v1/chat/completions', `{"messages":${JSON.stringify(benign)},"\\u006dodel":"m-echo","temperature":0.5}`],
      ['/v1/messages', `{"mod\\u0065l":"m-echo","max_tokens":16,"messages":${JSON.stringify(benign)}}`],
    ]) {
      const before = up.requests.length;
      const r = await send(p, body);
      assert.equal(r.status, 200, `${p} ${body}: ${r.text}`);
      assert.equal(r.headers.get('x-switchyard-model'), 'm-echo');
      assert.equal(up.requests.length, before + 1);
      const got = up.requests.at(-1);
      const models = topLevelKeys(got.body).filter(([, k]) => k === 'model');
      assert.equal(models.length, 1, `the upstream body holds ${models.length} model members: ${got.body}`);
      assert.equal(got.json.model, 'up-m-echo', got.body);
      assert.ok(!got.body.includes('"m-echo"'), `the client's model name reached the upstream: ${got.body}`);
    }
  });
});

// --- b. upstream credentials never leak ----------------------------------------------------------

// Distinctive values that are not shaped like any well-known key, so that only their being configured
// secrets can get them redacted.
const KEYS = {
  openai: 'oaiLeakCheck7Q2Wx9ZtR4',
  azure: 'azureLeakCheck3Kp8Vn2Hd',
  anthropic: 'anthLeakCheck5Jm1Ys6Qe',
  gemini: 'gemLeakCheck9Tb4Lc7Wu',
};
const AWS = { id: 'AKIDLEAKCHECK7Q3X9Z', secret: 'bedrockLeak/Check+9x7Q2wJalrXUtn', token: 'sessLeakCheckToken//8=Zq4' };
// Key-shaped tokens no upstream was given: the redactor must recognise them by shape.
const FOREIGN = ['sk-proj-Zx9Qw8Er7Ty6Ui5Op4As3Df2', 'AKIAZZLEAKCHECK12345', 'AIzaSyLeakCheck0123456789abcdefghijk'];
const SECRETS = [...Object.values(KEYS), AWS.id, AWS.secret, AWS.token, ...FOREIGN];
/** The forms a secret may take in JSON text, and a piece of it (a partial mask is still a leak). */
const forms = (s) => [...new Set([s, JSON.stringify(s).slice(1, -1), s.replaceAll('/', '\\/'), s.slice(3, -3)])];

/** The secrets (by name) that occur in `text`. */
function leaked(text) {
  return SECRETS.filter((s) => forms(s).some((f) => text.includes(f)));
}

const TYPES = ['openai', 'azure', 'anthropic', 'bedrock', 'gemini'];
// Each scenario gets models of its own per request kind: a refused key takes a deployment out of
// rotation, and 500s count against its breaker.
const SCENARIOS = ['unauthorized', 'headers', 'server', 'foreign', 'code', 'midstream'];
const KINDS = [
  { name: 'chat', path: '/v1/chat/completions', stream: false },
  { name: 'chat-stream', path: '/v1/chat/completions', stream: true },
  { name: 'messages', path: '/v1/messages', stream: false },
  { name: 'messages-stream', path: '/v1/messages', stream: true },
];
const kindsOf = (scenario) => (scenario === 'midstream' ? KINDS.filter((k) => k.stream) : KINDS);

/** The credential an upstream of `type` received, as the fake would echo it. */
function credential(type, rec) {
  switch (type) {
    case 'openai':
    case 'gemini': return String(rec.headers.authorization ?? '').replace(/^Bearer /, '');
    case 'azure': return rec.headers['api-key'] ?? '';
    case 'anthropic': return rec.headers['x-api-key'] ?? '';
    default: {  // bedrock: the access key id from the SigV4 credential scope, and the session token
      const id = /Credential=([^/]+)\//.exec(rec.headers.authorization ?? '')?.[1] ?? '';
      return `${id} (session token ${rec.headers['x-amz-security-token'] ?? ''}, secret ${AWS.secret})`;
    }
  }
}

/** True when the fake of `type` got the configured credential (else the test would prove nothing). */
function gotCredential(type, rec) {
  switch (type) {
    case 'openai': return rec.headers.authorization === `Bearer ${KEYS.openai}`;
    case 'gemini': return rec.headers.authorization === `Bearer ${KEYS.gemini}`;
    case 'azure': return rec.headers['api-key'] === KEYS.azure;
    case 'anthropic': return rec.headers['x-api-key'] === KEYS.anthropic;
    default: return (rec.headers.authorization ?? '').includes(`Credential=${AWS.id}/`) && rec.headers['x-amz-security-token'] === AWS.token;
  }
}

/** An error body in the shape upstreams of `type` use, with `extra` members for the error object. */
function errorAnswer(type, status, message, { code, headerEcho } = {}) {
  const headers = { 'content-type': 'application/json' };
  let body;
  switch (type) {
    case 'openai':
    case 'azure':
      body = { error: { message, type: status === 401 ? 'invalid_request_error' : status >= 500 ? 'server_error' : 'invalid_request_error', param: null, code: code ?? (status === 401 ? 'invalid_api_key' : null) } };
      break;
    case 'anthropic':
      body = { type: 'error', error: { type: code ?? (status === 401 ? 'authentication_error' : status >= 500 ? 'api_error' : 'invalid_request_error'), message } };
      break;
    case 'gemini':
      body = [{ error: { code: status, message, status: code ?? (status === 401 ? 'UNAUTHENTICATED' : status >= 500 ? 'INTERNAL' : 'INVALID_ARGUMENT') } }];
      break;
    default:  // bedrock
      body = { message, ...(code ? { __type: code } : {}) };
      headers['x-amzn-errortype'] = `${status === 401 ? 'UnrecognizedClientException' : status >= 500 ? 'InternalServerException' : 'ValidationException'}:http://internal.amazon.com/coral/com.amazon.bedrock/`;
  }
  if (headerEcho) body = Array.isArray(body) ? body : { ...body, request_headers: headerEcho };
  return { status, headers, body: JSON.stringify(body) };
}

/** A streamed answer of `type` that starts, then fails with an error event quoting `cred`. */
function midstreamAnswer(type, cred) {
  const message = `Incorrect API key provided: ${cred}`;
  if (type === 'anthropic') {
    const ev = (name, data) => `event: ${name}\ndata: ${JSON.stringify(data)}\n\n`;
    return { status: 200, headers: { 'content-type': 'text/event-stream' }, body: [
      ev('message_start', { type: 'message_start', message: { id: 'msg_x', type: 'message', role: 'assistant', content: [], model: 'claude', stop_reason: null, stop_sequence: null, usage: { input_tokens: 3, output_tokens: 1 } } }),
      ev('content_block_start', { type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } }),
      ev('content_block_delta', { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: 'Hel' } }),
      ev('error', { type: 'error', error: { type: 'api_error', message } }),
    ].join('') };
  }
  if (type === 'bedrock') {
    return { status: 200, headers: { 'content-type': 'application/vnd.amazon.eventstream' }, body: Buffer.concat([
      awsEvent('messageStart', { role: 'assistant' }),
      awsEvent('contentBlockDelta', { contentBlockIndex: 0, delta: { text: 'Hel' } }),
      awsException('internalServerException', message),
    ]) };
  }
  // OpenAI, Azure and Gemini: an error object as an SSE data event, then the connection ends.
  const chunk = { id: 'chatcmpl-x', object: 'chat.completion.chunk', created: 1, model: 'up', choices: [{ index: 0, delta: { role: 'assistant', content: 'Hel' }, finish_reason: null }] };
  return { status: 200, headers: { 'content-type': 'text/event-stream' }, body:
    `data: ${JSON.stringify(chunk)}\n\ndata: ${JSON.stringify({ error: { message, type: 'invalid_request_error', param: null, code: 'invalid_api_key' } })}\n\n` };
}

/** What the fake upstream of `type` answers to `rec` in `scenario`. */
function answer(type, scenario, rec) {
  const cred = credential(type, rec);
  switch (scenario) {
    case 'unauthorized':
      return errorAnswer(type, 401, `Incorrect API key provided: ${cred}. You can find your API key at https://platform.openai.com/account/api-keys.`);
    case 'headers':
      return errorAnswer(type, 400, `Malformed request. Request headers: ${JSON.stringify(rec.headers)}`, { headerEcho: rec.headers });
    case 'server':
      return errorAnswer(type, 500, `Internal error while authenticating with key ${cred}`);
    case 'foreign':
      return errorAnswer(type, 401, `Incorrect API key provided: ${FOREIGN[0]}. Other keys on file: ${FOREIGN[1]}, ${FOREIGN[2]}.`);
    case 'code':  // the credential in the error's code (OpenAI, Azure), type (Anthropic), status (Google), __type (AWS)
      return errorAnswer(type, 400, `Invalid credential ${cred}`, { code: cred });
    default:
      return midstreamAnswer(type, cred);
  }
}

for (const format of ['text', 'json']) {
  describe(`upstream credentials never leak (logging format ${format})`, () => {
    const ups = {};
    let sy, logFile;
    const sent = [];  // {label, id}
    before(async () => {
      for (const type of TYPES) {
        ups[type] = await startUpstream(async (req, res, rec) => {
          const scenario = SCENARIOS.find((s) => `${rec.url} ${rec.body}`.includes(`up-${s}-`));
          const a = scenario ? answer(type, scenario, rec) : errorAnswer(type, 404, 'no such scenario');
          // Every answer also echoes the credential in a response header.
          const echo = credential(type, rec).replace(/[^\x20-\x7e]/g, '?');
          res.writeHead(a.status, { ...a.headers, 'x-echo-credential': echo, 'www-authenticate': `Bearer realm="${echo}"` });
          res.end(a.body);
        });
      }
      const models = [];
      for (const type of TYPES) {
        for (const s of SCENARIOS) {
          for (const k of kindsOf(s)) models.push(`  - {name: ${type}-${s}-${k.name}, provider: p-${type}, model: up-${s}-${k.name}}`);
        }
      }
      logFile = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'sy-leak-')), 'decisions.jsonl');
      sy = await startSwitchyard(`server: {listen: "127.0.0.1:0", threads: 2}
logging: {level: debug, format: ${format}}
decision_log: {path: "${logFile}"}
admin: {open: true}
reliability: {max_attempts: 2, backoff_base: 1ms, backoff_max: 2ms}
providers:
  - {name: p-openai, type: openai, base_url: "${ups.openai.url}/v1", api_key: "\${LEAK_OPENAI_KEY}"}
  - {name: p-azure, type: azure, base_url: "${ups.azure.url}", api_key: "\${LEAK_AZURE_KEY}"}
  - {name: p-anthropic, type: anthropic, base_url: "${ups.anthropic.url}", api_key: "\${LEAK_ANTHROPIC_KEY}"}
  - {name: p-bedrock, type: bedrock, base_url: "${ups.bedrock.url}", options: {region: eu-west-1}}
  - {name: p-gemini, type: gemini, base_url: "${ups.gemini.url}", api_key: "\${LEAK_GEMINI_KEY}"}
models:
${models.join('\n')}
`, {
        env: {
          LEAK_OPENAI_KEY: KEYS.openai, LEAK_AZURE_KEY: KEYS.azure, LEAK_ANTHROPIC_KEY: KEYS.anthropic, LEAK_GEMINI_KEY: KEYS.gemini,
          AWS_ACCESS_KEY_ID: AWS.id, AWS_SECRET_ACCESS_KEY: AWS.secret, AWS_SESSION_TOKEN: AWS.token,
        },
      });
    });
    after(async () => {
      await sy?.stop();
      for (const u of Object.values(ups)) await u.close();
    });

    /** Sends one request of `kind` to `model`; returns the problems seen, [] when none. */
    async function probe(type, scenario, kind) {
      const model = `${type}-${scenario}-${kind.name}`;
      const label = `${model} ${kind.path}${kind.stream ? ' stream' : ''}`;
      const body = kind.path === '/v1/messages'
        ? { model, max_tokens: 16, messages: benign, ...(kind.stream ? { stream: true } : {}) }
        : { model, messages: benign, ...(kind.stream ? { stream: true } : {}) };
      const up = ups[type];
      const before = up.requests.length;
      const r = await postJson(`${sy.url}${kind.path}`, body);
      sent.push({ label, id: r.headers.get('x-request-id') });
      const problems = [];
      const got = up.requests.slice(before);
      if (!got.length) problems.push(`${label}: never reached the upstream (HTTP ${r.status} ${r.text.slice(0, 200)})`);
      else if (!got.every((q) => gotCredential(type, q))) problems.push(`${label}: the upstream did not get the configured credential: ${JSON.stringify(got[0].headers)}`);
      const inBody = leaked(r.text);
      if (inBody.length) problems.push(`${label}: HTTP ${r.status} body leaks ${inBody.join(', ')}: ${r.text.slice(0, 600)}`);
      for (const [name, value] of r.headers) {
        const inHeader = leaked(`${name}: ${value}`);
        if (inHeader.length) problems.push(`${label}: header ${name} leaks ${inHeader.join(', ')}: ${value.slice(0, 200)}`);
      }
      if (scenario === 'midstream') {
        const events = sseData(r.text);
        const errorEvent = kind.path === '/v1/messages' ? /^event: error$/m.test(r.text) : events.some((d) => d.startsWith('{') && 'error' in JSON.parse(d));
        if (r.status !== 200 || !errorEvent) problems.push(`${label}: expected a 200 stream that ends with an error event, got HTTP ${r.status}: ${r.text.slice(0, 600)}`);
      } else if (r.status < 400) {
        problems.push(`${label}: expected an error status, got HTTP ${r.status}: ${r.text.slice(0, 300)}`);
      }
      // Mid-stream, dropping the upstream's error text for an error of the gateway's own is also safe.
      if (scenario !== 'midstream' && !r.text.includes('[REDACTED]')) problems.push(`${label}: no "[REDACTED]" where the upstream quoted the key: HTTP ${r.status} ${r.text.slice(0, 600)}`);
      return problems;
    }

    for (const type of TYPES) {
      for (const scenario of SCENARIOS) {
        test(`${type}: ${scenario}: no credential in any response body or header`, async () => {
          const problems = [];
          for (const kind of kindsOf(scenario)) problems.push(...await probe(type, scenario, kind));
          assert.deepEqual(problems, []);
        });
      }
    }

    test('no credential in the process output; "[REDACTED]" where the upstreams quoted one', async () => {
      for (const { id } of sent) await sy.waitForOutput(new RegExp(id));
      const out = sy.output();
      const lines = out.split('\n');
      const bad = lines.filter((l) => leaked(l).length);
      assert.deepEqual(bad, [], 'lines that leak a credential');
      const redacted = lines.filter((l) => l.includes('[REDACTED]'));
      assert.ok(redacted.length > 0, `no "[REDACTED]" in the output:\n${out.slice(-3000)}`);
      if (format === 'json') {
        for (const l of redacted) assert.doesNotThrow(() => JSON.parse(l), `a redacted log line is not JSON: ${l}`);
      }
      // Every failing request's access line carries the scrubbed upstream message.
      for (const { label, id } of sent.filter((x) => !x.label.includes('midstream'))) {
        const line = lines.find((l) => l.includes(id) && /access/.test(l));
        assert.ok(line, `no access line for ${label}`);
        assert.ok(line.includes('[REDACTED]'), `the access line of ${label} does not show "[REDACTED]": ${line}`);
      }
    });

    test('no credential in the decision log; "[REDACTED]" where the upstreams quoted one', async () => {
      const text = await pollFile(logFile, (t) => sent.every(({ id }) => t.includes(id)));
      const missing = sent.filter(({ id }) => !text.includes(id)).map((x) => x.label);
      assert.deepEqual(missing, [], 'requests without a decision line (within 5 s)');
      const lines = text.split('\n').filter(Boolean);
      for (const l of lines) assert.doesNotThrow(() => JSON.parse(l), `not JSON: ${l}`);
      assert.deepEqual(lines.filter((l) => leaked(l).length), [], 'decision lines that leak a credential');
      for (const { label, id } of sent.filter((x) => !x.label.includes('midstream'))) {
        const j = JSON.parse(lines.find((l) => l.includes(id)));
        assert.ok(String(j.error ?? '').includes('[REDACTED]'), `the decision line of ${label} has no scrubbed error: ${JSON.stringify(j)}`);
      }
    });

    test('no credential in GET /admin/deployments', async () => {
      const r = await fetch(`${sy.url}/admin/deployments`);
      const text = await r.text();
      assert.equal(r.status, 200);
      assert.deepEqual(leaked(text), [], text.slice(0, 2000));
      for (const [name, value] of r.headers) assert.deepEqual(leaked(value), [], `header ${name}`);
      const ids = JSON.parse(text).data.map((d) => d.id);
      assert.ok(ids.includes('openai-unauthorized-chat/p-openai/0'), `deployments listed: ${ids.slice(0, 5).join(', ')}...`);
    });
  });
}

// --- c. auth.required covers admin and models -----------------------------------------------------

describe('auth.required', () => {
  const GATEWAY_KEY = 'gateway-key-123456';
  const ADMIN_KEY = 'admin-key-1234567';
  let up, sy, open;
  before(async () => {
    up = await startUpstream(async (req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(completion('ok', 'up-m')));
    });
    const cfg = (extra = '') => `server: {listen: "127.0.0.1:0", threads: 2}
providers: [{name: up, type: openai, base_url: "${up.url}/v1", api_key: sk-upstream-auth-test-000}]
models: [{name: m, provider: up, model: up-m}]
auth: {required: true, keys: [{key: "${GATEWAY_KEY}", name: k}]${extra}}
admin: {keys: [{key: "${ADMIN_KEY}", name: ops}]}
`;
    sy = await startSwitchyard(cfg());
    open = await startSwitchyard(cfg(', public_paths: ["/v1/models"]'));
  });
  after(async () => { await sy?.stop(); await open?.stop(); await up?.close(); });

  const chat = { model: 'm', messages: benign };
  const msgs = { model: 'm', max_tokens: 16, messages: benign };
  const call = async (base, method, p, body, headers = {}) => {
    const res = await fetch(`${base}${p}`, {
      method, headers: body ? { 'content-type': 'application/json', ...headers } : headers, body: body ? JSON.stringify(body) : undefined,
    });
    const text = await res.text();
    let json;
    try { json = JSON.parse(text); } catch { json = undefined; }
    return { status: res.status, headers: res.headers, text, json };
  };
  const ENDPOINTS = [
    ['GET', '/v1/models'],
    ['GET', '/v1/models/m'],
    ['GET', '/admin/deployments'],
    ['POST', '/v1/chat/completions', chat],
    ['POST', '/v1/embeddings', { model: 'm', input: 'x' }],
    ['POST', '/v1/messages', msgs],
    ['GET', '/v1/no-such-path'],
    ['POST', '/admin/no-such-path', {}],
    ['DELETE', '/admin/deployments'],
  ];
  const expect401 = (r, p, label) => {
    assert.equal(r.status, 401, `${label}: ${r.text}`);
    if (p === '/v1/messages') {
      assert.equal(r.json?.type, 'error', `${label}: ${r.text}`);
      assert.equal(r.json.error.type, 'authentication_error', `${label}: ${r.text}`);
      assert.equal(typeof r.json.error.message, 'string');
    } else {
      assert.equal(typeof r.json?.error?.message, 'string', `${label}: ${r.text}`);
      // The admin API asks for an admin key; everything else for a gateway key.
      assert.equal(r.json.error.code, p.startsWith('/admin/') ? 'invalid_admin_key' : 'invalid_api_key', `${label}: ${r.text}`);
      assert.ok('type' in r.json.error && 'param' in r.json.error, `${label}: ${r.text}`);
    }
    assert.ok(!r.text.includes(GATEWAY_KEY));
    assert.ok(!r.text.includes(ADMIN_KEY));
  };

  test('without a key, or with a wrong one, everything but the health checks is a 401', async () => {
    const before = up.requests.length;
    for (const [method, p, body] of ENDPOINTS) {
      expect401(await call(sy.url, method, p, body), p, `${method} ${p} without a key`);
      expect401(await call(sy.url, method, p, body, { authorization: 'Bearer gateway-key-123457' }), p, `${method} ${p} with a wrong key`);
      expect401(await call(sy.url, method, p, body, { authorization: GATEWAY_KEY }), p, `${method} ${p} with the key but no Bearer`);
      expect401(await call(sy.url, method, p, body, { 'x-api-key': `${GATEWAY_KEY}x` }), p, `${method} ${p} with a wrong x-api-key`);
    }
    assert.equal(up.requests.length, before, 'an unauthenticated request reached the upstream');
  });

  test('with the key: 200, or 404 for what does not exist', async () => {
    const auth = { authorization: `Bearer ${GATEWAY_KEY}` };
    const models = await call(sy.url, 'GET', '/v1/models', undefined, auth);
    assert.equal(models.status, 200, models.text);
    assert.deepEqual(models.json.data.map((m) => m.id), ['m']);
    assert.equal((await call(sy.url, 'GET', '/v1/models/m', undefined, auth)).json.id, 'm');
    assert.equal((await call(sy.url, 'GET', '/v1/models/nope', undefined, auth)).status, 404);
    // A gateway key is not an admin key: the admin API answers the admin key only.
    expect401(await call(sy.url, 'GET', '/admin/deployments', undefined, auth), '/admin/deployments', 'admin API with a gateway key');
    const admin = await call(sy.url, 'GET', '/admin/deployments', undefined, { authorization: `Bearer ${ADMIN_KEY}` });
    assert.equal(admin.status, 200, admin.text);
    assert.equal(admin.json.object, 'list');
    const c = await call(sy.url, 'POST', '/v1/chat/completions', chat, auth);
    assert.equal(c.status, 200, c.text);
    assert.equal(c.json.choices[0].message.content, 'ok');
    for (const headers of [auth, { 'x-api-key': GATEWAY_KEY }]) {
      const m = await call(sy.url, 'POST', '/v1/messages', msgs, headers);
      assert.equal(m.status, 200, m.text);
      assert.equal(m.json.type, 'message');
    }
    const unknown = await call(sy.url, 'GET', '/v1/no-such-path', undefined, auth);
    assert.equal(unknown.status, 404, unknown.text);
    assert.equal(unknown.json.error.code, 'unknown_url');
  });

  test('/healthz and /readyz answer without a key', async () => {
    for (const base of [sy.url, open.url]) {
      assert.equal((await call(base, 'GET', '/healthz')).status, 200);
      const ready = await call(base, 'GET', '/readyz');
      assert.equal(ready.status, 200, ready.text);
      assert.equal(ready.json.status, 'ready');
    }
  });

  test('public_paths opens exactly the paths it names', async () => {
    const models = await call(open.url, 'GET', '/v1/models');
    assert.equal(models.status, 200, models.text);
    assert.deepEqual(models.json.data.map((m) => m.id), ['m']);
    assert.equal((await call(open.url, 'GET', '/v1/models?limit=1')).status, 200);
    for (const [method, p, body] of [
      ['GET', '/admin/deployments'],
      ['GET', '/v1/models/m'],
      ['GET', '/v1/models/'],
      ['GET', '/models'],
      ['GET', '//v1/models'],
      ['POST', '/v1/chat/completions', chat],
      ['POST', '/v1/messages', msgs],
    ]) {
      expect401(await call(open.url, method, p, body), p, `${method} ${p} without a key`);
    }
    // Dot segments (fetch would resolve them first, so sent raw): not the public path.
    for (const target of ['/v1/models/../../admin/deployments', '/v1/models/%2e%2e/%2e%2e/admin/deployments', '/v1/models/../models']) {
      const r = await exchange(open.port, rawRequest('GET', target, { headers: ['Connection: close'] }), { timeout: 5000 });
      assert.equal(r.responses[0]?.status, 401, `GET ${target}: ${r.raw.toString('latin1').slice(0, 300)}`);
    }
    const admin = await call(open.url, 'GET', '/admin/deployments', undefined, { authorization: `Bearer ${ADMIN_KEY}` });
    assert.equal(admin.status, 200, admin.text);
  });

  test('HEAD of a refused path is a 401 without a body', async () => {
    const r = await exchange(sy.port, rawRequest('HEAD', '/admin/deployments', { headers: ['Connection: close'] }), { methods: ['HEAD'], timeout: 5000 });
    assert.equal(r.error, undefined, r.error);
    assert.equal(r.responses.length, 1, r.raw.toString('latin1'));
    assert.equal(r.responses[0].status, 401);
    const end = r.raw.indexOf('\r\n\r\n');
    assert.equal(r.raw.length, end + 4, `bytes after the HEAD response head: ${JSON.stringify(r.raw.subarray(end + 4).toString('latin1'))}`);
  });

  test('the gateway key never appears in the process output', async () => {
    await call(sy.url, 'GET', '/v1/models', undefined, { authorization: `Bearer ${GATEWAY_KEY}` });
    await sy.waitForOutput(/GET \/v1\/models 200/);
    assert.ok(!sy.output().includes(GATEWAY_KEY));
  });
});

// --- d. protocol edges ------------------------------------------------------------------------------

describe('protocol edges', () => {
  let up, sy;
  before(async () => {
    up = await startUpstream(async (req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(completion('ok', 'up-m')));
    });
    sy = await startSwitchyard(`server: {listen: "127.0.0.1:0", threads: 2}
providers: [{name: up, type: openai, base_url: "${up.url}/v1", api_key: sk-protocol-edges-0000}]
models: [{name: m, provider: up, model: up-m}]
admin: {open: true}
`);
  });
  after(async () => { await sy?.stop(); await up?.close(); });

  const raw = async (p, buf) => {
    const res = await fetch(`${sy.url}${p}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: buf });
    const text = await res.text();
    let json;
    try { json = JSON.parse(text); } catch { json = undefined; }
    return { status: res.status, text, json };
  };
  const bytes = (...parts) => Buffer.concat(parts.map((p) => (typeof p === 'string' ? Buffer.from(p, 'utf8') : Buffer.from(p))));
  // Each builder takes what goes between the model and the messages (max_tokens for /v1/messages).
  const BAD = [
    ['a 0xFF byte in the content', (mt) => bytes(`{"model":"m"${mt},"messages":[{"role":"user","content":"a`, [0xff], 'b"}]}')],
    ['an overlong encoding in the model', (mt) => bytes('{"model":"m', [0xc0, 0xaf], `"${mt},"messages":[{"role":"user","content":"x"}]}`)],
    ['a lone surrogate escape', (mt) => bytes(`{"model":"m"${mt},"messages":[{"role":"user","content":"a\\ud800b"}]}`)],
  ];

  test('invalid UTF-8 in a chat request is a 400 invalid_utf8 (OpenAI shape)', async () => {
    const before = up.requests.length;
    for (const [what, build] of BAD) {
      const r = await raw('/v1/chat/completions', build(''));
      assert.equal(r.status, 400, `${what}: ${r.text}`);
      assert.equal(r.json?.error?.code, 'invalid_utf8', `${what}: ${r.text}`);
      assert.equal(r.json.error.type, 'invalid_request_error');
      assert.ok('param' in r.json.error);
      assert.match(r.json.error.message, /UTF-8/);
    }
    for (const p of ['/v1/completions', '/v1/embeddings']) {
      const field = p === '/v1/completions' ? 'prompt' : 'input';
      const r = await raw(p, bytes(`{"model":"m","${field}":"a`, [0xed, 0xa0, 0x80], '"}'));
      assert.equal(r.status, 400, `${p}: ${r.text}`);
      assert.equal(r.json?.error?.code, 'invalid_utf8', `${p}: ${r.text}`);
    }
    assert.equal(up.requests.length, before);
  });

  test('invalid UTF-8 in a Messages request is a 400 in the Anthropic shape', async () => {
    const before = up.requests.length;
    for (const [what, build] of BAD) {
      const r = await raw('/v1/messages', build(',"max_tokens":16'));
      assert.equal(r.status, 400, `${what}: ${r.text}`);
      assert.equal(r.json?.type, 'error', `${what}: ${r.text}`);
      assert.equal(r.json.error.type, 'invalid_request_error');
      assert.match(r.json.error.message, /UTF-8/, `${what}: ${r.text}`);
    }
    assert.equal(up.requests.length, before);
  });

  test('HEAD responses carry no body, whatever the status', async () => {
    for (const [p, status] of [['/healthz', 200], ['/readyz', 200], ['/v1/models', 200], ['/v1/models/m', 200], ['/admin/deployments', 200],
      ['/v1/models/nope', 404], ['/v1/nope', 404], ['/v1/chat/completions', 405]]) {
      const r = await exchange(sy.port, rawRequest('HEAD', p, { headers: ['Connection: close'] }), { methods: ['HEAD'], timeout: 5000 });
      assert.equal(r.error, undefined, `${p}: ${r.error}`);
      assert.equal(r.responses[0]?.status, status, `HEAD ${p}: ${r.raw.toString('latin1').slice(0, 300)}`);
      const end = r.raw.indexOf('\r\n\r\n');
      assert.equal(r.raw.length, end + 4, `HEAD ${p}: bytes after the response head: ${JSON.stringify(r.raw.subarray(end + 4).toString('latin1').slice(0, 200))}`);
    }
  });
});
