// Shadow routing: a router's `shadow:` router decides every request the router answered too, decision
// only (no upstream call), and the counterfactual — its model, what that would have cost at the same
// token counts — goes to the decision log and to /metrics, so two configurations can be compared on
// live traffic before switching.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';

import { postJson, runSwitchyard, startSwitchyard, until, writeConfig } from './lib/harness.mjs';
import { parseExposition } from './lib/metrics.mjs';

const PRICES = { small: [1, 2], big: [10, 30] };  // USD per 1M input, output tokens
const models = `models:
  - {name: small, provider: cheap, input_price: ${PRICES.small[0]}, output_price: ${PRICES.small[1]}}
  - {name: big, provider: strong, input_price: ${PRICES.big[0]}, output_price: ${PRICES.big[1]}}`;
const cost = (m, u) => (u.prompt_tokens * PRICES[m][0] + u.completion_tokens * PRICES[m][1]) / 1e6;

describe('shadow routing', () => {
  let sy, logFile, upstreamCalls;
  before(async () => {
    logFile = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'sy-shadow-')), 'decisions.jsonl');
    sy = await startSwitchyard(`server: {listen: "127.0.0.1:0", threads: 1}
admin: {open: true}
decision_log: {path: "${logFile}"}
providers:
  - {name: cheap, type: mock, mock: {reply: "from small"}}
  - {name: strong, type: mock, mock: {reply: "from big"}}
${models}
routers:
  - name: auto
    default: small
    shadow: candidate
    stages:
      - type: rule
        rules:
          - {name: proofs, when: {keywords: [prove]}, route: big}
  - name: candidate
    default: big
    stages:
      - type: rule
        rules:
          - {name: greetings, when: {keywords: [hello]}, route: small}
`);
  });
  after(async () => { await sy?.stop(); });

  const ask = (content, extra = {}) =>
    postJson(`${sy.url}/v1/chat/completions`, { model: 'auto', messages: [{ role: 'user', content }], ...extra });
  const read = () => (fs.existsSync(logFile) ? fs.readFileSync(logFile, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l)) : []);
  const shadowLine = (id) => until(() => read().find((l) => l.type === 'shadow' && l.request_id === id), `the shadow line of ${id}`, 5000);

  test('each answered request is also decided by the shadow, and the counterfactual is logged', async () => {
    const cases = [
      { content: 'hello there', answered: 'small', shadow: 'small', stage: 'rule', reason: /greetings/ },
      { content: 'please prove this lemma', answered: 'big', shadow: 'big', stage: 'default', reason: /default/ },
      { content: 'what is the capital of France', answered: 'small', shadow: 'big', stage: 'default', reason: /default/ },
    ];
    for (const c of cases) {
      const r = await ask(c.content);
      assert.equal(r.status, 200, r.text);
      assert.equal(r.json.choices[0].message.content, `from ${c.answered}`);
      const id = r.headers.get('x-request-id');
      const line = await shadowLine(id);
      assert.equal(line.router, 'auto');
      assert.equal(line.shadow, 'candidate');
      assert.equal(line.actual_model, c.answered);
      assert.equal(line.model, c.shadow, c.content);
      assert.equal(line.agree, c.answered === c.shadow);
      assert.equal(line.stage, c.stage);
      assert.match(line.reason, c.reason);
      // Priced at the answer's own token counts.
      const u = r.json.usage;
      assert.ok(Math.abs(line.expected_cost_usd - cost(c.shadow, u)) < 1e-12, `${line.expected_cost_usd} vs ${cost(c.shadow, u)}`);
      assert.ok(Math.abs(line.actual_cost_usd - cost(c.answered, u)) < 1e-12);
      // The request's own decision line is unchanged: the router that answered.
      const own = read().find((l) => l.request_id === id && l.type === undefined);
      assert.equal(own.router, 'auto');
    }
  });

  test('streams are shadowed too, and the switchyard_shadow_* metrics add up to the log', async () => {
    const r = await fetch(`${sy.url}/v1/chat/completions`, {
      method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'auto', stream: true, messages: [{ role: 'user', content: 'stream: hello' }] }),
    });
    assert.equal(r.status, 200);
    await r.text();
    await shadowLine(r.headers.get('x-request-id'));
    const lines = read().filter((l) => l.type === 'shadow');
    assert.equal(lines.length, 4);
    const m = parseExposition(await (await fetch(`${sy.url}/metrics`)).text());
    assert.equal(m.get('switchyard_shadow_decisions_total', { router: 'auto', shadow: 'candidate', model: 'small', agree: 'true' }), 2);
    assert.equal(m.get('switchyard_shadow_decisions_total', { router: 'auto', shadow: 'candidate', model: 'big', agree: 'true' }), 1);
    assert.equal(m.get('switchyard_shadow_decisions_total', { router: 'auto', shadow: 'candidate', model: 'big', agree: 'false' }), 1);
    const sum = (k) => lines.reduce((a, l) => a + l[k], 0);
    assert.ok(Math.abs(m.get('switchyard_shadow_cost_usd_total', { router: 'auto', shadow: 'candidate', choice: 'shadow' }) - sum('expected_cost_usd')) < 1e-12);
    assert.ok(Math.abs(m.get('switchyard_shadow_cost_usd_total', { router: 'auto', shadow: 'candidate', choice: 'actual' }) - sum('actual_cost_usd')) < 1e-12);
  });

  test('a request named to the shadow router itself is an ordinary routed request (no shadow of it)', async () => {
    const r = await postJson(`${sy.url}/v1/chat/completions`, { model: 'candidate', messages: [{ role: 'user', content: 'hello' }] });
    assert.equal(r.status, 200);
    const id = r.headers.get('x-request-id');
    await until(() => read().some((l) => l.request_id === id && l.type === undefined), 'its decision line', 5000);
    // The next shadowed request's line arrives after this one's would have: none for `candidate`'s own request.
    const next = await ask('hello again');
    await shadowLine(next.headers.get('x-request-id'));
    assert.equal(read().filter((l) => l.type === 'shadow' && l.request_id === id).length, 0);
  });
});

