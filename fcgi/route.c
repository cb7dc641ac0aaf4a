/*
 * route.c - routing and the handlers of /metrics, /api/v1/metrics,
 * /api/v1/health/prometheus and /api/v1/health/live (route.h).
 *
 * A scrape renders the application's segment (with the configured metric
 * prefix and, for OpenMetrics, without "# EOF"), then the worker's private
 * self-metrics segment behind it, into pooled render buffers; then it is
 * gzip-encoded when the client allows. Unfiltered scrapes that arrive while
 * an identical one renders share the next render (share.h) instead of each
 * rendering and compressing the same bytes. Anything that keeps the application's
 * families from being rendered is a 503 with one line saying why: a scrape
 * must fail visibly rather than return a partial exposition.
 */
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "health.h"
#include "negotiate.h"
#include "query.h"
#include "route.h"

#define TEXT_PLAIN "text/plain; charset=utf-8"
#define OPENMETRICS_EOF "# EOF\n"

static const struct {
    const char *path;
    fcgi_route_t route;
} routes[] = {
    {"/metrics", FCGI_ROUTE_METRICS},
    {"/api/v1/metrics", FCGI_ROUTE_METRICS_JSON},
    {"/api/v1/health/prometheus", FCGI_ROUTE_HEALTH},
    {"/api/v1/health/live", FCGI_ROUTE_LIVE},
};

fcgi_route_t fcgi_route_match(const char *uri, const char *prefix)
{
    size_t plen = prefix ? strlen(prefix) : 0;
    if (!uri || strncmp(uri, prefix ? prefix : "", plen) != 0)
        return FCGI_ROUTE_NONE;
    for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++)
        if (strcmp(uri + plen, routes[i].path) == 0)
            return routes[i].route;
    return FCGI_ROUTE_NONE;
}

const char *fcgi_status_reason(int status)
{
    switch (status) {
    case 200: return "OK";
    case 400: return "Bad Request";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 406: return "Not Acceptable";
    case 500: return "Internal Server Error";
    case 503: return "Service Unavailable";
    default: return "Unknown";
    }
}

