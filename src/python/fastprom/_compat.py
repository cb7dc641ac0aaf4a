"""prometheus_client names that fastprom cannot provide, and why: asking for
one (`from fastprom.core import GaugeMetricFamily`, `fastprom.ProcessCollector`)
raises an ImportError that says what to do instead, rather than the bare
"cannot import name" an app would otherwise die with.

Both kinds run code in the scraped process at scrape time. fastprom's
scrape runs in fastprom-fcgi over the shared segment, which cannot call
into the app's processes.
"""

_CUSTOM_COLLECTOR = frozenset((
    "Metric", "CounterMetricFamily", "GaugeMetricFamily", "SummaryMetricFamily", "HistogramMetricFamily",
    "GaugeHistogramMetricFamily", "InfoMetricFamily", "StateSetMetricFamily", "UnknownMetricFamily",
    "UntypedMetricFamily", "Sample", "Exemplar", "Timestamp", "Collector",
))
_PROCESS_READERS = frozenset(("ProcessCollector", "PlatformCollector", "GCCollector"))


def missing_name(module, name):
    """A module __getattr__: the ImportError for a name above, else the
    usual AttributeError."""
    if name in _CUSTOM_COLLECTOR:
        raise ImportError(
            f"fastprom: {name} is not available: it builds custom collectors, which run in the scraped process at "
            "scrape time, and fastprom-fcgi scrapes the shared segment instead. Record the values in a fastprom "
            "Gauge or Counter (set them when they change, or from a timer thread), or keep this collector on "
            "prometheus_client and its own port.", name=name)
    if name in _PROCESS_READERS:
        raise ImportError(
            f"fastprom: {name} is not available: it reads the scraped process at scrape time, and the scrape runs "
            "in fastprom-fcgi (which reports its own process_* metrics). Take the app processes' CPU and memory "
            "from node_exporter, cAdvisor or systemd; REGISTRY.unregister(PROCESS_COLLECTOR) keeps working.",
            name=name)
    raise AttributeError(f"module {module!r} has no attribute {name!r}")
