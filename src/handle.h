/*
 * handle.h - the process-local objects behind the public handles:
 * fastprom_t, fastprom_family_t and fastprom_series_t. Data only; the
 * modules that work on them declare their functions in their own headers.
 *
 * Ownership: a fastprom_t owns its families, series handles and lanes; all
 * are freed by fastprom_close (open.c).
 */
#ifndef FASTPROM_HANDLE_H
#define FASTPROM_HANDLE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/types.h>

#include "fastprom.h"
#include "geometry.h"
#include "layout.h"

#define FP_ORDER_CACHE 64 /* families whose series order a handle remembers */

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
    /* This series' shared fallback cells (layout.h), NULL for types without:
     * where updates go when this thread cannot have cells of its own. */
    unsigned char *shared;
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
    struct fp_geometry geo; /* validated once, at attach */
    uint64_t serial;
    unsigned attach;
    uint64_t fork_epoch;     /* process state below belongs to this epoch */
    uint64_t fd_epoch;       /* fd is this process's own description since then */
    pthread_mutex_t mu;      /* lanes, families, series maps, entry appends */
    int32_t primary;         /* this process's primary slot, -1 none */
    _Atomic uint64_t noslot; /* as struct lane's full (writer.h), for "no writer slot free" */
    struct lane *lanes;      /* writer.h */
    struct lane *free_lanes;
    struct fastprom_family *families;
    fastprom_series_t **series_pool;        /* every handle, for close */
    _Atomic(struct fp_arena *) spare_arena; /* memory of the last snapshot */
    pthread_mutex_t order_mu;               /* orders and their references */
    struct fp_order **orders;               /* FP_ORDER_CACHE entries, order.c */
    size_t nseries_pool, series_pool_cap;
};

#endif
