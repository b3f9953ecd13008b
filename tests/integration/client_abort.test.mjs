// Clients that hang up: whatever phase they leave in, the upstream call is cancelled, its reservation
// freed, and the deployment's health is untouched (a client leaving is never the upstream's fault).
import assert from 'node:assert/strict';
import { once } from 'node:events';
import net from 'node:net';
import { after, describe, test } from 'node:test';

import { chunk, completion, startSwitchyard, startUpstream } from './lib/harness.mjs';

const started = [];
after(async () => { for (const s of started) await (s.stop ? s.stop() : s.close()); });

/**
 * An upstream that holds every response open until its client (the proxy) closes the connection;
 * streaming requests get one chunk first. `closed` counts the requests the proxy abandoned.
 */
async function holdingUpstream() {
  const u = await startUpstream(async (req, res, rec) => {
    if (rec.json?.stream) {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write(chunk('first'));
    }
    const gone = new Promise((resolve) => res.on('close', resolve));
    u.holding.push(gone);
    await gone;
    if (!res.writableEnded) u.closed += 1;
    for (const w of u.closeWaiters.splice(0)) w();
  });
  u.holding = [];
  u.closed = 0;
  u.closeWaiters = [];
  u.nextClose = () => new Promise((r) => u.closeWaiters.push(r));
  return u;
}

const ADMIN_KEY = 'admin-key-for-tests';

function config(u, { breaker = '', deployment = '' } = {}) {
  return `server: {listen: "127.0.0.1:0", threads: 1}
admin: {keys: [{name: ops, key: "${ADMIN_KEY}"}]}
reliability:
  breaker: {window: 60s, min_requests: 3, error_ratio: 0.5, cooldown: 60s}
${breaker}
providers:
  - {name: p, type: openai, base_url: "${u.url}/v1"}
  - {name: mock, type: mock, mock: {reply: "from the fallback"}}
models:
  - name: m
    deployments:
      - {provider: p, model: up${deployment}}
    fallbacks: [fb]
  - name: fb
    deployments:
      - {provider: mock, model: mock-fb}
`;
}

/** Sends a raw request and resolves with the socket once `until(received text)` holds. */
async function sendRaw(port, body, until) {
  const sock = net.connect(port, '127.0.0.1');
  await once(sock, 'connect');
  const text = JSON.stringify(body);
  sock.write(`POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(text)}\r\n\r\n${text}`);
  let got = '';
  if (until) {
    await new Promise((resolve) => {
      sock.on('data', (d) => { got += d.toString(); if (until(got)) resolve(); });
    });
  }
  return sock;
}

const admin = async (sy) =>
  (await (await fetch(`${sy.url}/admin/deployments`, { headers: { authorization: `Bearer ${ADMIN_KEY}` } })).json()).data.find((d) => d.id === 'm/p/0');

describe('clients that hang up', () => {
  test('three aborted streams leave the breaker of a healthy deployment closed', async () => {
    const u = await holdingUpstream();
    const sy = await startSwitchyard(config(u));
    started.push(sy, u);
    for (let i = 0; i < 3; i++) {
      const closed = u.nextClose();
      const sock = await sendRaw(sy.port, { model: 'm', stream: true, messages: [{ role: 'user', content: 'hi' }] },
        (got) => got.includes('first'));
      sock.destroy();
      await closed;  // the proxy closed the upstream stream because its client left
    }
    assert.equal(u.closed, 3);
    const st = await admin(sy);
    assert.equal(st.breaker, 'closed', JSON.stringify(st));
    assert.equal(st.failures, 0, JSON.stringify(st));
    assert.equal(st.in_flight, 0, JSON.stringify(st));
    // Everyone else is still served by the deployment itself, not moved to the fallback.
    const next = u.nextClose();
    const sock = await sendRaw(sy.port, { model: 'm', stream: true, messages: [{ role: 'user', content: 'hi' }] },
      (got) => got.includes('first'));
    assert.equal(u.requests.length, 4);
    sock.destroy();
    await next;
  });

  test('a non-streaming client that leaves cancels the upstream call and frees its reservation', async () => {
    const u = await holdingUpstream();
    // max_concurrent 1: a reservation that leaked would refuse every later request.
    const sy = await startSwitchyard(config(u, { deployment: ', max_concurrent: 1' }));
    started.push(sy, u);
    for (let i = 0; i < 5; i++) {
      const received = u.nextRequest();
      const closed = u.nextClose();
      const sock = await sendRaw(sy.port, { model: 'm', messages: [{ role: 'user', content: `q${i}` }] });
      await received;  // the upstream is working on it
      sock.destroy();
      await closed;    // ...and the proxy abandoned it: no completed call for a client that left
    }
    assert.equal(u.closed, 5);
    const st = await admin(sy);
    assert.equal(st.in_flight, 0, JSON.stringify(st));
    assert.equal(st.failures, 0, JSON.stringify(st));
    assert.equal(st.breaker, 'closed', JSON.stringify(st));
    // The slot is free: the next request reaches the upstream (which is released by this client too).
    const received = u.nextRequest();
    const closed = u.nextClose();
    const sock = await sendRaw(sy.port, { model: 'm', messages: [{ role: 'user', content: 'after' }] });
    const rec = await received;
    assert.equal(rec.json.messages[0].content, 'after');
    sock.destroy();
    await closed;
  });

  test('a client that leaves mid-body never reaches the upstream and the server keeps serving', async () => {
    const u = await startUpstream(async (req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(completion('ok')));
    });
    const sy = await startSwitchyard(config(u));
    started.push(sy, u);
    const sock = net.connect(sy.port, '127.0.0.1');
    await once(sock, 'connect');
    sock.write('POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"model":"m","mess');
    sock.destroy();
    const r = await fetch(`${sy.url}/v1/chat/completions`, {
      method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'm', messages: [{ role: 'user', content: 'hi' }] }),
    });
    assert.equal(r.status, 200);
    assert.equal(u.requests.length, 1);
  });
});
