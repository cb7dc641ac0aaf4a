/*
 * test_fcgi_procstat.c - the process_* readings describe this very process:
 * it started moments ago, uses CPU and memory, holds the descriptors it
 * opened, and reports its own open-files limit. Without a descriptor to
 * count descriptors with, there is no reading (regression: it read 0 open
 * descriptors just when the worker had run out).
 */
#include <check.h>
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "procstat.h"

START_TEST(readings_describe_this_process)
{
    fcgi_procstat_t ps;
    ck_assert_int_eq(fcgi_procstat_read(&ps), 0);
    double now = (double)time(NULL);
    ck_assert_msg(ps.start_time_seconds > now - 600 && ps.start_time_seconds <= now + 1, "start %f now %f",
                  ps.start_time_seconds, now);
    ck_assert_double_ge(ps.cpu_seconds, 0);
    ck_assert_double_gt(ps.resident_bytes, 100 * 1024);
    ck_assert_double_gt(ps.virtual_bytes, ps.resident_bytes);
    struct rlimit rl;
    ck_assert_int_eq(getrlimit(RLIMIT_NOFILE, &rl), 0);
    ck_assert_double_eq(ps.max_fds, (double)rl.rlim_cur);
}
END_TEST

START_TEST(open_descriptors_are_counted)
{
    fcgi_procstat_t before, after;
    ck_assert_int_eq(fcgi_procstat_read(&before), 0);
    int fds[5];
    for (int i = 0; i < 5; i++)
        fds[i] = open("/dev/null", O_RDONLY);
    ck_assert_int_eq(fcgi_procstat_read(&after), 0);
    ck_assert_double_eq(after.open_fds, before.open_fds + 5);
    for (int i = 0; i < 5; i++)
        close(fds[i]);
}
END_TEST

START_TEST(cpu_time_grows_with_work)
{
    fcgi_procstat_t before, after;
    ck_assert_int_eq(fcgi_procstat_read(&before), 0);
    volatile double x = 0;
    clock_t start = clock();
    while (clock() - start < CLOCKS_PER_SEC / 5) /* 0.2 s of CPU */
        x += 1;
    ck_assert_int_eq(fcgi_procstat_read(&after), 0);
    ck_assert_double_ge(after.cpu_seconds - before.cpu_seconds, 0.1);
}
END_TEST

static int opendir_fails;

/* Replaces libc's for the procstat linked into this program: fault injection. */
DIR *opendir(const char *name)
{
    static DIR *(*real)(const char *);
    if (opendir_fails) {
        errno = EMFILE;
        return NULL;
    }
    if (!real)
        real = (DIR * (*)(const char *)) dlsym(RTLD_NEXT, "opendir");
    return real(name);
}

START_TEST(no_descriptor_to_count_with_is_no_reading)
{
    fcgi_procstat_t ps;
    opendir_fails = 1;
    int rc = fcgi_procstat_read(&ps);
    opendir_fails = 0;
    ck_assert_int_eq(rc, -1);
    ck_assert_int_eq(fcgi_procstat_read(&ps), 0);
    ck_assert_double_gt(ps.open_fds, 2);
}
END_TEST

static Suite *procstat_suite(void)
{
    Suite *s = suite_create("fcgi_procstat");
    TCase *tc = tcase_create("procstat");
    tcase_add_test(tc, readings_describe_this_process);
    tcase_add_test(tc, open_descriptors_are_counted);
    tcase_add_test(tc, cpu_time_grows_with_work);
    tcase_add_test(tc, no_descriptor_to_count_with_is_no_reading);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(procstat_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
