// Raw-socket HTTP/1.x helpers for framing tests: write exact bytes, read exact responses. Every wait is
// an awaited socket event under a bounded timeout; nothing sleeps.
import net from 'node:net';

/** Opens a TCP connection to 127.0.0.1:`port` (no Nagle) and resolves once connected. */
export function connectRaw(port, { timeout = 5000 } = {}) {
  return new Promise((resolve, reject) => {
    const sock = net.connect(port, '127.0.0.1');
    sock.setNoDelay(true);
    const t = setTimeout(() => { sock.destroy(); reject(new Error(`connect to ${port} timed out`)); }, timeout);
    sock.once('connect', () => { clearTimeout(t); sock.off('error', reject); resolve(sock); });
    sock.once('error', (e) => { clearTimeout(t); reject(e); });
  });
}

/** Writes `data` (string as latin1 bytes, or a Buffer) and resolves once it is flushed to the kernel. */
export function written(sock, data) {
  const buf = typeof data === 'string' ? Buffer.from(data, 'latin1') : data;
  return new Promise((resolve) => {
    sock.write(buf, () => resolve());
  });
}

/**
 * Parses as many complete HTTP/1.x responses as `buf` holds. `methods[i]` is the method of the i-th
 * request (a response to HEAD has no body whatever its headers say). Bodies are framed by
 * Content-Length, chunked coding, or (neither) the connection close: `closed` says whether it came.
 * Returns {responses, rest, error}: `error` names bytes that are not a response where one must start.
 */
export function parseResponses(buf, { methods = [], closed = false } = {}) {
  const responses = [];
  let at = 0;
  for (;;) {
    if (at >= buf.length) break;
    const rest = buf.subarray(at);
    if (!'HTTP/'.startsWith(rest.subarray(0, 5).toString('latin1'))) {
      return { responses, rest, error: `expected a status line, got ${JSON.stringify(rest.subarray(0, 80).toString('latin1'))}` };
    }
    const end = rest.indexOf('\r\n\r\n');
    if (end < 0) break;
    const head = rest.subarray(0, end).toString('latin1');
    const lines = head.split('\r\n');
    const m = /^HTTP\/(\d\.\d) (\d{3})(?: (.*))?$/.exec(lines[0]);
    if (!m) return { responses, rest, error: `bad status line ${JSON.stringify(lines[0])}` };
    const headers = lines.slice(1).map((l) => {
      const i = l.indexOf(':');
      return [i < 0 ? l.toLowerCase() : l.slice(0, i).toLowerCase(), i < 0 ? '' : l.slice(i + 1).trim()];
    });
    const get = (n) => headers.find(([k]) => k === n)?.[1];
    const status = Number(m[2]);
    const method = methods[responses.length] ?? 'POST';
    let bodyStart = end + 4;
    let body;
    let consumed;
    const noBody = method === 'HEAD' || status === 204 || status === 304 || (status >= 100 && status < 200);
    if (noBody) {
      body = Buffer.alloc(0);
      consumed = bodyStart;
    } else if (/chunked/i.test(get('transfer-encoding') ?? '')) {
      const parts = [];
      let p = bodyStart;
      let complete = false;
      for (;;) {
        const le = rest.indexOf('\r\n', p);
        if (le < 0) break;
        const size = parseInt(rest.subarray(p, le).toString('latin1').split(';')[0], 16);
        if (Number.isNaN(size)) return { responses, rest, error: 'bad chunk size in response' };
        if (size === 0) {
          const endAt = rest.indexOf('\r\n\r\n', le);  // after the trailers, if any
          if (endAt < 0) break;
          consumed = endAt + 4;
          complete = true;
          break;
        }
        if (rest.length < le + 2 + size + 2) break;
        parts.push(rest.subarray(le + 2, le + 2 + size));
        p = le + 2 + size + 2;
      }
      if (!complete) break;
      body = Buffer.concat(parts);
    } else if (get('content-length') !== undefined) {
      const len = Number(get('content-length'));
      if (rest.length < bodyStart + len) break;
      body = rest.subarray(bodyStart, bodyStart + len);
      consumed = bodyStart + len;
    } else {
      if (!closed) break;  // read to the close
      body = rest.subarray(bodyStart);
      consumed = rest.length;
    }
    const text = body.toString('utf8');
    let json;
    try { json = JSON.parse(text); } catch { json = undefined; }
    responses.push({ version: m[1], status, head, headers, get, body, text, json });
    at += consumed;
  }
  return { responses, rest: buf.subarray(at), error: undefined };
}

