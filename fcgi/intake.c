/*
 * intake.c - accepting connections and waiting for their requests in one
 * thread (intake.h).
 *
 * The guard must see a request's start without consuming it (libfcgi reads
 * the same bytes afterwards), so connections are peeked (MSG_PEEK), never
 * read, and watched edge-triggered: level-triggered readiness would report
 * the unread bytes again at every wait. Each arrival rescans the prefix from
 * its first byte; web servers write the whole prefix at once, so that is one
 * scan per request. EPOLLRDHUP tells a peer that closed mid-request from one
 * that is only slow. A peer writing its request in hundreds of tiny pieces
 * can fill a unix socket's queue (each write costs several hundred bytes of
 * it) before the request is complete, and is then refused at its deadline;
 * web servers write it whole.
 *
 * Waiting connections sit in a list in the order they were accepted, which
 * is the order of their deadlines (accepted + io_timeout) unless a reload
 * shortened the timeout: then a later connection waits at most until the
 * earlier ones' deadlines. When the bound on open connections is reached,
 * or descriptors run out, the oldest one whose request has not all arrived
 * is evicted. Connections that passed wait in a
 * queue for the serving threads (fcgi_intake_next).
 *
 * A connection closed while handling one batch of events (evicted to admit
 * a new one) may still have its own event later in that batch, naming its
 * conn_t: so a refused conn_t is only marked closed and freed after the
 * batch. Freeing it at once was a use-after-free that killed the worker
 * with "double free" when accept hit EMFILE under idle connections.
 */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "clock.h"
#include "intake.h"

#define MAX_EVENTS 64
#define BACKOFF_MIN_S 0.01
#define BACKOFF_MAX_S 1.0

typedef struct conn {
    int fd;
    int hung_up;
    int closed; /* refused; freed after the current batch of events */
    double accepted;
    double deadline;
    struct conn *prev, *next; /* waiting list, or the ready queue (next only) */
} conn_t;

typedef struct list {
    conn_t *head, *tail;
} list_t;

struct fcgi_intake {
    fcgi_intake_ops_t ops;
    int listen_fd;
    int epoll_fd;
    int kick_fd; /* eventfd: stop, an added connection, room again */
    pthread_t thread;
    int started;
    unsigned max_open;
    list_t waiting;  /* intake thread only */
    conn_t *refused; /* closed during this batch of events (intake thread only) */
    atomic_uint nwaiting;
    int listening;    /* listen_fd is in the epoll set */
    double resume_at; /* when a paused accept is retried; INFINITY: when room is made */
    double backoff;

    pthread_mutex_t lock; /* everything below */
    pthread_cond_t ready_cv;
    list_t ready;
    conn_t *inbox;   /* added by fcgi_intake_add, not yet watched */
    unsigned open;   /* waiting + ready + handed out */
    int paused_full; /* accepting stopped at max_open until one is done */
    int stopping;

    unsigned char buf[FCGI_GUARD_MAX_STREAM];
    char detail[192];
};

/* epoll tags for the two descriptors that are not connections */
static char tag_listen, tag_kick;

static void list_append(list_t *l, conn_t *c)
{
    c->next = NULL;
    c->prev = l->tail;
    if (l->tail)
        l->tail->next = c;
    else
        l->head = c;
    l->tail = c;
}

static void list_remove(list_t *l, conn_t *c)
{
    if (c->prev)
        c->prev->next = c->next;
    else
        l->head = c->next;
    if (c->next)
        c->next->prev = c->prev;
    else
        l->tail = c->prev;
}

static void kick(fcgi_intake_t *in)
{
    uint64_t one = 1;
    ssize_t ignored = write(in->kick_fd, &one, sizeof one);
    (void)ignored; /* a counter that is already non-zero wakes the thread as well */
}

/* One connection fewer open; makes room for a paused accept. */
static void closed_one(fcgi_intake_t *in)
{
    pthread_mutex_lock(&in->lock);
    in->open--;
    int wake = in->paused_full;
    in->paused_full = 0;
    pthread_mutex_unlock(&in->lock);
    if (wake)
        kick(in);
}

