/*
 * open.c - the life of a fastprom_t: fastprom_open maps the segment and
 * attaches a writer; fastprom_close undoes both and frees the process-local
 * objects (families, series handles, remembered orders, snapshot memory).
 *
 * This file sits on top of the library: it is the only one that knows every
 * kind of object a handle owns. fastprom_close tolerates a half-built
 * handle, so it is also fastprom_open's one way out on failure.
 */
#include <stdlib.h>
#include <string.h>

#include "arena.h"
#include "error.h"
#include "handle.h"
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
    struct fp_resolved r;
    if (fp_options_resolve(opt, &r, err))
        return NULL;
    fastprom_t *fp = calloc(1, sizeof *fp);
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
    if (!(fp->path = strdup(opt->flags & FASTPROM_PRIVATE ? "<private>" : r.path)))
        rc = fp_fail(err, FASTPROM_ENOMEM, "out of memory opening a segment");
    if (!rc)
        rc = fp_segment_map(fp, &r, err);
    if (!rc && !fp->readonly)
        rc = fp_writer_attach(fp, err);
    if (rc) {
        fastprom_close(fp);
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
    fp_families_free(fp);
    fp_series_free_all(fp);
    fp_segment_unmap(fp);
    fp_arena_free(atomic_load(&fp->spare_arena));
    fp_order_cache_free(fp);
    pthread_mutex_destroy(&fp->order_mu);
    pthread_mutex_destroy(&fp->mu);
    free(fp->path);
    free(fp);
}

const char *fastprom_path(const fastprom_t *fp)
{
    return fp ? fp->path : NULL;
}

const char *fastprom_version(void)
{
    return FASTPROM_VERSION;
}
