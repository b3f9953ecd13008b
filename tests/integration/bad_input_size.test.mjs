// Bad-input catalogue, part 2: size. Nesting 10k, 100k and 1M levels deep (of `[` and of `{"a":`) in
// every field that may hold arrays or objects, huge arrays, strings close to the body limit and huge
// numbers, on every endpoint in its own error dialect. The servers here take 8 MiB bodies
// (server.max_body_bytes) so that a 1M-level body is judged on its nesting, not its size. After each
// group the process must still be alive and serve good requests.
//
// Cases that fail against today's binary are in KNOWN below (with what was observed) and run as TODO
// tests; BAD_INPUT_STRICT=1 runs them as ordinary tests.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { deepArray, deepObject, expectError, groupConfig, known, serverGroup } from './lib/bad_input.mjs';

// No case is known to fail today: add `KNOWN[name] = 'what was observed'` entries here when one does.
const KNOWN = {};
const opts = known(KNOWN);

const LIMIT = 8 * 1024 * 1024;
const config = (u) => groupConfig(u, { server: 'max_body_bytes: 8MiB, body_timeout: 60s' });
const DEPTHS = [10_000, 100_000, 1_000_000];
const SHAPES = [['[', deepArray], ['{"a":', deepObject]];
const fmt = (n) => (n >= 1e6 ? `${n / 1e6}M` : `${n / 1e3}k`);

/**
 * Where a deep value goes, per endpoint: name -> (deep JSON text) -> request body text. For the
 * Anthropic dialect also the places its translation copies or re-serialises whole subtrees.
 */
const PLACES = {
  '/v1/chat/completions': {
    messages: (d) => `{"model":"m","messages":${d}}`,
    'a message\'s content': (d) => `{"model":"m","messages":[{"role":"user","content":${d}}]}`,
    tools: (d) => `{"model":"m","messages":[{"role":"user","content":"x"}],"tools":${d}}`,
    response_format: (d) => `{"model":"m","messages":[{"role":"user","content":"x"}],"response_format":${d}}`,
    stop: (d) => `{"model":"m","messages":[{"role":"user","content":"x"}],"stop":${d}}`,
    metadata: (d) => `{"model":"m","messages":[{"role":"user","content":"x"}],"metadata":${d}}`,
    switchyard: (d) => `{"model":"m","messages":[{"role":"user","content":"x"}],"switchyard":${d}}`,
  },
  '/v1/completions': {
    prompt: (d) => `{"model":"m","prompt":${d}}`,
    stop: (d) => `{"model":"m","prompt":"x","stop":${d}}`,
    metadata: (d) => `{"model":"m","prompt":"x","metadata":${d}}`,
    switchyard: (d) => `{"model":"m","prompt":"x","switchyard":${d}}`,
  },
  '/v1/embeddings': {
    input: (d) => `{"model":"m","input":${d}}`,
    switchyard: (d) => `{"model":"m","input":"x","switchyard":${d}}`,
  },
  '/v1/messages': {
    messages: (d) => `{"model":"m","max_tokens":16,"messages":${d}}`,
    'a message\'s content': (d) => `{"model":"m","max_tokens":16,"messages":[{"role":"user","content":${d}}]}`,
    system: (d) => `{"model":"m","max_tokens":16,"system":${d},"messages":[{"role":"user","content":"x"}]}`,
    stop_sequences: (d) => `{"model":"m","max_tokens":16,"stop_sequences":${d},"messages":[{"role":"user","content":"x"}]}`,
    tools: (d) => `{"model":"m","max_tokens":16,"tools":${d},"messages":[{"role":"user","content":"x"}]}`,
    'tools[0].input_schema': (d) => `{"model":"m","max_tokens":16,"tools":[{"name":"t","input_schema":${d}}],"messages":[{"role":"user","content":"x"}]}`,
    tool_choice: (d) => `{"model":"m","max_tokens":16,"tool_choice":${d},"messages":[{"role":"user","content":"x"}]}`,
    metadata: (d) => `{"model":"m","max_tokens":16,"metadata":${d},"messages":[{"role":"user","content":"x"}]}`,
    'a tool_use block\'s input': (d) => `{"model":"m","max_tokens":16,"messages":[{"role":"user","content":"x"},{"role":"assistant","content":[{"type":"tool_use","id":"c1","name":"t","input":${d}}]},{"role":"user","content":[{"type":"tool_result","tool_use_id":"c1","content":"ok"}]}]}`,
  },
};

