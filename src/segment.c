/*
 * segment.c - creating, attaching to and validating the shared segment, its
 * robust lock, and the two allocators inside it (metadata bump allocator and
 * the value-block free list).
 *
 * Creation is race-free without any lock file: the creator builds a complete
 * segment in a private temporary file and link()s it to the final path. link
 * fails if the path exists, so exactly one creator wins and nobody ever sees
 * a half-initialised segment. The file is fully allocated up front
 * (posix_fallocate) so a full /dev/shm is an error at creation, never a
 * SIGBUS in a writer later.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "arena.h"
#include "error.h"
#include "handle.h"
#include "order.h"

struct geometry {
    uint64_t size;
    uint32_t max_slots, series_cap, series_hash_cap;
    uint32_t slots_off, family_hash_off, series_hash_off, series_ids_off, arena_off, arena_end;
};

static uint32_t pow2_at_least(uint32_t n)
{
    uint32_t p = 1;
    while (p < n)
        p <<= 1;
    return p;
}

/* The whole layout follows from (size, max_slots): attachers recompute it
 * and compare, so a header with any inconsistent offset is refused. */
static int compute_geometry(uint64_t size, uint32_t max_slots, struct geometry *g)
{
    if (size < FASTPROM_MIN_SIZE || size > FASTPROM_MAX_SIZE || size % 4096 || max_slots == 0 ||
        max_slots > FP_MAX_SLOTS)
        return -1;
    g->size = size;
    g->max_slots = max_slots;
    uint64_t cap = size / FP_BYTES_PER_SERIES;
    g->series_cap = (uint32_t)(cap < 64 ? 64 : cap > (1u << 24) ? (1u << 24) : cap);
    g->series_hash_cap = pow2_at_least(g->series_cap * 2);
    g->slots_off = FP_HEADER_REGION;
    g->family_hash_off = g->slots_off + max_slots * (uint32_t)sizeof(struct fp_slot);
    g->series_hash_off = g->family_hash_off + FP_FAMILY_HASH * 4;
    g->series_ids_off = g->series_hash_off + g->series_hash_cap * 4;
    uint64_t arena = ((uint64_t)g->series_ids_off + (uint64_t)g->series_cap * 4 + 63) & ~(uint64_t)63;
    uint64_t end = size - size % FP_BLOCK_SIZE;
    if (arena + 4 * (uint64_t)FP_BLOCK_SIZE + 65536 > end)
        return -1;
    g->arena_off = (uint32_t)arena;
    g->arena_end = (uint32_t)end;
    return 0;
}

int fp_header_validate(const struct fp_header *h, uint64_t file_size, fastprom_error_t *err)
{
    if (file_size < FP_HEADER_REGION || h->magic != FP_MAGIC)
        return fp_fail(err, FASTPROM_ECORRUPT, "not a fastprom segment (bad magic or too small)");
    if (h->layout_version != FP_LAYOUT_VERSION)
        return fp_fail(err, FASTPROM_EVERSION,
                       "segment has layout version %u, this library reads version %u; "
                       "stop its writers and delete it, or run a fastprom built for version %u",
                       h->layout_version, FP_LAYOUT_VERSION, h->layout_version);
    if (h->header_size != sizeof(struct fp_header) || h->block_size != FP_BLOCK_SIZE)
        return fp_fail(err, FASTPROM_ECORRUPT, "segment header size or block size differs from this build's");
    if (h->size != file_size)
        return fp_fail(err, FASTPROM_ECORRUPT, "segment header says %llu bytes but the file has %llu",
                       (unsigned long long)h->size, (unsigned long long)file_size);
    struct geometry g;
    if (compute_geometry(h->size, h->max_slots, &g) < 0 || g.series_cap != h->series_cap ||
        g.series_hash_cap != h->series_hash_cap || g.slots_off != h->slots_off ||
        g.family_hash_off != h->family_hash_off || g.series_hash_off != h->series_hash_off ||
        g.series_ids_off != h->series_ids_off || g.arena_off != h->arena_off || g.arena_end != h->arena_end ||
        h->family_hash_cap != FP_FAMILY_HASH)
        return fp_fail(err, FASTPROM_ECORRUPT, "segment header regions are inconsistent");
    return 0;
}

/* ---- options ----------------------------------------------------------- */

