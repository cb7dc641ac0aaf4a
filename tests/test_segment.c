/*
 * test_segment.c - creating and attaching to segments: options and their
 * environment variables, race-free creation by many processes at once,
 * header validation (magic, layout version, sizes), fastprom_check after
 * the file is deleted or replaced, private segments, and recovery of the
 * segment lock from a writer killed while holding it.
 */
#include <check.h>
#include <fcntl.h>
#include <glob.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fastprom.h"
#include "handle.h"
#include "testpoint.h"
#include "writer.h"
#include "support.h"

static fastprom_t *open_path(const char *path, size_t size, unsigned flags, fastprom_error_t *err)
{
    fastprom_options_t o = {.path = path, .size = size, .flags = flags};
    return fastprom_open(&o, err);
}

static void corrupt_at(const char *path, off_t off, const void *bytes, size_t n)
{
    int fd = open(path, O_RDWR);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(pwrite(fd, bytes, n, off), (ssize_t)n);
    close(fd);
}

START_TEST(creates_with_the_requested_size_and_mode)
{
    const char *path = tmp_segment_path();
    fastprom_error_t err;
    fastprom_options_t o = {.path = path, .size = 3u << 20, .mode = 0660};
    fastprom_t *fp = fastprom_open(&o, &err);
    ck_assert_msg(fp, "%s", err.text);
    struct stat st;
    ck_assert_int_eq(stat(path, &st), 0);
    ck_assert_int_eq(st.st_size, 3 << 20);
    ck_assert_int_eq(st.st_mode & 0777, 0660);
    ck_assert_str_eq(fastprom_path(fp), path);
    fastprom_stat_t s;
    ck_assert_int_eq(fastprom_stat(fp, &s, &err), 0);
    ck_assert_uint_eq(s.size, 3u << 20);
    ck_assert_uint_eq(s.slots_total, FASTPROM_DEFAULT_SLOTS);
    ck_assert_uint_eq(s.layout_version, FP_LAYOUT_VERSION);
    ck_assert_uint_lt(s.used, s.size);
    fastprom_close(fp);
    /* A second attach keeps the creator's size, whatever it asks for. */
    fp = open_path(path, 8u << 20, 0, &err);
    ck_assert_msg(fp, "%s", err.text);
    ck_assert_int_eq(fastprom_stat(fp, &s, &err), 0);
    ck_assert_uint_eq(s.size, 3u << 20);
    fastprom_close(fp);
}
END_TEST

START_TEST(environment_supplies_path_size_and_mode)
{
    const char *path = tmp_segment_path();
    setenv("FASTPROM_PATH", path, 1);
    setenv("FASTPROM_SIZE", "2M", 1);
    setenv("FASTPROM_MODE", "0600", 1);
    fastprom_error_t err;
    fastprom_t *fp = fastprom_open(NULL, &err);
    ck_assert_msg(fp, "%s", err.text);
    struct stat st;
    ck_assert_int_eq(stat(path, &st), 0);
    ck_assert_int_eq(st.st_size, 2 << 20);
    ck_assert_int_eq(st.st_mode & 0777, 0600);
    fastprom_close(fp);
}
END_TEST

START_TEST(bad_environment_values_are_named_in_the_error)
{
    const char *path = tmp_segment_path();
    fastprom_error_t err;
    setenv("FASTPROM_SIZE", "lots", 1);
    ck_assert_ptr_null(open_path(path, 0, 0, &err));
    ck_assert_int_eq(err.code, FASTPROM_EINVAL);
    ck_assert_ptr_nonnull(strstr(err.text, "FASTPROM_SIZE=\"lots\""));
    unsetenv("FASTPROM_SIZE");
    setenv("FASTPROM_MODE", "0999", 1);
    ck_assert_ptr_null(open_path(path, 0, 0, &err));
    ck_assert_ptr_nonnull(strstr(err.text, "FASTPROM_MODE"));
    unsetenv("FASTPROM_MODE");
    ck_assert_ptr_null(open_path(path, 1024, 0, &err));
    ck_assert_int_eq(err.code, FASTPROM_EINVAL);
    ck_assert_ptr_nonnull(strstr(err.text, "out of range"));
    ck_assert_int_eq(access(path, F_OK), -1); /* nothing half-made left behind */
}
END_TEST

