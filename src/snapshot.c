/*
 * snapshot.c - the reader: one lock-free pass over the segment (merge.c sums
 * the writers' cells) turned into a private, validated, sorted
 * fp_snapshot_t, and fastprom_stat().
 *
 * The reader never writes to the segment and never trusts it: each offset
 * is bounds-checked before use, each string re-validated, each chain walk
 * bounded. It takes no lock, so a scrape never waits for a writer. Values
 * are read while writers write; the only thing that could make the sum
 * inconsistent is a fold (dead writers' cells moving into the retained
 * totals, their blocks freed and reused) during the pass, and folds bump
 * reclaim_gen, so the pass is retried when it changed.
 */
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "arena.h"
#include "error.h"
#include "merge.h"
#include "names.h"
#include "order.h"
#include "records.h"
#include "sketch.h"
#include "snapshot.h"

#define ATTEMPTS 16

/* ---- copying strings out ---------------------------------------------------- */

static int copy_str(struct pass *p, struct fp_strref r, fp_str_t *out, int kind)
{
    const char *src = fp_at(p->fp, r.off, r.len);
    if (r.len && !src)
        return fp_pass_corrupt(p, "a string offset is out of bounds");
    int ok = kind == 'm'   ? fp_valid_metric_name(src, r.len)
             : kind == 'l' ? fp_valid_label_name(src, r.len)
                           : fp_utf8_invalid_at(src, r.len) < 0;
    if (!ok)
        return fp_pass_corrupt(p, kind == 'u' ? "a string is not valid UTF-8" : "a stored name is not a valid name");
    char *dst = fp_arena_strndup(p->arena, src ? src : "", r.len);
    if (!dst)
        return fp_pass_nomem(p);
    out->ptr = dst;
    out->len = r.len;
    return 0;
}

static int copy_strs(struct pass *p, uint32_t off, uint32_t n, fp_str_t **out, int kind)
{
    *out = NULL;
    if (!n)
        return 0;
    const struct fp_strref *refs = fp_rec(p->fp, off, (uint64_t)n * sizeof *refs);
    if (!refs)
        return fp_pass_corrupt(p, "a name list offset is out of bounds");
    if (!(*out = fp_arena_alloc(p->arena, n * sizeof **out)))
        return fp_pass_nomem(p);
    for (uint32_t i = 0; i < n; i++) {
        struct fp_strref r = refs[i];
        if (copy_str(p, r, &(*out)[i], kind))
            return p->rc;
    }
    return 0;
}

/* Splits an encoded blob (values, or key/value pairs) into n strings that
 * point into one arena copy of it. */
static int decode_values(struct pass *p, const unsigned char *blob, uint32_t len, uint32_t n, fp_str_t **out,
                         int names_every_other)
{
    *out = NULL;
    unsigned char *copy = fp_arena_alloc_raw(p->arena, len + 1);
    if (!copy || (n && !(*out = fp_arena_alloc(p->arena, n * sizeof **out))))
        return fp_pass_nomem(p);
    memcpy(copy, blob, len);
    return fp_labels_check(p, copy, len, n, *out, names_every_other);
}

/* ---- building families and series --------------------------------------------- */

static int str_cmp(fp_str_t a, fp_str_t b)
{
    uint32_t n = a.len < b.len ? a.len : b.len;
    int c = n ? memcmp(a.ptr, b.ptr, n) : 0;
    return c ? c : (a.len > b.len) - (a.len < b.len);
}

static int family_cmp(const void *x, const void *y)
{
    return str_cmp(((const fp_snap_family_t *)x)->name, ((const fp_snap_family_t *)y)->name);
}

/* ---- values: gauges by mode, exemplars ------------------------------------- */

static int pid_cmp(const void *x, const void *y)
{
    const fp_snap_pid_value_t *a = x, *b = y;
    return (a->pid > b->pid) - (a->pid < b->pid);
}

