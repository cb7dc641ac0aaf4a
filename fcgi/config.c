/*
 * config.c - reads the worker's JSON configuration and the flags that
 * override it, into one immutable fcgi_config_t.
 *
 * Keys are described by one table per JSON object, so checking a key (known?
 * right type? in range?) is the same code for every key, and the same
 * per-type parsers serve the file and the command line. Every message names
 * the key and where it is: jansson's line/column for syntax errors, the
 * member's own position (jsonpos.c) for everything else.
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
#include "jsonpos.h"
#include "service/textfile.h"

typedef enum kind {
    K_PATH,      /* string, a file name */
    K_SOCKET,    /* string, a unix socket path (length limited) */
    K_NAME,      /* string, a user or group name; "" means none */
    K_NAMESPACE, /* string, a metric-name prefix */
    K_URI,       /* string, "" or "/..." without trailing '/' */
    K_MODE,      /* string of octal digits */
    K_UINT,      /* integer in [min, max] */
    K_SECONDS,   /* number in [min, max] */
    K_BOOL,
    K_OBJECT /* nested table */
} kind_t;

/* The C type of a numeric field, so one parser fills them all. */
typedef enum ctype { C_NONE, C_UNSIGNED, C_INT, C_SIZE, C_U64, C_DOUBLE } ctype_t;

typedef struct key {
    const char *name;
    kind_t kind;
    size_t offset;
    double min, max;
    const struct key *members; /* K_OBJECT */
    ctype_t ctype;             /* K_UINT, K_SECONDS, K_BOOL */
} config_key_t;

#define AT(field) offsetof(fcgi_config_t, field)

static const config_key_t health_keys[] = {
    {"stale_after_seconds", K_SECONDS, AT(health.stale_after_seconds), 0, 31536000, NULL, C_DOUBLE},
    {"min_writer_processes", K_UINT, AT(health.min_writer_processes), 0, 1000000, NULL, C_UNSIGNED},
    {"max_dropped_series", K_UINT, AT(health.max_dropped_series), 0, 1e15, NULL, C_U64},
    {"max_dropped_updates", K_UINT, AT(health.max_dropped_updates), 0, 1e15, NULL, C_U64},
    {NULL, 0, 0, 0, 0, NULL},
};

static const config_key_t top_keys[] = {
    {"socket", K_SOCKET, AT(socket_path), 0, 0, NULL},
    {"socket_mode", K_MODE, AT(socket_mode), 0, 0777, NULL},
    {"user", K_NAME, AT(user), 0, 0, NULL},
    {"group", K_NAME, AT(group), 0, 0, NULL},
    {"listen_backlog", K_UINT, AT(listen_backlog), 1, 65535, NULL, C_INT},
    {"segment", K_PATH, AT(segment_path), 0, 0, NULL},
    {"threads", K_UINT, AT(threads), 1, FCGI_MAX_THREADS, NULL, C_UNSIGNED},
    {"namespace", K_NAMESPACE, AT(metric_namespace), 0, 0, NULL},
    {"uri_prefix", K_URI, AT(uri_prefix), 0, 0, NULL},
    {"max_in_flight", K_UINT, AT(max_in_flight), 0, FCGI_MAX_THREADS, NULL, C_UNSIGNED},
    {"render_deadline_seconds", K_SECONDS, AT(render_deadline_seconds), 0.001, 300, NULL, C_DOUBLE},
    {"io_timeout_seconds", K_SECONDS, AT(io_timeout_seconds), 0.001, 300, NULL, C_DOUBLE},
    {"gzip_level", K_UINT, AT(gzip_level), 1, 9, NULL, C_INT},
    {"gzip_min_bytes", K_UINT, AT(gzip_min_bytes), 0, 1e9, NULL, C_SIZE},
    {"openmetrics_created", K_BOOL, AT(openmetrics_created), 0, 1, NULL, C_INT},
    {"health", K_OBJECT, 0, 0, 0, health_keys},
    {NULL, 0, 0, 0, 0, NULL},
};

/* Where a message points: "file:line:col" or "--flag". */
typedef struct where {
    char text[256];
} where_t;

static void failf(char *err, size_t errlen, const where_t *at, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void failf(char *err, size_t errlen, const where_t *at, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    snprintf(err, errlen, "%s: %s", at->text, msg);
}

static int set_string(char **slot, const char *value)
{
    char *copy = strdup(value);
    if (!copy)
        return -1;
    free(*slot);
    *slot = copy;
    return 0;
}

static int is_metric_name_char(char ch, int first)
{
    if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || ch == '_' || ch == ':')
        return 1;
    return !first && ch >= '0' && ch <= '9';
}

