/*
 * test_nginxlog_pace.c - the nap between reads (pace.h): about
 * target_lines arrive during it at any steady rate, never longer than the
 * maximum, growing at most 2x per read after a quiet spell (a burst must
 * not find a long nap), shrinking at once when a read found too many, and
 * none at all when nothing arrived or napping is off.
 */
#include <check.h>

#include "nginxlog/pace.h"

/* Reads at a steady rate (lines per second) until the nap settles. */
static double settle(nl_pace_t *p, double rate)
{
    double nap = nl_pace_next(p, 1, 0); /* woken by a line after idling */
    for (int i = 0; i < 50; i++) {
        unsigned got = (unsigned)(rate * nap / 1e6 + 0.5);
        nap = nl_pace_next(p, got ? got : 1, nap);
    }
    return nap;
}

START_TEST(a_steady_rate_queues_about_target_lines_per_nap)
{
    nl_pace_t p;
    nl_pace_init(&p, 50, 64);
    double nap = settle(&p, 30000); /* 64 lines at 30,000/s: 2.13 ms */
    ck_assert_msg(nap > 1900 && nap < 2400, "nap %.0f us", nap);
    nap = settle(&p, 200000); /* 320 us */
    ck_assert_msg(nap > 280 && nap < 360, "nap %.0f us", nap);
}
END_TEST

START_TEST(never_longer_than_the_maximum)
{
    nl_pace_t p;
    nl_pace_init(&p, 2, 64);
    ck_assert_double_eq_tol(settle(&p, 1000), 2000, 1e-9);
}
END_TEST

START_TEST(after_idling_the_first_nap_is_short_and_grows_at_most_twice)
{
    nl_pace_t p;
    nl_pace_init(&p, 50, 64);
    ck_assert_double_eq_tol(nl_pace_next(&p, 1, 1e9), NL_PACE_FIRST_US, 1e-9); /* elapsed ignored */
    /* 1 line in 250 us would allow a 16 ms nap: it may only double. */
    ck_assert_double_eq_tol(nl_pace_next(&p, 1, NL_PACE_FIRST_US), 2 * NL_PACE_FIRST_US, 1e-9);
    ck_assert_double_eq_tol(nl_pace_next(&p, 1, 2 * NL_PACE_FIRST_US), 4 * NL_PACE_FIRST_US, 1e-9);
}
END_TEST

START_TEST(too_many_lines_shrink_the_nap_at_once)
{
    nl_pace_t p;
    nl_pace_init(&p, 50, 64);
    settle(&p, 10000); /* 6.4 ms */
    /* A burst: 640 lines in the last 6.4 ms, ten times the target. */
    double nap = nl_pace_next(&p, 640, 6400);
    ck_assert_double_eq_tol(nap, 640, 1e-9);
}
END_TEST

START_TEST(nothing_arrived_or_off_means_wait_on_the_socket)
{
    nl_pace_t p;
    nl_pace_init(&p, 5, 64);
    settle(&p, 30000);
    ck_assert_double_eq(nl_pace_next(&p, 0, 2000), 0);
    /* and the next line starts from the short first nap again */
    ck_assert_double_eq_tol(nl_pace_next(&p, 1, 5e6), NL_PACE_FIRST_US, 1e-9);
    nl_pace_init(&p, 0, 64);
    ck_assert_double_eq(nl_pace_next(&p, 100, 1000), 0);
}
END_TEST

static Suite *pace_suite(void)
{
    Suite *s = suite_create("nginxlog_pace");
    TCase *tc = tcase_create("pace");
    tcase_add_test(tc, a_steady_rate_queues_about_target_lines_per_nap);
    tcase_add_test(tc, never_longer_than_the_maximum);
    tcase_add_test(tc, after_idling_the_first_nap_is_short_and_grows_at_most_twice);
    tcase_add_test(tc, too_many_lines_shrink_the_nap_at_once);
    tcase_add_test(tc, nothing_arrived_or_off_means_wait_on_the_socket);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(pace_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