/* Closes a waiting connection unread and reports why. */
static void refuse(fcgi_intake_t *in, conn_t *c, fcgi_guard_verdict_t v)
{
    list_remove(&in->waiting, c);
    atomic_fetch_sub(&in->nwaiting, 1);
    /* close() alone leaves the epoll set only when no other descriptor
     * shares the open file (a dup, a fork): then events would name c. */
    epoll_ctl(in->epoll_fd, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
    c->closed = 1;
    c->next = in->refused;
    in->refused = c;
    closed_one(in);
    in->ops.refused(in->ops.ctx, v, in->detail);
}

static void watch(fcgi_intake_t *in, conn_t *c)
{
    c->deadline = c->accepted + in->ops.io_timeout(in->ops.ctx);
    list_append(&in->waiting, c);
    atomic_fetch_add(&in->nwaiting, 1);
    /* Adding reports bytes already queued once, so nothing is missed. */
    struct epoll_event ev = {.events = EPOLLIN | EPOLLRDHUP | EPOLLET, .data.ptr = c};
    if (epoll_ctl(in->epoll_fd, EPOLL_CTL_ADD, c->fd, &ev) != 0) {
        /* Out of kernel memory or epoll watches: said like a failed accept,
         * since the refusal alone is counted as a peer's, never logged. */
        int error = errno;
        in->ops.accept_failed(in->ops.ctx, error);
        snprintf(in->detail, sizeof in->detail, "cannot wait for the request: %s", strerror(error));
        refuse(in, c, FCGI_GUARD_TRUNCATED);
    }
}

/* Hands a connection whose request start passed to the serving threads. */
static void pass(fcgi_intake_t *in, conn_t *c)
{
    epoll_ctl(in->epoll_fd, EPOLL_CTL_DEL, c->fd, NULL);
    list_remove(&in->waiting, c);
    atomic_fetch_sub(&in->nwaiting, 1);
    pthread_mutex_lock(&in->lock);
    list_append(&in->ready, c);
    pthread_cond_signal(&in->ready_cv);
    pthread_mutex_unlock(&in->lock);
}

/* Looks at what a connection has sent so far. */
static void examine(fcgi_intake_t *in, conn_t *c, uint32_t events)
{
    if (events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR))
        c->hung_up = 1;
    ssize_t n = recv(c->fd, in->buf, sizeof in->buf, MSG_PEEK | MSG_DONTWAIT);
    if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
        snprintf(in->detail, sizeof in->detail, "reading the request failed: %s", strerror(errno));
        refuse(in, c, FCGI_GUARD_TRUNCATED);
        return;
    }
    size_t peeked = n < 0 ? 0 : (size_t)n;
    fcgi_guard_verdict_t v = fcgi_guard_scan(in->buf, peeked, in->detail, sizeof in->detail);
    if (v == FCGI_GUARD_MORE && (n == 0 || c->hung_up)) {
        snprintf(in->detail, sizeof in->detail, "the peer closed after %zu bytes, before the parameters ended", peeked);
        v = FCGI_GUARD_TRUNCATED;
    }
    if (v == FCGI_GUARD_OK)
        pass(in, c);
    else if (v != FCGI_GUARD_MORE)
        refuse(in, c, v);
}

/* 1 when the start of c's request has all arrived: its own event, in this
 * batch or the next, hands it over. Such a connection is not one to evict:
 * the oldest waiting one often is a request accepted in this batch. */
static int whole(fcgi_intake_t *in, conn_t *c)
{
    ssize_t n = recv(c->fd, in->buf, sizeof in->buf, MSG_PEEK | MSG_DONTWAIT);
    return n > 0 && fcgi_guard_scan(in->buf, (size_t)n, in->detail, sizeof in->detail) == FCGI_GUARD_OK;
}

/* The longest-waiting connection without a whole request, or NULL. */
static conn_t *eviction_victim(fcgi_intake_t *in)
{
    conn_t *c = in->waiting.head;
    while (c && whole(in, c))
        c = c->next;
    return c;
}

static void evict(fcgi_intake_t *in, conn_t *c)
{
    snprintf(in->detail, sizeof in->detail,
             "the longest waiting of %u connections without a whole request, closed to admit a new one "
             "(%u connections open at most)",
             atomic_load(&in->nwaiting), in->max_open);
    refuse(in, c, FCGI_GUARD_EVICTED);
}

/* Accepting is retried after a delay that doubles at each failure in a row. */
static void back_off(fcgi_intake_t *in)
{
    in->backoff = in->backoff ? fmin(in->backoff * 2, BACKOFF_MAX_S) : BACKOFF_MIN_S;
    in->resume_at = fcgi_monotonic_seconds() + in->backoff;
}

/* Watching the listening socket again can fail (ENOMEM, or ENOSPC past
 * fs.epoll.max_user_watches): it is then retried like a failed accept.
 * Taking it as watched anyway stopped accepting for good. */
static void set_listening(fcgi_intake_t *in, int on)
{
    if (in->listen_fd < 0 || in->listening == on)
        return;
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &tag_listen};
    if (epoll_ctl(in->epoll_fd, on ? EPOLL_CTL_ADD : EPOLL_CTL_DEL, in->listen_fd, &ev) != 0 && on && errno != EEXIST) {
        in->ops.accept_failed(in->ops.ctx, errno);
        back_off(in);
        return;
    }
    in->listening = on;
}

enum { PLACE_TAKEN, PLACE_BY_EVICTION, NO_PLACE };

