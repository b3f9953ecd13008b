// The proxy core over HTTP: forwarding, model rewrite, streaming relay, errors, limits, drain.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import net from 'node:net';
import { after, before, describe, test } from 'node:test';

import {
  basicConfig, chunk, completion, postJson, runSwitchyard, sseData, startSwitchyard, startUpstream, usageChunk, writeConfig,
} from './lib/harness.mjs';

const msg = (content) => [{ role: 'user', content }];

describe('forwarding to an OpenAI-compatible upstream', () => {
  let up, sy;
  before(async () => {
    up = await startUpstream(async (req, res, rec) => {
      if (rec.url === '/v1/chat/completions' && rec.json?.stream) {
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        res.write(chunk('', { role: 'assistant' }));
        res.write(chunk('Hel'));
        res.write(chunk('lo'));
        res.write(chunk(null, { finish: 'stop' }));
        if (rec.json.stream_options?.include_usage) res.write(usageChunk());
        res.end('data: [DONE]\n\n');
        return;
      }
      if (rec.url === '/v1/chat/completions') {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ ...completion('Hi there'), extra_upstream_field: { kept: true } }));
        return;
      }
      if (rec.url === '/v1/completions') {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ id: 'cmpl-1', object: 'text_completion', choices: [{ text: 'ok', index: 0, finish_reason: 'stop' }], usage: { prompt_tokens: 1, completion_tokens: 1, total_tokens: 2 } }));
        return;
      }
      if (rec.url === '/v1/embeddings') {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ object: 'list', data: [{ object: 'embedding', index: 0, embedding: [0.1, 0.2] }], model: 'up-m', usage: { prompt_tokens: 2, total_tokens: 2 } }));
        return;
      }
      res.writeHead(404).end();
    });
    sy = await startSwitchyard(basicConfig(up.url), { env: { FAKE_KEY: 'sk-secret-123' } });
  });
  after(async () => { await sy?.stop(); await up?.close(); });

  test('plain completion: model rewritten, unknown fields untouched, key sent, headers explain', async () => {
    const body = { model: 'm', messages: msg('hello'), temperature: 0.2, vendor_field: { a: [1, 2] } };
    const r = await postJson(`${sy.url}/v1/chat/completions`, body);
    assert.equal(r.status, 200);
    assert.equal(r.json.choices[0].message.content, 'Hi there');
    assert.deepEqual(r.json.extra_upstream_field, { kept: true });
    const got = up.requests.at(-1);
    assert.equal(got.url, '/v1/chat/completions');
    assert.equal(got.json.model, 'up-m');
    assert.deepEqual(got.json.vendor_field, { a: [1, 2] });
    assert.equal(got.json.temperature, 0.2);
    assert.equal(got.headers.authorization, 'Bearer sk-secret-123');
    assert.match(r.headers.get('x-request-id'), /^req_[0-9a-f]{24}$/);
    assert.equal(r.headers.get('x-switchyard-model'), 'm');
    assert.equal(r.headers.get('x-switchyard-deployment'), 'm/fake/0');
    assert.equal(r.headers.get('x-switchyard-attempts'), '1');
    // 5 prompt tokens at $1/M + 7 completion tokens at $2/M
    assert.equal(Number(r.headers.get('x-switchyard-cost-usd')), 19e-6);
    assert.ok(Number(r.headers.get('x-switchyard-overhead-ms')) >= 0);
  });

  test('echoes the client x-request-id', async () => {
    const r = await postJson(`${sy.url}/v1/chat/completions`, { model: 'm', messages: msg('x') }, { 'x-request-id': 'client-id-42' });
    assert.equal(r.headers.get('x-request-id'), 'client-id-42');
  });

  test('streaming: events relayed, usage chunk requested upstream but hidden from the client', async () => {
    const r = await postJson(`${sy.url}/v1/chat/completions`, { model: 'm', stream: true, messages: msg('hi') });
    assert.equal(r.status, 200);
    assert.match(r.headers.get('content-type'), /text\/event-stream/);
    const data = sseData(r.text);
    assert.equal(data.at(-1), '[DONE]');
    const content = data.slice(0, -1).map((d) => JSON.parse(d).choices[0]?.delta?.content ?? '').join('');
    assert.equal(content, 'Hello');
    assert.ok(!data.some((d) => d.includes('"usage":{')), 'usage chunk must be stripped');
    assert.equal(up.requests.at(-1).json.stream_options.include_usage, true);
    assert.equal(up.requests.at(-1).json.model, 'up-m');
    // ...but priced: the stream's last line is an SSE comment with the cost of the upstream's final
    // usage (5 prompt tokens at $1/M + 3 completion tokens at $2/M).
    const trailer = r.text.match(/\n: switchyard-usage (\{[^\n]*\})\n\n$/);
    assert.ok(trailer, r.text);
    assert.deepEqual(JSON.parse(trailer[1]), { cost_usd: 11e-6, prompt_tokens: 5, completion_tokens: 3, cached_tokens: 0 });
  });

  test('streaming: the usage chunk reaches a client that asked for it', async () => {
    const r = await postJson(`${sy.url}/v1/chat/completions`, { model: 'm', stream: true, stream_options: { include_usage: true }, messages: msg('hi') });
    const data = sseData(r.text);
    const usage = data.filter((d) => d !== '[DONE]').map((d) => JSON.parse(d)).find((c) => c.usage);
    assert.deepEqual(usage.usage, { prompt_tokens: 5, completion_tokens: 3, total_tokens: 8 });
  });

  test('completions and embeddings are forwarded with the model rewritten', async () => {
    const c = await postJson(`${sy.url}/v1/completions`, { model: 'm', prompt: 'Say ok' });
    assert.equal(c.status, 200);
    assert.equal(c.json.choices[0].text, 'ok');
    assert.equal(up.requests.at(-1).url, '/v1/completions');
    assert.equal(up.requests.at(-1).json.model, 'up-m');
    const e = await postJson(`${sy.url}/v1/embeddings`, { model: 'm', input: 'hello' });
    assert.equal(e.status, 200);
    assert.deepEqual(e.json.data[0].embedding, [0.1, 0.2]);
    assert.equal(up.requests.at(-1).url, '/v1/embeddings');
  });

  test('GET /v1/models lists every model a client may ask for', async () => {
    const r = await fetch(`${sy.url}/v1/models`);
    const j = await r.json();
    assert.equal(j.object, 'list');
    assert.deepEqual(j.data.map((m) => m.id), ['m']);
    assert.equal(j.data[0].object, 'model');
    const one = await (await fetch(`${sy.url}/v1/models/m`)).json();
    assert.equal(one.id, 'm');
  });

  test('the upstream key never appears in the logs', async () => {
    await postJson(`${sy.url}/v1/chat/completions`, { model: 'm', messages: msg('x') });
    await sy.waitForOutput(/POST \/v1\/chat\/completions 200/);
    assert.ok(!sy.output().includes('sk-secret-123'));
  });
});

