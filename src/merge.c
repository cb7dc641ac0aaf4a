/*
 * merge.c - the first half of a read: every writer slot's cells, and the
 * retained totals of dead writers, summed per series id into reader memory
 * (bounds-checked, lock-free). Sum cells are added exactly (xsum.h) and
 * rounded once when the snapshot is built, so the value is the same whether
 * a dead writer's cells are folded yet or not.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "arena.h"
#include "chain.h"
#include "error.h"
#include "merge.h"
#include "names.h"
#include "records.h"
#include "slots.h"
#include "testpoint.h"

static struct acc_more none_more;

int fp_pass_corrupt(struct pass *p, const char *what)
{
    if (!p->rc)
        p->rc = fp_fail(p->err, FASTPROM_ECORRUPT, "segment %s is corrupt: %s; delete it and restart its writers",
                        p->fp->path, what);
    return p->rc;
}

int fp_pass_nomem(struct pass *p)
{
    if (!p->rc)
        p->rc = fp_fail(p->err, FASTPROM_ENOMEM, "out of memory reading segment %s", p->fp->path);
    return p->rc;
}

uint64_t fp_mix(uint64_t h, uint64_t v)
{
    h ^= v + 0x9e3779b97f4a7c15ull + (h << 6) + (h >> 2);
    return h;
}

const struct fp_family *fp_family_rec(const fastprom_t *fp, uint32_t off)
{
    const struct fp_family *f = fp_rec(fp, off, sizeof *f);
    if (!f || f->type < FASTPROM_COUNTER || f->type > FASTPROM_STATESET || f->nlabels > FASTPROM_MAX_LABELS ||
        f->nbounds > FASTPROM_MAX_BUCKETS || f->nstates > FASTPROM_MAX_STATES ||
        f->entry_size != fp_entry_size(f->type, f->nbounds, f->flags) || f->gauge_mode > FASTPROM_GAUGE_LIVEMOSTRECENT)
        return NULL;
    if ((f->type == FASTPROM_HISTOGRAM && f->nbounds == 0) ||
        (f->type == FASTPROM_SUMMARY && f->nbounds > FASTPROM_MAX_QUANTILES))
        return NULL;
    return f;
}

/* ---- accumulating entries ------------------------------------------------ */

static void newest_exemplar(struct fp_exemplar *into, const struct fp_exemplar *from)
{
    for (int attempt = 0; attempt < 4; attempt++) {
        uint32_t s1 = atomic_load_explicit(&from->seq, memory_order_acquire);
        if (s1 == 0)
            return;
        if (s1 & 1)
            continue;
        struct fp_exemplar copy;
        memcpy(&copy, from, sizeof copy);
        atomic_thread_fence(memory_order_acquire);
        if (atomic_load_explicit(&from->seq, memory_order_relaxed) != s1)
            continue;
        if (copy.len > sizeof copy.data)
            return;
        if (!into->seq || copy.timestamp > into->timestamp) {
            *into = copy;
            into->seq = 2;
        }
        return;
    }
}

static struct acc *acc_for(struct pass *p, uint32_t id, const struct fp_family *f)
{
    struct acc *a = &p->accs[id];
    if (a->more)
        return a;
    if (f->type == FASTPROM_COUNTER && !(f->flags & FASTPROM_EXEMPLARS)) {
        a->more = &none_more;
        return a;
    }
    struct acc_more *m = fp_arena_alloc(p->arena, sizeof *m);
    if (!m)
        return NULL;
    if (f->type == FASTPROM_HISTOGRAM && !(m->counts = fp_arena_alloc(p->arena, 8 * ((size_t)f->nbounds + 1))))
        return NULL;
    if (f->type == FASTPROM_SUMMARY && f->nbounds) {
        if (!(m->sketch = fp_arena_alloc(p->arena, sizeof *m->sketch)))
            return NULL;
        m->sketch->min = INFINITY;
        m->sketch->max = -INFINITY;
    }
    if (f->flags & FASTPROM_EXEMPLARS) {
        size_t n = f->type == FASTPROM_COUNTER ? 1 : (size_t)f->nbounds + 1;
        if (!(m->ex = fp_arena_alloc(p->arena, n * sizeof *m->ex)))
            return NULL;
    }
    a->more = m;
    return a;
}

