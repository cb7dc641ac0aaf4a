/*
 * config.c - reads nginxlog.json and the flags that override it into one
 * immutable nl_config_t (config.h).
 *
 * Top-level scalars are described by one table, so "known key? right type?
 * in range?" is the same code for each, for the file and for the flags.
 * Messages name the key by its path in the document ("rules[2].match"):
 * jansson only knows line and column for syntax errors.
 */
#include <errno.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "config.h"
#include "service/textfile.h"

typedef enum kind { K_SOCKET, K_PATH, K_NAME, K_TAG, K_ROUTE, K_MODE, K_UINT } kind_t;
typedef enum ctype { C_NONE, C_UNSIGNED, C_SIZE } ctype_t;

typedef struct key {
    const char *name;
    kind_t kind;
    size_t offset;
    double min, max;
    ctype_t ctype;
} config_key_t;

#define AT(field) offsetof(nl_config_t, field)

static const config_key_t keys[] = {
    {"socket", K_SOCKET, AT(socket_path), 0, 0, C_NONE},
    {"socket_mode", K_MODE, AT(socket_mode), 0, 0777, C_NONE},
    {"user", K_NAME, AT(user), 0, 0, C_NONE},
    {"group", K_NAME, AT(group), 0, 0, C_NONE},
    {"segment", K_PATH, AT(segment_path), 0, 0, C_NONE},
    {"tag", K_TAG, AT(tag), 0, 0, C_NONE},
    {"receive_buffer_bytes", K_UINT, AT(receive_buffer_bytes), 4096, 1 << 30, C_SIZE},
    {"receive_coalesce_ms", K_UINT, AT(receive_coalesce_ms), 0, 50, C_UNSIGNED},
    {"receive_coalesce_lines", K_UINT, AT(receive_coalesce_lines), 1, 4096, C_UNSIGNED},
    {"max_line_bytes", K_UINT, AT(max_line_bytes), 512, 65507, C_SIZE},
    {"max_series", K_UINT, AT(max_series), 1, 1000000, C_UNSIGNED},
    {"unmatched_route", K_ROUTE, AT(unmatched_route), 0, 0, C_NONE},
    {"log_malformed_per_minute", K_UINT, AT(log_malformed_per_minute), 0, 6000, C_UNSIGNED},
    {NULL, 0, 0, 0, 0, C_NONE},
};