function deepGroup(title, paths) {
  describe(title, () => {
    const g = serverGroup(config);
    before(() => g.start());
    after(() => g.stop());
    const names = [];
    for (const path of paths) {
      for (const [place, build] of Object.entries(PLACES[path])) {
        for (const n of DEPTHS) {
          for (const [shape, deep] of SHAPES) {
            const name = `${path}: ${place} nested ${fmt(n)} levels of ${shape}`;
            names.push(name);
            test(name, opts(name), async () => {
              const body = build(deep(n));
              assert.ok(body.length < LIMIT, 'the body must fit the limit so that the nesting is what is judged');
              const before = g.up.requests.length;
              const r = await g.request(path, body, { timeout: 60000 });
              await g.checkAlive(name);
              expectError(path, r, 400);
              assert.equal(g.up.requests.length, before, 'a body nested this deep reached the upstream');
            });
          }
        }
      }
    }
    test('the process is alive and serves good requests', (t) => g.finalCheck(t, names.filter((n) => KNOWN[n])));
  });
}

deepGroup('deep nesting on the OpenAI endpoints', ['/v1/chat/completions', '/v1/completions', '/v1/embeddings']);
deepGroup('deep nesting on /v1/messages', ['/v1/messages']);

const many = (n, item) => `[${Array(n).fill(item).join(',')}]`;

describe('huge arrays', () => {
  const g = serverGroup(config);
  before(() => g.start());
  after(() => g.stop());

  /** A refusal must be a clear error and keep the upstream out of it; an acceptance must forward intact. */
  const answered = async (name, path, body, checkForwarded) => {
    assert.ok(body.length < LIMIT, `body of ${body.length} bytes is over the limit`);
    const before = g.up.requests.length;
    const r = await g.request(path, body, { timeout: 60000 });
    await g.checkAlive(name);
    if (r.status === 200) {
      assert.equal(g.up.requests.length, before + 1);
      checkForwarded(g.up.requests.at(-1).json);
    } else {
      expectError(path, r, [400, 413]);
      assert.equal(g.up.requests.length, before);
    }
  };
  const refused = async (name, path, body, opts = {}) => {
    assert.ok(body.length < LIMIT);
    const before = g.up.requests.length;
    const r = await g.request(path, body, { timeout: 60000 });
    await g.checkAlive(name);
    expectError(path, r, 400, opts);
    assert.equal(g.up.requests.length, before);
  };
  const M = 1_000_000;
  const user = '{"role":"user","content":"a"}';

  const cases = [
    ['/v1/chat/completions: messages of 1M numbers is a 400', (n) => refused(n, '/v1/chat/completions', `{"model":"m","messages":${many(M, '7')}}`, { param: /^messages/ })],
    ['/v1/chat/completions: 150k messages are answered (forwarded intact) or refused', (n) => answered(n, '/v1/chat/completions', `{"model":"m","messages":${many(150_000, user)}}`, (j) => assert.equal(j.messages.length, 150_000))],
    ['/v1/chat/completions: stop of 1M strings is answered or refused', (n) => answered(n, '/v1/chat/completions', `{"model":"m","messages":[${user}],"stop":${many(M, '"a"')}}`, (j) => assert.equal(j.stop.length, M))],
    ['/v1/chat/completions: tools of 1M empty objects is answered or refused', (n) => answered(n, '/v1/chat/completions', `{"model":"m","messages":[${user}],"tools":${many(M, '{}')}}`, (j) => assert.equal(j.tools.length, M))],
    ['/v1/chat/completions: a content array of 250k text parts is answered or refused', (n) => answered(n, '/v1/chat/completions', `{"model":"m","messages":[{"role":"user","content":${many(250_000, '{"type":"text","text":"a"}')}}]}`, (j) => assert.equal(j.messages[0].content.length, 250_000))],
    ['/v1/completions: a prompt of 1M strings is answered or refused', (n) => answered(n, '/v1/completions', `{"model":"m","prompt":${many(M, '"a"')}}`, (j) => assert.equal(j.prompt.length, M))],
    ['/v1/completions: a prompt of 1M booleans is a 400', (n) => refused(n, '/v1/completions', `{"model":"m","prompt":${many(M, 'true')}}`)],
    ['/v1/embeddings: an input of 1M token ids is answered or refused', (n) => answered(n, '/v1/embeddings', `{"model":"m","input":${many(M, '1')}}`, (j) => assert.equal(j.input.length, M))],
    ['/v1/embeddings: an input of 1M objects is a 400', (n) => refused(n, '/v1/embeddings', `{"model":"m","input":${many(M, '{}')}}`)],
    ['/v1/messages: messages of 1M numbers is a 400', (n) => refused(n, '/v1/messages', `{"model":"m","max_tokens":16,"messages":${many(M, '7')}}`)],
    ['/v1/messages: 150k messages are answered (forwarded intact) or refused', (n) => answered(n, '/v1/messages', `{"model":"m","max_tokens":16,"messages":${many(150_000, user)}}`, (j) => assert.equal(j.messages.length, 150_000))],
    ['/v1/messages: stop_sequences of 1M strings is answered or refused', (n) => answered(n, '/v1/messages', `{"model":"m","max_tokens":16,"stop_sequences":${many(M, '"a"')},"messages":[${user}]}`, (j) => assert.equal(j.stop.length, M))],
    ['/v1/messages: tools of 1M empty objects is a 400', (n) => refused(n, '/v1/messages', `{"model":"m","max_tokens":16,"tools":${many(M, '{}')},"messages":[${user}]}`)],
    ['/v1/messages: a system of 200k text blocks is answered or refused', (n) => answered(n, '/v1/messages', `{"model":"m","max_tokens":16,"system":${many(200_000, '{"type":"text","text":"a"}')},"messages":[${user}]}`, (j) => assert.equal(j.messages[0].role, 'system'))],
    ['/v1/messages: a content array of 250k text blocks is answered or refused', (n) => answered(n, '/v1/messages', `{"model":"m","max_tokens":16,"messages":[{"role":"user","content":${many(250_000, '{"type":"text","text":"a"}')}}]}`, (j) => assert.ok(j.messages.length >= 1))],
  ];
  for (const [name, run] of cases) test(name, opts(name), () => run(name));
  test('the process is alive and serves good requests', (t) => g.finalCheck(t));
});

