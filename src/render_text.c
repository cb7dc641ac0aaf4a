/*
 * render_text.c - Prometheus text 0.0.4 and OpenMetrics 1.0.0.
 *
 * The two formats share every sample line and differ in family metadata
 * (which name HELP/TYPE carry, their order, UNIT, HELP escaping) and in what
 * only OpenMetrics has: info and stateset types (text shows them as gauges),
 * _created samples, exemplars and the final "# EOF". OpenMetrics also forbids
 * some samples text allows: a histogram _sum with negative buckets, and
 * negative or NaN sums and quantiles; strict parsers reject the whole scrape
 * for one of those, so OpenMetrics leaves such samples out (text and JSON keep
 * them).
 *
 * Speed: each sample line costs one fp_out_reserve() and direct stores. A
 * series' escaped label pairs are written once, in its first line, and later
 * lines (buckets, quantiles, states, pids) copy them from the output buffer;
 * le="" and quantile="" strings are formatted once per family.
 */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "fmt.h"
#include "put.h"
#include "render.h"

/* A label a sample line adds after the series' own: le, quantile, pid, or a
 * stateset's <family>="<state>" (its name comes in two pieces: prefix and
 * family name). */
typedef struct extra_label {
    const char *name1;
    size_t name1_len;
    const char *name2;
    size_t name2_len;
    const char *value;
    size_t value_len;
} extra_label_t;

typedef struct text_ctx {
    fp_out_t *o;
    int om;
    unsigned flags;
    const char *prefix;
    size_t prefix_len;
    const fp_snap_family_t *f;
    const fp_snap_series_t *s;
    /* Where the current series' escaped pairs sit in the output buffer
     * (an offset: the buffer may move), SIZE_MAX until its first line. */
    size_t labels_at, labels_len;
    size_t labels_bound; /* their escaped size at most, before the first line */
} text_ctx_t;

/* name="value" with the value escaped; room: name_len + 2 * value_len + 3. */
static char *put_pair(char *w, fp_str_t name, fp_str_t value)
{
    w = fp_put(w, name.ptr, name.len);
    *w++ = '=';
    *w++ = '"';
    w = fp_put_escaped(w, value.ptr, value.len, 1);
    *w++ = '"';
    return w;
}

static void begin_series(text_ctx_t *c, const fp_snap_series_t *s)
{
    const fp_snap_family_t *f = c->f;
    size_t bound = 0;
    for (size_t i = 0; i < f->nlabels; i++)
        bound += f->label_names[i].len + 2 * (size_t)s->label_values[i].len + 4;
    if (f->type == FASTPROM_INFO)
        for (size_t i = 0; i < s->ninfo; i++)
            bound += s->info_keys[i].len + 2 * (size_t)s->info_values[i].len + 4;
    c->s = s;
    c->labels_at = SIZE_MAX;
    c->labels_len = 0;
    c->labels_bound = bound;
}

/* The series' own pairs: its family's labels, then an info series' pairs. */
static char *put_series_labels(char *w, const text_ctx_t *c)
{
    const fp_snap_family_t *f = c->f;
    const fp_snap_series_t *s = c->s;
    char *start = w;
    for (size_t i = 0; i < f->nlabels; i++) {
        if (w != start)
            *w++ = ',';
        w = put_pair(w, f->label_names[i], s->label_values[i]);
    }
    if (f->type == FASTPROM_INFO)
        for (size_t i = 0; i < s->ninfo; i++) {
            if (w != start)
                *w++ = ',';
            w = put_pair(w, s->info_keys[i], s->info_values[i]);
        }
    return w;
}

static void put_exemplar(text_ctx_t *c, const fp_snap_exemplar_t *ex);

/*
 * One sample line: <prefix><family><suffix>{<series labels>,<extra>} <value>
 * then an exemplar when given, and the newline.
 */
