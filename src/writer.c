/*
 * writer.c - who writes where: writer slots, per-thread lanes, fork
 * handling, and the slow path that gives a thread its cells for a series.
 *
 * Every writing thread owns one slot of the segment (its "lane") and writes
 * its own cells with plain stores, so the hot path needs no atomic
 * read-modify-write. A process's first slot is its primary slot; it also
 * holds the process's gauges, which every thread of the process updates with
 * atomics (a gauge is one value per process, whatever thread sets it).
 *
 * Slot ownership is an OFD lock on one byte per slot, taken through the
 * process's own open file description. The kernel releases it when the
 * process dies, however it dies, so liveness never depends on PIDs (which
 * are reused and differ across PID namespaces). A thread that exits hands
 * its lane to the next thread of the same process, values and all: lanes
 * are never folded while their process lives, so thread churn costs nothing.
 *
 * fork(): the child shares the parent's description and thus its locks, so
 * the child opens its own description at once (in the atfork handler),
 * claims its own slots lazily and forgets the parent's lanes. The locks live
 * on a description used for nothing else (lock_fd): the mapping holds a
 * reference to the description it was made from, and a child inherits the
 * mapping, so locks taken through that one would outlive their process. pthread_atfork bumps a fork epoch; every
 * cached pointer is tagged with the epoch it belongs to.
 */
#include <stdbool.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "alloc.h"
#include "error.h"
#include "fold.h"
#include "lock.h"
#include "mem.h"
#include "sketch.h"
#include "slots.h"
#include "writer.h"

_Atomic uint64_t fp_fork_epoch = 1;
__thread struct fp_thread *fp_tls __attribute__((tls_model("initial-exec")));

static pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER; /* g_handles; before any fp->mu */
static fastprom_t *g_handles[FP_MAX_ATTACH];
static pthread_key_t g_thread_key;
static pthread_once_t g_once = PTHREAD_ONCE_INIT;
static int g_init_failed;

/* ---- process identity ----------------------------------------------------- */

/* starttime (field 22 of /proc/self/stat): with the pid, names this process
 * among all processes that ever had its pid. */
static uint64_t process_start_time(void)
{
    char buf[1024];
    FILE *f = fopen("/proc/self/stat", "re");
    if (!f)
        return 0;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    char *p = strrchr(buf, ')');
    unsigned long long start = 0;
    /* After ") " come fields 3..; starttime is the 20th of those. */
    for (int field = 2; p && *p && field < 22; p++)
        if (*p == ' ')
            field++;
    if (p && sscanf(p, "%llu", &start) != 1)
        start = 0;
    return start;
}

/* ---- fork and thread exit ---------------------------------------------------- */

static void atfork_prepare(void)
{
    pthread_mutex_lock(&g_mu);
    for (int i = 0; i < FP_MAX_ATTACH; i++)
        if (g_handles[i]) {
            pthread_mutex_lock(&g_handles[i]->mu);
            pthread_mutex_lock(&g_handles[i]->order_mu);
        }
}

static void atfork_parent(void)
{
    for (int i = FP_MAX_ATTACH - 1; i >= 0; i--)
        if (g_handles[i]) {
            pthread_mutex_unlock(&g_handles[i]->order_mu);
            pthread_mutex_unlock(&g_handles[i]->mu);
        }
    pthread_mutex_unlock(&g_mu);
}

/* "/proc/self/fd/<fd>" without snprintf, which a fork child of a threaded
 * process should not call. */
static void proc_fd_path(int fd, char out[32])
{
    static const char head[] = "/proc/self/fd/";
    char digits[12];
    int n = 0;
    do
        digits[n++] = (char)('0' + fd % 10);
    while ((fd /= 10) && n < 11);
    memcpy(out, head, sizeof head - 1);
    for (int i = 0; i < n; i++)
        out[sizeof head - 1 + i] = digits[n - 1 - i];
    out[sizeof head - 1 + n] = '\0';
}

