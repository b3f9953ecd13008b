// The Prometheus text exposition format (0.0.4), parsed strictly: for tests that read /metrics.
import assert from 'node:assert/strict';

/**
 * Parses Prometheus text format 0.0.4 strictly enough to fail on a malformed line: HELP and TYPE lines
 * by name, samples as {name, labels, value}. `get` finds one sample by its exact label set, `sum` adds
 * those whose labels include the given ones.
 */
export function parseExposition(text) {
  const help = new Map(), type = new Map(), samples = [];
  const lines = text.split('\n');
  assert.equal(lines.at(-1), '', 'the exposition must end with a newline');
  for (const [i, line] of lines.entries()) {
    if (line === '') continue;
    if (line.startsWith('#')) {
      const m = /^# (HELP|TYPE) ([a-zA-Z_:][a-zA-Z0-9_:]*) (.*)$/.exec(line);
      if (m) (m[1] === 'HELP' ? help : type).set(m[2], m[3]);
      continue;
    }
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    assert.ok(m, `line ${i + 1} is not a sample: ${JSON.stringify(line)}`);
    const labels = {};
    if (m[2]) {
      const re = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"(,|$)/y;
      let l;
      while (re.lastIndex < m[2].length && (l = re.exec(m[2]))) {
        assert.ok(!(l[1] in labels), `line ${i + 1}: label ${l[1]} twice`);
        labels[l[1]] = l[2].replace(/\\(.)/g, (_, c) => (c === 'n' ? '\n' : c));
      }
      assert.equal(re.lastIndex, m[2].length, `line ${i + 1}: bad labels ${m[2]}`);
    }
    const value = { '+Inf': Infinity, '-Inf': -Infinity, NaN }[m[3]] ?? Number(m[3]);
    assert.ok(m[3] === 'NaN' || !Number.isNaN(value), `line ${i + 1}: bad value ${m[3]}`);
    samples.push({ name: m[1], labels, value });
  }
  const same = (a, b) => Object.keys(a).length === Object.keys(b).length && Object.entries(b).every(([k, v]) => a[k] === v);
  return {
    help, type, samples,
    get(name, labels = {}) {
      const found = samples.filter((s) => s.name === name && same(s.labels, labels));
      assert.equal(found.length, 1, `${name}${JSON.stringify(labels)}: ${found.length} samples`);
      return found[0].value;
    },
    sum(name, labels = {}) {
      return samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))
        .reduce((a, s) => a + s.value, 0);
    },
    series(name) { return samples.filter((s) => s.name === name); },
  };
}
