/*
 * request.c - fastprom._native.Request, the per-request record of the WSGI
 * and ASGI middleware (fastprom._http.RequestRecord): in progress from
 * set_route() to finish(), then counted, timed and its exception counted.
 *
 * The middleware's cost per request is mostly this bookkeeping, so it is C:
 * the children of the four HTTP families are found in the bundle's caches
 * (fastprom._http.HttpMetrics._by_route / _by_status, tuples of label
 * values) and updated through their series directly. A cache miss, an
 * exception to count, or any error goes back to the Python bundle, which
 * owns creating children. Recording never breaks a request: a FastpromError
 * (no room for a new series) skips the request's metrics.
 */
#include "native.h"

#include <structmember.h>
#include <time.h>

typedef struct {
    PyObject_HEAD PyObject *metrics; /* fastprom._http.HttpMetrics */
    PyObject *method;
    PyObject *route;     /* NULL until set_route() */
    PyObject *status;    /* str, set by the middleware; NULL: none yet */
    PyObject *exception; /* set by the Flask hook; NULL: none */
    PyObject *children;  /* (duration child, in-progress child) while in progress */
    double start;
    int done;
} RequestObject;

static PyObject *s_by_route, *s_by_status, *s_route_children, *s_requests_child, *s_exceptions, *s_labels, *s_inc,
    *s_500;
static PyObject *fastprom_error; /* fastprom.registry.FastpromError */

void fp_py_request_set_error_class(PyObject *cls)
{
    Py_XINCREF(cls);
    Py_XSETREF(fastprom_error, cls);
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts); /* time.perf_counter's clock */
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static int Request_init(RequestObject *self, PyObject *args, PyObject *kw)
{
    static char *names[] = {"metrics", "method", NULL};
    PyObject *metrics, *method;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "OO:Request", names, &metrics, &method))
        return -1;
    Py_INCREF(metrics);
    Py_XSETREF(self->metrics, metrics);
    Py_INCREF(method);
    Py_XSETREF(self->method, method);
    self->start = now();
    return 0;
}

/* A FastpromError (no room for the series) skips the metrics: -1 clears
 * it and reports "skip", anything else stays raised (-2). */
static int skip_or_raise(void)
{
    if (fastprom_error && PyErr_ExceptionMatches(fastprom_error)) {
        PyErr_Clear();
        return -1;
    }
    return -2;
}

/* bundle.<cache>[key], else bundle.<make>(*key); a new reference. */
static PyObject *cached_child(RequestObject *self, PyObject *cache_name, PyObject *make_name, PyObject *key)
{
    PyObject *cache = PyObject_GetAttr(self->metrics, cache_name);
    if (!cache)
        return NULL;
    PyObject *child = PyDict_Check(cache) ? PyDict_GetItemWithError(cache, key) : NULL;
    Py_DECREF(cache);
    if (child)
        return Py_NewRef(child);
    if (PyErr_Occurred())
        return NULL;
    PyObject *callable = PyObject_GetAttr(self->metrics, make_name);
    if (!callable)
        return NULL;
    child = PyObject_Call(callable, key, NULL);
    Py_DECREF(callable);
    return child;
}

/* An update through a child's series, with the GIL rules of metric.c. */
static int update(PyObject *child, int (*fn)(fastprom_series_t *, double), double v)
{
    if (!PyObject_TypeCheck(child, &Metric_Type)) {
        PyErr_SetString(PyExc_TypeError, "fastprom: a request child is not a fastprom metric");
        return -1;
    }
    fastprom_series_t *s = ((MetricObject *)child)->series;
    if (!s)
        return 0; /* a child the segment had no room for: dropped, and counted by the library */
    int rc;
    if (fastprom_update_ready(s)) {
        rc = fn(s, v);
    } else {
        Py_BEGIN_ALLOW_THREADS rc = fn(s, v);
        Py_END_ALLOW_THREADS
    }
    if (!rc)
        return 0;
    PyObject *r = fp_py_update_failed(child, rc);
    Py_XDECREF(r);
    return r ? 0 : -1;
}

