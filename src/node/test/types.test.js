'use strict';
// index.d.ts compiles a seed-001 style TypeScript service (test/types/usage.ts)
// with tsc --strict, and refuses the misuse marked @ts-expect-error there.

const { test } = require('node:test');
const assert = require('node:assert');
const path = require('node:path');
const { spawnSync } = require('node:child_process');

test('the TypeScript declarations type-check a prom-client style service', () => {
  const tsc = require.resolve('typescript/bin/tsc');
  const r = spawnSync(process.execPath, [tsc, '-p', path.join(__dirname, 'types', 'tsconfig.json')], {
    encoding: 'utf8', timeout: 120000,
  });
  assert.strictEqual(r.status, 0, r.stdout + r.stderr);
});
