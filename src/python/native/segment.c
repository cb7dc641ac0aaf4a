/*
 * segment.c - fastprom._native.Segment and Family: the structural calls of
 * libfastprom (open, families, remove/clear, render, stat, collect_dead).
 *
 * Every call that can take the segment lock runs with the GIL released: the
 * lock may be held by another process for as long as its structural change
 * lasts, and other Python threads must keep running meanwhile. Arguments are
 * copied into C memory (or pinned bytes objects) before the GIL goes.
 *
 * Lifetime: a Family holds its Segment, a metric its Family, so the handle
 * is closed (fastprom_close) only when nothing can reach its series any more.
 */
#include "native.h"

#include <structmember.h>

/* ---- strings handed to C without the GIL ----------------------------------- */

void fp_py_strings_free(fp_py_strings *s)
{
    for (Py_ssize_t i = 0; s->keep && i < s->n; i++)
        Py_XDECREF(s->keep[i]);
    PyMem_Free(s->keep);
    PyMem_Free(s->values);
    PyMem_Free(s->lengths);
    memset(s, 0, sizeof *s);
}

int fp_py_strings_from(PyObject *seq, fp_py_strings *out)
{
    memset(out, 0, sizeof *out);
    PyObject *fast = PySequence_Fast(seq, "fastprom: expected a sequence of strings");
    if (!fast)
        return -1;
    Py_ssize_t n = PySequence_Fast_GET_SIZE(fast);
    out->n = n;
    out->values = PyMem_Calloc((size_t)n + 1, sizeof *out->values);
    out->lengths = PyMem_Calloc((size_t)n + 1, sizeof *out->lengths);
    out->keep = PyMem_Calloc((size_t)n + 1, sizeof *out->keep);
    if (!out->values || !out->lengths || !out->keep) {
        Py_DECREF(fast);
        fp_py_strings_free(out);
        PyErr_NoMemory();
        return -1;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *item = PySequence_Fast_GET_ITEM(fast, i);
        PyObject *str = PyUnicode_Check(item) ? (Py_INCREF(item), item) : PyObject_Str(item);
        PyObject *b = str ? PyUnicode_AsUTF8String(str) : NULL;
        Py_XDECREF(str);
        if (!b) {
            Py_DECREF(fast);
            fp_py_strings_free(out);
            return -1;
        }
        out->keep[i] = b;
        out->values[i] = PyBytes_AS_STRING(b);
        out->lengths[i] = (size_t)PyBytes_GET_SIZE(b);
    }
    Py_DECREF(fast);
    return 0;
}

/* ---- Segment ------------------------------------------------------------------ */

static PyObject *Segment_new(PyTypeObject *type, PyObject *args, PyObject *kw)
{
    static char *names[] = {"path", "size", "max_slots", "family_limit", "mode", "flags", NULL};
    PyObject *path_arg = Py_None, *path = NULL;
    Py_ssize_t size = 0;
    unsigned max_slots = 0, family_limit = 0, mode = 0, flags = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "|OnIIII:Segment", names, &path_arg, &size, &max_slots, &family_limit,
                                     &mode, &flags))
        return NULL;
    if (path_arg != Py_None && !PyUnicode_FSConverter(path_arg, &path))
        return NULL;
    if (size < 0) {
        Py_XDECREF(path);
        PyErr_SetString(PyExc_ValueError, "fastprom: size must be >= 0");
        return NULL;
    }
    fastprom_options_t opt = {.path = path ? PyBytes_AS_STRING(path) : NULL,
                              .size = (size_t)size,
                              .max_slots = max_slots,
                              .family_limit = family_limit,
                              .mode = mode,
                              .flags = flags};
    fastprom_error_t err = {0};
    fastprom_t *fp;
    Py_BEGIN_ALLOW_THREADS fp = fastprom_open(&opt, &err);
    Py_END_ALLOW_THREADS Py_XDECREF(path);
    if (!fp)
        return fp_py_raise(err.code, err.text);
    SegmentObject *self = (SegmentObject *)type->tp_alloc(type, 0);
    if (!self) {
        fastprom_close(fp);
        return NULL;
    }
    self->fp = fp;
    return (PyObject *)self;
}

