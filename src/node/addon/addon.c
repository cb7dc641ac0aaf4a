/*
 * addon.c - the N-API addon under the `fastprom` Node package: module
 * registration, the per-environment handle tables, and the structural calls
 * (open, family, series, remove, render, stat).
 *
 * JavaScript never holds a C pointer. Segments, families and series are
 * small integers indexing tables kept per Node environment (main thread and
 * each worker_thread have their own), so a wrong or stale argument from JS is
 * a range check that fails, never a dereference of a forged pointer: a bad
 * call cannot crash the process or write a stray byte into the segment.
 * Series id 0 is "no series": updates through it are refused (EINVAL), which
 * is how JS represents a child the segment could not make.
 *
 * libfastprom is linked in statically: one file to find and load, and its
 * version always matches the addon's.
 */
#include <stdlib.h>
#include <string.h>

#include "addon.h"

/* ---- tables ------------------------------------------------------------- */

static int grow(void **items, uint32_t *cap, uint32_t need, size_t size)
{
    if (need <= *cap)
        return 0;
    uint32_t ncap = *cap ? *cap : 64;
    while (ncap < need) {
        if (ncap > UINT32_MAX / 2)
            return -1;
        ncap *= 2;
    }
    void *p = realloc(*items, (size_t)ncap * size);
    if (!p)
        return -1;
    *items = p;
    *cap = ncap;
    return 0;
}

static void forget_segment_handles(fpn_env_t *e, uint32_t seg)
{
    for (uint32_t i = 1; i < e->nseries; i++)
        if (e->series[i].seg == seg)
            e->series[i].s = NULL;
    for (uint32_t i = 0; i < e->nfams; i++)
        if (e->fams[i].seg == seg)
            e->fams[i].f = NULL;
}

static void env_teardown(napi_env env, void *data, void *hint)
{
    (void)env;
    (void)hint;
    fpn_env_t *e = data;
    for (uint32_t i = 0; i < e->nsegs; i++)
        fastprom_close(e->segs[i]);
    free(e->segs);
    free(e->fams);
    free(e->series);
    free(e);
}

/* ---- errors ------------------------------------------------------------- */

static const char *code_name(int code)
{
    switch (code) {
    case FASTPROM_EINVAL: return "FASTPROM_EINVAL";
    case FASTPROM_ESYS: return "FASTPROM_ESYS";
    case FASTPROM_ECORRUPT: return "FASTPROM_ECORRUPT";
    case FASTPROM_EVERSION: return "FASTPROM_EVERSION";
    case FASTPROM_EFULL: return "FASTPROM_EFULL";
    case FASTPROM_ELIMIT: return "FASTPROM_ELIMIT";
    case FASTPROM_EEXIST: return "FASTPROM_EEXIST";
    case FASTPROM_ENOENT: return "FASTPROM_ENOENT";
    case FASTPROM_EBUSY: return "FASTPROM_EBUSY";
    case FASTPROM_ENOMEM: return "FASTPROM_ENOMEM";
    case FASTPROM_ERDONLY: return "FASTPROM_ERDONLY";
    default: return "FASTPROM_ERROR";
    }
}

napi_value fpn_throw(napi_env env, int code, const char *text)
{
    bool pending = false;
    if (napi_is_exception_pending(env, &pending) == napi_ok && pending)
        return NULL;
    napi_value msg, err, num;
    if (!text || !*text)
        text = fastprom_strerror(code);
    if (napi_create_string_utf8(env, text, NAPI_AUTO_LENGTH, &msg) != napi_ok ||
        napi_create_error(env, NULL, msg, &err) != napi_ok) {
        napi_throw_error(env, code_name(code), text);
        return NULL;
    }
    napi_value cname;
    if (napi_create_string_utf8(env, code_name(code), NAPI_AUTO_LENGTH, &cname) == napi_ok)
        napi_set_named_property(env, err, "code", cname);
    if (napi_create_int32(env, code, &num) == napi_ok)
        napi_set_named_property(env, err, "fastpromCode", num);
    napi_throw(env, err);
    return NULL;
}

napi_value fpn_throw_err(napi_env env, const fastprom_error_t *err)
{
    return fpn_throw(env, err->code, err->text);
}

