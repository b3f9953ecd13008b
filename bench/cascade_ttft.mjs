#!/usr/bin/env node
// Cascade streaming benchmark: what a streaming client waits for when the cascade's cheap answer is
// accepted, held (judged on the whole answer, then replayed) vs `stream_early` (judged on its first
// tokens, then relayed live), and the cascade's own time per step (upstream excluded).
//
// Everything runs on 127.0.0.1 against Switchyard's in-process mock provider (no network upstream):
// one switchyard process on a free port, stopped on exit, error, SIGINT or SIGTERM. Bounded: about
// 35 s of TTFT runs plus about 20 s of overhead runs with the defaults. See bench/README.md.
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const CLK_TCK = Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100;
const USAGE = `usage: node bench/cascade_ttft.mjs [options]
  --bin PATH          switchyard binary (default build/switchyard)
  --only WHAT         ttft | overhead (default: both)
  --streams N         streaming requests per target in the TTFT part (default 3; each takes ~3.2 s)
  --tokens N          stream_early prefix length (default 16)
  --requests N        requests per target in the overhead part (default 3000)
  --proxy-cpu N       pin switchyard to this CPU and the client to the other (default: no pinning)`;

const opts = { bin: path.join(ROOT, 'build/switchyard'), only: '', streams: 3, tokens: 16, requests: 3000, proxyCpu: null };
for (let i = 2; i < process.argv.length; i++) {
  const a = process.argv[i];
  const v = () => process.argv[++i];
  if (a === '--bin') opts.bin = v();
  else if (a === '--only') opts.only = v();
  else if (a === '--streams') opts.streams = Number(v());
  else if (a === '--tokens') opts.tokens = Number(v());
  else if (a === '--requests') opts.requests = Number(v());
  else if (a === '--proxy-cpu') opts.proxyCpu = Number(v());
  else { console.error(USAGE); process.exit(a === '--help' ? 0 : 2); }
}

// ---------------------------------------------------------------------------------------------------
// Process handling: one switchyard at a time, always stopped.

let child = null;
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'sy-cascade-bench-'));
function cleanup() {
  if (child && child.exitCode === null) child.kill('SIGTERM');
  fs.rmSync(tmp, { recursive: true, force: true });
}
process.on('exit', cleanup);
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => { cleanup(); process.exit(130); });

