/*
 * server.c - the serving threads over libfcgi (server.h).
 *
 * The intake (intake.c) accepts connections and holds each until the start
 * of its request has arrived and passed the guard (guard.c), in one thread
 * with one epoll set: idle or slow peers cost a descriptor, not a thread.
 * Serving threads take only connections whose request is there, hand them
 * to libfcgi, which then only parses the request, and answer. Doing the
 * accept ourselves instead of inside FCGX_Accept_r buys:
 *  - the guard in front of libfcgi, which aborts the process on some
 *    declared lengths, before it reads a byte;
 *  - I/O timeouts (SO_RCVTIMEO/SO_SNDTIMEO) on every connection, and an
 *    absolute deadline from its accept enforced by the watchdog
 *    (watchdog.c), so neither a peer that reads the answer slowly nor one
 *    that keeps sending can hold a thread (libfcgi's close drains until the
 *    peer goes quiet) or make SIGTERM wait;
 *  - a clean stop without shutdown(2) on the listening socket, which would
 *    break a socket systemd keeps for the next start;
 *  - accept errors (EMFILE, ENFILE, ENOMEM...) handled by backing off and
 *    retrying instead of returning an error libfcgi's samples treat as fatal;
 *  - no select()-based wait after accept (FD_SET overflows past fd 1023).
 *    With idle connections costing only a descriptor, descriptors past 1023
 *    are normal; libfcgi touches FD_SETs only in its asynchronous I/O mode,
 *    which FCGX_* requests never enter.
 * It uses FCGX_Request's documented-but-internal fields ipcFd, keepConnection
 * and listen_sock (fcgiapp.h, unchanged since libfcgi 2.4.0): a request
 * whose ipcFd is already open is read from that socket, keepConnection makes
 * FCGX_Finish_r leave the socket to us, and listen_sock -1 makes libfcgi's
 * own accept fail at once after it dropped a connection, so control comes
 * back here.
 *
 * Every served connection has two descriptors: the one libfcgi reads,
 * writes and may close, and a dup() the watchdog holds until the connection
 * is over, so the watchdog never shuts down a descriptor number libfcgi
 * closed and another thread reused (with none left for the dup, only the
 * I/O timeouts bound it: see handle_connection).
 *
 * Descriptors are bounded: the soft RLIMIT_NOFILE is raised to the hard one,
 * and the intake keeps at most what that leaves (up to MAX_CONNECTIONS)
 * connections open, closing the longest-waiting incomplete one to admit a
 * new connection.
 */
#include <errno.h>
#include <fcgiapp.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "clock.h"
#include "guard.h"
#include "intake.h"
#include "log.h"
#include "route.h"
#include "server.h"
#include "watchdog.h"

#define LOG_EVERY_SECONDS 10.0
/* Closing a connection drains it until the peer has been quiet this long
 * (libfcgi's default: 2000). nginx closes its end as soon as the answer is
 * complete, so the drain only ever waits on broken peers, holding a thread
 * meanwhile. libfcgi's own drain (after a failed read or write) gets the
 * same value through its environment variable. */
#define CLOSE_DRAIN_MS 200
#define STRINGIFY(x) #x
#define DECIMAL(x) STRINGIFY(x)
/* Connections open at once, at most: idle ones cost a descriptor and a few
 * KB of kernel memory each. */
#define MAX_CONNECTIONS 8192
/* Descriptors kept for everything but connections: listening socket,
 * epoll, eventfds, log, configuration reloads, /proc reads. */
#define RESERVED_FDS 64

typedef struct worker {
    fcgi_server_t *srv;
    unsigned index; /* its slot in the watchdog */
    pthread_t thread;
    int started;
} worker_t;

struct fcgi_server {
    fcgi_app_t *app;
    int wake_fd; /* readable once stopping: ends close drains */
    atomic_int stopping;
    unsigned nworkers;
    worker_t *workers;
    fcgi_watchdog_t *watchdog;
    fcgi_intake_t *intake;
    pthread_mutex_t log_lock; /* the last_*_log times */
    double last_accept_log;
    double last_refusal_log;
    double last_cut_log;
    double last_unguarded_log;
};

