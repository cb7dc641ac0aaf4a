/*
 * registry.c - metric families: validating a definition, finding it in the
 * segment (lock-free) or creating it there (under the segment lock), and the
 * process-local family handles.
 *
 * A family record and its strings are written completely in the metadata
 * arena and then published with one release store into the family hash, so
 * other processes either see the whole family or nothing. Families are never
 * deleted (fastprom_clear removes their series), which keeps the hash a
 * simple insert-only open-addressing table that readers can probe without a
 * lock.
 */
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "wallclock.h"
#include "error.h"
#include "lock.h"
#include "mem.h"
#include "names.h"
#include "records.h"
#include "registry.h"
#include "sketch.h"

#define FAMILY_SEED 0x46414d31u

static const double default_buckets[] = FASTPROM_DEFAULT_BUCKETS;

/* ---- the definition a caller asked for, normalised ---------------------- */

struct normdef {
    fastprom_type_t type;
    char name[FASTPROM_MAX_NAME + 1];
    size_t name_len;
    const char *help, *unit;
    size_t help_len, unit_len;
    size_t nlabels;
    const char *const *labels;
    size_t nbounds;
    double bounds[FASTPROM_MAX_BUCKETS > FASTPROM_MAX_QUANTILES ? FASTPROM_MAX_BUCKETS : FASTPROM_MAX_QUANTILES];
    size_t nstates;
    const char *const *states;
    fastprom_gauge_mode_t mode;
    unsigned flags;
    uint32_t max_series;
};

static int check_labels(const fastprom_family_def_t *d, const struct normdef *n, fastprom_error_t *err)
{
    if (d->nlabels > FASTPROM_MAX_LABELS)
        return fp_fail(err, FASTPROM_EINVAL, "family %s has %zu labels; at most %d are allowed", n->name, d->nlabels,
                       FASTPROM_MAX_LABELS);
    if (d->nlabels && !d->label_names)
        return fp_fail(err, FASTPROM_EINVAL, "family %s: nlabels is %zu but label_names is NULL", n->name, d->nlabels);
    for (size_t i = 0; i < d->nlabels; i++) {
        const char *l = d->label_names[i];
        size_t len = l ? strlen(l) : 0;
        if (!l || !fp_valid_label_name(l, len) || len > FASTPROM_MAX_NAME)
            return fp_fail(err, FASTPROM_EINVAL,
                           "family %s: label name \"%s\" is invalid; label names match [a-zA-Z_][a-zA-Z0-9_]*", n->name,
                           l ? l : "(null)");
        if (l[0] == '_' && l[1] == '_')
            return fp_fail(err, FASTPROM_EINVAL, "family %s: label name \"%s\" is reserved (names starting with __)",
                           n->name, l);
        if (n->type == FASTPROM_HISTOGRAM && !strcmp(l, "le"))
            return fp_fail(err, FASTPROM_EINVAL, "histogram %s: the label \"le\" is reserved for buckets", n->name);
        if (n->type == FASTPROM_SUMMARY && !strcmp(l, "quantile"))
            return fp_fail(err, FASTPROM_EINVAL, "summary %s: the label \"quantile\" is reserved", n->name);
        if (n->type == FASTPROM_GAUGE &&
            (d->gauge_mode == FASTPROM_GAUGE_ALL || d->gauge_mode == FASTPROM_GAUGE_LIVEALL) && !strcmp(l, "pid"))
            return fp_fail(err, FASTPROM_EINVAL, "gauge %s: the label \"pid\" is added by its multiprocess mode",
                           n->name);
        if (n->type == FASTPROM_STATESET && len == n->name_len && !memcmp(l, n->name, len))
            return fp_fail(err, FASTPROM_EINVAL, "stateset %s: a label may not have the family's own name", n->name);
        for (size_t j = 0; j < i; j++)
            if (!strcmp(d->label_names[j], l))
                return fp_fail(err, FASTPROM_EINVAL, "family %s: label \"%s\" appears twice", n->name, l);
    }
    return 0;
}

