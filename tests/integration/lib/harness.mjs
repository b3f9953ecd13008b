// Test harness: starts the real switchyard binary on 127.0.0.1 port 0 with a generated config, and
// fake upstream servers that record what they receive. Everything is awaited; nothing sleeps to wait.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

export const BIN = process.env.SWITCHYARD_BIN ?? path.resolve(import.meta.dirname, '../../../build/switchyard');
export const SOURCE_DIR = process.env.SWITCHYARD_SOURCE_DIR ?? path.resolve(import.meta.dirname, '../../..');

// Sanitizer builds (build-asan, see tests/CMakeLists.txt): ASan and LSan write each report to
// `<log_path>.switchyard.<pid>` (log_path from ASAN_OPTIONS); UBSan, a separate runtime with GCC, prints
// to stderr. Every process started here is checked when it exits: a report fails the test (or hook) that
// stopped it, and UBSan's text is saved next to ASan's files for the final `sanitizer_reports` test.
const SANITIZER_LOG = /(?:^|:)log_path=([^:]+)/.exec(process.env.ASAN_OPTIONS ?? '')?.[1];
const SANITIZER_TEXT = /ERROR: (?:AddressSanitizer|LeakSanitizer)|(?::\d+:\d+|<unknown>): runtime error: |SUMMARY: (?:AddressSanitizer|LeakSanitizer|UndefinedBehaviorSanitizer)/;

/** Records which test file started `proc`, so the final report names it. */
function noteChild(proc, args) {
  if (!SANITIZER_LOG || proc.pid === undefined) return;
  fs.mkdirSync(path.dirname(SANITIZER_LOG), { recursive: true });
  fs.appendFileSync(path.join(path.dirname(SANITIZER_LOG), 'children.log'),
    `${proc.pid} ${path.relative(SOURCE_DIR, process.argv[1] ?? '?')} ${args.join(' ')}\n`);
}

/** Throws with the sanitizer reports of the exited child `pid` whose stdout+stderr was `output`, if any. */
function checkSanitizerReports(pid, output) {
  const reports = [];
  if (SANITIZER_LOG) {
    const dir = path.dirname(SANITIZER_LOG);
    const prefix = `${path.basename(SANITIZER_LOG)}.${path.basename(BIN)}.`;
    for (const f of fs.existsSync(dir) ? fs.readdirSync(dir) : []) {
      if (f === `${prefix}${pid}`) reports.push(`${path.join(dir, f)}:\n${fs.readFileSync(path.join(dir, f), 'utf8')}`);
    }
  }
  if (SANITIZER_TEXT.test(output)) {
    reports.push(`output of pid ${pid}:\n${output}`);
    if (SANITIZER_LOG) fs.writeFileSync(`${SANITIZER_LOG}.${path.basename(BIN)}-output.${pid}`, output);
  }
  if (reports.length) {
    throw new Error(`sanitizer report from ${path.basename(BIN)} (pid ${pid}):\n${reports.join('\n')}`);
  }
}

/** Writes `yaml` to a temp file and returns its path. */
export function writeConfig(yaml) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'switchyard-test-'));
  const file = path.join(dir, 'config.yaml');
  fs.writeFileSync(file, yaml);
  return file;
}

/**
 * Starts switchyard with the given YAML (its server.listen should be 127.0.0.1:0) and resolves once it
 * printed the port it listens on.
 */
