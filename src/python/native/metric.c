/*
 * metric.c - the hot path of the Python package: the update methods of
 * metric objects (inc, dec, set, observe) and the
 * labels() cache, and the context managers of time() and
 * track_inprogress(), in C so that an update costs one method call and not
 * a Python frame plus a foreign-function call.
 *
 * fastprom.metrics.Counter derives from CounterCore, Gauge from GaugeCore,
 * Histogram and Summary from ObserveCore; all from Metric, which holds the
 * series handle and the children cache. Everything rare (errors, exemplars,
 * creating a child, the checks of an unlabelled parent) calls back into the
 * Python class, so the rules live in one place.
 *
 * The GIL: an update normally takes ~10 ns and no lock, and releasing the
 * GIL around it would cost more than the update; but a thread's first
 * update of a series takes the segment lock, which another process may
 * hold, so that one runs with the GIL released (fastprom_update_ready says
 * which is which).
 */
#include "native.h"

#include <math.h>
#include <structmember.h>
#include <time.h>

#define LIKELY(x) __builtin_expect(!!(x), 1)
#define UNLIKELY(x) __builtin_expect(!!(x), 0)

static PyObject *s_labels_slow, *s_not_observable, *s_exemplar_update, *s_amount, *s_exemplar, *s_value;
static PyObject *float_zero;

typedef int (*update_fn)(fastprom_series_t *, double);

static inline int apply(update_fn fn, fastprom_series_t *s, double v)
{
    if (LIKELY(fastprom_update_ready(s)))
        return fn(s, v);
    int rc;
    Py_BEGIN_ALLOW_THREADS rc = fn(s, v);
    Py_END_ALLOW_THREADS return rc;
}

/* amount as prometheus_client's `value += amount` takes it: int and float
 * directly, anything else through float + amount (so a str, bytes, None or
 * Decimal is the TypeError it is there, a Fraction or a bool works). */
static int amount_of(PyObject *o, double *v)
{
    if (LIKELY(PyFloat_CheckExact(o))) {
        *v = PyFloat_AS_DOUBLE(o);
        return 0;
    }
    if (PyLong_CheckExact(o)) {
        *v = PyLong_AsDouble(o);
        return *v == -1.0 && PyErr_Occurred() ? -1 : 0;
    }
    PyObject *sum = PyNumber_Add(float_zero, o);
    if (!sum)
        return -1;
    if (!PyFloat_Check(sum)) {
        PyErr_Format(PyExc_TypeError, "fastprom: an amount must be a real number, not %.100s", Py_TYPE(o)->tp_name);
        Py_DECREF(sum);
        return -1;
    }
    *v = PyFloat_AS_DOUBLE(sum);
    Py_DECREF(sum);
    return 0;
}

/* Gauge.set's value, as prometheus_client's float(value). */
static int value_of(PyObject *o, double *v)
{
    if (LIKELY(PyFloat_CheckExact(o))) {
        *v = PyFloat_AS_DOUBLE(o);
        return 0;
    }
    PyObject *f = PyNumber_Float(o);
    if (!f)
        return -1;
    *v = PyFloat_AS_DOUBLE(f);
    Py_DECREF(f);
    return 0;
}

/* Unpacks (amount=<default>, exemplar=None) of a vectorcall; only reached
 * with keywords or too many arguments. */
static int parse_update_args(const char *fname, PyObject *amount_name, int with_exemplar, PyObject *const *args,
                             Py_ssize_t nargs, PyObject *kwnames, PyObject **amount, PyObject **exemplar)
{
    Py_ssize_t max = with_exemplar ? 2 : 1;
    if (nargs > max) {
        PyErr_Format(PyExc_TypeError, "%s() takes at most %zd arguments (%zd given)", fname, max, nargs);
        return -1;
    }
    *amount = nargs > 0 ? args[0] : NULL;
    *exemplar = nargs > 1 ? args[1] : NULL;
    Py_ssize_t nkw = kwnames ? PyTuple_GET_SIZE(kwnames) : 0;
    for (Py_ssize_t i = 0; i < nkw; i++) {
        PyObject *k = PyTuple_GET_ITEM(kwnames, i);
        PyObject **slot = NULL;
        if (PyUnicode_Compare(k, amount_name) == 0)
            slot = amount;
        else if (with_exemplar && PyUnicode_Compare(k, s_exemplar) == 0)
            slot = exemplar;
        if (!slot) {
            PyErr_Format(PyExc_TypeError, "%s() got an unexpected keyword argument '%U'", fname, k);
            return -1;
        }
        if (*slot) {
            PyErr_Format(PyExc_TypeError, "%s() got multiple values for argument '%U'", fname, k);
            return -1;
        }
        *slot = args[nargs + i];
    }
    return 0;
}

