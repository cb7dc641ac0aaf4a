/*
 * render_json.c - fastprom's JSON view of a snapshot, built and written with
 * jansson (no hand-made JSON: every string is escaped by jansson, label
 * values may hold any byte, NUL included).
 *
 * Schema (one object, families sorted by name as in the text formats):
 *
 *   {"families": [
 *     {"name": "<prefix><name>",      counters without "_total", info
 *                                     without "_info" (as OpenMetrics)
 *      "type": "counter" | "gauge" | "histogram" | "summary" | "info" | "stateset",
 *      "help": "...", "unit": "...",  "" when not set
 *      "labels": ["method", ...],     the family's label names, in order
 *      "gauge_mode": "livesum",       gauges only
 *      "series": [
 *        {"labels": {"method": "GET", ...},
 *         counter:   "value": N, "exemplar": E (when recorded)
 *         gauge:     "value": N; modes all/liveall give one series per
 *                    process, with "pid": "1234" in "labels"; a gauge with
 *                    no contributing process (max/min modes) has no series
 *         histogram: "buckets": [{"le": "0.005", "count": N, "exemplar": E}, ...,
 *                                {"le": "+Inf", "count": N}]  (cumulative),
 *                    "count": N, "sum": N
 *         summary:   "count": N, "sum": N, "quantiles": [{"quantile": "0.5", "value": N}]
 *         stateset:  "states": {"a": 1, "b": 0}
 *         info:      "info": {"version": "1.2", ...}
 *         counter, histogram, summary with FASTPROM_RENDER_CREATED:
 *                    "created": <Unix seconds>}]}]}
 *
 *   E = {"labels": {...}, "value": N, "timestamp": <Unix seconds>}.
 *   Numbers: integral values below 2^53 are JSON integers, others reals
 *   (jansson prints 17 significant digits, which read back exactly); NaN,
 *   +Inf and -Inf, which JSON cannot hold, are the strings "NaN", "+Inf",
 *   "-Inf". le and quantile are strings in the exposition's canonical form.
 */
#include <jansson.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "fmt.h"
#include "render.h"

/* Builders return NULL when jansson runs out of memory; set/setn/append
 * below take ownership of any value (NULL too) and record the failure, so
 * one check at the end covers the whole tree. */

static json_t *number(double v)
{
    if (isnan(v))
        return json_string("NaN");
    if (isinf(v))
        return json_string(v > 0 ? "+Inf" : "-Inf");
    if (v == floor(v) && fabs(v) < 9007199254740992.0 && !(v == 0 && signbit(v)))
        return json_integer((json_int_t)v);
    return json_real(v);
}

static json_t *count(uint64_t v)
{
    return json_integer(v > INT64_MAX ? INT64_MAX : (json_int_t)v);
}

static json_t *str(fp_str_t s)
{
    return json_stringn(s.ptr, s.len);
}

typedef struct json_ctx {
    const char *prefix;
    unsigned flags;
    int failed;
} json_ctx_t;

static void set(json_ctx_t *c, json_t *obj, const char *key, json_t *v)
{
    if (!obj) {
        json_decref(v);
        c->failed = 1;
    } else if (json_object_set_new(obj, key, v)) {
        c->failed = 1;
    }
}

static void setn(json_ctx_t *c, json_t *obj, fp_str_t key, json_t *v)
{
    if (!obj) {
        json_decref(v);
        c->failed = 1;
    } else if (json_object_setn_new(obj, key.ptr, key.len, v)) {
        c->failed = 1;
    }
}

static void append(json_ctx_t *c, json_t *arr, json_t *v)
{
    if (!arr) {
        json_decref(v);
        c->failed = 1;
    } else if (json_array_append_new(arr, v)) {
        c->failed = 1;
    }
}

static json_t *pairs(json_ctx_t *c, const fp_str_t *keys, const fp_str_t *values, size_t n)
{
    json_t *obj = json_object();
    for (size_t i = 0; i < n; i++)
        setn(c, obj, keys[i], str(values[i]));
    return obj;
}

static json_t *series_labels(json_ctx_t *c, const fp_snap_family_t *f, const fp_snap_series_t *s)
{
    return pairs(c, f->label_names, s->label_values, f->nlabels);
}

static void put_exemplar(json_ctx_t *c, json_t *obj, const fp_snap_exemplar_t *ex)
{
    if (!ex || !ex->present)
        return;
    json_t *e = json_object();
    set(c, e, "labels", pairs(c, ex->names, ex->values, ex->nlabels));
    set(c, e, "value", number(ex->value));
    set(c, e, "timestamp", number(ex->timestamp));
    set(c, obj, "exemplar", e);
}

static void put_created(json_ctx_t *c, json_t *obj, const fp_snap_series_t *s)
{
    if (c->flags & FASTPROM_RENDER_CREATED)
        set(c, obj, "created", number(s->created));
}

static json_t *bound_string(double v)
{
    char buf[FP_FMT_MAX];
    size_t n = fp_fmt_bound(v, buf);
    return json_stringn(buf, n);
}