START_TEST(read_only_and_no_create_refuse_a_missing_segment)
{
    const char *path = tmp_segment_path();
    fastprom_error_t err;
    ck_assert_ptr_null(open_path(path, 0, FASTPROM_READONLY, &err));
    ck_assert_int_eq(err.code, FASTPROM_ENOENT);
    ck_assert_ptr_nonnull(strstr(err.text, path));
    ck_assert_ptr_null(open_path(path, 0, FASTPROM_NO_CREATE, &err));
    ck_assert_int_eq(err.code, FASTPROM_ENOENT);
    ck_assert_ptr_null(open_path(path, 0, FASTPROM_READONLY | FASTPROM_PRIVATE, &err));
    ck_assert_int_eq(err.code, FASTPROM_EINVAL);
}
END_TEST

/* Eight processes open a segment that does not exist yet, released at the
 * same instant: one creates it, all attach to that one, and no temporary
 * file is left. */
START_TEST(racing_creators_end_up_in_one_segment)
{
    const char *path = tmp_segment_path();
    int go[2], res[2];
    ck_assert_int_eq(pipe(go), 0);
    ck_assert_int_eq(pipe(res), 0);
    pid_t kids[8];
    for (int k = 0; k < 8; k++) {
        if ((kids[k] = fork()) == 0) {
            char x;
            if (read(go[0], &x, 1) != 1)
                _exit(1);
            fastprom_error_t err;
            fastprom_t *fp = open_path(path, 0, 0, &err);
            if (!fp)
                _exit(2);
            const char *ln[] = {"k"};
            fastprom_family_def_t d = {.type = FASTPROM_COUNTER, .name = "race_total", .label_names = ln, .nlabels = 1};
            const char *v[] = {"x"};
            if (fastprom_inc(fastprom_series(fastprom_family(fp, &d, &err), v, NULL, &err), 1))
                _exit(3);
            ino_t ino = fp->ino;
            if (write(res[1], &ino, sizeof ino) != sizeof ino)
                _exit(4);
            fastprom_close(fp);
            _exit(0);
        }
    }
    char go_all[8] = {0};
    ck_assert_int_eq(write(go[1], go_all, 8), 8);
    ino_t first = 0;
    for (int k = 0; k < 8; k++) {
        ino_t ino;
        ck_assert_int_eq(read(res[0], &ino, sizeof ino), sizeof ino);
        if (k == 0)
            first = ino;
        ck_assert_uint_eq(ino, first);
    }
    for (int k = 0; k < 8; k++) {
        int status;
        waitpid(kids[k], &status, 0);
        ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    }
    fastprom_error_t err;
    fastprom_t *fp = open_path(path, 0, FASTPROM_READONLY, &err);
    ck_assert_msg(fp, "%s", err.text);
    char *text = render_or_fail(fp, FASTPROM_FORMAT_TEXT, 0);
    ck_assert_ptr_nonnull(strstr(text, "race_total{k=\"x\"} 8\n"));
    free(text);
    fastprom_close(fp);
    char pattern[256];
    snprintf(pattern, sizeof pattern, "%s.tmp.*", path);
    glob_t g;
    ck_assert_int_eq(glob(pattern, 0, NULL, &g), GLOB_NOMATCH);
}
END_TEST

START_TEST(a_file_that_is_not_a_segment_is_refused)
{
    const char *path = tmp_segment_path();
    int fd = open(path, O_RDWR | O_CREAT, 0600);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(ftruncate(fd, 1 << 20), 0);
    close(fd);
    fastprom_error_t err;
    ck_assert_ptr_null(open_path(path, 0, 0, &err));
    ck_assert_int_eq(err.code, FASTPROM_ECORRUPT);
    ck_assert_ptr_null(open_path(path, 0, FASTPROM_READONLY, &err));
    ck_assert_int_eq(err.code, FASTPROM_ECORRUPT);
    ck_assert_ptr_nonnull(strstr(err.text, "not a fastprom segment"));
}
END_TEST

/* A newer version, and the older one (version 3 kept retained sums as one
 * rounded double: read as version 4 it would lose their exact words). */
START_TEST(another_layout_version_is_refused_by_name)
{
    uint32_t versions[] = {FP_LAYOUT_VERSION + 1, FP_LAYOUT_VERSION - 1};
    for (size_t i = 0; i < 2; i++) {
        const char *path = tmp_segment_path();
        fastprom_error_t err;
        fastprom_close(open_path(path, 0, 0, &err));
        corrupt_at(path, offsetof(struct fp_header, layout_version), &versions[i], sizeof versions[i]);
        char want[64];
        snprintf(want, sizeof want, "layout version %u", versions[i]);
        for (int ro = 0; ro < 2; ro++) {
            ck_assert_ptr_null(open_path(path, 0, ro ? FASTPROM_READONLY : 0, &err));
            ck_assert_int_eq(err.code, FASTPROM_EVERSION);
            ck_assert_msg(strstr(err.text, want) && strstr(err.text, "delete it"), "%s", err.text);
        }
    }
}
END_TEST