/* The metric has no series. A parent with labels: the Python class raises
 * prometheus_client's ValueError. A child the segment had no room for: the
 * update is dropped (the library counted the refused series). */
static PyObject *not_observable(MetricObject *self)
{
    PyObject *r = PyObject_CallMethodNoArgs((PyObject *)self, s_not_observable);
    if (!r)
        return NULL;
    Py_DECREF(r);
    Py_RETURN_NONE;
}

static inline PyObject *done(MetricObject *self, int rc)
{
    if (UNLIKELY(rc))
        return fp_py_update_failed((PyObject *)self, rc);
    Py_RETURN_NONE;
}

static PyObject *exemplar_update(MetricObject *self, double v, PyObject *exemplar)
{
    PyObject *amount = PyFloat_FromDouble(v);
    if (!amount)
        return NULL;
    PyObject *r = PyObject_CallMethodObjArgs((PyObject *)self, s_exemplar_update, amount, exemplar, NULL);
    Py_DECREF(amount);
    return r;
}

/* ---- Counter ---------------------------------------------------------------- */

static PyObject *Counter_inc(MetricObject *self, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
    PyObject *amount = nargs ? args[0] : NULL, *exemplar = NULL;
    if (UNLIKELY(kwnames || nargs > 1) &&
        parse_update_args("inc", s_amount, 1, args, nargs, kwnames, &amount, &exemplar) < 0)
        return NULL;
    if (UNLIKELY(!self->series))
        return not_observable(self);
    double v = 1.0;
    if (amount && amount_of(amount, &v) < 0)
        return NULL;
    if (UNLIKELY(!(v >= 0.0))) {
        PyErr_SetString(PyExc_ValueError, "Counters can only be incremented by non-negative amounts.");
        return NULL;
    }
    if (UNLIKELY(exemplar && exemplar != Py_None)) {
        int truth = PyObject_IsTrue(exemplar);
        if (truth < 0)
            return NULL;
        if (truth)
            return exemplar_update(self, v, exemplar);
    }
    return done(self, apply(fastprom_inc, self->series, v));
}

static PyMethodDef CounterCore_methods[] = {
    {"inc", (PyCFunction)(void (*)(void))Counter_inc, METH_FASTCALL | METH_KEYWORDS,
     "inc(amount=1, exemplar=None): increment the counter by amount (>= 0)"},
    {NULL, NULL, 0, NULL},
};

/* ---- Gauge -------------------------------------------------------------------- */

static PyObject *gauge_add(MetricObject *self, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames,
                           const char *fname, update_fn fn)
{
    PyObject *amount = nargs ? args[0] : NULL, *unused = NULL;
    if (UNLIKELY(kwnames || nargs > 1) &&
        parse_update_args(fname, s_amount, 0, args, nargs, kwnames, &amount, &unused) < 0)
        return NULL;
    if (UNLIKELY(!self->series))
        return not_observable(self);
    double v = 1.0;
    if (amount && amount_of(amount, &v) < 0)
        return NULL;
    return done(self, apply(fn, self->series, v));
}

static PyObject *Gauge_inc(MetricObject *self, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
    return gauge_add(self, args, nargs, kwnames, "inc", fastprom_inc);
}

static PyObject *Gauge_dec(MetricObject *self, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
    return gauge_add(self, args, nargs, kwnames, "dec", fastprom_dec);
}

static PyObject *Gauge_set(MetricObject *self, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
    PyObject *value = nargs ? args[0] : NULL, *unused = NULL;
    if (UNLIKELY(kwnames || nargs != 1) &&
        parse_update_args("set", s_value, 0, args, nargs, kwnames, &value, &unused) < 0)
        return NULL;
    if (!value) {
        PyErr_SetString(PyExc_TypeError, "set() missing 1 required positional argument: 'value'");
        return NULL;
    }
    if (UNLIKELY(!self->series))
        return not_observable(self);
    double v;
    if (value_of(value, &v) < 0)
        return NULL;
    return done(self, apply(fastprom_set, self->series, v));
}

