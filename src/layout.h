/*
 * layout.h - the on-disk (in-/dev/shm) layout of a fastprom segment.
 *
 * Everything every process shares is defined here, and only here: the header,
 * the writer slot table, the family and series records, value blocks and
 * their entries. All references inside the segment are 32-bit byte offsets
 * from its start (0 = none), so the segment can be mapped at any address.
 *
 *   [header 4 KiB][slots][family hash][series hash][series ids][arena ...]
 *   arena: metadata (families, series, strings) grows up from arena_off;
 *          16 KiB value blocks are carved down from arena_end.
 *
 * Publication rule: a record is written completely and then made reachable
 * with one release store; readers load references with acquire and validate
 * every offset, because a reader never trusts the segment.
 *
 * Bump FP_LAYOUT_VERSION whenever anything here changes meaning or size.
 */
#ifndef FASTPROM_LAYOUT_H
#define FASTPROM_LAYOUT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "fastprom.h"

#define FP_MAGIC 0x4d4f525054534146ull /* "FASTPROM" in little-endian bytes */
#define FP_LAYOUT_VERSION 4u           /* 4: retained entries carry exact sums */
#define FP_HEADER_REGION 4096u
#define FP_BLOCK_SIZE 16384u
#define FP_FAMILY_HASH 8192u /* slots; at most half are used */
#define FP_MAX_FAMILIES (FP_FAMILY_HASH / 2)
#define FP_BYTES_PER_SERIES 256u /* series capacity = size / this */
#define FP_MAX_SLOTS 4096u
/* OFD lock of slot i: one byte at FP_LOCK_BASE + i, far past the data. */
#define FP_LOCK_BASE ((int64_t)1 << 40)

/* ---- header ---------------------------------------------------------- */

struct fp_header {
    /* Immutable after creation; validated on every attach. */
    uint64_t magic;
    uint32_t layout_version;
    uint32_t header_size; /* sizeof(struct fp_header) */
    uint64_t size;
    uint64_t created_ns; /* CLOCK_REALTIME */
    uint32_t block_size;
    uint32_t max_slots;
    uint32_t family_hash_cap;
    uint32_t series_cap; /* series ids 1 .. series_cap-1 */
    uint32_t series_hash_cap;
    uint32_t family_limit;
    uint32_t slots_off;
    uint32_t family_hash_off;
    uint32_t series_hash_off;
    uint32_t series_ids_off;
    uint32_t arena_off;
    uint32_t arena_end;

    /* Structural changes hold this robust, process-shared mutex. */
    _Alignas(64) pthread_mutex_t lock;

    /* Mutable state. Written under the lock; read by anyone with acquire. */
    _Alignas(64) _Atomic uint32_t meta_top; /* next free metadata byte */
    _Atomic uint32_t block_floor;           /* lowest carved block */
    _Atomic uint32_t free_head;             /* free block list */
    _Atomic uint32_t free_count;
    _Atomic uint32_t nfamilies;
    _Atomic uint32_t next_series_id; /* starts at 1 */
    _Atomic uint32_t retired_head;   /* retained totals of dead writers */
    _Atomic uint32_t pad0;
    /* Changes (under the lock) whenever blocks are freed or slots folded: a
     * reader that sees it change during a snapshot retries. */
    _Atomic uint64_t reclaim_gen;
    _Atomic uint64_t folded_slots;
    _Atomic uint64_t repairs;
    /* Bumped without the lock by whoever is refused. */
    _Alignas(64) _Atomic uint64_t dropped_series;
    _Atomic uint64_t dropped_updates;
    /* 0 until the first update recorded in shared fallback cells (below),
     * then 1 for good: readers skip those cells while it is 0. Stored once,
     * loaded by every fallback update (update.c), so it has a line of its
     * own that stays shared in every cache. The number of such updates is
     * kept per series, in the cells themselves. */
    _Alignas(64) _Atomic uint32_t fallback_used;
};

/* ---- writer slots ----------------------------------------------------- */

