/*
 * share.h - scrapes asking for the same answer share one render, the way a
 * database shares one log flush among the commits waiting for it (group
 * commit). A scrape that finds an identical one rendering waits for the next
 * render, which starts after it arrived, so no answer predates its request:
 * a value written before a scrape began is in that scrape's answer. With one
 * Prometheus nothing changes; with many scrapers (several Prometheus
 * servers, federation, dashboards hitting /api/v1/metrics) the render and
 * the gzip run once per round instead of once per request.
 */
#ifndef FCGI_SHARE_H
#define FCGI_SHARE_H

#include <stddef.h>

/* An answer as shared: its bytes are copied once, for all who wait on it. */
typedef struct fcgi_shared_answer fcgi_shared_answer_t;

typedef struct fcgi_share fcgi_share_t;

typedef enum fcgi_share_role {
    FCGI_SHARE_LEAD,   /* render, then fcgi_share_publish (always, even an error) */
    FCGI_SHARE_FOLLOW, /* *answer is set: send it, then fcgi_share_release */
    FCGI_SHARE_TIMEOUT /* no render this scrape may take ended by the deadline */
} fcgi_share_role_t;

/* nkeys kinds of answer (format x encoding). NULL when out of memory. */
fcgi_share_t *fcgi_share_new(unsigned nkeys);
void fcgi_share_free(fcgi_share_t *sh);

/*
 * Joins the scrapes for answer kind key. Returns LEAD when no render of key
 * runs (or the one this scrape waited for ended without a copy to give);
 * FOLLOW with *answer from a render that started after this call; TIMEOUT
 * when no such render finished by deadline (fcgi_monotonic_seconds() time).
 */
fcgi_share_role_t fcgi_share_join(fcgi_share_t *sh, unsigned key, double deadline, fcgi_shared_answer_t **answer);

/*
 * Ends a LEAD: hands a copy of the answer (status, content type, encoding,
 * body) to the scrapes waiting for it, if any; content_type must be static.
 * A copy that cannot be allocated makes one of the waiters lead instead.
 */
void fcgi_share_publish(fcgi_share_t *sh, unsigned key, int status, const char *content_type, int gzip,
                        const char *body, size_t len);

/* Scrapes waiting on key now (for tests). */
unsigned fcgi_share_waiting(fcgi_share_t *sh, unsigned key);

int fcgi_shared_status(const fcgi_shared_answer_t *a);
const char *fcgi_shared_content_type(const fcgi_shared_answer_t *a);
int fcgi_shared_gzip(const fcgi_shared_answer_t *a);
const char *fcgi_shared_body(const fcgi_shared_answer_t *a);
size_t fcgi_shared_len(const fcgi_shared_answer_t *a);

/* Drops a FOLLOW's reference; the last one frees the copy. NULL is a no-op. */
void fcgi_share_release(fcgi_shared_answer_t *a);

#endif