static void sample(text_ctx_t *c, const char *suffix, const extra_label_t *x, const char *value, size_t value_len,
                   const fp_snap_exemplar_t *ex)
{
    const fp_snap_family_t *f = c->f;
    size_t suffix_len = strlen(suffix);
    int first = c->labels_at == SIZE_MAX;
    size_t n = c->prefix_len + f->name.len + suffix_len + (first ? c->labels_bound : c->labels_len) + value_len + 5;
    if (x)
        n += x->name1_len + x->name2_len + 2 * x->value_len + 3;
    char *w = fp_out_reserve(c->o, n);
    if (!w)
        return;
    char *line = w;
    w = fp_put(w, c->prefix, c->prefix_len);
    w = fp_put(w, f->name.ptr, f->name.len);
    w = fp_put(w, suffix, suffix_len);
    int has_labels = f->nlabels || (f->type == FASTPROM_INFO && c->s->ninfo);
    if (has_labels || x) {
        *w++ = '{';
        if (first) {
            c->labels_at = (size_t)(w - c->o->buf->data);
            w = put_series_labels(w, c);
            c->labels_len = (size_t)(w - c->o->buf->data) - c->labels_at;
        } else {
            w = fp_put(w, c->o->buf->data + c->labels_at, c->labels_len);
        }
        if (x) {
            if (has_labels)
                *w++ = ',';
            w = fp_put(w, x->name1, x->name1_len);
            w = fp_put(w, x->name2, x->name2_len);
            *w++ = '=';
            *w++ = '"';
            w = fp_put_escaped(w, x->value, x->value_len, 1);
            *w++ = '"';
        }
        *w++ = '}';
    }
    *w++ = ' ';
    w = fp_put(w, value, value_len);
    if (ex) {
        fp_out_commit(c->o, (size_t)(w - line));
        put_exemplar(c, ex);
        fp_out_char(c->o, '\n');
        return;
    }
    *w++ = '\n';
    fp_out_commit(c->o, (size_t)(w - line));
}

/* " # {a="b"} value timestamp" after a _total or _bucket sample. */
static void put_exemplar(text_ctx_t *c, const fp_snap_exemplar_t *ex)
{
    char value[FP_FMT_MAX], ts[FP_FMT_MAX];
    size_t value_len = fp_fmt_value(ex->value, value);
    size_t ts_len = fp_fmt_seconds(ex->timestamp, ts);
    size_t n = value_len + ts_len + 8;
    for (size_t i = 0; i < ex->nlabels; i++)
        n += ex->names[i].len + 2 * (size_t)ex->values[i].len + 4;
    char *w = fp_out_reserve(c->o, n);
    if (!w)
        return;
    char *start = w;
    w = fp_put(w, " # {", 4);
    for (size_t i = 0; i < ex->nlabels; i++) {
        if (i)
            *w++ = ',';
        w = put_pair(w, ex->names[i], ex->values[i]);
    }
    *w++ = '}';
    *w++ = ' ';
    w = fp_put(w, value, value_len);
    *w++ = ' ';
    w = fp_put(w, ts, ts_len);
    fp_out_commit(c->o, (size_t)(w - start));
}

/* "# <kind> <prefix><name><suffix> " */
static void meta_start(text_ctx_t *c, const char *kind, const char *suffix)
{
    fp_out_t *o = c->o;
    fp_out_str(o, "# ");
    fp_out_str(o, kind);
    fp_out_char(o, ' ');
    fp_out_mem(o, c->prefix, c->prefix_len);
    fp_out_mem(o, c->f->name.ptr, c->f->name.len);
    fp_out_str(o, suffix);
    fp_out_char(o, ' ');
}

static void meta_help(text_ctx_t *c, const char *suffix)
{
    fp_str_t help = c->f->help;
    if (!help.len)
        return;
    meta_start(c, "HELP", suffix);
    char *w = fp_out_reserve(c->o, 2 * (size_t)help.len + 1);
    if (!w)
        return;
    char *end = fp_put_escaped(w, help.ptr, help.len, c->om);
    *end++ = '\n';
    fp_out_commit(c->o, (size_t)(end - w));
}

