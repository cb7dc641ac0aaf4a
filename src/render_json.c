/*
 * render_json.c - fastprom's JSON view of a snapshot, streamed into the
 * output buffer like the text formats: the same number formatting (fmt.c)
 * and byte writers (put.h), one reservation per series in the common case.
 * A document the size of the segment is no place for a DOM: building one
 * with jansson cost ~2,000 ns per sample against the text formats' ~50.
 *
 * Schema (one object, families sorted by name as in the text formats):
 *
 *   {"families": [
 *     {"name": "<prefix><name>",      counters without "_total", info
 *                                     without "_info" (as OpenMetrics)
 *      "type": "counter" | "gauge" | "histogram" | "summary" | "info" | "stateset",
 *      "help": "...", "unit": "...",  "" when not set
 *      "labels": ["method", ...],     the family's label names, in order
 *      "gauge_mode": "livesum",       gauges only
 *      "series": [
 *        {"labels": {"method": "GET", ...},
 *         counter:   "value": N, "exemplar": E (when recorded)
 *         gauge:     "value": N; modes all/liveall give one series per
 *                    process, with "pid": "1234" in "labels"; a gauge with
 *                    no contributing process (max/min modes) has no series
 *         histogram: "buckets": [{"le": "0.005", "count": N, "exemplar": E}, ...,
 *                                {"le": "+Inf", "count": N}]  (cumulative),
 *                    "count": N, "sum": N
 *         summary:   "count": N, "sum": N, "quantiles": [{"quantile": "0.5", "value": N}]
 *         stateset:  "states": {"a": 1, "b": 0}
 *         info:      "info": {"version": "1.2", ...}
 *         counter, histogram, summary with FASTPROM_RENDER_CREATED:
 *                    "created": <Unix seconds>}]}]}
 *
 *   E = {"labels": {...}, "value": N, "timestamp": <Unix seconds>}.
 *   Numbers: integral values below 2^53 are JSON integers, others reals in
 *   the shortest form that reads back as the same double (-0 is -0.0;
 *   seconds in fixed notation, 1700000000.25); NaN, +Inf and -Inf, which
 *   JSON cannot hold, are the strings "NaN", "+Inf", "-Inf". le and quantile
 *   are strings in the exposition's canonical form. Strings are escaped as
 *   JSON requires (NUL included) and otherwise kept as the UTF-8 they are.
 *   Output is compact: no whitespace between tokens.
 */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "fmt.h"
#include "put.h"
#include "render.h"

#define LIT(w, s) fp_put(w, s, sizeof s - 1)

/* Room for one number as put_number, put_count or put_seconds write it. */
#define NUMBER_ROOM (FP_FMT_MAX + 2)

typedef struct json_ctx {
    fp_out_t *o;
    const char *prefix;
    size_t prefix_len;
    unsigned flags;
    const fp_snap_family_t *f;
    int first_series; /* no series object written yet in the family's list */
} json_ctx_t;

/* A family's bucket or quantile openers, formatted once for all its series:
 * {"le":"0.005","count": or {"quantile":"0.5","value": */
typedef struct openers {
    char text[FASTPROM_MAX_BUCKETS + 1][FP_FMT_MAX + 24];
    uint8_t len[FASTPROM_MAX_BUCKETS + 1];
} openers_t;

static char *put_number(char *w, double v)
{
    if (isnan(v))
        return LIT(w, "\"NaN\"");
    if (isinf(v))
        return v > 0 ? LIT(w, "\"+Inf\"") : LIT(w, "\"-Inf\"");
    if (v == 0 && signbit(v))
        return LIT(w, "-0.0"); /* "-0" would read back as the integer 0 */
    return w + fp_fmt_value(v, w);
}

/* Counts past INT64_MAX are clamped: JSON readers take integers as int64. */
static char *put_count(char *w, uint64_t v)
{
    return w + fp_fmt_u64(v > INT64_MAX ? INT64_MAX : v, w);
}

static char *put_seconds(char *w, double v)
{
    if (!isfinite(v) || v == 0)
        return put_number(w, v);
    return w + fp_fmt_seconds(v, w);
}

/* Room for put_pairs of these keys and values. */
static size_t pairs_room(const fp_str_t *keys, const fp_str_t *values, size_t n)
{
    size_t room = 2;
    for (size_t i = 0; i < n; i++)
        room += FP_JSON_STRING_ROOM(keys[i].len) + FP_JSON_STRING_ROOM(values[i].len) + 2;
    return room;
}

