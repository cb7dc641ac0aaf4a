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
   and one FastpromWarning is issued. Nor do constructors and labels(): a
   child beyond the family's series limit (or in a full segment) drops its
   updates, a family the segment cannot take records in a private overflow
   segment of the process, not exported; one warning each, and the
   segment counts the refusals (fastprom_dropped_series_total).
 - A counter increment of NaN raises ValueError (prometheus_client stores it).
 - Amounts are taken as prometheus_client's `value += amount` takes
   them: a str, bytes, None or Decimal is a TypeError, a Fraction or a bool
   counts (Gauge.set() converts with float() there and here, so set("3.5")
   works). A complex amount is a TypeError (prometheus_client stores it in
   some metrics and breaks its own exposition).
 - Gauge.set_function(f): f() is called at in-process exposition and, for
   fastprom-fcgi, sampled into the segment by a daemon thread every
   $FASTPROM_SAMPLE_INTERVAL seconds (see fastprom.collectors).
 - remove() and clear() act on the segment, for every process. Another
   process that still holds the removed child (it caches children, as
   prometheus_client does) keeps writing into the removed series, where the
   writes go nowhere, until it calls remove()/clear() too.
"""
import re
import threading
import time
import warnings

from . import _native, context_managers
from .context_managers import ExceptionCounter, InprogressTracker, Timer
from .registry import (
    REGISTRY, FastpromError, FastpromLimitError, FastpromValueError, FastpromWarning, raise_error, structure_lock,
)

INF = float("inf")
METRIC_NAME_RE = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$")
METRIC_LABEL_NAME_RE = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")
RESERVED_METRIC_LABEL_NAME_RE = re.compile(r"^__.*$")

_GAUGE_MODES = ("livesum", "all", "liveall", "sum", "max", "livemax", "min", "livemin", "mostrecent",
                "livemostrecent")

_warned = set()
_dropped_in_process = 0
_dropped_lock = threading.Lock()


def _warn_once(key, text):
    if key not in _warned:
        _warned.add(key)
        warnings.warn(text, FastpromWarning, stacklevel=4)


def _update_failed(metric, rc):
    """An update returned rc != 0 (called by the extension): the hot path's
    only slow branch."""
    global _dropped_in_process
    if rc == _native.EFULL:
        with _dropped_lock:
            _dropped_in_process += 1
        _warn_once("full", f"fastprom: the segment is full, updates of {metric._name} (and maybe others) are "
                           "dropped and counted in fastprom_dropped_updates_total; make it bigger "
                           "(FASTPROM_SIZE) or use fewer series")
        return
    raise_error(rc, f"fastprom: update of {metric._name} failed: {_native.strerror(rc)}")


_overflow = None


def _overflow_segment():
    """This process's private segment for families its registry's segment
    refused (see MetricWrapperBase._family_or_overflow)."""
    global _overflow
    with structure_lock():
        if _overflow is None:
            _overflow = _native.Segment(None, 0, 0, 0, 0, _native.PRIVATE)
        return _overflow


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


class MetricWrapperBase(_native.Metric):
    """What every metric shares. The C base (fastprom._native.Metric) holds
    the series handle and the children cache, and owns labels()' cached
    path; the update methods come from CounterCore, GaugeCore and
    ObserveCore. What is rare or carries prometheus_client's rules lives
    here."""
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
        family = self._family_or_overflow()
        # Children by label values; None on a metric that cannot have any.
        self._metrics = {} if self._labelnames else None
        if family is not None:
            self._bind(family, None if self._labelnames else ())
        if registry is not None:
            registry.register(self)

    # ---- the definition in the segment -------------------------------------

    def _family_or_overflow(self):
        """The family in the registry's segment. When the segment cannot
        take it (full, read-only, damaged) the metric still works, recording
        into a private overflow segment of this process that nothing
        exports; one warning says so, and the segment counts the refused
        family in fastprom_dropped_series_total. A bad definition stays a
        ValueError, as in prometheus_client."""
        args = self._family_args()
        try:
            return self._registry.family(args)
        except FastpromValueError:
            raise
        except FastpromError as e:
            _warn_once("family",
                       f"fastprom: {self._name} cannot be created in the segment ({e}); it (and any other metric "
                       "refused so) records in this process only and is not exported. Make the segment bigger "
                       "(FASTPROM_SIZE) or use fewer metrics")
        try:
            return _overflow_segment().family(*args)
        except FastpromError:
            return None  # not even there: the metric takes updates and drops them

    def _validate_kind(self):
        """Type-specific checks that must pass before anything is created."""

    def _family_extras(self):
        """Type-specific parts of the C family definition: (buckets, states,
        gauge mode, flags)."""
        return None, None, 0, 0

    def _family_args(self):
        """The arguments of Segment.family()."""
        # The C library strips one "_total" from a counter's name, which
        # _build_full_name already did: give it one to strip ("x_total_total"
        # must stay "x_total", as in prometheus_client).
        name = self._name + "_total" if self._type == "counter" else self._name
        buckets, states, gauge_mode, flags = self._family_extras()
        return (self._ctype, name, self._documentation, self._unit, self._labelnames, buckets, states, gauge_mode,
                0, flags)

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

    def _labels_slow(self, *labelvalues, **labelkwargs):
        """labels() when the child is not cached yet or the call is wrong
        (the C labels() calls this): prometheus_client's checks, then the
        child, created under the structure lock."""
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
        cls = type(self)
        child = cls.__new__(cls)
        child.__dict__.update(self.__dict__)
        child._labelnames = self._labelnames
        child._labelvalues = labelvalues
        try:
            if self._family is not None:
                child._bind(self._family, labelvalues)
        except FastpromLimitError as e:
            # The family's series limit, or a full segment: the C library
            # counts the refused series (fastprom_dropped_series_total); the
            # child takes updates and drops them, never failing the caller.
            _warn_once(("series", self._name),
                       f"fastprom: new label values of {self._name} are dropped: {e}. Existing series keep "
                       "counting; the drops are counted in fastprom_dropped_series_total")
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
            removed = self._family is not None and self._family.remove(labelvalues)
            known = self._metrics.pop(labelvalues, None)
            if not removed and known is None:
                raise KeyError(labelvalues)

    def clear(self):
        """Removes every child of the metric, in the segment."""
        with structure_lock():
            if self._labelnames and not self._labelvalues:
                if self._family is not None:
                    self._family.clear()
                self._metrics = {}

    def _remove_unlabelled(self):
        """Drops an unlabelled metric's only series from the segment (the
        handle stays valid: later updates go nowhere)."""
        if self._family is not None:
            self._family.remove(())

    def _exemplar_update(self, amount, exemplar):
        """An update carrying an exemplar (called by the C update methods)."""
        _validate_exemplar(exemplar)
        if self._exemplars:
            return self._exemplar(amount, {str(k): str(v) for k, v in exemplar.items()})
        _warn_once(("exemplar", self._name),
                   f"fastprom: {self._name} was created without exemplars=True; its exemplars are dropped")
        if self._type == "counter":
            self.inc(amount)
        else:
            self.observe(amount)


class Counter(MetricWrapperBase, _native.CounterCore):
    """A count that only goes up; see prometheus_client.Counter.
    inc(amount=1, exemplar=None) is CounterCore's, in C."""
    _type = "counter"
    _ctype = _native.COUNTER

    def __init__(self, name, documentation, labelnames=(), namespace="", subsystem="", unit="",
                 registry=REGISTRY, _labelvalues=None, *, exemplars=False):
        self._exemplars = bool(exemplars)
        super().__init__(name, documentation, labelnames, namespace, subsystem, unit, registry, _labelvalues)

    def _family_extras(self):
        return None, None, 0, _native.EXEMPLARS if self._exemplars else 0

    def count_exceptions(self, exception=Exception):
        """Counts exceptions of the given type leaving a block or function."""
        self._raise_if_not_observable()
        return ExceptionCounter(self, exception)


