/*
 * test_full_segment.c - a segment full by bytes (and by writer slots) keeps
 * counting existing series for every process, new ones included, exactly:
 * a writer that cannot get cells of its own records counters, histograms and
 * summaries in the series' shared fallback cells, counted in
 * fastprom_stat_t.fallback_updates; gauges, which are per process, are
 * dropped and counted in dropped_updates (issue 12, point 4: recycled
 * gunicorn workers in a full segment lost every observation).
 */
#include <check.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fastprom.h"
#include "handle.h"
#include "support.h"

#define CHILDREN 100
#define THREADS 2
#define PER_THREAD 500
#define SLOTS 16 /* fewer than the children: later ones find no free slot */

static const char *g_path;

static fastprom_t *open_seg(void)
{
    fastprom_error_t err;
    fastprom_options_t o = {.path = g_path, .size = FASTPROM_MIN_SIZE, .max_slots = SLOTS};
    fastprom_t *fp = fastprom_open(&o, &err);
    if (!fp) {
        fprintf(stderr, "open %s: %s\n", g_path, err.text);
        _exit(91);
    }
    return fp;
}

struct handles {
    fastprom_series_t *counter, *hist, *summary, *gauge;
};

static fastprom_series_t *must(fastprom_family_t *f, const char *label)
{
    const char *values[] = {label};
    fastprom_error_t err;
    fastprom_series_t *s = f ? fastprom_series(f, values, NULL, &err) : NULL;
    if (!s) {
        fprintf(stderr, "series: %s\n", f ? err.text : "no family");
        _exit(92);
    }
    return s;
}

static struct handles define(fastprom_t *fp)
{
    static const char *const labels[] = {"route"};
    static const double bounds[] = {0.1, 1};
    static const double quantiles[] = {0.5};
    fastprom_error_t err;
    fastprom_family_def_t c = {.type = FASTPROM_COUNTER, .name = "req_total", .label_names = labels, .nlabels = 1};
    fastprom_family_def_t h = {.type = FASTPROM_HISTOGRAM,
                               .name = "lat_seconds",
                               .label_names = labels,
                               .nlabels = 1,
                               .buckets = bounds,
                               .nbuckets = 2};
    fastprom_family_def_t s = {.type = FASTPROM_SUMMARY,
                               .name = "size_bytes",
                               .label_names = labels,
                               .nlabels = 1,
                               .buckets = quantiles,
                               .nbuckets = 1};
    fastprom_family_def_t g = {.type = FASTPROM_GAUGE,
                               .name = "inflight",
                               .label_names = labels,
                               .nlabels = 1,
                               .gauge_mode = FASTPROM_GAUGE_SUM};
    struct handles x = {must(fastprom_family(fp, &c, &err), "/"), must(fastprom_family(fp, &h, &err), "/"),
                        must(fastprom_family(fp, &s, &err), "/"), must(fastprom_family(fp, &g, &err), "/")};
    return x;
}

/* Creates series until the arena has no byte left for another. */
static void fill(fastprom_t *fp)
{
    static const char *const labels[] = {"k"};
    fastprom_family_def_t d = {.type = FASTPROM_GAUGE,
                               .name = "filler",
                               .label_names = labels,
                               .nlabels = 1,
                               .max_series = 1000000};
    fastprom_error_t err;
    fastprom_family_t *f = fastprom_family(fp, &d, &err);
    ck_assert_msg(f, "%s", err.text);
    /* Long values, so bytes run out before series ids do. */
    char v[2048];
    memset(v, 'v', sizeof v - 1);
    v[sizeof v - 1] = '\0';
    for (int i = 0;; i++) {
        char id[16];
        snprintf(id, sizeof id, "%015d", i);
        memcpy(v, id, 15);
        const char *values[] = {v};
        if (!fastprom_series(f, values, NULL, &err)) {
            ck_assert_int_eq(err.code, FASTPROM_EFULL);
            ck_assert_msg(strstr(err.text, "no metadata space"), "%s", err.text);
            break;
        }
    }
}

static void *worker(void *arg)
{
    struct handles *h = arg;
    for (int i = 0; i < PER_THREAD; i++) {
        if (fastprom_inc(h->counter, 1) || fastprom_observe(h->hist, i % 2 ? 0.0625 : 4) ||
            fastprom_observe(h->summary, 2))
            return (void *)1;
    }
    return NULL;
}