static int check_bounds(const fastprom_family_def_t *d, struct normdef *n, fastprom_error_t *err)
{
    if (n->type == FASTPROM_HISTOGRAM) {
        const double *b = d->buckets;
        size_t nb = d->nbuckets;
        if (!b && nb == 0)
            b = default_buckets, nb = FASTPROM_DEFAULT_NBUCKETS;
        if (!b)
            return fp_fail(err, FASTPROM_EINVAL, "histogram %s: nbuckets is %zu but buckets is NULL", n->name, nb);
        /* Checked before b[nb - 1] is read: a huge count is the caller's
         * mistake, not a reason to read past its array. */
        if (nb > FASTPROM_MAX_BUCKETS + 1)
            return fp_fail(err, FASTPROM_EINVAL, "histogram %s: needs 1 to %d finite bucket bounds, got %zu", n->name,
                           FASTPROM_MAX_BUCKETS, nb);
        if (nb && isinf(b[nb - 1]) && b[nb - 1] > 0)
            nb--; /* +Inf is implied */
        if (nb == 0 || nb > FASTPROM_MAX_BUCKETS)
            return fp_fail(err, FASTPROM_EINVAL, "histogram %s: needs 1 to %d finite bucket bounds, got %zu", n->name,
                           FASTPROM_MAX_BUCKETS, nb);
        for (size_t i = 0; i < nb; i++) {
            if (!isfinite(b[i]))
                return fp_fail(err, FASTPROM_EINVAL, "histogram %s: bucket bound %zu is not finite", n->name, i);
            if (i && !(b[i] > b[i - 1]))
                return fp_fail(err, FASTPROM_EINVAL, "histogram %s: buckets must be in strictly ascending order",
                               n->name);
            n->bounds[i] = b[i] == 0 ? 0.0 : b[i]; /* one zero, not two */
        }
        n->nbounds = nb;
    } else if (n->type == FASTPROM_SUMMARY) {
        if (d->nbuckets > FASTPROM_MAX_QUANTILES || (d->nbuckets && !d->buckets))
            return fp_fail(err, FASTPROM_EINVAL, "summary %s: give 0 to %d quantiles", n->name, FASTPROM_MAX_QUANTILES);
        for (size_t i = 0; i < d->nbuckets; i++) {
            double q = d->buckets[i];
            if (!(q >= 0.0 && q <= 1.0))
                return fp_fail(err, FASTPROM_EINVAL, "summary %s: quantile %g is outside [0, 1]", n->name, q);
            if (i && !(q > d->buckets[i - 1]))
                return fp_fail(err, FASTPROM_EINVAL, "summary %s: quantiles must be in strictly ascending order",
                               n->name);
            n->bounds[i] = q;
        }
        n->nbounds = d->nbuckets;
    } else if (d->nbuckets) {
        return fp_fail(err, FASTPROM_EINVAL, "%s %s: buckets are only for histograms and summaries",
                       fastprom_type_name(n->type), n->name);
    }
    return 0;
}

static int check_states(const fastprom_family_def_t *d, struct normdef *n, fastprom_error_t *err)
{
    if (n->type != FASTPROM_STATESET) {
        if (d->nstates)
            return fp_fail(err, FASTPROM_EINVAL, "%s %s: states are only for statesets", fastprom_type_name(n->type),
                           n->name);
        return 0;
    }
    if (d->nstates == 0 || d->nstates > FASTPROM_MAX_STATES || !d->states)
        return fp_fail(err, FASTPROM_EINVAL, "stateset %s: needs 1 to %d states", n->name, FASTPROM_MAX_STATES);
    for (size_t i = 0; i < d->nstates; i++) {
        const char *s = d->states[i];
        size_t len = s ? strlen(s) : 0;
        if (!s || len > FASTPROM_MAX_LABEL_VALUE || fp_utf8_invalid_at(s, len) >= 0)
            return fp_fail(err, FASTPROM_EINVAL, "stateset %s: state %zu is not valid UTF-8 text", n->name, i);
        for (size_t j = 0; j < i; j++)
            if (!strcmp(d->states[j], s))
                return fp_fail(err, FASTPROM_EINVAL, "stateset %s: state \"%s\" appears twice", n->name, s);
    }
    n->nstates = d->nstates;
    n->states = d->states;
    return 0;
}