static int parse_size(const char *s, size_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s)
        return -1;
    unsigned long long mult = 1;
    if (*end == 'k' || *end == 'K')
        mult = 1ull << 10, end++;
    else if (*end == 'm' || *end == 'M')
        mult = 1ull << 20, end++;
    else if (*end == 'g' || *end == 'G')
        mult = 1ull << 30, end++;
    if (*end == 'i' || *end == 'B')
        end += (end[0] == 'i' && end[1] == 'B') ? 2 : 1;
    if (*end || v > ULLONG_MAX / mult)
        return -1;
    *out = (size_t)(v * mult);
    return 0;
}

static int parse_uint(const char *s, int base, unsigned *out)
{
    char *end;
    errno = 0;
    unsigned long v = strtoul(s, &end, base);
    if (errno || end == s || *end || v > UINT_MAX)
        return -1;
    *out = (unsigned)v;
    return 0;
}

struct resolved {
    const char *path;
    size_t size;
    unsigned max_slots, family_limit, mode;
};

static int resolve_options(const fastprom_options_t *opt, struct resolved *r, fastprom_error_t *err)
{
    const char *env;
    r->path = opt->path;
    if (!r->path || !*r->path)
        r->path = (env = getenv("FASTPROM_PATH")) && *env ? env : FASTPROM_DEFAULT_PATH;
    r->size = opt->size;
    if (r->size > FASTPROM_MAX_SIZE)
        return fp_fail(err, FASTPROM_EINVAL, "segment size %zu is out of range; use %u bytes to %u bytes", r->size,
                       FASTPROM_MIN_SIZE, FASTPROM_MAX_SIZE);
    if (!r->size) {
        r->size = FASTPROM_DEFAULT_SIZE;
        if ((env = getenv("FASTPROM_SIZE")) && *env && parse_size(env, &r->size) < 0)
            return fp_fail(err, FASTPROM_EINVAL, "FASTPROM_SIZE=\"%s\" is not a size; use bytes or e.g. 16M", env);
    }
    r->size = (r->size + 4095) & ~(size_t)4095;
    if (r->size < FASTPROM_MIN_SIZE || r->size > FASTPROM_MAX_SIZE)
        return fp_fail(err, FASTPROM_EINVAL, "segment size %zu is out of range; use %u bytes to %u bytes", r->size,
                       FASTPROM_MIN_SIZE, FASTPROM_MAX_SIZE);
    r->max_slots = opt->max_slots ? opt->max_slots : FASTPROM_DEFAULT_SLOTS;
    if ((env = getenv("FASTPROM_SLOTS")) && *env && !opt->max_slots && parse_uint(env, 10, &r->max_slots) < 0)
        return fp_fail(err, FASTPROM_EINVAL, "FASTPROM_SLOTS=\"%s\" is not a number", env);
    if (r->max_slots == 0 || r->max_slots > FP_MAX_SLOTS)
        return fp_fail(err, FASTPROM_EINVAL, "max_slots %u is out of range; use 1 to %u", r->max_slots, FP_MAX_SLOTS);
    r->family_limit = opt->family_limit ? opt->family_limit : FASTPROM_DEFAULT_FAMILY_LIMIT;
    if ((env = getenv("FASTPROM_FAMILY_LIMIT")) && *env && !opt->family_limit &&
        (parse_uint(env, 10, &r->family_limit) < 0 || r->family_limit == 0))
        return fp_fail(err, FASTPROM_EINVAL, "FASTPROM_FAMILY_LIMIT=\"%s\" is not a positive number", env);
    if (opt->mode > 0777)
        return fp_fail(err, FASTPROM_EINVAL, "file mode %#o is not a permission mode like 0660 (no set-id or sticky bits)",
                       opt->mode);
    r->mode = opt->mode ? opt->mode : 0640;
    if ((env = getenv("FASTPROM_MODE")) && *env && !opt->mode &&
        (parse_uint(env, 8, &r->mode) < 0 || r->mode > 0777))
        return fp_fail(err, FASTPROM_EINVAL, "FASTPROM_MODE=\"%s\" is not an octal file mode like 0660", env);
    return 0;
}

/* ---- creation ------------------------------------------------------------- */