static void atfork_child(void)
{
    uint64_t epoch = atomic_fetch_add(&fp_fork_epoch, 1) + 1;
    /* The child shares the parent's open file description, and with it the
     * parent's slot locks: replace it at once with one of its own, or a
     * parent that dies would look alive for as long as this child lives. */
    for (int i = 0; i < FP_MAX_ATTACH; i++) {
        fastprom_t *fp = g_handles[i];
        char path[32];
        if (!fp)
            continue;
        proc_fd_path(fp->lock_fd, path);
        int fd = open(path, O_RDWR | O_CLOEXEC);
        if (fd >= 0 && dup3(fd, fp->lock_fd, O_CLOEXEC) >= 0)
            fp->fd_epoch = epoch;
        if (fd >= 0)
            close(fd);
    }
    atfork_parent();
    /* The only thread of the child must not write into the parent's lanes. */
    if (fp_tls)
        memset(fp_tls->ent, 0, sizeof fp_tls->ent);
}

/* A thread's lanes go back to their handles for the next thread. */
static void thread_exit(void *arg)
{
    struct fp_thread *t = arg;
    uint64_t epoch = atomic_load(&fp_fork_epoch);
    pthread_mutex_lock(&g_mu);
    for (int a = 0; a < FP_MAX_ATTACH; a++) {
        struct fp_tls_ent *e = &t->ent[a];
        fastprom_t *fp = g_handles[a];
        if (!e->lane || !fp || fp->serial != e->serial)
            continue;
        pthread_mutex_lock(&fp->mu);
        if (fp->fork_epoch == epoch) {
            e->lane->next_free = fp->free_lanes;
            fp->free_lanes = e->lane;
        }
        pthread_mutex_unlock(&fp->mu);
    }
    pthread_mutex_unlock(&g_mu);
    if (fp_tls == t)
        fp_tls = NULL;
    fp_free(t);
}

static void global_init(void)
{
    if (pthread_key_create(&g_thread_key, thread_exit) || pthread_atfork(atfork_prepare, atfork_parent, atfork_child))
        g_init_failed = 1;
}

/* ---- attach / detach ------------------------------------------------------------ */

int fp_writer_attach(fastprom_t *fp, fastprom_error_t *err)
{
    pthread_once(&g_once, global_init);
    if (g_init_failed)
        return fp_fail(err, FASTPROM_ESYS,
                       "cannot set up thread and fork handlers (pthread_key_create/pthread_atfork)");
    pthread_mutex_lock(&g_mu);
    int a = 0;
    while (a < FP_MAX_ATTACH && g_handles[a])
        a++;
    if (a < FP_MAX_ATTACH) {
        g_handles[a] = fp;
        fp->attach = (unsigned)a;
    }
    pthread_mutex_unlock(&g_mu);
    if (a == FP_MAX_ATTACH)
        return fp_fail(err, FASTPROM_ELIMIT, "this process already has %d writable fastprom handles open; close some",
                       FP_MAX_ATTACH);
    fp->fork_epoch = fp->fd_epoch = atomic_load(&fp_fork_epoch);
    /* Each new writer reclaims the slots of writers that died before it: this
     * is what keeps the segment bounded under worker recycling. */
    fp_collect_dead(fp, NULL);
    return 0;
}

static void free_lanes(fastprom_t *fp)
{
    for (struct lane *l = fp->lanes, *next; l; l = next) {
        next = l->next_all;
        fp_free(l->cells);
        fp_free(l);
    }
    fp->lanes = fp->free_lanes = NULL;
    fp->primary = -1;
}

void fp_writer_detach(fastprom_t *fp)
{
    pthread_mutex_lock(&g_mu);
    if (g_handles[fp->attach] == fp)
        g_handles[fp->attach] = NULL;
    pthread_mutex_unlock(&g_mu);
    /* Only a handle of this process's own epoch owns its lanes' locks: in a
     * fork child that never wrote, they are the parent's and stay held. */
    if (fp->fork_epoch == atomic_load(&fp_fork_epoch) && fp->lanes) {
        for (struct lane *l = fp->lanes; l; l = l->next_all)
            fp_slot_unlock(fp, l->slot);
        /* Fold now, so a short-lived writer (a CLI call, a cron job) leaves
         * no slot behind. */
        fp_collect_dead(fp, NULL);
    }
    free_lanes(fp);
}

/* ---- knowing the segment is full ------------------------------------------------------- */

