/*
 * test_fcgi_source.c - the worker's attachment to the application's segment
 * (fcgi/source.c) when the file shrinks. Truncated while being attached
 * (after the library's size check, before mapguard watches the mapping,
 * which it can only do once fastprom_open has returned): one acquire says
 * the segment changed, the worker lives, and the next acquire of the whole
 * file reads what was written. Truncated under an attached view: the view
 * is flagged, and the next acquire attaches anew.
 */
#include <check.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mapguard.h"
#include "source.h"
#include "support.h"
#include "testpoint.h"

static const char *path;
static unsigned char *image; /* the whole segment, to write back */
static size_t image_size;

static void setup(void)
{
    char err[256];
    ck_assert_msg(fcgi_mapguard_install(err, sizeof err) == 0, "%s", err);
    path = tmp_segment_path();
    fastprom_options_t o = {.path = path, .size = FASTPROM_MIN_SIZE};
    fastprom_error_t e;
    fastprom_t *w = fastprom_open(&o, &e);
    ck_assert_msg(w != NULL, "%s", e.text);
    fastprom_family_def_t d = {.type = FASTPROM_COUNTER, .name = "served_total", .help = "Served."};
    fastprom_series_t *s = fastprom_series(fastprom_family(w, &d, &e), NULL, NULL, &e);
    ck_assert_msg(s != NULL, "%s", e.text);
    ck_assert_int_eq(fastprom_inc(s, 42), 0);
    fastprom_close(w);
    image_size = FASTPROM_MIN_SIZE;
    image = malloc(image_size);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(pread(fd, image, image_size, 0), (ssize_t)image_size);
    close(fd);
}

static void teardown(void)
{
    fp_test_hook = NULL;
    free(image);
}

static void restore(void)
{
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(pwrite(fd, image, image_size, 0), (ssize_t)image_size);
    close(fd);
}

/* Acquires the segment and checks it reads the value written. */
static void acquire_and_read(fcgi_source_t *src)
{
    fcgi_source_view_t view;
    fcgi_source_acquire(src, path, &view, 1);
    ck_assert_msg(view.fp != NULL, "%s", view.reason);
    char *text = render_or_fail(view.fp, FASTPROM_FORMAT_TEXT, 0);
    ck_assert_msg(strstr(text, "\nserved_total 42\n"), "%s", text);
    free(text);
    ck_assert_int_eq(fcgi_source_shrank(&view), 0);
    fcgi_source_release(src, &view);
}

static void truncate_when_mapped(int point)
{
    if (point == FP_POINT_ATTACH_MAPPED) {
        fp_test_hook = NULL; /* once */
        ck_assert_int_eq(truncate(path, 0), 0);
    }
}

START_TEST(a_segment_truncated_while_being_attached_costs_one_scrape)
{
    fcgi_source_t *src = fcgi_source_new();
    fp_test_hook = truncate_when_mapped;
    fcgi_source_view_t view;
    fcgi_source_acquire(src, path, &view, 1); /* was SIGBUS: the open read the mapped header */
    ck_assert_ptr_null(view.fp);
    ck_assert_int_eq(view.error, FASTPROM_EBUSY);
    ck_assert_msg(strstr(view.reason, "changed while being attached"), "%s", view.reason);
    fcgi_source_release(src, &view);
    restore();
    acquire_and_read(src); /* at once: a changed segment is retried without the pause */
    fcgi_source_free(src);
}
END_TEST

static void truncate_mid_read(int point)
{
    if (point == FP_POINT_READ_RETIRED) {
        fp_test_hook = NULL;
        ck_assert_int_eq(truncate(path, 4096), 0); /* the header stays, the slots go */
    }
}

START_TEST(a_segment_truncated_under_a_view_is_attached_anew)
{
    fcgi_source_t *src = fcgi_source_new();
    acquire_and_read(src);
    fcgi_source_view_t view;
    fcgi_source_acquire(src, path, &view, 0);
    ck_assert_ptr_nonnull(view.fp);
    uint64_t generation = view.generation;
    fastprom_render_options_t ropt = {.format = FASTPROM_FORMAT_TEXT};
    fastprom_buf_t buf = {0};
    fastprom_error_t err;
    fp_test_hook = truncate_mid_read;                  /* past the render's size check */
    (void)fastprom_render(view.fp, &ropt, &buf, &err); /* reads zeros where pages went: void */
    fastprom_buf_free(&buf);
    ck_assert_int_eq(fcgi_source_shrank(&view), 1);
    fcgi_source_release(src, &view);
    restore();
    fcgi_source_acquire(src, path, &view, 1);
    ck_assert_msg(view.fp != NULL, "%s", view.reason);
    ck_assert_uint_ne(view.generation, generation);
    fcgi_source_release(src, &view);
    acquire_and_read(src);
    fcgi_source_free(src);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("fcgi_source");
    TCase *tc = tcase_create("source");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, a_segment_truncated_while_being_attached_costs_one_scrape);
    tcase_add_test(tc, a_segment_truncated_under_a_view_is_attached_anew);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
