// Bad-input catalogue, part 1: bodies that are not the JSON the endpoint wants. Malformed and truncated
// JSON, empty bodies, non-object roots, every top-level field with the wrong type, invalid UTF-8, NUL
// bytes and escaped-key smuggling, on every endpoint in its own error dialect (OpenAI for
// /v1/chat/completions, /v1/completions, /v1/embeddings; Anthropic for /v1/messages). After each group
// the process must still be alive and serve good requests.
//
// Cases that fail against today's binary are in KNOWN below (with what was observed) and run as TODO
// tests; BAD_INPUT_STRICT=1 runs them as ordinary tests.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { expectError, goodChat, goodMessages, groupConfig, known, serverGroup } from './lib/bad_input.mjs';

// No case is known to fail today: add `KNOWN[name] = 'what was observed'` entries here when one does.
const KNOWN = {};
const opts = known(KNOWN);

const ENDPOINTS = [
  { path: '/v1/chat/completions', good: goodChat },
  { path: '/v1/completions', good: { model: 'm', prompt: 'hello' } },
  { path: '/v1/embeddings', good: { model: 'm', input: 'hello' } },
  { path: '/v1/messages', good: goodMessages },
];
const isAnthropic = (path) => path.endsWith('/messages');

/** Runs `body` against `path`, expects a 400 in the path's dialect, and that the process survived. */
async function expect400(g, label, path, body, extra = {}) {
  const before = g.up.requests.length;
  const r = await g.request(path, body);
  await g.checkAlive(label);
  expectError(path, r, extra.status ?? 400, extra);
  assert.equal(g.up.requests.length, before, `the request reached the upstream: ${g.up.requests.at(-1)?.body?.slice(0, 200)}`);
}

describe('malformed and truncated JSON, empty bodies, non-object roots', () => {
  const g = serverGroup((u) => groupConfig(u));
  before(() => g.start());
  after(() => g.stop());

  const MALFORMED = [
    ['unclosed object', '{'],
    ['unclosed array value', '{"model":"m","messages":['],
    ['missing value', '{"model":}'],
    ['missing colon', '{"model" "m"}'],
    ['missing comma', '{"model":"m" "messages":[]}'],
    ['trailing comma in object', '{"model":"m","messages":[{"role":"user","content":"x"}],}'],
    ['trailing comma in array', '{"model":"m","messages":[{"role":"user","content":"x"},]}'],
    ['single-quoted strings', "{'model':'m','messages':[]}"],
    ['unquoted key', '{model:"m"}'],
    ['misspelt literal', '{"model":"m","stream":tru,"messages":[]}'],
    ['NaN', '{"model":"m","temperature":NaN,"messages":[]}'],
    ['-Infinity', '{"model":"m","temperature":-Infinity,"messages":[]}'],
    ['leading-zero number', '{"model":"m","max_tokens":012,"messages":[]}'],
    ['hex number', '{"model":"m","max_tokens":0x10,"messages":[]}'],
    ['plus-signed number', '{"model":"m","max_tokens":+1,"messages":[]}'],
    ['number ending in a point', '{"model":"m","max_tokens":1.,"messages":[]}'],
    ['bad escape', '{"model":"m\\x","messages":[]}'],
    ['short \\u escape', '{"model":"\\u12","messages":[]}'],
    ['unterminated string', '{"model":"m'],
    ['raw newline in a string', '{"model":"m\n","messages":[]}'],
    ['raw tab in a string', '{"model":"m\t","messages":[]}'],
    ['comment', '{/* c */"model":"m","messages":[]}'],
    ['mismatched brackets', '{"model":"m","messages":[}'],
    ['lone closing brace', '}'],
    ['not JSON at all', 'model=m&messages=hi'],
  ];
  for (const ep of ENDPOINTS) {
    const good = JSON.stringify(ep.good);
    const cases = [
      ...MALFORMED,
      ['trailing garbage after the object', good + 'x'],
      ['two objects back to back', good + good],
      ['empty body', ''],
      ['whitespace-only body', ' \r\n\t '],
      ['root is an array', '[]'],
      ['root is an array holding the request', `[${good}]`],
      ['root is a string', JSON.stringify(good)],
      ['root is a number', '42'],
      ['root is null', 'null'],
      ['root is true', 'true'],
    ];
    for (const [what, body] of cases) {
      const name = `${ep.path}: ${what}`;
      test(name, opts(name), async () => {
        await expect400(g, name, ep.path, body, isAnthropic(ep.path) ? {} : { code: 'invalid_json' });
      });
    }
    const name = `${ep.path}: every truncation of a good body is a 400`;
    test(name, opts(name), async () => {
      const wrong = [];
      for (let n = 0; n < good.length; n++) {
        const before = g.up.requests.length;
        const r = await g.request(ep.path, good.slice(0, n));
        await g.checkAlive(`${name} (first ${n} bytes)`);
        try {
          expectError(ep.path, r, 400);
          assert.equal(g.up.requests.length, before, 'reached the upstream');
        } catch (e) {
          wrong.push(`${JSON.stringify(good.slice(0, n))} -> ${r.status} ${r.text.slice(0, 120)} (${e.message.split('\n')[0]})`);
        }
      }
      assert.deepEqual(wrong, []);
    });
  }
  test('the process is alive and serves good requests', (t) => g.finalCheck(t));
});

