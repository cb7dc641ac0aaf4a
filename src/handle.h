/*
 * handle.h - the process-local objects behind the public handles
 * (fastprom_t, fastprom_family_t, fastprom_series_t), the per-thread lane
 * cache the hot path reads, and the internal entry points the modules share.
 *
 * Ownership: a fastprom_t owns its families, series handles and lanes; all
 * are freed by fastprom_close. A lane is a writer slot in the segment plus
 * this process's map from series id to that slot's cells; one thread uses a
 * lane at a time, which is what lets the hot path use plain stores.
 */
#ifndef FASTPROM_HANDLE_H
#define FASTPROM_HANDLE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/types.h>

#include "fastprom.h"
#include "layout.h"

#define FP_MAX_ATTACH 64
#define FP_ORDER_CACHE 64 /* families whose series order a handle remembers */ /* fastprom_t handles open at once in one process */

struct lane {
    fastprom_t *fp;
    uint32_t slot;
    uint32_t cap;  /* entries in cells */
    void **cells;  /* series id -> this slot's cells, NULL until first touch */
    uint32_t tail; /* last block of the slot's chain */
    struct lane *next_free;
    struct lane *next_all;
};

/* Hot fields first: the update functions read serial, id, attach, type,
 * and the bounds of histograms. */
struct fastprom_series {
    uint64_t serial; /* of the fastprom_t it belongs to */
    uint32_t id;
    uint8_t attach;
    uint8_t type;
    uint8_t gauge_timed; /* mostrecent modes: stamp each gauge write */
    uint8_t exemplars;
    uint32_t nbounds;
    uint32_t entry_size;
    const double *bounds;
    /* GAUGE: the value cell in this process's primary slot, valid while
     * gauge_epoch equals the process's fork epoch. */
    _Atomic(double *) gauge;
    _Atomic uint64_t gauge_epoch;
    fastprom_family_t *family;
    uint32_t rec; /* offset of the struct fp_series */
    uint32_t hash;
    uint32_t labels_len;
    unsigned char *labels; /* encoded, as in the segment */
};

struct series_map {
    uint32_t cap; /* power of two */
    uint32_t count;
    struct series_map *older; /* replaced tables, freed at close */
    _Atomic(fastprom_series_t *) items[];
};

struct fastprom_family {
    fastprom_t *fp;
    uint32_t rec; /* offset of the struct fp_family */
    fastprom_type_t type;
    fastprom_gauge_mode_t gauge_mode;
    unsigned flags;
    uint32_t nlabels;
    uint32_t nbounds;
    uint32_t nstates;
    uint32_t entry_size;
    double *bounds;
    char *name;
    struct fp_strref *label_names; /* offsets into the segment */
    /* This process's series handles by label values: lock-free lookups,
     * inserts under fp->mu; replaced tables are kept (map->older) until
     * close because a lookup may still be probing them. */
    _Atomic(struct series_map *) map;
    struct fastprom_family *next;
};

/* The segment's immutable geometry, copied out of the header when it was
 * validated: code never re-reads these from shared memory, where another
 * process could change them after the check. */
struct fp_geometry {
    uint32_t max_slots, series_cap, series_hash_cap, family_limit;
    uint32_t slots_off, family_hash_off, series_hash_off, series_ids_off, arena_off, arena_end;
};

struct fastprom {
    char *path;
    unsigned flags;
    int readonly;
    int fd;       /* the mapped description */
    int lock_fd;  /* writers: holds this process's slot locks, never mapped */
    int probe_fd; /* tests liveness: sees this process's own locks too */
    dev_t dev;
    ino_t ino;
    unsigned char *base;
    size_t size;
    struct fp_header *hdr;
    struct fp_geometry geo;
    uint64_t serial;
    unsigned attach;
    uint64_t fork_epoch; /* process state below belongs to this epoch */
    uint64_t fd_epoch;   /* fd is this process's own description since then */
    pthread_mutex_t mu;  /* lanes, families, series maps, entry appends */
    int32_t primary;     /* this process's primary slot, -1 none */
    struct lane *lanes;
    struct lane *free_lanes;
    struct fastprom_family *families;
    fastprom_series_t **series_pool; /* every handle, for close */
    _Atomic(struct fp_arena *) spare_arena; /* memory of the last snapshot */
    pthread_mutex_t order_mu;               /* orders and their references */
    struct fp_order **orders;               /* FP_ORDER_CACHE entries, order.c */
    size_t nseries_pool, series_pool_cap;
};

