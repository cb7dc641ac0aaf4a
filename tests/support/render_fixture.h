/*
 * render_fixture.h - snapshots built by hand for the renderer tests
 * (test_render.c, test_render_json.c), so every formatting rule is tested
 * without a segment. Everything lives in the snapshot's arena; setup() and
 * teardown() are the check fixture.
 */
#ifndef RENDER_FIXTURE_H
#define RENDER_FIXTURE_H

#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arena.h"
#include "render.h"

#define MAX_FAMILIES 32
#define MAX_SERIES 32

/* LABELS("a", "b") expands to the count and the array fixture calls take. */
/* clang-format off */
#define LABELS(...) sizeof((const char *[]){__VA_ARGS__}) / sizeof(const char *), (const char *const[]){__VA_ARGS__}
/* clang-format on */
#define NO_LABELS 0, NULL

static fp_snapshot_t snap;

static inline void setup(void)
{
    memset(&snap, 0, sizeof snap);
    snap.arena = fp_arena_new();
    ck_assert_ptr_nonnull(snap.arena);
    snap.families = fp_arena_alloc(snap.arena, MAX_FAMILIES * sizeof *snap.families);
    ck_assert_ptr_nonnull(snap.families);
}

static inline void teardown(void)
{
    fp_arena_free(snap.arena);
}

static inline void *alloc(size_t n)
{
    void *p = fp_arena_alloc(snap.arena, n);
    ck_assert_ptr_nonnull(p);
    return p;
}

static inline fp_str_t str(const char *s)
{
    return (fp_str_t){s, (uint32_t)strlen(s)};
}

static inline fp_str_t *strs(size_t n, const char *const *v)
{
    fp_str_t *a = alloc((n + 1) * sizeof *a);
    for (size_t i = 0; i < n; i++)
        a[i] = str(v[i]);
    return a;
}

static inline fp_snap_family_t *family(fastprom_type_t type, const char *name, const char *help, size_t nlabels,
                                       const char *const *labels)
{
    ck_assert_uint_lt(snap.nfamilies, MAX_FAMILIES);
    fp_snap_family_t *f = &snap.families[snap.nfamilies++];
    f->type = type;
    f->name = str(name);
    f->help = str(help ? help : "");
    f->unit = str("");
    f->nlabels = nlabels;
    f->label_names = strs(nlabels, labels);
    f->series = alloc(MAX_SERIES * sizeof *f->series);
    return f;
}

static inline void set_bounds(fp_snap_family_t *f, size_t n, const double *b)
{
    f->nbounds = n;
    f->bounds = alloc((n + 1) * sizeof *f->bounds);
    memcpy(f->bounds, b, n * sizeof *b);
}

static inline void set_states(fp_snap_family_t *f, size_t n, const char *const *states)
{
    f->nstates = n;
    f->states = strs(n, states);
}

/* A series with these label values (one per family label). Histograms get
 * zeroed buckets, summaries NaN quantiles, statesets no state set. */
static inline fp_snap_series_t *series(fp_snap_family_t *f, const char *const *values)
{
    ck_assert_uint_lt(f->nseries, MAX_SERIES);
    fp_snap_series_t *s = &f->series[f->nseries++];
    s->label_values = strs(f->nlabels, values);
    s->has_value = 1;
    if (f->type == FASTPROM_STATESET)
        s->state = -1;
    if (f->type == FASTPROM_HISTOGRAM)
        s->buckets = alloc((f->nbounds + 1) * sizeof *s->buckets);
    if (f->type == FASTPROM_SUMMARY) {
        s->quantiles = alloc((f->nbounds + 1) * sizeof *s->quantiles);
        for (size_t i = 0; i < f->nbounds; i++)
            s->quantiles[i] = NAN;
    }
    return s;
}

static inline void set_buckets(fp_snap_series_t *s, size_t n, const uint64_t *counts)
{
    memcpy(s->buckets, counts, n * sizeof *counts);
    s->count = 0;
    for (size_t i = 0; i < n; i++)
        s->count += counts[i];
}

static inline void set_pids(fp_snap_series_t *s, size_t n, const fp_snap_pid_value_t *pids)
{
    s->npids = n;
    s->pids = alloc((n + 1) * sizeof *s->pids);
    memcpy(s->pids, pids, n * sizeof *pids);
}

static inline void set_info(fp_snap_series_t *s, size_t n, const char *const *keys, const char *const *values)
{
    s->ninfo = n;
    s->info_keys = strs(n, keys);
    s->info_values = strs(n, values);
}

/* Exemplar array as the snapshot lays it out (counter 1, histogram
 * nbounds + 1 entries), all absent. */
static inline fp_snap_exemplar_t *with_exemplars(const fp_snap_family_t *f, fp_snap_series_t *s)
{
    size_t n = f->type == FASTPROM_HISTOGRAM ? f->nbounds + 1 : 1;
    s->exemplars = alloc(n * sizeof *s->exemplars);
    return s->exemplars;
}

static inline void set_exemplar(fp_snap_exemplar_t *ex, double value, double timestamp, size_t n,
                                const char *const *names, const char *const *values)
{
    ex->present = 1;
    ex->value = value;
    ex->timestamp = timestamp;
    ex->nlabels = n;
    ex->names = strs(n, names);
    ex->values = strs(n, values);
}

/* Renders the snapshot as fastprom_render would (options checked first);
 * returns the malloc'd output, *len its length (it may hold NUL bytes). */
static inline char *render_n(fastprom_format_t format, const char *prefix, unsigned flags, size_t *len)
{
    fastprom_render_options_t opt = {format, NULL, 0, prefix, flags};
    fastprom_buf_t buf = {0};
    fastprom_error_t err;
    ck_assert_int_eq(fp_render_check_options(&opt, &err), 0);
    int rc = fp_render_snapshot(&snap, &opt, &buf, &err);
    ck_assert_msg(rc == 0, "render failed: %s", err.text);
    if (!buf.data) { /* nothing written: an empty exposition */
        buf.data = calloc(1, 1);
        ck_assert_ptr_nonnull(buf.data);
    }
    *len = buf.len;
    return buf.data;
}

static inline char *render(fastprom_format_t format, const char *prefix, unsigned flags)
{
    size_t len;
    char *out = render_n(format, prefix, flags, &len);
    ck_assert_uint_eq(strlen(out), len);
    return out;
}

#define assert_render(format, prefix, flags, expected)                                                                 \
    do {                                                                                                               \
        char *out_ = render(format, prefix, flags);                                                                    \
        ck_assert_str_eq(out_, expected);                                                                              \
        free(out_);                                                                                                    \
    } while (0)

#define TEXT FASTPROM_FORMAT_TEXT
#define OM FASTPROM_FORMAT_OPENMETRICS
#define JSON FASTPROM_FORMAT_JSON

#endif