// Wrong-typed values per field. `null` is left out where the API treats it as "absent".
const WRONG_OPENAI = {
  model: [7, true, null, [], {}, ['m'], { name: 'm' }, ''],
  messages: ['hi', 7, true, null, {}, { role: 'user', content: 'x' }, [], [7], ['hi'], [null], [[]]],
  prompt: [7, true, null, {}, [true], [{}], [[true]]],
  input: [7, true, null, {}, [true], [{}], [[true]]],
  stream: ['true', 1, 0, {}, []],
  stream_options: ['x', 1, true, []],
  max_tokens: ['5', 5.5, 0, -1, true, {}, [], 1e30, '9223372036854775808'],
  temperature: ['hot', '0.5', true, {}, []],
  tools: ['x', 1, true, {}],
  response_format: ['json_object', 1, true, []],
};
const FIELDS_OF = {
  '/v1/chat/completions': ['model', 'messages', 'stream', 'stream_options', 'max_tokens', 'temperature', 'tools', 'response_format'],
  '/v1/completions': ['model', 'prompt', 'stream', 'stream_options', 'max_tokens', 'temperature'],
  '/v1/embeddings': ['model', 'input', 'stream'],
};
const WRONG_ANTHROPIC = {
  model: [7, true, [], {}, ''],
  messages: ['hi', 7, {}, [], [7], ['hi'], [{ role: 'user' }], [{ role: 'system', content: 'x' }], [{ role: 'user', content: 7 }]],
  system: [7, true, {}, [7], ['x']],
  max_tokens: ['5', 5.5, 0, -1, true, {}, []],
  stop_sequences: ['END', 7, true, {}, [7], [null], [['END']]],
  tools: ['x', 7, true, {}, [7], [{}]],
  tool_choice: ['auto', 7, true, [], { type: 'bogus' }],
  metadata: ['x', 7, true, [], { user_id: 7 }],
  stream: ['true', 1, {}, []],
  temperature: ['hot', '0.5', true, {}, []],
};

describe('every top-level field with the wrong type', () => {
  const g = serverGroup((u) => groupConfig(u));
  before(() => g.start());
  after(() => g.stop());

  for (const ep of ENDPOINTS.filter((e) => !isAnthropic(e.path))) {
    for (const field of FIELDS_OF[ep.path]) {
      for (const v of WRONG_OPENAI[field]) {
        const name = `${ep.path}: ${field} = ${JSON.stringify(v)}`;
        test(name, opts(name), async () => {
          const body = { ...ep.good, [field]: v };
          await expect400(g, name, ep.path, body, { param: new RegExp(`^${field}(\\[|\\.|$)`) });
        });
      }
    }
  }
  for (const [field, values] of Object.entries(WRONG_ANTHROPIC)) {
    for (const v of values) {
      const name = `/v1/messages: ${field} = ${JSON.stringify(v)}`;
      test(name, opts(name), async () => {
        await expect400(g, name, '/v1/messages', { ...goodMessages, [field]: v }, { mentions: field, anthropicType: 'invalid_request_error' });
      });
    }
  }
  test('the process is alive and serves good requests', (t) => g.finalCheck(t));
});

