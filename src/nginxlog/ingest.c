/*
 * ingest.c - datagram to recorded request (ingest.h).
 */
#include <stdio.h>
#include <string.h>

#include "ingest.h"
#include "log.h"

#define SERVER_CAP 1024
#define ROUTE_CAP 1024
#define SAMPLE_BYTES 300

int nl_ingest_init(nl_ingest_t *ing, fastprom_t *fp, const nl_config_t *cfg, char *err, size_t errlen)
{
    memset(ing, 0, sizeof *ing);
    ing->cfg = cfg;
    ing->log_tokens = cfg->log_malformed_per_minute;
    ing->recorder = nl_recorder_new(fp, cfg->max_series, err, errlen);
    ing->router = ing->recorder ? nl_router_new(cfg) : NULL;
    if (!ing->router) {
        if (ing->recorder)
            snprintf(err, errlen, "out of memory for the route table");
        nl_ingest_free(ing);
        return -1;
    }
    return 0;
}

void nl_ingest_free(nl_ingest_t *ing)
{
    nl_router_free(ing->router);
    nl_recorder_free(ing->recorder);
    ing->router = NULL;
    ing->recorder = NULL;
}

int nl_ingest_reconfigure(nl_ingest_t *ing, const nl_config_t *cfg)
{
    nl_router_t *fresh = nl_router_new(cfg);
    if (!fresh)
        return -1;
    nl_router_free(ing->router);
    ing->router = fresh;
    ing->cfg = cfg;
    if (ing->log_tokens > cfg->log_malformed_per_minute)
        ing->log_tokens = cfg->log_malformed_per_minute;
    return 0;
}

/* A sample of bad input, at most log_malformed_per_minute a minute. */
static void log_sample(nl_ingest_t *ing, const char *msg, size_t len, int error)
{
    if (!ing->log_tokens) {
        ing->suppressed++;
        return;
    }
    ing->log_tokens--;
    char shown[SAMPLE_BYTES * 4 + 8];
    nl_printable(msg, len < SAMPLE_BYTES ? len : SAMPLE_BYTES, shown, sizeof shown);
    nl_log("malformed datagram (%s, %zu bytes): \"%s\"%s", nl_error_name(error), len, shown,
           len > SAMPLE_BYTES ? "..." : "");
}

static int malformed(nl_ingest_t *ing, const char *msg, size_t len, int error)
{
    nl_recorder_malformed(ing->recorder, error);
    log_sample(ing, msg, len, error);
    return error;
}

int nl_ingest_datagram(nl_ingest_t *ing, const char *msg, size_t len, int truncated)
{
    nl_recorder_datagrams(ing->recorder, 1);
    if (truncated)
        return malformed(ing, msg, len, NL_EOVERSIZED);
    nl_line_t line;
    int rc = nl_parse(msg, len, ing->cfg->tag, &line);
    if (rc != NL_OK)
        return malformed(ing, msg, len, rc);

    char server_buf[SERVER_CAP], route_buf[ROUTE_CAP];
    nl_request_t req = {.server = line.server.p, .server_len = line.server.len, .line = &line};
    if (memchr(line.server.p, '\\', line.server.len)) {
        req.server_len = nl_unescape(line.server, server_buf, sizeof server_buf);
        req.server = server_buf;
    }
    if (req.server_len == 0) {
        /* A server block without server_name: Prometheus drops empty
         * labels, so give it nginx's conventional catch-all name. */
        req.server = "_";
        req.server_len = 1;
    }
    nl_route_source_t source;
    req.route =
        nl_route(ing->router, &line, req.server, req.server_len, route_buf, sizeof route_buf, &req.route_len, &source);
    req.method = nl_method_label(line.method);
    nl_record(ing->recorder, &req);
    if (line.msec > ing->newest_msec)
        ing->newest_msec = line.msec;
    return NL_OK;
}

void nl_ingest_tick(nl_ingest_t *ing, double now)
{
    if (ing->newest_msec > 0) {
        nl_recorder_lag(ing->recorder, now - ing->newest_msec);
        ing->newest_msec = 0;
    }
    if (now - ing->minute_started >= 60) {
        if (ing->suppressed)
            nl_log("%lu more malformed datagrams in the last minute were not shown (log_malformed_per_minute is %u)",
                   ing->suppressed, ing->cfg->log_malformed_per_minute);
        ing->suppressed = 0;
        ing->log_tokens = ing->cfg->log_malformed_per_minute;
        ing->minute_started = now;
    }
}
