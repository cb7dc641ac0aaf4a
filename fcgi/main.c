/*
 * main.c - fastprom-fcgi's entry point: command line, start-up order,
 * and the signal loop.
 *
 * Start-up: configuration -> listening socket (inherited, or created as the
 * configured owner/mode) -> privilege drop -> libfcgi and worker threads.
 * Signals are blocked in every thread and taken synchronously here with
 * sigwaitinfo(), so SIGHUP (reload) and SIGTERM/SIGINT (graceful stop) run
 * as ordinary code instead of in a signal handler.
 */
#include <getopt.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app.h"
#include "config.h"
#include "listen.h"
#include "log.h"
#include "mapguard.h"
#include "server.h"

/* Answers are large, short-lived blocks allocated by whichever thread
 * serves: with glibc's defaults every thread gets an arena that keeps the
 * freed blocks, and the mmap threshold climbs past the answer size after
 * the first free, so a worker under load held ~10x its answer size. A
 * fixed threshold gives large blocks back to the system when freed (the
 * ones reused per render are pooled, so only shared copies pay the mmap),
 * and two arenas bound what small blocks can strand. */
#define MMAP_THRESHOLD_BYTES (128 * 1024)
#define MALLOC_ARENAS 2

#define EXIT_CONFIG 1
#define EXIT_USAGE 2

typedef struct options {
    const char *config_path;
    fcgi_overrides_t overrides;
    int check_only;
} options_t;

static void usage(FILE *out)
{
    fprintf(out,
            "usage: fastprom-fcgi [options]\n"
            "Serves a fastprom segment to Prometheus as a FastCGI application behind nginx.\n"
            "\n"
            "  --config FILE        JSON configuration (see conf/fastprom.json); flags override it\n"
            "  --socket PATH        unix socket to create (default %s)\n"
            "  --socket-mode OCTAL  its permissions (default 0660)\n"
            "  --user USER          owner of the socket; when started as root, run as this user\n"
            "  --group GROUP        group of the socket (give it nginx's group)\n"
            "  --segment PATH       the segment to export (default $FASTPROM_PATH, else %s)\n"
            "  --threads N          concurrent requests (default 16)\n"
            "  --namespace NS       prefix every application metric name with NS_\n"
            "  --uri-prefix P       serve P/metrics, P/api/v1/... instead of /metrics, /api/v1/...\n"
            "  --check-config       validate the configuration and exit (0 when valid)\n"
            "  --version            print the version and exit\n"
            "  --help               this text\n"
            "\n"
            "An inherited listening socket (systemd LISTEN_FDS on fd 3, or fd 0 from spawn-fcgi) is used\n"
            "instead of --socket. Routes: /metrics, /api/v1/metrics, /api/v1/health/prometheus,\n"
            "/api/v1/health/live. SIGHUP re-reads the configuration; SIGTERM/SIGINT stop gracefully.\n",
            FCGI_DEFAULT_SOCKET, FASTPROM_DEFAULT_PATH);
}

/* Returns -1 to continue, else the exit code. */
static int parse_args(int argc, char **argv, options_t *opt)
{
    enum {
        O_CONFIG = 256,
        O_SOCKET,
        O_SEGMENT,
        O_THREADS,
        O_NAMESPACE,
        O_URI,
        O_USER,
        O_GROUP,
        O_MODE,
        O_CHECK,
        O_VERSION,
        O_HELP
    };
    static const struct option longopts[] = {
        {"config", required_argument, NULL, O_CONFIG},
        {"socket", required_argument, NULL, O_SOCKET},
        {"segment", required_argument, NULL, O_SEGMENT},
        {"threads", required_argument, NULL, O_THREADS},
        {"namespace", required_argument, NULL, O_NAMESPACE},
        {"uri-prefix", required_argument, NULL, O_URI},
        {"user", required_argument, NULL, O_USER},
        {"group", required_argument, NULL, O_GROUP},
        {"socket-mode", required_argument, NULL, O_MODE},
        {"check-config", no_argument, NULL, O_CHECK},
        {"version", no_argument, NULL, O_VERSION},
        {"help", no_argument, NULL, O_HELP},
        {NULL, 0, NULL, 0},
    };
    memset(opt, 0, sizeof *opt);
    fcgi_overrides_t *ov = &opt->overrides;
    for (int c; (c = getopt_long(argc, argv, "", longopts, NULL)) != -1;) {
        switch (c) {
        case O_CONFIG: opt->config_path = optarg; break;
        case O_SOCKET: ov->socket = optarg; break;
        case O_SEGMENT: ov->segment = optarg; break;
        case O_THREADS: ov->threads = optarg; break;
        case O_NAMESPACE: ov->metric_namespace = optarg; break;
        case O_URI: ov->uri_prefix = optarg; break;
        case O_USER: ov->user = optarg; break;
        case O_GROUP: ov->group = optarg; break;
        case O_MODE: ov->socket_mode = optarg; break;
        case O_CHECK: opt->check_only = 1; break;
        case O_VERSION: printf("fastprom-fcgi %s (libfastprom %s)\n", FASTPROM_VERSION, fastprom_version()); return 0;
        case O_HELP: usage(stdout); return 0;
        default: fprintf(stderr, "fastprom-fcgi: see --help for the options\n"); return EXIT_USAGE;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "fastprom-fcgi: unexpected argument \"%s\"; see --help\n", argv[optind]);
        return EXIT_USAGE;
    }
    return -1;
}

