/*
 * fold.c - reclaiming dead writers without losing what they counted.
 *
 * Folding is copy-on-write, so it is exact even if the folding process is
 * killed at any instant:
 *   1. merge the current retained totals with the dead slots' values into
 *      NEW blocks nobody can see yet;
 *   2. publish them with one release store of retired_head; the new chain
 *      starts with the list of (slot, generation) it already includes, so
 *      readers skip those slots from that instant on;
 *   3. free the dead slots and the old chain, and bump reclaim_gen so a
 *      reader that was walking freed blocks retries.
 * Killed before 2: the new blocks are garbage that repair sweeps. Killed
 * after 2: the next lock holder finishes step 3 (it sees slots that the
 * published list names but that are still marked live).
 *
 * Counters, histograms and summaries add up; gauges follow their mode: live
 * modes drop a dead process's value, sum adds it, max/min/mostrecent keep the
 * winner, all keeps it per pid. Sum cells (fractional counter increments,
 * histogram and summary sums) are added exactly (xsum.h) and kept exact in
 * the retained entries (layout.h): a reader rounds the same total whether a
 * writer's cell is folded yet or not, so a fold never changes a value.
 *
 * Everything here runs under the segment lock, which lock.c takes (and
 * which runs repair, above this file, when a holder died).
 */
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "chain.h"
#include "error.h"
#include "fold.h"
#include "mem.h"
#include "records.h"
#include "sketch.h"
#include "slots.h"
#include "testpoint.h"
#include "xsum.h"

_Static_assert(FP_RETAINED_SUM_BYTES == sizeof(((struct fp_xsum *)0)->w), "retained sums are fp_xsum words");

/* ---- merged values, in process memory --------------------------------- */

struct merged {
    uint32_t series, pid, size; /* size: a writer entry's bytes, header included */
    uint32_t type, mode, nbounds;
    uint32_t sum_cell; /* fp_sum_cell(), 0: none */
    unsigned char *cells;
    struct fp_xsum sum; /* every merged sum cell, exactly */
};

struct merge_map {
    struct merged *items;
    uint32_t cap, count;
};

static uint32_t key_hash(uint32_t series, uint32_t pid)
{
    return (series * 2654435761u) ^ (pid * 40503u);
}

static struct merged *map_slot(struct merge_map *m, uint32_t series, uint32_t pid)
{
    if ((m->count + 1) * 2 > m->cap) {
        uint32_t cap = m->cap ? m->cap * 2 : 256;
        struct merged *items = fp_calloc(cap, sizeof *items);
        if (!items)
            return NULL;
        for (uint32_t i = 0; i < m->cap; i++) {
            if (!m->items[i].size)
                continue;
            uint32_t j = key_hash(m->items[i].series, m->items[i].pid) & (cap - 1);
            while (items[j].size)
                j = (j + 1) & (cap - 1);
            items[j] = m->items[i];
        }
        fp_free(m->items);
        m->items = items;
        m->cap = cap;
    }
    uint32_t j = key_hash(series, pid) & (m->cap - 1);
    while (m->items[j].size && (m->items[j].series != series || m->items[j].pid != pid))
        j = (j + 1) & (m->cap - 1);
    return &m->items[j];
}

static void map_free(struct merge_map *m)
{
    for (uint32_t i = 0; i < m->cap; i++)
        fp_free(m->items[i].cells);
    fp_free(m->items);
}

static void keep_newer_exemplar(struct fp_exemplar *into, const struct fp_exemplar *from)
{
    uint32_t seq = atomic_load_explicit(&from->seq, memory_order_acquire);
    if (seq == 0 || (seq & 1) || from->len > sizeof from->data)
        return;
    if (atomic_load_explicit(&into->seq, memory_order_relaxed) && into->timestamp >= from->timestamp)
        return;
    memcpy(into, from, sizeof *into);
    atomic_store_explicit(&into->seq, 2, memory_order_relaxed);
}

static void sketch_add_into(struct fp_sketch *into, const struct fp_sketch *from)
{
    if (from->min < into->min)
        into->min = from->min;
    if (from->max > into->max)
        into->max = from->max;
    into->below += from->below;
    for (int i = 0; i < FP_SKETCH_BUCKETS; i++) {
        uint64_t sum = (uint64_t)into->counts[i] + from->counts[i];
        into->counts[i] = sum > UINT32_MAX ? UINT32_MAX : (uint32_t)sum;
    }
}

