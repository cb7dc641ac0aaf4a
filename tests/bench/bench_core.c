/*
 * bench_core.c - figures for the segment and the renderer: hot-path ns/op,
 * series lookup and creation, bytes per series, render cost at 100k series,
 * and the scrape of 16 live processes x 1,000 label sets x (counter +
 * histogram). Prints "FIGURE name value unit" lines; tests/bench/bench_core.py
 * runs it beside prometheus_client's multiprocess mode and prints ratios.
 */
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "fastprom.h"

static double now_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e9 + t.tv_nsec;
}

static void figure(const char *name, double value, const char *unit)
{
    printf("FIGURE %s %.3f %s\n", name, value, unit);
    fflush(stdout);
}

static void die(const char *what, const fastprom_error_t *err)
{
    fprintf(stderr, "bench_core: %s: %s\n", what, err ? err->text : "failed");
    exit(1);
}

static fastprom_t *open_segment(const char *path, size_t size, unsigned limit)
{
    fastprom_error_t err;
    unlink(path);
    fastprom_options_t o = {.path = path, .size = size, .family_limit = limit};
    fastprom_t *fp = fastprom_open(&o, &err);
    if (!fp)
        die("open", &err);
    return fp;
}

static fastprom_family_t *family(fastprom_t *fp, fastprom_type_t type, const char *name, size_t nlabels,
                                 const double *bounds, size_t nbounds)
{
    static const char *const labels[] = {"route", "method"};
    fastprom_error_t err;
    fastprom_family_def_t d = {.type = type,
                               .name = name,
                               .help = "bench",
                               .label_names = labels,
                               .nlabels = nlabels,
                               .buckets = bounds,
                               .nbuckets = nbounds};
    fastprom_family_t *f = fastprom_family(fp, &d, &err);
    if (!f)
        die(name, &err);
    return f;
}

static fastprom_series_t *series(fastprom_family_t *f, const char *route, const char *method)
{
    fastprom_error_t err;
    const char *values[] = {route, method};
    fastprom_series_t *s = fastprom_series(f, values, NULL, &err);
    if (!s)
        die("series", &err);
    return s;
}

/* Best of three runs of n calls. */
#define TIME_LOOP(n, body)                                                                                             \
    ({                                                                                                                 \
        double best = 1e300;                                                                                           \
        for (int run = 0; run < 3; run++) {                                                                            \
            double t0 = now_ns();                                                                                      \
            for (long i = 0; i < (n); i++) {                                                                           \
                body;                                                                                                  \
            }                                                                                                          \
            double t = (now_ns() - t0) / (n);                                                                          \
            if (t < best)                                                                                              \
                best = t;                                                                                              \
        }                                                                                                              \
        best;                                                                                                          \
    })