describe('client errors in OpenAI format', () => {
  let up, sy;
  before(async () => {
    up = await startUpstream(async (req, res) => { res.writeHead(200, { 'content-type': 'application/json' }); res.end(JSON.stringify(completion('x'))); });
    sy = await startSwitchyard(basicConfig(up.url).replace('threads: 2', 'threads: 1\n  max_body_bytes: 2KiB'));
  });
  after(async () => { await sy?.stop(); await up?.close(); });

  const expectError = (r, status, { param, code, type } = {}) => {
    assert.equal(r.status, status, r.text);
    assert.equal(typeof r.json.error.message, 'string');
    assert.ok(r.json.error.message.length > 0);
    assert.ok('type' in r.json.error && 'param' in r.json.error && 'code' in r.json.error);
    if (param !== undefined) assert.equal(r.json.error.param, param);
    if (code !== undefined) assert.equal(r.json.error.code, code);
    if (type !== undefined) assert.equal(r.json.error.type, type);
    assert.ok(r.headers.get('x-request-id'));
  };

  test('malformed JSON is a 400', async () => {
    expectError(await postJson(`${sy.url}/v1/chat/completions`, '{"model": "m", "messages": [}'), 400, { code: 'invalid_json', type: 'invalid_request_error' });
  });
  test('missing or ill-typed model and messages name the field', async () => {
    expectError(await postJson(`${sy.url}/v1/chat/completions`, { messages: msg('x') }), 400, { param: 'model' });
    expectError(await postJson(`${sy.url}/v1/chat/completions`, { model: 7, messages: msg('x') }), 400, { param: 'model' });
    expectError(await postJson(`${sy.url}/v1/chat/completions`, { model: 'm' }), 400, { param: 'messages' });
    expectError(await postJson(`${sy.url}/v1/chat/completions`, { model: 'm', messages: 'hi' }), 400, { param: 'messages' });
    expectError(await postJson(`${sy.url}/v1/embeddings`, { model: 'm' }), 400, { param: 'input' });
  });
  test('unknown model is a 404 model_not_found that lists nothing', async () => {
    const r = await postJson(`${sy.url}/v1/chat/completions`, { model: 'gpt-9', messages: msg('x') });
    expectError(r, 404, { code: 'model_not_found', param: 'model' });
    assert.ok(!r.json.error.message.includes('up-m'));
  });
  test('unknown path is 404 and wrong method is 405 with Allow', async () => {
    const r404 = await fetch(`${sy.url}/v1/nothing`);
    expectError({ status: r404.status, headers: r404.headers, json: await r404.json(), text: '' }, 404);
    const r405 = await fetch(`${sy.url}/v1/chat/completions`);
    expectError({ status: r405.status, headers: r405.headers, json: await r405.json(), text: '' }, 405);
    assert.equal(r405.headers.get('allow'), 'POST');
  });
  test('a body over the limit is a 413 and nothing reaches the upstream', async () => {
    const before = up.requests.length;
    const big = { model: 'm', messages: msg('x'.repeat(4096)) };
    const r = await postJson(`${sy.url}/v1/chat/completions`, big);
    expectError(r, 413, { code: 'request_too_large' });
    assert.equal(up.requests.length, before);
  });
  test('health and readiness', async () => {
    assert.equal((await fetch(`${sy.url}/healthz`)).status, 200);
    const ready = await fetch(`${sy.url}/readyz`);
    assert.equal(ready.status, 200);
    assert.equal((await ready.json()).status, 'ready');
  });
});

