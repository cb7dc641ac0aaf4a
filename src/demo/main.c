/*
 * main.c - fastprom-demo: a stand-in for a multi-process web application
 * (gunicorn-style pre-forked workers) for `make run`, tests and benchmarks.
 *
 * The parent opens the segment and defines the families, then forks worker
 * processes that inherit the handles (each child's first update claims its
 * own writer slot). Like a real server it replaces workers over time: most
 * leave gracefully (SIGTERM), every third is killed (SIGKILL) as a crash
 * would, so the exporter's handling of dead writers is always on show.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "traffic.h"

#define MAX_PROCESSES 256

typedef struct options {
    const char *path;
    unsigned processes;
    double recycle_seconds;
    demo_traffic_t traffic;
} options_t;

typedef struct child {
    pid_t pid;
    double started;
} child_t;

static volatile sig_atomic_t stop_requested;

static void on_stop(int sig)
{
    (void)sig;
    stop_requested = 1;
}

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void usage(FILE *out)
{
    fprintf(out,
            "usage: fastprom-demo [options]\n"
            "Forks processes that record web-request metrics into a fastprom segment, like a\n"
            "pre-forked web application, until SIGTERM or SIGINT.\n"
            "\n"
            "  --path PATH        segment (default $FASTPROM_PATH, else %s); created if missing\n"
            "  --processes N      worker processes (default 4)\n"
            "  --rate R           requests per second per process (default 20; 0: unthrottled)\n"
            "  --recycle S        replace one process every S seconds (default 15; 0: never)\n"
            "  --requests N       each process records N requests and exits; no recycling\n"
            "  --routes K         route labels /api/items/0..K-1 in turn instead of a realistic set\n"
            "  --uniform          every request is GET, status 200, no exception\n"
            "  --max-series N     series limit of each family (default: the segment's)\n"
            "  --seed N           random seed (default 1)\n",
            FASTPROM_DEFAULT_PATH);
}

/* Parses a flag's number in [min, max]; prints the one-line error itself. */
static int parse_number(const char *flag, const char *text, double min, double max, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(text, &end);
    if (!*text || *end || errno || v < min || v > max) {
        fprintf(stderr, "fastprom-demo: --%s must be a number from %g to %g, got \"%s\"\n", flag, min, max, text);
        return -1;
    }
    *out = v;
    return 0;
}

/* Applies one option; returns 0, or -1 after printing what is wrong. */
static int apply_option(int opt, const char *arg, options_t *o)
{
    double v;
    switch (opt) {
    case 'p': o->path = arg; return 0;
    case 'u': o->traffic.uniform = 1; return 0;
    case 'r': return parse_number("rate", arg, 0, 1e7, &o->traffic.rate);
    case 'c': return parse_number("recycle", arg, 0, 1e6, &o->recycle_seconds);
    case 'n':
        if (parse_number("processes", arg, 1, MAX_PROCESSES, &v) != 0)
            return -1;
        o->processes = (unsigned)v;
        return 0;
    case 'q':
        if (parse_number("requests", arg, 1, 1e12, &v) != 0)
            return -1;
        o->traffic.requests = (unsigned long)v;
        return 0;
    case 'k':
        if (parse_number("routes", arg, 1, 1e7, &v) != 0)
            return -1;
        o->traffic.routes = (unsigned)v;
        return 0;
    case 'm':
        if (parse_number("max-series", arg, 1, 1e9, &v) != 0)
            return -1;
        o->traffic.max_series = (unsigned)v;
        return 0;
    case 's':
        if (parse_number("seed", arg, 0, 1e15, &v) != 0)
            return -1;
        o->traffic.seed = (unsigned long)v;
        return 0;
    default: fprintf(stderr, "fastprom-demo: see --help for the options\n"); return -1;
    }
}

