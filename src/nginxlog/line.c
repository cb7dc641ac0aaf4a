/*
 * line.c - the datagram parser (line.h).
 *
 * A hand-written scanner rather than sscanf or a JSON parser: it runs once
 * per request nginx serves, so it must cost well under a microsecond, and it
 * must treat every byte as hostile (the socket is writable by nginx's user,
 * and a truncated or foreign message is normal, not exceptional).
 */
#include <string.h>

#include "line.h"

#define NL_NFIELDS 11 /* after the marker */
#define NL_MAX_METHOD 32
#define NL_MAX_TAG 64

static const char *const error_names[NL_NERRORS] = {
    [NL_OK] = "ok",
    [NL_ESYSLOG] = "syslog_header",
    [NL_ETAG] = "foreign_tag",
    [NL_EFORMAT] = "foreign_format",
    [NL_EFIELDS] = "field_count",
    [NL_ESTATUS] = "status",
    [NL_ENUMBER] = "number",
    [NL_EMETHOD] = "method",
    [NL_EOVERSIZED] = "oversized",
};

const char *nl_error_name(int e)
{
    return e >= 0 && e < NL_NERRORS ? error_names[e] : "unknown";
}

static int is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/*
 * "<PRI>Mmm dd hh:mm:ss [host ]TAG: ". Returns the offset of the message
 * body, or -1. The timestamp is checked for shape only: the daemon measures
 * lag with $msec, which has milliseconds and a year.
 */
static long skip_syslog_header(const char *m, size_t len, nl_str_t *tag)
{
    size_t i = 0;
    if (len < 1 || m[0] != '<')
        return -1;
    for (i = 1; i < len && i <= 4 && is_digit(m[i]); i++)
        ;
    if (i == 1 || i >= len || m[i] != '>')
        return -1;
    i++;
    /* "Mmm dd hh:mm:ss " is 16 bytes: day padded with a space. */
    if (len - i < 16)
        return -1;
    const char *t = m + i;
    if (t[3] != ' ' || t[6] != ' ' || t[9] != ':' || t[12] != ':' || t[15] != ' ' || !is_digit(t[5]) ||
        !is_digit(t[7]) || !is_digit(t[8]) || !is_digit(t[14]))
        return -1;
    i += 16;
    /* One or two tokens: "TAG:" or "HOST TAG:". */
    for (int token = 0; token < 2; token++) {
        size_t start = i;
        while (i < len && m[i] != ' ' && i - start <= NL_MAX_TAG)
            i++;
        if (i >= len || i == start || i - start > NL_MAX_TAG)
            return -1;
        if (m[i - 1] == ':') {
            tag->p = m + start;
            tag->len = i - 1 - start;
            return (long)i + 1; /* the space after "TAG:" */
        }
        i++; /* a hostname: the tag follows */
    }
    return -1;
}

/*
 * A non-negative decimal ("0.013", "1796586510.833", "150"). nginx prints
 * these itself, so the grammar is narrow: digits, optionally '.' and digits.
 */
static int parse_decimal(nl_str_t s, double *out)
{
    if (s.len == 0 || s.len > 24)
        return -1;
    double v = 0;
    size_t i = 0;
    for (; i < s.len && is_digit(s.p[i]); i++)
        v = v * 10 + (s.p[i] - '0');
    if (i == 0)
        return -1;
    if (i < s.len) {
        if (s.p[i] != '.' || i + 1 == s.len)
            return -1;
        double scale = 1;
        unsigned long frac = 0;
        for (i++; i < s.len; i++) {
            if (!is_digit(s.p[i]))
                return -1;
            frac = frac * 10 + (unsigned long)(s.p[i] - '0');
            scale *= 10;
        }
        v += (double)frac / scale;
    }
    *out = v;
    return 0;
}

static int valid_method(nl_str_t m)
{
    if (m.len > NL_MAX_METHOD)
        return 0;
    for (size_t i = 0; i < m.len; i++) {
        char c = m.p[i];
        if (!((c >= 'A' && c <= 'Z') || c == '_' || c == '-'))
            return 0;
    }
    return 1;
}