enum { FP_SLOT_FREE = 0, FP_SLOT_LIVE = 1 };
#define FP_SLOT_PRIMARY 0x1u /* the process's first slot: holds its gauges */

/* One per writing thread. Liveness is the OFD lock on the slot's byte, held
 * through the owning process's descriptor: the kernel drops it however the
 * process dies, in any PID namespace, so PIDs are only labels here. */
struct fp_slot {
    _Atomic uint32_t state;
    _Atomic uint32_t gen; /* bumped by every claim */
    _Atomic uint32_t pid;
    _Atomic uint32_t flags;
    _Atomic uint32_t head;       /* first value block */
    _Atomic uint32_t primary;    /* the process's primary slot */
    _Atomic uint64_t proc_start; /* /proc/self/stat starttime: pid + this = a process */
    _Atomic uint64_t claimed_ns;
    uint8_t pad[24];
};
_Static_assert(sizeof(struct fp_slot) == 64, "a slot is one cache line");

/* ---- metadata records (arena, 8-byte aligned) ------------------------- */

struct fp_strref {
    uint32_t off;
    uint32_t len;
};

struct fp_family {
    _Atomic uint32_t series_head; /* newest series first */
    _Atomic uint32_t nseries;     /* live series */
    _Atomic uint64_t dropped;     /* series refused by max_series */
    uint32_t type;
    uint32_t gauge_mode;
    uint32_t flags;
    uint32_t hash;
    struct fp_strref name; /* counters: without _total; unit included */
    struct fp_strref help;
    struct fp_strref unit;
    uint32_t nlabels;
    uint32_t labels_off; /* struct fp_strref[nlabels] */
    uint32_t nbounds;
    uint32_t bounds_off; /* double[nbounds]: histogram bounds or quantiles */
    uint32_t nstates;
    uint32_t states_off; /* struct fp_strref[nstates] */
    uint32_t entry_size; /* bytes of one value entry; 0: no per-writer values */
    uint32_t max_series;
    double created; /* Unix seconds */
};

enum { FP_SERIES_LIVE = 1, FP_SERIES_REMOVED = 2 };

struct fp_series {
    _Atomic uint32_t state;
    _Atomic uint32_t next; /* next series of the family */
    uint32_t family;       /* offset of its struct fp_family */
    uint32_t id;
    uint32_t hash;
    uint32_t labels_len; /* bytes of the encoded values that follow */
    /* STATESET: state index + 1 (0: never set). INFO: offset of an fp_info. */
    _Atomic uint32_t aux;
    uint32_t pad;
    double created;
    /* Label values, each as a little-endian u16 length then its bytes. */
    unsigned char labels[];
    /* Then, at fp_shared_off(), the series' shared fallback cells. */
};

/*
 * Shared fallback cells. Every counter, histogram and summary series record
 * is followed by one set of cells that any writer may update with atomic
 * read-modify-writes. A writer that cannot get cells of its own (the
 * segment is full by bytes, or every writer slot is taken: a recycled worker
 * starting in a full segment) records there, so no update of an existing
 * series is dropped. They are allocated with the record, never folded,
 * moved or freed, and readers add them to the series' value.
 *   COUNTER    u64 integral part, f64 fractional part, u64 updates
 *   HISTOGRAM  u64 count[nbounds+1] (NOT cumulative), f64 sum
 *   SUMMARY    u64 count, f64 sum (quantile sketches stay per writer)
 * The updates recorded here (fastprom_stat_t.fallback_updates) are the sum
 * over series of a counter's third cell and the observation counts: an
 * update writes only its own series' cells, never a segment-wide count.
 * Exemplars are not kept for updates made here.
 */
static inline uint32_t fp_shared_size(uint32_t type, uint32_t nbounds)
{
    switch (type) {
    case FASTPROM_COUNTER: return 24;
    case FASTPROM_SUMMARY: return 16;
    case FASTPROM_HISTOGRAM: return 8 * (nbounds + 2);
    default: return 0; /* gauges are per process; info and stateset have no cells */
    }
}

