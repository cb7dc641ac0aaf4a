/*
 * source.h - the application's segment as the worker sees it: mapped
 * read-only, checked on every use, closed when it breaks and re-opened (at
 * most once a second) until a valid segment appears again. The worker never
 * exits because of the segment.
 */
#ifndef FCGI_SOURCE_H
#define FCGI_SOURCE_H

#include <stdint.h>

#include "fastprom.h"

#define FCGI_REASON_MAX 1024

typedef struct fcgi_source fcgi_source_t;

typedef struct fcgi_source_view {
    fastprom_t *fp;               /* NULL when not attached; usable until fcgi_source_release */
    int error;                    /* a fastprom_errcode when fp is NULL */
    char reason[FCGI_REASON_MAX]; /* one line when fp is NULL */
    char path[512];               /* the segment's path */
    int have_stat;                /* stat is filled (0 when the segment was mid-change) */
    fastprom_stat_t stat;
    double last_write_age; /* seconds since a recorded value last changed */
    uint64_t generation;   /* changes each time a segment is (re)attached */
    int region;            /* the mapping's mapguard region */
} fcgi_source_view_t;

fcgi_source_t *fcgi_source_new(void);
void fcgi_source_free(fcgi_source_t *src);

/*
 * Checks the segment at path (NULL: $FASTPROM_PATH, else the default path),
 * re-attaching when it was deleted, replaced, corrupted or the path changed.
 * Fills view; its stat only when want_stat. When view->fp is set the caller holds a shared lock and must
 * call fcgi_source_release; when it is NULL, no lock is held and reason says
 * why (release is then a no-op).
 */
void fcgi_source_acquire(fcgi_source_t *src, const char *path, fcgi_source_view_t *view, int want_stat);
/* Completes a view acquired without its stat once the caller filled
 * view->stat itself (from the render's own pass: one pass per scrape). */
void fcgi_source_note_stat(fcgi_source_t *src, fcgi_source_view_t *view);
/* 1 when the segment shrank under reads made through view (another
 * process truncated it): what they returned is void, and the next acquire
 * attaches the segment anew. Call before fcgi_source_release. */
int fcgi_source_shrank(const fcgi_source_view_t *view);
void fcgi_source_release(fcgi_source_t *src, fcgi_source_view_t *view);

#endif
