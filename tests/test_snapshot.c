/*
 * test_snapshot.c - what a handle remembers between snapshots (its arena and
 * each family's sorted series with their label values) never shows a stale
 * or freed view: series added, removed and re-created between renders show
 * up at once, and renders from several threads on one handle stay correct
 * while another thread changes the series (ASan runs this too).
 */
#include <check.h>
#include <errno.h>
#include <pthread.h>
#include <semaphore.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "handle.h"
#include "testpoint.h"
#include "layout.h"
#include "support.h"

static fastprom_t *fp;

static fastprom_family_t *counter_family(fastprom_t *h)
{
    fastprom_error_t err;
    const char *labels[] = {"path"};
    fastprom_family_def_t d = {.type = FASTPROM_COUNTER,
                               .name = "hits_total",
                               .help = "h",
                               .label_names = labels,
                               .nlabels = 1};
    fastprom_family_t *f = fastprom_family(h, &d, &err);
    ck_assert_msg(f, "%s", err.text);
    return f;
}

static void inc(fastprom_family_t *f, const char *path, double v)
{
    fastprom_error_t err;
    const char *values[] = {path};
    fastprom_series_t *s = fastprom_series(f, values, NULL, &err);
    ck_assert_msg(s, "%s", err.text);
    ck_assert_int_eq(fastprom_inc(s, v), 0);
}

START_TEST(changes_between_renders_show_at_once)
{
    fp = open_tmp_segment(0, NULL);
    fastprom_family_t *f = counter_family(fp);
    inc(f, "/b", 1);
    inc(f, "/a", 2);
    char *text = render_or_fail(fp, FASTPROM_FORMAT_TEXT, 0);
    ck_assert_ptr_nonnull(strstr(text, "hits_total{path=\"/a\"} 2\nhits_total{path=\"/b\"} 1\n"));
    free(text);
    inc(f, "/0", 3); /* a new series sorts first */
    text = render_or_fail(fp, FASTPROM_FORMAT_TEXT, 0);
    ck_assert_msg(strstr(text, "hits_total{path=\"/0\"} 3\nhits_total{path=\"/a\"} 2\nhits_total{path=\"/b\"} 1\n"),
                  "%s", text);
    free(text);
    fastprom_error_t err;
    ck_assert_int_eq(fastprom_remove(f, (const char *const[]){"/a"}, NULL, &err), 0);
    text = render_or_fail(fp, FASTPROM_FORMAT_TEXT, 0);
    ck_assert_msg(!strstr(text, "/a\"") && strstr(text, "hits_total{path=\"/0\"} 3\nhits_total{path=\"/b\"} 1\n"), "%s",
                  text);
    free(text);
    inc(f, "/a", 5); /* re-created: a new record with the same values */
    text = render_or_fail(fp, FASTPROM_FORMAT_TEXT, 0);
    ck_assert_msg(strstr(text, "hits_total{path=\"/0\"} 3\nhits_total{path=\"/a\"} 5\nhits_total{path=\"/b\"} 1\n"),
                  "%s", text);
    free(text);
    fastprom_close(fp);
}
END_TEST

START_TEST(exclude_leaves_out_families_by_prefixed_name)
{
    fp = open_tmp_segment(0, NULL);
    fastprom_error_t err;
    const char *names[] = {"process_cpu_seconds_total", "processing_total", "jobs_total"};
    for (size_t i = 0; i < 3; i++) {
        fastprom_family_def_t d = {.type = FASTPROM_COUNTER, .name = names[i], .help = "h"};
        ck_assert_int_eq(fastprom_inc(fastprom_series(fastprom_family(fp, &d, &err), NULL, NULL, &err), 1), 0);
    }
    const char *exclude[] = {"process_", "fastprom_"};
    fastprom_buf_t buf = {0};
    fastprom_render_options_t o = {.format = FASTPROM_FORMAT_TEXT, .exclude = exclude, .nexclude = 2};
    ck_assert_int_eq(fastprom_render(fp, &o, &buf, &err), 0);
    ck_assert_ptr_null(strstr(buf.data, "process_cpu"));
    ck_assert_ptr_nonnull(strstr(buf.data, "processing_total 1\n"));
    ck_assert_ptr_nonnull(strstr(buf.data, "jobs_total 1\n"));
    /* With a namespace the application's names no longer start with the
     * excluded prefixes; a prefix covering the namespace still applies. */
    buf.len = 0;
    o.prefix = "app_";
    ck_assert_int_eq(fastprom_render(fp, &o, &buf, &err), 0);
    ck_assert_ptr_nonnull(strstr(buf.data, "app_process_cpu_seconds_total 1\n"));
    const char *whole[] = {"app_"};
    o.exclude = whole;
    o.nexclude = 1;
    buf.len = 0;
    ck_assert_int_eq(fastprom_render(fp, &o, &buf, &err), 0);
    ck_assert_uint_eq(buf.len, 0);
    fastprom_buf_free(&buf);
    fastprom_close(fp);
}
END_TEST

