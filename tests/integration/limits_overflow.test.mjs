// Token arithmetic a client controls cannot overflow the gateway's limits: a max_tokens of 2^63-1 (valid
// JSON, a positive integer) once made the reservation (prompt + max_tokens) negative, which emptied the
// deployment's tpm window and drove its learned token headroom negative (no_headroom for a minute).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { completion, postJson, startSwitchyard, startUpstream } from './lib/harness.mjs';

describe('a huge max_tokens', () => {
  let up, sy;
  before(async () => {
    up = await startUpstream(async (req, res) => {
      // A provider announcing plenty of token headroom: the gateway learns it from every answer.
      res.writeHead(200, { 'content-type': 'application/json', 'x-ratelimit-limit-tokens': '1000000',
                           'x-ratelimit-remaining-tokens': '900000', 'x-ratelimit-reset-tokens': '60s' });
      res.end(JSON.stringify(completion('ok', 'up-m')));
    });
    sy = await startSwitchyard(`server: {listen: "127.0.0.1:0", threads: 1}
admin: {open: true}
providers: [{name: p, type: openai, base_url: "${up.url}/v1"}]
models:
  - name: m
    deployments: [{provider: p, model: up-m, tpm: 100000}]
`);
  });
  after(async () => { await sy?.stop(); await up?.close(); });

  test('is refused as more than the deployment\'s tpm, and the deployment keeps counting sensibly', async () => {
    // Reserving ~2^30 tokens (what the gateway counts a larger max_tokens as) cannot fit a tpm of 100,000:
    // a clean 429, before any upstream call. (Before the fix the sum overflowed to a negative reservation
    // that passed every check, and the window went negative.)
    const huge = await postJson(`${sy.url}/v1/chat/completions`,
      { model: 'm', max_tokens: Number.MAX_SAFE_INTEGER, messages: [{ role: 'user', content: 'hi' }] });
    assert.equal(huge.status, 429, huge.text);
    // A 2^63-1 literal, which JavaScript cannot write as a number: sent as raw JSON.
    const raw = await fetch(`${sy.url}/v1/chat/completions`, {
      method: 'POST', headers: { 'content-type': 'application/json' },
      body: '{"model":"m","max_tokens":9223372036854775807,"messages":[{"role":"user","content":"hi"}]}',
    });
    assert.equal(raw.status, 429, await raw.text());
    assert.equal(up.requests.length, 0);
    // The window holds real usage (12 tokens an answer), never a negative or absurd reservation, and the
    // deployment still has headroom: ten ordinary requests all go through.
    for (let i = 0; i < 10; i++) {
      const r = await postJson(`${sy.url}/v1/chat/completions`, { model: 'm', max_tokens: 16, messages: [{ role: 'user', content: 'hi' }] });
      assert.equal(r.status, 200, r.text);
    }
    const dep = (await (await fetch(`${sy.url}/admin/deployments`)).json()).data[0];
    assert.ok(dep.tokens_last_minute >= 0 && dep.tokens_last_minute <= 12 * 12, `tokens_last_minute ${dep.tokens_last_minute}`);
    assert.ok(dep.learned.remaining_tokens === null || dep.learned.remaining_tokens >= 0, JSON.stringify(dep.learned));
  });
});
