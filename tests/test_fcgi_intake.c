/*
 * test_fcgi_intake.c - the connection intake (fcgi/intake.c) on a real
 * listening unix socket: a complete request passes at once however many
 * connections sit idle, idle ones are closed at the I/O timeout, at the
 * bound on open connections the longest-waiting incomplete one makes room,
 * and when every place is taken by requests being served, accepting waits
 * until one is done. A connection evicted while its own readiness waits in
 * the same batch of events is never touched again (regression: the worker
 * died of "double free" under EMFILE). When epoll cannot watch the
 * listening socket again (ENOMEM, ENOSPC), accepting resumes after a backoff
 * (regression: the intake took it as watched and never accepted again).
 */
#include <check.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>

#include "clock.h"
#include "intake.h"

static int listener = -1;
static struct sockaddr_un addr;
static fcgi_intake_t *intake;
static atomic_int refused[FCGI_GUARD_EVICTED + 1];
static double io_seconds = 30;
static double first_io_seconds; /* when > 0, the first connection's timeout */
static atomic_int io_calls;
/* When armed, the first timeout refusal holds the intake thread until opened. */
static atomic_int gate_armed, gate_held, gate_open;
static atomic_int accept_failures;
/* The next this many EPOLL_CTL_ADDs of the listening socket, or of a
 * connection, fail (ENOMEM). */
static atomic_int listen_add_failures, conn_add_failures;

/* Replaces libc's for the intake linked into this program: fault injection. */
int epoll_ctl(int epfd, int op, int fd, struct epoll_event *ev)
{
    if (op == EPOLL_CTL_ADD && fd == listener && atomic_load(&listen_add_failures) > 0) {
        atomic_fetch_sub(&listen_add_failures, 1);
        errno = ENOMEM;
        return -1;
    }
    if (op == EPOLL_CTL_ADD && fd != listener && ev && ev->data.ptr && atomic_load(&conn_add_failures) > 0) {
        atomic_fetch_sub(&conn_add_failures, 1);
        errno = ENOMEM;
        return -1;
    }
    return (int)syscall(SYS_epoll_ctl, epfd, op, fd, ev);
}

static double io_timeout(void *ctx)
{
    (void)ctx;
    return atomic_fetch_add(&io_calls, 1) == 0 && first_io_seconds > 0 ? first_io_seconds : io_seconds;
}

static void on_refused(void *ctx, fcgi_guard_verdict_t v, const char *detail)
{
    (void)ctx, (void)detail;
    atomic_fetch_add(&refused[v], 1);
    if (v == FCGI_GUARD_TIMEOUT && atomic_exchange(&gate_armed, 0)) {
        atomic_store(&gate_held, 1);
        for (int i = 0; i < 10000 && !atomic_load(&gate_open); i++)
            usleep(1000);
    }
}

static void on_accept_failed(void *ctx, int error)
{
    (void)ctx, (void)error;
    atomic_fetch_add(&accept_failures, 1);
}

static void start(unsigned max_connections)
{
    memset(&addr, 0, sizeof addr);
    addr.sun_family = AF_UNIX;
    snprintf(addr.sun_path, sizeof addr.sun_path, "/tmp/fastprom-intake-%ld.sock", (long)getpid());
    unlink(addr.sun_path);
    listener = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    ck_assert_int_eq(bind(listener, (struct sockaddr *)&addr, sizeof addr), 0);
    ck_assert_int_eq(listen(listener, 128), 0);
    for (int i = 0; i <= FCGI_GUARD_EVICTED; i++)
        atomic_store(&refused[i], 0);
    fcgi_intake_ops_t ops = {NULL, io_timeout, on_refused, on_accept_failed};
    char err[256];
    intake = fcgi_intake_start(listener, max_connections, &ops, err, sizeof err);
    ck_assert_msg(intake != NULL, "%s", err);
}

