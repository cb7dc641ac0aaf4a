"""Counter, Gauge, Histogram, Summary, Info and Enum with prometheus_client's
constructors, methods and errors, recording into a fastprom segment.

What matches prometheus_client (0.16): name building (namespace, subsystem,
unit, a counter's "_total" stripped), name and label validation with the
same ValueError messages, .labels(*values | **kw) with str() values,
remove()/clear(), time(), track_inprogress(), count_exceptions(), and the
exposition: an unlabelled metric shows its zero value from construction, a
child from its .labels() call.

What is different, and why:
 - Every process writes to the shared segment; fastprom-fcgi renders it.
   There is no PROMETHEUS_MULTIPROC_DIR, and Info, Enum, remove(), clear()
   and summary quantiles all work across processes.
 - Gauge(multiprocess_mode=) defaults to 'livesum' (one value, the sum over
   live processes: in one process that is prometheus_client's value) and
   also accepts 'mostrecent' and 'livemostrecent'.
 - Summary(quantiles=(0.5, 0.9, 0.99)) adds merged quantiles over all
   processes; the default () gives count and sum only, as prometheus_client.
 - Counter(exemplars=True) / Histogram(exemplars=True) reserve room for
   exemplars (shown in OpenMetrics); without it an exemplar= argument is
   validated, the update applied, the exemplar dropped with one warning.
 - Updates never raise for lack of room: when the segment is full the
   update is dropped, counted (fastprom_dropped_updates_total on /metrics)
   and one FastpromWarning is issued. Creating a family or a child raises
   FastpromLimitError at the family's series limit or when the segment is
   full (the middleware catches it and skips the request's metrics).
 - A counter increment of NaN raises ValueError (prometheus_client stores it).
 - Amounts: a str, bytes or None is a TypeError, as in prometheus_client
   (Gauge.set() converts with float() there and here, so set("3.5") works);
   so is a complex amount (prometheus_client stores it in some metrics and
   breaks its own exposition). A Decimal, or any object with __float__, is
   converted (prometheus_client raises TypeError): ctypes converts it
   before any check could run, and checking the type first would cost
   every update.
 - Gauge.set_function() raises NotImplementedError: the scrape runs in
   fastprom-fcgi, which cannot call back into the app; call set() instead.
 - remove() and clear() act on the segment, for every process. Another
   process that still holds the removed child (it caches children, as
   prometheus_client does) keeps writing into the removed series, where the
   writes go nowhere, until it calls remove()/clear() too.
"""
import ctypes
import re
import threading
import time
import warnings

from . import _native
from ._native import lib
from .context_managers import ExceptionCounter, InprogressTracker, Timer
from .registry import REGISTRY, FastpromWarning, raise_error, structure_lock

INF = float("inf")
METRIC_NAME_RE = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$")
METRIC_LABEL_NAME_RE = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")
RESERVED_METRIC_LABEL_NAME_RE = re.compile(r"^__.*$")

_inc = _native.hot["fastprom_inc"]
_dec = _native.hot["fastprom_dec"]
_set = _native.hot["fastprom_set"]
_observe = _native.hot["fastprom_observe"]
_state = _native.hot["fastprom_state"]
# Converting 1 to a C double costs more than the rest of an update: the
# default amount is converted once.
_ONE = ctypes.c_double(1.0)
_ArgumentError = ctypes.ArgumentError

_GAUGE_MODES = ("livesum", "all", "liveall", "sum", "max", "livemax", "min", "livemin", "mostrecent",
                "livemostrecent")

_warned = set()
_dropped_in_process = 0
_dropped_lock = threading.Lock()


def _warn_once(key, text):
    if key not in _warned:
        _warned.add(key)
        warnings.warn(text, FastpromWarning, stacklevel=4)


def _as_double(amount):
    """amount as a float, refusing what prometheus_client's `value +=
    amount` refuses (str, bytes, None) with its TypeError. Only reached
    when ctypes refused the amount (it takes int, float and __float__)."""
    return float(0.0 + amount)


def _update_failed(metric, rc):
    """An update returned rc != 0: the hot path's only slow branch."""
    global _dropped_in_process
    if rc == _native.EFULL:
        with _dropped_lock:
            _dropped_in_process += 1
        _warn_once("full", f"fastprom: the segment is full, updates of {metric._name} (and maybe others) are "
                           "dropped and counted in fastprom_dropped_updates_total; make it bigger "
                           "(FASTPROM_SIZE) or use fewer series")
        return
    raise_error(rc, f"fastprom: update of {metric._name} failed: {_native.strerror(rc)}")