/* 1 when a line of the kind last stands for is due: one per LOG_EVERY_SECONDS,
 * so a flood of bad connections cannot flood the journal. */
static int log_due(fcgi_server_t *srv, double *last)
{
    double now = fcgi_monotonic_seconds();
    pthread_mutex_lock(&srv->log_lock);
    int due = now - *last >= LOG_EVERY_SECONDS;
    if (due)
        *last = now;
    pthread_mutex_unlock(&srv->log_lock);
    return due;
}

static void log_accept_error(void *ctx, int error)
{
    fcgi_server_t *srv = ctx;
    if (log_due(srv, &srv->last_accept_log))
        fcgi_log("accept failed: %s; backing off and retrying%s", strerror(error),
                 error == EMFILE || error == ENFILE ? " (raise the open-files limit, e.g. LimitNOFILE=)" : "");
}

static void set_timeouts(int fd, double seconds)
{
    struct timeval tv = {(time_t)seconds, (suseconds_t)((seconds - (double)(time_t)seconds) * 1e6)};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
}

/* Writes all of s; 0, or -1 when the peer is gone or timed out. */
static int put(FCGX_Stream *out, const char *s, size_t n)
{
    while (n > 0) {
        int chunk = n > INT_MAX ? INT_MAX : (int)n;
        if (FCGX_PutStr(s, chunk, out) != chunk)
            return -1;
        s += chunk;
        n -= (size_t)chunk;
    }
    return 0;
}

static int send_response(FCGX_Stream *out, const fcgi_response_t *r)
{
    char head[512];
    int n = snprintf(head, sizeof head,
                     "Status: %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\nCache-Control: no-store\r\n%s%s%s%s%s"
                     "\r\n",
                     r->status, fcgi_status_reason(r->status), r->content_type, r->body_len,
                     r->gzip ? "Content-Encoding: gzip\r\n" : "", r->vary ? "Vary: Accept, Accept-Encoding\r\n" : "",
                     r->allow ? "Allow: " : "", r->allow ? r->allow : "", r->allow ? "\r\n" : "");
    if (n < 0 || (size_t)n >= sizeof head || put(out, head, (size_t)n) != 0)
        return -1;
    return r->head ? 0 : put(out, r->body, r->body_len);
}

static void serve(worker_t *w, FCGX_Request *req)
{
    fcgi_request_t in = {
        FCGX_GetParam("FCGI_ROLE", req->envp),    FCGX_GetParam("REQUEST_METHOD", req->envp),
        FCGX_GetParam("DOCUMENT_URI", req->envp), FCGX_GetParam("QUERY_STRING", req->envp),
        FCGX_GetParam("HTTP_ACCEPT", req->envp),  FCGX_GetParam("HTTP_ACCEPT_ENCODING", req->envp),
    };
    if (!in.uri)
        in.uri = FCGX_GetParam("SCRIPT_NAME", req->envp);
    fcgi_response_t resp;
    fcgi_handle(w->srv->app, &in, &resp);
    send_response(req->out, &resp); /* a client that left needs no answer */
    fcgi_response_done(w->srv->app, &resp);
}

static void connection_timeouts(fcgi_app_t *app, double *io, double *render)
{
    const fcgi_config_t *cfg = fcgi_app_config_acquire(app);
    *io = cfg->io_timeout_seconds;
    *render = cfg->render_deadline_seconds;
    fcgi_app_config_release(app);
}

/*
 * Closes an answered connection with a bounded drain: the peer's unread
 * bytes are read first (closing over them resets the connection, which can
 * cut the peer's read of the answer) until it closes or goes quiet for
 * CLOSE_DRAIN_MS. A peer that keeps sending is stopped by the watchdog at
 * the connection's deadline, or sooner by a stopping server.
 */
