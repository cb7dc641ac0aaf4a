/*
 * route.c - route resolution and the rule-result table (route.h).
 *
 * The table is direct-mapped by a 64-bit hash of (server, path): a collision
 * simply replaces the entry, so it never grows and never needs eviction
 * logic; the stored key is compared in full, so a collision can cost a
 * regex run but never gives a wrong route. Paths longer than a table key
 * are matched every time.
 */
#include <regex.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "route.h"

#define TABLE_SIZE 4096 /* entries, a power of two */
#define KEY_CAP 240     /* bytes of "server \0 path" kept per entry */
#define PATH_CAP 8192   /* bytes of a path that rules see */

typedef struct entry {
    uint64_t hash;
    int rule; /* index into cfg->rules, or -1: unmatched */
    uint16_t key_len;
    char key[KEY_CAP];
} entry_t;

struct nl_router {
    const nl_config_t *cfg;
    entry_t *table;
    char path[PATH_CAP];
};

nl_router_t *nl_router_new(const nl_config_t *cfg)
{
    nl_router_t *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    r->cfg = cfg;
    if (cfg->nrules && !(r->table = calloc(TABLE_SIZE, sizeof *r->table))) {
        free(r);
        return NULL;
    }
    return r;
}

void nl_router_free(nl_router_t *r)
{
    if (!r)
        return;
    free(r->table);
    free(r);
}

static uint64_t hash_bytes(uint64_t h, const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)p[i]) * 0x100000001b3ull;
    return h;
}

static int server_matches(const nl_rule_t *rule, const char *server, size_t server_len)
{
    return !rule->server || (strlen(rule->server) == server_len && memcmp(rule->server, server, server_len) == 0);
}

/* The first matching rule's index, or -1. */
static int match_rules(const nl_config_t *cfg, const char *server, size_t server_len, const char *path, size_t path_len)
{
    for (size_t i = 0; i < cfg->nrules; i++) {
        const nl_rule_t *rule = &cfg->rules[i];
        if (!server_matches(rule, server, server_len))
            continue;
        regmatch_t m = {.rm_so = 0, .rm_eo = (regoff_t)path_len};
        /* REG_STARTEND: the path is not NUL-terminated and may hold NUL
         * (an escaped %00 stays escaped, but \u0000 from nginx does not). */
        if (regexec(&rule->re, path, 1, &m, REG_STARTEND) == 0)
            return (int)i;
    }
    return -1;
}

static int lookup_rule(nl_router_t *r, const char *server, size_t server_len, const char *path, size_t path_len)
{
    size_t key_len = server_len + 1 + path_len;
    if (key_len > KEY_CAP)
        return match_rules(r->cfg, server, server_len, path, path_len);
    uint64_t h = hash_bytes(hash_bytes(0xcbf29ce484222325ull, server, server_len), "", 1);
    h = hash_bytes(h, path, path_len);
    entry_t *e = &r->table[h & (TABLE_SIZE - 1)];
    if (e->hash == h && e->key_len == key_len && memcmp(e->key, server, server_len) == 0 &&
        e->key[server_len] == '\0' && memcmp(e->key + server_len + 1, path, path_len) == 0)
        return e->rule;
    int rule = match_rules(r->cfg, server, server_len, path, path_len);
    e->hash = h;
    e->rule = rule;
    e->key_len = (uint16_t)key_len;
    memcpy(e->key, server, server_len);
    e->key[server_len] = '\0';
    memcpy(e->key + server_len + 1, path, path_len);
    return rule;
}

const char *nl_route(nl_router_t *r, const nl_line_t *line, const char *server, size_t server_len, char *buf,
                     size_t cap, size_t *len, nl_route_source_t *source)
{
    if (line->route.len) {
        if (memchr(line->route.p, '\\', line->route.len)) {
            *len = nl_unescape(line->route, buf, cap);
        } else {
            *len = line->route.len < cap ? line->route.len : cap;
            memcpy(buf, line->route.p, *len);
        }
        *source = NL_ROUTE_VARIABLE;
        return buf;
    }
    if (r->cfg->nrules) {
        /* NUL-terminated as well, though REG_STARTEND bounds the match:
         * some regexec implementations (and ASan's) still scan for it. */
        size_t n = nl_unescape(line->uri, r->path, sizeof r->path - 1);
        r->path[n] = '\0';
        char *q = memchr(r->path, '?', n);
        size_t path_len = q ? (size_t)(q - r->path) : n;
        int rule = lookup_rule(r, server, server_len, r->path, path_len);
        if (rule >= 0) {
            const char *route = r->cfg->rules[rule].route;
            *len = strlen(route);
            *source = NL_ROUTE_RULE;
            return route;
        }
    }
    *len = strlen(r->cfg->unmatched_route);
    *source = NL_ROUTE_UNMATCHED;
    return r->cfg->unmatched_route;
}
