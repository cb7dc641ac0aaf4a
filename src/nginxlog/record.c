/*
 * record.c - families, the series-handle table and the updates (record.h).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "record.h"

enum { F_REQUESTS, F_DURATION, F_RESPONSE_SIZE, F_REQUEST_SIZE, F_UPSTREAM, NFAMILIES };
#define PER_REQUEST 4 /* families keyed by (server, route, method[, status]) */

#define KEY_CAP 2048 /* encoded label values cached; longer ones are looked up each time */
#define TABLE_MAX_SLOTS (1u << 17)

typedef struct slot {
    uint64_t hash;
    char *key;
    uint32_t key_len;
    uint8_t drop; /* why a handle below is NULL */
    fastprom_series_t *s[PER_REQUEST];
} slot_t;

typedef struct table {
    slot_t *slots;
    size_t mask; /* slots - 1 */
    size_t used;
} table_t;

struct nl_recorder {
    fastprom_family_t *fam[NFAMILIES];
    table_t requests, upstreams;
    fastprom_series_t *datagrams, *recorded, *lag, *qlen;
    fastprom_series_t *malformed[NL_NERRORS];
    fastprom_series_t *dropped[NL_NDROPS];
};

static const double duration_buckets[] = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60};
static const double size_buckets[] = {128, 512, 2048, 8192, 32768, 131072, 524288, 2097152, 8388608};
static const char *const request_labels[] = {"server", "route", "method", "status"};
static const char *const upstream_labels[] = {"server", "route", "upstream"};
static const char *const reason_label[] = {"reason"};

#define N(a) (sizeof(a) / sizeof((a)[0]))

static const fastprom_family_def_t nginx_defs[NFAMILIES] = {
    [F_REQUESTS] = {FASTPROM_COUNTER, "nginx_http_requests_total",
                    "Requests nginx served, by server, route template, method and status.", NULL, request_labels, 4},
    [F_DURATION] = {FASTPROM_HISTOGRAM, "nginx_http_request_duration_seconds",
                    "nginx's $request_time: first byte read to last byte sent.", "seconds", request_labels, 3,
                    duration_buckets, N(duration_buckets)},
    [F_RESPONSE_SIZE] = {FASTPROM_HISTOGRAM, "nginx_http_response_size_bytes",
                         "Bytes sent to the client ($bytes_sent).", "bytes", request_labels, 3, size_buckets,
                         N(size_buckets)},
    [F_REQUEST_SIZE] = {FASTPROM_HISTOGRAM, "nginx_http_request_size_bytes",
                        "Request bytes read: line, headers and body ($request_length).", "bytes", request_labels, 3,
                        size_buckets, N(size_buckets)},
    [F_UPSTREAM] = {FASTPROM_HISTOGRAM, "nginx_http_upstream_response_duration_seconds",
                    "Each upstream attempt's $upstream_response_time, by upstream address.", "seconds", upstream_labels,
                    3, duration_buckets, N(duration_buckets)},
};

const char *nl_drop_name(nl_drop_t d)
{
    static const char *const names[NL_NDROPS] = {"none", "series_limit", "segment_full", "invalid_label"};
    return d < NL_NDROPS ? names[d] : "unknown";
}

static nl_drop_t drop_of(int code)
{
    if (code == FASTPROM_ELIMIT)
        return NL_DROP_LIMIT;
    if (code == FASTPROM_EFULL || code == FASTPROM_ENOMEM)
        return NL_DROP_FULL;
    return NL_DROP_INVALID;
}

/* ---- the handle table ------------------------------------------------------ */

static int table_init(table_t *t, size_t slots)
{
    t->slots = calloc(slots, sizeof *t->slots);
    t->mask = slots - 1;
    t->used = 0;
    return t->slots ? 0 : -1;
}

static void table_free(table_t *t)
{
    for (size_t i = 0; t->slots && i <= t->mask; i++)
        free(t->slots[i].key);
    free(t->slots);
    t->slots = NULL;
}

static slot_t *table_find(table_t *t, uint64_t hash, const char *key, size_t len)
{
    for (size_t i = hash & t->mask;; i = (i + 1) & t->mask) {
        slot_t *s = &t->slots[i];
        if (!s->key || (s->hash == hash && s->key_len == len && memcmp(s->key, key, len) == 0))
            return s;
    }
}

/* Doubles the table; 0, or -1 when it is at its bound (or memory ran out). */
static int table_grow(table_t *t)
{
    size_t slots = (t->mask + 1) * 2;
    if (slots > TABLE_MAX_SLOTS)
        return -1;
    table_t bigger;
    if (table_init(&bigger, slots) != 0)
        return -1;
    for (size_t i = 0; i <= t->mask; i++)
        if (t->slots[i].key)
            *table_find(&bigger, t->slots[i].hash, t->slots[i].key, t->slots[i].key_len) = t->slots[i];
    bigger.used = t->used;
    free(t->slots);
    *t = bigger;
    return 0;
}