/* ---- argument helpers ----------------------------------------------------- */

/* Fetches up to max arguments (missing ones are undefined) and the env's tables. */
fpn_env_t *fpn_args(napi_env env, napi_callback_info info, size_t max, napi_value *argv)
{
    size_t argc = max;
    void *data = NULL;
    if (napi_get_cb_info(env, info, &argc, argv, NULL, &data) != napi_ok)
        return NULL;
    napi_value undef;
    napi_get_undefined(env, &undef);
    for (size_t i = argc; i < max; i++)
        argv[i] = undef;
    return data;
}

static int get_u32(napi_env env, napi_value v, uint32_t *out)
{
    return napi_get_value_uint32(env, v, out) == napi_ok ? 0 : -1;
}

static int is_nullish(napi_env env, napi_value v)
{
    napi_valuetype t;
    return napi_typeof(env, v, &t) != napi_ok || t == napi_undefined || t == napi_null;
}

/* A JS string as a malloc'ed UTF-8 C string (length in *len); NULL and a
 * pending TypeError if v is no string. */
char *fpn_string(napi_env env, napi_value v, size_t *len)
{
    size_t n = 0;
    if (napi_get_value_string_utf8(env, v, NULL, 0, &n) != napi_ok) {
        napi_throw_type_error(env, "FASTPROM_EINVAL", "fastprom: expected a string");
        return NULL;
    }
    char *s = malloc(n + 1);
    if (!s) {
        fpn_throw(env, FASTPROM_ENOMEM, "fastprom: out of memory copying a string");
        return NULL;
    }
    napi_get_value_string_utf8(env, v, s, n + 1, &n);
    if (len)
        *len = n;
    return s;
}

static void free_strings(char **s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(s[i]);
}

/* An array of at most max JS strings as C strings and lengths; returns the
 * count, or -1 with an exception pending. */
static long get_string_array(napi_env env, napi_value arr, size_t max, char **out, size_t *lens)
{
    bool is_array = false;
    uint32_t n = 0;
    if (napi_is_array(env, arr, &is_array) != napi_ok || !is_array || napi_get_array_length(env, arr, &n) != napi_ok) {
        napi_throw_type_error(env, "FASTPROM_EINVAL", "fastprom: expected an array of strings");
        return -1;
    }
    if (n > max) {
        fpn_throw(env, FASTPROM_EINVAL, "fastprom: too many strings in an array");
        return -1;
    }
    for (uint32_t i = 0; i < n; i++) {
        napi_value item;
        if (napi_get_element(env, arr, i, &item) != napi_ok || !(out[i] = fpn_string(env, item, &lens[i]))) {
            free_strings(out, i);
            return -1;
        }
    }
    return (long)n;
}

static fastprom_t *seg_arg(fpn_env_t *e, napi_env env, napi_value v)
{
    uint32_t i;
    if (get_u32(env, v, &i) || i >= e->nsegs || !e->segs[i]) {
        fpn_throw(env, FASTPROM_EINVAL, "fastprom: no such segment handle (closed?)");
        return NULL;
    }
    return e->segs[i];
}

static fpn_family_t *fam_arg(fpn_env_t *e, napi_env env, napi_value v)
{
    uint32_t i;
    if (get_u32(env, v, &i) || i >= e->nfams || !e->fams[i].f) {
        fpn_throw(env, FASTPROM_EINVAL, "fastprom: no such family handle (segment closed?)");
        return NULL;
    }
    return &e->fams[i];
}

static napi_value u32_value(napi_env env, uint32_t v)
{
    napi_value out;
    napi_create_uint32(env, v, &out);
    return out;
}

/* ---- segments -------------------------------------------------------------- */

/* The segment named by a call's only argument; NULL with an exception pending. */
static fastprom_t *seg_from(napi_env env, napi_callback_info info)
{
    napi_value argv[1];
    fpn_env_t *e = fpn_args(env, info, 1, argv);
    return e ? seg_arg(e, env, argv[0]) : NULL;
}

