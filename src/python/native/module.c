/*
 * module.c - the fastprom._native module: libfastprom's constants and small
 * functions, and the two hooks the Python package installs at import:
 *
 *  - the error factory, fastprom.registry.make_error(code, text), which maps
 *    an errcode to the package's exception classes (FastpromValueError,
 *    FastpromLimitError, ...) so that C and Python raise the same ones;
 *  - the update-failure handler, fastprom.metrics._update_failed(metric,
 *    rc), which counts and warns about dropped updates (a full segment) and
 *    raises for the rest;
 *  - FastpromError, which the middleware's request record catches (no room
 *    for a series: the request's metrics are skipped).
 */
#include "native.h"

static PyObject *error_factory;
static PyObject *update_failed;

PyObject *fp_py_raise(int code, const char *text)
{
    if (!text || !*text)
        text = fastprom_strerror(code);
    if (!error_factory) {
        PyErr_Format(PyExc_RuntimeError, "fastprom: %s", text);
        return NULL;
    }
    PyObject *exc = PyObject_CallFunction(error_factory, "is", code, text);
    if (exc) {
        PyErr_SetObject((PyObject *)Py_TYPE(exc), exc);
        Py_DECREF(exc);
    }
    return NULL;
}

PyObject *fp_py_update_failed(PyObject *metric, int rc)
{
    if (!update_failed)
        return fp_py_raise(rc, NULL);
    return PyObject_CallFunction(update_failed, "Oi", metric, rc);
}

static PyObject *install_hooks(PyObject *module, PyObject *args)
{
    (void)module;
    PyObject *factory, *failed, *error_class;
    if (!PyArg_ParseTuple(args, "OOO:_install_hooks", &factory, &failed, &error_class))
        return NULL;
    if (!PyCallable_Check(factory) || !PyCallable_Check(failed))
        return PyErr_Format(PyExc_TypeError, "_install_hooks takes two callables");
    Py_INCREF(factory);
    Py_XSETREF(error_factory, factory);
    Py_INCREF(failed);
    Py_XSETREF(update_failed, failed);
    fp_py_request_set_error_class(error_class);
    Py_RETURN_NONE;
}

static PyObject *str_or_none(const char *s)
{
    if (!s)
        Py_RETURN_NONE;
    return PyUnicode_FromString(s);
}

static PyObject *mod_strerror(PyObject *module, PyObject *arg)
{
    (void)module;
    long code = PyLong_AsLong(arg);
    if (code == -1 && PyErr_Occurred())
        return NULL;
    return str_or_none(fastprom_strerror((int)code));
}

static PyObject *mod_content_type(PyObject *module, PyObject *arg)
{
    (void)module;
    long format = PyLong_AsLong(arg);
    if (format == -1 && PyErr_Occurred())
        return NULL;
    return str_or_none(fastprom_content_type((fastprom_format_t)format));
}

static PyObject *mod_gauge_mode_parse(PyObject *module, PyObject *arg)
{
    (void)module;
    const char *name = PyUnicode_AsUTF8(arg);
    if (!name)
        return NULL;
    return PyLong_FromLong(fastprom_gauge_mode_parse(name));
}

static PyMethodDef module_methods[] = {
    {"_install_hooks", install_hooks, METH_VARARGS, "_install_hooks(error_factory, update_failed, FastpromError)"},
    {"strerror", mod_strerror, METH_O, "strerror(code) -> str"},
    {"content_type", mod_content_type, METH_O, "content_type(format) -> the Content-Type of a FORMAT_*"},
    {"gauge_mode_parse", mod_gauge_mode_parse, METH_O, "gauge_mode_parse(name) -> mode, or -1"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module_def = {
    PyModuleDef_HEAD_INIT,
    .m_name = "fastprom._native",
    .m_doc = "libfastprom for the fastprom package: segments, families and the metrics' hot path",
    .m_size = -1,
    .m_methods = module_methods,
};

static int add_constants(PyObject *m)
{
    static const struct {
        const char *name;
        long value;
    } constants[] = {
        {"OK", FASTPROM_OK},
        {"EINVAL", FASTPROM_EINVAL},
        {"ESYS", FASTPROM_ESYS},
        {"ECORRUPT", FASTPROM_ECORRUPT},
        {"EVERSION", FASTPROM_EVERSION},
        {"EFULL", FASTPROM_EFULL},
        {"ELIMIT", FASTPROM_ELIMIT},
        {"EEXIST", FASTPROM_EEXIST},
        {"ENOENT", FASTPROM_ENOENT},
        {"EBUSY", FASTPROM_EBUSY},
        {"ENOMEM", FASTPROM_ENOMEM},
        {"ERDONLY", FASTPROM_ERDONLY},
        {"COUNTER", FASTPROM_COUNTER},
        {"GAUGE", FASTPROM_GAUGE},
        {"HISTOGRAM", FASTPROM_HISTOGRAM},
        {"SUMMARY", FASTPROM_SUMMARY},
        {"INFO", FASTPROM_INFO},
        {"STATESET", FASTPROM_STATESET},
        {"READONLY", FASTPROM_READONLY},
        {"PRIVATE", FASTPROM_PRIVATE},
        {"NO_CREATE", FASTPROM_NO_CREATE},
        {"EXEMPLARS", FASTPROM_EXEMPLARS},
        {"RENDER_CREATED", FASTPROM_RENDER_CREATED},
        {"RENDER_NO_EOF", FASTPROM_RENDER_NO_EOF},
        {"FORMAT_TEXT", FASTPROM_FORMAT_TEXT},
        {"FORMAT_OPENMETRICS", FASTPROM_FORMAT_OPENMETRICS},
        {"FORMAT_JSON", FASTPROM_FORMAT_JSON},
        {"MAX_LABELS", FASTPROM_MAX_LABELS},
    };
    for (size_t i = 0; i < sizeof constants / sizeof constants[0]; i++)
        if (PyModule_AddIntConstant(m, constants[i].name, constants[i].value) < 0)
            return -1;
    if (PyModule_AddStringConstant(m, "VERSION", fastprom_version()) < 0 ||
        PyModule_AddStringConstant(m, "DEFAULT_PATH", FASTPROM_DEFAULT_PATH) < 0)
        return -1;
    return 0;
}

PyMODINIT_FUNC PyInit__native(void);
PyMODINIT_FUNC PyInit__native(void)
{
    PyObject *m = PyModule_Create(&module_def);
    if (!m)
        return NULL;
    if (add_constants(m) < 0 || fp_py_segment_types_add(m) < 0 || fp_py_metric_types_add(m) < 0 ||
        fp_py_request_type_add(m) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
