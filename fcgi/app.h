/*
 * app.h - the worker's shared state: the current configuration (replaced
 * whole on SIGHUP), the application's segment, the self-metrics, and the
 * counters every thread updates (in-flight renders, render errors), and the
 * rounds in which identical scrapes share one render.
 *
 * Errors in the worker, one convention: a function that can fail returns 0
 * or -1 (or NULL) and writes one line naming what failed and the fix into
 * the caller's `char *err, size_t errlen`. fastprom_error_t appears only at
 * calls into libfastprom, whose text is copied into that line.
 */
#ifndef FCGI_APP_H
#define FCGI_APP_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "gzip.h"
#include "selfmetrics.h"
#include "share.h"
#include "source.h"

/* Room for one error line: what failed and the library's reason. */
#define FCGI_LINE_MAX (FCGI_REASON_MAX + 256)

/* Kinds of scrape answer that can be shared: (three expositions + the JSON
 * view) x (identity, gzip, gzip only). route.c numbers them. */
#define FCGI_SHARE_KEYS 12

/* The buffers one render fills: the exposition and its gzip encoding.
 * Pooled by the app rather than owned by threads, so memory follows the
 * renders actually running at once (one per kind of answer, with sharing),
 * not the thread count. */
typedef struct fcgi_scratch {
    fastprom_buf_t render;
    fcgi_gzip_t *gzip;
    struct fcgi_scratch *next; /* in the idle list */
} fcgi_scratch_t;

typedef struct fcgi_app {
    pthread_rwlock_t config_lock; /* held shared for a whole request */
    fcgi_config_t *config;
    fcgi_source_t *source;
    fcgi_selfmetrics_t *self;
    fcgi_share_t *share;          /* identical scrapes share a render */
    pthread_mutex_t scratch_lock; /* the idle list below */
    fcgi_scratch_t *idle_scratch; /* most recently used first */
    unsigned nidle_scratch;
    atomic_uint in_flight; /* renders running now */
    atomic_uint_fast64_t render_errors;
    pthread_mutex_t error_lock;     /* last_error below */
    char last_error[FCGI_LINE_MAX]; /* "" when the last render worked */
    double started_monotonic;
} fcgi_app_t;

/* Takes ownership of cfg. Returns NULL with one line in err. */
fcgi_app_t *fcgi_app_new(fcgi_config_t *cfg, char *err, size_t errlen);
void fcgi_app_free(fcgi_app_t *app);

/* The configuration for one request; must be released by the same thread. */
const fcgi_config_t *fcgi_app_config_acquire(fcgi_app_t *app);
void fcgi_app_config_release(fcgi_app_t *app);

/* Installs a new configuration once running requests finish with the old
 * one. Takes ownership of cfg. */
void fcgi_app_config_replace(fcgi_app_t *app, fcgi_config_t *cfg);

/* Admission for renders: 0 and counted, or -1 when max renders run. */
int fcgi_app_render_begin(fcgi_app_t *app, unsigned max_in_flight);
void fcgi_app_render_end(fcgi_app_t *app);

/* Buffers for one render: the most recently used idle ones (warm), else new
 * ones; NULL when out of memory. fcgi_app_scratch_give keeps a few idle and
 * frees the rest, and trims buffers a one-off huge answer left oversized. */
fcgi_scratch_t *fcgi_app_scratch_take(fcgi_app_t *app);
void fcgi_app_scratch_give(fcgi_app_t *app, fcgi_scratch_t *sc);

/* Records the outcome of a render: NULL for success, else the reason line.
 * A render that failed because no segment is attached is only counted: the
 * segment's own health checks report that, and it must not outlive the
 * segment's return as a "last scrape failed" warning. */
void fcgi_app_render_outcome(fcgi_app_t *app, const char *error_line, int segment_attached);

/* Copies the last render error ("" when the last render worked). */
void fcgi_app_last_error(fcgi_app_t *app, char *out, size_t outlen);

#endif