static void close_connection(fcgi_server_t *srv, int fd)
{
    char trash[4096];
    shutdown(fd, SHUT_WR);
    for (;;) {
        struct pollfd p[2] = {{fd, POLLIN, 0}, {srv->wake_fd, POLLIN, 0}};
        if (poll(p, 2, CLOSE_DRAIN_MS) <= 0 || p[1].revents || read(fd, trash, sizeof trash) <= 0)
            break;
    }
    close(fd);
}

static void serve_connection(worker_t *w, FCGX_Request *req, int fd)
{
    req->ipcFd = fd;
    req->keepConnection = 1; /* so FCGX_Accept_r's implicit finish keeps fd */
    if (FCGX_Accept_r(req) != 0) {
        /* Only a read error fails a request the guard passed; libfcgi
         * closed fd itself. */
        req->ipcFd = -1;
        return;
    }
    serve(w, req);
    req->keepConnection = 1; /* whatever the peer asked: one request, closed below */
    FCGX_Finish_r(req);
    if (req->ipcFd >= 0) { /* else writing failed and libfcgi closed it */
        close_connection(w->srv, req->ipcFd);
        req->ipcFd = -1;
    }
}

static double io_timeout(void *ctx)
{
    fcgi_server_t *srv = ctx;
    double io, render;
    connection_timeouts(srv->app, &io, &render);
    return io;
}

static void count_refusal(void *ctx, fcgi_guard_verdict_t verdict, const char *detail)
{
    fcgi_server_t *srv = ctx;
    fcgi_selfmetrics_connection_dropped(srv->app->self, fcgi_guard_verdict_name(verdict));
    /* Stalls and hang-ups are counted only: health checks that just connect
     * do that. Malformed and oversized requests come from no web server, and
     * evictions mean many connections that send nothing. */
    if ((verdict == FCGI_GUARD_MALFORMED || verdict == FCGI_GUARD_TOO_LARGE || verdict == FCGI_GUARD_EVICTED) &&
        log_due(srv, &srv->last_refusal_log))
        fcgi_log("refused a FastCGI connection: %s; only the web server should connect to this socket "
                 "(fastprom_connections_dropped_total counts them all, this line repeats at most every %g s)",
                 detail, LOG_EVERY_SECONDS);
}

/*
 * One connection whose request start has arrived, from its hand-over to
 * close. Its deadline, counted from the hand-over (the intake bounded the
 * wait before), leaves io_timeout for the rest of the request, render_deadline
 * for the answer to be made and io_timeout for it to be sent; a connection
 * that waited for a free thread is not cut for the time it waited.
 *
 * Without a descriptor for the watchdog (EMFILE: the intake admitted this
 * connection with the last one), the connection is still served, bounded by
 * its I/O timeouts only. Closing it unanswered meant that idle peers filling
 * the descriptor table locked the web server out after all.
 */
static void handle_connection(worker_t *w, FCGX_Request *req, int fd)
{
    fcgi_server_t *srv = w->srv;
    int handle = fcntl(fd, F_DUPFD_CLOEXEC, 0);
    if (handle < 0 && log_due(srv, &srv->last_unguarded_log))
        fcgi_log("no descriptor left to bound a connection's total time (%s): served with its I/O timeouts only "
                 "(raise the open-files limit, e.g. LimitNOFILE=)",
                 strerror(errno));
    double io, render;
    connection_timeouts(srv->app, &io, &render);
    if (handle >= 0)
        fcgi_watchdog_arm(srv->watchdog, w->index, handle, fcgi_monotonic_seconds() + 2 * io + render);
    set_timeouts(fd, io);
    serve_connection(w, req, fd);
    if (handle < 0)
        return;
    if (fcgi_watchdog_disarm(srv->watchdog, w->index)) {
        fcgi_selfmetrics_connection_dropped(srv->app->self, "deadline");
        if (log_due(srv, &srv->last_cut_log))
            fcgi_log("cut a FastCGI connection still busy %g s after a thread took it (io_timeout_seconds x 2 + "
                     "render_deadline_seconds): the peer kept sending, or read the answer too slowly",
                     2 * io + render);
    }
    close(handle);
}

