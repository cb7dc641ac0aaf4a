/*
 * render.c - fastprom_render(): option checks, snapshot, dispatch to the
 * text/OpenMetrics (render_text.c) or JSON (render_json.c) renderer, and the
 * content types. Renderers only ever see a private snapshot, never the
 * shared segment.
 */
#include <string.h>

#include "error.h"
#include "names.h"
#include "render.h"

const char *fastprom_content_type(fastprom_format_t format)
{
    switch (format) {
    case FASTPROM_FORMAT_TEXT: return "text/plain; version=0.0.4; charset=utf-8";
    case FASTPROM_FORMAT_OPENMETRICS: return "application/openmetrics-text; version=1.0.0; charset=utf-8";
    case FASTPROM_FORMAT_JSON: return "application/json";
    }
    return NULL;
}

int fp_render_check_options(const fastprom_render_options_t *opt, fastprom_error_t *err)
{
    fp_ok(err);
    const unsigned known = FASTPROM_RENDER_CREATED | FASTPROM_RENDER_NO_EOF;
    if (opt->format != FASTPROM_FORMAT_TEXT && opt->format != FASTPROM_FORMAT_OPENMETRICS &&
        opt->format != FASTPROM_FORMAT_JSON)
        return fp_fail(err, FASTPROM_EINVAL,
                       "render format %d is unknown: use FASTPROM_FORMAT_TEXT, _OPENMETRICS or _JSON",
                       (int)opt->format);
    if (opt->flags & ~known)
        return fp_fail(err, FASTPROM_EINVAL,
                       "render flags 0x%x are unknown: use FASTPROM_RENDER_CREATED | FASTPROM_RENDER_NO_EOF",
                       opt->flags & ~known);
    if (opt->nnames && !opt->names)
        return fp_fail(err, FASTPROM_EINVAL, "render names is NULL with nnames %zu: pass the array or nnames 0",
                       opt->nnames);
    for (size_t i = 0; i < opt->nnames; i++)
        if (!opt->names[i])
            return fp_fail(err, FASTPROM_EINVAL, "render names[%zu] is NULL: pass a metric name", i);
    if (opt->nexclude && !opt->exclude)
        return fp_fail(err, FASTPROM_EINVAL, "render exclude is NULL with nexclude %zu: pass the array or nexclude 0",
                       opt->nexclude);
    for (size_t i = 0; i < opt->nexclude; i++)
        if (!opt->exclude[i])
            return fp_fail(err, FASTPROM_EINVAL, "render exclude[%zu] is NULL: pass a name prefix", i);
    const char *p = opt->prefix;
    if (!p)
        return 0;
    if (p[0] == '_' && p[1] == '_')
        return fp_fail(err, FASTPROM_EINVAL, "render prefix \"%.64s\": names starting with \"__\" are reserved", p);
    /* A prefix of a metric name is itself a metric name (or empty). */
    if (*p && !fp_valid_metric_name(p, strlen(p)))
        return fp_fail(err, FASTPROM_EINVAL, "render prefix \"%.64s\": a prefix matches [a-zA-Z_:][a-zA-Z0-9_:]*", p);
    return 0;
}

/* In text and OpenMetrics a stateset's label is named after its (prefixed)
 * family, and label names cannot hold ':'; refuse rather than print an
 * exposition parsers reject. */
static int check_stateset_prefix(const fp_snapshot_t *snap, const fastprom_render_options_t *opt, fastprom_error_t *err)
{
    const char *prefix = opt->prefix;
    if (opt->format == FASTPROM_FORMAT_JSON || !prefix || !strchr(prefix, ':'))
        return 0;
    for (size_t i = 0; i < snap->nfamilies; i++) {
        const fp_snap_family_t *f = &snap->families[i];
        if (f->type == FASTPROM_STATESET)
            return fp_fail(err, FASTPROM_EINVAL,
                           "render prefix \"%.64s\" holds ':', which cannot be part of the label name of stateset "
                           "\"%.*s\": use a prefix without ':'",
                           prefix, (int)f->name.len, f->name.ptr);
    }
    return 0;
}

int fp_render_snapshot(const fp_snapshot_t *snap, const fastprom_render_options_t *opt, fastprom_buf_t *out,
                       fastprom_error_t *err)
{
    fp_ok(err);
    int rc = check_stateset_prefix(snap, opt, err);
    if (rc)
        return rc;
    const char *prefix = opt->prefix ? opt->prefix : "";
    fp_out_t o;
    fp_out_begin(&o, out);
    if (opt->format == FASTPROM_FORMAT_JSON)
        fp_render_json(snap, prefix, opt->flags, &o);
    else
        fp_render_text(snap, prefix, opt->flags, opt->format == FASTPROM_FORMAT_OPENMETRICS, &o);
    if (fp_out_end(&o))
        return fp_fail(err, FASTPROM_ENOMEM, "out of memory rendering %zu families", snap->nfamilies);
    return 0;
}

int fastprom_render(fastprom_t *fp, const fastprom_render_options_t *opt, fastprom_buf_t *out, fastprom_error_t *err)
{
    static const fastprom_render_options_t defaults = {FASTPROM_FORMAT_TEXT};
    fp_ok(err);
    if (!fp || !out)
        return fp_fail(err, FASTPROM_EINVAL, "fastprom_render: %s is NULL: pass an open handle and a buffer",
                       fp ? "out" : "fp");
    if (!opt)
        opt = &defaults;
    int rc = fp_render_check_options(opt, err);
    if (rc)
        return rc;
    fp_snapshot_t snap;
    fp_filter_t filter = {opt->prefix, opt->names, opt->nnames, opt->exclude, opt->nexclude};
    rc = fp_snapshot_take(fp, &filter, &snap, err);
    if (rc)
        return rc;
    if (opt->stat)
        *opt->stat = snap.stat;
    rc = fp_render_snapshot(&snap, opt, out, err);
    fp_snapshot_free(fp, &snap);
    return rc;
}