static void hot_path(void)
{
    fastprom_t *fp = open_segment("/dev/shm/fastprom-bench-hot", 16u << 20, 0);
    double b10[] = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5};
    double q[] = {0.5, 0.9, 0.99};
    fastprom_series_t *c = series(family(fp, FASTPROM_COUNTER, "c_total", 2, NULL, 0), "/a", "GET");
    fastprom_series_t *g = series(family(fp, FASTPROM_GAUGE, "g", 2, NULL, 0), "/a", "GET");
    fastprom_series_t *h = series(family(fp, FASTPROM_HISTOGRAM, "h_seconds", 2, b10, 10), "/a", "GET");
    fastprom_series_t *s = series(family(fp, FASTPROM_SUMMARY, "s_seconds", 2, q, 3), "/a", "GET");
    fastprom_family_t *lf = family(fp, FASTPROM_COUNTER, "lookup_total", 2, NULL, 0);
    series(lf, "/users/{id}", "GET");
    /* Observed values cycle through every bucket, as real latencies do. */
    static double values[1024];
    for (int i = 0; i < 1024; i++)
        values[i] = (i % 128) * 0.05 + 0.001;
    fastprom_inc(c, 1), fastprom_set(g, 1), fastprom_observe(h, 1), fastprom_observe(s, 1);
    figure("counter_inc", TIME_LOOP(100000000L, fastprom_inc(c, 1.0)), "ns/op");
    figure("counter_add_fractional", TIME_LOOP(50000000L, fastprom_inc(c, 0.5)), "ns/op");
    figure("gauge_set", TIME_LOOP(100000000L, fastprom_set(g, (double)i)), "ns/op");
    figure("gauge_inc", TIME_LOOP(20000000L, fastprom_inc(g, 1.0)), "ns/op");
    figure("histogram_observe_10_buckets", TIME_LOOP(30000000L, fastprom_observe(h, values[i & 1023])), "ns/op");
    figure("summary_observe_3_quantiles", TIME_LOOP(30000000L, fastprom_observe(s, values[i & 1023])), "ns/op");
    figure("series_lookup_2_labels", TIME_LOOP(5000000L, series(lf, "/users/{id}", "GET")), "ns/op");
    fastprom_close(fp);
    unlink("/dev/shm/fastprom-bench-hot");
}

/* A full segment (issue 12): a thread with no block for cells of its own
 * counts in the series' shared fallback cells, with atomic read-modify-writes.
 * The anchor is the same update through own cells, in the same run. */
struct full_bench {
    fastprom_series_t *c, *h;
    double counter_ns, observe_ns;
};

static void *shared_cells(void *arg)
{
    struct full_bench *b = arg;
    b->counter_ns = TIME_LOOP(20000000L, fastprom_inc(b->c, 1.0));
    b->observe_ns = TIME_LOOP(10000000L, fastprom_observe(b->h, 0.3));
    return NULL;
}

static void *contend(void *arg)
{
    struct full_bench *b = arg;
    for (long i = 0; i < 5000000L; i++)
        fastprom_inc(b->c, 1.0);
    return NULL;
}

static int double_cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* The median of 9 runs of ns/inc on this thread's CPU clock: a process
 * waiting for a core on a busy host does not count, a cache miss does. */
static double cpu_ns_per_inc(fastprom_series_t *s)
{
    double runs[9];
    for (int r = 0; r < 9; r++) {
        struct timespec a, b;
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &a);
        for (long i = 0; i < 1000000L; i++)
            fastprom_inc(s, 1.0);
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &b);
        runs[r] = ((b.tv_sec - a.tv_sec) * 1e9 + (b.tv_nsec - a.tv_nsec)) / 1e6;
    }
    qsort(runs, 9, sizeof *runs, double_cmp);
    return runs[4];
}

/* Processes started after the segment filled (recycled workers) count
 * through shared cells, each process its own series here: they share no
 * data, so two at once should each cost what one alone costs. Returns the
 * processes' mean ns/op. */
static double shared_cells_processes(fastprom_series_t *const *s, int nproc)
{
    int go[2], res[2];
    if (pipe(go) || pipe(res))
        die("pipe", NULL);
    pid_t kids[2];
    for (int k = 0; k < nproc; k++) {
        if ((kids[k] = fork()) == 0) {
            /* One core each: two processes time-sharing one core would
             * never bounce a cache line between them. */
            cpu_set_t cpus;
            CPU_ZERO(&cpus);
            CPU_SET(k % sysconf(_SC_NPROCESSORS_ONLN), &cpus);
            sched_setaffinity(0, sizeof cpus, &cpus);
            close(go[1]); /* the parent's end: its exit is our EOF */
            char x;
            fastprom_inc(s[k], 1.0); /* claims what it can before the clock starts */
            if (read(go[0], &x, 1) != 1)
                _exit(1);
            double ns = cpu_ns_per_inc(s[k]);
            _exit(write(res[1], &ns, sizeof ns) == sizeof ns ? 0 : 1);
        }
    }
    if (write(go[1], "xx", (size_t)nproc) != nproc)
        die("pipe", NULL);
    double sum = 0;
    for (int k = 0; k < nproc; k++) {
        double ns;
        if (read(res[0], &ns, sizeof ns) != sizeof ns)
            die("a counting process", NULL);
        sum += ns;
    }
    for (int k = 0; k < nproc; k++)
        waitpid(kids[k], NULL, 0);
    close(go[0]), close(go[1]), close(res[0]), close(res[1]);
    return sum / nproc;
}

