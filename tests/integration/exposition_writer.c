/*
 * exposition_writer.c - writes what the fastprom CLI cannot (summaries,
 * exemplars, info, stateset, per-process gauges, a family without series)
 * into the segment at $FASTPROM_PATH, for test_exposition_tools.py, which
 * compiles it against build/libfastprom.a and knows every value written
 * here. Prints its pid (the "pid" label of the per-process gauge).
 */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "fastprom.h"

static fastprom_error_t err;

static void check(int ok, const char *what)
{
    if (!ok) {
        fprintf(stderr, "exposition_writer: %s: %s\n", what, err.text);
        exit(1);
    }
}

static fastprom_series_t *series(fastprom_t *fp, fastprom_family_def_t def, const char *const *values)
{
    fastprom_family_t *f = fastprom_family(fp, &def, &err);
    check(f != NULL, def.name);
    fastprom_series_t *s = fastprom_series(f, values, NULL, &err);
    check(s != NULL, def.name);
    return s;
}

int main(void)
{
    fastprom_t *fp = fastprom_open(NULL, &err);
    check(fp != NULL, "open");

    static const char *const service[] = {"service"};
    static const double quantiles[] = {0.5, 0.9, 0.99};
    fastprom_family_def_t rpc = {.type = FASTPROM_SUMMARY,
                                 .name = "rpc_duration_seconds",
                                 .help = "RPC latency.",
                                 .label_names = service,
                                 .nlabels = 1,
                                 .buckets = quantiles,
                                 .nbuckets = 3};
    fastprom_series_t *api = series(fp, rpc, (const char *[]){"api"});
    for (int i = 1; i <= 100; i++) /* 0.01 ... 1.00: sum 50.5 */
        check(fastprom_observe(api, i / 100.0) == 0, "observe rpc");
    series(fp, rpc, (const char *[]){"idle"}); /* no observations: NaN quantiles */

    fastprom_family_def_t orders = {.type = FASTPROM_COUNTER,
                                    .name = "orders",
                                    .help = "Orders placed.",
                                    .flags = FASTPROM_EXEMPLARS};
    fastprom_label_t trace = {"trace_id", "abc123"};
    check(fastprom_inc_exemplar(series(fp, orders, NULL), 2, &trace, 1, 1700000000.5) == 0, "inc_exemplar");

    static const double sizes[] = {100, 1000, 10000};
    fastprom_family_def_t payload = {.type = FASTPROM_HISTOGRAM,
                                     .name = "payload_bytes",
                                     .help = "Payload sizes.",
                                     .unit = "bytes",
                                     .buckets = sizes,
                                     .nbuckets = 3,
                                     .flags = FASTPROM_EXEMPLARS};
    fastprom_series_t *p = series(fp, payload, NULL);
    fastprom_label_t trace2 = {"trace_id", "def\"456"};
    check(fastprom_observe_exemplar(p, 300, &trace2, 1, 1700000001.25) == 0, "observe_exemplar");
    check(fastprom_observe(p, 50000) == 0, "observe payload");

    fastprom_family_def_t build = {.type = FASTPROM_INFO, .name = "build", .help = "Build information."};
    fastprom_label_t pairs[] = {{"version", "1.2.3"}, {"commit", "abc\"def\\ghi"}};
    check(fastprom_info(series(fp, build, NULL), pairs, 2, &err) == 0, "info");

    static const char *const instance[] = {"instance"};
    static const char *const states[] = {"starting", "running", "stopping"};
    fastprom_family_def_t state = {.type = FASTPROM_STATESET,
                                   .name = "service_state",
                                   .help = "Service state.",
                                   .label_names = instance,
                                   .nlabels = 1,
                                   .states = states,
                                   .nstates = 3};
    check(fastprom_state(series(fp, state, (const char *[]){"a"}), 1) == 0, "state");

    static const char *const pool[] = {"pool"};
    fastprom_family_def_t rss = {.type = FASTPROM_GAUGE,
                                 .name = "worker_rss_bytes",
                                 .help = "Worker RSS.",
                                 .label_names = pool,
                                 .nlabels = 1,
                                 .gauge_mode = FASTPROM_GAUGE_ALL};
    check(fastprom_set(series(fp, rss, (const char *[]){"web"}), 12345) == 0, "set rss");

    fastprom_family_def_t idle = {.type = FASTPROM_COUNTER, .name = "idle_events", .help = "Never incremented."};
    check(fastprom_family(fp, &idle, &err) != NULL, "idle_events");

    printf("%d\n", (int)getpid());
    fastprom_close(fp);
    return 0;
}