static PyMethodDef GaugeCore_methods[] = {
    {"inc", (PyCFunction)(void (*)(void))Gauge_inc, METH_FASTCALL | METH_KEYWORDS,
     "inc(amount=1): increment the gauge by amount"},
    {"dec", (PyCFunction)(void (*)(void))Gauge_dec, METH_FASTCALL | METH_KEYWORDS,
     "dec(amount=1): decrement the gauge by amount"},
    {"set", (PyCFunction)(void (*)(void))Gauge_set, METH_FASTCALL | METH_KEYWORDS,
     "set(value): set the gauge to float(value)"},
    {NULL, NULL, 0, NULL},
};

/* ---- Histogram and Summary ------------------------------------------------------ */

static PyObject *Observe_observe(MetricObject *self, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
    int histogram = self->type == FASTPROM_HISTOGRAM;
    PyObject *amount = nargs ? args[0] : NULL, *exemplar = NULL;
    if (UNLIKELY(kwnames || nargs != 1) &&
        parse_update_args("observe", s_amount, histogram, args, nargs, kwnames, &amount, &exemplar) < 0)
        return NULL;
    if (!amount) {
        PyErr_SetString(PyExc_TypeError, "observe() missing 1 required positional argument: 'amount'");
        return NULL;
    }
    if (UNLIKELY(!self->series))
        return not_observable(self);
    double v;
    if (amount_of(amount, &v) < 0)
        return NULL;
    if (UNLIKELY(exemplar && exemplar != Py_None)) {
        int truth = PyObject_IsTrue(exemplar);
        if (truth < 0)
            return NULL;
        if (truth)
            return exemplar_update(self, v, exemplar);
    }
    return done(self, apply(fastprom_observe, self->series, v));
}

static PyMethodDef ObserveCore_methods[] = {
    {"observe", (PyCFunction)(void (*)(void))Observe_observe, METH_FASTCALL | METH_KEYWORDS,
     "observe(amount[, exemplar]): record one observation"},
    {NULL, NULL, 0, NULL},
};

/* ---- labels() ---------------------------------------------------------------------- */

/* The keyword argument named `name`, or NULL. */
static PyObject *keyword(PyObject *name, PyObject *const *kwvalues, PyObject *kwnames)
{
    Py_ssize_t n = PyTuple_GET_SIZE(kwnames);
    for (Py_ssize_t j = 0; j < n; j++)
        if (PyTuple_GET_ITEM(kwnames, j) == name)
            return kwvalues[j];
    for (Py_ssize_t j = 0; j < n; j++)
        if (PyUnicode_Compare(PyTuple_GET_ITEM(kwnames, j), name) == 0)
            return kwvalues[j];
    return NULL;
}

/* The cache key of a call: str() of each value, in label-name order; NULL
 * with no exception when the call does not have that shape. */
static PyObject *labels_key(MetricObject *self, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
    PyObject *names = self->labelnames;
    if (!names || !PyTuple_CheckExact(names))
        return NULL;
    Py_ssize_t n = PyTuple_GET_SIZE(names), nkw = kwnames ? PyTuple_GET_SIZE(kwnames) : 0;
    if (n == 0 || !((nkw == 0 && nargs == n) || (nargs == 0 && nkw == n)))
        return NULL;
    PyObject *key = PyTuple_New(n);
    if (!key)
        return NULL;
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *v = nkw ? keyword(PyTuple_GET_ITEM(names, i), args, kwnames) : args[i];
        if (!v) {
            Py_DECREF(key);
            return NULL;
        }
        if (LIKELY(PyUnicode_CheckExact(v)))
            Py_INCREF(v);
        else if (!(v = PyObject_Str(v))) {
            Py_DECREF(key);
            return NULL;
        }
        PyTuple_SET_ITEM(key, i, v);
    }
    return key;
}

/* labels(*values) / labels(**values): the cached child, else the Python
 * class's _labels_slow (validation, creation under its lock). */