describe('invalid UTF-8 and NUL bytes', () => {
  const g = serverGroup((u) => groupConfig(u));
  before(() => g.start());
  after(() => g.stop());

  const bytes = (...parts) => Buffer.concat(parts.map((p) => (typeof p === 'string' ? Buffer.from(p, 'utf8') : Buffer.from(p))));
  const INVALID = [
    ['0xFF byte', [0xff]],
    ['lone continuation byte', [0x80]],
    ['overlong encoding of "/"', [0xc0, 0xaf]],
    ['UTF-16 surrogate encoded as UTF-8', [0xed, 0xa0, 0x80]],
    ['truncated 3-byte sequence', [0xe2, 0x82]],
    ['code point above U+10FFFF', [0xf4, 0x90, 0x80, 0x80]],
  ];
  const bodyFor = (path, where, bad) => {
    const anth = isAnthropic(path);
    const payload = path === '/v1/completions' ? ['"prompt":"a', '"'] : path === '/v1/embeddings' ? ['"input":"a', '"']
      : [`"messages":[{"role":"user","content":"a`, '"}]'];
    const mt = anth ? ',"max_tokens":16' : '';
    if (where === 'content') return bytes(`{"model":"m"${mt},`, payload[0], bad, payload[1], '}');
    if (where === 'model') return bytes('{"model":"m', bad, `"${mt},`, payload[0], payload[1], '}');
    return bytes(`{"model":"m"${mt},`, payload[0], payload[1], ',"x', bad, '":1}');  // a key
  };
  for (const ep of ENDPOINTS) {
    for (const [what, bad] of INVALID) {
      for (const where of ['content', 'model', 'key']) {
        const name = `${ep.path}: invalid UTF-8 (${what}) in a ${where === 'content' ? 'prompt string' : where === 'model' ? 'model name' : 'member name'}`;
        test(name, opts(name), async () => {
          await expect400(g, name, ep.path, bodyFor(ep.path, where, bad));
        });
      }
    }
    const rawNul = `${ep.path}: a raw NUL byte inside a string`;
    test(rawNul, opts(rawNul), async () => {
      await expect400(g, rawNul, ep.path, bodyFor(ep.path, 'content', [0x00]), isAnthropic(ep.path) ? {} : { code: 'invalid_json' });
    });
    const rawNulOutside = `${ep.path}: a raw NUL byte between members`;
    test(rawNulOutside, opts(rawNulOutside), async () => {
      const good = JSON.stringify(ep.good);
      await expect400(g, rawNulOutside, ep.path, bytes(good.slice(0, 1), [0x00], good.slice(1)));
    });
    const trailingNul = `${ep.path}: a raw NUL byte after the object`;
    test(trailingNul, opts(trailingNul), async () => {
      await expect400(g, trailingNul, ep.path, bytes(JSON.stringify(ep.good), [0x00]));
    });
    const escNul = `${ep.path}: \\u0000 in a prompt string is forwarded intact or refused`;
    test(escNul, opts(escNul), async () => {
      const body = JSON.parse(JSON.stringify(ep.good));
      if (body.messages) body.messages[0].content = 'hel\u0000lo';
      else if ('prompt' in body) body.prompt = 'hel\u0000lo';
      else body.input = 'hel\u0000lo';
      const before = g.up.requests.length;
      const r = await g.request(ep.path, JSON.stringify(body));
      await g.checkAlive(escNul);
      if (r.status === 200) {
        const got = g.up.requests.at(-1).json;
        const text = got.messages ? got.messages.at(-1).content : got.prompt ?? got.input;
        assert.equal(text, 'hel\u0000lo', 'the string changed on its way upstream');
      } else {
        expectError(ep.path, r, 400);
        assert.equal(g.up.requests.length, before);
      }
    });
    const escNulModel = `${ep.path}: \\u0000 in the model name is a clean 400/404`;
    test(escNulModel, opts(escNulModel), async () => {
      const before = g.up.requests.length;
      const r = await g.request(ep.path, JSON.stringify({ ...ep.good, model: 'm\u0000' }));
      await g.checkAlive(escNulModel);
      expectError(ep.path, r, [400, 404]);
      assert.equal(g.up.requests.length, before);
    });
  }
  test('the process is alive and serves good requests', (t) => g.finalCheck(t));
});