static int normalise(const fastprom_family_def_t *d, uint32_t default_limit, struct normdef *n, fastprom_error_t *err)
{
    memset(n, 0, sizeof *n);
    if (!d)
        return fp_fail(err, FASTPROM_EINVAL, "family definition is NULL");
    n->type = d->type;
    if (d->type < FASTPROM_COUNTER || d->type > FASTPROM_STATESET)
        return fp_fail(err, FASTPROM_EINVAL, "family type %d is not one of counter..stateset", (int)d->type);
    size_t len = d->name ? strlen(d->name) : 0;
    if (!d->name || !fp_valid_metric_name(d->name, len) || len > FASTPROM_MAX_NAME)
        return fp_fail(err, FASTPROM_EINVAL,
                       "metric name \"%.*s\" is invalid; names match [a-zA-Z_:][a-zA-Z0-9_:]* (at most %d bytes)",
                       (int)(len > 80 ? 80 : len), d->name ? d->name : "(null)", FASTPROM_MAX_NAME);
    if (d->name[0] == '_' && d->name[1] == '_')
        return fp_fail(err, FASTPROM_EINVAL, "metric name \"%s\" is reserved (names starting with __)", d->name);
    memcpy(n->name, d->name, len);
    if (d->type == FASTPROM_COUNTER && len > 6 && !memcmp(n->name + len - 6, "_total", 6))
        len -= 6;
    n->name[len] = '\0';
    n->unit = d->unit && *d->unit ? d->unit : NULL;
    if (n->unit) {
        n->unit_len = strlen(n->unit);
        if (d->type == FASTPROM_INFO || d->type == FASTPROM_STATESET)
            return fp_fail(err, FASTPROM_EINVAL, "%s %s: info and stateset metrics cannot have a unit",
                           fastprom_type_name(d->type), n->name);
        if (!fp_valid_label_name(n->unit, n->unit_len) || n->unit_len > 64)
            return fp_fail(err, FASTPROM_EINVAL, "family %s: unit \"%s\" is invalid; use e.g. seconds or bytes",
                           n->name, n->unit);
        if (!(len > n->unit_len && n->name[len - n->unit_len - 1] == '_' &&
              !memcmp(n->name + len - n->unit_len, n->unit, n->unit_len))) {
            if (len + 1 + n->unit_len > FASTPROM_MAX_NAME)
                return fp_fail(err, FASTPROM_EINVAL, "metric name %.60s... with its unit is %zu bytes; the limit is %d",
                               n->name, len + 1 + n->unit_len, FASTPROM_MAX_NAME);
            n->name[len++] = '_';
            memcpy(n->name + len, n->unit, n->unit_len);
            len += n->unit_len;
            n->name[len] = '\0';
        }
    }
    n->name_len = len;
    n->help = d->help ? d->help : "";
    n->help_len = strlen(n->help);
    if (n->help_len > FASTPROM_MAX_HELP)
        return fp_fail(err, FASTPROM_EINVAL, "family %s: help text is %zu bytes; the limit is %d", n->name, n->help_len,
                       FASTPROM_MAX_HELP);
    long bad = fp_utf8_invalid_at(n->help, n->help_len);
    if (bad >= 0)
        return fp_fail(err, FASTPROM_EINVAL,
                       "family %s: help text is not valid UTF-8 (byte 0x%02x at offset %ld); pass UTF-8 text", n->name,
                       (unsigned char)n->help[bad], bad);
    int rc = check_labels(d, n, err);
    if (!rc)
        rc = check_bounds(d, n, err);
    if (!rc)
        rc = check_states(d, n, err);
    if (rc)
        return rc;
    n->nlabels = d->nlabels;
    n->labels = d->label_names;
    if (d->type == FASTPROM_GAUGE) {
        if (!fastprom_gauge_mode_name((int)d->gauge_mode))
            return fp_fail(err, FASTPROM_EINVAL, "gauge %s: gauge_mode %d is not a known mode", n->name,
                           (int)d->gauge_mode);
        n->mode = d->gauge_mode;
    }
    if (d->flags & ~FASTPROM_EXEMPLARS)
        return fp_fail(err, FASTPROM_EINVAL, "family %s: unknown flags 0x%x", n->name, d->flags);
    if ((d->flags & FASTPROM_EXEMPLARS) && d->type != FASTPROM_COUNTER && d->type != FASTPROM_HISTOGRAM)
        return fp_fail(err, FASTPROM_EINVAL, "family %s: exemplars are for counters and histograms only", n->name);
    n->flags = d->flags;
    n->max_series = d->max_series ? d->max_series : default_limit;
    return 0;
}

