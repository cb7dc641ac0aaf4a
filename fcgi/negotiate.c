/*
 * negotiate.c - Accept and Accept-Encoding parsing (RFC 9110 lists of
 * elements with ";"-parameters and q-values).
 *
 * Headers come from any client, so parsing never fails: a malformed element
 * is skipped, a malformed q-value disqualifies its element, and at most
 * MAX_ELEMENTS elements are looked at so a huge header costs bounded time.
 */
#include <string.h>
#include <strings.h>

#include "negotiate.h"

#define MAX_ELEMENTS 64
#define OPENMETRICS_0_0_1_TYPE "application/openmetrics-text; version=0.0.1; charset=utf-8"

typedef struct span {
    const char *p;
    size_t len;
} span_t;

typedef struct element {
    span_t name; /* "type/subtype" or a content-coding */
    span_t version;
    int has_version;
    double q;
} element_t;

static int is_space(char ch)
{
    return ch == ' ' || ch == '\t';
}

static span_t trim(const char *s, const char *e)
{
    while (s < e && is_space(*s))
        s++;
    while (e > s && is_space(e[-1]))
        e--;
    span_t out = {s, (size_t)(e - s)};
    return out;
}

static int span_is(span_t s, const char *word)
{
    return s.len == strlen(word) && strncasecmp(s.p, word, s.len) == 0;
}

/* Where the next sep outside a quoted string is, or e. */
static const char *find_sep(const char *s, const char *e, char sep)
{
    int quoted = 0;
    for (; s < e; s++) {
        if (quoted && *s == '\\' && s + 1 < e)
            s++;
        else if (*s == '"')
            quoted = !quoted;
        else if (!quoted && *s == sep)
            return s;
    }
    return e;
}

/* qvalue = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] ) */
static int parse_q(span_t v, double *q)
{
    if (v.len == 0 || v.len > 5 || (v.p[0] != '0' && v.p[0] != '1'))
        return -1;
    if (v.len > 1 && v.p[1] != '.')
        return -1;
    double value = v.p[0] - '0', scale = 0.1;
    for (size_t i = 2; i < v.len; i++, scale /= 10) {
        if (v.p[i] < '0' || v.p[i] > '9' || (v.p[0] == '1' && v.p[i] != '0'))
            return -1;
        value += (v.p[i] - '0') * scale;
    }
    *q = value;
    return 0;
}

static int parse_element(const char *s, const char *e, element_t *out)
{
    const char *semi = find_sep(s, e, ';');
    out->name = trim(s, semi);
    out->has_version = 0;
    out->q = 1.0;
    if (out->name.len == 0)
        return -1;
    for (const char *p = semi; p < e;) {
        const char *next = find_sep(p + 1, e, ';');
        const char *eq = memchr(p + 1, '=', (size_t)(next - p - 1));
        if (eq) {
            span_t key = trim(p + 1, eq), value = trim(eq + 1, next);
            if (value.len >= 2 && value.p[0] == '"' && value.p[value.len - 1] == '"') {
                value.p++;
                value.len -= 2;
            }
            if (span_is(key, "q")) {
                if (parse_q(value, &out->q) != 0)
                    return -1;
            } else if (span_is(key, "version")) {
                out->version = value;
                out->has_version = 1;
            }
        }
        p = next;
    }
    return 0;
}

/* Calls fn for each well-formed element of a header; stops early when fn
 * returns non-zero. */
static void each_element(const char *header, int (*fn)(const element_t *, int, void *), void *ctx)
{
    if (!header)
        return;
    const char *s = header, *end = header + strlen(header);
    for (int index = 0; s < end && index < MAX_ELEMENTS; index++) {
        const char *comma = find_sep(s, end, ',');
        element_t el;
        if (parse_element(s, comma, &el) == 0 && fn(&el, index, ctx) != 0)
            return;
        s = comma + 1;
    }
}

/* ---- Accept ---------------------------------------------------------- */

#define NEXPO 3
#define WILDCARD NEXPO
#define UNSUPPORTED (-1)

typedef struct accept_state {
    double q[NEXPO + 1]; /* best q seen per exposition, and for wildcards */
    int order[NEXPO + 1];
    int excluded[NEXPO]; /* explicitly q=0 */
} accept_state_t;