static void family_meta(text_ctx_t *c)
{
    const fp_snap_family_t *f = c->f;
    if (c->om) {
        meta_start(c, "TYPE", "");
        fp_out_str(c->o, fastprom_type_name(f->type));
        fp_out_char(c->o, '\n');
        if (f->unit.len) {
            meta_start(c, "UNIT", "");
            fp_out_mem(c->o, f->unit.ptr, f->unit.len);
            fp_out_char(c->o, '\n');
        }
        meta_help(c, "");
        return;
    }
    /* Text has no info or stateset: they are gauges, an info one named
     * <name>_info; a counter's family is named after its _total sample. */
    const char *suffix = f->type == FASTPROM_COUNTER ? "_total" : f->type == FASTPROM_INFO ? "_info" : "";
    const char *type = f->type == FASTPROM_INFO || f->type == FASTPROM_STATESET ? "gauge" : fastprom_type_name(f->type);
    meta_help(c, suffix);
    meta_start(c, "TYPE", suffix);
    fp_out_str(c->o, type);
    fp_out_char(c->o, '\n');
}

static void value_sample(text_ctx_t *c, const char *suffix, const extra_label_t *x, double v,
                         const fp_snap_exemplar_t *ex)
{
    char buf[FP_FMT_MAX];
    size_t n = fp_fmt_value(v, buf);
    sample(c, suffix, x, buf, n, ex);
}

static void count_sample(text_ctx_t *c, const char *suffix, const extra_label_t *x, uint64_t v,
                         const fp_snap_exemplar_t *ex)
{
    char buf[FP_FMT_MAX];
    size_t n = fp_fmt_u64(v, buf);
    sample(c, suffix, x, buf, n, ex);
}

static void created_sample(text_ctx_t *c)
{
    if (!c->om || !(c->flags & FASTPROM_RENDER_CREATED))
        return;
    char buf[FP_FMT_MAX];
    size_t n = fp_fmt_seconds(c->s->created, buf);
    sample(c, "_created", NULL, buf, n, NULL);
}

static const fp_snap_exemplar_t *exemplar_at(const text_ctx_t *c, size_t i)
{
    const fp_snap_exemplar_t *ex = c->s->exemplars;
    return c->om && ex && ex[i].present ? &ex[i] : NULL;
}

static void render_counter(text_ctx_t *c)
{
    value_sample(c, "_total", NULL, c->s->value, exemplar_at(c, 0));
    created_sample(c);
}

static void render_gauge(text_ctx_t *c)
{
    const fp_snap_series_t *s = c->s;
    if (c->f->gauge_mode != FASTPROM_GAUGE_ALL && c->f->gauge_mode != FASTPROM_GAUGE_LIVEALL) {
        if (s->has_value)
            value_sample(c, "", NULL, s->value, NULL);
        return;
    }
    for (size_t i = 0; i < s->npids; i++) {
        char pid[FP_FMT_MAX];
        extra_label_t x = {"pid", 3, "", 0, pid, fp_fmt_u64(s->pids[i].pid, pid)};
        value_sample(c, "", &x, s->pids[i].value, NULL);
    }
}

/* A family's le="" or quantile="" values, formatted once for all series. */
typedef struct bound_strings {
    char text[FASTPROM_MAX_BUCKETS + 1][FP_FMT_MAX];
    extra_label_t label[FASTPROM_MAX_BUCKETS + 1];
} bound_strings_t;