static PyObject *Metric_labels(MetricObject *self, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
    if (LIKELY(self->children != NULL && PyDict_CheckExact(self->children))) {
        PyObject *key = labels_key(self, args, nargs, kwnames);
        if (key) {
            PyObject *child = PyDict_GetItemWithError(self->children, key);
            Py_DECREF(key);
            if (child)
                return Py_NewRef(child);
        }
        if (PyErr_Occurred())
            return NULL;
    }
    Py_ssize_t total = nargs + (kwnames ? PyTuple_GET_SIZE(kwnames) : 0);
    PyObject *small[24], **stack = small;
    if (total + 1 > (Py_ssize_t)(sizeof small / sizeof small[0])) {
        stack = PyMem_Malloc(((size_t)total + 1) * sizeof *stack);
        if (!stack)
            return PyErr_NoMemory();
    }
    stack[0] = (PyObject *)self;
    for (Py_ssize_t i = 0; i < total; i++)
        stack[i + 1] = args[i];
    PyObject *r = PyObject_VectorcallMethod(s_labels_slow, stack, (size_t)(nargs + 1), kwnames);
    if (stack != small)
        PyMem_Free(stack);
    return r;
}

/* ---- binding, and the rare calls ------------------------------------------------------- */

/* _bind(family, values): values None for a parent with labels, else the
 * label values ((), for an unlabelled metric) of the series to write. */
static PyObject *Metric_bind(MetricObject *self, PyObject *args)
{
    PyObject *family, *values;
    if (!PyArg_ParseTuple(args, "O!O:_bind", &Family_Type, &family, &values))
        return NULL;
    FamilyObject *f = (FamilyObject *)family;
    fastprom_series_t *s = NULL;
    if (values != Py_None) {
        fp_py_strings v;
        if (fp_py_strings_from(values, &v) < 0)
            return NULL;
        fastprom_error_t err = {0};
        Py_BEGIN_ALLOW_THREADS s =
            fastprom_series(f->family, v.n ? (const char *const *)v.values : NULL, v.n ? v.lengths : NULL, &err);
        Py_END_ALLOW_THREADS fp_py_strings_free(&v);
        if (!s)
            return fp_py_raise(err.code, err.text);
    }
    Py_INCREF(f);
    Py_XSETREF(self->family, f);
    self->series = s;
    self->type = f->type;
    Py_RETURN_NONE;
}

/* A fastprom_label_t array over a dict's items; free with labels_free. */
static fastprom_label_t *labels_from(PyObject *dict, size_t *n, fp_py_strings *keys, fp_py_strings *values)
{
    PyObject *k = PyDict_Keys(dict), *v = k ? PyDict_Values(dict) : NULL;
    fastprom_label_t *out = NULL;
    if (!v)
        goto fail;
    if (fp_py_strings_from(k, keys) < 0)
        goto fail;
    if (fp_py_strings_from(v, values) < 0) {
        fp_py_strings_free(keys);
        goto fail;
    }
    out = PyMem_Calloc((size_t)keys->n + 1, sizeof *out);
    if (!out) {
        fp_py_strings_free(keys);
        fp_py_strings_free(values);
        PyErr_NoMemory();
        goto fail;
    }
    for (Py_ssize_t i = 0; i < keys->n; i++)
        out[i] = (fastprom_label_t){keys->values[i], values->values[i]};
    *n = (size_t)keys->n;
fail:
    Py_XDECREF(k);
    Py_XDECREF(v);
    return out;
}

/* _info(dict): fastprom_info on this series. */
static PyObject *Metric_info(MetricObject *self, PyObject *pairs)
{
    if (!PyDict_Check(pairs))
        return PyErr_Format(PyExc_TypeError, "fastprom: info() takes a dict, not %.100s", Py_TYPE(pairs)->tp_name);
    fp_py_strings keys, values;
    size_t n = 0;
    fastprom_label_t *labels = labels_from(pairs, &n, &keys, &values);
    if (!labels)
        return NULL;
    fastprom_error_t err = {0};
    int rc;
    Py_BEGIN_ALLOW_THREADS rc = fastprom_info(self->series, labels, n, &err);
    Py_END_ALLOW_THREADS PyMem_Free(labels);
    fp_py_strings_free(&keys);
    fp_py_strings_free(&values);
    if (rc)
        return fp_py_raise(rc, err.text);
    Py_RETURN_NONE;
}