/* Checks a string value for its kind; returns NULL or what is wrong. */
static const char *check_string(kind_t kind, const char *s)
{
    size_t len = strlen(s);
    switch (kind) {
    case K_PATH: return len == 0 ? "must not be empty" : NULL;
    case K_SOCKET:
        if (len == 0)
            return "must not be empty";
        if (s[0] != '/')
            return "must be an absolute path";
        return len >= sizeof(((struct sockaddr_un *)0)->sun_path)
                   ? "is longer than a unix socket path may be (107 bytes)"
                   : NULL;
    case K_NAME: return strpbrk(s, ":/ \t\n") ? "is not a user or group name" : NULL;
    case K_NAMESPACE:
        for (size_t i = 0; i < len; i++)
            if (!is_metric_name_char(s[i], i == 0))
                return "must match [a-zA-Z_:][a-zA-Z0-9_:]* (it prefixes metric names)";
        return len > 100 ? "is longer than 100 bytes" : NULL;
    case K_URI:
        if (len == 0)
            return NULL;
        if (s[0] != '/' || s[len - 1] == '/')
            return "must be empty or start with '/' and not end with '/' (e.g. \"/monitoring\")";
        return strpbrk(s, "?# \t\r\n") ? "must be a plain path without '?', '#' or spaces" : NULL;
    default: return NULL;
    }
}

static int parse_mode(const char *s, unsigned *mode)
{
    if (!*s || strlen(s) > 4)
        return -1;
    unsigned v = 0;
    for (const char *p = s; *p; p++) {
        if (*p < '0' || *p > '7')
            return -1;
        v = v * 8 + (unsigned)(*p - '0');
    }
    if (v > 0777)
        return -1;
    *mode = v;
    return 0;
}

/* Stores a validated number into the field of key k. */
static void store_number(fcgi_config_t *cfg, const config_key_t *k, double v)
{
    char *field = (char *)cfg + k->offset;
    switch (k->ctype) {
    case C_UNSIGNED: *(unsigned *)field = (unsigned)v; break;
    case C_INT: *(int *)field = (int)v; break;
    case C_SIZE: *(size_t *)field = (size_t)v; break;
    case C_U64: *(uint64_t *)field = (uint64_t)v; break;
    case C_DOUBLE: *(double *)field = v; break;
    case C_NONE: break;
    }
}

static int store_string(fcgi_config_t *cfg, const config_key_t *k, const char *s, const where_t *at, char *err,
                        size_t errlen)
{
    const char *problem = check_string(k->kind, s);
    if (problem) {
        failf(err, errlen, at, "\"%s\" %s, got \"%s\"", k->name, problem, s);
        return -1;
    }
    char **slot = (char **)((char *)cfg + k->offset);
    if (k->kind == K_NAME && !*s) { /* "" means: none */
        free(*slot);
        *slot = NULL;
        return 0;
    }
    if (set_string(slot, s) != 0) {
        failf(err, errlen, at, "out of memory");
        return -1;
    }
    return 0;
}

static const char *json_type_name(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT: return "an object";
    case JSON_ARRAY: return "an array";
    case JSON_STRING: return "a string";
    case JSON_INTEGER: return "an integer";
    case JSON_REAL: return "a number";
    case JSON_TRUE:
    case JSON_FALSE: return "a boolean";
    case JSON_NULL: return "null";
    }
    return "a value";
}

static void known_keys(const config_key_t *table, char *out, size_t outlen)
{
    size_t used = 0;
    out[0] = '\0';
    for (const config_key_t *k = table; k->name && used < outlen; k++)
        used += (size_t)snprintf(out + used, outlen - used, "%s%s", used ? ", " : "", k->name);
}

typedef struct doc {
    const char *text;
    size_t len;
    const char *origin;
} doc_t;

/* "origin:line:col" of the member at path, pointing at its key or value. */
static void locate(const doc_t *doc, const char *const *path, size_t depth, int at_value, where_t *at)
{
    fcgi_json_pos_t key, value;
    if (fcgi_json_locate(doc->text, doc->len, path, depth, &key, &value) == 0) {
        fcgi_json_pos_t pos = at_value ? value : key;
        snprintf(at->text, sizeof at->text, "%s:%d:%d", doc->origin, pos.line, pos.column);
    } else {
        snprintf(at->text, sizeof at->text, "%s", doc->origin);
    }
}

