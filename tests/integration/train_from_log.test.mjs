// Retraining from traffic: a gateway with a cascade (which labels the weak model's answers by accepting or
// escalating them) and a learned router writes its decision log with prompts; clients rate answers through
// POST /v1/feedback; `switchyard train --from-log` builds a training set from both, reports the expected
// cost and quality against what was served and against the current model on a held-out slice, and replaces
// the learned router's model file — which the running gateway picks up without dropping a request.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';

import { postJson, runSwitchyard, SOURCE_DIR, startSwitchyard, until } from './lib/harness.mjs';

// Hard prompts (long, a proof) make the weak model hedge (low logprob: the cascade escalates, and raters
// mark its answers bad); easy ones (short arithmetic) it answers confidently.
const hard = (i) => `Prove that for every integer n > ${i} the sum of the first n odd numbers equals n squared, ` +
  `then generalise the argument to arithmetic progressions with difference ${i % 7 + 2} and discuss where the ` +
  'induction step needs the hypothesis; give every step of the proof with a justification.';
const easy = (i) => `What is ${i} + ${i % 9}?`;

describe('train --from-log', () => {
  let sy, dir, logFile, modelFile, cfgFile;
  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sy-train-log-'));
    logFile = path.join(dir, 'decisions.jsonl');
    modelFile = path.join(dir, 'router.sylm');
    fs.copyFileSync(path.join(SOURCE_DIR, 'config/demo-router.sylm'), modelFile);
    sy = await startSwitchyard(`server: {listen: "127.0.0.1:0", threads: 2}
admin: {open: true}
decision_log: {path: "${logFile}", include_prompt: true}
providers:
  - name: cheap
    type: mock
    mock:
      reply: "The answer is 4."
      logprob: -0.05
      script:
        - {when: "Prove", reply: "Maybe it holds, not sure.", logprob: -2.0}
  - {name: strong, type: mock, mock: {reply: "A careful answer from the strong model."}}
models:
  - {name: small, provider: cheap, input_price: 0.1, output_price: 0.2}
  - {name: big, provider: strong, input_price: 10, output_price: 30}
routers:
  - name: cascade
    default: big
    stages:
      - type: cascade
        steps: [{model: small, threshold: 0.6}, {model: big}]
        verifiers: [{type: logprob}]
  - name: auto
    default: small
    stages:
      - {type: learned, model_file: "${modelFile}", strong: big, weak: small}
`);
    cfgFile = sy.configFile;
  });
  after(async () => { await sy?.stop(); });

  const ask = (model, content) => postJson(`${sy.url}/v1/chat/completions`, { model, messages: [{ role: 'user', content }] });
  const rate = (id, body) => postJson(`${sy.url}/v1/feedback`, { request_id: id, ...body });
  const scoreOf = (r) => Number(/learned:score=([\d.]+)/.exec(r.headers.get('x-switchyard-reason'))[1]);
  const logLines = () => fs.readFileSync(logFile, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));

  test('learns from cascade verdicts and feedback, reports on a held-out slice, and is hot-reloaded', async () => {
    // Traffic through the cascade: its verdicts label the weak model.
    for (let i = 0; i < 40; ++i) {
      const r = await ask('cascade', i % 2 ? hard(i) : easy(i));
      assert.equal(r.status, 200, r.text);
      assert.match(r.headers.get('x-switchyard-cascade'), i % 2 ? /^small:rejected\([\d.]+\) -> big:routed$/ : /^small:accepted/);
    }
    // Traffic through the learned router, rated by the client: labels on whichever model answered.
    let rated = 0;
    for (let i = 0; i < 30; ++i) {
      const r = await ask('auto', i % 2 ? hard(100 + i) : easy(100 + i));
      assert.equal(r.status, 200, r.text);
      const id = r.headers.get('x-request-id');
      const fb = r.headers.get('x-switchyard-model') === 'small'
        ? (i % 2 ? { label: 'bad' } : { label: 'good' })
        : { score: 9 };  // a 1-10 rating of the strong model's answer
      const f = await rate(id, fb);
      assert.equal(f.status, 200, f.text);
      ++rated;
    }
    const feedbackLines = await until(() => {
      const n = logLines().filter((l) => l.type === 'feedback').length;
      return n === rated ? n : null;
    }, 'every feedback line in the decision log');
    assert.equal(feedbackLines, rated);
    const cascadeLine = logLines().find((l) => l.router === 'cascade' && /rejected/.test(l.cascade ?? ''));
    assert.match(cascadeLine.cascade, /^small:rejected\([\d.]+\) -> big:routed$/);

    // A conversation's shape is logged with its prompt, as the learned router reads it when serving.
    const conv = await postJson(`${sy.url}/v1/chat/completions`, { model: 'auto', messages: [
      { role: 'system', content: 'You are terse.' }, { role: 'user', content: 'hi' },
      { role: 'assistant', content: 'hello' }, { role: 'user', content: easy(7) }] });
    assert.equal(conv.status, 200, conv.text);
    const convLine = await until(() => logLines().find((l) => l.request_id === conv.headers.get('x-request-id')), 'its line');
    assert.equal(convLine.prompt, easy(7));
    assert.deepEqual(convLine.conversation, { earlier_messages: 2, has_system: true, system_bytes: 14, context_bytes: 7 });

    const probeHard = hard(999), probeEasy = easy(999);
    const before = { hard: scoreOf(await ask('auto', probeHard)), easy: scoreOf(await ask('auto', probeEasy)) };
    const oldBytes = fs.readFileSync(modelFile);

    // Requests keep flowing while the model file is replaced and reloaded: none may fail.
    let stop = false;
    const failures = [];
    let served = 0;
    const load = (async () => {
      while (!stop) {
        const r = await ask('auto', easy(served));
        if (r.status !== 200) failures.push(`${r.status} ${r.text}`);
        ++served;
      }
    })();

    const jsonFile = path.join(dir, 'report.json');
    const run = await runSwitchyard(['train', '--from-log', logFile, '--config', cfgFile, '--router', 'auto',
      '--min-labels', '10', '--json', jsonFile, '--quiet']);
    assert.equal(run.code, 0, run.stderr + run.stdout);
    assert.match(run.stderr, /labels for the weak model: \d+ from feedback, \d+ from cascade verdicts/);
    assert.match(run.stdout, /held-out slice: \d+ requests/);
    assert.match(run.stdout, /as served/);
    assert.match(run.stdout, /current router\.sylm/);
    assert.match(run.stdout, /wrote .*router\.sylm/);
    const report = JSON.parse(fs.readFileSync(jsonFile, 'utf8'));
    assert.equal(report.model_file, modelFile);
    assert.ok(report.labels_from_cascade >= 30, JSON.stringify(report));  // 40 cascade rows, some held out
    assert.ok(report.labels_from_feedback >= 1, JSON.stringify(report));
    assert.ok(report.held_out_rows >= 1, JSON.stringify(report));
    assert.deepEqual(report.policies.map((p) => p.policy),
      ['as served', 'current router.sylm', 'current router.sylm at that share', 'new']);
    // The current model recalibrated to the new one's share: the same strong share on the training slice.
    assert.match(run.stdout, /new vs current router\.sylm at that share: strong share [-+][\d.]+ pts, quality [-+][\d.]+, cost [-+][\d.]+%/);
    for (const p of report.policies) {
      assert.ok(p.strong_share >= 0 && p.strong_share <= 1, JSON.stringify(p));
      assert.ok(p.quality >= 0 && p.quality <= 1, JSON.stringify(p));
      assert.ok(p.cost_usd_per_request > 0, JSON.stringify(p));  // priced from the config's models
    }
    assert.notDeepEqual(fs.readFileSync(modelFile), oldBytes);

    // The running gateway reloads the new file (it watches the files its routers were built from).
    const after = await until(async () => {
      const r = await ask('auto', probeHard);
      const s = scoreOf(r);
      return s !== before.hard ? { hard: s, easy: scoreOf(await ask('auto', probeEasy)) } : null;
    }, 'the retrained model in use', 15000, 100);
    stop = true;
    await load;
    assert.deepEqual(failures, []);
    assert.ok(served > 0);
    // What the traffic taught: the hard prompt is the one that needs the strong model.
    assert.ok(after.hard > after.easy, JSON.stringify({ before, after }));
    await sy.waitForOutput(/reloaded .* \(generation \d+\)/);
  });

  test('explains what is missing instead of training on nothing', async () => {
    const empty = path.join(dir, 'empty.jsonl');
    fs.writeFileSync(empty, '{"router":"auto","status":200,"model":"small","request_id":"x"}\nnot json\n');
    const r = await runSwitchyard(['train', '--from-log', empty, '--config', cfgFile, '--out', path.join(dir, 'x.sylm'), '--quiet']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /0 labelled requests .*include_prompt/);
    assert.match(r.stderr, /skipped 1 without a prompt/);
    assert.equal(fs.existsSync(path.join(dir, 'x.sylm')), false);
    const noRouter = await runSwitchyard(['train', '--from-log', empty, '--config', cfgFile, '--router', 'cascade']);
    assert.equal(noRouter.code, 1);
    assert.match(noRouter.stderr, /router 'cascade' has no learned stage/);
  });
});
