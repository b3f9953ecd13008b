// The model list as a gateway key sees it: a key limited to some models and routers (auth.keys[].models)
// lists only those, and the others are a 404 model_not_found on GET /v1/models/{id}, like a model that
// does not exist (the 403 for using one is tested in operations.test.mjs).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { startSwitchyard } from './lib/harness.mjs';

describe('/v1/models per gateway key', () => {
  let sy;
  before(async () => {
    sy = await startSwitchyard(`server: {listen: "127.0.0.1:0", threads: 1}
providers: [{name: mock, type: mock}]
models: [{name: small, provider: mock}, {name: big, provider: mock}]
routers:
  - {name: auto, default: small, stages: [{type: rule, name: rules, rules: [{name: proofs, when: {keywords: [prove]}, route: big}]}]}
auth:
  keys:
    - {name: limited, key: "sk-limited-0001", models: [auto, small]}
    - {name: any, key: "sk-anything-0001"}
`);
  });
  after(async () => { await sy?.stop(); });

  const ids = async (key) => {
    const r = await fetch(`${sy.url}/v1/models`, { headers: key ? { authorization: `Bearer ${key}` } : {} });
    assert.equal(r.status, 200);
    return (await r.json()).data.map((m) => m.id).sort();
  };
  const one = (key, id) => fetch(`${sy.url}/v1/models/${id}`, { headers: { authorization: `Bearer ${key}` } });

  test('a key limited to some models lists only those', async () => {
    assert.deepEqual(await ids('sk-limited-0001'), ['auto', 'small']);
    assert.equal((await one('sk-limited-0001', 'small')).status, 200);
    const hidden = await one('sk-limited-0001', 'big');
    assert.equal(hidden.status, 404);
    assert.equal((await hidden.json()).error.code, 'model_not_found');
  });

  test('an unlimited key, and no key where keys are optional, list everything', async () => {
    assert.deepEqual(await ids('sk-anything-0001'), ['auto', 'big', 'small']);
    assert.deepEqual(await ids(undefined), ['auto', 'big', 'small']);
    assert.equal((await one('sk-anything-0001', 'big')).status, 200);
  });
});