static uint64_t load_u64(const void *p)
{
    return atomic_load_explicit((_Atomic uint64_t *)p, memory_order_relaxed);
}
static double load_f64(const void *p)
{
    return atomic_load_explicit((_Atomic double *)p, memory_order_relaxed);
}

/* Adds sum cell x and, when `exact` is not NULL (a retained entry), the
 * exact words that follow its cells to a's exact sum, made at first use. */
static __attribute__((noinline)) int add_sum_exactly(struct pass *p, struct acc *a, double x,
                                                     const unsigned char *exact)
{
    if (!a->sum && !(a->sum = fp_arena_alloc(p->arena, sizeof *a->sum)))
        return fp_pass_nomem(p);
    fp_xsum_add(a->sum, x);
    if (exact) {
        uint64_t w[FP_XSUM_WORDS];
        for (int i = 0; i < FP_XSUM_WORDS; i++)
            w[i] = load_u64(exact + 8 * i);
        fp_xsum_add_fixed(a->sum, w);
    }
    return 0;
}

/* Most counters never have a fractional part: their sum cells stay 0. */
static inline int add_sum(struct pass *p, struct acc *a, double x, const unsigned char *exact)
{
    return x == 0 && !exact ? 0 : add_sum_exactly(p, a, x, exact);
}

/* Adds a writer's (or the shared) n bucket counts and sum cell to a. */
static inline int add_histogram_cells(struct pass *p, struct acc *a, const unsigned char *c, uint32_t n,
                                      const unsigned char *exact)
{
    for (uint32_t i = 0; i < n; i++)
        a->more->counts[i] += load_u64(c + 8 * i);
    return add_sum(p, a, load_f64(c + 8 * n), exact);
}

/* The validated family of series record s (NULL s: NULL). A writer's
 * entries cycle through a few families: each family record is validated once
 * per pass, not once per entry. */
static const struct fp_family *family_of(struct pass *p, const struct fp_series *s)
{
    if (!s)
        return NULL;
    struct fam_memo *m = &p->memo[(s->family >> 3) % FAM_MEMO];
    if (m->off != s->family) {
        m->fam = fp_family_rec(p->fp, s->family);
        m->off = m->fam ? s->family : 0;
    }
    return m->fam;
}

