'use strict';
// Express middleware recording the HTTP metrics of lib/http.js.
//
//     const fastpromExpress = require('fastprom/express');
//     app.use(fastpromExpress());                  // first, before the routes
//     ... routes ...
//     app.use(fastpromExpress.errorHandler());     // last: counts exceptions, then passes them on
//
// route: the template of the route Express matched, with the mount paths of
// the routers above it ("/api/users/:id"); requests no route matched (404s,
// static files served by middleware) get groupUnmatched ("__unknown__").
// The request counts as in progress from the moment Express picks its route.
// Timing ends when the response's last byte is handed to the OS ('finish');
// a connection closed before that is status 499.
//
// Options: namespace, buckets, excludedPaths (regular expressions matched at
// the start of the path), groupUnmatched, labelNames ({route: 'handler'}),
// registry.

const { RequestRecord, boundedMethod, isExcluded, options: parse, CLIENT_CLOSED } = require('./lib/http');

const RECORD = Symbol('fastprom.request');

function routeTemplate(req, route) {
  const p = route && route.path;
  if (p === undefined || p === null) return null;
  return (req.baseUrl || '') + (typeof p === 'string' ? p : String(p));
}

function metricsMiddleware(opts) {
  const { metrics, excluded, unmatched } = parse(opts);
  return function fastpromMetrics(req, res, next) {
    if (excluded.length && isExcluded(excluded, req.path)) return next();
    const record = new RequestRecord(metrics, boundedMethod(req.method));
    req[RECORD] = record;
    // Express assigns req.route when it dispatches to a matched route: the
    // moment the template is known, whatever middleware runs before it.
    let route = req.route;
    Object.defineProperty(req, 'route', {
      configurable: true,
      enumerable: true,
      get() {
        return route;
      },
      set(value) {
        route = value;
        const template = routeTemplate(req, value);
        if (template !== null) record.setRoute(template);
      },
    });
    res.once('finish', () => record.finish(unmatched, res.statusCode));
    res.once('close', () => {
      if (!res.writableFinished) record.finish(unmatched, CLIENT_CLOSED);
    });
    next();
  };
}

// An error middleware, installed after the routes: notes the exception's
// type for http_request_exceptions_total and hands the error on unchanged.
function errorHandler() {
  return function fastpromErrors(err, req, res, next) {
    const record = req[RECORD];
    if (record && !record.exception) record.exception = err;
    next(err);
  };
}

module.exports = metricsMiddleware;
module.exports.metricsMiddleware = metricsMiddleware;
module.exports.errorHandler = errorHandler;