static int combine_gauge(struct pass *p, const fp_snap_family_t *fam, const struct acc *a, fp_snap_series_t *out)
{
    fastprom_gauge_mode_t mode = fam->gauge_mode;
    int live_only = fp_gauge_mode_is_live(mode);
    out->has_value = 1;
    out->value = 0;
    if (mode == FASTPROM_GAUGE_ALL || mode == FASTPROM_GAUGE_LIVEALL) {
        size_t n = 0;
        for (const struct gauge_part *g = a ? a->more->gauges : NULL; g; g = g->next)
            n++;
        if (!n)
            return 0;
        if (!(out->pids = fp_arena_alloc(p->arena, n * sizeof *out->pids)))
            return fp_pass_nomem(p);
        int *live = fp_arena_alloc(p->arena, n * sizeof *live);
        if (!live)
            return fp_pass_nomem(p);
        for (const struct gauge_part *g = a->more->gauges; g; g = g->next) {
            if (live_only && !g->live)
                continue;
            /* A reused pid (a dead and a live process): one sample, the live one. */
            size_t k = 0;
            while (k < out->npids && out->pids[k].pid != g->pid)
                k++;
            if (k == out->npids) {
                out->npids++;
            } else if (live[k] && !g->live) {
                continue;
            }
            out->pids[k].pid = g->pid;
            out->pids[k].value = g->value;
            live[k] = g->live;
        }
        qsort(out->pids, out->npids, sizeof *out->pids, pid_cmp);
        return 0;
    }
    int any = 0;
    double best_ts = -INFINITY;
    for (const struct gauge_part *g = a ? a->more->gauges : NULL; g; g = g->next) {
        if (live_only && !g->live)
            continue;
        double v = g->value;
        switch (mode) {
        case FASTPROM_GAUGE_SUM:
        case FASTPROM_GAUGE_LIVESUM: out->value += v; break;
        case FASTPROM_GAUGE_MAX:
        case FASTPROM_GAUGE_LIVEMAX: out->value = any && out->value >= v ? out->value : v; break;
        case FASTPROM_GAUGE_MIN:
        case FASTPROM_GAUGE_LIVEMIN: out->value = any && out->value <= v ? out->value : v; break;
        default: /* mostrecent */
            if (g->ts >= best_ts) {
                best_ts = g->ts;
                out->value = v;
            }
            break;
        }
        any = 1;
    }
    return 0;
}

static int build_exemplars(struct pass *p, const fp_snap_family_t *fam, const struct acc *a, fp_snap_series_t *out)
{
    size_t n = fam->type == FASTPROM_COUNTER ? 1 : fam->nbounds + 1;
    if (!(out->exemplars = fp_arena_alloc(p->arena, n * sizeof *out->exemplars)))
        return fp_pass_nomem(p);
    for (size_t i = 0; a && a->more->ex && i < n; i++) {
        const struct fp_exemplar *x = &a->more->ex[i];
        if (!x->seq)
            continue;
        size_t pairs = 0, pos = 0;
        while (pos < x->len && pairs < 64) {
            uint32_t kl = x->data[pos];
            if (pos + 1 + kl >= x->len)
                return fp_pass_corrupt(p, "an exemplar's labels are truncated");
            uint32_t vl = x->data[pos + 1 + kl];
            if (pos + 2 + kl + vl > x->len)
                return fp_pass_corrupt(p, "an exemplar's labels are truncated");
            pos += 2 + kl + vl;
            pairs++;
        }
        fp_snap_exemplar_t *ex = &out->exemplars[i];
        if (pairs && (!(ex->names = fp_arena_alloc(p->arena, pairs * sizeof *ex->names)) ||
                      !(ex->values = fp_arena_alloc(p->arena, pairs * sizeof *ex->values))))
            return fp_pass_nomem(p);
        char *copy = fp_arena_strndup(p->arena, (const char *)x->data, x->len);
        if (!copy)
            return fp_pass_nomem(p);
        pos = 0;
        for (size_t k = 0; k < pairs; k++) {
            uint32_t kl = (unsigned char)copy[pos], vl = (unsigned char)copy[pos + 1 + kl];
            ex->names[k] = (fp_str_t){copy + pos + 1, kl};
            ex->values[k] = (fp_str_t){copy + pos + 2 + kl, vl};
            if (!fp_valid_label_name(ex->names[k].ptr, kl) || fp_utf8_invalid_at(ex->values[k].ptr, vl) >= 0)
                return fp_pass_corrupt(p, "an exemplar label is invalid");
            pos += 2 + kl + vl;
        }
        ex->present = 1;
        ex->nlabels = pairs;
        ex->value = x->value;
        ex->timestamp = x->timestamp;
    }
    return 0;
}