static void add_values(struct merged *m, const unsigned char *src)
{
    uint64_t *u = (uint64_t *)m->cells;
    double *d = (double *)m->cells;
    const uint64_t *su = (const uint64_t *)src;
    const double *sd = (const double *)src;
    switch (m->type) {
    case FASTPROM_COUNTER:
        u[0] += su[0];
        if (m->size > sizeof(struct fp_entry) + 16)
            keep_newer_exemplar((struct fp_exemplar *)(m->cells + 16), (const struct fp_exemplar *)(src + 16));
        break;
    case FASTPROM_HISTOGRAM: {
        uint32_t n = m->nbounds + 1;
        for (uint32_t i = 0; i < n; i++)
            u[i] += su[i];
        size_t ex = 8 * ((size_t)n + 1);
        for (uint32_t i = 0; ex < m->size - sizeof(struct fp_entry) && i < n; i++)
            keep_newer_exemplar((struct fp_exemplar *)(m->cells + ex) + i, (const struct fp_exemplar *)(src + ex) + i);
        break;
    }
    case FASTPROM_SUMMARY:
        u[0] += su[0];
        if (m->nbounds)
            sketch_add_into((struct fp_sketch *)(m->cells + 16), (const struct fp_sketch *)(src + 16));
        break;
    case FASTPROM_GAUGE:
        switch (m->mode) {
        case FASTPROM_GAUGE_SUM: d[0] += sd[0]; break;
        case FASTPROM_GAUGE_MAX:
            if (sd[0] > d[0])
                d[0] = sd[0];
            break;
        case FASTPROM_GAUGE_MIN:
            if (sd[0] < d[0])
                d[0] = sd[0];
            break;
        default: /* mostrecent, and all (a reused pid: the later write wins) */
            if (sd[1] >= d[1])
                memcpy(m->cells, src, 16);
            break;
        }
        break;
    }
}

/* Adds the sum cell of src (a writer's cells, or retained ones with their
 * exact words after them) to m->sum. */
static void add_sum(struct merged *m, const unsigned char *src, int retained)
{
    double x;
    memcpy(&x, src + 8 * m->sum_cell, sizeof x);
    fp_xsum_add(&m->sum, x);
    if (retained) {
        uint64_t w[FP_XSUM_WORDS];
        memcpy(w, src + m->size - sizeof(struct fp_entry), sizeof w);
        fp_xsum_add_fixed(&m->sum, w);
    }
}

/* Merges one entry (of the retained chain if `retained`); entries of removed
 * series and live-mode gauges vanish. */
static int merge_entry(const fastprom_t *fp, struct merge_map *map, const struct fp_entry *e, int retained,
                       fastprom_error_t *err)
{
    const struct fp_series *s = fp_series_rec(fp, e->series);
    if (!s || atomic_load_explicit(&s->state, memory_order_acquire) != FP_SERIES_LIVE)
        return 0;
    const struct fp_family *f = fp_rec(fp, s->family, sizeof *f);
    if (!f || e->size != (retained ? fp_retained_size(f->type, f->nbounds, f->entry_size) : f->entry_size))
        return 0;
    if (f->type == FASTPROM_GAUGE && fp_gauge_mode_is_live(f->gauge_mode))
        return 0;
    const unsigned char *src = (const unsigned char *)(e + 1);
    uint32_t pid = 0;
    if (f->type == FASTPROM_GAUGE && f->gauge_mode == FASTPROM_GAUGE_ALL)
        memcpy(&pid, src + 16, sizeof pid);
    struct merged *m = map_slot(map, e->series, pid);
    if (!m || (!m->size && !(m->cells = fp_malloc(f->entry_size - sizeof *e))))
        return fp_fail(err, FASTPROM_ENOMEM, "out of memory folding dead writers");
    if (!m->size) {
        memcpy(m->cells, src, f->entry_size - sizeof *e);
        m->series = e->series;
        m->pid = pid;
        m->size = f->entry_size;
        m->type = f->type;
        m->mode = f->gauge_mode;
        m->nbounds = f->nbounds;
        m->sum_cell = fp_sum_cell(f->type, f->nbounds);
        map->count++;
    } else {
        add_values(m, src);
    }
    if (m->sum_cell)
        add_sum(m, src, retained);
    return 0;
}

