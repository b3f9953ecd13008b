// Soak: mixed traffic with random upstream faults at 20 %, through the real binary. See scripts/soak.sh.
import fs from 'node:fs';
import http from 'node:http';

import { chunk, completion, startSwitchyard, startUpstream } from '../integration/lib/harness.mjs';

const seconds = Number(process.argv[2] ?? 60);
const concurrency = Number(process.argv[3] ?? 16);
// Share of requests whose client hangs up on purpose (before the answer, or mid-stream): they must
// cancel their upstream calls and leave nothing behind (no leak, no stuck in-flight count).
const abortRate = Number(process.env.SOAK_ABORT_RATE ?? 0.1);

// Each upstream answers correctly 80 % of the time and fails in a random way otherwise. Deployment
// "stable" of each model never fails, so every request has a healthy place to go.
function faulty(name, faultRate) {
  return async (req, res, rec) => {
    const stream = rec.json?.stream;
    if (Math.random() < faultRate) {
      const f = Math.floor(Math.random() * 6);
      if (f === 0) { res.writeHead(429, { 'retry-after-ms': '200', 'content-type': 'application/json' }); res.end('{"error":{"message":"slow down"}}'); return; }
      if (f === 1) { res.writeHead([500, 502, 503][Math.floor(Math.random() * 3)], { 'content-type': 'application/json' }); res.end('{"error":{"message":"boom"}}'); return; }
      if (f === 2) { res.socket.destroy(); return; }
      if (f === 3) { return; }  // hang: the proxy's first-byte timeout cuts it
      if (f === 4) { res.writeHead(200, { 'content-type': 'application/json' }); res.end('{"id": broken'); return; }
      if (f === 5 && stream) { res.writeHead(200, { 'content-type': 'text/event-stream' }); res.write(': ping\n\n'); setImmediate(() => res.socket.destroy()); return; }
    }
    if (stream) {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write(chunk('', { role: 'assistant' }));
      for (const w of ['soak ', 'reply ', `from ${name}`]) res.write(chunk(w));
      res.write(chunk(null, { finish: 'stop' }));
      res.end('data: [DONE]\n\n');
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify(completion(`soak reply from ${name}`)));
  };
}

const ups = await Promise.all([
  startUpstream(faulty('a1', 0.2)), startUpstream(faulty('a-stable', 0)),
  startUpstream(faulty('b1', 0.2)), startUpstream(faulty('b-stable', 0)),
]);
const sy = await startSwitchyard(`server: {listen: "127.0.0.1:0", threads: 2}
logging: {level: info, access_log: false}
reliability: {backoff_base: 10ms, backoff_max: 100ms, max_attempts: 4}
providers:
${ups.map((u, i) => `  - {name: u${i}, type: openai, base_url: "${u.url}/v1", first_byte_timeout: 300ms, idle_timeout: 300ms}`).join('\n')}
models:
  - name: a
    deployments: [{provider: u0, model: a1, weight: 3}, {provider: u1, model: a2}]
  - name: b
    strategy: least-busy
    deployments: [{provider: u2, model: b1}, {provider: u3, model: b2}]
`);

const rss = () => {
  const m = fs.readFileSync(`/proc/${sy.proc.pid}/status`, 'utf8').match(/VmRSS:\s+(\d+) kB/);
  return Number(m[1]) / 1024;
};
const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency });
function send(body, abort = false) {
  return new Promise((resolve) => {
    const started = process.hrtime.bigint();
    // An aborting client leaves on its own socket (never a pooled one), at a random phase.
    const req = http.request(`${sy.url}/v1/chat/completions`, { method: 'POST', agent: abort ? false : agent, headers: { 'content-type': 'application/json' } }, (res) => {
      let text = '';
      res.on('data', (d) => {
        text += d;
        if (abort) { req.destroy(); resolve({ aborted: true }); }
      });
      res.on('end', () => {
        const ms = Number(process.hrtime.bigint() - started) / 1e6;
        const okBody = body.stream ? text.includes('data: [DONE]') && !text.includes('"error"') : text.includes('soak reply');
        resolve({ ok: res.statusCode === 200 && okBody, status: res.statusCode, ms, text });
      });
      res.on('error', () => resolve({ ok: false, status: -1, ms: 0, text: 'response error' }));
    });
    req.on('error', (e) => resolve(abort ? { aborted: true } : { ok: false, status: -1, ms: 0, text: String(e) }));
    req.end(JSON.stringify(body));
    if (abort && Math.random() < 0.5) setTimeout(() => { req.destroy(); resolve({ aborted: true }); }, Math.random() * 20);
  });
}