static PyObject *Request_set_route(RequestObject *self, PyObject *route)
{
    if (self->route || self->done)
        Py_RETURN_NONE;
    Py_INCREF(route);
    self->route = route;
    PyObject *key = PyTuple_Pack(2, self->method, route);
    PyObject *children = key ? cached_child(self, s_by_route, s_route_children, key) : NULL;
    Py_XDECREF(key);
    if (!children || !PyTuple_Check(children) || PyTuple_GET_SIZE(children) != 2) {
        if (children) {
            Py_DECREF(children);
            PyErr_SetString(PyExc_TypeError, "fastprom: route_children() must give a pair");
        }
        return skip_or_raise() == -1 ? Py_NewRef(Py_None) : NULL;
    }
    if (update(PyTuple_GET_ITEM(children, 1), fastprom_inc, 1.0) < 0) {
        Py_DECREF(children);
        return skip_or_raise() == -1 ? Py_NewRef(Py_None) : NULL;
    }
    Py_XSETREF(self->children, children);
    Py_RETURN_NONE;
}

/* The updates of finish(); -1 with an exception set. */
static int record(RequestObject *self, PyObject *route, PyObject *status, PyObject *exception, double duration)
{
    PyObject *children = self->children ? Py_NewRef(self->children) : NULL;
    if (children) {
        Py_CLEAR(self->children);
        if (update(PyTuple_GET_ITEM(children, 1), fastprom_dec, 1.0) < 0)
            goto fail;
    } else {
        PyObject *key = PyTuple_Pack(2, self->method, route);
        children = key ? cached_child(self, s_by_route, s_route_children, key) : NULL;
        Py_XDECREF(key);
        if (!children)
            return -1;
        if (!PyTuple_Check(children) || PyTuple_GET_SIZE(children) != 2) {
            PyErr_SetString(PyExc_TypeError, "fastprom: route_children() must give a pair");
            goto fail;
        }
    }
    PyObject *key = PyTuple_Pack(3, self->method, route, status);
    PyObject *requests = key ? cached_child(self, s_by_status, s_requests_child, key) : NULL;
    Py_XDECREF(key);
    if (!requests)
        goto fail;
    int rc = update(requests, fastprom_inc, 1.0);
    Py_DECREF(requests);
    if (rc < 0 || update(PyTuple_GET_ITEM(children, 0), fastprom_observe, duration > 0 ? duration : 0.0) < 0)
        goto fail;
    Py_DECREF(children);
    if (exception == Py_None)
        return 0;
    PyObject *family = PyObject_GetAttr(self->metrics, s_exceptions);
    PyObject *kind = family ? PyObject_GetAttrString((PyObject *)Py_TYPE(exception), "__name__") : NULL;
    PyObject *child = kind ? PyObject_CallMethodObjArgs(family, s_labels, self->method, route, kind, NULL) : NULL;
    PyObject *r = child ? PyObject_CallMethodNoArgs(child, s_inc) : NULL;
    Py_XDECREF(family);
    Py_XDECREF(kind);
    Py_XDECREF(child);
    Py_XDECREF(r);
    return r ? 0 : -1;
fail:
    Py_DECREF(children);
    return -1;
}

/* finish(unmatched, end=None, status=None, exception=None): records the
 * request once (later calls do nothing). */
static PyObject *Request_finish(RequestObject *self, PyObject *args, PyObject *kw)
{
    static char *names[] = {"unmatched", "end", "status", "exception", NULL};
    PyObject *unmatched, *end = Py_None, *status = Py_None, *exception = Py_None;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O|OOO:finish", names, &unmatched, &end, &status, &exception))
        return NULL;
    if (self->done)
        Py_RETURN_NONE;
    self->done = 1;
    double t = end == Py_None ? now() : PyFloat_AsDouble(end);
    if (t == -1.0 && PyErr_Occurred())
        return NULL;
    PyObject *route = self->route ? self->route : unmatched;
    if (exception != Py_None) {
        if (!PyObject_IsTrue(status))
            status = s_500; /* raised through the middleware: the response failed */
    } else if (self->exception) {
        exception = self->exception;
    }
    if (!PyObject_IsTrue(status))
        status = self->status && PyObject_IsTrue(self->status) ? self->status : s_500;
    Py_INCREF(route), Py_INCREF(status), Py_INCREF(exception);
    int rc = record(self, route, status, exception, t - self->start);
    Py_DECREF(route), Py_DECREF(status), Py_DECREF(exception);
    if (rc < 0 && skip_or_raise() == -2)
        return NULL;
    Py_RETURN_NONE;
}