/* Returns -1 to continue, else an exit code. */
static int parse_args(int argc, char **argv, options_t *o)
{
    static const struct option longopts[] = {
        {"path", required_argument, NULL, 'p'},
        {"processes", required_argument, NULL, 'n'},
        {"rate", required_argument, NULL, 'r'},
        {"recycle", required_argument, NULL, 'c'},
        {"requests", required_argument, NULL, 'q'},
        {"routes", required_argument, NULL, 'k'},
        {"uniform", no_argument, NULL, 'u'},
        {"max-series", required_argument, NULL, 'm'},
        {"seed", required_argument, NULL, 's'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    memset(o, 0, sizeof *o);
    o->processes = 4;
    o->recycle_seconds = 15;
    o->traffic.rate = 20;
    o->traffic.seed = 1;
    for (int c; (c = getopt_long(argc, argv, "", longopts, NULL)) != -1;) {
        if (c == 'h') {
            usage(stdout);
            return 0;
        }
        if (apply_option(c, optarg, o) != 0)
            return 2;
    }
    if (optind < argc) {
        fprintf(stderr, "fastprom-demo: unexpected argument \"%s\"; see --help\n", argv[optind]);
        return 2;
    }
    return -1;
}

static pid_t spawn(fastprom_t *fp, const demo_families_t *fam, const options_t *o, unsigned index,
                   unsigned long generation)
{
    pid_t pid = fork();
    if (pid != 0)
        return pid;
    demo_traffic_t t = o->traffic;
    t.seed = o->traffic.seed * 1000003ul + generation * 131ul + index;
    unsigned long refused = demo_run_traffic(fam, &t, &stop_requested);
    fastprom_close(fp);
    if (refused)
        fprintf(stderr, "fastprom-demo: process %d: %lu updates refused (segment full or series limit)\n",
                (int)getpid(), refused);
    _exit(refused ? 3 : 0);
}

/* The index of the longest-running child. */
static unsigned oldest(const child_t *children, unsigned n)
{
    unsigned best = 0;
    for (unsigned i = 1; i < n; i++)
        if (children[i].pid > 0 && (children[best].pid <= 0 || children[i].started < children[best].started))
            best = i;
    return best;
}

static void stop_children(child_t *children, unsigned n)
{
    for (unsigned i = 0; i < n; i++)
        if (children[i].pid > 0)
            kill(children[i].pid, SIGTERM);
    double deadline = now_seconds() + 5;
    for (unsigned i = 0; i < n; i++) {
        while (children[i].pid > 0 && waitpid(children[i].pid, NULL, WNOHANG) == 0) {
            if (now_seconds() > deadline) {
                kill(children[i].pid, SIGKILL);
                waitpid(children[i].pid, NULL, 0);
                break;
            }
            usleep(10000);
        }
        children[i].pid = 0;
    }
}

/* Runs and replaces children until stopped, or until all finished their
 * --requests. Returns the exit code. */
static int supervise(fastprom_t *fp, const demo_families_t *fam, const options_t *o)
{
    child_t children[MAX_PROCESSES];
    unsigned long generation = 0, recycled = 0;
    unsigned alive = 0;
    int failed = 0;
    double next_recycle = now_seconds() + o->recycle_seconds;
    int recycling = o->recycle_seconds > 0 && o->traffic.requests == 0;

    for (unsigned i = 0; i < o->processes; i++) {
        children[i].pid = spawn(fp, fam, o, i, generation);
        children[i].started = now_seconds();
        alive += children[i].pid > 0;
    }
    while (alive > 0 && !stop_requested) {
        int status;
        pid_t pid = waitpid(-1, &status, WNOHANG);
        for (unsigned i = 0; pid > 0 && i < o->processes; i++) {
            if (children[i].pid != pid)
                continue;
            children[i].pid = 0;
            alive--;
            if (o->traffic.requests) {
                failed |= !WIFEXITED(status) || WEXITSTATUS(status) != 0;
            } else { /* a web server keeps its worker count */
                children[i].pid = spawn(fp, fam, o, i, ++generation);
                children[i].started = now_seconds();
                alive += children[i].pid > 0;
            }
        }
        if (recycling && now_seconds() >= next_recycle) {
            unsigned victim = oldest(children, o->processes);
            if (children[victim].pid > 0)
                kill(children[victim].pid, ++recycled % 3 == 0 ? SIGKILL : SIGTERM);
            next_recycle += o->recycle_seconds;
        }
        if (pid <= 0)
            usleep(20000);
    }
    stop_children(children, o->processes);
    return failed ? 1 : 0;
}

int main(int argc, char **argv)
{
    options_t o;
    int rc = parse_args(argc, argv, &o);
    if (rc >= 0)
        return rc;

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop; /* no SA_RESTART: sleeps end early on a stop */
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);

    fastprom_error_t err;
    fastprom_options_t fo = {0};
    fo.path = o.path;
    fastprom_t *fp = fastprom_open(&fo, &err);
    demo_families_t fam;
    if (!fp || demo_define_families(fp, &o.traffic, &fam, &err) != 0) {
        fprintf(stderr, "fastprom-demo: %s\n", err.text);
        fastprom_close(fp);
        return 1;
    }
    printf("fastprom-demo: %u processes writing to %s at %g requests/s each\n", o.processes, fastprom_path(fp),
           o.traffic.rate);
    fflush(stdout);
    rc = supervise(fp, &fam, &o);
    fastprom_close(fp);
    return rc;
}
