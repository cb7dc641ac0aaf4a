/*
 * test_fcgi_clock.c - the worker's clocks (fcgi/clock.c): the monotonic
 * clock never goes back, a monotonic time converts to a valid timespec even
 * where its fraction rounds up, and a condition variable made for the
 * monotonic clock times out at a deadline computed on it.
 */
#include <check.h>
#include <errno.h>
#include <math.h>
#include <pthread.h>

#include "clock.h"

START_TEST(monotonic_time_never_goes_back)
{
    double last = fcgi_monotonic_seconds();
    for (int i = 0; i < 100000; i++) {
        double now = fcgi_monotonic_seconds();
        ck_assert_double_ge(now, last);
        last = now;
    }
    ck_assert_double_gt(fcgi_wall_seconds(), 1.6e9); /* after 2020: the epoch clock, not the monotonic one */
}
END_TEST

START_TEST(timespec_of_seconds_is_always_valid)
{
    struct timespec ts = fcgi_seconds_timespec(12.25);
    ck_assert_int_eq(ts.tv_sec, 12);
    ck_assert_int_eq(ts.tv_nsec, 250000000L);
    ts = fcgi_seconds_timespec(5.0);
    ck_assert_int_eq(ts.tv_sec, 5);
    ck_assert_int_eq(ts.tv_nsec, 0);
    /* the largest double below 8: its fraction times 1e9 rounds to 1e9 */
    ts = fcgi_seconds_timespec(nextafter(8.0, 0.0));
    ck_assert_int_eq(ts.tv_sec, 7);
    ck_assert_int_lt(ts.tv_nsec, 1000000000L);
}
END_TEST

START_TEST(monotonic_condition_variable_times_out_at_the_deadline)
{
    pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
    pthread_cond_t cond;
    fcgi_cond_init_monotonic(&cond);
    double start = fcgi_monotonic_seconds();
    struct timespec until = fcgi_seconds_timespec(start + 0.1);
    pthread_mutex_lock(&lock);
    int rc;
    while ((rc = pthread_cond_timedwait(&cond, &lock, &until)) == 0) {
    }
    pthread_mutex_unlock(&lock);
    ck_assert_int_eq(rc, ETIMEDOUT);
    double waited = fcgi_monotonic_seconds() - start;
    ck_assert_double_ge(waited, 0.1);
    ck_assert_double_lt(waited, 10); /* a wall-clock reading of the deadline would be decades off */
    pthread_cond_destroy(&cond);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("fcgi_clock");
    TCase *tc = tcase_create("clock");
    tcase_add_test(tc, monotonic_time_never_goes_back);
    tcase_add_test(tc, timespec_of_seconds_is_always_valid);
    tcase_add_test(tc, monotonic_condition_variable_times_out_at_the_deadline);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