describe('shadow configuration errors', () => {
  const check = async (routers) => {
    const file = writeConfig(`providers: [{name: cheap, type: mock}, {name: strong, type: mock}]
${models}
routers:
${routers}`);
    return runSwitchyard(['--check-config', file]);
  };

  test('an unknown shadow, the router itself, and a shadow that would call models are refused with their path', async () => {
    let r = await check(`  - {name: auto, default: small, shadow: nope}`);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /routers\[0\]\.shadow.*unknown router "nope"/);
    r = await check(`  - {name: auto, default: small, shadow: auto}`);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /routers\[0\]\.shadow.*cannot shadow itself/);
    r = await check(`  - {name: auto, default: small, shadow: cascading}
  - name: cascading
    default: big
    stages:
      - type: cascade
        steps: [{model: small, threshold: 0.6}, {model: big}]
        verifiers: [{type: logprob}]`);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /routers\[0\]\.shadow.*calls models/);
  });
});

describe('eval --replay: a decision log through a candidate config', () => {
  test('reports agreement and the candidate\'s cost at the logged token counts', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sy-replay-'));
    const logFile = path.join(dir, 'decisions.jsonl');
    const providers = `providers:
  - {name: cheap, type: mock, mock: {reply: "from small"}}
  - {name: strong, type: mock, mock: {reply: "from big"}}`;
    const live = await startSwitchyard(`server: {listen: "127.0.0.1:0", threads: 1}
decision_log: {path: "${logFile}", include_prompt: true}
${providers}
${models}
routers:
  - name: auto
    default: small
    stages:
      - type: rule
        rules: [{name: proofs, when: {keywords: [prove]}, route: big}]
`);
    const usages = [];
    for (const content of ['hello', 'prove the lemma', 'what time is it', 'prove it again']) {
      const r = await postJson(`${live.url}/v1/chat/completions`, { model: 'auto', messages: [{ role: 'user', content }] });
      assert.equal(r.status, 200);
      usages.push({ content, usage: r.json.usage });
    }
    await postJson(`${live.url}/v1/chat/completions`, { model: 'small', messages: [{ role: 'user', content: 'named, not routed' }] });
    await live.stop();  // flushes the decision log

    // The candidate sends everything but greetings to big.
    const candidate = writeConfig(`${providers}
${models}
routers:
  - name: auto
    default: big
    stages:
      - type: rule
        rules: [{name: greetings, when: {keywords: [hello]}, route: small}]
`);
    const r = await runSwitchyard(['eval', '--replay', logFile, '--config', candidate]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /replayed 4 routed requests \(0 without a logged prompt, 0 whose router the candidate lacks\)/);
    // Logged: small, big, small, big. Candidate: small, big, big, big: 3 of 4 agree.
    assert.match(r.stdout, /agreement 75\.0 % \(3 of 4\), rejected by the candidate 0/);
    const logged = usages.reduce((a, u) => a + cost(/prove/.test(u.content) ? 'big' : 'small', u.usage), 0);
    const cand = usages.reduce((a, u) => a + cost(/hello/.test(u.content) ? 'small' : 'big', u.usage), 0);
    const m = r.stdout.match(/logged ([\d.]+) USD, candidate ([\d.]+) USD/);
    assert.ok(m, r.stdout);
    assert.ok(Math.abs(Number(m[1]) - logged) < 1e-6, `${m[1]} vs ${logged}`);
    assert.ok(Math.abs(Number(m[2]) - cand) < 1e-6, `${m[2]} vs ${cand}`);
    assert.match(r.stdout, /small\s+2\s+1\n/);
    assert.match(r.stdout, /big\s+2\s+3\n/);
  });

  test('a log without prompts says so and fails', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sy-replay-'));
    const logFile = path.join(dir, 'decisions.jsonl');
    fs.writeFileSync(logFile, `${JSON.stringify({ router: 'auto', model: 'small', prompt_sha256: 'ab', prompt_tokens: 3, completion_tokens: 2 })}\n`);
    const candidate = writeConfig(`providers: [{name: cheap, type: mock}, {name: strong, type: mock}]
${models}
routers: [{name: auto, default: big}]
`);
    const r = await runSwitchyard(['eval', '--replay', logFile, '--config', candidate]);
    assert.equal(r.code, 1);
    assert.match(r.stdout, /replayed 0 routed requests \(1 without a logged prompt/);
  });
});
