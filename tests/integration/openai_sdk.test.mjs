// The official OpenAI Node SDK against the proxy serving the built-in mock provider.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import OpenAI from 'openai';

import { startSwitchyard } from './lib/harness.mjs';

describe('openai npm SDK', () => {
  let sy, client;
  before(async () => {
    sy = await startSwitchyard(`server: {listen: "127.0.0.1:0", threads: 2}
providers: [{name: mock, type: mock}]
models:
  - {name: gpt-4o-mini, provider: mock, model: mock-small}
  - {name: text-embedding-3-small, provider: mock, model: mock-embed}
`);
    client = new OpenAI({ baseURL: `${sy.url}/v1`, apiKey: 'not-needed', maxRetries: 0 });
  });
  after(async () => { await sy?.stop(); });

  test('chat.completions.create', async () => {
    const r = await client.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Say hello' }] });
    assert.equal(r.object, 'chat.completion');
    assert.match(r.choices[0].message.content, /You said: Say hello/);
    assert.ok(r.usage.prompt_tokens > 0 && r.usage.completion_tokens > 0);
  });

  test('chat.completions.create with stream: true', async () => {
    const stream = await client.chat.completions.create({ model: 'gpt-4o-mini', stream: true, stream_options: { include_usage: true }, messages: [{ role: 'user', content: 'Stream please' }] });
    let text = '';
    let usage;
    let chunks = 0;
    for await (const c of stream) {
      chunks++;
      text += c.choices[0]?.delta?.content ?? '';
      if (c.usage) usage = c.usage;
    }
    assert.ok(chunks > 3);
    assert.match(text, /You said: Stream please/);
    assert.ok(usage.completion_tokens > 0);
  });

  test('models.list', async () => {
    const ids = [];
    for await (const m of client.models.list()) ids.push(m.id);
    assert.deepEqual(ids.sort(), ['gpt-4o-mini', 'text-embedding-3-small']);
  });

  test('errors surface as typed SDK errors', async () => {
    await assert.rejects(client.chat.completions.create({ model: 'no-such-model', messages: [{ role: 'user', content: 'x' }] }), (e) => {
      assert.equal(e.status, 404);
      assert.equal(e.code, 'model_not_found');
      return true;
    });
  });

  test('embeddings.create', async () => {
    const r = await client.embeddings.create({ model: 'text-embedding-3-small', input: ['a', 'b'] });
    assert.equal(r.data.length, 2);
    assert.equal(r.data[0].embedding.length, 16);
  });
});