static int classify(const element_t *el)
{
    span_t v = el->version;
    if (span_is(el->name, "application/openmetrics-text")) {
        if (!el->has_version || span_is(v, "1.0.0"))
            return FCGI_EXPO_OPENMETRICS_1_0_0;
        return span_is(v, "0.0.1") ? FCGI_EXPO_OPENMETRICS_0_0_1 : UNSUPPORTED;
    }
    if (span_is(el->name, "text/plain"))
        return !el->has_version || span_is(v, "0.0.4") ? FCGI_EXPO_TEXT : UNSUPPORTED;
    if (span_is(el->name, "*/*") || span_is(el->name, "text/*"))
        return WILDCARD;
    return UNSUPPORTED;
}

static int note_accept(const element_t *el, int index, void *ctx)
{
    accept_state_t *st = ctx;
    int expo = classify(el);
    if (expo == UNSUPPORTED)
        return 0;
    if (el->q == 0) {
        if (expo != WILDCARD)
            st->excluded[expo] = 1;
        return 0;
    }
    if (el->q > st->q[expo]) {
        st->q[expo] = el->q;
        st->order[expo] = index;
    }
    return 0;
}

fcgi_exposition_t fcgi_negotiate_exposition(const char *accept)
{
    accept_state_t st;
    memset(&st, 0, sizeof st);
    each_element(accept, note_accept, &st);

    int best = -1;
    for (int e = 0; e < NEXPO; e++) {
        if (st.excluded[e] || st.q[e] == 0)
            continue;
        if (best < 0 || st.q[e] > st.q[best] || (st.q[e] == st.q[best] && st.order[e] < st.order[best]))
            best = e;
    }
    /* A wildcard stands for text, or OpenMetrics when text was refused; it
     * wins only with a strictly higher q than every named type. */
    if (st.q[WILDCARD] > 0 && (best < 0 || st.q[WILDCARD] > st.q[best])) {
        if (!st.excluded[FCGI_EXPO_TEXT])
            return FCGI_EXPO_TEXT;
        if (!st.excluded[FCGI_EXPO_OPENMETRICS_1_0_0])
            return FCGI_EXPO_OPENMETRICS_1_0_0;
    }
    return best < 0 ? FCGI_EXPO_TEXT : (fcgi_exposition_t)best;
}

fastprom_format_t fcgi_exposition_format(fcgi_exposition_t expo)
{
    return expo == FCGI_EXPO_TEXT ? FASTPROM_FORMAT_TEXT : FASTPROM_FORMAT_OPENMETRICS;
}

const char *fcgi_exposition_content_type(fcgi_exposition_t expo)
{
    if (expo == FCGI_EXPO_OPENMETRICS_0_0_1)
        return OPENMETRICS_0_0_1_TYPE;
    return fastprom_content_type(fcgi_exposition_format(expo));
}

const char *fcgi_exposition_label(fcgi_exposition_t expo)
{
    return expo == FCGI_EXPO_TEXT ? "text" : "openmetrics";
}

/* ---- Accept-Encoding --------------------------------------------------- */

typedef struct coding_state {
    double gzip, identity, star;
    int has_gzip, has_identity, has_star;
} coding_state_t;

static int note_coding(const element_t *el, int index, void *ctx)
{
    coding_state_t *st = ctx;
    (void)index;
    if (span_is(el->name, "gzip") || span_is(el->name, "x-gzip")) {
        if (!st->has_gzip || el->q > st->gzip)
            st->gzip = el->q;
        st->has_gzip = 1;
    } else if (span_is(el->name, "identity")) {
        st->identity = el->q;
        st->has_identity = 1;
    } else if (span_is(el->name, "*")) {
        st->star = el->q;
        st->has_star = 1;
    }
    return 0;
}

int fcgi_negotiate_gzip(const char *accept_encoding)
{
    coding_state_t st;
    memset(&st, 0, sizeof st);
    each_element(accept_encoding, note_coding, &st);
    double gzip = st.has_gzip ? st.gzip : st.has_star ? st.star : 0;
    double identity = st.has_identity ? st.identity : st.has_star ? st.star : 1;
    /* "*;q=0" alone refuses identity too; gzip is then the only way out. */
    return gzip > 0 && gzip >= identity;
}