/* {"k":"v",...} without the closing brace, so the pid label can follow. */
static char *open_pairs(char *w, const fp_str_t *keys, const fp_str_t *values, size_t n)
{
    *w++ = '{';
    for (size_t i = 0; i < n; i++) {
        if (i)
            *w++ = ',';
        w = fp_put_json_string(w, keys[i].ptr, keys[i].len);
        *w++ = ':';
        w = fp_put_json_string(w, values[i].ptr, values[i].len);
    }
    return w;
}

static char *put_pairs(char *w, const fp_str_t *keys, const fp_str_t *values, size_t n)
{
    w = open_pairs(w, keys, values, n);
    *w++ = '}';
    return w;
}

/*
 * Reserves room for a series object's opening ("{"labels":{...}", with the
 * pid label when pid is given) plus extra bytes, and writes the opening.
 * Returns where to go on, or NULL (allocation failure, recorded in o).
 * *start is set to the reservation for fp_out_commit.
 */
static char *open_series(json_ctx_t *c, const fp_snap_series_t *s, const char *pid, size_t pid_len, size_t extra,
                         char **start)
{
    const fp_snap_family_t *f = c->f;
    /* ',' {"labels": ,"pid":"" beside the pairs: 20 bytes */
    size_t room = pairs_room(f->label_names, s->label_values, f->nlabels) + pid_len + 24 + extra;
    char *w = fp_out_reserve(c->o, room);
    if (!w)
        return NULL;
    *start = w;
    if (!c->first_series)
        *w++ = ',';
    c->first_series = 0;
    w = LIT(w, "{\"labels\":");
    w = open_pairs(w, f->label_names, s->label_values, f->nlabels);
    if (pid) {
        if (f->nlabels)
            *w++ = ',';
        w = LIT(w, "\"pid\":\"");
        w = fp_put(w, pid, pid_len);
        *w++ = '"';
    }
    *w++ = '}';
    return w;
}

static void commit(json_ctx_t *c, const char *start, const char *end)
{
    fp_out_commit(c->o, (size_t)(end - start));
}

/* ,"exemplar":{"labels":{...},"value":N,"timestamp":T} */
static void put_exemplar(json_ctx_t *c, const fp_snap_exemplar_t *ex)
{
    size_t room = pairs_room(ex->names, ex->values, ex->nlabels) + 2 * NUMBER_ROOM + 48;
    char *w = fp_out_reserve(c->o, room);
    if (!w)
        return;
    char *start = w;
    w = LIT(w, ",\"exemplar\":{\"labels\":");
    w = put_pairs(w, ex->names, ex->values, ex->nlabels);
    w = LIT(w, ",\"value\":");
    w = put_number(w, ex->value);
    w = LIT(w, ",\"timestamp\":");
    w = put_seconds(w, ex->timestamp);
    *w++ = '}';
    commit(c, start, w);
}

static const fp_snap_exemplar_t *exemplar_at(const fp_snap_series_t *s, size_t i)
{
    return s->exemplars && s->exemplars[i].present ? &s->exemplars[i] : NULL;
}

/* ,"created":T} closing the series object, after any exemplar. */
static void close_series(json_ctx_t *c, const fp_snap_series_t *s)
{
    char *w = fp_out_reserve(c->o, NUMBER_ROOM + 16);
    if (!w)
        return;
    char *start = w;
    if (c->flags & FASTPROM_RENDER_CREATED) {
        w = LIT(w, ",\"created\":");
        w = put_seconds(w, s->created);
    }
    *w++ = '}';
    commit(c, start, w);
}

static void render_counter(json_ctx_t *c, const fp_snap_series_t *s)
{
    char *start;
    char *w = open_series(c, s, NULL, 0, NUMBER_ROOM + 32, &start);
    if (!w)
        return;
    w = LIT(w, ",\"value\":");
    w = put_number(w, s->value);
    const fp_snap_exemplar_t *ex = exemplar_at(s, 0);
    if (!ex && !(c->flags & FASTPROM_RENDER_CREATED)) {
        *w++ = '}';
        commit(c, start, w);
        return;
    }
    commit(c, start, w);
    if (ex)
        put_exemplar(c, ex);
    close_series(c, s);
}

