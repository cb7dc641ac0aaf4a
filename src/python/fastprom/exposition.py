"""Rendering a segment through the C renderer, and small WSGI/ASGI apps that
serve it, for apps that are not behind nginx + fastprom-fcgi (and tests).

generate_latest() renders the whole segment -- every process's metrics --
in Prometheus text 0.0.4, as prometheus_client.generate_latest() does for
its registry. render() also does OpenMetrics and fastprom's JSON.
"""
import ctypes

from . import _native
from ._native import lib
from .registry import REGISTRY, raise_error

_FORMATS = {
    "text": _native.FORMAT_TEXT,
    "openmetrics": _native.FORMAT_OPENMETRICS,
    "json": _native.FORMAT_JSON,
}

CONTENT_TYPE_LATEST = lib.fastprom_content_type(_native.FORMAT_TEXT).decode()
CONTENT_TYPE_OPENMETRICS = lib.fastprom_content_type(_native.FORMAT_OPENMETRICS).decode()
CONTENT_TYPE_JSON = lib.fastprom_content_type(_native.FORMAT_JSON).decode()


def content_type(fmt):
    return lib.fastprom_content_type(_format_code(fmt)).decode()


def _format_code(fmt):
    try:
        return _FORMATS[fmt]
    except KeyError:
        raise ValueError(f"fastprom: unknown format {fmt!r}; use one of {', '.join(_FORMATS)}") from None


def render(fmt="text", registry=REGISTRY, names=None, prefix=None, created=False):
    """The segment as bytes in fmt ('text', 'openmetrics' or 'json').
    names: only families with one of these family or sample names.
    prefix: prepended to every family name. created: OpenMetrics _created."""
    opt = _native.RenderOptions(format=_format_code(fmt))
    keep = []
    if names:
        keep = [n.encode("utf-8") for n in names]
        opt.names = (ctypes.c_char_p * len(keep))(*keep)
        opt.nnames = len(keep)
    if prefix:
        keep.append(prefix.encode("utf-8"))
        opt.prefix = keep[-1]
    if created:
        opt.flags |= _native.RENDER_CREATED
    buf = _native.Buf()
    err = _native.Error()
    rc = lib.fastprom_render(registry.handle(), ctypes.byref(opt), ctypes.byref(buf), ctypes.byref(err))
    try:
        if rc:
            raise_error(rc, _native.error_text(err))
        return ctypes.string_at(buf.data, buf.len) if buf.len else b""
    finally:
        lib.fastprom_buf_free(ctypes.byref(buf))


def generate_latest(registry=REGISTRY):
    """The segment in Prometheus text format 0.0.4, as bytes."""
    return render("text", registry)


def _choose(accept_header):
    if accept_header and "application/openmetrics-text" in accept_header:
        return "openmetrics"
    return "text"


def make_wsgi_app(registry=REGISTRY):
    """A WSGI app answering with the segment (OpenMetrics when asked for).
    Behind nginx, fastprom-fcgi serves /metrics and this is not needed."""

    def metrics_app(environ, start_response):
        fmt = _choose(environ.get("HTTP_ACCEPT"))
        body = render(fmt, registry)
        start_response("200 OK", [("Content-Type", content_type(fmt)), ("Content-Length", str(len(body)))])
        return [body]

    return metrics_app


def make_asgi_app(registry=REGISTRY):
    """The ASGI twin of make_wsgi_app."""

    async def metrics_app(scope, receive, send):
        if scope["type"] != "http":
            return
        accept = ""
        for k, v in scope.get("headers", ()):
            if k == b"accept":
                accept = v.decode("latin-1")
        fmt = _choose(accept)
        body = render(fmt, registry)
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", content_type(fmt).encode()),
                                (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})

    return metrics_app


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
