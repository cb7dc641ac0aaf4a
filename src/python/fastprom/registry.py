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
        """The family of Segment.family(*args) in this registry's segment."""
        return self.segment().family(*args)

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
        """Adds a fastprom metric's names (done by the metric's constructor)."""
        if isinstance(collector, _BuiltinCollector):
            names = []
        elif getattr(collector, "_fastprom_metric", False):
            names = self._get_names(collector)
        else:
            raise TypeError(
                f"fastprom: cannot register {collector!r}: custom collectors run in the scraping process, and "
                "fastprom-fcgi scrapes the shared segment, not this process. Record the values in a fastprom "
                "Gauge or Counter instead.")
        with _lock:
            duplicates = set(self._names_to_collectors).intersection(names)
            if duplicates:
                raise ValueError(f"Duplicated timeseries in CollectorRegistry: {duplicates}")
            for name in names:
                self._names_to_collectors[name] = collector
            self._collector_to_names[collector] = names

    def unregister(self, collector):
        """Forgets the collector's names in this process (its recorded values
        stay in the segment; clear() a labelled metric to drop them)."""
        with _lock:
            for name in self._collector_to_names[collector]:
                del self._names_to_collectors[name]
            del self._collector_to_names[collector]

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
        try:
            text = self.segment().render(_native.FORMAT_TEXT, [name])
        except FastpromValueError:
            return None  # not a metric name: no such sample
        for sample_name, sample_labels, value in parse_text(text.decode("utf-8")):
            if sample_name == name and sample_labels == want:
                return value
        return None


class _DefaultRegistry(CollectorRegistry):
    """The process-wide shared segment: $FASTPROM_PATH at first use, else
    /dev/shm/fastprom (the C library reads the environment)."""

    def __init__(self):
        super().__init__(path=None)
        self._flags = 0
        for builtin in (PROCESS_COLLECTOR, PLATFORM_COLLECTOR, GC_COLLECTOR):
            self.register(builtin)


REGISTRY = _DefaultRegistry()


def _update_failed(metric, rc):
    from .metrics import _update_failed as handler
    return handler(metric, rc)


_native._install_hooks(make_error, _update_failed)


def __getattr__(name):
    # prometheus_client.registry.Collector: an ImportError explaining why not.
    return missing_name(__name__, name)