static int apply_object(fcgi_config_t *cfg, const doc_t *doc, json_t *obj, const config_key_t *table, const char **path,
                        size_t depth, char *err, size_t errlen)
{
    const char *name;
    json_t *value;
    json_object_foreach(obj, name, value)
    {
        where_t at;
        path[depth] = name;
        if (name[0] == '_') /* "_comment" and friends: documentation */
            continue;
        const config_key_t *k = table;
        while (k->name && strcmp(k->name, name) != 0)
            k++;
        if (!k->name) {
            char known[512];
            known_keys(table, known, sizeof known);
            locate(doc, path, depth + 1, 0, &at);
            failf(err, errlen, &at, "unknown key \"%s\" (known keys here: %s; keys starting with '_' are comments)",
                  name, known);
            return -1;
        }
        locate(doc, path, depth + 1, 1, &at);
        switch (k->kind) {
        case K_OBJECT:
            if (!json_is_object(value)) {
                failf(err, errlen, &at, "\"%s\" must be an object, got %s", name, json_type_name(value));
                return -1;
            }
            if (apply_object(cfg, doc, value, k->members, path, depth + 1, err, errlen) != 0)
                return -1;
            break;
        case K_BOOL:
            if (!json_is_boolean(value)) {
                failf(err, errlen, &at, "\"%s\" must be true or false, got %s", name, json_type_name(value));
                return -1;
            }
            store_number(cfg, k, json_is_true(value) ? 1 : 0);
            break;
        case K_UINT:
        case K_SECONDS: {
            int integral = k->kind == K_UINT;
            if (integral ? !json_is_integer(value) : !json_is_number(value)) {
                failf(err, errlen, &at, "\"%s\" must be %s, got %s", name, integral ? "an integer" : "a number",
                      json_type_name(value));
                return -1;
            }
            double v = json_number_value(value);
            if (v < k->min || v > k->max) {
                failf(err, errlen, &at, "\"%s\" must be from %g to %g, got %g", name, k->min, k->max, v);
                return -1;
            }
            store_number(cfg, k, v);
            break;
        }
        case K_MODE:
            if (!json_is_string(value) || parse_mode(json_string_value(value), &cfg->socket_mode) != 0) {
                failf(err, errlen, &at, "\"%s\" must be a string of octal digits up to \"0777\", e.g. \"0660\"", name);
                return -1;
            }
            break;
        default:
            if (!json_is_string(value)) {
                failf(err, errlen, &at, "\"%s\" must be a string, got %s", name, json_type_name(value));
                return -1;
            }
            if (store_string(cfg, k, json_string_value(value), &at, err, errlen) != 0)
                return -1;
            break;
        }
    }
    return 0;
}

static int apply_text(fcgi_config_t *cfg, const doc_t *doc, char *err, size_t errlen)
{
    json_error_t jerr;
    where_t at;
    json_t *root = json_loadb(doc->text, doc->len, JSON_REJECT_DUPLICATES, &jerr);
    if (!root) {
        snprintf(at.text, sizeof at.text, "%s:%d:%d", doc->origin, jerr.line, jerr.column);
        failf(err, errlen, &at, "%s", jerr.text);
        return -1;
    }
    int rc = -1;
    if (!json_is_object(root)) {
        snprintf(at.text, sizeof at.text, "%s:1:1", doc->origin);
        failf(err, errlen, &at, "the configuration must be a JSON object ({ ... })");
    } else {
        const char *path[4];
        rc = apply_object(cfg, doc, root, top_keys, path, 0, err, errlen);
    }
    json_decref(root);
    return rc;
}

static const config_key_t *top_key(const char *name)
{
    for (const config_key_t *k = top_keys; k->name; k++)
        if (strcmp(k->name, name) == 0)
            return k;
    return NULL;
}

static int apply_flag(fcgi_config_t *cfg, const char *flag, const char *key, const char *value, char *err,
                      size_t errlen)
{
    where_t at;
    const config_key_t *k = top_key(key);
    if (!value)
        return 0;
    snprintf(at.text, sizeof at.text, "--%s", flag);
    if (k->kind == K_UINT) {
        char *end;
        errno = 0;
        long long v = strtoll(value, &end, 10);
        if (!*value || *end || errno || v < k->min || v > k->max) {
            failf(err, errlen, &at, "must be an integer from %g to %g, got \"%s\"", k->min, k->max, value);
            return -1;
        }
        store_number(cfg, k, (double)v);
        return 0;
    }
    if (k->kind == K_MODE) {
        if (parse_mode(value, &cfg->socket_mode) != 0) {
            failf(err, errlen, &at, "must be octal digits up to 0777 (e.g. 0660), got \"%s\"", value);
            return -1;
        }
        return 0;
    }
    const char *problem = check_string(k->kind, value);
    if (problem) {
        failf(err, errlen, &at, "%s, got \"%s\"", problem, value);
        return -1;
    }
    return store_string(cfg, k, value, &at, err, errlen);
}