/* "At reclaim_gen G nothing of `size` bytes (0: nothing at all) could be
 * had", in one word so a lock-free reader never pairs a generation with
 * another failure's size: (G + 1) in the high 40 bits, size in the low 24. */
#define FULL_GEN_BITS 40
static uint64_t full_mark(uint64_t gen, uint32_t size)
{
    return (((gen + 1) & ((1ull << FULL_GEN_BITS) - 1)) << 24) | (size & 0xFFFFFFu);
}

/* Under the segment lock, so reclaim_gen is exact. */
static void note_full(fastprom_t *fp, _Atomic uint64_t *mark, uint32_t size)
{
    uint64_t want = full_mark(atomic_load(&fp->hdr->reclaim_gen), size);
    uint64_t cur = atomic_load(mark);
    if (cur >> 24 != want >> 24 || (cur & 0xFFFFFFu) > size)
        atomic_store(mark, want);
}

/* Whether an entry of `size` bytes would still find no room: nothing was
 * freed since the mark was set. */
static int still_full(const fastprom_t *fp, const _Atomic uint64_t *mark, uint32_t size)
{
    uint64_t m = atomic_load_explicit(mark, memory_order_relaxed);
    if (!m)
        return 0;
    uint64_t now = full_mark(atomic_load_explicit(&fp->hdr->reclaim_gen, memory_order_acquire), 0);
    return m >> 24 == now >> 24 && size >= (m & 0xFFFFFFu);
}

/* ---- slots -------------------------------------------------------------------------- */

/* Under fp->mu. A forked child reopens the file: its own description, its
 * own locks. */
static int ensure_epoch(fastprom_t *fp, fastprom_error_t *err)
{
    uint64_t epoch = atomic_load(&fp_fork_epoch);
    if (fp->fork_epoch == epoch)
        return 0;
    if (fp->fd_epoch != epoch) {
        /* The fork handler could not reopen the file: do it now. */
        char proc[32];
        proc_fd_path(fp->lock_fd, proc);
        int fd = open(proc, O_RDWR | O_CLOEXEC);
        if (fd < 0 && !(fp->flags & FASTPROM_PRIVATE))
            fd = open(fp->path, O_RDWR | O_CLOEXEC);
        if (fd < 0)
            return fp_fail_errno(err, "cannot reopen segment %s after fork", fp->path);
        /* Closing our copy of the parent's description releases nothing
         * while the parent keeps its own. */
        close(fp->lock_fd);
        fp->lock_fd = fd;
        fp->fd_epoch = epoch;
    }
    free_lanes(fp);
    fp->fork_epoch = epoch;
    /* A fork child is a new writer, like a process that attaches: it
     * reclaims dead writers' slots, or workers forked from a preloaded
     * master (gunicorn --preload --max-requests) would leave one each. */
    fp_collect_dead(fp, NULL);
    return 0;
}

static struct lane *claim_lane(fastprom_t *fp, fastprom_error_t *err)
{
    static _Atomic uint64_t start_epoch;
    static _Atomic uint64_t start_time;
    uint64_t epoch = atomic_load(&fp_fork_epoch);
    if (atomic_load(&start_epoch) != epoch) {
        atomic_store(&start_time, process_start_time());
        atomic_store(&start_epoch, epoch);
    }
    struct lane *lane = fp_calloc(1, sizeof *lane);
    if (!lane) {
        fp_fail(err, FASTPROM_ENOMEM, "out of memory for a writer lane");
        return NULL;
    }
    if (fp_lock(fp, err)) {
        fp_free(lane);
        return NULL;
    }
    int32_t found = -1;
    for (int pass = 0; pass < 2 && found < 0; pass++) {
        for (uint32_t i = 0; i < fp->geo.max_slots && found < 0; i++)
            if (fp_slot_claim(fp, i, fp->primary < 0 ? i : (uint32_t)fp->primary, atomic_load(&start_time)))
                found = (int32_t)i;
        if (found < 0 && pass == 0 && fp_collect_dead_locked(fp, err) < 0)
            break;
    }
    if (found < 0)
        note_full(fp, &fp->noslot, 0);
    fp_unlock(fp);
    if (found < 0) {
        fp_free(lane);
        /* When folding failed, err already holds why no slot came free. */
        fp_fail(err, FASTPROM_EFULL,
                "segment %s: all %u writer slots are held by live threads; create it with more (FASTPROM_SLOTS)",
                fp->path, fp->geo.max_slots);
        return NULL;
    }
    lane->fp = fp;
    lane->slot = (uint32_t)found;
    lane->next_all = fp->lanes;
    fp->lanes = lane;
    if (fp->primary < 0)
        fp->primary = found;
    return lane;
}

