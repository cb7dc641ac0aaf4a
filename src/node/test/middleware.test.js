'use strict';
// The Express middleware and the Fastify plugin on real servers: route
// templates (never raw URLs), unmatched requests, exclusions, in-progress,
// exceptions, the Python middleware's families.

const { test } = require('node:test');
const assert = require('node:assert');
const http = require('node:http');
const { sample, parse } = require('./helpers');
const client = require('..');
const express = require('express');
const Fastify = require('fastify');
const fastpromExpress = require('../express');
const fastpromFastify = require('../fastify');

function get(port, path, method = 'GET') {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path, method }, res => {
      res.resume();
      res.on('end', () => resolve(res.statusCode));
    });
    req.on('error', reject);
    req.end();
  });
}

function listen(server) {
  return new Promise(resolve => server.listen(0, '127.0.0.1', () => resolve(server.address().port)));
}

test('express: route templates, routers, 404s, errors, exclusions, in-progress', async () => {
  const reg = new client.Registry(undefined, { private: true });
  const app = express();
  app.use(fastpromExpress({ registry: reg, excludedPaths: ['/health'], namespace: 'ex' }));
  let release;
  const held = new Promise(r => { release = r; });
  app.get('/users/:id', (req, res) => res.send('user'));
  app.get('/health', (req, res) => res.send('ok'));
  app.get('/hold', async (req, res) => { await held; res.send('done'); });
  app.get('/boom', () => { throw new RangeError('boom'); });
  const router = express.Router();
  router.post('/items/:item/tags', (req, res) => res.status(201).send('made'));
  app.use('/api', router);
  app.use(fastpromExpress.errorHandler());
  app.use((err, req, res, next) => res.status(500).send('failed')); // eslint-disable-line no-unused-vars
  const server = http.createServer(app);
  const port = await listen(server);
  try {
    for (let i = 0; i < 5; i++) assert.strictEqual(await get(port, `/users/${i}?x=${i}`), 200);
    assert.strictEqual(await get(port, '/api/items/7/tags', 'POST'), 201);
    assert.strictEqual(await get(port, '/nowhere/123'), 404);
    assert.strictEqual(await get(port, '/boom'), 500);
    assert.strictEqual(await get(port, '/health'), 200);
    assert.strictEqual(await get(port, '/users/1', 'PROPFIND'), 404);
    const holding = get(port, '/hold');
    for (let i = 0; i < 100 && sample(await reg.metrics(), 'ex_http_requests_in_progress', { method: 'GET', route: '/hold' }) !== 1; i++) {
      await new Promise(r => setTimeout(r, 10));
    }
    let text = await reg.metrics();
    assert.strictEqual(sample(text, 'ex_http_requests_in_progress', { method: 'GET', route: '/hold' }), 1);
    release();
    assert.strictEqual(await holding, 200);
    text = await reg.metrics();
    assert.strictEqual(sample(text, 'ex_http_requests_total', { method: 'GET', route: '/users/:id', status: '200' }), 5);
    assert.strictEqual(sample(text, 'ex_http_requests_total', { method: 'POST', route: '/api/items/:item/tags', status: '201' }), 1);
    assert.strictEqual(sample(text, 'ex_http_requests_total', { method: 'GET', route: '__unknown__', status: '404' }), 1);
    assert.strictEqual(sample(text, 'ex_http_requests_total', { method: 'OTHER', route: '__unknown__', status: '404' }), 1);
    assert.strictEqual(sample(text, 'ex_http_requests_total', { method: 'GET', route: '/boom', status: '500' }), 1);
    assert.strictEqual(sample(text, 'ex_http_request_exceptions_total', { method: 'GET', route: '/boom', exception: 'RangeError' }), 1);
    assert.strictEqual(sample(text, 'ex_http_request_duration_seconds_count', { method: 'GET', route: '/users/:id' }), 5);
    assert.strictEqual(sample(text, 'ex_http_requests_in_progress', { method: 'GET', route: '/hold' }), 0);
    const routes = new Set(parse(text).filter(s => s.name === 'ex_http_requests_total').map(s => s.labels.route));
    assert.deepStrictEqual([...routes].sort(), ['/api/items/:item/tags', '/boom', '/hold', '/users/:id', '__unknown__']);
    assert.ok(!/health/.test(text), 'excluded paths are not recorded');
    const buckets = parse(text).filter(s => s.name === 'ex_http_request_duration_seconds_bucket' && s.labels.route === '/boom');
    assert.strictEqual(buckets.length, 15, "the Python middleware's 14 buckets and +Inf");
  } finally {
    server.close();
  }
});

test('express: a client that goes away before the response is 499', async () => {
  const reg = new client.Registry(undefined, { private: true });
  const app = express();
  app.use(fastpromExpress({ registry: reg, namespace: 'gone' }));
  app.get('/slow', (req, res) => setTimeout(() => res.send('late'), 300));
  const server = http.createServer(app);
  const port = await listen(server);
  try {
    await new Promise(resolve => {
      const req = http.request({ host: '127.0.0.1', port, path: '/slow' });
      req.on('error', () => resolve());
      req.end();
      setTimeout(() => { req.destroy(); resolve(); }, 50);
    });
    let v;
    for (let i = 0; i < 100 && v === undefined; i++) {
      await new Promise(r => setTimeout(r, 10));
      v = sample(await reg.metrics(), 'gone_http_requests_total', { method: 'GET', route: '/slow', status: '499' });
    }
    assert.strictEqual(v, 1);
  } finally {
    server.close();
  }
});

test('fastify: URL templates with prefixes, 404s, errors, exclusions', async () => {
  const reg = new client.Registry(undefined, { private: true });
  const app = Fastify();
  await app.register(fastpromFastify, { registry: reg, excludedPaths: ['/health'], namespace: 'fy' });
  app.get('/users/:id', async () => 'user');
  app.get('/health', async () => 'ok');
  app.get('/boom', async () => { throw new TypeError('bad'); });
  await app.register(async scope => {
    scope.post('/items/:item', async (req, reply) => reply.code(201).send('made'));
  }, { prefix: '/api' });
  await app.listen({ port: 0, host: '127.0.0.1' });
  const port = app.server.address().port;
  try {
    for (let i = 0; i < 4; i++) assert.strictEqual(await get(port, `/users/${i}`), 200);
    assert.strictEqual(await get(port, '/api/items/3', 'POST'), 201);
    assert.strictEqual(await get(port, '/missing/9'), 404);
    assert.strictEqual(await get(port, '/boom'), 500);
    assert.strictEqual(await get(port, '/health'), 200);
    const text = await reg.metrics();
    assert.strictEqual(sample(text, 'fy_http_requests_total', { method: 'GET', route: '/users/:id', status: '200' }), 4);
    assert.strictEqual(sample(text, 'fy_http_requests_total', { method: 'POST', route: '/api/items/:item', status: '201' }), 1);
    assert.strictEqual(sample(text, 'fy_http_requests_total', { method: 'GET', route: '__unknown__', status: '404' }), 1);
    assert.strictEqual(sample(text, 'fy_http_requests_total', { method: 'GET', route: '/boom', status: '500' }), 1);
    assert.strictEqual(sample(text, 'fy_http_request_exceptions_total', { method: 'GET', route: '/boom', exception: 'TypeError' }), 1);
    assert.strictEqual(sample(text, 'fy_http_requests_in_progress', { method: 'GET', route: '/users/:id' }), 0);
    assert.ok(!/health/.test(text));
  } finally {
    await app.close();
  }
});
