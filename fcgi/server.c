/*
 * server.c - worker threads over libfcgi (server.h).
 *
 * Each thread accepts connections itself (poll + accept4 on the non-blocking
 * listening socket, beside an eventfd that signals shutdown) and hands the
 * accepted socket to libfcgi, which then only parses the request. Doing the
 * accept here instead of inside FCGX_Accept_r buys:
 *  - I/O timeouts (SO_RCVTIMEO/SO_SNDTIMEO) on every connection, so a peer
 *    that stalls mid-record cannot hold a thread forever (libfcgi has none);
 *  - a clean stop without shutdown(2) on the listening socket, which would
 *    break a socket systemd keeps for the next start;
 *  - accept errors (EMFILE, ENFILE, ENOMEM...) handled by backing off and
 *    retrying instead of returning an error libfcgi's samples treat as fatal;
 *  - no select()-based wait after accept (FD_SET overflows past fd 1023).
 * It uses FCGX_Request's documented-but-internal fields ipcFd, keepConnection
 * and listen_sock (fcgiapp.h, unchanged since libfcgi 2.4.0): a request
 * whose ipcFd is already open is read from that socket, and listen_sock -1
 * makes libfcgi's own accept fail at once after it dropped a malformed
 * connection, so control comes back here.
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

#include "log.h"
#include "route.h"
#include "server.h"

#define BACKOFF_MIN_MS 10
#define BACKOFF_MAX_MS 1000
#define ACCEPT_LOG_EVERY_SECONDS 10.0
/* libfcgi drains a connection for up to this many ms before closing it
 * (default 2000). nginx closes its end as soon as the answer is complete, so
 * the drain only ever waits on broken peers, holding a thread meanwhile. */
#define CLOSE_DRAIN_MS "200"

typedef struct worker {
    fcgi_server_t *srv;
    pthread_t thread;
    int started;
    fcgi_scratch_t scratch;
} worker_t;

struct fcgi_server {
    fcgi_app_t *app;
    int listen_fd;
    int wake_fd;
    atomic_int stopping;
    unsigned nworkers;
    worker_t *workers;
    pthread_mutex_t log_lock;
    double last_accept_log;
};

/* Waits up to ms for the stop signal; returns 1 when stopping. */
static int wait_or_stop(fcgi_server_t *srv, int ms)
{
    struct pollfd p = {srv->wake_fd, POLLIN, 0};
    poll(&p, 1, ms);
    return atomic_load(&srv->stopping);
}

static void log_accept_error(fcgi_server_t *srv, int error)
{
    double now = fcgi_monotonic_seconds();
    pthread_mutex_lock(&srv->log_lock);
    int due = now - srv->last_accept_log >= ACCEPT_LOG_EVERY_SECONDS;
    if (due)
        srv->last_accept_log = now;
    pthread_mutex_unlock(&srv->log_lock);
    if (due)
        fcgi_log("accept failed: %s; backing off and retrying%s", strerror(error),
                 error == EMFILE || error == ENFILE ? " (raise the open-files limit, e.g. LimitNOFILE=)" : "");
}

/* The next accepted connection, or -1 when the server stops. */
static int next_connection(fcgi_server_t *srv)
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
        if (fd >= 0)
            return fd;
        int error = errno;
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
    fcgi_handle(w->srv->app, &w->scratch, &in, &resp);
    send_response(req->out, &resp); /* a client that left needs no answer */
    fcgi_response_done(&resp, &w->scratch);
}

static double io_timeout(fcgi_app_t *app)
{
    double seconds = fcgi_app_config_acquire(app)->io_timeout_seconds;
    fcgi_app_config_release(app);
    return seconds;
}

static void *worker_main(void *arg)
{
    worker_t *w = arg;
    FCGX_Request req;
    FCGX_InitRequest(&req, -1, 0);
    for (;;) {
        int fd = next_connection(w->srv);
        if (fd < 0)
            break;
        set_timeouts(fd, io_timeout(w->srv->app));
        req.ipcFd = fd;
        req.keepConnection = 1; /* so FCGX_Accept_r's implicit finish keeps fd */
        if (FCGX_Accept_r(&req) != 0) {
            /* Not FastCGI, or the peer stalled: libfcgi closed it. */
            req.ipcFd = -1;
            continue;
        }
        serve(w, &req);
        FCGX_Finish_r(&req);
        if (req.ipcFd >= 0) { /* the peer asked for FCGI_KEEP_CONN: not supported */
            close(req.ipcFd);
            req.ipcFd = -1;
        }
    }
    FCGX_Free(&req, 1);
    return NULL;
}

fcgi_server_t *fcgi_server_start(fcgi_app_t *app, int listen_fd, unsigned threads, char *err, size_t errlen)
{
    setenv("LIBFCGI_OS_CLOSE_POLL_TIMEOUT", CLOSE_DRAIN_MS, 0); /* read by FCGX_Init; the user's value wins */
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
    srv->last_accept_log = -ACCEPT_LOG_EVERY_SECONDS;
    pthread_mutex_init(&srv->log_lock, NULL);
    srv->wake_fd = eventfd(0, EFD_CLOEXEC);
    int flags = fcntl(listen_fd, F_GETFL);
    if (srv->wake_fd < 0 || flags < 0 || fcntl(listen_fd, F_SETFL, flags | O_NONBLOCK) != 0) {
        snprintf(err, errlen, "cannot prepare the listening socket: %s", strerror(errno));
        fcgi_server_stop(srv);
        return NULL;
    }
    for (unsigned i = 0; i < threads; i++) {
        worker_t *w = &srv->workers[i];
        w->srv = srv;
        w->scratch.gzip = fcgi_gzip_new();
        int rc = w->scratch.gzip ? pthread_create(&w->thread, NULL, worker_main, w) : ENOMEM;
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
        fastprom_buf_free(&w->scratch.render);
        fcgi_gzip_free(w->scratch.gzip);
    }
    if (srv->wake_fd >= 0)
        close(srv->wake_fd);
    pthread_mutex_destroy(&srv->log_lock);
    free(srv->workers);
    free(srv);
}