static void text_response(fcgi_response_t *r, int status, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void text_response(fcgi_response_t *r, int status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(r->text, sizeof r->text - 1, fmt, ap);
    va_end(ap);
    size_t len = n < 0 ? 0 : (size_t)n < sizeof r->text - 1 ? (size_t)n : sizeof r->text - 2;
    r->text[len++] = '\n';
    r->text[len] = '\0';
    r->status = status;
    r->content_type = TEXT_PLAIN;
    r->gzip = 0;
    r->body = r->text;
    r->body_len = len;
}

/* The render_errors reason label of a fastprom_errcode. */
static const char *error_label(int code)
{
    switch (code) {
    case FASTPROM_ENOENT: return "missing";
    case FASTPROM_ECORRUPT: return "corrupt";
    case FASTPROM_EVERSION: return "version";
    case FASTPROM_EBUSY: return "busy";
    case FASTPROM_ENOMEM: return "nomem";
    default: return "error";
    }
}

static int append(fastprom_buf_t *buf, const char *s, size_t n)
{
    if (buf->cap - buf->len < n + 1) {
        size_t cap = buf->len + n + 1;
        char *grown = realloc(buf->data, cap); /* fastprom_buf_free() free()s it */
        if (!grown)
            return -1;
        buf->data = grown;
        buf->cap = cap;
    }
    memcpy(buf->data + buf->len, s, n);
    buf->len += n;
    buf->data[buf->len] = '\0';
    return 0;
}

static void health_input(fcgi_app_t *app, const fcgi_config_t *cfg, const fcgi_source_view_t *view,
                         fcgi_health_input_t *in, char *last_error, size_t last_error_len)
{
    memset(in, 0, sizeof *in);
    in->now = fcgi_wall_seconds();
    in->uptime_seconds = fcgi_monotonic_seconds() - app->started_monotonic;
    in->metric_namespace = cfg->metric_namespace;
    in->segment_path = view->path;
    in->attached = view->fp != NULL;
    in->segment_error = view->error;
    in->segment_reason = view->reason;
    in->stat = view->stat;
    in->last_write_age = view->last_write_age;
    in->scrape_errors = atomic_load(&app->render_errors);
    fcgi_app_last_error(app, last_error, last_error_len);
    in->last_scrape_error = last_error[0] ? last_error : NULL;
    in->limits = &cfg->health;
}

/* Brings the fastprom_segment_* self-metrics up to date; returns the health. */
static fcgi_health_status_t observe_segment(fcgi_app_t *app, const fcgi_config_t *cfg, const fcgi_source_view_t *view)
{
    fcgi_health_input_t in;
    char last_error[sizeof app->last_error];
    health_input(app, cfg, view, &in, last_error, sizeof last_error);
    fcgi_health_status_t status = fcgi_health_build(&in, NULL);
    fcgi_segment_observation_t obs = {view->fp != NULL, view->have_stat,      view->stat,
                                      view->generation, view->last_write_age, (int)status};
    fcgi_selfmetrics_observe(app->self, &obs);
    return status;
}

static void render_failed(fcgi_app_t *app, fcgi_response_t *r, int attached, const char *label, const char *what,
                          const char *why)
{
    char line[sizeof r->text - 2];
    snprintf(line, sizeof line, "%s: %s", what, why);
    fcgi_app_render_outcome(app, line, attached);
    fcgi_selfmetrics_render_error(app->self, label);
    text_response(r, 503, "%s", line);
}

/* Renders the exposition (or the JSON view) into scratch->render. */
static void render(fcgi_app_t *app, const fcgi_config_t *cfg, fcgi_scratch_t *sc, fcgi_coding_t coding,
                   fastprom_format_t format, const fcgi_query_t *q, fcgi_response_t *r, double started)
{
    fcgi_source_view_t view;
    fastprom_error_t err;
    fcgi_source_acquire(app->source, cfg->segment_path, &view, 0);
    if (!view.fp) {
        observe_segment(app, cfg, &view);
        render_failed(app, r, 0, error_label(view.error), "fastprom segment unavailable", view.reason);
        return;
    }
    /* The worker appends its own process_* and fastprom_* families: an
     * application family of the same name would make the exposition
     * invalid, so the worker's win. */
    static const char *const own_families[] = {"process_", "fastprom_"};
    fastprom_render_options_t opt = {.format = format,
                                     .names = (const char *const *)q->names,
                                     .nnames = q->nnames,
                                     .prefix = cfg->metric_prefix,
                                     .exclude = format == FASTPROM_FORMAT_JSON ? NULL : own_families,
                                     .nexclude = format == FASTPROM_FORMAT_JSON ? 0 : 2,
                                     .stat = &view.stat};
    if (format == FASTPROM_FORMAT_OPENMETRICS)
        opt.flags = FASTPROM_RENDER_NO_EOF | (cfg->openmetrics_created ? FASTPROM_RENDER_CREATED : 0);
    sc->render.len = 0;
    int rc = fastprom_render(view.fp, &opt, &sc->render, &err);
    opt.stat = NULL;
    int shrank = fcgi_source_shrank(&view);
    if (rc == 0 && !shrank)
        fcgi_source_note_stat(app->source, &view);
    if (!shrank)
        observe_segment(app, cfg, &view);
    fcgi_source_release(app->source, &view);
    if (shrank) { /* part of what was read were zeros standing in for the missing pages */
        char why[FCGI_REASON_MAX];
        snprintf(why, sizeof why,
                 "segment %s was truncated by another process during the render; it is attached "
                 "again once whole (whoever can write the segment can do this)",
                 view.path);
        render_failed(app, r, 1, "truncated", "the fastprom segment shrank while being read", why);
        return;
    }
    if (rc != 0) {
        render_failed(app, r, 1, error_label(rc), "cannot render the fastprom segment", err.text);
        return;
    }
    if (format != FASTPROM_FORMAT_JSON) {
        opt.prefix = NULL;
        opt.exclude = NULL;
        opt.nexclude = 0;
        opt.flags &= ~FASTPROM_RENDER_NO_EOF;
        if (fcgi_selfmetrics_render(app->self, &opt, &sc->render) != 0) {
            /* The application's families are what matters: serve them. */
            fcgi_selfmetrics_render_error(app->self, "self");
            if (format == FASTPROM_FORMAT_OPENMETRICS && append(&sc->render, OPENMETRICS_EOF, 6) != 0) {
                render_failed(app, r, 1, "nomem", "cannot finish the exposition", "out of memory");
                return;
            }
        }
    }
    double took = fcgi_monotonic_seconds() - started;
    if (took > cfg->render_deadline_seconds) {
        char why[160];
        snprintf(why, sizeof why, "took %.3f s, more than render_deadline_seconds (%g); raise it or filter with name[]",
                 took, cfg->render_deadline_seconds);
        render_failed(app, r, 1, "deadline", "rendering too slow", why);
        return;
    }
    fcgi_app_render_outcome(app, NULL, 1);
    r->status = 200;
    r->body = sc->render.data ? sc->render.data : "";
    r->body_len = sc->render.len;
    const char *zipped;
    size_t zipped_len;
    int want_gzip =
        coding == FCGI_CODING_GZIP_ONLY || (coding == FCGI_CODING_GZIP && r->body_len >= cfg->gzip_min_bytes);
    if (!want_gzip)
        return;
    if (fcgi_gzip_encode(sc->gzip, r->body, r->body_len, cfg->gzip_level, &zipped, &zipped_len) == 0) {
        r->body = zipped;
        r->body_len = zipped_len;
        r->gzip = 1;
    } else if (coding == FCGI_CODING_GZIP_ONLY) { /* identity is refused: no way left to send it */
        render_failed(app, r, 1, "nomem", "cannot gzip the exposition",
                      "out of memory, and Accept-Encoding refuses identity");
    }
}

/* Which kind of answer a scrape gets, for sharing one render among
 * identical scrapes (share.h). */
static unsigned share_key(int json, fcgi_exposition_t expo, fcgi_coding_t coding)
{
    unsigned kind = json ? 3u : (unsigned)expo;
    return kind * 3 + (unsigned)coding; /* identity, gzip or gzip only */
}

/* The 406 of a scrape whose Accept or Accept-Encoding refuses everything
 * offered (negotiate.h says when). */
static void not_acceptable(fcgi_response_t *r, int json, fcgi_exposition_t expo)
{
    if (!json && expo == FCGI_EXPO_NONE)
        text_response(r, 406,
                      "Accept refuses every format offered; /metrics offers text/plain; version=0.0.4, "
                      "application/openmetrics-text; version=1.0.0 and version=0.0.1");
    else
        text_response(r, 406,
                      "Accept-Encoding refuses every coding offered; /metrics and /api/v1/metrics offer "
                      "identity and gzip");
}

static void take_shared(fcgi_response_t *r, fcgi_shared_answer_t *a)
{
    r->shared = a;
    r->status = fcgi_shared_status(a);
    r->content_type = fcgi_shared_content_type(a);
    r->gzip = fcgi_shared_gzip(a);
    r->body = fcgi_shared_body(a);
    r->body_len = fcgi_shared_len(a);
}

static void handle_scrape(fcgi_app_t *app, const fcgi_config_t *cfg, const fcgi_request_t *req, fcgi_response_t *r,
                          int json)
{
    fcgi_exposition_t expo = fcgi_negotiate_exposition(req->accept);
    fcgi_coding_t coding = fcgi_negotiate_coding(req->accept_encoding);
    const char *label = json ? "json" : fcgi_exposition_label(expo);
    fastprom_format_t format = json ? FASTPROM_FORMAT_JSON : fcgi_exposition_format(expo);
    double started = fcgi_monotonic_seconds();
    char err[256];
    fcgi_query_t q;

    r->vary = 1;
    fcgi_selfmetrics_scrape_started(app->self);
    if (fcgi_query_parse(req->query, &q, err, sizeof err) != 0) {
        text_response(r, 400, "%s", err);
        goto done;
    }
    if ((!json && expo == FCGI_EXPO_NONE) || coding == FCGI_CODING_NONE) {
        not_acceptable(r, json, expo);
        goto done;
    }
    /* Filtered scrapes are rarely identical; they render on their own. */
    int shareable = q.nnames == 0;
    unsigned key = share_key(json, expo, coding);
    fcgi_shared_answer_t *shared = NULL;
    fcgi_share_role_t role =
        shareable ? fcgi_share_join(app->share, key, started + cfg->render_deadline_seconds, &shared) : FCGI_SHARE_LEAD;
    if (role == FCGI_SHARE_FOLLOW) {
        take_shared(r, shared);
        fcgi_selfmetrics_scrape_shared(app->self, label);
        goto done;
    }
    if (role == FCGI_SHARE_TIMEOUT) {
        char why[160];
        snprintf(why, sizeof why,
                 "waited %g s (render_deadline_seconds) for another scrape's render; raise it or "
                 "filter with name[]",
                 cfg->render_deadline_seconds);
        render_failed(app, r, 1, "deadline", "rendering too slow", why);
        goto done;
    }
    if (fcgi_app_render_begin(app, cfg->max_in_flight) != 0) {
        text_response(r, 503, "too many scrapes at once (max_in_flight is %u); retry later or raise max_in_flight",
                      cfg->max_in_flight);
    } else if (!(r->scratch = fcgi_app_scratch_take(app))) {
        render_failed(app, r, 1, "nomem", "cannot render the fastprom segment", "out of memory for the output buffers");
        fcgi_app_render_end(app);
    } else {
        render(app, cfg, r->scratch, coding, format, &q, r, started);
        if (r->status == 200)
            r->content_type = json ? fastprom_content_type(FASTPROM_FORMAT_JSON) : fcgi_exposition_content_type(expo);
        fcgi_app_render_end(app);
    }
    if (shareable)
        fcgi_share_publish(app->share, key, r->status, r->content_type, r->gzip, r->body, r->body_len);
done:
    fcgi_query_free(&q);
    fcgi_selfmetrics_scrape_finished(app->self, label, r->status, fcgi_monotonic_seconds() - started);
}

static void handle_health(fcgi_app_t *app, const fcgi_config_t *cfg, fcgi_response_t *r)
{
    fcgi_source_view_t view;
    fcgi_health_input_t in;
    char last_error[sizeof app->last_error];
    fcgi_source_acquire(app->source, cfg->segment_path, &view, 1);
    observe_segment(app, cfg, &view);
    health_input(app, cfg, &view, &in, last_error, sizeof last_error);
    fcgi_source_release(app->source, &view); /* in holds copies only */
    fcgi_health_status_t status = fcgi_health_build(&in, &r->owned);
    if (!r->owned) {
        text_response(r, 500, "out of memory building the health document");
        return;
    }
    r->status = fcgi_health_http_status(status);
    r->content_type = FCGI_HEALTH_CONTENT_TYPE;
    r->body = r->owned;
    r->body_len = strlen(r->owned);
}

static void handle_live(fcgi_app_t *app, fcgi_response_t *r)
{
    json_t *doc = json_pack("{s:s, s:s, s:f}", "status", "pass", "version", FASTPROM_VERSION, "uptime",
                            fcgi_monotonic_seconds() - app->started_monotonic);
    r->owned = doc ? json_dumps(doc, JSON_INDENT(2) | JSON_REAL_PRECISION(6)) : NULL;
    json_decref(doc);
    if (!r->owned) {
        text_response(r, 500, "out of memory building the liveness document");
        return;
    }
    r->status = 200;
    r->content_type = FCGI_HEALTH_CONTENT_TYPE;
    r->body = r->owned;
    r->body_len = strlen(r->owned);
}

void fcgi_handle(fcgi_app_t *app, const fcgi_request_t *req, fcgi_response_t *resp)
{
    memset(resp, 0, sizeof *resp);
    if (req->role && strcmp(req->role, "RESPONDER") != 0) {
        text_response(resp, 403, "fastprom-fcgi serves only the FastCGI RESPONDER role, not %.40s", req->role);
        return;
    }
    const fcgi_config_t *cfg = fcgi_app_config_acquire(app);
    fcgi_route_t route = fcgi_route_match(req->uri, cfg->uri_prefix);
    int get = req->method && strcmp(req->method, "GET") == 0;
    int head = req->method && strcmp(req->method, "HEAD") == 0;
    if (route == FCGI_ROUTE_NONE) {
        text_response(resp, 404,
                      "not found; fastprom-fcgi serves %s/metrics, %s/api/v1/metrics, "
                      "%s/api/v1/health/prometheus and %s/api/v1/health/live",
                      cfg->uri_prefix, cfg->uri_prefix, cfg->uri_prefix, cfg->uri_prefix);
    } else if (!get && !head) {
        text_response(resp, 405, "method not allowed; use GET or HEAD");
        resp->allow = "GET, HEAD";
    } else if (route == FCGI_ROUTE_METRICS || route == FCGI_ROUTE_METRICS_JSON) {
        handle_scrape(app, cfg, req, resp, route == FCGI_ROUTE_METRICS_JSON);
    } else if (route == FCGI_ROUTE_HEALTH) {
        handle_health(app, cfg, resp);
    } else {
        handle_live(app, resp);
    }
    resp->head = head;
    fcgi_app_config_release(app);
}

void fcgi_response_done(fcgi_app_t *app, fcgi_response_t *resp)
{
    free(resp->owned);
    resp->owned = NULL;
    fcgi_share_release(resp->shared);
    resp->shared = NULL;
    fcgi_app_scratch_give(app, resp->scratch);
    resp->scratch = NULL;
}