async function startSwitchyard(yaml) {
  const file = path.join(tmp, `config-${Date.now()}.yaml`);
  fs.writeFileSync(file, yaml);
  const cmd = opts.proxyCpu === null ? [opts.bin, '--config', file] : ['taskset', '-c', String(opts.proxyCpu), opts.bin, '--config', file];
  child = spawn(cmd[0], cmd.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  const port = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`switchyard did not start:\n${out}`)), 10000);
    const on = (d) => {
      out += d;
      const m = out.match(/listening on [\d.]+:(\d+)/);
      if (m) { clearTimeout(timer); resolve(Number(m[1])); }
    };
    child.stdout.on('data', on);
    child.stderr.on('data', on);
    child.on('exit', (code) => { clearTimeout(timer); reject(new Error(`switchyard exited (${code}):\n${out}`)); });
  });
  const proc = child;
  return {
    port,
    /** CPU seconds (user + system, every thread) the process used so far. */
    cpu() {
      const stat = fs.readFileSync(`/proc/${proc.pid}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      return (Number(fields[11]) + Number(fields[12])) / CLK_TCK;
    },
    async stop() {
      if (proc.exitCode !== null) return;
      const exited = new Promise((r) => proc.once('exit', r));
      proc.kill('SIGTERM');
      await exited;
    },
  };
}

const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });

/** POSTs `body`; resolves {status, headers, ttft_ms (first content chunk), total_ms, text}. */
function post(port, body, timeoutMs = 30000) {
  const payload = JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const t0 = process.hrtime.bigint();
    const ms = () => Number(process.hrtime.bigint() - t0) / 1e6;
    let ttft = null;
    const req = http.request({ host: '127.0.0.1', port, path: '/v1/chat/completions', method: 'POST', agent,
      headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) } }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d) => {
        text += d;
        // First content: a streamed chunk with a non-empty delta.content, or a whole JSON body.
        if (ttft === null && (/"delta":\{"content":"[^"]/.test(text) || !body.stream)) ttft = ms();
      });
      res.on('end', () => { clearTimeout(timer); resolve({ status: res.statusCode, headers: res.headers, ttft_ms: ttft, total_ms: ms(), text }); });
    });
    const timer = setTimeout(() => req.destroy(new Error('request timed out')), timeoutMs);
    req.on('error', (e) => { clearTimeout(timer); reject(e); });
    req.end(payload);
  });
}

const pct = (xs, p) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
};
const f = (x, d = 1) => x.toFixed(d);

// ---------------------------------------------------------------------------------------------------
// Part 1: time to first token, held vs stream_early, for an accepted 300-token cheap answer.

const words = Array.from({ length: 300 }, (_, i) => `w${i}`).join(' ');

async function ttft() {
  const sy = await startSwitchyard(`server: {listen: "127.0.0.1:0", threads: 1}
logging: {level: info, access_log: false}
# One cheap model, 200 ms to its first token then 100 tokens/s, described twice because the mock paces
# only streams: "cheap" streams at that pace; "cheap-whole" is the same model answering a non-streaming
# call (what the held cascade makes), whole after 200 ms + 300 tokens / 100 per s (the stream's 303
# paced frames take 3.03 s; 3.2 s total is that, rounded).
providers:
  - name: cheap
    type: mock
    mock: {latency: 200ms, tokens_per_second: 100, logprob: -0.05, reply: "${words}"}
  - name: cheap-whole
    type: mock
    mock: {latency: 3200ms, logprob: -0.05, reply: "${words}"}
  - name: big
    type: mock
    mock: {latency: 200ms, tokens_per_second: 100, reply: "${words}"}
models:
  - {name: small, provider: cheap, model: small-1, input_price: 0.15, output_price: 0.6}
  - {name: small-whole, provider: cheap-whole, model: small-1, input_price: 0.15, output_price: 0.6}
  - {name: large, provider: big, model: large-1, input_price: 2.5, output_price: 10}
routers:
  - name: held
    default: large
    stages: [{type: cascade, steps: [{model: small-whole, threshold: 0.6}, large], verifiers: [{type: logprob}]}]
  - name: early
    default: large
    stages: [{type: cascade, steps: [{model: small, threshold: 0.6}, large], verifiers: [{type: logprob}], stream_early: {tokens: ${opts.tokens}}}]
`);
  try {
    const targets = [['direct small (no cascade)', 'small'], ['cascade, held', 'held'], [`cascade, stream_early ${opts.tokens}`, 'early']];
    const samples = new Map(targets.map(([label]) => [label, []]));
    const paths = new Map();
    for (let round = 0; round < opts.streams; round++) {
      for (const [label, model] of targets) {  // interleaved, so background load hits all alike
        const r = await post(port(sy), { model, stream: true, messages: [{ role: 'user', content: `question ${round}` }] });
        if (r.status !== 200 || !r.text.trim().endsWith('[DONE]')) throw new Error(`${label}: HTTP ${r.status} ${r.text.slice(0, 200)}`);
        samples.get(label).push(r);
        paths.set(label, r.headers['x-switchyard-cascade'] ?? '-');
      }
    }
    console.log(`\nTime to first token, accepted cheap answer: 300 tokens at 100 tokens/s after 200 ms, ${opts.streams} streams each`);
    console.log('| target | TTFT p50 ms | TTFT max ms | total p50 ms | x-switchyard-cascade |');
    console.log('|---|---|---|---|---|');
    for (const [label] of targets) {
      const xs = samples.get(label);
      console.log(`| ${label} | ${f(pct(xs.map((x) => x.ttft_ms), 50))} | ${f(Math.max(...xs.map((x) => x.ttft_ms)))} | ${f(pct(xs.map((x) => x.total_ms), 50))} | ${paths.get(label)} |`);
    }
  } finally { await sy.stop(); }
}

// ---------------------------------------------------------------------------------------------------
// Part 2: the cascade's own time per step. Mock upstreams answer at once (latency 0, no pacing), so a
// request's latency is proxy work + the in-process mock's work. Each cascade request is paired with a
// direct request making the same upstream calls, so the difference is the cascade's own work:
//   accepted at step 1   vs direct small           (one call each)
//   accepted early (SSE) vs direct small streamed  (one call each, both with logprobs from the mock)
//   escalated to step 2  vs direct large           (the cascade makes one more mock call: an upper bound)

async function overhead() {
  const sy = await startSwitchyard(`server: {listen: "127.0.0.1:0", threads: 1}
logging: {level: info, access_log: false}
providers:
  - name: cheap
    type: mock
    mock:
      logprob: -0.05
      reply: "The answer is 4, because two and two make four."
      script: [{when: "hard", reply: "Maybe 17, not sure.", logprob: -2.0}]
  - name: big
    type: mock
    mock: {reply: "The strong model says 42."}
models:
  - {name: small, provider: cheap, model: small-1, input_price: 0.15, output_price: 0.6}
  - {name: large, provider: big, model: large-1, input_price: 2.5, output_price: 10}
routers:
  - name: auto
    default: large
    stages: [{type: cascade, steps: [{model: small, threshold: 0.6}, large], verifiers: [{type: logprob}, {type: heuristics}]}]
  - name: early
    default: large
    stages: [{type: cascade, steps: [{model: small, threshold: 0.6}, large], verifiers: [{type: logprob}], stream_early: {tokens: ${opts.tokens}}}]
`);
  try {
    const msg = (c) => [{ role: 'user', content: c }];
    const pairs = [
      ['accepted at step 1 (non-streaming)', { model: 'auto', messages: msg('an easy question') }, { model: 'small', messages: msg('an easy question') }, /^small:accepted\(/],
      // The direct stream asks for logprobs too, so the upstream sends the same bytes; the cascade's client
      // does not, so the cascade also strips them from every chunk.
      ['accepted early (streaming)', { model: 'early', stream: true, messages: msg('an easy question') }, { model: 'small', stream: true, logprobs: true, top_logprobs: 2, messages: msg('an easy question') }, /^small:accepted-early\(/],
      ['rejected at step 1, routed to step 2', { model: 'auto', messages: msg('a hard question') }, { model: 'large', messages: msg('a hard question') }, /^small:rejected\(.*large:routed$/],
    ];
    const p = port(sy);
    console.log(`\nCascade's own time per step (mock upstreams with latency 0), ${opts.requests} request pairs each`);
    console.log('Server side: x-switchyard-overhead-ms (request time minus the answering call\'s upstream time, at the response head).');
    console.log('Client side: request latency seen by this client (node http, keep-alive), paired direct/cascade.');
    console.log('CPU: switchyard\'s user+system time per request (/proc), direct and cascade each in a block of their own.');
    console.log('| case | server direct p50 / p99 ms | server cascade p50 / p99 ms | server added p50 / p99 ms | client added p50 ms | client per-pair p50 / p99 ms | CPU µs/req direct / cascade (added) |');
    console.log('|---|---|---|---|---|---|---|');
    for (const [label, cascade, direct, expect] of pairs) {
      const first = await post(p, cascade);
      if (!expect.test(first.headers['x-switchyard-cascade'] ?? '')) throw new Error(`${label}: path ${first.headers['x-switchyard-cascade']}`);
      for (let i = 0; i < 200; i++) { await post(p, cascade); await post(p, direct); }  // warm-up
      const d = [], c = [], diff = [], sd = [], sc = [];
      for (let i = 0; i < opts.requests; i++) {
        const a = await post(p, direct);
        const b = await post(p, cascade);
        if (a.status !== 200 || b.status !== 200) throw new Error(`${label}: HTTP ${a.status}/${b.status}`);
        d.push(a.total_ms);
        c.push(b.total_ms);
        diff.push(b.total_ms - a.total_ms);
        sd.push(Number(a.headers['x-switchyard-overhead-ms']));
        sc.push(Number(b.headers['x-switchyard-overhead-ms']));
      }
      const cpuPerRequest = async (body) => {
        const c0 = sy.cpu();
        for (let i = 0; i < opts.requests; i++) await post(p, body);
        return ((sy.cpu() - c0) / opts.requests) * 1e6;
      };
      const cpuDirect = await cpuPerRequest(direct);
      const cpuCascade = await cpuPerRequest(cascade);
      const pp = (xs) => `${f(pct(xs, 50), 3)} / ${f(pct(xs, 99), 3)}`;
      console.log(`| ${label} | ${pp(sd)} | ${pp(sc)} | ${f(pct(sc, 50) - pct(sd, 50), 3)} / ${f(pct(sc, 99) - pct(sd, 99), 3)} | ${f(pct(c, 50) - pct(d, 50), 3)} | ${pp(diff)} | ${f(cpuDirect, 0)} / ${f(cpuCascade, 0)} (${f(cpuCascade - cpuDirect, 0)}) |`);
    }
  } finally { await sy.stop(); }
}

const port = (sy) => sy.port;

if (opts.proxyCpu !== null) {
  // The client (this process) on another CPU than the proxy.
  const other = opts.proxyCpu === 0 ? 1 : 0;
  spawn('taskset', ['-pc', String(other), String(process.pid)], { stdio: 'ignore' });
}
console.log(`switchyard: ${opts.bin}`);
if (!opts.only || opts.only === 'ttft') await ttft();
if (!opts.only || opts.only === 'overhead') await overhead();
agent.destroy();
