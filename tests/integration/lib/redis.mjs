// redis-server for the integration tests: started on 127.0.0.1 (a free port), killed when the process
// exits whatever happens to the tests, and a one-shot RESP client to look inside it. redis-server is a
// test dependency (scripts/install-deps.sh).
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

import { freePort } from './harness.mjs';

export const REDIS_BIN = process.env.REDIS_SERVER_BIN ?? '/usr/bin/redis-server';

const liveRedis = new Set();  // killed on exit, whatever happens to the tests
process.on('exit', () => { for (const p of liveRedis) p.kill('SIGKILL'); });

/** Starts redis-server on `port` (a free one when omitted); resolves once it accepts connections. */
export async function startRedis(port) {
  port ??= await freePort();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'switchyard-redis-'));
  const proc = spawn(REDIS_BIN, ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no',
    '--enable-debug-command', 'yes', '--dir', dir], { stdio: ['ignore', 'pipe', 'pipe'] });
  liveRedis.add(proc);
  const closed = once(proc, 'close');
  let output = '';
  proc.stdout.on('data', (d) => { output += d; });
  proc.stderr.on('data', (d) => { output += d; });
  await new Promise((resolve, reject) => {
    const t = setTimeout(() => { cleanup(); reject(new Error(`redis-server did not start:\n${output}`)); }, 5000);
    const check = () => { if (/Ready to accept connections/.test(output)) { cleanup(); resolve(); } };
    const onExit = (code) => { cleanup(); reject(new Error(`redis-server exited (${code}):\n${output}`)); };
    const cleanup = () => { clearTimeout(t); proc.stdout.off('data', check); proc.off('exit', onExit); };
    proc.stdout.on('data', check);
    proc.on('exit', onExit);
    check();
  }).catch((e) => { proc.kill('SIGKILL'); liveRedis.delete(proc); throw e; });
  return {
    port,
    address: `127.0.0.1:${port}`,
    output: () => output,
    /** Kills it (SIGKILL by default: a crash, nothing flushed) and resolves once it is gone. */
    async stop(signal = 'SIGKILL') {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill(signal);
      await closed;
      liveRedis.delete(proc);
      fs.rmSync(dir, { recursive: true, force: true });
    },
    /** A new redis-server on the same port (empty: nothing was saved). */
    restart() { return startRedis(port); },
  };
}

/** Parses one RESP reply from `s` at `i`: [value, next index], or null while incomplete. */
function parseResp(s, i = 0) {
  const eol = s.indexOf('\r\n', i);
  if (eol < 0) return null;
  const type = s[i], line = s.slice(i + 1, eol);
  if (type === '+') return [line, eol + 2];
  if (type === '-') return [new Error(line), eol + 2];
  if (type === ':') return [Number(line), eol + 2];
  if (type === '$') {
    const n = Number(line);
    if (n < 0) return [null, eol + 2];
    return s.length >= eol + 2 + n + 2 ? [s.slice(eol + 2, eol + 2 + n), eol + 2 + n + 2] : null;
  }
  if (type === '*') {
    const out = [];
    let at = eol + 2;
    for (let k = 0; k < Number(line); k++) {
      const r = parseResp(s, at);
      if (!r) return null;
      out.push(r[0]);
      at = r[1];
    }
    return [out, at];
  }
  throw new Error(`bad RESP: ${JSON.stringify(s.slice(i, i + 40))}`);
}

/** Sends one command over a new connection; resolves with its reply (an Error for an error reply). */
export async function redisCommand(port, ...args) {
  const sock = net.connect(port, '127.0.0.1');
  sock.setTimeout(10000, () => sock.destroy(new Error('redis command timed out')));
  try {
    await once(sock, 'connect');
    sock.write(`*${args.length}\r\n${args.map((a) => `$${Buffer.byteLength(String(a))}\r\n${a}\r\n`).join('')}`);
    let data = '';
    for await (const chunk of sock) {
      data += chunk;
      const r = parseResp(data);
      if (r) return r[0];
    }
    throw new Error('redis closed the connection without a reply');
  } finally {
    sock.destroy();
  }
}
