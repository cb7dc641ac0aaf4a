/*
 * ingest.h - one datagram in, its request recorded: parse (line.c), route
 * (route.c), record (record.c), and what the daemon reports about bad input.
 * No sockets and no signals here, so unit tests, the benchmark and the
 * daemon drive the same code.
 */
#ifndef NGINXLOG_INGEST_H
#define NGINXLOG_INGEST_H

#include <stddef.h>

#include "config.h"
#include "fastprom.h"
#include "record.h"
#include "route.h"

typedef struct nl_ingest {
    const nl_config_t *cfg; /* not owned */
    nl_router_t *router;
    nl_recorder_t *recorder;
    double newest_msec;  /* $msec of the newest line since the last tick */
    unsigned log_tokens; /* malformed samples we may still log this minute */
    unsigned long suppressed;
    double minute_started;
} nl_ingest_t;

/* Creates the families in fp (which must outlive it). 0, or -1 with err. */
int nl_ingest_init(nl_ingest_t *ing, fastprom_t *fp, const nl_config_t *cfg, char *err, size_t errlen);
void nl_ingest_free(nl_ingest_t *ing);

/* Adopts a new configuration's rules and limits (SIGHUP). The caller frees
 * the old configuration afterwards. 0, or -1 (out of memory: unchanged). */
int nl_ingest_reconfigure(nl_ingest_t *ing, const nl_config_t *cfg);

/*
 * Handles one datagram of len bytes; truncated: it was longer than the
 * receive buffer (counted as malformed "oversized"). Returns NL_OK when the
 * line was a request (recorded, or counted as dropped), else the
 * nl_error_t it was counted under.
 */
int nl_ingest_datagram(nl_ingest_t *ing, const char *msg, size_t len, int truncated);

/* Once a second or so: the lag gauge, the log rate limit. now: Unix seconds. */
void nl_ingest_tick(nl_ingest_t *ing, double now);

#endif
