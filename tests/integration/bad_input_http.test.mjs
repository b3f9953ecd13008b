// Bad-input catalogue, part 3: HTTP itself, over raw sockets. CR/LF and other control characters in
// every header the proxy echoes or reads (no header may be injected into the response or the upstream
// request), oversized and numerous headers, bad chunked coding, Transfer-Encoding other than exactly
// `chunked`, Content-Length mismatches, HTTP/1.0, pipelining and HEAD. After each group the process
// must still be alive and serve good requests.
//
// Cases that fail against today's binary are in KNOWN below (with what was observed) and run as TODO
// tests; BAD_INPUT_STRICT=1 runs them as ordinary tests.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { expectAnthropicError, expectOpenAIError, groupConfig, known, serverGroup } from './lib/bad_input.mjs';
import { chunkOf, closedWithin, collect, connectRaw, exchange, malformedHeaderLines, rawRequest, written } from './lib/raw_http.mjs';

// No case is known to fail today: add `name: 'what was observed'` entries here when one does.
const KNOWN = {};
const opts = known(KNOWN);

const chatBody = (content = 'hello', extra = {}) => JSON.stringify({ model: 'm', messages: [{ role: 'user', content }], ...extra });
const chat = (o = {}) => rawRequest('POST', '/v1/chat/completions', { body: chatBody(o.content, o.extra), headers: ['Content-Type: application/json', ...(o.headers ?? [])], version: o.version });
const healthz = (method = 'GET', extraHeaders = []) => rawRequest(method, '/healthz', { headers: extraHeaders });
/** A raw response as the shape assertions expect it. */
const asResult = (resp) => ({ status: resp.status, text: resp.text, json: resp.json });

/** The connection closes (or was reset) within `ms`, after what was collected. */
async function expectClosed(r, what = 'the connection') {
  assert.ok(r.closed || r.reset, `${what} stayed open (timed out after collecting ${r.responses.length} responses: ${r.raw.toString('latin1').slice(0, 200)})`);
}

const ROUTER = `routers:
  - name: auto
    default: m
    stages:
      - type: rule
        name: guard
        rules:
          - name: free-tier
            when: {tier: free}
            route: other
          - name: gold-plan
            when: {header: {name: x-plan, equals: gold}}
            route: other
`;