static int apply_overrides(fcgi_config_t *cfg, const fcgi_overrides_t *ov, char *err, size_t errlen)
{
    if (!ov)
        return 0;
    const struct {
        const char *flag, *key, *value;
    } flags[] = {
        {"socket", "socket", ov->socket},
        {"segment", "segment", ov->segment},
        {"threads", "threads", ov->threads},
        {"namespace", "namespace", ov->metric_namespace},
        {"uri-prefix", "uri_prefix", ov->uri_prefix},
        {"user", "user", ov->user},
        {"group", "group", ov->group},
        {"socket-mode", "socket_mode", ov->socket_mode},
    };
    for (size_t i = 0; i < sizeof flags / sizeof flags[0]; i++)
        if (apply_flag(cfg, flags[i].flag, flags[i].key, flags[i].value, err, errlen) != 0)
            return -1;
    return 0;
}

static fcgi_config_t *defaults(const char *origin)
{
    fcgi_config_t *cfg = calloc(1, sizeof *cfg);
    if (!cfg)
        return NULL;
    cfg->source = strdup(origin);
    cfg->socket_path = strdup(FCGI_DEFAULT_SOCKET);
    cfg->socket_mode = 0660;
    cfg->listen_backlog = 1024;
    cfg->threads = 16;
    cfg->metric_namespace = strdup("");
    cfg->uri_prefix = strdup("");
    cfg->render_deadline_seconds = 5;
    cfg->io_timeout_seconds = 5;
    cfg->gzip_level = 1;
    cfg->gzip_min_bytes = 1024;
    cfg->health.stale_after_seconds = 300;
    cfg->health.min_writer_processes = 1;
    if (!cfg->source || !cfg->socket_path || !cfg->metric_namespace || !cfg->uri_prefix) {
        fcgi_config_free(cfg);
        return NULL;
    }
    return cfg;
}

/* Values derived from others once everything is applied. */
static int finish(fcgi_config_t *cfg, char *err, size_t errlen)
{
    if (cfg->max_in_flight == 0 || cfg->max_in_flight > cfg->threads)
        cfg->max_in_flight = cfg->threads;
    free(cfg->metric_prefix);
    cfg->metric_prefix = NULL;
    size_t len = strlen(cfg->metric_namespace);
    if (len) {
        int has_underscore = cfg->metric_namespace[len - 1] == '_';
        cfg->metric_prefix = malloc(len + 2);
        if (!cfg->metric_prefix) {
            snprintf(err, errlen, "%s: out of memory", cfg->source);
            return -1;
        }
        snprintf(cfg->metric_prefix, len + 2, "%s%s", cfg->metric_namespace, has_underscore ? "" : "_");
    }
    return 0;
}

fcgi_config_t *fcgi_config_parse(const char *text, size_t len, const char *origin, const fcgi_overrides_t *ov,
                                 char *err, size_t errlen)
{
    fcgi_config_t *cfg = defaults(origin ? origin : "(defaults)");
    if (!cfg) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    doc_t doc = {text, len, cfg->source};
    if ((text && apply_text(cfg, &doc, err, errlen) != 0) || apply_overrides(cfg, ov, err, errlen) != 0 ||
        finish(cfg, err, errlen) != 0) {
        fcgi_config_free(cfg);
        return NULL;
    }
    return cfg;
}

fcgi_config_t *fcgi_config_load(const char *path, const fcgi_overrides_t *ov, char *err, size_t errlen)
{
    if (!path)
        return fcgi_config_parse(NULL, 0, NULL, ov, err, errlen);
    size_t len;
    char *text = svc_read_file(path, 16u << 20, &len, err, errlen);
    if (!text)
        return NULL;
    fcgi_config_t *cfg = fcgi_config_parse(text, len, path, ov, err, errlen);
    free(text);
    return cfg;
}

void fcgi_config_free(fcgi_config_t *cfg)
{
    if (!cfg)
        return;
    free(cfg->source);
    free(cfg->socket_path);
    free(cfg->user);
    free(cfg->group);
    free(cfg->segment_path);
    free(cfg->metric_namespace);
    free(cfg->metric_prefix);
    free(cfg->uri_prefix);
    free(cfg);
}