/* A counter's integral and fractional parts, rounded once, together. */
static double counter_value(const struct acc *a)
{
    if (!a->sum)
        return (double)a->u0;
    struct fp_xsum t = *a->sum;
    fp_xsum_add_u64(&t, a->u0);
    return fp_xsum_value(&t);
}

static double sum_value(const struct acc *a)
{
    return a->sum ? fp_xsum_value(a->sum) : 0.0;
}

static int build_series(struct pass *p, const fp_snap_family_t *fam, const struct fp_series *s, fp_str_t *labels,
                        fp_snap_series_t *out)
{
    const fastprom_t *fp = p->fp;
    memset(out, 0, sizeof *out);
    out->created = s->created;
    out->label_values = labels;
    const struct acc *a = s->id < p->nids && p->accs[s->id].more ? &p->accs[s->id] : NULL;
    switch (fam->type) {
    case FASTPROM_COUNTER:
        out->value = a ? counter_value(a) : 0.0;
        out->has_value = 1;
        break;
    case FASTPROM_GAUGE: return combine_gauge(p, fam, a, out);
    case FASTPROM_HISTOGRAM:
        if (!(out->buckets = fp_arena_alloc(p->arena, (fam->nbounds + 1) * sizeof *out->buckets)))
            return fp_pass_nomem(p);
        for (size_t i = 0; a && i <= fam->nbounds; i++) {
            out->buckets[i] = a->more->counts[i];
            out->count += a->more->counts[i];
        }
        out->sum = a ? sum_value(a) : 0.0;
        break;
    case FASTPROM_SUMMARY:
        out->count = a ? a->u0 : 0;
        out->sum = a ? sum_value(a) : 0.0;
        if (fam->nbounds && !(out->quantiles = fp_arena_alloc(p->arena, fam->nbounds * sizeof(double))))
            return fp_pass_nomem(p);
        for (size_t i = 0; i < fam->nbounds; i++)
            out->quantiles[i] = a && a->more->sketch ? fp_sketch_quantile(a->more->sketch, fam->bounds[i]) : NAN;
        break;
    case FASTPROM_STATESET: {
        uint32_t v = atomic_load_explicit(&s->aux, memory_order_acquire);
        /* Never set: the first state, as prometheus_client's Enum starts. */
        out->state = v >= 1 && v <= fam->nstates ? (int)v - 1 : 0;
        break;
    }
    case FASTPROM_INFO: {
        uint32_t off = atomic_load_explicit(&s->aux, memory_order_acquire);
        const struct fp_info *info = fp_rec(fp, off, sizeof *info);
        if (!off)
            break;
        if (!info || info->npairs > FASTPROM_MAX_LABELS || !fp_at(fp, off + sizeof *info, info->len))
            return fp_pass_corrupt(p, "an info record is out of bounds");
        fp_str_t *kv;
        if (decode_values(p, info->data, info->len, 2 * info->npairs, &kv, 1))
            return p->rc;
        out->ninfo = info->npairs;
        if (!(out->info_keys = fp_arena_alloc(p->arena, (out->ninfo + 1) * sizeof(fp_str_t))) ||
            !(out->info_values = fp_arena_alloc(p->arena, (out->ninfo + 1) * sizeof(fp_str_t))))
            return fp_pass_nomem(p);
        for (size_t i = 0; i < out->ninfo; i++) {
            out->info_keys[i] = kv[2 * i];
            out->info_values[i] = kv[2 * i + 1];
        }
        break;
    }
    }
    if (fam->flags & FASTPROM_EXEMPLARS)
        return build_exemplars(p, fam, a, out);
    return 0;
}

/* Does some exclude entry name a prefix of the family's name (prefix
 * applied)? */
static bool family_excluded(const fp_snap_family_t *fam, const fp_filter_t *flt)
{
    size_t pl = flt->prefix ? strlen(flt->prefix) : 0;
    for (size_t i = 0; i < flt->nexclude; i++) {
        const char *x = flt->exclude[i];
        size_t xl = x ? strlen(x) : 0;
        /* x is a prefix of prefix + name */
        size_t head = xl < pl ? xl : pl;
        if (!x || memcmp(x, flt->prefix ? flt->prefix : "", head))
            continue;
        if (xl <= pl || (xl - pl <= fam->name.len && !memcmp(x + pl, fam->name.ptr, xl - pl)))
            return true;
    }
    return false;
}

