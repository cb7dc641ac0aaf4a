/*
 * query.c - name[]= filters out of a query string (see query.h). Decoding is
 * strict because a mistyped filter silently matching nothing is worse for a
 * user than a 400 naming the problem.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fastprom.h"
#include "query.h"

static int hex_value(char ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    if (ch >= 'a' && ch <= 'f')
        return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F')
        return ch - 'A' + 10;
    return -1;
}

/* Decodes [s, s+len) into a new string; NULL on a malformed escape or %00
 * (*bad set) or when out of memory (*bad clear). */
static char *decode(const char *s, size_t len, int *bad)
{
    char *out = malloc(len + 1), *o = out;
    *bad = 0;
    if (!out)
        return NULL;
    for (size_t i = 0; i < len; i++) {
        if (s[i] == '+') {
            *o++ = ' ';
        } else if (s[i] == '%') {
            int hi = i + 1 < len ? hex_value(s[i + 1]) : -1;
            int lo = i + 2 < len ? hex_value(s[i + 2]) : -1;
            if (hi >= 0 && lo >= 0 && hi + lo > 0) { /* %00 would cut the C string short */
                *o++ = (char)(hi * 16 + lo);
                i += 2;
                continue;
            }
            free(out);
            *bad = 1;
            return NULL;
        } else {
            *o++ = s[i];
        }
    }
    *o = '\0';
    return out;
}

static int is_metric_name(const char *s)
{
    if (!*s || strlen(s) > FASTPROM_MAX_NAME + 16) /* room for suffixes like _bucket */
        return 0;
    for (const char *p = s; *p; p++) {
        char ch = *p;
        int letter = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || ch == '_' || ch == ':';
        if (!letter && !(p != s && ch >= '0' && ch <= '9'))
            return 0;
    }
    return 1;
}

/* Shows a user's value in a message without letting it break the line. */
static void printable(const char *s, char *out, size_t outlen)
{
    size_t o = 0;
    for (; *s && o + 5 < outlen; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch < 0x20 || ch == 0x7f || ch == '"' || ch == '\\')
            o += (size_t)snprintf(out + o, outlen - o, "\\x%02x", ch);
        else
            out[o++] = (char)ch;
    }
    if (*s && o + 4 <= outlen) {
        memcpy(out + o, "...", 3);
        o += 3;
    }
    out[o] = '\0';
}

static int add_name(fcgi_query_t *q, char *name, char *err, size_t errlen)
{
    if (!is_metric_name(name)) {
        char shown[80];
        printable(name, shown, sizeof shown);
        snprintf(err, errlen, "name[]=\"%s\" is not a metric name ([a-zA-Z_:][a-zA-Z0-9_:]*)", shown);
        free(name);
        return -1;
    }
    if (q->nnames == FCGI_QUERY_MAX_NAMES) {
        snprintf(err, errlen, "more than %d name[] filters; ask for fewer names per request", FCGI_QUERY_MAX_NAMES);
        free(name);
        return -1;
    }
    if (!q->names) {
        q->names = calloc(FCGI_QUERY_MAX_NAMES, sizeof *q->names);
        if (!q->names) {
            snprintf(err, errlen, "out of memory");
            free(name);
            return -1;
        }
    }
    q->names[q->nnames++] = name;
    return 0;
}

int fcgi_query_parse(const char *query, fcgi_query_t *q, char *err, size_t errlen)
{
    memset(q, 0, sizeof *q);
    if (!query)
        return 0;
    for (const char *s = query; *s;) {
        size_t len = strcspn(s, "&");
        const char *eq = memchr(s, '=', len);
        size_t key_len = eq ? (size_t)(eq - s) : len;
        int bad;
        char *key = decode(s, key_len, &bad);
        if (!key) {
            snprintf(err, errlen, bad ? "malformed percent-encoding in a query parameter name" : "out of memory");
            return -1;
        }
        int is_name = strcmp(key, "name[]") == 0;
        free(key);
        if (is_name) {
            const char *v = eq ? eq + 1 : s + len;
            char *value = decode(v, (size_t)(s + len - v), &bad);
            if (!value) {
                snprintf(err, errlen,
                         bad ? "malformed percent-encoding in a name[] value (use %%XX with two hex digits)"
                             : "out of memory");
                return -1;
            }
            if (add_name(q, value, err, errlen) != 0)
                return -1;
        }
        s += len;
        if (*s == '&')
            s++;
    }
    return 0;
}

void fcgi_query_free(fcgi_query_t *q)
{
    for (size_t i = 0; i < q->nnames; i++)
        free(q->names[i]);
    free(q->names);
    memset(q, 0, sizeof *q);
}
