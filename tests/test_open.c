/*
 * test_open.c - fastprom_open's promises to the application around it
 * (issue 12, points 2 and 5): with FASTPROM_FALLBACK a segment that cannot
 * be created or attached (no space, permission denied, another layout
 * version, corrupt, missing, a bad environment value) gives a working private
 * segment, the problem named once in err and counted in
 * fastprom_fallbacks_total{reason}; writers refuse a segment every user may
 * write (anyone could truncate it and kill them with SIGBUS) and a file whose
 * size disagrees with its header.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fastprom.h"
#include "layout.h"
#include "support.h"

/* Opens with FALLBACK; returns the handle, which must be a private one
 * holding fastprom_fallbacks_total{reason} 1 and accepting new metrics. */
static fastprom_t *expect_fallback(fastprom_options_t o, int code, const char *reason)
{
    fastprom_error_t err;
    o.flags |= FASTPROM_FALLBACK;
    fastprom_t *fp = fastprom_open(&o, &err);
    ck_assert_msg(fp, "no fallback: %s", err.text);
    ck_assert_int_eq(err.code, code);
    ck_assert_msg(strstr(err.text, "private in-process segment"), "%s", err.text);
    ck_assert_msg(!strchr(err.text, '\n'), "%s", err.text);
    ck_assert_str_eq(fastprom_path(fp), "<private>");
    char *text = render_or_fail(fp, FASTPROM_FORMAT_TEXT, 0);
    char want[128];
    snprintf(want, sizeof want, "fastprom_fallbacks_total{reason=\"%s\"} 1\n", reason);
    ck_assert_msg(strstr(text, want), "no %s in:\n%s", want, text);
    free(text);
    fastprom_family_def_t d = {.type = FASTPROM_COUNTER, .name = "app_requests_total"};
    fastprom_series_t *s = fastprom_series(fastprom_family(fp, &d, &err), NULL, NULL, &err);
    ck_assert_msg(s, "%s", err.text);
    ck_assert_int_eq(fastprom_inc(s, 3), 0);
    text = render_or_fail(fp, FASTPROM_FORMAT_TEXT, 0);
    ck_assert_ptr_nonnull(strstr(text, "app_requests_total 3\n"));
    free(text);
    return fp;
}

static void write_file(const char *path, const void *bytes, size_t n, mode_t mode)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(write(fd, bytes, n), (ssize_t)n);
    close(fd);
}

static void make_segment(const char *path)
{
    fastprom_options_t o = {.path = path};
    fastprom_error_t err;
    fastprom_t *fp = fastprom_open(&o, &err);
    ck_assert_msg(fp, "%s", err.text);
    fastprom_close(fp);
}

START_TEST(a_working_segment_is_used_as_usual)
{
    const char *path = tmp_segment_path();
    fastprom_options_t o = {.path = path, .flags = FASTPROM_FALLBACK};
    fastprom_error_t err;
    fastprom_t *fp = fastprom_open(&o, &err);
    ck_assert_msg(fp, "%s", err.text);
    ck_assert_int_eq(err.code, 0);
    ck_assert_str_eq(fastprom_path(fp), path);
    char *text = render_or_fail(fp, FASTPROM_FORMAT_TEXT, 0);
    ck_assert_ptr_null(strstr(text, "fastprom_fallbacks_total"));
    free(text);
    fastprom_close(fp);
    /* A reader has nothing to fall back to: the combination is refused. */
    o.flags |= FASTPROM_READONLY;
    ck_assert_ptr_null(fastprom_open(&o, &err));
    ck_assert_int_eq(err.code, FASTPROM_EINVAL);
}
END_TEST

START_TEST(another_layout_version_falls_back)
{
    const char *path = tmp_segment_path();
    make_segment(path);
    int fd = open(path, O_RDWR);
    uint32_t version = FP_LAYOUT_VERSION + 7;
    ck_assert_int_eq(pwrite(fd, &version, 4, offsetof(struct fp_header, layout_version)), 4);
    close(fd);
    fastprom_close(expect_fallback((fastprom_options_t){.path = path}, FASTPROM_EVERSION, "version"));
    /* The other version's segment is left as it was. */
    fd = open(path, O_RDONLY);
    uint32_t still = 0;
    ck_assert_int_eq(pread(fd, &still, 4, offsetof(struct fp_header, layout_version)), 4);
    close(fd);
    ck_assert_uint_eq(still, version);
}
END_TEST

START_TEST(a_corrupt_file_falls_back_untouched)
{
    const char *path = tmp_segment_path();
    static unsigned char junk[64 << 10];
    memset(junk, 0xa5, sizeof junk);
    write_file(path, junk, sizeof junk, 0640);
    fastprom_close(expect_fallback((fastprom_options_t){.path = path}, FASTPROM_ECORRUPT, "corrupt"));
    struct stat st;
    ck_assert_int_eq(stat(path, &st), 0);
    ck_assert_int_eq(st.st_size, (off_t)sizeof junk);
}
END_TEST

START_TEST(a_missing_segment_with_no_create_falls_back)
{
    const char *path = tmp_segment_path();
    fastprom_close(
        expect_fallback((fastprom_options_t){.path = path, .flags = FASTPROM_NO_CREATE}, FASTPROM_ENOENT, "missing"));
    ck_assert_int_ne(access(path, F_OK), 0);
}
END_TEST

START_TEST(a_bad_environment_value_falls_back)
{
    setenv("FASTPROM_SIZE", "lots", 1);
    setenv("FASTPROM_PATH", tmp_segment_path(), 1);
    fastprom_close(expect_fallback((fastprom_options_t){0}, FASTPROM_EINVAL, "config"));
}
END_TEST