/* Regression: a corrupt series record carrying another family's id made the
 * reader use that family's sums for this one (a NULL bucket array: SIGSEGV). */
START_TEST(a_record_with_another_familys_id_is_corrupt_not_a_crash)
{
    const char *path;
    fp = open_tmp_segment(0, &path);
    fastprom_error_t err;
    fastprom_family_def_t c = {.type = FASTPROM_COUNTER, .name = "c_total"},
                          h = {.type = FASTPROM_HISTOGRAM, .name = "h"};
    fastprom_series_t *cs = fastprom_series(fastprom_family(fp, &c, &err), NULL, NULL, &err);
    fastprom_series_t *hs = fastprom_series(fastprom_family(fp, &h, &err), NULL, NULL, &err);
    ck_assert_int_eq(fastprom_inc(cs, 1), 0);
    ck_assert_int_eq(fastprom_observe(hs, 1), 0);
    struct fp_series *hrec = (struct fp_series *)(fp->base + hs->rec);
    hrec->id = cs->id;
    fastprom_options_t o = {.path = path, .flags = FASTPROM_READONLY};
    fastprom_t *ro = fastprom_open(&o, &err);
    ck_assert_msg(ro, "%s", err.text);
    fastprom_buf_t buf = {0};
    fastprom_render_options_t ropt = {.format = FASTPROM_FORMAT_TEXT};
    ck_assert_int_eq(fastprom_render(ro, &ropt, &buf, &err), FASTPROM_ECORRUPT);
    ck_assert_msg(strstr(err.text, "corrupt"), "%s", err.text);
    fastprom_buf_free(&buf);
    fastprom_close(ro);
    fastprom_close(fp);
}
END_TEST

/* Regression: a fold announced its reclaim only after freeing the dead
 * slot, so a reader that had read the old retained totals and then found
 * the slot already free returned a total without the dead writer's counts:
 * a counter reset for one scrape. The hooks hold the reader and the folder
 * exactly in that window. */
static sem_t folder_released, reader_done;
static atomic_int reader_armed, folder_armed;

static int wait_a_while(sem_t *s)
{
    struct timespec t;
    clock_gettime(CLOCK_REALTIME, &t);
    t.tv_sec += 10;
    while (sem_timedwait(s, &t) < 0)
        if (errno != EINTR)
            return -1;
    return 0;
}

static void race_hook(int point)
{
    if (point == FP_POINT_READ_RETIRED && atomic_exchange(&reader_armed, 0))
        wait_a_while(&folder_released); /* the folder has freed the slot */
    if (point == FP_POINT_FOLD_RELEASED && atomic_exchange(&folder_armed, 0)) {
        sem_post(&folder_released);
        wait_a_while(&reader_done); /* the reader finished its pass */
    }
}

static void *fold_now(void *arg)
{
    return (void *)(intptr_t)fastprom_collect_dead(arg, NULL);
}

static pid_t count_and_die(const char *path, double v)
{
    pid_t pid = fork();
    if (pid == 0) {
        fastprom_options_t o = {.path = path};
        fastprom_t *c = fastprom_open(&o, NULL);
        fastprom_family_def_t d = {.type = FASTPROM_COUNTER, .name = "fold_total"};
        if (!c || fastprom_inc(fastprom_series(fastprom_family(c, &d, NULL), NULL, NULL, NULL), v))
            _exit(1);
        _exit(0); /* dies without folding its own slot */
    }
    return pid;
}

