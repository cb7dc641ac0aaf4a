/*
 * health.h - the /api/v1/health/prometheus document
 * (application/health+json, draft-inadarei-api-health-check) built from what
 * the worker observed. Assembly is a pure function of fcgi_health_input_t so
 * each pass/warn/fail rule has a unit test without a segment.
 */
#ifndef FCGI_HEALTH_H
#define FCGI_HEALTH_H

#include <stdint.h>

#include "config.h"
#include "fastprom.h"

#define FCGI_HEALTH_CONTENT_TYPE "application/health+json"

typedef enum fcgi_health_status {
    FCGI_HEALTH_PASS = 0,
    FCGI_HEALTH_WARN = 1,
    FCGI_HEALTH_FAIL = 2
} fcgi_health_status_t;

typedef struct fcgi_health_input {
    double now;            /* Unix seconds */
    double uptime_seconds; /* of the worker */
    const char *metric_namespace;
    const char *segment_path;
    int attached;                  /* the segment is mapped and validates */
    int segment_error;             /* a fastprom_errcode when not attached */
    const char *segment_reason;    /* one line when not attached */
    fastprom_stat_t stat;          /* when attached */
    double last_write_age;         /* seconds since a value last changed */
    uint64_t scrape_errors;        /* failed renders since the worker started */
    const char *last_scrape_error; /* NULL when the last render worked */
    const fcgi_health_limits_t *limits;
} fcgi_health_input_t;

/*
 * Decides the status and, when body is not NULL, writes the JSON document to
 * *body (malloc'd, free() it; NULL only when memory ran out). Returns the
 * status.
 */
fcgi_health_status_t fcgi_health_build(const fcgi_health_input_t *in, char **body);

/* "pass", "warn", "fail". */
const char *fcgi_health_status_name(fcgi_health_status_t status);

/* 200 for pass and warn, 503 for fail, as the draft says. */
int fcgi_health_http_status(fcgi_health_status_t status);

#endif
