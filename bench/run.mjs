#!/usr/bin/env node
// Switchyard end-to-end benchmark: the floor (plain nginx reverse proxy) and Switchyard in front of the
// same upstream stub, driven by wrk (and bench/tools/sse_client for streams), side by side, with CPU per
// request from /proc. Run through bench/run.sh, which builds what this needs; see bench/README.md.
//
// Everything listens on 127.0.0.1 on free ports, every load is bounded in time, and every process this
// starts is stopped on exit (normal, error, SIGINT, SIGTERM).
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const BENCH = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.dirname(BENCH);
const CLK_TCK = Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100;

// ---------------------------------------------------------------------------------------------------
// Options

const USAGE = `usage: bench/run.sh [options]
  --only IDS        comma-separated scenario ids (a,a+log,b,c,d,e,f,g; idle) — default: all
  --rounds N        interleaved rounds per load (default 4); each round keeps the scenario's length
                    (its seconds / 4), so --rounds 8 runs twice as long and gives 8 paired ratios
  --threads LIST    server.threads values of scenario g (default 1,2); N threads (and N nginx workers)
                    are pinned to the first N CPUs of: --proxy-cpu, the CPUs in neither option, the load CPUs
  --soak            also run the 60 s soak (RSS sampled every second; start/end/max)
  --soak-seconds S  soak length (default 60)
  --quick           quarter-length runs (a smoke test of the harness; numbers are rough)
  --json FILE       where to write the JSON results (default bench/out/results-<time>.json)
  --proxy-cpu N     CPU the proxy under test is pinned to (default 1)
  --load-cpu LIST   CPU(s) wrk, the stubs and the streaming client are pinned to (default 0; a list such as
                    24-31 gives wrk one thread per CPU, for a many-core machine)
  --keep-tmp        keep the temp dir (generated configs, logs)
  --profile TOOL    instead of the table: profile Switchyard under load in scenario a (or --only X) with
                    perf (cpu-clock samples, kernel included), callgrind (instructions, user space) or
                    strace (system calls per request, floor and Switchyard side by side);
                    reports go to bench/out/profile-<tool>-<id>.txt and the top is printed
  --profile-seconds S  length of the profiled load (default 10; callgrind runs ~50x slower)
  --peer NAME       also drive a peer gateway in the scenarios marked "peer": true (portkey: Portkey's
                    open-source gateway from npm, pinned in bench/peers/, on the proxy CPU, 127.0.0.1 only)
  --bin PATH        the switchyard binary (bench/run.sh passes it)
  --bin-label TEXT  what the binary was built from, for the header and the JSON (bench/run.sh passes it)
  --tools DIR       directory holding sse_stub and sse_client (bench/run.sh passes it)`;

function parseArgs(argv) {
  const o = { only: null, soak: false, soakSeconds: 60, quick: false, json: null, proxyCpu: 1, loadCpu: '0',
              keepTmp: false, profile: null, profileSeconds: 10, bin: null, tools: null, binLabel: null, peers: [],
              rounds: null, threads: null };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const val = () => {
      if (i + 1 >= argv.length) die(`missing value for ${a}`);
      return argv[++i];
    };
    if (a === '--only') o.only = new Set(val().split(',').map((s) => s.trim()).filter(Boolean));
    else if (a === '--soak') o.soak = true;
    else if (a === '--soak-seconds') o.soakSeconds = Number(val());
    else if (a === '--quick') o.quick = true;
    else if (a === '--json') o.json = val();
    else if (a === '--proxy-cpu') o.proxyCpu = Number(val());
    else if (a === '--load-cpu') o.loadCpu = val();
    else if (a === '--rounds') o.rounds = Number(val());
    else if (a === '--threads') o.threads = [...new Set(val().split(',').map((x) => Number(x.trim())))].sort((x, y) => x - y);
    else if (a === '--keep-tmp') o.keepTmp = true;
    else if (a === '--profile') o.profile = val();
    else if (a === '--profile-seconds') o.profileSeconds = Number(val());
    else if (a === '--bin') o.bin = val();
    else if (a === '--tools') o.tools = val();
    else if (a === '--bin-label') o.binLabel = val();
    else if (a === '--peer') o.peers.push(val());
    else if (a === '-h' || a === '--help') {
      console.log(USAGE);
      process.exit(0);
    } else die(`unknown option ${a}\n${USAGE}`);
  }
  if (!o.bin || !o.tools) die('--bin and --tools are required (use bench/run.sh)');
  if (o.profile && !['perf', 'callgrind', 'strace'].includes(o.profile)) die('--profile takes perf, callgrind or strace');
  for (const p of o.peers) if (!['portkey'].includes(p)) die(`unknown peer ${p} (known: portkey)`);
  if (o.rounds != null && !(Number.isInteger(o.rounds) && o.rounds >= 1 && o.rounds <= 100)) die('--rounds takes an integer 1..100');
  if (o.threads && !o.threads.every((n) => Number.isInteger(n) && n >= 1 && n <= 1024)) die('--threads takes a list of integers, e.g. 1,2');
  if (!Number.isInteger(o.proxyCpu) || o.proxyCpu < 0) die('--proxy-cpu takes one CPU number');
  o.loadCpus = parseCpuList(o.loadCpu);
  if (!o.loadCpus) die(`--load-cpu takes a CPU list such as 0 or 0,2 or 24-31, not ${o.loadCpu}`);
  if (o.loadCpus.includes(o.proxyCpu)) die('--proxy-cpu must not be one of the --load-cpu CPUs');
  const ncpu = os.cpus().length;
  if ([o.proxyCpu, ...o.loadCpus].some((c) => c >= ncpu)) die(`this machine has CPUs 0..${ncpu - 1}`);
  o.loadCpu = o.loadCpus.join(',');
  return o;
}

/// "0", "0,2", "24-31" -> sorted CPU numbers, or null when malformed.
function parseCpuList(text) {
  const cpus = new Set();
  for (const part of String(text).split(',')) {
    const m = part.trim().match(/^(\d+)(?:-(\d+))?$/);
    if (!m) return null;
    const lo = Number(m[1]), hi = Number(m[2] ?? m[1]);
    if (hi < lo || hi - lo > 4096) return null;
    for (let c = lo; c <= hi; c++) cpus.add(c);
  }
  return cpus.size ? [...cpus].sort((x, y) => x - y) : null;
}

function die(msg) {
  console.error(`bench: ${msg}`);
  process.exit(2);
}

const opt = parseArgs(process.argv.slice(2));
// The harness itself stays off the proxy's CPU.
spawnSync('taskset', ['-a', '-pc', String(opt.loadCpu), String(process.pid)], { stdio: 'ignore' });
const scale = opt.quick ? 0.25 : 1;
const log = (msg) => process.stderr.write(`bench: ${msg}\n`);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// ---------------------------------------------------------------------------------------------------
// Processes: everything started goes through start() and is killed on exit.

const children = new Map();  // pid -> {name, child}

function descendants(pid) {
  // Scan /proc once for ppid links; returns every descendant pid of `pid`.
  const kids = new Map();
  for (const d of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const st = fs.readFileSync(`/proc/${d}/stat`, 'utf8');
      const ppid = Number(st.slice(st.lastIndexOf(')') + 2).split(' ')[1]);
      if (!kids.has(ppid)) kids.set(ppid, []);
      kids.get(ppid).push(Number(d));
    } catch { /* gone */ }
  }
  const out = [];
  const walk = (p) => { for (const k of kids.get(p) || []) { out.push(k); walk(k); } };
  walk(pid);
  return out;
}

function start(name, cmd, args, { cpu, logFile, env } = {}) {
  const fd = fs.openSync(logFile, 'w');
  const child = spawn('taskset', ['-c', String(cpu), cmd, ...args], { stdio: ['ignore', fd, fd], env: env || process.env });
  fs.closeSync(fd);
  children.set(child.pid, { name, child });
  child.exited = new Promise((resolve) => child.on('exit', (code, sig) => { children.delete(child.pid); resolve({ code, sig }); }));
  child.logFile = logFile;
  return child;
}

async function stop(child, graceMs = 3000) {
  if (!children.has(child.pid)) return;
  const tree = descendants(child.pid);
  try { process.kill(child.pid, 'SIGTERM'); } catch { /* gone */ }
  const done = await Promise.race([child.exited.then(() => true), sleep(graceMs).then(() => false)]);
  if (!done) { try { process.kill(child.pid, 'SIGKILL'); } catch { /* gone */ } await child.exited; }
  for (const p of tree) { try { process.kill(p, 'SIGKILL'); } catch { /* already gone */ } }
}

function killAllNow() {
  // The parent first: an nginx master whose worker dies forks a new one at once.
  for (const [pid] of children) {
    const tree = descendants(pid);
    try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ }
    for (const p of tree) { try { process.kill(p, 'SIGKILL'); } catch { /* gone */ } }
  }
}
process.on('exit', killAllNow);
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(sig, () => { log(`${sig}: stopping`); process.exit(130); });

/// Runs a command to completion (pinned), capturing stdout; bounded by `timeoutMs`.
function run(cmd, args, { cpu, env, timeoutMs = 120000 } = {}) {
  return new Promise((resolve) => {
    const child = spawn('taskset', ['-c', String(cpu ?? opt.loadCpu), cmd, ...args], { env: env || process.env });
    children.set(child.pid, { name: cmd, child });
    let out = '', err = '';
    child.stdout.on('data', (d) => { out += d; });
    child.stderr.on('data', (d) => { err += d; });
    const timer = setTimeout(() => { try { process.kill(child.pid, 'SIGKILL'); } catch { /* gone */ } }, timeoutMs);
    child.on('exit', (code, sig) => { clearTimeout(timer); children.delete(child.pid); resolve({ code, sig, out, err }); });
  });
}

