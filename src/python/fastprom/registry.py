"""Registries: a Python face on one fastprom segment, and the errors the
package raises.

REGISTRY, the default, is the shared segment at $FASTPROM_PATH (default
/dev/shm/fastprom), opened on first use by each process -- the segment
fastprom-fcgi serves on /metrics. Like prometheus_client's REGISTRY it is
process-wide; unlike it, every process of the app writes to the same
segment, so a scrape sees them all without any multiprocess setup.

CollectorRegistry() with no path is a fresh private segment (anonymous
memory shared only with fork children), for tests that want an empty
registry, as prometheus_client's CollectorRegistry() is.
CollectorRegistry(path=...) names another shared segment.

The registry also keeps prometheus_client's per-process name check: one
process may not register two metrics whose sample names clash.
"""
import ctypes
import os
import threading

from . import _native
from ._compat import missing_name
from ._native import lib


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


def raise_error(code, text):
    if code in (_native.EINVAL, _native.EEXIST):
        raise FastpromValueError(code, text)
    if code in (_native.ELIMIT, _native.EFULL):
        raise FastpromLimitError(code, text)
    raise FastpromError(code, text)


# Structural changes (registering, opening, creating children) are rare; one
# lock keeps them simple. A fork child gets a fresh one: another thread of the
# parent may have held it at the fork.
_lock = threading.RLock()


def _reset_lock():
    global _lock
    _lock = threading.RLock()


os.register_at_fork(after_in_child=_reset_lock)

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
        self._handle = None
        self._borrowed = False  # the handle belongs to another registry
        self._names_to_collectors = {}
        self._collector_to_names = {}
        self._target_info = None
        if target_info:
            self.set_target_info(target_info)

    # ---- the segment ------------------------------------------------------

    def _open_path(self):
        return self._path

    def use_segment_of(self, other):
        """Makes this registry read and write other's segment (what
        fastprom.multiprocess.MultiProcessCollector does)."""
        with _lock:
            if self._handle is not None and self._handle != other.handle():
                raise ValueError("fastprom: this registry already has its own segment; "
                                 "call MultiProcessCollector on a fresh CollectorRegistry()")
            self._handle = other.handle()
            self._borrowed = True

    def handle(self):
        """The fastprom_t* (an int), opening the segment on first use."""
        h = self._handle
        if h is None:
            with _lock:
                if self._handle is None:
                    self._handle = self._open()
                h = self._handle
        return h

    def _open(self):
        path = self._open_path()
        opt = _native.Options(path=path.encode() if path else None, size=self._size, max_slots=self._max_slots,
                              family_limit=self._family_limit, mode=self._mode, flags=self._flags)
        err = _native.Error()
        h = lib.fastprom_open(ctypes.byref(opt), ctypes.byref(err))
        if not h:
            raise_error(err.code, "fastprom: " + _native.error_text(err))
        return h

    @property
    def path(self):
        """The segment's file path ("<private>" for a private segment)."""
        return lib.fastprom_path(self.handle()).decode()

    def family(self, definition):
        err = _native.Error()
        fam = lib.fastprom_family(self.handle(), ctypes.byref(definition), ctypes.byref(err))
        if not fam:
            raise_error(err.code, _native.error_text(err))
        return fam

    def stat(self):
        """The segment's statistics as a dict (see fastprom_stat_t)."""
        st = _native.Stat()
        err = _native.Error()
        rc = lib.fastprom_stat(self.handle(), ctypes.byref(st), ctypes.byref(err))
        if rc:
            raise_error(rc, _native.error_text(err))
        out = {}
        for name, _ in _native.Stat._fields_:
            v = getattr(st, name)
            out[name] = list(v) if isinstance(v, ctypes.Array) else v
        return out

    def collect_dead(self):
        """Folds dead processes' values now; returns the slots folded."""
        err = _native.Error()
        rc = lib.fastprom_collect_dead(self.handle(), ctypes.byref(err))
        if rc < 0:
            raise_error(rc, _native.error_text(err))
        return rc

    def close(self):
        """Detaches from the segment. Metrics of this registry must not be
        used afterwards: their handles are freed."""
        with _lock:
            if self._handle is not None and not self._borrowed:
                lib.fastprom_close(self._handle)
            self._handle = None

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
        writes), or None. Renders and parses the segment: for tests."""
        from .exposition import render, parse_text
        want = labels or {}
        for sample_name, sample_labels, value in parse_text(render("text", registry=self).decode("utf-8")):
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


def __getattr__(name):
    # prometheus_client.registry.Collector: an ImportError explaining why not.
    return missing_name(__name__, name)
