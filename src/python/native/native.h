/*
 * native.h - what the files of the CPython extension fastprom._native share.
 *
 * The extension is the Python package's only binding to libfastprom (linked
 * in statically, its symbols hidden): segment.c owns segments and families
 * (the structural calls, made with the GIL released), metric.c the metric
 * objects' update methods and the labels() cache (the hot path, made with
 * the GIL held unless the update would wait), request.c the HTTP
 * middleware's per-request record, module.c the module, its
 * constants and the error plumbing to the package's exception classes.
 */
#ifndef FASTPROM_PY_NATIVE_H
#define FASTPROM_PY_NATIVE_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include "fastprom.h"

/* A fastprom_t. Closed when the last object using it (registry, family,
 * metric) goes away, so a metric can never outlive its handle. */
typedef struct {
    PyObject_HEAD fastprom_t *fp;
    PyObject *weakrefs;
} SegmentObject;

/* A fastprom_family_t of a segment. */
typedef struct {
    PyObject_HEAD SegmentObject *segment;
    fastprom_family_t *family;
    int type;
} FamilyObject;

/* The C part of a metric (a parent or a labelled child). The Python classes
 * (fastprom.metrics.Counter, ...) derive from these types. */
typedef struct {
    PyObject_HEAD fastprom_series_t *series; /* NULL: a parent with labels, or not bound yet */
    FamilyObject *family;                    /* NULL until _bind() */
    PyObject *children;                      /* dict: label-value tuple -> child; NULL on children */
    PyObject *labelnames;                    /* tuple of str, or NULL */
    int type;                                /* fastprom_type_t of the family */
} MetricObject;

extern PyTypeObject Segment_Type;
extern PyTypeObject Family_Type;
extern PyTypeObject Metric_Type;
extern PyTypeObject CounterCore_Type;
extern PyTypeObject GaugeCore_Type;
extern PyTypeObject ObserveCore_Type;
extern PyTypeObject TimerCore_Type;
extern PyTypeObject TrackerCore_Type;

/* module.c: raises the package's exception for a libfastprom error (through
 * the factory fastprom.registry installed), returns NULL. */
PyObject *fp_py_raise(int code, const char *text);
/* module.c: reports a failed update (EFULL and friends) to the package's
 * handler; returns its result (None) or NULL with an exception set. */
PyObject *fp_py_update_failed(PyObject *metric, int rc);

/* segment.c: UTF-8 copies of a sequence of str (or str()-able) values, for
 * calls made without the GIL. Free with fp_py_strings_free. */
typedef struct {
    Py_ssize_t n;
    char **values;
    size_t *lengths;
    PyObject **keep; /* the bytes objects the values point into */
} fp_py_strings;
int fp_py_strings_from(PyObject *seq, fp_py_strings *out);
void fp_py_strings_free(fp_py_strings *s);

/* request.c: the middleware's per-request record; the class whose
 * exceptions mean "no room, skip this request's metrics". */
extern PyTypeObject Request_Type;
void fp_py_request_set_error_class(PyObject *cls);
int fp_py_request_type_add(PyObject *module);

/* metric.c: registers the metric types in the module. */
int fp_py_metric_types_add(PyObject *module);
/* segment.c: registers Segment and Family. */
int fp_py_segment_types_add(PyObject *module);

#endif