/* Adds entry e, of a writer slot (live or not) or of the retained chain. */
static int accumulate(struct pass *p, const struct fp_entry *e, int retained, int live, uint32_t slot_pid)
{
    const fastprom_t *fp = p->fp;
    if (e->series == FP_ENTRY_FOLDED)
        return 0;
    if (e->series == 0 || e->series >= fp->geo.series_cap)
        return fp_pass_corrupt(p, "a value entry names a series id out of range");
    if (e->series >= p->nids)
        return 0; /* created after this pass began */
    const struct fp_series *s = fp_series_rec(fp, e->series);
    const struct fp_family *f = family_of(p, s);
    if (!f)
        return fp_pass_corrupt(p, "a value entry refers to a missing series or family");
    if (e->size != (retained ? fp_retained_size(f->type, f->nbounds, f->entry_size) : f->entry_size))
        return fp_pass_corrupt(p, "a value entry's size does not match its family");
    const unsigned char *c = (const unsigned char *)(e + 1);
    /* A retained entry's exact sum follows its cells (layout.h). */
    const unsigned char *exact = retained && fp_sum_cell(f->type, f->nbounds) ? c + f->entry_size - sizeof *e : NULL;
    /* Any write changes one of the leading cells (value, count, buckets):
     * their plain sum, mixed once per entry, notices it. */
    uint64_t words = 0;
    for (uint32_t i = 0; i + 8 <= e->size - sizeof *e && i < 8 * (f->nbounds + 3); i += 8)
        words += load_u64(c + i);
    p->activity = fp_mix(p->activity, words * (e->series + 1));
    if (p->stat_only)
        return 0;
    if (atomic_load_explicit(&s->state, memory_order_acquire) != FP_SERIES_LIVE)
        return 0;
    struct acc *a = acc_for(p, e->series, f);
    if (!a)
        return fp_pass_nomem(p);
    switch (f->type) {
    case FASTPROM_COUNTER:
        a->u0 += load_u64(c);
        if (a->more->ex)
            newest_exemplar(a->more->ex, (const struct fp_exemplar *)(c + 16));
        return add_sum(p, a, load_f64(c + 8), exact);
    case FASTPROM_HISTOGRAM: {
        uint32_t n = f->nbounds + 1;
        for (uint32_t i = 0; a->more->ex && i < n; i++)
            newest_exemplar(&a->more->ex[i], (const struct fp_exemplar *)(c + 8 * (n + 1)) + i);
        return add_histogram_cells(p, a, c, n, exact);
    }
    case FASTPROM_SUMMARY:
        a->u0 += load_u64(c);
        if (a->more->sketch)
            fp_sketch_merge(a->more->sketch, (const struct fp_sketch *)(c + 16));
        return add_sum(p, a, load_f64(c + 8), exact);
    case FASTPROM_GAUGE: {
        struct gauge_part *g = fp_arena_alloc(p->arena, sizeof *g);
        if (!g)
            return fp_pass_nomem(p);
        uint64_t pid = load_u64(c + 16);
        g->pid = pid ? (uint32_t)pid : slot_pid;
        g->live = live;
        g->value = load_f64(c);
        g->ts = load_f64(c + 8);
        g->next = a->more->gauges;
        a->more->gauges = g;
        break;
    }
    default: return fp_pass_corrupt(p, "a value entry belongs to an info or stateset family");
    }
    return 0;
}

static int walk_chain(struct pass *p, uint32_t head, int retained, int live, uint32_t pid)
{
    struct fp_chain c;
    fp_chain_begin(&c, p->fp, head);
    for (const struct fp_entry *e; (e = fp_chain_next(&c));)
        if (accumulate(p, e, retained, live, pid))
            return p->rc;
    if (c.corrupt)
        return fp_pass_corrupt(p, "a value block chain has a bad offset or size");
    return 0;
}

static int folded(const struct pass *p, uint32_t slot, uint32_t gen)
{
    for (uint32_t i = 0; i < p->nfolded; i++)
        if (p->folded[2 * i] == slot && p->folded[2 * i + 1] == gen)
            return 1;
    return 0;
}

static int read_folded_list(struct pass *p, uint32_t head)
{
    struct fp_chain c;
    uint32_t cap = p->fp->geo.max_slots;
    if (!(p->folded = fp_arena_alloc(p->arena, 8 * (size_t)cap)))
        return fp_pass_nomem(p);
    fp_chain_begin(&c, p->fp, head);
    for (const struct fp_entry *e; (e = fp_chain_next(&c));) {
        if (e->series != FP_ENTRY_FOLDED)
            continue;
        const uint32_t *pairs = (const uint32_t *)(e + 1);
        uint32_t n = (e->size - (uint32_t)sizeof *e) / 8;
        for (uint32_t i = 0; i < n && p->nfolded < cap; i++, p->nfolded++) {
            p->folded[2 * p->nfolded] = pairs[2 * i];
            p->folded[2 * p->nfolded + 1] = pairs[2 * i + 1];
        }
    }
    if (c.corrupt)
        return fp_pass_corrupt(p, "the retained-totals chain has a bad offset or size");
    return 0;
}

/* The updates recorded in shared cells c of a family of this type
 * (layout.h): a counter's third cell, else the observation counts. */