/* A new slot for key (not present), or NULL when the table is full. */
static slot_t *table_insert(table_t *t, uint64_t hash, const char *key, size_t len)
{
    if ((t->used + 1) * 2 > t->mask + 1 && table_grow(t) != 0)
        return NULL;
    char *copy = malloc(len ? len : 1);
    if (!copy)
        return NULL;
    memcpy(copy, key, len);
    slot_t *s = table_find(t, hash, key, len);
    memset(s, 0, sizeof *s);
    s->hash = hash;
    s->key = copy;
    s->key_len = (uint32_t)len;
    t->used++;
    return s;
}

/* Label values as one byte string: each a u16 length and the bytes.
 * Returns the length, or 0 when it does not fit in KEY_CAP. */
static size_t encode_key(char *out, const char *const *values, const size_t *lens, size_t n)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        if (lens[i] > 0xFFFF || KEY_CAP - o < lens[i] + 2)
            return 0;
        out[o++] = (char)(lens[i] & 0xFF);
        out[o++] = (char)(lens[i] >> 8);
        memcpy(out + o, values[i], lens[i]);
        o += lens[i];
    }
    return o;
}

static uint64_t hash_key(const char *p, size_t n)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)p[i]) * 0x100000001b3ull;
    return h ^ (h >> 29);
}

/* Fills s[0..nfam) with the series of families fams[] for these values (a
 * family takes as many as it has labels); returns the first drop reason. */
static uint8_t resolve(nl_recorder_t *r, const int *fams, size_t nfam, const char *const *values, const size_t *lens,
                       fastprom_series_t **s)
{
    uint8_t drop = NL_DROP_NONE;
    for (size_t k = 0; k < nfam; k++) {
        fastprom_error_t err;
        s[k] = fastprom_series(r->fam[fams[k]], values, lens, &err);
        if (!s[k] && drop == NL_DROP_NONE)
            drop = (uint8_t)drop_of(err.code);
    }
    return drop;
}

/* The cached handles for these values, resolving them on first sight. */
static const slot_t *handles(nl_recorder_t *r, table_t *t, const int *fams, size_t nfam, const char *const *values,
                             const size_t *lens, size_t nvalues, slot_t *scratch)
{
    char key[KEY_CAP];
    size_t len = encode_key(key, values, lens, nvalues);
    uint64_t hash = len ? hash_key(key, len) : 0;
    slot_t *s = len ? table_find(t, hash, key, len) : NULL;
    if (s && s->key)
        return s;
    if (!len || !(s = table_insert(t, hash, key, len))) {
        s = scratch; /* not cached: the library's lookup every time */
        memset(s, 0, sizeof *s);
    }
    s->drop = resolve(r, fams, nfam, values, lens, s->s);
    return s;
}

/* ---- updates --------------------------------------------------------------- */

static void add(fastprom_series_t *s, double v)
{
    if (s)
        fastprom_inc(s, v);
}

static nl_drop_t observe_upstreams(nl_recorder_t *r, const nl_request_t *req)
{
    nl_upstream_iter_t it;
    double t;
    nl_str_t addr;
    nl_drop_t drop = NL_DROP_NONE;
    static const int fams[] = {F_UPSTREAM};
    nl_upstream_begin(&it, req->line);
    while (nl_upstream_next(&it, &t, &addr)) {
        if (t < 0)
            continue; /* an attempt without a response time: nothing to observe */
        const char *values[3] = {req->server, req->route, addr.len ? addr.p : "-"};
        size_t lens[3] = {req->server_len, req->route_len, addr.len ? addr.len : 1};
        slot_t scratch;
        const slot_t *s = handles(r, &r->upstreams, fams, 1, values, lens, 3, &scratch);
        if (!s->s[0] || fastprom_observe(s->s[0], t) != 0)
            drop = drop == NL_DROP_NONE ? (s->s[0] ? NL_DROP_FULL : (nl_drop_t)s->drop) : drop;
    }
    return drop;
}

