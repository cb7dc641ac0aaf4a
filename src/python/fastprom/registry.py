"""Registries: a Python face on one fastprom segment, and the errors the
package raises.

REGISTRY, the default, is the shared segment at $FASTPROM_PATH (default
/dev/shm/fastprom), opened on first use by each process -- the segment
fastprom-fcgi serves on /metrics. When it cannot be used (no space,
permission denied, another layout version, corrupt) the process records
into a private segment instead and warns once (see _fallback_segment). Like prometheus_client's REGISTRY it is
process-wide; unlike it, every process of the app writes to the same
segment, so a scrape sees them all without any multiprocess setup.

CollectorRegistry() with no path is a fresh private segment (anonymous
memory shared only with fork children), for tests that want an empty
registry, as prometheus_client's CollectorRegistry() is.
CollectorRegistry(path=...) names another shared segment.

The registry also keeps prometheus_client's per-process name check: one
process may not register two metrics whose sample names clash.
"""
import gc
import logging
import os
import threading
import warnings
import weakref

from . import _native
from ._compat import missing_name


class FastpromError(Exception):
    """An error from libfastprom; .code is the C fastprom_errcode."""

    def __init__(self, code, text):
        super().__init__(text)
        self.code = code


class FastpromValueError(FastpromError, ValueError):
    """A bad name, label, bucket list or definition (EINVAL, EEXIST)."""


class FastpromLimitError(FastpromError):
    """No room: the family's series limit (ELIMIT) or the segment (EFULL)."""


class FastpromWarning(RuntimeWarning):
    """Updates were dropped (segment full) or a feature was not available."""


def make_error(code, text):
    """The exception for a libfastprom errcode (the extension raises these
    too: it calls this)."""
    if code in (_native.EINVAL, _native.EEXIST):
        return FastpromValueError(code, text)
    if code in (_native.ELIMIT, _native.EFULL):
        return FastpromLimitError(code, text)
    return FastpromError(code, text)


def raise_error(code, text):
    raise make_error(code, text)


# Structural changes (registering, opening, creating children) are rare; one
# lock keeps them simple. A fork child gets a fresh one: another thread of the
# parent may have held it at the fork.
_lock = threading.RLock()


def _reset_lock():
    global _lock
    _lock = threading.RLock()


os.register_at_fork(after_in_child=_reset_lock)

# Segment files this process has open, by path: registries naming the same
# file share one handle, closed when the last user goes.
_shared_segments = weakref.WeakValueDictionary()


# ---- when the shared segment cannot be used ---------------------------------

# Monitoring never takes an application down: a shared segment that cannot be
# created or attached (no space, permission denied, another layout version,
# corrupt) gives a private in-process one instead, one warning (a
# FastpromWarning and a log line) naming the problem and the fix, and the
# counter fastprom_segment_fallback_total{path,reason} = 1 in it. The
# process's metrics are then only seen by in-process exposition
# (generate_latest, make_wsgi_app, ...), not by fastprom-fcgi, until the
# process restarts with the problem fixed.

_fallbacks = weakref.WeakKeyDictionary()  # private segment -> the warning's text

_FIXES = {
    "no_space": "free space on the file system holding {path} (e.g. /dev/shm) or make FASTPROM_SIZE smaller",
    "permission": "let this process's user read and write {path} (FASTPROM_MODE and the group of the writers, "
                  "or `fastprom init --mode`), or point FASTPROM_PATH at a place it may write",
    "layout_version": "it was made by another fastprom version: run one version on the host, or stop its writers "
                      "and remove {path} (the next writer re-creates it)",
    "corrupt": "it is not a usable fastprom segment: remove {path} (the next writer re-creates it)",
    "error": "fix the cause above",
}


def _fallback_reason(error):
    text = str(error)
    if error.code == _native.ECORRUPT:
        return "corrupt"
    if error.code == _native.EVERSION:
        return "layout_version"
    if "No space left" in text or "Disk quota" in text:
        return "no_space"
    if "Permission denied" in text or "Operation not permitted" in text or "Read-only file system" in text:
        return "permission"
    return "error"