static void teardown(void)
{
    fcgi_intake_free(intake);
    close(listener);
    unlink(addr.sun_path);
    io_seconds = 30;
    first_io_seconds = 0;
    atomic_store(&io_calls, 0);
    atomic_store(&gate_armed, 0);
    atomic_store(&gate_held, 0);
    atomic_store(&gate_open, 0);
    atomic_store(&accept_failures, 0);
    atomic_store(&listen_add_failures, 0);
    atomic_store(&conn_add_failures, 0);
}

static int client(void)
{
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    ck_assert_int_eq(connect(fd, (struct sockaddr *)&addr, sizeof addr), 0);
    return fd;
}

/* BEGIN_REQUEST (responder), one parameter, the empty PARAMS record. */
static const unsigned char request[] = {
    1, 1, 0, 1, 0, 8, 0, 0, 0, 1, 0,   0,   0,   0,   0,   0,   /* BEGIN_REQUEST */
    1, 4, 0, 1, 0, 8, 0, 0, 4, 2, 'P', 'A', 'T', 'H', '/', 'x', /* PARAMS PATH=/x */
    1, 4, 0, 1, 0, 0, 0, 0,                                     /* end of PARAMS */
};

static int requesting_client(void)
{
    int fd = client();
    ck_assert_int_eq(write(fd, request, sizeof request), (ssize_t)sizeof request);
    return fd;
}

static void wait_waiting(unsigned n)
{
    for (int i = 0; i < 5000 && fcgi_intake_waiting(intake) != n; i++)
        usleep(1000);
    ck_assert_uint_eq(fcgi_intake_waiting(intake), n);
}

/* 1 when the peer of fd closed within ms. */
static int closed_within(int fd, int ms)
{
    struct pollfd p = {fd, POLLIN, 0};
    char byte;
    return poll(&p, 1, ms) == 1 && recv(fd, &byte, 1, MSG_DONTWAIT) <= 0;
}

/* Waits until the armed gate holds the intake thread (the first connection
 * timed out and its refusal is being reported). */
static void wait_held(void)
{
    for (int i = 0; i < 5000 && !atomic_load(&gate_held); i++)
        usleep(1000);
    ck_assert_msg(atomic_load(&gate_held), "the first connection never timed out");
}

typedef struct taken {
    atomic_int fd;
} taken_t;

static void *take(void *arg)
{
    taken_t *t = arg;
    int fd;
    if (fcgi_intake_next(intake, &fd) == 0)
        atomic_store(&t->fd, fd);
    return NULL;
}

/* The next passed connection within ms, or -1. */
static int next_within(int ms)
{
    taken_t t = {-1};
    pthread_t th;
    ck_assert_int_eq(pthread_create(&th, NULL, take, &t), 0);
    for (int i = 0; i < ms && atomic_load(&t.fd) < 0; i++)
        usleep(1000);
    int fd = atomic_load(&t.fd);
    if (fd < 0) { /* still waiting: make it return */
        fcgi_intake_stop(intake);
    }
    pthread_join(th, NULL);
    return fd >= 0 ? fd : atomic_load(&t.fd);
}

START_TEST(a_request_passes_at_once_beside_idle_connections)
{
    start(1024);
    int idle[300];
    for (int i = 0; i < 300; i++)
        idle[i] = client();
    wait_waiting(300);
    int c = requesting_client();
    double before = fcgi_monotonic_seconds();
    int fd = next_within(5000);
    ck_assert_int_ge(fd, 0);
    ck_assert_double_lt(fcgi_monotonic_seconds() - before, 2);
    unsigned char back[sizeof request];
    ck_assert_int_eq(recv(fd, back, sizeof back, MSG_WAITALL), (ssize_t)sizeof back); /* all still unread */
    ck_assert_int_eq(memcmp(back, request, sizeof request), 0);
    close(fd);
    fcgi_intake_done(intake);
    ck_assert_uint_eq(fcgi_intake_waiting(intake), 300);
    for (int i = 0; i < 300; i++)
        close(idle[i]);
    close(c);
}
END_TEST