export async function startSwitchyard(yaml, { env = {}, args = [] } = {}) {
  const file = writeConfig(yaml);
  const proc = spawn(BIN, ['--config', file, ...args], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  noteChild(proc, ['--config', file, ...args]);
  const closed = once(proc, 'close');  // after 'exit', once stdout and stderr are drained
  let output = '';
  const onData = (d) => { output += d.toString(); };
  proc.stdout.on('data', onData);
  proc.stderr.on('data', onData);
  const port = await new Promise((resolve, reject) => {
    const check = () => {
      const m = output.match(/listening on [\d.]+:(\d+)/);
      if (m) { cleanup(); resolve(Number(m[1])); }
    };
    const onExit = (code) => {
      cleanup();
      closed.then(() => {
        checkSanitizerReports(proc.pid, output);
        throw new Error(`switchyard exited (${code}) before listening:\n${output}`);
      }).catch(reject);
    };
    const cleanup = () => { proc.stdout.off('data', check); proc.stderr.off('data', check); proc.off('exit', onExit); };
    proc.stdout.on('data', check);
    proc.stderr.on('data', check);
    proc.on('exit', onExit);
    check();
  });
  const exited = once(proc, 'exit');
  let checked = false;
  const checkOnce = () => { if (!checked) { checked = true; checkSanitizerReports(proc.pid, output); } };
  return {
    port,
    url: `http://127.0.0.1:${port}`,
    proc,
    configFile: file,
    output: () => output,
    /** Resolves when the output contains `re` (a RegExp), or rejects after `ms`. */
    async waitForOutput(re, ms = 5000) {
      if (re.test(output)) return;
      await new Promise((resolve, reject) => {
        const t = setTimeout(() => { proc.stdout.off('data', f); reject(new Error(`timed out waiting for ${re} in:\n${output}`)); }, ms);
        const f = () => { if (re.test(output)) { clearTimeout(t); proc.stdout.off('data', f); resolve(); } };
        proc.stdout.on('data', f);
      });
    },
    /** Signals the process and resolves once it exited; throws when it left a sanitizer report. */
    async stop(signal = 'SIGTERM') {
      if (proc.exitCode === null && proc.signalCode === null) {
        proc.kill(signal);
      }
      await closed;
      checkOnce();
      return { code: proc.exitCode, signal: proc.signalCode };
    },
    exited,
  };
}

/** Runs the binary to completion with args; resolves {code, stdout, stderr}. */
export async function runSwitchyard(args, env = {}) {
  const proc = spawn(BIN, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  noteChild(proc, args);
  let stdout = '', stderr = '';
  proc.stdout.on('data', (d) => { stdout += d; });
  proc.stderr.on('data', (d) => { stderr += d; });
  const [code] = await once(proc, 'close');
  checkSanitizerReports(proc.pid, stdout + stderr);
  return { code, stdout, stderr };
}

/**
 * A fake upstream HTTP server. `handler(req, res, body)` answers; every request is recorded in
 * `requests` as {method, url, headers, body}. `closed` counts server-side sockets that closed.
 */
/** The self-signed certificate (CN and SAN 127.0.0.1, localhost; test use only) an https upstream serves. */
export const TEST_TLS = {
  key: path.join(SOURCE_DIR, 'tests/testdata/tls/localhost-key.pem'),
  cert: path.join(SOURCE_DIR, 'tests/testdata/tls/localhost-cert.pem'),
};

/** A fake upstream on 127.0.0.1; `tls: true` serves https with TEST_TLS's certificate. */
export async function startUpstream(handler, { tls = false } = {}) {
  const requests = [];
  const sockets = new Set();
  const waiters = [];
  const options = tls ? { key: fs.readFileSync(TEST_TLS.key), cert: fs.readFileSync(TEST_TLS.cert) } : {};
  const server = (tls ? https : http).createServer(options, async (req, res) => {
    const chunks = [];
    for await (const c of req) chunks.push(c);
    const body = Buffer.concat(chunks).toString();
    const rec = { method: req.method, url: req.url, headers: req.headers, body, json: safeJson(body) };
    requests.push(rec);
    for (const w of waiters.splice(0)) w(rec);
    try {
      await handler(req, res, rec);
    } catch (e) {
      if (!res.headersSent) { res.writeHead(500); }
      res.end(String(e));
    }
  });
  server.on('connection', (s) => { sockets.add(s); s.on('close', () => sockets.delete(s)); });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address();
  return {
    port,
    url: `${tls ? 'https' : 'http'}://127.0.0.1:${port}`,
    requests,
    openSockets: () => sockets.size,
    /** Resolves with the next request received (or the n-th overall when already there). */
    nextRequest() { return new Promise((r) => waiters.push(r)); },
    async close() {
      for (const s of sockets) s.destroy();
      server.close();
      await once(server, 'close');
    },
  };
}

function safeJson(s) { try { return JSON.parse(s); } catch { return undefined; } }

/**
 * A fake upstream that answers each request with what `respond(rec)` returns: `{json}` or `{sse}` (an
 * event-stream body), with an optional `status` and extra `headers`. Tests swap what `respond` reads.
 */
export function startAnsweringUpstream(respond) {
  return startUpstream(async (req, res, rec) => {
    const a = respond(rec);
    res.writeHead(a.status ?? 200, { 'content-type': a.sse ? 'text/event-stream' : 'application/json', ...(a.headers ?? {}) });
    res.end(a.sse ?? JSON.stringify(a.json));
  });
}

/** A canned OpenAI chat.completion body. */
export function completion(content, model = 'upstream-model', usage = { prompt_tokens: 5, completion_tokens: 7, total_tokens: 12 }) {
  return {
    id: 'chatcmpl-test', object: 'chat.completion', created: 1700000000, model,
    choices: [{ index: 0, message: { role: 'assistant', content }, finish_reason: 'stop', logprobs: null }],
    usage,
  };
}

/** One SSE chunk frame of a streamed chat completion. */
export function chunk(content, { model = 'upstream-model', finish = null, role } = {}) {
  const delta = {};
  if (role) delta.role = role;
  if (content !== undefined && content !== null) delta.content = content;
  return `data: ${JSON.stringify({ id: 'chatcmpl-test', object: 'chat.completion.chunk', created: 1700000000, model, choices: [{ index: 0, delta, finish_reason: finish }] })}\n\n`;
}

export function usageChunk(usage = { prompt_tokens: 5, completion_tokens: 3, total_tokens: 8 }) {
  return `data: ${JSON.stringify({ id: 'chatcmpl-test', object: 'chat.completion.chunk', created: 1700000000, model: 'upstream-model', choices: [], usage })}\n\n`;
}

/** POSTs JSON; resolves {status, headers, text, json}. */
export async function postJson(url, body, headers = {}) {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: typeof body === 'string' ? body : JSON.stringify(body) });
  const text = await res.text();
  let json;
  try { json = JSON.parse(text); } catch { json = undefined; }
  return { status: res.status, headers: res.headers, text, json };
}