/* _state(index): fastprom_state on this series. */
static PyObject *Metric_state(MetricObject *self, PyObject *arg)
{
    unsigned long index = PyLong_AsUnsignedLong(arg);
    if (index == (unsigned long)-1 && PyErr_Occurred())
        return NULL;
    return done(self, fastprom_state(self->series, (unsigned)index));
}

/* _exemplar(amount, dict): the update with an exemplar (counters and
 * histograms of a family made with exemplars). */
static PyObject *Metric_exemplar(MetricObject *self, PyObject *args)
{
    double v;
    PyObject *pairs;
    if (!PyArg_ParseTuple(args, "dO!:_exemplar", &v, &PyDict_Type, &pairs))
        return NULL;
    fp_py_strings keys, values;
    size_t n = 0;
    fastprom_label_t *labels = labels_from(pairs, &n, &keys, &values);
    if (!labels)
        return NULL;
    int rc, counter = self->type == FASTPROM_COUNTER;
    Py_BEGIN_ALLOW_THREADS rc = counter ? fastprom_inc_exemplar(self->series, v, labels, n, 0.0)
                                        : fastprom_observe_exemplar(self->series, v, labels, n, 0.0);
    Py_END_ALLOW_THREADS PyMem_Free(labels);
    fp_py_strings_free(&keys);
    fp_py_strings_free(&values);
    return done(self, rc);
}

static PyObject *Metric_get_bound(MetricObject *self, void *closure)
{
    (void)closure;
    return PyBool_FromLong(self->series != NULL);
}

static int Metric_traverse(MetricObject *self, visitproc visit, void *arg)
{
    Py_VISIT(self->family);
    Py_VISIT(self->children);
    Py_VISIT(self->labelnames);
    return 0;
}

static int Metric_clear(MetricObject *self)
{
    self->series = NULL; /* owned by the family's segment, which may go now */
    Py_CLEAR(self->children);
    Py_CLEAR(self->labelnames);
    Py_CLEAR(self->family);
    return 0;
}

static void Metric_dealloc(MetricObject *self)
{
    PyObject_GC_UnTrack(self);
    Metric_clear(self);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyMethodDef Metric_methods[] = {
    {"labels", (PyCFunction)(void (*)(void))Metric_labels, METH_FASTCALL | METH_KEYWORDS,
     "labels(*values, **values): the child with these label values (created on first use, then cached)"},
    {"_bind", (PyCFunction)Metric_bind, METH_VARARGS, "_bind(family, values): the series this object writes"},
    {"_info", (PyCFunction)Metric_info, METH_O, "_info(dict): sets an Info series' pairs"},
    {"_state", (PyCFunction)Metric_state, METH_O, "_state(index): sets a stateset's state"},
    {"_exemplar", (PyCFunction)Metric_exemplar, METH_VARARGS, "_exemplar(amount, labels): update with exemplar"},
    {NULL, NULL, 0, NULL},
};

static PyMemberDef Metric_members[] = {
    {"_metrics", T_OBJECT, offsetof(MetricObject, children), 0, "children by label-value tuple (parents only)"},
    {"_labelnames", T_OBJECT, offsetof(MetricObject, labelnames), 0, "the label names (a tuple)"},
    {"_family", T_OBJECT, offsetof(MetricObject, family), READONLY, "the Family written to"},
    {NULL, 0, 0, 0, NULL},
};

static PyGetSetDef Metric_getset[] = {
    {"_bound", (getter)Metric_get_bound, NULL, "whether this object has a series to write", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

/* ---- time() and track_inprogress() --------------------------------------------------- */

/* The context managers of time() and track_inprogress(), in C so a `with`
 * block costs two C calls. fastprom.context_managers derives the decorator
 * forms from them. */
typedef struct {
    PyObject_HEAD PyObject *metric;
    PyObject *callback; /* "observe" or "set" (Timer), unused (tracker) */
    PyObject *clock;    /* NULL: CLOCK_MONOTONIC, as time.perf_counter */
    double start;
} ScopeObject;

static int now_of(ScopeObject *self, double *t)
{
    if (!self->clock) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        *t = (double)ts.tv_sec + ts.tv_nsec * 1e-9;
        return 0;
    }
    PyObject *r = PyObject_CallNoArgs(self->clock);
    if (!r)
        return -1;
    *t = PyFloat_AsDouble(r);
    Py_DECREF(r);
    return *t == -1.0 && PyErr_Occurred() ? -1 : 0;
}

static PyObject *perf_counter;

/* Timer(metric, callback_name, clock=time.perf_counter) */
static int Timer_init(ScopeObject *self, PyObject *args, PyObject *kw)
{
    static char *names[] = {"metric", "callback_name", "clock", NULL};
    PyObject *metric, *callback, *clock = NULL;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "OU|O:Timer", names, &metric, &callback, &clock))
        return -1;
    Py_INCREF(metric);
    Py_XSETREF(self->metric, metric);
    Py_INCREF(callback);
    Py_XSETREF(self->callback, callback);
    if (clock == perf_counter)
        clock = NULL;
    Py_XINCREF(clock);
    Py_XSETREF(self->clock, clock);
    return 0;
}

