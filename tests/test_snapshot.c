/*
 * test_snapshot.c - what a handle remembers between snapshots (its arena and
 * each family's sorted series with their label values) never shows a stale
 * or freed view: series added, removed and re-created between renders show
 * up at once, and renders from several threads on one handle stay correct
 * while another thread changes the series (ASan runs this too).
 */
#include <check.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "support.h"

static fastprom_t *fp;

static fastprom_family_t *counter_family(fastprom_t *h)
{
    fastprom_error_t err;
    const char *labels[] = {"path"};
    fastprom_family_def_t d = {.type = FASTPROM_COUNTER, .name = "hits_total", .help = "h", .label_names = labels,
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
    ck_assert_msg(!strstr(text, "/a\"") && strstr(text, "hits_total{path=\"/0\"} 3\nhits_total{path=\"/b\"} 1\n"),
                  "%s", text);
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
    suite_add_tcase(s, t);
    SRunner *r = srunner_create(s);
    srunner_run_all(r, CK_NORMAL);
    int failed = srunner_ntests_failed(r);
    srunner_free(r);
    return failed ? 1 : 0;
}