static uint64_t shared_updates(const struct fp_family *f, const unsigned char *c)
{
    if (f->type == FASTPROM_COUNTER)
        return load_u64(c + 16);
    uint32_t n = f->type == FASTPROM_HISTOGRAM ? f->nbounds + 1 : 1;
    uint64_t updates = 0;
    for (uint32_t i = 0; i < n; i++)
        updates += load_u64(c + 8 * i);
    return updates;
}

/* Adds every series' shared fallback cells (layout.h), and their updates to
 * st. Their place follows from the record, so there is no offset to trust,
 * only bounds to check. */
static int merge_shared(struct pass *p, fastprom_stat_t *st)
{
    const fastprom_t *fp = p->fp;
    for (uint32_t id = 1; id < p->nids; id++) {
        const struct fp_series *s = fp_series_rec(fp, id);
        if (!s)
            continue; /* an id not published yet; the registry pass judges the rest */
        const struct fp_family *f = family_of(p, s);
        if (!f)
            return fp_pass_corrupt(p, "a series refers to a missing family");
        uint32_t size = fp_shared_size(f->type, f->nbounds);
        if (!size)
            continue;
        uint32_t rec = (uint32_t)((const unsigned char *)s - fp->base);
        const unsigned char *c = fp_rec(fp, fp_shared_off(rec, s->labels_len), size);
        if (!c)
            return fp_pass_corrupt(p, "a series' shared cells are out of bounds");
        uint64_t words = 0, any = 0;
        for (uint32_t i = 0; i < size; i += 8) {
            uint64_t w = load_u64(c + i);
            words += w;
            any |= w;
        }
        p->activity = fp_mix(p->activity, words * (id + 1) + 1);
        st->fallback_updates += shared_updates(f, c);
        if (p->stat_only || !any || atomic_load_explicit(&s->state, memory_order_acquire) != FP_SERIES_LIVE)
            continue;
        struct acc *a = acc_for(p, id, f);
        if (!a)
            return fp_pass_nomem(p);
        int rc;
        if (f->type == FASTPROM_HISTOGRAM) {
            rc = add_histogram_cells(p, a, c, f->nbounds + 1, NULL);
        } else { /* counter, summary: integral part or count, then a sum */
            a->u0 += load_u64(c);
            rc = add_sum(p, a, load_f64(c + 8), NULL);
        }
        if (rc)
            return rc;
    }
    return 0;
}

int fp_merge_values(struct pass *p, fastprom_stat_t *st)
{
    fastprom_t *fp = p->fp;
    struct fp_header *h = fp->hdr;
    uint32_t retired = atomic_load_explicit(&h->retired_head, memory_order_acquire);
    if (read_folded_list(p, retired) || walk_chain(p, retired, 1, 0, 0))
        return p->rc;
    fp_test_point(FP_POINT_READ_RETIRED);
    const struct fp_slot *slots = (const struct fp_slot *)(fp->base + fp->geo.slots_off);
    for (uint32_t i = 0; i < fp->geo.max_slots; i++) {
        const struct fp_slot *s = &slots[i];
        if (atomic_load_explicit(&s->state, memory_order_acquire) != FP_SLOT_LIVE)
            continue;
        uint32_t gen = atomic_load_explicit(&s->gen, memory_order_acquire);
        if (folded(p, i, gen))
            continue;
        int live = fp_slot_alive(fp, i);
        if (live) {
            st->slots_live++;
            if (atomic_load_explicit(&s->flags, memory_order_relaxed) & FP_SLOT_PRIMARY)
                st->processes_live++;
        } else {
            st->slots_dead++;
        }
        p->activity = fp_mix(p->activity, ((uint64_t)i << 32) | gen);
        if (walk_chain(p, atomic_load_explicit(&s->head, memory_order_acquire), 0, live,
                       atomic_load_explicit(&s->pid, memory_order_relaxed)))
            return p->rc;
    }
    /* Nobody ever fell back: skip a pass over every series. Acquire: pairs
     * with the writer's release (update.c, shared_done). */
    if (atomic_load_explicit(&h->fallback_used, memory_order_acquire))
        return merge_shared(p, st);
    return 0;
}