describe('escaped-key smuggling', () => {
  const g = serverGroup((u) => groupConfig(u));
  before(() => g.start());
  after(() => g.stop());

  const msgs = '[{"role":"user","content":"benign"}]';
  const smuggled = '[{"role":"user","content":"smuggled"}]';
  const upstreamSaw = (before) => (g.up.requests.length > before ? ` The upstream received: ${g.up.requests.at(-1).body.slice(0, 300)}` : '');
  const expectRefused = async (name, path, body, extra = {}) => {
    const before = g.up.requests.length;
    const r = await g.request(path, body);
    await g.checkAlive(name);
    try {
      expectError(path, r, extra.status ?? 400, extra);
    } catch (e) {
      e.message += upstreamSaw(before);
      throw e;
    }
    assert.equal(g.up.requests.length, before, `the request reached the upstream.${upstreamSaw(before)}`);
  };

  const OPENAI_DUPES = [
    ['"mod\\u0065l" after "model" (duplicate key)', `{"model":"m","mod\\u0065l":"other","messages":${msgs}}`],
    ['"mod\\u0065l" before "model" (duplicate key)', `{"mod\\u0065l":"other","model":"m","messages":${msgs}}`],
    ['plain duplicate "model"', `{"model":"other","model":"m","messages":${msgs}}`],
    ['"mess\\u0061ges" after "messages" (duplicate key)', `{"model":"m","messages":${msgs},"mess\\u0061ges":${smuggled}}`],
    ['"stre\\u0061m" next to "stream" (duplicate key)', `{"model":"m","stream":false,"stre\\u0061m":true,"messages":${msgs}}`],
    ['"c\\u006fntent" next to "content" inside a message (duplicate key)', '{"model":"m","messages":[{"role":"user","content":"benign","c\\u006fntent":"smuggled"}]}'],
    ['"switchy\\u0061rd" next to "switchyard" (duplicate key)', `{"model":"m","messages":${msgs},"switchyard":{"debug":false},"switchy\\u0061rd":{"router":"nope"}}`],
  ];
  for (const [what, body] of OPENAI_DUPES) {
    const name = `/v1/chat/completions: ${what} is a 400`;
    test(name, opts(name), () => expectRefused(name, '/v1/chat/completions', body));
  }
  {
    const name = '/v1/completions: "pr\\u006fmpt" next to "prompt" (duplicate key) is a 400';
    test(name, opts(name), () => expectRefused(name, '/v1/completions', '{"model":"m","prompt":"benign","pr\\u006fmpt":"smuggled"}'));
  }
  {
    const name = '/v1/embeddings: "mod\\u0065l" after "model" (duplicate key) is a 400';
    test(name, opts(name), () => expectRefused(name, '/v1/embeddings', '{"model":"m","mod\\u0065l":"other","input":"x"}'));
  }
  {
    const name = '/v1/chat/completions: an escaped "switchy\\u0061rd" extension with an unknown field is refused, never forwarded';
    test(name, opts(name), async () => {
      await expectRefused(name, '/v1/chat/completions', `{"model":"m","messages":${msgs},"switchy\\u0061rd":{"bogus":1}}`);
    });
  }
  {
    const name = '/v1/chat/completions: an escaped "switchy\\u0061rd" key never reaches the upstream';
    test(name, opts(name), async () => {
      const before = g.up.requests.length;
      const r = await g.request('/v1/chat/completions', `{"model":"m","messages":${msgs},"switchy\\u0061rd":{"debug":true}}`);
      await g.checkAlive(name);
      if (r.status !== 200) expectError('/v1/chat/completions', r, 400);
      const forwarded = g.up.requests.slice(before).map((q) => q.json);
      assert.ok(forwarded.every((j) => j && !('switchyard' in j)), `the upstream received the extension: ${g.up.requests.at(-1)?.body}`);
    });
  }
  {
    const name = '/v1/chat/completions: a lone "mess\\u0061ges" is read as messages or refused';
    test(name, opts(name), async () => {
      const before = g.up.requests.length;
      const r = await g.request('/v1/chat/completions', `{"model":"m","mess\\u0061ges":${msgs}}`);
      await g.checkAlive(name);
      if (r.status === 200) {
        assert.deepEqual(g.up.requests.at(-1).json.messages, JSON.parse(msgs));
      } else {
        expectError('/v1/chat/completions', r, 400);
        assert.equal(g.up.requests.length, before);
      }
    });
  }
  {
    const name = '/v1/chat/completions: a lone "mod\\u0065l" is read as model or refused';
    test(name, opts(name), async () => {
      const before = g.up.requests.length;
      const r = await g.request('/v1/chat/completions', `{"mod\\u0065l":"m","messages":${msgs}}`);
      await g.checkAlive(name);
      if (r.status === 200) {
        assert.equal(g.up.requests.at(-1).json.model, 'up-m');
      } else {
        expectError('/v1/chat/completions', r, 400);
        assert.equal(g.up.requests.length, before);
      }
    });
  }

  const ANTHROPIC_DUPES = [
    ['"mod\\u0065l" after "model" (duplicate key)', `{"model":"m","mod\\u0065l":"other","max_tokens":16,"messages":${msgs}}`],
    ['plain duplicate "model"', `{"model":"other","model":"m","max_tokens":16,"messages":${msgs}}`],
    ['"mess\\u0061ges" after "messages" (duplicate key)', `{"model":"m","max_tokens":16,"messages":${msgs},"mess\\u0061ges":${smuggled}}`],
    ['"c\\u006fntent" next to "content" inside a message (duplicate key)', '{"model":"m","max_tokens":16,"messages":[{"role":"user","content":"benign","c\\u006fntent":"smuggled"}]}'],
  ];
  for (const [what, body] of ANTHROPIC_DUPES) {
    const name = `/v1/messages: ${what} is a 400`;
    test(name, opts(name), () => expectRefused(name, '/v1/messages', body));
  }
  test('the process is alive and serves good requests', (t) => g.finalCheck(t));
});
