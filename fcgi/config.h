/*
 * config.h - the worker's configuration: a JSON file (jansson) overridden by
 * command-line flags. One immutable fcgi_config_t per load; SIGHUP builds a
 * new one and swaps it in (server.c), so readers never see a half-updated
 * configuration.
 */
#ifndef FCGI_CONFIG_H
#define FCGI_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#define FCGI_DEFAULT_SOCKET "/run/fastprom/fastprom-fcgi.sock"
#define FCGI_MAX_THREADS 256

typedef struct fcgi_health_limits {
    double stale_after_seconds;    /* warn after this long without a write; 0: never */
    unsigned min_writer_processes; /* warn when fewer writer processes are alive */
    uint64_t max_dropped_series;   /* warn when more series were refused */
    uint64_t max_dropped_updates;  /* warn when more updates were refused */
} fcgi_health_limits_t;

typedef struct fcgi_config {
    char *source; /* the file it came from, or "(defaults)" */
    char *socket_path;
    unsigned socket_mode;
    char *user;  /* NULL: none */
    char *group; /* NULL: none */
    int listen_backlog;
    char *segment_path; /* NULL: the library's default ($FASTPROM_PATH, /dev/shm/fastprom) */
    unsigned threads;
    char *metric_namespace; /* "" when none */
    char *metric_prefix;    /* metric_namespace + "_", or NULL when none */
    char *uri_prefix;       /* "" or "/x/y" (no trailing slash) */
    unsigned max_in_flight; /* concurrent renders; 0 in the file means `threads` */
    double render_deadline_seconds;
    double io_timeout_seconds;
    int gzip_level;
    size_t gzip_min_bytes;
    int openmetrics_created;
    fcgi_health_limits_t health;
} fcgi_config_t;

/* Command-line values, as typed; NULL when the flag was not given. */
typedef struct fcgi_overrides {
    const char *socket;
    const char *segment;
    const char *threads;
    const char *metric_namespace;
    const char *uri_prefix;
    const char *user;
    const char *group;
    const char *socket_mode;
} fcgi_overrides_t;

/*
 * Loads the file at path (NULL: defaults only), then applies ov (may be
 * NULL). Unknown keys, wrong types and out-of-range values are errors; keys
 * starting with "_" (e.g. "_comment") are ignored at every level. On error
 * returns NULL and writes one line to err: "<file>:<line>:<column>: <what>"
 * or "--<flag>: <what>".
 */
fcgi_config_t *fcgi_config_load(const char *path, const fcgi_overrides_t *ov, char *err, size_t errlen);

/* The same from text already in memory; origin names it in messages. */
fcgi_config_t *fcgi_config_parse(const char *text, size_t len, const char *origin, const fcgi_overrides_t *ov,
                                 char *err, size_t errlen);

void fcgi_config_free(fcgi_config_t *cfg);

#endif