static void *worker_main(void *arg)
{
    worker_t *w = arg;
    FCGX_Request req;
    int fd;
    FCGX_InitRequest(&req, -1, 0);
    while (fcgi_intake_next(w->srv->intake, &fd) == 0) {
        handle_connection(w, &req, fd);
        fcgi_intake_done(w->srv->intake);
    }
    FCGX_Free(&req, 1);
    return NULL;
}

/* Raises the soft open-files limit to the hard one and returns how many
 * connections fit in it. */
static unsigned connection_bound(unsigned threads)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        return 1024 - RESERVED_FDS - threads;
    if (rl.rlim_cur < rl.rlim_max) {
        rlim_t was = rl.rlim_cur;
        rl.rlim_cur = rl.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
            rl.rlim_cur = was;
    }
    rlim_t spare = rl.rlim_cur > RESERVED_FDS + threads + 16 ? rl.rlim_cur - RESERVED_FDS - threads : 16;
    return spare > MAX_CONNECTIONS ? MAX_CONNECTIONS : (unsigned)spare;
}

fcgi_server_t *fcgi_server_start(fcgi_app_t *app, int listen_fd, unsigned threads, char *err, size_t errlen)
{
    setenv("LIBFCGI_OS_CLOSE_POLL_TIMEOUT", DECIMAL(CLOSE_DRAIN_MS), 0); /* read by FCGX_Init; the user's value wins */
    if (FCGX_Init() != 0) {
        snprintf(err, errlen, "libfcgi failed to initialise");
        return NULL;
    }
    fcgi_server_t *srv = calloc(1, sizeof *srv);
    if (!srv || !(srv->workers = calloc(threads, sizeof *srv->workers))) {
        snprintf(err, errlen, "out of memory");
        free(srv);
        return NULL;
    }
    srv->app = app;
    srv->nworkers = threads;
    srv->last_accept_log = srv->last_refusal_log = srv->last_cut_log = srv->last_unguarded_log = -LOG_EVERY_SECONDS;
    pthread_mutex_init(&srv->log_lock, NULL);
    srv->wake_fd = eventfd(0, EFD_CLOEXEC);
    if (srv->wake_fd < 0) {
        snprintf(err, errlen, "cannot create an eventfd: %s", strerror(errno));
        fcgi_server_stop(srv);
        return NULL;
    }
    fcgi_intake_ops_t ops = {srv, io_timeout, count_refusal, log_accept_error};
    if (!(srv->watchdog = fcgi_watchdog_start(threads, err, errlen)) ||
        !(srv->intake = fcgi_intake_start(listen_fd, connection_bound(threads), &ops, err, errlen))) {
        fcgi_server_stop(srv);
        return NULL;
    }
    for (unsigned i = 0; i < threads; i++) {
        worker_t *w = &srv->workers[i];
        w->srv = srv;
        w->index = i;
        int rc = pthread_create(&w->thread, NULL, worker_main, w);
        if (rc != 0) {
            snprintf(err, errlen, "cannot start worker thread %u of %u: %s", i + 1, threads, strerror(rc));
            fcgi_server_stop(srv);
            return NULL;
        }
        w->started = 1;
    }
    return srv;
}

void fcgi_server_stop(fcgi_server_t *srv)
{
    if (!srv)
        return;
    atomic_store(&srv->stopping, 1);
    if (srv->wake_fd >= 0) {
        uint64_t one = 1;
        ssize_t ignored = write(srv->wake_fd, &one, sizeof one); /* stays readable: ends every drain */
        (void)ignored;
    }
    FCGX_ShutdownPending();
    fcgi_intake_stop(srv->intake); /* closes what waits; idle threads return */
    for (unsigned i = 0; i < srv->nworkers; i++)
        if (srv->workers[i].started)
            pthread_join(srv->workers[i].thread, NULL);
    fcgi_watchdog_stop(srv->watchdog); /* after the threads: it bounds their last connections */
    fcgi_intake_free(srv->intake);
    if (srv->wake_fd >= 0)
        close(srv->wake_fd);
    pthread_mutex_destroy(&srv->log_lock);
    free(srv->workers);
    free(srv);
}
