/*
 * guard.c - checking the start of a FastCGI connection before libfcgi
 * parses it (guard.h).
 *
 * Why it exists: libfcgi 2.4.2's ReadParams takes each name's and value's
 * declared length (up to 2^31-1) from the peer and mallocs name + value + 2
 * in an int. Lengths such as 0x40000000 + 0x3fffffff, or 0x7ffffff0 twice,
 * overflow that sum, the malloc fails and libfcgi's own assert
 * (fcgiapp.c:75) aborts the whole worker: one ~130-byte record from anyone
 * who can connect to the socket. Debian's CVE-2025-23016 patch does not catch
 * these sums, and lengths that do not overflow are malloc'd as declared
 * (gigabytes for a few bytes sent). Management records (request id 0, e.g.
 * FCGI_GET_VALUES) reach the same ReadParams before any request begins.
 *
 * nginx sends BEGIN_REQUEST and the whole PARAMS stream in one write; the
 * intake (intake.c) peeks (MSG_PEEK: libfcgi later reads the very same
 * bytes) at what arrived and the guard decodes every name-value length on
 * the way to the empty PARAMS record that ends the stream, including pairs
 * split across records. A connection passes only when that prefix is
 * exactly what libfcgi parses safely: BEGIN_REQUEST (known role, non-zero
 * id, 8-byte body), then PARAMS records of the same request and nothing
 * else, lengths within FCGI_GUARD_MAX_PARAM, the content within
 * FCGI_GUARD_MAX_PARAMS, the stream within FCGI_GUARD_MAX_STREAM. libfcgi
 * never parses what follows (FCGI_STDIN is left unread and we close after
 * one request), so the prefix is all that matters.
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>

#include "guard.h"

#define HEADER_LEN 8
#define VERSION_1 1
#define TYPE_BEGIN_REQUEST 1
#define TYPE_PARAMS 4
#define BEGIN_BODY_LEN 8
#define ROLE_FILTER 3 /* roles 1..3: RESPONDER, AUTHORIZER, FILTER */

/* Where the name-value decoding stands; it carries over record boundaries. */
typedef struct pairs {
    int value_next;       /* the next length is the value's (else the name's) */
    unsigned length_left; /* bytes still to come of a 4-byte length */
    uint32_t length;      /* the length being read */
    uint32_t name_length;
    size_t body_left; /* name and value bytes still to come */
} pairs_t;