def dropped_updates_in_process():
    """Updates this process dropped because the segment was full."""
    return _dropped_in_process


def _build_full_name(metric_type, name, namespace, subsystem, unit):
    full_name = ""
    if namespace:
        full_name += namespace + "_"
    if subsystem:
        full_name += subsystem + "_"
    full_name += name
    if metric_type == "counter" and full_name.endswith("_total"):
        full_name = full_name[:-6]  # OpenMetrics names the family without it
    if unit and not full_name.endswith("_" + unit):
        full_name += "_" + unit
    if unit and metric_type in ("info", "stateset"):
        raise ValueError("Metric name is of a type that cannot have a unit: " + full_name)
    return full_name


def _validate_labelname(name):
    if not METRIC_LABEL_NAME_RE.match(name):
        raise ValueError("Invalid label metric name: " + name)
    if RESERVED_METRIC_LABEL_NAME_RE.match(name):
        raise ValueError("Reserved label metric name: " + name)


def _validate_labelnames(cls, labelnames):
    labelnames = tuple(labelnames)
    for name in labelnames:
        _validate_labelname(name)
        if name in cls._reserved_labelnames:
            raise ValueError("Reserved label metric name: " + name)
    return labelnames


def _validate_exemplar(exemplar):
    runes = 0
    for k, v in exemplar.items():
        _validate_labelname(k)
        runes += len(k)
        runes += len(v)
    if runes > 128:
        raise ValueError("Exemplar labels have %d UTF-8 characters, exceeding the limit of 128" % runes)


def _labels_array(pairs):
    """A C fastprom_label_t array over a dict; returns (keepalive, array, n)."""
    keep = [(str(k).encode("utf-8"), str(v).encode("utf-8")) for k, v in pairs.items()]
    arr = (_native.Label * max(len(keep), 1))(*(_native.Label(k, v) for k, v in keep))
    return keep, arr, len(keep)


