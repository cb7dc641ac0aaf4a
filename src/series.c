/*
 * series.c - series (one label-value combination of a family): lookup and
 * creation in the segment, removal, statesets and info pairs, and this
 * process's series handles.
 *
 * A series gets a dense id at creation; writers index their cells by it and
 * the reader merges by it. Creation publishes the record through three
 * release stores (id table, family list, lookup hash) in that order; repair
 * after a writer died mid-creation rebuilds the hash from the family lists,
 * so a half-published series is never created twice.
 *
 * Removal marks the record removed (its id is never reused); a new series
 * with the same values gets a new record and starts from zero, which is
 * prometheus_client's remove() semantics.
 */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "wallclock.h"
#include "error.h"
#include "lock.h"
#include "mem.h"
#include "names.h"
#include "records.h"
#include "series.h"
#include "testpoint.h"

/* ---- label values in, encoded blob out ----------------------------------- */

struct encoded {
    unsigned char small[1024];
    unsigned char *blob;
    size_t len;
    uint32_t hash;
};

static void encoded_free(struct encoded *e)
{
    if (e->blob != e->small)
        fp_free(e->blob);
}

static int encode_values(const fastprom_family_t *fam, const char *const *values, const size_t *lengths,
                         struct encoded *e, fastprom_error_t *err)
{
    fastprom_t *fp = fam->fp;
    size_t lens[FASTPROM_MAX_LABELS];
    e->blob = e->small;
    if (fam->nlabels && !values)
        return fp_fail(err, FASTPROM_EINVAL, "family %s has %u labels but no label values were given", fam->name,
                       fam->nlabels);
    for (uint32_t i = 0; i < fam->nlabels; i++) {
        const struct fp_strref *ln = &fam->label_names[i];
        const char *lname = (const char *)fp->base + ln->off;
        if (!values[i])
            return fp_fail(err, FASTPROM_EINVAL, "family %s: value of label %.*s is NULL", fam->name, (int)ln->len,
                           lname);
        lens[i] = lengths ? lengths[i] : strlen(values[i]);
        if (lens[i] > FASTPROM_MAX_LABEL_VALUE)
            return fp_fail(err, FASTPROM_EINVAL, "family %s: value of label %.*s is %zu bytes; the limit is %d",
                           fam->name, (int)ln->len, lname, lens[i], FASTPROM_MAX_LABEL_VALUE);
        long bad = fp_utf8_invalid_at(values[i], lens[i]);
        if (bad >= 0)
            return fp_fail(err, FASTPROM_EINVAL,
                           "family %s: value of label %.*s is not valid UTF-8 (byte 0x%02x at offset %ld); "
                           "pass UTF-8 text",
                           fam->name, (int)ln->len, lname, (unsigned char)values[i][bad], bad);
    }
    e->len = fp_labels_encoded_size(lens, fam->nlabels);
    if (e->len > sizeof e->small && !(e->blob = fp_malloc(e->len))) {
        e->blob = e->small;
        return fp_fail(err, FASTPROM_ENOMEM, "out of memory encoding label values");
    }
    fp_labels_encode(e->blob, values, lens, fam->nlabels);
    e->hash = fp_hash(fam->rec, e->blob, e->len);
    return 0;
}

/* ---- the segment's series hash -------------------------------------------- */

/* FP_FOUND with the live series' offset in *off, FP_ABSENT with a free hash
 * slot in *empty (UINT32_MAX: the table is full), or FP_CORRUPT. */
static enum fp_found find_series(const fastprom_t *fp, uint32_t family, const struct encoded *e, uint32_t *off,
                                 uint32_t *empty)
{
    _Atomic uint32_t *tab = fp_series_table(fp);
    uint32_t cap = fp->geo.series_hash_cap;
    for (uint32_t i = 0; i < cap; i++) {
        uint32_t pos = (e->hash + i) & (cap - 1);
        *off = atomic_load_explicit(&tab[pos], memory_order_acquire);
        if (!*off) {
            *empty = pos;
            return FP_ABSENT;
        }
        const struct fp_series *s = fp_rec(fp, *off, sizeof *s);
        if (!s || !fp_at(fp, *off + sizeof *s, s->labels_len))
            return FP_CORRUPT;
        if (s->hash == e->hash && s->family == family && s->labels_len == e->len &&
            atomic_load_explicit(&s->state, memory_order_acquire) == FP_SERIES_LIVE &&
            !memcmp(s->labels, e->blob, e->len))
            return FP_FOUND;
    }
    *empty = UINT32_MAX;
    return FP_ABSENT;
}

