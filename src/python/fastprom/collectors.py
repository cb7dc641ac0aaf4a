"""Custom collectors and Gauge.set_function(): values computed in the app's
process when metrics are read.

The collector protocol is prometheus_client's: an object with collect()
(and optionally describe()) yielding Metric objects, built with the
*MetricFamily classes. Those classes are prometheus_client's own
(prometheus_client.metrics_core and .samples, from Debian's
python3-prometheus-client), re-exported by fastprom, fastprom.core and
fastprom.registry, so a collector written for prometheus_client works
unchanged and renders exactly as there.

Where their values show:
 - In-process exposition (generate_latest(), make_wsgi_app(),
   start_http_server(), write_to_textfile(), push): set_function() gauges
   are called and collectors collected at every read, as in
   prometheus_client; collectors' families follow the segment's (text and
   OpenMetrics; the JSON view shows the segment only).
 - /metrics served by fastprom-fcgi reads the shared segment, which cannot
   call into the app. For REGISTRY (and other registries of a shared
   segment), a daemon thread of each process samples them into the segment
   every $FASTPROM_SAMPLE_INTERVAL seconds (default 10; set_sample_interval()
   changes it): set_function() gauges through set(), so the gauge's
   multiprocess_mode says how processes combine (livesum: the sum of every
   live process's value; mostrecent: the last sample of any process).
   Collectors' gauge and unknown families become gauges in 'mostrecent'
   mode (the last process to sample wins), counter families counters that
   each process advances by its own increase since its last sample (so the
   total is the sum over processes, and a collector's reset is not a
   decrease), info families infos and stateset families enums. Histogram,
   summary and gaugehistogram families of collectors are not sampled: their
   bucket counts cannot be written as observations; they show in
   in-process exposition only. A value is at most one interval old.
"""
import os
import threading
import warnings
import weakref

_PC_MESSAGE = ("fastprom: {name} is prometheus_client's (fastprom re-exports its collector classes so that "
               "collectors written for it work unchanged): install python3-prometheus-client")

# name -> module of prometheus_client it comes from
_PC_NAMES = {
    "Metric": "prometheus_client.metrics_core",
    "CounterMetricFamily": "prometheus_client.metrics_core",
    "GaugeMetricFamily": "prometheus_client.metrics_core",
    "SummaryMetricFamily": "prometheus_client.metrics_core",
    "HistogramMetricFamily": "prometheus_client.metrics_core",
    "GaugeHistogramMetricFamily": "prometheus_client.metrics_core",
    "InfoMetricFamily": "prometheus_client.metrics_core",
    "StateSetMetricFamily": "prometheus_client.metrics_core",
    "UnknownMetricFamily": "prometheus_client.metrics_core",
    "UntypedMetricFamily": "prometheus_client.metrics_core",
    "Sample": "prometheus_client.samples",
    "Exemplar": "prometheus_client.samples",
    "Timestamp": "prometheus_client.samples",
    "Collector": "prometheus_client.registry",
}


def prometheus_client_name(name):
    """One of _PC_NAMES from prometheus_client, or AttributeError."""
    module = _PC_NAMES.get(name)
    if module is None:
        raise AttributeError(name)
    import importlib
    try:
        return getattr(importlib.import_module(module), name)
    except ImportError as e:
        raise ImportError(_PC_MESSAGE.format(name=name), name=name) from e


def _pc(module):
    import importlib
    try:
        return importlib.import_module(module)
    except ImportError as e:
        raise ImportError(_PC_MESSAGE.format(name=module), name=module) from e


# ---- names a collector produces (the registry's clash check) -----------------------

_SUFFIXES = {
    "counter": ("_total", "_created"),
    "summary": ("_sum", "_count", "_created"),
    "histogram": ("_bucket", "_sum", "_count", "_created"),
    "gaugehistogram": ("_bucket", "_gsum", "_gcount"),
    "info": ("_info",),
}


def collector_names(collector, auto_describe):
    """The sample names a custom collector registers, from describe() (or
    collect() when auto_describe); [] when it cannot say."""
    describe = getattr(collector, "describe", None)
    if describe is None and auto_describe:
        describe = collector.collect
    if describe is None:
        return []
    names = []
    for metric in describe():
        names.append(metric.name)
        names.extend(metric.name + s for s in _SUFFIXES.get(metric.type, ()))
    return names


# ---- in-process exposition of collectors ---------------------------------------------

class _Families:
    """A collect()-able view of some collectors, optionally restricted to
    sample names (as prometheus_client's restricted registry)."""

    def __init__(self, collectors, names=None, skip_types=frozenset()):
        self._collectors = collectors
        self._names = set(names) if names else None
        self._skip = skip_types

    def collect(self):
        for collector in self._collectors:
            for metric in collector.collect():
                if metric.type in self._skip:
                    continue
                if self._names is None:
                    yield metric
                    continue
                samples = [s for s in metric.samples if s.name in self._names]
                if samples:
                    m = _pc("prometheus_client.metrics_core").Metric(metric.name, metric.documentation, metric.type,
                                                                      metric.unit)
                    m.samples = samples
                    yield m


# Collector families the sampler writes into a shared segment (the rest are
# rendered from the collector at read time).
SAMPLED_TYPES = frozenset(("gauge", "unknown", "counter", "info", "stateset"))