/* No space: the file size limit makes the creator's fallocate fail (EFBIG),
 * as a full /dev/shm would (ENOSPC). Run in a child: the limit is per
 * process. */
START_TEST(no_space_falls_back)
{
    const char *path = tmp_segment_path();
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        signal(SIGXFSZ, SIG_IGN);
        struct rlimit lim = {4u << 20, 4u << 20};
        if (setrlimit(RLIMIT_FSIZE, &lim))
            _exit(80);
        fastprom_error_t err;
        fastprom_options_t o = {.path = path, .size = 16u << 20, .flags = FASTPROM_FALLBACK};
        fastprom_t *fp = fastprom_open(&o, &err);
        if (!fp || err.code != FASTPROM_ESYS || strcmp(fastprom_path(fp), "<private>"))
            _exit(81);
        fastprom_buf_t out = {0};
        if (fastprom_render(fp, NULL, &out, &err) ||
            !strstr(out.data, "fastprom_fallbacks_total{reason=\"no_space\"} 1\n"))
            _exit(82);
        _exit(access(path, F_OK) == 0 ? 83 : 0);
    }
    int status;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "status 0x%x", status);
}
END_TEST

/* Permission denied: root passes file permissions, so a root test process
 * checks as the unprivileged user nobody, in a child. */
START_TEST(permission_denied_falls_back)
{
    const char *path = tmp_segment_path();
    fastprom_options_t o = {.path = path, .mode = 0600};
    fastprom_error_t err;
    fastprom_t *owner = fastprom_open(&o, &err);
    ck_assert_msg(owner, "%s", err.text);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        if (geteuid() == 0 && (setgid(65534) || setuid(65534)))
            _exit(80);
        if (geteuid() != 0 && chmod(path, 0) && errno != EPERM)
            _exit(81);
        fastprom_options_t w = {.path = path, .flags = FASTPROM_FALLBACK};
        fastprom_t *fp = fastprom_open(&w, &err);
        if (!fp || err.code != FASTPROM_ESYS || !strstr(err.text, "ermission denied"))
            _exit(82);
        fastprom_buf_t out = {0};
        if (fastprom_render(fp, NULL, &out, &err) ||
            !strstr(out.data, "fastprom_fallbacks_total{reason=\"permission\"} 1\n"))
            _exit(83);
        _exit(0);
    }
    int status;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "status 0x%x", status);
    fastprom_close(owner);
}
END_TEST

/* Issue 12 point 2: whoever can write the segment can truncate it, and the
 * writers die of SIGBUS. Writers refuse a world-writable one (readers, which
 * the worker protects, still attach), nobody creates one, and a file whose
 * size disagrees with its header is refused by everyone. */
START_TEST(writers_refuse_a_segment_every_user_may_write)
{
    const char *path = tmp_segment_path();
    make_segment(path);
    ck_assert_int_eq(chmod(path, 0666), 0);
    fastprom_error_t err;
    fastprom_options_t o = {.path = path};
    ck_assert_ptr_null(fastprom_open(&o, &err));
    ck_assert_int_eq(err.code, FASTPROM_ESYS);
    ck_assert_msg(strstr(err.text, "writable by every user") && strstr(err.text, "chmod o-w"), "%s", err.text);
    fastprom_close(expect_fallback(o, FASTPROM_ESYS, "permission"));
    o.flags = FASTPROM_READONLY;
    fastprom_t *reader = fastprom_open(&o, &err);
    ck_assert_msg(reader, "%s", err.text);
    fastprom_close(reader);

    const char *fresh = tmp_segment_path();
    fastprom_options_t c = {.path = fresh, .mode = 0666};
    ck_assert_ptr_null(fastprom_open(&c, &err));
    ck_assert_int_eq(err.code, FASTPROM_EINVAL);
    setenv("FASTPROM_MODE", "0662", 1);
    c.mode = 0;
    ck_assert_ptr_null(fastprom_open(&c, &err));
    ck_assert_int_eq(err.code, FASTPROM_EINVAL);
    unsetenv("FASTPROM_MODE");
    ck_assert_int_ne(access(fresh, F_OK), 0);
}
END_TEST

START_TEST(a_segment_truncated_or_grown_is_refused)
{
    const char *path = tmp_segment_path();
    make_segment(path);
    fastprom_error_t err;
    const off_t sizes[] = {FASTPROM_DEFAULT_SIZE / 2, FASTPROM_DEFAULT_SIZE + 4096};
    for (size_t i = 0; i < 2; i++) {
        ck_assert_int_eq(truncate(path, sizes[i]), 0);
        const unsigned flags[] = {0, FASTPROM_READONLY};
        for (size_t k = 0; k < 2; k++) {
            fastprom_options_t o = {.path = path, .flags = flags[k]};
            ck_assert_ptr_null(fastprom_open(&o, &err));
            ck_assert_int_eq(err.code, FASTPROM_ECORRUPT);
            ck_assert_msg(strstr(err.text, "header says"), "%s", err.text);
        }
    }
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("open");
    TCase *t = tcase_create("open");
    tcase_set_timeout(t, 60);
    tcase_add_test(t, a_working_segment_is_used_as_usual);
    tcase_add_test(t, another_layout_version_falls_back);
    tcase_add_test(t, a_corrupt_file_falls_back_untouched);
    tcase_add_test(t, a_missing_segment_with_no_create_falls_back);
    tcase_add_test(t, a_bad_environment_value_falls_back);
    tcase_add_test(t, no_space_falls_back);
    tcase_add_test(t, permission_denied_falls_back);
    tcase_add_test(t, writers_refuse_a_segment_every_user_may_write);
    tcase_add_test(t, a_segment_truncated_or_grown_is_refused);
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