/* Does any sample name of the family (prefix applied) appear in names? */
static bool family_wanted(const fp_snap_family_t *fam, const char *prefix, const char *const *names, size_t nnames)
{
    size_t pl = prefix ? strlen(prefix) : 0;
    for (size_t i = 0; i < nnames; i++) {
        const char *n = names[i];
        size_t nl = n ? strlen(n) : 0;
        if (nl < pl + fam->name.len || (pl && memcmp(n, prefix, pl)) || memcmp(n + pl, fam->name.ptr, fam->name.len))
            continue;
        const char *rest = n + pl + fam->name.len;
        for (const char *const *sfx = fp_sample_suffixes[fam->type]; *sfx; sfx++)
            if (!strcmp(rest, *sfx))
                return true;
    }
    return false;
}

static int build_family(struct pass *p, const struct fp_family *f, fp_snap_family_t *out)
{
    out->type = f->type;
    out->gauge_mode = f->gauge_mode;
    out->flags = f->flags;
    out->created = f->created;
    out->max_series = f->max_series;
    out->dropped_series = atomic_load_explicit(&f->dropped, memory_order_relaxed);
    if (copy_str(p, f->name, &out->name, 'm') || copy_str(p, f->help, &out->help, 'u') ||
        copy_str(p, f->unit, &out->unit, 'u') || copy_strs(p, f->labels_off, f->nlabels, &out->label_names, 'l') ||
        copy_strs(p, f->states_off, f->nstates, &out->states, 'u'))
        return p->rc;
    out->nlabels = f->nlabels;
    out->nstates = f->nstates;
    out->nbounds = f->nbounds;
    if (f->nbounds) {
        const double *b = fp_rec(p->fp, f->bounds_off, (uint64_t)f->nbounds * sizeof *b);
        if (!b || !(out->bounds = fp_arena_alloc(p->arena, f->nbounds * sizeof *b)))
            return b ? fp_pass_nomem(p) : fp_pass_corrupt(p, "bucket bounds are out of bounds");
        memcpy(out->bounds, b, f->nbounds * sizeof *b);
        for (uint32_t i = 0; i < f->nbounds; i++)
            if (!isfinite(out->bounds[i]) || (i && !(out->bounds[i] > out->bounds[i - 1])))
                return fp_pass_corrupt(p, "bucket bounds are not ascending finite numbers");
    }
    return 0;
}

static int build_series_list(struct pass *p, uint32_t family_off, const struct fp_family *f, fp_snap_family_t *out)
{
    fastprom_t *fp = p->fp;
    /* The live count is only a hint (series come and go during the pass),
     * but it makes the common case one allocation. */
    uint32_t hint = atomic_load_explicit(&f->nseries, memory_order_relaxed);
    uint32_t n = 0, cap = hint < 16 ? 16 : hint > fp->geo.series_cap ? fp->geo.series_cap : hint + hint / 8;
    uint32_t off = atomic_load_explicit(&f->series_head, memory_order_acquire);
    const struct fp_series **recs = fp_arena_alloc_raw(p->arena, cap * sizeof *recs);
    if (!recs)
        return fp_pass_nomem(p);
    uint64_t fingerprint = 0;
    for (uint32_t steps = 0; off; steps++) {
        if (steps >= fp->geo.series_cap)
            return fp_pass_corrupt(p, "a family's series list has a cycle");
        const struct fp_series *s = fp_rec(fp, off, sizeof *s);
        if (!s || off % 8 || !fp_at(fp, off + sizeof *s, s->labels_len))
            return fp_pass_corrupt(p, "a series record is out of bounds");
        if (s->family != family_off)
            return fp_pass_corrupt(p, "a family's series list leads into another family");
        uint32_t here = off;
        off = atomic_load_explicit(&s->next, memory_order_acquire);
        if (atomic_load_explicit(&s->state, memory_order_acquire) != FP_SERIES_LIVE || s->id >= p->nids)
            continue;
        if (n == cap) {
            const struct fp_series **bigger = fp_arena_alloc_raw(p->arena, 2 * cap * sizeof *recs);
            if (!bigger)
                return fp_pass_nomem(p);
            memcpy(bigger, recs, n * sizeof *recs);
            recs = bigger;
            cap *= 2;
        }
        /* The merged values are indexed by id: a record must be the one its
         * id names, or another family's sums would be read as this one's. */
        if (fp_series_rec(fp, s->id) != s)
            return fp_pass_corrupt(p, "a series record does not match the id table");
        recs[n++] = s;
        fingerprint = fp_mix(fingerprint, here);
    }
    struct fp_order *order = fp_order_get(p, family_off, (uint32_t)out->nlabels, recs, n, fingerprint);
    if (!order)
        return p->rc;
    p->snap->orders[p->snap->norders++] = order; /* released with the snapshot */
    /* Not zeroed here: build_series clears each element just before filling
     * it, while it is in cache. */
    fp_snap_series_t *list = fp_arena_alloc_raw(p->arena, (n ? n : 1) * sizeof *list);
    if (!list)
        return fp_pass_nomem(p);
    for (uint32_t i = 0; i < n; i++)
        if (build_series(p, out, order->recs[i], &order->labels[(size_t)i * out->nlabels], &list[i]))
            return p->rc;
    out->series = list;
    out->nseries = n;
    return 0;
}