static void Segment_dealloc(SegmentObject *self)
{
    if (self->weakrefs)
        PyObject_ClearWeakRefs((PyObject *)self);
    fastprom_t *fp = self->fp;
    self->fp = NULL;
    if (fp) {
        /* Detaching folds this process's slots: it takes the segment lock. */
        Py_BEGIN_ALLOW_THREADS fastprom_close(fp);
        Py_END_ALLOW_THREADS
    }
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static int double_array(PyObject *seq, double **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    if (seq == Py_None)
        return 0;
    PyObject *fast = PySequence_Fast(seq, "fastprom: buckets must be a sequence of numbers");
    if (!fast)
        return -1;
    Py_ssize_t len = PySequence_Fast_GET_SIZE(fast);
    *out = PyMem_Calloc((size_t)len + 1, sizeof **out);
    if (!*out) {
        Py_DECREF(fast);
        PyErr_NoMemory();
        return -1;
    }
    for (Py_ssize_t i = 0; i < len; i++) {
        (*out)[i] = PyFloat_AsDouble(PySequence_Fast_GET_ITEM(fast, i));
        if ((*out)[i] == -1.0 && PyErr_Occurred()) {
            Py_DECREF(fast);
            PyMem_Free(*out);
            *out = NULL;
            return -1;
        }
    }
    *n = (size_t)len;
    Py_DECREF(fast);
    return 0;
}

/* family(type, name, help, unit, labelnames, buckets, states, gauge_mode,
 *        max_series, flags) -> Family */
static PyObject *Segment_family(SegmentObject *self, PyObject *args)
{
    int type, gauge_mode;
    const char *name, *help, *unit;
    PyObject *labelnames, *buckets, *states;
    unsigned max_series, flags;
    if (!PyArg_ParseTuple(args, "isssOOOiII:family", &type, &name, &help, &unit, &labelnames, &buckets, &states,
                          &gauge_mode, &max_series, &flags))
        return NULL;
    fp_py_strings labels = {0}, state_names = {0};
    double *bounds = NULL;
    size_t nbounds = 0;
    PyObject *result = NULL;
    if (fp_py_strings_from(labelnames, &labels) < 0)
        return NULL;
    if (states != Py_None && fp_py_strings_from(states, &state_names) < 0)
        goto out;
    if (double_array(buckets, &bounds, &nbounds) < 0)
        goto out;
    /* The name, help and unit point into str objects held by args. */
    fastprom_family_def_t def = {.type = (fastprom_type_t)type,
                                 .name = name,
                                 .help = help,
                                 .unit = unit,
                                 .label_names = (const char *const *)labels.values,
                                 .nlabels = (size_t)labels.n,
                                 .buckets = bounds,
                                 .nbuckets = nbounds,
                                 .states = (const char *const *)state_names.values,
                                 .nstates = (size_t)state_names.n,
                                 .gauge_mode = (fastprom_gauge_mode_t)gauge_mode,
                                 .max_series = max_series,
                                 .flags = flags};
    fastprom_error_t err = {0};
    fastprom_family_t *fam;
    Py_BEGIN_ALLOW_THREADS fam = fastprom_family(self->fp, &def, &err);
    Py_END_ALLOW_THREADS if (!fam)
    {
        fp_py_raise(err.code, err.text);
        goto out;
    }
    FamilyObject *f = PyObject_New(FamilyObject, &Family_Type);
    if (!f)
        goto out;
    Py_INCREF(self);
    f->segment = self;
    f->family = fam;
    f->type = type;
    result = (PyObject *)f;
out:
    fp_py_strings_free(&labels);
    fp_py_strings_free(&state_names);
    PyMem_Free(bounds);
    return result;
}

/* render(format, names=None, prefix=None, flags=0, exclude=None) -> bytes */
static PyObject *Segment_render(SegmentObject *self, PyObject *args, PyObject *kw)
{
    static char *kwnames[] = {"format", "names", "prefix", "flags", "exclude", NULL};
    int format = FASTPROM_FORMAT_TEXT;
    PyObject *names = Py_None, *exclude = Py_None;
    const char *prefix = NULL;
    unsigned flags = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "|iOzIO:render", kwnames, &format, &names, &prefix, &flags, &exclude))
        return NULL;
    fp_py_strings want = {0}, leave = {0};
    PyObject *result = NULL;
    if (names != Py_None && fp_py_strings_from(names, &want) < 0)
        return NULL;
    if (exclude != Py_None && fp_py_strings_from(exclude, &leave) < 0)
        goto out;
    fastprom_render_options_t opt = {.format = (fastprom_format_t)format,
                                     .names = (const char *const *)want.values,
                                     .nnames = (size_t)want.n,
                                     .prefix = prefix,
                                     .flags = flags,
                                     .exclude = (const char *const *)leave.values,
                                     .nexclude = (size_t)leave.n};
    fastprom_buf_t buf = {0};
    fastprom_error_t err = {0};
    int rc;
    Py_BEGIN_ALLOW_THREADS rc = fastprom_render(self->fp, &opt, &buf, &err);
    Py_END_ALLOW_THREADS if (rc) fp_py_raise(rc, err.text);
    else result = PyBytes_FromStringAndSize(buf.data ? buf.data : "", (Py_ssize_t)buf.len);
    fastprom_buf_free(&buf);
