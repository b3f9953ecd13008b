// The cascade through HTTP with scripted mock models: accepted at step 1, escalated once, escalated to
// the end, a verifier model down, streaming in both cases, review mode, and cost accounting.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { postJson, sseData, startSwitchyard } from './lib/harness.mjs';

const ask = (sy, content, extra = {}, model = 'auto') => postJson(`${sy.url}/v1/chat/completions`, { model, messages: [{ role: 'user', content }], ...extra });
const streamText = (r) => sseData(r.text).filter((d) => d !== '[DONE]').map((d) => JSON.parse(d).choices?.[0]?.delta?.content ?? '').join('');

describe('cascade: verify mode', () => {
  let sy;
  before(async () => {
    sy = await startSwitchyard(`server: {listen: "127.0.0.1:0", threads: 1}
providers:
  - name: cheap
    type: mock
    mock:
      script:
        - {when: "easy", reply: "The answer is 4.", logprob: -0.05}
        - {when: "hard", reply: "Maybe 17, not sure.", logprob: -2.0}
        - {when: "refuse", reply: "I'm sorry, but I can't help with that.", logprob: -0.01}
        - {when: "Proposed answer:", reply: "no", logprob: -0.1}
  - name: mid
    type: mock
    mock:
      script:
        - {when: "hardest", reply: "Perhaps 18?", logprob: -1.5}
        - {when: "hard", reply: "It is 18.", logprob: -0.02}
  - name: big
    type: mock
    mock: {reply: "The strong model says 42.", tokens_per_second: 0}
  - name: down
    type: mock
    mock: {fail_rate: 1.0, fail_status: 503}
models:
  - {name: small, provider: cheap, model: small-1, input_price: 0.1, output_price: 0.2}
  - {name: medium, provider: mid, model: medium-1, input_price: 1, output_price: 2}
  - {name: large, provider: big, model: large-1, input_price: 10, output_price: 30}
  - {name: judge-down, provider: down, model: judge}
routers:
  - name: auto
    default: large
    stages:
      - type: cascade
        steps:
          - {model: small, threshold: 0.6}
          - {model: large}
        verifiers:
          - {type: logprob}
          - {type: heuristics}
  - name: three
    default: large
    stages:
      - type: cascade
        steps: [{model: small, threshold: 0.6}, {model: medium, threshold: 0.6}, {model: large}]
        verifiers: [{type: logprob}]
  - name: judged
    default: large
    stages:
      - type: cascade
        steps: [{model: small, threshold: 0.5}, {model: large}]
        verifiers: [{type: self_verify, judge: judge-down}]
  - name: self-judged
    default: large
    stages:
      - type: cascade
        steps: [{model: small, threshold: 0.5}, {model: large}]
        verifiers: [{type: self_verify}]
`);
  });
  after(async () => { await sy?.stop(); });

  test('accepted at step 1: the cheap answer, logprobs stripped, cost of the cheap call only', async () => {
    const r = await ask(sy, 'an easy question: 2+2?');
    assert.equal(r.status, 200);
    assert.equal(r.json.choices[0].message.content, 'The answer is 4.');
    assert.equal(r.json.choices[0].logprobs, null, 'the client did not ask for logprobs');
    assert.match(r.headers.get('x-switchyard-cascade'), /^small:accepted\(0\.9\d\)$/);
    assert.equal(r.headers.get('x-switchyard-model'), 'small');
    assert.match(r.headers.get('x-switchyard-reason'), /cascade:small accepted/);
    const cost = Number(r.headers.get('x-switchyard-cost-usd'));
    assert.ok(cost > 0 && cost < 1e-5, `cost ${cost}`);
  });

  test('logprobs reach a client that asked for them', async () => {
    const r = await ask(sy, 'an easy question again', { logprobs: true });
    assert.ok(r.json.choices[0].logprobs.content.length > 0);
  });

  test('escalated once: low confidence goes to the strong model; both calls are paid for', async () => {
    const r = await ask(sy, 'a hard question');
    assert.equal(r.status, 200);
    assert.equal(r.json.choices[0].message.content, 'The strong model says 42.');
    assert.match(r.headers.get('x-switchyard-cascade'), /^small:rejected\(0\.\d\d\) -> large:routed$/);
    assert.equal(r.headers.get('x-switchyard-model'), 'large');
    const cost = Number(r.headers.get('x-switchyard-cost-usd'));
    assert.ok(cost > 1e-4, `cost ${cost} includes the strong call`);
  });

  test('a refusal is rejected by the heuristics even when the model is sure of itself', async () => {
    const r = await ask(sy, 'please refuse this');
    assert.equal(r.json.choices[0].message.content, 'The strong model says 42.');
    assert.match(r.headers.get('x-switchyard-cascade'), /small:rejected/);
  });

  test('escalated to the end through three steps', async () => {
    const r = await ask(sy, 'the hardest question', {}, 'three');
    assert.equal(r.json.choices[0].message.content, 'The strong model says 42.');
    assert.match(r.headers.get('x-switchyard-cascade'), /^small:rejected\(.*\) -> medium:rejected\(.*\) -> large:routed$/);
    const mid = await ask(sy, 'a hard question', {}, 'three');
    assert.equal(mid.json.choices[0].message.content, 'It is 18.');
    assert.match(mid.headers.get('x-switchyard-cascade'), /^small:rejected\(.*\) -> medium:accepted\(.*\)$/);
  });

  test('verifier model down: the cascade degrades to the next model, no client error', async () => {
    const r = await ask(sy, 'an easy question', {}, 'judged');
    assert.equal(r.status, 200);
    assert.equal(r.json.choices[0].message.content, 'The strong model says 42.');
    assert.match(r.headers.get('x-switchyard-cascade'), /^small:rejected\(0\.00\) -> large:routed$/);
  });

  test('self-verification: the judge saying no escalates', async () => {
    const r = await ask(sy, 'an easy question', {}, 'self-judged');
    assert.match(r.headers.get('x-switchyard-cascade'), /^small:rejected\(0\.\d\d\) -> large:routed$/);
  });

  test('streaming, accepted: the held cheap answer is replayed as SSE at once', async () => {
    const r = await ask(sy, 'easy streaming question', { stream: true, stream_options: { include_usage: true } });
    assert.equal(r.status, 200);
    assert.match(r.headers.get('content-type'), /text\/event-stream/);
    assert.equal(streamText(r), 'The answer is 4.');
    const data = sseData(r.text);
    assert.equal(data.at(-1), '[DONE]');
    assert.ok(data.some((d) => d !== '[DONE]' && JSON.parse(d).usage), 'usage chunk for a client that asked');
    assert.match(r.headers.get('x-switchyard-cascade'), /small:accepted/);
  });

  test('streaming, escalated: the strong model streams live', async () => {
    const r = await ask(sy, 'hard streaming question', { stream: true });
    assert.equal(streamText(r), 'The strong model says 42.');
    assert.ok(sseData(r.text).length > 5, 'several chunks: relayed, not replayed');
    assert.match(r.headers.get('x-switchyard-cascade'), /large:routed/);
  });
});