static PyObject *Timer_enter(ScopeObject *self, PyObject *unused)
{
    (void)unused;
    if (now_of(self, &self->start) < 0)
        return NULL;
    return Py_NewRef(self);
}

static PyObject *Timer_exit(ScopeObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    (void)args, (void)nargs;
    double end;
    if (now_of(self, &end) < 0)
        return NULL;
    /* The clock is monotonic, but a negative duration must never be recorded. */
    PyObject *duration = PyFloat_FromDouble(end > self->start ? end - self->start : 0.0);
    if (!duration)
        return NULL;
    PyObject *r = PyObject_CallMethodOneArg(self->metric, self->callback, duration);
    Py_DECREF(duration);
    if (!r)
        return NULL;
    Py_DECREF(r);
    Py_RETURN_FALSE;
}

static PyObject *s_inc_name, *s_dec_name;

/* InprogressTracker(gauge) */
static int Tracker_init(ScopeObject *self, PyObject *args, PyObject *kw)
{
    static char *names[] = {"gauge", NULL};
    PyObject *metric;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O:InprogressTracker", names, &metric))
        return -1;
    Py_INCREF(metric);
    Py_XSETREF(self->metric, metric);
    return 0;
}

static PyObject *call_noargs(PyObject *obj, PyObject *name)
{
    PyObject *r = PyObject_CallMethodNoArgs(obj, name);
    if (!r)
        return NULL;
    Py_DECREF(r);
    return obj;
}

static PyObject *Tracker_enter(ScopeObject *self, PyObject *unused)
{
    (void)unused;
    if (!call_noargs(self->metric, s_inc_name))
        return NULL;
    Py_RETURN_NONE;
}

static PyObject *Tracker_exit(ScopeObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    (void)args, (void)nargs;
    if (!call_noargs(self->metric, s_dec_name))
        return NULL;
    Py_RETURN_FALSE;
}

static int Scope_traverse(ScopeObject *self, visitproc visit, void *arg)
{
    Py_VISIT(self->metric);
    Py_VISIT(self->callback);
    Py_VISIT(self->clock);
    return 0;
}

static int Scope_clear(ScopeObject *self)
{
    Py_CLEAR(self->metric);
    Py_CLEAR(self->callback);
    Py_CLEAR(self->clock);
    return 0;
}

static void Scope_dealloc(ScopeObject *self)
{
    PyObject_GC_UnTrack(self);
    Scope_clear(self);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyMethodDef Timer_methods[] = {
    {"__enter__", (PyCFunction)Timer_enter, METH_NOARGS, NULL},
    {"__exit__", (PyCFunction)(void (*)(void))Timer_exit, METH_FASTCALL, NULL},
    {NULL, NULL, 0, NULL},
};

static PyMethodDef Tracker_methods[] = {
    {"__enter__", (PyCFunction)Tracker_enter, METH_NOARGS, NULL},
    {"__exit__", (PyCFunction)(void (*)(void))Tracker_exit, METH_FASTCALL, NULL},
    {NULL, NULL, 0, NULL},
};

static PyMemberDef Scope_members[] = {
    {"_metric", T_OBJECT, offsetof(ScopeObject, metric), 0, "the metric updated"},
    {"_callback_name", T_OBJECT, offsetof(ScopeObject, callback), READONLY, "its method called with the time"},
    {"_clock", T_OBJECT, offsetof(ScopeObject, clock), READONLY, "the clock (None: time.perf_counter)"},
    {NULL, 0, 0, 0, NULL},
};

PyTypeObject TimerCore_Type = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "fastprom._native.TimerCore",
    .tp_doc = "TimerCore(metric, callback_name, clock=time.perf_counter): calls metric.<callback_name>(seconds) "
              "when the block ends",
    .tp_basicsize = sizeof(ScopeObject),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE | Py_TPFLAGS_HAVE_GC,
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)Timer_init,
    .tp_dealloc = (destructor)Scope_dealloc,
    .tp_traverse = (traverseproc)Scope_traverse,
    .tp_clear = (inquiry)Scope_clear,
    .tp_methods = Timer_methods,
    .tp_members = Scope_members,
};

