/*
 * server.c - worker threads over libfcgi (server.h).
 *
 * Each thread accepts connections itself (poll + accept4 on the non-blocking
 * listening socket, beside an eventfd that signals shutdown) and hands the
 * accepted socket to libfcgi, which then only parses the request. Doing the
 * accept here instead of inside FCGX_Accept_r buys:
 *  - the guard (guard.c): the request's start is checked before libfcgi,
 *    which aborts the process on some declared lengths, reads a byte of it;
 *  - I/O timeouts (SO_RCVTIMEO/SO_SNDTIMEO) on every connection, and an
 *    absolute deadline enforced by the watchdog (watchdog.c), so neither a
 *    stalled peer nor one that keeps sending can hold a thread (libfcgi's
 *    close drains until the peer goes quiet) or make SIGTERM wait;
 *  - a clean stop without shutdown(2) on the listening socket, which would
 *    break a socket systemd keeps for the next start;
 *  - accept errors (EMFILE, ENFILE, ENOMEM...) handled by backing off and
 *    retrying instead of returning an error libfcgi's samples treat as fatal;
 *  - no select()-based wait after accept (FD_SET overflows past fd 1023).
 * It uses FCGX_Request's documented-but-internal fields ipcFd, keepConnection
 * and listen_sock (fcgiapp.h, unchanged since libfcgi 2.4.0): a request
 * whose ipcFd is already open is read from that socket, keepConnection makes
 * FCGX_Finish_r leave the socket to us, and listen_sock -1 makes libfcgi's
 * own accept fail at once after it dropped a connection, so control comes
 * back here.
 *
 * Every connection has two descriptors: the one libfcgi reads, writes and
 * may close, and a dup() the watchdog holds until the connection is over, so
 * the watchdog never shuts down a descriptor number libfcgi closed and
 * another thread's accept reused.
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
#include <sys/socket.h>
#include <unistd.h>

#include "clock.h"
#include "guard.h"
#include "log.h"
#include "route.h"
#include "server.h"
#include "watchdog.h"

#define BACKOFF_MIN_MS 10
#define BACKOFF_MAX_MS 1000
#define LOG_EVERY_SECONDS 10.0
/* Closing a connection drains it until the peer has been quiet this long
 * (libfcgi's default: 2000). nginx closes its end as soon as the answer is
 * complete, so the drain only ever waits on broken peers, holding a thread
 * meanwhile. libfcgi's own drain (after a failed read or write) gets the
 * same value through its environment variable. */
#define CLOSE_DRAIN_MS 200
#define STRINGIFY(x) #x
#define DECIMAL(x) STRINGIFY(x)

typedef struct worker {
    fcgi_server_t *srv;
    unsigned index; /* its slot in the watchdog */
    pthread_t thread;
    int started;
    fcgi_guard_t *guard;
} worker_t;

struct fcgi_server {
    fcgi_app_t *app;
    int listen_fd;
    int wake_fd;
    atomic_int stopping;
    unsigned nworkers;
    worker_t *workers;
    fcgi_watchdog_t *watchdog;
    pthread_mutex_t log_lock; /* the last_*_log times */
    double last_accept_log;
    double last_refusal_log;
    double last_cut_log;
};

/* Waits up to ms for the stop signal; returns 1 when stopping. */
static int wait_or_stop(fcgi_server_t *srv, int ms)
{
    struct pollfd p = {srv->wake_fd, POLLIN, 0};
    poll(&p, 1, ms);
    return atomic_load(&srv->stopping);
}

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

static void log_accept_error(fcgi_server_t *srv, int error)
{
    if (log_due(srv, &srv->last_accept_log))
        fcgi_log("accept failed: %s; backing off and retrying%s", strerror(error),
                 error == EMFILE || error == ENFILE ? " (raise the open-files limit, e.g. LimitNOFILE=)" : "");
}

/* The next accepted connection and, in *handle, the watchdog's descriptor
 * of it; -1 when the server stops. */