/* ---- comparing with a family in the segment ------------------------------ */

static bool seg_str_eq(const fastprom_t *fp, struct fp_strref r, const char *s, size_t n)
{
    const char *p = fp_at(fp, r.off, r.len);
    return r.len == n && (n == 0 || (p && !memcmp(p, s, n)));
}

static void describe_seg(const fastprom_t *fp, const struct fp_family *f, char *out, size_t cap)
{
    int k = snprintf(out, cap, "%s with labels (",
                     fastprom_type_name((int)f->type) ? fastprom_type_name((int)f->type) : "?");
    const struct fp_strref *ls = fp_rec(fp, f->labels_off, (uint64_t)f->nlabels * sizeof *ls);
    for (uint32_t i = 0; ls && i < f->nlabels && k > 0 && (size_t)k < cap; i++) {
        const char *p = fp_at(fp, ls[i].off, ls[i].len);
        k += snprintf(out + k, cap - (size_t)k, "%s%.*s", i ? ", " : "", p ? (int)ls[i].len : 1, p ? p : "?");
    }
    if (k > 0 && (size_t)k < cap)
        snprintf(out + k, cap - (size_t)k, ")%s", f->type == FASTPROM_GAUGE || f->nbounds ? " and other settings" : "");
}

/* Whether the segment's family f is the one n describes. */
static bool definition_matches(const fastprom_t *fp, const struct fp_family *f, const struct normdef *n)
{
    if (f->type != (uint32_t)n->type || f->nlabels != n->nlabels || f->nbounds != n->nbounds ||
        f->nstates != n->nstates || f->flags != n->flags ||
        (n->type == FASTPROM_GAUGE && f->gauge_mode != (uint32_t)n->mode))
        return false;
    if (!seg_str_eq(fp, f->unit, n->unit ? n->unit : "", n->unit_len))
        return false;
    const struct fp_strref *ls = fp_rec(fp, f->labels_off, (uint64_t)f->nlabels * sizeof *ls);
    for (uint32_t i = 0; i < f->nlabels; i++)
        if (!ls || !seg_str_eq(fp, ls[i], n->labels[i], strlen(n->labels[i])))
            return false;
    const double *b = fp_rec(fp, f->bounds_off, (uint64_t)f->nbounds * sizeof(double));
    if (f->nbounds && (!b || memcmp(b, n->bounds, f->nbounds * sizeof(double))))
        return false;
    const struct fp_strref *ss = fp_rec(fp, f->states_off, (uint64_t)f->nstates * sizeof *ss);
    for (uint32_t i = 0; i < f->nstates; i++)
        if (!ss || !seg_str_eq(fp, ss[i], n->states[i], strlen(n->states[i])))
            return false;
    return true;
}

