/*
 * update.c - the hot path: inc, dec, set, observe, exemplars.
 *
 * Counters, histograms and summaries write the calling thread's own cells
 * (found through a thread-local table indexed by series id) with relaxed
 * loads and stores: one writer per cell, so no lock prefix, no syscall, no
 * allocation. Gauges are one value per process, shared by its threads, so
 * they use an atomic store (set) or compare-and-swap (add).
 *
 * Counters keep integral increments in an integer cell: an integer add has a
 * shorter dependency chain than a floating-point one and stays exact up to
 * 2^64; fractional increments go to a second, floating-point cell.
 *
 * A thread that cannot have cells of its own (the segment is full) updates
 * the series' shared fallback cells with atomic read-modify-writes instead:
 * slower, contended, but exact, so a full segment loses no count of an
 * existing series.
 */
#include <math.h>
#include <string.h>

#include "wallclock.h"
#include "error.h"
#include "handle.h"
#include "writer.h"
#include "names.h"
#include "sketch.h"

#define LIKELY(x) __builtin_expect(!!(x), 1)
#define UNLIKELY(x) __builtin_expect(!!(x), 0)

typedef _Atomic uint64_t acell_u64;
typedef _Atomic double acell_f64;

/* The thread's cells for s when they are already resolved, else NULL. */
static inline void *cached_cells(const fastprom_series_t *s)
{
    struct fp_thread *t = fp_tls;
    if (LIKELY(t != NULL)) {
        const struct fp_tls_ent *e = &t->ent[s->attach];
        if (LIKELY(e->serial == s->serial && s->id < e->cap))
            return e->cells[s->id];
    }
    return NULL;
}

static inline void *own_cells(fastprom_series_t *s, int *rc)
{
    void *c = cached_cells(s);
    return LIKELY(c != NULL) ? c : fp_cells_slow(s, rc);
}

/* Single writer: a relaxed load and store, never torn on 64-bit targets. */
static inline void add_u64(acell_u64 *c, uint64_t v)
{
    atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + v, memory_order_relaxed);
}

static inline void add_f64(acell_f64 *c, double v)
{
    atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + v, memory_order_relaxed);
}

static inline double *gauge_cell(fastprom_series_t *s, int *rc)
{
    double *c = atomic_load_explicit(&s->gauge, memory_order_acquire);
    if (LIKELY(c && atomic_load_explicit(&s->gauge_epoch, memory_order_relaxed) ==
                        atomic_load_explicit(&fp_fork_epoch, memory_order_relaxed)))
        return c;
    return fp_gauge_slow(s, rc);
}

static int gauge_add(fastprom_series_t *s, double v)
{
    int rc = 0;
    acell_f64 *c = (acell_f64 *)gauge_cell(s, &rc);
    if (UNLIKELY(!c))
        return rc;
    double old = atomic_load_explicit(c, memory_order_relaxed);
    while (!atomic_compare_exchange_weak_explicit(c, &old, old + v, memory_order_relaxed, memory_order_relaxed))
        ;
    if (s->gauge_timed)
        atomic_store_explicit(c + 1, fp_now_seconds(), memory_order_relaxed);
    return 0;
}

static int is_integral(double v)
{
    return v < 9007199254740992.0 && v == (double)(uint64_t)v;
}

static void counter_add_cells(acell_u64 *c, double v)
{
    if (is_integral(v))
        add_u64(c, (uint64_t)v);
    else
        add_f64((acell_f64 *)(c + 1), v);
}

/* ---- shared fallback cells (many writers: atomic read-modify-writes) ---- */

static void shared_add_f64(acell_f64 *c, double v)
{
    double old = atomic_load_explicit(c, memory_order_relaxed);
    while (!atomic_compare_exchange_weak_explicit(c, &old, old + v, memory_order_relaxed, memory_order_relaxed))
        ;
}