describe('cascade: agreement and review', () => {
  let sy;
  before(async () => {
    sy = await startSwitchyard(`server: {listen: "127.0.0.1:0", threads: 1}
providers:
  - name: cheap
    type: mock
    mock:
      script:
        - {when: "consistent", replies: ["The answer is 12.", "So the answer is 12.", "The answer is 12."]}
        - {when: "unstable", replies: ["The answer is 12.", "The answer is 13.", "The answer is 9."]}
        - {when: "Rubric:", reply: "The answer ignores the second question."}
        - {when: "draft me", reply: "Short draft."}
  - name: big
    type: mock
    mock: {reply: "A careful, complete answer."}
  - name: approving
    type: mock
    mock: {reply: "APPROVED"}
models:
  - {name: small, provider: cheap, model: small-1}
  - {name: large, provider: big, model: large-1}
  - {name: lenient, provider: approving, model: reviewer-1}
routers:
  - name: vote
    default: large
    stages:
      - type: cascade
        steps: [{model: small, threshold: 0.9}, {model: large}]
        verifiers: [{type: agreement, samples: 3, extract: ["answer is (\\\\d+)"]}]
  - name: review
    default: large
    stages:
      - {type: cascade, mode: review, draft: small, reviewer: small, rewriter: large, rubric: "Answer every question asked."}
  - name: review-ok
    default: large
    stages:
      - {type: cascade, mode: review, draft: small, reviewer: lenient, rewriter: large}
`);
  });
  after(async () => { await sy?.stop(); });

  test('sample agreement accepts consistent answers and returns one choice', async () => {
    const r = await ask(sy, 'a consistent question', {}, 'vote');
    assert.equal(r.json.choices.length, 1);
    assert.match(r.json.choices[0].message.content, /answer is 12/);
    assert.match(r.headers.get('x-switchyard-cascade'), /^small:accepted\(1\.00\)$/);
  });

  test('disagreeing samples escalate', async () => {
    const r = await ask(sy, 'an unstable question', {}, 'vote');
    assert.equal(r.json.choices[0].message.content, 'A careful, complete answer.');
    assert.match(r.headers.get('x-switchyard-cascade'), /^small:rejected\(0\.33\) -> large:routed$/);
  });

  test('review: a flagged draft is rewritten by the frontier model', async () => {
    const r = await ask(sy, 'draft me something', {}, 'review');
    assert.equal(r.json.choices[0].message.content, 'A careful, complete answer.');
    assert.equal(r.headers.get('x-switchyard-cascade'), 'small:drafted -> small:flagged -> large:rewrote');
  });

  test('review: an approved draft is returned as is, streamed when asked', async () => {
    const r = await ask(sy, 'draft me something', { stream: true }, 'review-ok');
    assert.equal(streamText(r), 'Short draft.');
    assert.equal(r.headers.get('x-switchyard-cascade'), 'small:drafted -> lenient:approved');
  });
});