/* INFO pairs, immutable once published: u16 len + bytes, key then value. */
struct fp_info {
    uint32_t npairs;
    uint32_t len;
    unsigned char data[];
};

/* ---- value blocks ----------------------------------------------------- */

/* A chain of blocks per slot (and one for the retained totals). Only the
 * owner appends entries; `used` is published with release after the entry
 * is complete. */
struct fp_block {
    _Atomic uint32_t next;
    _Atomic uint32_t used; /* bytes, header included */
    uint32_t owner;        /* slot index, FP_OWNER_RETIRED or FP_OWNER_FREE */
    uint32_t owner_gen;
};
#define FP_OWNER_RETIRED 0xFFFFFFFEu
#define FP_OWNER_FREE 0xFFFFFFFFu

struct fp_entry {
    uint32_t series; /* series id, or FP_ENTRY_FOLDED */
    uint32_t size;   /* bytes, header included, multiple of 8 */
};
/* In the retired chain: the (slot, gen) pairs whose values this version of
 * the chain already includes, so readers skip those slots until they are
 * freed. Payload: uint32_t pairs[2 * n]. */
#define FP_ENTRY_FOLDED 0xFFFFFFFFu

/*
 * Cells after an entry header, by type (all 8-byte cells):
 *  COUNTER    u64 integral part, f64 fractional part [+ exemplar]
 *  GAUGE      f64 value, f64 write time (mostrecent modes), u64 pid
 *  HISTOGRAM  u64 count[nbounds+1] (NOT cumulative), f64 sum [+ exemplar[nbounds+1]]
 *  SUMMARY    u64 count, f64 sum [+ f64 min, f64 max, u64 below-range, u32 sketch[]]
 */
#define FP_COUNTER_CELLS 2u
#define FP_GAUGE_CELLS 3u

/* The f64 cell that sums fractional increments or observations: counter
 * fractional part, histogram or summary sum (0: the type has none). */
static inline uint32_t fp_sum_cell(uint32_t type, uint32_t nbounds)
{
    switch (type) {
    case FASTPROM_COUNTER:
    case FASTPROM_SUMMARY: return 1;
    case FASTPROM_HISTOGRAM: return nbounds + 1;
    default: return 0;
    }
}

/*
 * Retained entries (the chain at retired_head) of types with a sum cell are
 * the cells above followed by the exact sum of every folded writer's sum
 * cell: a 256-bit two's-complement fixed-point number in units of 2^-128,
 * four u64 words, least significant first (xsum.h). Their f64 sum cell holds
 * only what the fixed point cannot (|x| >= 2^100, inf, NaN); normally 0.
 * Readers add those words and round once, so folding a writer never changes
 * a value.
 */
#define FP_RETAINED_SUM_BYTES 32u

static inline uint32_t fp_retained_size(uint32_t type, uint32_t nbounds, uint32_t entry_size)
{
    return entry_size + (fp_sum_cell(type, nbounds) ? FP_RETAINED_SUM_BYTES : 0);
}

/* An exemplar, written by the slot's one writer under a sequence count:
 * odd while being written, readers retry or skip. */
struct fp_exemplar {
    _Atomic uint32_t seq;
    uint32_t len; /* bytes of data: u8 name len, name, u8 value len, value, ... */
    double value;
    double timestamp;
    unsigned char data[168];
};
_Static_assert(sizeof(struct fp_exemplar) == 192, "exemplar record size is part of the layout");

static inline uint32_t fp_align8(uint32_t n)
{
    return (n + 7u) & ~7u;
}

/* Where the shared fallback cells of the series record at rec sit. */
static inline uint64_t fp_shared_off(uint32_t rec, uint32_t labels_len)
{
    return (uint64_t)rec + (((uint64_t)sizeof(struct fp_series) + labels_len + 7u) & ~(uint64_t)7u);
}

#endif