static int refuse_series(fastprom_t *fp, struct fp_family *f, int code, const char *name, const char *why,
                         fastprom_error_t *err)
{
    atomic_fetch_add(&fp->hdr->dropped_series, 1);
    if (code == FASTPROM_ELIMIT) {
        atomic_fetch_add(&f->dropped, 1);
        return fp_fail(err, code,
                       "family %s reached its limit of %u series; new label values are refused (existing series "
                       "keep working): look for unbounded label values such as ids or raw paths, or raise max_series",
                       name, f->max_series);
    }
    return fp_fail(err, code,
                   "segment %s is full (%s); series of %s refused: create the segment larger "
                   "(FASTPROM_SIZE) after stopping its writers",
                   fp->path, why, name);
}

/* Under the segment lock: the new series' offset in *out. */
static int create_series(fastprom_t *fp, const fastprom_family_t *fam, const struct encoded *e, uint32_t slot,
                         uint32_t *out, fastprom_error_t *err)
{
    struct fp_header *h = fp->hdr;
    struct fp_family *f = (struct fp_family *)(fp->base + fam->rec);
    if (atomic_load(&f->nseries) >= f->max_series)
        return refuse_series(fp, f, FASTPROM_ELIMIT, fam->name, NULL, err);
    uint32_t id = atomic_load(&h->next_series_id);
    if (id >= fp->geo.series_cap || slot == UINT32_MAX)
        return refuse_series(fp, f, FASTPROM_EFULL, fam->name, "all series ids are used", err);
    /* The record, then its shared fallback cells (zeroed by the allocator). */
    uint64_t cells = fp_shared_off(0, (uint32_t)e->len);
    uint32_t off = fp_meta_alloc(fp, cells + fp_shared_size(fam->type, fam->nbounds));
    if (!off)
        return refuse_series(fp, f, FASTPROM_EFULL, fam->name, "no metadata space", err);
    struct fp_series *s = (struct fp_series *)(fp->base + off);
    s->family = fam->rec;
    s->id = id;
    s->hash = e->hash;
    s->labels_len = (uint32_t)e->len;
    s->created = fp_now_seconds();
    memcpy(s->labels, e->blob, e->len);
    atomic_store_explicit(&s->state, FP_SERIES_LIVE, memory_order_relaxed);
    atomic_store_explicit(&s->next, atomic_load(&f->series_head), memory_order_relaxed);
    atomic_store(&h->next_series_id, id + 1);
    atomic_store_explicit(&fp_series_ids(fp)[id], off, memory_order_release);
    fp_test_point(FP_POINT_SERIES_ID);
    atomic_store_explicit(&f->series_head, off, memory_order_release);
    fp_test_point(FP_POINT_SERIES_LISTED);
    atomic_store_explicit(&fp_series_table(fp)[slot], off, memory_order_release);
    atomic_fetch_add(&f->nseries, 1);
    *out = off;
    return 0;
}

/* Finds (or, with create, makes) the series: its offset in *off. */
static int resolve_in_segment(fastprom_t *fp, const fastprom_family_t *fam, const struct encoded *e, bool create,
                              uint32_t *off, fastprom_error_t *err)
{
    uint32_t empty;
    enum fp_found found = find_series(fp, fam->rec, e, off, &empty);
    if (found == FP_ABSENT && create) {
        int rc = fp_lock(fp, err);
        if (rc)
            return rc;
        found = find_series(fp, fam->rec, e, off, &empty);
        rc = found == FP_ABSENT ? create_series(fp, fam, e, empty, off, err) : 0;
        fp_unlock(fp);
        if (rc)
            return rc;
        if (found == FP_ABSENT)
            return 0;
    }
    if (found == FP_CORRUPT)
        return fp_fail(err, FASTPROM_ECORRUPT, "segment %s: the series table is corrupt", fp->path);
    if (found == FP_ABSENT)
        return fp_fail(err, FASTPROM_ENOENT, "family %s has no series with these label values", fam->name);
    return 0;
}

/* ---- this process's handles ---------------------------------------------- */