process.stderr.write(`soak: proxy on ${sy.url}\n`);
// Warm up, then measure RSS at the start of the run.
for (let i = 0; i < 50; i++) await send({ model: 'a', messages: [{ role: 'user', content: 'warm' }] });
const rssBefore = rss();
const deadline = Date.now() + seconds * 1000;
let total = 0;
const errors = [];
const lat = [];
let peakRss = rssBefore;
let aborted = 0;
const rssTrend = [];
const sampler = setInterval(() => { const r = rss(); rssTrend.push(Number(r.toFixed(1))); peakRss = Math.max(peakRss, r); }, 1000);
async function worker(id) {
  let i = 0;
  while (Date.now() < deadline) {
    const body = { model: (id + i) % 2 ? 'a' : 'b', stream: i % 3 === 0, messages: [{ role: 'user', content: `soak ${id}-${i}` }] };
    const r = await send(body, Math.random() < abortRate);
    i++;
    if (r.aborted) { aborted++; continue; }
    total++;
    lat.push(r.ms);
    if (!r.ok) errors.push(`${r.status} ${r.text.slice(0, 200)}`);
  }
}
process.stderr.write(`soak: ${seconds}s, ${concurrency} clients, 20 % upstream faults...\n`);
await Promise.all(Array.from({ length: concurrency }, (_, i) => worker(i)));
clearInterval(sampler);
const rssAfter = rss();
lat.sort((x, y) => x - y);
const pct = (p) => lat[Math.min(lat.length - 1, Math.floor(lat.length * p))].toFixed(1);
const upstreamCalls = ups.reduce((n, u) => n + u.requests.length, 0);
// Nothing may be left in flight once every client is done (aborted ones included).
const deployments = (await (await fetch(`${sy.url}/admin/deployments`)).json()).data;
const stuckInFlight = deployments.reduce((n, d) => n + d.in_flight, 0);
// RSS trend: least-squares slope over the run's samples, MB per minute.
const slope = (() => {
  const n = rssTrend.length;
  if (n < 2) return 0;
  const mx = (n - 1) / 2, my = rssTrend.reduce((a, b) => a + b, 0) / n;
  let num = 0, den = 0;
  rssTrend.forEach((y, x) => { num += (x - mx) * (y - my); den += (x - mx) ** 2; });
  return (num / den) * 60;
})();
const report = {
  seconds, concurrency, requests: total, client_errors: errors.length, upstream_calls: upstreamCalls,
  client_aborts: aborted, stuck_in_flight: stuckInFlight,
  p50_ms: Number(pct(0.5)), p99_ms: Number(pct(0.99)),
  rss_mb_before: Number(rssBefore.toFixed(1)), rss_mb_after: Number(rssAfter.toFixed(1)), rss_mb_peak: Number(peakRss.toFixed(1)),
  rss_mb_per_minute: Number(slope.toFixed(3)), rss_trend_mb: rssTrend,
};
console.log(JSON.stringify(report, null, 2));
if (errors.length) console.log('first errors:\n' + errors.slice(0, 5).join('\n'));
agent.destroy();
const stopped = await sy.stop();
for (const u of ups) await u.close();
if (stopped.code !== 0) console.log(`the proxy exited with ${stopped.code ?? stopped.signal} (a sanitizer report?)`);
process.exit(errors.length || stuckInFlight || stopped.code !== 0 ? 1 : 0);