static void value_series(json_ctx_t *c, const fp_snap_series_t *s, const char *pid, size_t pid_len, double v)
{
    char *start;
    char *w = open_series(c, s, pid, pid_len, NUMBER_ROOM + 16, &start);
    if (!w)
        return;
    w = LIT(w, ",\"value\":");
    w = put_number(w, v);
    *w++ = '}';
    commit(c, start, w);
}

/* Modes all/liveall: one series object per process, the pid a label. */
static void render_gauge(json_ctx_t *c, const fp_snap_series_t *s)
{
    if (c->f->gauge_mode != FASTPROM_GAUGE_ALL && c->f->gauge_mode != FASTPROM_GAUGE_LIVEALL) {
        if (s->has_value)
            value_series(c, s, NULL, 0, s->value);
        return;
    }
    for (size_t i = 0; i < s->npids; i++) {
        char pid[FP_FMT_MAX];
        value_series(c, s, pid, fp_fmt_u64(s->pids[i].pid, pid), s->pids[i].value);
    }
}

/* snapshot.c guarantees nbounds <= FASTPROM_MAX_BUCKETS (>= MAX_QUANTILES). */
static void format_openers(const fp_snap_family_t *f, openers_t *b)
{
    int histogram = f->type == FASTPROM_HISTOGRAM;
    size_t n = histogram ? f->nbounds + 1 : f->nbounds;
    for (size_t i = 0; i < n; i++) {
        char *w = b->text[i];
        w = histogram ? LIT(w, "{\"le\":\"") : LIT(w, "{\"quantile\":\"");
        w += fp_fmt_bound(i < f->nbounds ? f->bounds[i] : INFINITY, w);
        w = histogram ? LIT(w, "\",\"count\":") : LIT(w, "\",\"value\":");
        b->len[i] = (uint8_t)(w - b->text[i]);
    }
}

static void render_histogram(json_ctx_t *c, const fp_snap_series_t *s, const openers_t *b)
{
    size_t nb = c->f->nbounds + 1;
    size_t room = nb * (sizeof b->text[0] + NUMBER_ROOM + 2) + 2 * NUMBER_ROOM + 48;
    char *start;
    char *w = open_series(c, s, NULL, 0, room, &start);
    if (!w)
        return;
    w = LIT(w, ",\"buckets\":[");
    uint64_t cumulative = 0;
    for (size_t i = 0; i < nb; i++) {
        cumulative += s->buckets[i];
        if (i)
            *w++ = ',';
        w = fp_put(w, b->text[i], b->len[i]);
        w = put_count(w, cumulative);
        const fp_snap_exemplar_t *ex = exemplar_at(s, i);
        if (ex) { /* rare: the exemplar reserves its own room */
            commit(c, start, w);
            put_exemplar(c, ex);
            if (!(w = start = fp_out_reserve(c->o, room)))
                return;
        }
        *w++ = '}';
    }
    w = LIT(w, "],\"count\":");
    w = put_count(w, cumulative);
    w = LIT(w, ",\"sum\":");
    w = put_number(w, s->sum);
    commit(c, start, w);
    close_series(c, s);
}

static void render_summary(json_ctx_t *c, const fp_snap_series_t *s, const openers_t *b)
{
    size_t nq = c->f->nbounds;
    size_t room = nq * (sizeof b->text[0] + NUMBER_ROOM + 2) + 2 * NUMBER_ROOM + 48;
    char *start;
    char *w = open_series(c, s, NULL, 0, room, &start);
    if (!w)
        return;
    w = LIT(w, ",\"count\":");
    w = put_count(w, s->count);
    w = LIT(w, ",\"sum\":");
    w = put_number(w, s->sum);
    w = LIT(w, ",\"quantiles\":[");
    for (size_t i = 0; i < nq; i++) {
        if (i)
            *w++ = ',';
        w = fp_put(w, b->text[i], b->len[i]);
        w = put_number(w, s->quantiles[i]);
        *w++ = '}';
    }
    *w++ = ']';
    commit(c, start, w);
    close_series(c, s);
}

static void render_info(json_ctx_t *c, const fp_snap_series_t *s)
{
    char *start;
    char *w = open_series(c, s, NULL, 0, pairs_room(s->info_keys, s->info_values, s->ninfo) + 16, &start);
    if (!w)
        return;
    w = LIT(w, ",\"info\":");
    w = put_pairs(w, s->info_keys, s->info_values, s->ninfo);
    *w++ = '}';
    commit(c, start, w);
}