async function waitFor(pred, what, timeoutMs = 10000) {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    const v = await pred();
    if (v) return v;
    await sleep(25);
  }
  throw new Error(`timed out waiting for ${what}`);
}

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => { const p = s.address().port; s.close(() => resolve(p)); });
  });
}

function canConnect(port) {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    s.on('connect', () => { s.destroy(); resolve(true); });
    s.on('error', () => resolve(false));
  });
}

// ---------------------------------------------------------------------------------------------------
// /proc accounting

function cpuSeconds(pids) {
  let ticks = 0;
  for (const p of pids) {
    try {
      const st = fs.readFileSync(`/proc/${p}/stat`, 'utf8');
      const f = st.slice(st.lastIndexOf(')') + 2).split(' ');
      ticks += Number(f[11]) + Number(f[12]);  // utime, stime (fields 14, 15), all threads of the process
    } catch { /* gone */ }
  }
  return ticks / CLK_TCK;
}

/// Cross-check with nanosecond resolution: on-CPU time of every live thread (schedstat). Threads that
/// exited during the run are missed, so the table uses utime+stime; this goes to the JSON only.
function schedSeconds(pids) {
  let ns = 0;
  for (const p of pids) {
    try {
      for (const t of fs.readdirSync(`/proc/${p}/task`)) ns += Number(fs.readFileSync(`/proc/${p}/task/${t}/schedstat`, 'utf8').split(' ')[0]);
    } catch { /* gone */ }
  }
  return ns / 1e9;
}

/// Per-CPU jiffies from /proc/stat: [{busy, steal, total}] indexed by CPU number.
function cpuTimes() {
  const out = [];
  for (const l of fs.readFileSync('/proc/stat', 'utf8').split('\n')) {
    const m = l.match(/^cpu(\d+)\s+(.*)$/);
    if (!m) continue;
    const [user, nice, system, idle, iowait, irq, softirq, steal = 0] = m[2].trim().split(/\s+/).map(Number);
    out[Number(m[1])] = { busy: user + nice + system + irq + softirq, steal, total: user + nice + system + idle + iowait + irq + softirq + steal };
  }
  return out;
}

/// How busy each CPU was between two cpuTimes() (every process on the machine, not just ours): fractions.
function cpuBusy(t0, t1) {
  return t1.map((b, i) => {
    const a = t0[i], dt = b.total - a.total;
    return dt > 0 ? { busy: (b.busy - a.busy) / dt, steal: (b.steal - a.steal) / dt } : { busy: 0, steal: 0 };
  });
}

function statusKb(pid, key) {
  try {
    const m = fs.readFileSync(`/proc/${pid}/status`, 'utf8').match(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm'));
    return m ? Number(m[1]) : 0;
  } catch { return 0; }
}

/// The pids that make up a target: the process and its descendants (nginx master + worker).
const treeOf = (child) => [child.pid, ...descendants(child.pid)];
const sumKb = (pids, key) => pids.reduce((s, p) => s + statusKb(p, key), 0);

// ---------------------------------------------------------------------------------------------------
// Targets: the stubs, the floor, Switchyard

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'switchyard-bench-'));
fs.chmodSync(tmp, 0o755);  // nginx workers run as nobody when started as root
process.on('exit', () => { if (!opt.keepTmp) fs.rmSync(tmp, { recursive: true, force: true }); });

function nginxCommon(dir, accessLog, workers = 1) {
  for (const d of ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi']) fs.mkdirSync(path.join(dir, d), { recursive: true });
  return `daemon off;
master_process on;
worker_processes ${workers};
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
worker_rlimit_nofile 16384;
events { worker_connections 8192; }
http {
  access_log ${accessLog ? `${dir}/access.log` : 'off'};
  client_body_temp_path ${dir}/client_body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  keepalive_requests 1000000;
  keepalive_timeout 75s;
`;
}

async function startNginx(name, confBody, port, { cpu, workers = 1 } = {}) {
  const dir = path.join(tmp, name);
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'nginx.conf'), confBody(dir));
  const child = start(name, 'nginx', ['-p', dir, '-e', `${dir}/error.log`, '-c', `${dir}/nginx.conf`],
                      { cpu: cpu ?? (name.startsWith('stub') ? opt.loadCpu : opt.proxyCpu), logFile: path.join(dir, 'stdout.log') });
  await waitFor(async () => (!children.has(child.pid) ? Promise.reject(new Error(`${name} exited: ${fs.readFileSync(`${dir}/error.log`, 'utf8')}`)) : canConnect(port)), `${name} on port ${port}`);
  await waitFor(() => descendants(child.pid).length >= workers, `${name} worker(s)`);
  child.port = port;
  return child;
}