START_TEST(idle_connections_are_closed_at_the_io_timeout)
{
    io_seconds = 0.2;
    start(1024);
    int a = client(), b = client();
    wait_waiting(2);
    ck_assert(closed_within(a, 3000));
    ck_assert(closed_within(b, 3000));
    wait_waiting(0);
    for (int i = 0; i < 1000 && atomic_load(&refused[FCGI_GUARD_TIMEOUT]) < 2; i++)
        usleep(1000); /* counted just after the close */
    ck_assert_int_eq(atomic_load(&refused[FCGI_GUARD_TIMEOUT]), 2);
    close(a);
    close(b);
}
END_TEST

START_TEST(at_the_bound_the_longest_waiting_makes_room)
{
    start(4);
    int idle[4];
    for (int i = 0; i < 4; i++) {
        idle[i] = client();
        wait_waiting((unsigned)i + 1); /* accepted in this order */
    }
    int c = requesting_client();
    int fd = next_within(5000);
    ck_assert_int_ge(fd, 0);
    ck_assert(closed_within(idle[0], 1000));
    ck_assert(!closed_within(idle[1], 100));
    for (int i = 0; i < 1000 && atomic_load(&refused[FCGI_GUARD_EVICTED]) < 1; i++)
        usleep(1000);
    ck_assert_int_eq(atomic_load(&refused[FCGI_GUARD_EVICTED]), 1);
    close(fd);
    fcgi_intake_done(intake);
    for (int i = 0; i < 4; i++)
        close(idle[i]);
    close(c);
}
END_TEST

START_TEST(when_all_places_are_served_accepting_waits_for_one_done)
{
    start(2);
    int c1 = requesting_client(), c2 = requesting_client();
    int f1 = next_within(5000), f2 = next_within(5000);
    ck_assert_int_ge(f1, 0);
    ck_assert_int_ge(f2, 0);
    int c3 = requesting_client(); /* waits in the listen backlog */
    taken_t t = {-1};
    pthread_t th;
    ck_assert_int_eq(pthread_create(&th, NULL, take, &t), 0);
    usleep(200 * 1000);
    ck_assert_int_lt(atomic_load(&t.fd), 0);
    close(f1);
    fcgi_intake_done(intake);
    for (int i = 0; i < 5000 && atomic_load(&t.fd) < 0; i++)
        usleep(1000);
    ck_assert_int_ge(atomic_load(&t.fd), 0);
    pthread_join(th, NULL);
    ck_assert_int_eq(atomic_load(&refused[FCGI_GUARD_EVICTED]), 0); /* served ones are never evicted */
    close(atomic_load(&t.fd));
    fcgi_intake_done(intake);
    close(f2);
    fcgi_intake_done(intake);
    close(c1);
    close(c2);
    close(c3);
}
END_TEST

/* The intake thread is held (in the refusal callback of an expiring
 * connection) while three things become ready in this order: a connection
 * added at the bound, a new connection in the listen backlog, and bytes from
 * the oldest waiting connection D. The next wait returns them as one batch:
 * accepting the new connection evicts D, whose event is still in the batch. */
START_TEST(a_connection_evicted_with_its_event_pending_is_not_touched_again)
{
    first_io_seconds = 0.2;
    atomic_store(&gate_armed, 1);
    start(2);
    int expiring = client();
    wait_waiting(1);
    int d = client();
    wait_waiting(2);
    wait_held();
    int pair[2];
    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair), 0);
    ck_assert_int_eq(fcgi_intake_add(intake, pair[0]), 0); /* back at the bound */
    int newcomer = client();
    ck_assert_int_eq(write(d, request, 8), 8); /* part of a request: D is readable */
    atomic_store(&gate_open, 1);
    ck_assert(closed_within(d, 5000));
    wait_waiting(2); /* the added one and the newcomer */
    for (int i = 0; i < 1000 && atomic_load(&refused[FCGI_GUARD_EVICTED]) < 1; i++)
        usleep(1000);
    ck_assert_int_eq(atomic_load(&refused[FCGI_GUARD_EVICTED]), 1);
    ck_assert_int_eq(atomic_load(&refused[FCGI_GUARD_TRUNCATED]), 0); /* D was not examined after its close */
    int c = requesting_client();                                      /* still serving: evicts the added one */
    int fd = next_within(5000);
    ck_assert_int_ge(fd, 0);
    close(fd);
    fcgi_intake_done(intake);
    close(c);
    close(newcomer);
    close(pair[1]);
    close(d);
    close(expiring);
}
END_TEST