class Gauge(MetricWrapperBase, _native.GaugeCore):
    """A value that goes up and down; see prometheus_client.Gauge.
    inc(), dec() and set() are GaugeCore's, in C."""
    _type = "gauge"
    _ctype = _native.GAUGE
    _MULTIPROC_MODES = frozenset(_GAUGE_MODES)

    def __init__(self, name, documentation, labelnames=(), namespace="", subsystem="", unit="",
                 registry=REGISTRY, _labelvalues=None, multiprocess_mode="livesum"):
        self._multiprocess_mode = multiprocess_mode
        if multiprocess_mode not in self._MULTIPROC_MODES:
            raise ValueError("Invalid multiprocess mode: " + multiprocess_mode)
        super().__init__(name, documentation, labelnames, namespace, subsystem, unit, registry, _labelvalues)

    def _family_extras(self):
        return None, None, _native.gauge_mode_parse(self._multiprocess_mode), 0

    def set_to_current_time(self):
        """Set gauge to the current unixtime."""
        self.set(time.time())

    def track_inprogress(self):
        """Increments on entry, decrements on exit of a block or function."""
        if not self._bound:
            self._raise_if_not_observable()
        return InprogressTracker(self)

    def time(self):
        """Sets the gauge to a block's or function's duration in seconds."""
        return Timer(self, "set", context_managers.default_timer)

    def set_function(self, f):
        """The gauge's value is f() when metrics are read: at every
        in-process exposition, and every sample interval for fastprom-fcgi
        (see fastprom.collectors: the gauge's multiprocess_mode combines the
        processes' values)."""
        self._raise_if_not_observable()
        self._function = f
        self._registry._add_function(self)


class Summary(MetricWrapperBase, _native.ObserveCore):
    """Count and sum of observations (and, with quantiles=, quantiles merged
    over all processes); see prometheus_client.Summary. observe() is
    ObserveCore's, in C."""
    _type = "summary"
    _ctype = _native.SUMMARY
    _reserved_labelnames = ["quantile"]

    def __init__(self, name, documentation, labelnames=(), namespace="", subsystem="", unit="",
                 registry=REGISTRY, _labelvalues=None, *, quantiles=()):
        self._quantiles = tuple(float(q) for q in quantiles)
        super().__init__(name, documentation, labelnames, namespace, subsystem, unit, registry, _labelvalues)

    def _family_extras(self):
        return self._quantiles or None, None, 0, 0

    def time(self):
        """Observes a block's or function's duration in seconds."""
        return Timer(self, "observe", context_managers.default_timer)


class Histogram(MetricWrapperBase, _native.ObserveCore):
    """Observations counted in buckets; see prometheus_client.Histogram.
    observe(amount, exemplar=None) is ObserveCore's, in C."""
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

    def _family_extras(self):
        # +Inf is implied in C
        return self._upper_bounds[:-1], None, 0, _native.EXEMPLARS if self._exemplars else 0

    def time(self):
        """Observes a block's or function's duration in seconds."""
        return Timer(self, "observe", context_managers.default_timer)


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
        self._info({str(k): str(v) for k, v in val.items()})
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

    def _family_extras(self):
        return None, [str(s) for s in self._states], 0, 0

    def state(self, state):
        """Set enum metric state."""
        self._raise_if_not_observable()
        self._state(self._states.index(state))


__all__ = ["Counter", "Gauge", "Summary", "Histogram", "Info", "Enum", "dropped_updates_in_process"]