START_TEST(a_reader_inside_a_fold_never_sees_a_counter_go_back)
{
    const char *path;
    fp = open_tmp_segment(0, &path);
    waitpid(count_and_die(path, 5), NULL, 0);
    ck_assert_int_eq(fastprom_collect_dead(fp, NULL), 1); /* retained total: 5 */
    waitpid(count_and_die(path, 3), NULL, 0);             /* a dead slot holding 3 */
    fastprom_options_t o = {.path = path, .flags = FASTPROM_READONLY};
    fastprom_t *ro = fastprom_open(&o, NULL);
    ck_assert_ptr_nonnull(ro);
    sem_init(&folder_released, 0, 0);
    sem_init(&reader_done, 0, 0);
    atomic_store(&reader_armed, 1);
    atomic_store(&folder_armed, 1);
    fp_test_hook = race_hook;
    pthread_t folder;
    ck_assert_int_eq(pthread_create(&folder, NULL, fold_now, fp), 0);
    char *text = render_or_fail(ro, FASTPROM_FORMAT_TEXT, 0);
    sem_post(&reader_done);
    void *folded;
    pthread_join(folder, &folded);
    fp_test_hook = NULL;
    ck_assert_int_eq((intptr_t)folded, 1);
    ck_assert_msg(strstr(text, "fold_total 8\n"), "the reader saw:\n%s", text);
    free(text);
    fastprom_close(ro);
    fastprom_close(fp);
}
END_TEST

static atomic_int stop;

static void *churn(void *arg)
{
    fastprom_family_t *f = arg;
    char path[32];
    for (int i = 0; !atomic_load(&stop); i++) {
        snprintf(path, sizeof path, "/tmp/%d", i % 50);
        const char *values[] = {path};
        fastprom_series_t *s = fastprom_series(f, values, NULL, NULL);
        if (s)
            fastprom_inc(s, 1);
        if (i % 3 == 0)
            fastprom_remove(f, values, NULL, NULL);
    }
    return NULL;
}

static void *render_loop(void *arg)
{
    (void)arg;
    for (int i = 0; i < 300; i++) {
        fastprom_buf_t buf = {0};
        fastprom_render_options_t o = {.format = i % 2 ? FASTPROM_FORMAT_TEXT : FASTPROM_FORMAT_OPENMETRICS};
        if (fastprom_render(fp, &o, &buf, NULL) != 0 || !strstr(buf.data, "hits_total{path=\"/always\"} 1\n")) {
            fastprom_buf_free(&buf);
            return (void *)1;
        }
        /* No series twice in one exposition. */
        for (char *line = buf.data; (line = strstr(line, "hits_total{path=\"/tmp/")); line++) {
            char *end = strchr(line, '}');
            size_t n = (size_t)(end - line) + 1;
            char key[64];
            memcpy(key, line, n < sizeof key ? n : sizeof key - 1);
            key[n < sizeof key ? n : sizeof key - 1] = '\0';
            char *again = strstr(end, key);
            if (again) {
                fastprom_buf_free(&buf);
                return (void *)2;
            }
        }
        fastprom_buf_free(&buf);
    }
    return NULL;
}

START_TEST(renders_from_many_threads_while_series_change)
{
    fp = open_tmp_segment(4u << 20, NULL);
    fastprom_family_t *f = counter_family(fp);
    inc(f, "/always", 1);
    pthread_t writer, readers[4];
    atomic_store(&stop, 0);
    ck_assert_int_eq(pthread_create(&writer, NULL, churn, f), 0);
    for (int i = 0; i < 4; i++)
        ck_assert_int_eq(pthread_create(&readers[i], NULL, render_loop, NULL), 0);
    for (int i = 0; i < 4; i++) {
        void *rc;
        pthread_join(readers[i], &rc);
        ck_assert_msg(rc == NULL, "reader %d saw a bad exposition (%ld)", i, (long)rc);
    }
    atomic_store(&stop, 1);
    pthread_join(writer, NULL);
    fastprom_close(fp);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("snapshot");
    TCase *t = tcase_create("snapshot");
    tcase_set_timeout(t, 120);
    tcase_add_test(t, changes_between_renders_show_at_once);
    tcase_add_test(t, renders_from_many_threads_while_series_change);
    tcase_add_test(t, exclude_leaves_out_families_by_prefixed_name);
    tcase_add_test(t, a_record_with_another_familys_id_is_corrupt_not_a_crash);
    tcase_add_test(t, a_reader_inside_a_fold_never_sees_a_counter_go_back);
    suite_add_tcase(s, t);
    SRunner *r = srunner_create(s);
    srunner_run_all(r, CK_NORMAL);
    int failed = srunner_ntests_failed(r);
    srunner_free(r);
    return failed ? 1 : 0;
}
