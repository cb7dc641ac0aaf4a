/*
 * intake.h - reading FastCGI requests without a thread per connection.
 *
 * One thread accepts connections and waits, with one epoll set, until each
 * has sent the start of its request (BEGIN_REQUEST and the whole PARAMS
 * stream) and the guard (guard.h) has passed it; only then is the
 * connection handed to a serving thread. A connection that sends nothing,
 * or sends slowly, costs a file descriptor and a few bytes until its I/O
 * timeout, never a thread; the number of connections open at once is
 * bounded, and at the bound the connection that has waited longest without
 * completing its request is closed to admit the new one, so idle
 * connections cannot lock the web server out.
 */
#ifndef FCGI_INTAKE_H
#define FCGI_INTAKE_H

#include <stddef.h>

#include "guard.h"

typedef struct fcgi_intake fcgi_intake_t;

typedef struct fcgi_intake_ops {
    void *ctx;
    /* Seconds a new connection has to send the start of its request. */
    double (*io_timeout)(void *ctx);
    /* A connection was closed unread (its fd is gone): the guard's verdict,
     * FCGI_GUARD_TIMEOUT, or FCGI_GUARD_EVICTED; detail is one line. */
    void (*refused)(void *ctx, fcgi_guard_verdict_t verdict, const char *detail);
    /* accept(2) failed with error (EMFILE, ENFILE, ENOMEM...): the intake
     * closes its oldest waiting connection, or pauses accepting a while.
     * Also when epoll cannot watch the listening socket (accepting pauses)
     * or a new connection (it is refused, FCGI_GUARD_TRUNCATED). */
    void (*accept_failed)(void *ctx, int error);
} fcgi_intake_ops_t;

/*
 * Starts the intake thread on listen_fd (made non-blocking; -1: connections
 * come only from fcgi_intake_add), keeping at most max_connections open
 * (waiting, ready, or handed out and not yet done). ops is copied. Returns
 * NULL with one line in err.
 */
fcgi_intake_t *fcgi_intake_start(int listen_fd, unsigned max_connections, const fcgi_intake_ops_t *ops, char *err,
                                 size_t errlen);

/* Gives the intake a connected stream socket, as if accepted now (tests;
 * thread-safe). 0, or -1 (fd closed) when out of memory or stopping. */
int fcgi_intake_add(fcgi_intake_t *in, int fd);

/*
 * Waits for a connection whose request start passed the guard; its bytes
 * are all still unread. Returns 0 with the descriptor (now the caller's,
 * blocking), or -1 once stopping.
 * Call fcgi_intake_done after closing it. Thread-safe.
 */
int fcgi_intake_next(fcgi_intake_t *in, int *fd);

/* A connection returned by fcgi_intake_next is closed: one fewer open. */
void fcgi_intake_done(fcgi_intake_t *in);

/* Connections waiting for their request now (for tests). */
unsigned fcgi_intake_waiting(fcgi_intake_t *in);

/* Stops the thread, closes every connection not handed out, and makes
 * fcgi_intake_next return -1. Then free once no thread calls in. */
void fcgi_intake_stop(fcgi_intake_t *in);
void fcgi_intake_free(fcgi_intake_t *in);

#endif