/* Takes a place for one more connection, or says that the longest-waiting
 * incomplete one must make room, or that every place is held by requests
 * being served: accepting then waits until one is done (the flag is set
 * under the lock that fcgi_intake_done takes, so its wake-up cannot be
 * missed). */
static int find_place(fcgi_intake_t *in)
{
    pthread_mutex_lock(&in->lock);
    int place = in->open < in->max_open ? PLACE_TAKEN : in->waiting.head ? PLACE_BY_EVICTION : NO_PLACE;
    if (place == PLACE_TAKEN)
        in->open++;
    else if (place == NO_PLACE)
        in->paused_full = 1;
    pthread_mutex_unlock(&in->lock);
    return place;
}

static void take_evicted_place(fcgi_intake_t *in)
{
    conn_t *victim = eviction_victim(in);
    evict(in, victim ? victim : in->waiting.head);
    pthread_mutex_lock(&in->lock);
    in->open++;
    pthread_mutex_unlock(&in->lock);
}

/* accept(2) takes a descriptor before it looks for a connection: its
 * EMFILE says nothing about one waiting. Evicting on it alone closed a
 * waiting connection each time the last descriptor was taken, often the
 * request that had just taken it. */
static int connection_pending(fcgi_intake_t *in)
{
    struct pollfd p = {in->listen_fd, POLLIN, 0};
    return poll(&p, 1, 0) == 1 && (p.revents & POLLIN);
}

static void accept_all(fcgi_intake_t *in)
{
    for (;;) {
        int place = find_place(in);
        if (place == NO_PLACE) {
            set_listening(in, 0);
            in->resume_at = INFINITY;
            return;
        }
        int fd = accept4(in->listen_fd, NULL, NULL, SOCK_CLOEXEC);
        conn_t *c = fd >= 0 ? calloc(1, sizeof *c) : NULL;
        if (c) {
            if (place == PLACE_BY_EVICTION) /* only once there is a connection to admit */
                take_evicted_place(in);
            in->backoff = 0;
            c->fd = fd;
            c->accepted = fcgi_monotonic_seconds();
            watch(in, c);
            continue;
        }
        int error = fd >= 0 ? ENOMEM : errno;
        if (fd >= 0)
            close(fd);
        if (place == PLACE_TAKEN)
            closed_one(in); /* give the place back */
        if (error == EAGAIN || error == EWOULDBLOCK)
            return;
        if (error == EINTR || error == ECONNABORTED || error == EPROTO)
            continue;
        int no_fd = error == EMFILE || error == ENFILE;
        if (no_fd && !connection_pending(in))
            return; /* the table is full, and nothing to admit */
        in->ops.accept_failed(in->ops.ctx, error);
        conn_t *victim = no_fd ? eviction_victim(in) : NULL;
        if (victim) {
            evict(in, victim); /* its descriptor for the new one */
            continue;
        }
        back_off(in);
        set_listening(in, 0);
        return;
    }
}

/* Watches the connections fcgi_intake_add queued. */
static void take_inbox(fcgi_intake_t *in)
{
    pthread_mutex_lock(&in->lock);
    conn_t *c = in->inbox;
    in->inbox = NULL;
    pthread_mutex_unlock(&in->lock);
    while (c) {
        conn_t *next = c->next;
        watch(in, c);
        c = next;
    }
}

/* Milliseconds until the next deadline or accept retry; -1: none. */
static int next_timeout_ms(fcgi_intake_t *in)
{
    double at = in->resume_at;
    if (in->waiting.head && in->waiting.head->deadline < at)
        at = in->waiting.head->deadline;
    if (isinf(at))
        return -1;
    double left = at - fcgi_monotonic_seconds();
    return left <= 0 ? 0 : (int)ceil(left * 1000);
}

static void expire(fcgi_intake_t *in)
{
    double now = fcgi_monotonic_seconds();
    while (in->waiting.head && in->waiting.head->deadline <= now) {
        snprintf(in->detail, sizeof in->detail, "the parameters had not ended when the I/O timeout ran out");
        refuse(in, in->waiting.head, FCGI_GUARD_TIMEOUT);
    }
    if (now >= in->resume_at) {
        in->resume_at = INFINITY;
        set_listening(in, 1);
    }
}

static void free_refused(fcgi_intake_t *in)
{
    while (in->refused) {
        conn_t *next = in->refused->next;
        free(in->refused);
        in->refused = next;
    }
}

