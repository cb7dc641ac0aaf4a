'use strict';
// An Express service on node:cluster, instrumented with fastprom: the
// metrics middleware, the app's own counter, default metrics -- every worker
// writes the shared segment, nginx sends /metrics to fastprom-fcgi, so the
// app has no /metrics route and the primary runs no aggregation.
//
//     FASTPROM_PATH=/dev/shm/fastprom WORKERS=4 PORT=3000 node src/node/examples/express-app.js
//
// A worker that dies is replaced. /test/hold/:name answers only when the
// process ends (it writes its pid to $HOLD_DIR/<name>.pid): for tests.

const cluster = require('node:cluster');
const fs = require('node:fs');
const path = require('node:path');

const WORKERS = Number(process.env.WORKERS || 1);
const PORT = Number(process.env.PORT || 3000);

if (cluster.isPrimary && WORKERS > 1) {
  for (let i = 0; i < WORKERS; i++) cluster.fork();
  let stopping = false;
  cluster.on('exit', () => {
    if (!stopping) cluster.fork();
  });
  process.on('SIGTERM', () => {
    stopping = true;
    for (const w of Object.values(cluster.workers)) w.process.kill('SIGTERM');
    setTimeout(() => process.exit(0), 2000).unref();
  });
} else {
  const express = require('express');
  const client = require('..');
  const fastpromExpress = require('../express');

  client.collectDefaultMetrics();
  const orders = new client.Counter({ name: 'shop_orders_total', help: 'Orders placed.', labelNames: ['kind'] });

  const app = express();
  app.use(fastpromExpress({ excludedPaths: ['/health'] }));
  app.get('/health', (req, res) => res.send('ok'));
  app.get('/api/users/:id/profile', (req, res) => res.json({ id: req.params.id }));
  app.get('/api/orders/:id', (req, res) => res.json({ order: req.params.id }));
  app.post('/api/orders', (req, res) => {
    orders.inc({ kind: 'web' });
    res.status(201).json({ ok: true });
  });
  app.get('/api/boom', () => {
    throw new RangeError('boom');
  });
  app.get('/test/hold/:name', (req) => {
    fs.writeFileSync(path.join(process.env.HOLD_DIR || '/tmp', `${req.params.name}.pid`), String(process.pid));
  });
  app.use(fastpromExpress.errorHandler());
  app.use((err, req, res, next) => res.status(500).send('failed')); // eslint-disable-line no-unused-vars
  const server = app.listen(PORT, '127.0.0.1');
  process.on('SIGTERM', () => server.close(() => process.exit(0)));
}