describe('upstream failures', () => {
  test('error status mapped, upstream message preserved; failover to a healthy deployment', async () => {
    const bad = await startUpstream(async (req, res) => {
      res.writeHead(503, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: { message: 'upstream is melting', type: 'server_error' } }));
    });
    const badReq = await startUpstream(async (req, res) => {
      res.writeHead(400, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: { message: "Invalid value for 'temperature'", type: 'invalid_request_error', param: 'temperature', code: 'invalid_value' } }));
    });
    const good = await startUpstream(async (req, res) => { res.writeHead(200, { 'content-type': 'application/json' }); res.end(JSON.stringify(completion('from good'))); });
    const sy = await startSwitchyard(`server: {listen: "127.0.0.1:0", threads: 1}
providers:
  - {name: bad, type: openai, base_url: "${bad.url}/v1"}
  - {name: badreq, type: openai, base_url: "${badReq.url}/v1"}
  - {name: good, type: openai, base_url: "${good.url}/v1"}
models:
  - name: only-bad
    deployments: [{provider: bad, model: x}]
  - name: bad-request
    deployments: [{provider: badreq, model: x}]
  - name: two
    deployments: [{provider: bad, model: x, weight: 1000000}, {provider: good, model: y, weight: 0.000001}]
`);
    try {
      const r = await postJson(`${sy.url}/v1/chat/completions`, { model: 'only-bad', messages: msg('x') });
      assert.equal(r.status, 502);
      assert.match(r.json.error.message, /upstream is melting/);
      const r400 = await postJson(`${sy.url}/v1/chat/completions`, { model: 'bad-request', messages: msg('x') });
      assert.equal(r400.status, 400);
      assert.match(r400.json.error.message, /temperature/);
      assert.equal(r400.json.error.code, 'invalid_value');
      const f = await postJson(`${sy.url}/v1/chat/completions`, { model: 'two', messages: msg('x') });
      assert.equal(f.status, 200);
      assert.equal(f.json.choices[0].message.content, 'from good');
      assert.equal(f.headers.get('x-switchyard-attempts'), '2');
      assert.equal(f.headers.get('x-switchyard-deployment'), 'two/good/1');
    } finally {
      await sy.stop(); await bad.close(); await badReq.close(); await good.close();
    }
  });

  test('connection refused is a 502 in OpenAI format', async () => {
    const gone = await startUpstream(async () => {});
    const url = gone.url;
    await gone.close();
    const sy = await startSwitchyard(basicConfig(url));
    try {
      const r = await postJson(`${sy.url}/v1/chat/completions`, { model: 'm', messages: msg('x') });
      assert.equal(r.status, 502);
      assert.equal(r.json.error.code, 'upstream_connection_error');
    } finally { await sy.stop(); }
  });
});

