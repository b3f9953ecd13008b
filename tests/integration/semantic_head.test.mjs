// The semantic stage with a trained head (`classifier: logistic`) through HTTP: trained at config load,
// or trained offline by `switchyard train-semantic` and loaded from its file; a head that no longer
// matches the routes is refused at load with the command that fixes it.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';

import { completion, postJson, runSwitchyard, startSwitchyard, startUpstream, writeConfig } from './lib/harness.mjs';

const msg = (content) => [{ role: 'user', content }];

const routes = (refund = 'refund my last payment') => `
        routes:
          - name: code
            target: large
            utterances: ["write a python function", "fix this bug in my code", "why does my program crash", "refactor this class", "explain this stack trace"]
          - name: weather
            target: small
            utterances: ["what is the weather today", "will it rain tomorrow", "weather forecast for paris", "is it sunny outside"]
          - name: billing
            target: billing-model
            utterances: ["why was I charged twice", "update my credit card", "${refund}", "cancel my subscription"]`;

const config = (upUrl, classifier, routeText = routes()) => `server: {listen: "127.0.0.1:0", threads: 1}
providers: [{name: up, type: openai, base_url: "${upUrl}/v1"}]
models:
  - {name: small, provider: up, model: up-small}
  - {name: large, provider: up, model: up-large}
  - {name: billing-model, provider: up, model: up-billing}
  - {name: fallback-model, provider: up, model: up-fallback}
routers:
  - name: auto
    default: small
    stages:
      - type: semantic
        name: topics
        fallback: fallback-model
        classifier: ${classifier}${routeText}
`;

describe('semantic stage with a trained head', () => {
  let up;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sy-head-'));
  const headFile = path.join(dir, 'topics.head');
  before(async () => {
    up = await startUpstream(async (req, res, rec) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(completion(`answered by ${rec.json.model}`, rec.json.model)));
    });
  });
  after(async () => { await up?.close(); fs.rmSync(dir, { recursive: true, force: true }); });

  const ask = (sy, content, headers = {}) =>
    postJson(`${sy.url}/v1/chat/completions`, { model: 'auto', messages: msg(content) }, headers);

  async function checkRouting(sy) {
    const code = await ask(sy, 'please fix the bug in my python function');
    assert.equal(code.status, 200);
    assert.equal(code.headers.get('x-switchyard-stage'), 'topics');
    assert.match(code.headers.get('x-switchyard-reason'), /^semantic:code p=\d\.\d\d score=\d\.\d\d>=\d\.\d\d$/);
    assert.equal(code.headers.get('x-switchyard-model'), 'large');
    assert.equal(code.json.choices[0].message.content, 'answered by up-large');
    const billing = await ask(sy, 'I was charged twice on my credit card');
    assert.equal(billing.headers.get('x-switchyard-model'), 'billing-model');
    const weather = await ask(sy, 'will it rain in paris tomorrow');
    assert.equal(weather.headers.get('x-switchyard-model'), 'small');
    // Far from every route: the similarity gate sends it to the fallback whatever the head prefers.
    const none = await ask(sy, 'zzz qqq');
    assert.equal(none.headers.get('x-switchyard-model'), 'fallback-model');
    assert.match(none.headers.get('x-switchyard-reason'), /^semantic:below threshold \S+ p=\d\.\d\d score=\d\.\d\d<\d\.\d\d -> fallback$/);
    // The debug scores are the head's probabilities, summing to 1.
    const dbg = JSON.parse((await ask(sy, 'fix this bug', { 'x-switchyard-debug': '1' })).headers.get('x-switchyard-debug'));
    const scores = dbg.stages[0].scores;
    assert.ok(scores.code > scores.weather && scores.code > scores.billing);
    assert.ok(Math.abs(scores.code + scores.weather + scores.billing - 1) < 1e-3);
  }

  test('trained at config load (classifier: logistic)', async () => {
    const sy = await startSwitchyard(config(up.url, 'logistic'));
    try {
      await checkRouting(sy);
    } finally {
      await sy.stop();
    }
  });

  test('trained by train-semantic, loaded from its file', async () => {
    const file = writeConfig(config(up.url, `{type: logistic, head: "${headFile}"}`));
    const missing = await runSwitchyard(['--check-config', file]);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /classifier: semantic head: .*topics\.head: cannot read .*switchyard train-semantic --config/);
    const trained = await runSwitchyard(['train-semantic', '--config', file, '--quiet']);
    assert.equal(trained.code, 0, trained.stderr);
    assert.match(trained.stdout, /auto\/topics, 3 routes, 13 utterances, embedder hashing/);
    assert.ok(fs.statSync(headFile).size > 0);
    const sy = await startSwitchyard(config(up.url, `{type: logistic, head: "${headFile}"}`));
    try {
      await checkRouting(sy);
    } finally {
      await sy.stop();
    }
  });

  test('a head trained on other utterances, a corrupt head and unknown keys fail the config load', async () => {
    const stale = writeConfig(config(up.url, `{type: logistic, head: "${headFile}"}`, routes('refund my payment')));
    const r = await runSwitchyard(['--check-config', stale]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /head .*topics\.head was trained on other utterances \(run: switchyard train-semantic --config /);
    const corrupt = path.join(dir, 'corrupt.head');
    const bytes = fs.readFileSync(headFile);
    bytes[bytes.length >> 1] ^= 0x55;
    fs.writeFileSync(corrupt, bytes);
    const c = await runSwitchyard(['--check-config', writeConfig(config(up.url, `{type: logistic, head: "${corrupt}"}`))]);
    assert.equal(c.code, 1);
    assert.match(c.stderr, /checksum mismatch \(corrupt file\)/);
    const typo = await runSwitchyard(['--check-config', writeConfig(config(up.url, '{type: logistic, l3: 0.1}'))]);
    assert.equal(typo.code, 1);
    assert.match(typo.stderr, /classifier\.l3: unknown key "l3"/);
    const unknown = await runSwitchyard(['--check-config', writeConfig(config(up.url, 'knn'))]);
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /unknown classifier "knn" \(known: centroid, logistic\)/);
  });
});