def _fallback_segment(path, error, size):
    reason = _fallback_reason(error)
    try:
        seg = _open_segment(None, _native.PRIVATE, size, 0, 0, 0)
    except FastpromError:
        seg = _open_segment(None, _native.PRIVATE, 256 << 10, 0, 0, 0)  # FASTPROM_MIN_SIZE
    text = (f"fastprom: cannot use the shared segment {path}: {error} -- this process records its metrics in a "
            f"private in-process segment instead, which fastprom-fcgi does not see (counted in "
            f"fastprom_segment_fallback_total{{reason=\"{reason}\"}}); to fix: {_FIXES[reason].format(path=path)}, "
            "then restart the process")
    _fallbacks[seg] = text
    fam = seg.family(_native.COUNTER, "fastprom_segment_fallback_total",
                     "Shared segments this process could not use, so that it records into a private one.", "",
                     ("path", "reason"), None, None, 0, 0, 0)
    counter = _native.CounterCore()
    counter._bind(fam, (path, reason))
    counter.inc()
    # One warning: a log line where the app set up logging, else a warning.
    logger = logging.getLogger("fastprom")
    if logger.hasHandlers():
        logger.warning("%s", text)
    else:
        warnings.warn(text, FastpromWarning, stacklevel=2)
    return seg


def _open_segment(path, flags, size, max_slots, family_limit, mode):
    try:
        return _native.Segment(path, size, max_slots, family_limit, mode, flags)
    except FastpromLimitError:
        # A process may hold 64 handles at once. Registries and their
        # metrics refer to each other, so unused ones wait for the cycle
        # collector: run it, then try once more.
        gc.collect()
        return _native.Segment(path, size, max_slots, family_limit, mode, flags)

def structure_lock():
    return _lock


_TYPE_SUFFIXES = {
    "counter": ("_total", "_created"),
    "summary": ("_sum", "_count", "_created"),
    "histogram": ("_bucket", "_sum", "_count", "_created"),
    "info": ("_info",),
}


class _BuiltinCollector:
    """prometheus_client's default collectors, which apps often unregister.
    fastprom-fcgi reports process metrics itself, so these only exist to
    keep `REGISTRY.unregister(PROCESS_COLLECTOR)` working."""

    def __init__(self, name):
        self._name = name

    def __repr__(self):
        return f"fastprom.{self._name}"


PROCESS_COLLECTOR = _BuiltinCollector("PROCESS_COLLECTOR")
PLATFORM_COLLECTOR = _BuiltinCollector("PLATFORM_COLLECTOR")
GC_COLLECTOR = _BuiltinCollector("GC_COLLECTOR")