static int definition_conflict(const fastprom_t *fp, const struct fp_family *f, const struct normdef *n,
                               fastprom_error_t *err)
{
    char have[160], want[160];
    describe_seg(fp, f, have, sizeof have);
    int k = snprintf(want, sizeof want, "%s with labels (", fastprom_type_name(n->type));
    for (size_t i = 0; i < n->nlabels && k > 0 && (size_t)k < sizeof want; i++)
        k += snprintf(want + k, sizeof want - (size_t)k, "%s%s", i ? ", " : "", n->labels[i]);
    if (k > 0 && (size_t)k < sizeof want)
        snprintf(want + k, sizeof want - (size_t)k, ")");
    return fp_fail(err, FASTPROM_EEXIST,
                   "family %s already exists as a %s; this definition is a %s (same name needs the same definition)",
                   n->name, have, want);
}

/* ---- lookup and creation in the segment --------------------------------- */

static bool names_meet(const char *a, size_t al, const char *as, const char *b, size_t bl, const char *bs)
{
    size_t asl = strlen(as), bsl = strlen(bs);
    if (al + asl != bl + bsl)
        return false;
    /* Compare a+as with b+bs without building either string. */
    for (size_t i = 0; i < al + asl; i++) {
        char x = i < al ? a[i] : as[i - al], y = i < bl ? b[i] : bs[i - bl];
        if (x != y)
            return false;
    }
    return true;
}

/* Another family whose sample names collide with the new family's (a gauge
 * "jobs_total" beside a counter "jobs") would make the exposition invalid;
 * returns that family's name reference, or NULL. Under the segment lock. */
static const struct fp_family *sample_clash(const fastprom_t *fp, const struct normdef *n)
{
    const _Atomic uint32_t *tab = fp_family_table(fp);
    for (uint32_t i = 0; i < FP_FAMILY_HASH; i++) {
        const struct fp_family *f = fp_rec(fp, atomic_load(&tab[i]), sizeof *f);
        const char *fname = f ? fp_at(fp, f->name.off, f->name.len) : NULL;
        if (!fname || f->type < FASTPROM_COUNTER || f->type > FASTPROM_STATESET)
            continue;
        for (const char *const *x = fp_sample_suffixes[n->type]; *x; x++)
            for (const char *const *y = fp_sample_suffixes[f->type]; *y; y++)
                if (names_meet(n->name, n->name_len, *x, fname, f->name.len, *y))
                    return f;
    }
    return NULL;
}

/* Finds the family named name: FP_FOUND with its offset in *off, FP_ABSENT
 * with the free hash slot to use in *empty (UINT32_MAX: the table is full),
 * or FP_CORRUPT. */
static enum fp_found find_family(const fastprom_t *fp, const char *name, size_t len, uint32_t hash, uint32_t *off,
                                 uint32_t *empty)
{
    _Atomic uint32_t *tab = fp_family_table(fp);
    for (uint32_t i = 0; i < FP_FAMILY_HASH; i++) {
        uint32_t pos = (hash + i) & (FP_FAMILY_HASH - 1);
        *off = atomic_load_explicit(&tab[pos], memory_order_acquire);
        if (!*off) {
            *empty = pos;
            return FP_ABSENT;
        }
        const struct fp_family *f = fp_rec(fp, *off, sizeof *f);
        if (!f)
            return FP_CORRUPT;
        if (f->hash == hash && seg_str_eq(fp, f->name, name, len))
            return FP_FOUND;
    }
    *empty = UINT32_MAX;
    return FP_ABSENT;
}

static uint32_t put_bytes(fastprom_t *fp, const void *p, size_t n)
{
    uint32_t off = fp_meta_alloc(fp, n ? n : 1);
    if (off && n)
        memcpy(fp->base + off, p, n);
    return off;
}

/* Stores n strings and their fp_strref array; false when the arena is full. */
static bool put_strs(fastprom_t *fp, const char *const *strs, size_t n, uint32_t *out)
{
    *out = 0;
    if (!n)
        return true;
    uint32_t arr = fp_meta_alloc(fp, n * sizeof(struct fp_strref));
    if (!arr)
        return false;
    for (size_t i = 0; i < n; i++) {
        size_t len = strlen(strs[i]);
        uint32_t off = put_bytes(fp, strs[i], len);
        if (!off)
            return false;
        struct fp_strref *r = (struct fp_strref *)(fp->base + arr) + i;
        r->off = off;
        r->len = (uint32_t)len;
    }
    *out = arr;
    return true;
}