START_TEST(accepting_starts_after_epoll_first_refused_the_listening_socket)
{
    atomic_store(&listen_add_failures, 2);
    start(4);
    int c = requesting_client();
    int fd = next_within(5000);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(atomic_load(&listen_add_failures), 0);
    ck_assert_int_eq(atomic_load(&accept_failures), 2); /* each said, for the log */
    close(fd);
    fcgi_intake_done(intake);
    close(c);
}
END_TEST

/* Accepting paused with every place served; when one is done, watching the
 * listening socket again fails once. */
START_TEST(accepting_resumes_after_epoll_refused_the_listening_socket_once)
{
    start(1);
    int c1 = requesting_client();
    int f1 = next_within(5000);
    ck_assert_int_ge(f1, 0);
    int c2 = requesting_client(); /* pauses accepting: no place */
    usleep(200 * 1000);
    atomic_store(&listen_add_failures, 1);
    close(f1);
    fcgi_intake_done(intake);
    int f2 = next_within(5000);
    ck_assert_int_ge(f2, 0);
    ck_assert_int_eq(atomic_load(&listen_add_failures), 0);
    close(f2);
    fcgi_intake_done(intake);
    close(c1);
    close(c2);
}
END_TEST

/* Regression: such a connection was counted as a peer's truncated request
 * and the kernel's refusal never reached the log. */
START_TEST(a_connection_epoll_cannot_watch_is_refused_and_said)
{
    start(4);
    atomic_store(&conn_add_failures, 1);
    int a = client();
    ck_assert(closed_within(a, 5000));
    for (int i = 0; i < 1000 && atomic_load(&refused[FCGI_GUARD_TRUNCATED]) < 1; i++)
        usleep(1000);
    ck_assert_int_eq(atomic_load(&refused[FCGI_GUARD_TRUNCATED]), 1);
    ck_assert_int_eq(atomic_load(&accept_failures), 1);
    int c = requesting_client(); /* the next one is watched */
    int fd = next_within(5000);
    ck_assert_int_ge(fd, 0);
    close(fd);
    fcgi_intake_done(intake);
    close(c);
    close(a);
}
END_TEST

/* The descriptor table filled to a limit of 256, to free one at a time. */
typedef struct full_table {
    struct rlimit was;
    int fd[256], n;
} full_table_t;

static void fill_table(full_table_t *t)
{
    ck_assert_int_eq(getrlimit(RLIMIT_NOFILE, &t->was), 0);
    struct rlimit lim = t->was;
    lim.rlim_cur = 256;
    ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, &lim), 0);
    t->n = 0;
    while (t->n < 256 && (t->fd[t->n] = dup(0)) >= 0)
        t->n++;
    ck_assert_int_eq(errno, EMFILE);
}

static void spare_one(full_table_t *t)
{
    close(t->fd[--t->n]);
}

static void empty_table(full_table_t *t)
{
    while (t->n > 0)
        spare_one(t);
    ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, &t->was), 0);
}

/* Regression: accept(2) takes a descriptor before it looks for a
 * connection, so with the table full it fails with EMFILE even when none
 * waits. Having just taken the last descriptor for a request, the intake
 * took that EMFILE for another connection and evicted the oldest waiting
 * one, which was the request itself: at one free descriptor, nothing was
 * ever served. */
