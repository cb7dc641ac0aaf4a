/*
 * selfmetrics.c - the worker's fastprom_* and process_* metrics
 * (selfmetrics.h), in a FASTPROM_PRIVATE segment.
 *
 * Gauges that mirror a reading (segment size, series counts, process
 * memory) use the MOSTRECENT mode: several threads set them and the last
 * reading is the truth, where LIVESUM would add the threads' slots up.
 * Counters that mirror a cumulative reading (CPU seconds, dropped series)
 * are advanced by the reading's increase, under one mutex.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "procstat.h"
#include "selfmetrics.h"

struct fcgi_selfmetrics {
    fastprom_t *fp;
    fastprom_family_t *scrape_duration, *scrapes, *scrapes_shared, *in_flight, *render_errors, *connections_dropped;
    fastprom_family_t *segment_up, *segment_size, *segment_used, *families, *series;
    fastprom_family_t *writer_slots, *writer_processes, *dropped_series, *dropped_updates, *fallback_updates;
    fastprom_family_t *last_write_age, *health_status, *build_info;
    fastprom_family_t *cpu, *vmem, *rss, *start_time, *open_fds, *max_fds;

    pthread_mutex_t mirror_lock; /* the last readings below */
    double last_cpu;
    uint64_t mirror_generation;
    uint64_t last_dropped_series, last_dropped_updates, last_fallback_updates;
};

static const double duration_buckets[] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                          0.1,    0.25,  0.5,    1,     2.5,  5,     10};

typedef struct family_spec {
    fastprom_family_t **slot;
    fastprom_type_t type;
    const char *name;
    const char *help;
    const char *label; /* at most two labels: label, label2 */
    const char *label2;
    fastprom_gauge_mode_t mode;
} family_spec_t;

static int define(fastprom_t *fp, const family_spec_t *spec, fastprom_error_t *err)
{
    const char *labels[2] = {spec->label, spec->label2};
    fastprom_family_def_t def = {0};
    def.type = spec->type;
    def.name = spec->name;
    def.help = spec->help;
    def.label_names = labels;
    def.nlabels = spec->label2 ? 2 : spec->label ? 1 : 0;
    def.gauge_mode = spec->mode;
    if (spec->type == FASTPROM_HISTOGRAM) {
        def.buckets = duration_buckets;
        def.nbuckets = sizeof duration_buckets / sizeof duration_buckets[0];
    }
    *spec->slot = fastprom_family(fp, &def, err);
    return *spec->slot ? 0 : -1;
}

/* Opens the private segment and defines every family; on failure the
 * library's reason is in *err and sm is left for fcgi_selfmetrics_free. */