describe('CR, LF and other control characters in headers the proxy echoes or reads', () => {
  const g = serverGroup((u) => groupConfig(u, { extra: ROUTER }));
  before(() => g.start());
  after(() => g.stop());

  // What goes between "abc" and "X-Injected: yes" inside one header value.
  const PAYLOADS = [
    ['a bare CR', '\r'],
    ['a bare LF', '\n'],
    ['CR LF and a space (obs-fold)', '\r\n '],
    ['CR LF and a tab (obs-fold)', '\r\n\t'],
    ['a NUL', '\x00'],
    ['DEL', '\x7f'],
    ['\\x01', '\x01'],
    ['0xFF', '\xff'],
    ['percent-encoded CR LF', '%0d%0a'],
  ];
  const HEADERS = ['x-request-id', 'x-switchyard-router', 'x-switchyard-tier', 'x-switchyard-threshold', 'x-switchyard-debug', 'x-plan', 'x-metadata-user', 'user-agent'];

  /** The response (if any) must be well-formed, carry no injected header, and nothing may reach the upstream injected. */
  const checkNoInjection = (r, before) => {
    assert.ok(!r.timedOut || r.responses.length > 0, 'no response and the connection stayed open');
    assert.equal(r.error, undefined, `unparseable response: ${r.error}`);
    for (const resp of r.responses) {
      assert.deepEqual(malformedHeaderLines(resp.head), [], `malformed header lines in:\n${resp.head}`);
      const injected = resp.headers.filter(([k]) => k === 'x-injected');
      assert.deepEqual(injected, [], `injected header in:\n${resp.head}`);
      assert.ok(![...resp.head].some((c) => c < ' ' && c !== '\r' && c !== '\n' && c !== '\t'), `control character in the response head:\n${JSON.stringify(resp.head)}`);
      if (resp.status >= 400) expectOpenAIError(asResult(resp), resp.status);
      const rid = resp.get('x-request-id');
      assert.ok(rid && /^[\x21-\x7e]+$/.test(rid), `bad x-request-id echoed: ${JSON.stringify(rid)}`);
    }
    for (const q of g.up.requests.slice(before)) {
      assert.ok(!('x-injected' in q.headers), `the upstream received an injected header: ${JSON.stringify(q.headers)}`);
    }
  };

  for (const header of HEADERS) {
    for (const [what, p] of PAYLOADS) {
      const name = `${header} with ${what} followed by "X-Injected: yes"`;
      test(name, opts(name), async () => {
        const before = g.up.requests.length;
        const body = chatBody('hi');
        const req = rawRequest('POST', '/v1/chat/completions', {
          body, headers: ['Content-Type: application/json', `${header}: abc${p}X-Injected: yes`, 'x-switchyard-debug: 1'],
        });
        const r = await exchange(g.port, req, { n: 1 });
        await g.checkAlive(name);
        checkNoInjection(r, before);
        assert.ok(r.responses.length === 1 || r.closed, 'neither a response nor a close');
      });
    }
  }
  for (const [path, why] of [['/v1/chat/completions', 'a streamed answer'], ['/v1/nope', 'a 404'], ['/v1/messages', 'an Anthropic answer']]) {
    for (const [what, p] of PAYLOADS) {
      const name = `x-request-id with ${what} on ${why}`;
      test(name, opts(name), async () => {
        const before = g.up.requests.length;
        const body = path === '/v1/messages' ? JSON.stringify({ model: 'm', max_tokens: 8, messages: [{ role: 'user', content: 'x' }] }) : chatBody('hi', { stream: true });
        const req = rawRequest('POST', path, { body, headers: ['Content-Type: application/json', `x-request-id: abc${p}X-Injected: yes`] });
        const r = await exchange(g.port, req, { n: 1 });
        await g.checkAlive(name);
        assert.equal(r.error, undefined, `unparseable response: ${r.error}`);
        for (const resp of r.responses) {
          assert.deepEqual(malformedHeaderLines(resp.head), [], resp.head);
          assert.ok(!resp.headers.some(([k]) => k === 'x-injected'), resp.head);
        }
        assert.ok(g.up.requests.slice(before).every((q) => !('x-injected' in q.headers)));
      });
    }
  }
  {
    const name = 'a %0d%0a-encoded model id in the URL is not decoded into the response head';
    test(name, opts(name), async () => {
      const r = await exchange(g.port, rawRequest('GET', '/v1/models/m%0d%0aX-Injected:%20yes'), { n: 1 });
      await g.checkAlive(name);
      assert.equal(r.responses[0]?.status, 404, r.raw.toString('latin1').slice(0, 300));
      assert.deepEqual(malformedHeaderLines(r.responses[0].head), []);
      assert.ok(!r.responses[0].headers.some(([k]) => k === 'x-injected'));
    });
  }
  {
    const name = 'a raw CR in the request target is a 400';
    test(name, opts(name), async () => {
      const r = await exchange(g.port, 'GET /v1/models/m\rX-Injected: yes HTTP/1.1\r\nHost: x\r\n\r\n', { n: 1 });
      await g.checkAlive(name);
      assert.ok(r.responses.length === 1 || r.closed);
      if (r.responses.length) {
        assert.equal(r.responses[0].status, 400);
        assert.ok(!r.responses[0].headers.some(([k]) => k === 'x-injected'));
      }
    });
  }
  test('the process is alive and serves good requests', (t) => g.finalCheck(t));
});