static PyObject *Request_get_done(RequestObject *self, void *closure)
{
    (void)closure;
    return PyBool_FromLong(self->done);
}

static int Request_traverse(RequestObject *self, visitproc visit, void *arg)
{
    Py_VISIT(self->metrics);
    Py_VISIT(self->method);
    Py_VISIT(self->route);
    Py_VISIT(self->status);
    Py_VISIT(self->exception);
    Py_VISIT(self->children);
    return 0;
}

static int Request_clear(RequestObject *self)
{
    Py_CLEAR(self->metrics);
    Py_CLEAR(self->method);
    Py_CLEAR(self->route);
    Py_CLEAR(self->status);
    Py_CLEAR(self->exception);
    Py_CLEAR(self->children);
    return 0;
}

static void Request_dealloc(RequestObject *self)
{
    PyObject_GC_UnTrack(self);
    Request_clear(self);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyMethodDef Request_methods[] = {
    {"set_route", (PyCFunction)Request_set_route, METH_O,
     "set_route(template): the route is known; the request counts as in progress from now on"},
    {"finish", (PyCFunction)(void (*)(void))Request_finish, METH_VARARGS | METH_KEYWORDS,
     "finish(unmatched, end=None, status=None, exception=None): records the request once"},
    {NULL, NULL, 0, NULL},
};

static PyMemberDef Request_members[] = {
    {"metrics", T_OBJECT, offsetof(RequestObject, metrics), READONLY, "the HttpMetrics bundle"},
    {"method", T_OBJECT, offsetof(RequestObject, method), READONLY, "the bounded method"},
    {"route", T_OBJECT, offsetof(RequestObject, route), READONLY, "the route template, None until known"},
    {"status", T_OBJECT, offsetof(RequestObject, status), 0, "the status code (str), None until known"},
    {"exception", T_OBJECT, offsetof(RequestObject, exception), 0, "an exception the framework handled"},
    {"start", T_DOUBLE, offsetof(RequestObject, start), READONLY, "time.perf_counter() at the start"},
    {NULL, 0, 0, 0, NULL},
};

static PyGetSetDef Request_getset[] = {
    {"_done", (getter)Request_get_done, NULL, "whether finish() ran", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

PyTypeObject Request_Type = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "fastprom._native.Request",
    .tp_doc = "Request(metrics, method): one request of the HTTP middleware",
    .tp_basicsize = sizeof(RequestObject),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)Request_init,
    .tp_dealloc = (destructor)Request_dealloc,
    .tp_traverse = (traverseproc)Request_traverse,
    .tp_clear = (inquiry)Request_clear,
    .tp_methods = Request_methods,
    .tp_members = Request_members,
    .tp_getset = Request_getset,
};

int fp_py_request_type_add(PyObject *module)
{
    if (!(s_by_route = PyUnicode_InternFromString("_by_route")) ||
        !(s_by_status = PyUnicode_InternFromString("_by_status")) ||
        !(s_route_children = PyUnicode_InternFromString("route_children")) ||
        !(s_requests_child = PyUnicode_InternFromString("requests_child")) ||
        !(s_exceptions = PyUnicode_InternFromString("exceptions")) ||
        !(s_labels = PyUnicode_InternFromString("labels")) || !(s_inc = PyUnicode_InternFromString("inc")) ||
        !(s_500 = PyUnicode_InternFromString("500")))
        return -1;
    if (PyType_Ready(&Request_Type) < 0)
        return -1;
    return PyModule_AddObjectRef(module, "Request", (PyObject *)&Request_Type);
}
