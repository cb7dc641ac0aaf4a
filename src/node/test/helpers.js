'use strict';
// What the package's tests share: a fresh segment file per test file (set
// before the package is loaded), and a parser of the text exposition.

const fs = require('fs');
const os = require('os');
const path = require('path');

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'fastprom-node-'));
process.env.FASTPROM_PATH = path.join(tmp, 'segment');
process.on('exit', () => fs.rmSync(tmp, { recursive: true, force: true }));

const ROOT = path.resolve(__dirname, '..', '..', '..');
const BUILD = process.env.FASTPROM_TEST_BUILD || path.join(ROOT, 'build');

function unescape(v) {
  return v.replace(/\\(.)/g, (m, c) => (c === 'n' ? '\n' : c));
}

// [{name, labels, value}] of a text (0.0.4 or OpenMetrics) exposition.
function parse(text) {
  const out = [];
  for (const line of text.split('\n')) {
    if (!line || line[0] === '#') continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)/.exec(line);
    if (!m) throw new Error(`unparsable sample line: ${line}`);
    const labels = {};
    if (m[3]) {
      const re = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)",?/g;
      let l;
      while ((l = re.exec(m[3])) !== null) labels[l[1]] = unescape(l[2]);
    }
    const v = m[4];
    out.push({ name: m[1], labels, value: v === '+Inf' ? Infinity : v === '-Inf' ? -Infinity : Number(v) });
  }
  return out;
}

// The value of one sample, or undefined.
function sample(text, name, labels = {}) {
  const want = JSON.stringify(Object.entries(labels).sort());
  const found = parse(text).find(s => s.name === name && JSON.stringify(Object.entries(s.labels).sort()) === want);
  return found ? found.value : undefined;
}

module.exports = { tmp, ROOT, BUILD, parse, sample };
