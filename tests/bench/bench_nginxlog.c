/*
 * bench_nginxlog.c - what one access-log line costs fastprom-nginxlog on one
 * core: parse, route, record (nl_ingest_datagram, as the daemon calls it),
 * for routes from $fastprom_route, from rules (paths that repeat, and paths
 * that never do), and for malformed datagrams. Anchor, same run, same
 * lines: moving them through a unix datagram socket (send + recvmmsg on
 * one thread), the kernel's share of every line the daemon receives.
 * Prints "FIGURE name value unit"; tests/bench/bench_nginxlog.py adds nginx
 * under wrk.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "fastprom.h"
#include "nginxlog/ingest.h"

#define NLINES 200000
#define LINE_CAP 512

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + t.tv_nsec / 1e9;
}

static void figure(const char *name, double value, const char *unit)
{
    printf("FIGURE %s %.1f %s\n", name, value, unit);
    fflush(stdout);
}

typedef struct lines {
    char *buf;
    size_t len[NLINES];
} lines_t;

/* Lines as nginx writes them: 6 servers x 40 routes x methods x statuses,
 * one in eight through an upstream (one in 64 retried). kind: 0 routes in
 * $fastprom_route; 1 empty route, paths from a set of 2,000; 2 empty route,
 * every path new. */
static void make_lines(lines_t *l, int kind)
{
    static const char *const methods[] = {"GET", "GET", "GET", "POST", "PUT", "DELETE", "HEAD", "OPTIONS"};
    static const char *const statuses[] = {"200", "200", "200", "200", "201", "204", "301", "304", "404", "500"};
    srand(42);
    l->buf = malloc((size_t)NLINES * LINE_CAP);
    for (int i = 0; i < NLINES; i++) {
        int server = rand() % 6, route = rand() % 40, id = kind == 2 ? i : rand() % 50;
        const char *method = methods[rand() % 8], *status = statuses[rand() % 10];
        char ups_t[64] = "", ups_a[96] = "", route_var[64] = "", uri[128];
        if (i % 8 == 0)
            snprintf(ups_t, sizeof ups_t, i % 64 == 0 ? "0.002, 0.%03d" : "0.%03d", rand() % 1000);
        if (i % 8 == 0)
            snprintf(ups_a, sizeof ups_a, i % 64 == 0 ? "10.0.0.1:8080, 10.0.0.2:8080" : "10.0.0.%d:8080",
                     1 + rand() % 3);
        if (kind == 0)
            snprintf(route_var, sizeof route_var, "/api/v1/r%d/{id}", route);
        snprintf(uri, sizeof uri, "/api/v1/r%d/%d?page=%d", route, id, rand() % 5);
        char *out = l->buf + (size_t)i * LINE_CAP;
        int n = snprintf(out, LINE_CAP,
                         "<190>Dec  6 19:48:30 fastprom: fp1\tsite%d.example.com\t%s\t%s\t0.%03d\t%s\t%s\t%d\t%d\t"
                         "1796586510.%03d\t%s\t%s",
                         server, method, status, rand() % 1000, ups_t, ups_a, 200 + rand() % 50000, 80 + rand() % 900,
                         rand() % 1000, route_var, uri);
        l->len[i] = (size_t)n;
    }
}

static const char *const rules_json = "{\"rules\": [{\"match\": \"^/static/\", \"route\": \"/static/*\"},"
                                      "{\"match\": \"^/health$\", \"route\": \"/health\"},"
                                      "{\"match\": \"^/api/v1/r[0-9]/[0-9]+$\", \"route\": \"/api/v1/r?/{id}\"},"
                                      "{\"match\": \"^/api/v1/r1[0-9]/[0-9]+$\", \"route\": \"/api/v1/r1?/{id}\"},"
                                      "{\"match\": \"^/api/v1/r2[0-9]/[0-9]+$\", \"route\": \"/api/v1/r2?/{id}\"},"
                                      "{\"match\": \"^/api/v1/r3[0-9]/[0-9]+$\", \"route\": \"/api/v1/r3?/{id}\"}]}";

