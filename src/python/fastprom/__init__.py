"""fastprom: prometheus_client's API, recorded in one shared-memory segment
that every process of the app writes to and fastprom-fcgi serves.

Switch an app by changing its import:

    from fastprom import Counter, Histogram     # was: from prometheus_client

Metrics go to the segment at $FASTPROM_PATH (default /dev/shm/fastprom);
nginx sends /metrics to fastprom-fcgi, so the app needs no /metrics route,
no PROMETHEUS_MULTIPROC_DIR and no files to wipe. Web middleware:
fastprom.wsgi.MetricsMiddleware, fastprom.flask.instrument,
fastprom.asgi.MetricsMiddleware. Differences from prometheus_client are
listed in fastprom.metrics' docstring.

The library is found through $FASTPROM_LIB, next to this package, the
source tree's build/, the lib dir `make install` recorded, or the loader.
"""
from ._native import VERSION as LIBRARY_VERSION
from .exposition import (
    CONTENT_TYPE_JSON, CONTENT_TYPE_LATEST, CONTENT_TYPE_OPENMETRICS, generate_latest, make_asgi_app,
    make_wsgi_app, render,
)
from .metrics import Counter, Enum, Gauge, Histogram, Info, Summary, dropped_updates_in_process
from .registry import (
    GC_COLLECTOR, PLATFORM_COLLECTOR, PROCESS_COLLECTOR, REGISTRY, CollectorRegistry, FastpromError,
    FastpromLimitError, FastpromValueError, FastpromWarning,
)

__version__ = LIBRARY_VERSION

__all__ = (
    "CollectorRegistry", "REGISTRY", "Counter", "Gauge", "Summary", "Histogram", "Info", "Enum",
    "CONTENT_TYPE_LATEST", "CONTENT_TYPE_OPENMETRICS", "CONTENT_TYPE_JSON", "generate_latest", "render",
    "make_wsgi_app", "make_asgi_app", "PROCESS_COLLECTOR", "PLATFORM_COLLECTOR", "GC_COLLECTOR",
    "FastpromError", "FastpromValueError", "FastpromLimitError", "FastpromWarning",
    "dropped_updates_in_process", "LIBRARY_VERSION",
)
