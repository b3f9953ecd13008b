// Slowloris: does a crowd of clients trickling their headers at 1 byte/s slow everybody else down?
//
// Starts the proxy (SWITCHYARD_BIN, default build/switchyard) on 127.0.0.1 with one worker thread and
// the mock provider, measures a normal keep-alive client's latency unloaded, then again while N slow
// connections (default 200) each send one header byte per second — reconnecting when the server cuts
// them at its header timeout, so that N are open at all times. Reports p50/p99 both ways and their
// ratio (target: p99 under the crowd within 2x the unloaded one), and what the server did to the slow
// connections (408 and close). Bounded: ~2 x SECONDS.
//   node bench/slowloris.mjs [SLOW_CONNECTIONS=200] [SECONDS=15]
import { spawn } from 'node:child_process';
import http from 'node:http';
import net from 'node:net';
import readline from 'node:readline';

import { startSwitchyard } from '../tests/integration/lib/harness.mjs';

// The crowd runs in a child process of its own, so that its timers never delay the measuring client.
if (process.argv[2] === '--crowd') {
  crowd(Number(process.argv[3]), Number(process.argv[4]));
} else {
  await main(Number(process.argv[2] ?? 200), Number(process.argv[3] ?? 15));
}

// The crowd: each connection sends a request line, then one header byte per second, forever; when the
// server cuts one, another takes its place. Prints "open" once all are connected, then a JSON line
// of counts on SIGTERM.
function crowd(port, count) {
  let open = 0, cut408 = 0, cutSilent = 0, announced = false;
  const slow = () => {
    const sock = net.connect(port, '127.0.0.1');
    let got = '';
    sock.on('connect', () => {
      open++;
      if (!announced && open >= count) { announced = true; console.log('open'); }
      sock.write('POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nX-Slow: ');
      const t = setInterval(() => sock.write('a'), 1000);
      sock.on('close', () => {
        clearInterval(t);
        open--;
        if (/^HTTP\/1.1 408/.test(got)) cut408++;
        else cutSilent++;
        slow();
      });
    });
    sock.on('data', (d) => { got += d.toString(); });
    sock.on('error', () => {});
  };
  for (let i = 0; i < count; i++) slow();
  process.on('SIGTERM', () => { console.log(JSON.stringify({ cut408, cutSilent })); process.exit(0); });
}

async function main(slowCount, seconds) {

const sy = await startSwitchyard(`server: {listen: "127.0.0.1:0", threads: 1, header_timeout: 5s}
logging: {level: info, access_log: false}
providers: [{name: mock, type: mock}]
models: [{name: m, provider: mock}]
`);

const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
const body = JSON.stringify({ model: 'm', messages: [{ role: 'user', content: 'hello there' }] });
function one() {
  return new Promise((resolve, reject) => {
    const t0 = process.hrtime.bigint();
    const req = http.request(`${sy.url}/v1/chat/completions`, { method: 'POST', agent, headers: { 'content-type': 'application/json' } }, (res) => {
      res.resume();
      res.on('end', () => (res.statusCode === 200 ? resolve(Number(process.hrtime.bigint() - t0) / 1e6) : reject(new Error(`status ${res.statusCode}`))));
    });
    req.on('error', reject);
    req.end(body);
  });
}

async function measure(label) {
  for (let i = 0; i < 200; i++) await one();  // warm
  const lat = [];
  const until = Date.now() + seconds * 1000;
  while (Date.now() < until) lat.push(await one());
  lat.sort((a, b) => a - b);
  const pct = (p) => lat[Math.min(lat.length - 1, Math.floor(lat.length * p))];
  const r = { label, requests: lat.length, p50_ms: pct(0.5), p99_ms: pct(0.99) };
  process.stderr.write(`${label}: ${r.requests} requests, p50 ${r.p50_ms.toFixed(3)} ms, p99 ${r.p99_ms.toFixed(3)} ms\n`);
  return r;
}

  const unloaded = await measure('unloaded');

const child = spawn(process.execPath, [new URL(import.meta.url).pathname, '--crowd', String(sy.port), String(slowCount)], {
  stdio: ['ignore', 'pipe', 'inherit'],
});
const lines = readline.createInterface({ input: child.stdout });
const it = lines[Symbol.asyncIterator]();
await it.next();  // "open"
const loaded = await measure(`${slowCount} slow connections`);
child.kill('SIGTERM');
const { cut408, cutSilent } = JSON.parse((await it.next()).value);

const result = {
  slow_connections: slowCount, seconds,
  unloaded, loaded,
  p99_ratio: Number((loaded.p99_ms / unloaded.p99_ms).toFixed(2)),
  p50_ratio: Number((loaded.p50_ms / unloaded.p50_ms).toFixed(2)),
  slow_cut_with_408: cut408, slow_cut_without_response: cutSilent,
  target: 'p99_ratio <= 2',
};
console.log(JSON.stringify(result, null, 2));
agent.destroy();
await sy.stop('SIGKILL');
process.exit(0);
}