START_TEST(inconsistent_header_regions_are_refused)
{
    const char *path = tmp_segment_path();
    fastprom_error_t err;
    fastprom_close(open_path(path, 0, 0, &err));
    uint32_t bad = 12345;
    corrupt_at(path, offsetof(struct fp_header, series_ids_off), &bad, sizeof bad);
    ck_assert_ptr_null(open_path(path, 0, FASTPROM_READONLY, &err));
    ck_assert_int_eq(err.code, FASTPROM_ECORRUPT);
    ck_assert_ptr_nonnull(strstr(err.text, "inconsistent"));
}
END_TEST

START_TEST(a_truncated_segment_is_refused)
{
    const char *path = tmp_segment_path();
    fastprom_error_t err;
    fastprom_close(open_path(path, 0, 0, &err));
    ck_assert_int_eq(truncate(path, FASTPROM_MIN_SIZE / 2), 0);
    ck_assert_ptr_null(open_path(path, 0, FASTPROM_READONLY, &err));
    ck_assert_int_eq(err.code, FASTPROM_ECORRUPT);
}
END_TEST

START_TEST(check_notices_deletion_replacement_and_truncation)
{
    const char *path = tmp_segment_path();
    fastprom_error_t err;
    fastprom_close(open_path(path, 0, 0, &err));
    fastprom_t *ro = open_path(path, 0, FASTPROM_READONLY, &err);
    ck_assert_msg(ro, "%s", err.text);
    ck_assert_int_eq(fastprom_check(ro, &err), 0);
    ck_assert_int_eq(unlink(path), 0);
    ck_assert_int_eq(fastprom_check(ro, &err), FASTPROM_ENOENT);
    ck_assert_ptr_nonnull(strstr(err.text, "deleted"));
    /* The old mapping still renders what it holds. */
    char *text = render_or_fail(ro, FASTPROM_FORMAT_TEXT, 0);
    free(text);
    fastprom_close(open_path(path, 0, 0, &err)); /* a writer recreates it */
    ck_assert_int_eq(fastprom_check(ro, &err), FASTPROM_ENOENT);
    ck_assert_ptr_nonnull(strstr(err.text, "replaced"));
    fastprom_close(ro);
    ro = open_path(path, 0, FASTPROM_READONLY, &err);
    ck_assert_msg(ro, "%s", err.text);
    ck_assert_int_eq(fastprom_check(ro, &err), 0);
    ck_assert_int_eq(truncate(path, 4096), 0);
    ck_assert_int_eq(fastprom_check(ro, &err), FASTPROM_ECORRUPT);
    ck_assert_ptr_nonnull(strstr(err.text, "truncated"));
    fastprom_close(ro);
}
END_TEST

START_TEST(private_segments_need_no_path)
{
    fastprom_error_t err;
    fastprom_options_t o = {.flags = FASTPROM_PRIVATE, .size = FASTPROM_MIN_SIZE};
    fastprom_t *fp = fastprom_open(&o, &err);
    ck_assert_msg(fp, "%s", err.text);
    ck_assert_str_eq(fastprom_path(fp), "<private>");
    fastprom_family_def_t d = {.type = FASTPROM_GAUGE, .name = "self_up", .help = "up"};
    ck_assert_int_eq(fastprom_set(fastprom_series(fastprom_family(fp, &d, &err), NULL, NULL, &err), 1), 0);
    ck_assert_int_eq(fastprom_check(fp, &err), 0);
    char *text = render_or_fail(fp, FASTPROM_FORMAT_TEXT, 0);
    ck_assert_ptr_nonnull(strstr(text, "self_up 1\n"));
    free(text);
    fastprom_close(fp);
}
END_TEST