/* snapshot.c guarantees nbounds <= FASTPROM_MAX_BUCKETS (>= MAX_QUANTILES). */
static void format_bounds(const fp_snap_family_t *f, const char *name, bound_strings_t *b)
{
    size_t n = f->type == FASTPROM_HISTOGRAM ? f->nbounds + 1 : f->nbounds;
    for (size_t i = 0; i < n; i++) {
        size_t len = fp_fmt_bound(i < f->nbounds ? f->bounds[i] : INFINITY, b->text[i]);
        b->label[i] = (extra_label_t){name, strlen(name), "", 0, b->text[i], len};
    }
}

/* OpenMetrics: sums are counters, so neither negative nor NaN, and a
 * histogram with negative buckets has no _sum (nor _count, which goes with
 * it). */
static int om_sum_allowed(const text_ctx_t *c)
{
    if (c->f->type == FASTPROM_HISTOGRAM && c->f->nbounds && c->f->bounds[0] < 0)
        return 0;
    return !(c->s->sum < 0) && !isnan(c->s->sum);
}

static void render_histogram(text_ctx_t *c, const bound_strings_t *b)
{
    const fp_snap_series_t *s = c->s;
    uint64_t cumulative = 0;
    for (size_t i = 0; i <= c->f->nbounds; i++) {
        cumulative += s->buckets[i];
        count_sample(c, "_bucket", &b->label[i], cumulative, exemplar_at(c, i));
    }
    if (!c->om || om_sum_allowed(c)) {
        value_sample(c, "_sum", NULL, s->sum, NULL);
        count_sample(c, "_count", NULL, cumulative, NULL);
    }
    created_sample(c);
}

static void render_summary(text_ctx_t *c, const bound_strings_t *b)
{
    const fp_snap_series_t *s = c->s;
    for (size_t i = 0; i < c->f->nbounds; i++)
        if (!c->om || !(s->quantiles[i] < 0))
            value_sample(c, "", &b->label[i], s->quantiles[i], NULL);
    if (!c->om || om_sum_allowed(c))
        value_sample(c, "_sum", NULL, s->sum, NULL);
    count_sample(c, "_count", NULL, s->count, NULL);
    created_sample(c);
}

static void render_stateset(text_ctx_t *c)
{
    const fp_snap_family_t *f = c->f;
    for (size_t i = 0; i < f->nstates; i++) {
        extra_label_t x = {c->prefix, c->prefix_len, f->name.ptr, f->name.len, f->states[i].ptr, f->states[i].len};
        sample(c, "", &x, c->s->state == (int)i ? "1" : "0", 1, NULL);
    }
}

static void render_family(text_ctx_t *c, const fp_snap_family_t *f)
{
    bound_strings_t bounds;
    c->f = f;
    family_meta(c);
    if (f->type == FASTPROM_HISTOGRAM)
        format_bounds(f, "le", &bounds);
    else if (f->type == FASTPROM_SUMMARY)
        format_bounds(f, "quantile", &bounds);
    for (size_t i = 0; i < f->nseries; i++) {
        begin_series(c, &f->series[i]);
        switch (f->type) {
        case FASTPROM_COUNTER: render_counter(c); break;
        case FASTPROM_GAUGE: render_gauge(c); break;
        case FASTPROM_HISTOGRAM: render_histogram(c, &bounds); break;
        case FASTPROM_SUMMARY: render_summary(c, &bounds); break;
        case FASTPROM_INFO: sample(c, "_info", NULL, "1", 1, NULL); break;
        case FASTPROM_STATESET: render_stateset(c); break;
        }
    }
}

void fp_render_text(const fp_snapshot_t *snap, const char *prefix, unsigned flags, int openmetrics, fp_out_t *o)
{
    text_ctx_t c = {.o = o, .om = openmetrics, .flags = flags, .prefix = prefix, .prefix_len = strlen(prefix)};
    for (size_t i = 0; i < snap->nfamilies; i++)
        render_family(&c, &snap->families[i]);
    if (openmetrics && !(flags & FASTPROM_RENDER_NO_EOF))
        fp_out_str(o, "# EOF\n");
}