describe('oversized and numerous headers, bad request lines', () => {
  const g = serverGroup((u) => groupConfig(u));
  before(() => g.start());
  after(() => g.stop());

  const cases = [
    ['one 20 KiB header is a 431', () => chat({ headers: [`x-big: ${'b'.repeat(20 * 1024)}`] }), [431]],
    ['a header block over 16 KiB made of 400 headers is a 431', () => chat({ headers: Array.from({ length: 400 }, (_, i) => `x-h${i}: ${'v'.repeat(40)}`) }), [431]],
    ['100,000 tiny headers are a 431', () => chat({ headers: Array.from({ length: 100_000 }, (_, i) => `h${i}: 1`) }), [431]],
    ['a 20 KiB request target is a 431 or 414', () => rawRequest('GET', `/v1/models/${'t'.repeat(20 * 1024)}`), [414, 431]],
    ['a header name with a space is a 400', () => chat({ headers: ['Bad Header: x'] }), [400]],
    ['a space between header name and colon is a 400', () => chat({ headers: ['x-thing : x'] }), [400]],
    ['a header line without a colon is a 400', () => chat({ headers: ['no-colon-here'] }), [400]],
    ['a header with an empty name is a 400', () => chat({ headers: [': x'] }), [400]],
    ['a header name with a NUL is a 400', () => chat({ headers: ['x-a\x00b: 1'] }), [400]],
    ['a request line without a version is a 400', () => 'GET /healthz\r\nHost: x\r\n\r\n', [400]],
    ['an HTTP/0.9-style request line is a 400 or a close', () => 'GET /healthz\r\n\r\n', [400]],
    ['an HTTP/2.0 request line is a 505 or 400', () => 'GET /healthz HTTP/2.0\r\nHost: x\r\n\r\n', [400, 505]],
    ['the HTTP/2 connection preface is a 400/505 or a close', () => 'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', [400, 505]],
    ['an HTTP/1.1 request without Host is a 400', () => rawRequest('POST', '/v1/chat/completions', { body: chatBody(), headers: ['Content-Type: application/json'], host: false }), [400]],
    ['an HTTP/1.1 request with two Host headers is a 400', () => chat({ headers: ['Host: y'] }), [400]],
    ['a request line with two spaces is a 400', () => 'GET  /healthz HTTP/1.1\r\nHost: x\r\n\r\n', [400]],
  ];
  for (const [what, build, statuses] of cases) {
    test(what, opts(what), async () => {
      const before = g.up.requests.length;
      const r = await exchange(g.port, build(), { timeout: 5000 });
      await g.checkAlive(what);
      assert.equal(r.error, undefined, `unparseable response: ${r.error}`);
      const closeOk = /or a close/.test(what);
      if (!(closeOk && r.responses.length === 0)) {
        assert.ok(r.responses.length >= 1, `no response (closed: ${r.closed}, timed out: ${r.timedOut})`);
        assert.ok(statuses.includes(r.responses[0].status), `got ${r.responses[0].status}: ${r.responses[0].text.slice(0, 200)}`);
        if (r.responses[0].status >= 400) expectOpenAIError(asResult(r.responses[0]), r.responses[0].status);
      }
      if (!statuses.includes(200)) {
        assert.equal(g.up.requests.length, before, 'the request reached the upstream');
        await expectClosed(r);
      }
    });
  }
  for (const [what, req, statuses] of [
    ['a lowercase method is a 400, 405 or 501', 'get /healthz HTTP/1.1\r\nHost: x\r\n\r\n', [400, 405, 501]],
    ['an unknown method is a 405 or 501', 'BREW /healthz HTTP/1.1\r\nHost: x\r\n\r\n', [405, 501]],
    ['a bare-LF request is answered or a 400', 'GET /healthz HTTP/1.1\nHost: x\n\n', [200, 400]],
  ]) {
    test(what, opts(what), async () => {
      const r = await exchange(g.port, req, { n: 1, timeout: 5000 });
      await g.checkAlive(what);
      assert.equal(r.error, undefined, r.error);
      assert.ok(r.responses.length === 1 || r.closed, `neither a response nor a close: ${r.raw.toString('latin1').slice(0, 100)}`);
      if (r.responses.length) {
        assert.ok(statuses.includes(r.responses[0].status), `got ${r.responses[0].status}`);
        if (r.responses[0].status >= 400) expectOpenAIError(asResult(r.responses[0]), r.responses[0].status);
      }
    });
  }
  {
    const name = '2,000 tiny headers within the byte limit are answered or refused with a 431';
    test(name, opts(name), async () => {
      const r = await exchange(g.port, chat({ headers: Array.from({ length: 2000 }, (_, i) => `h${i}: 1`) }), { n: 1 });
      await g.checkAlive(name);
      assert.ok([200, 431].includes(r.responses[0]?.status), r.raw.toString('latin1').slice(0, 200));
    });
  }
  {
    const name = 'five hundred x-request-id headers (10 KiB, under the header limit): exactly one x-request-id comes back';
    test(name, opts(name), async () => {
      const r = await exchange(g.port, chat({ headers: Array.from({ length: 500 }, (_, i) => `x-request-id: id-${i}`) }), { n: 1 });
      await g.checkAlive(name);
      assert.equal(r.responses[0]?.status, 200, r.raw.toString('latin1').slice(0, 200));
      assert.equal(r.responses[0].headers.filter(([k]) => k === 'x-request-id').length, 1, r.responses[0].head);
    });
  }
  test('the process is alive and serves good requests', (t) => g.finalCheck(t));
});

