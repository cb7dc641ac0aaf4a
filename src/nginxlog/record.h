/*
 * record.h - what fastprom-nginxlog writes into the segment, through the
 * public API like any application:
 *
 *   nginx_http_requests_total{server, route, method, status}   (server "_" when
 *                                   the server block has no server_name)
 *   nginx_http_request_duration_seconds{server, route, method}      $request_time
 *   nginx_http_upstream_response_duration_seconds{server, route, upstream}
 *                                        one observation per attempt nginx made
 *   nginx_http_response_size_bytes{server, route, method}           $bytes_sent
 *   nginx_http_request_size_bytes{server, route, method}            $request_length
 *   nginxlog_datagrams_total             datagrams received
 *   nginxlog_lines_recorded_total        lines counted in nginx_http_*
 *   nginxlog_malformed_total{reason}     datagrams that were not lines
 *   nginxlog_dropped_total{reason}       lines refused by a series limit,
 *                                        a full segment, a bad label value
 *   nginxlog_lag_seconds                 now - $msec of the newest line
 *   nginxlog_unix_max_dgram_qlen         the kernel's queue limit in force
 *
 * Not fastprom_*: the worker renders those names itself and leaves the
 * segment's out, so the daemon's figures would never reach /metrics.
 *
 * Series handles are kept in a hash table keyed by the label values, so a
 * line costs one lookup whatever the number of families. The table is
 * bounded: past its size, lines still count through the library's own
 * lookup, only slower.
 */
#ifndef NGINXLOG_RECORD_H
#define NGINXLOG_RECORD_H

#include <stddef.h>

#include "fastprom.h"
#include "line.h"

typedef enum nl_drop {
    NL_DROP_NONE = 0,
    NL_DROP_LIMIT,   /* a family's series limit */
    NL_DROP_FULL,    /* the segment is full */
    NL_DROP_INVALID, /* a label value the library refuses (not UTF-8, too long) */
    NL_NDROPS
} nl_drop_t;

typedef struct nl_recorder nl_recorder_t;

/* Creates (or finds) the families in fp. max_series applies to the
 * nginx_http_* families when they are created. NULL with err set. */
nl_recorder_t *nl_recorder_new(fastprom_t *fp, unsigned max_series, char *err, size_t errlen);
/* Frees the handle's memory; the segment keeps what was recorded. */
void nl_recorder_free(nl_recorder_t *r);

/* One request: labels already resolved (server unescaped, route, method
 * label). Returns NL_DROP_NONE when every family got its update. */
typedef struct nl_request {
    const char *server;
    size_t server_len;
    const char *route;
    size_t route_len;
    const char *method; /* nl_method_label() */
    const nl_line_t *line;
} nl_request_t;

nl_drop_t nl_record(nl_recorder_t *r, const nl_request_t *req);

/* The daemon's own figures. */
void nl_recorder_datagrams(nl_recorder_t *r, unsigned n);
void nl_recorder_malformed(nl_recorder_t *r, int nl_error);
void nl_recorder_lag(nl_recorder_t *r, double seconds);
void nl_recorder_qlen(nl_recorder_t *r, double qlen);

/* "series_limit", "segment_full", "invalid_label". */
const char *nl_drop_name(nl_drop_t d);

#endif