def render_collectors(collectors, fmt, names=None, skip_types=frozenset()):
    """Text or OpenMetrics bytes of the collectors' families, but those of
    skip_types (OpenMetrics ends with "# EOF"); b"" when there are none."""
    if not collectors:
        return b""
    view = _Families(collectors, names, skip_types)
    if fmt == "openmetrics":
        return _pc("prometheus_client.openmetrics.exposition").generate_latest(view)
    return _pc("prometheus_client.exposition").generate_latest(view)


# ---- sampling into the segment ---------------------------------------------------------

class Sampler:
    """Writes a shared-segment registry's set_function() gauges and
    collectors into the segment, at read time and from a daemon thread."""

    def __init__(self, registry):
        self._registry = registry
        self._lock = threading.Lock()
        self._thread = None
        self._pid = None
        self._wake = threading.Event()
        self.interval = _interval_from_env()
        self._mirrors = {}  # (name, type, labelnames) -> fastprom metric
        self._last = {}     # counters: (name, labels) -> last sampled value, per process

    def sample_functions(self):
        for gauge in list(self._registry._functions):
            try:
                gauge.set(gauge._function())
            except Exception as e:  # noqa: BLE001 - the app's function; monitoring must go on
                _warn_sampling(f"fastprom: set_function() of {gauge._name} raised {e!r}; its value is not updated")

    def sample_all(self):
        """set_function() gauges and collectors -> the segment."""
        with self._lock:
            self.sample_functions()
            for collector in list(self._registry._custom):
                try:
                    for metric in collector.collect():
                        self._mirror(metric)
                except Exception as e:  # noqa: BLE001 - as above
                    _warn_sampling(f"fastprom: collecting {collector!r} raised {e!r}; its values are not updated")

    def _mirror(self, metric):
        from .metrics import Counter, Enum, Gauge, Info
        kind = metric.type
        if kind not in SAMPLED_TYPES:
            return
        sample_name = {"counter": metric.name + "_total", "info": metric.name + "_info"}.get(kind, metric.name)
        for s in metric.samples:
            if s.name != sample_name:
                continue  # _created and the like
            labelnames = tuple(sorted(k for k in s.labels if not (kind == "stateset" and k == metric.name)))
            key = (metric.name, kind, labelnames)
            target = self._mirrors.get(key)
            if target is None:
                doc, shadow = metric.documentation, self._shadow()
                if kind == "counter":
                    target = Counter(metric.name, doc, labelnames, registry=shadow)
                elif kind == "info":
                    target = Info(metric.name, doc, labelnames, registry=shadow)
                elif kind == "stateset":
                    states = [st.labels[metric.name] for st in metric.samples if st.name == metric.name]
                    target = Enum(metric.name, doc, labelnames, registry=shadow, states=states)
                else:
                    target = Gauge(metric.name, doc, labelnames, registry=shadow, multiprocess_mode="mostrecent")
                self._mirrors[key] = target
            values = [s.labels[n] for n in labelnames]
            child = target.labels(*values) if labelnames else target
            if kind == "counter":
                last_key = (metric.name, tuple(values))
                last = self._last.get(last_key, 0.0)
                if s.value >= last:
                    child.inc(s.value - last)
                else:
                    child.inc(s.value)  # the collector's count restarted
                self._last[last_key] = s.value
            elif kind == "info":
                child.info({k: v for k, v in s.labels.items() if k not in labelnames})
            elif kind == "stateset":
                if s.value:
                    child.state(s.labels[metric.name])
            else:
                child.set(s.value)

    def _shadow(self):
        """A registry on the same segment with its own names: the copies of
        collectors' families must not clash with the collectors' names."""
        from .registry import CollectorRegistry
        shadow = CollectorRegistry()
        shadow.use_segment_of(self._registry)
        return shadow

    def ensure_thread(self):
        """The daemon thread of this process (a fork child starts its own:
        threads do not survive fork)."""
        pid = os.getpid()
        if self._thread is not None and self._pid == pid and self._thread.is_alive():
            return
        if self._pid != pid:
            # A fork child: its own lock, and its counters' increases start
            # from what its own collectors report.
            self._lock = threading.Lock()
            self._last = {}
        self._pid = pid
        self._thread = threading.Thread(target=self._run, name="fastprom-sampler", daemon=True)
        self._thread.start()
        _running.add(self)

    def _run(self):
        while True:
            self.sample_all()
            self._wake.wait(self.interval)
            self._wake.clear()

    def set_interval(self, seconds):
        if not seconds > 0:
            raise ValueError(f"fastprom: a sample interval must be > 0 seconds, not {seconds!r}")
        self.interval = float(seconds)
        self._wake.set()


_running = weakref.WeakSet()


def _restart_in_child():
    for sampler in list(_running):
        sampler.ensure_thread()


os.register_at_fork(after_in_child=_restart_in_child)


def _interval_from_env():
    raw = os.environ.get("FASTPROM_SAMPLE_INTERVAL", "")
    if not raw:
        return 10.0
    try:
        value = float(raw)
        if value > 0:
            return value
    except ValueError:
        pass
    _warn_sampling(f"fastprom: FASTPROM_SAMPLE_INTERVAL={raw!r} is not a number of seconds > 0; using 10")
    return 10.0


_warned = set()


def _warn_sampling(text):
    if text not in _warned:
        _warned.add(text)
        from .registry import FastpromWarning
        warnings.warn(text, FastpromWarning, stacklevel=3)
