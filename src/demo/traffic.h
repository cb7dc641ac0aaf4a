/*
 * traffic.h - one simulated web-worker process of the demo: it records the
 * web middleware metrics (http_requests_total, http_request_duration_seconds,
 * http_requests_in_progress, http_request_exceptions_total) for made-up
 * requests, through the public fastprom API only.
 */
#ifndef DEMO_TRAFFIC_H
#define DEMO_TRAFFIC_H

#include <signal.h>

#include "fastprom.h"

typedef struct demo_families {
    fastprom_family_t *requests;    /* counter {method,route,status} */
    fastprom_family_t *duration;    /* histogram {method,route}, default buckets */
    fastprom_family_t *in_progress; /* gauge {method,route}, livesum */
    fastprom_family_t *exceptions;  /* counter {method,route,exception} */
} demo_families_t;

typedef struct demo_traffic {
    double rate;            /* requests per second; 0: as fast as possible */
    unsigned long requests; /* stop after this many; 0: until stop is set */
    unsigned routes;        /* 0: a realistic route table; K: /api/items/0..K-1 in turn */
    int uniform;            /* every request GET, 200, no exception */
    unsigned max_series;    /* per family; 0: the segment's limit */
    unsigned long seed;
} demo_traffic_t;

/* Defines the four families in fp. Returns 0, or -1 with err filled. */
int demo_define_families(fastprom_t *fp, const demo_traffic_t *t, demo_families_t *fam, fastprom_error_t *err);

/*
 * Records requests until t->requests are done or *stop becomes non-zero.
 * Returns the number of updates the library refused (0 when all went in).
 */
unsigned long demo_run_traffic(const demo_families_t *fam, const demo_traffic_t *t, volatile sig_atomic_t *stop);

#endif
