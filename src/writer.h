/*
 * writer.h - who writes where: a handle's lanes (one writer slot each),
 * the per-thread table the hot path reads, fork handling, and the slow
 * paths that give a thread its cells for a series (writer.c).
 *
 * A lane is a writer slot in the segment plus this process's map from
 * series id to that slot's cells; one thread uses a lane at a time, which
 * is what lets the hot path use plain stores.
 */
#ifndef FASTPROM_WRITER_H
#define FASTPROM_WRITER_H

#include <stdatomic.h>
#include <stdint.h>

#include "handle.h"

#define FP_MAX_ATTACH 64 /* fastprom_t handles open at once in one process */

struct lane {
    fastprom_t *fp;
    uint32_t slot;
    uint32_t cap;  /* entries in cells */
    void **cells;  /* series id -> this slot's cells, NULL until first touch */
    uint32_t tail; /* last block of the slot's chain */
    /* Set when an entry of some size found no room and no block could be
     * had (writer.c: full_mark). Until reclaim_gen changes nothing was
     * freed, so entries at least that big go to shared cells at once. */
    _Atomic uint64_t full;
    struct lane *next_free;
    struct lane *next_all;
};

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

/* Registers a writable handle for fork and thread-exit handling, and
 * reclaims the slots of writers that died before it. */
int fp_writer_attach(fastprom_t *fp, fastprom_error_t *err);
/* Unregisters it, releases its slots and frees its lanes. */
void fp_writer_detach(fastprom_t *fp);
/* The calling thread's cells for s (slow path: claims slot/entry). NULL
 * with *rc FP_USE_SHARED: this thread cannot have cells of its own now, the
 * update goes to s->shared (atomically). */
#define FP_USE_SHARED 1
void *fp_cells_slow(fastprom_series_t *s, int *rc);
/* This process's gauge cell for s (slow path). */
double *fp_gauge_slow(fastprom_series_t *s, int *rc);

#endif
