/*
 * render_read.c - reading a segment back as an exporter publishes it: the
 * rendered exposition, and the JSON view parsed with jansson for exact
 * value checks.
 */
#include <check.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "support.h"

char *render_or_fail(fastprom_t *fp, fastprom_format_t format, unsigned flags)
{
    fastprom_render_options_t opt = {.format = format, .flags = flags};
    fastprom_buf_t buf = {0};
    fastprom_error_t err;
    int rc = fastprom_render(fp, &opt, &buf, &err);
    ck_assert_msg(rc == 0, "render failed (%d): %s", rc, err.text);
    if (!buf.data)
        buf.data = calloc(1, 1);
    ck_assert_ptr_nonnull(buf.data);
    return buf.data;
}

json_t *render_json(fastprom_t *fp)
{
    fastprom_render_options_t opt = {.format = FASTPROM_FORMAT_JSON};
    fastprom_buf_t buf = {0};
    fastprom_error_t err;
    int rc = fastprom_render(fp, &opt, &buf, &err);
    ck_assert_msg(rc == 0, "render failed (%d): %s", rc, err.text);
    json_error_t jerr;
    json_t *root = json_loadb(buf.data, buf.len, JSON_ALLOW_NUL, &jerr);
    ck_assert_msg(root != NULL, "rendered JSON does not parse: %s", jerr.text);
    fastprom_buf_free(&buf);
    return root;
}

json_t *json_family(json_t *root, const char *name)
{
    size_t i;
    json_t *f;
    json_array_foreach(json_object_get(root, "families"), i, f)
    {
        const char *n = json_string_value(json_object_get(f, "name"));
        if (n && !strcmp(n, name))
            return f;
    }
    return NULL;
}

json_t *json_series(json_t *fam, size_t n, ...)
{
    const char *names[FASTPROM_MAX_LABELS + 1], *values[FASTPROM_MAX_LABELS + 1];
    ck_assert_uint_le(n, FASTPROM_MAX_LABELS + 1);
    va_list ap;
    va_start(ap, n);
    for (size_t k = 0; k < n; k++) {
        names[k] = va_arg(ap, const char *);
        values[k] = va_arg(ap, const char *);
    }
    va_end(ap);
    size_t i;
    json_t *s;
    json_array_foreach(json_object_get(fam, "series"), i, s)
    {
        json_t *labels = json_object_get(s, "labels");
        if (json_object_size(labels) != n)
            continue;
        size_t k = 0;
        for (; k < n; k++) {
            const char *v = json_string_value(json_object_get(labels, names[k]));
            if (!v || strcmp(v, values[k]))
                break;
        }
        if (k == n)
            return s;
    }
    return NULL;
}

double json_number(json_t *v)
{
    if (json_is_number(v))
        return json_number_value(v);
    const char *s = json_string_value(v);
    ck_assert_msg(s != NULL, "expected a rendered number");
    if (!strcmp(s, "NaN"))
        return NAN;
    if (!strcmp(s, "+Inf"))
        return INFINITY;
    ck_assert_str_eq(s, "-Inf");
    return -INFINITY;
}

double json_member_number(json_t *obj, const char *key)
{
    json_t *v = json_object_get(obj, key);
    ck_assert_msg(v != NULL, "member \"%s\" is missing", key);
    return json_number(v);
}