static struct lane *primary_lane(fastprom_t *fp)
{
    for (struct lane *l = fp->lanes; l; l = l->next_all)
        if ((int32_t)l->slot == fp->primary)
            return l;
    return NULL;
}

/* The calling thread's lane for fp, claiming one if needed. */
static struct lane *thread_lane(fastprom_t *fp, fastprom_error_t *err)
{
    struct fp_thread *t = fp_tls;
    if (!t) {
        if (!(t = fp_calloc(1, sizeof *t))) {
            fp_fail(err, FASTPROM_ENOMEM, "out of memory for thread state");
            return NULL;
        }
        pthread_setspecific(g_thread_key, t);
        fp_tls = t;
    }
    struct fp_tls_ent *e = &t->ent[fp->attach];
    if (e->serial == fp->serial && e->lane)
        return e->lane;
    pthread_mutex_lock(&fp->mu);
    struct lane *lane = NULL;
    if (ensure_epoch(fp, err) == 0) {
        if ((lane = fp->free_lanes))
            fp->free_lanes = lane->next_free;
        else
            lane = claim_lane(fp, err);
    }
    pthread_mutex_unlock(&fp->mu);
    if (lane) {
        e->serial = fp->serial;
        e->lane = lane;
        e->cells = lane->cells;
        e->cap = lane->cap;
    }
    return lane;
}

/* ---- entries ---------------------------------------------------------------------------- */

static void init_cells(unsigned char *cells, const fastprom_series_t *s)
{
    if (s->type == FASTPROM_GAUGE) {
        uint64_t pid = (uint64_t)getpid();
        memcpy(cells + 16, &pid, sizeof pid);
    } else if (s->type == FASTPROM_SUMMARY && s->nbounds) {
        fp_sketch_reset((struct fp_sketch *)(cells + 16));
    }
}

/* Appends an entry for s to the chain of lane's slot. Under fp->mu (the
 * primary slot's chain gets gauge entries from every thread). */
static unsigned char *append_entry(fastprom_t *fp, struct lane *lane, const fastprom_series_t *s, fastprom_error_t *err)
{
    struct fp_slot *slot = fp_slot_at(fp, lane->slot);
    uint32_t size = s->entry_size;
    struct fp_block *b = lane->tail ? (struct fp_block *)(fp->base + lane->tail) : NULL;
    uint32_t used = b ? atomic_load_explicit(&b->used, memory_order_relaxed) : 0;
    if (!b || used > FP_BLOCK_SIZE || FP_BLOCK_SIZE - used < size) {
        if (fp_lock(fp, err))
            return NULL;
        uint32_t nb = fp_block_alloc(fp, lane->slot, atomic_load(&slot->gen));
        if (nb) {
            if (b)
                atomic_store_explicit(&b->next, nb, memory_order_release);
            else
                atomic_store_explicit(&slot->head, nb, memory_order_release);
        } else {
            note_full(fp, &lane->full, size);
        }
        fp_unlock(fp);
        if (!nb) {
            fp_fail(err, FASTPROM_EFULL,
                    "segment %s is full: no block for new values (create it larger: FASTPROM_SIZE)", fp->path);
            return NULL;
        }
        lane->tail = nb;
        b = (struct fp_block *)(fp->base + nb);
        used = atomic_load_explicit(&b->used, memory_order_relaxed);
    }
    unsigned char *p = (unsigned char *)b + used;
    struct fp_entry *entry = (struct fp_entry *)p;
    entry->series = s->id;
    entry->size = size;
    init_cells(p + sizeof *entry, s);
    atomic_store_explicit(&b->used, used + size, memory_order_release);
    return p + sizeof *entry;
}

