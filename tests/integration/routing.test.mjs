// Routers through HTTP: each stage's decision visible in headers, rejects never reach the upstream,
// per-request controls, the debug header and the decision log.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';

import { completion, postJson, runSwitchyard, startSwitchyard, startUpstream, writeConfig } from './lib/harness.mjs';

const msg = (content) => [{ role: 'user', content }];

describe('rule and semantic routing', () => {
  let up, sy, logFile;
  before(async () => {
    up = await startUpstream(async (req, res, rec) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(completion(`answered by ${rec.json.model}`, rec.json.model)));
    });
    logFile = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'sy-dl-')), 'decisions.jsonl');
    sy = await startSwitchyard(`server: {listen: "127.0.0.1:0", threads: 1}
providers: [{name: up, type: openai, base_url: "${up.url}/v1"}]
models:
  - {name: small, provider: up, model: up-small, input_price: 0.1, output_price: 0.2}
  - {name: large, provider: up, model: up-large, input_price: 3, output_price: 15}
  - {name: long, provider: up, model: up-long}
decision_log: {path: "${logFile}"}
routers:
  - name: auto
    default: small
    tiers: {smart: large}
    stages:
      - type: rule
        name: guard
        rules:
          - name: secrets
            when: {detect: [api_key, credit_card], in: all}
            reject: {status: 422, code: sensitive_data, message: "no secrets please"}
          - name: blocked-word
            when: {regex: "(?i)\\\\bforbidden\\\\b"}
            reject: {message: "forbidden topic"}
          - name: long
            when: {prompt_tokens: {gt: 500}}
            route: long
          - name: free
            when: {tier: free}
            route: small
          - name: tools
            when: {has_tools: true}
            route: smart
          - name: vip
            when: {header: {name: x-customer, equals: vip}}
            tag: vip
          - name: vip-route
            when: {all: [{tag: vip}, {not: {keywords: [cheap]}}]}
            route: large
      - type: semantic
        name: topics
        routes:
          - name: code
            target: smart
            utterances: ["write a python function", "fix this bug in my code", "why does my program crash", "refactor this class", "explain this stack trace"]
          - name: weather
            target: small
            utterances: ["what is the weather today", "will it rain tomorrow", "weather forecast for paris"]
  - name: other
    default: large
`);
  });
  after(async () => { await sy?.stop(); await up?.close(); });

  const ask = (content, extra = {}, headers = {}) => postJson(`${sy.url}/v1/chat/completions`, { model: 'auto', messages: msg(content), ...extra }, headers);

  test('routers appear in /v1/models', async () => {
    const ids = (await (await fetch(`${sy.url}/v1/models`)).json()).data.map((m) => m.id);
    assert.ok(ids.includes('auto') && ids.includes('other') && ids.includes('small'));
  });

  test('a rule reject never reaches the upstream', async () => {
    const before = up.requests.length;
    const r = await ask('my key is sk-proj-abcdefghijklmnopqrstuvwxyz123456');
    assert.equal(r.status, 422);
    assert.equal(r.json.error.code, 'sensitive_data');
    assert.equal(r.json.error.message, 'no secrets please');
    assert.equal(r.headers.get('x-switchyard-stage'), 'guard');
    assert.match(r.headers.get('x-switchyard-reason'), /^rule:secrets/);
    const card = await ask('charge 4111 1111 1111 1111 please');
    assert.equal(card.status, 422);
    const notCard = await ask('order 4111 1111 1111 1112 shipped');  // fails the Luhn check
    assert.equal(notCard.status, 200);
    const word = await ask('tell me about the Forbidden city');
    assert.equal(word.status, 400);
    assert.equal(word.json.error.code, 'request_rejected');
    assert.equal(up.requests.length, before + 1);  // only the non-card request went out
  });

  test('rule routes: token estimate, tier, tools, header tag', async () => {
    const long = await ask('word '.repeat(800));
    assert.equal(long.headers.get('x-switchyard-model'), 'long');
    assert.match(long.headers.get('x-switchyard-reason'), /rule:long prompt_tokens>500/);
    const free = await ask('write a python function', {}, { 'x-switchyard-tier': 'free' });
    assert.equal(free.headers.get('x-switchyard-model'), 'small');
    const tools = await ask('hello', { tools: [{ type: 'function', function: { name: 'f', parameters: { type: 'object' } } }] });
    assert.equal(tools.headers.get('x-switchyard-model'), 'large');
    assert.equal(up.requests.at(-1).json.model, 'up-large');
    const vip = await ask('hello there', {}, { 'x-customer': 'vip' });
    assert.equal(vip.headers.get('x-switchyard-model'), 'large');
    assert.match(vip.headers.get('x-switchyard-reason'), /rule:vip-route/);
    const vipCheap = await ask('something cheap', {}, { 'x-customer': 'vip' });
    assert.notEqual(vipCheap.headers.get('x-switchyard-reason')?.startsWith('rule:vip-route'), true);
  });

  test('semantic routes, with the score in the reason; below threshold falls to the default', async () => {
    const code = await ask('please fix this bug in my python code');
    assert.equal(code.status, 200);
    assert.equal(code.headers.get('x-switchyard-router'), 'auto');
    assert.equal(code.headers.get('x-switchyard-stage'), 'topics');
    assert.match(code.headers.get('x-switchyard-reason'), /^semantic:code score=\d\.\d\d>=\d\.\d\d$/);
    assert.equal(code.headers.get('x-switchyard-model'), 'large');
    assert.equal(code.json.choices[0].message.content, 'answered by up-large');
    const weather = await ask('will it rain in paris tomorrow');
    assert.equal(weather.headers.get('x-switchyard-model'), 'small');
    const none = await ask('zzz qqq');
    assert.equal(none.headers.get('x-switchyard-stage'), 'default');
    assert.equal(none.headers.get('x-switchyard-model'), 'small');
  });

  test('the debug header returns every stage\'s scores', async () => {
    const r = await ask('fix this bug', {}, { 'x-switchyard-debug': '1' });
    const dbg = JSON.parse(r.headers.get('x-switchyard-debug'));
    assert.equal(dbg.router, 'auto');
    assert.deepEqual(dbg.stages.map((s) => s.name), ['guard', 'topics']);
    assert.equal(dbg.stages[0].outcome, 'pass');
    assert.equal(dbg.stages[1].outcome, 'route');
    assert.ok(dbg.stages[1].scores.code > dbg.stages[1].scores.weather);
  });

  test('router chosen by header or body extension; the extension never goes upstream', async () => {
    const r = await postJson(`${sy.url}/v1/chat/completions`, { model: 'small', messages: msg('hi'), switchyard: { router: 'other' } });
    assert.equal(r.headers.get('x-switchyard-router'), 'other');
    assert.equal(r.headers.get('x-switchyard-model'), 'large');
    assert.equal(up.requests.at(-1).json.switchyard, undefined);
    const h = await postJson(`${sy.url}/v1/chat/completions`, { model: 'small', messages: msg('hi') }, { 'x-switchyard-router': 'other' });
    assert.equal(h.headers.get('x-switchyard-model'), 'large');
    const bad = await postJson(`${sy.url}/v1/chat/completions`, { model: 'small', messages: msg('hi'), switchyard: { router: 'nope' } });
    assert.equal(bad.status, 404);
    assert.equal(bad.json.error.code, 'router_not_found');
    const badField = await postJson(`${sy.url}/v1/chat/completions`, { model: 'auto', messages: msg('hi'), switchyard: { treshold: 1 } });
    assert.equal(badField.status, 400);
    assert.equal(badField.json.error.param, 'switchyard.treshold');
  });

  test('explicit real models skip routing', async () => {
    const r = await postJson(`${sy.url}/v1/chat/completions`, { model: 'large', messages: msg('weather today?') });
    assert.equal(r.headers.get('x-switchyard-router'), null);
    assert.equal(r.headers.get('x-switchyard-model'), 'large');
  });

  test('the decision log has a line per request, with the prompt hashed', async () => {
    const r = await ask('fix this bug in my code, decision-log-marker');
    const id = r.headers.get('x-request-id');
    let line;
    for (let i = 0; i < 100 && !line; i++) {  // the log is written by a background thread: poll the file
      line = fs.existsSync(logFile) && fs.readFileSync(logFile, 'utf8').split('\n').find((l) => l.includes(id));
      if (!line) await new Promise((res) => setTimeout(res, 20));
    }
    assert.ok(line, 'decision line written');
    const j = JSON.parse(line);
    assert.equal(j.router, 'auto');
    assert.equal(j.stage, 'topics');
    assert.equal(j.model, 'large');
    assert.equal(j.prompt_tokens, 5);
    assert.ok(j.cost_usd > 0);
    assert.match(j.prompt_sha256, /^[0-9a-f]{64}$/);
    assert.ok(!line.includes('decision-log-marker'));
    assert.ok(Array.isArray(j.stages) && j.stages[1].scores.code > 0);
  });
});

describe('router configuration errors', () => {
  test('bad stages are reported with their YAML path', async () => {
    const file = writeConfig(`providers: [{name: mock, type: mock}]
models: [{name: small, provider: mock}]
routers:
  - name: auto
    default: smal
    stages:
      - type: rule
        rules:
          - when: {regex: "(unclosed"}
            route: small
          - when: {prompt_tokens: {gt: 10}}
            route: nowhere
      - type: semantik
`);
    const r = await runSwitchyard(['--check-config', file]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /routers\[0\]\.default: unknown model or tier "smal"/);
    assert.match(r.stderr, /routers\[0\]\.stages\[0\]\.rules\[0\]\.when\.regex: invalid regex/);
    assert.match(r.stderr, /routers\[0\]\.stages\[0\]\.rules\[1\]\.route: unknown model or tier "nowhere"/);
    assert.match(r.stderr, /routers\[0\]\.stages\[1\]\.type: unknown stage type "semantik"/);
  });
});