out:
    fp_py_strings_free(&want);
    fp_py_strings_free(&leave);
    return result;
}

static int dict_put(PyObject *d, const char *key, PyObject *value)
{
    if (!value)
        return -1;
    int rc = PyDict_SetItemString(d, key, value);
    Py_DECREF(value);
    return rc;
}

static PyObject *by_type(const uint32_t *v)
{
    PyObject *list = PyList_New(FASTPROM_NTYPES);
    for (int i = 0; list && i < FASTPROM_NTYPES; i++) {
        PyObject *n = PyLong_FromUnsignedLong(v[i]);
        if (!n) {
            Py_CLEAR(list);
            break;
        }
        PyList_SET_ITEM(list, i, n);
    }
    return list;
}

/* stat() -> dict of fastprom_stat_t's fields */
static PyObject *Segment_stat(SegmentObject *self, PyObject *unused)
{
    (void)unused;
    fastprom_stat_t st;
    fastprom_error_t err = {0};
    int rc;
    Py_BEGIN_ALLOW_THREADS rc = fastprom_stat(self->fp, &st, &err);
    Py_END_ALLOW_THREADS if (rc) return fp_py_raise(rc, err.text);
    PyObject *d = PyDict_New();
    if (!d)
        return NULL;
    if (dict_put(d, "layout_version", PyLong_FromUnsignedLong(st.layout_version)) ||
        dict_put(d, "size", PyLong_FromUnsignedLongLong(st.size)) ||
        dict_put(d, "used", PyLong_FromUnsignedLongLong(st.used)) ||
        dict_put(d, "created", PyFloat_FromDouble(st.created)) ||
        dict_put(d, "families", PyLong_FromUnsignedLong(st.families)) ||
        dict_put(d, "families_by_type", by_type(st.families_by_type)) ||
        dict_put(d, "series", PyLong_FromUnsignedLong(st.series)) ||
        dict_put(d, "series_by_type", by_type(st.series_by_type)) ||
        dict_put(d, "series_capacity", PyLong_FromUnsignedLong(st.series_capacity)) ||
        dict_put(d, "slots_total", PyLong_FromUnsignedLong(st.slots_total)) ||
        dict_put(d, "slots_live", PyLong_FromUnsignedLong(st.slots_live)) ||
        dict_put(d, "slots_dead", PyLong_FromUnsignedLong(st.slots_dead)) ||
        dict_put(d, "processes_live", PyLong_FromUnsignedLong(st.processes_live)) ||
        dict_put(d, "dropped_series", PyLong_FromUnsignedLongLong(st.dropped_series)) ||
        dict_put(d, "dropped_updates", PyLong_FromUnsignedLongLong(st.dropped_updates)) ||
        dict_put(d, "fallback_updates", PyLong_FromUnsignedLongLong(st.fallback_updates)) ||
        dict_put(d, "folded_slots", PyLong_FromUnsignedLongLong(st.folded_slots)) ||
        dict_put(d, "repairs", PyLong_FromUnsignedLongLong(st.repairs)) ||
        dict_put(d, "activity", PyLong_FromUnsignedLongLong(st.activity))) {
        Py_DECREF(d);
        return NULL;
    }
    return d;
}

static PyObject *Segment_collect_dead(SegmentObject *self, PyObject *unused)
{
    (void)unused;
    fastprom_error_t err = {0};
    int rc;
    Py_BEGIN_ALLOW_THREADS rc = fastprom_collect_dead(self->fp, &err);
    Py_END_ALLOW_THREADS if (rc < 0) return fp_py_raise(rc, err.text);
    return PyLong_FromLong(rc);
}

static PyObject *Segment_check(SegmentObject *self, PyObject *unused)
{
    (void)unused;
    fastprom_error_t err = {0};
    int rc;
    Py_BEGIN_ALLOW_THREADS rc = fastprom_check(self->fp, &err);
    Py_END_ALLOW_THREADS if (rc) return fp_py_raise(rc, err.text);
    Py_RETURN_NONE;
}