class CollectorRegistry:
    """A fastprom segment and the names this process registered in it.

    auto_describe is accepted for compatibility and ignored. target_info, if
    given, is recorded as the Info metric `target_info`.
    path: None (a private segment), or a segment file shared by processes.
    size, max_slots, family_limit, mode: used when this call creates the
    segment (0: the library's defaults and $FASTPROM_SIZE etc.).
    """

    def __init__(self, auto_describe=False, target_info=None, *, path=None, size=0, max_slots=0,
                 family_limit=0, mode=0):
        self._path = path
        self._flags = _native.PRIVATE if path is None else 0
        self._size = size
        self._max_slots = max_slots
        self._family_limit = family_limit
        self._mode = mode
        self._segment = None
        self._auto_describe = auto_describe
        self._retired = []     # earlier private segments still holding registered metrics (see family())
        self._hidden = set()   # families unregistered from the current private segment
        self._custom = []      # custom collectors (objects with collect())
        self._functions = []   # gauges with set_function()
        self._sampler = None
        self._names_to_collectors = {}
        self._collector_to_names = {}
        self._target_info = None
        if target_info:
            self.set_target_info(target_info)

    # ---- the segment ------------------------------------------------------

    def use_segment_of(self, other):
        """Makes this registry read and write other's segment (what
        fastprom.multiprocess.MultiProcessCollector does)."""
        with _lock:
            segment = other.segment()
            if self._segment is not None and self._segment is not segment:
                raise ValueError("fastprom: this registry already has its own segment; "
                                 "call MultiProcessCollector on a fresh CollectorRegistry()")
            self._segment = segment

    def segment(self):
        """The fastprom._native.Segment, opened on first use."""
        seg = self._segment
        if seg is None:
            with _lock:
                if self._segment is None:
                    self._segment = self._open()
                seg = self._segment
        return seg

    def _open(self):
        if self._flags & _native.PRIVATE:
            return _open_segment(None, self._flags, self._size, self._max_slots, self._family_limit, self._mode)
        # One handle per segment file in a process, shared by the registries
        # that name it (a handle costs descriptors and writer slots).
        key = self._path or os.environ.get("FASTPROM_PATH") or _native.DEFAULT_PATH
        seg = _shared_segments.get(key)
        if seg is None:
            try:
                seg = _open_segment(self._path, self._flags, self._size, self._max_slots, self._family_limit,
                                    self._mode)
            except FastpromError as e:
                seg = _fallback_segment(key, e, self._size)
            _shared_segments[key] = seg
        return seg

    @property
    def fallback(self):
        """None, or why this registry records into a private in-process
        segment instead of the shared one it names (see _fallback_segment)."""
        seg = self._segment
        return _fallbacks.get(seg) if seg is not None else None

    @property
    def path(self):
        """The segment's file path ("<private>" for a private segment)."""
        return self.segment().path

    def family(self, args):
        """The family of Segment.family(*args) in this registry's segment.

        A private registry frees the names of metrics unregistered from it,
        as prometheus_client does: their series are removed at once, and a
        new metric of such a name but another definition (which the
        segment refuses: a family's definition is fixed) moves the
        registry on to a fresh private segment; the earlier one stays for
        the metrics still registered in it, each segment showing only its
        registered families."""
        seg = self.segment()
        try:
            return seg.family(*args)
        except FastpromValueError:
            if not (self._flags & _native.PRIVATE and self._hidden and seg.path == "<private>"):
                raise
        with _lock:
            fresh = _open_segment(None, self._flags, self._size, self._max_slots, self._family_limit, self._mode)
            family = fresh.family(*args)  # still refused: the definition itself is bad
            self._retired.append(seg)
            self._segment = fresh
            self._hidden = set()
            return family

    def stat(self):
        """The segment's statistics as a dict (see fastprom_stat_t)."""
        return self.segment().stat()

    def collect_dead(self):
        """Folds dead processes' values now; returns the slots folded."""
        return self.segment().collect_dead()

    def close(self):
        """Lets go of the segment: the handle is closed once the registry's
        metrics are gone too (they keep it alive, so using one afterwards is
        safe)."""
        with _lock:
            self._segment = None

    # ---- names ------------------------------------------------------------

    @staticmethod
    def _get_names(collector):
        names = [collector._name]
        names.extend(collector._name + s for s in _TYPE_SUFFIXES.get(collector._type, ()))
        return names

    def register(self, collector):
        """Adds a fastprom metric's names (done by the metric's constructor),
        or a custom collector (an object with collect(), see
        fastprom.collectors)."""
        fastprom_metric = getattr(collector, "_fastprom_metric", False)
        if isinstance(collector, _BuiltinCollector):
            names = []
        elif fastprom_metric:
            names = self._get_names(collector)
        elif callable(getattr(collector, "collect", None)):
            from .collectors import collector_names
            names = collector_names(collector, self._auto_describe)
        else:
            raise TypeError(f"fastprom: cannot register {collector!r}: it is neither a fastprom metric nor a "
                            "collector (an object with a collect() method)")
        with _lock:
            duplicates = set(self._names_to_collectors).intersection(names)
            if duplicates:
                raise ValueError(f"Duplicated timeseries in CollectorRegistry: {duplicates}")
            for name in names:
                self._names_to_collectors[name] = collector
            self._collector_to_names[collector] = names
            if fastprom_metric:
                self._hidden.discard(collector._name)
            elif not isinstance(collector, _BuiltinCollector):
                self._custom.append(collector)
                if self._is_shared():
                    self.sampler().ensure_thread()

    def unregister(self, collector):
        """Removes the collector's names. In a private registry a fastprom
        metric's series go too and its name is free for any new metric (see
        family()). In a shared segment only this process forgets the names:
        the family and its values stay for fastprom-fcgi and every other
        process until the segment is re-created (clear() a labelled metric to
        drop its series everywhere)."""
        with _lock:
            for name in self._collector_to_names[collector]:
                del self._names_to_collectors[name]
            del self._collector_to_names[collector]
            if collector in self._custom:
                self._custom.remove(collector)
            if collector in self._functions:
                self._functions.remove(collector)
            if getattr(collector, "_fastprom_metric", False) and collector._family is not None \
                    and self._flags & _native.PRIVATE and collector._family.segment.path == "<private>":
                if collector._labelnames:
                    collector._family.clear()
                else:
                    collector._family.remove(())
                if collector._family.segment is self._segment:
                    self._hidden.add(collector._name)

    def _is_shared(self):
        return self.segment().path != "<private>"

    def sampler(self):
        """The Sampler of set_function() gauges and collectors (see
        fastprom.collectors)."""
        if self._sampler is None:
            from .collectors import Sampler
            with _lock:
                if self._sampler is None:
                    self._sampler = Sampler(self)
        return self._sampler

    def set_sample_interval(self, seconds):
        """How often set_function() gauges and collectors are sampled into a
        shared segment for fastprom-fcgi ($FASTPROM_SAMPLE_INTERVAL, 10 s)."""
        self.sampler().set_interval(seconds)

    def _add_function(self, gauge):
        with _lock:
            if gauge not in self._functions:
                self._functions.append(gauge)
        if self._is_shared():
            self.sampler().ensure_thread()

    def _before_read(self):
        """Brings computed values up to date before in-process exposition."""
        if not (self._functions or self._custom):
            return
        if self._is_shared():
            self.sampler().sample_all()
        else:
            self.sampler().sample_functions()

    def _parts(self, names=None):
        """[(segment, family names or None for all)] to render: the current
        segment and retired ones, each limited to its registered metrics
        when something was unregistered from it."""
        seg = self.segment()
        if not self._retired and not self._hidden:
            return [(seg, list(names) if names else None)]
        wanted = set(names) if names else None
        by_segment = {}
        for collector, sample_names in list(self._collector_to_names.items()):
            if not getattr(collector, "_fastprom_metric", False) or collector._family is None:
                continue
            if wanted is not None and not wanted.intersection(sample_names):
                continue
            by_segment.setdefault(id(collector._family.segment), []).append(collector._name)
        return [(s, by_segment[id(s)]) for s in self._retired + [seg] if id(s) in by_segment]

    def _render(self, fmt, code, names=None, prefix=None, flags=0):
        """The registry's exposition: its segment(s), then the custom
        collectors' families (text and OpenMetrics)."""
        self._before_read()
        extra = b""
        if self._custom and fmt != "json":
            from .collectors import SAMPLED_TYPES, render_collectors
            extra = render_collectors(self._custom, fmt, names,
                                      SAMPLED_TYPES if self._is_shared() else frozenset())
        parts = self._parts(names)
        if len(parts) == 1 and not extra:
            seg, only = parts[0]
            return seg.render(code, only, prefix, flags)
        if fmt == "json":
            import json
            docs = [json.loads(seg.render(code, only, prefix, flags)) for seg, only in parts]
            if not docs:
                return self.segment().render(code, ["__fastprom_none__"], prefix, flags)
            for doc in docs[1:]:
                docs[0]["families"].extend(doc["families"])
            return json.dumps(docs[0]).encode()
        out = []
        for i, (seg, only) in enumerate(parts):
            last = i == len(parts) - 1 and not extra
            out.append(seg.render(code, only, prefix, flags | (0 if last else _native.RENDER_NO_EOF)))
        if fmt == "openmetrics" and not parts and not extra:
            out.append(b"# EOF\n")
        out.append(extra)
        return b"".join(out)

    def collect(self, names=None):
        """Yields every family as a Metric (prometheus_client's class), the
        segment's parsed from its exposition, then the custom collectors'.
        names: only the segment's families with one of these sample names
        and the collectors registered under one of them."""
        from prometheus_client.parser import text_string_to_metric_families
        self._before_read()
        for seg, only in self._parts(names):
            yield from text_string_to_metric_families(seg.render(_native.FORMAT_TEXT, only).decode("utf-8"))
        for collector in list(self._custom):
            if names is None or set(names).intersection(self._collector_to_names.get(collector, ())):
                yield from collector.collect()

    def restricted_registry(self, names):
        """A view of the samples named (as prometheus_client's): its
        collect() yields only those; generate_latest() and the apps take it.
        As there, a custom collector shows only if it registered under one
        of the names (describe(), or auto_describe)."""
        names = frozenset(names)
        registry = self

        class RestrictedRegistry:
            def collect(self):
                from .collectors import prometheus_client_name
                metric_class = prometheus_client_name("Metric")
                for metric in registry.collect(names):
                    samples = [s for s in metric.samples if s.name in names]
                    if samples:
                        m = metric_class(metric.name, metric.documentation, metric.type, metric.unit)
                        m.samples = samples
                        yield m

        return RestrictedRegistry()

    # ---- target info --------------------------------------------------------

    def set_target_info(self, labels):
        from .metrics import Info
        with _lock:
            if labels:
                if self._target_info is None:
                    self._target_info = Info("target", "Target metadata", registry=self)
                self._target_info.info(labels)
            elif self._target_info is not None:
                self.unregister(self._target_info)
                self._target_info._remove_unlabelled()
                self._target_info = None

    def get_target_info(self):
        return dict(self._target_info._info_value) if self._target_info is not None else None

    # ---- reading back ---------------------------------------------------------

    def get_sample_value(self, name, labels=None):
        """The value of one sample of the whole segment (every process's
        writes), or None. Only the family that has a sample of that name is
        read (the renderer's name filter), not the whole segment."""
        from .exposition import parse_text
        want = labels or {}
        self._before_read()
        try:
            for seg, only in self._parts([name]):
                for sample_name, sample_labels, value in parse_text(seg.render(_native.FORMAT_TEXT, only).decode()):
                    if sample_name == name and sample_labels == want:
                        return value
        except FastpromValueError:
            pass  # not a metric name: no such sample in the segment
        for collector in list(self._custom):
            for metric in collector.collect():
                for s in metric.samples:
                    if s.name == name and s.labels == want:
                        return s.value
        return None


class _DefaultRegistry(CollectorRegistry):
    """The process-wide shared segment: $FASTPROM_PATH at first use, else
    /dev/shm/fastprom (the C library reads the environment)."""

    def __init__(self):
        super().__init__(auto_describe=True, path=None)
        self._flags = 0
        for builtin in (PROCESS_COLLECTOR, PLATFORM_COLLECTOR, GC_COLLECTOR):
            self.register(builtin)


REGISTRY = _DefaultRegistry()


def _update_failed(metric, rc):
    from .metrics import _update_failed as handler
    return handler(metric, rc)


_native._install_hooks(make_error, _update_failed, FastpromError)


def __getattr__(name):
    # prometheus_client.registry.Collector: prometheus_client's own.
    return missing_name(__name__, name)