describe('an https upstream', () => {
  test('reached over TLS (keep-alive reused, streaming relayed) with verify_tls off; refused with it on', async () => {
    const up = await startUpstream(async (req, res, rec) => {
      if (rec.json?.stream) {
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        res.write(chunk('over ', { role: 'assistant' }));
        res.end(`${chunk('tls')}data: [DONE]\n\n`);
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(completion(`over tls ${rec.url}`)));
    }, { tls: true });
    const sy = await startSwitchyard(`server: {listen: "127.0.0.1:0", threads: 1}
providers:
  - {name: trusting, type: openai, base_url: "${up.url}/v1", verify_tls: false}
  - {name: verifying, type: openai, base_url: "${up.url}/v1"}
models:
  - {name: m, provider: trusting, model: x}
  - {name: strict, provider: verifying, model: x}
`);
    try {
      for (let i = 0; i < 3; i++) {
        const r = await postJson(`${sy.url}/v1/chat/completions`, { model: 'm', messages: msg('x') });
        assert.equal(r.status, 200, r.text);
        assert.equal(r.json.choices[0].message.content, 'over tls /v1/chat/completions');
      }
      assert.equal(up.openSockets(), 1, 'one TLS connection, kept alive and reused');
      const s = await postJson(`${sy.url}/v1/chat/completions`, { model: 'm', stream: true, messages: msg('x') });
      assert.equal(s.status, 200);
      assert.equal(sseData(s.text).filter((d) => d !== '[DONE]').map((d) => JSON.parse(d).choices[0].delta.content).join(''), 'over tls');
      // The certificate is self-signed: with verification on (the default) the handshake fails.
      const strict = await postJson(`${sy.url}/v1/chat/completions`, { model: 'strict', messages: msg('x') });
      assert.equal(strict.status, 502, strict.text);
      assert.equal(strict.json.error.code, 'upstream_connection_error');
      assert.match(strict.json.error.message, /TLS handshake/);
    } finally { await sy.stop(); await up.close(); }
  });
});