static int init_segment(unsigned char *base, const struct geometry *g, unsigned family_limit,
                        fastprom_error_t *err)
{
    struct fp_header *h = (struct fp_header *)base;
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    h->magic = FP_MAGIC;
    h->layout_version = FP_LAYOUT_VERSION;
    h->header_size = sizeof *h;
    h->size = g->size;
    h->created_ns = (uint64_t)now.tv_sec * 1000000000ull + (uint64_t)now.tv_nsec;
    h->block_size = FP_BLOCK_SIZE;
    h->max_slots = g->max_slots;
    h->family_hash_cap = FP_FAMILY_HASH;
    h->series_cap = g->series_cap;
    h->series_hash_cap = g->series_hash_cap;
    h->family_limit = family_limit;
    h->slots_off = g->slots_off;
    h->family_hash_off = g->family_hash_off;
    h->series_hash_off = g->series_hash_off;
    h->series_ids_off = g->series_ids_off;
    h->arena_off = g->arena_off;
    h->arena_end = g->arena_end;
    /* Offset 0 means "none", so metadata starts 8 bytes into the arena. */
    atomic_store(&h->meta_top, g->arena_off + 8);
    atomic_store(&h->block_floor, g->arena_end);
    atomic_store(&h->next_series_id, 1);

    pthread_mutexattr_t a;
    int rc = pthread_mutexattr_init(&a);
    if (!rc)
        rc = pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_SHARED);
    if (!rc)
        rc = pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST);
    if (!rc)
        rc = pthread_mutex_init(&h->lock, &a);
    pthread_mutexattr_destroy(&a);
    if (rc) {
        errno = rc;
        return fp_fail_errno(err, "cannot initialise the segment's process-shared robust mutex");
    }
    return 0;
}

