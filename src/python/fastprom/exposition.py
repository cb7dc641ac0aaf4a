"""Rendering a segment through the C renderer, and the ways
prometheus_client serves or ships an exposition, for apps that are not
behind nginx + fastprom-fcgi, batch jobs and tests.

generate_latest() renders the whole segment -- every process's metrics --
in Prometheus text 0.0.4, as prometheus_client.generate_latest() does for
its registry. render() also does OpenMetrics and fastprom's JSON.

make_wsgi_app(), make_asgi_app(), MetricsHandler and start_http_server() /
start_wsgi_server() answer as prometheus_client 0.16's do: OpenMetrics when
the Accept header lists application/openmetrics-text, gzip when
Accept-Encoding allows it (unless disable_compression), only the families
named by ?name[]=... when given. write_to_textfile() writes atomically for
node_exporter's textfile collector.
"""
import gzip
import os
import socket
import threading
from http.server import BaseHTTPRequestHandler
from socketserver import ThreadingMixIn
from urllib.parse import parse_qs, urlparse
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from . import _native
from .registry import REGISTRY, CollectorRegistry

_FORMATS = {
    "text": _native.FORMAT_TEXT,
    "openmetrics": _native.FORMAT_OPENMETRICS,
    "json": _native.FORMAT_JSON,
}

CONTENT_TYPE_LATEST = _native.content_type(_native.FORMAT_TEXT)
CONTENT_TYPE_OPENMETRICS = _native.content_type(_native.FORMAT_OPENMETRICS)
CONTENT_TYPE_JSON = _native.content_type(_native.FORMAT_JSON)


def content_type(fmt):
    return _native.content_type(_format_code(fmt))


def _format_code(fmt):
    try:
        return _FORMATS[fmt]
    except KeyError:
        raise ValueError(f"fastprom: unknown format {fmt!r}; use one of {', '.join(_FORMATS)}") from None


def render(fmt="text", registry=REGISTRY, names=None, prefix=None, created=False):
    """The segment as bytes in fmt ('text', 'openmetrics' or 'json').
    names: only families with one of these family or sample names.
    prefix: prepended to every family name. created: OpenMetrics _created."""
    code = _format_code(fmt)
    if not isinstance(registry, CollectorRegistry):
        return _render_collector(registry, fmt)
    flags = _native.RENDER_CREATED if created else 0
    return registry._render(fmt, code, list(names) if names else None, prefix or None, flags)


def _render_collector(registry, fmt):
    """Anything else with collect() (a restricted_registry(), a
    prometheus_client registry): rendered by prometheus_client, as there."""
    if fmt == "json":
        raise ValueError(f"fastprom: the JSON view is for fastprom registries, not {registry!r}")
    if fmt == "openmetrics":
        from prometheus_client.openmetrics.exposition import generate_latest as latest
    else:
        from prometheus_client.exposition import generate_latest as latest
    return latest(registry)


def generate_latest(registry=REGISTRY):
    """The segment in Prometheus text format 0.0.4, as bytes."""
    return render("text", registry)


# ---- answering a scrape ------------------------------------------------------

def choose_format(accept_header):
    """'openmetrics' when the Accept header lists that media type (as
    prometheus_client's choose_encoder decides), else 'text'."""
    for accepted in (accept_header or "").split(","):
        if accepted.split(";")[0].strip() == "application/openmetrics-text":
            return "openmetrics"
    return "text"


def gzip_accepted(accept_encoding_header):
    for accepted in (accept_encoding_header or "").split(","):
        if accepted.split(";")[0].strip().lower() == "gzip":
            return True
    return False


def _bake_output(registry, accept, accept_encoding, params, disable_compression):
    """(status, headers, body) of a scrape answer; params is parse_qs() of
    the query string."""
    fmt = choose_format(accept)
    body = render(fmt, registry, names=params.get("name[]"))
    headers = [("Content-Type", content_type(fmt))]
    if not disable_compression and gzip_accepted(accept_encoding):
        body = gzip.compress(body, compresslevel=6)  # 9 costs much more time for a few bytes
        headers.append(("Content-Encoding", "gzip"))
    headers.append(("Content-Length", str(len(body))))
    return "200 OK", headers, body


def make_wsgi_app(registry=REGISTRY, disable_compression=False):
    """A WSGI app answering with the segment (negotiated as the module
    docstring says). Behind nginx, fastprom-fcgi serves /metrics and this
    is not needed."""

    def metrics_app(environ, start_response):
        if environ.get("PATH_INFO") == "/favicon.ico":  # browsers ask; prometheus_client answers empty
            start_response("200 OK", [("Content-Length", "0")])
            return [b""]
        status, headers, body = _bake_output(registry, environ.get("HTTP_ACCEPT"),
                                             environ.get("HTTP_ACCEPT_ENCODING"),
                                             parse_qs(environ.get("QUERY_STRING", "")), disable_compression)
        start_response(status, headers)
        return [body]

    return metrics_app