START_TEST(writable_handles_per_process_are_bounded)
{
    const char *path = tmp_segment_path();
    fastprom_error_t err;
    fastprom_t *fps[FP_MAX_ATTACH];
    for (int i = 0; i < FP_MAX_ATTACH; i++) {
        fps[i] = open_path(path, 0, 0, &err);
        ck_assert_msg(fps[i], "%d: %s", i, err.text);
    }
    ck_assert_ptr_null(open_path(path, 0, 0, &err));
    ck_assert_int_eq(err.code, FASTPROM_ELIMIT);
    fastprom_t *ro = open_path(path, 0, FASTPROM_READONLY, &err); /* readers do not count */
    ck_assert_msg(ro, "%s", err.text);
    fastprom_close(ro);
    fastprom_close(fps[5]);
    fps[5] = open_path(path, 0, 0, &err);
    ck_assert_msg(fps[5], "%s", err.text);
    for (int i = 0; i < FP_MAX_ATTACH; i++)
        fastprom_close(fps[i]);
}
END_TEST

/* The handles' thread-local caches must not leak from a closed handle into
 * the one that reuses its attach index. */
START_TEST(a_closed_handles_cache_is_never_used_by_its_successor)
{
    const char *path = tmp_segment_path();
    fastprom_error_t err;
    for (int round = 0; round < 3; round++) {
        fastprom_t *fp = open_path(path, 0, 0, &err);
        ck_assert_msg(fp, "%s", err.text);
        fastprom_family_def_t d = {.type = FASTPROM_COUNTER, .name = "reuse_total"};
        fastprom_series_t *s = fastprom_series(fastprom_family(fp, &d, &err), NULL, NULL, &err);
        ck_assert_int_eq(fastprom_inc(s, 1), 0);
        fastprom_close(fp);
    }
    fastprom_t *ro = open_path(path, 0, FASTPROM_READONLY, &err);
    char *text = render_or_fail(ro, FASTPROM_FORMAT_TEXT, 0);
    ck_assert_msg(strstr(text, "reuse_total 3\n"), "%s", text);
    free(text);
    fastprom_close(ro);
}
END_TEST

static void die_holding_lock(int point)
{
    if (point == FP_POINT_LOCKED)
        kill(getpid(), SIGKILL);
}

START_TEST(a_writer_killed_holding_the_lock_blocks_nobody)
{
    const char *path = tmp_segment_path();
    fastprom_error_t err;
    fastprom_t *fp = open_path(path, 0, 0, &err);
    ck_assert_msg(fp, "%s", err.text);
    pid_t pid = fork();
    if (pid == 0) {
        fp_test_hook = die_holding_lock;
        fastprom_family_def_t d = {.type = FASTPROM_COUNTER, .name = "never_total"};
        fastprom_family(fp, &d, &err); /* killed inside the lock */
        _exit(0);
    }
    int status;
    waitpid(pid, &status, 0);
    ck_assert(WIFSIGNALED(status));
    /* The next structural change gets EOWNERDEAD, repairs, and proceeds. */
    fastprom_family_def_t d = {.type = FASTPROM_COUNTER, .name = "after_total"};
    fastprom_series_t *s = fastprom_series(fastprom_family(fp, &d, &err), NULL, NULL, &err);
    ck_assert_msg(s, "%s", err.text);
    ck_assert_int_eq(fastprom_inc(s, 2), 0);
    fastprom_stat_t st;
    ck_assert_int_eq(fastprom_stat(fp, &st, &err), 0);
    ck_assert_uint_eq(st.repairs, 1);
    char *text = render_or_fail(fp, FASTPROM_FORMAT_TEXT, 0);
    ck_assert_ptr_nonnull(strstr(text, "after_total 2\n"));
    free(text);
    fastprom_close(fp);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("segment");
    TCase *t = tcase_create("segment");
    tcase_set_timeout(t, 60);
    tcase_add_test(t, creates_with_the_requested_size_and_mode);
    tcase_add_test(t, environment_supplies_path_size_and_mode);
    tcase_add_test(t, bad_environment_values_are_named_in_the_error);
    tcase_add_test(t, read_only_and_no_create_refuse_a_missing_segment);
    tcase_add_test(t, racing_creators_end_up_in_one_segment);
    tcase_add_test(t, a_file_that_is_not_a_segment_is_refused);
    tcase_add_test(t, another_layout_version_is_refused_by_name);
    tcase_add_test(t, inconsistent_header_regions_are_refused);
    tcase_add_test(t, a_truncated_segment_is_refused);
    tcase_add_test(t, check_notices_deletion_replacement_and_truncation);
    tcase_add_test(t, private_segments_need_no_path);
    tcase_add_test(t, writable_handles_per_process_are_bounded);
    tcase_add_test(t, a_closed_handles_cache_is_never_used_by_its_successor);
    tcase_add_test(t, a_writer_killed_holding_the_lock_blocks_nobody);
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