class MetricWrapperBase:
    _type = None
    _ctype = None
    _reserved_labelnames = ()
    _fastprom_metric = True

    def __init__(self, name, documentation, labelnames=(), namespace="", subsystem="", unit="",
                 registry=REGISTRY, _labelvalues=None):
        self._name = _build_full_name(self._type, name, namespace, subsystem, unit)
        self._labelnames = _validate_labelnames(self, labelnames)
        self._labelvalues = tuple(_labelvalues or ())
        self._documentation = documentation
        self._unit = unit
        if not METRIC_NAME_RE.match(self._name):
            raise ValueError("Invalid metric name: " + self._name)
        if self._labelvalues:
            raise ValueError("fastprom: _labelvalues is internal; use .labels() to get a child")
        self._validate_kind()
        # registry=None: not in any registry's name table, recorded in the default segment.
        self._registry = registry if registry is not None else REGISTRY
        self._family = self._registry.family(self._family_def())
        self._nlabels = len(self._labelnames)
        self._series = None
        # Children by label values; None on a metric that cannot have any.
        self._metrics = {} if self._labelnames else None
        if not self._labelnames:
            self._series = self._new_series(())
        if registry is not None:
            registry.register(self)

    # ---- the definition in the segment -------------------------------------

    def _validate_kind(self):
        """Type-specific checks that must pass before anything is created."""

    def _def_extras(self, d):
        """Type-specific fields of the C family definition."""

    def _family_def(self):
        d = _native.FamilyDef()
        d.type = self._ctype
        # The C library strips one "_total" from a counter's name, which
        # _build_full_name already did: give it one to strip ("x_total_total"
        # must stay "x_total", as in prometheus_client).
        name = (self._name + "_total" if self._type == "counter" else self._name).encode("utf-8")
        help_ = self._documentation.encode("utf-8")
        unit = self._unit.encode("utf-8")
        labels = [n.encode("utf-8") for n in self._labelnames]
        d.name, d.help, d.unit = name, help_, unit
        if labels:
            d.label_names = (ctypes.c_char_p * len(labels))(*labels)
            d.nlabels = len(labels)
        self._def_extras(d)
        # ctypes keeps only raw pointers in the struct: hold the Python objects.
        d._keep = (name, help_, unit, labels, d.label_names)
        return d

    def _new_series(self, values):
        err = _native.Error()
        if values:
            keep, arr, lens = _native.encode_strings(values)
            s = lib.fastprom_series(self._family, arr, lens, ctypes.byref(err))
            del keep
        else:
            s = lib.fastprom_series(self._family, None, None, ctypes.byref(err))
        if not s:
            raise_error(err.code, _native.error_text(err))
        return ctypes.c_void_p(s)  # passed as is to every call: no conversion

    # ---- children -------------------------------------------------------------

    def __str__(self):
        return f"{self._type}:{self._name}"

    def __repr__(self):
        metric_type = type(self)
        return f"{metric_type.__module__}.{metric_type.__name__}({self._name})"

    def _is_observable(self):
        return not self._labelnames or (self._labelnames and self._labelvalues)

    def _raise_if_not_observable(self):
        if not self._is_observable():
            raise ValueError("%s metric is missing label values" % str(self._type))

    def labels(self, *labelvalues, **labelkwargs):
        """The child for these label values (created on first use, then
        cached: a repeated call costs a dict lookup)."""
        metrics = self._metrics
        if metrics is not None and len(labelvalues) == self._nlabels and not labelkwargs:
            child = metrics.get(tuple(map(str, labelvalues)))
            if child is not None:
                return child
        if not self._labelnames:
            raise ValueError("No label names were set when constructing %s" % self)
        if self._labelvalues:
            raise ValueError("{} already has labels set ({}); can not chain calls to .labels()".format(
                self, dict(zip(self._labelnames, self._labelvalues))))
        if labelvalues and labelkwargs:
            raise ValueError("Can't pass both *args and **kwargs")
        if labelkwargs:
            if sorted(labelkwargs) != sorted(self._labelnames):
                raise ValueError("Incorrect label names")
            labelvalues = tuple(str(labelkwargs[name]) for name in self._labelnames)
        else:
            if len(labelvalues) != len(self._labelnames):
                raise ValueError("Incorrect label count")
            labelvalues = tuple(str(v) for v in labelvalues)
        with structure_lock():
            child = self._metrics.get(labelvalues)
            if child is None:
                child = self._make_child(labelvalues)
                self._metrics[labelvalues] = child
            return child

    def _make_child(self, labelvalues):
        child = object.__new__(type(self))
        child.__dict__.update(self.__dict__)
        child._labelvalues = labelvalues
        child._metrics = None
        child._series = self._new_series(labelvalues)
        self._child_init(child)
        return child

    def _child_init(self, child):
        """Per-child state beyond the series handle."""

    def remove(self, *labelvalues):
        """Removes one child: its series vanishes from the segment."""
        if not self._labelnames:
            raise ValueError("No label names were set when constructing %s" % self)
        if len(labelvalues) != len(self._labelnames):
            raise ValueError("Incorrect label count (expected %d, got %s)" % (len(self._labelnames), labelvalues))
        labelvalues = tuple(str(v) for v in labelvalues)
        with structure_lock():
            keep, arr, lens = _native.encode_strings(labelvalues)
            err = _native.Error()
            rc = lib.fastprom_remove(self._family, arr, lens, ctypes.byref(err))
            known = self._metrics.pop(labelvalues, None)
            if rc == _native.ENOENT and known is None:
                raise KeyError(labelvalues)
            if rc and rc != _native.ENOENT:
                raise_error(rc, _native.error_text(err))

    def clear(self):
        """Removes every child of the metric, in the segment."""
        with structure_lock():
            if self._labelnames and not self._labelvalues:
                err = _native.Error()
                rc = lib.fastprom_clear(self._family, ctypes.byref(err))
                if rc:
                    raise_error(rc, _native.error_text(err))
                self._metrics = {}

    def _remove_unlabelled(self):
        """Drops an unlabelled metric's only series from the segment (the
        handle stays valid: later updates go nowhere)."""
        err = _native.Error()
        rc = lib.fastprom_remove(self._family, None, None, ctypes.byref(err))
        if rc and rc != _native.ENOENT:
            raise_error(rc, _native.error_text(err))


def _exemplar_update(metric, fn, fn_exemplar, amount, exemplar):
    """An update carrying an exemplar (rare: the plain path stays lean)."""
    _validate_exemplar(exemplar)
    if not metric._exemplars:
        _warn_once(("exemplar", metric._name),
                   f"fastprom: {metric._name} was created without exemplars=True; its exemplars are dropped")
        rc = fn(metric._series, amount)
    else:
        keep, arr, n = _labels_array(exemplar)
        rc = fn_exemplar(metric._series, amount, arr, n, 0.0)
        del keep
    if rc:
        _update_failed(metric, rc)