/* Builds a complete segment in fd (already sized). */
static int build_in_fd(int fd, const struct resolved *r, fastprom_error_t *err)
{
    struct geometry g;
    if (compute_geometry(r->size, r->max_slots, &g) < 0)
        return fp_fail(err, FASTPROM_EINVAL, "segment size %zu is too small for %u writer slots", r->size,
                       r->max_slots);
    int e = posix_fallocate(fd, 0, (off_t)r->size);
    if (e) {
        errno = e;
        return fp_fail_errno(err, "cannot allocate %zu bytes for the segment (is /dev/shm full?)", r->size);
    }
    unsigned char *base = mmap(NULL, r->size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (base == MAP_FAILED)
        return fp_fail_errno(err, "cannot map the new segment");
    int rc = init_segment(base, &g, r->family_limit, err);
    munmap(base, r->size);
    return rc;
}

/* Returns 0 after creating the segment at path, 1 when somebody else's
 * segment appeared there first, or an error. */
static int create_at(const char *path, const struct resolved *r, fastprom_error_t *err)
{
    char tmp[PATH_MAX];
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    if (snprintf(tmp, sizeof tmp, "%s.tmp.%ld.%ld", path, (long)getpid(), (long)now.tv_nsec) >= (int)sizeof tmp)
        return fp_fail(err, FASTPROM_EINVAL, "segment path is too long: %s", path);
    int fd = open(tmp, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0)
        return fp_fail_errno(err, "cannot create segment %s (check that the directory exists and is writable)", path);
    int rc = 0;
    if (fchmod(fd, r->mode) < 0)
        rc = fp_fail_errno(err, "cannot set mode %o on segment %s", r->mode, path);
    if (!rc)
        rc = build_in_fd(fd, r, err);
    close(fd);
    if (!rc && link(tmp, path) < 0) {
        if (errno == EEXIST)
            rc = 1;
        else
            rc = fp_fail_errno(err, "cannot publish segment %s", path);
    }
    unlink(tmp);
    return rc;
}

/* ---- attaching ------------------------------------------------------------- */

static int map_fd(fastprom_t *fp, int fd, fastprom_error_t *err)
{
    struct stat st;
    if (fstat(fd, &st) < 0)
        return fp_fail_errno(err, "cannot stat segment %s", fp->path);
    if ((uint64_t)st.st_size < FP_HEADER_REGION)
        return fp_fail(err, FASTPROM_ECORRUPT, "segment %s is %lld bytes, too small to be a fastprom segment",
                       fp->path, (long long)st.st_size);
    struct fp_header h;
    ssize_t n = pread(fd, &h, sizeof h, 0);
    if (n != (ssize_t)sizeof h)
        return fp_fail(err, FASTPROM_ECORRUPT, "cannot read the header of segment %s", fp->path);
    int rc = fp_header_validate(&h, (uint64_t)st.st_size, err);
    if (rc)
        return rc;
    int prot = fp->readonly ? PROT_READ : PROT_READ | PROT_WRITE;
    void *base = mmap(NULL, (size_t)st.st_size, prot, MAP_SHARED, fd, 0);
    if (base == MAP_FAILED)
        return fp_fail_errno(err, "cannot map segment %s", fp->path);
    fp->base = base;
    fp->size = (size_t)st.st_size;
    fp->hdr = base;
    fp->dev = st.st_dev;
    fp->ino = st.st_ino;
    /* Validate and keep the geometry from one private copy of the header:
     * shared memory may change under us. */
    struct fp_header copy;
    memcpy(&copy, base, sizeof copy);
    rc = fp_header_validate(&copy, fp->size, err);
    if (rc)
        return rc;
    fp->geo = (struct fp_geometry){.max_slots = copy.max_slots,
                                   .series_cap = copy.series_cap,
                                   .series_hash_cap = copy.series_hash_cap,
                                   .family_limit = copy.family_limit,
                                   .slots_off = copy.slots_off,
                                   .family_hash_off = copy.family_hash_off,
                                   .series_hash_off = copy.series_hash_off,
                                   .series_ids_off = copy.series_ids_off,
                                   .arena_off = copy.arena_off,
                                   .arena_end = copy.arena_end};
    return 0;
}

static int open_file(fastprom_t *fp, const struct resolved *r, fastprom_error_t *err)
{
    int may_create = !(fp->flags & (FASTPROM_READONLY | FASTPROM_NO_CREATE));
    for (int attempt = 0; attempt < 8; attempt++) {
        int fd = open(fp->path, (fp->readonly ? O_RDONLY : O_RDWR) | O_CLOEXEC);
        if (fd >= 0) {
            fp->fd = fd;
            return 0;
        }
        if (errno != ENOENT)
            return fp_fail_errno(err, "cannot open segment %s", fp->path);
        if (!may_create)
            return fp_fail(err, FASTPROM_ENOENT,
                           "segment %s does not exist; start a writer (or `fastprom init`) first", fp->path);
        int rc = create_at(fp->path, r, err);
        if (rc < 0)
            return rc;
        /* Created (0) or lost the race (1): either way, open what is there. */
    }
    return fp_fail(err, FASTPROM_ESYS, "segment %s keeps disappearing while being opened", fp->path);
}

static int open_private(fastprom_t *fp, const struct resolved *r, fastprom_error_t *err)
{
    int fd = memfd_create("fastprom", MFD_CLOEXEC);
    if (fd < 0)
        return fp_fail_errno(err, "cannot create a private segment (memfd_create)");
    int rc = build_in_fd(fd, r, err);
    if (rc) {
        close(fd);
        return rc;
    }
    fp->fd = fd;
    return 0;
}

static uint64_t next_serial(void)
{
    static _Atomic uint64_t serial;
    return atomic_fetch_add(&serial, 1) + 1;
}

fastprom_t *fastprom_open(const fastprom_options_t *opt, fastprom_error_t *err)
{
    static const fastprom_options_t defaults;
    if (!opt)
        opt = &defaults;
    fp_ok(err);
    const unsigned known = FASTPROM_READONLY | FASTPROM_PRIVATE | FASTPROM_NO_CREATE;
    if (opt->flags & ~known) {
        fp_fail(err, FASTPROM_EINVAL, "open flags 0x%x are unknown: use FASTPROM_READONLY, _PRIVATE, _NO_CREATE",
                opt->flags & ~known);
        return NULL;
    }
    if ((opt->flags & FASTPROM_PRIVATE) && (opt->flags & FASTPROM_READONLY)) {
        fp_fail(err, FASTPROM_EINVAL, "a private segment cannot be read-only: nobody else could write it");
        return NULL;
    }
    struct resolved r;
    if (resolve_options(opt, &r, err))
        return NULL;
    fastprom_t *fp = calloc(1, sizeof *fp);
    if (!fp || !(fp->path = strdup(opt->flags & FASTPROM_PRIVATE ? "<private>" : r.path))) {
        free(fp);
        fp_fail(err, FASTPROM_ENOMEM, "out of memory opening a segment");
        return NULL;
    }
    fp->flags = opt->flags;
    fp->readonly = !!(opt->flags & FASTPROM_READONLY);
    fp->fd = fp->probe_fd = fp->lock_fd = -1;
    fp->primary = -1;
    fp->serial = next_serial();
    pthread_mutex_init(&fp->mu, NULL);
    pthread_mutex_init(&fp->order_mu, NULL);

    int rc = (opt->flags & FASTPROM_PRIVATE) ? open_private(fp, &r, err) : open_file(fp, &r, err);
    if (!rc)
        rc = map_fd(fp, fp->fd, err);
    if (!rc) {
        /* Liveness tests must go through a description other than the one
         * holding our own slot locks, or our own slots would look dead. */
        char proc[64];
        snprintf(proc, sizeof proc, "/proc/self/fd/%d", fp->fd);
        fp->probe_fd = fp->readonly ? fp->fd : open(proc, O_RDONLY | O_CLOEXEC);
        /* Writers hold their slot locks through a description of their own
         * that is never mapped (writer.c says why). */
        if (fp->probe_fd >= 0 && !fp->readonly)
            fp->lock_fd = open(proc, O_RDWR | O_CLOEXEC);
        if (fp->probe_fd < 0 || (!fp->readonly && fp->lock_fd < 0))
            rc = fp_fail_errno(err, "cannot open a second descriptor of segment %s", fp->path);
    }
    if (!rc && !fp->readonly)
        rc = fp_writer_attach(fp, err);
    if (rc) {
        if (fp->base)
            munmap(fp->base, fp->size);
        if (fp->probe_fd >= 0 && fp->probe_fd != fp->fd)
            close(fp->probe_fd);
        if (fp->lock_fd >= 0)
            close(fp->lock_fd);
        if (fp->fd >= 0)
            close(fp->fd);
        pthread_mutex_destroy(&fp->order_mu);
        pthread_mutex_destroy(&fp->mu);
        free(fp->path);
        free(fp);
        return NULL;
    }
    return fp;
}

void fastprom_close(fastprom_t *fp)
{
    if (!fp)
        return;
    if (!fp->readonly)
        fp_writer_detach(fp);
    munmap(fp->base, fp->size);
    if (fp->probe_fd >= 0 && fp->probe_fd != fp->fd)
        close(fp->probe_fd);
    if (fp->lock_fd >= 0)
        close(fp->lock_fd);
    if (fp->fd >= 0)
        close(fp->fd);
    fp_arena_free(atomic_load(&fp->spare_arena));
    fp_order_cache_free(fp);
    pthread_mutex_destroy(&fp->order_mu);
    pthread_mutex_destroy(&fp->mu);
    free(fp->path);
    free(fp);
}

const char *fastprom_path(const fastprom_t *fp) { return fp ? fp->path : NULL; }

int fastprom_check(fastprom_t *fp, fastprom_error_t *err)
{
    fp_ok(err);
    if (!fp)
        return fp_fail(err, FASTPROM_EINVAL, "fastprom_check: the segment handle is NULL");
    if (!(fp->flags & FASTPROM_PRIVATE)) {
        struct stat st;
        if (stat(fp->path, &st) < 0)
            return fp_fail(err, FASTPROM_ENOENT, "segment %s was deleted; reopen it once a writer recreates it",
                           fp->path);
        if (st.st_dev != fp->dev || st.st_ino != fp->ino)
            return fp_fail(err, FASTPROM_ENOENT, "segment %s was replaced by another file; reopen it", fp->path);
    }
    struct stat fst;
    if (fstat(fp->fd, &fst) < 0)
        return fp_fail_errno(err, "cannot stat segment %s", fp->path);
    if ((uint64_t)fst.st_size < fp->size)
        return fp_fail(err, FASTPROM_ECORRUPT, "segment %s was truncated to %lld bytes; recreate it", fp->path,
                       (long long)fst.st_size);
    struct fp_header copy;
    memcpy(&copy, fp->hdr, sizeof copy);
    int rc = fp_header_validate(&copy, fp->size, err);
    if (rc)
        return rc;
    const struct fp_geometry *g = &fp->geo;
    if (copy.max_slots != g->max_slots || copy.series_cap != g->series_cap || copy.arena_off != g->arena_off ||
        copy.arena_end != g->arena_end || copy.slots_off != g->slots_off || copy.family_limit != g->family_limit)
        return fp_fail(err, FASTPROM_ECORRUPT, "segment %s: its header changed after it was opened; reopen it",
                       fp->path);
    return 0;
}

/* ---- the lock ---------------------------------------------------------------- */

void (*fp_test_hook)(int point);

int fp_lock(fastprom_t *fp, fastprom_error_t *err)
{
    int rc = pthread_mutex_lock(&fp->hdr->lock);
    if (rc == EOWNERDEAD) {
        /* A writer died inside a structural change: make the segment
         * consistent again before anyone else sees the lock free. */
        fp_repair_locked(fp);
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

void fp_unlock(fastprom_t *fp) { pthread_mutex_unlock(&fp->hdr->lock); }

/* ---- allocators (callers hold the lock) ------------------------------------- */

uint32_t fp_meta_alloc(fastprom_t *fp, size_t n)
{
    struct fp_header *h = fp->hdr;
    uint32_t top = atomic_load_explicit(&h->meta_top, memory_order_relaxed);
    uint32_t floor = atomic_load_explicit(&h->block_floor, memory_order_relaxed);
    n = (n + 7) & ~(size_t)7;
    if (top < fp->geo.arena_off || top > floor || n > floor - top)
        return 0;
    memset(fp->base + top, 0, n);
    atomic_store_explicit(&h->meta_top, top + (uint32_t)n, memory_order_release);
    return top;
}

int fp_block_valid(const fastprom_t *fp, uint32_t off)
{
    const struct fp_header *h = fp->hdr;
    uint32_t floor = atomic_load_explicit(&h->block_floor, memory_order_acquire);
    return off >= floor && off >= fp->geo.arena_off && off < fp->geo.arena_end && (fp->geo.arena_end - off) % FP_BLOCK_SIZE == 0;
}

uint32_t fp_block_alloc(fastprom_t *fp, uint32_t owner, uint32_t gen)
{
    struct fp_header *h = fp->hdr;
    uint32_t off = atomic_load_explicit(&h->free_head, memory_order_relaxed);
    if (off && fp_block_valid(fp, off)) {
        struct fp_block *b = (struct fp_block *)(fp->base + off);
        atomic_store_explicit(&h->free_head, atomic_load_explicit(&b->next, memory_order_relaxed),
                              memory_order_relaxed);
        atomic_fetch_sub_explicit(&h->free_count, 1, memory_order_relaxed);
    } else {
        /* A bad free list (possible only after corruption) is abandoned
         * rather than followed; repair rebuilds it. */
        if (off)
            atomic_store_explicit(&h->free_head, 0, memory_order_relaxed);
        uint32_t floor = atomic_load_explicit(&h->block_floor, memory_order_relaxed);
        uint32_t top = atomic_load_explicit(&h->meta_top, memory_order_relaxed);
        if (floor < top || floor - top < FP_BLOCK_SIZE)
            return 0;
        off = floor - FP_BLOCK_SIZE;
        atomic_store_explicit(&h->block_floor, off, memory_order_release);
    }
    struct fp_block *b = (struct fp_block *)(fp->base + off);
    memset((unsigned char *)b + sizeof *b, 0, FP_BLOCK_SIZE - sizeof *b);
    b->owner = owner;
    b->owner_gen = gen;
    atomic_store_explicit(&b->next, 0, memory_order_relaxed);
    atomic_store_explicit(&b->used, (uint32_t)sizeof *b, memory_order_release);
    return off;
}

void fp_block_free(fastprom_t *fp, uint32_t off)
{
    struct fp_header *h = fp->hdr;
    struct fp_block *b = (struct fp_block *)(fp->base + off);
    b->owner = FP_OWNER_FREE;
    atomic_store_explicit(&b->used, (uint32_t)sizeof *b, memory_order_relaxed);
    atomic_store_explicit(&b->next, atomic_load_explicit(&h->free_head, memory_order_relaxed),
                          memory_order_relaxed);
    atomic_store_explicit(&h->free_head, off, memory_order_release);
    atomic_fetch_add_explicit(&h->free_count, 1, memory_order_relaxed);
}
