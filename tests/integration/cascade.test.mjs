// The cascade through HTTP with scripted mock models: accepted at step 1, escalated once, escalated to
// the end, a verifier model down, streaming in both cases, review mode, cost accounting, and
// stream_early (a streamed step judged on its first tokens, then relayed live or cancelled).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { postJson, sseData, startSwitchyard, startUpstream } from './lib/harness.mjs';

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
  - name: slow
    type: mock
    mock: {latency: 250ms, reply: "Maybe 17, not sure.", logprob: -2.0}
models:
  - {name: small, provider: cheap, model: small-1, input_price: 0.1, output_price: 0.2}
  - {name: medium, provider: mid, model: medium-1, input_price: 1, output_price: 2}
  - {name: large, provider: big, model: large-1, input_price: 10, output_price: 30}
  - {name: judge-down, provider: down, model: judge}
  - {name: slow-small, provider: slow, model: slow-1}
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
  - name: slow-first
    default: large
    stages:
      - type: cascade
        steps: [{model: slow-small, threshold: 0.6}, {model: large}]
        verifiers: [{type: logprob}]
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

  test('the time a rejected step waited on its upstream is not reported as proxy overhead', async () => {
    const r = await ask(sy, 'a question', {}, 'slow-first');
    assert.match(r.headers.get('x-switchyard-cascade'), /^slow-small:rejected\(0\.\d\d\) -> large:routed$/);
    const overhead = Number(r.headers.get('x-switchyard-overhead-ms'));
    assert.ok(overhead >= 0 && overhead < 100, `overhead ${overhead} ms excludes the 250 ms cheap call`);
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

  test('streaming, accepted, Anthropic-format client: the replayed answer arrives as Anthropic events', async () => {
    const r = await postJson(`${sy.url}/v1/messages`, {
      model: 'auto', max_tokens: 64, stream: true, messages: [{ role: 'user', content: 'easy streaming question' }],
    });
    assert.equal(r.status, 200);
    assert.match(r.headers.get('x-switchyard-cascade'), /small:accepted/);
    const events = r.text.split('\n').filter((l) => l.startsWith('data:')).map((l) => JSON.parse(l.slice(5)));
    assert.deepEqual([events[0].type, events.at(-1).type], ['message_start', 'message_stop']);
    const text = events.filter((e) => e.type === 'content_block_delta').map((e) => e.delta.text).join('');
    assert.equal(text, 'The answer is 4.');
    assert.ok(!r.text.includes('chat.completion.chunk'), 'no OpenAI chunks leak to an Anthropic client');
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

// One streamed chunk of a cheap model's answer with its token's logprobs, as OpenAI sends them.
const lpChunk = (token, logprob) => `data: ${JSON.stringify({
  id: 'chatcmpl-remote', object: 'chat.completion.chunk', created: 1700000000, model: 'remote-1',
  choices: [{ index: 0, delta: { content: token }, finish_reason: null,
    logprobs: { content: [{ token, logprob, bytes: null, top_logprobs: [{ token, logprob, bytes: null }, { token: '<alt>', logprob: Math.log(1 - Math.exp(logprob)), bytes: null }] }] } }],
})}\n\n`;
const roleChunk = `data: ${JSON.stringify({ id: 'chatcmpl-remote', object: 'chat.completion.chunk', created: 1700000000, model: 'remote-1', choices: [{ index: 0, delta: { role: 'assistant', content: '' }, finish_reason: null }] })}\n\n`;
const stopChunk = `data: ${JSON.stringify({ id: 'chatcmpl-remote', object: 'chat.completion.chunk', created: 1700000000, model: 'remote-1', choices: [{ index: 0, delta: {}, finish_reason: 'stop' }] })}\n\n`;
const usageChunk = `data: ${JSON.stringify({ id: 'chatcmpl-remote', object: 'chat.completion.chunk', created: 1700000000, model: 'remote-1', choices: [], usage: { prompt_tokens: 9, completion_tokens: 8, total_tokens: 17 } })}\n\n`;
const chunksOf = (text) => sseData(text).filter((d) => d !== '[DONE]').map((d) => JSON.parse(d));
/** The cost_usd of a request's access-log line (written when its stream ended). */
async function loggedCost(sy, r) {
  const re = new RegExp(`${r.headers.get('x-request-id')} .* cost_usd=([\\d.]+)`);
  await sy.waitForOutput(re);
  return Number(sy.output().match(re)[1]);
}
const streamFetch = (sy, body) => fetch(`${sy.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });

describe('cascade: stream_early', () => {
  let sy, up, release, released, upstreamCancelled;
  before(async () => {
    released = new Promise((r) => { release = r; });
    upstreamCancelled = new Promise((r) => { up = { cancelled: r }; });
    const cancelled = up.cancelled;
    // A real streaming upstream for the cheap step, so the test decides when the rest of an answer
    // comes ("held") and can see Switchyard hang up on a rejected prefix ("unsure").
    up = await startUpstream(async (req, res, rec) => {
      const prompt = rec.json.messages.at(-1).content;
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      if (prompt.includes('held')) {
        res.write(roleChunk + ['Alpha ', 'beta ', 'gamma ', 'delta ', 'epsilon '].map((t) => lpChunk(t, -0.01)).join(''));
        await released;  // the rest only after the client has seen the start
        res.end(['zeta ', 'eta ', 'omega.'].map((t) => lpChunk(t, -0.01)).join('') + stopChunk + usageChunk + 'data: [DONE]\n\n');
      } else {
        res.on('close', () => cancelled(true));  // never ends on its own
        res.write(roleChunk + ['Well, ', 'it ', 'might ', 'be ', 'seven '].map((t) => lpChunk(t, -2.0)).join(''));
      }
    });
    sy = await startSwitchyard(`server: {listen: "127.0.0.1:0", threads: 1}
providers:
  - {name: fake, type: openai, base_url: "${up.url}/v1", api_key: sk-test}
  - name: cheap
    type: mock
    mock:
      script:
        - {when: "easy", reply: "The answer is 4.", logprob: -0.05}
        - {when: "hard", reply: "Maybe 17, not sure.", logprob: -2.0}
        - {when: "long", reply: "One two three four five six seven eight nine ten eleven twelve.", logprob: -0.05}
  - name: big
    type: mock
    mock: {reply: "The strong model says 42."}
  - name: down
    type: mock
    mock: {fail_rate: 1.0, fail_status: 503}
models:
  - {name: small, provider: cheap, model: small-1, input_price: 0.1, output_price: 0.2}
  - {name: remote, provider: fake, model: remote-1, input_price: 1, output_price: 2}
  - {name: large, provider: big, model: large-1, input_price: 10, output_price: 30}
  - {name: flaky, provider: down, model: flaky-1, fallbacks: [small]}
routers:
  - name: early
    default: large
    stages:
      - type: cascade
        steps: [{model: small, threshold: 0.6}, {model: large}]
        verifiers: [{type: logprob}, {type: heuristics}]
        stream_early: {tokens: 4}
  - name: early16
    default: large
    stages:
      - {type: cascade, steps: [{model: small, threshold: 0.6}, large], verifiers: [{type: logprob}], stream_early: {tokens: 16}}
  - name: early-remote
    default: large
    stages:
      - {type: cascade, steps: [{model: remote, threshold: 0.6}, large], verifiers: [{type: logprob}], stream_early: {tokens: 4}}
  - name: early-flaky
    default: large
    stages:
      - {type: cascade, steps: [{model: flaky, threshold: 0.6}, large], verifiers: [{type: logprob}], stream_early: {tokens: 4}}
`);
  });
  after(async () => { release?.(); await sy?.stop(); await up?.close(); });

  test('accepted early: the cheap stream reaches the client before its upstream finishes, without logprobs or usage', async () => {
    const res = await streamFetch(sy, { model: 'early-remote', stream: true, messages: [{ role: 'user', content: 'a held question' }] });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('x-switchyard-cascade'), 'remote:accepted-early(0.99@4)');
    assert.equal(res.headers.get('x-switchyard-model'), 'remote');
    const reader = res.body.getReader();
    const dec = new TextDecoder();
    let text = '';
    while (!text.includes('delta ')) {
      const { value, done } = await reader.read();
      assert.ok(!done, 'stream ended before the held prefix');
      text += dec.decode(value);
    }
    assert.ok(!text.includes('omega'), 'the upstream has not sent the rest yet');
    release();
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      text += dec.decode(value);
    }
    assert.equal(streamText({ text }), 'Alpha beta gamma delta epsilon zeta eta omega.');
    const chunks = chunksOf(text);
    assert.ok(chunks.every((c) => (c.choices[0]?.logprobs ?? null) === null), 'logprobs the client did not ask for are stripped');
    assert.ok(!chunks.some((c) => c.usage), 'no usage chunk for a client that did not ask');
    assert.match(text, /data: \[DONE\]\n\n: switchyard-usage \{[^\n]*\}\n\n$/);
    const sent = up.requests.at(-1).json;
    assert.equal(sent.stream, true);
    assert.equal(sent.logprobs, true);
  });

  test('rejected on the prefix: the cheap upstream is cancelled, the next model streams, the prefix is paid for', async () => {
    const r = await ask(sy, 'an unsure question', { stream: true }, 'early-remote');
    assert.equal(r.status, 200);
    assert.equal(await upstreamCancelled, true);
    assert.equal(streamText(r), 'The strong model says 42.');
    assert.ok(!r.text.includes('seven'), 'nothing of the rejected prefix reached the client');
    assert.equal(r.headers.get('x-switchyard-cascade'), 'remote:rejected-early(0.14@4) -> large:routed');
    assert.equal(r.headers.get('x-switchyard-model'), 'large');
    // A stream's cost is known at its end: it is in the access log, not in a header.
    const direct = await ask(sy, 'an unsure question', { stream: true }, 'large');
    const cost = await loggedCost(sy, r);
    const largeOnly = await loggedCost(sy, direct);
    assert.ok(largeOnly > 0 && cost > largeOnly, `cost ${cost} includes the abandoned prefix on top of ${largeOnly}`);
  });

  test('logprobs and the usage chunk reach a client that asked for them', async () => {
    const r = await ask(sy, 'a long question', { stream: true, logprobs: true, stream_options: { include_usage: true } }, 'early');
    assert.equal(r.headers.get('x-switchyard-cascade'), 'small:accepted-early(0.95@4)');
    assert.equal(streamText(r), 'One two three four five six seven eight nine ten eleven twelve.');
    const chunks = chunksOf(r.text);
    const withContent = chunks.filter((c) => c.choices[0]?.delta?.content);
    assert.equal(withContent.length, 12);
    assert.ok(withContent.every((c) => c.choices[0].logprobs.content.length === 1));
    assert.ok(chunks.some((c) => c.usage?.completion_tokens === 12), 'usage chunk for a client that asked');
  });

  test('an answer shorter than N tokens is judged whole: accepted or escalated', async () => {
    const ok = await ask(sy, 'an easy question', { stream: true }, 'early16');
    assert.equal(ok.headers.get('x-switchyard-cascade'), 'small:accepted-early(0.95@4)');
    assert.equal(streamText(ok), 'The answer is 4.');
    assert.equal(sseData(ok.text).at(-1), '[DONE]');
    const no = await ask(sy, 'a hard question', { stream: true }, 'early16');
    assert.equal(no.headers.get('x-switchyard-cascade'), 'small:rejected-early(0.14@4) -> large:routed');
    assert.equal(streamText(no), 'The strong model says 42.');
  });

  test('a deployment failing before its first event fails over as usual', async () => {
    const r = await ask(sy, 'an easy question', { stream: true }, 'early-flaky');
    assert.equal(r.status, 200);
    assert.equal(r.headers.get('x-switchyard-cascade'), 'flaky:accepted-early(0.95@4)');
    assert.ok(Number(r.headers.get('x-switchyard-attempts')) >= 2, 'the failing deployment was tried first');
    assert.match(r.headers.get('x-switchyard-skipped'), /503/);
    assert.equal(streamText(r), 'The answer is 4.');
  });

  test('non-streaming clients keep the held, fully judged answer', async () => {
    const r = await ask(sy, 'an easy question', {}, 'early');
    assert.match(r.headers.get('x-switchyard-cascade'), /^small:accepted\(0\.\d\d\)$/);
    assert.equal(r.json.choices[0].message.content, 'The answer is 4.');
  });
});