/* A corrupt chain is an error: folding it would silently drop what it holds. */
static int merge_chain(const fastprom_t *fp, struct merge_map *map, uint32_t head, int retained, fastprom_error_t *err)
{
    struct fp_chain c;
    fp_chain_begin(&c, fp, head);
    for (const struct fp_entry *e; (e = fp_chain_next(&c));) {
        int rc = e->series != FP_ENTRY_FOLDED ? merge_entry(fp, map, e, retained, err) : 0;
        if (rc)
            return rc;
    }
    if (c.corrupt)
        return fp_fail(err, FASTPROM_ECORRUPT,
                       "segment %s: a value chain is corrupt; dead writers are not folded (delete the segment and "
                       "restart its writers)",
                       fp->path);
    return 0;
}

/* ---- writing the new retained chain ---------------------------------------- */

struct writer {
    fastprom_t *fp;
    uint32_t head, tail;
};

static unsigned char *writer_reserve(struct writer *w, uint32_t size)
{
    struct fp_block *b = w->tail ? (struct fp_block *)(w->fp->base + w->tail) : NULL;
    if (!b || FP_BLOCK_SIZE - atomic_load(&b->used) < size) {
        uint32_t nb = fp_block_alloc(w->fp, FP_OWNER_RETIRED, 0);
        if (!nb)
            return NULL;
        if (b)
            atomic_store(&b->next, nb);
        else
            w->head = nb;
        w->tail = nb;
        b = (struct fp_block *)(w->fp->base + nb);
    }
    uint32_t used = atomic_load(&b->used);
    atomic_store(&b->used, used + size);
    return (unsigned char *)b + used;
}

/* The (slot, gen) pairs the published retained chain already includes. */
static uint32_t folded_list(const fastprom_t *fp, uint32_t *pairs, uint32_t max_pairs)
{
    struct fp_chain c;
    uint32_t n = 0;
    fp_chain_begin(&c, fp, atomic_load(&fp->hdr->retired_head));
    for (const struct fp_entry *e; (e = fp_chain_next(&c));) {
        if (e->series != FP_ENTRY_FOLDED)
            continue;
        const uint32_t *p = (const uint32_t *)(e + 1);
        for (uint32_t i = 0; i + 1 < (e->size - sizeof *e) / 4 && n < max_pairs; i += 2, n++) {
            pairs[2 * n] = p[i];
            pairs[2 * n + 1] = p[i + 1];
        }
    }
    return n;
}

/* Readers compare reclaim_gen before and after a pass: it must change
 * before anything they might be reading is freed (and again after, when the
 * caller is done). */
void fp_announce_reclaim(fastprom_t *fp)
{
    atomic_fetch_add_explicit(&fp->hdr->reclaim_gen, 1, memory_order_relaxed);
    atomic_thread_fence(memory_order_release);
}

/* Step 3 of a fold that published but did not finish. Returns slots freed. */
uint32_t fp_fold_finish_published(fastprom_t *fp)
{
    uint32_t *pairs = fp_malloc(2 * sizeof(uint32_t) * fp->geo.max_slots);
    if (!pairs)
        return 0;
    uint32_t n = folded_list(fp, pairs, fp->geo.max_slots), freed = 0;
    for (uint32_t k = 0; k < n; k++) {
        uint32_t i = pairs[2 * k], gen = pairs[2 * k + 1];
        if (i < fp->geo.max_slots && atomic_load(&fp_slot_at(fp, i)->state) == FP_SLOT_LIVE &&
            atomic_load(&fp_slot_at(fp, i)->gen) == gen) {
            if (!freed)
                fp_announce_reclaim(fp);
            fp_slot_release(fp, i);
            freed++;
        }
    }
    fp_free(pairs);
    return freed;
}