PyTypeObject TrackerCore_Type = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "fastprom._native.TrackerCore",
    .tp_doc = "TrackerCore(gauge): gauge.inc() on entry, gauge.dec() on exit",
    .tp_basicsize = sizeof(ScopeObject),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE | Py_TPFLAGS_HAVE_GC,
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)Tracker_init,
    .tp_dealloc = (destructor)Scope_dealloc,
    .tp_traverse = (traverseproc)Scope_traverse,
    .tp_clear = (inquiry)Scope_clear,
    .tp_methods = Tracker_methods,
    .tp_members = Scope_members,
};

#define CORE_FLAGS (Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE | Py_TPFLAGS_HAVE_GC)

PyTypeObject Metric_Type = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "fastprom._native.Metric",
    .tp_doc = "the C part of a fastprom metric: its series and its children",
    .tp_basicsize = sizeof(MetricObject),
    .tp_flags = CORE_FLAGS,
    .tp_new = PyType_GenericNew,
    .tp_dealloc = (destructor)Metric_dealloc,
    .tp_traverse = (traverseproc)Metric_traverse,
    .tp_clear = (inquiry)Metric_clear,
    .tp_methods = Metric_methods,
    .tp_members = Metric_members,
    .tp_getset = Metric_getset,
};

PyTypeObject CounterCore_Type = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "fastprom._native.CounterCore",
    .tp_basicsize = sizeof(MetricObject),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE, /* GC and traversal inherited */
    .tp_base = &Metric_Type,
    .tp_methods = CounterCore_methods,
};

PyTypeObject GaugeCore_Type = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "fastprom._native.GaugeCore",
    .tp_basicsize = sizeof(MetricObject),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE, /* GC and traversal inherited */
    .tp_base = &Metric_Type,
    .tp_methods = GaugeCore_methods,
};

PyTypeObject ObserveCore_Type = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "fastprom._native.ObserveCore",
    .tp_basicsize = sizeof(MetricObject),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE, /* GC and traversal inherited */
    .tp_base = &Metric_Type,
    .tp_methods = ObserveCore_methods,
};

int fp_py_metric_types_add(PyObject *module)
{
    if (!(s_labels_slow = PyUnicode_InternFromString("_labels_slow")) ||
        !(s_not_observable = PyUnicode_InternFromString("_raise_if_not_observable")) ||
        !(s_exemplar_update = PyUnicode_InternFromString("_exemplar_update")) ||
        !(s_amount = PyUnicode_InternFromString("amount")) || !(s_exemplar = PyUnicode_InternFromString("exemplar")) ||
        !(s_value = PyUnicode_InternFromString("value")) || !(float_zero = PyFloat_FromDouble(0.0)) ||
        !(s_inc_name = PyUnicode_InternFromString("inc")) || !(s_dec_name = PyUnicode_InternFromString("dec")))
        return -1;
    PyObject *time_module = PyImport_ImportModule("time");
    perf_counter = time_module ? PyObject_GetAttrString(time_module, "perf_counter") : NULL;
    Py_XDECREF(time_module);
    if (!perf_counter)
        return -1;
    PyTypeObject *types[] = {&Metric_Type,      &CounterCore_Type, &GaugeCore_Type,
                             &ObserveCore_Type, &TimerCore_Type,   &TrackerCore_Type};
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) {
        if (PyType_Ready(types[i]) < 0)
            return -1;
        const char *dot = strrchr(types[i]->tp_name, '.');
        if (PyModule_AddObjectRef(module, dot + 1, (PyObject *)types[i]) < 0)
            return -1;
    }
    return 0;
}
