/*
 * lock.c - the segment lock and repair after a writer died holding it.
 *
 * The lock is a robust process-shared mutex in the header. When its holder
 * dies, the next locker gets EOWNERDEAD and repairs before anyone else can
 * see the lock free: the registry hash is rebuilt from the family lists
 * (a half-published series becomes findable), a fold that published but did
 * not finish is finished, and blocks nothing reaches are swept back to the
 * free list. Repair needs folding (fold.c) and folding needs the lock to be
 * held, so this file sits above fold.c.
 */
#include <errno.h>
#include <stdlib.h>

#include "alloc.h"
#include "error.h"
#include "fold.h"
#include "lock.h"
#include "mem.h"
#include "records.h"
#include "slots.h"
#include "testpoint.h"

/* ---- repair after EOWNERDEAD ---------------------------------------------------- */

static void mark_chain(const fastprom_t *fp, uint32_t head, unsigned char *reach)
{
    uint32_t left = fp_max_blocks(fp);
    while (head && left-- && fp_block_valid(fp, head)) {
        uint32_t k = (fp->geo.arena_end - head) / FP_BLOCK_SIZE - 1;
        if (reach[k])
            return; /* shared or cyclic: already seen */
        reach[k] = 1;
        head = atomic_load(&((const struct fp_block *)(fp->base + head))->next);
    }
}

/* Makes sure the series at `off` can be found through the hash. */
static void rehash_series(fastprom_t *fp, uint32_t off, const struct fp_series *s)
{
    _Atomic uint32_t *tab = fp_series_table(fp);
    uint32_t cap = fp->geo.series_hash_cap;
    for (uint32_t i = 0; i < cap; i++) {
        uint32_t pos = (s->hash + i) & (cap - 1);
        uint32_t cur = atomic_load(&tab[pos]);
        if (cur == off)
            return;
        if (!cur) {
            atomic_store_explicit(&tab[pos], off, memory_order_release);
            return;
        }
    }
}

static void repair_registry(fastprom_t *fp)
{
    struct fp_header *h = fp->hdr;
    _Atomic uint32_t *fams = fp_family_table(fp);
    uint32_t nfam = 0, maxid = 0;
    for (uint32_t i = 0; i < FP_FAMILY_HASH; i++) {
        uint32_t off = atomic_load(&fams[i]);
        struct fp_family *f = fp_rec(fp, off, sizeof *f);
        if (!f)
            continue;
        nfam++;
        uint32_t live = 0, soff = atomic_load(&f->series_head);
        for (uint32_t n = 0; soff && n < fp->geo.series_cap; n++) {
            const struct fp_series *s = fp_rec(fp, soff, sizeof *s);
            if (!s)
                break;
            rehash_series(fp, soff, s);
            if (atomic_load(&s->state) == FP_SERIES_LIVE)
                live++;
            if (s->id > maxid)
                maxid = s->id;
            soff = atomic_load(&s->next);
        }
        atomic_store(&f->nseries, live);
    }
    atomic_store(&h->nfamilies, nfam);
    if (atomic_load(&h->next_series_id) <= maxid)
        atomic_store(&h->next_series_id, maxid + 1);
}

static void repair_blocks(fastprom_t *fp)
{
    struct fp_header *h = fp->hdr;
    uint32_t floor = atomic_load(&h->block_floor);
    if (floor < fp->geo.arena_off || floor > fp->geo.arena_end || (fp->geo.arena_end - floor) % FP_BLOCK_SIZE)
        return; /* nothing trustworthy to sweep */
    uint32_t nblocks = (fp->geo.arena_end - floor) / FP_BLOCK_SIZE;
    unsigned char *reach = fp_calloc(nblocks ? nblocks : 1, 1);
    if (!reach)
        return;
    mark_chain(fp, atomic_load(&h->retired_head), reach);
    for (uint32_t i = 0; i < fp->geo.max_slots; i++) {
        struct fp_slot *s = fp_slot_at(fp, i);
        if (atomic_load(&s->state) == FP_SLOT_LIVE)
            mark_chain(fp, atomic_load(&s->head), reach);
        else
            atomic_store(&s->head, 0);
    }
    atomic_store(&h->free_head, 0);
    atomic_store(&h->free_count, 0);
    for (uint32_t k = 0; k < nblocks; k++)
        if (!reach[k])
            fp_block_free(fp, fp->geo.arena_end - (k + 1) * FP_BLOCK_SIZE);
    fp_free(reach);
}

static void repair_locked(fastprom_t *fp)
{
    repair_registry(fp);
    fp_announce_reclaim(fp);
    fp_fold_finish_published(fp);
    repair_blocks(fp);
    atomic_fetch_add(&fp->hdr->repairs, 1);
    atomic_fetch_add_explicit(&fp->hdr->reclaim_gen, 1, memory_order_release);
}

/* ---- the lock ---------------------------------------------------------------- */

int fp_lock(fastprom_t *fp, fastprom_error_t *err)
{
    int rc = pthread_mutex_lock(&fp->hdr->lock);
    if (rc == EOWNERDEAD) {
        /* A writer died inside a structural change: make the segment
         * consistent again before anyone else sees the lock free. */
        repair_locked(fp);
        pthread_mutex_consistent(&fp->hdr->lock);
        fp_test_point(FP_POINT_LOCKED);
        return 0;
    }
    if (rc == ENOTRECOVERABLE)
        return fp_fail(err, FASTPROM_ECORRUPT,
                       "the lock of segment %s is unrecoverable; stop its writers and delete it", fp->path);
    if (rc) {
        errno = rc;
        return fp_fail_errno(err, "cannot take the lock of segment %s", fp->path);
    }
    fp_test_point(FP_POINT_LOCKED);
    return 0;
}

void fp_unlock(fastprom_t *fp)
{
    pthread_mutex_unlock(&fp->hdr->lock);
}

/* ---- folding under the lock --------------------------------------------------- */

int fp_collect_dead(fastprom_t *fp, fastprom_error_t *err)
{
    int rc = fp_lock(fp, err);
    if (rc)
        return rc;
    rc = fp_collect_dead_locked(fp, err);
    fp_unlock(fp);
    return rc;
}

int fastprom_collect_dead(fastprom_t *fp, fastprom_error_t *err)
{
    fp_ok(err);
    if (!fp)
        return fp_fail(err, FASTPROM_EINVAL, "fastprom_collect_dead: the segment handle is NULL");
    if (fp->readonly)
        return fp_fail(err, FASTPROM_ERDONLY, "segment %s is open read-only; folding needs a writable handle",
                       fp->path);
    return fp_collect_dead(fp, err);
}
