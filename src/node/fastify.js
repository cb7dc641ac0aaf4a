'use strict';
// Fastify plugin recording the HTTP metrics of lib/http.js.
//
//     await app.register(require('fastprom/fastify'), { excludedPaths: ['/health'] });
//
// route: the URL template of the matched route (request.routeOptions.url,
// "/users/:id", with the prefixes of the plugins it was registered in);
// unmatched requests (404) get groupUnmatched ("__unknown__"). Fastify routes
// before its hooks run, so the request is in progress from onRequest;
// duration ends at onResponse; errors the route raised (onError) count in
// http_request_exceptions_total; a request the client aborted is status 499.
// Registered without encapsulation, so it sees every route of the app.
//
// Options: as the Express middleware's (namespace, buckets, excludedPaths,
// groupUnmatched, labelNames, registry).

const { RequestRecord, boundedMethod, isExcluded, options: parse, CLIENT_CLOSED } = require('./lib/http');

const RECORD = Symbol('fastprom.request');

function template(request) {
  const o = request.routeOptions;
  const url = o ? o.url : request.routerPath;
  return url === undefined || url === null || url === '' ? null : url;
}

function pathOf(url) {
  const q = url.indexOf('?');
  return q < 0 ? url : url.slice(0, q);
}

function fastpromPlugin(fastify, opts, done) {
  const { metrics, excluded, unmatched } = parse(opts);
  fastify.addHook('onRequest', (request, reply, next) => {
    if (!excluded.length || !isExcluded(excluded, pathOf(request.url))) {
      const record = new RequestRecord(metrics, boundedMethod(request.method));
      const t = template(request);
      if (t !== null && !reply.is404) record.setRoute(t);
      request[RECORD] = record;
    }
    next();
  });
  fastify.addHook('onError', (request, reply, error, next) => {
    const record = request[RECORD];
    if (record && !record.exception) record.exception = error;
    next();
  });
  fastify.addHook('onResponse', (request, reply, next) => {
    const record = request[RECORD];
    if (record) record.finish(unmatched, reply.statusCode);
    next();
  });
  if (typeof fastify.addHook === 'function') {
    try {
      fastify.addHook('onRequestAbort', (request, next) => {
        const record = request[RECORD];
        if (record) record.finish(unmatched, CLIENT_CLOSED);
        next();
      });
    } catch (e) {
      // Fastify before 4.21 has no onRequestAbort: aborted requests end at onResponse.
    }
  }
  done();
}

// fastify-plugin's markers, without depending on it: no encapsulation.
fastpromPlugin[Symbol.for('skip-override')] = true;
fastpromPlugin[Symbol.for('fastify.display-name')] = 'fastprom';
fastpromPlugin[Symbol.for('plugin-meta')] = { name: 'fastprom', fastify: '>=4' };

module.exports = fastpromPlugin;
module.exports.default = fastpromPlugin;
module.exports.fastpromPlugin = fastpromPlugin;
