/*
 * health.c - pass/warn/fail rules and the health+json document (health.h).
 *
 * fail: the segment is missing, unmappable, corrupt or of another layout
 * version (nothing can be exported). warn: the segment works but something
 * is being lost or looks stale: no write for longer than the configured
 * limit, too few writer processes, refused series or updates, a failed
 * render. The thresholds are the configuration's "health" object.
 */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "health.h"

const char *fcgi_health_status_name(fcgi_health_status_t status)
{
    static const char *const names[] = {"pass", "warn", "fail"};
    return names[status];
}

int fcgi_health_http_status(fcgi_health_status_t status)
{
    return status == FCGI_HEALTH_FAIL ? 503 : 200;
}

typedef struct builder {
    json_t *checks;
    fcgi_health_status_t status;
    char output[512]; /* of the worst check, first of equals; "" when pass */
    char time[32];
} builder_t;

/* Adds checks["component:measurement"] = [ {...} ] and folds its status in. */
static void add_check(builder_t *b, const char *key, const char *component_id, const char *type, json_t *observed,
                      const char *unit, fcgi_health_status_t status, const char *output)
{
    json_t *entry = json_object();
    json_object_set_new(entry, "componentId", json_string(component_id));
    json_object_set_new(entry, "componentType", json_string(type));
    if (observed)
        json_object_set_new(entry, "observedValue", observed);
    if (unit)
        json_object_set_new(entry, "observedUnit", json_string(unit));
    json_object_set_new(entry, "status", json_string(fcgi_health_status_name(status)));
    json_object_set_new(entry, "time", json_string(b->time));
    if (output)
        json_object_set_new(entry, "output", json_string(output));
    json_t *list = json_array();
    json_array_append_new(list, entry);
    json_object_set_new(b->checks, key, list);
    if (status > b->status) {
        b->status = status;
        snprintf(b->output, sizeof b->output, "%s", output ? output : "");
    }
}

static void segment_checks(builder_t *b, const fcgi_health_input_t *in)
{
    const char *path = in->segment_path ? in->segment_path : "(default segment)";
    if (!in->attached) {
        add_check(b, "segment:attached", path, "datastore", json_false(), NULL, FCGI_HEALTH_FAIL, in->segment_reason);
        if (in->segment_error == FASTPROM_EVERSION)
            add_check(b, "segment:layoutVersion", path, "datastore", NULL, NULL, FCGI_HEALTH_FAIL, in->segment_reason);
        return;
    }
    add_check(b, "segment:attached", path, "datastore", json_true(), NULL, FCGI_HEALTH_PASS, NULL);
    add_check(b, "segment:layoutVersion", path, "datastore", json_integer(in->stat.layout_version), NULL,
              FCGI_HEALTH_PASS, NULL);
}

static void writer_checks(builder_t *b, const fcgi_health_input_t *in)
{
    const fcgi_health_limits_t *lim = in->limits;
    const fastprom_stat_t *st = &in->stat;
    const char *path = in->segment_path ? in->segment_path : "(default segment)";
    char msg[320];

    int stale = lim->stale_after_seconds > 0 && in->last_write_age > lim->stale_after_seconds;
    snprintf(msg, sizeof msg,
             "no value changed for %.0f s (health.stale_after_seconds is %g): are the writers running?",
             in->last_write_age, lim->stale_after_seconds);
    add_check(b, "writes:age", path, "datastore", json_real(round(in->last_write_age * 1000) / 1000), "s",
              stale ? FCGI_HEALTH_WARN : FCGI_HEALTH_PASS, stale ? msg : NULL);

    int few = st->processes_live < lim->min_writer_processes;
    snprintf(msg, sizeof msg, "%u writer processes alive, fewer than health.min_writer_processes (%u)",
             st->processes_live, lim->min_writer_processes);
    add_check(b, "writers:processes", path, "system", json_integer(st->processes_live), NULL,
              few ? FCGI_HEALTH_WARN : FCGI_HEALTH_PASS, few ? msg : NULL);

    int lost_series = st->dropped_series > lim->max_dropped_series;
    snprintf(msg, sizeof msg,
             "%llu series were refused (a family's series limit or a full segment); fix the label cardinality or "
             "raise max_series, FASTPROM_FAMILY_LIMIT or FASTPROM_SIZE",
             (unsigned long long)st->dropped_series);
    add_check(b, "series:dropped", path, "datastore", json_integer((json_int_t)st->dropped_series), NULL,
              lost_series ? FCGI_HEALTH_WARN : FCGI_HEALTH_PASS, lost_series ? msg : NULL);

    int lost_updates = st->dropped_updates > lim->max_dropped_updates;
    snprintf(msg, sizeof msg, "%llu updates were refused because the segment is full; raise FASTPROM_SIZE",
             (unsigned long long)st->dropped_updates);
    add_check(b, "updates:dropped", path, "datastore", json_integer((json_int_t)st->dropped_updates), NULL,
              lost_updates ? FCGI_HEALTH_WARN : FCGI_HEALTH_PASS, lost_updates ? msg : NULL);
}

static json_t *registered_metrics(const fcgi_health_input_t *in)
{
    static const char *const keys[FASTPROM_NTYPES] = {NULL,        "counters", "gauges",   "histograms",
                                                      "summaries", "infos",    "statesets"};
    json_t *obj = json_object();
    for (int t = 1; t < FASTPROM_NTYPES; t++)
        json_object_set_new(obj, keys[t], json_integer(in->attached ? in->stat.families_by_type[t] : 0));
    return obj;
}

fcgi_health_status_t fcgi_health_build(const fcgi_health_input_t *in, char **body)
{
    builder_t b = {json_object(), FCGI_HEALTH_PASS, "", ""};
    time_t secs = (time_t)in->now;
    struct tm tm;
    gmtime_r(&secs, &tm);
    strftime(b.time, sizeof b.time, "%Y-%m-%dT%H:%M:%SZ", &tm);

    segment_checks(&b, in);
    if (in->attached)
        writer_checks(&b, in);
    add_check(&b, "scrapes:errors", "fastprom-fcgi", "component", json_integer((json_int_t)in->scrape_errors), NULL,
              in->last_scrape_error ? FCGI_HEALTH_WARN : FCGI_HEALTH_PASS, in->last_scrape_error);

    json_t *doc = json_object();
    json_object_set_new(doc, "status", json_string(fcgi_health_status_name(b.status)));
    json_object_set_new(doc, "version", json_string(FASTPROM_VERSION));
    json_object_set_new(doc, "serviceId", json_string("fastprom-fcgi"));
    json_object_set_new(doc, "description", json_string("fastprom exporter: shared-memory metrics segment"));
    if (b.output[0])
        json_object_set_new(doc, "output", json_string(b.output));
    json_object_set_new(doc, "prometheus_enabled", json_boolean(in->attached));
    json_object_set_new(doc, "namespace", json_string(in->metric_namespace ? in->metric_namespace : ""));
    json_object_set_new(doc, "registered_metrics", registered_metrics(in));
    json_object_set_new(doc, "uptime", json_real(round(in->uptime_seconds * 1000) / 1000));
    json_object_set_new(doc, "checks", b.checks);

    if (body)
        *body = json_dumps(doc, JSON_INDENT(2) | JSON_REAL_PRECISION(15));
    json_decref(doc);
    return b.status;
}