int nl_parse(const char *msg, size_t len, const char *tag, nl_line_t *out)
{
    memset(out, 0, sizeof *out);
    long body = skip_syslog_header(msg, len, &out->tag);
    if (body < 0)
        return NL_ESYSLOG;
    if (tag && *tag && (out->tag.len != strlen(tag) || memcmp(out->tag.p, tag, out->tag.len) != 0))
        return NL_ETAG;
    const char *p = msg + body, *end = msg + len;
    /* A sender that ends its lines (logger, a relay) is still one line. */
    if (end > p && end[-1] == '\n')
        end--;
    size_t mlen = sizeof NL_FORMAT_MARKER - 1;
    if ((size_t)(end - p) < mlen + 1 || memcmp(p, NL_FORMAT_MARKER, mlen) != 0 || p[mlen] != '\t')
        return NL_EFORMAT;
    p += mlen + 1;

    nl_str_t f[NL_NFIELDS];
    size_t n = 0;
    for (;;) {
        const char *tab = memchr(p, '\t', (size_t)(end - p));
        if (n == NL_NFIELDS)
            return NL_EFIELDS; /* more fields than the format has */
        f[n].p = p;
        f[n].len = (size_t)((tab ? tab : end) - p);
        n++;
        if (!tab)
            break;
        p = tab + 1;
    }
    if (n != NL_NFIELDS)
        return NL_EFIELDS;

    out->server = f[0];
    out->method = f[1];
    if (!valid_method(out->method))
        return NL_EMETHOD;
    if (f[2].len != 3 || !is_digit(f[2].p[0]) || !is_digit(f[2].p[1]) || !is_digit(f[2].p[2]))
        return NL_ESTATUS;
    out->status = (unsigned)((f[2].p[0] - '0') * 100 + (f[2].p[1] - '0') * 10 + (f[2].p[2] - '0'));
    if (parse_decimal(f[3], &out->request_time) != 0 || parse_decimal(f[6], &out->bytes_sent) != 0 ||
        parse_decimal(f[7], &out->request_length) != 0 || parse_decimal(f[8], &out->msec) != 0)
        return NL_ENUMBER;
    out->upstream_times = f[4];
    out->upstream_addrs = f[5];
    out->route = f[9];
    out->uri = f[10];
    return NL_OK;
}

static int hex_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Appends code point cp as UTF-8; returns the new length, or 0 when it does
 * not fit (a character is never split). */
static size_t put_utf8(char *out, size_t o, size_t cap, unsigned cp)
{
    char b[3];
    size_t n;
    if (cp < 0x80) {
        b[0] = (char)cp;
        n = 1;
    } else if (cp < 0x800) {
        b[0] = (char)(0xC0 | (cp >> 6));
        b[1] = (char)(0x80 | (cp & 0x3F));
        n = 2;
    } else {
        b[0] = (char)(0xE0 | (cp >> 12));
        b[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        b[2] = (char)(0x80 | (cp & 0x3F));
        n = 3;
    }
    if (cap - o < n)
        return 0;
    memcpy(out + o, b, n);
    return o + n;
}

size_t nl_unescape(nl_str_t in, char *out, size_t cap)
{
    size_t o = 0;
    for (size_t i = 0; i < in.len && o < cap; i++) {
        char c = in.p[i];
        if (c != '\\' || i + 1 == in.len) {
            out[o++] = c;
            continue;
        }
        char e = in.p[i + 1];
        const char *simple = strchr("\"\\/bfnrt", e);
        if (e && simple) {
            static const char decoded[] = "\"\\/\b\f\n\r\t";
            out[o++] = decoded[simple - "\"\\/bfnrt"];
            i++;
            continue;
        }
        if (e == 'u' && in.len - i >= 6) {
            int h[4];
            for (int k = 0; k < 4; k++)
                h[k] = hex_value(in.p[i + 2 + (size_t)k]);
            if (h[0] >= 0 && h[1] >= 0 && h[2] >= 0 && h[3] >= 0) {
                unsigned cp = (unsigned)(h[0] << 12 | h[1] << 8 | h[2] << 4 | h[3]);
                size_t grown = put_utf8(out, o, cap, cp);
                if (!grown)
                    break; /* full */
                o = grown;
                i += 5;
                continue;
            }
        }
        out[o++] = c; /* not an escape nginx writes: keep the byte */
    }
    return o;
}

void nl_upstream_begin(nl_upstream_iter_t *it, const nl_line_t *line)
{
    it->times = line->upstream_times;
    it->addrs = line->upstream_addrs;
    it->tpos = it->apos = 0;
}

/* The next list item of s from *pos: items end at ',' or at " : ". */
static int next_item(nl_str_t s, size_t *pos, nl_str_t *item)
{
    size_t i = *pos;
    while (i < s.len && s.p[i] == ' ')
        i++;
    if (i >= s.len) {
        *pos = i;
        return 0;
    }
    size_t start = i;
    while (i < s.len && s.p[i] != ',' && !(s.p[i] == ' ' && i + 1 < s.len && s.p[i + 1] == ':'))
        i++;
    size_t stop = i;
    while (stop > start && s.p[stop - 1] == ' ')
        stop--;
    item->p = s.p + start;
    item->len = stop - start;
    if (i < s.len)
        i += s.p[i] == ',' ? 1 : 2; /* past "," or " :" */
    *pos = i;
    return 1;
}

int nl_upstream_next(nl_upstream_iter_t *it, double *time, nl_str_t *addr)
{
    nl_str_t t;
    if (!next_item(it->times, &it->tpos, &t))
        return 0;
    if (!next_item(it->addrs, &it->apos, addr)) {
        addr->p = "";
        addr->len = 0;
    }
    if (parse_decimal(t, time) != 0)
        *time = -1;
    return 1;
}

const char *nl_method_label(nl_str_t m)
{
    static const char *const standard[] = {"GET",     "HEAD",  "POST",  "PUT",    "DELETE",
                                           "OPTIONS", "PATCH", "TRACE", "CONNECT"};
    for (size_t i = 0; i < sizeof standard / sizeof standard[0]; i++)
        if (strlen(standard[i]) == m.len && memcmp(standard[i], m.p, m.len) == 0)
            return standard[i];
    return "other";
}