class Counter(MetricWrapperBase):
    """A count that only goes up; see prometheus_client.Counter."""
    _type = "counter"
    _ctype = _native.COUNTER

    def __init__(self, name, documentation, labelnames=(), namespace="", subsystem="", unit="",
                 registry=REGISTRY, _labelvalues=None, *, exemplars=False):
        self._exemplars = bool(exemplars)
        super().__init__(name, documentation, labelnames, namespace, subsystem, unit, registry, _labelvalues)

    def _def_extras(self, d):
        d.flags = _native.EXEMPLARS if self._exemplars else 0

    def inc(self, amount=1, exemplar=None):
        """Increment counter by the given amount."""
        s = self._series
        if s is None or not amount >= 0 or exemplar:
            return self._inc_checked(amount, exemplar)
        try:
            rc = _inc(s, _ONE if amount == 1 else amount)
        except _ArgumentError:
            rc = _inc(s, _as_double(amount))
        if rc:
            _update_failed(self, rc)

    def _inc_checked(self, amount, exemplar):
        self._raise_if_not_observable()
        if not amount >= 0:
            raise ValueError("Counters can only be incremented by non-negative amounts.")
        _exemplar_update(self, _inc, lib.fastprom_inc_exemplar, _as_double(amount), exemplar)

    def count_exceptions(self, exception=Exception):
        """Counts exceptions of the given type leaving a block or function."""
        self._raise_if_not_observable()
        return ExceptionCounter(self, exception)


class Gauge(MetricWrapperBase):
    """A value that goes up and down; see prometheus_client.Gauge."""
    _type = "gauge"
    _ctype = _native.GAUGE
    _MULTIPROC_MODES = frozenset(_GAUGE_MODES)

    def __init__(self, name, documentation, labelnames=(), namespace="", subsystem="", unit="",
                 registry=REGISTRY, _labelvalues=None, multiprocess_mode="livesum"):
        self._multiprocess_mode = multiprocess_mode
        if multiprocess_mode not in self._MULTIPROC_MODES:
            raise ValueError("Invalid multiprocess mode: " + multiprocess_mode)
        super().__init__(name, documentation, labelnames, namespace, subsystem, unit, registry, _labelvalues)

    def _def_extras(self, d):
        d.gauge_mode = lib.fastprom_gauge_mode_parse(self._multiprocess_mode.encode())

    def inc(self, amount=1):
        """Increment gauge by the given amount."""
        s = self._series
        if s is None:
            self._raise_if_not_observable()
        try:
            rc = _inc(s, _ONE if amount == 1 else amount)
        except _ArgumentError:
            rc = _inc(s, _as_double(amount))
        if rc:
            _update_failed(self, rc)

    def dec(self, amount=1):
        """Decrement gauge by the given amount."""
        s = self._series
        if s is None:
            self._raise_if_not_observable()
        try:
            rc = _dec(s, _ONE if amount == 1 else amount)
        except _ArgumentError:
            rc = _dec(s, _as_double(amount))
        if rc:
            _update_failed(self, rc)

    def set(self, value):
        """Set gauge to the given value."""
        s = self._series
        if s is None:
            self._raise_if_not_observable()
        try:
            rc = _set(s, value)
        except _ArgumentError:
            rc = _set(s, float(value))  # "3.5", Decimal: as prometheus_client's float(value)
        if rc:
            _update_failed(self, rc)

    def set_to_current_time(self):
        """Set gauge to the current unixtime."""
        self.set(time.time())

    def track_inprogress(self):
        """Increments on entry, decrements on exit of a block or function."""
        self._raise_if_not_observable()
        return InprogressTracker(self)

    def time(self):
        """Sets the gauge to a block's or function's duration in seconds."""
        return Timer(self, "set")

    def set_function(self, f):
        raise NotImplementedError(
            f"fastprom: Gauge.set_function() cannot work for {self._name}: the scrape runs in fastprom-fcgi, which "
            "cannot call into this process. Call .set(value) when the value changes, or from a timer.")


class Summary(MetricWrapperBase):
    """Count and sum of observations (and, with quantiles=, quantiles merged
    over all processes); see prometheus_client.Summary."""
    _type = "summary"
    _ctype = _native.SUMMARY
    _reserved_labelnames = ["quantile"]

    def __init__(self, name, documentation, labelnames=(), namespace="", subsystem="", unit="",
                 registry=REGISTRY, _labelvalues=None, *, quantiles=()):
        self._quantiles = tuple(float(q) for q in quantiles)
        super().__init__(name, documentation, labelnames, namespace, subsystem, unit, registry, _labelvalues)

    def _def_extras(self, d):
        if self._quantiles:
            d._quantiles = (ctypes.c_double * len(self._quantiles))(*self._quantiles)
            d.buckets = d._quantiles
            d.nbuckets = len(self._quantiles)

    def observe(self, amount):
        """Observe the given amount."""
        s = self._series
        if s is None:
            self._raise_if_not_observable()
        try:
            rc = _observe(s, amount)
        except _ArgumentError:
            rc = _observe(s, _as_double(amount))
        if rc:
            _update_failed(self, rc)

    def time(self):
        """Observes a block's or function's duration in seconds."""
        return Timer(self, "observe")


