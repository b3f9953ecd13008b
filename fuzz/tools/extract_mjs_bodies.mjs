// Prints, one JSON document per line, the request bodies the integration tests send
// (tests/integration/*.test.mjs): the object literals passed to JSON.stringify(...) and as postJson's
// second argument. Each literal is evaluated with unknown identifiers stubbed (msg(t) -> one user
// message; anything else -> "x"); literals that still do not evaluate are skipped.
import fs from 'node:fs';
import path from 'node:path';
import vm from 'node:vm';

const dir = process.argv[2];
const seen = new Set();

function balanced(src, start) {
  // src[start] is '{' or '['; returns the index after its match (strings and templates skipped).
  const open = src[start], close = open === '{' ? '}' : ']';
  let depth = 0;
  for (let i = start; i < src.length; i++) {
    const c = src[i];
    if (c === '"' || c === "'" || c === '`') {
      for (i++; i < src.length && src[i] !== c; i++) if (src[i] === '\\') i++;
      continue;
    }
    if (c === '{' || c === '[') depth++;
    else if (c === '}' || c === ']') { depth--; if (depth === 0) return i + 1; }
  }
  return -1;
}

const stub = new Proxy({}, {
  has: (_, k) => k !== 'JSON' && k !== 'Array' && k !== 'String' && k !== 'Object' && k !== 'Math' && k !== 'Buffer',
  get: (_, k) => {
    if (k === Symbol.unscopables) return undefined;
    if (k === 'msg') return (t) => [{ role: 'user', content: String(t) }];
    return 'x';
  },
});

for (const f of fs.readdirSync(dir).filter((n) => n.endsWith('.mjs'))) {
  const src = fs.readFileSync(path.join(dir, f), 'utf8');
  const re = /(JSON\.stringify\(|postJson\([^,]+,\s*)/g;
  let m;
  while ((m = re.exec(src))) {
    let i = m.index + m[0].length;
    while (/\s/.test(src[i])) i++;
    if (src[i] !== '{' && src[i] !== '[') continue;
    const end = balanced(src, i);
    if (end < 0) continue;
    const text = src.slice(i, end);
    try {
      const ctx = vm.createContext({ stub, JSON, Array, String, Object, Math, Buffer });
      const v = vm.runInContext(`with (stub) { (${text}) }`, ctx, { timeout: 100 });
      const s = JSON.stringify(v);
      if (s && !seen.has(s)) { seen.add(s); console.log(s); }
    } catch { /* skipped */ }
  }
}