async function startStubNginx() {
  const port = await freePort();
  const canned = fs.readFileSync(path.join(BENCH, 'stub', 'chat_completion.json'), 'utf8').trim();
  if (/['$\\]/.test(canned)) throw new Error('stub/chat_completion.json must not contain quote, dollar or backslash');
  // One worker per load CPU (one, by default), so a many-core run (--load-cpu 24-31) is not stub-bound.
  const workers = opt.loadCpus.length;
  return startNginx('stub-nginx', (dir) => `${nginxCommon(dir, false, workers)}
  server {
    listen 127.0.0.1:${port} backlog=4096${workers > 1 ? ' reuseport' : ''};
    client_max_body_size 0;
    location / {
      default_type application/json;
      return 200 '${canned}';
    }
  }
}
`, port, { workers });
}

async function startSseStub(sc) {
  const logFile = path.join(tmp, 'sse-stub.log');
  const child = start('sse-stub', path.join(opt.tools, 'sse_stub'),
                      ['--port', '0', '--events', String(sc.events ?? 20), '--delay-us', String(sc.delay_us ?? 500)],
                      { cpu: opt.loadCpu, logFile });
  child.port = Number(await waitFor(() => (fs.readFileSync(logFile, 'utf8').match(/listening on 127\.0\.0\.1:(\d+)/) || [])[1], 'sse stub'));
  return child;
}

/// The floor: nginx proxying to the stub. `workers` > 1 (scenario g) listens with `reuseport`, one accept
/// queue per worker, as Switchyard's io threads each have their own acceptor on the port.
async function startFloor(sc, upstreamPort, { workers = 1, cpu, suffix = '' } = {}) {
  const port = await freePort();
  const keepalive = sc.upstream_keepalive ?? 64;
  return startNginx(`floor-${sc.id.replace(/\W/g, '_')}${suffix}`, (dir) => `${nginxCommon(dir, !!sc.access_log, workers)}
  upstream stub {
    server 127.0.0.1:${upstreamPort};
    keepalive ${keepalive};
    keepalive_requests 1000000;
    keepalive_timeout 60s;
  }
  server {
    listen 127.0.0.1:${port} backlog=4096${workers > 1 ? ' reuseport' : ''};
    client_max_body_size 8m;
    client_body_buffer_size 2m;  # bodies stay in memory, as Switchyard keeps them
    location / {
      proxy_pass http://stub;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      ${sc.kind === 'stream' ? 'proxy_buffering off;  # relay SSE events as they arrive' : ''}
    }
  }
}
`, port, { cpu, workers });
}

function renderConfig(templatePath, vars) {
  let text = fs.readFileSync(templatePath, 'utf8');
  text = text.replace(/\{\{(\w+)\}\}/g, (m, k) => (k in vars ? String(vars[k]) : m));
  // Always a free loopback port, whatever the template says.
  text = text.replace(/^(\s*listen:\s*)\S+/m, '$1127.0.0.1:0');
  return text;
}

/// Peer gateways (--peer): how to start one on `port` against the stub, and the headers a request to it
/// needs. Installed from npm into bench/peers/ (bench/run.sh runs npm ci there when a peer is asked for).
const PEERS = {
  portkey: {
    label: 'portkey 1.15.2',
    async start(port, stubPort) {
      const logFile = path.join(tmp, 'portkey.log');
      const peers = path.join(BENCH, 'peers');
      const child = start('portkey', 'node', ['--import', path.join(peers, 'loopback.mjs'),
        path.join(peers, 'node_modules/@portkey-ai/gateway/build/start-server.js'), `--port=${port}`, '--headless'],
      { cpu: opt.proxyCpu, logFile, env: { ...process.env, NODE_ENV: 'production' } });
      await waitFor(async () => {
        if (!children.has(child.pid)) throw new Error(`portkey exited: ${fs.readFileSync(logFile, 'utf8').slice(-2000)}`);
        return canConnect(port);
      }, 'portkey to listen', 30000);
      child.port = port;
      // OpenAI's wire format to a custom host: the stub, like every other target.
      child.headers = { 'x-portkey-provider': 'openai', 'x-portkey-custom-host': `http://127.0.0.1:${stubPort}/v1`,
                        authorization: 'Bearer sk-bench-peer' };
      return child;
    },
  },
};

async function startSwitchyard(name, configFile, { cpu } = {}) {
  const logFile = path.join(tmp, `${name}.log`);
  const child = start(name, opt.bin, ['--config', configFile], { cpu: cpu ?? opt.proxyCpu, logFile });
  child.port = Number(await waitFor(() => {
    if (!children.has(child.pid)) throw new Error(`${name} exited: ${fs.readFileSync(logFile, 'utf8').slice(-2000)}`);
    return (fs.readFileSync(logFile, 'utf8').match(/listening on 127\.0\.0\.1:(\d+)/) || [])[1];
  }, `${name} to listen`));
  return child;
}

function checkConfig(file) {
  const r = spawnSync(opt.bin, ['--check-config', file], { encoding: 'utf8', timeout: 30000 });
  if (r.status === 0) return null;
  const lines = `${r.stderr}\n${r.stdout}`.split('\n').map((l) => l.trim()).filter(Boolean);
  return lines.length ? `${lines[0]}${lines.length > 1 ? ` (+${lines.length - 1} more)` : ''}` : `exit ${r.status}`;
}

// ---------------------------------------------------------------------------------------------------
// Requests and load

function makeBody(spec) {
  const obj = { model: spec.model, messages: [{ role: 'system', content: 'You are a helpful assistant.' },
                                               { role: 'user', content: spec.prompt }], max_tokens: 64, temperature: 0.2 };
  if (spec.stream) obj.stream = true;
  let s = JSON.stringify(obj);
  if (spec.bytes && Buffer.byteLength(s) < spec.bytes) {
    const filler = ' The quick brown fox jumps over the lazy dog while the router decides.';
    const need = spec.bytes - Buffer.byteLength(s);
    obj.messages[1].content = spec.prompt + filler.repeat(Math.ceil(need / filler.length)).slice(0, need);
    s = JSON.stringify(obj);
  }
  return s;
}

/// The Authorization header of the current scenario's requests (`authorization` in scenarios.json), for
/// the scenarios that measure gateway keys; the floor and the stub ignore it.
let requestAuth = '';

/// One request as a correctness check before loading a target: status and the shape of the answer.
/// Resolves to an error text or null; `onHeaders` sees the response headers.
function probe(port, body, stream, onHeaders = () => {}, extraHeaders = {}) {
  return new Promise((resolve) => {
    const req = http.request({ host: '127.0.0.1', port, method: 'POST', path: '/v1/chat/completions',
                               headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body),
                                          ...(requestAuth ? { authorization: requestAuth } : {}), ...extraHeaders },
                               timeout: 10000 },
    (res) => {
      onHeaders(res.headers);
      let data = '';
      res.on('data', (d) => { data += d; });
      res.on('end', () => {
        if (res.statusCode !== 200) return resolve(`HTTP ${res.statusCode}: ${data.slice(0, 300).replace(/\s+/g, ' ')}`);
        if (stream ? !data.includes('data: [DONE]') : !data.includes('"chat.completion"')) return resolve(`unexpected body: ${data.slice(0, 200)}`);
        resolve(null);
      });
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', (e) => resolve(`request failed: ${e.message}`));
    req.end(body);
  });
}

/// Drives `target` with wrk; CPU and memory of the target's processes over the run.
async function wrk(target, bodyFile, connections, seconds, timeoutS = 5) {
  const pids = treeOf(target);
  let rssMax = 0;
  const sampler = setInterval(() => { rssMax = Math.max(rssMax, sumKb(pids, 'VmRSS')); }, 250);
  const cpu0 = cpuSeconds(pids), sched0 = schedSeconds(pids), times0 = cpuTimes();
  // One wrk thread per load CPU (one, by default), never more threads than connections.
  const r = await run('wrk', [`-t${Math.min(opt.loadCpus.length, connections)}`, `-c${connections}`, `-d${seconds}s`, '--timeout', `${timeoutS}s`, '-s', path.join(BENCH, 'lib', 'post.lua'),
                              `http://127.0.0.1:${target.port}/v1/chat/completions`],
                      { env: { ...process.env, BENCH_BODY_FILE: bodyFile, BENCH_AUTH: target.headers?.authorization ?? requestAuth,
                               BENCH_HEADERS: Object.entries(target.headers ?? {}).filter(([k]) => k !== 'authorization')
                                 .map(([k, v]) => `${k}: ${v}`).join('\n') },
                        timeoutMs: (seconds + 30) * 1000 });
  const cpu1 = cpuSeconds(pids), sched1 = schedSeconds(pids), machine = cpuBusy(times0, cpuTimes());
  clearInterval(sampler);
  const line = r.out.split('\n').find((l) => l.startsWith('BENCH_JSON '));
  if (!line) throw new Error(`wrk failed (exit ${r.code}): ${r.err || r.out}`);
  const w = JSON.parse(line.slice(11));
  const errors = w.err_connect + w.err_read + w.err_write + w.err_status + w.err_timeout;
  return {
    connections, seconds,
    requests: w.requests,
    duration_s: w.duration_us / 1e6, cpu_s: cpu1 - cpu0, sched_s: sched1 - sched0,
    rps: w.requests / (w.duration_us / 1e6),
    p50_ms: w.lat_p50_us / 1000, p99_ms: w.lat_p99_us / 1000,
    cpu_us_per_req: w.requests ? ((cpu1 - cpu0) * 1e6) / w.requests : null,
    cpu_us_per_req_schedstat: w.requests ? ((sched1 - sched0) * 1e6) / w.requests : null,
    cpu_util: (cpu1 - cpu0) / (w.duration_us / 1e6),
    machine_cpu_busy: machine,
    peak_rss_mb: sumKb(treeOf(target), 'VmHWM') / 1024,
    sampled_rss_mb: rssMax / 1024,
    errors,
    error_detail: { connect: w.err_connect, read: w.err_read, write: w.err_write, status: w.err_status, timeout: w.err_timeout },
  };
}

/// Sequential streams through `target` with the SSE client: TTFE and total, CPU per stream.
async function streams(target, bodyFile, requests, durationS = 0, warmupN = 0) {
  const pids = treeOf(target);
  const cpu0 = cpuSeconds(pids), sched0 = schedSeconds(pids);
  const warmup = durationS ? 0 : warmupN;
  const args = ['--port', String(target.port), '--body', bodyFile, '--requests', String(requests), '--warmup', String(warmup)];
  if (durationS) args.push('--duration-s', String(durationS));
  const r = await run(path.join(opt.tools, 'sse_client'), args, { timeoutMs: 120000 + durationS * 1000 });
  const cpu1 = cpuSeconds(pids), sched1 = schedSeconds(pids);
  let s;
  try { s = JSON.parse(r.out.trim().split('\n').pop()); } catch { throw new Error(`sse_client failed: ${r.err || r.out}`); }
  return {
    connections: 1, requests: s.requests,
    rps: s.requests / s.elapsed_s,
    p50_ms: s.ttfe_ms.p50, p99_ms: s.ttfe_ms.p99,
    total_p50_ms: s.total_ms.p50, total_p99_ms: s.total_ms.p99,
    events_per_stream: s.events_per_stream,
    // CPU covers the warm-up streams too.
    cpu_us_per_req: s.requests ? ((cpu1 - cpu0) * 1e6) / (s.requests + warmup) : null,
    cpu_us_per_req_schedstat: s.requests ? ((sched1 - sched0) * 1e6) / (s.requests + warmup) : null,
    peak_rss_mb: sumKb(treeOf(target), 'VmHWM') / 1024,
    errors: s.errors, first_error: s.first_error || undefined,
    cpu_s: cpu1 - cpu0, sched_s: sched1 - sched0, elapsed_s: s.elapsed_s, warmup,
    ttfe_samples: s.ttfe_samples, total_samples: s.total_samples,
  };
}

const median = (xs) => { const v = [...xs].sort((a, b) => a - b); return v.length ? v[Math.floor((v.length - 1) / 2)] : null; };
function percentile(xs, p) {
  const v = [...xs].sort((a, b) => a - b);
  return v.length ? v[Math.min(v.length - 1, Math.round(p * (v.length - 1)))] : null;
}

/// One row from interleaved wrk rounds: sums for throughput and CPU, medians of the rounds' percentiles.
function mergeWrk(parts, target) {
  const sum = (k) => parts.reduce((a, x) => a + x[k], 0);
  const requests = sum('requests');
  const errorDetail = {};
  for (const x of parts) for (const [k, v] of Object.entries(x.error_detail)) errorDetail[k] = (errorDetail[k] || 0) + v;
  return {
    connections: parts[0].connections, seconds: sum('seconds'), rounds: parts.length, requests,
    rps: requests / sum('duration_s'),
    p50_ms: median(parts.map((x) => x.p50_ms)), p99_ms: median(parts.map((x) => x.p99_ms)),
    cpu_us_per_req: requests ? (sum('cpu_s') * 1e6) / requests : null,
    cpu_us_per_req_schedstat: requests ? (sum('sched_s') * 1e6) / requests : null,
    cpu_util: sum('cpu_s') / sum('duration_s'),
    // Every process's use of each CPU during this target's rounds (duration-weighted): shows which side
    // (proxy CPU or load CPU) was the limit, and the host's steal.
    machine_cpu_busy: parts[0].machine_cpu_busy.map((_, i) => ({
      busy: parts.reduce((a, x) => a + x.machine_cpu_busy[i].busy * x.duration_s, 0) / sum('duration_s'),
      steal: parts.reduce((a, x) => a + x.machine_cpu_busy[i].steal * x.duration_s, 0) / sum('duration_s'),
    })),
    peak_rss_mb: sumKb(treeOf(target), 'VmHWM') / 1024,
    sampled_rss_mb: Math.max(...parts.map((x) => x.sampled_rss_mb)),
    errors: sum('errors'), error_detail: errorDetail,
    per_round: parts.map((x) => ({ rps: x.rps, p50_ms: x.p50_ms, p99_ms: x.p99_ms, cpu_us_per_req: x.cpu_us_per_req,
                                   cpu_us_per_req_schedstat: x.cpu_us_per_req_schedstat, cpu_util: x.cpu_util, errors: x.errors })),
  };
}

/// The true median (mean of the two middle values for an even count).
const mid = (xs) => { const v = [...xs].sort((a, b) => a - b); const h = v.length >> 1; return v.length ? (v.length % 2 ? v[h] : (v[h - 1] + v[h]) / 2) : null; };

/// Paired per-round ratio of two rows of the same load: round i of `num` / round i of `den` (loaded back
/// to back, so they share that moment's background load), for `key` of per_round. Median, min, max and
/// each round's ratio; null without rounds to pair.
function paired(num, den, key) {
  const xs = (num.per_round || []).map((x, i) => {
    const d = den.per_round?.[i];
    return d && x[key] > 0 && d[key] > 0 ? x[key] / d[key] : null;
  }).filter((x) => x != null && Number.isFinite(x));
  return xs.length ? { median: mid(xs), min: Math.min(...xs), max: Math.max(...xs), n: xs.length, per_round: xs } : null;
}

/// Scenario g: each target's throughput and CPU/request at N threads over the first thread count, as the
/// ratio of totals and as paired per-round medians; and Switchyard's CPU/request growth over the floor's
/// (1.0: Switchyard pays no more for the extra threads than nginx's workers do).
function threadScaling(res, counts, loads) {
  const out = [];
  const [n0, ...rest] = counts;
  for (const l of loads) {
    const row = (target, n) => res.rows.find((r) => r.target === target && r.load === `${l.connections}c N=${n}`);
    for (const n of rest) {
      const entry = { load: `${l.connections}c`, from: n0, to: n };
      for (const target of ['floor', 'switchyard']) {
        const a = row(target, n0), b = row(target, n);
        if (!a || !b) continue;
        entry[target] = { rps: b.rps / a.rps, rps_paired: paired(b, a, 'rps'), cpu_per_req: b.cpu_us_per_req / a.cpu_us_per_req,
                          cpu_per_req_paired: paired(b, a, 'cpu_us_per_req'), cpu_util: [a.cpu_util, b.cpu_util] };
      }
      const s = entry.switchyard?.cpu_per_req_paired, f = entry.floor?.cpu_per_req_paired;
      if (s && f) {
        const xs = s.per_round.map((x, i) => x / f.per_round[i]).filter(Number.isFinite);
        entry.switchyard_vs_floor_cpu_growth = { ratio_of_totals: entry.switchyard.cpu_per_req / entry.floor.cpu_per_req, median: mid(xs),
                                                 min: Math.min(...xs), max: Math.max(...xs), n: xs.length, per_round: xs };
      }
      out.push(entry);
    }
  }
  return out;
}

/// One row from interleaved stream rounds: percentiles over every sample, CPU over every stream.
function mergeStreams(parts, target) {
  const ttfe = parts.flatMap((x) => x.ttfe_samples || []);
  const total = parts.flatMap((x) => x.total_samples || []);
  const requests = parts.reduce((a, x) => a + x.requests, 0);
  const cpu = parts.reduce((a, x) => a + x.cpu_s, 0), sched = parts.reduce((a, x) => a + x.sched_s, 0);
  const streamsRun = parts.reduce((a, x) => a + x.requests + x.warmup, 0);
  return {
    connections: 1, rounds: parts.length, requests,
    rps: requests / parts.reduce((a, x) => a + x.elapsed_s, 0),
    p50_ms: percentile(ttfe, 0.5), p99_ms: percentile(ttfe, 0.99),
    total_p50_ms: percentile(total, 0.5), total_p99_ms: percentile(total, 0.99),
    events_per_stream: parts[parts.length - 1].events_per_stream,
    cpu_us_per_req: streamsRun ? (cpu * 1e6) / streamsRun : null,
    cpu_us_per_req_schedstat: streamsRun ? (sched * 1e6) / streamsRun : null,
    peak_rss_mb: sumKb(treeOf(target), 'VmHWM') / 1024,
    errors: parts.reduce((a, x) => a + x.errors, 0),
    first_error: parts.map((x) => x.first_error).find(Boolean),
    per_round: parts.map((x) => ({ rps: x.rps, p50_ms: x.p50_ms, p99_ms: x.p99_ms, cpu_us_per_req: x.cpu_us_per_req, errors: x.errors })),
  };
}

// ---------------------------------------------------------------------------------------------------
// Scenarios

const HIDDEN = ['--bin', '--tools', '--bin-label'];
const manifest = JSON.parse(fs.readFileSync(path.join(BENCH, 'scenarios.json'), 'utf8'));
const results = {
  date: new Date().toISOString(),
  machine: machineInfo(),
  command: `bench/run.sh ${process.env.BENCH_REV ? `--rev ${process.env.BENCH_REV} ` : ''}${process.argv.slice(2).filter((a, i, all) => !HIDDEN.includes(a) && !HIDDEN.includes(all[i - 1])).join(' ')}`.trim(),
  pinning: { proxy_cpu: opt.proxyCpu, load_cpu: opt.loadCpus.length === 1 ? opt.loadCpus[0] : opt.loadCpu, note: 'proxy under test alone on its CPU; wrk, the stubs and the streaming client share the other' },
  versions: versions(),
  quick: opt.quick,
  scenarios: [],
  idle: null,
  soak: null,
  targets: [],
};

function machineInfo() {
  let model = os.cpus()[0]?.model || 'unknown';
  try { model = execFileSync('lscpu', { encoding: 'utf8' }).match(/^Model name:\s*(.+)$/m)[1].trim(); } catch { /* keep os.cpus */ }
  return { cpu_model: model, cores: os.cpus().length, kernel: os.release(), load_average_at_start: os.loadavg().map((x) => +x.toFixed(2)) };
}

function versions() {
  const v = {};
  const safe = (f) => { try { return f(); } catch { return 'unknown'; } };
  v.switchyard = opt.binLabel || opt.bin;
  v.nginx = safe(() => spawnSync('nginx', ['-v'], { encoding: 'utf8' }).stderr.trim().replace('nginx version: ', ''));
  v.wrk = safe(() => (spawnSync('wrk', ['--version'], { encoding: 'utf8' }).stdout.match(/wrk (\S+)/) || [])[1]);
  v.node = process.version;
  return v;
}

/// The server.threads values a scenario runs with: scenario g's list (or --threads), else just one.
const threadCounts = (sc) => (sc.threads ? (opt.threads ?? sc.threads) : [null]);

/// The CPUs an N-thread target is pinned to (scenario g): the first N of --proxy-cpu, then the CPUs that
/// are neither the proxy's nor the load's (ascending from the proxy's), then the load CPUs. On this
/// 2-vCPU machine N=1 -> "1" and N=2 -> "1,0", sharing CPU 0 with wrk and the stub.
function threadCpus(n) {
  const ncpu = os.cpus().length;
  const others = [];
  for (let i = 1; i < ncpu; i++) {
    const c = (opt.proxyCpu + i) % ncpu;
    if (!opt.loadCpus.includes(c)) others.push(c);
  }
  return [opt.proxyCpu, ...others, ...opt.loadCpus].slice(0, n).join(',');
}

/// Renders a scenario's config and body into its own temp dir and validates the config. Returns
/// {dir, configFile, configFiles (one per thread count, for scenario g), bodyFile} or {skip: reason}.
function prepareScenario(sc, stubs, redis) {
  const dir = path.join(tmp, `sc-${sc.id.replace(/\W/g, '_')}`);
  fs.mkdirSync(dir, { recursive: true });
  const stub = sc.stub === 'sse' ? stubs.sse : stubs.nginx;
  const vars = { STUB_URL: `http://127.0.0.1:${stub.port}/v1`, UPSTREAM_KEEPALIVE: sc.upstream_keepalive ?? 64,
                 ACCESS_LOG: sc.access_log ? 'true' : 'false', TMP: dir, BENCH, BIN: opt.bin,
                 REDIS_ADDRESS: redis ? redis.address : '' };
  const sub = (x) => x.replace(/\{\{(\w+)\}\}/g, (m, k) => (k in vars ? String(vars[k]) : m));
  for (const cmd of sc.prepare || []) {
    const [c, ...args] = cmd.map(sub);
    const r = spawnSync(c, args, { encoding: 'utf8', timeout: 60000 });
    if (r.status !== 0) {
      return { skip: `prepare step failed: ${path.basename(c)} ${args[0] || ''}: ${(r.stderr || r.stdout || `exit ${r.status}`).trim().split('\n')[0]}` };
    }
  }
  const configFiles = new Map();
  for (const n of threadCounts(sc)) {
    const configFile = path.join(dir, n == null ? 'switchyard.yaml' : `switchyard-threads-${n}.yaml`);
    fs.writeFileSync(configFile, renderConfig(path.join(BENCH, sc.config), { ...vars, THREADS: n ?? 1 }));
    const invalid = checkConfig(configFile);
    if (invalid) return { skip: `config does not validate yet: ${invalid.replace(configFile, sc.config)}` };
    configFiles.set(n, configFile);
  }
  const bodyFile = path.join(dir, 'body.json');
  fs.writeFileSync(bodyFile, makeBody(sc.body));
  return { dir, stub, configFile: configFiles.values().next().value, configFiles, bodyFile };
}

/// A Redis for the scenarios whose config shares state (`"redis": true`): Debian's redis-server on a
/// free loopback port, on the load CPU (it is not the proxy under test), no persistence.
async function startRedis(name) {
  const port = await freePort();
  const logFile = path.join(tmp, `${name}.log`);
  const child = start(name, 'redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
                      { cpu: opt.loadCpu, logFile });
  await waitFor(() => /Ready to accept connections/.test(fs.readFileSync(logFile, 'utf8')), `${name} to start`);
  child.address = `127.0.0.1:${port}`;
  return child;
}

async function runScenario(sc, stubs) {
  const name = sc.threads ? `threads N=${threadCounts(sc).join(',')}` : sc.name;
  const res = { id: sc.id, name, kind: sc.kind || 'wrk', status: 'ok', note: '', rows: [] };
  results.scenarios.push(res);
  const redis = sc.redis ? await startRedis(`redis-${sc.id.replace(/\W/g, '_')}`) : null;
  try {
    return await runScenarioWith(sc, stubs, res, redis);
  } finally {
    if (redis) await stop(redis);
  }
}

async function runScenarioWith(sc, stubs, res, redis) {
  const prep = prepareScenario(sc, stubs, redis);
  if (prep.skip) {
    res.status = 'skipped';
    res.note = prep.skip;
    return res;
  }
  const { stub, configFiles, bodyFile } = prep;
  res.body_bytes = fs.statSync(bodyFile).size;
  requestAuth = sc.authorization ?? '';
  const stream = sc.kind === 'stream';

  // All targets run at once (each idle while another is loaded) and the load alternates between them
  // in short rounds, so drifts in background load hit floor and Switchyard alike. A round lasts the
  // scenario's length / its default round count whatever --rounds says: more rounds, more repeats.
  const defaultRounds = Math.max(1, sc.rounds ?? 4);
  const rounds = opt.rounds ?? defaultRounds;
  res.rounds = rounds;
  // Scenario g: a floor and a Switchyard per thread count N, each on N CPUs (threadCpus); its rows' load
  // is labelled "64c N=2". Elsewhere one floor and one Switchyard on --proxy-cpu.
  const targets = [];
  try {
    if (sc.direct) targets.push({ name: 'stub', t: stub, owned: false });
    for (const n of threadCounts(sc)) {
      const cpu = n == null ? opt.proxyCpu : threadCpus(n);
      const tag = n == null ? '' : ` N=${n}`;
      const suffix = n == null ? '' : `-threads-${n}`;
      const floor = await startFloor(sc, stub.port, { workers: n ?? 1, cpu, suffix });
      targets.push({ name: 'floor', tag, threads: n, cpus: String(cpu), t: floor, owned: true });
      const sy = await startSwitchyard(`switchyard-${sc.id.replace(/\W/g, '_')}${suffix}`, configFiles.get(n), { cpu });
      targets.push({ name: 'switchyard', tag, threads: n, cpus: String(cpu), t: sy, owned: true });
    }
    if (sc.peer && !stream) {
      for (const p of opt.peers) targets.push({ name: p, t: await PEERS[p].start(await freePort(), stub.port), owned: true });
    }
    for (const x of targets) x.key = `${x.name}${x.tag ?? ''}`;
    if (sc.threads) res.placement = targets.filter((x) => x.threads).map((x) => ({ target: x.name, threads: x.threads, cpus: x.cpus }));
    const body = fs.readFileSync(bodyFile, 'utf8');
    for (const { name, t } of targets) {
      const bad = await probe(t.port, body, stream, (h) => {
        // What Switchyard decided for this body (routers say which stage and why).
        if (name === 'switchyard') {
          res.decision = Object.fromEntries(Object.entries(h).filter(([k]) => /^x-switchyard-(model|router|stage|reason)$/.test(k)));
        }
      }, t.headers ?? {});
      if (!bad) continue;
      if (name !== 'switchyard') throw new Error(`${name} failed its probe request in scenario ${sc.id}: ${bad}`);
      res.status = 'skipped';
      res.note = `config validates but the first request fails: ${bad}`;
      return res;
    }
    if (stream) {
      const n = Math.max(20, Math.round(sc.requests * scale));
      const per = Math.ceil(n / defaultRounds);
      log(`${sc.id}: ${targets.map((x) => x.key).join(', ')}: ${per * rounds} sequential streams each, ${rounds} interleaved rounds`);
      for (const { t } of targets) await streams(t, bodyFile, 10);  // warm-up
      const acc = new Map(targets.map((x) => [x.key, []]));
      for (let r = 0; r < rounds; r++) for (const { key, t } of targets) acc.get(key).push(await streams(t, bodyFile, per));
      for (const { key, name, t } of targets) res.rows.push({ target: name, load: 'seq', ...mergeStreams(acc.get(key), t) });
    } else {
      for (const { t } of targets) await wrk(t, bodyFile, sc.load[0].connections, 1);  // warm-up: pools, allocator, caches
      for (const l of sc.load) {
        const seconds = Math.max(1, Math.round((l.seconds * scale) / defaultRounds));
        log(`${sc.id}: ${targets.map((x) => x.key).join(', ')}: ${l.connections} connection(s), ${rounds} interleaved rounds of ${seconds} s`);
        const acc = new Map(targets.map((x) => [x.key, []]));
        for (let r = 0; r < rounds; r++) {
          for (const { key, t } of targets) acc.get(key).push(await wrk(t, bodyFile, l.connections, seconds, l.timeout_s));
        }
        for (const { key, name, tag, threads, cpus, t } of targets) {
          res.rows.push({ target: name, load: `${l.connections}c${tag ?? ''}`, ...(threads ? { threads, cpus } : {}), ...mergeWrk(acc.get(key), t) });
        }
      }
    }
  } finally {
    for (const x of targets) if (x.owned) await stop(x.t);
  }
  // Ratios Switchyard / floor per load level.
  res.ratios = [];
  for (const s of res.rows.filter((r) => r.target === 'switchyard')) {
    const f = res.rows.find((r) => r.target === 'floor' && r.load === s.load);
    if (!f) continue;
    res.ratios.push({
      load: s.load,
      rps: s.rps / f.rps,
      p50_added_ms: s.p50_ms - f.p50_ms,
      p99_added_ms: s.p99_ms - f.p99_ms,
      cpu_per_req: s.cpu_us_per_req / f.cpu_us_per_req,
      // Round i of Switchyard over round i of the floor (run back to back): the targets' figure. Not for
      // streams: a round's few hundred ms of CPU is a handful of 10 ms ticks. The schedstat (ns) version
      // is a cross-check, JSON only.
      ...(stream ? {} : { cpu_per_req_paired: paired(s, f, 'cpu_us_per_req'), cpu_per_req_paired_schedstat: paired(s, f, 'cpu_us_per_req_schedstat') }),
      peak_rss: s.peak_rss_mb / f.peak_rss_mb,
      ...(stream ? { total_p50_added_ms: s.total_p50_ms - f.total_p50_ms } : {}),
    });
  }
  // Scenario g: how each target scales from the first thread count to the others (N=2 / N=1 here).
  if (sc.threads) res.scaling = threadScaling(res, threadCounts(sc), sc.load);
  // And against each peer in the run: Switchyard / peer.
  res.peer_ratios = [];
  for (const p of opt.peers) {
    for (const s of res.rows.filter((r) => r.target === 'switchyard')) {
      const q = res.rows.find((r) => r.target === p && r.load === s.load);
      if (q) res.peer_ratios.push({ peer: p, load: s.load, rps: s.rps / q.rps, cpu_per_req: s.cpu_us_per_req / q.cpu_us_per_req,
                                    cpu_per_req_paired: paired(s, q, 'cpu_us_per_req'),
                                    p50_added_ms: s.p50_ms - q.p50_ms, peak_rss: s.peak_rss_mb / q.peak_rss_mb });
    }
  }
  return res;
}

/// RSS of Switchyard on the demo config, idle: after start, and after a few requests to each model.
async function runIdle() {
  const file = path.join(tmp, 'demo.yaml');
  // Files the demo config names relative to itself (the learned router's model) are copied beside it.
  for (const f of fs.readdirSync(path.join(ROOT, 'config'))) {
    if (f.endsWith('.sylm')) fs.copyFileSync(path.join(ROOT, 'config', f), path.join(tmp, f));
  }
  fs.writeFileSync(file, renderConfig(path.join(ROOT, 'config', 'demo.yaml'), {}));
  const sy = await startSwitchyard('switchyard-idle', file);
  try {
    await sleep(1000);
    const afterStart = statusKb(sy.pid, 'VmRSS');
    for (let i = 0; i < 5; i++) {
      const bad = await probe(sy.port, makeBody({ model: 'gpt-4o-mini', prompt: 'hello', bytes: 192 }), false);
      if (bad) throw new Error(`demo config: ${bad}`);
    }
    await sleep(500);
    const afterRequests = statusKb(sy.pid, 'VmRSS');
    return { config: 'config/demo.yaml', rss_after_start_mb: afterStart / 1024, rss_after_requests_mb: afterRequests / 1024,
             threads: fs.readdirSync(`/proc/${sy.pid}/task`).length };
  } finally {
    await stop(sy);
  }
}

/// 60 s of load (wrk on passthrough + sequential streams) with RSS sampled every second.
async function runSoak(stubs) {
  const seconds = Math.max(10, Math.round(opt.soakSeconds * (opt.quick ? 0.25 : 1)));
  const dir = path.join(tmp, 'soak');
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, 'switchyard.yaml');
  fs.writeFileSync(file, renderConfig(path.join(BENCH, 'configs', 'soak.yaml'),
                                      { STUB_URL: `http://127.0.0.1:${stubs.nginx.port}/v1`, SSE_URL: `http://127.0.0.1:${stubs.sse.port}/v1` }));
  const bodyFile = path.join(dir, 'body.json');
  fs.writeFileSync(bodyFile, makeBody({ model: 'gpt-4o-mini', prompt: 'Say hello in one sentence.', bytes: 192 }));
  const streamBody = path.join(dir, 'stream.json');
  fs.writeFileSync(streamBody, makeBody({ model: 'stream-model', prompt: 'Say hello.', bytes: 192, stream: true }));
  const sy = await startSwitchyard('switchyard-soak', file);
  try {
    log(`soak: ${seconds} s, 64 connections + sequential streams`);
    const samples = [];
    const t0 = Date.now();
    const sampler = setInterval(() => samples.push({ t: (Date.now() - t0) / 1000, rss_mb: statusKb(sy.pid, 'VmRSS') / 1024 }), 1000);
    const [w, s] = await Promise.all([wrk(sy, bodyFile, 64, seconds), streams(sy, streamBody, 1, seconds)]);
    clearInterval(sampler);
    const warm = samples.find((x) => x.t >= Math.min(5, seconds / 4)) || samples[0];
    const end = samples[samples.length - 1];
    const max = Math.max(...samples.map((x) => x.rss_mb));
    return { seconds, requests: w.requests, streams: s.requests, errors: w.errors + s.errors,
             rss_start_mb: warm.rss_mb, rss_start_at_s: warm.t, rss_end_mb: end.rss_mb, rss_max_mb: max,
             growth_mb: end.rss_mb - warm.rss_mb, samples };
  } finally {
    await stop(sy);
  }
}


// ---------------------------------------------------------------------------------------------------
// Profiling (--profile): where Switchyard's CPU goes under the scenario's load.

// Buckets for perf's flat profile, first match wins: a coarse map of where a request's CPU goes.
const COMPONENTS = [
  ['kernel (syscalls, TCP, wake-ups)', (k) => k === 'k'],
  ['allocator (malloc/free/new/delete)', (k, s) => /malloc|_int_free|\bfree\b|cfree|unlink_chunk|operator new|operator delete|memalign|consolidate|tcache/.test(s)],
  ['memset/memcpy/memcmp', (k, s) => /__mem(set|move|cpy|cmp|chr)/.test(s)],
  ['JSON scan/splice (sy::json)', (k, s) => /sy::json::/.test(s)],
  ['Beast HTTP writing (serializer, buffer sequences)', (k, s) => /serializer|write_some_op|write_op|write_msg_op|buffers_cat_view|buffers_prefix_view|buffers_suffix|buffers_ref|chunk_crlf|chunk_size|buffer_sequence_adapter|buffer_size|mp_with_index/.test(s)],
  ['Beast HTTP parsing and fields', (k, s) => /basic_parser|http::parser|basic_fields|parse_|read_some_op|read_op|read_header/.test(s)],
  ['Asio scheduler, coroutines, executors', (k, s) => /any_io_executor|awaitable|scheduler|epoll_reactor|executor_op|composed|transfer_op|reactive_socket|timer_queue|co_spawn|basic_stream|executor_function|handler|asio::/.test(s)],
  ['printf-style formatting', (k, s) => /printf|strtod|to_chars|__mpn_|hack_digit/.test(s)],
  ['locks', (k, s) => /pthread_mutex|pthread_cond|futex|spin/.test(s)],
  ['clock_gettime', (k, s) => /clock_gettime/.test(s)],
  ['Switchyard code (sy::)', (k, s) => /sy::/.test(s)],
  ['libstdc++ strings/containers', (k, s) => /std::|basic_string/.test(s)],
];
function components(lines) {
  const sums = new Map(COMPONENTS.map(([n]) => [n, 0]));
  let other = 0;
  for (const l of lines) {
    const m = l.match(/^\s*([\d.]+)%\s+\[(.)\]\s+(.*)$/);
    if (!m) continue;
    const hit = COMPONENTS.find(([, f]) => f(m[2], m[3]));
    if (hit) sums.set(hit[0], sums.get(hit[0]) + Number(m[1]));
    else other += Number(m[1]);
  }
  return [...sums.entries(), ['other', other]].sort((a, b) => b[1] - a[1])
    .map(([n, v]) => `${pad(v.toFixed(1), 6)}%  ${n}`).join('\n');
}

async function runProfile(sc, stubs) {
  const redis = sc.redis ? await startRedis(`redis-${sc.id.replace(/\W/g, '_')}`) : null;
  try {
    await runProfileWith(sc, stubs, redis);
  } finally {
    if (redis) await stop(redis);
  }
}

async function runProfileWith(sc, stubs, redis) {
  const prep = prepareScenario(sc, stubs, redis);
  if (prep.skip) { log(`${sc.id}: skipped: ${prep.skip}`); return; }
  requestAuth = sc.authorization ?? '';
  const { dir, bodyFile } = prep;
  // Scenario g profiles its largest thread count (where a contended lock would show, e.g. as futex calls
  // in --profile strace), pinned as in the table run.
  const threads = threadCounts(sc).at(-1);
  const configFile = prep.configFiles.get(threads);
  const cpu = threads == null ? opt.proxyCpu : threadCpus(threads);
  const outDir = path.join(BENCH, 'out');
  fs.mkdirSync(outDir, { recursive: true });
  const report = path.join(outDir, `profile-${opt.profile}-${sc.id.replace(/\W/g, '_')}.txt`);
  const seconds = opt.profileSeconds;
  const conns = sc.load ? sc.load[0].connections : 1;
  let header = `# ${opt.profile} profile of Switchyard, scenario ${sc.id} (${sc.name}), ${new Date().toISOString()}\n` +
               `# binary ${opt.binLabel || opt.bin}${threads == null ? '' : `; server.threads ${threads} (nginx: as many workers) on CPU ${cpu}`}\n`;
  if (opt.profile === 'strace') {
    const counts = {};
    const requests = {};
    for (const [name, startTarget] of [['floor', () => startFloor(sc, prep.stub.port, { workers: threads ?? 1, cpu })],
                                       ['switchyard', () => startSwitchyard(`switchyard-strace-${sc.id.replace(/\W/g, '_')}`, configFile, { cpu })]]) {
      const t = await startTarget();
      try {
        await wrk(t, bodyFile, conns, 1);
        const file = path.join(dir, `strace-${name}.txt`);
        const args = ['-c', '-f', '-q', '-o', file];
        for (const p of treeOf(t)) args.push('-p', String(p));
        const tr = start('strace', 'strace', args, { cpu: opt.loadCpu, logFile: path.join(dir, `strace-${name}.log`) });
        await sleep(500);
        log(`${sc.id}: ${name}: strace -c during ${seconds} s of ${conns}-connection load`);
        const w = await wrk(t, bodyFile, conns, seconds);
        process.kill(tr.pid, 'SIGINT');
        await tr.exited;
        requests[name] = w.requests;
        counts[name] = {};
        for (const line of fs.readFileSync(file, 'utf8').split('\n')) {
          const m = line.trim().match(/^[\d.]+\s+[\d.]+\s+\d+\s+(\d+)\s+(?:(\d+)\s+)?(\w+)$/);
          if (m && m[3] !== 'total') counts[name][m[3]] = Number(m[1]);
        }
      } finally {
        await stop(t);
      }
    }
    const names = [...new Set([...Object.keys(counts.floor), ...Object.keys(counts.switchyard)])]
      .sort((x, y) => (counts.switchyard[y] || 0) / requests.switchyard - (counts.switchyard[x] || 0) / requests.switchyard);
    const per = (n, k) => (counts[n][k] || 0) / requests[n];
    let text = `${header}# load: wrk ${conns} connections ${seconds} s under strace -c -f (slowed down; counts per request are what matter)\n\n`;
    text += `${pad('syscall', 22, true)} ${pad('floor/req', 10)} ${pad('switchyard/req', 15)}\n`;
    let tf = 0, ts = 0;
    for (const k of names) {
      tf += per('floor', k); ts += per('switchyard', k);
      if (per('floor', k) >= 0.005 || per('switchyard', k) >= 0.005) text += `${pad(k, 22, true)} ${pad(fmt(per('floor', k), 2), 10)} ${pad(fmt(per('switchyard', k), 2), 15)}\n`;
    }
    text += `${pad('total', 22, true)} ${pad(fmt(tf, 2), 10)} ${pad(fmt(ts, 2), 15)}\n(requests: floor ${requests.floor}, switchyard ${requests.switchyard})\n`;
    fs.writeFileSync(report, text);
  } else if (opt.profile === 'perf') {
    const sy = await startSwitchyard(`switchyard-profile-${sc.id.replace(/\W/g, '_')}`, configFile, { cpu });
    try {
      await wrk(sy, bodyFile, conns, 1);
      const data = path.join(dir, 'perf.data');
      const rec = start('perf', 'perf', ['record', '-e', 'cpu-clock', '-F', '4999', '-p', String(sy.pid), '-o', data],
                        { cpu: opt.loadCpu, logFile: path.join(dir, 'perf.log') });
      await sleep(300);
      log(`${sc.id}: perf record during ${seconds} s of ${conns}-connection load`);
      const w = await wrk(sy, bodyFile, conns, seconds);
      process.kill(rec.pid, 'SIGINT');
      await rec.exited;
      header += `# load: wrk ${conns} connections ${seconds} s: ${fmtInt(w.requests)} requests, ${fmt(w.cpu_us_per_req, 1)} µs CPU/request\n`;
      const flat = spawnSync('perf', ['report', '-i', data, '--no-children', '--sort', 'symbol', '--stdio'],
                             { encoding: 'utf8', maxBuffer: 256 << 20 });
      const bydso = spawnSync('perf', ['report', '-i', data, '--no-children', '--sort', 'dso', '--stdio'], { encoding: 'utf8', maxBuffer: 64 << 20 });
      // perf pads symbol columns to the longest template name and adds empty IPC columns: trim both.
      const tidy = (t) => t.split('\n').filter((l) => !l.startsWith('#') || l.startsWith('# Samples'))
        .map((l) => l.replace(/\s+-\s+-\s*$/, '').replace(/\s+$/, '')).filter(Boolean).join('\n');
      const symbols = tidy(flat.stdout).split('\n');
      const top = symbols.filter((l) => { const m = l.match(/^\s*([\d.]+)%/); return !m || Number(m[1]) >= 0.3; });
      fs.writeFileSync(report, `${header}\n## self time by component (symbol name rules in run.mjs)\n${components(symbols)}\n\n` +
                               `## self time by shared object\n${tidy(bydso.stdout)}\n\n## self time by symbol (>= 0.3%)\n${top.join('\n')}\n`);
    } finally {
      await stop(sy);
    }
  } else {
    const out = path.join(dir, 'callgrind.out');
    const logFile = path.join(dir, 'callgrind.log');
    const sy = start('switchyard-callgrind', 'valgrind', ['--tool=callgrind', '--instr-atstart=no', `--callgrind-out-file=${out}`,
                                                          opt.bin, '--config', configFile], { cpu, logFile });
    try {
      sy.port = Number(await waitFor(() => (fs.readFileSync(logFile, 'utf8').match(/listening on 127\.0\.0\.1:(\d+)/) || [])[1],
                                     'switchyard under callgrind', 120000));
      await wrk(sy, bodyFile, conns, 2);
      spawnSync('callgrind_control', ['-i', 'on', String(sy.pid)]);
      log(`${sc.id}: callgrind during ${seconds} s of ${conns}-connection load`);
      const w = await wrk(sy, bodyFile, conns, seconds);
      spawnSync('callgrind_control', ['-i', 'off', String(sy.pid)]);
      header += `# load: wrk ${conns} connections ${seconds} s under callgrind: ${fmtInt(w.requests)} requests instrumented\n`;
    } finally {
      await stop(sy, 30000);
    }
    const self = spawnSync('callgrind_annotate', ['--inclusive=no', '--threshold=99', out], { encoding: 'utf8', maxBuffer: 64 << 20 });
    const incl = spawnSync('callgrind_annotate', ['--inclusive=yes', '--threshold=99', out], { encoding: 'utf8', maxBuffer: 64 << 20 });
    fs.writeFileSync(report, `${header}\n## self (exclusive) instructions\n${self.stdout}\n## inclusive instructions\n${incl.stdout}`);
    // The raw profile beside the report, for callgrind_annotate --tree=caller or kcachegrind.
    fs.copyFileSync(out, report.replace(/\.txt$/, '.callgrind.out'));
  }
  const lines = fs.readFileSync(report, 'utf8').split('\n');
  console.log(lines.slice(0, 70).join('\n'));
  console.log(`\n... full report: ${path.relative(process.cwd(), report)}`);
}

// ---------------------------------------------------------------------------------------------------
// Output

const fmtInt = (x) => (x == null ? '-' : Math.round(x).toLocaleString('en-US'));
const fmt = (x, d = 3) => (x == null || Number.isNaN(x) ? '-' : x.toFixed(d));
const short = (s, n = 110) => (s.length > n ? `${s.slice(0, n - 3)}...` : s);
const pad = (s, n, right = false) => (right ? String(s).padEnd(n) : String(s).padStart(n));

function table() {
  const L = [];
  const head = [pad('scenario', 30, true), pad('load', 7), pad('target', 11), pad('req/s', 9), pad('p50 ms', 8), pad('p99 ms', 8),
                pad('CPU µs/req', 10), pad('RSS MB', 7), pad('errors', 6), '  notes'].join(' ');
  L.push(head, '-'.repeat(head.length + 10));
  for (const sc of results.scenarios) {
    const label = `${sc.id} ${sc.name}`;
    if (sc.status !== 'ok') {
      L.push(`${pad(label, 30, true)} ${sc.status}: ${short(sc.note)}`);
      continue;
    }
    let first = true;
    const loads = [...new Set(sc.rows.map((r) => r.load))];
    for (const load of loads) {
      for (const r of sc.rows.filter((x) => x.load === load)) {
        const notes = [];
        if (r.target === 'switchyard' && sc.decision?.['x-switchyard-router']) {
          const d = sc.decision;
          notes.push(`-> ${d['x-switchyard-model']} by ${d['x-switchyard-stage'] || '?'}${d['x-switchyard-reason'] ? ` (${short(d['x-switchyard-reason'], 40)})` : ''}`);
        }
        if (sc.kind === 'stream') notes.push(`p50/p99 = first event; total ${fmt(r.total_p50_ms, 2)}/${fmt(r.total_p99_ms, 2)} ms, ${r.events_per_stream} events`);
        if (r.threads) {
          const m = (r.machine_cpu_busy || []).map((x, i) => `${i} ${Math.round(x.busy * 100)}%`).join(', ');
          notes.push(`on CPU ${r.cpus}; uses ${fmt(r.cpu_util, 2)} CPU; machine: ${m}`);
        }
        if (r.errors) notes.push(`errors ${JSON.stringify(r.error_detail || r.first_error)}`);
        L.push([pad(first ? label : '', 30, true), pad(load, 7), pad(r.target, 11), pad(fmtInt(r.rps), 9), pad(fmt(r.p50_ms), 8),
                pad(fmt(r.p99_ms), 8), pad(fmt(r.cpu_us_per_req, 1), 10), pad(fmt(r.peak_rss_mb, 1), 7), pad(r.errors, 6),
                notes.length ? `  ${notes.join('; ')}` : ''].join(' '));
        first = false;
      }
      const q = (sc.ratios || []).find((x) => x.load === load);
      if (q) {
        const notes = [];
        if (q.cpu_per_req_paired) notes.push(`CPU/req per round: ${pairedText(q.cpu_per_req_paired)}`);
        if (q.total_p50_added_ms != null) notes.push(`total p50 ${q.total_p50_added_ms >= 0 ? '+' : ''}${fmt(q.total_p50_added_ms)} ms`);
        L.push([pad('', 30, true), pad(load, 7), pad('sy/floor', 11), pad(`${fmt(q.rps, 2)}x`, 9), pad(`${q.p50_added_ms >= 0 ? '+' : ''}${fmt(q.p50_added_ms)}`, 8),
                pad(`${q.p99_added_ms >= 0 ? '+' : ''}${fmt(q.p99_added_ms)}`, 8), pad(`${fmt(q.cpu_per_req, 2)}x`, 10), pad(`${fmt(q.peak_rss, 2)}x`, 7), pad('', 6),
                notes.length ? `  ${notes.join('; ')}` : ''].join(' '));
      }
      for (const pq of (sc.peer_ratios || []).filter((x) => x.load === load)) {
        L.push([pad('', 30, true), pad(load, 7), pad(`sy/${pq.peer}`.slice(0, 11), 11), pad(`${fmt(pq.rps, 2)}x`, 9),
                pad(`${pq.p50_added_ms >= 0 ? '+' : ''}${fmt(pq.p50_added_ms)}`, 8), pad('', 8), pad(`${fmt(pq.cpu_per_req, 2)}x`, 10),
                pad(`${fmt(pq.peak_rss, 2)}x`, 7), pad('', 6),
                pq.cpu_per_req_paired ? `  CPU/req per round: ${pairedText(pq.cpu_per_req_paired)}` : ''].join(' '));
      }
    }
    // Scenario g: N=2 over N=1 for each target (req/s and CPU/req columns are ratios), then Switchyard's
    // CPU/request growth over the floor's.
    for (const g of sc.scaling || []) {
      const lab = `${g.load} ${g.to}/${g.from}`;
      for (const target of ['floor', 'switchyard']) {
        const x = g[target];
        if (!x) continue;
        L.push([pad('', 30, true), pad(lab, 7), pad(`${target === 'floor' ? 'floor' : 'sy'} N${g.to}/N${g.from}`, 11), pad(`${fmt(x.rps, 2)}x`, 9), pad('', 8), pad('', 8),
                pad(`${fmt(x.cpu_per_req, 2)}x`, 10), pad('', 7), pad('', 6),
                `  per round: req/s ${pairedText(x.rps_paired)}; CPU/req ${pairedText(x.cpu_per_req_paired)}`].join(' '));
      }
      const c = g.switchyard_vs_floor_cpu_growth;
      if (c) {
        L.push([pad('', 30, true), pad(lab, 7), pad('sy/floor', 11), pad('', 9), pad('', 8), pad('', 8), pad(`${fmt(c.ratio_of_totals, 2)}x`, 10), pad('', 7), pad('', 6),
                `  Switchyard's CPU/req growth N${g.to}/N${g.from} over the floor's; per round: ${pairedText(c)}`].join(' '));
      }
    }
  }
  if (results.idle) {
    L.push(`${pad('idle RSS (demo config)', 30, true)} ${fmt(results.idle.rss_after_start_mb, 1)} MB after start, ${fmt(results.idle.rss_after_requests_mb, 1)} MB after 5 requests (${results.idle.threads} threads)`);
  }
  if (results.soak) {
    const s = results.soak;
    L.push(`${pad(`soak ${s.seconds} s`, 30, true)} RSS start ${fmt(s.rss_start_mb, 1)} MB (at ${fmt(s.rss_start_at_s, 0)} s), end ${fmt(s.rss_end_mb, 1)} MB, max ${fmt(s.rss_max_mb, 1)} MB; ${fmtInt(s.requests)} requests + ${fmtInt(s.streams)} streams, ${s.errors} errors`);
  }
  L.push('', 'p50/p99: wrk latency (streaming: time to first event); sy/floor: ratio, or added ms for latencies. CPU: utime+stime of the',
         'proxy process(es) over the run / requests. RSS: peak (VmHWM, nginx master+worker summed). Ratio columns are ratios of',
         'the totals; "per round": the median (min–max) of round i of one target over round i of the other, run back to back.');
  return L.join('\n');
}

const pairedText = (p) => (p ? `${fmt(p.median, 2)}x (${fmt(p.min, 2)}–${fmt(p.max, 2)}, ${p.n} rounds)` : '-');

function evaluateTargets() {
  const T = results.targets;
  const sc = (id) => results.scenarios.find((s) => s.id === id && s.status === 'ok');
  const ratio = (id, load) => (sc(id)?.ratios || []).find((r) => r.load === load);
  const add = (name, measured, limit, pass, note = '') => T.push({ name, measured, limit, verdict: measured == null ? 'n/a' : pass ? 'PASS' : 'FAIL', note });
  const notRun = (id) => {
    const x = results.scenarios.find((s) => s.id === id);
    return sc(id) ? '' : `scenario ${id} ${x ? short(`${x.status}: ${x.note}`, 60) : 'not run'}`;
  };
  // CPU/request against the floor: the median of the paired per-round ratios (issue 18: "as medians over
  // repeated runs in one invocation"); min–max beside it.
  const cpuVsFloor = (name, id, load, limit) => {
    const p = ratio(id, load)?.cpu_per_req_paired;
    add(name, p && `${fmt(p.median, 2)}x (median of ${p.n} rounds, ${fmt(p.min, 2)}–${fmt(p.max, 2)})`, `<= ${limit}x`, p && p.median <= limit, notRun(id));
  };
  cpuVsFloor('passthrough CPU/request vs floor (a, 64c)', 'a', '64c', 1.5);
  cpuVsFloor('full pipeline CPU/request vs floor (c, 64c)', 'c', '64c', 2);
  cpuVsFloor('1 MiB bodies CPU/request vs floor (f, 16c)', 'f', '16c', 2);
  // Many threads: what an extra io thread costs Switchyard per request beyond what an extra nginx worker
  // (which shares nothing with the others) costs nginx on the same CPUs. Throughput scaling is reported
  // in the table without a verdict: wrk shares the second CPU here (bench/README.md).
  const g = sc('g')?.scaling?.at(-1)?.switchyard_vs_floor_cpu_growth;
  const gs = sc('g')?.scaling?.at(-1);
  add(`threads: sy CPU/req growth N=${gs?.to ?? 2}/N=${gs?.from ?? 1} over floor's (g)`,
      g && `${fmt(g.median, 2)}x (median of ${g.n} rounds, ${fmt(g.min, 2)}–${fmt(g.max, 2)})`, '<= 1.2x', g && g.median <= 1.2,
      notRun('g') || (g ? '' : 'needs two thread counts (--threads)'));
  const a1 = ratio('a', '1c');
  add('unloaded added p50 (a, 1 connection)', a1 && `${a1.p50_added_ms >= 0 ? '+' : ''}${fmt(a1.p50_added_ms)} ms`, '<= 0.1 ms', a1 && a1.p50_added_ms <= 0.1);
  const d = ratio('d', 'seq');
  add('streaming added time to first event (d, p50)', d && `${d.p50_added_ms >= 0 ? '+' : ''}${fmt(d.p50_added_ms)} ms`, '<= 0.2 ms', d && d.p50_added_ms <= 0.2);
  const idle = results.idle;
  const idleMb = idle && Math.max(idle.rss_after_start_mb, idle.rss_after_requests_mb);
  add('RSS idle (demo config)', idle && `${fmt(idleMb, 1)} MB`, '<= 30 MB', idle && idleMb <= 30);
  const e = sc('e')?.rows.find((r) => r.target === 'switchyard');
  add('RSS with 1,000 open connections (e)', e && `${fmt(e.peak_rss_mb, 1)} MB`, '<= 150 MB', e && e.peak_rss_mb <= 150);
  const s = results.soak;
  add(`RSS growth over ${s?.seconds ?? 60} s (--soak)`, s && `${s.growth_mb >= 0 ? '+' : ''}${fmt(s.growth_mb, 2)} MB`, '<= +1 MB', s && s.growth_mb <= 1,
      s ? '' : 'run with --soak');
  let errs = 0, n = 0;
  for (const x of results.scenarios) for (const r of x.rows) { errs += r.errors; n++; }
  if (s) errs += s.errors;
  add('errors, every scenario and target', n ? String(errs) : null, '0', errs === 0);
}

function targetsTable() {
  const L = ['', 'Targets'];
  const w = Math.max(12, ...results.targets.map((t) => (t.measured ?? '-').length));
  const nw = Math.max(46, ...results.targets.map((t) => t.name.length));
  for (const t of results.targets) {
    L.push(`  ${pad(t.verdict, 4, true)}  ${pad(t.name, nw, true)} ${pad(t.measured ?? '-', w, true)}  (target ${t.limit})${t.note ? `  ${t.note}` : ''}`);
  }
  return L.join('\n');
}

// ---------------------------------------------------------------------------------------------------

async function main() {
  const selected = manifest.scenarios.filter((s) => !opt.only || opt.only.has(s.id));
  const runIdleToo = !opt.only || opt.only.has('idle');
  if (opt.only) {
    for (const id of opt.only) {
      if (id !== 'idle' && !manifest.scenarios.some((s) => s.id === id)) die(`unknown scenario ${id}`);
    }
  }
  const started = Date.now();
  log(`temp dir ${tmp}; proxy on CPU ${opt.proxyCpu}, load and stubs on CPU ${opt.loadCpu}`);
  const stubs = { nginx: await startStubNginx(), sse: null };
  if (opt.profile) {
    for (const sc of opt.only ? selected : selected.filter((x) => x.id === 'a')) {
      if (sc.stub === 'sse') {
        if (stubs.sse) await stop(stubs.sse);
        stubs.sse = await startSseStub(sc);
      }
      await runProfile(sc, stubs);
    }
    return;
  }
  for (const sc of selected) {
    if (sc.stub === 'sse') {
      if (stubs.sse) await stop(stubs.sse);
      stubs.sse = await startSseStub(sc);
    }
    try {
      await runScenario(sc, stubs);
    } catch (e) {
      const r = results.scenarios.find((x) => x.id === sc.id);
      r.status = 'failed';
      r.note = e.message.split('\n')[0];
      log(`${sc.id}: failed: ${e.message}`);
    }
  }
  if (runIdleToo) results.idle = await runIdle();
  if (opt.soak) {
    if (!stubs.sse) stubs.sse = await startSseStub({ events: 20, delay_us: 500 });
    results.soak = await runSoak(stubs);
  }
  evaluateTargets();
  results.elapsed_s = (Date.now() - started) / 1000;

  const header = `Switchyard benchmark ${results.date.slice(0, 16).replace('T', ' ')} UTC — ${results.machine.cpu_model}, ${results.machine.cores} cores, ` +
                 `switchyard ${results.versions.switchyard}; proxy pinned to CPU ${opt.proxyCpu}, wrk + stubs on CPU ${opt.loadCpu}` +
                 `${opt.quick ? ' (--quick: rough numbers)' : ''}`;
  console.log(`${header}\n\n${table()}\n${targetsTable()}`);
  const jsonFile = opt.json || path.join(BENCH, 'out', `results-${results.date.replace(/[:.]/g, '-')}.json`);
  fs.mkdirSync(path.dirname(jsonFile), { recursive: true });
  fs.writeFileSync(jsonFile, `${JSON.stringify(results, null, 2)}\n`);
  console.log(`\nJSON: ${path.relative(process.cwd(), jsonFile) || jsonFile}   (${fmt(results.elapsed_s, 0)} s)`);
}

main().then(() => process.exit(0), (e) => { console.error(`bench: ${e.stack || e}`); process.exit(1); });