describe('Transfer-Encoding and chunked coding', () => {
  const g = serverGroup((u) => groupConfig(u, { server: 'body_timeout: 1s' }));
  before(() => g.start());
  after(() => g.stop());

  const body = Buffer.from(chatBody('chunked'));
  const head = (te, extra = [], version = '1.1') => Buffer.from(
    [`POST /v1/chat/completions HTTP/${version}`, 'Host: x', 'Content-Type: application/json', ...te.map((v) => `Transfer-Encoding: ${v}`), ...extra].join('\r\n') + '\r\n\r\n', 'latin1');
  const goodChunks = Buffer.concat([chunkOf(body.subarray(0, 10)), chunkOf(body.subarray(10)), Buffer.from('0\r\n\r\n')]);

  {
    const name = 'a well-formed chunked body with a trailer is answered (baseline)';
    test(name, opts(name), async () => {
      const r = await exchange(g.port, Buffer.concat([head(['chunked']), chunkOf(body.subarray(0, 7)), chunkOf(body.subarray(7)), Buffer.from('0\r\nx-trailer: 1\r\n\r\n')]), { n: 1 });
      await g.checkAlive(name);
      assert.equal(r.responses[0]?.status, 200, r.raw.toString('latin1').slice(0, 300));
    });
  }
  const REFUSED_TE = [
    ['Transfer-Encoding: gzip, chunked', head(['gzip, chunked'])],
    ['Transfer-Encoding: chunked, chunked', head(['chunked, chunked'])],
    ['Transfer-Encoding: identity', head(['identity'])],
    ['Transfer-Encoding: chunked, gzip (chunked not last)', head(['chunked, gzip'])],
    ['Transfer-Encoding: gzip', head(['gzip'])],
    ['Transfer-Encoding: xchunked', head(['xchunked'])],
    ['two Transfer-Encoding headers: gzip then chunked', head(['gzip', 'chunked'])],
    ['two Transfer-Encoding headers: chunked then chunked', head(['chunked', 'chunked'])],
    ['an empty Transfer-Encoding', head([''])],
  ];
  for (const [what, h] of REFUSED_TE) {
    const name = `${what} is a 400 or 501 and the connection closes`;
    test(name, opts(name), async () => {
      const before = g.up.requests.length;
      const r = await exchange(g.port, Buffer.concat([h, goodChunks]), { timeout: 5000 });
      await g.checkAlive(name);
      assert.equal(r.error, undefined, r.error);
      const seen = r.responses.map((x) => `${x.status} ${x.text.slice(0, 120)}`).join(' | ');
      assert.ok(r.responses.length >= 1, `no response (closed: ${r.closed}, timed out: ${r.timedOut})`);
      assert.ok([400, 501].includes(r.responses[0].status), `got ${seen}`);
      expectOpenAIError(asResult(r.responses[0]), [400, 501]);
      assert.equal(r.responses.length, 1, `more than one response: ${seen}`);
      await expectClosed(r);
      assert.equal(g.up.requests.length, before, 'the request reached the upstream');
    });
  }
  const BAD_CHUNKS = [
    ['a chunk size that is not hex', Buffer.from('zz\r\nhello\r\n0\r\n\r\n')],
    ['a chunk size that overflows 64 bits', Buffer.from('1ffffffffffffffffff\r\nhello\r\n0\r\n\r\n')],
    ['a negative chunk size', Buffer.from('-5\r\nhello\r\n0\r\n\r\n')],
    ['chunk data longer than its size', Buffer.concat([Buffer.from('3\r\n'), body, Buffer.from('\r\n0\r\n\r\n')])],
    ['no CRLF after chunk data', Buffer.concat([Buffer.from(body.length.toString(16) + '\r\n'), body, Buffer.from('0\r\n\r\n')])],
    ['a control character in a chunk extension', Buffer.concat([Buffer.from(body.length.toString(16) + ';\x01\r\n'), body, Buffer.from('\r\n0\r\n\r\n')])],
    ['a chunk-size line of 10 KiB of zeros and spaces', Buffer.from(' '.repeat(10240) + '5\r\nhello\r\n0\r\n\r\n')],
  ];
  for (const [what, chunks] of BAD_CHUNKS) {
    const name = `chunked body with ${what} is a 400 and the connection closes`;
    test(name, opts(name), async () => {
      const before = g.up.requests.length;
      const r = await exchange(g.port, Buffer.concat([head(['chunked']), chunks]), { timeout: 5000 });
      await g.checkAlive(name);
      assert.equal(r.error, undefined, r.error);
      assert.ok(!r.responses.some((x) => x.status === 200), 'answered 200');
      assert.ok(r.responses.length >= 1, `no response, the connection just ${r.closed ? 'closed' : 'stayed open'}`);
      expectOpenAIError(asResult(r.responses[0]), 400);
      await expectClosed(r);
      assert.equal(g.up.requests.length, before, 'the request reached the upstream');
    });
  }
  {
    const name = 'a chunked body over max_body_bytes is a 413';
    test(name, opts(name), async () => {
      const big = chunkOf(Buffer.alloc(5 * 1024 * 1024, 0x20));  // over the default 4 MiB
      const r = await exchange(g.port, [head(['chunked']), big], { timeout: 10000 });
      await g.checkAlive(name);
      assert.equal(r.responses[0]?.status, 413, `got ${r.raw.toString('latin1').slice(0, 300) || 'no response'} (closed: ${r.closed}, reset: ${r.reset})`);
      expectOpenAIError(asResult(r.responses[0]), 413);
    });
  }
  {
    const name = 'a truncated chunked body then a half-close: no 200, a 400 or a clean close';
    test(name, opts(name), async () => {
      const r = await exchange(g.port, Buffer.concat([head(['chunked']), Buffer.from('40\r\n{"model":"m"')]), { end: true, timeout: 5000 });
      await g.checkAlive(name);
      assert.ok(r.closed || r.reset, 'the connection stayed open after the client finished');
      assert.ok(r.responses.every((x) => x.status === 400), `got ${r.responses.map((x) => x.status)}`);
    });
  }
  {
    const name = 'a truncated chunked body on an open connection is a 408 at the body timeout';
    test(name, opts(name), async () => {
      const r = await exchange(g.port, Buffer.concat([head(['chunked']), Buffer.from('40\r\n{"model":"m"')]), { timeout: 8000 });
      await g.checkAlive(name);
      assert.equal(r.responses[0]?.status, 408, `got ${r.raw.toString('latin1').slice(0, 200) || 'nothing'} (closed: ${r.closed})`);
      expectOpenAIError(asResult(r.responses[0]), 408);
      await expectClosed(r);
    });
  }
  {
    const name = 'Transfer-Encoding: chunked with a Content-Length is refused, or read as chunked and the connection closed';
    test(name, opts(name), async () => {
      // Content-Length claims 5 bytes; read as chunked the body is the chat request; then a pipelined
      // request that must not be answered when the server keeps the chunked reading (RFC 9112 6.1).
      const r = await exchange(g.port, Buffer.concat([head(['chunked'], ['Content-Length: 5']), goodChunks, healthz()]), { timeout: 5000 });
      await g.checkAlive(name);
      assert.equal(r.error, undefined, r.error);
      assert.ok(r.responses.length >= 1, 'no response');
      const first = r.responses[0];
      if (first.status === 200) {
        assert.equal(r.responses.length, 1, 'the connection was kept open after a request with both Content-Length and Transfer-Encoding');
      } else {
        assert.ok([400, 501].includes(first.status), `got ${first.status}`);
      }
      await expectClosed(r);
    });
  }
  {
    const name = 'HTTP/1.0 with Transfer-Encoding: chunked is refused, or answered and the connection closed';
    test(name, opts(name), async () => {
      const r = await exchange(g.port, Buffer.concat([head(['chunked'], [], '1.0'), goodChunks]), { timeout: 5000 });
      await g.checkAlive(name);
      assert.equal(r.error, undefined, r.error);
      assert.ok(r.responses.length >= 1 || r.closed, 'neither a response nor a close');
      if (r.responses.length) assert.ok([200, 400, 501].includes(r.responses[0].status));
      await expectClosed(r);
    });
  }
  test('the process is alive and serves good requests', (t) => g.finalCheck(t));
});

