"""WSGI middleware recording the HTTP metrics (see fastprom._http) for any
WSGI app, stdlib only.

    app = fastprom.wsgi.MetricsMiddleware(app, route=my_route_function)
    app.wsgi_app = fastprom.wsgi.MetricsMiddleware(app.wsgi_app, flask_app=app)   # Flask
    fastprom.flask.instrument(app)                                                # the same

Route label: WSGI has no route concept, so it comes from, in order,
 - the framework, through environ["fastprom.request"].set_route(template):
   with flask_app=app, a before_request hook (registered first) reports
   Flask's request.url_rule.rule, the template Flask itself matched;
 - route=callable(environ) -> template or None, called before the app;
 - otherwise group_unmatched ("__unknown__"): 404s, 405s, and every request
   of an app that reports no routes. A raw path never becomes a label.

Timing ends when the server closes the response iterable, i.e. after the
last byte of a streamed response. A close() before the iterable was
exhausted means the client went away: status 499. An exception raised by
the app (or while streaming) counts in http_request_exceptions_total and
gives status 500; with Flask, exceptions Flask turns into a 500 page are
counted too (fastprom.flask hears of them from Flask).

What the server learns from the response iterable stays intact:
 - an instance of the server's wsgi.file_wrapper (Flask's send_file) is
   returned as is, so the server still recognises it and uses sendfile();
   its close() is replaced by one that records the request after closing
   (a file sent by sendfile cannot tell a client that went away: no 499);
 - a sized iterable (a list) stays sized, so the server can still set
   Content-Length from a one-element body.
"""
from time import perf_counter

from ._http import (
    CLIENT_CLOSED, DEFAULT_BUCKETS, RequestRecord, bounded_method, compile_excluded, http_metrics, is_excluded,
)
from .registry import REGISTRY

ENVIRON_KEY = "fastprom.request"


class MetricsMiddleware:
    def __init__(self, app, *, namespace="", buckets=DEFAULT_BUCKETS, excluded_paths=(),
                 group_unmatched="__unknown__", label_names=None, route=None, flask_app=None, registry=REGISTRY):
        self.app = app
        self.metrics = http_metrics(namespace, buckets, label_names, registry)
        self.excluded = compile_excluded(excluded_paths)
        self.group_unmatched = group_unmatched
        self.route = route
        if flask_app is not None:
            from .flask import install_hooks
            install_hooks(flask_app)

    def __call__(self, environ, start_response):
        if self.excluded and is_excluded(self.excluded, environ.get("PATH_INFO", "")):
            return self.app(environ, start_response)
        record = RequestRecord(self.metrics, bounded_method(environ.get("REQUEST_METHOD", "")))
        environ[ENVIRON_KEY] = record
        if self.route is not None:
            template = self.route(environ)
            if template is not None:
                record.set_route(template)

        def recording_start_response(status, headers, exc_info=None):
            record.status = status[:3]
            return start_response(status, headers, exc_info)

        try:
            body = self.app(environ, recording_start_response)
        except BaseException as e:
            record.finish(self.group_unmatched, exception=e)
            raise
        file_wrapper = environ.get("wsgi.file_wrapper")
        if isinstance(file_wrapper, type) and isinstance(body, file_wrapper) and \
                _record_on_close(body, record, self.group_unmatched):
            return body
        if hasattr(body, "__len__"):
            return _SizedRecordedBody(body, record, self.group_unmatched)
        return _RecordedBody(body, record, self.group_unmatched)


def _record_on_close(body, record, unmatched):
    """Makes body.close() record the request; False if body takes no new
    attribute (then it gets wrapped like any iterable)."""
    close_body = getattr(body, "close", None)

    def close():
        end = perf_counter()
        try:
            if close_body is not None:
                close_body()
        finally:
            record.finish(unmatched, end=end)

    try:
        body.close = close
    except AttributeError:
        return False
    return True


class _RecordedBody:
    """The app's response iterable; records the request when the server
    closes it."""
    __slots__ = ("_body", "_record", "_unmatched", "_exhausted")

    def __init__(self, body, record, unmatched):
        self._body = body
        self._record = record
        self._unmatched = unmatched
        self._exhausted = False

    def __iter__(self):
        try:
            for chunk in self._body:
                yield chunk
        except GeneratorExit:
            raise  # the server stopped iterating: close() records it
        except BaseException as e:
            self._record.finish(self._unmatched, exception=e)
            raise
        self._exhausted = True

    def close(self):
        end = perf_counter()
        try:
            close = getattr(self._body, "close", None)
            if close is not None:
                close()
        finally:
            self._record.finish(self._unmatched, end=end, status=None if self._exhausted else CLIENT_CLOSED)


class _SizedRecordedBody(_RecordedBody):
    """A _RecordedBody whose len() is the wrapped body's."""
    __slots__ = ()

    def __len__(self):
        return len(self._body)
