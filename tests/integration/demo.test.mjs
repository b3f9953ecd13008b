// config/demo.yaml, as ./scripts/demo.sh runs it: the routers it lists in /v1/models, and every row of
// the README's "Try it" table routing the way the README says.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { after, before, describe, test } from 'node:test';

import { postJson, SOURCE_DIR, startSwitchyard } from './lib/harness.mjs';

describe('the demo config', () => {
  let sy;
  before(async () => {
    // The demo's own file, so that its relative model_file resolves as in the demo; only the port differs.
    const yaml = fs.readFileSync(`${SOURCE_DIR}/config/demo.yaml`, 'utf8')
      .replace('model_file: demo-router.sylm', `model_file: ${SOURCE_DIR}/config/demo-router.sylm`);
    sy = await startSwitchyard(yaml, { env: { SWITCHYARD_LISTEN: '127.0.0.1:0' } });
  });
  after(async () => { await sy?.stop(); });

  const ask = (content, { model = 'auto', headers = {}, extra = {} } = {}) =>
    postJson(`${sy.url}/v1/chat/completions`, { model, messages: [{ role: 'user', content }], ...extra }, headers);

  test('/v1/models lists the routers beside the models', async () => {
    const ids = (await (await fetch(`${sy.url}/v1/models`)).json()).data.map((m) => m.id);
    for (const id of ['auto', 'cascade', 'gpt-4o', 'gpt-4o-mini']) assert.ok(ids.includes(id), ids.join(','));
  });

  const rows = [
    ['fix this python bug', {}, 'topics', /semantic:code/, 'gpt-4o'],
    ['hi how are you', {}, 'topics', /semantic:chitchat/, 'gpt-4o-mini'],
    ['write a lock-free queue in C++ and argue it is correct', {}, 'difficulty', /learned:.* strong/, 'gpt-4o'],
    ['what time zone is tokyo in', {}, 'difficulty', /learned:.* weak/, 'gpt-4o-mini'],
    // Nothing like the benchmarks the shipped model was trained on: the length prior decides, and says so.
    ['User: my build fails\nAssistant: show me the log\nUser: here it is\n```\nerror: 1234 at 0x7ffe 99 88 77\n  int x = 3 * 4 + 5;\n' +
      '  return x / 2;\n```\nWHY??? FIX IT NOW. 1) 2) 3) 4) 5) 6)\n', {}, 'difficulty', /^learned:score=.* fallback=length-prior shift=/, 'gpt-4o'],
    ['write a lock-free queue in C++ and argue it is correct', { headers: { 'x-switchyard-threshold': '0.95' } }, 'difficulty', /weak/, 'gpt-4o-mini'],
    ['anything at all', { headers: { 'x-switchyard-tier': 'free' } }, 'guard', /free-tier/, 'gpt-4o-mini'],
    ['anything at all', { extra: { response_format: { type: 'json_object' } } }, 'guard', /structured/, 'gpt-4o'],
  ];
  for (const [prompt, opts, stage, reason, model] of rows) {
    test(`"${prompt}" ${JSON.stringify(opts)} -> ${model} by ${stage}`, async () => {
      const r = await ask(prompt, opts);
      assert.equal(r.status, 200, r.text);
      assert.equal(r.headers.get('x-switchyard-router'), 'auto');
      assert.equal(r.headers.get('x-switchyard-stage'), stage);
      assert.match(r.headers.get('x-switchyard-reason'), reason);
      assert.equal(r.headers.get('x-switchyard-model'), model);
      assert.ok(r.json.choices[0].message.content.startsWith(`[${model}]`), r.json.choices[0].message.content);
    });
  }

  test('a secret in the prompt is refused before any model is called', async () => {
    const r = await ask('my key is sk-proj-abcdefghijklmnopqrstuvwx');
    assert.equal(r.status, 400);
    assert.equal(r.json.error.code, 'sensitive_data');
    assert.equal(r.headers.get('x-switchyard-model'), null);
  });

  test('the cascade accepts the cheap answer, or escalates a proof', async () => {
    const easy = await ask('what is 2+2', { model: 'cascade' });
    assert.match(easy.headers.get('x-switchyard-cascade'), /^gpt-4o-mini:accepted/);
    const hard = await ask('prove that sqrt 2 is irrational', { model: 'cascade' });
    assert.match(hard.headers.get('x-switchyard-cascade'), /gpt-4o-mini:rejected\(.*\) -> gpt-4o:routed/);
    assert.ok(hard.json.choices[0].message.content.startsWith('[gpt-4o]'));
  });

  test('the Responses and Anthropic dialects route through the same routers', async () => {
    const r = await postJson(`${sy.url}/v1/responses`, { model: 'auto', input: 'hi how are you' });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.headers.get('x-switchyard-stage'), 'topics');
    assert.match(r.json.output[0].content[0].text, /^\[gpt-4o-mini\]/);
    const m = await postJson(`${sy.url}/v1/messages`, { model: 'auto', max_tokens: 50, messages: [{ role: 'user', content: 'fix this python bug' }] });
    assert.equal(m.status, 200, m.text);
    assert.equal(m.headers.get('x-switchyard-model'), 'gpt-4o');
    assert.match(m.json.content[0].text, /^\[gpt-4o\]/);
  });

  test('the README\'s dashboard and /metrics answer without a key, and the process says the admin API is open', async () => {
    const ui = await fetch(`${sy.url}/ui`);
    assert.equal(ui.status, 200);
    assert.match(ui.headers.get('content-type'), /^text\/html/);
    assert.match(await ui.text(), /<title>[^<]*Switchyard/);
    await ask('hi how are you');
    const m = await fetch(`${sy.url}/metrics`);
    assert.equal(m.status, 200);
    const text = await m.text();
    const line = text.split('\n').find((l) => l.startsWith('switchyard_routing_decisions_total{router="auto",stage="topics"}'));
    assert.ok(line && Number(line.split(' ').pop()) >= 1, line);
    assert.match(sy.output(), /THE ADMIN API IS OPEN/);
    assert.match(sy.output(), /AUTH IS OFF/);
  });
});