static void full_segment(void)
{
    const char *path = "/dev/shm/fastprom-bench-full";
    fastprom_t *fp = open_segment(path, FASTPROM_MIN_SIZE, 1000000);
    double b10[] = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5};
    struct full_bench b = {
        .c = series(family(fp, FASTPROM_COUNTER, "c_total", 2, NULL, 0), "/a", "GET"),
        .h = series(family(fp, FASTPROM_HISTOGRAM, "h_seconds", 2, b10, 10), "/a", "GET"),
    };
    fastprom_family_t *pf = family(fp, FASTPROM_COUNTER, "p_total", 2, NULL, 0);
    fastprom_series_t *per_process[2] = {series(pf, "/a", "GET"), series(pf, "/b", "GET")};
    fastprom_inc(b.c, 1); /* this thread's own cells, before the segment fills */
    fastprom_family_t *filler = family(fp, FASTPROM_COUNTER, "filler_total", 2, NULL, 0);
    char route[600];
    memset(route, 'r', sizeof route - 1);
    route[sizeof route - 1] = '\0';
    fastprom_error_t err;
    for (int i = 0;; i++) {
        char id[16];
        snprintf(id, sizeof id, "%015d", i);
        memcpy(route, id, 15);
        const char *values[] = {route, "GET"};
        if (!fastprom_series(filler, values, NULL, &err))
            break;
    }
    figure("full_counter_inc_own_cells", TIME_LOOP(20000000L, fastprom_inc(b.c, 1.0)), "ns/op");
    pthread_t t[2];
    pthread_create(&t[0], NULL, shared_cells, &b);
    pthread_join(t[0], NULL);
    figure("full_counter_inc_shared_cells", b.counter_ns, "ns/op");
    figure("full_histogram_observe_shared_cells", b.observe_ns, "ns/op");
    double t0 = now_ns();
    for (int k = 0; k < 2; k++)
        pthread_create(&t[k], NULL, contend, &b);
    for (int k = 0; k < 2; k++)
        pthread_join(t[k], NULL);
    figure("full_counter_inc_shared_cells_2_threads", (now_ns() - t0) / 10000000.0, "ns/op");
    uint64_t before = 0;
    fastprom_stat_t st;
    if (!fastprom_stat(fp, &st, &err))
        before = st.fallback_updates;
    /* Anchor: two processes on one series, which share its cells' line for
     * real. Rounds interleave the cases; the median round of each counts
     * (the processes overlap only while the host gives both a core). */
    fastprom_series_t *same[2] = {per_process[0], per_process[0]};
    double one[7], two[7], two_same[7];
    for (int round = 0; round < 7; round++) {
        one[round] = shared_cells_processes(per_process, 1);
        two[round] = shared_cells_processes(per_process, 2);
        two_same[round] = shared_cells_processes(same, 2);
    }
    qsort(one, 7, sizeof *one, double_cmp);
    qsort(two, 7, sizeof *two, double_cmp);
    qsort(two_same, 7, sizeof *two_same, double_cmp);
    figure("full_counter_inc_shared_cells_1_process", one[3], "ns/op");
    figure("full_counter_inc_shared_cells_2_processes", two[3], "ns/op");
    figure("full_counter_inc_shared_cells_2_processes_one_series", two_same[3], "ns/op");
    if (fastprom_stat(fp, &st, &err) || st.fallback_updates < before + 7 * 5 * 9000000)
        die("the processes did not count through the shared cells", NULL);
    fastprom_close(fp);
    unlink(path);
}

