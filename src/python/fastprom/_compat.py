"""prometheus_client names that fastprom gets from prometheus_client itself,
and those it cannot provide.

The custom-collector classes (Metric, the *MetricFamily classes, Sample,
Exemplar, Timestamp, Collector) are prometheus_client's own, loaded on
first use (see fastprom.collectors). ProcessCollector, PlatformCollector
and GCCollector are not available: asking for one raises an ImportError
that says what to do instead, rather than the bare "cannot import name" an
app would otherwise die with.
"""

_PROCESS_READERS = frozenset(("ProcessCollector", "PlatformCollector", "GCCollector"))


def missing_name(module, name):
    """A module __getattr__: prometheus_client's collector classes, the
    ImportError for a process reader, else the usual AttributeError."""
    from .collectors import prometheus_client_name
    try:
        return prometheus_client_name(name)
    except AttributeError:
        pass
    if name in _PROCESS_READERS:
        raise ImportError(
            f"fastprom: {name} is not available: it reads the scraped process at scrape time, and the scrape runs "
            "in fastprom-fcgi (which reports its own process_* metrics). Take the app processes' CPU and memory "
            "from node_exporter, cAdvisor or systemd; REGISTRY.unregister(PROCESS_COLLECTOR) keeps working.",
            name=name)
    raise AttributeError(f"module {module!r} has no attribute {name!r}")
