/*
 * source.c - attaching to, watching and re-attaching the application's
 * segment (source.h).
 *
 * Many worker threads render from one read-only handle under a shared
 * (rw)lock; only the thread that finds the segment broken takes the lock
 * exclusively to close it and try to open it again, so a render never uses
 * a handle being closed. Open attempts are rate-limited to one a second so a
 * missing segment costs scrapes nothing but a stat().
 *
 * Each attached mapping is watched by mapguard.c: a segment truncated while
 * a thread reads it does not kill the worker, but marks the mapping
 * faulted; the reads made through it are void (fcgi_source_shrank) and the
 * handle is closed and opened again like any broken segment.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "clock.h"
#include "log.h"
#include "mapguard.h"
#include "source.h"

#define RETRY_SECONDS 1.0

struct fcgi_source {
    pthread_rwlock_t lock;
    fastprom_t *fp; /* guarded by lock */
    int region;     /* fp's mapping in mapguard, -1: not watched */
    char path[512]; /* what fp was opened from (or last tried) */
    int error;      /* why fp is NULL */
    char reason[FCGI_REASON_MAX];
    double last_attempt; /* monotonic seconds of the last open attempt */
    uint64_t generation;

    pthread_mutex_t activity_lock; /* the write-age tracking below */
    uint64_t seen_generation;
    uint64_t last_activity;
    double last_change; /* monotonic */
};

static void resolve_path(const char *path, char *out, size_t outlen)
{
    snprintf(out, outlen, "%s", path && *path ? path : fastprom_default_path());
}

