/*
 * test_mem.c - out of memory, in SQLite's manner (issue 12, point 7): every
 * allocation of src/ goes through mem.c, and for each sequence of public
 * calls below the Nth allocation is made to fail, for every N until the
 * sequence runs out of allocations, once with only that allocation failing
 * and once with every later one failing too. Each call must succeed or fail
 * with FASTPROM_ENOMEM (never crash, never another code); afterwards, with
 * memory back, the segment must be consistent: it validates, renders, and
 * holds exactly what the successful calls recorded. The sanitizer build
 * (make SANITIZE=1 unit) adds the leak check: LeakSanitizer fails the test
 * process if a failed call left anything behind.
 */
#include <check.h>
#include <dirent.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fastprom.h"
#include "mem.h"
#include "support.h"

#define MAX_N 2000 /* a bound on the loop; every sequence needs far fewer */

/* rc is 0, or ENOMEM: then the sequence stops (returns 0 = stopped). */
#define STEP(rc)                                                                                                       \
    do {                                                                                                               \
        int rc_ = (rc);                                                                                                \
        if (rc_) {                                                                                                     \
            ck_assert_msg(rc_ == FASTPROM_ENOMEM, "%s: %s, not ENOMEM", #rc, fastprom_strerror(rc_));                  \
            return 0;                                                                                                  \
        }                                                                                                              \
    } while (0)
/* A pointer result: non-NULL, or NULL with ENOMEM in err. */
#define STEP_PTR(var, call, err)                                                                                       \
    do {                                                                                                               \
        (var) = (call);                                                                                                \
        if (!(var)) {                                                                                                  \
            ck_assert_msg((err).code == FASTPROM_ENOMEM, "%s: %s", #call, (err).text);                                 \
            return 0;                                                                                                  \
        }                                                                                                              \
    } while (0)

/* Runs `seq` with the nth allocation failing, for n = 1, 2, ... until a run
 * has nothing left to fail; check() then verifies the state it left. */
struct sequence {
    const char *name;
    void (*setup)(void);
    int (*run)(void); /* 1: ran to the end */
    void (*check)(int completed);
    void (*teardown)(void);
};

static void exhaust(const struct sequence *q)
{
    for (int persistent = 0; persistent < 2; persistent++) {
        int n = 1;
        for (; n < MAX_N; n++) {
            if (q->setup)
                q->setup();
            uint64_t failed = fp_mem_failures();
            fp_mem_fail_at((uint64_t)n, persistent);
            int completed = q->run();
            fp_mem_fail_at(0, 0);
            int injected = fp_mem_failures() != failed;
            ck_assert_msg(completed || injected, "%s: stopped at n=%d without a failed allocation", q->name, n);
            if (q->check)
                q->check(completed);
            if (q->teardown)
                q->teardown();
            if (!injected)
                break; /* the whole sequence needs fewer than n allocations */
        }
        if (getenv("FASTPROM_TEST_VERBOSE"))
            fprintf(stderr, "%s: %d allocations (%s)\n", q->name, n - 1, persistent ? "persistent" : "transient");
        ck_assert_msg(n > 1, "%s allocates nothing: the test proves nothing", q->name);
        ck_assert_msg(n < MAX_N, "%s: still failing at n=%d", q->name, n);
    }
}

/* ---- open and close ---------------------------------------------------------- */

static const char *g_path;
static fastprom_t *g_fp;

static int run_open_private(void)
{
    fastprom_error_t err;
    fastprom_options_t o = {.flags = FASTPROM_PRIVATE, .size = FASTPROM_MIN_SIZE};
    fastprom_t *fp;
    STEP_PTR(fp, fastprom_open(&o, &err), err);
    fastprom_close(fp);
    return 1;
}

static void setup_path(void)
{
    unlink(g_path);
}

/* Creating a file segment, attaching to it (also with FALLBACK), reading it. */
static int run_open_file(void)
{
    fastprom_error_t err;
    fastprom_options_t o = {.path = g_path, .size = FASTPROM_MIN_SIZE};
    fastprom_t *fp, *again, *reader;
    STEP_PTR(fp, fastprom_open(&o, &err), err);
    o.flags = FASTPROM_FALLBACK;
    again = fastprom_open(&o, &err);
    if (!again) {
        fastprom_close(fp);
        ck_assert_int_eq(err.code, FASTPROM_ENOMEM);
        return 0;
    }
    fastprom_close(again);
    o.flags = FASTPROM_READONLY;
    reader = fastprom_open(&o, &err);
    fastprom_close(fp);
    if (!reader) {
        ck_assert_int_eq(err.code, FASTPROM_ENOMEM);
        return 0;
    }
    ck_assert_int_eq(fastprom_check(reader, &err), 0);
    fastprom_close(reader);
    return 1;
}

static void check_open_file(int completed)
{
    (void)completed;
    /* Whatever failed, a segment at the path (if any) is a whole one. */
    if (access(g_path, F_OK) == 0) {
        fastprom_error_t err;
        fastprom_options_t o = {.path = g_path, .flags = FASTPROM_READONLY};
        fastprom_t *fp = fastprom_open(&o, &err);
        ck_assert_msg(fp, "%s", err.text);
        fastprom_close(fp);
    }
}

START_TEST(open_and_close)
{
    struct sequence priv = {"open private", NULL, run_open_private, NULL, NULL};
    exhaust(&priv);
    g_path = tmp_segment_path();
    struct sequence file = {"open file", setup_path, run_open_file, check_open_file, NULL};
    exhaust(&file);
}
END_TEST

/* ---- defining and updating ------------------------------------------------------ */

static int g_incs; /* counter increments that returned 0 */

static void open_private(void)
{
    fastprom_error_t err;
    fastprom_options_t o = {.flags = FASTPROM_PRIVATE, .size = FASTPROM_MIN_SIZE};
    g_fp = fastprom_open(&o, &err);
    ck_assert_msg(g_fp, "%s", err.text);
    g_incs = 0;
}

static void close_private(void)
{
    fastprom_close(g_fp);
    g_fp = NULL;
}

static int define_and_update(fastprom_t *fp)
{
    fastprom_error_t err = {0};
    static const char *const labels[] = {"route", "code"};
    static const double bounds[] = {0.1, 1, 10};
    static const char *const states[] = {"up", "down"};
    fastprom_family_def_t c = {.type = FASTPROM_COUNTER, .name = "req_total", .label_names = labels, .nlabels = 2};
    fastprom_family_def_t h = {.type = FASTPROM_HISTOGRAM,
                               .name = "lat_seconds",
                               .buckets = bounds,
                               .nbuckets = 3,
                               .flags = FASTPROM_EXEMPLARS};
    fastprom_family_def_t q = {.type = FASTPROM_SUMMARY, .name = "size_bytes", .buckets = bounds, .nbuckets = 0};
    fastprom_family_def_t g = {.type = FASTPROM_GAUGE, .name = "inflight"};
    fastprom_family_def_t i = {.type = FASTPROM_INFO, .name = "build"};
    fastprom_family_def_t e = {.type = FASTPROM_STATESET, .name = "state", .states = states, .nstates = 2};
    fastprom_family_t *fc, *fh, *fq, *fg, *fi, *fe;
    fastprom_series_t *sc, *sh, *sq, *sg, *si, *se;
    STEP_PTR(fc, fastprom_family(fp, &c, &err), err);
    /* A long label value: encoded outside the stack buffer. */
    static char longv[2000];
    memset(longv, 'x', sizeof longv - 1);
    const char *values[] = {"/", longv};
    STEP_PTR(sc, fastprom_series(fc, values, NULL, &err), err);
    int rc = fastprom_inc(sc, 1);
    STEP(rc);
    g_incs++;
    STEP_PTR(fh, fastprom_family(fp, &h, &err), err);
    STEP_PTR(sh, fastprom_series(fh, NULL, NULL, &err), err);
    fastprom_label_t ex = {"trace_id", "abc"};
    STEP(fastprom_observe_exemplar(sh, 0.5, &ex, 1, 0));
    STEP_PTR(fq, fastprom_family(fp, &q, &err), err);
    STEP_PTR(sq, fastprom_series(fq, NULL, NULL, &err), err);
    STEP(fastprom_observe(sq, 3));
    STEP_PTR(fg, fastprom_family(fp, &g, &err), err);
    STEP_PTR(sg, fastprom_series(fg, NULL, NULL, &err), err);
    STEP(fastprom_set(sg, 7));
    STEP_PTR(fi, fastprom_family(fp, &i, &err), err);
    STEP_PTR(si, fastprom_series(fi, NULL, NULL, &err), err);
    fastprom_label_t pair = {"version", "1.2.3"};
    STEP(fastprom_info(si, &pair, 1, &err));
    STEP_PTR(fe, fastprom_family(fp, &e, &err), err);
    STEP_PTR(se, fastprom_series(fe, NULL, NULL, &err), err);
    STEP(fastprom_state(se, 1));
    const char *gone[] = {"/gone", "500"};
    fastprom_series_t *sx;
    STEP_PTR(sx, fastprom_series(fc, gone, NULL, &err), err);
    STEP(fastprom_remove(fc, gone, NULL, &err));
    STEP(fastprom_clear(fq, &err));
    return 1;
}

static int run_define(void)
{
    return define_and_update(g_fp);
}

/* With memory back, the same sequence runs to the end, and the counter holds
 * exactly the increments that returned 0. */
static void check_define(int completed)
{
    (void)completed;
    fastprom_error_t err;
    ck_assert_int_eq(fastprom_check(g_fp, &err), 0);
    ck_assert_int_eq(define_and_update(g_fp), 1);
    json_t *root = render_json(g_fp);
    json_t *fam = json_family(root, "req");
    ck_assert_ptr_nonnull(fam);
    json_t *series = json_object_get(fam, "series");
    ck_assert_uint_eq(json_array_size(series), 1); /* /gone was removed */
    ck_assert_double_eq(json_member_number(json_array_get(series, 0), "value"), g_incs);
    json_decref(root);
}

START_TEST(defining_and_updating)
{
    struct sequence q = {"define and update", open_private, run_define, check_define, close_private};
    exhaust(&q);
}
END_TEST

/* The first update from a new thread allocates its thread state, its lane
 * and its table of cells; without them a counter still counts (shared
 * cells), exactly. */
static void *thread_incs(void *arg)
{
    fastprom_series_t *s = arg;
    long ok = 0;
    for (int i = 0; i < 3; i++)
        ok += fastprom_inc(s, 1) == 0;
    return (void *)ok;
}

static fastprom_series_t *g_counter;

static void open_with_counter(void)
{
    open_private();
    fastprom_error_t err;
    fastprom_family_def_t c = {.type = FASTPROM_COUNTER, .name = "jobs_total"};
    g_counter = fastprom_series(fastprom_family(g_fp, &c, &err), NULL, NULL, &err);
    ck_assert_msg(g_counter, "%s", err.text);
}

static int run_thread(void)
{
    pthread_t t;
    ck_assert_int_eq(pthread_create(&t, NULL, thread_incs, g_counter), 0);
    void *ok;
    pthread_join(t, &ok);
    g_incs = (int)(long)ok;
    ck_assert_int_eq(g_incs, 3); /* counting never fails for want of memory */
    return 1;
}

static void check_thread(int completed)
{
    (void)completed;
    json_t *root = render_json(g_fp);
    ck_assert_double_eq(json_member_number(json_series(json_family(root, "jobs"), 0), "value"), 3);
    json_decref(root);
}

START_TEST(a_new_threads_first_updates)
{
    struct sequence q = {"new thread", open_with_counter, run_thread, check_thread, close_private};
    exhaust(&q);
}
END_TEST

/* ---- reading -------------------------------------------------------------------------- */

static char *g_baseline[3];

static int run_render(void)
{
    fastprom_error_t err;
    for (int f = 0; f < 3; f++) {
        fastprom_buf_t out = {0};
        fastprom_render_options_t o = {.format = (fastprom_format_t)f};
        int rc = fastprom_render(g_fp, &o, &out, &err);
        if (rc == 0)
            ck_assert_str_eq(out.data, g_baseline[f]);
        else
            ck_assert_uint_eq(out.len, 0); /* nothing half-written */
        fastprom_buf_free(&out);
        STEP(rc);
    }
    fastprom_stat_t st;
    STEP(fastprom_stat(g_fp, &st, &err));
    ck_assert_uint_eq(st.families, 6);
    return 1;
}

START_TEST(rendering_and_stat)
{
    open_private();
    ck_assert_int_eq(define_and_update(g_fp), 1);
    for (int f = 0; f < 3; f++)
        g_baseline[f] = render_or_fail(g_fp, (fastprom_format_t)f, 0);
    struct sequence q = {"render", NULL, run_render, NULL, NULL};
    exhaust(&q);
    for (int f = 0; f < 3; f++)
        free(g_baseline[f]);
    close_private();
}
END_TEST

/* ---- folding a dead writer ---------------------------------------------------------------- */

static void open_with_dead_writer(void)
{
    unlink(g_path);
    fastprom_error_t err;
    fastprom_options_t o = {.path = g_path, .size = FASTPROM_MIN_SIZE};
    g_fp = fastprom_open(&o, &err);
    ck_assert_msg(g_fp, "%s", err.text);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        fastprom_t *c = fastprom_open(&o, &err);
        fastprom_family_def_t d = {.type = FASTPROM_COUNTER, .name = "done_total"};
        fastprom_family_def_t h = {.type = FASTPROM_HISTOGRAM, .name = "took_seconds"};
        int bad = !c || fastprom_inc(fastprom_series(fastprom_family(c, &d, NULL), NULL, NULL, NULL), 5) ||
                  fastprom_observe(fastprom_series(fastprom_family(c, &h, NULL), NULL, NULL, NULL), 0.2);
        _exit(bad); /* dies without closing: its slot is to be folded */
    }
    int status;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert_int_eq(status, 0);
}

static int run_fold(void)
{
    fastprom_error_t err;
    int rc = fastprom_collect_dead(g_fp, &err);
    if (rc < 0)
        STEP(rc);
    return 1;
}

/* Folded or not, nothing was lost or doubled; a fold with memory back
 * finishes the job. */
static void check_fold(int completed)
{
    (void)completed;
    for (int pass = 0; pass < 2; pass++) {
        json_t *root = render_json(g_fp);
        ck_assert_double_eq(json_member_number(json_series(json_family(root, "done"), 0), "value"), 5);
        ck_assert_double_eq(json_member_number(json_series(json_family(root, "took_seconds"), 0), "count"), 1);
        json_decref(root);
        ck_assert_int_ge(fastprom_collect_dead(g_fp, NULL), 0);
    }
    fastprom_stat_t st;
    ck_assert_int_eq(fastprom_stat(g_fp, &st, NULL), 0);
    ck_assert_uint_eq(st.slots_dead, 0);
}

START_TEST(folding_a_dead_writer)
{
    g_path = tmp_segment_path();
    struct sequence q = {"fold", open_with_dead_writer, run_fold, check_fold, close_private};
    exhaust(&q);
}
END_TEST

/* The injection reaches every allocation only if src/ has no other: no
 * library file but mem.c calls the C allocator itself. */
START_TEST(every_allocation_goes_through_mem_c)
{
    static const char *const calls[] = {"malloc(", "calloc(", "realloc(", "strdup(", "strndup(", "free("};
    DIR *d = opendir("src");
    ck_assert_msg(d, "run from the repository root");
    int files = 0;
    for (struct dirent *e; (e = readdir(d));) {
        size_t len = strlen(e->d_name);
        if (len < 3 || strcmp(e->d_name + len - 2, ".c") || !strcmp(e->d_name, "mem.c"))
            continue;
        char path[512];
        snprintf(path, sizeof path, "src/%s", e->d_name);
        FILE *f = fopen(path, "r");
        ck_assert_ptr_nonnull(f);
        char line[1024];
        for (int no = 1; fgets(line, sizeof line, f); no++)
            for (size_t c = 0; c < sizeof calls / sizeof *calls; c++)
                for (const char *p = strstr(line, calls[c]); p; p = strstr(p + 1, calls[c])) {
                    char before = p == line ? ' ' : p[-1];
                    int ident = before == '_' || before == '.' || before == '>' || (before >= 'a' && before <= 'z') ||
                                (before >= 'A' && before <= 'Z') || (before >= '0' && before <= '9');
                    ck_assert_msg(ident, "%s:%d calls %s directly: use fp_%s from mem.h", path, no, calls[c], calls[c]);
                }
        fclose(f);
        files++;
    }
    closedir(d);
    ck_assert_int_gt(files, 10);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("mem");
    TCase *t = tcase_create("mem");
    tcase_set_timeout(t, 300);
    tcase_add_test(t, open_and_close);
    tcase_add_test(t, defining_and_updating);
    tcase_add_test(t, a_new_threads_first_updates);
    tcase_add_test(t, rendering_and_stat);
    tcase_add_test(t, folding_a_dead_writer);
    tcase_add_test(t, every_allocation_goes_through_mem_c);
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