/*
 * After the cells: the mark that tells readers to add shared cells at all
 * (layout.h). Every process of a full segment comes here on every update,
 * so this writes nothing the other processes use: it loads the mark, whose
 * line stays shared in every cache, and stores it only while it is 0 (a
 * store, even of the same 1, would take the line exclusive each time). How
 * many updates came this way is counted in the series' own cells.
 *
 * Why this ordering suffices. The mark only ever goes 0 -> 1.
 *  - Nothing is lost: when this returns, the mark is 1 (stored here or
 *    loaded as 1). A snapshot that this update happens-before loads the
 *    mark after it, so by coherence sees 1 and adds the cells, in which, by
 *    coherence again, it sees this update. A snapshot that loads 0 can miss
 *    only updates concurrent with it; the next snapshot counts them.
 *  - Nothing counted disappears: the mark never clears, and each cell only
 *    grows, so a later snapshot never shows less.
 *  - Release here, acquire in the reader (merge.c): a reader that sees the
 *    mark also sees the cells of the update that stored it, so the mark
 *    never announces cells that still look empty. It costs a plain store on
 *    x86, once per writer that found the mark 0.
 */
static int shared_done(const fastprom_series_t *s)
{
    _Atomic uint32_t *used = &s->family->fp->hdr->fallback_used;
    if (UNLIKELY(!atomic_load_explicit(used, memory_order_relaxed)))
        atomic_store_explicit(used, 1, memory_order_release);
    return 0;
}

static int shared_counter_add(const fastprom_series_t *s, double v)
{
    acell_u64 *c = (acell_u64 *)s->shared;
    if (is_integral(v))
        atomic_fetch_add_explicit(c, (uint64_t)v, memory_order_relaxed);
    else
        shared_add_f64((acell_f64 *)(c + 1), v);
    atomic_fetch_add_explicit(c + 2, 1, memory_order_relaxed); /* updates (layout.h) */
    return shared_done(s);
}

static uint32_t bucket_of(const fastprom_series_t *s, double v);

static int shared_observe(const fastprom_series_t *s, double v)
{
    acell_u64 *c = (acell_u64 *)s->shared;
    uint32_t sum = 1;
    if (s->type == FASTPROM_HISTOGRAM) {
        atomic_fetch_add_explicit(c + bucket_of(s, v), 1, memory_order_relaxed);
        sum = s->nbounds + 1;
    } else {
        atomic_fetch_add_explicit(c, 1, memory_order_relaxed);
    }
    shared_add_f64((acell_f64 *)(c + sum), v);
    return shared_done(s);
}

static int counter_add(fastprom_series_t *s, double v)
{
    if (UNLIKELY(!(v >= 0.0)))
        return FASTPROM_EINVAL;
    int rc = 0;
    acell_u64 *c = own_cells(s, &rc);
    if (UNLIKELY(!c))
        return rc == FP_USE_SHARED ? shared_counter_add(s, v) : rc;
    counter_add_cells(c, v);
    return 0;
}

static __attribute__((noinline)) int inc_general(fastprom_series_t *s, double v)
{
    if (UNLIKELY(!s))
        return FASTPROM_EINVAL;
    if (s->type == FASTPROM_COUNTER)
        return counter_add(s, v);
    if (s->type == FASTPROM_GAUGE)
        return gauge_add(s, v);
    return FASTPROM_EINVAL;
}

/* The common case (a counter, +1, cells resolved) in straight-line code with
 * no stack frame; everything else in inc_general. */
int fastprom_inc(fastprom_series_t *s, double v)
{
    if (LIKELY(s && s->type == FASTPROM_COUNTER && v == 1.0)) {
        acell_u64 *c = cached_cells(s);
        if (LIKELY(c != NULL)) {
            add_u64(c, 1);
            return 0;
        }
    }
    return inc_general(s, v);
}

int fastprom_dec(fastprom_series_t *s, double v)
{
    if (!s || s->type != FASTPROM_GAUGE)
        return FASTPROM_EINVAL;
    return gauge_add(s, -v);
}

