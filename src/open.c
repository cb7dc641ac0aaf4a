/*
 * open.c - the life of a fastprom_t: fastprom_open maps the segment and
 * attaches a writer; fastprom_close undoes both and frees the process-local
 * objects (families, series handles, remembered orders, snapshot memory).
 *
 * This file sits on top of the library: it is the only one that knows every
 * kind of object a handle owns. fastprom_close tolerates a half-built
 * handle, so it is also fastprom_open's one way out on failure.
 *
 * FASTPROM_FALLBACK lives here too: when the shared segment cannot be used,
 * the application gets a private one instead, the reason in err and in a
 * counter inside it, because monitoring must never take an application down.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arena.h"
#include "error.h"
#include "handle.h"
#include "mem.h"
#include "options.h"
#include "order.h"
#include "registry.h"
#include "segment.h"
#include "series.h"
#include "writer.h"

static uint64_t next_serial(void)
{
    static _Atomic uint64_t serial;
    return atomic_fetch_add(&serial, 1) + 1;
}

static fastprom_t *open_segment(const fastprom_options_t *opt, fastprom_error_t *err)
{
    struct fp_resolved r;
    if (fp_options_resolve(opt, &r, err))
        return NULL;
    fastprom_t *fp = fp_calloc(1, sizeof *fp);
    if (!fp) {
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

    int rc = 0;
    if (!(fp->path = fp_strdup(opt->flags & FASTPROM_PRIVATE ? "<private>" : r.path)))
        rc = fp_fail(err, FASTPROM_ENOMEM, "out of memory opening a segment");
    if (!rc)
        rc = fp_segment_map(fp, &r, err);
    if (!rc && !fp->readonly)
        rc = fp_writer_attach(fp, err);
    if (rc) {
        int saved = errno; /* the failed call's, for fallback_reason */
        fastprom_close(fp);
        errno = saved;
        return NULL;
    }
    return fp;
}

/* Why the shared segment could not be used, as the reason label of
 * fastprom_fallbacks_total (the words the language packages use too). */
static const char *fallback_reason(int code, int sys_errno)
{
    switch (code) {
    case FASTPROM_EVERSION: return "version";
    case FASTPROM_ECORRUPT: return "corrupt";
    case FASTPROM_ENOENT: return "missing";
    case FASTPROM_ENOMEM: return "memory";
    case FASTPROM_EINVAL: return "config";
    case FASTPROM_ESYS:
        if (sys_errno == ENOSPC || sys_errno == EDQUOT || sys_errno == EFBIG)
            return "no_space";
        if (sys_errno == EACCES || sys_errno == EPERM || sys_errno == EROFS)
            return "permission";
        return "system";
    default: return NULL; /* ELIMIT: a private handle would be refused too */
    }
}

/* Counts the fallback inside the private segment, where the application's
 * own exposition shows it. Best effort: the segment is fresh and roomy. */
static void count_fallback(fastprom_t *fp, const char *reason)
{
    static const char *const labels[] = {"reason"};
    fastprom_family_def_t d =
        {.type = FASTPROM_COUNTER,
         .name = "fastprom_fallbacks_total",
         .help = "Times this process could not use the shared segment and recorded its metrics in a private "
                 "in-process segment that no exporter serves.",
         .label_names = labels,
         .nlabels = 1};
    fastprom_inc(fastprom_series(fastprom_family(fp, &d, NULL), &reason, NULL, NULL), 1);
}

/* FASTPROM_FALLBACK after the shared segment failed with `code` (err holds
 * the reason): a private segment, err kept and extended. */
static fastprom_t *open_fallback(const fastprom_options_t *opt, int code, int sys_errno, fastprom_error_t *err)
{
    const char *reason = fallback_reason(code, sys_errno);
    if (!reason)
        return NULL;
    /* Every option explicit: a bad environment value must not refuse this one
     * too. Small: each process that falls back pays for it in memory. */
    fastprom_options_t priv = {.size = FASTPROM_FALLBACK_SIZE,
                               .max_slots = 64,
                               .family_limit = opt->family_limit ? opt->family_limit : FASTPROM_DEFAULT_FAMILY_LIMIT,
                               .mode = 0600,
                               .flags = FASTPROM_PRIVATE};
    fastprom_t *fp = open_segment(&priv, NULL);
    if (!fp)
        return NULL; /* err still names the first problem */
    count_fallback(fp, reason);
    if (err) {
        static const char note[] = "; metrics go to a private in-process segment meanwhile (fastprom_fallbacks_total)";
        size_t room = sizeof err->text - sizeof note;
        if (strlen(err->text) > room)
            err->text[room] = '\0';
        strcat(err->text, note);
    }
    return fp;
}

fastprom_t *fastprom_open(const fastprom_options_t *opt, fastprom_error_t *err)
{
    static const fastprom_options_t defaults;
    if (!opt)
        opt = &defaults;
    fp_ok(err);
    const unsigned known = FASTPROM_READONLY | FASTPROM_PRIVATE | FASTPROM_NO_CREATE | FASTPROM_FALLBACK;
    if (opt->flags & ~known) {
        fp_fail(err, FASTPROM_EINVAL,
                "open flags 0x%x are unknown: use FASTPROM_READONLY, _PRIVATE, _NO_CREATE, _FALLBACK",
                opt->flags & ~known);
        return NULL;
    }
    if ((opt->flags & FASTPROM_PRIVATE) && (opt->flags & FASTPROM_READONLY)) {
        fp_fail(err, FASTPROM_EINVAL, "a private segment cannot be read-only: nobody else could write it");
        return NULL;
    }
    if ((opt->flags & FASTPROM_FALLBACK) && (opt->flags & FASTPROM_READONLY)) {
        fp_fail(err, FASTPROM_EINVAL,
                "FASTPROM_FALLBACK is for writers: a reader of an empty private segment would hide the problem");
        return NULL;
    }
    fastprom_error_t local;
    fastprom_t *fp = open_segment(opt, err ? err : &local);
    if (fp || !(opt->flags & FASTPROM_FALLBACK))
        return fp;
    int sys_errno = errno;
    return open_fallback(opt, (err ? err : &local)->code, sys_errno, err);
}

void fastprom_close(fastprom_t *fp)
{
    if (!fp)
        return;
    if (!fp->readonly)
        fp_writer_detach(fp);
    fp_families_free(fp);
    fp_series_free_all(fp);
    fp_segment_unmap(fp);
    fp_arena_free(atomic_load(&fp->spare_arena));
    fp_order_cache_free(fp);
    pthread_mutex_destroy(&fp->order_mu);
    pthread_mutex_destroy(&fp->mu);
    fp_free(fp->path);
    fp_free(fp);
}

const char *fastprom_path(const fastprom_t *fp)
{
    return fp ? fp->path : NULL;
}

const char *fastprom_version(void)
{
    return FASTPROM_VERSION;
}