static void put_histogram(json_ctx_t *c, json_t *obj, const fp_snap_family_t *f, const fp_snap_series_t *s)
{
    json_t *buckets = json_array();
    uint64_t cumulative = 0;
    for (size_t i = 0; i <= f->nbounds; i++) {
        cumulative += s->buckets[i];
        json_t *b = json_object();
        set(c, b, "le", bound_string(i < f->nbounds ? f->bounds[i] : INFINITY));
        set(c, b, "count", count(cumulative));
        put_exemplar(c, b, s->exemplars ? &s->exemplars[i] : NULL);
        append(c, buckets, b);
    }
    set(c, obj, "buckets", buckets);
    set(c, obj, "count", count(cumulative));
    set(c, obj, "sum", number(s->sum));
    put_created(c, obj, s);
}

static void put_summary(json_ctx_t *c, json_t *obj, const fp_snap_family_t *f, const fp_snap_series_t *s)
{
    set(c, obj, "count", count(s->count));
    set(c, obj, "sum", number(s->sum));
    json_t *quantiles = json_array();
    for (size_t i = 0; i < f->nbounds; i++) {
        json_t *q = json_object();
        set(c, q, "quantile", bound_string(f->bounds[i]));
        set(c, q, "value", number(s->quantiles[i]));
        append(c, quantiles, q);
    }
    set(c, obj, "quantiles", quantiles);
    put_created(c, obj, s);
}

/* Gauges in modes all/liveall: one series object per process. */
static void put_pid_series(json_ctx_t *c, json_t *list, const fp_snap_family_t *f, const fp_snap_series_t *s)
{
    for (size_t i = 0; i < s->npids; i++) {
        char pid[FP_FMT_MAX];
        size_t n = fp_fmt_u64(s->pids[i].pid, pid);
        json_t *labels = series_labels(c, f, s);
        set(c, labels, "pid", json_stringn(pid, n));
        json_t *obj = json_object();
        set(c, obj, "labels", labels);
        set(c, obj, "value", number(s->pids[i].value));
        append(c, list, obj);
    }
}

static void put_series(json_ctx_t *c, json_t *list, const fp_snap_family_t *f, const fp_snap_series_t *s)
{
    if (f->type == FASTPROM_GAUGE && (f->gauge_mode == FASTPROM_GAUGE_ALL || f->gauge_mode == FASTPROM_GAUGE_LIVEALL)) {
        put_pid_series(c, list, f, s);
        return;
    }
    if (f->type == FASTPROM_GAUGE && !s->has_value)
        return;
    json_t *obj = json_object();
    set(c, obj, "labels", series_labels(c, f, s));
    switch (f->type) {
    case FASTPROM_COUNTER:
        set(c, obj, "value", number(s->value));
        put_exemplar(c, obj, s->exemplars);
        put_created(c, obj, s);
        break;
    case FASTPROM_GAUGE: set(c, obj, "value", number(s->value)); break;
    case FASTPROM_HISTOGRAM: put_histogram(c, obj, f, s); break;
    case FASTPROM_SUMMARY: put_summary(c, obj, f, s); break;
    case FASTPROM_INFO: set(c, obj, "info", pairs(c, s->info_keys, s->info_values, s->ninfo)); break;
    case FASTPROM_STATESET: {
        json_t *states = json_object();
        for (size_t i = 0; i < f->nstates; i++)
            setn(c, states, f->states[i], json_integer(s->state == (int)i));
        set(c, obj, "states", states);
        break;
    }
    }
    append(c, list, obj);
}

static json_t *family(json_ctx_t *c, const fp_snap_family_t *f)
{
    json_t *obj = json_object();
    set(c, obj, "name", json_sprintf("%s%.*s", c->prefix, (int)f->name.len, f->name.ptr));
    set(c, obj, "type", json_string(fastprom_type_name(f->type)));
    set(c, obj, "help", str(f->help));
    set(c, obj, "unit", str(f->unit));
    json_t *labels = json_array();
    for (size_t i = 0; i < f->nlabels; i++)
        append(c, labels, str(f->label_names[i]));
    set(c, obj, "labels", labels);
    if (f->type == FASTPROM_GAUGE)
        set(c, obj, "gauge_mode", json_string(fastprom_gauge_mode_name(f->gauge_mode)));
    json_t *series = json_array();
    for (size_t i = 0; i < f->nseries; i++)
        put_series(c, series, f, &f->series[i]);
    set(c, obj, "series", series);
    return obj;
}

static int write_out(const char *buffer, size_t size, void *data)
{
    fp_out_mem(data, buffer, size);
    return ((fp_out_t *)data)->failed ? -1 : 0;
}

void fp_render_json(const fp_snapshot_t *snap, const char *prefix, unsigned flags, fp_out_t *o)
{
    json_ctx_t c = {prefix, flags, 0};
    json_t *root = json_object();
    json_t *families = json_array();
    for (size_t i = 0; i < snap->nfamilies; i++)
        append(&c, families, family(&c, &snap->families[i]));
    set(&c, root, "families", families);
    if (c.failed || json_dump_callback(root, write_out, o, JSON_COMPACT))
        o->failed = 1;
    json_decref(root);
}
