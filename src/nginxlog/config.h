/*
 * config.h - fastprom-nginxlog's configuration: a JSON file (jansson, see
 * conf/nginxlog.json for every key) overridden by command-line flags. One
 * immutable nl_config_t per load; SIGHUP builds a new one and swaps it in
 * only when the whole file is valid.
 */
#ifndef NGINXLOG_CONFIG_H
#define NGINXLOG_CONFIG_H

#include <regex.h>
#include <stddef.h>

#define NL_DEFAULT_SOCKET "/run/fastprom/nginx-log.sock"
#define NL_DEFAULT_TAG "fastprom"
#define NL_DEFAULT_UNMATCHED "unmatched"
#define NL_MAX_ROUTE 256 /* bytes of a route template */

/* One route rule: requests to `server` (NULL: any) whose path (the URI
 * without its query) matches `match` are counted under `route`. */
typedef struct nl_rule {
    char *server;
    char *match; /* the POSIX extended regex, as written */
    regex_t re;
    char *route;
} nl_rule_t;

typedef struct nl_config {
    char *source; /* the file it came from, or "(defaults)" */
    char *socket_path;
    unsigned socket_mode;
    char *user;         /* NULL: none */
    char *group;        /* NULL: none */
    char *segment_path; /* NULL: the library's default */
    char *tag;          /* "" accepts any syslog tag */
    size_t receive_buffer_bytes;
    unsigned receive_coalesce_ms;    /* longest nap between reads (0: none), so nginx's sends rarely wake us */
    unsigned receive_coalesce_lines; /* lines a nap should let queue up (pace.h) */
    size_t max_line_bytes;
    unsigned max_series; /* per nginx_http_* family */
    char *unmatched_route;
    unsigned log_malformed_per_minute;
    nl_rule_t *rules;
    size_t nrules;
} nl_config_t;

/* Command-line values as typed; NULL when the flag was not given. */
typedef struct nl_overrides {
    const char *socket;
    const char *socket_mode;
    const char *user;
    const char *group;
    const char *segment;
} nl_overrides_t;

/*
 * Loads the file at path (NULL: defaults only) and applies ov (may be NULL).
 * Unknown keys, wrong types, out-of-range values and regexes that do not
 * compile are errors; keys starting with "_" are comments. On error returns
 * NULL with one line in err naming the file, the key ("rules[2].match")
 * and the fix.
 */
nl_config_t *nl_config_load(const char *path, const nl_overrides_t *ov, char *err, size_t errlen);

/* The same from text in memory; origin names it in messages. */
nl_config_t *nl_config_parse(const char *text, size_t len, const char *origin, const nl_overrides_t *ov, char *err,
                             size_t errlen);

void nl_config_free(nl_config_t *cfg);

/* Lists (into out) the keys whose change needs a restart, "" when none. */
void nl_config_restart_keys(const nl_config_t *old, const nl_config_t *fresh, char *out, size_t outlen);

#endif
