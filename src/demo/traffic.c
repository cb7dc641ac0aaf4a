/*
 * traffic.c - the demo's simulated requests (traffic.h). Latencies are drawn,
 * not slept: a process sleeps only to keep its request rate, so many
 * processes can produce realistic histograms cheaply.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "traffic.h"

typedef struct route {
    const char *path;
    double typical_seconds; /* median latency */
} route_t;

static const route_t realistic_routes[] = {
    {"/", 0.004},
    {"/api/users", 0.030},
    {"/api/users/{id}", 0.012},
    {"/api/orders", 0.080},
    {"/api/orders/{id}", 0.020},
    {"/login", 0.150},
    {"/static/{path}", 0.002},
    {"/health", 0.001},
};
#define NREALISTIC (sizeof realistic_routes / sizeof realistic_routes[0])

static const char *const exception_names[] = {"TimeoutError", "ValueError", "KeyError"};

/* xorshift64*: small, fast, and plenty for made-up traffic. */
static double next_random(unsigned long long *state)
{
    *state ^= *state >> 12;
    *state ^= *state << 25;
    *state ^= *state >> 27;
    return (double)((*state * 2685821657736338717ull) >> 11) / 9007199254740992.0;
}

int demo_define_families(fastprom_t *fp, const demo_traffic_t *t, demo_families_t *fam, fastprom_error_t *err)
{
    static const char *const request_labels[] = {"method", "route", "status"};
    static const char *const route_labels[] = {"method", "route"};
    static const char *const exception_labels[] = {"method", "route", "exception"};
    fastprom_family_def_t def;

    memset(&def, 0, sizeof def);
    def.type = FASTPROM_COUNTER;
    def.name = "http_requests_total";
    def.help = "HTTP requests handled, by method, route template and status code.";
    def.label_names = request_labels;
    def.nlabels = 3;
    def.max_series = t->max_series;
    if (!(fam->requests = fastprom_family(fp, &def, err)))
        return -1;

    def.type = FASTPROM_HISTOGRAM;
    def.name = "http_request_duration_seconds";
    def.help = "HTTP request latency in seconds, by method and route template.";
    def.label_names = route_labels;
    def.nlabels = 2;
    if (!(fam->duration = fastprom_family(fp, &def, err)))
        return -1;

    def.type = FASTPROM_GAUGE;
    def.name = "http_requests_in_progress";
    def.help = "HTTP requests being handled now, summed over live processes.";
    def.gauge_mode = FASTPROM_GAUGE_LIVESUM;
    if (!(fam->in_progress = fastprom_family(fp, &def, err)))
        return -1;

    def.type = FASTPROM_COUNTER;
    def.name = "http_request_exceptions_total";
    def.help = "HTTP requests that raised an exception, by method, route template and exception type.";
    def.label_names = exception_labels;
    def.nlabels = 3;
    if (!(fam->exceptions = fastprom_family(fp, &def, err)))
        return -1;
    return 0;
}

typedef struct request {
    const char *method;
    char route[48];
    const char *status;
    const char *exception; /* NULL: none */
    double seconds;
} request_t;

static void make_request(const demo_traffic_t *t, unsigned long index, unsigned long long *rng, request_t *rq)
{
    double typical;
    if (t->routes) {
        snprintf(rq->route, sizeof rq->route, "/api/items/%lu", index % t->routes);
        typical = 0.010;
    } else {
        const route_t *r = &realistic_routes[(size_t)(next_random(rng) * NREALISTIC) % NREALISTIC];
        snprintf(rq->route, sizeof rq->route, "%s", r->path);
        typical = r->typical_seconds;
    }
    /* Log-normal-ish latency: a long right tail, as real services have. */
    rq->seconds = typical * exp(0.8 * (next_random(rng) + next_random(rng) + next_random(rng) - 1.5) * 2.0);
    rq->method = "GET";
    rq->status = "200";
    rq->exception = NULL;
    if (t->uniform)
        return;
    double u = next_random(rng);
    if (u < 0.15) {
        rq->method = "POST";
        rq->status = "201";
    } else if (u < 0.20) {
        rq->method = "DELETE";
        rq->status = "204";
    }
    double v = next_random(rng);
    if (v < 0.04) {
        rq->status = "404";
    } else if (v < 0.05) {
        rq->status = "500";
        rq->exception = exception_names[(size_t)(next_random(rng) * 3) % 3];
        rq->seconds *= 5;
    }
}

static void pace(double rate, volatile sig_atomic_t *stop)
{
    if (rate <= 0 || *stop)
        return;
    double wait = 1.0 / rate;
    struct timespec ts = {(time_t)wait, (long)((wait - (double)(time_t)wait) * 1e9)};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR && !*stop) {
    }
}

/* One update; counts it when the library refused it. */
static void count_refused(int rc, unsigned long *refused)
{
    if (rc != 0)
        (*refused)++;
}

unsigned long demo_run_traffic(const demo_families_t *fam, const demo_traffic_t *t, volatile sig_atomic_t *stop)
{
    unsigned long long rng = (unsigned long long)t->seed * 0x9E3779B97F4A7C15ull + 1;
    unsigned long refused = 0;
    for (unsigned long i = 0; !*stop && (t->requests == 0 || i < t->requests); i++) {
        request_t rq;
        make_request(t, i, &rng, &rq);
        const char *route_values[2] = {rq.method, rq.route};
        fastprom_series_t *progress = fastprom_series(fam->in_progress, route_values, NULL, NULL);
        fastprom_series_t *duration = fastprom_series(fam->duration, route_values, NULL, NULL);
        const char *request_values[3] = {rq.method, rq.route, rq.status};
        fastprom_series_t *requests = fastprom_series(fam->requests, request_values, NULL, NULL);
        if (!progress || !duration || !requests) {
            refused++;
            continue;
        }
        count_refused(fastprom_inc(progress, 1), &refused);
        pace(t->rate, stop); /* the "request" is in progress while we wait */
        count_refused(fastprom_observe(duration, rq.seconds), &refused);
        count_refused(fastprom_inc(requests, 1), &refused);
        if (rq.exception) {
            const char *exception_values[3] = {rq.method, rq.route, rq.exception};
            fastprom_series_t *exc = fastprom_series(fam->exceptions, exception_values, NULL, NULL);
            count_refused(exc ? fastprom_inc(exc, 1) : FASTPROM_ELIMIT, &refused);
        }
        count_refused(fastprom_dec(progress, 1), &refused);
    }
    return refused;
}
