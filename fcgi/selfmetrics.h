/*
 * selfmetrics.h - the worker's own metrics (fastprom_* and process_*), kept
 * in a private fastprom segment of the worker and written with the normal
 * API from every worker thread, then rendered after the application's
 * families in each /metrics answer. Names are fixed by the project brief.
 */
#ifndef FCGI_SELFMETRICS_H
#define FCGI_SELFMETRICS_H

#include <stdint.h>

#include "fastprom.h"

typedef struct fcgi_selfmetrics fcgi_selfmetrics_t;

/* What the worker last saw of the application's segment. */
typedef struct fcgi_segment_observation {
    int up; /* attached and valid */
    int have_stat;
    fastprom_stat_t stat; /* when have_stat */
    uint64_t generation;  /* changes when another segment is attached */
    double last_write_age;
    int health_status; /* 0 pass, 1 warn, 2 fail */
} fcgi_segment_observation_t;

/* threads: how many worker threads will write (each takes a writer slot).
 * NULL with the reason in err on failure. */
fcgi_selfmetrics_t *fcgi_selfmetrics_new(unsigned threads, char *err, size_t errlen);
void fcgi_selfmetrics_free(fcgi_selfmetrics_t *sm);

/* A render route begins / ends. format: "text", "openmetrics" or "json". */
void fcgi_selfmetrics_scrape_started(fcgi_selfmetrics_t *sm);
void fcgi_selfmetrics_scrape_finished(fcgi_selfmetrics_t *sm, const char *format, int code, double seconds);

/* A scrape got the answer of a render another scrape led (share.h). */
void fcgi_selfmetrics_scrape_shared(fcgi_selfmetrics_t *sm, const char *format);

/* reason: "missing", "corrupt", "version", "busy", "nomem", "deadline", "truncated" (the segment
 * shrank under the render), ... */
void fcgi_selfmetrics_render_error(fcgi_selfmetrics_t *sm, const char *reason);

/* A connection closed before libfcgi read it, or cut at its deadline.
 * reason: "malformed", "too_large", "truncated", "timeout", "deadline". */
void fcgi_selfmetrics_connection_dropped(fcgi_selfmetrics_t *sm, const char *reason);

void fcgi_selfmetrics_observe(fcgi_selfmetrics_t *sm, const fcgi_segment_observation_t *obs);

/* Refreshes the process_* figures, then renders the worker's families
 * (opt->prefix should be NULL: these names are fixed). -1 when the private
 * segment cannot be rendered (out of memory): the caller counts it and
 * serves the application's families without these. */
int fcgi_selfmetrics_render(fcgi_selfmetrics_t *sm, const fastprom_render_options_t *opt, fastprom_buf_t *out);

#endif