class Histogram(MetricWrapperBase):
    """Observations counted in buckets; see prometheus_client.Histogram."""
    _type = "histogram"
    _ctype = _native.HISTOGRAM
    _reserved_labelnames = ["le"]
    DEFAULT_BUCKETS = (.005, .01, .025, .05, .075, .1, .25, .5, .75, 1.0, 2.5, 5.0, 7.5, 10.0, INF)

    def __init__(self, name, documentation, labelnames=(), namespace="", subsystem="", unit="",
                 registry=REGISTRY, _labelvalues=None, buckets=DEFAULT_BUCKETS, *, exemplars=False):
        self._prepare_buckets(buckets)
        self._exemplars = bool(exemplars)
        super().__init__(name, documentation, labelnames, namespace, subsystem, unit, registry, _labelvalues)

    def _prepare_buckets(self, source_buckets):
        buckets = [float(b) for b in source_buckets]
        if buckets != sorted(buckets):
            # Probably the caller's mistake: raise rather than sort.
            raise ValueError("Buckets not in sorted order")
        if buckets and buckets[-1] != INF:
            buckets.append(INF)
        if len(buckets) < 2:
            raise ValueError("Must have at least two buckets")
        self._upper_bounds = buckets

    def _def_extras(self, d):
        bounds = self._upper_bounds[:-1]  # +Inf is implied in C
        d._bounds = (ctypes.c_double * len(bounds))(*bounds)
        d.buckets = d._bounds
        d.nbuckets = len(bounds)
        d.flags = _native.EXEMPLARS if self._exemplars else 0

    def observe(self, amount, exemplar=None):
        """Observe the given amount."""
        s = self._series
        if s is None or exemplar:
            self._raise_if_not_observable()
            return _exemplar_update(self, _observe, lib.fastprom_observe_exemplar, _as_double(amount),
                                    exemplar)
        try:
            rc = _observe(s, amount)
        except _ArgumentError:
            rc = _observe(s, _as_double(amount))
        if rc:
            _update_failed(self, rc)

    def time(self):
        """Observes a block's or function's duration in seconds."""
        return Timer(self, "observe")


class Info(MetricWrapperBase):
    """Key-value pairs, shown as <name>_info{...} 1; see prometheus_client.Info.
    Shared by all processes: the last info() call wins."""
    _type = "info"
    _ctype = _native.INFO

    def _child_init(self, child):
        child._info_value = {}

    def __init__(self, *args, **kwargs):
        self._info_value = {}
        super().__init__(*args, **kwargs)

    def info(self, val):
        """Set info metric."""
        self._raise_if_not_observable()
        if set(self._labelnames).intersection(val.keys()):
            raise ValueError("Overlapping labels for Info metric, metric: {} child: {}".format(
                self._labelnames, val))
        keep, arr, n = _labels_array(val)
        err = _native.Error()
        rc = lib.fastprom_info(self._series, arr, n, ctypes.byref(err))
        del keep
        if rc:
            raise_error(rc, _native.error_text(err))
        self._info_value = dict(val)


class Enum(MetricWrapperBase):
    """Which one of a set of states holds; see prometheus_client.Enum.
    Shared by all processes: the last state() call wins."""
    _type = "stateset"
    _ctype = _native.STATESET

    def __init__(self, name, documentation, labelnames=(), namespace="", subsystem="", unit="",
                 registry=REGISTRY, _labelvalues=None, states=None):
        self._states = states
        self._enum_name = name
        super().__init__(name, documentation, labelnames, namespace, subsystem, unit, registry, _labelvalues)

    def _validate_kind(self):
        if self._enum_name in self._labelnames:
            raise ValueError(f"Overlapping labels for Enum metric: {self._enum_name}")
        if not self._states:
            raise ValueError(f"No states provided for Enum metric: {self._enum_name}")

    def _def_extras(self, d):
        states = [str(s).encode("utf-8") for s in self._states]
        d._states = (ctypes.c_char_p * len(states))(*states)
        d._state_bytes = states
        d.states = d._states
        d.nstates = len(states)

    def state(self, state):
        """Set enum metric state."""
        self._raise_if_not_observable()
        rc = _state(self._series, self._states.index(state))
        if rc:
            _update_failed(self, rc)


__all__ = ["Counter", "Gauge", "Summary", "Histogram", "Info", "Enum", "dropped_updates_in_process"]