/* open(path|null, size, flags, mode) -> segment id */
static napi_value js_open(napi_env env, napi_callback_info info)
{
    napi_value argv[4];
    fpn_env_t *e = fpn_args(env, info, 4, argv);
    if (!e)
        return NULL;
    char *path = NULL;
    if (!is_nullish(env, argv[0]) && !(path = fpn_string(env, argv[0], NULL)))
        return NULL;
    double size = 0;
    uint32_t flags = 0, mode = 0;
    if (!is_nullish(env, argv[1]))
        napi_get_value_double(env, argv[1], &size);
    get_u32(env, argv[2], &flags);
    get_u32(env, argv[3], &mode);
    if (grow((void **)&e->segs, &e->capsegs, e->nsegs + 1, sizeof *e->segs)) {
        free(path);
        return fpn_throw(env, FASTPROM_ENOMEM, "fastprom: out of memory");
    }
    fastprom_options_t opt = {.path = path, .size = size > 0 ? (size_t)size : 0, .mode = mode, .flags = flags};
    fastprom_error_t err = {0};
    fastprom_t *fp = fastprom_open(&opt, &err);
    free(path);
    if (!fp)
        return fpn_throw_err(env, &err);
    e->segs[e->nsegs] = fp;
    return u32_value(env, e->nsegs++);
}

/* close(seg): its family and series ids stop working. */
static napi_value js_close(napi_env env, napi_callback_info info)
{
    napi_value argv[1];
    fpn_env_t *e = fpn_args(env, info, 1, argv);
    uint32_t i;
    if (!e || get_u32(env, argv[0], &i) || i >= e->nsegs || !e->segs[i])
        return NULL;
    forget_segment_handles(e, i);
    fastprom_close(e->segs[i]);
    e->segs[i] = NULL;
    return NULL;
}

static napi_value js_path(napi_env env, napi_callback_info info)
{
    napi_value out;
    fastprom_t *fp = seg_from(env, info);
    if (!fp)
        return NULL;
    napi_create_string_utf8(env, fastprom_path(fp), NAPI_AUTO_LENGTH, &out);
    return out;
}

static napi_value js_check(napi_env env, napi_callback_info info)
{
    fastprom_t *fp = seg_from(env, info);
    fastprom_error_t err = {0};
    if (fp && fastprom_check(fp, &err))
        return fpn_throw_err(env, &err);
    return NULL;
}

static napi_value js_collect_dead(napi_env env, napi_callback_info info)
{
    napi_value out;
    fastprom_t *fp = seg_from(env, info);
    if (!fp)
        return NULL;
    fastprom_error_t err = {0};
    int rc = fastprom_collect_dead(fp, &err);
    if (rc < 0)
        return fpn_throw_err(env, &err);
    napi_create_int32(env, rc, &out);
    return out;
}

/* ---- families and series --------------------------------------------------- */

static int get_prop(napi_env env, napi_value obj, const char *name, napi_value *out)
{
    bool has = false;
    if (napi_has_named_property(env, obj, name, &has) != napi_ok || !has ||
        napi_get_named_property(env, obj, name, out) != napi_ok)
        return 0;
    return !is_nullish(env, *out);
}

static uint32_t prop_u32(napi_env env, napi_value obj, const char *name)
{
    napi_value v;
    uint32_t out = 0;
    if (get_prop(env, obj, name, &v))
        get_u32(env, v, &out);
    return out;
}