describe('huge strings and numbers near the body limit', () => {
  const g = serverGroup(config);
  before(() => g.start());
  after(() => g.stop());

  /** A chat body of exactly `size` bytes whose content is `unit` repeated (`unit` one JSON string piece). */
  const chatOfSize = (size, unit = 'x', decodedUnit = unit) => {
    const shell = (s) => `{"model":"m","messages":[{"role":"user","content":"${s}"}]}`;
    const room = size - Buffer.byteLength(shell(''));
    const n = Math.floor(room / Buffer.byteLength(unit));
    const pad = ' '.repeat(room - n * Buffer.byteLength(unit));  // whitespace keeps the size exact
    return { body: shell(unit.repeat(n)) + pad, expected: decodedUnit.repeat(n) };
  };
  const messagesOfSize = (size, place) => {
    const shell = (s) => (place === 'system'
      ? `{"model":"m","max_tokens":16,"system":"${s}","messages":[{"role":"user","content":"x"}]}`
      : `{"model":"m","max_tokens":16,"messages":[{"role":"user","content":"${s}"}]}`);
    const n = size - Buffer.byteLength(shell(''));
    return { body: shell('y'.repeat(n)), expected: 'y'.repeat(n) };
  };
  const accepted = async (name, path, body, check) => {
    const before = g.up.requests.length;
    const r = await g.request(path, body, { timeout: 60000 });
    await g.checkAlive(name);
    assert.equal(r.status, 200, r.text?.slice(0, 300) || r.netError);
    assert.equal(g.up.requests.length, before + 1);
    check(g.up.requests.at(-1).json);
  };

  const cases = [
    ['/v1/chat/completions: a body of exactly max_body_bytes is forwarded intact', (name) => {
      const { body, expected } = chatOfSize(LIMIT);
      assert.equal(Buffer.byteLength(body), LIMIT);
      return accepted(name, '/v1/chat/completions', body, (j) => assert.ok(j.messages[0].content === expected, 'content changed'));
    }],
    ['/v1/chat/completions: a body one byte over max_body_bytes is a 413', async (name) => {
      const { body } = chatOfSize(LIMIT + 1);
      const before = g.up.requests.length;
      const r = await g.request('/v1/chat/completions', body, { timeout: 60000 });
      await g.checkAlive(name);
      expectError('/v1/chat/completions', r, 413, { code: 'request_too_large' });
      assert.equal(g.up.requests.length, before);
    }],
    ['/v1/chat/completions: a string of \\u0041 escapes near the limit is forwarded decoded intact', (name) => {
      const { body, expected } = chatOfSize(LIMIT - 100, '\\u0041', 'A');
      return accepted(name, '/v1/chat/completions', body, (j) => assert.ok(j.messages[0].content === expected));
    }],
    ['/v1/chat/completions: a string of 2-byte characters near the limit is forwarded intact', (name) => {
      const { body, expected } = chatOfSize(LIMIT - 100, 'é');
      return accepted(name, '/v1/chat/completions', body, (j) => assert.ok(j.messages[0].content === expected));
    }],
    ['/v1/chat/completions: a string of 4-byte characters near the limit is forwarded intact', (name) => {
      const { body, expected } = chatOfSize(LIMIT - 100, '😀');
      return accepted(name, '/v1/chat/completions', body, (j) => assert.ok(j.messages[0].content === expected));
    }],
    ['/v1/completions: a prompt near the limit is forwarded intact', (name) => {
      const n = LIMIT - 100;
      return accepted(name, '/v1/completions', `{"model":"m","prompt":"${'p'.repeat(n)}"}`, (j) => assert.equal(j.prompt.length, n));
    }],
    ['/v1/embeddings: an input near the limit is forwarded intact', (name) => {
      const n = LIMIT - 100;
      return accepted(name, '/v1/embeddings', `{"model":"m","input":"${'i'.repeat(n)}"}`, (j) => assert.equal(j.input.length, n));
    }],
    ['/v1/chat/completions: a model name near the limit is a clean 400/404', async (name) => {
      const r = await g.request('/v1/chat/completions', `{"model":"${'q'.repeat(LIMIT - 200)}","messages":[{"role":"user","content":"x"}]}`, { timeout: 60000 });
      await g.checkAlive(name);
      expectError('/v1/chat/completions', r, [400, 404], { param: 'model' });
    }],
    ['/v1/chat/completions: a member name near the limit is forwarded intact or refused', async (name) => {
      const key = 'k'.repeat(LIMIT - 200);
      const before = g.up.requests.length;
      const r = await g.request('/v1/chat/completions', `{"model":"m","messages":[{"role":"user","content":"x"}],"${key}":1}`, { timeout: 60000 });
      await g.checkAlive(name);
      if (r.status === 200) assert.equal(g.up.requests.at(-1).json[key], 1);
      else { expectError('/v1/chat/completions', r, 400); assert.equal(g.up.requests.length, before); }
    }],
    ['/v1/chat/completions: max_tokens of 1M digits is a 400', async (name) => {
      const r = await g.request('/v1/chat/completions', `{"model":"m","messages":[{"role":"user","content":"x"}],"max_tokens":1${'0'.repeat(1_000_000)}}`);
      await g.checkAlive(name);
      expectError('/v1/chat/completions', r, 400, { param: 'max_tokens' });
    }],
    ['/v1/chat/completions: max_tokens of 1e999999 is a 400', async (name) => {
      const r = await g.request('/v1/chat/completions', '{"model":"m","messages":[{"role":"user","content":"x"}],"max_tokens":1e999999}');
      await g.checkAlive(name);
      expectError('/v1/chat/completions', r, 400, { param: 'max_tokens' });
    }],
    ['/v1/chat/completions: temperature of 1M digits is answered or refused', async (name) => {
      const r = await g.request('/v1/chat/completions', `{"model":"m","messages":[{"role":"user","content":"x"}],"temperature":0.${'5'.repeat(1_000_000)}}`);
      await g.checkAlive(name);
      if (r.status !== 200) expectError('/v1/chat/completions', r, 400, { param: 'temperature' });
    }],
    ['/v1/messages: content near the limit is forwarded intact', (name) => {
      const { body, expected } = messagesOfSize(LIMIT - 10, 'content');
      return accepted(name, '/v1/messages', body, (j) => assert.ok(j.messages.at(-1).content === expected));
    }],
    ['/v1/messages: a system prompt near the limit is forwarded intact', (name) => {
      const { body, expected } = messagesOfSize(LIMIT - 10, 'system');
      return accepted(name, '/v1/messages', body, (j) => assert.ok(j.messages[0].content === expected));
    }],
    ['/v1/messages: a body one byte over max_body_bytes is a 413 in the Anthropic format', async (name) => {
      const { body } = messagesOfSize(LIMIT + 1, 'content');
      const before = g.up.requests.length;
      const r = await g.request('/v1/messages', body, { timeout: 60000 });
      await g.checkAlive(name);
      expectError('/v1/messages', r, 413);
      assert.equal(g.up.requests.length, before);
    }],
    ['/v1/messages: max_tokens of 1M digits is a 400', async (name) => {
      const r = await g.request('/v1/messages', `{"model":"m","max_tokens":1${'0'.repeat(1_000_000)},"messages":[{"role":"user","content":"x"}]}`);
      await g.checkAlive(name);
      expectError('/v1/messages', r, 400, { mentions: 'max_tokens' });
    }],
  ];
  for (const [name, run] of cases) test(name, opts(name), () => run(name));
  test('the process is alive and serves good requests', (t) => g.finalCheck(t));
});
