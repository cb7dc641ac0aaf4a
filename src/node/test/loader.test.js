'use strict';
// The addon loader's order and its error: every path tried, and why.

const { test } = require('node:test');
const assert = require('node:assert');
const fs = require('node:fs');
const path = require('node:path');
const { spawnSync } = require('node:child_process');
const { tmp } = require('./helpers');

const PKG = path.resolve(__dirname, '..');

function load(dir, env) {
  return spawnSync(process.execPath, ['-e', `try { console.log(require(${JSON.stringify(dir)}).addonPath) } ` +
    'catch (e) { console.log(e.code); console.log(e.message); process.exit(3) }'],
  { env: Object.assign({}, process.env, env), encoding: 'utf8', timeout: 30000 });
}

test('an explicit FASTPROM_NODE_ADDON that fails is not silently replaced', () => {
  const r = load(PKG, { FASTPROM_NODE_ADDON: path.join(tmp, 'missing.node') });
  assert.strictEqual(r.status, 3, r.stderr);
  assert.match(r.stdout, /^FASTPROM_NO_ADDON$/m);
  assert.match(r.stdout, /\$FASTPROM_NODE_ADDON: .*missing\.node does not exist/);
  assert.doesNotMatch(r.stdout, /beside the package/);
});

test("a copy of the package with no addon: the error lists every place, then make install's path works", () => {
  const copy = path.join(tmp, 'copy', 'fastprom');
  fs.mkdirSync(path.join(copy, 'lib'), { recursive: true });
  for (const f of ['index.js', 'package.json']) fs.copyFileSync(path.join(PKG, f), path.join(copy, f));
  for (const f of fs.readdirSync(path.join(PKG, 'lib'))) {
    if (f.endsWith('.js')) fs.copyFileSync(path.join(PKG, 'lib', f), path.join(copy, 'lib', f));
  }
  const env = { FASTPROM_NODE_ADDON: '' };
  let r = load(copy, env);
  assert.strictEqual(r.status, 3, r.stderr);
  assert.match(r.stdout, /beside the package: .*copy\/fastprom\/fastprom\.node does not exist/);
  assert.match(r.stdout, /the checkout's build\/: .* does not exist/);
  assert.match(r.stdout, /the install location: no .*paths\.json \(written by make install\)/);
  assert.match(r.stdout, /make install/);
  const built = require('../lib/native').file;
  fs.writeFileSync(path.join(copy, 'lib', 'paths.json'), JSON.stringify({ addon: built }));
  r = load(copy, env);
  assert.strictEqual(r.status, 0, r.stdout + r.stderr);
  assert.strictEqual(r.stdout.trim(), built);
  fs.copyFileSync(built, path.join(copy, 'fastprom.node'));
  r = load(copy, env);
  assert.strictEqual(r.stdout.trim(), path.join(copy, 'fastprom.node'), 'beside the package comes first');
});