static int build(fcgi_selfmetrics_t *sm, unsigned threads, fastprom_error_t *err)
{
    fastprom_options_t opt = {0};
    opt.flags = FASTPROM_PRIVATE;
    opt.size = 1u << 20;
    opt.max_slots = threads + 4; /* the worker threads, main, and spares */
    sm->fp = fastprom_open(&opt, err);
    if (!sm->fp)
        return -1;
    const fastprom_gauge_mode_t SUM = FASTPROM_GAUGE_LIVESUM, LAST = FASTPROM_GAUGE_MOSTRECENT;
    const family_spec_t specs[] = {
        {&sm->scrape_duration, FASTPROM_HISTOGRAM, "fastprom_scrape_duration_seconds",
         "Time to answer a scrape, render and compression included.", "format", NULL, SUM},
        {&sm->scrapes, FASTPROM_COUNTER, "fastprom_scrapes_total", "Scrapes answered, by format and HTTP status code.",
         "format", "code", SUM},
        {&sm->scrapes_shared, FASTPROM_COUNTER, "fastprom_scrapes_shared_total",
         "Scrapes answered by a render that another identical scrape began after they arrived.", "format", NULL, SUM},
        {&sm->in_flight, FASTPROM_GAUGE, "fastprom_scrapes_in_flight", "Scrapes being answered now.", NULL, NULL, SUM},
        {&sm->render_errors, FASTPROM_COUNTER, "fastprom_render_errors_total",
         "Scrapes that could not render the application's segment, by reason.", "reason", NULL, SUM},
        {&sm->connections_dropped, FASTPROM_COUNTER, "fastprom_connections_dropped_total",
         "FastCGI connections closed unanswered (malformed, too_large, truncated, timeout) or cut at their "
         "deadline (deadline).",
         "reason", NULL, SUM},
        {&sm->segment_up, FASTPROM_GAUGE, "fastprom_segment_up",
         "1 when the application's segment is attached and valid.", NULL, NULL, LAST},
        {&sm->segment_size, FASTPROM_GAUGE, "fastprom_segment_size_bytes", "Size of the application's segment.", NULL,
         NULL, LAST},
        {&sm->segment_used, FASTPROM_GAUGE, "fastprom_segment_used_bytes", "Bytes in use in the application's segment.",
         NULL, NULL, LAST},
        {&sm->families, FASTPROM_GAUGE, "fastprom_families", "Metric families in the application's segment, by type.",
         "type", NULL, LAST},
        {&sm->series, FASTPROM_GAUGE, "fastprom_series", "Series in the application's segment, by type.", "type", NULL,
         LAST},
        {&sm->writer_slots, FASTPROM_GAUGE, "fastprom_writer_slots",
         "Writer slots of the application's segment: live, dead (not folded yet), free.", "state", NULL, LAST},
        {&sm->writer_processes, FASTPROM_GAUGE, "fastprom_writer_processes",
         "Running processes that write to the application's segment.", NULL, NULL, LAST},
        {&sm->dropped_series, FASTPROM_COUNTER, "fastprom_dropped_series_total",
         "Series the application's segment refused (family limit or segment full).", NULL, NULL, SUM},
        {&sm->dropped_updates, FASTPROM_COUNTER, "fastprom_dropped_updates_total",
         "Updates the application's segment refused (no room for a new cell).", NULL, NULL, SUM},
        {&sm->fallback_updates, FASTPROM_COUNTER, "fastprom_fallback_updates_total",
         "Updates recorded in shared fallback cells because the application's segment had no room for the writer's "
         "own (nothing lost; make the segment bigger).",
         NULL, NULL, SUM},
        {&sm->last_write_age, FASTPROM_GAUGE, "fastprom_last_write_age_seconds",
         "Seconds since a value in the application's segment last changed.", NULL, NULL, LAST},
        {&sm->health_status, FASTPROM_GAUGE, "fastprom_health_status", "Health: 0 pass, 1 warn, 2 fail.", NULL, NULL,
         LAST},
        {&sm->build_info, FASTPROM_GAUGE, "fastprom_build_info", "fastprom version; the value is always 1.", "version",
         NULL, LAST},
        {&sm->cpu, FASTPROM_COUNTER, "process_cpu_seconds_total", "Total user and system CPU time spent in seconds.",
         NULL, NULL, SUM},
        {&sm->vmem, FASTPROM_GAUGE, "process_virtual_memory_bytes", "Virtual memory size in bytes.", NULL, NULL, LAST},
        {&sm->rss, FASTPROM_GAUGE, "process_resident_memory_bytes", "Resident memory size in bytes.", NULL, NULL, LAST},
        {&sm->start_time, FASTPROM_GAUGE, "process_start_time_seconds",
         "Start time of the process since unix epoch in seconds.", NULL, NULL, LAST},
        {&sm->open_fds, FASTPROM_GAUGE, "process_open_fds", "Number of open file descriptors.", NULL, NULL, LAST},
        {&sm->max_fds, FASTPROM_GAUGE, "process_max_fds", "Maximum number of open file descriptors.", NULL, NULL, LAST},
    };
    for (size_t i = 0; i < sizeof specs / sizeof specs[0]; i++)
        if (define(sm->fp, &specs[i], err) != 0)
            return -1;
    const char *version = fastprom_version();
    fastprom_series_t *info = fastprom_series(sm->build_info, &version, NULL, err);
    return info && fastprom_set(info, 1) == 0 ? 0 : -1;
}

fcgi_selfmetrics_t *fcgi_selfmetrics_new(unsigned threads, char *err, size_t errlen)
{
    fcgi_selfmetrics_t *sm = calloc(1, sizeof *sm);
    if (!sm) {
        snprintf(err, errlen, "out of memory for the worker's self-metrics");
        return NULL;
    }
    pthread_mutex_init(&sm->mirror_lock, NULL);
    fastprom_error_t ferr = {0};
    if (build(sm, threads, &ferr) != 0) {
        snprintf(err, errlen, "cannot set up the worker's self-metrics: %s",
                 ferr.text[0] ? ferr.text : "out of memory");
        fcgi_selfmetrics_free(sm);
        return NULL;
    }
    return sm;
}

void fcgi_selfmetrics_free(fcgi_selfmetrics_t *sm)
{
    if (!sm)
        return;
    fastprom_close(sm->fp);
    pthread_mutex_destroy(&sm->mirror_lock);
    free(sm);
}

/* Series of a family by up to two label values. Updates to a NULL series
 * are dropped: self-metrics never fail a scrape. */
static fastprom_series_t *series2(fastprom_family_t *fam, const char *a, const char *b)
{
    const char *values[2] = {a, b};
    return fastprom_series(fam, values, NULL, NULL);
}

static void set(fastprom_family_t *fam, const char *label, double v)
{
    fastprom_series_t *s = series2(fam, label, NULL);
    if (s)
        fastprom_set(s, v);
}