describe('Content-Length mismatches', () => {
  const g = serverGroup((u) => groupConfig(u, { server: 'body_timeout: 1s' }));
  before(() => g.start());
  after(() => g.stop());

  const body = chatBody('length');
  const withCL = (values, b = body) => Buffer.concat([Buffer.from(['POST /v1/chat/completions HTTP/1.1', 'Host: x', 'Content-Type: application/json', ...values.map((v) => `Content-Length: ${v}`)].join('\r\n') + '\r\n\r\n', 'latin1'), Buffer.from(b)]);

  {
    const name = 'Content-Length shorter than the body: the truncated body is a 400, the rest never becomes a 200';
    test(name, opts(name), async () => {
      const before = g.up.requests.length;
      const r = await exchange(g.port, withCL([10]), { timeout: 5000 });
      await g.checkAlive(name);
      assert.equal(r.error, undefined, r.error);
      assert.ok(r.responses.length >= 1, 'no response');
      assert.equal(r.responses[0].status, 400);
      expectOpenAIError(asResult(r.responses[0]), 400);
      for (const x of r.responses) expectOpenAIError(asResult(x), 400);
      await expectClosed(r);
      assert.equal(g.up.requests.length, before);
    });
  }
  {
    const name = 'Content-Length longer than the body, then a half-close: no 200, a 400 or a clean close';
    test(name, opts(name), async () => {
      const r = await exchange(g.port, withCL([body.length + 50]), { end: true, timeout: 5000 });
      await g.checkAlive(name);
      assert.ok(r.closed || r.reset, 'the connection stayed open');
      assert.ok(r.responses.every((x) => x.status === 400), `got ${r.responses.map((x) => x.status)}`);
    });
  }
  {
    const name = 'Content-Length longer than the body on an open connection is a 408 at the body timeout';
    test(name, opts(name), async () => {
      const r = await exchange(g.port, withCL([body.length + 50]), { timeout: 8000 });
      await g.checkAlive(name);
      assert.equal(r.responses[0]?.status, 408, `got ${r.raw.toString('latin1').slice(0, 200) || 'nothing'}`);
      expectOpenAIError(asResult(r.responses[0]), 408);
      await expectClosed(r);
    });
  }
  const BAD = [
    ['two different Content-Length headers', [body.length, body.length + 1]],
    ['a Content-Length list of two different values', [`${body.length}, ${body.length + 1}`]],
    ['Content-Length: -1', ['-1']],
    ['Content-Length: abc', ['abc']],
    ['Content-Length: +N', [`+${body.length}`]],
    ['Content-Length in hex', [`0x${body.length.toString(16)}`]],
    ['an empty Content-Length', ['']],
    ['Content-Length of 30 digits', ['9'.repeat(30)]],
  ];
  for (const [what, values] of BAD) {
    const name = `${what} is a 400 (413 for a huge one) and the connection closes`;
    test(name, opts(name), async () => {
      const before = g.up.requests.length;
      const r = await exchange(g.port, withCL(values), { timeout: 5000 });
      await g.checkAlive(name);
      assert.equal(r.error, undefined, r.error);
      assert.ok(r.responses.length >= 1, `no response (closed: ${r.closed})`);
      expectOpenAIError(asResult(r.responses[0]), /30 digits/.test(what) ? [400, 413] : 400);
      await expectClosed(r);
      assert.equal(g.up.requests.length, before);
    });
  }
  {
    const name = 'two equal Content-Length headers are answered or refused';
    test(name, opts(name), async () => {
      const r = await exchange(g.port, withCL([body.length, body.length]), { n: 1, timeout: 5000 });
      await g.checkAlive(name);
      assert.ok([200, 400].includes(r.responses[0]?.status), r.raw.toString('latin1').slice(0, 200));
    });
  }
  {
    const name = 'a Content-Length over max_body_bytes is a 413 before the body is sent';
    test(name, opts(name), async () => {
      const r = await exchange(g.port, Buffer.from(`POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${64 * 1024 * 1024}\r\n\r\n{"model"`), { timeout: 5000 });
      await g.checkAlive(name);
      assert.equal(r.responses[0]?.status, 413, r.raw.toString('latin1').slice(0, 200) || 'no response');
      expectOpenAIError(asResult(r.responses[0]), 413, { code: 'request_too_large' });
      await expectClosed(r);
    });
  }
  {
    const name = 'a Content-Length over max_body_bytes on /v1/messages is a 413 in the Anthropic format';
    test(name, opts(name), async () => {
      const r = await exchange(g.port, Buffer.from(`POST /v1/messages HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${64 * 1024 * 1024}\r\n\r\n{"model"`), { timeout: 5000 });
      await g.checkAlive(name);
      assert.equal(r.responses[0]?.status, 413, r.raw.toString('latin1').slice(0, 200) || 'no response');
      expectAnthropicError(asResult(r.responses[0]), 413);
    });
  }
  {
    const name = 'a client still sending a body over the limit can read the 413';
    test(name, opts(name), async () => {
      // The whole 5 MiB body is written; the 413 must reach the client rather than a reset.
      const big = Buffer.concat([Buffer.from('{"model":"m","messages":[{"role":"user","content":"'), Buffer.alloc(5 * 1024 * 1024, 0x61), Buffer.from('"}]}')]);
      const sock = await connectRaw(g.port);
      sock.on('error', () => {});
      const got = collect(sock, { n: 1, timeout: 10000 });
      sock.write(Buffer.concat([Buffer.from(`POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${big.length}\r\n\r\n`), big]));
      const r = await got;
      sock.destroy();
      await g.checkAlive(name);
      assert.equal(r.responses[0]?.status, 413, `got ${r.reset ? 'a connection reset' : 'no response'} (${r.raw.length} bytes)`);
    });
  }
  {
    const name = 'a POST without Content-Length or Transfer-Encoding is a 400 (empty body) or 411';
    test(name, opts(name), async () => {
      const r = await exchange(g.port, 'POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\r\n', { n: 1, timeout: 5000 });
      await g.checkAlive(name);
      assert.ok([400, 411].includes(r.responses[0]?.status), r.raw.toString('latin1').slice(0, 200) || 'no response');
      expectOpenAIError(asResult(r.responses[0]), [400, 411]);
    });
  }
  test('the process is alive and serves good requests', (t) => g.finalCheck(t));
});