/* family(seg, {type, name, help, unit, labelNames, buckets, gaugeMode, maxSeries, flags}) -> family id */
static napi_value js_family(napi_env env, napi_callback_info info)
{
    napi_value argv[2], v;
    fpn_env_t *e = fpn_args(env, info, 2, argv);
    fastprom_t *fp = e ? seg_arg(e, env, argv[0]) : NULL;
    if (!fp)
        return NULL;
    napi_value d = argv[1];
    fastprom_family_def_t def = {0};
    char *name = NULL, *help = NULL, *unit = NULL, *labels[FASTPROM_MAX_LABELS];
    size_t lens[FASTPROM_MAX_LABELS];
    double buckets[FASTPROM_MAX_BUCKETS + 1];
    long nlabels = 0;
    napi_value result = NULL;
    def.type = (fastprom_type_t)prop_u32(env, d, "type");
    def.gauge_mode = (fastprom_gauge_mode_t)prop_u32(env, d, "gaugeMode");
    def.max_series = prop_u32(env, d, "maxSeries");
    def.flags = prop_u32(env, d, "flags");
    if (!get_prop(env, d, "name", &v) || !(name = fpn_string(env, v, NULL)))
        goto out;
    if (get_prop(env, d, "help", &v) && !(help = fpn_string(env, v, NULL)))
        goto out;
    if (get_prop(env, d, "unit", &v) && !(unit = fpn_string(env, v, NULL)))
        goto out;
    if (get_prop(env, d, "labelNames", &v) &&
        (nlabels = get_string_array(env, v, FASTPROM_MAX_LABELS, labels, lens)) < 0) {
        nlabels = 0;
        goto out;
    }
    if (get_prop(env, d, "buckets", &v)) {
        uint32_t n = 0;
        bool is_array = false;
        if (napi_is_array(env, v, &is_array) != napi_ok || !is_array || napi_get_array_length(env, v, &n) != napi_ok ||
            n > FASTPROM_MAX_BUCKETS + 1) {
            fpn_throw(env, FASTPROM_EINVAL, "fastprom: buckets must be an array of at most 64 numbers");
            goto out;
        }
        for (uint32_t i = 0; i < n; i++) {
            napi_value b;
            if (napi_get_element(env, v, i, &b) != napi_ok || napi_get_value_double(env, b, &buckets[i]) != napi_ok) {
                fpn_throw(env, FASTPROM_EINVAL, "fastprom: buckets must be numbers");
                goto out;
            }
        }
        def.buckets = buckets;
        def.nbuckets = n;
    }
    def.name = name;
    def.help = help;
    def.unit = unit;
    def.label_names = (const char *const *)labels;
    def.nlabels = (size_t)nlabels;
    if (grow((void **)&e->fams, &e->capfams, e->nfams + 1, sizeof *e->fams)) {
        fpn_throw(env, FASTPROM_ENOMEM, "fastprom: out of memory");
        goto out;
    }
    fastprom_error_t err = {0};
    fastprom_family_t *f = fastprom_family(fp, &def, &err);
    if (!f) {
        fpn_throw_err(env, &err);
        goto out;
    }
    uint32_t seg = 0;
    get_u32(env, argv[0], &seg);
    e->fams[e->nfams] = (fpn_family_t){f, seg};
    result = u32_value(env, e->nfams++);
out:
    free(name);
    free(help);
    free(unit);
    free_strings(labels, (size_t)nlabels);
    return result;
}

/* The (family, label values) arguments of series() and remove(). */
typedef struct label_args {
    fpn_env_t *e;
    fpn_family_t *fam;
    char *values[FASTPROM_MAX_LABELS];
    size_t lens[FASTPROM_MAX_LABELS];
    size_t n;
} label_args_t;

/* Reads (fam, values[]|null); returns 0, or -1 with an exception pending. */
static int get_label_args(napi_env env, napi_callback_info info, label_args_t *a)
{
    napi_value argv[2];
    a->n = 0;
    if (!(a->e = fpn_args(env, info, 2, argv)) || !(a->fam = fam_arg(a->e, env, argv[0])))
        return -1;
    if (is_nullish(env, argv[1]))
        return 0;
    long n = get_string_array(env, argv[1], FASTPROM_MAX_LABELS, a->values, a->lens);
    if (n < 0)
        return -1;
    a->n = (size_t)n;
    return 0;
}

static const char *const *label_values(const label_args_t *a)
{
    return a->n ? (const char *const *)a->values : NULL;
}

static const size_t *label_lengths(const label_args_t *a)
{
    return a->n ? a->lens : NULL;
}

/* series(fam, values[]) -> series id (> 0) */
static napi_value js_series(napi_env env, napi_callback_info info)
{
    label_args_t a;
    if (get_label_args(env, info, &a))
        return NULL;
    fpn_env_t *e = a.e;
    napi_value result = NULL;
    fastprom_error_t err = {0};
    fastprom_series_t *s;
    if (grow((void **)&e->series, &e->capseries, e->nseries + 1, sizeof *e->series))
        fpn_throw(env, FASTPROM_ENOMEM, "fastprom: out of memory");
    else if (!(s = fastprom_series(a.fam->f, label_values(&a), label_lengths(&a), &err)))
        fpn_throw_err(env, &err);
    else {
        e->series[e->nseries] = (fpn_series_t){s, a.fam->seg};
        result = u32_value(env, e->nseries++);
    }
    free_strings(a.values, a.n);
    return result;
}