/* Under the segment lock: the new family's offset in *out. */
static int create_family(fastprom_t *fp, const struct normdef *n, uint32_t hash, uint32_t slot, uint32_t *out,
                         fastprom_error_t *err)
{
    struct fp_header *h = fp->hdr;
    const struct fp_family *clash = sample_clash(fp, n);
    if (clash)
        return fp_fail(err, FASTPROM_EEXIST,
                       "family %s would repeat a sample name of the existing %s %.*s; choose another name", n->name,
                       fastprom_type_name((int)clash->type), (int)clash->name.len,
                       (const char *)fp->base + clash->name.off);
    if (slot == UINT32_MAX || atomic_load(&h->nfamilies) >= FP_MAX_FAMILIES) {
        atomic_fetch_add(&h->dropped_series, 1);
        return fp_fail(err, FASTPROM_EFULL, "segment %s holds the maximum of %u families; cannot add %s", fp->path,
                       FP_MAX_FAMILIES, n->name);
    }
    uint32_t off = fp_meta_alloc(fp, sizeof(struct fp_family));
    struct fp_family *f = off ? (struct fp_family *)(fp->base + off) : NULL;
    if (!f || !(f->name.off = put_bytes(fp, n->name, n->name_len)) ||
        !(f->help.off = put_bytes(fp, n->help, n->help_len)) || !put_strs(fp, n->labels, n->nlabels, &f->labels_off) ||
        !put_strs(fp, n->states, n->nstates, &f->states_off) ||
        (n->unit_len && !(f->unit.off = put_bytes(fp, n->unit, n->unit_len))) ||
        (n->nbounds && !(f->bounds_off = put_bytes(fp, n->bounds, n->nbounds * sizeof(double))))) {
        atomic_fetch_add(&h->dropped_series, 1);
        return fp_fail(err, FASTPROM_EFULL,
                       "segment %s is full; cannot add family %s (create it larger: FASTPROM_SIZE)", fp->path, n->name);
    }
    f->name.len = (uint32_t)n->name_len;
    f->help.len = (uint32_t)n->help_len;
    f->unit.len = (uint32_t)n->unit_len;
    f->type = n->type;
    f->gauge_mode = n->type == FASTPROM_GAUGE ? n->mode : 0;
    f->flags = n->flags;
    f->hash = hash;
    f->nlabels = (uint32_t)n->nlabels;
    f->nbounds = (uint32_t)n->nbounds;
    f->nstates = (uint32_t)n->nstates;
    f->entry_size = fp_entry_size(n->type, (uint32_t)n->nbounds, n->flags);
    f->max_series = n->max_series;
    f->created = fp_now_seconds();
    atomic_store_explicit(&fp_family_table(fp)[slot], off, memory_order_release);
    atomic_fetch_add(&h->nfamilies, 1);
    *out = off;
    return 0;
}

/* ---- process-local handles ---------------------------------------------- */

static fastprom_family_t *local_family(fastprom_t *fp, const char *name)
{
    for (fastprom_family_t *f = fp->families; f; f = f->next)
        if (!strcmp(f->name, name))
            return f;
    return NULL;
}

/* Frees a family handle, however far new_handle got. */
static void family_free(fastprom_family_t *f)
{
    for (struct series_map *m = atomic_load(&f->map), *older; m; m = older) {
        older = m->older;
        fp_free(m);
    }
    fp_free(f->bounds);
    fp_free(f->name);
    fp_free(f);
}

