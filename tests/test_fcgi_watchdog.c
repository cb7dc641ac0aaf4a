/*
 * test_fcgi_watchdog.c - connection deadlines (fcgi/watchdog.c) on
 * socketpairs: a read blocked past its deadline returns, a reader that a
 * peer keeps feeding ends, a disarmed descriptor is never touched (the
 * guarantee that makes closing it safe), deadlines armed later but due
 * sooner are honoured, and stopping with armed slots does not wait for them.
 */
#include <check.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/socket.h>
#include <unistd.h>

#include "clock.h"
#include "support.h"
#include "watchdog.h"

static fcgi_watchdog_t *start(unsigned nslots)
{
    char err[256];
    fcgi_watchdog_t *wd = fcgi_watchdog_start(nslots, err, sizeof err);
    ck_assert_msg(wd != NULL, "%s", err);
    return wd;
}

static void pair(int sv[2])
{
    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
}

START_TEST(a_blocked_read_returns_at_the_deadline)
{
    fcgi_watchdog_t *wd = start(2);
    int sv[2];
    pair(sv);
    double armed = fcgi_monotonic_seconds();
    fcgi_watchdog_arm(wd, 1, sv[1], armed + 0.2);
    char c;
    ck_assert_int_eq(read(sv[1], &c, 1), 0); /* blocks until the shutdown: no timeout is set */
    ck_assert_double_ge(fcgi_monotonic_seconds() - armed, 0.2);
    ck_assert_int_eq(fcgi_watchdog_disarm(wd, 1), 1);
    /* The peer learns it too: its writes fail. */
    ck_assert_int_eq(send(sv[0], "x", 1, MSG_NOSIGNAL), -1);
    ck_assert_int_eq(errno, EPIPE);
    close(sv[0]);
    close(sv[1]);
    fcgi_watchdog_stop(wd);
}
END_TEST

typedef struct flood {
    int fd;
    atomic_int stop;
} flood_t;

static void *flood(void *arg)
{
    flood_t *f = arg;
    char zeros[4096] = {0};
    while (!atomic_load(&f->stop) && send(f->fd, zeros, sizeof zeros, MSG_NOSIGNAL) > 0) {
    }
    return NULL;
}

START_TEST(a_peer_that_keeps_sending_is_cut)
{
    /* libfcgi's close drains like this, until the peer goes quiet. */
    fcgi_watchdog_t *wd = start(1);
    int sv[2];
    pair(sv);
    flood_t f = {sv[0], 0};
    pthread_t sender;
    ck_assert_int_eq(pthread_create(&sender, NULL, flood, &f), 0);
    fcgi_watchdog_arm(wd, 0, sv[1], fcgi_monotonic_seconds() + 0.2);
    char trash[4096];
    size_t drained = 0;
    for (ssize_t n; (n = read(sv[1], trash, sizeof trash)) > 0;)
        drained += (size_t)n;
    ck_assert_uint_gt(drained, 0);
    ck_assert_int_eq(fcgi_watchdog_disarm(wd, 0), 1);
    atomic_store(&f.stop, 1);
    pthread_join(sender, NULL); /* its sends failed once the socket was shut down */
    close(sv[0]);
    close(sv[1]);
    fcgi_watchdog_stop(wd);
}
END_TEST

START_TEST(a_disarmed_descriptor_is_never_touched)
{
    fcgi_watchdog_t *wd = start(1);
    int sv[2];
    pair(sv);
    fcgi_watchdog_arm(wd, 0, sv[1], fcgi_monotonic_seconds() + 0.1);
    ck_assert_int_eq(fcgi_watchdog_disarm(wd, 0), 0);
    sleep_seconds(0.3);
    char c = 0;
    ck_assert_int_eq(write(sv[0], "y", 1), 1);
    ck_assert_int_eq(read(sv[1], &c, 1), 1);
    ck_assert_int_eq(c, 'y');
    ck_assert_int_eq(write(sv[1], "z", 1), 1);
    close(sv[0]);
    close(sv[1]);
    fcgi_watchdog_stop(wd);
}
END_TEST

START_TEST(a_sooner_deadline_armed_later_is_honoured)
{
    fcgi_watchdog_t *wd = start(2);
    int a[2], b[2];
    pair(a);
    pair(b);
    double now = fcgi_monotonic_seconds();
    fcgi_watchdog_arm(wd, 0, a[1], now + 60); /* the watchdog now sleeps for a minute */
    fcgi_watchdog_arm(wd, 1, b[1], now + 0.1);
    char c;
    ck_assert_int_eq(read(b[1], &c, 1), 0);
    ck_assert_double_lt(fcgi_monotonic_seconds() - now, 30);
    ck_assert_int_eq(fcgi_watchdog_disarm(wd, 1), 1);
    ck_assert_int_eq(fcgi_watchdog_disarm(wd, 0), 0);
    /* Re-armed, a slot starts over. */
    fcgi_watchdog_arm(wd, 0, a[1], fcgi_monotonic_seconds() + 0.05);
    ck_assert_int_eq(read(a[1], &c, 1), 0);
    ck_assert_int_eq(fcgi_watchdog_disarm(wd, 0), 1);
    for (int i = 0; i < 2; i++) {
        close(a[i]);
        close(b[i]);
    }
    fcgi_watchdog_stop(wd);
}
END_TEST

START_TEST(stopping_does_not_wait_for_armed_deadlines)
{
    fcgi_watchdog_t *wd = start(3);
    int sv[2];
    pair(sv);
    fcgi_watchdog_arm(wd, 2, sv[1], fcgi_monotonic_seconds() + 3600);
    fcgi_watchdog_stop(wd);                    /* the test's timeout fails it if this waits */
    ck_assert_int_eq(write(sv[0], "x", 1), 1); /* and the descriptor was left alone */
    close(sv[0]);
    close(sv[1]);
}
END_TEST

static Suite *watchdog_suite(void)
{
    Suite *s = suite_create("fcgi_watchdog");
    TCase *tc = tcase_create("watchdog");
    tcase_set_timeout(tc, 20);
    tcase_add_test(tc, a_blocked_read_returns_at_the_deadline);
    tcase_add_test(tc, a_peer_that_keeps_sending_is_cut);
    tcase_add_test(tc, a_disarmed_descriptor_is_never_touched);
    tcase_add_test(tc, a_sooner_deadline_armed_later_is_honoured);
    tcase_add_test(tc, stopping_does_not_wait_for_armed_deadlines);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    SRunner *sr = srunner_create(watchdog_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