/* A recycled worker: attaches, counts from two threads, leaves. */
static void child(int n)
{
    fastprom_t *fp = open_seg();
    struct handles h = define(fp);
    pthread_t t[THREADS];
    for (int i = 0; i < THREADS; i++)
        if (pthread_create(&t[i], NULL, worker, &h))
            _exit(93);
    int bad = 0;
    for (int i = 0; i < THREADS; i++) {
        void *r;
        pthread_join(t[i], &r);
        bad |= r != NULL;
    }
    if (bad || fastprom_inc(h.counter, 0.5) != 0)
        _exit(94); /* every counting update is recorded: 0, never EFULL */
    /* A gauge has no shared cell: refused with EFULL, and counted. */
    if (fastprom_set(h.gauge, 1) != FASTPROM_EFULL)
        _exit(95);
    if (n % 2)
        fastprom_close(fp); /* half leave politely, half just vanish */
    _exit(0);
}

START_TEST(recycled_processes_in_a_full_segment_count_exactly)
{
    g_path = tmp_segment_path();
    fastprom_t *fp = open_seg();
    struct handles h = define(fp);
    /* The parent has cells of its own before the segment fills up. */
    ck_assert_int_eq(fastprom_inc(h.counter, 7), 0);
    ck_assert_int_eq(fastprom_observe(h.hist, 0.5), 0);
    ck_assert_int_eq(fastprom_observe(h.summary, 2), 0);
    fill(fp);
    fastprom_stat_t st;
    ck_assert_int_eq(fastprom_stat(fp, &st, NULL), 0);
    ck_assert_uint_eq(st.fallback_updates, 0);

    for (int n = 0; n < CHILDREN; n++) {
        pid_t pid = fork();
        ck_assert_int_ge(pid, 0);
        if (pid == 0)
            child(n);
        int status;
        ck_assert_int_eq(waitpid(pid, &status, 0), pid);
        ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child %d: status 0x%x", n, status);
    }
    /* The parent keeps counting in its own cells. */
    ck_assert_int_eq(fastprom_inc(h.counter, 1), 0);

    const double per_child = THREADS * PER_THREAD;
    json_t *root = render_json(fp);
    json_t *c = json_series(json_family(root, "req"), 1, "route", "/");
    ck_assert_ptr_nonnull(c);
    ck_assert_double_eq(json_member_number(c, "value"), 8 + CHILDREN * (per_child + 0.5));
    json_t *hs = json_series(json_family(root, "lat_seconds"), 1, "route", "/");
    ck_assert_ptr_nonnull(hs);
    ck_assert_double_eq(json_member_number(hs, "count"), 1 + CHILDREN * per_child);
    ck_assert_double_eq(json_member_number(hs, "sum"), 0.5 + CHILDREN * (PER_THREAD * THREADS / 2) * (0.0625 + 4));
    json_t *b = json_object_get(hs, "buckets");
    ck_assert_double_eq(json_member_number(json_array_get(b, 0), "count"), CHILDREN * per_child / 2);
    ck_assert_double_eq(json_member_number(json_array_get(b, 1), "count"), 1 + CHILDREN * per_child / 2);
    json_t *ss = json_series(json_family(root, "size_bytes"), 1, "route", "/");
    ck_assert_double_eq(json_member_number(ss, "count"), 1 + CHILDREN * per_child);
    ck_assert_double_eq(json_member_number(ss, "sum"), 2 * (1 + CHILDREN * per_child));
    json_decref(root);

    ck_assert_int_eq(fastprom_stat(fp, &st, NULL), 0);
    /* Every child update but the gauge went through shared cells: the
     * segment had no block for any of them. */
    ck_assert_uint_eq(st.fallback_updates, CHILDREN * (3 * per_child + 1));
    ck_assert_uint_eq(st.dropped_updates, CHILDREN);
    fastprom_close(fp);
}
END_TEST

/* The bytes of the segment file, as a reader would see them. */
static unsigned char *read_file(size_t size)
{
    unsigned char *bytes = malloc(size);
    int fd = open(g_path, O_RDONLY | O_CLOEXEC);
    if (!bytes || fd < 0 || pread(fd, bytes, size, 0) != (ssize_t)size)
        _exit(97);
    close(fd);
    return bytes;
}