START_TEST(a_request_taking_the_last_descriptor_is_not_evicted)
{
    start(16);
    full_table_t table;
    fill_table(&table);
    spare_one(&table); /* for the client's end */
    int c = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    ck_assert_int_ge(c, 0);
    spare_one(&table); /* the intake's last descriptor */
    ck_assert_int_eq(connect(c, (struct sockaddr *)&addr, sizeof addr), 0);
    ck_assert_int_eq(send(c, request, sizeof request, MSG_NOSIGNAL), (ssize_t)sizeof request);
    int fd = next_within(5000);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(atomic_load(&refused[FCGI_GUARD_EVICTED]), 0);
    ck_assert_int_eq(atomic_load(&accept_failures), 0); /* a full table with nothing to accept is no failure */
    close(fd);
    fcgi_intake_done(intake);
    close(c);
    empty_table(&table);
}
END_TEST

/* Regression: two requests arrive together at one free descriptor. The
 * first takes it; accepting the second failed with EMFILE and evicted the
 * oldest waiting connection, the first, whose request was whole but not yet
 * looked at: in a burst at a full table only the last request survived. A
 * whole request is never evicted; the second waits for a descriptor. */
START_TEST(a_whole_request_is_not_evicted_for_a_newcomer_at_emfile)
{
    first_io_seconds = 0.2;
    atomic_store(&gate_armed, 1);
    start(16);
    int expiring = client();
    wait_held();
    full_table_t table;
    fill_table(&table);
    spare_one(&table);
    spare_one(&table);
    int r1 = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0), r2 = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    ck_assert_int_ge(r2, 0);
    spare_one(&table); /* the intake's last descriptor */
    ck_assert_int_eq(connect(r1, (struct sockaddr *)&addr, sizeof addr), 0);
    ck_assert_int_eq(send(r1, request, sizeof request, MSG_NOSIGNAL), (ssize_t)sizeof request);
    ck_assert_int_eq(connect(r2, (struct sockaddr *)&addr, sizeof addr), 0);
    ck_assert_int_eq(send(r2, request, sizeof request, MSG_NOSIGNAL), (ssize_t)sizeof request);
    atomic_store(&gate_open, 1); /* both wait in the backlog: one batch accepts them */
    int f1 = next_within(5000);
    ck_assert_int_ge(f1, 0);
    close(f1); /* a descriptor for the second */
    fcgi_intake_done(intake);
    int f2 = next_within(5000);
    ck_assert_int_ge(f2, 0);
    ck_assert_int_eq(atomic_load(&refused[FCGI_GUARD_EVICTED]), 0);
    close(f2);
    fcgi_intake_done(intake);
    close(r1);
    close(r2);
    close(expiring);
    empty_table(&table);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("fcgi_intake");
    TCase *tc = tcase_create("intake");
    tcase_set_timeout(tc, 30);
    tcase_add_checked_fixture(tc, NULL, teardown);
    tcase_add_test(tc, a_request_passes_at_once_beside_idle_connections);
    tcase_add_test(tc, idle_connections_are_closed_at_the_io_timeout);
    tcase_add_test(tc, at_the_bound_the_longest_waiting_makes_room);
    tcase_add_test(tc, when_all_places_are_served_accepting_waits_for_one_done);
    tcase_add_test(tc, a_connection_evicted_with_its_event_pending_is_not_touched_again);
    tcase_add_test(tc, accepting_starts_after_epoll_first_refused_the_listening_socket);
    tcase_add_test(tc, accepting_resumes_after_epoll_refused_the_listening_socket_once);
    tcase_add_test(tc, a_connection_epoll_cannot_watch_is_refused_and_said);
    tcase_add_test(tc, a_request_taking_the_last_descriptor_is_not_evicted);
    tcase_add_test(tc, a_whole_request_is_not_evicted_for_a_newcomer_at_emfile);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
