// POST /v1/feedback: a score and/or label about an answer, by its x-request-id, kept with the request's
// record (/admin/decisions) and written to the decision log for retraining; a caller with a gateway key
// rates only its own requests.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';

import { postJson, startSwitchyard, until } from './lib/harness.mjs';

describe('feedback', () => {
  let sy, logFile;
  const ALICE = 'sk-alice-feedback-01', BOB = 'sk-bob-feedback-0001';
  before(async () => {
    logFile = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'sy-feedback-')), 'decisions.jsonl');
    sy = await startSwitchyard(`server: {listen: "127.0.0.1:0", threads: 1}
admin: {open: true}
decision_log: {path: "${logFile}"}
providers: [{name: mock, type: mock}]
models: [{name: m, provider: mock}]
auth:
  required: true
  keys: [{name: alice, key: "${ALICE}"}, {name: bob, key: "${BOB}"}]
`);
  });
  after(async () => { await sy?.stop(); });

  const ask = (key) => postJson(`${sy.url}/v1/chat/completions`, { model: 'm', messages: [{ role: 'user', content: 'hi' }] },
    { authorization: `Bearer ${key}` });
  const rate = (key, body) => postJson(`${sy.url}/v1/feedback`, body, { authorization: `Bearer ${key}` });

  test('is kept with the request and logged for retraining', async () => {
    const answer = await ask(ALICE);
    assert.equal(answer.status, 200);
    const id = answer.headers.get('x-request-id');
    const r = await rate(ALICE, { request_id: id, score: 0.25, label: 'wrong', comment: 'the date is off' });
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(r.json, { object: 'feedback', recorded: true });
    const d = (await (await fetch(`${sy.url}/admin/decisions`)).json()).data.find((x) => x.request_id === id);
    assert.deepEqual(d.feedback, { score: 0.25, label: 'wrong', comment: 'the date is off' });
    // The decision log has the request's line and the feedback's, joined by request_id.
    // The log is written by a background thread: read it until the feedback line is there.
    const read = () => (fs.existsSync(logFile) ? fs.readFileSync(logFile, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l)) : []);
    const lines = await until(() => { const l = read(); return l.some((x) => x.type === 'feedback') && l; }, 'the feedback line', 5000);
    const fb = lines.find((l) => l.type === 'feedback');
    assert.equal(fb.request_id, id);
    assert.equal(fb.key, 'alice');
    assert.equal(fb.score, 0.25);
    assert.ok(lines.some((l) => l.request_id === id && l.type === undefined), 'no decision line for the request');
  });

  test("another key's request, an unknown id and a malformed one are refused clearly", async () => {
    const id = (await ask(ALICE)).headers.get('x-request-id');
    const other = await rate(BOB, { request_id: id, score: 1 });
    assert.equal(other.status, 404, other.text);
    assert.equal(other.json.error.code, 'request_not_found');
    const unknown = await rate(ALICE, { request_id: 'req_000000000000000000000000', score: 1 });
    assert.equal(unknown.status, 404);
    assert.equal(unknown.json.error.param, 'request_id');
    for (const [body, param] of [
      [{ request_id: 'has space', score: 1 }, 'request_id'],
      [{ score: 1 }, 'request_id'],
      [{ request_id: id }, 'score'],
      [{ request_id: id, score: 'high' }, 'score'],
      [{ request_id: id, score: 1, stars: 5 }, 'stars'],
      [{ request_id: id, label: 'x'.repeat(65) }, 'label'],
    ]) {
      const r = await rate(ALICE, body);
      assert.equal(r.status, 400, `${JSON.stringify(body)}: ${r.text}`);
      assert.equal(r.json.error.param, param, JSON.stringify(body));
    }
    const noKey = await postJson(`${sy.url}/v1/feedback`, { request_id: id, score: 1 });
    assert.equal(noKey.status, 401);
    const get = await fetch(`${sy.url}/v1/feedback`, { headers: { authorization: `Bearer ${ALICE}` } });
    assert.equal(get.status, 405);
  });

  test('hostile bodies are refused by the JSON guard before anything is recorded', async () => {
    const id = (await ask(ALICE)).headers.get('x-request-id');
    const send = (body) => fetch(`${sy.url}/v1/feedback`, {
      method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${ALICE}` }, body,
    }).then(async (r) => ({ status: r.status, json: await r.json() }));
    // Nested 100,000 deep inside a field the endpoint reads as text.
    const deep = await send(`{"request_id":"${id}","score":1,"comment":${'['.repeat(100000)}${']'.repeat(100000)}}`);
    assert.equal(deep.status, 400);
    assert.equal(deep.json.error.code, 'json_too_deep');
    // The same key twice, the second spelled with an escape: one key after unescaping.
    const twice = await send(`{"request_id":"${id}","score":1,"sc\\u006fre":0}`);
    assert.equal(twice.status, 400);
    assert.equal(twice.json.error.code, 'duplicate_key');
    // One byte over server.max_body_bytes (4 MiB by default).
    const big = await send(`{"request_id":"${id}","score":1,"comment":"${'x'.repeat(4 << 20)}"}`);
    assert.equal(big.status, 413);
    const d = (await (await fetch(`${sy.url}/admin/decisions`)).json()).data.find((x) => x.request_id === id);
    assert.equal(d.feedback, undefined, 'a refused body recorded feedback');
  });
});


describe('feedback the moment the answer arrives', () => {
  let sy;
  before(async () => {
    sy = await startSwitchyard(`server: {listen: "127.0.0.1:0", threads: 2}
providers: [{name: mock, type: mock}]
models: [{name: m, provider: mock}]
`);
  });
  after(async () => { await sy?.stop(); });

  // A request is recorded when it ends, a moment after its last byte left: a client that rates at once
  // on another connection (another io thread) must still find it. This raced before the slot was taken
  // ahead of the answer.
  test('is accepted for every answer, whichever io thread serves it', async () => {
    const failures = [];
    let rated = 0;
    await Promise.all(Array.from({ length: 8 }, async () => {
      for (let i = 0; i < 40; ++i) {
        const r = await postJson(`${sy.url}/v1/chat/completions`, { model: 'm', messages: [{ role: 'user', content: `q${i}` }] });
        assert.equal(r.status, 200, r.text);
        const f = await postJson(`${sy.url}/v1/feedback`, { request_id: r.headers.get('x-request-id'), label: 'good' });
        if (f.status !== 200) failures.push(f.text);
        ++rated;
      }
    }));
    assert.equal(rated, 320);
    assert.deepEqual(failures, []);
  });
});