/* Whether byte at lies in the shared cells of one of the n series. */
static int in_shared_cells(const fastprom_t *fp, fastprom_series_t *const *s, int n, size_t at)
{
    for (int i = 0; i < n; i++) {
        size_t off = (size_t)(s[i]->shared - fp->base);
        if (at >= off && at < off + fp_shared_size(s[i]->type, s[i]->nbounds))
            return 1;
    }
    return 0;
}

/* Processes in a full segment share no cache line unless they update the
 * same series: after the first fallback update (which marks the header
 * once), updates write only their own series' cells. A segment-wide count
 * bumped on every update made every such process fight over one line. */
START_TEST(fallback_updates_write_only_their_series_cells)
{
    g_path = tmp_segment_path();
    fastprom_t *fp = open_seg();
    define(fp);
    fill(fp);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        fastprom_t *c = open_seg();
        struct handles h = define(c);
        fastprom_series_t *mine[] = {h.counter, h.hist, h.summary};
        if (fastprom_inc(h.counter, 1) || fastprom_observe(h.hist, 0.5) || fastprom_observe(h.summary, 1))
            _exit(96);
        size_t size = c->size;
        unsigned char *before = read_file(size);
        for (int i = 0; i < 1000; i++)
            if (fastprom_inc(h.counter, 1) || fastprom_inc(h.counter, 0.25) || fastprom_observe(h.hist, i % 3) ||
                fastprom_observe(h.summary, i))
                _exit(96);
        unsigned char *after = read_file(size);
        size_t changed = 0;
        for (size_t at = 0; at < size; at++) {
            if (before[at] == after[at])
                continue;
            if (!in_shared_cells(c, mine, 3, at)) {
                fprintf(stderr, "byte %zu changed outside the series' shared cells\n", at);
                _exit(98);
            }
            changed++;
        }
        _exit(changed ? 0 : 99); /* the updates did land in the cells */
    }
    int status;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "status 0x%x", status);
    fastprom_stat_t st;
    ck_assert_int_eq(fastprom_stat(fp, &st, NULL), 0);
    ck_assert_uint_eq(st.fallback_updates, 3 + 4 * 1000);
    fastprom_close(fp);
}
END_TEST

START_TEST(shared_cells_vanish_with_a_removed_series)
{
    g_path = tmp_segment_path();
    fastprom_t *fp = open_seg();
    struct handles h = define(fp);
    fill(fp);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        fastprom_t *c = open_seg();
        struct handles ch = define(c);
        _exit(fastprom_inc(ch.counter, 5) ? 96 : 0);
    }
    int status;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert_int_eq(status, 0);
    char *text = render_or_fail(fp, FASTPROM_FORMAT_TEXT, 0);
    ck_assert_msg(strstr(text, "req_total{route=\"/\"} 5\n"), "%s", text);
    free(text);
    const char *values[] = {"/"};
    fastprom_family_t *fam = fastprom_family(fp,
                                             &(fastprom_family_def_t){.type = FASTPROM_COUNTER,
                                                                      .name = "req_total",
                                                                      .label_names = (const char *const[]){"route"},
                                                                      .nlabels = 1},
                                             NULL);
    ck_assert_int_eq(fastprom_remove(fam, values, NULL, NULL), 0);
    text = render_or_fail(fp, FASTPROM_FORMAT_TEXT, 0);
    ck_assert_msg(!strstr(text, "req_total{"), "%s", text);
    free(text);
    (void)h;
    fastprom_close(fp);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("full_segment");
    TCase *t = tcase_create("full_segment");
    tcase_set_timeout(t, 120);
    tcase_add_test(t, recycled_processes_in_a_full_segment_count_exactly);
    tcase_add_test(t, shared_cells_vanish_with_a_removed_series);
    tcase_add_test(t, fallback_updates_write_only_their_series_cells);
    suite_add_tcase(s, t);
    return s;
}

int main(void)
{
    SRunner *r = srunner_create(suite());
    srunner_run_all(r, CK_NORMAL);
    int failed = srunner_ntests_failed(r);
    srunner_free(r);
    return failed ? 1 : 0;
}