/* remove(fam, values[]): a series that does not exist is no error. */
static napi_value js_remove(napi_env env, napi_callback_info info)
{
    label_args_t a;
    if (get_label_args(env, info, &a))
        return NULL;
    fastprom_error_t err = {0};
    int rc = fastprom_remove(a.fam->f, label_values(&a), label_lengths(&a), &err);
    free_strings(a.values, a.n);
    if (rc && rc != FASTPROM_ENOENT)
        return fpn_throw_err(env, &err);
    return NULL;
}

/* clear(fam) */
static napi_value js_clear(napi_env env, napi_callback_info info)
{
    napi_value argv[1];
    fpn_env_t *e = fpn_args(env, info, 1, argv);
    fpn_family_t *fam = e ? fam_arg(e, env, argv[0]) : NULL;
    fastprom_error_t err = {0};
    if (fam && fastprom_clear(fam->f, &err))
        return fpn_throw_err(env, &err);
    return NULL;
}

/* ---- rendering and statistics ---------------------------------------------- */

/* render(seg, format, names[]|null, prefix|null, flags, exclude[]|null) -> string */
static napi_value js_render(napi_env env, napi_callback_info info)
{
    enum { MAXN = 4096 };
    napi_value argv[6], out = NULL;
    fpn_env_t *e = fpn_args(env, info, 6, argv);
    fastprom_t *fp = e ? seg_arg(e, env, argv[0]) : NULL;
    if (!fp)
        return NULL;
    uint32_t format = 0, flags = 0;
    get_u32(env, argv[1], &format);
    get_u32(env, argv[4], &flags);
    char **names = NULL, **exclude = NULL, *prefix = NULL;
    size_t *lens = NULL;
    long nnames = 0, nexclude = 0;
    fastprom_buf_t buf = {0};
    if (!(names = calloc(MAXN, sizeof *names)) || !(exclude = calloc(MAXN, sizeof *exclude)) ||
        !(lens = calloc(MAXN, sizeof *lens))) {
        fpn_throw(env, FASTPROM_ENOMEM, "fastprom: out of memory");
        goto done;
    }
    if (!is_nullish(env, argv[2]) && (nnames = get_string_array(env, argv[2], MAXN, names, lens)) < 0) {
        nnames = 0;
        goto done;
    }
    if (!is_nullish(env, argv[5]) && (nexclude = get_string_array(env, argv[5], MAXN, exclude, lens)) < 0) {
        nexclude = 0;
        goto done;
    }
    if (!is_nullish(env, argv[3]) && !(prefix = fpn_string(env, argv[3], NULL)))
        goto done;
    fastprom_render_options_t opt = {
        .format = (fastprom_format_t)format,
        .names = (const char *const *)names,
        .nnames = (size_t)nnames,
        .prefix = prefix,
        .flags = flags,
        .exclude = (const char *const *)exclude,
        .nexclude = (size_t)nexclude,
    };
    fastprom_error_t err = {0};
    if (is_nullish(env, argv[2]))
        opt.names = NULL;
    if (fastprom_render(fp, &opt, &buf, &err)) {
        fpn_throw_err(env, &err);
        goto done;
    }
    if (napi_create_string_utf8(env, buf.len ? buf.data : "", buf.len, &out) != napi_ok)
        fpn_throw(env, FASTPROM_ENOMEM, "fastprom: the exposition does not fit in a JavaScript string");
done:
    fastprom_buf_free(&buf);
    if (names)
        free_strings(names, (size_t)nnames);
    if (exclude)
        free_strings(exclude, (size_t)nexclude);
    free(names);
    free(exclude);
    free(lens);
    free(prefix);
    return out;
}

static void set_num(napi_env env, napi_value obj, const char *name, double v)
{
    napi_value n;
    if (napi_create_double(env, v, &n) == napi_ok)
        napi_set_named_property(env, obj, name, n);
}