static int same_name(const char *a, const char *b)
{
    return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

static void reload(fcgi_app_t *app, const options_t *opt)
{
    char err[1024];
    fcgi_config_t *fresh = fcgi_config_load(opt->config_path, &opt->overrides, err, sizeof err);
    if (!fresh) {
        fcgi_log("SIGHUP: the new configuration is invalid, keeping the running one: %s", err);
        return;
    }
    const fcgi_config_t *old = fcgi_app_config_acquire(app);
    int restart_needed = strcmp(old->socket_path, fresh->socket_path) != 0 || old->threads != fresh->threads ||
                         old->socket_mode != fresh->socket_mode || old->listen_backlog != fresh->listen_backlog ||
                         !same_name(old->user, fresh->user) || !same_name(old->group, fresh->group);
    fcgi_app_config_release(app);
    if (restart_needed)
        fcgi_log("SIGHUP: socket, socket_mode, listen_backlog, threads, user and group change only on restart");
    fcgi_app_config_replace(app, fresh);
    fcgi_log("SIGHUP: configuration reloaded from %s", opt->config_path ? opt->config_path : "(flags only)");
}

/* Blocks here until SIGTERM or SIGINT, reloading on SIGHUP. */
static void signal_loop(fcgi_app_t *app, const options_t *opt, const sigset_t *set)
{
    for (;;) {
        siginfo_t info;
        int sig = sigwaitinfo(set, &info);
        if (sig == SIGHUP)
            reload(app, opt);
        else if (sig == SIGTERM || sig == SIGINT)
            return;
    }
}

int main(int argc, char **argv)
{
    options_t opt;
    char err[1024];
    int rc = parse_args(argc, argv, &opt);
    if (rc >= 0)
        return rc;
    fcgi_config_t *cfg = fcgi_config_load(opt.config_path, &opt.overrides, err, sizeof err);
    if (!cfg) {
        fprintf(stderr, "fastprom-fcgi: %s\n", err);
        return EXIT_CONFIG;
    }
    if (opt.check_only) {
        printf("fastprom-fcgi: configuration OK (%s)\n", cfg->source);
        fcgi_config_free(cfg);
        return 0;
    }

    mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES);
    mallopt(M_ARENA_MAX, MALLOC_ARENAS);

    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN); /* a vanished nginx is an EPIPE, not a death */

    if (fcgi_mapguard_install(err, sizeof err) != 0) {
        fprintf(stderr, "fastprom-fcgi: %s\n", err);
        fcgi_config_free(cfg);
        return EXIT_CONFIG;
    }

    fcgi_listener_t listener;
    if (fcgi_listen_open(cfg, &listener, err, sizeof err) != 0 || fcgi_drop_privileges(cfg, err, sizeof err) != 0) {
        fprintf(stderr, "fastprom-fcgi: %s\n", err);
        fcgi_listen_close(&listener);
        fcgi_config_free(cfg);
        return EXIT_CONFIG;
    }
    unsigned threads = cfg->threads;
    fcgi_app_t *app = fcgi_app_new(cfg, err, sizeof err);
    fcgi_server_t *srv = app ? fcgi_server_start(app, listener.fd, threads, err, sizeof err) : NULL;
    if (!srv) {
        fprintf(stderr, "fastprom-fcgi: %s\n", err);
        fcgi_app_free(app);
        fcgi_listen_close(&listener);
        return EXIT_CONFIG;
    }
    const fcgi_config_t *running = fcgi_app_config_acquire(app);
    const char *segment = running->segment_path ? running->segment_path : "$FASTPROM_PATH or " FASTPROM_DEFAULT_PATH;
    fcgi_log("%s listening on %s, %u threads, segment %s", FASTPROM_VERSION, listener.description, threads, segment);
    fcgi_app_config_release(app);

    signal_loop(app, &opt, &set);

    fcgi_log("stopping: finishing requests in progress");
    fcgi_server_stop(srv);
    fcgi_listen_close(&listener);
    fcgi_app_free(app);
    fcgi_log("stopped");
    return 0;
}
