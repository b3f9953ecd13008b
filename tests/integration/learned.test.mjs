// The learned stage through HTTP: a model trained by `switchyard train` on a small labelled file, and the
// same prompt going to the strong or the weak model as the per-request threshold moves.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';

import { postJson, runSwitchyard, startSwitchyard, until } from './lib/harness.mjs';

describe('learned router', () => {
  let sy, dir, logFile;
  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sy-learned-'));
    // Proofs need the strong model; on greetings the weak one does better.
    const rows = ['prompt,strong,weak'];
    for (let i = 0; i < 60; i++) {
      rows.push(`"prove theorem ${i} about primes and integrals",True,False`);
      rows.push(`"hello there friend number ${i}",False,True`);
    }
    fs.writeFileSync(path.join(dir, 'train.csv'), rows.join('\n') + '\n');
    const t = await runSwitchyard(['train', '--data', path.join(dir, 'train.csv'), '--out', path.join(dir, 'router.sylm'),
      '--strong', 'strong', '--weak', 'weak', '--no-decontaminate', '--quiet', '--seed', '7']);
    assert.equal(t.code, 0, t.stderr);
    // Conversations (JSONL `messages`): the same last message is the weak model's alone and the strong model's deep into a chat
    // with a system prompt, so only the conversation features can tell the two apart.
    const chats = [];
    for (let i = 0; i < 60; i++) {
      const last = { role: 'user', content: `please help with item ${i}` };
      chats.push(JSON.stringify({ messages: [last], scores: { strong: 0, weak: 1 } }));
      chats.push(JSON.stringify({ messages: [{ role: 'system', content: 'You are a careful assistant. '.repeat(20) },
        { role: 'user', content: 'earlier question '.repeat(30) }, { role: 'assistant', content: 'earlier answer '.repeat(40) },
        { role: 'user', content: 'a follow-up' }, { role: 'assistant', content: 'more' }, last], scores: { strong: 1, weak: 0 } }));
    }
    fs.writeFileSync(path.join(dir, 'chats.jsonl'), chats.join('\n') + '\n');
    const c = await runSwitchyard(['train', '--data', path.join(dir, 'chats.jsonl'), '--out', path.join(dir, 'chats.sylm'),
      '--strong', 'strong', '--weak', 'weak', '--no-decontaminate', '--quiet']);
    assert.equal(c.code, 0, c.stderr);
    logFile = path.join(dir, 'decisions.jsonl');
    sy = await startSwitchyard(`server: {listen: "127.0.0.1:0", threads: 1}
decision_log: {path: "${logFile}"}
providers: [{name: mock, type: mock}]
models:
  - {name: strong-model, provider: mock, model: strong-1}
  - {name: weak-model, provider: mock, model: weak-1}
routers:
  - name: auto
    default: weak-model
    stages:
      - {type: learned, model_file: "${path.join(dir, 'router.sylm')}", strong: strong-model, weak: weak-model, threshold: 0.5}
  - name: chat
    default: weak-model
    stages:
      - {type: learned, model_file: "${path.join(dir, 'chats.sylm')}", strong: strong-model, weak: weak-model, threshold: 0.5}
`);
  });
  after(async () => { await sy?.stop(); });

  const ask = (model, content, headers = {}, extra = {}) =>
    postJson(`${sy.url}/v1/chat/completions`, { model, messages: [{ role: 'user', content }], ...extra }, headers);

  test('the stage sees the whole conversation: the same last message routes by the chat around it', async () => {
    const last = { role: 'user', content: 'please help with item 999' };
    const alone = await postJson(`${sy.url}/v1/chat/completions`, { model: 'chat', messages: [last] });
    const deep = await postJson(`${sy.url}/v1/chat/completions`, {
      model: 'chat',
      messages: [{ role: 'system', content: 'You are a careful assistant. '.repeat(20) },
        { role: 'user', content: 'earlier question '.repeat(30) }, { role: 'assistant', content: 'earlier answer '.repeat(40) },
        { role: 'user', content: 'a follow-up' }, { role: 'assistant', content: 'more' }, last],
    });
    assert.equal(alone.status, 200, alone.text);
    assert.equal(alone.headers.get('x-switchyard-model'), 'weak-model', alone.headers.get('x-switchyard-reason'));
    assert.equal(deep.headers.get('x-switchyard-model'), 'strong-model', deep.headers.get('x-switchyard-reason'));
    assert.doesNotMatch(deep.headers.get('x-switchyard-reason'), /fallback/);
  });

  test('the trained model separates the two kinds of prompt', async () => {
    const hard = await ask('auto', 'prove theorem 999 about primes and integrals');
    const easy = await ask('auto', 'hello there friend number 999');
    assert.equal(hard.headers.get('x-switchyard-model'), 'strong-model');
    assert.equal(easy.headers.get('x-switchyard-model'), 'weak-model');
    assert.match(hard.headers.get('x-switchyard-reason'), /^learned:score=0\.\d{3}>=0\.500 strong$/);
  });

  test('the same prompt moves between models as the per-request threshold moves', async () => {
    const prompt = 'prove theorem 999 about primes and integrals';
    const score = Number((await ask('auto', prompt)).headers.get('x-switchyard-reason').match(/score=([\d.]+)/)[1]);
    const below = Math.max(0, score - 0.05).toFixed(3), above = Math.min(1, score + 0.05).toFixed(3);
    // header
    assert.equal((await ask('auto', prompt, { 'x-switchyard-threshold': below })).headers.get('x-switchyard-model'), 'strong-model');
    assert.equal((await ask('auto', prompt, { 'x-switchyard-threshold': above })).headers.get('x-switchyard-model'), 'weak-model');
    // body extension
    assert.equal((await ask('auto', prompt, {}, { switchyard: { threshold: Number(above) } })).headers.get('x-switchyard-model'), 'weak-model');
    // model-name form, for SDKs that can only set the model
    assert.equal((await ask(`auto@${below}`, prompt)).headers.get('x-switchyard-model'), 'strong-model');
    const r = await ask(`auto@${above}`, prompt);
    assert.equal(r.headers.get('x-switchyard-model'), 'weak-model');
    assert.equal(r.headers.get('x-switchyard-router'), 'auto');
  });

  test('a prompt unlike the training data falls back to the length prior, and the reason says so', async () => {
    // Multi-turn chat with code and numbers: nothing like the one-line training prompts.
    const far = 'User: my build fails\nAssistant: show me the log\nUser: here it is\n```\nerror: 1234 at 0x7ffe 99 88 77\n' +
      '  int x = 3 * 4 + 5;\n  return x / 2;\n```\nWHY??? FIX IT NOW. 1) 2) 3) 4) 5) 6)\n';
    const r = await ask('auto', far);
    assert.equal(r.status, 200);
    const reason = r.headers.get('x-switchyard-reason');
    assert.match(reason, /^learned:score=\d\.\d{3}(>=|<)0\.500 (strong|weak) fallback=length-prior shift=\d+\.\d{3}>\d+\.\d{3}$/);
    // In-distribution prompts keep the plain reason.
    assert.doesNotMatch((await ask('auto', 'hello there friend number 998')).headers.get('x-switchyard-reason'), /fallback/);
    // The decision log carries the same reason.
    const id = r.headers.get('x-request-id');
    const line = await until(() => fs.existsSync(logFile) && fs.readFileSync(logFile, 'utf8').split('\n').find((l) => l.includes(id)),
      'the decision line');
    assert.equal(JSON.parse(line).reason, reason);
  });

  test('a bad threshold is a 400 naming the field', async () => {
    const r = await ask('auto', 'x', { 'x-switchyard-threshold': 'high' });
    assert.equal(r.status, 400);
    assert.equal(r.json.error.param, 'x-switchyard-threshold');
    const m = await ask('auto@abc', 'x');
    assert.equal(m.status, 400);
    assert.equal(m.json.error.param, 'model');
  });
});