static fastprom_family_t *new_handle(fastprom_t *fp, uint32_t off, const struct normdef *n)
{
    fastprom_family_t *fam = fp_calloc(1, sizeof *fam);
    if (!fam)
        return NULL;
    struct series_map *map = fp_calloc(1, sizeof *map + 16 * sizeof map->items[0]);
    if (map)
        map->cap = 16;
    atomic_store(&fam->map, map);
    fam->name = fp_strdup(n->name);
    fam->nbounds = (uint32_t)n->nbounds;
    /* The hot path reads bounds from process memory: never from the
     * segment, which another process could scribble on. */
    fam->bounds = fam->nbounds ? fp_malloc(fam->nbounds * sizeof(double)) : NULL;
    if (!map || !fam->name || (fam->nbounds && !fam->bounds)) {
        family_free(fam);
        return NULL;
    }
    if (fam->nbounds)
        memcpy(fam->bounds, n->bounds, fam->nbounds * sizeof(double));
    const struct fp_family *f = (const struct fp_family *)(fp->base + off);
    fam->fp = fp;
    fam->rec = off;
    fam->type = n->type;
    fam->gauge_mode = n->mode;
    fam->flags = n->flags;
    fam->nlabels = (uint32_t)n->nlabels;
    fam->nstates = (uint32_t)n->nstates;
    fam->entry_size = f->entry_size;
    fam->label_names = (struct fp_strref *)(fp->base + f->labels_off);
    if (n->type == FASTPROM_SUMMARY && n->nbounds)
        fp_sketch_init();
    fam->next = fp->families;
    fp->families = fam;
    return fam;
}

/* The segment's family for n, found or created: its offset in *off. */
static int family_in_segment(fastprom_t *fp, const struct normdef *n, uint32_t hash, uint32_t *off,
                             fastprom_error_t *err)
{
    uint32_t empty;
    enum fp_found found = find_family(fp, n->name, n->name_len, hash, off, &empty);
    if (found == FP_ABSENT) {
        int rc = fp_lock(fp, err);
        if (rc)
            return rc;
        found = find_family(fp, n->name, n->name_len, hash, off, &empty);
        rc = found == FP_ABSENT ? create_family(fp, n, hash, empty, off, err) : 0;
        fp_unlock(fp);
        if (rc)
            return rc;
    }
    if (found == FP_CORRUPT)
        return fp_fail(err, FASTPROM_ECORRUPT, "segment %s: the family table is corrupt", fp->path);
    return 0;
}

/* Under fp->mu: this process's handle for n, made if needed. */
static fastprom_family_t *family_handle(fastprom_t *fp, const struct normdef *n, fastprom_error_t *err)
{
    fastprom_family_t *fam = local_family(fp, n->name);
    uint32_t off = fam ? fam->rec : 0;
    if (!fam && family_in_segment(fp, n, fp_hash(FAMILY_SEED, n->name, n->name_len), &off, err))
        return NULL;
    const struct fp_family *f = (const struct fp_family *)(fp->base + off);
    if (!definition_matches(fp, f, n)) {
        definition_conflict(fp, f, n, err);
        return NULL;
    }
    if (!fam && !(fam = new_handle(fp, off, n)))
        fp_fail(err, FASTPROM_ENOMEM, "out of memory for family %s", n->name);
    return fam;
}

fastprom_family_t *fastprom_family(fastprom_t *fp, const fastprom_family_def_t *def, fastprom_error_t *err)
{
    fp_ok(err);
    if (!fp) {
        fp_fail(err, FASTPROM_EINVAL, "fastprom_family: the segment handle is NULL");
        return NULL;
    }
    if (fp->readonly) {
        fp_fail(err, FASTPROM_ERDONLY,
                "segment %s is open read-only; open it without FASTPROM_READONLY to define metrics", fp->path);
        return NULL;
    }
    struct normdef n;
    if (normalise(def, fp->geo.family_limit, &n, err))
        return NULL;
    pthread_mutex_lock(&fp->mu);
    fastprom_family_t *fam = family_handle(fp, &n, err);
    pthread_mutex_unlock(&fp->mu);
    return fam;
}

void fp_families_free(fastprom_t *fp)
{
    for (fastprom_family_t *f = fp->families, *next; f; f = next) {
        next = f->next;
        family_free(f);
    }
    fp->families = NULL;
}