static int walk_families(struct pass *p, const fp_filter_t *flt, fp_snapshot_t *snap)
{
    const fastprom_t *fp = p->fp;
    const _Atomic uint32_t *tab = fp_family_table(fp);
    fp_snap_family_t *fams = NULL;
    size_t n = 0, room = 0;
    for (uint32_t i = 0; !p->stat_only && i < FP_FAMILY_HASH; i++)
        room += atomic_load_explicit(&tab[i], memory_order_relaxed) != 0;
    /* Families published after the count are left for the next snapshot. */
    if (!p->stat_only && (!(fams = fp_arena_alloc(p->arena, (room ? room : 1) * sizeof *fams)) ||
                          !(snap->orders = fp_arena_alloc(p->arena, (room ? room : 1) * sizeof *snap->orders))))
        return fp_pass_nomem(p);
    for (uint32_t i = 0; i < FP_FAMILY_HASH; i++) {
        uint32_t off = atomic_load_explicit(&tab[i], memory_order_acquire);
        if (!off)
            continue;
        const struct fp_family *f = fp_family_rec(fp, off);
        if (!f)
            return fp_pass_corrupt(p, "a family record is invalid");
        snap->stat.families++;
        snap->stat.families_by_type[f->type]++;
        uint32_t live = atomic_load_explicit(&f->nseries, memory_order_relaxed);
        snap->stat.series += live;
        snap->stat.series_by_type[f->type] += live;
        if (p->stat_only || n == room)
            continue;
        fp_snap_family_t *out = &fams[n];
        memset(out, 0, sizeof *out);
        if (build_family(p, f, out))
            return p->rc;
        if (flt && ((flt->nnames && !family_wanted(out, flt->prefix, flt->names, flt->nnames)) ||
                    (flt->nexclude && family_excluded(out, flt))))
            continue;
        if (build_series_list(p, off, f, out))
            return p->rc;
        n++;
    }
    if (fams)
        qsort(fams, n, sizeof *fams, family_cmp);
    for (size_t i = 1; i < n; i++)
        if (!str_cmp(fams[i - 1].name, fams[i].name))
            return fp_pass_corrupt(p, "two families have the same name");
    snap->families = fams;
    snap->nfamilies = n;
    return 0;
}

static void header_stat(const fastprom_t *fp, fastprom_stat_t *st)
{
    const struct fp_header *h = fp->hdr;
    uint32_t top = atomic_load(&h->meta_top), floor = atomic_load(&h->block_floor);
    uint64_t free_bytes = (uint64_t)atomic_load(&h->free_count) * FP_BLOCK_SIZE;
    uint64_t used = (uint64_t)fp->geo.arena_off + (top - fp->geo.arena_off) + (fp->geo.arena_end - floor);
    st->layout_version = h->layout_version;
    st->size = h->size;
    st->used = used > free_bytes ? used - free_bytes : used;
    st->created = (double)h->created_ns / 1e9;
    st->series_capacity = fp->geo.series_cap - 1;
    st->slots_total = fp->geo.max_slots;
    st->dropped_series = atomic_load(&h->dropped_series);
    st->dropped_updates = atomic_load(&h->dropped_updates);
    st->folded_slots = atomic_load(&h->folded_slots);
    st->repairs = atomic_load(&h->repairs);
}

