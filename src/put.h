/*
 * put.h - the byte writers every renderer shares: raw copies, the escaping
 * of the text formats and of JSON strings. They write into room the caller
 * reserved with fp_out_reserve() and return the new end; the bounds say how
 * much room each needs. Inline because they run once or more per sample.
 *
 * Common to both escapers: most strings need no escape, so they test eight
 * bytes at a time and copy whole words until one holds a byte to escape.
 */
#ifndef FASTPROM_PUT_H
#define FASTPROM_PUT_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define FP_ONES 0x0101010101010101ull
#define FP_HIGHS 0x8080808080808080ull

static inline char *fp_put(char *w, const char *s, size_t n)
{
    memcpy(w, s, n);
    return w + n;
}

/* Nonzero when one of the 8 bytes in w equals the byte repeated in b. */
static inline uint64_t fp_has_byte(uint64_t w, uint64_t b)
{
    uint64_t x = w ^ b;
    return (x - FP_ONES) & ~x & FP_HIGHS;
}

/* Nonzero when one of the 8 bytes in w is below 0x20 (a control byte). */
static inline uint64_t fp_has_control(uint64_t w)
{
    return (w - 0x20 * FP_ONES) & ~w & FP_HIGHS;
}

/*
 * The text formats' escaping: backslash and newline, and the double quote
 * when quote is set (label values; HELP in OpenMetrics). Room: 2 * n.
 */
static inline char *fp_put_escaped(char *w, const char *s, size_t n, int quote)
{
    size_t i = 0;
    while (n - i >= 8) {
        uint64_t v;
        memcpy(&v, s + i, 8);
        if (fp_has_byte(v, '\\' * FP_ONES) || fp_has_byte(v, '\n' * FP_ONES) ||
            (quote && fp_has_byte(v, '"' * FP_ONES)))
            break;
        memcpy(w, &v, 8);
        w += 8;
        i += 8;
    }
    for (; i < n; i++) {
        char ch = s[i];
        if (ch == '\\' || (ch == '"' && quote)) {
            *w++ = '\\';
            *w++ = ch;
        } else if (ch == '\n') {
            *w++ = '\\';
            *w++ = 'n';
        } else {
            *w++ = ch;
        }
    }
    return w;
}

/* Room for fp_put_json_string of n bytes: every byte may become \u00XX. */
#define FP_JSON_STRING_ROOM(n) (6 * (size_t)(n) + 2)

/*
 * The inside of a JSON string: s with '"', '\\' and the control bytes
 * escaped (\n \r \t \b \f, others \u00XX; NUL included). Other bytes are
 * copied: s must be UTF-8, which snapshot.c checks of every string it reads
 * from a segment. Room: 6 * n.
 */
static inline char *fp_put_json_escaped(char *w, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    size_t i = 0;
    while (i < n) {
        if (n - i >= 8) {
            uint64_t v;
            memcpy(&v, s + i, 8);
            if (!(fp_has_byte(v, '"' * FP_ONES) | fp_has_byte(v, '\\' * FP_ONES) | fp_has_control(v))) {
                memcpy(w, &v, 8);
                w += 8;
                i += 8;
                continue;
            }
        }
        /* A word (or the tail) with something to escape: byte by byte. */
        size_t end = n - i >= 8 ? i + 8 : n;
        for (; i < end; i++) {
            unsigned char ch = (unsigned char)s[i];
            if (ch >= 0x20 && ch != '"' && ch != '\\') {
                *w++ = (char)ch;
                continue;
            }
            *w++ = '\\';
            switch (ch) {
            case '"':
            case '\\': *w++ = (char)ch; break;
            case '\n': *w++ = 'n'; break;
            case '\r': *w++ = 'r'; break;
            case '\t': *w++ = 't'; break;
            case '\b': *w++ = 'b'; break;
            case '\f': *w++ = 'f'; break;
            default:
                w = fp_put(w, "u00", 3);
                *w++ = hex[ch >> 4];
                *w++ = hex[ch & 15];
            }
        }
    }
    return w;
}

/* A JSON string: s escaped as above, in quotes. Room: FP_JSON_STRING_ROOM(n). */
static inline char *fp_put_json_string(char *w, const char *s, size_t n)
{
    *w++ = '"';
    w = fp_put_json_escaped(w, s, n);
    *w++ = '"';
    return w;
}

#endif