static void *run(void *arg)
{
    fcgi_intake_t *in = arg;
    struct epoll_event events[MAX_EVENTS];
    set_listening(in, 1);
    for (;;) {
        int n = epoll_wait(in->epoll_fd, events, MAX_EVENTS, next_timeout_ms(in));
        for (int i = 0; i < n; i++) {
            void *tag = events[i].data.ptr;
            if (tag == &tag_kick) {
                uint64_t count;
                ssize_t ignored = read(in->kick_fd, &count, sizeof count);
                (void)ignored;
                pthread_mutex_lock(&in->lock);
                int stopping = in->stopping, room = !in->paused_full && !in->listening && isinf(in->resume_at);
                pthread_mutex_unlock(&in->lock);
                if (stopping)
                    return NULL;
                take_inbox(in);
                if (room)
                    set_listening(in, 1);
            } else if (tag == &tag_listen) {
                accept_all(in);
            } else if (!((conn_t *)tag)->closed) {
                examine(in, tag, events[i].events);
            }
        }
        expire(in);
        free_refused(in);
    }
}

fcgi_intake_t *fcgi_intake_start(int listen_fd, unsigned max_connections, const fcgi_intake_ops_t *ops, char *err,
                                 size_t errlen)
{
    fcgi_intake_t *in = calloc(1, sizeof *in);
    if (!in) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    in->ops = *ops;
    in->listen_fd = listen_fd;
    in->max_open = max_connections ? max_connections : 1;
    in->resume_at = INFINITY;
    in->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
    in->kick_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    pthread_mutex_init(&in->lock, NULL);
    pthread_cond_init(&in->ready_cv, NULL);
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &tag_kick};
    int flags = listen_fd >= 0 ? fcntl(listen_fd, F_GETFL) : 0;
    if (in->epoll_fd < 0 || in->kick_fd < 0 || epoll_ctl(in->epoll_fd, EPOLL_CTL_ADD, in->kick_fd, &ev) != 0 ||
        flags < 0 || (listen_fd >= 0 && fcntl(listen_fd, F_SETFL, flags | O_NONBLOCK) != 0)) {
        snprintf(err, errlen, "cannot prepare to accept connections: %s", strerror(errno));
        fcgi_intake_free(in);
        return NULL;
    }
    int rc = pthread_create(&in->thread, NULL, run, in);
    if (rc != 0) {
        snprintf(err, errlen, "cannot start the connection intake thread: %s", strerror(rc));
        fcgi_intake_free(in);
        return NULL;
    }
    in->started = 1;
    return in;
}

int fcgi_intake_add(fcgi_intake_t *in, int fd)
{
    conn_t *c = calloc(1, sizeof *c);
    pthread_mutex_lock(&in->lock);
    int ok = c && !in->stopping;
    if (ok) {
        c->fd = fd;
        c->accepted = fcgi_monotonic_seconds();
        c->next = in->inbox;
        in->inbox = c;
        in->open++;
    }
    pthread_mutex_unlock(&in->lock);
    if (!ok) {
        free(c);
        close(fd);
        return -1;
    }
    kick(in);
    return 0;
}

int fcgi_intake_next(fcgi_intake_t *in, int *fd)
{
    pthread_mutex_lock(&in->lock);
    while (!in->ready.head && !in->stopping)
        pthread_cond_wait(&in->ready_cv, &in->lock);
    conn_t *c = in->stopping ? NULL : in->ready.head;
    if (c)
        list_remove(&in->ready, c);
    pthread_mutex_unlock(&in->lock);
    if (!c)
        return -1;
    *fd = c->fd;
    free(c);
    return 0;
}

void fcgi_intake_done(fcgi_intake_t *in)
{
    closed_one(in);
}

unsigned fcgi_intake_waiting(fcgi_intake_t *in)
{
    return atomic_load(&in->nwaiting);
}

static void close_list(conn_t *c)
{
    while (c) {
        conn_t *next = c->next;
        close(c->fd);
        free(c);
        c = next;
    }
}

void fcgi_intake_stop(fcgi_intake_t *in)
{
    if (!in)
        return;
    pthread_mutex_lock(&in->lock);
    in->stopping = 1;
    pthread_cond_broadcast(&in->ready_cv);
    pthread_mutex_unlock(&in->lock);
    if (in->started) {
        kick(in);
        pthread_join(in->thread, NULL);
        in->started = 0;
    }
    /* The thread is gone: what it watched and queued is closed here. */
    free_refused(in);
    close_list(in->waiting.head);
    in->waiting.head = in->waiting.tail = NULL;
    pthread_mutex_lock(&in->lock);
    close_list(in->ready.head);
    close_list(in->inbox);
    in->ready.head = in->ready.tail = NULL;
    in->inbox = NULL;
    pthread_mutex_unlock(&in->lock);
}

void fcgi_intake_free(fcgi_intake_t *in)
{
    if (!in)
        return;
    fcgi_intake_stop(in);
    if (in->epoll_fd >= 0)
        close(in->epoll_fd);
    if (in->kick_fd >= 0)
        close(in->kick_fd);
    pthread_cond_destroy(&in->ready_cv);
    pthread_mutex_destroy(&in->lock);
    free(in);
}