// Bodies of 64 KiB and more with a Content-Length are read straight into the request (not through the
// HTTP parser): the same answers as for small ones, whatever way the bytes arrive.
describe('large bodies read in place', () => {
  const g = serverGroup((u) => groupConfig(u, { server: 'body_timeout: 1s, max_body_bytes: 8MiB' }));
  before(() => g.start());
  after(() => g.stop());

  const bigContent = 'x'.repeat(300 * 1024) + ' the end';
  const big = Buffer.from(chatBody(bigContent));
  const headFor = (length) => Buffer.from(`POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${length}\r\n\r\n`, 'latin1');

  {
    const name = 'a 300 KiB body sent in pieces reaches the upstream byte for byte (but the model)';
    test(name, opts(name), async () => {
      const before = g.up.requests.length;
      const pieces = [Buffer.concat([headFor(big.length), big.subarray(0, 1000)])];
      for (let at = 1000; at < big.length; at += 70000) pieces.push(big.subarray(at, Math.min(big.length, at + 70000)));
      const r = await exchange(g.port, pieces, { n: 1, timeout: 10000 });
      await g.checkAlive(name);
      assert.equal(r.responses[0]?.status, 200, r.raw.toString('latin1').slice(0, 300));
      assert.equal(g.up.requests.length, before + 1);
      const sent = g.up.requests.at(-1).json;
      assert.equal(sent.messages[0].content, bigContent);
    });
  }
  {
    const name = 'a request pipelined behind a large body is answered too';
    test(name, opts(name), async () => {
      const r = await exchange(g.port, Buffer.concat([headFor(big.length), big, chat({ content: 'second' })]), { n: 2, timeout: 10000 });
      await g.checkAlive(name);
      assert.deepEqual(r.responses.map((x) => x.status), [200, 200], r.raw.toString('latin1').slice(0, 300));
    });
  }
  {
    const name = 'a large body cut short by a half-close is a 400 or a close, never a 200';
    test(name, opts(name), async () => {
      const before = g.up.requests.length;
      const r = await exchange(g.port, Buffer.concat([headFor(big.length), big.subarray(0, 100000)]), { end: true, timeout: 5000 });
      await g.checkAlive(name);
      assert.ok(r.closed || r.reset, 'the connection stayed open');
      assert.ok(r.responses.every((x) => x.status === 400), `got ${r.responses.map((x) => x.status)}`);
      assert.equal(g.up.requests.length, before, 'the request reached the upstream');
    });
  }
  {
    const name = 'a large body that stops arriving on an open connection is a 408 at the body timeout';
    test(name, opts(name), async () => {
      const r = await exchange(g.port, Buffer.concat([headFor(big.length), big.subarray(0, 100000)]), { timeout: 8000 });
      await g.checkAlive(name);
      assert.equal(r.responses[0]?.status, 408, `got ${r.raw.toString('latin1').slice(0, 200) || 'nothing'}`);
      expectOpenAIError(asResult(r.responses[0]), 408);
      await expectClosed(r);
    });
  }
  {
    const name = 'a large body that is not JSON is a 400 in the OpenAI format';
    test(name, opts(name), async () => {
      const junk = Buffer.alloc(200 * 1024, 0x7b);
      const r = await exchange(g.port, Buffer.concat([headFor(junk.length), junk]), { n: 1, timeout: 5000 });
      await g.checkAlive(name);
      assert.equal(r.responses[0]?.status, 400, r.raw.toString('latin1').slice(0, 200));
      expectOpenAIError(asResult(r.responses[0]), 400);
    });
  }
  test('the process is alive and serves good requests', (t) => g.finalCheck(t));
});

