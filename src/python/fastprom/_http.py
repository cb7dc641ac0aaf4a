"""What the WSGI and ASGI middleware share: the four HTTP metrics with the
project's fixed names, label bounding, and the per-request record.

    http_requests_total{method,route,status}              counter
    http_request_duration_seconds{method,route}           histogram
    http_requests_in_progress{method,route}               gauge, livesum
    http_request_exceptions_total{method,route,exception} counter

(each with an optional namespace prefix). Label values stay bounded: route
is the framework's template or one fallback value, method is one of the
standard methods or OTHER, status is the numeric code.

Recording never breaks a request: if the segment refuses a new series
(family limit, segment full) that request's metrics are skipped; the
library counts the drop (fastprom_dropped_series_total on /metrics).
"""
import re

from . import _native
from .metrics import Counter, Gauge, Histogram
from .registry import REGISTRY, structure_lock

DEFAULT_BUCKETS = Histogram.DEFAULT_BUCKETS

STANDARD_METHODS = frozenset(("GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH"))
OTHER_METHOD = "OTHER"
CLIENT_CLOSED = "499"  # nginx's code for "client closed the request"

DEFAULT_LABEL_NAMES = {"method": "method", "route": "route", "status": "status", "exception": "exception"}

_bundles = {}


class HttpMetrics:
    """The four families, created once per (registry, namespace, buckets,
    label names) in a process and shared by every middleware using them."""

    def __init__(self, namespace, buckets, label_names, registry):
        n = dict(DEFAULT_LABEL_NAMES)
        n.update(label_names or {})
        unknown = set(n) - set(DEFAULT_LABEL_NAMES)
        if unknown:
            raise ValueError(f"fastprom: label_names keys must be among {sorted(DEFAULT_LABEL_NAMES)}, "
                             f"not {sorted(unknown)}")
        m, r, s, e = n["method"], n["route"], n["status"], n["exception"]
        self.requests = Counter("http_requests_total", "HTTP requests by method, route template and status.",
                                (m, r, s), namespace=namespace, registry=registry)
        self.duration = Histogram("http_request_duration_seconds",
                                  "HTTP request duration in seconds, to the last byte of the response.",
                                  (m, r), namespace=namespace, registry=registry, buckets=buckets)
        self.in_progress = Gauge("http_requests_in_progress", "HTTP requests being handled now.", (m, r),
                                 namespace=namespace, registry=registry, multiprocess_mode="livesum")
        self.exceptions = Counter("http_request_exceptions_total",
                                  "HTTP requests that raised, by method, route template and exception type.",
                                  (m, r, e), namespace=namespace, registry=registry)
        # Children by label values, one dict lookup per request instead of
        # a labels() call per metric. Bounded: the labels are.
        self._by_route = {}
        self._by_status = {}

    def route_children(self, method, route):
        """(duration child, in-progress child) of (method, route)."""
        key = (method, route)
        pair = self._by_route.get(key)
        if pair is None:
            pair = self._by_route[key] = (self.duration.labels(method, route), self.in_progress.labels(method, route))
        return pair

    def requests_child(self, method, route, status):
        key = (method, route, status)
        child = self._by_status.get(key)
        if child is None:
            child = self._by_status[key] = self.requests.labels(method, route, status)
        return child


def http_metrics(namespace="", buckets=DEFAULT_BUCKETS, label_names=None, registry=REGISTRY):
    key = (registry, namespace, tuple(float(b) for b in buckets), tuple(sorted((label_names or {}).items())))
    with structure_lock():
        bundle = _bundles.get(key)
        if bundle is None:
            bundle = _bundles[key] = HttpMetrics(namespace, buckets, label_names, registry)
        return bundle


def bounded_method(method):
    return method if method in STANDARD_METHODS else OTHER_METHOD


def compile_excluded(excluded_paths):
    """Regexes matched at the start of the request path (re.match)."""
    if isinstance(excluded_paths, str):
        excluded_paths = (excluded_paths,)
    return tuple(re.compile(p) for p in excluded_paths)


def is_excluded(patterns, path):
    for p in patterns:
        if p.match(path):
            return True
    return False


# One request: in progress from set_route() to finish(unmatched, end=None,
# status=None, exception=None), which records it once. In C
# (src/python/native/request.c): it is most of the middleware's cost.
RequestRecord = _native.Request
