"""fastprom: prometheus_client's API, recorded in one shared-memory segment
that every process of the app writes to and fastprom-fcgi serves.

Switch an app by changing its import:

    from fastprom import Counter, Histogram     # was: from prometheus_client

Metrics go to the segment at $FASTPROM_PATH (default /dev/shm/fastprom);
nginx sends /metrics to fastprom-fcgi, so the app needs no /metrics route,
no PROMETHEUS_MULTIPROC_DIR and no files to wipe. Web middleware:
fastprom.wsgi.MetricsMiddleware, fastprom.flask.instrument,
fastprom.asgi.MetricsMiddleware. Differences of the metrics from
prometheus_client's are listed in fastprom.metrics' docstring.

The rest of prometheus_client 0.16's top-level API, and where it stands:
 - Serving without fastprom-fcgi works as there: make_wsgi_app and
   make_asgi_app (registry, disable_compression), MetricsHandler,
   start_http_server / start_wsgi_server (a daemon thread; returns None),
   with the same content negotiation (OpenMetrics on Accept, gzip on
   Accept-Encoding, ?name[]= filter). They show the registry's whole
   segment, i.e. every process's metrics.
 - write_to_textfile (atomic: temporary file, then rename) and
   push_to_gateway / pushadd_to_gateway / delete_from_gateway /
   instance_ip_grouping_key (fastprom.push) work as there, on the rendered
   segment.
 - fastprom.core holds the prometheus_client.core names fastprom has;
   fastprom.multiprocess the multiprocess-mode entry points (no-ops here).
 - Custom collectors (Metric, the *MetricFamily classes, Sample, ...:
   prometheus_client's own classes, re-exported), registry.collect(),
   restricted_registry() and Gauge.set_function() work in-process as
   there, and reach fastprom-fcgi through a sampling thread (see
   fastprom.collectors).
 - Not available: ProcessCollector, PlatformCollector, GCCollector (they
   read the scraped process; fastprom-fcgi reports its own). Importing one
   raises an ImportError that says what to do instead.

libfastprom comes with the package's C extension, fastprom._native (the
library linked in): installed next to this file by `make install`, or, in
a source tree, built by `make` into build/python/fastprom/ ($FASTPROM_BUILD
names another build directory, e.g. build-asan).
"""
import os as _os

from ._compat import missing_name


def _extension_dirs():
    """Where fastprom._native may be besides this package's directory."""
    here = _os.path.dirname(_os.path.abspath(__file__))
    tree = _os.path.normpath(_os.path.join(here, "..", "..", ".."))
    build = _os.environ.get("FASTPROM_BUILD") or _os.path.join(tree, "build")
    return [_os.path.join(build, "python", "fastprom")]


__path__.extend(d for d in _extension_dirs() if d not in __path__)  # noqa: F821 - the package's own
try:
    from . import _native
except ImportError as _e:
    raise ImportError(
        f"fastprom: cannot import its C extension fastprom._native ({_e}). Searched: {', '.join(__path__)}. "  # noqa: F821
        "Build it with `make` in the fastprom tree (it needs python3-dev), install it with `make install`, "
        "or set FASTPROM_BUILD to the build directory.", name="fastprom._native") from None
LIBRARY_VERSION = _native.VERSION
from .exposition import (
    CONTENT_TYPE_JSON, CONTENT_TYPE_LATEST, CONTENT_TYPE_OPENMETRICS, MetricsHandler, generate_latest,
    make_asgi_app, make_wsgi_app, render, start_http_server, start_wsgi_server, write_to_textfile,
)
from .metrics import Counter, Enum, Gauge, Histogram, Info, Summary, dropped_updates_in_process
from .push import delete_from_gateway, instance_ip_grouping_key, push_to_gateway, pushadd_to_gateway
from .registry import (
    GC_COLLECTOR, PLATFORM_COLLECTOR, PROCESS_COLLECTOR, REGISTRY, CollectorRegistry, FastpromError,
    FastpromLimitError, FastpromValueError, FastpromWarning,
)

__version__ = LIBRARY_VERSION

__all__ = (
    "CollectorRegistry", "REGISTRY", "Counter", "Gauge", "Summary", "Histogram", "Info", "Enum",
    "CONTENT_TYPE_LATEST", "CONTENT_TYPE_OPENMETRICS", "CONTENT_TYPE_JSON", "generate_latest", "render",
    "MetricsHandler", "make_wsgi_app", "make_asgi_app", "start_http_server", "start_wsgi_server",
    "write_to_textfile", "push_to_gateway", "pushadd_to_gateway", "delete_from_gateway",
    "instance_ip_grouping_key", "PROCESS_COLLECTOR", "PLATFORM_COLLECTOR", "GC_COLLECTOR",
    "FastpromError", "FastpromValueError", "FastpromLimitError", "FastpromWarning",
    "dropped_updates_in_process", "LIBRARY_VERSION",
)


def __getattr__(name):
    return missing_name(__name__, name)