nl_drop_t nl_record(nl_recorder_t *r, const nl_request_t *req)
{
    static const int fams[PER_REQUEST] = {F_REQUESTS, F_DURATION, F_RESPONSE_SIZE, F_REQUEST_SIZE};
    const nl_line_t *line = req->line;
    char status[4] = {(char)('0' + line->status / 100 % 10), (char)('0' + line->status / 10 % 10),
                      (char)('0' + line->status % 10), '\0'};
    const char *values[4] = {req->server, req->route, req->method, status};
    size_t lens[4] = {req->server_len, req->route_len, strlen(req->method), 3};
    slot_t scratch;
    const slot_t *s = handles(r, &r->requests, fams, PER_REQUEST, values, lens, 4, &scratch);
    nl_drop_t drop = (nl_drop_t)s->drop;
    if (s->s[0] && fastprom_inc(s->s[0], 1) != 0 && drop == NL_DROP_NONE)
        drop = NL_DROP_FULL;
    if (s->s[1])
        fastprom_observe(s->s[1], line->request_time);
    if (s->s[2])
        fastprom_observe(s->s[2], line->bytes_sent);
    if (s->s[3])
        fastprom_observe(s->s[3], line->request_length);
    if (line->upstream_times.len) {
        nl_drop_t up = observe_upstreams(r, req);
        if (drop == NL_DROP_NONE)
            drop = up;
    }
    if (drop == NL_DROP_NONE)
        add(r->recorded, 1);
    else
        add(r->dropped[drop], 1);
    return drop;
}

void nl_recorder_datagrams(nl_recorder_t *r, unsigned n)
{
    add(r->datagrams, n);
}

void nl_recorder_malformed(nl_recorder_t *r, int nl_error)
{
    if (nl_error > NL_OK && nl_error < NL_NERRORS)
        add(r->malformed[nl_error], 1);
}

void nl_recorder_lag(nl_recorder_t *r, double seconds)
{
    if (r->lag)
        fastprom_set(r->lag, seconds < 0 ? 0 : seconds);
}

void nl_recorder_qlen(nl_recorder_t *r, double qlen)
{
    if (r->qlen)
        fastprom_set(r->qlen, qlen);
}

/* ---- set-up ---------------------------------------------------------------- */

static fastprom_series_t *self_series(fastprom_t *fp, fastprom_type_t type, const char *name, const char *help,
                                      const char *label_value, fastprom_error_t *err)
{
    fastprom_family_def_t def = {type, name, help, NULL, label_value ? reason_label : NULL, label_value ? 1 : 0};
    def.gauge_mode = FASTPROM_GAUGE_LIVEMAX; /* one daemon; gone when it stops */
    fastprom_family_t *fam = fastprom_family(fp, &def, err);
    const char *values[1] = {label_value};
    return fam ? fastprom_series(fam, label_value ? values : NULL, NULL, err) : NULL;
}

nl_recorder_t *nl_recorder_new(fastprom_t *fp, unsigned max_series, char *err, size_t errlen)
{
    nl_recorder_t *r = calloc(1, sizeof *r);
    fastprom_error_t e = {0};
    if (!r || table_init(&r->requests, 256) != 0 || table_init(&r->upstreams, 64) != 0) {
        snprintf(err, errlen, "out of memory");
        nl_recorder_free(r);
        return NULL;
    }
    for (int k = 0; k < NFAMILIES; k++) {
        fastprom_family_def_t def = nginx_defs[k];
        def.max_series = max_series;
        if (!(r->fam[k] = fastprom_family(fp, &def, &e)))
            goto fail;
    }
    static const char *const malformed_help = "Datagrams on the socket that were not fastprom access-log lines.";
    static const char *const dropped_help = "Lines not (fully) recorded: a series limit, a full segment, a bad label.";
    if (!(r->datagrams = self_series(fp, FASTPROM_COUNTER, "nginxlog_datagrams_total",
                                     "Datagrams fastprom-nginxlog received.", NULL, &e)) ||
        !(r->recorded = self_series(fp, FASTPROM_COUNTER, "nginxlog_lines_recorded_total",
                                    "Access-log lines recorded in the nginx_http_* families.", NULL, &e)) ||
        !(r->lag = self_series(fp, FASTPROM_GAUGE, "nginxlog_lag_seconds",
                               "Seconds between nginx logging the newest line and its recording.", NULL, &e)) ||
        !(r->qlen =
              self_series(fp, FASTPROM_GAUGE, "nginxlog_unix_max_dgram_qlen",
                          "net.unix.max_dgram_qlen: datagrams the socket queues before nginx drops lines.", NULL, &e)))
        goto fail;
    for (int i = NL_OK + 1; i < NL_NERRORS; i++)
        if (!(r->malformed[i] =
                  self_series(fp, FASTPROM_COUNTER, "nginxlog_malformed_total", malformed_help, nl_error_name(i), &e)))
            goto fail;
    for (int i = NL_DROP_NONE + 1; i < NL_NDROPS; i++)
        if (!(r->dropped[i] = self_series(fp, FASTPROM_COUNTER, "nginxlog_dropped_total", dropped_help,
                                          nl_drop_name((nl_drop_t)i), &e)))
            goto fail;
    return r;
fail:
    snprintf(err, errlen, "%s", e.text);
    nl_recorder_free(r);
    return NULL;
}

void nl_recorder_free(nl_recorder_t *r)
{
    if (!r)
        return;
    table_free(&r->requests);
    table_free(&r->upstreams);
    free(r);
}
