// Connection caps: per client address and per process. Over a cap, idle keep-alive connections make
// room first; only when none is idle is a newcomer answered 503 and closed. Clients come from distinct
// loopback addresses (127.0.0.x) so that each test has clients of its own.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import net from 'node:net';
import { after, describe, test } from 'node:test';

import { startSwitchyard } from './lib/harness.mjs';

const started = [];
after(async () => { for (const s of started) await s.stop(); });

const CONFIG = (caps) => `server: {listen: "127.0.0.1:0", threads: 1, ${caps}}
providers:
  - {name: mock, type: mock}
models:
  - {name: m, deployments: [{provider: mock, model: mock-m}]}
`;

/** A raw connection from `from` with a reader: `response()` resolves with the next response's text. */
async function connect(port, from) {
  const sock = net.connect({ port, host: '127.0.0.1', localAddress: from });
  await once(sock, 'connect');
  let buf = '';
  let waiter = null;
  const closed = once(sock, 'close');
  sock.on('data', (d) => { buf += d.toString(); waiter?.(); });
  sock.on('error', () => {});
  const c = {
    sock,
    closed,
    isClosed: false,
    /** Resolves with the next complete response (head and Content-Length body), or null on close. */
    async response() {
      for (;;) {
        const end = buf.indexOf('\r\n\r\n');
        if (end >= 0) {
          const len = Number(/content-length: (\d+)/i.exec(buf.slice(0, end))?.[1] ?? 0);
          if (buf.length >= end + 4 + len) {
            const text = buf.slice(0, end + 4 + len);
            buf = buf.slice(end + 4 + len);
            return text;
          }
        }
        if (c.isClosed) return null;
        await Promise.race([new Promise((r) => { waiter = r; }), closed]);
        waiter = null;
      }
    },
    async get(path = '/healthz') {
      sock.write(`GET ${path} HTTP/1.1\r\nHost: x\r\n\r\n`);
      return c.response();
    },
  };
  closed.then(() => { c.isClosed = true; });
  return c;
}

describe('connection caps', () => {
  test('per client: idle connections of that client are shed for a new one, others are untouched', async () => {
    const sy = await startSwitchyard(CONFIG('max_connections_per_client: 3'));
    started.push(sy);
    const idle = [];
    for (let i = 0; i < 3; i++) {
      const c = await connect(sy.port, '127.0.0.2');
      assert.match(await c.get(), /^HTTP\/1.1 200/);  // served, now idle on keep-alive
      idle.push(c);
    }
    const other = await connect(sy.port, '127.0.0.3');
    assert.match(await other.get(), /^HTTP\/1.1 200/);
    const fourth = await connect(sy.port, '127.0.0.2');
    assert.match(await fourth.get(), /^HTTP\/1.1 200/);
    // The oldest idle connection of 127.0.0.2 made room; the other client kept its connection.
    await idle[0].closed;
    assert.equal(other.isClosed, false);
    assert.match(await other.get(), /^HTTP\/1.1 200/);
    for (const c of [...idle, other, fourth]) c.sock.destroy();
  });

  test('per client: with no idle connection to shed, the newcomer gets 503 and other clients are served', async () => {
    const sy = await startSwitchyard(CONFIG('max_connections_per_client: 3, header_timeout: 30s'));
    started.push(sy);
    const busy = [];
    for (let i = 0; i < 3; i++) {
      const c = await connect(sy.port, '127.0.0.4');
      c.sock.write('GET /healthz HTTP/1.1\r\nHo');  // mid-header: busy, not idle
      busy.push(c);
    }
    // The server counts a connection once it accepted it: make sure all three are in.
    const probe = await connect(sy.port, '127.0.0.5');
    assert.match(await probe.get(), /^HTTP\/1.1 200/);
    const refused = await connect(sy.port, '127.0.0.4');
    const r = await refused.response();
    assert.match(r, /^HTTP\/1.1 503/);
    assert.match(r, /retry-after: 1/i);
    await refused.closed;
    assert.match(await probe.get(), /^HTTP\/1.1 200/);
    // The busy connections were not shed: one of them finishes its request.
    busy[0].sock.write('st: x\r\n\r\n');
    assert.match(await busy[0].response(), /^HTTP\/1.1 200/);
    for (const c of [...busy, probe]) c.sock.destroy();
  });

  test('per process: at max_connections an idle connection is shed before anyone is refused', async () => {
    const sy = await startSwitchyard(CONFIG('max_connections: 3'));
    started.push(sy);
    const idle = [];
    for (let i = 0; i < 3; i++) {
      const c = await connect(sy.port, `127.0.0.${10 + i}`);
      assert.match(await c.get(), /^HTTP\/1.1 200/);
      idle.push(c);
    }
    const late = await connect(sy.port, '127.0.0.20');
    assert.match(await late.get(), /^HTTP\/1.1 200/);
    await idle[0].closed;
    for (const c of [...idle, late]) c.sock.destroy();
  });
});
