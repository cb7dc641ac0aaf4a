/*
 * negotiate.c - Accept and Accept-Encoding parsing (RFC 9110 lists of
 * elements with ";"-parameters and q-values).
 *
 * Headers come from any client, so parsing never fails: a malformed element
 * is skipped, a malformed q-value disqualifies its element, and at most
 * MAX_ELEMENTS elements are looked at so a huge header costs bounded time.
 * q=0 means "not acceptable" (RFC 9110 12.4.2): what a header refuses is
 * never sent, and a header that refuses everything it names gets a 406.
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

/*
 * RFC 9110 12.4.2: qvalue = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] ),
 * a weight "normalized to a real number in the range 0 through 1". A
 * decimal number outside that grammar is still a usable weight (section 2.2
 * lets a recipient recover one from an invalid construct): above 1 it is
 * read as 1 (the sender ranks the element first: gzip;q=1.5 asks for gzip),
 * extra decimals are kept. Anything else (a sign, letters, two points, an
 * empty value) is no weight at all and disqualifies its element.
 */
static int parse_q(span_t v, double *q)
{
    double value = 0, scale = 1;
    int digits = 0, point = 0;
    if (v.len == 0 || v.len > 16)
        return -1;
    for (size_t i = 0; i < v.len; i++) {
        char ch = v.p[i];
        if (ch == '.' && !point && digits > 0) {
            point = 1;
        } else if (ch >= '0' && ch <= '9') {
            digits++;
            if (point)
                value += (ch - '0') * (scale /= 10);
            else
                value = value * 10 + (ch - '0');
        } else {
            return -1;
        }
    }
    *q = value > 1 ? 1 : value;
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

#define NEXPO 3 /* the expositions offered, FCGI_EXPO_* in the worker's order of preference */
#define UNNAMED (-1)

/* How an Accept element names an exposition: RFC 9110 12.5.1 lets the most
 * specific matching range give an offer its weight. */
enum { BY_ANY = 0, BY_TYPE_WILDCARD = 1, BY_TYPE = 2, BY_VERSION = 3 };

typedef struct accept_state {
    int named[NEXPO]; /* the specificity of the element that weighs it, or UNNAMED */
    double q[NEXPO];
    int order[NEXPO]; /* that element's place in the header */
} accept_state_t;

/* How specifically el names expo, or UNNAMED. */
static int specificity(const element_t *el, int expo)
{
    int text = expo == FCGI_EXPO_TEXT;
    if (span_is(el->name, "*/*"))
        return BY_ANY;
    if (span_is(el->name, text ? "text/*" : "application/*"))
        return BY_TYPE_WILDCARD;
    if (!span_is(el->name, text ? "text/plain" : "application/openmetrics-text"))
        return UNNAMED;
    if (!el->has_version)
        return BY_TYPE;
    const char *version = text ? "0.0.4" : expo == FCGI_EXPO_OPENMETRICS_1_0_0 ? "1.0.0" : "0.0.1";
    return span_is(el->version, version) ? BY_VERSION : UNNAMED;
}

static int note_accept(const element_t *el, int index, void *ctx)
{
    accept_state_t *st = ctx;
    for (int e = 0; e < NEXPO; e++) {
        int spec = specificity(el, e);
        if (spec > st->named[e]) { /* equally specific later elements do not override */
            st->named[e] = spec;
            st->q[e] = el->q;
            st->order[e] = index;
        }
    }
    return 0;
}

/* 1 when acceptable exposition a is preferred to acceptable b. */
static int preferred(const accept_state_t *st, int a, int b)
{
    if (st->q[a] != st->q[b])
        return st->q[a] > st->q[b];
    if (st->named[a] != st->named[b])
        return st->named[a] > st->named[b];
    if (st->order[a] != st->order[b])
        return st->order[a] < st->order[b];
    return a < b;
}

fcgi_exposition_t fcgi_negotiate_exposition(const char *accept)
{
    accept_state_t st;
    int best = -1, refused = 0;
    for (int e = 0; e < NEXPO; e++)
        st.named[e] = UNNAMED;
    each_element(accept, note_accept, &st);
    for (int e = 0; e < NEXPO; e++) {
        if (st.named[e] == UNNAMED)
            continue;
        if (st.q[e] == 0)
            refused = 1;
        else if (best < 0 || preferred(&st, e, best))
            best = e;
    }
    if (best >= 0)
        return (fcgi_exposition_t)best;
    return refused ? FCGI_EXPO_NONE : FCGI_EXPO_TEXT;
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
    return expo == FCGI_EXPO_NONE ? "none" : expo == FCGI_EXPO_TEXT ? "text" : "openmetrics";
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

/* RFC 9110 12.5.3: a coding is acceptable when listed (or covered by "*")
 * with q > 0; identity also when neither it nor "*" is listed, then with
 * no weight of its own, so any listed coding it could be compared with is
 * preferred. */
fcgi_coding_t fcgi_negotiate_coding(const char *accept_encoding)
{
    coding_state_t st;
    memset(&st, 0, sizeof st);
    each_element(accept_encoding, note_coding, &st);
    double gzip = st.has_gzip ? st.gzip : st.has_star ? st.star : 0;
    int identity_weighed = st.has_identity || st.has_star;
    double identity = st.has_identity ? st.identity : st.star;
    int identity_ok = !identity_weighed || identity > 0;
    if (gzip > 0 && (!identity_weighed || gzip >= identity))
        return identity_ok ? FCGI_CODING_GZIP : FCGI_CODING_GZIP_ONLY;
    return identity_ok ? FCGI_CODING_IDENTITY : FCGI_CODING_NONE;
}