static fastprom_series_t *map_find(const struct series_map *m, const struct encoded *e)
{
    for (uint32_t i = 0; i < m->cap; i++) {
        fastprom_series_t *s = atomic_load_explicit(&m->items[(e->hash + i) & (m->cap - 1)], memory_order_acquire);
        if (!s)
            return NULL;
        if (s->hash == e->hash && s->labels_len == e->len && !memcmp(s->labels, e->blob, e->len))
            return s;
    }
    return NULL;
}

static int series_live(const fastprom_t *fp, const fastprom_series_t *s)
{
    const struct fp_series *r = (const struct fp_series *)(fp->base + s->rec);
    return atomic_load_explicit(&r->state, memory_order_acquire) == FP_SERIES_LIVE;
}

/* Under fp->mu. A handle replaced by a newer one for the same values (the
 * old series was removed) stays in the pool, still valid, until close. */
static bool map_insert(fastprom_family_t *fam, fastprom_series_t *s)
{
    struct series_map *m = atomic_load(&fam->map);
    if ((m->count + 1) * 2 > m->cap) {
        struct series_map *g = fp_calloc(1, sizeof *g + (size_t)m->cap * 2 * sizeof g->items[0]);
        if (!g)
            return false;
        g->cap = m->cap * 2;
        for (uint32_t i = 0; i < m->cap; i++) {
            fastprom_series_t *x = atomic_load(&m->items[i]);
            if (!x)
                continue;
            uint32_t j = x->hash & (g->cap - 1);
            while (atomic_load(&g->items[j]))
                j = (j + 1) & (g->cap - 1);
            atomic_store(&g->items[j], x);
            g->count++;
        }
        g->older = m;
        atomic_store_explicit(&fam->map, g, memory_order_release);
        m = g;
    }
    for (uint32_t i = 0;; i++) {
        uint32_t pos = (s->hash + i) & (m->cap - 1);
        fastprom_series_t *x = atomic_load(&m->items[pos]);
        if (!x ||
            (x->hash == s->hash && x->labels_len == s->labels_len && !memcmp(x->labels, s->labels, s->labels_len))) {
            if (!x)
                m->count++;
            atomic_store_explicit(&m->items[pos], s, memory_order_release);
            return true;
        }
    }
}

static fastprom_series_t *new_handle(fastprom_family_t *fam, uint32_t off, const struct encoded *e)
{
    fastprom_t *fp = fam->fp;
    if (fp->nseries_pool == fp->series_pool_cap) {
        size_t cap = fp->series_pool_cap ? fp->series_pool_cap * 2 : 64;
        fastprom_series_t **p = fp_realloc(fp->series_pool, cap * sizeof *p);
        if (!p)
            return NULL;
        fp->series_pool = p;
        fp->series_pool_cap = cap;
    }
    fastprom_series_t *s = fp_calloc(1, sizeof *s + e->len);
    if (!s)
        return NULL;
    const struct fp_series *r = (const struct fp_series *)(fp->base + off);
    s->serial = fp->serial;
    s->id = r->id;
    s->attach = (uint8_t)fp->attach;
    s->type = (uint8_t)fam->type;
    s->gauge_timed = fam->type == FASTPROM_GAUGE &&
                     (fam->gauge_mode == FASTPROM_GAUGE_MOSTRECENT || fam->gauge_mode == FASTPROM_GAUGE_LIVEMOSTRECENT);
    s->exemplars = !!(fam->flags & FASTPROM_EXEMPLARS);
    s->nbounds = fam->nbounds;
    s->entry_size = fam->entry_size;
    uint32_t shared = fp_shared_size(fam->type, fam->nbounds);
    s->shared = shared ? fp_at(fp, fp_shared_off(off, (uint32_t)e->len), shared) : NULL;
    s->bounds = fam->bounds;
    s->family = fam;
    s->rec = off;
    s->hash = e->hash;
    s->labels_len = (uint32_t)e->len;
    s->labels = (unsigned char *)(s + 1);
    memcpy(s->labels, e->blob, e->len);
    if (!map_insert(fam, s)) {
        fp_free(s);
        return NULL;
    }
    fp->series_pool[fp->nseries_pool++] = s;
    return s;
}