/* The new retained chain: which slots it includes, then the merged values. */
static int write_retired(struct writer *w, const uint32_t *dead, uint32_t ndead, struct merge_map *map,
                         fastprom_error_t *err)
{
    /* One FOLDED entry per block-full of pairs. */
    uint32_t per = (FP_BLOCK_SIZE - sizeof(struct fp_block) - sizeof(struct fp_entry)) / 8;
    for (uint32_t k = 0; k < ndead; k += per) {
        uint32_t n = ndead - k < per ? ndead - k : per;
        uint32_t size = (uint32_t)sizeof(struct fp_entry) + 8 * n;
        unsigned char *p = writer_reserve(w, size);
        if (!p)
            goto full;
        struct fp_entry *e = (struct fp_entry *)p;
        e->series = FP_ENTRY_FOLDED;
        e->size = size;
        uint32_t *pairs = (uint32_t *)(e + 1);
        for (uint32_t j = 0; j < n; j++) {
            pairs[2 * j] = dead[k + j];
            pairs[2 * j + 1] = atomic_load(&fp_slot_at(w->fp, dead[k + j])->gen);
        }
    }
    for (uint32_t i = 0; i < map->cap; i++) {
        struct merged *m = &map->items[i];
        if (!m->size)
            continue;
        uint32_t size = fp_retained_size(m->type, m->nbounds, m->size);
        unsigned char *p = writer_reserve(w, size);
        if (!p)
            goto full;
        struct fp_entry *e = (struct fp_entry *)p;
        e->series = m->series;
        e->size = size;
        unsigned char *cells = memcpy(e + 1, m->cells, m->size - sizeof *e);
        if (m->sum_cell) {
            fp_xsum_bound(&m->sum);
            memcpy(cells + 8 * m->sum_cell, &m->sum.wide, sizeof m->sum.wide);
            memcpy(cells + m->size - sizeof *e, m->sum.w, sizeof m->sum.w);
        }
    }
    return 0;
full:
    fp_chain_free(w->fp, w->head);
    return fp_fail(err, FASTPROM_EFULL,
                   "segment %s is full: cannot fold %u dead writers' values (nothing lost; they stay until there "
                   "is room)",
                   w->fp->path, ndead);
}

int fp_collect_dead_locked(fastprom_t *fp, fastprom_error_t *err)
{
    struct fp_header *h = fp->hdr;
    uint32_t finished = fp_fold_finish_published(fp);
    uint32_t *dead = fp_malloc(sizeof(uint32_t) * fp->geo.max_slots);
    if (!dead)
        return fp_fail(err, FASTPROM_ENOMEM, "out of memory folding dead writers");
    struct merge_map map = {0};
    uint32_t ndead = 0;
    for (uint32_t i = 0; i < fp->geo.max_slots; i++)
        if (atomic_load(&fp_slot_at(fp, i)->state) == FP_SLOT_LIVE && !fp_slot_alive(fp, i))
            dead[ndead++] = i;
    int rc = 0;
    if (ndead == 0) {
        if (finished)
            atomic_fetch_add_explicit(&h->reclaim_gen, 1, memory_order_release);
        goto out;
    }
    uint32_t old = atomic_load(&h->retired_head);
    rc = merge_chain(fp, &map, old, 1, err);
    for (uint32_t k = 0; rc == 0 && k < ndead; k++)
        rc = merge_chain(fp, &map, atomic_load(&fp_slot_at(fp, dead[k])->head), 0, err);
    if (rc)
        goto out;
    fp_test_point(FP_POINT_FOLD_MERGED);
    struct writer w = {fp, 0, 0};
    if ((rc = write_retired(&w, dead, ndead, &map, err)))
        goto out;
    fp_test_point(FP_POINT_FOLD_WRITTEN);
    atomic_store_explicit(&h->retired_head, w.head, memory_order_release);
    fp_test_point(FP_POINT_FOLD_PUBLISHED);
    fp_announce_reclaim(fp);
    for (uint32_t k = 0; k < ndead; k++)
        fp_slot_release(fp, dead[k]);
    fp_chain_free(fp, old);
    fp_test_point(FP_POINT_FOLD_RELEASED);
    atomic_fetch_add(&h->folded_slots, ndead);
    atomic_fetch_add_explicit(&h->reclaim_gen, 1, memory_order_release);
    rc = (int)ndead;
out:
    map_free(&map);
    fp_free(dead);
    return rc;
}
