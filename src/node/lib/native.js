'use strict';
// Finds and loads the C addon (fastprom.node, which contains libfastprom).
//
// Order, first that loads wins:
//   1. $FASTPROM_NODE_ADDON           an explicit path; if it fails, nothing else is tried
//   2. <package>/fastprom.node         beside the package (make install puts it there)
//   3. <checkout>/build/node/fastprom.node   the package used from a built source tree
//   4. the path lib/paths.json names   written by make install, for copies of the package
// When none loads, the error lists every path tried and why.

const fs = require('fs');
const path = require('path');

const PACKAGE_DIR = path.resolve(__dirname, '..');

function candidates() {
  const out = [];
  const env = process.env.FASTPROM_NODE_ADDON;
  if (env) out.push({ where: '$FASTPROM_NODE_ADDON', file: path.resolve(env), explicit: true });
  out.push({ where: 'beside the package', file: path.join(PACKAGE_DIR, 'fastprom.node') });
  out.push({ where: "the checkout's build/", file: path.join(PACKAGE_DIR, '..', '..', 'build', 'node', 'fastprom.node') });
  const paths = path.join(__dirname, 'paths.json');
  let installed = null;
  try {
    installed = JSON.parse(fs.readFileSync(paths, 'utf8')).addon || null;
  } catch (e) {
    out.push({ where: 'the install location', file: null, why: `no ${paths} (written by make install)` });
  }
  if (installed) out.push({ where: 'the install location (lib/paths.json)', file: installed });
  return out;
}

function load() {
  const tried = [];
  for (const c of candidates()) {
    if (!c.file) {
      tried.push(`${c.where}: ${c.why}`);
      continue;
    }
    if (!fs.existsSync(c.file)) {
      tried.push(`${c.where}: ${c.file} does not exist`);
      if (c.explicit) break;
      continue;
    }
    try {
      const addon = require(c.file);
      addon.file = c.file;
      return addon;
    } catch (e) {
      tried.push(`${c.where}: ${c.file}: ${e.message.split('\n')[0]}`);
      if (c.explicit) break; // an explicit choice that fails must not silently fall back
    }
  }
  const err = new Error(
    'fastprom: cannot load the native addon fastprom.node. Tried: ' + tried.join('; ') +
      '. Build it with `make` in the fastprom source tree, install it with `make install`, ' +
      'or set FASTPROM_NODE_ADDON=/path/to/fastprom.node');
  err.code = 'FASTPROM_NO_ADDON';
  throw err;
}

module.exports = load();