def make_asgi_app(registry=REGISTRY, disable_compression=False):
    """The ASGI twin of make_wsgi_app."""

    async def metrics_app(scope, receive, send):
        if scope["type"] != "http":
            return
        request = {}
        for k, v in scope.get("headers", ()):
            k, v = k.decode("latin-1").lower(), v.decode("latin-1")
            request[k] = request[k] + "," + v if k in request else v  # repeated headers are one list
        params = parse_qs(scope.get("query_string", b"").decode("latin-1"))
        status, headers, body = _bake_output(registry, request.get("accept"), request.get("accept-encoding"),
                                             params, disable_compression)
        await send({"type": "http.response.start", "status": int(status[:3]),
                    "headers": [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers]})
        await send({"type": "http.response.body", "body": body})

    return metrics_app


class MetricsHandler(BaseHTTPRequestHandler):
    """http.server handler answering GET with the segment of `registry`
    (REGISTRY; MetricsHandler.factory(registry) makes one for another)."""
    registry = REGISTRY

    def do_GET(self):  # noqa: N802 - http.server's name
        status, headers, body = _bake_output(self.registry, self.headers.get("Accept"),
                                             self.headers.get("Accept-Encoding"),
                                             parse_qs(urlparse(self.path).query), False)
        self.send_response(int(status[:3]))
        for name, value in headers:
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format, *args):  # noqa: A002 - http.server's signature
        """Scrapes are not logged."""

    @classmethod
    def factory(cls, registry):
        """A subclass serving registry."""
        return type(cls.__name__, (cls,), {"registry": registry})


class _QuietWSGIRequestHandler(WSGIRequestHandler):
    def log_message(self, format, *args):  # noqa: A002 - http.server's signature
        """Scrapes are not logged."""


class _ThreadingWSGIServer(ThreadingMixIn, WSGIServer):
    # Request threads are not joined at shutdown: a hung client cannot hold up the app's exit.
    daemon_threads = True


def start_wsgi_server(port, addr="0.0.0.0", registry=REGISTRY):
    """Serves the segment over HTTP on addr:port (any path) from a daemon
    thread, one thread per request, as prometheus_client 0.16 does; returns
    None as it does. An IPv6 addr listens on IPv6."""
    try:
        family, _, _, _, sockaddr = socket.getaddrinfo(addr, port, type=socket.SOCK_STREAM)[0]
        server_class = type("MetricsServer", (_ThreadingWSGIServer,), {"address_family": family})
        httpd = make_server(sockaddr[0], port, make_wsgi_app(registry), server_class,
                            handler_class=_QuietWSGIRequestHandler)
    except OSError as e:
        raise OSError(e.errno, f"fastprom: start_http_server cannot listen on {addr}:{port}: {e.strerror or e}; "
                               "pick a free port, or the address of one of this host's interfaces") from e
    threading.Thread(target=httpd.serve_forever, name=f"fastprom-metrics-http-{port}", daemon=True).start()


start_http_server = start_wsgi_server


def write_to_textfile(path, registry):
    """Writes the segment in text format to path (for node_exporter's
    textfile collector, which wants a name ending in .prom). A reader sees
    the old file or the new one, never a partial one: the text goes to a
    temporary file beside it, renamed over path."""
    tmp = f"{path}.{os.getpid()}.{threading.get_ident()}"
    try:
        with open(tmp, "wb") as f:
            f.write(generate_latest(registry))
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


# ---- reading an exposition back ------------------------------------------------

def _unescape(s):
    out = []
    i = 0
    while i < len(s):
        c = s[i]
        if c == "\\" and i + 1 < len(s):
            nxt = s[i + 1]
            out.append("\n" if nxt == "n" else nxt)
            i += 2
        else:
            out.append(c)
            i += 1
    return "".join(out)


def parse_text(text):
    """Yields (sample name, labels dict, value) from Prometheus text format
    as fastprom renders it (for get_sample_value and tests)."""
    for line in text.splitlines():
        if not line or line[0] == "#":
            continue
        brace = line.find("{")
        if brace < 0:
            name, _, rest = line.partition(" ")
            yield name, {}, float(rest.split(" ")[0])
            continue
        name = line[:brace]
        labels = {}
        i = brace + 1
        while line[i] != "}":
            eq = line.index("=", i)
            key = line[i:eq].lstrip(",")
            j = eq + 2  # past ="
            start = j
            while line[j] != '"':
                j += 2 if line[j] == "\\" else 1
            labels[key] = _unescape(line[start:j])
            i = j + 1
            if line[i] == ",":
                i += 1
        yield name, labels, float(line[i + 1:].strip().split(" ")[0])