fastprom_series_t *fastprom_series(fastprom_family_t *fam, const char *const *values, const size_t *lengths,
                                   fastprom_error_t *err)
{
    fp_ok(err);
    if (!fam) {
        fp_fail(err, FASTPROM_EINVAL, "fastprom_series: the family handle is NULL");
        return NULL;
    }
    fastprom_t *fp = fam->fp;
    struct encoded e;
    if (encode_values(fam, values, lengths, &e, err)) {
        encoded_free(&e);
        return NULL;
    }
    fastprom_series_t *s = map_find(atomic_load_explicit(&fam->map, memory_order_acquire), &e);
    if (s && series_live(fp, s)) {
        encoded_free(&e);
        return s;
    }
    uint32_t off;
    if (resolve_in_segment(fp, fam, &e, true, &off, err) == 0) {
        pthread_mutex_lock(&fp->mu);
        s = map_find(atomic_load(&fam->map), &e);
        if (!s || s->rec != off)
            s = new_handle(fam, off, &e);
        pthread_mutex_unlock(&fp->mu);
        if (!s)
            fp_fail(err, FASTPROM_ENOMEM, "out of memory for a series handle of %s", fam->name);
    } else {
        s = NULL;
    }
    encoded_free(&e);
    return s;
}

void fp_series_free_all(fastprom_t *fp)
{
    for (size_t i = 0; i < fp->nseries_pool; i++)
        fp_free(fp->series_pool[i]);
    fp_free(fp->series_pool);
    fp->series_pool = NULL;
    fp->nseries_pool = fp->series_pool_cap = 0;
}

/* ---- removal ---------------------------------------------------------------- */

int fastprom_remove(fastprom_family_t *fam, const char *const *values, const size_t *lengths, fastprom_error_t *err)
{
    fp_ok(err);
    if (!fam)
        return fp_fail(err, FASTPROM_EINVAL, "fastprom_remove: the family handle is NULL");
    fastprom_t *fp = fam->fp;
    struct encoded e;
    uint32_t off;
    int rc = encode_values(fam, values, lengths, &e, err);
    if (!rc)
        rc = resolve_in_segment(fp, fam, &e, false, &off, err);
    encoded_free(&e);
    if (!rc)
        rc = fp_lock(fp, err);
    if (rc)
        return rc;
    struct fp_series *s = (struct fp_series *)(fp->base + off);
    struct fp_family *f = (struct fp_family *)(fp->base + fam->rec);
    if (atomic_load(&s->state) == FP_SERIES_LIVE) {
        atomic_store_explicit(&s->state, FP_SERIES_REMOVED, memory_order_release);
        atomic_fetch_sub(&f->nseries, 1);
    }
    fp_unlock(fp);
    return 0;
}

int fastprom_clear(fastprom_family_t *fam, fastprom_error_t *err)
{
    fp_ok(err);
    if (!fam)
        return fp_fail(err, FASTPROM_EINVAL, "fastprom_clear: the family handle is NULL");
    fastprom_t *fp = fam->fp;
    int rc = fp_lock(fp, err);
    if (rc)
        return rc;
    struct fp_family *f = (struct fp_family *)(fp->base + fam->rec);
    uint32_t off = atomic_load(&f->series_head);
    /* Bounded by the number of ids, so a corrupt cycle cannot hang us. */
    for (uint32_t n = 0; off && n < fp->geo.series_cap; n++) {
        struct fp_series *s = fp_rec(fp, off, sizeof *s);
        if (!s)
            break;
        atomic_store_explicit(&s->state, FP_SERIES_REMOVED, memory_order_release);
        off = atomic_load(&s->next);
    }
    atomic_store(&f->nseries, 0);
    fp_unlock(fp);
    return 0;
}

/* ---- stateset and info -------------------------------------------------------- */

int fastprom_state(fastprom_series_t *s, unsigned index)
{
    if (!s || s->type != FASTPROM_STATESET)
        return FASTPROM_EINVAL;
    if (index >= s->family->nstates)
        return FASTPROM_EINVAL;
    struct fp_series *r = (struct fp_series *)(s->family->fp->base + s->rec);
    atomic_store_explicit(&r->aux, index + 1, memory_order_release);
    return 0;
}