int fastprom_set(fastprom_series_t *s, double v)
{
    if (UNLIKELY(!s || s->type != FASTPROM_GAUGE))
        return FASTPROM_EINVAL;
    int rc = 0;
    acell_f64 *c = (acell_f64 *)gauge_cell(s, &rc);
    if (UNLIKELY(!c))
        return rc;
    atomic_store_explicit(c, v, memory_order_relaxed);
    if (s->gauge_timed)
        atomic_store_explicit(c + 1, fp_now_seconds(), memory_order_relaxed);
    return 0;
}

/* The bucket of v: the first bound >= v, or nbounds (+Inf; NaN lands there
 * too, as in the other clients). */
static inline uint32_t bucket_of(const fastprom_series_t *s, double v)
{
    const double *b = s->bounds;
    uint32_t n = s->nbounds;
    if (n <= 16) {
        uint32_t i = 0;
        while (i < n && !(v <= b[i]))
            i++;
        return i;
    }
    uint32_t lo = 0, hi = n;
    while (lo < hi) {
        uint32_t mid = (lo + hi) / 2;
        if (v <= b[mid])
            hi = mid;
        else
            lo = mid + 1;
    }
    return lo;
}

static void sketch_add(struct fp_sketch *sk, double v)
{
    int i = fp_sketch_index(v);
    if (i < 0) {
        atomic_store_explicit((acell_u64 *)&sk->below, sk->below + 1, memory_order_relaxed);
    } else {
        uint32_t c = sk->counts[i];
        if (c != UINT32_MAX)
            atomic_store_explicit((_Atomic uint32_t *)&sk->counts[i], c + 1, memory_order_relaxed);
    }
    if (v < sk->min)
        atomic_store_explicit((acell_f64 *)&sk->min, v, memory_order_relaxed);
    if (v > sk->max)
        atomic_store_explicit((acell_f64 *)&sk->max, v, memory_order_relaxed);
}

/* Records v into the thread's cells c; returns the histogram bucket used. */
static inline uint32_t observe_cells(const fastprom_series_t *s, acell_u64 *c, double v)
{
    if (LIKELY(s->type == FASTPROM_HISTOGRAM)) {
        uint32_t i = bucket_of(s, v);
        add_u64(c + i, 1);
        add_f64((acell_f64 *)(c + s->nbounds + 1), v);
        return i;
    }
    add_u64(c, 1);
    add_f64((acell_f64 *)(c + 1), v);
    if (s->nbounds)
        sketch_add((struct fp_sketch *)(c + 2), v);
    return 0;
}

static __attribute__((noinline)) int observe_slow(fastprom_series_t *s, double v)
{
    int rc = 0;
    acell_u64 *c = fp_cells_slow(s, &rc);
    if (!c)
        return rc == FP_USE_SHARED ? shared_observe(s, v) : rc;
    observe_cells(s, c, v);
    return 0;
}

int fastprom_observe(fastprom_series_t *s, double v)
{
    if (UNLIKELY(!s || (s->type != FASTPROM_HISTOGRAM && s->type != FASTPROM_SUMMARY)))
        return FASTPROM_EINVAL;
    acell_u64 *c = cached_cells(s);
    if (UNLIKELY(!c))
        return observe_slow(s, v);
    observe_cells(s, c, v);
    return 0;
}

/* Whether an update of s from this thread finds its cells already resolved,
 * i.e. will not take the segment lock: bindings that hold an interpreter lock
 * (Python's GIL) release it only when this says 0. */
int fastprom_update_ready(const fastprom_series_t *s)
{
    if (UNLIKELY(!s))
        return 1; /* the update fails with EINVAL at once */
    switch (s->type) {
    case FASTPROM_COUNTER:
    case FASTPROM_HISTOGRAM:
    case FASTPROM_SUMMARY: return cached_cells(s) != NULL;
    case FASTPROM_GAUGE:
        return atomic_load_explicit(&s->gauge, memory_order_acquire) != NULL &&
               atomic_load_explicit(&s->gauge_epoch, memory_order_relaxed) ==
                   atomic_load_explicit(&fp_fork_epoch, memory_order_relaxed);
    default: return 1; /* statesets write the series record: never a lock */
    }
}

