"""ASGI middleware recording the HTTP metrics (see fastprom._http), stdlib
only; knows Starlette/FastAPI routes without importing them.

    app = fastprom.asgi.MetricsMiddleware(app)              # wrap any ASGI app
    app.add_middleware(fastprom.asgi.MetricsMiddleware)     # Starlette/FastAPI

Route label: the path template of the route that matches the request
("/items/{item_id}"), found by matching the scope against the routes of the
wrapped app, or of scope["app"] (what Starlette sets before user
middleware runs), or of routes= given explicitly; Mount and Host prefixes
are joined. A route that matches the path but not the method (a 405) still
gives its template. Nothing matched: group_unmatched ("__unknown__").

Scopes: "lifespan" passes through untouched; "websocket" passes through
and is not counted (a connection is not a request: count messages in the
app if needed); "http" is recorded:
 - duration ends at the last body message (more_body false), so a
   streaming response is timed to its last byte;
 - a client that disconnects before the response is complete (the app
   received "http.disconnect") is recorded as status 499;
 - an exception leaving the app counts in http_request_exceptions_total
   and gives status 500 unless the response was already complete.
"""
from time import perf_counter

from ._http import (
    CLIENT_CLOSED, DEFAULT_BUCKETS, RequestRecord, bounded_method, compile_excluded, http_metrics, is_excluded,
)
from .registry import REGISTRY

_FULL, _PARTIAL = 2, 1  # starlette.routing.Match values


def route_template(routes, scope):
    """The template of the route matching scope, or None."""
    partial = None
    for route in routes:
        match, child = route.matches(scope)
        value = match.value
        if value == _FULL:
            prefix = getattr(route, "path", "")
            inner_routes = getattr(route, "routes", None)
            if inner_routes:
                inner = route_template(inner_routes, {**scope, **child})
                if inner is not None:
                    return prefix + inner
            return prefix or None
        if value == _PARTIAL and partial is None:
            partial = getattr(route, "path", None)
    return partial


class MetricsMiddleware:
    def __init__(self, app, *, namespace="", buckets=DEFAULT_BUCKETS, excluded_paths=(),
                 group_unmatched="__unknown__", label_names=None, routes=None, registry=REGISTRY):
        self.app = app
        self.metrics = http_metrics(namespace, buckets, label_names, registry)
        self.excluded = compile_excluded(excluded_paths)
        self.group_unmatched = group_unmatched
        self.routes = routes
        self._app_routes = None  # the wrapped app's own route list, once seen

    def _routes(self, scope):
        if self.routes is not None:
            return self.routes
        # A router's list grows in place when routes are added: once found,
        # the same list object stays current.
        routes = self._app_routes
        if routes is None:
            routes = self._app_routes = getattr(self.app, "routes", None)
            if routes is None:
                routes = getattr(scope.get("app"), "routes", None)
        return routes or ()

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or (self.excluded and is_excluded(self.excluded, scope.get("path", ""))):
            await self.app(scope, receive, send)
            return
        record = RequestRecord(self.metrics, bounded_method(scope.get("method", "")))
        template = route_template(self._routes(scope), scope)
        if template is not None:
            record.set_route(template)
        state = _Exchange()

        async def recording_receive():
            message = await receive()
            if message["type"] == "http.disconnect" and state.end is None:
                state.disconnected = True
            return message

        async def recording_send(message):
            kind = message["type"]
            if kind == "http.response.start":
                record.status = str(message["status"])
            elif kind == "http.response.body" and not message.get("more_body", False):
                state.end = perf_counter()
            await send(message)

        try:
            await self.app(scope, recording_receive, recording_send)
        except BaseException as e:
            complete = state.end is not None
            record.finish(self.group_unmatched, end=state.end,
                          status=(record.status if complete else CLIENT_CLOSED if state.disconnected else "500"),
                          exception=e)
            raise
        if state.end is None and state.disconnected:
            record.finish(self.group_unmatched, status=CLIENT_CLOSED)
        else:
            record.finish(self.group_unmatched, end=state.end)


class _Exchange:
    __slots__ = ("end", "disconnected")

    def __init__(self):
        self.end = None
        self.disconnected = False