/* Creating the next 1,000 series when 1k, 10k, 100k exist; then the bytes
 * one series costs, and the render of all of them. */
static void creation_and_render(void)
{
    const char *path = "/dev/shm/fastprom-bench-many";
    fastprom_t *fp = open_segment(path, 256u << 20, 200000);
    fastprom_family_t *f = family(fp, FASTPROM_COUNTER, "requests_total", 2, NULL, 0);
    fastprom_stat_t st0, st1;
    fastprom_stat(fp, &st0, NULL);
    char route[64];
    int made = 0;
    int marks[] = {1000, 10000, 100000};
    for (size_t m = 0; m < 3; m++) {
        for (; made < marks[m]; made++) {
            snprintf(route, sizeof route, "/api/v1/item/%d", made);
            fastprom_inc(series(f, route, "GET"), 1);
        }
        double t0 = now_ns();
        for (int k = 0; k < 1000; k++) {
            snprintf(route, sizeof route, "/api/v1/new/%d/%d", marks[m], k);
            fastprom_inc(series(f, route, "POST"), 1);
        }
        char name[64];
        snprintf(name, sizeof name, "series_create_at_%dk", marks[m] / 1000);
        figure(name, (now_ns() - t0) / 1000, "ns/series");
    }
    made += 3000;
    fastprom_stat(fp, &st1, NULL);
    figure("bytes_per_counter_series", (double)(st1.used - st0.used) / made, "bytes");

    fastprom_t *ro;
    {
        fastprom_error_t err;
        fastprom_options_t o = {.path = path, .flags = FASTPROM_READONLY};
        if (!(ro = fastprom_open(&o, &err)))
            die("open read-only", &err);
    }
    /* An exporter keeps its handle and its output buffer between scrapes:
     * the first render pays the sort and the page faults ("cold"), the
     * following ones are the steady state ("warm", best of 5). */
    const fastprom_format_t formats[] = {FASTPROM_FORMAT_TEXT, FASTPROM_FORMAT_OPENMETRICS, FASTPROM_FORMAT_JSON};
    const char *names[] = {"text", "openmetrics", "json"};
    fastprom_buf_t buf = {0};
    for (int k = 0; k < 3; k++) {
        double best = 1e300, cold = 0;
        for (int run = 0; run < 6; run++) {
            fastprom_render_options_t o = {.format = formats[k]};
            buf.len = 0;
            double t0 = now_ns();
            fastprom_error_t err;
            if (fastprom_render(ro, &o, &buf, &err))
                die("render", &err);
            double t = now_ns() - t0;
            if (run == 0)
                cold = t;
            else if (t < best)
                best = t;
        }
        char name[64];
        snprintf(name, sizeof name, "render_%s_%dk_series_cold", names[k], made / 1000);
        figure(name, cold / 1e6, "ms");
        snprintf(name, sizeof name, "render_%s_%dk_series", names[k], made / 1000);
        figure(name, best / 1e6, "ms");
        snprintf(name, sizeof name, "render_%s_per_sample", names[k]);
        figure(name, best / made, "ns/sample");
    }
    fastprom_buf_free(&buf);
    fastprom_close(ro);
    fastprom_close(fp);

    /* Histograms (default 14 buckets): bytes per series with one writer. */
    fp = open_segment(path, 64u << 20, 20000);
    f = family(fp, FASTPROM_HISTOGRAM, "latency_seconds", 2, NULL, 0);
    fastprom_stat(fp, &st0, NULL);
    for (int i = 0; i < 10000; i++) {
        snprintf(route, sizeof route, "/r/%d", i);
        fastprom_observe(series(f, route, "GET"), 0.1);
    }
    fastprom_stat(fp, &st1, NULL);
    figure("bytes_per_histogram_series", (double)(st1.used - st0.used) / 10000, "bytes");
    fastprom_close(fp);
    unlink(path);
}