static bool grow_cells(struct lane *lane, uint32_t id)
{
    uint32_t cap = lane->cap ? lane->cap : 64;
    while (cap <= id)
        cap *= 2;
    void **cells = fp_realloc(lane->cells, cap * sizeof *cells);
    if (!cells)
        return false;
    memset(cells + lane->cap, 0, (cap - lane->cap) * sizeof *cells);
    lane->cells = cells;
    lane->cap = cap;
    return true;
}

static void dropped(fastprom_t *fp, int *rc, int code)
{
    if (!fp->readonly)
        atomic_fetch_add(&fp->hdr->dropped_updates, 1);
    *rc = code;
}

/* An update this thread has no cells for: to the series' shared cells when
 * the segment is full (or process memory for the thread's lane is) and it has
 * them, else dropped and counted. */
static void *refused(fastprom_t *fp, const fastprom_series_t *s, int *rc, int code)
{
    if ((code == FASTPROM_EFULL || code == FASTPROM_ENOMEM) && s->shared)
        *rc = FP_USE_SHARED;
    else
        dropped(fp, rc, code);
    return NULL;
}

void *fp_cells_slow(fastprom_series_t *s, int *rc)
{
    fastprom_t *fp = s->family->fp;
    fastprom_error_t err = {0};
    /* Known full: no lock, no slot scan, straight to the shared cells. */
    const struct fp_tls_ent *mine = fp_tls ? &fp_tls->ent[fp->attach] : NULL;
    int has_lane = mine && mine->serial == fp->serial && mine->lane;
    if (!has_lane && s->shared && still_full(fp, &fp->noslot, 0))
        return refused(fp, s, rc, FASTPROM_EFULL);
    struct lane *lane = thread_lane(fp, &err);
    if (!lane)
        return refused(fp, s, rc, err.code);
    unsigned char *cells = s->id < lane->cap ? lane->cells[s->id] : NULL;
    if (!cells && s->shared && still_full(fp, &lane->full, s->entry_size))
        return refused(fp, s, rc, FASTPROM_EFULL);
    if (!cells) {
        pthread_mutex_lock(&fp->mu);
        if (s->id < lane->cap || grow_cells(lane, s->id))
            cells = append_entry(fp, lane, s, &err);
        else
            err.code = FASTPROM_ENOMEM;
        if (cells)
            lane->cells[s->id] = cells;
        pthread_mutex_unlock(&fp->mu);
    }
    /* grow_cells may have moved the table: the hot path must see the new
     * one even when this update is refused. */
    struct fp_tls_ent *e = &fp_tls->ent[fp->attach];
    e->cells = lane->cells;
    e->cap = lane->cap;
    return cells ? cells : refused(fp, s, rc, err.code);
}

double *fp_gauge_slow(fastprom_series_t *s, int *rc)
{
    fastprom_t *fp = s->family->fp;
    fastprom_error_t err = {0};
    uint64_t epoch = atomic_load(&fp_fork_epoch);
    unsigned char *cells = NULL;
    pthread_mutex_lock(&fp->mu);
    if (ensure_epoch(fp, &err) == 0) {
        cells = (unsigned char *)atomic_load(&s->gauge);
        if (!cells || atomic_load(&s->gauge_epoch) != epoch) {
            struct lane *lane = primary_lane(fp);
            /* A gauge is one value per process: there is no shared cell to
             * fall back on, and a known-full segment costs no lock. */
            cells = NULL;
            if (lane ? still_full(fp, &lane->full, s->entry_size) : still_full(fp, &fp->noslot, 0)) {
                err.code = FASTPROM_EFULL;
            } else {
                if (!lane && (lane = claim_lane(fp, &err))) {
                    /* The new primary lane serves the next thread that needs one. */
                    lane->next_free = fp->free_lanes;
                    fp->free_lanes = lane;
                }
                cells = lane ? append_entry(fp, lane, s, &err) : NULL;
            }
            if (cells) {
                atomic_store(&s->gauge_epoch, epoch);
                atomic_store_explicit(&s->gauge, (double *)cells, memory_order_release);
            }
        }
    }
    pthread_mutex_unlock(&fp->mu);
    if (!cells)
        dropped(fp, rc, err.code);
    return (double *)cells;
}