static fcgi_guard_verdict_t refuse(fcgi_guard_verdict_t v, char *detail, size_t len, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static fcgi_guard_verdict_t refuse(fcgi_guard_verdict_t v, char *detail, size_t len, const char *fmt, ...)
{
    if (detail && len > 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(detail, len, fmt, ap);
        va_end(ap);
    }
    return v;
}

static fcgi_guard_verdict_t feed_pairs(pairs_t *p, const unsigned char *s, size_t n, char *detail, size_t len)
{
    while (n > 0) {
        if (p->body_left > 0) {
            size_t take = n < p->body_left ? n : p->body_left;
            p->body_left -= take;
            s += take;
            n -= take;
            continue;
        }
        unsigned char byte = *s++;
        n--;
        if (p->length_left > 0) {
            p->length = (p->length << 8) | byte;
            if (--p->length_left > 0)
                continue;
        } else if (byte & 0x80) { /* the first of four bytes */
            p->length = byte & 0x7f;
            p->length_left = 3;
            continue;
        } else {
            p->length = byte;
        }
        if (p->length > FCGI_GUARD_MAX_PARAM)
            return refuse(FCGI_GUARD_TOO_LARGE, detail, len, "a parameter %s of %u bytes (the limit is %u)",
                          p->value_next ? "value" : "name", (unsigned)p->length, FCGI_GUARD_MAX_PARAM);
        if (p->value_next)
            p->body_left = (size_t)p->name_length + p->length;
        else
            p->name_length = p->length;
        p->value_next = !p->value_next;
    }
    return FCGI_GUARD_MORE;
}

static int between_pairs(const pairs_t *p)
{
    return !p->value_next && p->length_left == 0 && p->body_left == 0;
}

/* The BEGIN_REQUEST record at the start; MORE when it is fine so far. */
static fcgi_guard_verdict_t check_begin(const unsigned char *h, size_t avail, char *detail, size_t len)
{
    unsigned type = h[1], id = (unsigned)h[2] << 8 | h[3], clen = (unsigned)h[4] << 8 | h[5];
    if (type != TYPE_BEGIN_REQUEST || id == 0 || clen != BEGIN_BODY_LEN)
        return refuse(FCGI_GUARD_MALFORMED, detail, len,
                      "the first record (type %u, request id %u, %u bytes) is not a BEGIN_REQUEST", type, id, clen);
    if (avail < BEGIN_BODY_LEN)
        return FCGI_GUARD_MORE;
    unsigned role = (unsigned)h[HEADER_LEN] << 8 | h[HEADER_LEN + 1];
    if (role < 1 || role > ROLE_FILTER)
        return refuse(FCGI_GUARD_MALFORMED, detail, len, "an unknown FastCGI role %u", role);
    return FCGI_GUARD_MORE;
}

fcgi_guard_verdict_t fcgi_guard_scan(const unsigned char *buf, size_t len, char *detail, size_t detail_len)
{
    pairs_t pairs = {0};
    size_t off = 0, params = 0;
    unsigned request_id = 0;
    if (detail && detail_len > 0)
        detail[0] = '\0';
    while (len - off >= HEADER_LEN) {
        const unsigned char *h = buf + off;
        unsigned type = h[1], id = (unsigned)h[2] << 8 | h[3], clen = (unsigned)h[4] << 8 | h[5];
        size_t end = off + HEADER_LEN + clen + h[6];
        size_t avail = len - off - HEADER_LEN < clen ? len - off - HEADER_LEN : clen;
        fcgi_guard_verdict_t v;
        if (h[0] != VERSION_1)
            return refuse(FCGI_GUARD_MALFORMED, detail, detail_len, "a record of FastCGI version %u", h[0]);
        if (off == 0) {
            request_id = id;
            v = check_begin(h, avail, detail, detail_len);
        } else if (type != TYPE_PARAMS || id != request_id) {
            return refuse(FCGI_GUARD_MALFORMED, detail, detail_len,
                          "a record of type %u for request id %u before the parameters of request %u ended", type, id,
                          request_id);
        } else if (clen == 0) {
            return between_pairs(&pairs) ? FCGI_GUARD_OK
                                         : refuse(FCGI_GUARD_MALFORMED, detail, detail_len,
                                                  "the parameters end inside a name-value pair");
        } else if ((params += clen) > FCGI_GUARD_MAX_PARAMS) {
            return refuse(FCGI_GUARD_TOO_LARGE, detail, detail_len, "more than %u bytes of parameters",
                          FCGI_GUARD_MAX_PARAMS);
        } else {
            v = feed_pairs(&pairs, h + HEADER_LEN, avail, detail, detail_len);
        }
        if (v != FCGI_GUARD_MORE)
            return v;
        if (end + HEADER_LEN > FCGI_GUARD_MAX_STREAM)
            return refuse(FCGI_GUARD_TOO_LARGE, detail, detail_len,
                          "the request's records take more than %u bytes before its parameters end",
                          FCGI_GUARD_MAX_STREAM);
        if (len < end)
            return FCGI_GUARD_MORE;
        off = end;
    }
    return FCGI_GUARD_MORE;
}

const char *fcgi_guard_verdict_name(fcgi_guard_verdict_t v)
{
    switch (v) {
    case FCGI_GUARD_OK: return "ok";
    case FCGI_GUARD_MORE: return "more";
    case FCGI_GUARD_MALFORMED: return "malformed";
    case FCGI_GUARD_TOO_LARGE: return "too_large";
    case FCGI_GUARD_TRUNCATED: return "truncated";
    case FCGI_GUARD_TIMEOUT: return "timeout";
    case FCGI_GUARD_EVICTED: return "evicted";
    }
    return "unknown";
}