/* ---- exemplars --------------------------------------------------------------- */

/* Encodes labels as (u8 len, name, u8 len, value)...; -1 when invalid or too
 * long for OpenMetrics (128 bytes of names and values). */
static int encode_exemplar(const fastprom_label_t *labels, size_t n, unsigned char *out, uint32_t *len)
{
    size_t chars = 0, pos = 0;
    /* Every name is at least one byte: more labels than the byte limit are
     * refused before the array is read. */
    if ((n && !labels) || n > FASTPROM_MAX_EXEMPLAR_LABELS)
        return -1;
    for (size_t i = 0; i < n; i++) {
        const char *k = labels[i].name, *v = labels[i].value;
        if (!k || !v)
            return -1;
        size_t kl = strlen(k), vl = strlen(v);
        if (!fp_valid_label_name(k, kl) || fp_utf8_invalid_at(v, vl) >= 0)
            return -1;
        chars += kl + vl;
        if (chars > FASTPROM_MAX_EXEMPLAR_LABELS || pos + 2 + kl + vl > sizeof(((struct fp_exemplar *)0)->data))
            return -1;
        out[pos++] = (unsigned char)kl;
        memcpy(out + pos, k, kl);
        pos += kl;
        out[pos++] = (unsigned char)vl;
        memcpy(out + pos, v, vl);
        pos += vl;
    }
    *len = (uint32_t)pos;
    return 0;
}

/* Only this thread writes the record; readers use the sequence count. */
static void write_exemplar(struct fp_exemplar *x, double v, const unsigned char *data, uint32_t len, double ts)
{
    uint32_t seq = atomic_load_explicit(&x->seq, memory_order_relaxed);
    atomic_store_explicit(&x->seq, seq + 1, memory_order_relaxed);
    atomic_thread_fence(memory_order_release);
    x->value = v;
    x->timestamp = ts;
    x->len = len;
    memcpy(x->data, data, len);
    atomic_store_explicit(&x->seq, seq + 2, memory_order_release);
}

static int record_exemplar(fastprom_series_t *s, double v, uint32_t bucket, const fastprom_label_t *labels, size_t n,
                           double ts)
{
    unsigned char data[sizeof(((struct fp_exemplar *)0)->data)];
    uint32_t len;
    if (!s->exemplars || encode_exemplar(labels, n, data, &len) < 0)
        return FASTPROM_EINVAL;
    int rc = 0;
    unsigned char *c = own_cells(s, &rc);
    if (!c)
        return rc == FP_USE_SHARED ? 0 : rc; /* shared cells keep no exemplars */
    size_t at =
        s->type == FASTPROM_COUNTER ? 8 * FP_COUNTER_CELLS : 8 * (s->nbounds + 2) + sizeof(struct fp_exemplar) * bucket;
    write_exemplar((struct fp_exemplar *)(c + at), v, data, len, ts > 0 ? ts : fp_now_seconds());
    return 0;
}

int fastprom_inc_exemplar(fastprom_series_t *s, double v, const fastprom_label_t *labels, size_t nlabels,
                          double timestamp)
{
    if (!s || s->type != FASTPROM_COUNTER)
        return FASTPROM_EINVAL;
    int rc = counter_add(s, v);
    return rc ? rc : record_exemplar(s, v, 0, labels, nlabels, timestamp);
}

int fastprom_observe_exemplar(fastprom_series_t *s, double v, const fastprom_label_t *labels, size_t nlabels,
                              double timestamp)
{
    if (!s || s->type != FASTPROM_HISTOGRAM)
        return FASTPROM_EINVAL;
    int rc = 0;
    acell_u64 *c = own_cells(s, &rc);
    if (!c)
        return rc == FP_USE_SHARED ? shared_observe(s, v) : rc;
    return record_exemplar(s, v, observe_cells(s, c, v), labels, nlabels, timestamp);
}