describe('HTTP/1.0, pipelining and HEAD', () => {
  const g = serverGroup((u) => groupConfig(u));
  before(() => g.start());
  after(() => g.stop());

  const content = (resp) => resp.json?.choices?.[0]?.message?.content;

  {
    const name = 'HTTP/1.0 without keep-alive: one response, then the server closes';
    test(name, opts(name), async () => {
      const r = await exchange(g.port, Buffer.concat([chat({ version: '1.0' }), chat({ version: '1.0' })]), { timeout: 5000 });
      await g.checkAlive(name);
      assert.equal(r.error, undefined, r.error);
      assert.equal(r.responses.length, 1, `got ${r.responses.length} responses`);
      assert.equal(r.responses[0].status, 200);
      assert.equal(content(r.responses[0]), 'ok');
      await expectClosed(r);
    });
  }
  {
    const name = 'HTTP/1.0 with keep-alive: the connection stays open for the next request';
    test(name, opts(name), async () => {
      const ka = (c) => chat({ version: '1.0', content: c, headers: ['Connection: keep-alive'] });
      const r = await exchange(g.port, Buffer.concat([ka('one'), ka('two')]), { n: 2, timeout: 5000 });
      await g.checkAlive(name);
      assert.equal(r.responses.length, 2, `got ${r.responses.length} responses, closed: ${r.closed}`);
      assert.deepEqual(r.responses.map((x) => x.status), [200, 200]);
      assert.match(r.responses[0].get('connection') ?? '', /keep-alive/i);
    });
  }
  {
    const name = 'HTTP/1.0 streaming: no chunked coding, the events end at the close';
    test(name, opts(name), async () => {
      const r = await exchange(g.port, chat({ version: '1.0', extra: { stream: true } }), { timeout: 5000 });
      await g.checkAlive(name);
      assert.equal(r.responses[0]?.status, 200, r.raw.toString('latin1').slice(0, 200));
      assert.equal(r.responses[0].get('transfer-encoding'), undefined);
      assert.ok(r.responses[0].text.includes('data: [DONE]'), r.responses[0].text);
      assert.ok(r.closed);
    });
  }
  {
    const name = 'pipelined good, bad JSON, good: 200, 400, 200 in order';
    test(name, opts(name), async () => {
      const bad = rawRequest('POST', '/v1/chat/completions', { body: '{"model":', headers: ['Content-Type: application/json'] });
      const r = await exchange(g.port, Buffer.concat([chat({ content: 'first' }), bad, chat({ content: 'third' })]), { n: 3, timeout: 5000 });
      await g.checkAlive(name);
      assert.deepEqual(r.responses.map((x) => x.status), [200, 400, 200]);
      expectOpenAIError(asResult(r.responses[1]), 400);
    });
  }
  {
    const name = 'pipelined good, unparseable request, good: 200, 400, then close; the third is not answered';
    test(name, opts(name), async () => {
      const r = await exchange(g.port, Buffer.concat([chat(), Buffer.from('NOT HTTP AT ALL\r\n\r\n'), chat()]), { timeout: 5000 });
      await g.checkAlive(name);
      assert.deepEqual(r.responses.map((x) => x.status), [200, 400]);
      await expectClosed(r);
    });
  }
  {
    const name = 'pipelined Anthropic requests: bad then good, 400 then 200';
    test(name, opts(name), async () => {
      const bad = rawRequest('POST', '/v1/messages', { body: '{"model":"m","messages":7}', headers: ['Content-Type: application/json'] });
      const good = rawRequest('POST', '/v1/messages', { body: JSON.stringify({ model: 'm', max_tokens: 8, messages: [{ role: 'user', content: 'x' }] }), headers: ['Content-Type: application/json'] });
      const r = await exchange(g.port, Buffer.concat([bad, good]), { n: 2, timeout: 5000 });
      await g.checkAlive(name);
      assert.deepEqual(r.responses.map((x) => x.status), [400, 200]);
      expectAnthropicError(asResult(r.responses[0]), 400);
    });
  }
  {
    const name = '500 pipelined requests in one write are all answered in order';
    test(name, opts(name), async () => {
      const reqs = [];
      for (let i = 0; i < 500; i++) reqs.push(i % 2 ? healthz() : rawRequest('GET', `/v1/models/m`));
      const r = await exchange(g.port, Buffer.concat(reqs), { n: 500, timeout: 10000 });
      await g.checkAlive(name);
      assert.equal(r.responses.length, 500);
      assert.ok(r.responses.every((x) => x.status === 200));
      assert.ok(r.responses.every((x, i) => (i % 2 ? x.json.status === 'ok' : x.json.id === 'm')));
    });
  }
  {
    const name = 'a pipelined request after Connection: close is not answered';
    test(name, opts(name), async () => {
      const r = await exchange(g.port, Buffer.concat([healthz('GET', ['Connection: close']), healthz()]), { timeout: 5000 });
      await g.checkAlive(name);
      assert.equal(r.responses.length, 1);
      assert.ok(r.closed);
    });
  }
  const HEADS = [
    ['HEAD /healthz', '/healthz', 200],
    ['HEAD /v1/models', '/v1/models', 200],
    ['HEAD /v1/chat/completions (405)', '/v1/chat/completions', 405],
    ['HEAD /v1/messages (405)', '/v1/messages', 405],
    ['HEAD on an unknown path (404)', '/v1/nope', 404],
  ];
  for (const [what, path, status] of HEADS) {
    const name = `${what} carries no body: a pipelined GET after it is parsed correctly`;
    test(name, opts(name), async () => {
      const r = await exchange(g.port, Buffer.concat([rawRequest('HEAD', path), healthz()]), { n: 2, methods: ['HEAD', 'GET'], timeout: 5000 });
      await g.checkAlive(name);
      assert.equal(r.error, undefined, `the HEAD response carried a body: ${r.error}`);
      assert.equal(r.responses.length, 2, `got ${r.responses.length} responses: ${r.raw.toString('latin1').slice(0, 300)}`);
      assert.equal(r.responses[0].status, status);
      assert.equal(r.responses[1].status, 200);
      assert.equal(r.responses[1].json?.status, 'ok');
    });
  }
  {
    const name = 'HEAD /healthz on its own: headers only, nothing after them';
    test(name, opts(name), async () => {
      const r = await exchange(g.port, rawRequest('HEAD', '/healthz', { headers: ['Connection: close'] }), { methods: ['HEAD'], timeout: 5000 });
      await g.checkAlive(name);
      const end = r.raw.indexOf('\r\n\r\n');
      assert.ok(end > 0, 'no response head');
      assert.equal(r.raw.length, end + 4, `bytes after the HEAD response head: ${JSON.stringify(r.raw.subarray(end + 4).toString('latin1'))}`);
    });
  }
  {
    const name = 'a request split byte by byte is parsed whole';
    test(name, opts(name), async () => {
      const sock = await connectRaw(g.port);
      sock.on('error', () => {});
      const got = collect(sock, { n: 1, timeout: 10000 });
      const req = healthz();
      for (let i = 0; i < req.length; i++) await written(sock, req.subarray(i, i + 1));
      const r = await got;
      sock.destroy();
      await g.checkAlive(name);
      assert.equal(r.responses[0]?.status, 200);
    });
  }
  {
    const name = 'a connection closed mid-header leaves the server serving';
    test(name, opts(name), async () => {
      const sock = await connectRaw(g.port);
      sock.on('error', () => {});
      await written(sock, 'POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Le');
      sock.destroy();
      assert.equal(await closedWithin(sock, 1000), 'close');
      await g.checkAlive(name);
    });
  }
  test('the process is alive and serves good requests', (t) => g.finalCheck(t));
});

