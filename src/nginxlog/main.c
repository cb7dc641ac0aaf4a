/*
 * main.c - fastprom-nginxlog's entry point: command line, start-up order,
 * and the receive loop.
 *
 * Start-up: configuration -> socket (inherited from systemd or created with
 * the configured owner and mode) -> privilege drop -> segment -> families.
 * One thread: poll(2) on the socket and a signalfd, so SIGHUP (reload) and
 * SIGTERM/SIGINT (stop) are ordinary code between two batches, never in a
 * signal handler, and a batch is never interrupted half-recorded. While
 * lines keep arriving, the thread naps between batches instead of polling
 * (pace.h), so that nginx's sends do not have to wake it.
 */
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "fastprom.h"
#include "ingest.h"
#include "log.h"
#include "pace.h"
#include "socket.h"

#define EXIT_CONFIG 1
#define EXIT_USAGE 2
#define BATCH 64            /* datagrams per recvmmsg */
#define BATCHES_PER_WAKE 32 /* then look at signals again */
#define RECOMMENDED_QLEN 512
#define SEGMENT_CHECK_SECONDS 5.0
/* Below this queue limit a nap between reads would risk filling the queue;
 * above it a nap lets at most a quarter of the queue fill. */
#define COALESCE_MIN_QLEN 128
#define COALESCE_QLEN_SHARE 4

typedef struct options {
    const char *config_path;
    nl_overrides_t overrides;
    int check_only;
} options_t;

static void usage(FILE *out)
{
    fprintf(out,
            "usage: fastprom-nginxlog [options]\n"
            "Receives nginx's access log over a unix datagram socket and records per-route request metrics\n"
            "(nginx_http_*) in a fastprom segment, served by fastprom-fcgi's /metrics.\n"
            "\n"
            "  --config FILE        JSON configuration (see conf/nginxlog.json); flags override it\n"
            "  --socket PATH        unix datagram socket to create (default %s)\n"
            "  --socket-mode OCTAL  its permissions (default 0660; nginx's workers must be able to write)\n"
            "  --user USER          owner of the socket; when started as root, run as this user\n"
            "  --group GROUP        group of the socket (give it nginx's group, e.g. www-data)\n"
            "  --segment PATH       the segment to write (default $FASTPROM_PATH, else %s)\n"
            "  --check-config       validate the configuration and exit (0 when valid)\n"
            "  --version            print the version and exit\n"
            "  --help               this text\n"
            "\n"
            "nginx: access_log syslog:server=unix:%s,nohostname,tag=fastprom fastprom;\n"
            "with the log_format of conf/nginx/fastprom-nginxlog.conf. A socket inherited from systemd\n"
            "(ListenDatagram=, LISTEN_FDS) is used instead of --socket. SIGHUP re-reads the configuration\n"
            "(a bad file keeps the running one); SIGTERM/SIGINT stop after the current batch.\n",
            NL_DEFAULT_SOCKET, FASTPROM_DEFAULT_PATH, NL_DEFAULT_SOCKET);
}

/* Returns -1 to continue, else the exit code. */
static int parse_args(int argc, char **argv, options_t *opt)
{
    enum { O_CONFIG = 256, O_SOCKET, O_MODE, O_USER, O_GROUP, O_SEGMENT, O_CHECK, O_VERSION, O_HELP };
    static const struct option longopts[] = {
        {"config", required_argument, NULL, O_CONFIG},
        {"socket", required_argument, NULL, O_SOCKET},
        {"socket-mode", required_argument, NULL, O_MODE},
        {"user", required_argument, NULL, O_USER},
        {"group", required_argument, NULL, O_GROUP},
        {"segment", required_argument, NULL, O_SEGMENT},
        {"check-config", no_argument, NULL, O_CHECK},
        {"version", no_argument, NULL, O_VERSION},
        {"help", no_argument, NULL, O_HELP},
        {NULL, 0, NULL, 0},
    };
    memset(opt, 0, sizeof *opt);
    nl_overrides_t *ov = &opt->overrides;
    for (int c; (c = getopt_long(argc, argv, "", longopts, NULL)) != -1;) {
        switch (c) {
        case O_CONFIG: opt->config_path = optarg; break;
        case O_SOCKET: ov->socket = optarg; break;
        case O_MODE: ov->socket_mode = optarg; break;
        case O_USER: ov->user = optarg; break;
        case O_GROUP: ov->group = optarg; break;
        case O_SEGMENT: ov->segment = optarg; break;
        case O_CHECK: opt->check_only = 1; break;
        case O_VERSION:
            printf("fastprom-nginxlog %s (libfastprom %s)\n", FASTPROM_VERSION, fastprom_version());
            return 0;
        case O_HELP: usage(stdout); return 0;
        default: fprintf(stderr, "fastprom-nginxlog: see --help for the options\n"); return EXIT_USAGE;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "fastprom-nginxlog: unexpected argument \"%s\"; see --help\n", argv[optind]);
        return EXIT_USAGE;
    }
    return -1;
}