static void inc(fastprom_series_t *s, double v)
{
    if (s)
        fastprom_inc(s, v);
}

void fcgi_selfmetrics_scrape_started(fcgi_selfmetrics_t *sm)
{
    inc(series2(sm->in_flight, NULL, NULL), 1);
}

void fcgi_selfmetrics_scrape_finished(fcgi_selfmetrics_t *sm, const char *format, int code, double seconds)
{
    char code_text[16];
    snprintf(code_text, sizeof code_text, "%d", code);
    fastprom_series_t *s = series2(sm->in_flight, NULL, NULL);
    if (s)
        fastprom_dec(s, 1);
    inc(series2(sm->scrapes, format, code_text), 1);
    s = series2(sm->scrape_duration, format, NULL);
    if (s)
        fastprom_observe(s, seconds);
}

void fcgi_selfmetrics_scrape_shared(fcgi_selfmetrics_t *sm, const char *format)
{
    inc(series2(sm->scrapes_shared, format, NULL), 1);
}

void fcgi_selfmetrics_render_error(fcgi_selfmetrics_t *sm, const char *reason)
{
    inc(series2(sm->render_errors, reason, NULL), 1);
}

void fcgi_selfmetrics_connection_dropped(fcgi_selfmetrics_t *sm, const char *reason)
{
    inc(series2(sm->connections_dropped, reason, NULL), 1);
}

/* Advances a mirroring counter by how much the reading grew since *last. */
static void mirror(fastprom_family_t *fam, uint64_t reading, uint64_t *last)
{
    if (reading > *last)
        inc(series2(fam, NULL, NULL), (double)(reading - *last));
    else
        inc(series2(fam, NULL, NULL), 0); /* keep the series visible */
    *last = reading;
}

void fcgi_selfmetrics_observe(fcgi_selfmetrics_t *sm, const fcgi_segment_observation_t *obs)
{
    set(sm->segment_up, NULL, obs->up);
    set(sm->health_status, NULL, obs->health_status);
    if (obs->up && !obs->have_stat)
        return; /* the segment was mid-change: keep the previous readings */
    fastprom_stat_t zero;
    memset(&zero, 0, sizeof zero);
    const fastprom_stat_t *st = obs->up ? &obs->stat : &zero;
    set(sm->segment_size, NULL, (double)st->size);
    set(sm->segment_used, NULL, (double)st->used);
    for (int t = 1; t < FASTPROM_NTYPES; t++) {
        set(sm->families, fastprom_type_name(t), st->families_by_type[t]);
        set(sm->series, fastprom_type_name(t), st->series_by_type[t]);
    }
    set(sm->writer_slots, "live", st->slots_live);
    set(sm->writer_slots, "dead", st->slots_dead);
    set(sm->writer_slots, "free", st->slots_total - st->slots_live - st->slots_dead);
    set(sm->writer_processes, NULL, st->processes_live);
    set(sm->last_write_age, NULL, obs->up ? obs->last_write_age : 0);
    if (!obs->up)
        return;
    pthread_mutex_lock(&sm->mirror_lock);
    if (obs->generation != sm->mirror_generation) { /* another segment: its counts start over */
        sm->mirror_generation = obs->generation;
        sm->last_dropped_series = sm->last_dropped_updates = sm->last_fallback_updates = 0;
    }
    mirror(sm->dropped_series, st->dropped_series, &sm->last_dropped_series);
    mirror(sm->dropped_updates, st->dropped_updates, &sm->last_dropped_updates);
    mirror(sm->fallback_updates, st->fallback_updates, &sm->last_fallback_updates);
    pthread_mutex_unlock(&sm->mirror_lock);
}

static void observe_process(fcgi_selfmetrics_t *sm)
{
    fcgi_procstat_t ps;
    if (fcgi_procstat_read(&ps) != 0)
        return;
    pthread_mutex_lock(&sm->mirror_lock);
    inc(series2(sm->cpu, NULL, NULL), ps.cpu_seconds > sm->last_cpu ? ps.cpu_seconds - sm->last_cpu : 0);
    if (ps.cpu_seconds > sm->last_cpu)
        sm->last_cpu = ps.cpu_seconds;
    pthread_mutex_unlock(&sm->mirror_lock);
    set(sm->vmem, NULL, ps.virtual_bytes);
    set(sm->rss, NULL, ps.resident_bytes);
    set(sm->start_time, NULL, ps.start_time_seconds);
    set(sm->open_fds, NULL, ps.open_fds);
    set(sm->max_fds, NULL, ps.max_fds);
}

int fcgi_selfmetrics_render(fcgi_selfmetrics_t *sm, const fastprom_render_options_t *opt, fastprom_buf_t *out)
{
    observe_process(sm);
    fastprom_error_t err;
    return fastprom_render(sm->fp, opt, out, &err) == 0 ? 0 : -1;
}