static int next_connection(fcgi_server_t *srv, int *handle)
{
    int backoff = 0;
    for (;;) {
        struct pollfd p[2] = {{srv->listen_fd, POLLIN, 0}, {srv->wake_fd, POLLIN, 0}};
        if (atomic_load(&srv->stopping))
            return -1;
        if (poll(p, 2, -1) < 0 && errno != EINTR) {
            log_accept_error(srv, errno);
            if (wait_or_stop(srv, BACKOFF_MAX_MS))
                return -1;
            continue;
        }
        if (p[1].revents)
            return -1;
        if (!p[0].revents)
            continue;
        int fd = accept4(srv->listen_fd, NULL, NULL, SOCK_CLOEXEC);
        if (fd >= 0 && (*handle = fcntl(fd, F_DUPFD_CLOEXEC, 0)) >= 0)
            return fd;
        int error = errno;
        if (fd >= 0) /* no descriptor left for the watchdog: as if accept had failed */
            close(fd);
        if (error == EAGAIN || error == EWOULDBLOCK || error == EINTR || error == ECONNABORTED || error == EPROTO)
            continue; /* another thread took it, or the peer gave up */
        log_accept_error(srv, error);
        backoff = backoff ? (backoff * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : backoff * 2) : BACKOFF_MIN_MS;
        if (wait_or_stop(srv, backoff))
            return -1;
    }
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
        FCGX_GetParam("FCGI_ROLE", req->envp),
        FCGX_GetParam("REQUEST_METHOD", req->envp),
        FCGX_GetParam("DOCUMENT_URI", req->envp),
        FCGX_GetParam("QUERY_STRING", req->envp),
        FCGX_GetParam("HTTP_ACCEPT", req->envp),
        FCGX_GetParam("HTTP_ACCEPT_ENCODING", req->envp),
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

static void count_refusal(worker_t *w, fcgi_guard_verdict_t verdict)
{
    fcgi_server_t *srv = w->srv;
    if (verdict == FCGI_GUARD_STOPPING)
        return;
    fcgi_selfmetrics_connection_dropped(srv->app->self, fcgi_guard_verdict_name(verdict));
    /* Stalls and hang-ups are counted only: health checks that just connect
     * do that. Malformed and oversized requests come from no web server. */
    if ((verdict == FCGI_GUARD_MALFORMED || verdict == FCGI_GUARD_TOO_LARGE) && log_due(srv, &srv->last_refusal_log))
        fcgi_log("refused a FastCGI connection: %s; only the web server should connect to this socket "
                 "(fastprom_connections_dropped_total counts them all, this line repeats at most every %g s)",
                 fcgi_guard_detail(w->guard), LOG_EVERY_SECONDS);
}

/*
 * One connection from accept to close. Its deadline leaves io_timeout for
 * the request to arrive, render_deadline for the answer to be made and
 * io_timeout for it to be sent; the request itself must be complete within
 * the first io_timeout.
 */
static void handle_connection(worker_t *w, FCGX_Request *req, int fd, int handle)
{
    fcgi_server_t *srv = w->srv;
    double io, render;
    connection_timeouts(srv->app, &io, &render);
    double accepted = fcgi_monotonic_seconds();
    fcgi_watchdog_arm(srv->watchdog, w->index, handle, accepted + 2 * io + render);
    set_timeouts(fd, io);
    fcgi_guard_verdict_t verdict = fcgi_guard_check(w->guard, fd, accepted + io);
    if (verdict == FCGI_GUARD_OK) {
        serve_connection(w, req, fd);
    } else {
        count_refusal(w, verdict);
        close(fd);
    }
    if (fcgi_watchdog_disarm(srv->watchdog, w->index)) {
        fcgi_selfmetrics_connection_dropped(srv->app->self, "deadline");
        if (log_due(srv, &srv->last_cut_log))
            fcgi_log("cut a FastCGI connection still busy %g s after it was accepted (io_timeout_seconds x 2 + "
                     "render_deadline_seconds): the peer kept sending, or read the answer too slowly",
                     2 * io + render);
    }
    close(handle);
}

static void *worker_main(void *arg)
{
    worker_t *w = arg;
    FCGX_Request req;
    FCGX_InitRequest(&req, -1, 0);
    for (int fd, handle; (fd = next_connection(w->srv, &handle)) >= 0;)
        handle_connection(w, &req, fd, handle);
    FCGX_Free(&req, 1);
    return NULL;
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
    srv->listen_fd = listen_fd;
    srv->nworkers = threads;
    srv->last_accept_log = srv->last_refusal_log = srv->last_cut_log = -LOG_EVERY_SECONDS;
    pthread_mutex_init(&srv->log_lock, NULL);
    srv->wake_fd = eventfd(0, EFD_CLOEXEC);
    int flags = fcntl(listen_fd, F_GETFL);
    if (srv->wake_fd < 0 || flags < 0 || fcntl(listen_fd, F_SETFL, flags | O_NONBLOCK) != 0) {
        snprintf(err, errlen, "cannot prepare the listening socket: %s", strerror(errno));
        fcgi_server_stop(srv);
        return NULL;
    }
    if (!(srv->watchdog = fcgi_watchdog_start(threads, err, errlen))) {
        fcgi_server_stop(srv);
        return NULL;
    }
    for (unsigned i = 0; i < threads; i++) {
        worker_t *w = &srv->workers[i];
        w->srv = srv;
        w->index = i;
        w->guard = fcgi_guard_new(srv->wake_fd);
        int rc = !w->guard ? errno : pthread_create(&w->thread, NULL, worker_main, w);
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
        ssize_t ignored = write(srv->wake_fd, &one, sizeof one); /* stays readable: wakes every thread */
        (void)ignored;
    }
    FCGX_ShutdownPending();
    for (unsigned i = 0; i < srv->nworkers; i++) {
        worker_t *w = &srv->workers[i];
        if (w->started)
            pthread_join(w->thread, NULL);
        fcgi_guard_free(w->guard);
    }
    fcgi_watchdog_stop(srv->watchdog); /* after the threads: it bounds their last connections */
    if (srv->wake_fd >= 0)
        close(srv->wake_fd);
    pthread_mutex_destroy(&srv->log_lock);
    free(srv->workers);
    free(srv);
}
