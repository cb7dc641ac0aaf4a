/*
 * merge.h - one reader pass over a segment (struct pass), shared by the two
 * halves of the reader: merge.c folds every writer's cells into per-series
 * sums, snapshot.c turns those sums and the registry into a snapshot.
 */
#ifndef FASTPROM_MERGE_H
#define FASTPROM_MERGE_H

#include "handle.h"
#include "sketch.h"
#include "xsum.h"

#define FAM_MEMO 64 /* families whose validated record a pass remembers */

struct gauge_part {
    uint32_t pid;
    int live;
    double value, ts;
    struct gauge_part *next;
};

/* Merged values of one series id, in reader memory: 24 bytes per id in one
 * flat array (most series are counters), the rest of other types behind
 * `more`. */
struct acc_more {
    uint64_t *counts; /* histogram buckets */
    struct fp_sketch_merged *sketch;
    struct fp_exemplar *ex; /* newest exemplar per slot of the series */
    struct gauge_part *gauges;
};

struct acc {
    uint64_t u0; /* counter integral part, summary count */
    /* Every sum cell (counter fractional part, histogram or summary sum),
     * added exactly; NULL while they are all 0 (most counters). */
    struct fp_xsum *sum;
    struct acc_more *more; /* NULL: not seen; counters without exemplars share none_more */
};

struct pass {
    fastprom_t *fp;
    struct fp_snapshot *snap;
    struct fp_arena *arena;
    uint32_t nids;
    struct acc *accs; /* by series id: one flat array, no pointer chase */
    uint32_t *folded; /* pairs (slot, gen) */
    uint32_t nfolded;
    int stat_only;
    uint64_t activity;
    struct fam_memo {
        uint32_t off;
        const struct fp_family *fam;
    } memo[FAM_MEMO];
    fastprom_error_t *err;
    int rc;
};

int fp_pass_corrupt(struct pass *p, const char *what);
int fp_pass_nomem(struct pass *p);
uint64_t fp_mix(uint64_t h, uint64_t v);
/* A family record as the reader checks it: every field in range, or NULL. */
const struct fp_family *fp_family_rec(const fastprom_t *fp, uint32_t off);
/* Reads the retained totals, every writer slot and, once any writer fell
 * back, the shared cells into p->accs; counts live and dead slots and the
 * shared cells' updates into st. */
int fp_merge_values(struct pass *p, fastprom_stat_t *st);

#endif