fcgi_source_t *fcgi_source_new(void)
{
    fcgi_source_t *src = calloc(1, sizeof *src);
    if (!src)
        return NULL;
    pthread_rwlockattr_t attr;
    pthread_rwlockattr_init(&attr);
    /* A steady stream of scrapes must not starve the thread that repairs. */
    pthread_rwlockattr_setkind_np(&attr, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
    pthread_rwlock_init(&src->lock, &attr);
    pthread_rwlockattr_destroy(&attr);
    pthread_mutex_init(&src->activity_lock, NULL);
    src->region = -1;
    src->error = FASTPROM_ENOENT;
    snprintf(src->reason, sizeof src->reason, "the segment has not been opened yet");
    src->last_attempt = -RETRY_SECONDS;
    return src;
}

void fcgi_source_free(fcgi_source_t *src)
{
    if (!src)
        return;
    fcgi_mapguard_forget(src->region);
    fastprom_close(src->fp);
    pthread_rwlock_destroy(&src->lock);
    pthread_mutex_destroy(&src->activity_lock);
    free(src);
}

/* Keeps the library's one-line reason, naming the path when it does not. */
static void set_reason(fcgi_source_t *src, const fastprom_error_t *err, const char *path)
{
    src->error = err->code;
    if (strstr(err->text, path))
        snprintf(src->reason, sizeof src->reason, "%s", err->text);
    else
        snprintf(src->reason, sizeof src->reason, "segment %s: %s", path, err->text);
}

/* With the lock held exclusively: has mapguard watch the mapping just
 * opened. 0, or -1 when the file at path is no longer the one found before
 * the open (replaced or resized meanwhile: attach again). A mapping that
 * cannot be found is read unguarded, said once in the log. Until here
 * nothing was read through the mapping: a read-only fastprom_open takes the
 * header by pread (segment.c), so a file truncated during the open cannot
 * fault before the guard watches it. */
static int watch_mapping(fcgi_source_t *src, const char *path, const struct stat *before)
{
    static atomic_int told;
    struct stat now;
    char why[256];
    if (stat(path, &now) != 0 || now.st_dev != before->st_dev || now.st_ino != before->st_ino ||
        now.st_size != before->st_size)
        return -1;
    src->region = fcgi_mapguard_watch_file(now.st_dev, now.st_ino, (size_t)now.st_size, why, sizeof why);
    if (src->region < 0 && !atomic_exchange(&told, 1))
        fcgi_log("%s: reading the segment unguarded, so truncating it under a scrape would stop the worker", why);
    return 0;
}

/* With the lock held exclusively: closes a broken, shrunk or moved segment
 * and tries to open the one at path when an attempt is due. A segment that
 * just broke is re-opened at once: a writer that replaced it is back already. */
static void repair(fcgi_source_t *src, const char *path)
{
    fastprom_error_t err;
    int shrank = fcgi_mapguard_faulted(src->region);
    if (src->fp && !shrank && strcmp(src->path, path) == 0 && fastprom_check(src->fp, &err) == 0)
        return; /* another thread repaired it meanwhile */
    if (src->fp) {
        fcgi_mapguard_forget(src->region);
        src->region = -1;
        fastprom_close(src->fp);
        src->fp = NULL;
        if (shrank) {
            src->error = FASTPROM_ECORRUPT;
            snprintf(src->reason, sizeof src->reason,
                     "segment %s shrank while being read (another process "
                     "truncated it); it is attached again once whole",
                     src->path);
        } else if (strcmp(src->path, path) == 0) {
            set_reason(src, &err, path);
        }
        src->last_attempt = -RETRY_SECONDS;
    }
    if (strcmp(src->path, path) != 0) {
        snprintf(src->path, sizeof src->path, "%s", path);
        src->last_attempt = -RETRY_SECONDS; /* a new path is tried at once */
    }
    double now = fcgi_monotonic_seconds();
    if (now - src->last_attempt < RETRY_SECONDS)
        return;
    src->last_attempt = now;
    fastprom_options_t opt = {0};
    opt.path = path;
    opt.flags = FASTPROM_READONLY;
    struct stat before;
    int exists = stat(path, &before) == 0;
    src->fp = fastprom_open(&opt, &err);
    if (!src->fp) {
        set_reason(src, &err, path);
    } else if (!exists || watch_mapping(src, path, &before) != 0) {
        fastprom_close(src->fp);
        src->fp = NULL;
        src->error = FASTPROM_EBUSY;
        snprintf(src->reason, sizeof src->reason, "segment %s changed while being attached; trying again", path);
        src->last_attempt = -RETRY_SECONDS;
    } else {
        src->generation++;
        src->error = 0;
        src->reason[0] = '\0';
    }
}

/* Remembers when the segment's activity counter last moved. */
static double write_age(fcgi_source_t *src, uint64_t generation, uint64_t activity)
{
    double now = fcgi_monotonic_seconds();
    pthread_mutex_lock(&src->activity_lock);
    if (generation != src->seen_generation || activity != src->last_activity) {
        src->seen_generation = generation;
        src->last_activity = activity;
        src->last_change = now;
    }
    double age = now - src->last_change;
    pthread_mutex_unlock(&src->activity_lock);
    return age;
}

/* With the shared lock held and fp set: fills view (its stat only when
 * want_stat), or returns -1 when the segment no longer validates. */
static int observe(fcgi_source_t *src, fcgi_source_view_t *view, int want_stat)
{
    fastprom_error_t err;
    if (fastprom_check(src->fp, &err) != 0)
        return -1;
    int rc = want_stat ? fastprom_stat(src->fp, &view->stat, &err) : FASTPROM_EBUSY;
    if ((rc != 0 && rc != FASTPROM_EBUSY) || fcgi_mapguard_faulted(src->region))
        return -1;
    view->fp = src->fp;
    view->region = src->region;
    view->generation = src->generation;
    if (rc == 0)
        fcgi_source_note_stat(src, view);
    return 0;
}

void fcgi_source_note_stat(fcgi_source_t *src, fcgi_source_view_t *view)
{
    view->have_stat = 1;
    view->last_write_age = write_age(src, view->generation, view->stat.activity);
}

void fcgi_source_acquire(fcgi_source_t *src, const char *path, fcgi_source_view_t *view, int want_stat)
{
    char want[sizeof src->path];
    resolve_path(path, want, sizeof want);
    memset(view, 0, sizeof *view);
    snprintf(view->path, sizeof view->path, "%s", want);
    for (int pass = 0;; pass++) {
        pthread_rwlock_rdlock(&src->lock);
        int same_path = strcmp(src->path, want) == 0;
        if (src->fp && same_path && observe(src, view, want_stat) == 0)
            return; /* shared lock stays held until release */
        int retry_due = fcgi_monotonic_seconds() - src->last_attempt >= RETRY_SECONDS;
        if (pass > 0 || (!src->fp && same_path && !retry_due)) {
            view->error = src->error ? src->error : FASTPROM_ECORRUPT;
            snprintf(view->reason, sizeof view->reason, "%s", src->reason);
            pthread_rwlock_unlock(&src->lock);
            return;
        }
        pthread_rwlock_unlock(&src->lock);
        pthread_rwlock_wrlock(&src->lock);
        repair(src, want);
        pthread_rwlock_unlock(&src->lock);
    }
}

int fcgi_source_shrank(const fcgi_source_view_t *view)
{
    return view->fp && fcgi_mapguard_faulted(view->region);
}

void fcgi_source_release(fcgi_source_t *src, fcgi_source_view_t *view)
{
    if (view->fp) {
        view->fp = NULL;
        pthread_rwlock_unlock(&src->lock);
    }
}