static int take(fastprom_t *fp, const fp_filter_t *flt, int stat_only, fp_snapshot_t *snap, fastprom_error_t *err)
{
    memset(snap, 0, sizeof *snap);
    fp_ok(err);
    struct fp_header *h = fp->hdr;
    int rc = fastprom_check(fp, err);
    if (rc && rc != FASTPROM_ENOENT) /* a deleted file still reads fine */
        return rc;
    fp_ok(err);
    for (int attempt = 0; attempt < ATTEMPTS; attempt++) {
        struct pass p = {.fp = fp, .snap = snap, .stat_only = stat_only, .err = err};
        p.arena = atomic_exchange(&fp->spare_arena, NULL);
        if (p.arena)
            fp_arena_reset(p.arena);
        else if (!(p.arena = fp_arena_new()))
            return fp_fail(err, FASTPROM_ENOMEM, "out of memory reading segment %s", fp->path);
        uint64_t g1 = atomic_load_explicit(&h->reclaim_gen, memory_order_acquire);
        uint32_t next = atomic_load_explicit(&h->next_series_id, memory_order_acquire);
        p.nids = next < fp->geo.series_cap ? next : fp->geo.series_cap;
        if (!(p.accs = fp_arena_alloc(p.arena, (size_t)p.nids * sizeof *p.accs))) {
            fp_arena_free(p.arena);
            return fp_fail(err, FASTPROM_ENOMEM, "out of memory reading segment %s", fp->path);
        }
        memset(&snap->stat, 0, sizeof snap->stat);
        header_stat(fp, &snap->stat);
        if (!fp_merge_values(&p, &snap->stat))
            walk_families(&p, flt, snap);
        atomic_thread_fence(memory_order_acquire);
        uint64_t g2 = atomic_load_explicit(&h->reclaim_gen, memory_order_relaxed);
        if (g1 != g2) {
            snap->arena = p.arena;
            fp_snapshot_free(fp, snap);
            fp_ok(err);
            continue;
        }
        if (p.rc) {
            snap->arena = p.arena;
            fp_snapshot_free(fp, snap);
            return p.rc;
        }
        snap->stat.activity = fp_mix(p.activity, ((uint64_t)next << 32) ^ g1);
        snap->arena = p.arena;
        return 0;
    }
    return fp_fail(err, FASTPROM_EBUSY, "segment %s changed during %d read attempts (writers dying in bulk?); retry",
                   fp->path, ATTEMPTS);
}

int fp_snapshot_take(fastprom_t *fp, const fp_filter_t *filter, fp_snapshot_t *snap, fastprom_error_t *err)
{
    return take(fp, filter, 0, snap, err);
}

void fp_snapshot_free(fastprom_t *fp, fp_snapshot_t *snap)
{
    if (!snap)
        return;
    for (size_t i = 0; i < snap->norders; i++)
        fp_order_put(fp, snap->orders[i]);
    /* Keep the memory for this handle's next snapshot, unless another
     * snapshot already put its arena there. */
    struct fp_arena *expected = NULL;
    if (snap->arena && !(fp && atomic_compare_exchange_strong(&fp->spare_arena, &expected, snap->arena)))
        fp_arena_free(snap->arena);
    memset(snap, 0, sizeof *snap);
}

int fastprom_stat(fastprom_t *fp, fastprom_stat_t *st, fastprom_error_t *err)
{
    fp_ok(err);
    if (!fp || !st)
        return fp_fail(err, FASTPROM_EINVAL, "fastprom_stat: %s is NULL: pass an open handle and a fastprom_stat_t",
                       fp ? "st" : "fp");
    fp_snapshot_t snap;
    int rc = take(fp, NULL, 1, &snap, err);
    if (rc)
        return rc;
    *st = snap.stat;
    fp_snapshot_free(fp, &snap);
    return 0;
}