describe('streaming relay', () => {
  test('the first chunk reaches the client before the upstream finishes', async () => {
    let release;
    const released = new Promise((r) => { release = r; });
    const up = await startUpstream(async (req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write(chunk('first', { role: 'assistant' }));
      await released;  // the upstream holds the rest until the test has seen the first chunk
      res.write(chunk(' second'));
      res.end('data: [DONE]\n\n');
    });
    const sy = await startSwitchyard(basicConfig(up.url));
    try {
      const res = await fetch(`${sy.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'm', stream: true, messages: msg('x') }) });
      assert.equal(res.status, 200);
      const reader = res.body.getReader();
      const dec = new TextDecoder();
      let text = '';
      while (!text.includes('first')) {
        const { value, done } = await reader.read();
        assert.ok(!done, 'stream ended before the first chunk');
        text += dec.decode(value);
      }
      assert.ok(!text.includes('second'));
      release();
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        text += dec.decode(value);
      }
      assert.ok(text.includes(' second'));
      assert.match(text, /data: \[DONE\]\n\n: switchyard-usage \{[^\n]*\}\n\n$/);
    } finally { await sy.stop(); await up.close(); }
  });

  test('a client that disconnects mid-stream cancels the upstream request', async () => {
    let upstreamClosed;
    const closed = new Promise((r) => { upstreamClosed = r; });
    const up = await startUpstream(async (req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write(chunk('tick', { role: 'assistant' }));
      res.on('close', () => upstreamClosed(true));  // never ends on its own
    });
    const sy = await startSwitchyard(basicConfig(up.url));
    try {
      const ctl = new AbortController();
      const res = await fetch(`${sy.url}/v1/chat/completions`, { method: 'POST', signal: ctl.signal, headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'm', stream: true, messages: msg('x') }) });
      const reader = res.body.getReader();
      await reader.read();
      ctl.abort();
      assert.equal(await closed, true);
      await sy.waitForOutput(/client disconnected mid-stream/);
    } finally { await sy.stop(); await up.close(); }
  });

  test('an upstream that dies mid-stream ends the client stream with an error event', async () => {
    const up = await startUpstream(async (req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write(chunk('partial', { role: 'assistant' }));
      setImmediate(() => res.socket.destroy());
    });
    const sy = await startSwitchyard(basicConfig(up.url));
    try {
      const r = await postJson(`${sy.url}/v1/chat/completions`, { model: 'm', stream: true, messages: msg('x') });
      assert.equal(r.status, 200);
      const data = sseData(r.text);
      assert.ok(data[0].includes('partial'));
      const err = JSON.parse(data.at(-1));
      assert.ok(err.error, 'last event is an error');
      assert.equal(typeof err.error.message, 'string');
    } finally { await sy.stop(); await up.close(); }
  });
});

describe('connection limits and timeouts', () => {
  test('a client trickling header bytes is cut off at the header timeout', async () => {
    const sy = await startSwitchyard(`server: {listen: "127.0.0.1:0", threads: 1, header_timeout: 300ms}
providers: [{name: mock, type: mock}]
models: [{name: m, provider: mock}]
`);
    try {
      const sock = net.connect(sy.port, '127.0.0.1');
      await once(sock, 'connect');
      const started = Date.now();
      sock.write('POST /v1/chat/completions HTTP/1.1\r\n');
      const trickle = setInterval(() => { if (!sock.destroyed) sock.write('X'); }, 50);
      sock.resume();
      await once(sock, 'close');
      clearInterval(trickle);
      const elapsed = Date.now() - started;
      assert.ok(elapsed < 3000, `cut off after ${elapsed} ms`);
    } finally { await sy.stop(); }
  });

  test('connections over max_connections get a 503 when none is idle', async () => {
    // Two connections busy inside a request (the upstream holds both answers; idle keep-alive
    // connections would be shed to make room instead), then a third.
    const held = [];
    const up = await startUpstream(async (req, res) => { await new Promise((r) => { held.push(r); }); res.end('{}'); });
    const sy = await startSwitchyard(`server: {listen: "127.0.0.1:0", threads: 1, max_connections: 2}
providers: [{name: up, type: openai, base_url: "${up.url}/v1"}]
models: [{name: m, provider: up}]
`);
    const socks = [];
    try {
      const body = JSON.stringify({ model: 'm', messages: [{ role: 'user', content: 'hi' }] });
      for (let i = 0; i < 2; i++) {
        const s = net.connect(sy.port, '127.0.0.1');
        await once(s, 'connect');
        socks.push(s);
        const received = up.nextRequest();
        s.write(`POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body}`);
        await received;  // this connection is busy for as long as the upstream holds its answer
      }
      const r = await fetch(`${sy.url}/healthz`);
      assert.equal(r.status, 503);
      assert.equal((await r.json()).error.code, 'overloaded');
    } finally {
      socks.forEach((s) => s.destroy());
      held.forEach((r) => r());
      await sy.stop();
      await up.close();
    }
  });
});

/** Reads `n` HTTP/1.1 responses (Content-Length framed, 1xx interim ones included) from a raw socket. */
function readResponses(sock, n) {
  return new Promise((resolve, reject) => {
    let buf = Buffer.alloc(0);
    const out = [];
    const onData = (d) => {
      buf = Buffer.concat([buf, d]);
      for (;;) {
        const end = buf.indexOf('\r\n\r\n');
        if (end < 0) return;
        const head = buf.subarray(0, end).toString();
        const status = Number(head.split(' ')[1]);
        const len = Number(/content-length: *(\d+)/i.exec(head)?.[1] ?? 0);
        if (buf.length < end + 4 + len) return;
        out.push({ status, head, body: buf.subarray(end + 4, end + 4 + len).toString() });
        buf = buf.subarray(end + 4 + len);
        if (out.length === n) {
          sock.off('data', onData);
          resolve(out);
          return;
        }
      }
    };
    sock.on('data', onData);
    sock.once('error', reject);
    sock.once('close', () => reject(new Error(`closed after ${out.length} of ${n} responses`)));
  });
}

describe('HTTP framing from raw sockets', () => {
  let sy;
  before(async () => {
    sy = await startSwitchyard(`server: {listen: "127.0.0.1:0", threads: 1}
providers: [{name: mock, type: mock}]
models: [{name: m, provider: mock}]
`);
  });
  after(async () => { await sy?.stop(); });
  const post = (content) => {
    const body = JSON.stringify({ model: 'm', messages: [{ role: 'user', content }] });
    return `POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
  };
  const connect = async () => {
    const sock = net.connect(sy.port, '127.0.0.1');
    sock.setNoDelay(true);
    await once(sock, 'connect');
    return sock;
  };
  const written = (sock, data) => new Promise((resolve) => sock.write(data, resolve));
  const content = (r) => JSON.parse(r.body).choices[0].message.content;

  test('pipelined requests in one write are answered in order', async () => {
    const sock = await connect();
    try {
      const replies = readResponses(sock, 3);
      await written(sock, post('first') + 'GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n' + post('third'));
      const [a, b, c] = await replies;
      assert.deepEqual([a.status, b.status, c.status], [200, 200, 200]);
      assert.match(content(a), /first/);
      assert.match(content(c), /third/);
    } finally { sock.destroy(); }
  });

  test('a request split inside its headers and body, and one straddling two writes, are parsed whole', async () => {
    const sock = await connect();
    try {
      const replies = readResponses(sock, 2);
      const one = post('split apart');
      const two = post('straddling');
      const cuts = [10, 40, one.length - 20, one.length, one.length + 30];
      let at = 0;
      for (const cut of [...cuts, one.length + two.length]) {
        await written(sock, (one + two).slice(at, cut));
        await new Promise((resolve) => setImmediate(resolve));
        at = cut;
      }
      const [a, b] = await replies;
      assert.deepEqual([a.status, b.status], [200, 200]);
      assert.match(content(a), /split apart/);
      assert.match(content(b), /straddling/);
    } finally { sock.destroy(); }
  });

  test('Expect: 100-continue gets the interim response before the body is sent', async () => {
    const sock = await connect();
    try {
      const body = JSON.stringify({ model: 'm', messages: [{ role: 'user', content: 'after continue' }] });
      const interim = readResponses(sock, 1);
      await written(sock, `POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: ${body.length}\r\n\r\n`);
      const [cont] = await interim;
      assert.equal(cont.status, 100);
      const final = readResponses(sock, 1);
      await written(sock, body);
      const [r] = await final;
      assert.equal(r.status, 200);
      assert.match(content(r), /after continue/);
    } finally { sock.destroy(); }
  });

  test('a malformed request after a good one on the same connection gets a 400 and the connection closes', async () => {
    const sock = await connect();
    try {
      const replies = readResponses(sock, 2);
      await written(sock, post('good') + 'THIS IS NOT HTTP\r\n\r\n');
      const [a, b] = await replies;
      assert.equal(a.status, 200);
      assert.equal(b.status, 400);
      await once(sock, 'close');
    } finally { sock.destroy(); }
  });
});

describe('configuration', () => {
  test('--check-config names the YAML path and line of every mistake', async () => {
    const file = writeConfig(`server:
  lisen: 127.0.0.1:8080
providers:
  - name: openai
    type: openai
    base_url: https://api.openai.com/v1
    api_key: \${SWITCHYARD_TEST_UNSET_KEY}
models:
  - name: a
    deployments:
      - provider: opneai
`);
    const r = await runSwitchyard(['--check-config', file]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /:2: server\.lisen: unknown key "lisen" \(did you mean "listen"\?\)/);
    assert.match(r.stderr, /providers\[0\]\.api_key: environment variable SWITCHYARD_TEST_UNSET_KEY is not set/);
    assert.match(r.stderr, /:11: models\[0\]\.deployments\[0\]\.provider: unknown provider "opneai"/);
  });

  test('a valid config checks ok; serving a bad one exits 1 without listening', async () => {
    const ok = writeConfig('providers: [{name: mock, type: mock}]\nmodels: [{name: m, provider: mock}]\n');
    const r = await runSwitchyard(['--check-config', ok]);
    assert.equal(r.code, 0, r.stderr);
    const bad = writeConfig('providers: [{name: mock, type: mokc}]\nmodels: [{name: m, provider: mock}]\n');
    const s = await runSwitchyard(['--config', bad]);
    assert.equal(s.code, 1);
    assert.match(s.stderr, /providers\[0\]\.type: unknown provider type "mokc"/);
  });

  test('provider options are checked by their type when the config loads, with their YAML path', async () => {
    const bad = writeConfig(`providers:
  - {name: ant, type: anthropic, base_url: "https://api.anthropic.com", options: {max_tokens: lots}}
  - {name: az, type: azure, base_url: "https://r.openai.azure.com", options: {api_verison: 2024-06-01}}
  - {name: oai, type: openai, base_url: "https://api.openai.com/v1", options: {region: x}}
models: [{name: m, provider: ant}]
`);
    const r = await runSwitchyard(['--check-config', bad]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /providers\[0\]\.options\.max_tokens/);
    assert.match(r.stderr, /providers\[1\]\.options\.api_verison: unknown key "api_verison" \(did you mean "api_version"\?\)/);
    assert.match(r.stderr, /providers\[2\]\.options: providers of type openai take no options/);
  });
});

describe('graceful shutdown', () => {
  test('SIGTERM during a slow stream lets it finish, refuses new connections, exits 0', async () => {
    const sy = await startSwitchyard(`server: {listen: "127.0.0.1:0", threads: 1, drain_timeout: 10s}
providers: [{name: slow, type: mock, mock: {tokens_per_second: 20, reply: "one two three four five six seven eight"}}]
models: [{name: m, provider: slow}]
`);
    const res = await fetch(`${sy.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'm', stream: true, messages: msg('x') }) });
    const reader = res.body.getReader();
    const dec = new TextDecoder();
    let text = dec.decode((await reader.read()).value);
    sy.proc.kill('SIGTERM');
    await sy.waitForOutput(/draining/);
    await assert.rejects(fetch(`${sy.url}/healthz`));
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      text += dec.decode(value);
    }
    const content = sseData(text).filter((d) => d !== '[DONE]').map((d) => JSON.parse(d).choices[0]?.delta?.content ?? '').join('');
    assert.equal(content, 'one two three four five six seven eight');
    assert.match(text, /data: \[DONE\]\n\n: switchyard-usage \{[^\n]*\}\n\n$/);
    const [code] = await sy.exited;
    assert.equal(code, 0);
  });
});