/* 16 live writer processes, each with 1,000 label sets of a counter and a
 * histogram (prometheus_client's default buckets): the exporter's scrape. */
static void scrape_16x1000(void)
{
    const char *path = "/dev/shm/fastprom-bench-scrape";
    fastprom_t *fp = open_segment(path, 64u << 20, 0);
    int ready[2], stop[2];
    if (pipe(ready) || pipe(stop))
        die("pipe", NULL);
    pid_t kids[16];
    for (int k = 0; k < 16; k++) {
        if ((kids[k] = fork()) == 0) {
            close(stop[1]); /* so the parent's close is our EOF */
            fastprom_family_t *c = family(fp, FASTPROM_COUNTER, "http_requests_total", 1, NULL, 0);
            fastprom_family_t *h = family(fp, FASTPROM_HISTOGRAM, "http_request_duration_seconds", 1, NULL, 0);
            char route[32];
            for (int i = 0; i < 1000; i++) {
                snprintf(route, sizeof route, "/route/%d", i);
                const char *v[] = {route};
                fastprom_inc(fastprom_series(c, v, NULL, NULL), 1);
                fastprom_observe(fastprom_series(h, v, NULL, NULL), (i % 100) * 0.01);
            }
            char x = 1;
            if (write(ready[1], &x, 1) != 1 || read(stop[0], &x, 1) < 0)
                _exit(1);
            _exit(0);
        }
    }
    for (int k = 0; k < 16; k++) {
        char x;
        if (read(ready[0], &x, 1) != 1)
            die("writer", NULL);
    }
    fastprom_error_t err;
    fastprom_options_t o = {.path = path, .flags = FASTPROM_READONLY};
    fastprom_t *ro = fastprom_open(&o, &err);
    if (!ro)
        die("open read-only", &err);
    double best = 1e300, total = 0;
    int runs = 50;
    fastprom_buf_t buf = {0};
    size_t samples = 0;
    for (int run = 0; run < runs; run++) {
        fastprom_render_options_t ro_opt = {.format = FASTPROM_FORMAT_TEXT};
        buf.len = 0;
        double t0 = now_ns();
        if (fastprom_render(ro, &ro_opt, &buf, &err))
            die("render", &err);
        double t = now_ns() - t0;
        total += t;
        if (t < best)
            best = t;
    }
    for (size_t i = 0; i < buf.len; i++)
        samples += buf.data[i] == '\n' && i + 1 < buf.len && buf.data[i + 1] != '#';
    size_t bytes = buf.len;
    fastprom_buf_free(&buf);
    figure("scrape_16x1000_samples", (double)samples, "samples");
    figure("scrape_16x1000_per_sample", best / samples, "ns/sample");
    fastprom_stat_t st;
    fastprom_stat(ro, &st, NULL);
    figure("scrape_16x1000_best", best / 1e6, "ms");
    figure("scrape_16x1000_mean", total / runs / 1e6, "ms");
    figure("scrape_16x1000_body", bytes / 1024.0, "KiB");
    figure("scrape_16x1000_segment_used", st.used / 1048576.0, "MiB");
    close(stop[1]);
    for (int k = 0; k < 16; k++)
        waitpid(kids[k], NULL, 0);
    fastprom_close(ro);
    fastprom_close(fp);
    unlink(path);
}

int main(int argc, char **argv)
{
    const char *only = argc > 1 ? argv[1] : "";
    if (!*only || !strcmp(only, "hot"))
        hot_path();
    if (!*only || !strcmp(only, "many"))
        creation_and_render();
    if (!*only || !strcmp(only, "scrape"))
        scrape_16x1000();
    if (!*only || !strcmp(only, "full"))
        full_segment();
    return 0;
}