static int check_info_pairs(const fastprom_family_t *fam, const fastprom_label_t *pairs, size_t n, size_t *bytes,
                            fastprom_error_t *err)
{
    *bytes = 0;
    if (n && !pairs)
        return fp_fail(err, FASTPROM_EINVAL, "info %s: npairs is %zu but pairs is NULL", fam->name, n);
    if (n > FASTPROM_MAX_LABELS)
        return fp_fail(err, FASTPROM_EINVAL, "info %s: at most %d pairs", fam->name, FASTPROM_MAX_LABELS);
    for (size_t i = 0; i < n; i++) {
        const char *k = pairs[i].name, *v = pairs[i].value;
        size_t kl = k ? strlen(k) : 0, vl = v ? strlen(v) : 0;
        if (!k || !fp_valid_label_name(k, kl) || kl > FASTPROM_MAX_NAME || (k[0] == '_' && k[1] == '_'))
            return fp_fail(err, FASTPROM_EINVAL, "info %s: key \"%s\" is not a valid label name", fam->name,
                           k ? k : "(null)");
        if (!v || vl > FASTPROM_MAX_LABEL_VALUE || fp_utf8_invalid_at(v, vl) >= 0)
            return fp_fail(err, FASTPROM_EINVAL, "info %s: value of %s is not valid UTF-8 of at most %d bytes",
                           fam->name, k, FASTPROM_MAX_LABEL_VALUE);
        for (uint32_t j = 0; j < fam->nlabels; j++) {
            const struct fp_strref *ln = &fam->label_names[j];
            if (ln->len == kl && !memcmp(fam->fp->base + ln->off, k, kl))
                return fp_fail(err, FASTPROM_EINVAL, "info %s: key %s is already one of the family's labels", fam->name,
                               k);
        }
        for (size_t j = 0; j < i; j++)
            if (!strcmp(pairs[j].name, k))
                return fp_fail(err, FASTPROM_EINVAL, "info %s: key %s appears twice", fam->name, k);
        *bytes += 4 + kl + vl;
    }
    return 0;
}

int fastprom_info(fastprom_series_t *s, const fastprom_label_t *pairs, size_t n, fastprom_error_t *err)
{
    fp_ok(err);
    if (!s || s->type != FASTPROM_INFO)
        return fp_fail(err, FASTPROM_EINVAL, "fastprom_info needs a series of an info family");
    fastprom_family_t *fam = s->family;
    fastprom_t *fp = fam->fp;
    size_t bytes;
    int rc = check_info_pairs(fam, pairs, n, &bytes, err);
    if (rc)
        return rc;
    unsigned char *blob = fp_malloc(bytes ? bytes : 1);
    if (!blob)
        return fp_fail(err, FASTPROM_ENOMEM, "out of memory for info pairs");
    size_t pos = 0;
    for (size_t i = 0; i < n; i++) {
        const char *kv[2] = {pairs[i].name, pairs[i].value};
        size_t lens[2] = {strlen(kv[0]), strlen(kv[1])};
        fp_labels_encode(blob + pos, kv, lens, 2);
        pos += 4 + lens[0] + lens[1];
    }
    struct fp_series *r = (struct fp_series *)(fp->base + s->rec);
    /* Re-setting the same pairs (every worker at start-up, typically) costs
     * nothing: only a change takes segment space. */
    uint32_t cur_off = atomic_load_explicit(&r->aux, memory_order_acquire);
    const struct fp_info *cur = fp_rec(fp, cur_off, sizeof *cur);
    if (cur && cur->npairs == n && cur->len == bytes && fp_at(fp, cur_off + sizeof *cur, bytes) &&
        !memcmp(cur->data, blob, bytes)) {
        fp_free(blob);
        return 0;
    }
    if ((rc = fp_lock(fp, err))) {
        fp_free(blob);
        return rc;
    }
    uint32_t off = fp_meta_alloc(fp, sizeof(struct fp_info) + bytes);
    if (off) {
        struct fp_info *info = (struct fp_info *)(fp->base + off);
        info->npairs = (uint32_t)n;
        info->len = (uint32_t)bytes;
        memcpy(info->data, blob, bytes);
        atomic_store_explicit(&r->aux, off, memory_order_release);
    }
    fp_unlock(fp);
    fp_free(blob);
    if (!off)
        return fp_fail(err, FASTPROM_EFULL,
                       "segment %s is full; info of %s not stored (create it larger: FASTPROM_SIZE)", fp->path,
                       fam->name);
    return 0;
}
