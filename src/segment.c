/*
 * segment.c - creating, attaching to and validating the shared segment
 * file.
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

#include "wallclock.h"
#include "error.h"
#include "segment.h"
#include "testpoint.h"

/* ---- creation ------------------------------------------------------------- */

static int init_segment(unsigned char *base, const struct fp_geometry *g, fastprom_error_t *err)
{
    struct fp_header *h = (struct fp_header *)base;
    h->magic = FP_MAGIC;
    h->layout_version = FP_LAYOUT_VERSION;
    h->header_size = sizeof *h;
    h->created_ns = fp_now_ns();
    h->block_size = FP_BLOCK_SIZE;
    fp_geometry_store(h, g);
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
static int build_in_fd(int fd, const struct fp_resolved *r, fastprom_error_t *err)
{
    struct fp_geometry g;
    if (!fp_geometry_compute(r->size, r->max_slots, r->family_limit, &g))
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
    int rc = init_segment(base, &g, err);
    munmap(base, r->size);
    return rc;
}

/* Makes sure a segment exists at path: 0 once this process created it or
 * somebody else's appeared there first (either way, open what is there). */
static int create_at(const char *path, const struct fp_resolved *r, fastprom_error_t *err)
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
    if (!rc && link(tmp, path) < 0 && errno != EEXIST)
        rc = fp_fail_errno(err, "cannot publish segment %s", path);
    unlink(tmp);
    return rc;
}

/* ---- attaching ------------------------------------------------------------- */

static int map_fd(fastprom_t *fp, int fd, fastprom_error_t *err)
{
    struct stat st;
    if (fstat(fd, &st) < 0)
        return fp_fail_errno(err, "cannot stat segment %s", fp->path);
    /* Whoever can write the segment can truncate it, and every writer then
     * dies of SIGBUS at its next store (a library cannot catch that in
     * someone else's process): writers refuse a segment any user may write. */
    if (!fp->readonly && !(fp->flags & FASTPROM_PRIVATE) && (st.st_mode & S_IWOTH)) {
        errno = EACCES;
        return fp_fail_errno(err,
                             "segment %s is writable by every user (mode %04o), any of whom could stop its writers by "
                             "truncating it; run chmod o-w on it (or recreate it with FASTPROM_MODE=0660)",
                             fp->path, (unsigned)(st.st_mode & 07777));
    }
    if ((uint64_t)st.st_size < FP_HEADER_REGION)
        return fp_fail(err, FASTPROM_ECORRUPT, "segment %s is %lld bytes, too small to be a fastprom segment", fp->path,
                       (long long)st.st_size);
    /* The geometry is validated and kept from one private copy of the
     * header, read with pread, never through the mapping: a file truncated
     * since the fstat makes pread come up short, where a load from the
     * mapping would raise SIGBUS. A read-only open touches no mapped byte,
     * so a reader that guards its loads against a shrinking file (the
     * worker's mapguard.c, which can only watch the mapping once this
     * returns) has nothing unguarded to survive. A file changed after the
     * pread is caught by fastprom_check, which compares the mapped header
     * and the file's size with what was validated here. */
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
    fp_test_point(FP_POINT_ATTACH_MAPPED);
    fp->base = base;
    fp->size = (size_t)st.st_size;
    fp->hdr = base;
    fp->dev = st.st_dev;
    fp->ino = st.st_ino;
    fp_geometry_load(&h, &fp->geo);
    return 0;
}

static int open_file(fastprom_t *fp, const struct fp_resolved *r, fastprom_error_t *err)
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
            return fp_fail(err, FASTPROM_ENOENT, "segment %s does not exist; start a writer (or `fastprom init`) first",
                           fp->path);
        int rc = create_at(fp->path, r, err);
        if (rc)
            return rc;
    }
    return fp_fail(err, FASTPROM_ESYS, "segment %s keeps disappearing while being opened", fp->path);
}

static int open_private(fastprom_t *fp, const struct fp_resolved *r, fastprom_error_t *err)
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

/* Liveness tests must go through a description other than the one holding
 * our own slot locks, or our own slots would look dead; writers hold their
 * slot locks through a description of their own that is never mapped
 * (writer.c says why). */
static int open_descriptors(fastprom_t *fp, fastprom_error_t *err)
{
    char proc[64];
    snprintf(proc, sizeof proc, "/proc/self/fd/%d", fp->fd);
    fp->probe_fd = fp->readonly ? fp->fd : open(proc, O_RDONLY | O_CLOEXEC);
    if (fp->probe_fd >= 0 && !fp->readonly)
        fp->lock_fd = open(proc, O_RDWR | O_CLOEXEC);
    if (fp->probe_fd < 0 || (!fp->readonly && fp->lock_fd < 0))
        return fp_fail_errno(err, "cannot open a second descriptor of segment %s", fp->path);
    return 0;
}

int fp_segment_map(fastprom_t *fp, const struct fp_resolved *r, fastprom_error_t *err)
{
    int rc = (fp->flags & FASTPROM_PRIVATE) ? open_private(fp, r, err) : open_file(fp, r, err);
    if (!rc)
        rc = map_fd(fp, fp->fd, err);
    if (!rc)
        rc = open_descriptors(fp, err);
    return rc;
}

void fp_segment_unmap(fastprom_t *fp)
{
    if (fp->base)
        munmap(fp->base, fp->size);
    fp->base = NULL;
    fp->hdr = NULL;
    if (fp->probe_fd >= 0 && fp->probe_fd != fp->fd)
        close(fp->probe_fd);
    if (fp->lock_fd >= 0)
        close(fp->lock_fd);
    if (fp->fd >= 0)
        close(fp->fd);
    fp->fd = fp->probe_fd = fp->lock_fd = -1;
}

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
    struct fp_geometry now;
    fp_geometry_load(&copy, &now);
    if (!fp_geometry_equal(&now, &fp->geo))
        return fp_fail(err, FASTPROM_ECORRUPT, "segment %s: its header changed after it was opened; reopen it",
                       fp->path);
    return 0;
}
