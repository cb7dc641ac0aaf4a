/*
 * buf.c - growable output buffer behind fastprom_buf_t.
 */
#include <stdlib.h>

#include "buf.h"
#include "mem.h"

void fastprom_buf_free(fastprom_buf_t *buf)
{
    if (!buf)
        return;
    fp_free(buf->data);
    buf->data = NULL;
    buf->len = buf->cap = 0;
}

void fp_out_begin(fp_out_t *o, fastprom_buf_t *buf)
{
    o->buf = buf;
    o->start = buf->len;
    o->failed = 0;
}

char *fp_out_reserve(fp_out_t *o, size_t n)
{
    fastprom_buf_t *b = o->buf;
    if (o->failed)
        return NULL;
    if (b->cap - b->len < n + 1) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap - b->len < n + 1) {
            if (cap > ((size_t)-1) / 2) {
                o->failed = 1;
                return NULL;
            }
            cap *= 2;
        }
        char *p = fp_realloc(b->data, cap);
        if (!p) {
            o->failed = 1;
            return NULL;
        }
        b->data = p;
        b->cap = cap;
    }
    return b->data + b->len;
}

void fp_out_mem(fp_out_t *o, const void *p, size_t n)
{
    char *w = fp_out_reserve(o, n);
    if (w) {
        memcpy(w, p, n);
        o->buf->len += n;
    }
}

void fp_out_char(fp_out_t *o, char c)
{
    char *w = fp_out_reserve(o, 1);
    if (w) {
        *w = c;
        o->buf->len++;
    }
}

int fp_out_end(fp_out_t *o)
{
    if (o->failed) {
        o->buf->len = o->start;
        if (o->buf->data)
            o->buf->data[o->buf->len] = '\0';
        return FASTPROM_ENOMEM;
    }
    /* Keep the buffer NUL-terminated for callers that print it. */
    if (o->buf->data)
        o->buf->data[o->buf->len] = '\0';
    return 0;
}