static PyObject *Segment_get_path(SegmentObject *self, void *closure)
{
    (void)closure;
    return PyUnicode_DecodeFSDefault(fastprom_path(self->fp));
}

static PyMethodDef Segment_methods[] = {
    {"family", (PyCFunction)Segment_family, METH_VARARGS,
     "family(type, name, help, unit, labelnames, buckets, states, gauge_mode, max_series, flags) -> Family"},
    {"render", (PyCFunction)(void (*)(void))Segment_render, METH_VARARGS | METH_KEYWORDS,
     "render(format, names=None, prefix=None, flags=0, exclude=None) -> bytes"},
    {"stat", (PyCFunction)Segment_stat, METH_NOARGS, "stat() -> dict (fastprom_stat_t)"},
    {"collect_dead", (PyCFunction)Segment_collect_dead, METH_NOARGS, "collect_dead() -> slots folded"},
    {"check", (PyCFunction)Segment_check, METH_NOARGS, "check(): raises when the segment is unusable"},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef Segment_getset[] = {
    {"path", (getter)Segment_get_path, NULL, "the path the segment was opened with", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

PyTypeObject Segment_Type = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "fastprom._native.Segment",
    .tp_doc = "Segment(path=None, size=0, max_slots=0, family_limit=0, mode=0, flags=0): a fastprom_t",
    .tp_basicsize = sizeof(SegmentObject),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_new = Segment_new,
    .tp_dealloc = (destructor)Segment_dealloc,
    .tp_weaklistoffset = offsetof(SegmentObject, weakrefs),
    .tp_methods = Segment_methods,
    .tp_getset = Segment_getset,
};

/* ---- Family --------------------------------------------------------------------- */

static void Family_dealloc(FamilyObject *self)
{
    Py_XDECREF(self->segment);
    PyObject_Free(self);
}

/* remove(values) -> True, or False when there was no such series */
static PyObject *Family_remove(FamilyObject *self, PyObject *values)
{
    fp_py_strings v;
    if (fp_py_strings_from(values, &v) < 0)
        return NULL;
    fastprom_error_t err = {0};
    int rc;
    Py_BEGIN_ALLOW_THREADS rc =
        fastprom_remove(self->family, v.n ? (const char *const *)v.values : NULL, v.n ? v.lengths : NULL, &err);
    Py_END_ALLOW_THREADS fp_py_strings_free(&v);
    if (rc == FASTPROM_ENOENT)
        Py_RETURN_FALSE;
    if (rc)
        return fp_py_raise(rc, err.text);
    Py_RETURN_TRUE;
}

static PyObject *Family_clear(FamilyObject *self, PyObject *unused)
{
    (void)unused;
    fastprom_error_t err = {0};
    int rc;
    Py_BEGIN_ALLOW_THREADS rc = fastprom_clear(self->family, &err);
    Py_END_ALLOW_THREADS if (rc) return fp_py_raise(rc, err.text);
    Py_RETURN_NONE;
}

static PyMethodDef Family_methods[] = {
    {"remove", (PyCFunction)Family_remove, METH_O, "remove(values) -> bool: removes one series"},
    {"clear", (PyCFunction)Family_clear, METH_NOARGS, "clear(): removes every series"},
    {NULL, NULL, 0, NULL},
};

static PyMemberDef Family_members[] = {
    {"segment", T_OBJECT, offsetof(FamilyObject, segment), READONLY, "the Segment"},
    {"type", T_INT, offsetof(FamilyObject, type), READONLY, "the fastprom_type_t"},
    {NULL, 0, 0, 0, NULL},
};

PyTypeObject Family_Type = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "fastprom._native.Family",
    .tp_doc = "a fastprom_family_t (made by Segment.family)",
    .tp_basicsize = sizeof(FamilyObject),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_dealloc = (destructor)Family_dealloc,
    .tp_methods = Family_methods,
    .tp_members = Family_members,
};

int fp_py_segment_types_add(PyObject *module)
{
    if (PyType_Ready(&Segment_Type) < 0 || PyType_Ready(&Family_Type) < 0)
        return -1;
    if (PyModule_AddObjectRef(module, "Segment", (PyObject *)&Segment_Type) < 0 ||
        PyModule_AddObjectRef(module, "Family", (PyObject *)&Family_Type) < 0)
        return -1;
    return 0;
}