/* Lines per second through nl_ingest_datagram, best of `rounds` passes. */
static double ingest_rate(const lines_t *l, const char *config, int rounds, int expect)
{
    char err[512];
    nl_config_t *cfg = nl_config_parse(config, strlen(config), "bench", NULL, err, sizeof err);
    fastprom_options_t o = {.flags = FASTPROM_PRIVATE, .size = 64u << 20};
    fastprom_error_t ferr;
    fastprom_t *fp = fastprom_open(&o, &ferr);
    nl_ingest_t ing;
    if (!cfg || !fp || nl_ingest_init(&ing, fp, cfg, err, sizeof err) != 0) {
        fprintf(stderr, "bench_nginxlog: set-up failed: %s %s\n", err, fp ? "" : ferr.text);
        exit(1);
    }
    ing.log_tokens = 0; /* malformed samples are counted, not printed, here */
    double best = 0;
    for (int r = 0; r < rounds; r++) {
        double t0 = now_s();
        for (int i = 0; i < NLINES; i++)
            if (nl_ingest_datagram(&ing, l->buf + (size_t)i * LINE_CAP, l->len[i], 0) != expect) {
                fprintf(stderr, "bench_nginxlog: line %d: unexpected result\n", i);
                exit(1);
            }
        double rate = NLINES / (now_s() - t0);
        if (rate > best)
            best = rate;
    }
    nl_ingest_free(&ing);
    fastprom_close(fp);
    nl_config_free(cfg);
    return best;
}

/* The anchor: the same datagrams through a unix datagram socketpair, sent
 * and received (recvmmsg, 32 at a time) by one thread. */
static double socket_rate(const lines_t *l, int rounds)
{
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_DGRAM, 0, sv) != 0) {
        perror("socketpair");
        exit(1);
    }
    static char bufs[32][LINE_CAP];
    struct mmsghdr msgs[32];
    struct iovec iov[32];
    for (int i = 0; i < 32; i++) {
        iov[i] = (struct iovec){bufs[i], LINE_CAP};
        memset(&msgs[i], 0, sizeof msgs[i]);
        msgs[i].msg_hdr.msg_iov = &iov[i];
        msgs[i].msg_hdr.msg_iovlen = 1;
    }
    double best = 0;
    for (int r = 0; r < rounds; r++) {
        double t0 = now_s();
        for (int i = 0; i < NLINES; i += 8) { /* 8 in flight: under any queue limit */
            for (int k = i; k < i + 8 && k < NLINES; k++)
                if (send(sv[0], l->buf + (size_t)k * LINE_CAP, l->len[k], 0) < 0) {
                    perror("send");
                    exit(1);
                }
            if (recvmmsg(sv[1], msgs, 8, MSG_DONTWAIT, NULL) < 0 && errno != EAGAIN) {
                perror("recvmmsg");
                exit(1);
            }
        }
        double rate = NLINES / (now_s() - t0);
        if (rate > best)
            best = rate;
    }
    close(sv[0]);
    close(sv[1]);
    return best;
}

int main(void)
{
    lines_t variable, repeating, unique, bad;
    make_lines(&variable, 0);
    make_lines(&repeating, 1);
    make_lines(&unique, 2);
    make_lines(&bad, 0);
    for (int i = 0; i < NLINES; i++) /* our tag, another log_format */
        memcpy(bad.buf + (size_t)i * LINE_CAP + 31, "xx2", 3);

    double sock = socket_rate(&variable, 5);
    figure("socket_send_recv_lines_per_s", sock, "lines/s");
    double v = ingest_rate(&variable, "{}", 5, NL_OK);
    figure("ingest_route_variable_lines_per_s", v, "lines/s");
    double rr = ingest_rate(&repeating, rules_json, 5, NL_OK);
    figure("ingest_route_rules_repeating_paths_lines_per_s", rr, "lines/s");
    double ru = ingest_rate(&unique, rules_json, 3, NL_OK);
    figure("ingest_route_rules_unique_paths_lines_per_s", ru, "lines/s");
    double b = ingest_rate(&bad, "{}", 5, NL_EFORMAT);
    figure("ingest_malformed_lines_per_s", b, "lines/s");
    figure("ingest_route_variable_ns_per_line", 1e9 / v, "ns");
    figure("socket_send_recv_ns_per_line", 1e9 / sock, "ns");
    free(variable.buf);
    free(repeating.buf);
    free(unique.buf);
    free(bad.buf);
    return 0;
}