static double clock_seconds(clockid_t clock)
{
    struct timespec ts;
    clock_gettime(clock, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static double now_seconds(void)
{
    return clock_seconds(CLOCK_REALTIME);
}

typedef struct daemon_state {
    options_t opt;
    nl_config_t *cfg;
    nl_socket_t sock;
    fastprom_t *fp;
    nl_ingest_t ing;
    int sigfd;
    nl_pace_t pace;
    double read_ended;      /* monotonic seconds, when the last read ended */
    double segment_checked; /* when fastprom_check last ran */
    int segment_trouble;    /* the last check failed: said once, not every time */
    long qlen;              /* net.unix.max_dgram_qlen, -1 unknown */
    /* Receive buffers: BATCH datagrams of max_line_bytes + 1 (one more byte
     * tells an oversized datagram from one that fits exactly). */
    char *bufs;
    size_t buf_size;
    struct mmsghdr msgs[BATCH];
    struct iovec iov[BATCH];
} daemon_t;

static int alloc_buffers(daemon_t *d, size_t max_line)
{
    char *bufs = malloc(BATCH * (max_line + 1));
    if (!bufs)
        return -1;
    free(d->bufs);
    d->bufs = bufs;
    d->buf_size = max_line + 1;
    for (int i = 0; i < BATCH; i++) {
        d->iov[i].iov_base = d->bufs + (size_t)i * d->buf_size;
        d->iov[i].iov_len = d->buf_size;
        memset(&d->msgs[i].msg_hdr, 0, sizeof d->msgs[i].msg_hdr);
        d->msgs[i].msg_hdr.msg_iov = &d->iov[i];
        d->msgs[i].msg_hdr.msg_iovlen = 1;
    }
    return 0;
}

/* Pacing as configured, within what the socket's queue can hold. */
static void configure_pace(daemon_t *d)
{
    unsigned ms = d->cfg->receive_coalesce_ms, lines = d->cfg->receive_coalesce_lines;
    if (d->qlen >= 0 && d->qlen < COALESCE_MIN_QLEN)
        ms = 0;
    else if (d->qlen >= 0 && lines > d->qlen / COALESCE_QLEN_SHARE)
        lines = (unsigned)(d->qlen / COALESCE_QLEN_SHARE);
    nl_pace_init(&d->pace, ms, lines);
}

static void reload(daemon_t *d)
{
    char err[1024], restart[256];
    nl_config_t *fresh = nl_config_load(d->opt.config_path, &d->opt.overrides, err, sizeof err);
    if (!fresh) {
        nl_log("SIGHUP: the new configuration is invalid, keeping the running one: %s", err);
        return;
    }
    if (fresh->max_line_bytes != d->cfg->max_line_bytes && alloc_buffers(d, fresh->max_line_bytes) != 0) {
        nl_log("SIGHUP: out of memory for max_line_bytes %zu, keeping the running configuration",
               fresh->max_line_bytes);
        nl_config_free(fresh);
        return;
    }
    if (nl_ingest_reconfigure(&d->ing, fresh) != 0) {
        nl_log("SIGHUP: out of memory, keeping the running configuration");
        nl_config_free(fresh);
        return;
    }
    nl_config_restart_keys(d->cfg, fresh, restart, sizeof restart);
    if (restart[0])
        nl_log("SIGHUP: %s change only on restart", restart);
    nl_config_free(d->cfg);
    d->cfg = fresh;
    configure_pace(d);
    nl_log("SIGHUP: configuration reloaded from %s (%zu route rules)", fresh->source, fresh->nrules);
}

/* Reads what is queued, up to BATCHES_PER_WAKE batches. Returns the number
 * of datagrams read; *more: the limit stopped it, more may be queued. */
static unsigned drain(daemon_t *d, int *more)
{
    unsigned got = 0;
    *more = 0;
    for (int b = 0; b < BATCHES_PER_WAKE; b++) {
        for (int i = 0; i < BATCH; i++)
            d->msgs[i].msg_hdr.msg_flags = 0;
        int n = recvmmsg(d->sock.fd, d->msgs, BATCH, MSG_DONTWAIT | MSG_TRUNC, NULL);
        if (n <= 0) {
            if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
                nl_log("receiving from %s failed: %s", d->sock.description, strerror(errno));
            return got;
        }
        got += (unsigned)n;
        for (int i = 0; i < n; i++) {
            size_t len = d->msgs[i].msg_len;
            int truncated = (d->msgs[i].msg_hdr.msg_flags & MSG_TRUNC) || len > d->cfg->max_line_bytes;
            nl_ingest_datagram(&d->ing, d->iov[i].iov_base, len < d->buf_size ? len : d->buf_size, truncated);
        }
        nl_ingest_tick(&d->ing, now_seconds());
        if (n < BATCH)
            return got;
    }
    *more = 1;
    return got;
}

/*
 * After a read that found lines, naps (pace.h) before reading again, off
 * the socket's wait queue: lines that arrive meanwhile are read in one
 * batch, and nginx's send() finds nobody to wake. Waking the daemon every
 * few lines costs nginx a context switch (an IPI under virtualisation) per
 * request, measured in `make bench`. Signals wait until the nap ends (at
 * most receive_coalesce_ms).
 */
static void pace(daemon_t *d, unsigned got, int more)
{
    double now = clock_seconds(CLOCK_MONOTONIC);
    double nap = nl_pace_next(&d->pace, got, (now - d->read_ended) * 1e6);
    d->read_ended = now;
    if (nap > 0 && !more) {
        struct timespec ts = {(time_t)(nap / 1e6), (long)(nap * 1000) % 1000000000L}; /* nap: µs */
        nanosleep(&ts, NULL);
    }
}

/*
 * The segment file may be removed or replaced while the daemon runs (an
 * operator cleaning /run/fastprom, a new segment made for a new layout):
 * writes to the old mapping would reach nobody. Every few seconds the path
 * is checked and, when it no longer names the mapped file, the daemon
 * attaches to (or creates) what is there now, with fresh families.
 */
static void check_segment(daemon_t *d, double now)
{
    if (now - d->segment_checked < SEGMENT_CHECK_SECONDS)
        return;
    d->segment_checked = now;
    fastprom_error_t ferr;
    int rc = fastprom_check(d->fp, &ferr);
    if (rc == 0) {
        d->segment_trouble = 0;
        return;
    }
    if (rc != FASTPROM_ENOENT) {
        if (!d->segment_trouble++)
            nl_log("the segment %s fails its check, still writing to it: %s", fastprom_path(d->fp), ferr.text);
        return;
    }
    char err[512];
    fastprom_options_t fo = {.path = d->cfg->segment_path};
    fastprom_t *fresh = fastprom_open(&fo, &ferr);
    nl_ingest_t ing;
    if (!fresh || nl_ingest_init(&ing, fresh, d->cfg, err, sizeof err) != 0) {
        if (!d->segment_trouble++)
            nl_log("the segment %s was removed or replaced and cannot be attached again (retrying every %.0f s): %s",
                   fastprom_path(d->fp), SEGMENT_CHECK_SECONDS, fresh ? err : ferr.text);
        fastprom_close(fresh);
        return;
    }
    nl_log("the segment %s was removed or replaced: now writing to the one there", fastprom_path(fresh));
    nl_ingest_free(&d->ing);
    fastprom_close(d->fp);
    d->ing = ing;
    d->fp = fresh;
    d->segment_trouble = 0;
    nl_recorder_qlen(d->ing.recorder, (double)d->qlen);
}

static void run(daemon_t *d)
{
    struct pollfd pfd[2] = {{.fd = d->sock.fd, .events = POLLIN}, {.fd = d->sigfd, .events = POLLIN}};
    for (;;) {
        int n = poll(pfd, 2, 1000);
        if (n < 0 && errno != EINTR) {
            nl_log("poll failed: %s", strerror(errno));
            return;
        }
        if (pfd[1].revents & POLLIN) {
            struct signalfd_siginfo si;
            while (read(d->sigfd, &si, sizeof si) == (ssize_t)sizeof si) {
                if (si.ssi_signo == SIGHUP)
                    reload(d);
                else
                    return;
            }
        }
        if (pfd[0].revents & (POLLIN | POLLERR)) {
            int more;
            unsigned got = drain(d, &more);
            pace(d, got, more);
        }
        double now = now_seconds();
        nl_ingest_tick(&d->ing, now);
        check_segment(d, now);
    }
}

static void teardown(daemon_t *d)
{
    nl_ingest_free(&d->ing);
    fastprom_close(d->fp);
    nl_socket_close(&d->sock);
    if (d->sigfd >= 0)
        close(d->sigfd);
    free(d->bufs);
    nl_config_free(d->cfg);
}

static int start(daemon_t *d, char *err, size_t errlen)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);
    sigprocmask(SIG_BLOCK, &set, NULL);
    d->sigfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
    if (d->sigfd < 0) {
        snprintf(err, errlen, "signalfd: %s", strerror(errno));
        return -1;
    }
    if (nl_socket_open(d->cfg, &d->sock, err, errlen) != 0 || nl_drop_privileges(d->cfg, err, errlen) != 0)
        return -1;
    fastprom_options_t fo = {.path = d->cfg->segment_path};
    fastprom_error_t ferr;
    if (!(d->fp = fastprom_open(&fo, &ferr))) {
        snprintf(err, errlen, "%s", ferr.text);
        return -1;
    }
    if (nl_ingest_init(&d->ing, d->fp, d->cfg, err, errlen) != 0)
        return -1;
    if (alloc_buffers(d, d->cfg->max_line_bytes) != 0) {
        snprintf(err, errlen, "out of memory for the receive buffers");
        return -1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    daemon_t d;
    memset(&d, 0, sizeof d);
    d.sigfd = -1;
    d.sock.fd = -1;
    char err[1024];
    int rc = parse_args(argc, argv, &d.opt);
    if (rc >= 0)
        return rc;
    if (!(d.cfg = nl_config_load(d.opt.config_path, &d.opt.overrides, err, sizeof err))) {
        fprintf(stderr, "fastprom-nginxlog: %s\n", err);
        return EXIT_CONFIG;
    }
    if (d.opt.check_only) {
        printf("fastprom-nginxlog: configuration OK (%s, %zu route rules)\n", d.cfg->source, d.cfg->nrules);
        nl_config_free(d.cfg);
        return 0;
    }
    if (start(&d, err, sizeof err) != 0) {
        fprintf(stderr, "fastprom-nginxlog: %s\n", err);
        teardown(&d);
        return EXIT_CONFIG;
    }
    long qlen = d.qlen = nl_unix_max_dgram_qlen();
    nl_recorder_qlen(d.ing.recorder, (double)qlen);
    nl_log("%s receiving on %s (SO_RCVBUF %d), segment %s, %zu route rules", FASTPROM_VERSION, d.sock.description,
           d.sock.rcvbuf, fastprom_path(d.fp), d.cfg->nrules);
    if (qlen >= 0 && qlen < RECOMMENDED_QLEN)
        nl_log("net.unix.max_dgram_qlen is %ld: nginx drops log lines once that many wait in the socket; set it to "
               "%d or more (sysctl -w net.unix.max_dgram_qlen=%d, before this socket is created)",
               qlen, RECOMMENDED_QLEN, RECOMMENDED_QLEN);
    configure_pace(&d);
    if (d.pace.max_us <= 0 && d.cfg->receive_coalesce_ms)
        nl_log("receive_coalesce_ms is off: a queue of %ld datagrams cannot hold what arrives while the daemon naps",
               qlen);
    else if (d.pace.target_lines < d.cfg->receive_coalesce_lines)
        nl_log("receive_coalesce_lines is %.0f, not %u: a nap may fill at most a quarter of the queue (%ld datagrams)",
               d.pace.target_lines, d.cfg->receive_coalesce_lines, qlen);
    run(&d);
    nl_log("stopping");
    /* What is already queued is recorded, not lost; bounded, since nginx
     * may keep sending. */
    for (int more = 1, rounds = 0; more && rounds < 64; rounds++)
        drain(&d, &more);
    teardown(&d);
    nl_log("stopped");
    return 0;
}