/**
 * Collects what the server sends on `sock` until `n` responses are complete (Infinity: until close),
 * the connection closes, or `timeout` ms pass. Resolves
 * {responses, closed, timedOut, reset, raw, rest, error}; it never rejects.
 */
export function collect(sock, { n = Infinity, methods = [], timeout = 10000 } = {}) {
  return new Promise((resolve) => {
    const chunks = [];
    let reset = false;
    let settled = false;
    const finish = (why) => {
      if (settled) return;
      settled = true;
      clearTimeout(t);
      sock.off('data', onData);
      sock.off('close', onClose);
      sock.off('error', onError);
      const raw = Buffer.concat(chunks);
      const closed = why === 'close';
      const parsed = parseResponses(raw, { methods, closed });
      resolve({ ...parsed, closed, timedOut: why === 'timeout', reset, raw });
    };
    const onData = (d) => {
      chunks.push(d);
      const { responses, error } = parseResponses(Buffer.concat(chunks), { methods });
      if (error || responses.length >= n) finish(error ? 'garbage' : 'enough');
    };
    const onClose = () => finish('close');
    const onError = (e) => { if (e.code === 'ECONNRESET') reset = true; };
    const t = setTimeout(() => finish('timeout'), timeout);
    sock.on('data', onData);
    sock.on('close', onClose);
    sock.on('error', onError);
    if (sock.destroyed) finish('close');
  });
}

/** Resolves 'close' when `sock` closes, or 'timeout' after `timeout` ms (it then stays open). */
export function closedWithin(sock, timeout = 5000) {
  if (sock.destroyed) return Promise.resolve('close');
  return new Promise((resolve) => {
    const t = setTimeout(() => { sock.off('close', f); resolve('timeout'); }, timeout);
    const f = () => { clearTimeout(t); resolve('close'); };
    sock.once('close', f);
    sock.resume();
  });
}

/**
 * One exchange on a fresh connection: writes `data` (a string, a Buffer, or an array of pieces written
 * one after another), optionally half-closes (`end`), then collects as `collect` does. The socket is
 * destroyed afterwards unless `keep`, in which case it is returned as `sock`.
 */
export async function exchange(port, data, { n = Infinity, methods = [], timeout = 10000, end = false, keep = false } = {}) {
  const sock = await connectRaw(port);
  sock.on('error', () => {});
  const result = collect(sock, { n, methods, timeout });
  for (const piece of Array.isArray(data) ? data : [data]) {
    if (sock.destroyed) break;
    await written(sock, piece);
  }
  if (end && !sock.destroyed) sock.end();
  const r = await result;
  if (keep) r.sock = sock;
  else sock.destroy();
  return r;
}

/** A request with a Content-Length computed from `body` (bytes). `headers` is a list of raw lines. */
export function rawRequest(method, target, { body, headers = [], version = '1.1', host = true } = {}) {
  const b = body === undefined ? undefined : (Buffer.isBuffer(body) ? body : Buffer.from(body, 'utf8'));
  const lines = [`${method} ${target} HTTP/${version}`];
  if (host) lines.push('Host: x');
  lines.push(...headers);
  if (b !== undefined && !headers.some((h) => /^(content-length|transfer-encoding)\s*:/i.test(h))) {
    lines.push(`Content-Length: ${b.length}`);
  }
  const head = Buffer.from(lines.join('\r\n') + '\r\n\r\n', 'latin1');
  return b === undefined ? head : Buffer.concat([head, b]);
}

/** A chunk of chunked coding around `data`. */
export function chunkOf(data) {
  const b = Buffer.isBuffer(data) ? data : Buffer.from(data, 'utf8');
  return Buffer.concat([Buffer.from(b.length.toString(16) + '\r\n'), b, Buffer.from('\r\n')]);
}

/** Lines of a response head that are not a well-formed `name: value` field (bare CR/LF, bad names). */
export function malformedHeaderLines(head) {
  const lines = head.split('\r\n').slice(1);
  return lines.filter((l) => !/^[!#$%&'*+\-.^_`|~0-9A-Za-z]+:[ \t]*[^\r\n\x00]*$/.test(l));
}