/* Modes that forget a process's gauge value when it dies. */
static inline int fp_gauge_mode_is_live(uint32_t mode)
{
    return mode == FASTPROM_GAUGE_LIVESUM || mode == FASTPROM_GAUGE_LIVEALL || mode == FASTPROM_GAUGE_LIVEMAX ||
           mode == FASTPROM_GAUGE_LIVEMIN || mode == FASTPROM_GAUGE_LIVEMOSTRECENT;
}

/* ---- test points ---- */
/* Tests set fp_test_hook to kill a process at an exact step of a structural
 * change (and prove the segment survives it). NULL in production: one load
 * and a branch, on slow paths only. */
enum {
    FP_POINT_LOCKED = 1,          /* segment lock just taken */
    FP_POINT_SERIES_ID,           /* series id published, not yet listed */
    FP_POINT_SERIES_LISTED,       /* listed in its family, not yet hashed */
    FP_POINT_FOLD_MERGED,         /* fold: merged in process memory */
    FP_POINT_FOLD_WRITTEN,        /* fold: new chain written, unpublished */
    FP_POINT_FOLD_PUBLISHED,      /* fold: published, dead slots not freed */
    FP_POINT_FOLD_RELEASED,       /* fold: slots and old chain freed */
    FP_POINT_READ_RETIRED,        /* reader: retained totals read, slots not yet */
};
extern void (*fp_test_hook)(int point);
static inline void fp_test_point(int point)
{
    if (__builtin_expect(fp_test_hook != NULL, 0))
        fp_test_hook(point);
}

/* ---- segment.c ---- */
/* Bounds-checked pointer to n bytes at off, or NULL. */
static inline void *fp_at(const fastprom_t *fp, uint64_t off, uint64_t n)
{
    if (off == 0 || off > fp->size || n > fp->size - off)
        return NULL;
    return fp->base + off;
}
/* Like fp_at for a record or an array of numbers: also 8-byte aligned, as
 * the metadata allocator places them (a misaligned one is corrupt). */
static inline void *fp_rec(const fastprom_t *fp, uint64_t off, uint64_t n)
{
    return off % 8 ? NULL : fp_at(fp, off, n);
}
int fp_lock(fastprom_t *fp, fastprom_error_t *err);
void fp_unlock(fastprom_t *fp);
uint32_t fp_meta_alloc(fastprom_t *fp, size_t n);   /* under lock; 0 when full */
uint32_t fp_block_alloc(fastprom_t *fp, uint32_t owner, uint32_t gen); /* under lock */
void fp_block_free(fastprom_t *fp, uint32_t off);   /* under lock */
int fp_block_valid(const fastprom_t *fp, uint32_t off);
int fp_header_validate(const struct fp_header *h, uint64_t file_size, fastprom_error_t *err);

/* ---- writer.c ---- */
extern _Atomic uint64_t fp_fork_epoch;
struct fp_tls_ent {
    uint64_t serial;
    void **cells;
    uint32_t cap;
    struct lane *lane;
};
struct fp_thread {
    struct fp_tls_ent ent[FP_MAX_ATTACH];
};
extern __thread struct fp_thread *fp_tls __attribute__((tls_model("initial-exec")));

int fp_writer_attach(fastprom_t *fp, fastprom_error_t *err);
void fp_writer_detach(fastprom_t *fp);
/* The calling thread's cells for s (slow path: claims slot/entry). */
void *fp_cells_slow(fastprom_series_t *s, int *rc);
/* This process's gauge cell for s (slow path). */
double *fp_gauge_slow(fastprom_series_t *s, int *rc);
int fp_slot_alive(const fastprom_t *fp, uint32_t slot); /* OFD lock test */

/* ---- registry.c ---- */
const struct fp_series *fp_series_rec(const fastprom_t *fp, uint32_t id);
uint32_t fp_entry_size(fastprom_type_t type, uint32_t nbounds, unsigned flags);

void fp_families_free(fastprom_t *fp);

/* ---- series.c ---- */
void fp_series_free_all(fastprom_t *fp);

/* ---- fold.c ---- */
int fp_collect_dead_locked(fastprom_t *fp, fastprom_error_t *err);
void fp_repair_locked(fastprom_t *fp);

#endif