/* stat(seg) -> {size, used, families, series, ..., droppedSeries, droppedUpdates, fallbackUpdates} */
static napi_value js_stat(napi_env env, napi_callback_info info)
{
    napi_value o;
    fastprom_t *fp = seg_from(env, info);
    if (!fp)
        return NULL;
    fastprom_stat_t st;
    fastprom_error_t err = {0};
    if (fastprom_stat(fp, &st, &err))
        return fpn_throw_err(env, &err);
    napi_create_object(env, &o);
    set_num(env, o, "layoutVersion", st.layout_version);
    set_num(env, o, "size", (double)st.size);
    set_num(env, o, "used", (double)st.used);
    set_num(env, o, "created", st.created);
    set_num(env, o, "families", st.families);
    set_num(env, o, "series", st.series);
    set_num(env, o, "seriesCapacity", st.series_capacity);
    set_num(env, o, "slotsTotal", st.slots_total);
    set_num(env, o, "slotsLive", st.slots_live);
    set_num(env, o, "slotsDead", st.slots_dead);
    set_num(env, o, "processesLive", st.processes_live);
    set_num(env, o, "droppedSeries", (double)st.dropped_series);
    set_num(env, o, "droppedUpdates", (double)st.dropped_updates);
    set_num(env, o, "fallbackUpdates", (double)st.fallback_updates);
    set_num(env, o, "foldedSlots", (double)st.folded_slots);
    set_num(env, o, "repairs", (double)st.repairs);
    return o;
}

/* ---- small constants --------------------------------------------------------- */

static napi_value js_version(napi_env env, napi_callback_info info)
{
    (void)info;
    napi_value out;
    napi_create_string_utf8(env, fastprom_version(), NAPI_AUTO_LENGTH, &out);
    return out;
}

static napi_value js_strerror(napi_env env, napi_callback_info info)
{
    napi_value argv[1], out;
    int32_t code = 0;
    if (!fpn_args(env, info, 1, argv))
        return NULL;
    napi_get_value_int32(env, argv[0], &code);
    napi_create_string_utf8(env, fastprom_strerror(code), NAPI_AUTO_LENGTH, &out);
    return out;
}

/* ---- registration -------------------------------------------------------------- */

int fpn_export(napi_env env, napi_value exports, fpn_env_t *e, const fpn_function_t *fns, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        napi_value f;
        if (napi_create_function(env, fns[i].name, NAPI_AUTO_LENGTH, fns[i].fn, e, &f) != napi_ok ||
            napi_set_named_property(env, exports, fns[i].name, f) != napi_ok)
            return -1;
    }
    return 0;
}

static napi_value init(napi_env env, napi_value exports)
{
    fpn_env_t *e = calloc(1, sizeof *e);
    if (!e || grow((void **)&e->series, &e->capseries, 1, sizeof *e->series)) {
        free(e);
        napi_throw_error(env, "FASTPROM_ENOMEM", "fastprom: out of memory loading the addon");
        return NULL;
    }
    e->series[0] = (fpn_series_t){NULL, UINT32_MAX};
    e->nseries = 1;
    if (napi_set_instance_data(env, e, env_teardown, NULL) != napi_ok) {
        env_teardown(env, e, NULL);
        return NULL;
    }
    static const fpn_function_t fns[] = {
        {"open", js_open},
        {"close", js_close},
        {"path", js_path},
        {"check", js_check},
        {"collectDead", js_collect_dead},
        {"family", js_family},
        {"series", js_series},
        {"remove", js_remove},
        {"clear", js_clear},
        {"render", js_render},
        {"stat", js_stat},
        {"version", js_version},
        {"strerror", js_strerror},
    };
    if (fpn_export(env, exports, e, fns, sizeof fns / sizeof fns[0]) || fpn_register_hot(env, exports, e))
        return NULL;
    return exports;
}

/* Written out rather than NAPI_MODULE_INIT(): the macro's functions have no
 * prototypes (-Wmissing-prototypes), and older headers lack the version one. */
NAPI_MODULE_EXPORT napi_value napi_register_module_v1(napi_env env, napi_value exports);
NAPI_MODULE_EXPORT int32_t node_api_module_get_api_version_v1(void);

NAPI_MODULE_EXPORT napi_value napi_register_module_v1(napi_env env, napi_value exports)
{
    return init(env, exports);
}

NAPI_MODULE_EXPORT int32_t node_api_module_get_api_version_v1(void)
{
    return NAPI_VERSION;
}