static void render_stateset(json_ctx_t *c, const fp_snap_series_t *s)
{
    const fp_snap_family_t *f = c->f;
    size_t room = 16;
    for (size_t i = 0; i < f->nstates; i++)
        room += FP_JSON_STRING_ROOM(f->states[i].len) + 3;
    char *start;
    char *w = open_series(c, s, NULL, 0, room, &start);
    if (!w)
        return;
    w = LIT(w, ",\"states\":{");
    for (size_t i = 0; i < f->nstates; i++) {
        if (i)
            *w++ = ',';
        w = fp_put_json_string(w, f->states[i].ptr, f->states[i].len);
        *w++ = ':';
        *w++ = s->state == (int)i ? '1' : '0';
    }
    w = LIT(w, "}}");
    commit(c, start, w);
}

/* {"name":...,"type":...,"help":...,"unit":...,"labels":[...],
 * "gauge_mode":...,"series":[  - the family up to its first series. */
static void open_family(json_ctx_t *c, int first)
{
    const fp_snap_family_t *f = c->f;
    const char *type = fastprom_type_name(f->type);
    const char *mode = f->type == FASTPROM_GAUGE ? fastprom_gauge_mode_name(f->gauge_mode) : NULL;
    size_t room = FP_JSON_STRING_ROOM(c->prefix_len + f->name.len) + FP_JSON_STRING_ROOM(f->help.len) +
                  FP_JSON_STRING_ROOM(f->unit.len) + 96 + strlen(type) + (mode ? strlen(mode) : 0);
    for (size_t i = 0; i < f->nlabels; i++)
        room += FP_JSON_STRING_ROOM(f->label_names[i].len) + 1;
    char *w = fp_out_reserve(c->o, room);
    if (!w)
        return;
    char *start = w;
    if (!first)
        *w++ = ',';
    w = LIT(w, "{\"name\":\"");
    w = fp_put_json_escaped(w, c->prefix, c->prefix_len);
    w = fp_put_json_escaped(w, f->name.ptr, f->name.len);
    *w++ = '"';
    w = LIT(w, ",\"type\":\"");
    w = fp_put(w, type, strlen(type));
    w = LIT(w, "\",\"help\":");
    w = fp_put_json_string(w, f->help.ptr, f->help.len);
    w = LIT(w, ",\"unit\":");
    w = fp_put_json_string(w, f->unit.ptr, f->unit.len);
    w = LIT(w, ",\"labels\":[");
    for (size_t i = 0; i < f->nlabels; i++) {
        if (i)
            *w++ = ',';
        w = fp_put_json_string(w, f->label_names[i].ptr, f->label_names[i].len);
    }
    *w++ = ']';
    if (mode) {
        w = LIT(w, ",\"gauge_mode\":\"");
        w = fp_put(w, mode, strlen(mode));
        *w++ = '"';
    }
    w = LIT(w, ",\"series\":[");
    commit(c, start, w);
}

static void render_family(json_ctx_t *c, const fp_snap_family_t *f, int first)
{
    openers_t openers;
    c->f = f;
    c->first_series = 1;
    open_family(c, first);
    if (f->type == FASTPROM_HISTOGRAM || f->type == FASTPROM_SUMMARY)
        format_openers(f, &openers);
    for (size_t i = 0; i < f->nseries; i++) {
        const fp_snap_series_t *s = &f->series[i];
        switch (f->type) {
        case FASTPROM_COUNTER: render_counter(c, s); break;
        case FASTPROM_GAUGE: render_gauge(c, s); break;
        case FASTPROM_HISTOGRAM: render_histogram(c, s, &openers); break;
        case FASTPROM_SUMMARY: render_summary(c, s, &openers); break;
        case FASTPROM_INFO: render_info(c, s); break;
        case FASTPROM_STATESET: render_stateset(c, s); break;
        }
    }
    fp_out_mem(c->o, "]}", 2);
}

void fp_render_json(const fp_snapshot_t *snap, const char *prefix, unsigned flags, fp_out_t *o)
{
    json_ctx_t c = {.o = o, .prefix = prefix, .prefix_len = strlen(prefix), .flags = flags};
    fp_out_mem(o, "{\"families\":[", 13);
    for (size_t i = 0; i < snap->nfamilies; i++)
        render_family(&c, &snap->families[i], i == 0);
    fp_out_mem(o, "]}", 2);
}