static void failf(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void failf(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

static const char *check_string(kind_t kind, const char *s)
{
    size_t len = strlen(s);
    switch (kind) {
    case K_PATH: return len == 0 ? "must not be empty" : NULL;
    case K_SOCKET:
        if (len == 0 || s[0] != '/')
            return "must be an absolute path";
        return len >= sizeof(((struct sockaddr_un *)0)->sun_path)
                   ? "is longer than a unix socket path may be (107 bytes)"
                   : NULL;
    case K_NAME: return strpbrk(s, ":/ \t\n") ? "is not a user or group name" : NULL;
    case K_TAG:
        /* nginx allows [A-Za-z0-9_] in tag= and at most 32 bytes. */
        if (len > 32)
            return "is longer than nginx's 32-byte syslog tag";
        return s[strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_")]
                   ? "may only hold letters, digits and '_', as nginx's tag= does"
                   : NULL;
    case K_ROUTE:
        if (len == 0)
            return "must not be empty";
        return len > NL_MAX_ROUTE ? "is longer than 256 bytes" : NULL;
    default: return NULL;
    }
}

static int parse_mode(const char *s, unsigned *mode)
{
    if (!*s || strlen(s) > 4 || s[strspn(s, "01234567")])
        return -1;
    unsigned v = (unsigned)strtoul(s, NULL, 8);
    if (v > 0777)
        return -1;
    *mode = v;
    return 0;
}

/* Stores the string s into key k's field after checking it; "" for a user
 * or group means none. */
static int store_string(nl_config_t *cfg, const config_key_t *k, const char *s, const char *where, char *err,
                        size_t errlen)
{
    const char *problem = check_string(k->kind, s);
    if (problem) {
        failf(err, errlen, "%s: \"%s\" %s, got \"%s\"", where, k->name, problem, s);
        return -1;
    }
    char **slot = (char **)((char *)cfg + k->offset);
    char *copy = NULL;
    if (!(k->kind == K_NAME && !*s) && !(copy = strdup(s))) {
        failf(err, errlen, "%s: out of memory", where);
        return -1;
    }
    free(*slot);
    *slot = copy;
    return 0;
}

static void store_number(nl_config_t *cfg, const config_key_t *k, double v)
{
    char *field = (char *)cfg + k->offset;
    if (k->ctype == C_UNSIGNED)
        *(unsigned *)field = (unsigned)v;
    else if (k->ctype == C_SIZE)
        *(size_t *)field = (size_t)v;
}

/* One scalar from the file (value) or from a flag (text). */
static int apply_key(nl_config_t *cfg, const config_key_t *k, json_t *value, const char *text, const char *where,
                     char *err, size_t errlen)
{
    switch (k->kind) {
    case K_MODE: {
        const char *s = value ? (json_is_string(value) ? json_string_value(value) : "") : text;
        if (parse_mode(s, &cfg->socket_mode) != 0) {
            failf(err, errlen, "%s: \"%s\" must be a string of octal digits up to \"0777\", e.g. \"0660\"", where,
                  k->name);
            return -1;
        }
        return 0;
    }
    case K_UINT: {
        double v;
        if (value) {
            if (!json_is_integer(value)) {
                failf(err, errlen, "%s: \"%s\" must be an integer", where, k->name);
                return -1;
            }
            v = (double)json_integer_value(value);
        } else {
            char *end;
            errno = 0;
            v = strtod(text, &end);
            if (errno || end == text || *end) {
                failf(err, errlen, "%s: \"%s\" must be an integer, got \"%s\"", where, k->name, text);
                return -1;
            }
        }
        if (v < k->min || v > k->max || v != (double)(long long)v) {
            failf(err, errlen, "%s: \"%s\" must be an integer from %.0f to %.0f, got %g", where, k->name, k->min,
                  k->max, v);
            return -1;
        }
        store_number(cfg, k, v);
        return 0;
    }
    default:
        if (value && !json_is_string(value)) {
            failf(err, errlen, "%s: \"%s\" must be a string", where, k->name);
            return -1;
        }
        return store_string(cfg, k, value ? json_string_value(value) : text, where, err, errlen);
    }
}

static int apply_rule(nl_rule_t *rule, json_t *obj, const char *origin, size_t index, char *err, size_t errlen)
{
    if (!json_is_object(obj)) {
        failf(err, errlen,
              "%s: rules[%zu] must be an object {\"match\": \"^/users/[0-9]+$\", \"route\": \"/users/{id}\"}", origin,
              index);
        return -1;
    }
    const char *name;
    json_t *v;
    json_object_foreach(obj, name, v)
    {
        if (name[0] == '_')
            continue;
        char **slot = strcmp(name, "server") == 0  ? &rule->server
                      : strcmp(name, "match") == 0 ? &rule->match
                      : strcmp(name, "route") == 0 ? &rule->route
                                                   : NULL;
        if (!slot) {
            failf(err, errlen, "%s: rules[%zu]: unknown key \"%s\" (known: server, match, route)", origin, index, name);
            return -1;
        }
        if (!json_is_string(v) || json_string_length(v) == 0) {
            failf(err, errlen, "%s: rules[%zu].%s must be a non-empty string", origin, index, name);
            return -1;
        }
        if (!(*slot = strdup(json_string_value(v)))) {
            failf(err, errlen, "%s: out of memory", origin);
            return -1;
        }
    }
    if (!rule->match || !rule->route) {
        failf(err, errlen, "%s: rules[%zu] needs \"match\" (a regex for the path) and \"route\" (the template)", origin,
              index);
        return -1;
    }
    const char *problem = check_string(K_ROUTE, rule->route);
    if (problem) {
        failf(err, errlen, "%s: rules[%zu].route %s", origin, index, problem);
        return -1;
    }
    int rc = regcomp(&rule->re, rule->match, REG_EXTENDED | REG_NOSUB);
    if (rc != 0) {
        char why[160];
        regerror(rc, &rule->re, why, sizeof why);
        free(rule->match); /* not compiled: nl_config_free must not regfree it */
        rule->match = NULL;
        failf(err, errlen, "%s: rules[%zu].match is not a POSIX extended regex: %s", origin, index, why);
        return -1;
    }
    return 0;
}

static int apply_rules(nl_config_t *cfg, json_t *arr, char *err, size_t errlen)
{
    if (!json_is_array(arr)) {
        failf(err, errlen, "%s: \"rules\" must be an array of {\"server\", \"match\", \"route\"} objects", cfg->source);
        return -1;
    }
    size_t n = json_array_size(arr);
    if (n > 10000) {
        failf(err, errlen, "%s: \"rules\" holds %zu rules; at most 10000", cfg->source, n);
        return -1;
    }
    cfg->rules = calloc(n ? n : 1, sizeof *cfg->rules);
    if (!cfg->rules) {
        failf(err, errlen, "%s: out of memory", cfg->source);
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        cfg->nrules = i + 1; /* counted before it is complete: free() sees it */
        if (apply_rule(&cfg->rules[i], json_array_get(arr, i), cfg->source, i, err, errlen) != 0)
            return -1;
    }
    return 0;
}

static const config_key_t *find_key(const char *name)
{
    for (const config_key_t *k = keys; k->name; k++)
        if (strcmp(k->name, name) == 0)
            return k;
    return NULL;
}

static int apply_text(nl_config_t *cfg, const char *text, size_t len, char *err, size_t errlen)
{
    json_error_t jerr;
    json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!root) {
        failf(err, errlen, "%s:%d:%d: %s", cfg->source, jerr.line, jerr.column, jerr.text);
        return -1;
    }
    int rc = 0;
    if (!json_is_object(root)) {
        failf(err, errlen, "%s:1:1: the configuration must be a JSON object ({ ... })", cfg->source);
        rc = -1;
    }
    const char *name;
    json_t *value;
    json_object_foreach(root, name, value)
    {
        if (rc != 0)
            break;
        if (name[0] == '_')
            continue;
        if (strcmp(name, "rules") == 0) {
            rc = apply_rules(cfg, value, err, errlen);
            continue;
        }
        const config_key_t *k = find_key(name);
        if (!k) {
            char known[512];
            size_t used = 0;
            for (const config_key_t *key = keys; key->name; key++)
                used += (size_t)snprintf(known + used, sizeof known - used, "%s, ", key->name);
            failf(err, errlen, "%s: unknown key \"%s\" (known: %srules; keys starting with '_' are comments)",
                  cfg->source, name, known);
            rc = -1;
            continue;
        }
        rc = apply_key(cfg, k, value, NULL, cfg->source, err, errlen);
    }
    json_decref(root);
    return rc;
}

static int apply_overrides(nl_config_t *cfg, const nl_overrides_t *ov, char *err, size_t errlen)
{
    if (!ov)
        return 0;
    const struct {
        const char *flag, *key, *value;
    } flags[] = {
        {"--socket", "socket", ov->socket},    {"--socket-mode", "socket_mode", ov->socket_mode},
        {"--user", "user", ov->user},          {"--group", "group", ov->group},
        {"--segment", "segment", ov->segment},
    };
    for (size_t i = 0; i < sizeof flags / sizeof flags[0]; i++)
        if (flags[i].value &&
            apply_key(cfg, find_key(flags[i].key), NULL, flags[i].value, flags[i].flag, err, errlen) != 0)
            return -1;
    return 0;
}

static nl_config_t *defaults(const char *origin)
{
    nl_config_t *cfg = calloc(1, sizeof *cfg);
    if (!cfg)
        return NULL;
    cfg->source = strdup(origin);
    cfg->socket_path = strdup(NL_DEFAULT_SOCKET);
    cfg->socket_mode = 0660;
    cfg->tag = strdup(NL_DEFAULT_TAG);
    cfg->receive_buffer_bytes = 4u << 20;
    cfg->max_line_bytes = 16384;
    cfg->receive_coalesce_ms = 2;
    cfg->receive_coalesce_lines = 64;
    cfg->max_series = 2000;
    cfg->unmatched_route = strdup(NL_DEFAULT_UNMATCHED);
    cfg->log_malformed_per_minute = 10;
    if (!cfg->source || !cfg->socket_path || !cfg->tag || !cfg->unmatched_route) {
        nl_config_free(cfg);
        return NULL;
    }
    return cfg;
}

nl_config_t *nl_config_parse(const char *text, size_t len, const char *origin, const nl_overrides_t *ov, char *err,
                             size_t errlen)
{
    nl_config_t *cfg = defaults(origin ? origin : "(defaults)");
    if (!cfg) {
        failf(err, errlen, "out of memory");
        return NULL;
    }
    if ((text && apply_text(cfg, text, len, err, errlen) != 0) || apply_overrides(cfg, ov, err, errlen) != 0) {
        nl_config_free(cfg);
        return NULL;
    }
    return cfg;
}

nl_config_t *nl_config_load(const char *path, const nl_overrides_t *ov, char *err, size_t errlen)
{
    if (!path)
        return nl_config_parse(NULL, 0, NULL, ov, err, errlen);
    size_t len;
    char *text = svc_read_file(path, 1u << 20, &len, err, errlen);
    if (!text)
        return NULL;
    nl_config_t *cfg = nl_config_parse(text, len, path, ov, err, errlen);
    free(text);
    return cfg;
}

void nl_config_free(nl_config_t *cfg)
{
    if (!cfg)
        return;
    for (size_t i = 0; i < cfg->nrules; i++) {
        if (cfg->rules[i].match)
            regfree(&cfg->rules[i].re);
        free(cfg->rules[i].server);
        free(cfg->rules[i].match);
        free(cfg->rules[i].route);
    }
    free(cfg->rules);
    free(cfg->source);
    free(cfg->socket_path);
    free(cfg->user);
    free(cfg->group);
    free(cfg->segment_path);
    free(cfg->tag);
    free(cfg->unmatched_route);
    free(cfg);
}

static int differ(const char *a, const char *b)
{
    return (a || b) && (!a || !b || strcmp(a, b) != 0);
}

void nl_config_restart_keys(const nl_config_t *old, const nl_config_t *fresh, char *out, size_t outlen)
{
    const struct {
        const char *name;
        int changed;
    } checks[] = {
        {"socket", differ(old->socket_path, fresh->socket_path)},
        {"socket_mode", old->socket_mode != fresh->socket_mode},
        {"user", differ(old->user, fresh->user)},
        {"group", differ(old->group, fresh->group)},
        {"segment", differ(old->segment_path, fresh->segment_path)},
        {"max_series", old->max_series != fresh->max_series},
    };
    size_t used = 0;
    out[0] = '\0';
    for (size_t i = 0; i < sizeof checks / sizeof checks[0]; i++)
        if (checks[i].changed && used < outlen)
            used += (size_t)snprintf(out + used, outlen - used, "%s%s", used ? ", " : "", checks[i].name);
}