/** Parses an SSE body into the list of data payloads. */
export function sseData(text) {
  return text.split(/\n\n/).map((e) => e.trim()).filter((e) => e.startsWith('data:')).map((e) => e.slice(5).trim());
}

/** A minimal config: one openai-type provider at `upstreamUrl`, model `m` -> upstream `up-m`. */
export function basicConfig(upstreamUrl, extra = '') {
  return `server:
  listen: 127.0.0.1:0
  threads: 2
logging:
  level: info
providers:
  - name: fake
    type: openai
    base_url: ${upstreamUrl}/v1
    api_key: \${FAKE_KEY:-sk-test-secret}
models:
  - name: m
    deployments:
      - provider: fake
        model: up-m
        input_price: 1.0
        output_price: 2.0
${extra}`;
}

/** Resolves with fn()'s first truthy result, polling every `every` ms; throws with `what` after `ms`. */
export async function until(fn, what, ms = 10000, every = 20) {
  const deadline = Date.now() + ms;
  for (;;) {
    const last = await fn();
    if (last) return last;
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, every));
  }
}

/** A port nobody listens on right now (listen on 0, read it, close), for a process that cannot take 0. */
export async function freePort() {
  const s = net.createServer();
  s.listen(0, '127.0.0.1');
  await once(s, 'listening');
  const { port } = s.address();
  s.close();
  await once(s, 'close');
  return port;
}

